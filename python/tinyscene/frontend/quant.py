"""The model's int8 input: per-mel-bin normalisation of the log-mel folded into its quantisation.

    z = (L - mean[m]) / std[m]                       normalised log-mel (float, training's view)
    q = clamp(round(z / scale) + zero_point, -128, 127)   int8 model input

with scale = 1/32 and zero_point = 0: normalised values in [-4, +4) std use the whole int8 range.
On the device (and in the host library) this is one fixed-point affine step per bin on the Q7.24
log-mel L:  q = clamp(floor((floor(L * mul[m] / 2^32) + add[m]) / 2^(shift-32))),
mul = round(2^(shift-24) / (std scale)), add = round((zero_point - mean / (std scale)) 2^(shift-32))
+ 2^(shift-33) (int32), computed here from mean/std so that every user of a frontend.json gets the
very same integers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tinyscene.config import FrontendConfig
from tinyscene.errors import TsError
from tinyscene.frontend.spec import ARITH_VERSION, LOG_FRAC_BITS, check_arith_version

DEFAULT_SCALE = 1.0 / 32
DEFAULT_ZERO_POINT = 0
STD_MIN = 1e-2  # a bin that never changes (an empty filter at the floor) is not blown up
MUL_LIMIT = 2**30
ADD_LIMIT = 2**60


@dataclass(frozen=True, eq=False)
class InputQuant:
    """Per-mel-bin mean/std (natural-log units, over channels and frames of the training clips) and
    the int8 scale / zero point of the model's input tensor."""

    mean: np.ndarray  # float64 [n_mels]
    std: np.ndarray  # float64 [n_mels], >= STD_MIN
    scale: float = DEFAULT_SCALE
    zero_point: int = DEFAULT_ZERO_POINT
    n_clips: int = 0  # how many clips the statistics came from (informative)
    mul: np.ndarray = field(init=False, repr=False)
    add: np.ndarray = field(init=False, repr=False)
    shift: int = field(init=False)

    def __post_init__(self) -> None:
        mean = np.asarray(self.mean, np.float64).reshape(-1)
        std = np.asarray(self.std, np.float64).reshape(-1)
        if mean.shape != std.shape or mean.size == 0:
            raise TsError(f"input quantisation: mean ({mean.size}) and std ({std.size}) must have one value per mel bin")
        if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(std))):
            raise TsError("input quantisation: mean/std must be finite")
        if np.any(std < STD_MIN):
            raise TsError(f"input quantisation: std must be >= {STD_MIN} (got {std.min():g})")
        if not (self.scale > 0 and math.isfinite(self.scale)):
            raise TsError(f"input quantisation: scale must be positive, got {self.scale}")
        if not -128 <= int(self.zero_point) <= 127:
            raise TsError(f"input quantisation: zero_point {self.zero_point} outside int8")
        object.__setattr__(self, "mean", mean)
        object.__setattr__(self, "std", std)
        a = 1.0 / (std * self.scale)  # int8 steps per log unit
        b = self.zero_point - mean * a
        # the largest shift keeping |mul| <= 2^30 and |add| 2^32 <= 2^60 (Q7.24 input: L mul + add 2^32 < 2^62,
        # so floor(L mul / 2^32) + add fits 32 bits)
        shift = 62
        while shift > 33 and (np.max(np.abs(a)) * 2.0 ** (shift - LOG_FRAC_BITS) > MUL_LIMIT
                              or np.max(np.abs(b)) * 2.0**shift > ADD_LIMIT):
            shift -= 1
        if np.max(np.abs(a)) * 2.0 ** (shift - LOG_FRAC_BITS) > MUL_LIMIT or np.max(np.abs(b)) * 2.0**shift > ADD_LIMIT:
            raise TsError("input quantisation: mean/std out of the fixed-point range")
        object.__setattr__(self, "shift", int(shift))
        object.__setattr__(self, "mul", np.round(a * 2.0 ** (shift - LOG_FRAC_BITS)).astype(np.int32))
        # b * 2^(shift-32) is exact in float64 (a power-of-two scaling); Python's round gives the exact
        # integer; plus the rounding half, so that the C code takes the floor
        add = np.array([int(round(float(bb) * 2.0 ** (shift - 32))) + (1 << (shift - 33)) for bb in b], dtype=np.int32)
        object.__setattr__(self, "add", add)

    @property
    def n_mels(self) -> int:
        return int(self.mean.size)

    @classmethod
    def fit(cls, cfg: FrontendConfig, logmels, scale: float = DEFAULT_SCALE,
            zero_point: int = DEFAULT_ZERO_POINT) -> "InputQuant":
        """Mean/std per mel bin over channels and frames of fixed-point log-mels (int32 Q7.24
        [channels, n_mels, frames] each, or one stacked [clips, channels, n_mels, frames] array)."""
        if isinstance(logmels, np.ndarray) and logmels.ndim == 4:
            logmels = list(logmels)
        logmels = list(logmels)
        if not logmels:
            raise TsError("input quantisation: no clips to fit on")
        s1 = np.zeros(cfg.n_mels)
        s2 = np.zeros(cfg.n_mels)
        count = 0
        for L in logmels:
            L = np.asarray(L)
            if L.ndim != 3 or L.shape[1] != cfg.n_mels:
                raise TsError(f"input quantisation: log-mel must be [channels, {cfg.n_mels}, frames], got {L.shape}")
            x = L.astype(np.float64) * 2.0**-LOG_FRAC_BITS
            s1 += x.sum(axis=(0, 2))
            s2 += (x * x).sum(axis=(0, 2))
            count += x.shape[0] * x.shape[2]
        mean = s1 / count
        std = np.sqrt(np.maximum(s2 / count - mean * mean, 0.0))
        return cls(mean=mean, std=np.maximum(std, STD_MIN), scale=scale, zero_point=zero_point, n_clips=len(logmels))

    def normalize(self, logmel_float) -> np.ndarray:
        """Float log-mel [channels, n_mels, frames] -> normalised float [n_mels, frames, channels]
        (the value the int8 tensor approximates, in the same layout)."""
        L = np.asarray(logmel_float, np.float64)
        z = (L - self.mean[None, :, None]) / self.std[None, :, None]
        return np.transpose(z, (1, 2, 0)).astype(np.float32)

    def dequantize(self, q) -> np.ndarray:
        """int8 model input -> float32 (q - zero_point) * scale, same layout."""
        return ((np.asarray(q, np.float32) - self.zero_point) * self.scale).astype(np.float32)

    def to_dict(self) -> dict:
        return {"arith_version": ARITH_VERSION, "scale": float(self.scale), "zero_point": int(self.zero_point),
                "n_mels": self.n_mels,
                "n_clips": int(self.n_clips), "log_frac_bits": LOG_FRAC_BITS,
                "mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std],
                "fixed": {"shift": self.shift, "mul": [int(v) for v in self.mul], "add": [int(v) for v in self.add]}}

    @classmethod
    def from_dict(cls, d: dict, source: str = "input quantisation") -> "InputQuant":
        if not isinstance(d, dict):
            raise TsError(f"{source}: must be a JSON object")
        for k in ("mean", "std", "scale", "zero_point"):
            if k not in d:
                raise TsError(f"{source}: missing '{k}'")
        check_arith_version(d.get("arith_version"), source)
        if int(d.get("log_frac_bits", LOG_FRAC_BITS)) != LOG_FRAC_BITS:
            raise TsError(f"{source}: log_frac_bits {d['log_frac_bits']} differs from this front-end's {LOG_FRAC_BITS}")
        try:
            q = cls(mean=np.array(d["mean"], np.float64), std=np.array(d["std"], np.float64), scale=float(d["scale"]),
                    zero_point=int(d["zero_point"]), n_clips=int(d.get("n_clips", 0)))
        except (TypeError, ValueError) as e:
            raise TsError(f"{source}: {e}") from None
        fx = d.get("fixed")
        if fx is not None:
            if (int(fx.get("shift", -1)) != q.shift or list(map(int, fx.get("mul", []))) != q.mul.tolist()
                    or list(map(int, fx.get("add", []))) != q.add.tolist()):
                raise TsError(f"{source}: its fixed-point mul/add/shift do not follow from its mean/std "
                              "(edited by hand, or written by another front-end version)")
        return q

    def check(self, cfg: FrontendConfig, source: str = "input quantisation") -> "InputQuant":
        if self.n_mels != cfg.n_mels:
            raise TsError(f"{source}: {self.n_mels} mel bins, front-end config '{cfg.name}' has {cfg.n_mels}")
        return self
