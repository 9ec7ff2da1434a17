"""Lowering: each op of the IR becomes a Layer, a call of one C kernel with a constant parameter block.

Two steps, kept apart so that optimized kernel families can be added without touching the lowering:

1. `lower_op` checks the op (types, options) and computes everything TFLite computes in Prepare():
   requantisation multipliers and shifts (quant.py), folded biases, padding, clamps. The result is a
   Layer with the C parameter block of the op (`params`, field -> value), its constant arrays and the
   reference scratch size.
2. `choose_kernel` picks the KernelVariant for the layer and the board's kernel family: the C function,
   the weight layout (the compiler re-packs the weights for it), the scratch it needs. VARIANTS is the
   table to extend: put a specialised variant before the generic one of its op, e.g.

       KernelVariant("CONV_2D", "ts_conv_1x1_s8", families=("armv7em", "mve"),
                     applies=lambda L: L.info["kernel"] == [1, 1] and L.info["groups"] == 1,
                     weight_layout="OHWI", scratch_bytes=lambda L, fam: 0,
                     buffer_size_function=None)

   and write firmware/src/nn/armv7em/ts_conv_1x1_s8.c (+ a reference version if the reference family
   should use it too). A same-named optimized override of a reference kernel (armv7em/ts_conv_s8.c)
   needs no entry here unless it wants more scratch or another weight layout: give its family its own
   variant then.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from tinyscene.aot import fastkernels
from tinyscene.aot import quant as Q
from tinyscene.aot.layer import F32, F64, CArray, KernelVariant, Layer, Ref
from tinyscene.errors import TsError
from tinyscene.tflite.graph import Graph, Op, Tensor

MAX_DIMS = 6
SUPPORTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "MAX_POOL_2D",
                 "AVERAGE_POOL_2D", "MEAN", "SOFTMAX", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "PAD", "PADV2",
                 "CONCATENATION", "QUANTIZE", "DEQUANTIZE", "LOGISTIC", "TANH", "RELU", "RELU6", "SPACE_TO_BATCH_ND",
                 "BATCH_TO_SPACE_ND")


VARIANTS: dict[str, list[KernelVariant]] = {
    "CONV_2D": [KernelVariant("CONV_2D", "ts_conv_s8", weight_layout="OHWI",
                              buffer_size_function="ts_conv_s8_get_buffer_size")],
    "DEPTHWISE_CONV_2D": [KernelVariant("DEPTHWISE_CONV_2D", "ts_depthwise_conv_s8", weight_layout="1HWC",
                                        buffer_size_function="ts_depthwise_conv_s8_get_buffer_size")],
    "FULLY_CONNECTED": [KernelVariant("FULLY_CONNECTED", "ts_fully_connected_s8", weight_layout="OI")],
    "ADD": [KernelVariant("ADD", "ts_add_s8")],
    "MUL": [KernelVariant("MUL", "ts_mul_s8")],
    "MAX_POOL_2D": [KernelVariant("MAX_POOL_2D", "ts_max_pool_s8")],
    "AVERAGE_POOL_2D": [KernelVariant("AVERAGE_POOL_2D", "ts_avg_pool_s8",
                                      buffer_size_function="ts_avg_pool_s8_get_buffer_size")],
    "MEAN": [KernelVariant("MEAN", "ts_mean_s8", buffer_size_function="ts_mean_s8_get_buffer_size")],
    "SOFTMAX": [KernelVariant("SOFTMAX", "ts_softmax_s8")],
    "LOGISTIC": [KernelVariant("LOGISTIC", "ts_logistic_s8")],
    "TANH": [KernelVariant("TANH", "ts_tanh_s8")],
    "QUANTIZE_S8": [KernelVariant("QUANTIZE_S8", "ts_requantize_s8")],
    "QUANTIZE_F32": [KernelVariant("QUANTIZE_F32", "ts_quantize_f32_s8")],
    "DEQUANTIZE": [KernelVariant("DEQUANTIZE", "ts_dequantize_s8_f32")],
    "RELU": [KernelVariant("RELU", "ts_requantize_s8")],
    "RELU6": [KernelVariant("RELU6", "ts_clamp_s8")],
    "PAD": [KernelVariant("PAD", "ts_pad_s8")],
    "CONCATENATION": [KernelVariant("CONCATENATION", "ts_concat_s8")],
    "SPACE_TO_BATCH_ND": [KernelVariant("SPACE_TO_BATCH_ND", "ts_space_to_batch_s8")],
    "BATCH_TO_SPACE_ND": [KernelVariant("BATCH_TO_SPACE_ND", "ts_batch_to_space_s8")],
}


PREFER = ("size", "speed")  # --prefer: size (default) keeps every weight once, int8; speed allows expanded copies


def optimized_variants() -> dict[str, list[KernelVariant]]:
    """VARIANTS with the optimized families' variants (fastkernels.py) in front of the generic ones."""
    fastkernels.register(VARIANTS)
    return VARIANTS


def _candidates(layer: Layer, family: str, prefer: str) -> list[KernelVariant]:
    optimized_variants()
    key = layer.info.get("variant_key", layer.op.kind)
    return [v for v in VARIANTS.get(key, [])
            if family in v.families and (prefer == "speed" or not v.expands_weights) and v.applies(layer)]


def choose_kernel(layer: Layer, family: str, prefer: str = "size") -> KernelVariant:
    """The first variant of the table that applies, not counting those that need dead arena space."""
    for v in _candidates(layer, family, prefer):
        if not v.dead_space:
            return v
    raise TsError(f"{layer.op.where()}: no '{family}' kernel for {layer.info.get('variant_key', layer.op.kind)}")


def dead_space_upgrades(layer: Layer, family: str, prefer: str) -> list[KernelVariant]:
    """Variants ahead of the layer's first choice that need more scratch (fastest first): the compiler takes one
    where its scratch fits in arena bytes free during the layer."""
    out = []
    for v in _candidates(layer, family, prefer):
        if not v.dead_space:
            break
        out.append(v)
    return out


def lower_with(g: Graph, op: Op, k: int, family: str, variant: KernelVariant, setting: dict | None = None) -> Layer:
    """Layer k of op with a given variant and setting (re-lowered: packing starts from TFLite's arrays)."""
    layer = lower_op(g, op, k)
    apply_variant(layer, variant, family, setting)
    return layer


def apply_variant(layer: Layer, variant: KernelVariant, family: str, setting: dict | None = None) -> None:
    if setting:  # keys starting with "_" are the compiler's own choices (layer.info), the others C fields
        layer.params.update({k: v for k, v in setting.items() if not k.startswith("_")})
        layer.info.update({k: v for k, v in setting.items() if k.startswith("_")})
        layer.info["setting"] = dict(setting)
    layer.variant = variant
    layer.function = variant.function
    layer.weight_layout = variant.weight_layout
    w = layer.array("weights")
    if w is not None and variant.pack_weights is not None:
        w.values = np.ascontiguousarray(variant.pack_weights(w.values, layer))
    if variant.scratch_bytes is not None:
        layer.scratch_bytes = int(variant.scratch_bytes(layer, family))
    if variant.prepare is not None:
        variant.prepare(layer, family)


# ---- checks ---------------------------------------------------------------------------------------

def _tensor(g: Graph, op: Op, pos: int, role: str, *, optional: bool = False) -> Tensor | None:
    if pos >= len(op.inputs) or op.inputs[pos] < 0:
        if optional:
            return None
        raise TsError(f"{op.where()}: missing {role} (input {pos})")
    return g.t(op.inputs[pos])


def _type_error(op: Op, t: Tensor, role: str, expected: str) -> TsError:
    if t.dtype in ("int16",):
        return TsError(f"{op.where()}: {role} {t.describe()} is int16 (16x8 quantisation is not supported; "
                       "convert with int8 activations)")
    if t.dtype in ("float32", "float16"):
        return TsError(f"{op.where()}: {role} {t.describe()} is {t.dtype}: a float model or float op "
                       "(tinyscene runs full-integer int8 models; convert with a representative dataset "
                       "and TFLITE_BUILTINS_INT8)")
    return TsError(f"{op.where()}: {role} {t.describe()} is {t.dtype}, expected {expected}")


def _int8(op: Op, t: Tensor, role: str) -> Tensor:
    if t.dtype != "int8":
        raise _type_error(op, t, role, "int8")
    if t.quant is None:
        raise TsError(f"{op.where()}: {role} {t.describe()} has no quantisation parameters")
    if t.quant.per_channel and role not in ("weights",):
        raise TsError(f"{op.where()}: {role} {t.describe()} is quantised per channel (only weights may be)")
    return t


def _out_quant(g: Graph, op: Op):
    return g.t(op.options.get("output_quant_from", op.outputs[0])).quant


def _act(g: Graph, op: Op) -> tuple[int, int]:
    act = int(op.options.get("fused_activation_function", Q.ACT_NONE))
    if act not in (Q.ACT_NONE, Q.ACT_RELU, Q.ACT_RELU6, Q.ACT_RELU_N1_TO_1):
        raise TsError(f"{op.where()}: fused activation {Q.ACT_NAMES.get(act, act)} is not supported")
    q = _out_quant(g, op)
    lo, hi = Q.activation_range(act, q.s, q.zp)
    elo, ehi = op.options.get("extra_clamp", (Q.INT8_MIN, Q.INT8_MAX))
    return max(lo, elo), min(hi, ehi)


def _in_quant(g: Graph, op: Op, x: Tensor):
    """The quantisation the op computes its input with (a fused SPACE_TO_BATCH_ND's output's)."""
    return g.t(op.options.get("input_quant_from", x.index)).quant


def _spatial(op: Op, h: int, w: int, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int, y: Tensor):
    """Output size and top/left padding: TFLite's SAME/VALID rule, or explicit (fused dilated conv)."""
    if "explicit_padding" in op.options:
        pt, pl = op.options["explicit_padding"]
        oh, ow = int(y.shape[1]), int(y.shape[2])
        if oh <= 0 or ow <= 0 or pt < 0 or pl < 0:
            raise TsError(f"{op.where()}: invalid fused padding {pt}, {pl}")
        return oh, pt, ow, pl
    oh, pt = _out_and_pad(op, int(op.options.get("padding", 0)), h, kh, sh, dh)
    ow, pl = _out_and_pad(op, int(op.options.get("padding", 0)), w, kw, sw, dw)
    return oh, pt, ow, pl


def _dims4(op: Op, t: Tensor, role: str) -> tuple[int, int, int, int]:
    if len(t.shape) != 4:
        raise TsError(f"{op.where()}: {role} {t.describe()} must be 4-D (NHWC)")
    return tuple(int(d) for d in t.shape)  # type: ignore[return-value]


def _out_and_pad(op: Op, padding: int, size: int, k: int, stride: int, dilation: int) -> tuple[int, int]:
    """TFLite ComputeOutSize + ComputePaddingWithOffset (the extra odd pixel goes to the end)."""
    if stride <= 0 or dilation <= 0 or k <= 0:
        raise TsError(f"{op.where()}: invalid stride {stride} / dilation {dilation} / kernel {k}")
    eff = (k - 1) * dilation + 1
    if padding == 0:  # SAME
        out = (size + stride - 1) // stride
    elif padding == 1:  # VALID
        out = (size + stride - eff) // stride
    else:
        raise TsError(f"{op.where()}: padding mode {padding} is not supported")
    if out <= 0:
        raise TsError(f"{op.where()}: kernel {k} (dilation {dilation}) larger than the input ({size})")
    total = max((out - 1) * stride + eff - size, 0)
    return out, total // 2


def _check_out(op: Op, y: Tensor, expected: tuple) -> None:
    if tuple(y.shape) != tuple(expected):
        raise TsError(f"{op.where()}: output shape {list(y.shape)} does not match the op ({list(expected)})")


def _bias(op: Op, b: Tensor | None, channels: int) -> np.ndarray:
    if b is None:
        return np.zeros(channels, dtype=np.int64)
    if b.dtype != "int32":
        raise TsError(f"{op.where()}: bias {b.describe()} is {b.dtype}; only int32 biases (int8 models) are "
                      "supported")
    if b.data is None:
        raise TsError(f"{op.where()}: bias {b.describe()} is not a constant")
    if b.size != channels:
        raise TsError(f"{op.where()}: bias has {b.size} values for {channels} channels")
    return b.data.reshape(-1).astype(np.int64)


def _fold_bias(op: Op, bias: np.ndarray, weight_sums: np.ndarray, input_zp: int) -> np.ndarray:
    folded = bias - int(input_zp) * weight_sums.astype(np.int64)
    if folded.min(initial=0) < -(1 << 31) or folded.max(initial=0) >= (1 << 31):
        raise TsError(f"{op.where()}: folded bias overflows int32")
    return folded.astype(np.int32)


def _weights(op: Op, w: Tensor, rank: int) -> np.ndarray:
    if w.dtype == "int4":
        raise TsError(f"{op.where()}: int4 weights are not supported")
    if w.dtype != "int8":
        raise _type_error(op, w, "weights", "int8")
    if w.data is None:
        raise TsError(f"{op.where()}: weights {w.describe()} are not constant")
    if len(w.shape) != rank:
        raise TsError(f"{op.where()}: weights {w.describe()} must be {rank}-D")
    if w.quant is None:
        raise TsError(f"{op.where()}: weights {w.describe()} have no quantisation parameters")
    return w.data


def _channel_scales(op: Op, w: Tensor, channels: int, axis: int) -> np.ndarray:
    s = w.quant.scale
    if s.size not in (1, channels) or (s.size > 1 and w.quant.axis != axis):
        raise TsError(f"{op.where()}: weights {w.describe()} have {s.size} scales along axis {w.quant.axis} "
                      f"for {channels} output channels")
    return s


def _requant_arrays(name: str, mult: np.ndarray, shift: np.ndarray) -> tuple[list[CArray], dict]:
    arrays = [CArray(f"{name}_mult", "int32_t", mult.astype(np.int32), "quant"),
              CArray(f"{name}_shift", "int32_t", shift.astype(np.int32), "quant")]
    return arrays, {"multiplier": Ref(f"{name}_mult"), "shift": Ref(f"{name}_shift")}


# ---- lowering of each op --------------------------------------------------------------------------

@dataclass
class _ConvParts:
    """What CONV_2D and DEPTHWISE_CONV_2D lowering share: the geometry, the folded bias, the requantisation."""
    x: object
    y: object
    wd: np.ndarray
    params: dict
    arrays: list
    info: dict
    macs_per_tap: int  # n oh ow cout


def _conv_parts(g: Graph, op: Op, k: int, filt: tuple[int, int, int, int], cout: int, kh: int, kw: int,
                wd: np.ndarray, w, x, scale_axis: int, per_channel_sums: np.ndarray) -> _ConvParts:
    name = f"tsm_l{k}"
    b = _tensor(g, op, 2, "bias", optional=True)
    y = _int8(op, g.t(op.outputs[0]), "output")
    n, h, wid, c = _dims4(op, x, "input")
    o = op.options
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    dh, dw = int(o.get("dilation_h_factor", 1)), int(o.get("dilation_w_factor", 1))
    oh, pt, ow, pl = _spatial(op, h, wid, kh, kw, sh, sw, dh, dw, y)
    _check_out(op, y, (n, oh, ow, cout))
    xq, yq = _in_quant(g, op, x), _out_quant(g, op)
    scales = _channel_scales(op, w, cout, scale_axis)
    mult, shift = Q.conv_multipliers(xq.s, scales, yq.s, cout)
    bias = _fold_bias(op, _bias(op, b, cout), per_channel_sums, xq.zp)
    lo, hi = _act(g, op)
    rq, rq_fields = _requant_arrays(name, mult, shift)
    arrays = [CArray(f"{name}_w", "int8_t", wd.reshape(filt), "weights"),
              CArray(f"{name}_bias", "int32_t", bias, "bias"), *rq]
    params = {"input": (n, h, wid, c), "filter": filt, "output": (n, oh, ow, cout),
              "stride_h": sh, "stride_w": sw, "dilation_h": dh, "dilation_w": dw, "pad_top": pt, "pad_left": pl,
              "input_zero_point": xq.zp, "output_zero_point": yq.zp, "act_min": lo, "act_max": hi,
              "weights": Ref(f"{name}_w"), "bias": Ref(f"{name}_bias"), "requant": rq_fields}
    info = {"kernel": [kh, kw], "stride": [sh, sw], "dilation": [dh, dw], "pad": [pt, pl],
            "model_weight_bytes": wd.size + 4 * cout, "per_channel": bool(scales.size > 1), "act": [lo, hi]}
    return _ConvParts(x, y, wd, params, arrays, info, n * oh * ow * cout)


def _conv_inputs(g: Graph, op: Op) -> tuple[Tensor, Tensor, np.ndarray, int]:
    """Input, weights tensor, weights (4-D int8) and input channels of a convolution."""
    x = _int8(op, _tensor(g, op, 0, "input"), "input")
    w = _tensor(g, op, 1, "weights")
    return x, w, _weights(op, w, 4), _dims4(op, x, "input")[3]


def _lower_conv(g: Graph, op: Op, k: int) -> Layer:
    x, w, wd, c = _conv_inputs(g, op)
    cout, kh, kw, kc = (int(d) for d in w.shape)
    if kc <= 0 or c % kc or cout % (c // kc):
        raise TsError(f"{op.where()}: {c} input channels do not split into groups of {kc} for {cout} outputs")
    cp = _conv_parts(g, op, k, (cout, kh, kw, kc), cout, kh, kw, wd, w, x, 0,
                     wd.reshape(cout, -1).astype(np.int64).sum(1))
    return Layer(k, op, "ts_conv_params_t", cp.params, cp.arrays, [x.index], [cp.y.index], "unary",
                 macs=cp.macs_per_tap * kh * kw * kc, scratch_bytes=kh * kw * kc,
                 info={**cp.info, "groups": c // kc})


def _lower_depthwise(g: Graph, op: Op, k: int) -> Layer:
    x, w, wd, c = _conv_inputs(g, op)
    one, kh, kw, cout = (int(d) for d in w.shape)
    if one != 1 or cout % c:
        raise TsError(f"{op.where()}: weights {list(w.shape)} do not fit {c} input channels")
    m = cout // c
    if int(op.options.get("depth_multiplier", m) or m) != m:
        raise TsError(f"{op.where()}: depth_multiplier {op.options.get('depth_multiplier')} does not match the "
                      f"shapes ({c} -> {cout} channels)")
    cp = _conv_parts(g, op, k, (1, kh, kw, cout), cout, kh, kw, wd, w, x, 3,
                     wd.reshape(-1, cout).astype(np.int64).sum(0))
    return Layer(k, op, "ts_depthwise_conv_params_t", {**cp.params, "depth_multiplier": m}, cp.arrays, [x.index],
                 [cp.y.index], "unary", macs=cp.macs_per_tap * kh * kw, scratch_bytes=8 * kh * kw + ((c + 7) & ~7),
                 info={**cp.info, "depth_multiplier": m})


def _lower_fc(g: Graph, op: Op, k: int) -> Layer:
    name = f"tsm_l{k}"
    x = _int8(op, _tensor(g, op, 0, "input"), "input")
    w = _tensor(g, op, 1, "weights")
    wd = _weights(op, w, 2)
    b = _tensor(g, op, 2, "bias", optional=True)
    y = _int8(op, g.t(op.outputs[0]), "output")
    if int(op.options.get("weights_format", 0)) != 0:
        raise TsError(f"{op.where()}: shuffled weights format is not supported")
    out_d, depth = (int(d) for d in w.shape)
    if not y.shape or int(y.shape[-1]) != out_d:
        raise TsError(f"{op.where()}: output {list(y.shape)} does not end with {out_d} units")
    batches = y.size // out_d
    if x.size != batches * depth:
        raise TsError(f"{op.where()}: input {list(x.shape)} is not {batches} rows of {depth}")
    yq = _out_quant(g, op)
    scales = _channel_scales(op, w, out_d, 0)
    if scales.size > 1:
        mult, shift = Q.conv_multipliers(x.quant.s, scales, yq.s, out_d)
    else:
        if int(w.quant.zp) != 0:
            raise TsError(f"{op.where()}: asymmetric weights (zero point {w.quant.zp}) are not supported")
        m1, s1 = Q.fc_per_tensor_multiplier(x.quant.s, scales[0], yq.s)
        mult, shift = np.full(out_d, m1, np.int32), np.full(out_d, s1, np.int32)
    bias = _fold_bias(op, _bias(op, b, out_d), wd.astype(np.int64).sum(1), x.quant.zp)
    lo, hi = _act(g, op)
    rq, rq_fields = _requant_arrays(name, mult, shift)
    arrays = [CArray(f"{name}_w", "int8_t", wd, "weights"), CArray(f"{name}_bias", "int32_t", bias, "bias"), *rq]
    params = {"batches": batches, "input_depth": depth, "output_depth": out_d, "input_zero_point": x.quant.zp,
              "output_zero_point": yq.zp, "act_min": lo, "act_max": hi, "weights": Ref(f"{name}_w"),
              "bias": Ref(f"{name}_bias"), "requant": rq_fields}
    return Layer(k, op, "ts_fully_connected_params_t", params, arrays, [x.index], [y.index], "unary",
                 macs=batches * out_d * depth,
                 info={"units": out_d, "depth": depth, "batches": batches, "model_weight_bytes": wd.size + 4 * out_d, "per_channel": bool(scales.size > 1),
                       "act": [lo, hi]})


def _broadcast(op: Op, a: tuple, b: tuple, out: tuple) -> tuple[dict, bool, bool]:
    """6-D broadcast description of a binary op; also whether each input has the output's full shape."""
    if len(out) > MAX_DIMS or len(a) > MAX_DIMS or len(b) > MAX_DIMS:
        raise TsError(f"{op.where()}: more than {MAX_DIMS} dimensions")
    pad = lambda s: (1,) * (MAX_DIMS - len(s)) + tuple(int(d) for d in s)  # noqa: E731
    A, B, O = pad(a), pad(b), pad(out)

    def strides(s):
        st, acc = [0] * MAX_DIMS, 1
        for d in range(MAX_DIMS - 1, -1, -1):
            if s[d] != O[d] and s[d] != 1:
                raise TsError(f"{op.where()}: shapes {list(a)} and {list(b)} do not broadcast to {list(out)}")
            st[d] = acc if s[d] == O[d] and s[d] != 1 else 0
            acc *= s[d]
        return st

    sa, sb = strides(A), strides(B)
    full_a, full_b = A == O, B == O
    size = int(np.prod(O))
    return ({"size": size, "broadcast": 0 if (full_a and full_b) else 1, "dims": list(O), "stride1": sa,
             "stride2": sb}, full_a, full_b)


def _lower_binary(g: Graph, op: Op, k: int) -> Layer:
    x1 = _int8(op, _tensor(g, op, 0, "input 1"), "input 1")
    x2 = _int8(op, _tensor(g, op, 1, "input 2"), "input 2")
    y = _int8(op, g.t(op.outputs[0]), "output")
    shape, full1, full2 = _broadcast(op, x1.shape, x2.shape, y.shape)
    yq = _out_quant(g, op)
    lo, hi = _act(g, op)
    if op.kind == "ADD":
        ap = Q.add_params(x1.quant.s, x2.quant.s, yq.s)
        params = {"shape": shape, "input1_offset": -x1.quant.zp, "input2_offset": -x2.quant.zp,
                  "left_shift": ap["left_shift"], "input1_multiplier": ap["input1_multiplier"],
                  "input1_shift": ap["input1_shift"], "input2_multiplier": ap["input2_multiplier"],
                  "input2_shift": ap["input2_shift"], "output_multiplier": ap["output_multiplier"],
                  "output_shift": ap["output_shift"], "output_offset": yq.zp, "act_min": lo, "act_max": hi}
        ptype = "ts_add_params_t"
    else:
        m, s = Q.mul_multiplier(x1.quant.s, x2.quant.s, yq.s)
        params = {"shape": shape, "input1_offset": -x1.quant.zp, "input2_offset": -x2.quant.zp,
                  "output_offset": yq.zp, "output_multiplier": m, "output_shift": s, "act_min": lo, "act_max": hi}
        ptype = "ts_mul_params_t"
    inplace = ([(0, 0)] if full1 and not x1.is_const else []) + ([(1, 0)] if full2 and not x2.is_const else [])
    return Layer(k, op, ptype, params, [], [x1.index, x2.index], [y.index], "binary", inplace=inplace,
                 info={"broadcast": bool(shape["broadcast"]), "act": [lo, hi]})


def _lower_pool(g: Graph, op: Op, k: int) -> Layer:
    x = _int8(op, _tensor(g, op, 0, "input"), "input")
    y = _int8(op, g.t(op.outputs[0]), "output")
    n, h, w, c = _dims4(op, x, "input")
    o = op.options
    fh, fw = int(o.get("filter_height", 1)), int(o.get("filter_width", 1))
    sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
    oh, pt = _out_and_pad(op, int(o.get("padding", 0)), h, fh, sh, 1)
    ow, pl = _out_and_pad(op, int(o.get("padding", 0)), w, fw, sw, 1)
    _check_out(op, y, (n, oh, ow, c))
    lo, hi = _act(g, op)
    params = {"input": (n, h, w, c), "output": (n, oh, ow, c), "filter_h": fh, "filter_w": fw, "stride_h": sh,
              "stride_w": sw, "pad_top": pt, "pad_left": pl, "act_min": lo, "act_max": hi}
    avg = op.kind == "AVERAGE_POOL_2D"
    return Layer(k, op, "ts_pool_params_t", params, [], [x.index], [y.index], "unary",
                 scratch_bytes=4 * c if avg else 0,
                 info={"filter": [fh, fw], "stride": [sh, sw], "pad": [pt, pl], "act": [lo, hi]})


def _lower_mean(g: Graph, op: Op, k: int) -> Layer:
    x = _int8(op, _tensor(g, op, 0, "input"), "input")
    ax = _tensor(g, op, 1, "axes")
    y = _int8(op, g.t(op.outputs[0]), "output")
    if ax.data is None:
        raise TsError(f"{op.where()}: the reduction axes are not constant")
    r = len(x.shape)
    axes = []
    for a in np.atleast_1d(ax.data).tolist():
        a = int(a) + r if int(a) < 0 else int(a)
        if not 0 <= a < r:
            raise TsError(f"{op.where()}: axis {a} out of range for {list(x.shape)}")
        if a not in axes:
            axes.append(a)
    count = int(np.prod([x.shape[a] for a in axes])) if axes else 1
    # [outer, reduce, inner] with the reduced axes of size > 1 contiguous
    big = [(d, int(x.shape[d]), d in axes) for d in range(r) if int(x.shape[d]) > 1]
    red = [i for i, (_, _, is_r) in enumerate(big) if is_r]
    if red and red != list(range(red[0], red[-1] + 1)):
        raise TsError(f"{op.where()}: MEAN over non-adjacent axes {axes} of {list(x.shape)} is not supported")
    if red:
        outer = int(np.prod([s for _, s, _ in big[:red[0]]]))
        inner = int(np.prod([s for _, s, _ in big[red[-1] + 1:]]))
    else:
        outer, inner = x.size, 1
    if y.size != outer * inner:
        raise TsError(f"{op.where()}: output {list(y.shape)} does not match the reduction of {list(x.shape)}")
    m, s = Q.ratio_multiplier(x.quant.s, y.quant.s)
    m, s = Q.mean_multiplier(m, s, count)
    params = {"outer": outer, "reduce": count, "inner": inner, "input_zero_point": x.quant.zp,
              "output_zero_point": y.quant.zp, "multiplier": m, "shift": s}
    return Layer(k, op, "ts_mean_params_t", params, [], [x.index], [y.index], "unary", scratch_bytes=4 * inner,
                 info={"axes": axes, "outer": outer, "reduce": count, "inner": inner})


def _lower_softmax(g: Graph, op: Op, k: int) -> Layer:
    x = _int8(op, _tensor(g, op, 0, "input"), "input")
    y = g.t(op.outputs[0])
    if y.dtype != "int8":
        raise _type_error(op, y, "output", "int8")
    if y.quant is None or y.quant.zp != -128 or float(y.quant.s) != 1.0 / 256:
        raise TsError(f"{op.where()}: int8 output must have scale 1/256 and zero point -128 (as TFLM requires)")
    depth = int(x.shape[-1])
    sp = Q.softmax_params(float(op.options.get("beta", 1.0)), x.quant.s)
    params = {"outer": x.size // depth, "depth": depth, "input_multiplier": sp["input_multiplier"],
              "input_left_shift": sp["input_left_shift"], "diff_min": sp["diff_min"]}
    return Layer(k, op, "ts_softmax_params_t", params, [], [x.index], [y.index], "unary",
                 info={"depth": depth, "beta": float(op.options.get("beta", 1.0))})


def _lower_sigmoid(g: Graph, op: Op, k: int) -> Layer:
    x = _int8(op, _tensor(g, op, 0, "input"), "input")
    y = _int8(op, g.t(op.outputs[0]), "output")
    if op.kind == "LOGISTIC" and y.quant.zp != -128:
        raise TsError(f"{op.where()}: int8 output must have zero point -128 (as TFLM requires)")
    p = Q.logistic_tanh_params(x.quant.s, x.quant.zp)
    params = {"size": x.size, "input_zero_point": p["input_zero_point"],
              "input_range_radius": p["input_range_radius"], "input_multiplier": p["input_multiplier"],
              "input_left_shift": p["input_left_shift"]}
    return Layer(k, op, "ts_sigmoid_params_t", params, [], [x.index], [y.index], "unary", inplace=[(0, 0)])


def _lower_quantize(g: Graph, op: Op, k: int) -> Layer:
    x = _tensor(g, op, 0, "input")
    y = g.t(op.outputs[0])
    if y.dtype != "int8" or y.quant is None or y.quant.per_channel:
        raise _type_error(op, y, "output", "int8 (per tensor)")
    if x.dtype == "float32":
        params = {"size": x.size, "scale": F32(float(y.quant.s)), "zero_point": y.quant.zp}
        return Layer(k, op, "ts_quantize_params_t", params, [], [x.index], [y.index], "unary",
                     info={"variant_key": "QUANTIZE_F32", "from": "float32"})
    _int8(op, x, "input")
    m, s = Q.ratio_multiplier(x.quant.s, y.quant.s)
    params = {"size": x.size, "input_zero_point": x.quant.zp, "output_zero_point": y.quant.zp, "multiplier": m,
              "shift": s, "act_min": Q.INT8_MIN, "act_max": Q.INT8_MAX}
    return Layer(k, op, "ts_requantize_params_t", params, [], [x.index], [y.index], "unary", inplace=[(0, 0)],
                 info={"variant_key": "QUANTIZE_S8", "from": "int8"})


def _lower_dequantize(g: Graph, op: Op, k: int) -> Layer:
    x = _int8(op, _tensor(g, op, 0, "input"), "input")
    y = g.t(op.outputs[0])
    if y.dtype != "float32":
        raise TsError(f"{op.where()}: output {y.describe()} must be float32")
    params = {"size": x.size, "scale": F64(float(x.quant.s)), "zero_point": x.quant.zp}
    return Layer(k, op, "ts_dequantize_params_t", params, [], [x.index], [y.index], "unary")


def _lower_relu(g: Graph, op: Op, k: int) -> Layer:
    x = _int8(op, _tensor(g, op, 0, "input"), "input")
    y = _int8(op, g.t(op.outputs[0]), "output")
    if op.kind == "RELU":
        m, s = Q.relu_multiplier(x.quant.s, y.quant.s)
        lo = max(Q.INT8_MIN, y.quant.zp + int(Q.tflite_round(float(np.float32(0.0) / y.quant.s))))
        params = {"size": x.size, "input_zero_point": x.quant.zp, "output_zero_point": y.quant.zp,
                  "multiplier": m, "shift": s, "act_min": lo, "act_max": Q.INT8_MAX}
        return Layer(k, op, "ts_requantize_params_t", params, [], [x.index], [y.index], "unary", inplace=[(0, 0)])
    six = Q.float_to_quantized_int8(6.0, x.quant.s, x.quant.zp)
    params = {"size": x.size, "min": x.quant.zp, "max": six}
    return Layer(k, op, "ts_clamp_params_t", params, [], [x.index], [y.index], "unary", inplace=[(0, 0)])


def _lower_pad(g: Graph, op: Op, k: int) -> Layer:
    x = _int8(op, _tensor(g, op, 0, "input"), "input")
    pads = _tensor(g, op, 1, "paddings")
    y = _int8(op, g.t(op.outputs[0]), "output")
    if pads.data is None:
        raise TsError(f"{op.where()}: the paddings are not constant")
    pd = pads.data.reshape(-1, 2).astype(np.int64)
    r = len(x.shape)
    if pd.shape[0] != r or r > MAX_DIMS:
        raise TsError(f"{op.where()}: paddings {pd.tolist()} do not fit {list(x.shape)}")
    if (pd < 0).any():
        raise TsError(f"{op.where()}: negative padding is not supported")
    exp = tuple(int(x.shape[d] + pd[d, 0] + pd[d, 1]) for d in range(r))
    _check_out(op, y, exp)
    value = y.quant.zp
    cv = _tensor(g, op, 2, "constant value", optional=True)
    if cv is not None:
        if cv.data is None or cv.dtype != "int8":
            raise TsError(f"{op.where()}: the pad value must be an int8 constant")
        value = int(cv.data.reshape(-1)[0])
    front = MAX_DIMS - r
    params = {"dims": [1] * front + [int(d) for d in x.shape], "before": [0] * front + pd[:, 0].tolist(),
              "after": [0] * front + pd[:, 1].tolist(), "value": value}
    return Layer(k, op, "ts_pad_params_t", params, [], [x.index], [y.index], "unary",
                 info={"variant_key": "PAD", "paddings": pd.tolist(), "value": value})


def _lower_concat(g: Graph, op: Op, k: int) -> Layer:
    y = _int8(op, g.t(op.outputs[0]), "output")
    if int(op.options.get("fused_activation_function", 0)) != Q.ACT_NONE:
        raise TsError(f"{op.where()}: fused activation on CONCATENATION is not supported (TFLM neither)")
    r = len(y.shape)
    axis = int(op.options.get("axis", 0))
    axis = axis + r if axis < 0 else axis
    xs = [_int8(op, g.t(i), f"input {j}") for j, i in enumerate(op.inputs)]
    for x in xs:
        if float(x.quant.s) != float(y.quant.s) or x.quant.zp != y.quant.zp:
            raise TsError(f"{op.where()}: input {x.describe()} is quantised differently from the output "
                          "(TFLM's int8 CONCATENATION requires equal scale and zero point)")
        if len(x.shape) != r or any(x.shape[d] != y.shape[d] for d in range(r) if d != axis):
            raise TsError(f"{op.where()}: input {list(x.shape)} does not fit output {list(y.shape)} on axis {axis}")
    outer = int(np.prod(y.shape[:axis])) if axis else 1
    inner = int(np.prod(y.shape[axis + 1:])) if axis + 1 < r else 1
    nbytes = np.array([int(x.shape[axis]) * inner for x in xs], dtype=np.int32)
    name = f"tsm_l{k}"
    params = {"outer": outer, "num_inputs": len(xs), "bytes": Ref(f"{name}_bytes")}
    return Layer(k, op, "ts_concat_params_t", params, [CArray(f"{name}_bytes", "int32_t", nbytes, "table")],
                 [x.index for x in xs], [y.index], "nary", info={"axis": axis, "inputs": len(xs)})


def _block_op(g: Graph, op: Op) -> tuple[Tensor, Tensor, list[int], list[int], tuple, tuple]:
    """Input, output, block shape, paddings or crops (4 values), input and output as NHWC of SPACE_TO_BATCH_ND /
    BATCH_TO_SPACE_ND (same quantisation and channels checked)."""
    x = _int8(op, _tensor(g, op, 0, "input"), "input")
    y = _int8(op, g.t(op.outputs[0]), "output")
    if len(x.shape) not in (3, 4) or len(y.shape) != len(x.shape):
        raise TsError(f"{op.where()}: input {list(x.shape)} / output {list(y.shape)} must be 3-D or 4-D (as TFLM)")
    vals = []
    for pos, role in ((1, "block shape"), (2, "paddings" if op.kind == "SPACE_TO_BATCH_ND" else "crops")):
        t = _tensor(g, op, pos, role)
        if t.data is None:
            raise TsError(f"{op.where()}: the {role} are not constant")
        vals.append([int(v) for v in t.data.reshape(-1)])
    block, pads = vals
    four = len(x.shape) == 4
    if len(block) != (2 if four else 1) or len(pads) != 2 * len(block) or min(block) < 1 or min(pads) < 0:
        raise TsError(f"{op.where()}: block shape {block} / {pads} do not fit a {len(x.shape)}-D tensor")
    if not four:
        block, pads = [block[0], 1], [pads[0], pads[1], 0, 0]
    if float(x.quant.s) != float(y.quant.s) or x.quant.zp != y.quant.zp:
        raise TsError(f"{op.where()}: input and output are quantised differently")
    xs, ys = _nhwc(x.shape), _nhwc(y.shape)
    if ys[3] != xs[3]:
        raise TsError(f"{op.where()}: output {list(y.shape)} does not keep the {xs[3]} channels")
    return x, y, block, pads, xs, ys


def _nhwc(shape) -> tuple[int, int, int, int]:
    s = [int(d) for d in shape]
    return (s[0], s[1], 1, s[2]) if len(s) == 3 else tuple(s)  # type: ignore[return-value]


def _lower_space_to_batch(g: Graph, op: Op, k: int) -> Layer:
    x, y, block, pads, xs, ys = _block_op(g, op)
    # TFLM never sets the pad value of its SPACE_TO_BATCH_ND (an uninitialised persistent buffer: 0 in a fresh
    # arena); TFLite pads with the zero point. tflite_micro is the oracle here.
    params = {"input": xs, "output": ys, "block_h": block[0], "block_w": block[1], "pad_top": pads[0],
              "pad_left": pads[2], "pad_value": 0}
    return Layer(k, op, "ts_space_to_batch_params_t", params, [], [x.index], [y.index], "unary",
                 info={"block": block, "paddings": pads, "pad_value": 0,
                       "phases_written": ys[0] // xs[0] if xs[0] else 0})


def _lower_batch_to_space(g: Graph, op: Op, k: int) -> Layer:
    x, y, block, crops, xs, ys = _block_op(g, op)
    fills = op.options.get("tflm_fills", [])
    sources: list[int] = []
    table = []
    for f in fills:
        if f.src >= 0:
            if f.src not in sources:
                sources.append(f.src)
            table.append((f.dst, f.length, 1 + sources.index(f.src), f.src_offset))
        else:
            table.append((f.dst, f.length, 0, 0))
    name = f"tsm_l{k}"
    arrays = [CArray(f"{name}_fills", "int32_t", np.array(table, dtype=np.int32).reshape(-1), "table")] \
        if table else []
    params = {"input": xs, "output": ys, "block_h": block[0], "block_w": block[1], "crop_top": crops[0],
              "crop_left": crops[2], "num_fills": len(table),
              "fills": Ref(f"(const ts_fill_t *){name}_fills") if table else 0}
    return Layer(k, op, "ts_batch_to_space_params_t", params, arrays, [x.index] + sources, [y.index], "nary",
                 info={"block": block, "crops": crops, "tflm_fills": len(table),
                       "unwritten_bytes": sum(f.length for f in fills),
                       "undefined_bytes": sum(f.length for f in fills if f.src < 0)})


LOWER: dict[str, Callable[[Graph, Op, int], Layer]] = {
    "CONV_2D": _lower_conv, "DEPTHWISE_CONV_2D": _lower_depthwise, "FULLY_CONNECTED": _lower_fc,
    "ADD": _lower_binary, "MUL": _lower_binary, "MAX_POOL_2D": _lower_pool, "AVERAGE_POOL_2D": _lower_pool,
    "MEAN": _lower_mean, "SOFTMAX": _lower_softmax, "LOGISTIC": _lower_sigmoid, "TANH": _lower_sigmoid,
    "QUANTIZE": _lower_quantize, "DEQUANTIZE": _lower_dequantize, "RELU": _lower_relu, "RELU6": _lower_relu,
    "PAD": _lower_pad, "PADV2": _lower_pad, "CONCATENATION": _lower_concat,
    "SPACE_TO_BATCH_ND": _lower_space_to_batch, "BATCH_TO_SPACE_ND": _lower_batch_to_space,
}


def lower_op(g: Graph, op: Op, k: int) -> Layer:
    fn = LOWER.get(op.kind)
    if fn is None:
        raise TsError(f"{op.where()}: unsupported op (supported: {', '.join(SUPPORTED_OPS)})")
    for i in op.outputs:
        if len(g.t(i).shape) > MAX_DIMS:
            raise TsError(f"{op.where()}: more than {MAX_DIMS} dimensions")
    try:
        return fn(g, op, k)
    except ValueError as e:  # quantisation arithmetic out of TFLite's range (quant.py)
        raise TsError(f"{op.where()}: {e}") from None


def lower_graph(g: Graph, family: str, prefer: str = "size", no_expand: frozenset[int] = frozenset()) -> list[Layer]:
    """Layers with their kernels; `no_expand`: op indices kept on a variant that stores weights once even with
    prefer='speed' (the board's flash did not allow the expanded copy)."""
    if prefer not in PREFER:
        raise TsError(f"--prefer {prefer}: expected one of {', '.join(PREFER)}")
    layers = []
    for op in g.ops:
        if op.kind == "VIEW":
            continue
        layer = lower_op(g, op, len(layers))
        v = choose_kernel(layer, family, "size" if op.index in no_expand else prefer)
        apply_variant(layer, v, family, v.settings(layer)[-1] if v.settings else None)  # the smallest scratch
        layers.append(layer)
    return layers


def check_supported(g: Graph) -> None:
    """Reject, before any work, ops and tensor types the compiler does not handle (first offender named)."""
    if g.subgraphs > 1:
        raise TsError(f"{g.source}: {g.subgraphs} subgraphs (control flow) are not supported")
    for op in g.ops:
        if op.kind.startswith("CUSTOM:"):
            raise TsError(f"{op.where()}: custom op '{op.kind[7:]}' is not supported")
    for tid in g.inputs + g.outputs:
        t = g.t(tid)
        if t.dtype not in ("int8", "float32"):
            raise TsError(f"{'input' if tid in g.inputs else 'output'} {t.describe()}: type {t.dtype} is not "
                          "supported (int8, or float32 around QUANTIZE/DEQUANTIZE)")
