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
                ("history", c_int32), ("n_weights", c_int32), ("window", POINTER(c_int32)),
                ("fft_twiddle", POINTER(c_int32)), ("rfft_twiddle", POINTER(c_int32)), ("mel_bin", POINTER(c_uint16)),
                ("mel_t", POINTER(c_uint16)), ("mel_floor", POINTER(c_uint32)), ("mel_offset", POINTER(c_int32)),
                ("log_lut", POINTER(c_int32))]


_POINTERS = {"window": c_int32, "fft_twiddle": c_int32, "rfft_twiddle": c_int32, "mel_bin": c_uint16,
             "mel_t": c_uint16, "mel_floor": c_uint32, "mel_offset": c_int32, "log_lut": c_int32}


class _Quant(ctypes.Structure):
    _fields_ = [("abi", c_uint32), ("struct_size", c_uint32), ("n_mels", c_int32), ("shift", c_int32),
                ("mul", POINTER(c_int32)), ("add", POINTER(c_int32))]


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
                "ts_fe_frame_shift": (c_int32, [P(c_int16), c_int32]),
                "ts_fe_cfft_q31": (None, [P(c_int16), P(c_int32), P(c_int32), c_int32, c_int32, P(c_int32)]),
                "ts_fe_power_u64": (None, [P(c_int32), c_int32, P(c_int32)]),
                "ts_fe_mel_u64": (None, [P(c_uint64), P(c_uint16), P(c_uint16), c_int32, P(c_uint64)]),
                "ts_fe_log_q24": (None, [P(c_uint64), c_int32, P(c_uint32), P(c_int32), c_int32, P(c_int32),
                                          P(c_int32)]),
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
        self.add = np.ascontiguousarray(quant.add, np.int32)
        self.struct = _Quant(abi=spec.ABI, struct_size=ctypes.sizeof(_Quant), n_mels=len(self.mul),
                             shift=int(quant.shift), mul=_ptr(self.mul, c_int32), add=_ptr(self.add, c_int32))


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
        self.config = _Config(abi=spec.ABI, struct_size=ctypes.sizeof(_Config), **t.scalars(),
                              **{name: _ptr(k[name], ct) for name, ct in _POINTERS.items()})
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

    # -- stages (per-stage checks against float references and exact integer models) ----------------
    def frame_shift(self, frame) -> int:
        x = self._frame(frame)
        return int(self.lib.ts_fe_frame_shift(_ptr(x, c_int16), x.size))

    def _frame(self, frame) -> np.ndarray:
        x = np.ascontiguousarray(frame, np.int16)
        if x.shape != (self.cfg.n_fft,):
            raise TsError(f"a frame is {self.cfg.n_fft} int16 samples, got {x.shape}")
        return x

    def cfft(self, frame, k: int | None = None) -> tuple[np.ndarray, int]:
        """ts_fe_cfft_q31 on one int16 frame: (Z as int32 [n_fft/2, 2], k); Z = DFT(z) 2^(12 + k - s)."""
        x = self._frame(frame)
        if k is None:
            k = self.frame_shift(x)
        buf = np.zeros(self.cfg.n_fft + 2, np.int32)
        self.lib.ts_fe_cfft_q31(_ptr(x, c_int16), _ptr(self._keep["window"], c_int32),
                                _ptr(self._keep["fft_twiddle"], c_int32), self.cfg.n_fft, int(k), _ptr(buf, c_int32))
        return buf[:self.cfg.n_fft].reshape(-1, 2).copy(), int(k)

    def power(self, z) -> np.ndarray:
        """ts_fe_power_u64 on Z (int32 [n_fft/2, 2]): uint64 power of bins 0..n_fft/2."""
        buf = np.zeros(self.cfg.n_fft + 2, np.int32)
        buf[:self.cfg.n_fft] = np.asarray(z, np.int32).reshape(-1)
        self.lib.ts_fe_power_u64(_ptr(buf, c_int32), self.cfg.n_fft, _ptr(self._keep["rfft_twiddle"], c_int32))
        return buf.view(np.uint64).copy()

    def mel(self, power) -> np.ndarray:
        """ts_fe_mel_u64 on a uint64 power spectrum [n_fft/2 + 1]: uint64 band sums [n_mels]."""
        p = np.ascontiguousarray(power, np.uint64)
        out = np.zeros(self.cfg.n_mels, np.uint64)
        self.lib.ts_fe_mel_u64(_ptr(p, c_uint64), _ptr(self._keep["mel_bin"], c_uint16),
                               _ptr(self._keep["mel_t"], c_uint16), self.cfg.n_mels, _ptr(out, c_uint64))
        return out

    def log_raw(self, mel_u64, k: int = 0) -> np.ndarray:
        """ts_fe_log_q24 on given uint64 mel sums [n_mels] with frame shift k: int32 Q24."""
        mel = np.ascontiguousarray(mel_u64, np.uint64)
        if mel.size != self.cfg.n_mels:
            raise TsError(f"log stage: {self.cfg.n_mels} mel sums, got {mel.size}")
        out = np.zeros(mel.size, np.int32)
        self.lib.ts_fe_log_q24(_ptr(mel, c_uint64), mel.size, _ptr(self._keep["mel_floor"], c_uint32),
                               _ptr(self._keep["mel_offset"], c_int32), int(k), _ptr(self._keep["log_lut"], c_int32),
                               _ptr(out, c_int32))
        return out

    def stages(self, frame) -> dict:
        """Each C stage on one int16 frame [n_fft], converted to float in the float reference's units:
        windowed (from the FFT input definition), spectrum (complex rfft, from Z through the split),
        power, mel, log; plus the frame shift k and the raw integers."""
        cfg, t = self.cfg, self.tables
        x = self._frame(frame)
        z, k = self.cfft(x)
        e = spec.WINDOW_SHIFT + k - t.fft_shift  # Z, X in units of 2^e per int16 step
        P = self.power(z)
        mel = self.mel(P)
        lm = self.log_raw(mel, k)
        unit = 2.0 ** -(e + 15)  # to pcm / 32768
        zc = (z[:, 0] + 1j * z[:, 1]) * unit
        scale = 2.0 ** -(t.scale_exp + 2 * k)
        return {"k": k, "fft_shift": t.fft_shift, "z": zc, "power": P.astype(np.float64) * scale,
                "mel": mel.astype(np.float64) * spec.slaney_norm(cfg) * scale, "mel_raw": mel, "power_raw": P,
                "z_raw": z, "log": lm.astype(np.float64) * 2.0**-spec.LOG_FRAC_BITS}
