"""The channel graph network slimming works on: which BN scales which channels, who writes and who
reads them, and which channels a residual add ties together.

The models declare their structure (`model.describe()`, see tinyscene.models); this module turns it
into a checked `ChannelGraph` — every name resolves to a module of the declared size, every
convolution/linear layer of the model is listed, no layer writes or reads two groups — so that the
pruner never slices a tensor it does not understand.

In the models of tinyscene every BN follows a convolution directly and feeds (through a ReLU) the
next convolution(s): conv → BN → ReLU → conv. A BN's γ therefore scales one channel that is at the
same time an OUTPUT channel of the layer(s) before it (the producers) and an INPUT channel of the
layer(s) after it (the consumers); removing the channel removes a row of every producer, the BN's
entry, and a column of every consumer.

Groups
    A plain group is one BN's channels (conv1 → bn1 → ReLU → conv2 inside a residual block).
    A residual group is a channel stream joined by additions: the stem's output plus every block
    with an identity shortcut writes into the same channels, so they are kept or removed together,
    one mask per group, scored by the mean |γ| over the group's BNs. A producer without a BN (a 1x1
    projection shortcut) belongs to its stream's group and loses the same rows.

What "removing channel c" is equivalent to
    Zero γ_c and β_c in every BN of the group (a BN in eval mode then outputs exactly 0 for c,
    whatever its running statistics) and zero row c of every producer without a BN. The channel is
    then exactly 0 after each ReLU and after each add, so no consumer sees it: the physically
    smaller network computes the same outputs (up to float summation order). The tests check this.

Never pruned: the input channels of the first layer (the features), the outputs of the last layer
(the classes), and layers outside any group (e.g. the baseline's 100-unit layer, which has no BN).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tinyscene.errors import TsError


@dataclass(frozen=True)
class Layer:
    name: str
    type: str                 # "conv" | "linear"
    c_in: int
    c_out: int
    bn: str | None            # the BN right after it (folded into it at export)


@dataclass(frozen=True)
class Group:
    name: str
    residual: bool
    size: int
    bns: tuple[str, ...]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]

    @property
    def unscaled_producers(self) -> tuple[str, ...]:
        """Producers the group's BNs do not scale (their rows are zeroed/removed as well)."""
        return tuple(p for p in self.producers if p not in self._scaled)

    _scaled: frozenset = field(default=frozenset(), repr=False, compare=False)


@dataclass
class ChannelGraph:
    arch: str
    layers: dict[str, Layer]           # in forward order
    groups: list[Group]
    out_group: dict[str, str]          # layer -> group whose channels it writes
    in_group: dict[str, str]           # layer -> group whose channels it reads

    def group(self, name: str) -> Group:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(name)

    @property
    def n_gammas(self) -> int:
        """BN channels (γ values) of all groups."""
        return sum(g.size * len(g.bns) for g in self.groups)


def _module(model, name: str, what: str):
    try:
        return model.get_submodule(name)
    except AttributeError:
        raise TsError(f"slim: the model's structure names {what} '{name}', which is not one of its modules") from None


def analyse(model) -> ChannelGraph:
    """The checked channel graph of `model`; TsError when it cannot be slimmed."""
    from torch import nn

    arch = getattr(model, "arch", type(model).__name__)
    bns = [n for n, m in model.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        raise TsError(f"slim: model '{arch}' has no batch-norm layers — network slimming ranks channels by "
                      "their BN scale γ, so there is nothing to slim")
    if not hasattr(model, "describe"):
        raise TsError(f"slim: model '{arch}' does not describe its channel structure (no describe())")
    d = model.describe()
    layers: dict[str, Layer] = {}
    for ly in d.get("layers", []):
        name = ly["name"]
        mod = _module(model, name, "layer")
        if ly["type"] == "conv":
            if not isinstance(mod, nn.Conv2d):
                raise TsError(f"slim: layer '{name}' is declared a convolution but is {type(mod).__name__}")
            if mod.groups != 1:
                raise TsError(f"slim: layer '{name}': grouped/depthwise convolutions are not supported")
            c_in, c_out = mod.in_channels, mod.out_channels
        elif ly["type"] == "linear":
            if not isinstance(mod, nn.Linear):
                raise TsError(f"slim: layer '{name}' is declared linear but is {type(mod).__name__}")
            c_in, c_out = mod.in_features, mod.out_features
        else:
            raise TsError(f"slim: layer '{name}': unknown type '{ly['type']}'")
        if (c_in, c_out) != (ly["in"], ly["out"]):
            raise TsError(f"slim: layer '{name}' is {c_in}->{c_out} channels, declared {ly['in']}->{ly['out']}")
        layers[name] = Layer(name, ly["type"], c_in, c_out, ly.get("bn"))
    listed = set(layers)
    for n, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)) and n not in listed:
            raise TsError(f"slim: layer '{n}' is not in the model's declared structure; cannot prune safely")

    groups: list[Group] = []
    out_group: dict[str, str] = {}
    in_group: dict[str, str] = {}
    bn_seen: set[str] = set()
    for g in d.get("groups", []):
        size = int(g["size"])
        for b in g["bns"]:
            mod = _module(model, b, "BN")
            if not isinstance(mod, nn.modules.batchnorm._BatchNorm) or mod.num_features != size:
                raise TsError(f"slim: group '{g['name']}': '{b}' is not a BN of {size} channels")
            if b in bn_seen:
                raise TsError(f"slim: BN '{b}' is in two groups")
            bn_seen.add(b)
        scaled = set()
        for p in g["producers"]:
            if p not in layers:
                raise TsError(f"slim: group '{g['name']}': producer '{p}' is not a declared layer")
            if layers[p].c_out != size:
                raise TsError(f"slim: group '{g['name']}': '{p}' writes {layers[p].c_out} channels, not {size}")
            if p in out_group:
                raise TsError(f"slim: layer '{p}' writes two groups")
            out_group[p] = g["name"]
            if layers[p].bn is not None:
                if layers[p].bn not in g["bns"]:
                    raise TsError(f"slim: group '{g['name']}': the BN '{layers[p].bn}' after '{p}' is not in the group")
                scaled.add(p)
        for c in g["consumers"]:
            if c not in layers:
                raise TsError(f"slim: group '{g['name']}': consumer '{c}' is not a declared layer")
            if layers[c].c_in != size:
                raise TsError(f"slim: group '{g['name']}': '{c}' reads {layers[c].c_in} channels, not {size}")
            if c in in_group:
                raise TsError(f"slim: layer '{c}' reads two groups")
            in_group[c] = g["name"]
        if not g["bns"] or not scaled:
            continue  # nothing scores these channels: they are kept (not a group for the pruner)
        if not g["producers"] or not g["consumers"]:
            raise TsError(f"slim: group '{g['name']}' has no producer or no consumer")
        groups.append(Group(g["name"], bool(g.get("residual", False)), size, tuple(g["bns"]),
                            tuple(g["producers"]), tuple(g["consumers"]), frozenset(scaled)))
    kept = {g.name for g in groups}
    out_group = {k: v for k, v in out_group.items() if v in kept}
    in_group = {k: v for k, v in in_group.items() if v in kept}
    if not groups:
        raise TsError(f"slim: model '{arch}' has no channel group scaled by a BN — nothing to slim")
    return ChannelGraph(arch, layers, groups, out_group, in_group)


__all__ = ["Layer", "Group", "ChannelGraph", "analyse"]
