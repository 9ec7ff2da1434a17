"""TFLite's quantisation arithmetic, bit for bit (tensorflow/lite/kernels/internal/quantization_util.cc,
kernel_util.cc and the Prepare() functions of the TFLM kernels): the multipliers and shifts the C kernels
get must be the very integers TFLite-Micro computes, or the outputs will not be bit-exact.

Conventions: a multiplier is an int32 Q0.31 in [2^30, 2^31) (or 0); `shift` > 0 is a left shift,
< 0 a right shift (TFLite's QuantizeMultiplier convention). float32 arithmetic that TFLite does in
float (e.g. scale1 * scale2 before widening) is reproduced with numpy float32.
"""
from __future__ import annotations

import math

import numpy as np

ACT_NONE, ACT_RELU, ACT_RELU_N1_TO_1, ACT_RELU6, ACT_TANH, ACT_SIGN_BIT = range(6)
ACT_NAMES = {ACT_NONE: "NONE", ACT_RELU: "RELU", ACT_RELU_N1_TO_1: "RELU_N1_TO_1", ACT_RELU6: "RELU6",
             ACT_TANH: "TANH", ACT_SIGN_BIT: "SIGN_BIT"}
INT8_MIN, INT8_MAX = -128, 127


def tflite_round(x: float) -> float:
    """std::round: halves away from zero."""
    return math.copysign(math.floor(abs(x) + 0.5), x)


def quantize_multiplier(m: float) -> tuple[int, int]:
    """QuantizeMultiplier (double rounding build): m ~= q * 2^(shift - 31)."""
    if m == 0.0:
        return 0, 0
    frac, shift = math.frexp(m)
    q = int(tflite_round(frac * (1 << 31)))
    if q > (1 << 31):
        raise ValueError("QuantizeMultiplier: fraction out of range")
    if q == (1 << 31):
        q //= 2
        shift += 1
    if shift < -31:
        shift, q = 0, 0
    return q, shift


def quantize_multiplier_smaller_than_one_exp(m: float) -> tuple[int, int]:
    if not 0.0 < m < 1.0:
        raise ValueError(f"multiplier {m} not in (0, 1)")
    q, shift = quantize_multiplier(m)
    if shift > 0:
        raise ValueError(f"multiplier {m}: positive shift")
    return q, shift


def quantize_multiplier_greater_than_one(m: float) -> tuple[int, int]:
    if m <= 1.0:
        raise ValueError(f"multiplier {m} not > 1")
    return quantize_multiplier(m)


def quantize_value(scale: np.float32, zero_point: int, value: float) -> int:
    """kernel_util.cc Quantize(): zero_point + (int)TfLiteRound(f / scale) in float32."""
    tmp = float(np.float32(np.float32(value) / np.float32(scale)))
    return zero_point + int(tflite_round(tmp))


def activation_range(act: int, scale: np.float32, zero_point: int, qmin: int = INT8_MIN,
                     qmax: int = INT8_MAX) -> tuple[int, int]:
    """CalculateActivationRangeQuantized for a fused activation on an int8 output."""
    if act == ACT_NONE:
        return qmin, qmax
    if act == ACT_RELU:
        return max(qmin, quantize_value(scale, zero_point, 0.0)), qmax
    if act == ACT_RELU6:
        return (max(qmin, quantize_value(scale, zero_point, 0.0)),
                min(qmax, quantize_value(scale, zero_point, 6.0)))
    if act == ACT_RELU_N1_TO_1:
        return (max(qmin, quantize_value(scale, zero_point, -1.0)),
                min(qmax, quantize_value(scale, zero_point, 1.0)))
    raise ValueError(f"fused activation {ACT_NAMES.get(act, act)} has no int8 clamp")


def conv_multipliers(input_scale: np.float32, filter_scales: np.ndarray, output_scale: np.float32,
                     channels: int) -> tuple[np.ndarray, np.ndarray]:
    """PopulateConvolutionQuantizationParams: per channel (a per-tensor filter scale is broadcast);
    effective = double(input) * double(filter) / double(output)."""
    mult = np.zeros(channels, dtype=np.int32)
    shift = np.zeros(channels, dtype=np.int32)
    per_channel = filter_scales.size > 1
    for c in range(channels):
        fs = float(np.float32(filter_scales[c] if per_channel else filter_scales[0]))
        eff = float(np.float32(input_scale)) * fs / float(np.float32(output_scale))
        mult[c], shift[c] = quantize_multiplier(eff)
    return mult, shift


def fc_per_tensor_multiplier(input_scale: np.float32, filter_scale: np.float32,
                             output_scale: np.float32) -> tuple[int, int]:
    """GetQuantizedConvolutionMultipler: the input*filter product is a float32 product, then double."""
    prod = float(np.float32(np.float32(input_scale) * np.float32(filter_scale)))
    return quantize_multiplier(prod / float(np.float32(output_scale)))


def add_params(s1: np.float32, s2: np.float32, so: np.float32, left_shift: int = 20) -> dict:
    """add_common.cc CalculateOpDataAdd (int8: left_shift 20)."""
    twice_max = 2.0 * float(max(np.float32(s1), np.float32(s2)))
    m1, sh1 = quantize_multiplier_smaller_than_one_exp(float(np.float32(s1)) / twice_max)
    m2, sh2 = quantize_multiplier_smaller_than_one_exp(float(np.float32(s2)) / twice_max)
    mo, sho = quantize_multiplier_smaller_than_one_exp(twice_max / ((1 << left_shift) * float(np.float32(so))))
    return dict(left_shift=left_shift, input1_multiplier=m1, input1_shift=sh1, input2_multiplier=m2,
                input2_shift=sh2, output_multiplier=mo, output_shift=sho)


def mul_multiplier(s1: np.float32, s2: np.float32, so: np.float32) -> tuple[int, int]:
    return quantize_multiplier(float(np.float32(s1)) * float(np.float32(s2)) / float(np.float32(so)))


def ratio_multiplier(s_in: np.float32, s_out: np.float32) -> tuple[int, int]:
    """double(in) / double(out): MEAN, QUANTIZE (int8 -> int8)."""
    return quantize_multiplier(float(np.float32(s_in)) / float(np.float32(s_out)))


def relu_multiplier(s_in: np.float32, s_out: np.float32) -> tuple[int, int]:
    """activations_common.cc: double(in / out) where the division is in float32."""
    return quantize_multiplier(float(np.float32(np.float32(s_in) / np.float32(s_out))))


def mean_multiplier(multiplier: int, shift: int, num_elements: int) -> tuple[int, int]:
    """QuantizedMeanOrSum folds 1/num_elements into the multiplier (reduce.h)."""
    s = (num_elements).bit_length() - 1  # 63 - CountLeadingZeros(uint64 n)
    s = min(s, 32)
    s = min(s, 31 + shift)
    m = (multiplier << s) // num_elements  # both positive: truncation == floor
    m = int(np.int64(m).astype(np.int32))
    return m, shift - s


def calculate_input_radius(input_integer_bits: int, input_left_shift: int, total_signed_bits: int = 31) -> int:
    max_input_rescaled = (1.0 * ((1 << input_integer_bits) - 1) * (1 << (total_signed_bits - input_integer_bits))
                          / (1 << input_left_shift))
    return int(math.floor(max_input_rescaled))


def softmax_params(beta: float, input_scale: np.float32) -> dict:
    """softmax_common.cc for int8 -> int8: PreprocessSoftmaxScaling with 5 integer bits."""
    scaled_diff_integer_bits = 5
    max_real = (1 << 31) - 1.0
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * (1 << (31 - scaled_diff_integer_bits)),
               max_real)
    if real <= 1.0:
        raise ValueError(f"input scale {float(np.float32(input_scale)):.3g} is too small for TFLite's int8 softmax "
                         "(beta x scale x 2^26 must exceed 1)")
    m, left_shift = quantize_multiplier_greater_than_one(real)
    if left_shift < 0:
        raise ValueError("softmax: negative input left shift")
    diff_min = -1.0 * calculate_input_radius(scaled_diff_integer_bits, left_shift)
    return dict(input_multiplier=m, input_left_shift=left_shift, diff_min=int(math.ceil(diff_min)))


def logistic_tanh_params(input_scale: np.float32, input_zero_point: int) -> dict:
    """logistic_common.cc / tanh.cc for int8: 4 integer bits, multiplier from frexp without the
    2^31 fix-up of QuantizeMultiplier."""
    input_integer_bits = 4
    real = float(np.float32(input_scale)) * float(1 << (31 - input_integer_bits))
    frac, left_shift = math.frexp(real)
    m = int(tflite_round(frac * (1 << 31)))
    m = int(np.int64(m).astype(np.int32))  # static_cast<int32_t> (wraps only at exactly 2^31)
    radius = calculate_input_radius(input_integer_bits, left_shift, 31)
    return dict(input_zero_point=input_zero_point, input_range_radius=radius, input_multiplier=m,
                input_left_shift=left_shift)


def float_to_quantized_int8(value: float, scale: np.float32, zero_point: int) -> int:
    """micro_utils.h FloatToQuantizedType<int8_t>: round(value / scale) + zp, clamped."""
    r = int(tflite_round(float(np.float32(np.float32(value) / np.float32(scale))))) + zero_point
    return max(INT8_MIN, min(INT8_MAX, r))
