"""TFLite's quantisation arithmetic (aot/quant.py) against hand-computed values, and the C fixed-point
primitives (ts/nn_math.h) against values worked out by hand from gemmlowp's definitions."""
from __future__ import annotations

import math
import subprocess

import numpy as np
import pytest

from tinyscene.aot import quant as Q
from tinyscene.paths import FIRMWARE_DIR


@pytest.mark.parametrize("m, expected", [
    (0.5, (1 << 30, 0)),
    (1.0, (1 << 30, 1)),
    (0.75, (1610612736, 0)),              # 0.75 * 2^31
    (0.1, (1717986918, -3)),              # 0.8 * 2^31 rounded, 0.1 = 0.8 * 2^-3
    (3.0, (1610612736, 2)),
    (1.0 - 2.0 ** -40, (1 << 30, 1)),     # rounds up to 2^31: halved, shift + 1
    (2.0 ** -40, (0, 0)),                 # shift < -31 flushes to zero
    (0.0, (0, 0)),
])
def test_quantize_multiplier(m, expected):
    assert Q.quantize_multiplier(m) == expected


def test_tflite_round_is_half_away_from_zero():
    assert [Q.tflite_round(x) for x in (0.5, 1.5, 2.5, -0.5, -1.5, 2.4999)] == [1, 2, 3, -1, -2, 2]


def test_activation_ranges():
    # output scale 1/32, zero point -10: 0.0 -> -10, 6.0 -> 182 (clamped to 127), -1 -> -42, 1 -> 22
    s = np.float32(1 / 32)
    assert Q.activation_range(Q.ACT_NONE, s, -10) == (-128, 127)
    assert Q.activation_range(Q.ACT_RELU, s, -10) == (-10, 127)
    assert Q.activation_range(Q.ACT_RELU6, s, -10) == (-10, 127)
    assert Q.activation_range(Q.ACT_RELU6, np.float32(0.05), -128) == (-128, -8)  # 6 / 0.05 = 120
    assert Q.activation_range(Q.ACT_RELU_N1_TO_1, s, -10) == (-42, 22)


def test_mean_folds_the_count_into_the_multiplier():
    # 9 elements: shift 3 (2^3 <= 9), multiplier floor(2^30 * 8 / 9)
    assert Q.mean_multiplier(1 << 30, 0, 9) == (954437176, -3)
    assert Q.mean_multiplier(1 << 30, 0, 1) == (1 << 30, 0)


def test_softmax_and_sigmoid_parameters():
    # beta * scale * 2^26 = 2^22 -> multiplier 2^30, left shift 23; radius floor(31 * 2^26 / 2^23) = 248
    sp = Q.softmax_params(1.0, np.float32(1 / 16))
    assert sp == {"input_multiplier": 1 << 30, "input_left_shift": 23, "diff_min": -248}
    # scale * 2^27 = 2^23 -> frexp (0.5, 24); radius floor(15 * 2^27 / 2^24) = 120
    lp = Q.logistic_tanh_params(np.float32(1 / 16), 3)
    assert lp == {"input_zero_point": 3, "input_range_radius": 120, "input_multiplier": 1 << 30,
                  "input_left_shift": 24}
    with pytest.raises(ValueError, match="too small"):
        Q.softmax_params(1.0, np.float32(1e-9))


def test_add_parameters_use_twice_the_larger_scale():
    p = Q.add_params(np.float32(0.5), np.float32(0.25), np.float32(1.0))
    # 0.5 / 1.0 = 2^-1 -> (2^30, 0); 0.25 / 1.0 -> (2^30, -1); 1.0 / (2^20 * 1.0) -> (2^30, -19)
    assert (p["input1_multiplier"], p["input1_shift"]) == (1 << 30, 0)
    assert (p["input2_multiplier"], p["input2_shift"]) == (1 << 30, -1)
    assert (p["output_multiplier"], p["output_shift"]) == (1 << 30, -19)


def test_fc_per_tensor_multiplies_scales_in_float32():
    a, b, o = np.float32(0.1), np.float32(0.3), np.float32(0.7)
    prod32 = float(np.float32(a * b))
    assert Q.fc_per_tensor_multiplier(a, b, o) == Q.quantize_multiplier(prod32 / float(o))
    assert prod32 != float(a) * float(b)  # the float32 product is what TFLite uses, and it differs


C_TEST = r"""
#include <stdio.h>
#include "ts/nn_math.h"
int main(void) {
    printf("%d %d %d %d\n", ts_srdhm(INT32_MIN, INT32_MIN), ts_srdhm(1 << 30, 1 << 30), ts_srdhm(-3, 1 << 30),
           ts_srdhm(3, 1 << 30));
    printf("%d %d %d %d %d\n", ts_rdbpot(3, 1), ts_rdbpot(-3, 1), ts_rdbpot(5, 2), ts_rdbpot(-6, 2),
           ts_rdbpot(-5, 2));
    printf("%d %d %d\n", ts_mbqm(100, 1 << 30, 1), ts_mbqm(100, 1 << 30, -3), ts_mbqm(-100, 1610612736, 0));
    printf("%d %d\n", ts_exp_on_negative_values(0, 5), ts_exp_on_negative_values(-(1 << 26), 5));
    printf("%d\n", ts_one_over_one_plus_x_q0(0));
    return 0;
}
"""


def test_c_fixed_point_primitives(tmp_path):
    src = tmp_path / "t.c"
    src.write_text(C_TEST)
    exe = tmp_path / "t"
    subprocess.run(["gcc", "-O2", "-std=gnu11", f"-I{FIRMWARE_DIR / 'include'}", str(src), "-o", str(exe)],
                   check=True)
    lines = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")
    # srdhm: the saturating case; 0.5 * 0.5 = 0.25 (2^29); ties round up like VQRDMULH: -1.5 -> -1, 1.5 -> 2
    assert lines[0].split() == [str(2**31 - 1), str(1 << 29), "-1", "2"]
    # rdbpot: 1.5 -> 2, -1.5 -> -2, 1.25 -> 1, -1.5 -> -2, -1.25 -> -1
    assert lines[1].split() == ["2", "-2", "1", "-2", "-1"]
    # mbqm: 100 * 0.5 * 2 = 100; 100 * 0.5 / 8 = 6.25 -> 6; -100 * 0.75 = -75
    assert lines[2].split() == ["100", "6", "-75"]
    # exp(0) = 1 (saturated Q0.31); exp(-1) from Q5.26 -1.0: within 1e-6 of e^-1
    e0, e1 = (int(v) for v in lines[3].split())
    assert e0 == 2**31 - 1 and abs(e1 / 2**31 - math.exp(-1)) < 1e-6
    # 1 / (1 + 0) = 1 -> ~2^31 (Newton-Raphson: within a few units)
    assert abs(int(lines[4]) - 2**31) < 8
