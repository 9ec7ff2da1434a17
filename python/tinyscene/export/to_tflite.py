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
from pathlib import Path

import numpy as np

from tinyscene.errors import TsError

# Builtin ops whose int8 form reads its weights from input 1 and bias from input 2.
WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")
FORBIDDEN_OPS = {
    "TRANSPOSE": "a layout transpose left by the NCHW -> NHWC conversion",
    "DEQUANTIZE": "a float32 island in the int8 graph",
}
COMPACTION_CHECK_SAMPLES = 3  # calibration inputs run before and after compaction (must be identical)
_TYPE_NAMES = {0: "float32", 1: "float16", 2: "int32", 3: "uint8", 4: "int64", 7: "int16", 9: "int8",
               6: "bool", 10: "float64", 17: "int4"}
_TYPE_BYTES = {"float32": 4, "float16": 2, "int32": 4, "uint8": 1, "int64": 8, "int16": 2, "int8": 1,
               "bool": 1, "float64": 8}


# ----------------------------------------------------------------------------------------------
# Reading a .tflite (TensorFlow's generated flatbuffer schema)
# ----------------------------------------------------------------------------------------------

_SCHEMA = None


def _schema():
    """TensorFlow's generated TFLite schema module. It needs only flatbuffers and numpy, so it is
    loaded from its file without importing (and initialising) the whole of TensorFlow."""
    global _SCHEMA
    if _SCHEMA is not None:
        return _SCHEMA
    import importlib.util
    import sys

    mod = sys.modules.get("tensorflow.lite.python.schema_py_generated")
    if mod is None:
        spec = importlib.util.find_spec("tensorflow")
        path = Path(spec.origin).parent / "lite" / "python" / "schema_py_generated.py" if spec and spec.origin else None
        if path is not None and path.is_file():
            s = importlib.util.spec_from_file_location("_ts_tflite_schema", path)
            mod = importlib.util.module_from_spec(s)
            s.loader.exec_module(mod)
        else:
            from tinyscene.export.quiet import quiet

            try:
                with quiet():
                    from tensorflow.lite.python import schema_py_generated as mod
            except ImportError as e:
                raise TsError(f"tensorflow's TFLite schema module is not importable ({e})") from None
    _SCHEMA = mod
    return mod


def _op_names(schema) -> dict[int, str]:
    return {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def read_tflite(data: bytes, source: str = "model") -> dict:
    """A plain-dict view of a .tflite: tensors, ops, inputs/outputs, buffers' sizes."""
    schema = _schema()
    try:
        if not schema.Model.ModelBufferHasIdentifier(data, 0):
            raise ValueError("no TFL3 identifier")
        model = schema.Model.GetRootAsModel(data, 0)
        if model.SubgraphsLength() < 1:
            raise ValueError("no subgraph")
    except Exception as e:
        raise TsError(f"{source}: not a TFLite flatbuffer ({e})") from None
    names = _op_names(schema)
    opcodes = []
    for i in range(model.OperatorCodesLength()):
        oc = model.OperatorCodes(i)
        code = max(int(oc.BuiltinCode()), int(oc.DeprecatedBuiltinCode()))
        name = names.get(code, f"BUILTIN_{code}")
        if name == "CUSTOM":
            name = "CUSTOM:" + (oc.CustomCode() or b"?").decode(errors="replace")
        opcodes.append(name)
    g = model.Subgraphs(0)
    buffers = []
    for i in range(model.BuffersLength()):
        b = model.Buffers(i)
        n = b.DataLength()
        if n == 0 and b.Size() > 0:  # large models keep buffers after the flatbuffer (offset/size)
            n = int(b.Size())
        buffers.append(n)
    tensors = []
    for i in range(g.TensorsLength()):
        t = g.Tensors(i)
        q = t.Quantization()
        scales = q.ScaleAsNumpy() if q is not None and q.ScaleLength() else np.zeros(0, np.float32)
        zps = q.ZeroPointAsNumpy() if q is not None and q.ZeroPointLength() else np.zeros(0, np.int64)
        dtype = _TYPE_NAMES.get(int(t.Type()), f"type{t.Type()}")
        buf = int(t.Buffer())
        tensors.append({
            "index": i, "name": (t.Name() or b"").decode(errors="replace"),
            "shape": [int(v) for v in (t.ShapeAsNumpy() if t.ShapeLength() else [])],
            "dtype": dtype, "buffer": buf, "const": buf > 0 and buf < len(buffers) and buffers[buf] > 0,
            "scales": np.asarray(scales, dtype=np.float32), "zero_points": np.asarray(zps, dtype=np.int64),
            "quantized_dimension": int(q.QuantizedDimension()) if q is not None else 0,
        })
    ops = []
    for i in range(g.OperatorsLength()):
        op = g.Operators(i)
        ops.append({"index": i, "op": opcodes[op.OpcodeIndex()],
                    "inputs": [int(v) for v in (op.InputsAsNumpy() if op.InputsLength() else [])],
                    "outputs": [int(v) for v in (op.OutputsAsNumpy() if op.OutputsLength() else [])]})
    return {
        "subgraphs": int(model.SubgraphsLength()),
        "tensors": tensors, "ops": ops, "buffers": buffers,
        "inputs": [int(v) for v in g.InputsAsNumpy()], "outputs": [int(v) for v in g.OutputsAsNumpy()],
        "bytes": len(data),
    }


def buffer_array(data: bytes, tensor: dict) -> np.ndarray:
    """The constant data of a tensor as a numpy array of its dtype and shape."""
    schema = _schema()
    model = schema.Model.GetRootAsModel(data, 0)
    b = model.Buffers(tensor["buffer"])
    dt = np.dtype({"int8": np.int8, "int32": np.int32, "float32": np.float32, "int64": np.int64,
                   "int16": np.int16, "uint8": np.uint8}[tensor["dtype"]])
    if b.DataLength():
        raw = b.DataAsNumpy().tobytes()
    else:
        off, size = int(b.Offset()), int(b.Size())
        raw = data[off:off + size]
    return np.frombuffer(raw, dtype=dt).reshape(tensor["shape"] or [-1])


def summarize(data: bytes, source: str = "model") -> dict:
    """What `tinyscene inspect` prints: ops, tensor shapes, parameters, weight bytes, quantisation."""
    m = read_tflite(data, source)
    t = m["tensors"]
    const = [x for x in t if x["const"]]
    weight_idx = set()
    bias_idx = set()
    for op in m["ops"]:
        if op["op"] in WEIGHTED_OPS:
            if len(op["inputs"]) > 1 and op["inputs"][1] >= 0:
                weight_idx.add(op["inputs"][1])
            if len(op["inputs"]) > 2 and op["inputs"][2] >= 0:
                bias_idx.add(op["inputs"][2])

    def nbytes(x):
        return int(np.prod(x["shape"], dtype=np.int64)) * _TYPE_BYTES.get(x["dtype"], 1) if x["shape"] else 0

    params = sum(int(np.prod(x["shape"], dtype=np.int64)) for x in const if x["index"] in weight_idx | bias_idx)
    w_bytes = sum(nbytes(t[i]) for i in weight_idx)
    b_bytes = sum(nbytes(t[i]) for i in bias_idx)
    other = sum(nbytes(x) for x in const if x["index"] not in weight_idx | bias_idx)
    q_bytes = sum(4 * len(x["scales"]) + 8 * len(x["zero_points"]) for x in t)
    inp, out = t[m["inputs"][0]], t[m["outputs"][0]]

    def qp(x):
        return {"scale": float(x["scales"][0]) if len(x["scales"]) else None,
                "zero_point": int(x["zero_points"][0]) if len(x["zero_points"]) else None}

    ops_unique = list(dict.fromkeys(op["op"] for op in m["ops"]))
    return {
        "bytes": m["bytes"],
        "ops": [{"index": op["index"], "op": op["op"],
                 "inputs": [t[i]["shape"] for i in op["inputs"] if i >= 0 and not t[i]["const"]],
                 "weights": t[op["inputs"][1]]["shape"] if op["op"] in WEIGHTED_OPS else None,
                 "output": t[op["outputs"][0]]["shape"] if op["outputs"] else None} for op in m["ops"]],
        "op_types": ops_unique,
        "op_counts": {k: sum(1 for op in m["ops"] if op["op"] == k) for k in ops_unique},
        "input": {"name": inp["name"], "shape": inp["shape"], "dtype": inp["dtype"], **qp(inp)},
        "output": {"name": out["name"], "shape": out["shape"], "dtype": out["dtype"], **qp(out)},
        "params": int(params),
        "flash": {"weights_int8": int(w_bytes), "biases_int32": int(b_bytes), "other_constants": int(other),
                  "quant_params": int(q_bytes), "total_constants": int(w_bytes + b_bytes + other),
                  "file": m["bytes"]},
        "tensors": len(t),
    }


# ----------------------------------------------------------------------------------------------
# Conversion
# ----------------------------------------------------------------------------------------------

def onnx_to_keras(onnx_path: str | os.PathLike, workdir: str | os.PathLike):
    """The Keras (tf_keras) model onnx2tf builds from the ONNX file: NHWC input, NCHW-free graph."""
    from tinyscene.export.quiet import quiet, tf_env

    tf_env()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    with quiet() as cap:
        try:
            import onnx2tf

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
    import re

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
    from tinyscene.export.quiet import import_tf, quiet

    tf = import_tf()
    samples, added = with_range_ends(np.asarray(calib, dtype=np.int8))

    def representative():
        for q in samples:
            yield [dequantize(q[None], scale, zero_point)]

    with quiet() as cap:
        try:
            conv = tf.lite.TFLiteConverter.from_keras_model(km)
            conv.optimizations = [tf.lite.Optimize.DEFAULT]
            conv.representative_dataset = representative
            conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            conv.inference_input_type = tf.int8
            conv.inference_output_type = tf.int8
            # Fully connected layers per tensor: LiteRT's per-channel FULLY_CONNECTED requantises with
            # single rounding, tflite_micro's with double rounding, so per-channel FC outputs differ by
            # 1 LSB on some inputs; per tensor, both use the same (TFLM's) arithmetic. Convolutions stay
            # per channel.
            conv._experimental_disable_per_channel_quantization_for_dense_layers = True
            data = conv.convert()
        except Exception as e:
            err = e
            data = None
        else:
            err = None
    if data is None:
        raise _converter_error(err, cap.tail(2))
    return bytes(data), {"samples": int(len(samples)), "inputs": int(len(calib)), "range_ends_added": added,
                         "min": int(calib.min()), "max": int(calib.max())}


def check_int8_model(data: bytes, scale: float, zero_point: int, input_shape=None,
                     source: str = "model_int8.tflite") -> dict:
    """The post-conversion checks of the module docstring; returns `summarize(data)`."""
    m = read_tflite(data, source)
    t = m["tensors"]
    if m["subgraphs"] != 1:
        raise TsError(f"{source}: {m['subgraphs']} subgraphs (expected one)")
    if len(m["inputs"]) != 1 or len(m["outputs"]) != 1:
        raise TsError(f"{source}: {len(m['inputs'])} inputs / {len(m['outputs'])} outputs (expected 1 / 1)")
    inp, out = t[m["inputs"][0]], t[m["outputs"][0]]
    if inp["dtype"] != "int8" or out["dtype"] != "int8":
        raise TsError(f"{source}: input {inp['dtype']}, output {out['dtype']} (expected int8 / int8)")
    if input_shape is not None and list(inp["shape"]) != list(input_shape):
        raise TsError(f"{source}: input shape {inp['shape']} is not the front-end's NHWC {list(input_shape)}")
    for op in m["ops"]:
        name = op["op"]
        where = f"{source}: op {name} (index {op['index']}, output '{t[op['outputs'][0]]['name']}')" \
            if op["outputs"] else f"{source}: op {name} (index {op['index']})"
        if name in FORBIDDEN_OPS:
            raise TsError(f"{where}: {FORBIDDEN_OPS[name]} — not allowed in the int8 graph")
        if name.startswith("CUSTOM:") or name.startswith("BUILTIN_"):
            raise TsError(f"{where}: not a builtin int8 op")
        for i in op["inputs"] + op["outputs"]:
            if i < 0:
                continue
            x = t[i]
            if x["dtype"] in ("float32", "float16", "float64"):
                raise TsError(f"{where}: tensor '{x['name']}' is {x['dtype']} — this op has no int8 form here")
            if not x["const"] and x["dtype"] not in ("int8", "int32", "int16"):
                raise TsError(f"{where}: activation '{x['name']}' is {x['dtype']}")
    for x in t:
        s = x["scales"]
        if len(s) and (not np.all(np.isfinite(s)) or np.any(s <= 0)):
            bad = int(np.flatnonzero(~np.isfinite(s) | (s <= 0))[0])
            raise TsError(f"{source}: tensor '{x['name']}' has scale {s[bad]} on channel {bad} "
                          "(a degenerate quantisation scale)")
    per_channel = True
    for op in m["ops"]:
        if op["op"] not in WEIGHTED_OPS:
            continue
        w = t[op["inputs"][1]]
        dim = w["quantized_dimension"]
        n_out = w["shape"][dim] if w["shape"] else 1
        if n_out > 1 and len(w["scales"]) != n_out:
            per_channel = False
            if op["op"] != "FULLY_CONNECTED":
                raise TsError(f"{source}: op {op['op']} (index {op['index']}) weights '{w['name']}' have "
                              f"{len(w['scales'])} scale(s) for {n_out} output channels (expected per-channel)")
        if len(op["inputs"]) > 2 and op["inputs"][2] >= 0:
            b = t[op["inputs"][2]]
            if b["const"] and b["dtype"] == "int32":
                v = buffer_array(data, b)
                if np.any(v == np.iinfo(np.int32).max) or np.any(v == np.iinfo(np.int32).min):
                    raise TsError(f"{source}: op {op['op']} (index {op['index']}) bias '{b['name']}' "
                                  "saturates int32 (bias too large for input scale x weight scale)")
    s_in = float(inp["scales"][0]) if len(inp["scales"]) else None
    z_in = int(inp["zero_points"][0]) if len(inp["zero_points"]) else None
    if s_in is None or np.float32(s_in) != np.float32(scale) or z_in != int(zero_point):
        raise TsError(f"{source}: int8 input quantisation (scale {s_in!r}, zero point {z_in}) differs from the "
                      f"front-end's (scale {float(np.float32(scale))!r}, zero point {int(zero_point)}): the "
                      "device could not feed the front-end's bytes unchanged")
    info = summarize(data, source)
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
        from tinyscene.export.biascorr import correct_output_bias
        from tinyscene.export.ladder import run_onnx, to_nchw_float

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
    from tinyscene.export.compact import compact_tflite, same_outputs

    out, stats = compact_tflite(data)
    k = min(int(n_check), len(calib))
    if k and not same_outputs(data, out, np.asarray(calib[:k], dtype=np.int8)):
        raise TsError("model_int8.tflite: the compacted file's int8 outputs differ from the converter's "
                      f"(LiteRT reference kernels, {k} calibration inputs) — compaction is wrong for this model")
    stats["checked_identical_inputs"] = k
    return out, stats
