"""The seed's residual network (DCASE 2020 Task 1b, BUPT), in ops that export cleanly to int8 TFLite.

    input [N, channels, n_mels, frames]
    stem      conv 5x5 stride 2 -> BN -> ReLU
    block 1   conv 3x3 -> BN -> ReLU -> conv 1x1 -> BN -> (+ shortcut) -> ReLU -> 2x2 max pool
    block 2   conv 3x3 -> ...        -> conv 3x3 -> ...
    block 3   conv 3x3 -> ...        -> conv 3x3 -> ...
    block 4   conv 3x3 -> ...        -> conv 1x1 -> ...
    block 5   conv 1x1 -> ...        -> conv 1x1 -> ...
    global average pooling -> linear -> 3 logits

Where the BN sits. The seed puts batch normalisation "before the convolution layer" so that its
scale γ selects the input channels of the next convolution (network slimming). Here every BN
follows a convolution directly and is followed by a ReLU and then the next convolution: BN → ReLU
→ conv, so each γ scales exactly the input channels of the convolution(s) after it — what the
slimming needs — while the BN still folds into the convolution before it at export (a BN placed on
the residual sum, as in a strictly pre-activation ResNet, would survive export as a separate
per-channel MUL/ADD). Ops after export: CONV_2D, ADD, RELU (fused), MAX_POOL_2D, MEAN,
FULLY_CONNECTED.

Widths. The seed's text (128 channels, 256 in block 5) and its parameter count (83,974) disagree.
`paper` (the defaults here) widens the network as its maps shrink: stem 12, blocks 12, 32, 40, 48
and 96 (block 5 doubles block 4, as the seed's 128 -> 256) — 83,459 parameters (-0.6 % of the
seed's), 137 M MACs per clip, and a first residual block of 12 channels at 128x144 (221 KB of int8
activations), so a microcontroller's RAM holds it and its work is not concentrated at full
resolution. `paper-uniform` is the earlier uniform reading, 36 channels everywhere and 72 in
block 5 (85,899 parameters, 411 M MACs, 36 channels at 128x144: a TFLM arena of ~2 MB);
`paper-wide` is the literal 128/256.

Pooling. After each block a 2x2 max pool halves both axes; an axis already of size 1 is not
pooled (kernel 1 on it), and a block whose map is 1x1 gets no pool at all — so the small
front-end presets (m4-small, tiny) build valid models too. The pool kernels depend on the input
shape, which is therefore part of the model's construction.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from torch import nn

from tinyscene.errors import TsError


@dataclass(frozen=True)
class ResNetConfig:
    """Widths of the residual network. `widths[i]` = channels leaving block i (its residual stream),
    `mids[i]` = channels between block i's two convolutions (None = widths). A block whose input and
    output widths differ gets a 1x1 convolution on its shortcut (no BN, no bias).

    `shortcuts[i]` (None = automatic, as above): True gives block i that 1x1 projection even when
    its widths are equal — a slimmed network whose residual streams keep different channel subsets
    of equal count needs it; False (identity) is only valid when the widths are equal."""

    stem: int = 12
    widths: tuple[int, ...] = (12, 32, 40, 48, 96)
    mids: tuple[int, ...] | None = None
    kernels: tuple[tuple[int, int], ...] = ((3, 1), (3, 3), (3, 3), (3, 1), (1, 1))
    stem_kernel: int = 5
    stem_stride: int = 2
    pool: int = 2
    n_classes: int = 3
    shortcuts: tuple[bool, ...] | None = None

    def __post_init__(self) -> None:
        # JSON round trips give lists; keep tuples so configs compare and hash.
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if self.shortcuts is not None:
            object.__setattr__(self, "shortcuts", tuple(bool(v) for v in self.shortcuts))
        if self.mids is not None:
            object.__setattr__(self, "mids", tuple(int(m) for m in self.mids))
        object.__setattr__(self, "kernels", tuple(tuple(int(k) for k in pair) for pair in self.kernels))
        n = len(self.kernels)
        if n < 1:
            raise TsError("resnet config: needs at least one residual block (kernels)")
        if len(self.widths) != n:
            raise TsError(f"resnet config: {len(self.widths)} widths for {n} blocks (kernels)")
        if self.mids is not None and len(self.mids) != n:
            raise TsError(f"resnet config: {len(self.mids)} mids for {n} blocks (kernels)")
        for name, vals in (("stem", (self.stem,)), ("widths", self.widths), ("mids", self.block_mids)):
            if any(v < 1 for v in vals):
                raise TsError(f"resnet config: {name} {list(vals)} must all be >= 1 channel")
        if self.shortcuts is not None:
            if len(self.shortcuts) != n:
                raise TsError(f"resnet config: {len(self.shortcuts)} shortcuts for {n} blocks (kernels)")
            for i, proj in enumerate(self.shortcuts):
                c_in = self.stem if i == 0 else self.widths[i - 1]
                if not proj and c_in != self.widths[i]:
                    raise TsError(f"resnet config: block {i + 1} has {c_in} -> {self.widths[i]} channels and "
                                  "needs a projection shortcut (shortcuts[i] true)")
        for i, pair in enumerate(self.kernels):
            if len(pair) != 2 or any(k < 1 or k % 2 == 0 for k in pair):
                raise TsError(f"resnet config: block {i + 1} kernels {list(pair)} must be two odd sizes >= 1")
        if self.stem_kernel < 1 or self.stem_kernel % 2 == 0:
            raise TsError(f"resnet config: stem_kernel={self.stem_kernel} must be odd")
        if self.stem_stride < 1 or self.pool < 1 or self.n_classes < 2:
            raise TsError("resnet config: stem_stride and pool must be >= 1, n_classes >= 2")

    @property
    def block_mids(self) -> tuple[int, ...]:
        return self.mids if self.mids is not None else self.widths

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["widths"] = list(self.widths)
        d["mids"] = None if self.mids is None else list(self.mids)
        d["kernels"] = [list(k) for k in self.kernels]
        d["shortcuts"] = None if self.shortcuts is None else list(self.shortcuts)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ResNetConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise TsError(f"resnet config: unknown field(s) {', '.join(unknown)}")
        return cls(**d)


def _pool_kernel(h: int, w: int, pool: int) -> tuple[int, int] | None:
    """Kernel (= stride) of the max pool after a block with an h x w map; None = no pool."""
    kh = pool if h >= pool else 1
    kw = pool if w >= pool else 1
    return None if (kh, kw) == (1, 1) else (kh, kw)


class Stem(nn.Module):
    def __init__(self, c_in: int, c_out: int, k: int, stride: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, k, stride=stride, padding=k // 2, bias=False)
        self.bn = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.bn(self.conv(x)))


class ResidualBlock(nn.Module):
    """conv1 -> bn1 -> ReLU -> conv2 -> bn2 -> + shortcut -> ReLU -> max pool."""

    def __init__(self, c_in: int, c_mid: int, c_out: int, k1: int, k2: int,
                 pool: tuple[int, int] | None, projection: bool | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_mid, k1, padding=k1 // 2, bias=False)
        self.bn1 = nn.BatchNorm2d(c_mid)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(c_mid, c_out, k2, padding=k2 // 2, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        if projection is None:
            projection = c_in != c_out
        self.shortcut = nn.Conv2d(c_in, c_out, 1, bias=False) if projection else None
        self.relu2 = nn.ReLU()
        self.pool = None if pool is None else nn.MaxPool2d(pool, stride=pool)
        self.pool_kernel = pool

    def forward(self, x):
        y = self.relu1(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        s = x if self.shortcut is None else self.shortcut(x)
        y = self.relu2(y + s)
        return y if self.pool is None else self.pool(y)


class ResNet(nn.Module):
    arch = "resnet"

    def __init__(self, cfg: ResNetConfig, input_shape: tuple[int, int, int]):
        super().__init__()
        c, h, w = (int(v) for v in input_shape)
        if c < 1 or h < 1 or w < 1:
            raise TsError(f"resnet: input shape {list(input_shape)} must be [channels, n_mels, frames] >= 1")
        self.cfg = cfg
        self.input_shape = (c, h, w)
        self.stem = Stem(c, cfg.stem, cfg.stem_kernel, cfg.stem_stride)
        k, s, p = cfg.stem_kernel, cfg.stem_stride, cfg.stem_kernel // 2
        h, w = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        if h < 1 or w < 1:
            raise TsError(f"resnet: input {list(input_shape)} is too small for the {k}x{k} stride-{s} stem")
        blocks = []
        c_in = cfg.stem
        self.map_sizes: list[tuple[int, int]] = []  # (h, w) each block works on
        for i, ((k1, k2), c_mid, c_out) in enumerate(zip(cfg.kernels, cfg.block_mids, cfg.widths)):
            self.map_sizes.append((h, w))
            pool = _pool_kernel(h, w, cfg.pool)
            proj = None if cfg.shortcuts is None else cfg.shortcuts[i]
            blocks.append(ResidualBlock(c_in, c_mid, c_out, k1, k2, pool, proj))
            if pool is not None:
                h, w = h // pool[0], w // pool[1]
            c_in = c_out
        self.blocks = nn.ModuleList(blocks)
        self.fc = nn.Linear(c_in, cfg.n_classes)

    def forward(self, x):
        x = self.stem(x)
        for b in self.blocks:
            x = b(x)
        return self.fc(x.mean(dim=(2, 3)))

    # --- structure for slimming / export -------------------------------------------------------

    def bn_layers(self) -> list[tuple[str, nn.BatchNorm2d]]:
        return [(n, m) for n, m in self.named_modules() if isinstance(m, nn.BatchNorm2d)]

    def describe(self) -> dict:
        """The channel structure, for code that prunes or exports the network.

        `layers`: every conv/linear with its input/output channels and the BN that follows it
        (folded into it at export). `groups`: sets of channels that must be kept or removed
        together — each lists the BNs whose γ scale those channels (`bns`), the layers that
        write them (`producers`, output channels) and the layers that read them (`consumers`,
        input channels). Channels joined by a residual add form one group (`residual: true`):
        the stem and every block with an identity shortcut share their stream.
        """
        layers = []
        layers.append({"name": "stem.conv", "type": "conv", "in": self.stem.conv.in_channels,
                       "out": self.stem.conv.out_channels, "kernel": list(self.stem.conv.kernel_size),
                       "stride": list(self.stem.conv.stride), "bn": "stem.bn"})
        for i, b in enumerate(self.blocks):
            pre = f"blocks.{i}"
            for cname, bn in (("conv1", "bn1"), ("conv2", "bn2")):
                conv = getattr(b, cname)
                layers.append({"name": f"{pre}.{cname}", "type": "conv", "in": conv.in_channels,
                               "out": conv.out_channels, "kernel": list(conv.kernel_size),
                               "stride": list(conv.stride), "bn": f"{pre}.{bn}"})
            if b.shortcut is not None:
                layers.append({"name": f"{pre}.shortcut", "type": "conv", "in": b.shortcut.in_channels,
                               "out": b.shortcut.out_channels, "kernel": [1, 1], "stride": [1, 1], "bn": None})
        layers.append({"name": "fc", "type": "linear", "in": self.fc.in_features, "out": self.fc.out_features,
                       "bn": None})

        groups = []
        # Residual streams: the stem's output, extended by every identity-shortcut block.
        stream = {"name": "stream0", "residual": True, "size": self.stem.conv.out_channels,
                  "bns": ["stem.bn"], "producers": ["stem.conv"], "consumers": []}
        for i, b in enumerate(self.blocks):
            pre = f"blocks.{i}"
            stream["consumers"].append(f"{pre}.conv1")
            groups.append({"name": f"{pre}.mid", "residual": False, "size": b.conv1.out_channels,
                           "bns": [f"{pre}.bn1"], "producers": [f"{pre}.conv1"], "consumers": [f"{pre}.conv2"]})
            if b.shortcut is None:
                stream["bns"].append(f"{pre}.bn2")
                stream["producers"].append(f"{pre}.conv2")
            else:
                stream["consumers"].append(f"{pre}.shortcut")
                groups.append(stream)
                stream = {"name": f"stream{i + 1}", "residual": True, "size": b.conv2.out_channels,
                          "bns": [f"{pre}.bn2"], "producers": [f"{pre}.conv2", f"{pre}.shortcut"],
                          "consumers": []}
        stream["consumers"].append("fc")
        groups.append(stream)
        groups.sort(key=lambda g: [ly["name"] for ly in layers].index(g["producers"][0]))
        return {"arch": self.arch, "config": self.cfg.to_dict(), "input_shape": list(self.input_shape),
                "layers": layers, "groups": groups,
                "pools": [None if b.pool_kernel is None else list(b.pool_kernel) for b in self.blocks],
                "map_sizes": [list(s) for s in self.map_sizes]}


def build_resnet(cfg: ResNetConfig | dict | None, input_shape) -> ResNet:
    if cfg is None:
        cfg = ResNetConfig()
    elif isinstance(cfg, dict):
        cfg = ResNetConfig.from_dict(cfg)
    return ResNet(cfg, tuple(input_shape))


def init_weights(model: nn.Module) -> None:
    """He initialisation for convolutions (ReLU nets), BN γ=1/β=0, small linear layers."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


__all__ = ["ResNetConfig", "ResNet", "ResidualBlock", "Stem", "build_resnet", "init_weights"]
