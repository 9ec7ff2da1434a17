"""The C front-end (firmware/src/fe) compiled for the host as a shared library and called with ctypes.

The library is built with the system C compiler into the user cache on first use, named by the hash
of its sources, headers and flags (a changed source gives a new library); the build goes to a
temporary name and is renamed into place, so two processes building at once both end with a
complete library. The tables come from `spec.make_tables` (and `quant.InputQuant`): the very numpy
arrays the code generator writes into fe_tables.c for the device.
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import threading
from ctypes import (
    POINTER,
    c_int8,
    c_int16,
    c_int32,
    c_int64,
    c_uint8,
    c_uint16,
    c_uint32,
    c_uint64,
    c_void_p,
)
from pathlib import Path

import numpy as np

from tinyscene.config import FrontendConfig
from tinyscene.errors import TsError
from tinyscene.frontend import spec
from tinyscene.paths import FIRMWARE_DIR, cache_dir
from tinyscene.target.status import status_text

HOST_CC = "gcc"
CFLAGS = ["-O2", "-std=gnu11", "-fPIC", "-shared", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fno-strict-aliasing"]
FE_SRC_DIR = FIRMWARE_DIR / "src" / "fe"
FE_HEADERS = [FIRMWARE_DIR / "include" / "ts" / "fe.h", FIRMWARE_DIR / "include" / "ts" / "status.h"]


def fe_sources() -> list[Path]:
    return sorted(FE_SRC_DIR.glob("*.c"))


def source_hash() -> str:
    """sha256 of the front-end's C sources and headers: changes whenever the C changes."""
    h = hashlib.sha256()
    for p in [*fe_sources(), *sorted(FE_SRC_DIR.glob("*.h")), *FE_HEADERS]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


_lock = threading.Lock()
_libs: dict[str, ctypes.CDLL] = {}


def library_path() -> Path:
    key = hashlib.sha256((source_hash() + " ".join(CFLAGS)).encode()).hexdigest()[:20]
    return cache_dir() / "host" / f"libtsfe-{key}.so"


def build_library(force: bool = False) -> Path:
    """Compile firmware/src/fe/*.c into the host shared library (once per source hash)."""
    out = library_path()
    if out.exists() and not force:
        return out
    cc = shutil.which(HOST_CC)
    if not cc:
        raise TsError(f"'{HOST_CC}' not found on PATH: the host front-end library needs a C compiler (make setup)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    cmd = [cc, *CFLAGS, f"-I{FIRMWARE_DIR / 'include'}", *map(str, fe_sources()), "-o", str(tmp)]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise TsError(f"building the host front-end library failed:\n{r.stderr.strip()}")
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


class _Config(ctypes.Structure):
    _fields_ = [("abi", c_uint32), ("struct_size", c_uint32), ("sample_rate", c_int32), ("n_fft", c_int32),
                ("hop", c_int32), ("n_mels", c_int32), ("channels", c_int32), ("delay_hops", c_int32),
                ("history", c_int32), ("window_sum", c_int32), ("window", POINTER(c_int32)),
                ("fft_twiddle", POINTER(c_int32)), ("rfft_twiddle", POINTER(c_int32)), ("mel_start", POINTER(c_uint16)), ("mel_count", POINTER(c_uint16)),
                ("mel_weight", POINTER(c_uint16)), ("mel_shift", POINTER(c_uint8)), ("mel_weight_exp", c_int32), ("floor_mant", c_int32),
                ("floor_exp", c_int32), ("n_weights", c_int32), ("log_lut", POINTER(c_int32))]


class _Quant(ctypes.Structure):
    _fields_ = [("abi", c_uint32), ("struct_size", c_uint32), ("n_mels", c_int32), ("shift", c_int32),
                ("mul", POINTER(c_int32)), ("add", POINTER(c_int64))]


class _Fe(ctypes.Structure):
    _fields_ = [("cfg", POINTER(_Config)), ("quant", POINTER(_Quant)), ("history", POINTER(c_int16)),
                ("scratch", POINTER(c_int32)), ("hops", c_int32)]


def _ptr(a: np.ndarray, ctype):
    return a.ctypes.data_as(POINTER(ctype))


def load_library() -> ctypes.CDLL:
    path = build_library()
    with _lock:
        lib = _libs.get(str(path))
        if lib is None:
            lib = ctypes.CDLL(str(path))
            P = POINTER
            sig = {
                "ts_fe_get_buffer_size": (c_int32, [P(_Config)]),
                "ts_fe_get_state_size": (c_int32, [P(_Config)]),
                "ts_fe_init": (c_int32, [P(_Fe), P(_Config), P(_Quant), c_void_p, c_void_p]),
                "ts_fe_reset": (None, [P(_Fe)]),
                "ts_fe_process_hop": (c_int32, [P(_Fe), P(c_int16), P(c_int8), c_int32, P(c_int32), P(c_int32)]),
                "ts_fe_process_clip": (c_int32, [P(_Fe), P(c_int16), c_int32, P(c_int8), P(c_int32), c_int32]),
                "ts_fe_window_q31": (c_int32, [P(c_int16), P(c_int32), c_int32, P(c_int32), P(c_int32)]),
                "ts_fe_cfft_q31": (c_int32, [P(c_int32), c_int32, P(c_int32), c_uint32, c_uint64]),
                "ts_fe_rfft_q31": (c_int32, [P(c_int32), c_int32, P(c_int32), P(c_int32), c_uint32, c_uint64]),
                "ts_fe_power_u64": (None, [P(c_int32), c_int32]),
                "ts_fe_mel_u64": (None, [P(c_uint32), P(c_uint16), P(c_uint16), P(c_uint16), P(c_uint8), c_int32,
                                          P(c_uint64)]),
                "ts_fe_log_q24": (None, [P(c_uint64), c_int32, c_int32, c_int32, c_int32, P(c_int32), P(c_int32)]),
                "ts_fe_quantize_s8": (None, [P(_Quant), c_int32, c_int32, P(c_int32), P(c_int8), c_int32]),
            }
            for name, (res, args) in sig.items():
                f = getattr(lib, name)
                f.restype, f.argtypes = res, args
            _libs[str(path)] = lib
    return lib


def _check(status: int, what: str) -> None:
    if status != 0:
        raise TsError(f"front-end {what}: {status_text(status)}")


class _QuantStruct:
    """A ts_fe_quant_t over numpy arrays that it keeps alive."""

    def __init__(self, quant) -> None:
        self.mul = np.ascontiguousarray(quant.mul, np.int32)
        self.add = np.ascontiguousarray(quant.add, np.int64)
        self.struct = _Quant(abi=spec.ABI, struct_size=ctypes.sizeof(_Quant), n_mels=len(self.mul),
                             shift=int(quant.shift), mul=_ptr(self.mul, c_int32), add=_ptr(self.add, c_int64))


class FixedFrontend:
    """The fixed-point C front-end on the host.

    `logmel(pcm)` -> int32 Q7.24 natural log-mel [channels, n_mels, frames] (LOG_FRAC_BITS = 24);
    `to_float(L)` -> float32 in the float reference's units; `quantize(L, quant)` -> the int8 model
    input [n_mels, frames, channels], computed by the C code exactly as on the device.
    """

    LOG_FRAC_BITS = spec.LOG_FRAC_BITS

    def __init__(self, cfg: FrontendConfig) -> None:
        self.cfg = cfg
        self.tables = spec.make_tables(cfg)
        self.lib = load_library()
        t = self.tables
        self._keep = {k: np.ascontiguousarray(v) for k, v in t.arrays().items()}
        k = self._keep
        self.config = _Config(
            abi=spec.ABI, struct_size=ctypes.sizeof(_Config), **t.scalars(),
            window=_ptr(k["window"], c_int32), fft_twiddle=_ptr(k["fft_twiddle"], c_int32),
            rfft_twiddle=_ptr(k["rfft_twiddle"], c_int32),
            mel_start=_ptr(k["mel_start"], c_uint16), mel_count=_ptr(k["mel_count"], c_uint16),
            mel_weight=_ptr(k["mel_weight"], c_uint16), mel_shift=_ptr(k["mel_shift"], c_uint8), log_lut=_ptr(k["log_lut"], c_int32))
        self.scratch_bytes = self.lib.ts_fe_get_buffer_size(ctypes.byref(self.config))
        self.state_bytes = self.lib.ts_fe_get_state_size(ctypes.byref(self.config))
        self._lock = threading.Lock()

    # -- instances -------------------------------------------------------------------------------
    def _instance(self, quant=None):
        q = _QuantStruct(quant) if quant is not None else None
        state = np.zeros(max(self.state_bytes, 2) // 2, np.int16)
        scratch = np.zeros(-(-self.scratch_bytes // 8), np.uint64)
        fe = _Fe()
        _check(self.lib.ts_fe_init(ctypes.byref(fe), ctypes.byref(self.config),
                                   ctypes.byref(q.struct) if q else None,
                                   state.ctypes.data_as(c_void_p), scratch.ctypes.data_as(c_void_p)),
               f"init ({self.cfg.name})")
        return fe, (q, state, scratch)

    def _pcm(self, pcm) -> np.ndarray:
        pcm = np.asarray(pcm)
        if pcm.ndim == 1 and self.cfg.channels == 1:
            pcm = pcm[None]
        if pcm.ndim != 2 or pcm.shape[0] != self.cfg.channels:
            raise TsError(f"front-end '{self.cfg.name}': PCM must be [{self.cfg.channels}, samples], "
                          f"got shape {pcm.shape}")
        if pcm.dtype != np.int16:
            raise TsError(f"front-end '{self.cfg.name}': PCM must be int16, got {pcm.dtype}")
        if pcm.shape[1] >= 2**31 // self.cfg.channels:
            raise TsError(f"front-end '{self.cfg.name}': clip too long ({pcm.shape[1]} samples)")
        return np.ascontiguousarray(pcm.T)  # interleaved [samples][channels]

    def n_frames(self, n_samples: int) -> int:
        return 1 + n_samples // self.cfg.hop_length

    # -- public API --------------------------------------------------------------------------------
    def logmel(self, pcm) -> np.ndarray:
        """int16 [channels, samples] -> int32 Q7.24 log-mel [channels, n_mels, frames]."""
        inter = self._pcm(pcm)
        n = inter.shape[0]
        f = self.n_frames(n)
        out = np.empty((self.cfg.channels, self.cfg.n_mels, f), np.int32)
        fe, keep = self._instance()
        _check(self.lib.ts_fe_process_clip(ctypes.byref(fe), _ptr(inter, c_int16), n, None,
                                           _ptr(out, c_int32), f), "process_clip")
        return out

    def process_clip(self, pcm, quant) -> tuple[np.ndarray, np.ndarray]:
        """(int8 [n_mels, frames, channels], int32 log-mel [channels, n_mels, frames]) in one call."""
        inter = self._pcm(pcm)
        n = inter.shape[0]
        f = self.n_frames(n)
        self._check_quant(quant)
        out = np.empty((self.cfg.n_mels, f, self.cfg.channels), np.int8)
        lm = np.empty((self.cfg.channels, self.cfg.n_mels, f), np.int32)
        fe, keep = self._instance(quant)
        _check(self.lib.ts_fe_process_clip(ctypes.byref(fe), _ptr(inter, c_int16), n, _ptr(out, c_int8),
                                           _ptr(lm, c_int32), f), "process_clip")
        return out, lm

    def stream(self, pcm, quant=None):
        """Hop by hop through ts_fe_process_hop (the device's streaming path): yields
        (frame index, int8 frame [n_mels, channels] or None, int32 log-mel [channels, n_mels]); the
        clip is zero-extended until its last centred frame is out."""
        inter = self._pcm(pcm)
        hop, ch = self.cfg.hop_length, self.cfg.channels
        f = self.n_frames(inter.shape[0])
        if quant is not None:
            self._check_quant(quant)
        fe, keep = self._instance(quant)
        buf = np.zeros((hop, ch), np.int16)
        frame = c_int32(-1)
        k = 0
        while True:
            buf[:] = 0
            part = inter[k * hop:(k + 1) * hop]
            buf[:len(part)] = part
            lm = np.empty((ch, self.cfg.n_mels), np.int32)
            q8 = np.empty((self.cfg.n_mels, ch), np.int8) if quant is not None else None
            _check(self.lib.ts_fe_process_hop(ctypes.byref(fe), _ptr(buf, c_int16),
                                              _ptr(q8, c_int8) if q8 is not None else None, ch,
                                              _ptr(lm, c_int32), ctypes.byref(frame)), "process_hop")
            k += 1
            if frame.value >= 0:
                yield frame.value, q8, lm
                if frame.value == f - 1:
                    return

    def to_float(self, logmel) -> np.ndarray:
        """Q7.24 log-mel -> float32 natural log of the power mel (the float reference's units)."""
        return spec.log_to_float(logmel)

    def _check_quant(self, quant) -> None:
        if len(quant.mul) != self.cfg.n_mels:
            raise TsError(f"input quantisation has {len(quant.mul)} mel bins, front-end '{self.cfg.name}' has "
                          f"{self.cfg.n_mels}")

    def quantize(self, logmel, quant) -> np.ndarray:
        """Q7.24 log-mel [channels, n_mels, frames] -> int8 [n_mels, frames, channels] (the C code)."""
        L = np.ascontiguousarray(logmel, np.int32)
        if L.ndim != 3 or L.shape[0] != self.cfg.channels or L.shape[1] != self.cfg.n_mels:
            raise TsError(f"log-mel must be [{self.cfg.channels}, {self.cfg.n_mels}, frames], got {L.shape}")
        self._check_quant(quant)
        ch, nm, f = L.shape
        out = np.empty((nm, f, ch), np.int8)
        q = _QuantStruct(quant)
        self.lib.ts_fe_quantize_s8(ctypes.byref(q.struct), ch, f, _ptr(L, c_int32), _ptr(out, c_int8), f * ch)
        return out

    # -- stages (per-stage checks against float references) ------------------------------------------
    def stages(self, frame) -> dict:
        """Each C stage on one int16 frame [n_fft], converted to float in the float reference's units:
        windowed, spectrum (complex rfft), power, mel, log; plus the frame shift."""
        cfg, t, lib = self.cfg, self.tables, self.lib
        n = cfg.n_fft
        x = np.ascontiguousarray(frame, np.int16)
        if x.shape != (n,):
            raise TsError(f"a frame is {n} int16 samples, got {x.shape}")
        buf = np.zeros(n + 2, np.int32)
        peak = c_int32(0)
        k = lib.ts_fe_window_q31(_ptr(x, c_int16), _ptr(self._keep["window"], c_int32), n, _ptr(buf, c_int32),
                                 ctypes.byref(peak))
        v = buf[:n].astype(np.float64) * 2.0 ** -(14 + k)
        p = peak.value
        mag, total = p // 2 + p // 4 + 2, ((p * t.window_sum) >> 16) + n
        shift = lib.ts_fe_rfft_q31(_ptr(buf, c_int32), n, _ptr(self._keep["fft_twiddle"], c_int32),
                                   _ptr(self._keep["rfft_twiddle"], c_int32), mag, total)
        e = 14 + k - shift
        X = (buf[0::2] + 1j * buf[1::2]) * 2.0**-e
        lib.ts_fe_power_u64(_ptr(buf, c_int32), n // 2 + 1)
        P64 = buf.view(np.uint64).copy()
        power = P64.astype(np.float64) * 2.0 ** (-2 * e)
        mel = np.zeros(cfg.n_mels, np.uint64)
        lib.ts_fe_mel_u64(_ptr(P64, c_uint32), _ptr(self._keep["mel_start"], c_uint16),
                          _ptr(self._keep["mel_count"], c_uint16), _ptr(self._keep["mel_weight"], c_uint16),
                          _ptr(self._keep["mel_shift"], c_uint8), cfg.n_mels, _ptr(mel, c_uint64))
        e = t.mel_weight_exp + 2 * e - 16
        melf = mel.astype(np.float64) * 2.0**-e
        lm = np.zeros(cfg.n_mels, np.int32)
        lib.ts_fe_log_q24(_ptr(mel, c_uint64), cfg.n_mels, e, t.floor_mant, t.floor_exp,
                          _ptr(self._keep["log_lut"], c_int32), _ptr(lm, c_int32))
        return {"k": k, "fft_shift": shift, "windowed": v, "spectrum": X, "power": power, "mel": melf,
                "mel_raw": mel, "mel_exponent": e, "log": lm.astype(np.float64) * 2.0**-spec.LOG_FRAC_BITS}

    def log_raw(self, mel_u64, exponent: int) -> np.ndarray:
        """ts_fe_log_q24 on given 64-bit mel values (tests of the log stage)."""
        mel = np.ascontiguousarray(mel_u64, np.uint64)
        out = np.zeros(mel.size, np.int32)
        t = self.tables
        self.lib.ts_fe_log_q24(_ptr(mel, c_uint64), mel.size, exponent, t.floor_mant, t.floor_exp,
                               _ptr(self._keep["log_lut"], c_int32), _ptr(out, c_int32))
        return out

    def cfft(self, z) -> tuple[np.ndarray, int]:
        """ts_fe_cfft_q31 on int32 complex values [n_fft / 2, 2], with the
        bounds computed from the data: (output, shift), output = DFT / 2^shift."""
        z = np.ascontiguousarray(z, np.int32).copy()
        zc = z[:, 0].astype(np.float64) + 1j * z[:, 1]
        mag = int(np.ceil(np.abs(zc).max())) + 1
        total = int(np.ceil(np.abs(zc).sum())) + 1
        if z.shape != (self.cfg.n_fft // 2, 2):
            raise TsError(f"cfft input must be [{self.cfg.n_fft // 2}, 2]")
        sh = self.lib.ts_fe_cfft_q31(_ptr(z, c_int32), z.shape[0], _ptr(self._keep["fft_twiddle"], c_int32),
                                     mag, total)
        return z, sh
