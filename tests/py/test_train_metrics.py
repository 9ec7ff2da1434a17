"""Metrics against scikit-learn (balanced accuracy, log loss, confusion matrix)."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from tinyscene.train.metrics import compute_metrics, softmax


def test_metrics_match_sklearn():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 3, 200)
    logits = rng.normal(size=(200, 3)) + 2.0 * np.eye(3)[labels] * rng.random((200, 1))
    probs = softmax(logits)
    m = compute_metrics(probs, labels)
    assert m["accuracy"] == pytest.approx(skm.balanced_accuracy_score(labels, probs.argmax(1)))
    assert m["micro_accuracy"] == pytest.approx(skm.accuracy_score(labels, probs.argmax(1)))
    assert m["log_loss"] == pytest.approx(skm.log_loss(labels, probs, labels=[0, 1, 2]), rel=1e-9)
    assert m["confusion"] == skm.confusion_matrix(labels, probs.argmax(1), labels=[0, 1, 2]).tolist()
    recall = skm.recall_score(labels, probs.argmax(1), average=None, labels=[0, 1, 2])
    assert [m["per_class"][c] for c in ("indoor", "outdoor", "transportation")] == pytest.approx(recall)
    assert m["classes"] == ["indoor", "outdoor", "transportation"]


def test_absent_class_and_hand_case():
    probs = np.array([[0.9, 0.1, 0.0], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1], [0.5, 0.5, 0.0]])
    labels = np.array([0, 1, 1, 0])  # no transportation clip
    m = compute_metrics(probs, labels)
    assert m["per_class"] == {"indoor": 1.0, "outdoor": 0.5, "transportation": None}
    assert m["accuracy"] == pytest.approx(0.75)            # mean over the classes present
    assert m["log_loss"] == pytest.approx(-(np.log(0.9) + np.log(0.7) + np.log(0.3) + np.log(0.5)) / 4)
    assert m["confusion"] == [[2, 0, 0], [1, 1, 0], [0, 0, 0]]  # argmax ties go to the first class
