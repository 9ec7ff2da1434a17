"""ONNX → int8 TFLite: onnx2tf (NCHW → NHWC Keras model) → TFLiteConverter full-integer quantisation.

Calibration feeds the converter the front-end's int8 output dequantised exactly as the model saw it
in training, (q - zero_point) * scale, in the device's layout [1, n_mels, frames, channels]. The
converter takes the input tensor's range from these samples, so when they reach both ends of the
int8 range its input scale/zero point come out equal to the front-end's: the device feeds the model
the front-end's bytes with no conversion. If the calibration clips do not reach both ends, one extra
sample (a copy of the first clip with its minimum and maximum pushed to -128 and 127) is added. The
result is then checked, and any difference is an error:

  * input and output int8, input shape [1, n_mels, frames, channels];
  * no TRANSPOSE, DEQUANTIZE or custom op, no float32 tensor between ops;
  * per-channel weight scales on convolutions (fully connected layers per tensor: see
    `quantize_keras`), every scale finite and > 0 (a channel whose weights
    are all zero gets the converter's epsilon scale, never 0 or NaN), no saturated int32 bias;
  * the input scale/zero point == the front-end's.

After compaction, the layer that computes the logits has its int32 bias corrected for the mean
int8-vs-float logit offset on calibration inputs (tinyscene.export.biascorr). Before those checks the converter's file is compacted (tinyscene.export.compact: short tensor
names, no metadata, no quantisation on int32 operands no kernel reads it from), and LiteRT's
reference kernels must give identical outputs for the file before and after on calibration inputs;
every check and ladder rung sees the compacted file.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from tinyscene.errors import TsError
from tinyscene.export.biascorr import correct_output_bias
from tinyscene.export.compact import compact_tflite, same_outputs
from tinyscene.tflite.graph import Graph
from tinyscene.tflite.interpreters import run_onnx
from tinyscene.tflite.keras_int8 import keras_to_int8
from tinyscene.tflite.reader import read_tflite_bytes
from tinyscene.tflite.summary import WEIGHTED_OPS, summarize
from tinyscene.util.quiet import import_tf, quiet, tf_env

FORBIDDEN_OPS = {
    "TRANSPOSE": "a layout transpose left by the NCHW -> NHWC conversion",
    "DEQUANTIZE": "a float32 island in the int8 graph",
}
COMPACTION_CHECK_SAMPLES = 3  # calibration inputs run before and after compaction (must be identical)
# ----------------------------------------------------------------------------------------------
# Conversion
# ----------------------------------------------------------------------------------------------

def onnx_to_keras(onnx_path: str | os.PathLike, workdir: str | os.PathLike):
    """The Keras (tf_keras) model onnx2tf builds from the ONNX file: NHWC input, NCHW-free graph."""
    tf_env()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    with quiet() as cap:
        try:
            import onnx2tf  # seconds to import (it loads TensorFlow): only when converting

            km = onnx2tf.convert(input_onnx_file_path=str(onnx_path),
                                 output_folder_path=str(workdir / "onnx2tf"),
                                 non_verbose=True, verbosity="error", disable_model_save=True,
                                 not_use_onnxsim=True, copy_onnx_input_output_names_to_tflite=True)
        except (Exception, SystemExit) as e:
            err = e
            km = None
        else:
            err = None
    if km is None:
        raise TsError(f"onnx2tf: conversion of {Path(onnx_path).name} failed "
                      f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}) {cap.tail(3)}".strip())
    return km


def dequantize(q: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """(q - zero_point) * scale in float32 — the front-end's dequantisation of its int8 output."""
    return (q.astype(np.float32) - np.float32(zero_point)) * np.float32(scale)


def to_nchw_float(q_nhwc: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 NHWC front-end features -> the float NCHW tensors the PyTorch and ONNX models take."""
    return np.ascontiguousarray(dequantize(q_nhwc, scale, zero_point).transpose(0, 3, 1, 2))


def with_range_ends(calib: np.ndarray) -> tuple[np.ndarray, bool]:
    """The calibration set, plus one sample reaching -128 and 127 when no clip does."""
    if calib.min() == -128 and calib.max() == 127:
        return calib, False
    extra = calib[0].copy()
    flat = extra.reshape(-1)
    flat[int(np.argmin(flat))] = -128
    flat[int(np.argmax(flat))] = 127
    return np.concatenate([calib, extra[None]], axis=0), True


def _converter_error(e: Exception, tail: str) -> TsError:
    text = str(e)
    bad = sorted(set(re.findall(r"'(tfl?\.[A-Za-z0-9_]+)' op", text)))
    lines = [ln.strip() for ln in text.splitlines() if "error" in ln.lower()]
    where = ""
    m = re.search(r'loc\(.*?"([^"]+)"', text)
    if m:
        where = f" at {m.group(1)}"
    if bad:
        return TsError(f"TFLite converter: op(s) {', '.join(bad)}{where} have no int8 TFLite form "
                       f"({lines[0][:200] if lines else text[:200]})")
    return TsError(f"TFLite converter: {lines[0][:300] if lines else text[:300] or type(e).__name__} {tail}".strip())


def quantize_keras(km, calib: np.ndarray, scale: float, zero_point: int) -> tuple[bytes, dict]:
    """Full-integer int8 conversion of the Keras model, calibrated on `calib` (int8, NHWC
    [N, n_mels, frames, channels]) dequantised with the front-end's (scale, zero_point)."""
    tf = import_tf()
    samples, added = with_range_ends(np.asarray(calib, dtype=np.int8))

    def representative():
        for q in samples:
            yield [dequantize(q[None], scale, zero_point)]

    with quiet() as cap:
        try:
            # Fully connected layers per tensor: per channel, LiteRT and tflite_micro differ by 1 LSB on some
            # inputs (single vs double rounding). Convolutions stay per channel.
            data = keras_to_int8(tf, km, representative, per_tensor_dense=True)
        except Exception as e:
            err = e
            data = None
        else:
            err = None
    if data is None:
        raise _converter_error(err, cap.tail(2))
    return bytes(data), {"samples": int(len(samples)), "inputs": int(len(calib)), "range_ends_added": added,
                         "min": int(calib.min()), "max": int(calib.max())}


def _check_ops(g: Graph, source: str) -> None:
    """No forbidden, custom or float op; every activation int8/int16/int32."""
    for op in g.ops:
        name = op.kind
        where = f"{source}: op {name} (index {op.index}, output '{g.t(op.outputs[0]).name}')" \
            if op.outputs else f"{source}: op {name} (index {op.index})"
        if name in FORBIDDEN_OPS:
            raise TsError(f"{where}: {FORBIDDEN_OPS[name]} — not allowed in the int8 graph")
        if name.startswith("CUSTOM:") or name.startswith("BUILTIN_"):
            raise TsError(f"{where}: not a builtin int8 op")
        for i in op.inputs + op.outputs:
            if i < 0:
                continue
            x = g.t(i)
            if x.dtype in ("float32", "float16", "float64"):
                raise TsError(f"{where}: tensor '{x.name}' is {x.dtype} — this op has no int8 form here")
            if x.data is None and x.dtype not in ("int8", "int32", "int16"):
                raise TsError(f"{where}: activation '{x.name}' is {x.dtype}")


def _check_weights(g: Graph, source: str) -> bool:
    """Per-channel scales on convolution weights, no saturated int32 bias; whether every weighted op is
    per channel (fully connected layers may be per tensor)."""
    per_channel = True
    for op in g.ops:
        if op.kind not in WEIGHTED_OPS:
            continue
        w = g.t(op.inputs[1])
        dim = w.quant.axis if w.quant is not None else 0
        n_out = w.shape[dim] if w.shape else 1
        n_scales = w.quant.scale.size if w.quant is not None else 0
        if n_out > 1 and n_scales != n_out:
            per_channel = False
            if op.kind != "FULLY_CONNECTED":
                raise TsError(f"{source}: op {op.kind} (index {op.index}) weights '{w.name}' have "
                              f"{n_scales} scale(s) for {n_out} output channels (expected per-channel)")
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            b = g.t(op.inputs[2])
            if b.data is not None and b.dtype == "int32":
                if np.any(b.data == np.iinfo(np.int32).max) or np.any(b.data == np.iinfo(np.int32).min):
                    raise TsError(f"{source}: op {op.kind} (index {op.index}) bias '{b.name}' "
                                  "saturates int32 (bias too large for input scale x weight scale)")
    return per_channel


def check_int8_model(data: bytes, scale: float, zero_point: int, input_shape=None,
                     source: str = "model_int8.tflite") -> dict:
    """The post-conversion checks of the module docstring; returns `summarize` of the model."""
    g = read_tflite_bytes(data, source)
    if g.subgraphs != 1:
        raise TsError(f"{source}: {g.subgraphs} subgraphs (expected one)")
    if len(g.inputs) != 1 or len(g.outputs) != 1:
        raise TsError(f"{source}: {len(g.inputs)} inputs / {len(g.outputs)} outputs (expected 1 / 1)")
    inp, out = g.t(g.inputs[0]), g.t(g.outputs[0])
    if inp.dtype != "int8" or out.dtype != "int8":
        raise TsError(f"{source}: input {inp.dtype}, output {out.dtype} (expected int8 / int8)")
    if input_shape is not None and list(inp.shape) != list(input_shape):
        raise TsError(f"{source}: input shape {list(inp.shape)} is not the front-end's NHWC {list(input_shape)}")
    _check_ops(g, source)
    for x in g.tensors.values():
        s = x.quant.scale if x.quant is not None else np.zeros(0)
        if len(s) and (not np.all(np.isfinite(s)) or np.any(s <= 0)):
            bad = int(np.flatnonzero(~np.isfinite(s) | (s <= 0))[0])
            raise TsError(f"{source}: tensor '{x.name}' has scale {s[bad]} on channel {bad} "
                          "(a degenerate quantisation scale)")
    per_channel = _check_weights(g, source)
    s_in = float(inp.quant.scale[0]) if inp.quant is not None else None
    z_in = int(inp.quant.zero_point[0]) if inp.quant is not None else None
    if s_in is None or np.float32(s_in) != np.float32(scale) or z_in != int(zero_point):
        raise TsError(f"{source}: int8 input quantisation (scale {s_in!r}, zero point {z_in}) differs from the "
                      f"front-end's (scale {float(np.float32(scale))!r}, zero point {int(zero_point)}): the "
                      "device could not feed the front-end's bytes unchanged")
    info = summarize(g)
    info["per_channel_weights"] = per_channel
    return info


def convert(onnx_path: str | os.PathLike, calib: np.ndarray, scale: float, zero_point: int,
            workdir: str | os.PathLike, input_shape=None, *, bias_calib: np.ndarray | None = None,
            bias_correction: bool = True) -> tuple[bytes, dict]:
    """ONNX file → checked int8 .tflite bytes. `calib`: int8 [N, n_mels, frames, channels].
    `bias_calib`: the inputs the output bias correction (tinyscene.export.biascorr) is measured on
    (default `calib`; the bundle passes the clips as recorded, without the level-shifted copies)."""
    calib = np.asarray(calib)
    if calib.dtype != np.int8 or calib.ndim != 4:
        raise TsError(f"calibration set: {calib.dtype} {list(calib.shape)}, expected int8 [N, n_mels, frames, channels]")
    km = onnx_to_keras(onnx_path, workdir)
    kshape = [int(v) if v is not None else 1 for v in km.inputs[0].shape]
    if list(kshape[1:]) != list(calib.shape[1:]):
        raise TsError(f"onnx2tf: Keras input {kshape} does not take NHWC front-end features "
                      f"{[1, *calib.shape[1:]]}")
    data, cal = quantize_keras(km, calib, scale, zero_point)
    data, comp = compact(data, calib)
    if bias_correction:
        qb = np.asarray(calib if bias_calib is None else bias_calib, dtype=np.int8)
        data, corr = correct_output_bias(data, qb, run_onnx(onnx_path, to_nchw_float(qb, scale, zero_point)))
    else:
        corr = {"applied": False, "reason": "disabled"}
    cal["output_bias_correction"] = corr
    info = check_int8_model(data, scale, zero_point, input_shape or [1, *calib.shape[1:]])
    info["calibration"] = cal
    info["compaction"] = comp
    return data, info


def compact(data: bytes, calib: np.ndarray, n_check: int = COMPACTION_CHECK_SAMPLES) -> tuple[bytes, dict]:
    """The converter's file compacted (tinyscene.export.compact), after checking that LiteRT's
    reference kernels give the same int8 outputs for both on the first `n_check` calibration inputs."""
    out, stats = compact_tflite(data)
    k = min(int(n_check), len(calib))
    if k and not same_outputs(data, out, np.asarray(calib[:k], dtype=np.int8)):
        raise TsError("model_int8.tflite: the compacted file's int8 outputs differ from the converter's "
                      f"(LiteRT reference kernels, {k} calibration inputs) — compaction is wrong for this model")
    stats["checked_identical_inputs"] = k
    return out, stats
