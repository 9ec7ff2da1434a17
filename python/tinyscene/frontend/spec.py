"""Front-end specification: every table of the fixed-point C front-end, computed with numpy from a
FrontendConfig, and the float reference (librosa) it is measured against.

Scaling of one frame in the C code (arithmetic version 2; x = pcm in int16 units, w = periodic Hann,
k = the frame's shift from its energy, s = the FFT's fixed total right shift; see
firmware/include/ts/fe.h):

    windowed   v = floor(x w 2^28 / 2^16) 2^k      window table Q28, |v| <= 2^27
    spectrum   X = DFT(v) 2^-s                     |X| < 2^30 (every value of the FFT too)
    power      P = |X|^2                           uint64, exact
    mel        M = sum over the band's bins of (triangle before its norm) P      uint64
    log        L = ln(norm M 2^-(S + 2k) + LOG_FLOOR) 2^24, S = 2 (15 + 12 - s)   int32, Q7.24

The float reference is librosa's power mel spectrogram (center=True, zero padding, periodic Hann,
slaney mel scale and norm) of the same int16 PCM scaled by 1/32768, then ln(mel + LOG_FLOOR). The
floor is the same number in both: a mel power of 1e-10 (-100 dB; the int16 quantisation noise of a
frame is a mel power of about 3e-9 at the paper settings), so digital silence gives ln(1e-10) =
-23.03 in both (to the floor's integer rounding in the units of M: < 1e-3), and quiet passages are never floored.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

import numpy as np

from tinyscene.config import FrontendConfig
from tinyscene.errors import TsError

ABI = 0x54534607  # TS_FE_ABI in firmware/include/ts/fe.h
ARITH_VERSION = 2  # TS_FE_ARITH_VERSION: the integers the front-end computes (frontend.json, feature caches)
ARITH_HISTORY = {1: "the first fixed-point front-end (Q31 window, 32-bit radix-4 FFT, 64-bit mel sums)",
                 2: "this one: energy frame shift, Q28 window, tie-free FFT twiddles, interval mel sums, "
                    "24-bit log interpolation, one-multiply int8 quantisation"}
LOG_FRAC_BITS = 24  # Q7.24 natural log
LOG_LUT_BITS = 7
LOG_FLOOR = 1e-10  # mel power floor (units of librosa's power mel of pcm / 32768)
WINDOW_Q = 28  # TS_FE_WINDOW_Q
WINDOW_SHIFT = WINDOW_Q - 16  # SMULWB: v = x w 2^(WINDOW_Q - 16)
T_BITS = 16  # mel interval weights t, Q16
STRUCT_BYTES = 10 * 4 + 8 * 4  # sizeof(ts_fe_config_t) on the 32-bit devices


def check_arith_version(version, source: str) -> None:
    """Refuses what was made with another front-end arithmetic (a bundle's frontend.json, a training run's
    config, an input quantisation, written before the version was recorded: version 1): its model was trained
    on other integers, and running it on this front-end's features is never right."""
    v = 1 if version is None else version
    if v != ARITH_VERSION:
        raise TsError(f"{source}: made with front-end arithmetic version {v}; this tinyscene computes version "
                      f"{ARITH_VERSION} (other features): re-export it from a model trained with this front-end "
                      "(tinyscene train, then tinyscene export)")


def hz_to_mel(f):
    """Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    lin = f / f_sp
    with np.errstate(divide="ignore"):
        log = min_log_mel + np.log(np.maximum(f, 1e-30) / min_log_hz) / logstep
    return np.where(f >= min_log_hz, log, lin)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    min_log_hz, min_log_mel, logstep = 1000.0, 1000.0 / f_sp, math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(cfg: FrontendConfig) -> np.ndarray:
    """Slaney-normalised triangular mel filters [n_mels, n_fft/2 + 1], float64 (as
    librosa.filters.mel with htk=False, norm='slaney')."""
    n_bins = cfg.n_fft // 2 + 1
    fft_f = np.linspace(0.0, cfg.sample_rate / 2.0, n_bins)
    mel_pts = mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.f_max), cfg.n_mels + 2))
    fdiff = np.diff(mel_pts)
    ramps = mel_pts[:, None] - fft_f[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    w = np.maximum(0.0, np.minimum(lower, upper))
    w *= (2.0 / (mel_pts[2:] - mel_pts[:-2]))[:, None]
    return w


def hann_periodic(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def odd_fixed(x, q: int) -> np.ndarray:
    """The nearest odd integer to x 2^q (ties toward zero), within +-(2^31 - 1): the twiddles of the C
    FFT are odd so that no product a w / 2^32 is a rounding tie (rnd(-p) = -rnd(p) for every p)."""
    v = np.asarray(x, np.float64) * 2.0**q
    lo = 2 * np.floor((v - 1) / 2) + 1  # the largest odd <= v
    hi = lo + 2
    out = np.where((v - lo < hi - v) | ((v - lo == hi - v) & (np.abs(lo) < np.abs(hi))), lo, hi)
    return np.clip(out, -(2**31 - 1), 2**31 - 1).astype(np.int32)


def even_q30(x) -> np.ndarray:
    """Twice the nearest odd Q29 integer (odd_fixed(x, 29)), or 0 where x 2^29 rounds to 0 (sin 0,
    cos pi/2): the radix-4 twiddles of the C FFT, Q30. Every value the FFT multiplies is below 2^30 in
    magnitude, and a product a w / 2^32 with w = 2 odd is a rounding tie only for a = +-2^30 (mod 2^31): so
    no product is a tie (rnd(-p) = -rnd(p) for every p), and w / 2 is an integer (a doubling multiply by
    w / 2, Helium's VQRDMULH, gives SMMULR's a w). Butterfly 0 of a stage (twiddles (cos 0, 0)) needs one
    product per input."""
    x = np.asarray(x, np.float64)
    w = 2 * odd_fixed(x, 29).astype(np.int64)
    return np.where(np.abs(x * 2.0**29) < 0.5, 0, w).astype(np.int32)


def bit_reverse(values: np.ndarray, bits: int) -> np.ndarray:
    out = np.zeros_like(values)
    v = values.copy()
    for _ in range(bits):
        out = (out << 1) | (v & 1)
        v >>= 1
    return out


def fft_stages(n_fft: int) -> tuple[int, int, int]:
    """(radix-4 stages including the first, radix-2 stages (0 or 1), total right shift s) of the C FFT
    of n_fft / 2 points: 2 bits per radix-4 stage after the first, 1 for the radix-2 stage."""
    lg = int(math.log2(n_fft // 2))
    n4, r2 = lg // 2, lg % 2
    return n4, r2, 2 * (n4 - 1) + r2


def window_table(n_fft: int) -> np.ndarray:
    """The Q28 periodic Hann window in the order the FFT's first stage reads it (ts_fe_cfft_q31): per
    butterfly q, [input 0, 1, 2, 3][even, odd sample]."""
    m = n_fft // 2
    lg = int(math.log2(m))
    w = np.round(hann_periodic(n_fft) * 2.0**WINDOW_Q).astype(np.int64)
    q = np.arange(m // 4)
    r = bit_reverse(4 * q, lg)
    offs = np.array([0, m // 2, m // 4, 3 * m // 4])
    c = r[:, None] + offs[None, :]  # [q][input] complex index
    samples = np.stack([2 * c, 2 * c + 1], axis=-1)  # [q][input][even, odd]
    return np.ascontiguousarray(w[samples].reshape(-1).astype(np.int32))


def fft_twiddles(n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """Twiddles of ts_fe_cfft_q31 and of the real-FFT split (ts_fe_power_u64), none of them making a
    rounding tie. FFT: per radix-4 stage of length L = 16, 64, .. <= n_fft/2, per i < L/4: cos, sin of
    2 pi 2i / L, of 2 pi i / L, of 2 pi 3i / L, Q30, twice an odd number or 0 (even_q30); then for an odd
    log2(n_fft/2) the radix-2 stage, per i < n_fft/4: cos, sin of 2 pi i / (n_fft/2), Q31, odd (odd_fixed).
    Split: [k][cos, sin of 2 pi k / n_fft], k = 1..n_fft/4 - 1, Q31, odd."""
    m = n_fft // 2
    n4, r2, _ = fft_stages(n_fft)
    parts = []
    length = 16
    while length <= m:
        h = length // 4
        i = np.arange(h)
        cs = lambda mult: (even_q30(np.cos(2 * np.pi * mult * i / length)),  # noqa: E731
                           even_q30(np.sin(2 * np.pi * mult * i / length)))
        (c2, s2), (c1, s1), (c3, s3) = cs(2), cs(1), cs(3)
        parts.append(np.stack([c2, s2, c1, s1, c3, s3], axis=1).reshape(-1))
        length *= 4
    if r2:
        i = np.arange(m // 2)
        c, s_ = odd_fixed(np.cos(2 * np.pi * i / m), 31), odd_fixed(np.sin(2 * np.pi * i / m), 31)
        parts.append(np.stack([c, s_], axis=1).reshape(-1))
    fft_tw = np.ascontiguousarray(np.concatenate(parts).astype(np.int32) if parts else np.zeros(0, np.int32))
    k = np.arange(1, n_fft // 4)
    ang = 2 * np.pi * k / n_fft
    rfft_tw = np.ascontiguousarray(np.stack([odd_fixed(np.cos(ang), 31), odd_fixed(np.sin(ang), 31)], axis=1))
    return fft_tw, rfft_tw


def mel_points(cfg: FrontendConfig) -> np.ndarray:
    """The n_mels + 2 mel points in Hz (slaney scale, as librosa)."""
    return mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(cfg.f_max), cfg.n_mels + 2))


def slaney_norm(cfg: FrontendConfig) -> np.ndarray:
    pts = mel_points(cfg)
    return 2.0 / (pts[2:] - pts[:-2])


def mel_intervals(cfg: FrontendConfig) -> tuple[np.ndarray, np.ndarray]:
    """(mel_bin [n_mels + 2], mel_t Q16): interval j = bins mel_bin[j] .. mel_bin[j+1]-1, the bins with
    f_j <= f < f_{j+1}; t = (f - f_j) / (f_{j+1} - f_j) of each (librosa's rising edge of band j; its
    falling edge in band j - 1 is 1 - t)."""
    pts = mel_points(cfg)
    n_bins = cfg.n_fft // 2 + 1
    fft_f = np.linspace(0.0, cfg.sample_rate / 2.0, n_bins)
    mel_bin = np.searchsorted(fft_f, pts, side="left").astype(np.int64)
    ts = []
    for j in range(cfg.n_mels + 1):
        k = np.arange(mel_bin[j], mel_bin[j + 1])
        t = (fft_f[k] - pts[j]) / (pts[j + 1] - pts[j])
        ts.append(np.clip(np.round(t * 2.0**T_BITS), 0, 2**T_BITS - 1))
    mel_t = np.concatenate(ts) if ts else np.zeros(0)
    return mel_bin.astype(np.uint16), mel_t.astype(np.uint16)


@dataclass(frozen=True, eq=False)
class FeTables:
    """The numbers of ts_fe_config_t (firmware/include/ts/fe.h) for one configuration."""

    cfg: FrontendConfig
    delay_hops: int
    history: int
    window: np.ndarray  # int32 [n_fft] Q28, in the first FFT stage's read order
    fft_twiddle: np.ndarray  # int32, per stage (see fft_twiddles)
    rfft_twiddle: np.ndarray  # int32 [n_fft/4 - 1, 2] Q31
    mel_bin: np.ndarray  # uint16 [n_mels + 2]
    mel_t: np.ndarray  # uint16 [n_weights] Q16
    mel_floor: np.ndarray  # uint32 [n_mels]
    mel_offset: np.ndarray  # int32 [n_mels] Q24
    log_lut: np.ndarray  # int32 [2^LOG_LUT_BITS + 1] Q24
    fft_shift: int  # s
    scale_exp: int  # S: P = |DFT(pcm / 32768 w)|^2 2^(S + 2k)

    @property
    def n_weights(self) -> int:
        return int(self.mel_t.size)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"window": self.window, "fft_twiddle": self.fft_twiddle, "rfft_twiddle": self.rfft_twiddle,
                "mel_bin": self.mel_bin, "mel_t": self.mel_t, "mel_floor": self.mel_floor,
                "mel_offset": self.mel_offset, "log_lut": self.log_lut}

    def scalars(self) -> dict[str, int]:
        c = self.cfg
        return {"sample_rate": c.sample_rate, "n_fft": c.n_fft, "hop": c.hop_length, "n_mels": c.n_mels,
                "channels": c.channels, "delay_hops": self.delay_hops, "history": self.history,
                "n_weights": self.n_weights}

    @property
    def flash_bytes(self) -> int:
        """Bytes of the const tables (what fe_tables.c puts in flash, struct included)."""
        return sum(a.nbytes for a in self.arrays().values()) + STRUCT_BYTES

    @property
    def state_bytes(self) -> int:
        return self.cfg.channels * self.history * 2

    @property
    def scratch_bytes(self) -> int:
        c = self.cfg
        return (c.n_fft + 2) * 4 + c.n_mels * 8 + c.channels * c.n_mels * 4

    def sha256(self) -> str:
        h = hashlib.sha256()
        h.update(f"arith={ARITH_VERSION};".encode())
        for k, v in sorted(self.scalars().items()):
            h.update(f"{k}={v};".encode())
        for k, a in self.arrays().items():
            h.update(k.encode())
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def mel_dense(self) -> np.ndarray:
        """The quantised mel weights as a dense float matrix [n_mels, n_bins], slaney norm included (for
        references): the rising edge t and falling edge 1 - t of each interval."""
        c = self.cfg
        w = np.zeros((c.n_mels, c.n_fft // 2 + 1))
        t = self.mel_t.astype(np.float64) * 2.0**-T_BITS
        off = 0
        for j in range(c.n_mels + 1):
            a, b = int(self.mel_bin[j]), int(self.mel_bin[j + 1])
            tj = t[off:off + b - a]
            off += b - a
            if j < c.n_mels:
                w[j, a:b] += tj
            if j > 0:
                w[j - 1, a:b] += 1.0 - tj
        return w * slaney_norm(c)[:, None]


@functools.lru_cache(maxsize=16)
def make_tables(cfg: FrontendConfig) -> FeTables:
    """Every table of the C front-end for `cfg` (cached per config)."""
    n, hop = cfg.n_fft, cfg.hop_length
    delay = -(-(n // 2) // hop)
    window = window_table(n)
    fft_tw, rfft_tw = fft_twiddles(n)
    mel_bin, mel_t = mel_intervals(cfg)
    _, _, s = fft_stages(n)
    scale = 2 * (15 + WINDOW_SHIFT - s)
    norm = slaney_norm(cfg)
    floor = np.maximum(1, np.round(LOG_FLOOR * 2.0**scale / norm))
    if floor.max() >= 2**32:
        raise TsError(f"front-end config '{cfg.name}': the log floor does not fit 32 bits in the units of its "
                      f"mel sums (n_fft={n}, n_mels={cfg.n_mels}, fmin={cfg.fmin}, fmax={cfg.f_max})")
    offset = np.round((np.log(norm) - scale * math.log(2)) * 2.0**LOG_FRAC_BITS)
    lut_n = 1 << LOG_LUT_BITS
    lut = np.round(np.log1p(np.arange(lut_n + 1) / lut_n) * 2.0**LOG_FRAC_BITS).astype(np.int32)
    arrays = (window, fft_tw, rfft_tw, mel_bin, mel_t, lut)
    for a in arrays:
        a.setflags(write=False)
    t = FeTables(cfg=cfg, delay_hops=delay, history=delay * hop + n // 2, window=window, fft_twiddle=fft_tw,
                 rfft_twiddle=rfft_tw, mel_bin=mel_bin, mel_t=mel_t, mel_floor=floor.astype(np.uint32),
                 mel_offset=offset.astype(np.int32), log_lut=lut, fft_shift=s, scale_exp=scale)
    t.mel_floor.setflags(write=False)
    t.mel_offset.setflags(write=False)
    if not t.mel_dense().any():
        raise TsError(f"front-end config '{cfg.name}': every mel filter is empty (n_mels={cfg.n_mels}, "
                      f"fmin={cfg.fmin}, fmax={cfg.f_max}, n_fft={cfg.n_fft})")
    return t


def log_to_float(logmel) -> np.ndarray:
    """Q7.24 natural log (int32) -> float32 in the float reference's units."""
    return (np.asarray(logmel, np.float64) * 2.0**-LOG_FRAC_BITS).astype(np.float32)


def _pcm_float(pcm) -> np.ndarray:
    pcm = np.asarray(pcm)
    if pcm.ndim == 1:
        pcm = pcm[None]
    if pcm.dtype != np.int16:
        raise TsError(f"front-end input must be int16 PCM, got {pcm.dtype}")
    return pcm.astype(np.float64) / 32768.0


def float_melspec(cfg: FrontendConfig, pcm) -> np.ndarray:
    """librosa's power mel spectrogram (float64) of int16 PCM [channels, samples] / 32768."""
    import librosa

    x = _pcm_float(pcm)
    return np.stack([librosa.feature.melspectrogram(
        y=x[c], sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length, window="hann", center=True,
        pad_mode="constant", power=2.0, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.f_max, htk=False,
        norm="slaney", dtype=np.float64) for c in range(x.shape[0])])


def float_logmel(cfg: FrontendConfig, pcm) -> np.ndarray:
    """The float reference: ln(librosa power mel + LOG_FLOOR), float32 [channels, n_mels, frames]."""
    return np.log(float_melspec(cfg, pcm) + LOG_FLOOR).astype(np.float32)


def frames_of(cfg: FrontendConfig, pcm) -> np.ndarray:
    """Centred frames of int16 PCM: int16 [channels, frames, n_fft] (zero padding as librosa)."""
    pcm = np.asarray(pcm)
    if pcm.ndim == 1:
        pcm = pcm[None]
    n, hop = cfg.n_fft, cfg.hop_length
    x = np.pad(pcm, ((0, 0), (n // 2, n // 2)))
    n_frames = 1 + pcm.shape[1] // hop
    idx = np.arange(n_frames)[:, None] * hop + np.arange(n)[None, :]
    return x[:, idx]


def float_stages(cfg: FrontendConfig, frame) -> dict[str, np.ndarray]:
    """Float64 reference of every stage for one int16 frame [n_fft]: windowed, spectrum (rfft),
    power, mel, log (the units the fixed-point stages are converted to)."""
    x = np.asarray(frame, np.float64) / 32768.0
    v = x * hann_periodic(cfg.n_fft)
    spec = np.fft.rfft(v)
    power = np.abs(spec) ** 2
    mel = mel_filterbank(cfg) @ power
    return {"windowed": v, "spectrum": spec, "power": power, "mel": mel, "log": np.log(mel + LOG_FLOOR)}


def snr_db(ref, test) -> float:
    """10 log10(var(ref) / mean(|test - ref|^2)) over the whole array (complex arrays too);
    inf when equal, nan when the reference is constant and the test is not."""
    ref = np.asarray(ref)
    test = np.asarray(test)
    dt = np.complex128 if (np.iscomplexobj(ref) or np.iscomplexobj(test)) else np.float64
    ref = ref.astype(dt)
    err = float(np.mean(np.abs(test.astype(dt) - ref) ** 2))
    sig = float(np.mean(np.abs(ref - ref.mean()) ** 2))
    if err == 0:
        return float("inf")
    if sig == 0:
        return float("nan")
    return float(10 * np.log10(sig / err))
