"""The optimized families' compile-time side (python/tinyscene/aot/fastkernels.py), without a board: the fast
requantisation records against TFLite's MultiplyByQuantizedMultiplier (written out here from gemmlowp's
definitions, independently of the compiler), the exact-integer Winograd F(2x2, 3x3) against a direct
convolution, the variant table against the firmware folders, and the choices recorded in the report and C."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinyscene.aot import fastkernels as FK
from tinyscene.aot.kernels import optimized_variants
from tinyscene.paths import FIRMWARE_DIR
from tinyscene.target.apps import KERNEL_OVERLAYS

INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1


def _wrap32(v: int) -> int:
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def tflite_mbqm(x: int, m: int, shift: int) -> int:
    """gemmlowp/TFLite MultiplyByQuantizedMultiplier (double rounding), Python integers."""
    left, right = max(shift, 0), max(-shift, 0)
    a = _wrap32(x << left)
    if a == INT32_MIN and m == INT32_MIN:
        s = INT32_MAX
    else:
        ab = a * m
        nudge = (1 << 30) if ab >= 0 else 1 - (1 << 30)
        s = _trunc_div(ab + nudge, 1 << 31)  # C division truncates
    mask = (1 << right) - 1
    rem = s & mask
    thr = (mask >> 1) + (1 if s < 0 else 0)
    return (s >> right) + (1 if rem > thr else 0)


def _trunc_div(a: int, b: int) -> int:
    q = abs(a) // b
    return q if a >= 0 else -q


def fast_record(acc: int, rec) -> int:
    """What the Armv7E-M kernels compute (armv7em/ts_armv7em.h ts_armv7em_rq) from acc x 2 and a record, without SSAT."""
    m, r, e = (int(v) for v in rec)
    x = 2 * acc  # the factor folded into weights and bias
    s = ((x * m + (1 << 31)) >> 32) + r  # SMMLAR
    s = _wrap32(s + (-1 if x < 0 else 0))
    return s >> e


@settings(max_examples=300, deadline=None)
@given(scale=st.floats(1e-6, 0.499), zp=st.integers(-128, 127), wsum=st.integers(1, 40000),
       bias=st.integers(-(1 << 20), 1 << 20), data=st.data())
def test_fast_record_equals_tflite_requantisation(scale, zp, wsum, bias, data):
    from tinyscene.aot.quant import quantize_multiplier

    m, shift = quantize_multiplier(scale)
    rq = FK.plan_requant(np.array([wsum]), np.array([bias]), np.array([m]), np.array([shift]), zp)
    assert rq.fast, rq.reason
    bound = abs(bias) + 128 * wsum
    for acc in [bias + 128 * wsum, bias - 128 * wsum, 0, -1, 1] + data.draw(
            st.lists(st.integers(-bound, bound), min_size=20, max_size=20)):
        want = max(-128, min(127, tflite_mbqm(acc, m, shift) + zp))
        got = max(-128, min(127, fast_record(acc, rq.records[0])))
        assert got == want, (acc, m, shift, zp)


def test_ties_of_the_second_rounding_go_away_from_zero():
    """The sign fix matters only at exact halves of the right shift: check them all for one multiplier."""
    m, shift, zp = 1 << 30, -3, 0  # x 0.5 then / 8: halves at acc = 8 k + 4 (after the first rounding)
    rq = FK.plan_requant(np.array([10]), np.array([0]), np.array([m]), np.array([shift]), zp)
    for acc in range(-200, 201):
        assert fast_record(acc, rq.records[0]) == tflite_mbqm(acc, m, shift), acc


@pytest.mark.parametrize("mult,shift,bias,wsum,why", [
    (1 << 30, 0, 0, 100, "multiplier >= 0.5"),
    (1 << 30, 2, 0, 100, "multiplier >= 0.5"),
    (1 << 30, -3, 1 << 30, 100, "too large"),
    (1 << 30, -28, 0, 100, "overflow"),
])
def test_unsafe_channels_keep_the_exact_path(mult, shift, bias, wsum, why):
    rq = FK.plan_requant(np.array([wsum, 10]), np.array([bias, 0]), np.array([mult, 1 << 30]),
                         np.array([shift, -5]), 3)
    assert not rq.fast and why in rq.reason


def test_dead_channel_outputs_the_zero_point():
    rq = FK.plan_requant(np.array([0]), np.array([0]), np.array([0]), np.array([0]), -7)
    assert rq.fast
    for acc in (-5, 0, 9):
        assert fast_record(acc, rq.records[0]) == -7


def test_winograd_is_exact_integer_convolution():
    """A^T [(G' g G'^T) . (B^T d B)] A == 4 x the direct 3x3 correlation, for random int8 data and weights at
    the extremes of their ranges."""
    rng = np.random.default_rng(0)
    Bt = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
    At = np.array([[1, 1, 1, 0], [0, 1, -1, -1]])
    G = FK.WINO_G
    for trial in range(200):
        d = rng.integers(-128, 128, (4, 4)) if trial % 3 else rng.choice([-128, 127], (4, 4))
        g = rng.integers(-128, 128, (3, 3)) if trial % 2 else rng.choice([-128, 127], (3, 3))
        U, V = G @ g @ G.T, Bt @ d @ Bt.T
        assert np.abs(U).max() <= 9 * 128 and np.abs(V).max() <= 4 * 128  # int16 operands of SMLAD
        Y = At @ (U * V) @ At.T
        direct = np.array([[np.sum(d[i:i + 3, j:j + 3] * g) for j in range(2)] for i in range(2)])
        np.testing.assert_array_equal(Y, 4 * direct)


def _overlay_source(family: str, function: str) -> str:
    """The folder whose file provides `function` in a build of `family` (later overlays win)."""
    src = "reference" if (FIRMWARE_DIR / "src" / "nn" / f"{function}.c").exists() else None
    for folder in KERNEL_OVERLAYS[family]:
        if (FIRMWARE_DIR / "src" / "nn" / folder / f"{function}.c").exists():
            src = folder
    return src


def test_every_variant_matches_the_file_its_family_links():
    """A variant packs weights for one kernel source; the family's overlay must link exactly that file."""
    VARIANTS = optimized_variants()
    for key, variants in VARIANTS.items():
        for v in variants:
            for fam in v.families:
                want = getattr(v, "source", None)
                got = _overlay_source(fam, v.function)
                assert got is not None, f"{v.function} has no source for family {fam}"
                if isinstance(v, FK.FastVariant):
                    assert got == want, f"{key}: {v.function} for {fam} packs for {want} but links {got}"
                elif v.weight_layout is not None:  # TFLite's layout: only the reference file reads it
                    chosen = next(x for x in VARIANTS[key] if fam in x.families)
                    if chosen is v:
                        assert got == "reference", f"{key}: {v.function} for {fam} links {got}"


def test_compile_records_the_choices(tmp_path):
    """Report and generated C name each layer's kernel, block, requantisation and scratch."""
    import aot_models as M

    from tinyscene.aot.compiler import compile_model
    from tinyscene.target.boards import load_board

    model = M.build("convs", tmp_path / "m")
    for board, family in (("qemu-an386", "armv7em"), ("qemu-an547", "mve")):
        comp = compile_model(model, tmp_path / board, board=load_board(board))
        assert comp.family == family
        rep = json.loads((tmp_path / board / "compile_report.json").read_text())
        assert rep["kernel_family"] == family
        convs = [L for L in rep["layers"] if L["op"] == "CONV_2D"]
        assert convs and all("kernel_choice" in L["params"] for L in convs)
        assert all(L["scratch_bytes"] > 0 for L in convs)
        c = (tmp_path / board / "model.c").read_text()
        assert "requant:" in c and "ts_conv" in c
