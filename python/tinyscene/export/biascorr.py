"""Output bias correction: a calibration step after int8 conversion.

Rounding every weight and activation of the network does not only add noise to the int8 logits, it
also shifts them: each class's logit is off by a roughly constant amount (measured on the paper
preset trained on synthetic data: -0.053, -0.003, +0.013 on the three logits, about one int8
output step on the first, the same on the train and the evaluate split). A near-tie between two
classes then flips one way more often than the other. The correction is the empirical bias
correction of post-training quantisation applied to the layer that produces the logits: on the
calibration inputs, the mean difference between the int8 logits (LiteRT reference kernels,
dequantised) and the float ones (onnxruntime) is taken per class and subtracted from that layer's
int32 bias, in its own units (input scale x weight scale of the channel). Samples where the int8
output saturates are left out of the mean. Nothing else changes, so LiteRT, tflite_micro and the
generated C stay bit-exact with each other; the correction is kept only when it reduces the mean
absolute logit error on those inputs.
"""
from __future__ import annotations

import numpy as np

from tinyscene.errors import TsError
from tinyscene.export.compact import pack_model, unpack_model
from tinyscene.tflite.graph import Op
from tinyscene.tflite.interpreters import litert_interpreter, run_litert
from tinyscene.tflite.reader import read_tflite_bytes

BIASED_OPS = ("CONV_2D", "FULLY_CONNECTED", "DEPTHWISE_CONV_2D")
PASS_THROUGH = ("RESHAPE",)


def output_layer(data: bytes) -> tuple[dict | None, str]:
    """(the op that computes the graph's single output through reshapes, with its input, weight and bias
    tensors, or None, why not)."""
    g = read_tflite_bytes(data)
    if len(g.outputs) != 1:
        return None, f"{len(g.outputs)} outputs"
    op: Op | None = g.producer(g.outputs[0])
    while op is not None and op.kind in PASS_THROUGH:
        op = g.producer(op.inputs[0])
    if op is None or op.kind not in BIASED_OPS:
        return None, f"the output comes from {op.kind if op else 'no op'}, not a layer with a bias"
    if len(op.inputs) < 3 or op.inputs[2] < 0:
        return None, f"the output layer ({op.kind}, op {op.index}) has no bias"
    x, w, b = (g.t(i) for i in op.inputs[:3])
    if b.data is None or b.dtype != "int32" or x.quant is None or w.quant is None:
        return None, f"the output layer ({op.kind}, op {op.index}) has no int32 constant bias"
    return {"op": op, "input": x, "weights": w, "bias": b, "graph": g}, ""


def correct_output_bias(data: bytes, q_nhwc: np.ndarray, y_float: np.ndarray) -> tuple[bytes, dict]:
    """(corrected .tflite, record). q_nhwc: int8 inputs [N, ...]; y_float: the float model's logits
    [N, classes] on the same inputs."""
    rec: dict = {"applied": False, "samples": int(len(q_nhwc))}
    layer, why = output_layer(data)
    if layer is None:
        rec["reason"] = why
        return data, rec
    y8 = run_litert(data, q_nhwc, reference=True).astype(np.float32)
    osc, ozp = litert_interpreter(data, True).get_output_details()[0]["quantization"]
    y_float = np.asarray(y_float, dtype=np.float32).reshape(y8.shape)
    err = (y8 - ozp) * osc - y_float
    unsat = (y8 > -128) & (y8 < 127)
    n_c = unsat.sum(axis=0)
    mean_err = np.where(n_c > 0, np.where(unsat, err, 0.0).sum(axis=0) / np.maximum(n_c, 1), 0.0)
    bias = layer["bias"].data.astype(np.int64).reshape(-1)
    n_out = bias.size
    if mean_err.size != n_out:
        rec["reason"] = f"{mean_err.size} outputs for {n_out} bias values"
        return data, rec
    s_in = float(layer["input"].quant.scale[0])
    s_w = np.asarray(layer["weights"].quant.scale, dtype=np.float64)
    unit = s_in * (s_w if s_w.size == n_out else np.full(n_out, s_w[0]))
    delta = np.rint(-mean_err / unit).astype(np.int64)
    new_bias = np.clip(bias + delta, -(2 ** 31) + 1, 2 ** 31 - 2).astype(np.int32)

    schema, model = unpack_model(data)
    t = model.subgraphs[0].tensors[layer["bias"].index]
    model.buffers[t.buffer].data = np.frombuffer(new_bias.astype("<i4").tobytes(), dtype=np.uint8).copy()
    out = pack_model(schema, model, len(data))

    y9 = run_litert(out, q_nhwc, reference=True).astype(np.float32)
    err2 = (y9 - ozp) * osc - y_float
    before, after = float(np.mean(np.abs(err))), float(np.mean(np.abs(err2)))
    rec.update({"layer": f"{layer['op'].kind} (op {layer['op'].index})",
                "mean_error_before": [round(float(v), 5) for v in mean_err],
                "mean_error_after": [round(float(v), 5) for v in err2.mean(axis=0)],
                "mean_abs_error_before": round(before, 5), "mean_abs_error_after": round(after, 5),
                "bias_delta": [int(v) for v in delta]})
    if not np.any(delta) or after >= before:
        rec["reason"] = "no reduction of the logit error" if np.any(delta) else "no offset to correct"
        return data, rec
    if not np.array_equal(new_bias.astype(np.int64), bias + delta):
        raise TsError("output bias correction: the corrected bias leaves the int32 range")
    rec["applied"] = True
    return out, rec


__all__ = ["correct_output_bias", "output_layer"]
