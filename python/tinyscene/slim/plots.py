"""Slimming plots (matplotlib, Agg): channels per layer before/after and the accuracy against kept parameters
of a ratio sweep (the BN γ histogram is tinyscene.train.bn_gamma's: training draws it for --slim-l1)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tinyscene.train.bn_gamma import GAMMA_FILE, bn_gammas, plot_gamma_histogram  # noqa: F401 (re-exported)
from tinyscene.util.plots import pyplot, save_png


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
