"""--budget-kb: the search lands under the budget with the fewest removals, refuses a budget below
the smallest valid network; the real int8 TFLite of a slimmed model shrinks with it (slow)."""
from __future__ import annotations

import pytest
import torch

from tinyscene.errors import TsError
from tinyscene.models import build_model, model_info

SHAPE = (2, 12, 20)


def _model(seed=0):
    torch.manual_seed(seed)
    m = build_model("paper", None, SHAPE)
    with torch.no_grad():
        for _, bn in m.bn_layers():
            bn.weight.uniform_(0.01, 1.0)
    return m.eval()


@pytest.mark.parametrize("fraction", [0.35, 0.7])
def test_budget_search_lands_under_the_budget(fraction):
    from tinyscene.slim.budget import search_budget
    from tinyscene.slim.prune import plan_slim, prune_model

    m = _model()
    full = model_info(m)["int8_kb"]
    budget = round(fraction * full, 2)
    res = search_budget(m, budget)
    kb = model_info(res.model)["int8_kb"]       # `tinyscene model-info`'s estimate, recomputed
    assert kb == res.int8_kb <= budget
    assert res.unpruned_kb == full and res.smallest_kb < budget
    # the fewest removals: one entry fewer of the same order does not fit
    n = max(n for n, kb_n in res.steps if kb_n == res.int8_kb)
    fewer = prune_model(m, plan_slim(m, n_remove=n - 1).keep)
    assert model_info(fewer)["int8_kb"] > budget
    with torch.no_grad():
        assert res.model(torch.randn(1, *SHAPE)).shape == (1, 3)


def test_budget_below_the_smallest_network_is_refused():
    from tinyscene.slim.budget import search_budget

    with pytest.raises(TsError, match="smaller than the smallest valid network"):
        search_budget(_model(), 2.0)
    with pytest.raises(TsError, match="positive"):
        search_budget(_model(), -5)


def test_budget_above_the_model_removes_nothing():
    from tinyscene.slim.budget import search_budget

    m = _model()
    res = search_budget(m, model_info(m)["int8_kb"] + 10)
    assert res.plan.ratio == 0 and any("already fits" in w for w in res.plan.warnings)
    assert sum(p.numel() for p in res.model.parameters()) == sum(p.numel() for p in m.parameters())


def test_real_int8_tflite_of_a_slimmed_model_is_the_estimate():
    """Fast representative of the test below: one conversion, of a slimmed model, through the export
    pipeline; its real file is model-info's tflite_kb to 5 %."""
    import numpy as np

    from tinyscene.slim.budget import tflite_int8_bytes
    from tinyscene.slim.prune import plan_slim, prune_model

    m = _model(1)
    small = prune_model(m, plan_slim(m, ratio=0.5).keep)
    calib = np.random.default_rng(0).integers(-128, 128, size=(4, SHAPE[1], SHAPE[2], SHAPE[0])).astype(np.int8)
    calib[0, 0, 0, 0], calib[0, 0, 0, 1] = -128, 127
    b1 = tflite_int8_bytes(small, calib, 1 / 32, 0)
    assert b1 / 1024 == pytest.approx(model_info(small)["tflite_kb"], rel=0.05)
    assert model_info(small)["int8_kb"] < model_info(m)["int8_kb"]


@pytest.mark.slow
def test_real_int8_tflite_shrinks_in_proportion():
    """The export pipeline (ONNX -> onnx2tf -> int8 TFLite) on a model and its slimmed version: the
    file shrinks about as the int8 estimate does."""
    import numpy as np

    from tinyscene.slim.budget import tflite_int8_bytes
    from tinyscene.slim.prune import plan_slim, prune_model

    m = _model(1)
    small = prune_model(m, plan_slim(m, ratio=0.5).keep)
    calib = np.random.default_rng(0).integers(-128, 128, size=(8, SHAPE[1], SHAPE[2], SHAPE[0])).astype(np.int8)
    calib[0, 0, 0, 0], calib[0, 0, 0, 1] = -128, 127
    b0 = tflite_int8_bytes(m, calib, 1 / 32, 0)
    b1 = tflite_int8_bytes(small, calib, 1 / 32, 0)
    e0, e1 = model_info(m)["tflite_kb"], model_info(small)["tflite_kb"]
    d0, d1 = model_info(m)["int8_kb"], model_info(small)["int8_kb"]
    assert b1 < b0
    assert b1 / b0 == pytest.approx(e1 / e0, abs=0.05) and b1 / b0 == pytest.approx(d1 / d0, abs=0.1)
    assert b0 / 1024 == pytest.approx(e0, rel=0.05) and b1 / 1024 == pytest.approx(e1, rel=0.05)
