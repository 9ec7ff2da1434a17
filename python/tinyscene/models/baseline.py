"""The DCASE 2020 Task 1b baseline: two convolutional layers and one fully connected layer.

    conv 7x7 (32) -> BN -> ReLU -> 5x5 max pool -> dropout
    conv 7x7 (64) -> BN -> ReLU -> max pool to a 2 x 1 map -> dropout
    fully connected (100) -> ReLU -> dropout -> linear -> 3 logits

The original works on 40 mel bands x 500 frames, where its second pool (4 x 100) leaves a 2 x 1
map: 128 values into the 100-unit layer. Here the second pool's kernel is computed from the input
shape so that every front-end preset ends on the same 2 x 1 map (1 x 1 when the input is too
small), and the 100-unit layer is written as a convolution covering that whole map — the same
weights as flatten + dense, but no layout-dependent flatten for the NCHW -> NHWC exporter to
patch with a transpose. With 2 input channels (binaural) it has 116,979 parameters; the seed's
115,219 is the mono original without its BN parameters.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from torch import nn

from tinyscene.errors import TsError


@dataclass(frozen=True)
class BaselineConfig:
    channels: tuple[int, int] = (32, 64)
    kernel: int = 7
    pool1: tuple[int, int] = (5, 5)
    grid: tuple[int, int] = (2, 1)     # map size after the second pool
    hidden: int = 100
    dropout: float = 0.3
    n_classes: int = 3

    def __post_init__(self) -> None:
        for f in ("channels", "pool1", "grid"):
            object.__setattr__(self, f, tuple(int(v) for v in getattr(self, f)))
        if len(self.channels) != 2 or min(self.channels) < 1:
            raise TsError(f"baseline config: channels {list(self.channels)} must be two counts >= 1")
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise TsError(f"baseline config: kernel={self.kernel} must be odd")
        if len(self.pool1) != 2 or min(self.pool1) < 1 or len(self.grid) != 2 or min(self.grid) < 1:
            raise TsError("baseline config: pool1 and grid must be two sizes >= 1")
        if self.hidden < 1 or not 0 <= self.dropout < 1 or self.n_classes < 2:
            raise TsError("baseline config: hidden >= 1, 0 <= dropout < 1, n_classes >= 2")

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "BaselineConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TsError(f"baseline config: unknown field(s) {', '.join(unknown)}")
        return cls(**d)


class Baseline(nn.Module):
    arch = "baseline"

    def __init__(self, cfg: BaselineConfig, input_shape: tuple[int, int, int]):
        super().__init__()
        c, h, w = (int(v) for v in input_shape)
        self.cfg = cfg
        self.input_shape = (c, h, w)
        c1, c2 = cfg.channels
        k = cfg.kernel
        h1, w1 = h // cfg.pool1[0], w // cfg.pool1[1]
        if h1 < 1 or w1 < 1:
            raise TsError(f"baseline: input {list(input_shape)} is smaller than its first pool {list(cfg.pool1)}")
        gh, gw = min(cfg.grid[0], h1), min(cfg.grid[1], w1)
        self.pool2_kernel = (h1 // gh, w1 // gw)
        self.grid = (h1 // self.pool2_kernel[0], w1 // self.pool2_kernel[1])  # >= (gh, gw) when not divisible
        gh, gw = self.grid
        self.conv1 = nn.Conv2d(c, c1, k, padding=k // 2)
        self.bn1 = nn.BatchNorm2d(c1)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.MaxPool2d(cfg.pool1, stride=cfg.pool1)
        self.drop1 = nn.Dropout(cfg.dropout)
        self.conv2 = nn.Conv2d(c1, c2, k, padding=k // 2)
        self.bn2 = nn.BatchNorm2d(c2)
        self.relu2 = nn.ReLU()
        self.pool2 = nn.MaxPool2d(self.pool2_kernel, stride=self.pool2_kernel)
        self.drop2 = nn.Dropout(cfg.dropout)
        self.fc1 = nn.Conv2d(c2, cfg.hidden, (gh, gw))  # = flatten + dense over the gh x gw map
        self.relu3 = nn.ReLU()
        self.drop3 = nn.Dropout(cfg.dropout)
        self.fc2 = nn.Linear(cfg.hidden, cfg.n_classes)

    def forward(self, x):
        x = self.drop1(self.pool1(self.relu1(self.bn1(self.conv1(x)))))
        x = self.drop2(self.pool2(self.relu2(self.bn2(self.conv2(x)))))
        x = self.drop3(self.relu3(self.fc1(x)))
        return self.fc2(x.flatten(1))

    def bn_layers(self) -> list[tuple[str, nn.BatchNorm2d]]:
        return [(n, m) for n, m in self.named_modules() if isinstance(m, nn.BatchNorm2d)]

    def describe(self) -> dict:
        c1, c2 = self.cfg.channels
        layers = [
            {"name": "conv1", "type": "conv", "in": self.input_shape[0], "out": c1,
             "kernel": [self.cfg.kernel] * 2, "stride": [1, 1], "bn": "bn1"},
            {"name": "conv2", "type": "conv", "in": c1, "out": c2, "kernel": [self.cfg.kernel] * 2,
             "stride": [1, 1], "bn": "bn2"},
            {"name": "fc1", "type": "conv", "in": c2, "out": self.cfg.hidden, "kernel": list(self.grid),
             "stride": [1, 1], "bn": None},
            {"name": "fc2", "type": "linear", "in": self.cfg.hidden, "out": self.cfg.n_classes, "bn": None},
        ]
        groups = [
            {"name": "conv1.out", "residual": False, "size": c1, "bns": ["bn1"], "producers": ["conv1"],
             "consumers": ["conv2"]},
            {"name": "conv2.out", "residual": False, "size": c2, "bns": ["bn2"], "producers": ["conv2"],
             "consumers": ["fc1"]},
        ]
        return {"arch": self.arch, "config": self.cfg.to_dict(), "input_shape": list(self.input_shape),
                "layers": layers, "groups": groups,
                "pools": [list(self.cfg.pool1), list(self.pool2_kernel)]}


def build_baseline(cfg: BaselineConfig | dict | None, input_shape) -> Baseline:
    if cfg is None:
        cfg = BaselineConfig()
    elif isinstance(cfg, dict):
        cfg = BaselineConfig.from_dict(cfg)
    return Baseline(cfg, tuple(input_shape))
