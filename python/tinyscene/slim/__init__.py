"""Network slimming (the seed's section 3.3): an L1 penalty on the BN scales γ during training
(`tinyscene train --slim-l1 λ`), removal of the channels with small |γ| — physically: convolution
output channels, their BN, the next layers' input channels — and fine-tuning.

    graph.py     the channel graph: which BN scales which channels, residual groups, checks
    prune.py     global |γ| ranking, per-group minimum, all-zero channels, the smaller model
    budget.py    --budget-kb: bisection for the int8 size (model-info's estimate), real TFLite size
    api.py       slim_run / slim_sweep: a run folder in, a run folder out (+ slim.json and plots)
    plots.py     channels per layer, accuracy against kept parameters (the γ histogram: train.bn_gamma)
    commands.py  `tinyscene slim`, `tinyscene slim-sweep`

Importing this package does not import torch.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "analyse": "tinyscene.slim.graph", "ChannelGraph": "tinyscene.slim.graph",
    "plan_slim": "tinyscene.slim.prune", "prune_model": "tinyscene.slim.prune", "SlimPlan": "tinyscene.slim.prune",
    "search_budget": "tinyscene.slim.budget", "int8_kb": "tinyscene.slim.budget",
    "slim_run": "tinyscene.slim.api", "slim_sweep": "tinyscene.slim.api",
    "plot_gamma_histogram": "tinyscene.slim.plots",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tinyscene.slim' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
