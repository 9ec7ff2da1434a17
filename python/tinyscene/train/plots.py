"""Training plots (matplotlib, Agg): loss/accuracy per epoch and the confusion matrix."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tinyscene.util.plots import pyplot, save_png


def plot_curves(history: list[dict], path: str | os.PathLike, title: str = "", best_epoch: int | None = None) -> Path:
    """history: one dict per epoch with epoch, train_loss, train_accuracy, eval_loss, eval_accuracy."""
    plt = pyplot()
    ep = [h["epoch"] for h in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    a1.plot(ep, [h["train_loss"] for h in history], "o-", ms=3, label="train (mixed)")
    a1.plot(ep, [h["eval_loss"] for h in history], "o-", ms=3, label="evaluate (log loss)")
    a1.set_xlabel("epoch")
    a1.set_ylabel("loss")
    a2.plot(ep, [h["train_accuracy"] for h in history], "o-", ms=3, label="train (mixed)")
    a2.plot(ep, [h["eval_accuracy"] for h in history], "o-", ms=3, label="evaluate (class-balanced)")
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy")
    a2.set_ylim(0, 1.02)
    for a in (a1, a2):
        if best_epoch is not None:
            a.axvline(best_epoch, color="grey", ls="--", lw=0.8, label=f"best epoch {best_epoch}")
        a.grid(alpha=0.3)
        a.legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    save_png(fig, path, tight=True)
    return Path(path)


def plot_confusion(confusion: list[list[int]], classes: list[str], path: str | os.PathLike, title: str = "") -> Path:
    plt = pyplot()
    cm = np.asarray(confusion, dtype=np.float64)
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    im = ax.imshow(frac, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{int(cm[i, j])}\n{frac[i, j]:.0%}", ha="center", va="center", fontsize=9,
                    color="white" if frac[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(classes)), classes, rotation=20)
    ax.set_yticks(range(len(classes)), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.colorbar(im, ax=ax, fraction=0.046)
    if title:
        ax.set_title(title, fontsize=10)
    save_png(fig, path, tight=True)
    return Path(path)
