"""Mixup: λ ~ Beta(α, α) (checked against scipy), the mixed inputs and labels by hand, the soft
cross-entropy against torch's own cross-entropy."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from tinyscene.train.mixup import (
    mix,
    mixup_batch,
    one_hot,
    sample_lambda,
    soft_cross_entropy,
)


@pytest.mark.parametrize("alpha", [0.2, 1.0, 2.0])
def test_lambda_follows_beta(alpha):
    rng = np.random.default_rng(1)
    lam = np.array([sample_lambda(rng, alpha) for _ in range(4000)])
    assert lam.min() >= 0 and lam.max() <= 1
    ks = stats.kstest(lam, stats.beta(alpha, alpha).cdf)
    assert ks.pvalue > 1e-3, ks
    # the other shapes are rejected: the test has power
    other = 0.5 * alpha if alpha > 0.5 else 4 * alpha
    assert stats.kstest(lam, stats.beta(other, other).cdf).pvalue < 1e-3


def test_alpha_zero_is_off():
    rng = np.random.default_rng(0)
    assert sample_lambda(rng, 0.0) == 1.0
    x = torch.arange(6.0).reshape(3, 2)
    y = torch.tensor([0, 1, 2])
    xm, ym, lam, _ = mixup_batch(x, y, 3, rng, 0.0)
    assert lam == 1.0 and torch.equal(xm, x) and torch.equal(ym, one_hot(y, 3))


def test_mix_by_hand():
    x = torch.tensor([[1.0, 2.0], [3.0, 5.0], [-1.0, 0.0]])
    y = one_hot(torch.tensor([0, 2, 1]), 3)
    perm = torch.tensor([2, 0, 1])
    xm, ym = mix(x, y, 0.75, perm)
    # row 0 = 0.75 * x0 + 0.25 * x2, label 0.75 * [1,0,0] + 0.25 * [0,1,0]
    assert torch.allclose(xm, torch.tensor([[0.5, 1.5], [2.5, 4.25], [-0.0, 1.25]]))
    assert torch.allclose(ym, torch.tensor([[0.75, 0.25, 0.0], [0.25, 0.0, 0.75], [0.0, 0.75, 0.25]]))
    assert torch.allclose(ym.sum(dim=1), torch.ones(3))


def test_soft_cross_entropy_is_mixed_cross_entropy():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 3, generator=g)
    a = torch.tensor([0, 1, 2, 2, 0])
    perm = torch.tensor([3, 4, 0, 1, 2])
    lam = 0.3
    _, ym = mix(torch.zeros(5, 1), one_hot(a, 3), lam, perm)
    ref = lam * torch.nn.functional.cross_entropy(logits, a) + (1 - lam) * torch.nn.functional.cross_entropy(logits, a[perm])
    assert torch.allclose(soft_cross_entropy(logits, ym), ref, atol=1e-6)
