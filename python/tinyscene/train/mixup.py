"""Mixup (Zhang et al. 2018; the seed's section 2.2): x~ = λ x_i + (1-λ) x_j, y~ = λ y_i + (1-λ) y_j,
λ ~ Beta(α, α), one λ per batch, j a random permutation of the batch. α = 0 turns it off (λ = 1)."""
from __future__ import annotations

import numpy as np


def sample_lambda(rng: np.random.Generator, alpha: float) -> float:
    """λ ~ Beta(α, α); 1.0 when α <= 0 (no mixing)."""
    if alpha <= 0:
        return 1.0
    return float(rng.beta(alpha, alpha))


def one_hot(labels, n_classes: int):
    import torch

    return torch.nn.functional.one_hot(labels.long(), n_classes).to(torch.float32)


def mix(x, y_soft, lam: float, perm):
    """The mixed batch: (λ x + (1-λ) x[perm], λ y + (1-λ) y[perm]). x, y_soft: torch tensors."""
    if lam >= 1.0:
        return x, y_soft
    return lam * x + (1.0 - lam) * x[perm], lam * y_soft + (1.0 - lam) * y_soft[perm]


def mixup_batch(x, labels, n_classes: int, rng: np.random.Generator, alpha: float):
    """(mixed x, soft targets [batch, n_classes], λ, permutation) of one batch."""
    import torch

    y = one_hot(labels, n_classes).to(x.device)
    lam = sample_lambda(rng, alpha)
    perm = torch.from_numpy(rng.permutation(x.shape[0])).to(x.device)
    xm, ym = mix(x, y, lam, perm)
    return xm, ym, lam, perm


def soft_cross_entropy(logits, targets):
    """Mean over the batch of -Σ_c target_c · log softmax(logits)_c (= the mixed label's cross-entropy)."""
    import torch

    return -(targets * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
