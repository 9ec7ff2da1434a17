"""Slimming plots (matplotlib, Agg): the BN γ histogram, channels per layer before/after, and the
accuracy against kept parameters of a ratio sweep."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tinyscene.util.plots import pyplot, save_png

GAMMA_FILE = "gamma_hist.png"


def bn_gammas(model) -> dict[str, np.ndarray]:
    """BN name -> γ values (float64), in module order; {} for a model without BN."""
    from torch import nn

    return {n: m.weight.detach().abs().cpu().double().numpy() for n, m in model.named_modules()
            if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.weight is not None}


def plot_gamma_histogram(model, path: str | os.PathLike, title: str = "", history: list[dict] | None = None,
                         threshold: float | None = None) -> Path | None:
    """Histogram of |γ| over every BN layer (log x axis), optionally Σ|γ| per epoch from a training
    history (`bn_gamma_l1`) and the pruning threshold. Returns None (writes nothing) without BN."""
    g = bn_gammas(model)
    if not g:
        return None
    plt = pyplot()
    allg = np.concatenate(list(g.values()))
    curve = [(h["epoch"], h["bn_gamma_l1"]) for h in (history or []) if h.get("bn_gamma_l1") is not None]
    fig, axes = plt.subplots(1, 2 if curve else 1, figsize=(10.5 if curve else 5.5, 3.8), squeeze=False)
    fig.subplots_adjust(wspace=0.35)
    a1 = axes[0][0]
    lo = max(float(allg[allg > 0].min()) if np.any(allg > 0) else 1e-6, 1e-6)
    hi = max(float(allg.max()), lo * 10)
    if hi / lo > 20:   # spread over decades (sparsified): log axis
        a1.hist(np.clip(allg, lo, None), bins=np.logspace(np.log10(lo), np.log10(hi), 40), color="tab:blue",
                alpha=0.8)
        a1.set_xscale("log")
    else:
        a1.hist(allg, bins=40, color="tab:blue", alpha=0.8)
    a1.set_xlabel("|γ| (BN scale), all BN layers")
    a1.set_ylabel("channels")
    n_zero = int(np.sum(allg == 0))
    a1.set_title(f"{len(allg)} channels, {len(g)} BN layers" + (f", {n_zero} exactly 0" if n_zero else ""),
                 fontsize=9)
    if threshold is not None and threshold > 0:
        a1.axvline(threshold, color="tab:red", ls="--", lw=1, label=f"pruning threshold {threshold:.3g} (group mean |γ|)")
        a1.legend(fontsize=8)
    a1.grid(alpha=0.3)
    if curve:
        a2 = axes[0][1]
        a2.plot([e for e, _ in curve], [v for _, v in curve], "o-", ms=3)
        a2.set_xlabel("epoch")
        a2.set_ylabel("Σ|γ| over the BN layers")
        a2.ticklabel_format(axis="y", useOffset=False)
        a2.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    save_png(fig, path, tight=True)
    return Path(path)


def plot_channels(layers: list[dict], path: str | os.PathLike, title: str = "") -> Path:
    """Output channels of each conv/linear layer before and after slimming (bars)."""
    plt = pyplot()
    names = [ly["name"] for ly in layers]
    before = [ly["out_before"] for ly in layers]
    after = [ly["out_after"] for ly in layers]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(names) + 2), 4))
    ax.bar(x - 0.2, before, 0.4, label="before", color="lightgray", edgecolor="gray")
    ax.bar(x + 0.2, after, 0.4, label="after", color="tab:blue")
    for xi, (b, a) in enumerate(zip(before, after)):
        ax.text(xi + 0.2, a, str(a), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, names, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("output channels")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    save_png(fig, path, tight=True)
    return Path(path)


def plot_sweep(points: list[dict], path: str | os.PathLike, base: dict | None = None, title: str = "") -> Path:
    """Accuracy against kept parameters. points: dicts with kept_params (fraction), params,
    accuracy_pruned, accuracy_finetuned (None when not fine-tuned), ratio."""
    plt = pyplot()
    pts = sorted(points, key=lambda p: p["kept_params"])
    kp = [100 * p["kept_params"] for p in pts]
    fig, ax = plt.subplots(figsize=(6, 4))
    if any(p.get("accuracy_finetuned") is not None for p in pts):
        ax.plot(kp, [100 * p["accuracy_finetuned"] for p in pts], "o-", label="after fine-tuning")
    ax.plot(kp, [100 * p["accuracy_pruned"] for p in pts], "s--", alpha=0.7, label="right after pruning")
    for p, k in zip(pts, kp):
        y = p.get("accuracy_finetuned")
        y = p["accuracy_pruned"] if y is None else y
        ax.annotate(f"r={p['ratio']:g}", (k, 100 * y), textcoords="offset points", xytext=(3, 4), fontsize=7)
    if base is not None:
        ax.axhline(100 * base["accuracy"], color="gray", ls=":", lw=1,
                   label=f"unpruned ({base['params']:,} params): {100 * base['accuracy']:.1f} %")
        ax.plot([100], [100 * base["accuracy"]], "k*", ms=8)
    ax.set_xlabel("parameters kept (% of the unpruned model)")
    ax.set_ylabel("fold accuracy (class-balanced, %)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    save_png(fig, path, tight=True)
    return Path(path)


__all__ = ["GAMMA_FILE", "bn_gammas", "plot_gamma_histogram", "plot_channels", "plot_sweep"]
