"""`--budget-kb K`: the smallest removal that makes the int8 model fit K KiB.

The size is `tinyscene model-info`'s `int8_kb` (tinyscene.models.model_info: the int8 model as
deployed — int8 weights, per output channel an int32 bias with the BN folded in and an int32
requantisation multiplier and shift, a parameter block per layer; KiB = 1024 bytes). The global |γ| removal order is fixed, and removing one more channel never makes the model
bigger, so a bisection over the number of removed entries of that order (equivalently over the
ratio) finds the fewest removals that fit. After the search the real int8 TFLite file can be
produced with the export pipeline (`tflite_int8_bytes`) and its size compared with model-info's
`tflite_kb` estimate of that file.
"""
from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

from tinyscene.errors import TsError
from tinyscene.export.to_onnx import export_onnx
from tinyscene.export.to_tflite import convert
from tinyscene.slim.graph import ChannelGraph, analyse
from tinyscene.slim.prune import (
    SlimPlan,
    channel_scores,
    plan_slim,
    prune_model,
    removal_order,
)


def int8_kb(model) -> float:
    from tinyscene.models import model_info

    return float(model_info(model)["int8_kb"])


@dataclass
class BudgetResult:
    plan: SlimPlan
    model: object                   # the pruned model (eval mode)
    int8_kb: float                  # its estimate
    budget_kb: float
    smallest_kb: float              # every group at its minimum
    unpruned_kb: float
    steps: list = field(default_factory=list)   # (entries removed, int8_kb) in search order


def search_budget(model, budget_kb: float, min_channels: int | None = None, graph: ChannelGraph | None = None,
                  log=None) -> BudgetResult:
    """Bisection for the fewest removals whose int8 size estimate is <= budget_kb."""
    budget = float(budget_kb)
    if not (math.isfinite(budget) and budget > 0):
        raise TsError(f"slim: --budget-kb {budget_kb}: must be a positive size in KiB")
    graph = graph or analyse(model)
    order = removal_order(graph, channel_scores(model, graph), min_channels)
    cache: dict[int, tuple[SlimPlan, object, float]] = {}
    steps = []

    def at(n: int):
        if n not in cache:
            plan = plan_slim(model, n_remove=n, min_channels=min_channels, graph=graph)
            small = prune_model(model, plan.keep, graph)
            kb = int8_kb(small)
            cache[n] = (plan, small, kb)
            steps.append((n, kb))
            if log:
                log(f"budget: {n}/{len(order)} channel entries removed ({plan.ratio:.3f} of the BN channels) "
                    f"-> {kb:.2f} KiB")
        return cache[n]

    full = int8_kb(model)
    smallest = at(len(order))[2]
    if smallest > budget:
        raise TsError(f"slim: --budget-kb {budget:g}: smaller than the smallest valid network "
                      f"({smallest:.2f} KiB int8 with every layer at its minimum channels; the unpruned "
                      f"model is {full:.2f} KiB)")
    lo, hi = -1, len(order)           # at(lo) does not fit (or is nothing), at(hi) fits
    if at(0)[2] <= budget:
        hi = 0
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if at(mid)[2] <= budget:
            hi = mid
        else:
            lo = mid
    plan, small, kb = at(hi)
    if hi == 0:
        plan.warnings.append(f"the unpruned model ({full:.2f} KiB) already fits {budget:g} KiB: nothing removed")
    return BudgetResult(plan, small, kb, budget, smallest, full, steps)


def tflite_int8_bytes(model, calib_nhwc: np.ndarray, scale: float, zero_point: int) -> int:
    """Size of the real int8 .tflite of `model` through the export pipeline (torch -> ONNX -> onnx2tf ->
    TFLiteConverter), calibrated on int8 front-end features [N, n_mels, frames, channels]."""

    with tempfile.TemporaryDirectory(prefix="ts-slim-tflite-") as d:
        onnx_path = os.path.join(d, "model.onnx")
        export_onnx(model, tuple(model.input_shape), onnx_path)
        data, _ = convert(onnx_path, calib_nhwc, scale, zero_point, os.path.join(d, "work"),
                          [1, *calib_nhwc.shape[1:]])
    return len(data)


__all__ = ["BudgetResult", "int8_kb", "search_budget", "tflite_int8_bytes"]
