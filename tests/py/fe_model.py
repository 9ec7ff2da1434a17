"""An exact integer model of the front-end's arithmetic (version 2) as firmware/include/ts/fe.h documents
it, written independently of the C and of tinyscene.frontend.spec: its own tables (Q28 Hann window,
twiddles: Q30 twice an odd number (or 0), Q31 odd; mel points from librosa, the log table), its own bit
reversal and decimation-in-time FFT on numpy int64 arrays, Python integers for the 64-bit sums. Tests hold the C (host library, and through it
every device build) to it bit for bit."""
from __future__ import annotations

import math

import numpy as np

FLOOR = 1e-10
LN2_Q24 = round(math.log(2) * 2**24)


def odd(x: float, q: int) -> int:
    """The nearest odd integer to x 2^q (ties toward zero), within +-(2^31 - 1)."""
    v = x * 2.0**q
    lo = math.floor(v)
    lo = lo if lo % 2 else lo - 1  # largest odd <= v
    hi = lo + 2
    if v - lo < hi - v or (v - lo == hi - v and abs(lo) < abs(hi)):
        r = lo
    else:
        r = hi
    return max(-(2**31 - 1), min(2**31 - 1, r))


def rnd(p):
    """SMMULR's rounding of a 64-bit product: floor((p + 2^31) / 2^32)."""
    return (p + (1 << 31)) >> 32


def rev(i: int, bits: int) -> int:
    return int(format(i, f"0{bits}b")[::-1], 2)


def frame_shift(x) -> int:
    e = int(np.sum(np.asarray(x, np.int64) ** 2))
    if e == 0:
        return 15
    return max(0, min(15, 16 - (e.bit_length() + 1) // 2))


def cfft(x, k: int) -> np.ndarray:
    """Z as int64 [M, 2] (natural order) for an int16 frame x [n_fft]."""
    n = len(x)
    m = n // 2
    lg = int(math.log2(m))
    w = np.array([round((0.5 - 0.5 * math.cos(2 * math.pi * i / n)) * 2**28) for i in range(n)], np.int64)
    v = ((np.asarray(x, np.int64) * w) >> 16) << k
    zr, zi = v[0::2], v[1::2]
    order = np.array([rev(i, lg) for i in range(m)])
    re, im = zr[order], zi[order]

    def bfly(u):  # u: list of 4 (re, im) -> y0..y3
        (u0r, u0i), (u1r, u1i), (u2r, u2i), (u3r, u3i) = u
        ar, ai, br, bi = u0r + u1r, u0i + u1i, u0r - u1r, u0i - u1i
        cr, ci, dr, di = u2r + u3r, u2i + u3i, u2r - u3r, u2i - u3i
        return [(ar + cr, ai + ci), (br + di, bi - dr), (ar - cr, ai - ci), (br - di, bi + dr)]

    # first stage: blocks of 4, no twiddles, no shift
    R, I = re.reshape(-1, 4), im.reshape(-1, 4)
    y = bfly([(R[:, p], I[:, p]) for p in range(4)])
    re = np.stack([a for a, _ in y], 1).reshape(-1)
    im = np.stack([b for _, b in y], 1).reshape(-1)
    length = 16
    while length <= m:
        h = length // 4
        R, I = re.reshape(-1, 4, h), im.reshape(-1, 4, h)
        i = np.arange(h)

        def q30(v):  # twice an odd Q29 number, or 0 where v 2^29 rounds to 0
            return 0 if abs(v * 2**29) < 0.5 else 2 * odd(v, 29)

        def tw(mult):
            c = np.array([q30(math.cos(2 * math.pi * mult * j / length)) for j in i], np.int64)
            s = np.array([q30(math.sin(2 * math.pi * mult * j / length)) for j in i], np.int64)
            return c, s

        def cmul(xr, xi, c, s):
            return rnd(xr * c) + rnd(xi * s), rnd(xi * c) - rnd(xr * s)

        u = [(R[:, 0] >> 2, I[:, 0] >> 2), cmul(R[:, 1], I[:, 1], *tw(2)), cmul(R[:, 2], I[:, 2], *tw(1)),
             cmul(R[:, 3], I[:, 3], *tw(3))]
        y = bfly(u)
        re = np.stack([a for a, _ in y], 1).reshape(-1)
        im = np.stack([b for _, b in y], 1).reshape(-1)
        length *= 4
    if lg % 2:
        h = m // 2
        c = np.array([odd(math.cos(2 * math.pi * j / m), 31) for j in range(h)], np.int64)
        s = np.array([odd(math.sin(2 * math.pi * j / m), 31) for j in range(h)], np.int64)
        ur, ui = rnd(re[h:] * c) + rnd(im[h:] * s), rnd(im[h:] * c) - rnd(re[h:] * s)
        ar, ai = re[:h] >> 1, im[:h] >> 1
        re, im = np.concatenate([ar + ur, ar - ur]), np.concatenate([ai + ui, ai - ui])
    return np.stack([re, im], 1)


def power(z) -> list[int]:
    """Bins 0..M of the split, as Python ints: re^2 + im^2."""
    z = [(int(a), int(b)) for a, b in np.asarray(z)]
    m = len(z)
    n = 2 * m
    X = [None] * (m + 1)
    X[0] = (z[0][0] + z[0][1], 0)
    X[m] = (z[0][0] - z[0][1], 0)
    X[m // 2] = (z[m // 2][0], -z[m // 2][1])
    for k in range(1, m // 2):
        (zkr, zki), (zmr, zmi) = z[k], z[m - k]
        c, s = odd(math.cos(2 * math.pi * k / n), 31), odd(math.sin(2 * math.pi * k / n), 31)
        ar, ai, br, bi = zkr + zmr, zki - zmi, zkr - zmr, zki + zmi
        u = rnd(br * c) + rnd(bi * s)
        v = rnd(bi * c) - rnd(br * s)
        X[k] = ((ar >> 1) + v, (ai >> 1) - u)
        X[m - k] = ((ar >> 1) - v, -(ai >> 1) - u)
    return [a * a + b * b for a, b in X]


def mel_points(sample_rate: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    import librosa

    return librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=False)


def intervals(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float):
    """[(bins, t Q16)] of intervals j = 0..n_mels: bins with f_j <= f < f_{j+1}."""
    pts = mel_points(sample_rate, n_mels, fmin, fmax)
    out = []
    for j in range(n_mels + 1):
        bins, ts = [], []
        for b in range(n_fft // 2 + 1):
            f = b * sample_rate / n_fft
            if pts[j] <= f < pts[j + 1]:
                bins.append(b)
                ts.append(min(2**16 - 1, round((f - pts[j]) / (pts[j + 1] - pts[j]) * 2**16)))
        out.append((bins, ts))
    return out


def mel(P: list[int], ivals) -> list[int]:
    A, B = [], []
    for bins, ts in ivals:
        A.append(sum(t * P[b] for b, t in zip(bins, ts)) >> 16)
        B.append(sum(P[b] for b in bins))
    return [A[j] + B[j + 1] - A[j + 1] for j in range(len(ivals) - 1)]


def log_q24(M: list[int], floors, offsets, k: int) -> list[int]:
    lut = [round(math.log1p(i / 128) * 2**24) for i in range(129)]
    out = []
    for mv, fl, off in zip(M, floors, offsets):
        y = mv + (int(fl) << (2 * k))
        lz = 64 - y.bit_length()
        mant = (y << lz) >> 32
        f = mant - 2**31
        idx, frac = f >> 24, f & 0xFFFFFF
        a, d = lut[idx], lut[idx + 1] - lut[idx]
        out.append((63 - lz - 2 * k) * LN2_Q24 + a + ((d * frac) >> 24) + int(off))
    return out
