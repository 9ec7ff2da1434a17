"""Physical channel removal: rank channels by |γ| with one global threshold, keep a minimum per
group, drop channels whose weights are all zero, and build a smaller model of the same class whose
per-layer widths come from what is kept.

    plan = plan_slim(model, ratio=0.5)            # which channels stay (one index array per group)
    small = prune_model(model, plan.keep)         # a new, smaller model in eval mode

The ratio is the fraction of the BN channels (γ values) removed: every channel of every group is
one entry per BN that scales it (a residual stream scaled by five BNs counts five times), sorted by
its group score (mean |γ| over the group's BNs). Entries are removed from the smallest score up —
one global threshold — skipping a group once it is down to its minimum, until the ratio is reached.
See tinyscene.slim.graph for the groups and why removal equals zeroing γ and β.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from tinyscene.errors import TsError
from tinyscene.slim.graph import ChannelGraph, analyse

MIN_KEEP_FRACTION = 0.1   # default minimum per group: 10 % of its channels, at least one


def min_keep(size: int, min_channels: int | None = None) -> int:
    """Channels a group of `size` keeps at least (never 0)."""
    if min_channels is None:
        return max(1, math.ceil(MIN_KEEP_FRACTION * size))
    return max(1, min(size, int(min_channels)))


def check_ratio(ratio: float) -> float:
    r = float(ratio)
    if not (math.isfinite(r) and 0.0 < r < 1.0):
        raise TsError(f"slim: --ratio {ratio}: must be strictly between 0 and 1 (the fraction of BN channels removed)")
    return r


def channel_scores(model, graph: ChannelGraph) -> dict[str, np.ndarray]:
    """Group name -> per-channel score: mean |γ| over the group's BNs (float64)."""
    out = {}
    for g in graph.groups:
        gam = np.stack([model.get_submodule(b).weight.detach().abs().cpu().double().numpy() for b in g.bns])
        out[g.name] = gam.mean(axis=0)
    return out


def removal_order(graph: ChannelGraph, scores: dict[str, np.ndarray],
                  min_channels: int | None = None) -> list[tuple[str, int]]:
    """(group, channel) in the order the global threshold removes them (smallest score first),
    leaving out what each group must keep. Ties: group order, then channel index."""
    gi = {g.name: i for i, g in enumerate(graph.groups)}
    entries = sorted(((float(scores[g.name][c]), gi[g.name], c, g.name)
                      for g in graph.groups for c in range(g.size)))
    budget = {g.name: g.size - min_keep(g.size, min_channels) for g in graph.groups}
    order = []
    for _, _, c, name in entries:
        if budget[name] > 0:
            budget[name] -= 1
            order.append((name, c))
    return order


def count_for_ratio(graph: ChannelGraph, order: list[tuple[str, int]], ratio: float) -> int:
    """Length of the prefix of `order` that removes at least `ratio` of the γ values (or all of it)."""
    w = {g.name: len(g.bns) for g in graph.groups}
    target = ratio * graph.n_gammas
    removed = 0
    for i, (name, _) in enumerate(order):
        if removed >= target - 1e-9:
            return i
        removed += w[name]
    return len(order)


def keep_after(graph: ChannelGraph, order: list[tuple[str, int]], n: int) -> dict[str, np.ndarray]:
    gone: dict[str, set] = {g.name: set() for g in graph.groups}
    for name, c in order[:n]:
        gone[name].add(c)
    return {g.name: np.array([c for c in range(g.size) if c not in gone[g.name]], dtype=np.int64)
            for g in graph.groups}


def removed_fraction(graph: ChannelGraph, keep: dict[str, np.ndarray]) -> float:
    """Fraction of the γ values (BN channels of the groups) that `keep` removes."""
    gone = sum((g.size - len(keep[g.name])) * len(g.bns) for g in graph.groups)
    return gone / graph.n_gammas


def _in_index(graph: ChannelGraph, layer: str, keep) -> np.ndarray | None:
    g = graph.in_group.get(layer)
    return None if g is None else keep[g]


def _out_index(graph: ChannelGraph, layer: str, keep) -> np.ndarray | None:
    g = graph.out_group.get(layer)
    return None if g is None else keep[g]


def _bn_fold(model, bn_name: str | None):
    """Per-channel factor γ / sqrt(var + eps) a following BN multiplies the layer's rows by."""
    import torch

    if bn_name is None:
        return None
    bn = model.get_submodule(bn_name)
    var = bn.running_var if bn.running_var is not None else torch.ones_like(bn.weight)
    return (bn.weight / torch.sqrt(var + bn.eps)).detach()


def zero_rows(model, graph: ChannelGraph, keep: dict[str, np.ndarray]) -> list[tuple[str, int, str]]:
    """(group, channel, layer) for every kept channel some producer writes with all-zero weights
    (its kept input columns, times the γ/σ of its BN) — a zero-range channel gives a degenerate int8
    weight scale."""
    import torch

    out = []
    with torch.no_grad():
        for g in graph.groups:
            for p in g.producers:
                w = model.get_submodule(p).weight.detach()
                ii = _in_index(graph, p, keep)
                w = w[keep[g.name]]
                if ii is not None:
                    w = w[:, ii]
                f = _bn_fold(model, graph.layers[p].bn)
                if f is not None:
                    w = w * f[keep[g.name]].reshape(-1, *([1] * (w.dim() - 1)))
                mx = w.reshape(w.shape[0], -1).abs().amax(dim=1)
                for j in torch.nonzero(mx == 0).flatten().tolist():
                    out.append((g.name, int(keep[g.name][j]), p))
    return out


def drop_zero_channels(model, graph: ChannelGraph, keep: dict[str, np.ndarray]):
    """Remove kept channels with all-zero weights (repeatedly: removing input columns can zero a
    later row). Returns (keep, dropped [(group, channel, layer)]); TsError when a group would lose
    its last channel."""
    keep = {k: v.copy() for k, v in keep.items()}
    dropped = []
    while True:
        z = zero_rows(model, graph, keep)
        if not z:
            return keep, dropped
        for name in sorted({g for g, _, _ in z}):
            bad = {c for g, c, _ in z if g == name}
            rest = np.array([c for c in keep[name] if c not in bad], dtype=np.int64)
            if len(rest) == 0:
                layers = sorted({ly for g, _, ly in z if g == name})
                raise TsError(f"slim: layer {', '.join(layers)}: every remaining channel of group '{name}' has "
                              "all-zero weights — no valid network keeps it (try a smaller --ratio)")
            keep[name] = rest
        dropped += z


@dataclass
class SlimPlan:
    keep: dict[str, np.ndarray]        # group -> kept channel indices (sorted)
    ratio: float                       # fraction of γ values actually removed
    requested_ratio: float | None
    min_channels: int | None
    dropped_zero: list = field(default_factory=list)   # (group, channel, layer) removed for all-zero weights
    warnings: list = field(default_factory=list)


def plan_slim(model, ratio: float | None = None, n_remove: int | None = None, min_channels: int | None = None,
              graph: ChannelGraph | None = None) -> SlimPlan:
    """Which channels stay, for a γ-ratio or for the first `n_remove` entries of the removal order."""
    graph = graph or analyse(model)
    order = removal_order(graph, channel_scores(model, graph), min_channels)
    if ratio is not None:
        ratio = check_ratio(ratio)
        n_remove = count_for_ratio(graph, order, ratio)
    elif n_remove is None:
        raise ValueError("plan_slim: ratio or n_remove")
    keep = keep_after(graph, order, int(n_remove))
    keep, dropped = drop_zero_channels(model, graph, keep)
    plan = SlimPlan(keep, removed_fraction(graph, keep), ratio, min_channels, dropped)
    if ratio is not None and plan.ratio + 1e-9 < ratio:
        plan.warnings.append(f"removed {plan.ratio:.3f} of the BN channels, not {ratio:.3f}: every layer keeps "
                             "its minimum (--min-channels)")
    if dropped:
        plan.warnings.append(f"{len(dropped)} kept channel(s) had all-zero weights and were removed too: "
                             + ", ".join(f"{ly}[{c}]" for _, c, ly in dropped[:6]) + (" ..." if len(dropped) > 6 else ""))
    return plan


def slim_config(model, graph: ChannelGraph, keep: dict[str, np.ndarray]) -> dict:
    """The architecture config (model.cfg fields) of the model with `keep`'s widths."""
    out = {name: (len(keep[graph.out_group[name]]) if name in graph.out_group else ly.c_out)
           for name, ly in graph.layers.items()}
    arch = getattr(model, "arch", None)
    cfg = model.cfg.to_dict()
    if arch == "resnet":
        n = len(model.blocks)
        cfg["stem"] = out["stem.conv"]
        cfg["widths"] = [out[f"blocks.{i}.conv2"] for i in range(n)]
        cfg["mids"] = [out[f"blocks.{i}.conv1"] for i in range(n)]
        # a projection stays a projection, an identity stays an identity (the streams differ)
        cfg["shortcuts"] = [b.shortcut is not None for b in model.blocks]
    elif arch == "baseline":
        cfg["channels"] = [out["conv1"], out["conv2"]]
    else:
        raise TsError(f"slim: architecture '{arch}': no way to write its per-layer widths")
    return cfg


def prune_model(model, keep: dict[str, np.ndarray], graph: ChannelGraph | None = None):
    """A new model of the same architecture with only the `keep` channels, weights copied (eval mode).
    The source model is not changed."""
    import torch

    from tinyscene.models import build_model

    graph = graph or analyse(model)
    for g in graph.groups:
        k = np.asarray(keep[g.name])
        if len(k) == 0:
            raise TsError(f"slim: group '{g.name}' would lose every channel")
        if len(np.unique(k)) != len(k) or k.min() < 0 or k.max() >= g.size:
            raise TsError(f"slim: group '{g.name}': bad channel indices")
    cfg = slim_config(model, graph, keep)
    new = build_model(model.arch, cfg, model.input_shape)
    src = model.state_dict()
    dst = new.state_dict()
    done: set[str] = set()

    def idx(a):
        return None if a is None else torch.as_tensor(np.sort(a), dtype=torch.long)

    def put(key, value):
        if key not in dst:
            raise TsError(f"slim: internal: '{key}' is not in the slimmed model")
        if tuple(dst[key].shape) != tuple(value.shape):
            raise TsError(f"slim: internal: '{key}' is {list(value.shape)}, the slimmed model wants "
                          f"{list(dst[key].shape)}")
        dst[key] = value.clone()
        done.add(key)

    for name in graph.layers:
        oi, ii = idx(_out_index(graph, name, keep)), idx(_in_index(graph, name, keep))
        w = src[f"{name}.weight"]
        if oi is not None:
            w = w.index_select(0, oi)
        if ii is not None:
            w = w.index_select(1, ii)
        put(f"{name}.weight", w)
        if f"{name}.bias" in src:
            b = src[f"{name}.bias"]
            put(f"{name}.bias", b if oi is None else b.index_select(0, oi))
    for g in graph.groups:
        k = idx(keep[g.name])
        for b in g.bns:
            for f in ("weight", "bias", "running_mean", "running_var"):
                if f"{b}.{f}" in src:
                    put(f"{b}.{f}", src[f"{b}.{f}"].index_select(0, k))
    for key, v in src.items():   # everything not sliced (other BNs, counters) is copied as it is
        if key not in done:
            put(key, v)
    missing = sorted(set(dst) - done)
    if missing:
        raise TsError(f"slim: internal: no weights for {', '.join(missing[:4])}")
    new.load_state_dict(dst, strict=True)
    return new.eval()


def layer_table(model, graph: ChannelGraph, keep: dict[str, np.ndarray]) -> list[dict]:
    """Per conv/linear layer: channels in/out and weights before and after."""
    rows = []
    for name, ly in graph.layers.items():
        mod = model.get_submodule(name)
        per = mod.weight[0, 0].numel() if ly.type == "conv" else 1
        ci = len(keep[graph.in_group[name]]) if name in graph.in_group else ly.c_in
        co = len(keep[graph.out_group[name]]) if name in graph.out_group else ly.c_out
        rows.append({"name": name, "type": ly.type, "bn": ly.bn,
                     "in_before": ly.c_in, "in_after": ci, "out_before": ly.c_out, "out_after": co,
                     "weights_before": ly.c_in * ly.c_out * per, "weights_after": ci * co * per})
    return rows


def group_table(graph: ChannelGraph, keep: dict[str, np.ndarray], scores: dict[str, np.ndarray] | None = None) -> list[dict]:
    rows = []
    for g in graph.groups:
        k = keep[g.name]
        r = {"name": g.name, "residual": g.residual, "bns": list(g.bns), "producers": list(g.producers),
             "consumers": list(g.consumers), "before": g.size, "after": int(len(k)),
             "kept": [int(c) for c in k]}
        if scores is not None:
            s = scores[g.name]
            gone = np.setdiff1d(np.arange(g.size), k)
            r["max_removed_score"] = float(s[gone].max()) if len(gone) else None
            r["min_kept_score"] = float(s[k].min())
        rows.append(r)
    return rows


__all__ = ["MIN_KEEP_FRACTION", "SlimPlan", "min_keep", "check_ratio", "channel_scores", "removal_order",
           "count_for_ratio", "keep_after", "removed_fraction", "zero_rows", "drop_zero_channels", "plan_slim",
           "slim_config", "prune_model", "layer_table", "group_table"]
