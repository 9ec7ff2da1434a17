"""Audio I/O for the front-end: wav in (soundfile), band-limited resampling (soxr), int16 PCM out.

PCM convention: int16 = round(x * 32768) clipped to [-32768, 32767], where x is the sample as a
float in [-1, 1) the way soundfile reads it; a 16-bit wav at the target rate therefore comes back
with exactly its own samples.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from tinyscene.errors import TsError
from tinyscene.util.atomic import atomic_path

TAU_RATE = 48000
TAU_CHANNELS = 2
TAU_SECONDS = 10.0
# A clip may be this much shorter than expected (it is zero-padded); anything shorter is an error.
SHORT_TOLERANCE_S = 0.01
QUALITIES = ("HQ", "VHQ")


@dataclass(frozen=True)
class WavSpec:
    """What a wav must be; None = anything."""

    sample_rate: int | None = None
    channels: int | None = None
    seconds: float | None = None  # minimum duration (less SHORT_TOLERANCE_S)


TAU_SPEC = WavSpec(TAU_RATE, TAU_CHANNELS, TAU_SECONDS)


def wav_info(path: str | os.PathLike):
    """soundfile's header info; a missing or unreadable file is a TsError."""

    path = Path(path)
    if not path.is_file():
        raise TsError(f"{path}: no such file")
    try:
        info = sf.info(str(path))
    except Exception as e:  # soundfile raises RuntimeError/LibsndfileError/TypeError for bad files
        raise TsError(f"{path}: not a readable audio file ({_short(e)})") from None
    if info.frames <= 0 or info.samplerate <= 0 or info.channels <= 0:
        raise TsError(f"{path}: corrupt audio file (no samples)")
    return info


def _short(e: Exception) -> str:
    lines = str(e).strip().splitlines()
    msg = lines[-1] if lines else type(e).__name__
    if msg.startswith("Error opening") and "': " in msg:  # soundfile repeats the path
        msg = msg.split("': ", 1)[1]
    return msg


def check_wav(path: str | os.PathLike, spec: WavSpec = TAU_SPEC):
    """Header checks of one wav against `spec` (rate, channels, duration); returns its info."""
    info = wav_info(path)
    if spec.sample_rate is not None and info.samplerate != spec.sample_rate:
        raise TsError(f"{path}: sample rate {info.samplerate} Hz, expected {spec.sample_rate} Hz")
    if spec.channels is not None and info.channels != spec.channels:
        raise TsError(f"{path}: {info.channels} channel(s), expected {spec.channels}")
    if spec.seconds is not None:
        _check_length(path, info.frames, info.samplerate, spec.seconds)
    return info


def _check_length(path, frames: int, rate: int, seconds: float) -> None:
    if frames < int(round((seconds - SHORT_TOLERANCE_S) * rate)):
        raise TsError(f"{path}: clip is {frames / rate:.3f} s long ({frames} samples at {rate} Hz), "
                      f"shorter than the expected {seconds:g} s")


def read_wav(path: str | os.PathLike, spec: WavSpec | None = None,
             max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """(float32 [channels, samples] in [-1, 1), sample rate). Checks `spec` first; a file whose data
    cannot be decoded is a TsError."""

    info = check_wav(path, spec or WavSpec())
    frames = -1 if max_seconds is None else int(np.ceil(max_seconds * info.samplerate))
    try:
        x, rate = sf.read(str(path), frames=frames, dtype="float32", always_2d=True)
    except Exception as e:
        raise TsError(f"{path}: corrupt audio data ({_short(e)})") from None
    if x.shape[0] == 0:
        raise TsError(f"{path}: corrupt audio file (no samples could be decoded)")
    if spec is not None and spec.seconds is not None:
        # the header may promise more than the file holds (truncated download)
        _check_length(path, x.shape[0], rate, min(spec.seconds, max_seconds or spec.seconds))
    return np.ascontiguousarray(x.T), rate


def resample(x: np.ndarray, rate_in: int, rate_out: int, quality: str = "HQ") -> np.ndarray:
    """Band-limited resampling (soxr) of [channels, samples] (or [samples]) float audio."""

    if quality not in QUALITIES:
        raise TsError(f"resampling quality '{quality}': expected one of {', '.join(QUALITIES)}")
    if rate_in <= 0 or rate_out <= 0:
        raise TsError(f"resampling {rate_in} Hz -> {rate_out} Hz: rates must be positive")
    x = np.asarray(x, dtype=np.float32)
    if rate_in == rate_out:
        return x.copy()
    if x.ndim == 1:
        return soxr.resample(x, rate_in, rate_out, quality=quality).astype(np.float32, copy=False)
    y = soxr.resample(np.ascontiguousarray(x.T), rate_in, rate_out, quality=quality)
    return np.ascontiguousarray(y.T, dtype=np.float32)


def to_pcm16(x: np.ndarray) -> np.ndarray:
    """Float audio in [-1, 1) to int16 with rounding to nearest and saturation (no wrap-around)."""
    y = np.rint(np.asarray(x, dtype=np.float64) * 32768.0)
    return np.clip(y, -32768, 32767).astype(np.int16)


def mix_channels(x: np.ndarray, channels: int, path: str | os.PathLike = "audio") -> np.ndarray:
    """[C, N] to [channels, N]: mono = mean of the channels; 2 channels need a 2-channel source."""
    if channels == x.shape[0]:
        return x
    if channels == 1:
        return x.mean(axis=0, keepdims=True)
    raise TsError(f"{path}: {x.shape[0]} channel(s), the front-end needs {channels}")


def fit_length(x: np.ndarray, n: int) -> np.ndarray:
    """Zero-pad or trim the last axis to n samples."""
    if x.shape[-1] >= n:
        return x[..., :n]
    pad = [(0, 0)] * (x.ndim - 1) + [(0, n - x.shape[-1])]
    return np.pad(x, pad)


def load_clip(path: str | os.PathLike, cfg, spec: WavSpec | None = None, quality: str = "HQ") -> np.ndarray:
    """A wav as the front-end of FrontendConfig `cfg` takes it: int16 [cfg.channels, cfg.clip_samples].

    Checks `spec` (e.g. TAU_SPEC for data-set clips); the clip must be at least cfg.clip_seconds
    long (less SHORT_TOLERANCE_S, which is zero-padded); a longer one is cut to its first
    cfg.clip_seconds. Channels are averaged for a mono front-end, then resampled to cfg.sample_rate.
    """
    spec = spec or WavSpec()
    seconds = cfg.clip_seconds if spec.seconds is None else max(spec.seconds, cfg.clip_seconds)
    spec = WavSpec(spec.sample_rate, spec.channels, seconds)
    # a little beyond the clip, so that the resampler's edge lies outside what is kept
    x, rate = read_wav(path, spec, max_seconds=cfg.clip_seconds + 0.05)
    x = mix_channels(x, cfg.channels, path)
    x = resample(x, rate, cfg.sample_rate, quality)
    return to_pcm16(fit_length(x, cfg.clip_samples))


def write_wav(path: str | os.PathLike, x: np.ndarray, rate: int, subtype: str = "PCM_24") -> Path:
    """Write [channels, samples] float (or int16) audio atomically."""

    path = Path(path)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.asarray(x).T, rate, subtype=subtype, format="WAV")
    return path
