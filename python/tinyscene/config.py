"""Typed configurations and their named presets.

A config is a frozen dataclass that validates itself on construction: a bad value is a
TsError naming the field and the limit, raised before any table is computed.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path

from tinyscene.errors import TsError


@dataclass(frozen=True)
class FrontendConfig:
    """Log-mel front-end settings (the same numbers drive the float reference and the fixed-point C).

    Frames are centred as librosa's default (`center=True`, zero padding of n_fft/2 each side),
    so a clip of `clip_seconds` gives 1 + samples // hop_length frames.
    """

    name: str = "custom"
    sample_rate: int = 44100
    n_fft: int = 2048
    hop_length: int = 1536
    n_mels: int = 256
    fmin: float = 0.0
    fmax: float | None = None  # None = Nyquist
    channels: int = 2
    clip_seconds: float = 10.0

    def __post_init__(self) -> None:
        n = self.n_fft
        if n < 256 or n > 4096 or n & (n - 1):
            raise TsError(f"front-end config '{self.name}': n_fft={n} must be a power of two in 256..4096")
        if self.sample_rate <= 0:
            raise TsError(f"front-end config '{self.name}': sample_rate={self.sample_rate} must be positive")
        if not 0 < self.hop_length <= n:
            raise TsError(f"front-end config '{self.name}': hop_length={self.hop_length} must be in 1..n_fft ({n}); "
                          "a hop larger than the window skips samples")
        if not 1 <= self.n_mels <= n // 2 + 1:
            raise TsError(f"front-end config '{self.name}': n_mels={self.n_mels} must be in 1..{n // 2 + 1} "
                          f"(the FFT bins of n_fft={n})")
        if self.fmin < 0:
            raise TsError(f"front-end config '{self.name}': fmin={self.fmin} must be >= 0")
        if self.fmax is not None and self.fmax > self.sample_rate / 2:
            raise TsError(f"front-end config '{self.name}': fmax={self.fmax} Hz is above Nyquist "
                          f"({self.sample_rate / 2:g} Hz)")
        if self.f_max <= self.fmin:
            raise TsError(f"front-end config '{self.name}': fmax={self.f_max} must exceed fmin={self.fmin}")
        if self.channels not in (1, 2):
            raise TsError(f"front-end config '{self.name}': channels={self.channels} must be 1 or 2")
        if self.clip_seconds <= 0:
            raise TsError(f"front-end config '{self.name}': clip_seconds={self.clip_seconds} must be positive")

    @property
    def f_max(self) -> float:
        return float(self.sample_rate) / 2 if self.fmax is None else float(self.fmax)

    @property
    def clip_samples(self) -> int:
        return int(round(self.clip_seconds * self.sample_rate))

    @property
    def n_frames(self) -> int:
        """Frames of one clip (centred framing, as librosa's default)."""
        return 1 + self.clip_samples // self.hop_length

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict, source: str = "config") -> "FrontendConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TsError(f"{source}: unknown front-end field(s) {', '.join(unknown)}")
        return cls(**d)


FRONTEND_PRESETS: dict[str, FrontendConfig] = {
    # The seed: 44.1 kHz, n_fft 2048 (the seed's "2018" is a typo), hop 1536, 256 mels, binaural.
    "paper": FrontendConfig(name="paper", sample_rate=44100, n_fft=2048, hop_length=1536, n_mels=256, channels=2),
    # Microcontroller-sized: 16 kHz, n_fft 512, hop 256, 64 mels, binaural.
    "m4-small": FrontendConfig(name="m4-small", sample_rate=16000, n_fft=512, hop_length=256, n_mels=64, channels=2),
    # For fast tests and demos: 16 kHz, n_fft 512, hop 512, 32 mels, binaural.
    "tiny": FrontendConfig(name="tiny", sample_rate=16000, n_fft=512, hop_length=512, n_mels=32, channels=2),
}


def load_frontend_config(name_or_path: str) -> FrontendConfig:
    """A preset name (`paper`, `m4-small`, `tiny`) or a JSON file with FrontendConfig fields
    (a bundle's frontend.json is accepted: its `config` member is used)."""
    if name_or_path in FRONTEND_PRESETS:
        return FRONTEND_PRESETS[name_or_path]
    path = Path(name_or_path)
    if not path.exists():
        raise TsError(f"front-end config '{name_or_path}': neither a preset ({', '.join(FRONTEND_PRESETS)}) "
                      "nor an existing file")
    try:
        d = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise TsError(f"{path}: not a readable JSON front-end config ({e})") from None
    if isinstance(d, dict) and isinstance(d.get("config"), dict):
        d = d["config"]
    if not isinstance(d, dict):
        raise TsError(f"{path}: a front-end config must be a JSON object")
    d.setdefault("name", path.stem)
    return FrontendConfig.from_dict(d, source=str(path))
