"""The BN scale factors that network slimming prunes by (|γ| of every BatchNorm layer) and their histogram,
drawn after training with --slim-l1 and again by `tinyscene slim` with its threshold."""
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
