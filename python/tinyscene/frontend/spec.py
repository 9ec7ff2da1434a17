"""Front-end specification: every table of the fixed-point C front-end, computed with numpy from a
FrontendConfig, and the float reference (librosa) it is measured against.

Scaling of one frame in the C code (x = pcm / 32768, w = periodic Hann; k normalises the frame by
its peak, t is the FFT's block-floating-point shift, chosen stage by stage from bounds so that
nothing can overflow):

    windowed   v = x w 2^(14 + k)              |v| <= 2^28, window table Q31
    spectrum   X = DFT(x w) 2^e, e = 14 + k - t    |X| < 2^30
    power      P = |X|^2                       uint64
    mel        M = sum(w_q P) / 2^16           = mel 2^(mel_weight_exp + 2e - 16), uint64
    log        L = ln(mel + LOG_FLOOR) 2^24    int32, Q7.24 (LOG_FRAC_BITS)

The float reference is librosa's power mel spectrogram (center=True, zero padding, periodic Hann,
slaney mel scale and norm) of the same int16 PCM scaled by 1/32768, then ln(mel + LOG_FLOOR). The
floor is the same number in both: a mel power of 1e-10 (-100 dB; the int16 quantisation noise of a
frame is a mel power of about 3e-9 at the paper settings), so digital silence gives ln(1e-10) =
-23.03 in both, and quiet passages are never floored.
"""
from __future__ import annotations

import functools
import hashlib
import math
from dataclasses import dataclass

import numpy as np

from tinyscene.config import FrontendConfig
from tinyscene.errors import TsError

ABI = 0x54534605  # TS_FE_ABI in firmware/include/ts/fe.h
LOG_FRAC_BITS = 24  # Q7.24 natural log
LOG_LUT_BITS = 7
LOG_FLOOR = 1e-10  # mel power floor (units of librosa's power mel of pcm / 32768)
WINDOW_SUM_SHIFT = 16
MEL_WEIGHT_MAX = 65535


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


def _q31(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(x, np.float64) * 2.0**31), -(2**31 - 1), 2**31 - 1).astype(np.int32)


@dataclass(frozen=True, eq=False)
class FeTables:
    """The numbers of ts_fe_config_t (firmware/include/ts/fe.h) for one configuration."""

    cfg: FrontendConfig
    delay_hops: int
    history: int
    window: np.ndarray  # int32 [n_fft] Q31
    window_sum: int
    fft_twiddle: np.ndarray  # int32 [..., 6] Q30: per radix-4 stage, W^i, W^2i, W^3i (cos, sin)
    rfft_twiddle: np.ndarray  # int32 [n_fft / 4, 2] Q31: W_N^k (cos, sin), k = 1..n_fft/4
    mel_start: np.ndarray  # uint16 [n_mels]
    mel_count: np.ndarray  # uint16 [n_mels]
    mel_weight: np.ndarray  # uint16 [n_weights], band m in Q(mel_weight_exp + mel_shift[m])
    mel_shift: np.ndarray  # uint8 [n_mels]
    mel_weight_exp: int
    floor_mant: int
    floor_exp: int
    log_lut: np.ndarray  # int32 [2^LOG_LUT_BITS + 1] Q30

    @property
    def n_weights(self) -> int:
        return int(self.mel_weight.size)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"window": self.window, "fft_twiddle": self.fft_twiddle, "rfft_twiddle": self.rfft_twiddle, "mel_start": self.mel_start,
                "mel_count": self.mel_count, "mel_weight": self.mel_weight, "mel_shift": self.mel_shift, "log_lut": self.log_lut}

    def scalars(self) -> dict[str, int]:
        c = self.cfg
        return {"sample_rate": c.sample_rate, "n_fft": c.n_fft, "hop": c.hop_length, "n_mels": c.n_mels,
                "channels": c.channels, "delay_hops": self.delay_hops, "history": self.history,
                "window_sum": self.window_sum, "mel_weight_exp": self.mel_weight_exp,
                "floor_mant": self.floor_mant, "floor_exp": self.floor_exp, "n_weights": self.n_weights}

    @property
    def flash_bytes(self) -> int:
        """Bytes of the const tables (what fe_tables.c puts in flash, struct included)."""
        return sum(a.nbytes for a in self.arrays().values()) + 96

    @property
    def state_bytes(self) -> int:
        return self.cfg.channels * self.history * 2

    @property
    def scratch_bytes(self) -> int:
        c = self.cfg
        return (c.n_fft + 2) * 4 + c.n_mels * 8 + c.channels * c.n_mels * 4

    def sha256(self) -> str:
        h = hashlib.sha256()
        for k, v in sorted(self.scalars().items()):
            h.update(f"{k}={v};".encode())
        for k, a in self.arrays().items():
            h.update(k.encode())
            h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def mel_dense(self) -> np.ndarray:
        """The quantised mel weights as a dense float matrix [n_mels, n_bins] (for references)."""
        w = np.zeros((self.cfg.n_mels, self.cfg.n_fft // 2 + 1))
        off = 0
        for m in range(self.cfg.n_mels):
            s, n = int(self.mel_start[m]), int(self.mel_count[m])
            w[m, s:s + n] = self.mel_weight[off:off + n] * 2.0 ** -(self.mel_weight_exp + int(self.mel_shift[m]))
            off += n
        return w


def _mel_tables(cfg: FrontendConfig):
    w = mel_filterbank(cfg)
    peak = float(w.max())
    if not peak > 0:
        raise TsError(f"front-end config '{cfg.name}': every mel filter is empty (n_mels={cfg.n_mels}, "
                      f"fmin={cfg.fmin}, fmax={cfg.f_max}, n_fft={cfg.n_fft})")
    wexp = int(math.floor(math.log2(MEL_WEIGHT_MAX / peak)))
    while round(peak * 2.0**wexp) > MEL_WEIGHT_MAX:
        wexp -= 1
    if not 0 <= wexp <= 62:
        raise TsError(f"front-end config '{cfg.name}': mel weights out of range (largest {peak:g})")
    starts, counts, shifts, weights = [], [], [], []
    for m in range(cfg.n_mels):
        band_peak = float(w[m].max())
        sh = 0
        if band_peak > 0:
            sh = max(0, int(math.floor(math.log2(MEL_WEIGHT_MAX / band_peak))) - wexp)
            while sh > 0 and round(band_peak * 2.0 ** (wexp + sh)) > MEL_WEIGHT_MAX:
                sh -= 1
            sh = min(sh, 47)
        wq = np.round(w[m] * 2.0 ** (wexp + sh)).astype(np.int64)
        nz = np.flatnonzero(wq)
        if nz.size == 0:
            starts.append(0)
            counts.append(0)
            shifts.append(0)
            continue
        a, b = int(nz[0]), int(nz[-1]) + 1
        starts.append(a)
        counts.append(b - a)
        shifts.append(sh)
        weights.append(wq[a:b])
    weight = np.concatenate(weights) if weights else np.zeros(0, np.int64)
    return (np.array(starts, np.uint16), np.array(counts, np.uint16), weight.astype(np.uint16),
            np.array(shifts, np.uint8), wexp)


def _q30_cs(angle) -> np.ndarray:
    angle = np.asarray(angle, np.float64)
    return np.round(np.stack([np.cos(angle), np.sin(angle)], axis=-1) * 2.0**30).astype(np.int32)


def fft_twiddles(n_fft: int) -> tuple[np.ndarray, np.ndarray]:
    """Twiddles of ts_fe_cfft_q31 (complex FFT of n_fft/2 points; per radix-4 stage of length len,
    i = 1..len/4-1: W_len^i, W_len^2i, W_len^3i; (cos, sin) in Q30) and of the real-FFT split (W_N^k,
    k = 1..n_fft/4; Q31, sin(pi/2) saturated to 1 - 2^-31)."""
    m = n_fft // 2
    rows = []
    length = m
    while length >= 4:
        i = np.arange(1, length // 4)
        if i.size:
            ang = 2 * np.pi * np.stack([i, 2 * i, 3 * i], axis=1) / length
            rows.append(_q30_cs(ang).reshape(-1, 6))
        length //= 4
    fft_tw = np.ascontiguousarray(np.concatenate(rows) if rows else np.zeros((0, 6), np.int32))
    k = np.arange(1, n_fft // 4 + 1)
    ang = 2 * np.pi * k / n_fft
    rfft_tw = np.ascontiguousarray(_q31(np.stack([np.cos(ang), np.sin(ang)], axis=1)))
    return fft_tw, rfft_tw


@functools.lru_cache(maxsize=16)
def make_tables(cfg: FrontendConfig) -> FeTables:
    """Every table of the C front-end for `cfg` (cached per config)."""
    n, hop = cfg.n_fft, cfg.hop_length
    delay = -(-(n // 2) // hop)
    window = _q31(hann_periodic(n))
    window_sum = -(-int(window.astype(np.int64).sum()) // (1 << WINDOW_SUM_SHIFT))
    fft_tw, rfft_tw = fft_twiddles(n)
    start, count, weight, shift, wexp = _mel_tables(cfg)
    fexp = int(math.floor(math.log2(LOG_FLOOR))) - 30
    fmant = int(round(LOG_FLOOR * 2.0**-fexp))
    assert 2**30 <= fmant < 2**31
    lut_n = 1 << LOG_LUT_BITS
    lut = np.round(np.log2(1.0 + np.arange(lut_n + 1) / lut_n) * 2.0**30).astype(np.int32)
    for a in (window, fft_tw, rfft_tw, start, count, weight, shift, lut):
        a.setflags(write=False)
    return FeTables(cfg=cfg, delay_hops=delay, history=delay * hop + n // 2, window=window,
                    window_sum=window_sum, fft_twiddle=fft_tw, rfft_twiddle=rfft_tw, mel_start=start,
                    mel_count=count, mel_weight=weight, mel_shift=shift, mel_weight_exp=wexp, floor_mant=fmant,
                    floor_exp=fexp, log_lut=lut)


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
