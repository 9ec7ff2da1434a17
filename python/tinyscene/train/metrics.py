"""Classification metrics over clips: class-balanced accuracy (mean of per-class accuracy, as DCASE
reports it), per-class accuracy, log loss, confusion matrix (rows = true class, columns = predicted)."""
from __future__ import annotations

import numpy as np

from tinyscene.data.tau import CLASSES

LOG_LOSS_EPS = 1e-15


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (labels.astype(np.int64), predicted.astype(np.int64)), 1)
    return cm


def compute_metrics(probs: np.ndarray, labels: np.ndarray, classes: tuple[str, ...] = CLASSES) -> dict:
    """Metrics of class probabilities [n, classes] against integer labels [n].

    `accuracy` is class-balanced: the mean of the per-class accuracies of the classes present in
    `labels` (a class absent from the split has per-class accuracy None). `micro_accuracy` is the
    plain fraction of clips right. `log_loss` is the mean of -ln p(true class), p clipped to 1e-15."""
    probs = np.asarray(probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = len(classes)
    if probs.ndim != 2 or probs.shape[1] != n_classes or probs.shape[0] != labels.shape[0]:
        raise ValueError(f"probs {probs.shape} and labels {labels.shape} do not match {n_classes} classes")
    if labels.size == 0:
        raise ValueError("no clips to score")
    pred = probs.argmax(axis=1)
    cm = confusion_matrix(labels, pred, n_classes)
    per_class = {}
    for i, c in enumerate(classes):
        n = int(cm[i].sum())
        per_class[c] = None if n == 0 else float(cm[i, i] / n)
    present = [v for v in per_class.values() if v is not None]
    p_true = np.clip(probs[np.arange(labels.size), labels], LOG_LOSS_EPS, 1.0)
    return {
        "accuracy": float(np.mean(present)),
        "accuracy_definition": "class-balanced: mean of the per-class accuracies",
        "micro_accuracy": float(np.mean(pred == labels)),
        "per_class": per_class,
        "log_loss": float(np.mean(-np.log(p_true))),
        "confusion": cm.tolist(),
        "confusion_axes": "rows = true class, columns = predicted class",
        "classes": list(classes),
        "n_clips": int(labels.size),
        "class_counts": {c: int(cm[i].sum()) for i, c in enumerate(classes)},
    }
