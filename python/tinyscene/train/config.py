"""Training settings (a typed, validated dataclass; saved into a run's config.json)."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from tinyscene.errors import TsError

OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("cosine", "step")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    lr: float | None = None          # None: 1e-3 for adam, 0.05 for sgd
    optimizer: str = "adam"
    schedule: str = "cosine"         # cosine: to lr/100 over the epochs; step: x0.1 at 50% and 75%
    weight_decay: float = 0.0
    momentum: float = 0.9            # sgd only (Nesterov)
    mixup_alpha: float = 0.2         # lambda ~ Beta(a, a); 0 = no mixup
    seed: int = 0
    patience: int = 10               # stop after this many epochs without a better evaluate accuracy
    slim_l1: float = 0.0             # + slim_l1 * sum |gamma| over the BN layers (network slimming)
    device: str = "auto"
    fold: int = 1
    workers: int = 2                 # processes featurising audio (cached; the epoch loop is in memory)
    eval_batch_size: int = 64

    def __post_init__(self) -> None:
        def bad(field: str, why: str):
            raise TsError(f"--{field.replace('_', '-')}={getattr(self, field)}: {why}")

        if self.epochs < 1:
            bad("epochs", "must be >= 1")
        if self.batch_size < 2:
            bad("batch_size", "must be >= 2 (batch normalisation needs two clips)")
        if self.lr is not None and not (math.isfinite(self.lr) and self.lr > 0):
            bad("lr", "must be a positive number")
        if self.optimizer not in OPTIMIZERS:
            bad("optimizer", f"must be one of {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            bad("schedule", f"must be one of {', '.join(SCHEDULES)}")
        if not (math.isfinite(self.mixup_alpha) and self.mixup_alpha >= 0):
            bad("mixup_alpha", "must be >= 0 (0 turns mixup off)")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            bad("weight_decay", "must be >= 0")
        if not (math.isfinite(self.slim_l1) and self.slim_l1 >= 0):
            bad("slim_l1", "must be >= 0")
        if self.patience < 1:
            bad("patience", "must be >= 1 epoch")
        if self.device not in DEVICES:
            bad("device", f"must be one of {', '.join(DEVICES)}")
        if self.workers < 1:
            bad("workers", "must be >= 1")
        if self.fold < 1:
            bad("fold", "must be >= 1")

    @property
    def learning_rate(self) -> float:
        if self.lr is not None:
            return float(self.lr)
        return 1e-3 if self.optimizer == "adam" else 0.05

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["lr"] = self.learning_rate
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})
