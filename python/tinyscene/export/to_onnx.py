"""torch → ONNX: static shapes, batch 1, opset 17, one self-contained file, simplified and checked.

The model's input is the dequantised int8 front-end output in torch's layout, float32
[1, channels, n_mels, frames] (NCHW); its output the logits [1, n_classes].

Before anything is traced, every parameter and buffer is checked for NaN/inf (the error names the
layer), and after tracing every ONNX node must be an op that has an int8 TFLite form (the error
names the layer the node came from).

Fully connected layers (ONNX Gemm on a [1, C] vector) are written as the same weights in a 1x1
convolution on [1, C, 1, 1] between two reshapes. The result is the same float function, and the
int8 graph then has CONV_2D + RESHAPE instead of FULLY_CONNECTED: LiteRT's reference
FULLY_CONNECTED requantises with single rounding where tflite_micro (and so the device) uses
double rounding, so an int8 FULLY_CONNECTED differs from tflite_micro by one step on about 1% of
inputs, while their CONV_2D agree bit for bit.
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numpy as np

from tinyscene.errors import TsError
from tinyscene.util.atomic import atomic_path
from tinyscene.util.quiet import quiet

OPSET = 17
INPUT_NAME = "input"
OUTPUT_NAME = "logits"

# ONNX ops that onnx2tf + the TFLite converter turn into int8 builtin ops (BN folds into the
# convolution before it, or becomes an int8 MUL/ADD; Dropout/Identity vanish in eval mode).
INT8_ONNX_OPS = frozenset({
    "Conv", "BatchNormalization", "Relu", "Clip", "LeakyRelu", "Sigmoid", "Tanh", "HardSwish",
    "Add", "Sub", "Mul", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
    "ReduceMean", "ReduceMax", "Gemm", "MatMul", "Flatten", "Reshape", "Squeeze", "Unsqueeze",
    "Concat", "Pad", "Softmax", "Identity", "Dropout", "Constant",
})


def layer_of_node(node_name: str) -> str:
    """The PyTorch module path of a node of the TorchScript exporter ('/blocks.0/conv1/Conv' ->
    'blocks.0.conv1'); 'the top-level forward' when the node is not inside a submodule."""
    parts = [p for p in node_name.split("/") if p]
    if len(parts) <= 1:
        return "the top-level forward"
    return ".".join(parts[:-1])


def check_weights(model) -> None:
    """TsError naming the layer of the first parameter/buffer that holds NaN or inf."""
    import torch

    for kind, items in (("parameter", model.named_parameters()), ("buffer", model.named_buffers())):
        for name, t in items:
            if not torch.is_floating_point(t):
                continue
            bad = ~torch.isfinite(t.detach())
            n = int(bad.sum())
            if n:
                layer, _, leaf = name.rpartition(".")
                nan = int(torch.isnan(t.detach()).sum())
                raise TsError(f"layer {layer or '(model)'}: {kind} '{leaf}' has {n} non-finite value(s) "
                              f"({nan} NaN, {n - nan} inf) — the model cannot be quantised")


def check_ops(model_proto) -> Counter:
    """Counts of the graph's op types; TsError for a node whose op has no int8 TFLite form."""
    counts: Counter = Counter()
    for node in model_proto.graph.node:
        counts[node.op_type] += 1
        if node.op_type not in INT8_ONNX_OPS:
            raise TsError(f"layer {layer_of_node(node.name)} (ONNX node {node.name or '?'}): op "
                          f"{node.op_type} has no int8 TFLite form (supported: "
                          f"{', '.join(sorted(INT8_ONNX_OPS))})")
    return counts


def export_onnx(model, input_shape, path: str | os.PathLike, opset: int = OPSET) -> dict:
    """Trace `model` (eval mode, CPU) on a [1, *input_shape] input and write the simplified ONNX to
    `path` (one file, weights inside). Returns a summary (opset, ops, input/output shapes)."""
    import onnx
    import onnxsim
    import torch


    if opset < 17:
        raise TsError(f"ONNX opset {opset}: the export needs opset >= 17")
    shape = [1] + [int(v) for v in input_shape]
    if len(shape) != 4 or min(shape) < 1:
        raise TsError(f"model input shape {list(input_shape)}: expected [channels, n_mels, frames]")
    model = model.eval().cpu().float()
    check_weights(model)
    path = Path(path)
    x = torch.zeros(shape, dtype=torch.float32)
    with atomic_path(path) as tmp:
        with quiet() as cap:
            try:
                torch.onnx.export(model, (x,), str(tmp), opset_version=opset, input_names=[INPUT_NAME],
                                  output_names=[OUTPUT_NAME], do_constant_folding=True, dynamo=False,
                                  export_params=True)
            except Exception as e:
                raise TsError(f"torch.onnx.export failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
                              f" {cap.tail(2)}".strip()) from None
        traced = onnx.load(str(tmp))
        with quiet() as cap:
            try:
                simplified, ok = onnxsim.simplify(traced)
            except Exception as e:
                raise TsError(f"onnxsim: simplification failed ({type(e).__name__}: {e})") from None
        if not ok:
            raise TsError("onnxsim: the simplified model does not match the original on random inputs")
        simplified = gemm_to_conv(simplified)
        counts = check_ops(simplified)
        try:
            onnx.checker.check_model(simplified, full_check=True)
        except Exception as e:
            raise TsError(f"onnx.checker: {str(e).splitlines()[0]}") from None
        if simplified.ByteSize() >= 2 ** 31 - 1:
            raise TsError("model.onnx: over 2 GB, cannot be one self-contained file")
        onnx.save_model(simplified, str(tmp), save_as_external_data=False)
    info = onnx_summary(path)
    if info["input"]["shape"] != shape:
        raise TsError(f"{path}: input shape {info['input']['shape']} is not the static {shape}")
    info["ops"] = dict(sorted(counts.items()))
    return info


def onnx_summary(path: str | os.PathLike) -> dict:
    import onnx

    m = onnx.load(str(path), load_external_data=False)
    for init in m.graph.initializer:
        if init.data_location == onnx.TensorProto.EXTERNAL:
            raise TsError(f"{path}: initializer {init.name} is stored outside the file")

    def shape_of(vi):
        dims = []
        for d in vi.type.tensor_type.shape.dim:
            if not d.HasField("dim_value"):
                raise TsError(f"{path}: {vi.name} has a dynamic dimension '{d.dim_param}'")
            dims.append(int(d.dim_value))
        return dims

    opset = max((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), default=0)
    params = sum(int(_numel(init.dims)) for init in m.graph.initializer)
    return {"opset": int(opset), "nodes": len(m.graph.node), "params": params,
            "input": {"name": m.graph.input[0].name, "shape": shape_of(m.graph.input[0])},
            "output": {"name": m.graph.output[0].name, "shape": shape_of(m.graph.output[0])}}


def _numel(dims) -> int:
    n = 1
    for d in dims:
        n *= int(d)
    return n


def gemm_to_conv(model_proto):
    """Rewrite each Gemm Y = A @ W^T + b with A [1, C] (alpha = beta = 1, no transA) as
    Reshape(A, [1, C, 1, 1]) -> Conv 1x1 (W as [K, C, 1, 1], b) -> Reshape([1, K]).
    Other Gemms are left as they are."""
    import onnx
    from onnx import helper, numpy_helper

    g = model_proto.graph
    inits = {i.name: i for i in g.initializer}
    try:
        inferred = onnx.shape_inference.infer_shapes(model_proto)
    except Exception:
        return model_proto
    shapes = {}
    for vi in list(inferred.graph.value_info) + list(inferred.graph.input) + list(inferred.graph.output):
        dims = [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    nodes = []
    changed = False
    for n in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        ok = (n.op_type == "Gemm" and len(n.input) >= 2 and n.input[1] in inits
              and (len(n.input) < 3 or not n.input[2] or n.input[2] in inits)
              and attrs.get("transA", 0) == 0 and shapes.get(n.input[0], [None])[0] == 1
              and len(shapes.get(n.input[0], [])) == 2)
        if not ok:
            nodes.append(n)
            continue
        alpha, beta = float(attrs.get("alpha", 1.0)), float(attrs.get("beta", 1.0))
        w = numpy_helper.to_array(inits[n.input[1]]).astype(np.float32)
        if not attrs.get("transB", 0):
            w = w.T
        k, c = w.shape
        w = (alpha * w).reshape(k, c, 1, 1)
        prefix = n.name.rsplit("/", 1)[0] if "/" in (n.name or "") else (n.name or n.output[0])
        base = prefix + "/GemmAsConv"
        names = {"w": base + "/weight", "b": base + "/bias", "s4": base + "/shape4", "s2": base + "/shape2",
                 "x4": base + "/x4", "y4": base + "/y4"}
        new_inits = [numpy_helper.from_array(w, names["w"]),
                     numpy_helper.from_array(np.array([1, c, 1, 1], np.int64), names["s4"]),
                     numpy_helper.from_array(np.array([1, k], np.int64), names["s2"])]
        conv_in = [names["x4"], names["w"]]
        if len(n.input) >= 3 and n.input[2]:
            b = numpy_helper.to_array(inits[n.input[2]]).astype(np.float32).reshape(-1)
            if b.size == 1:
                b = np.full(k, b[0], np.float32)
            if b.size != k:
                nodes.append(n)
                continue
            new_inits.append(numpy_helper.from_array(beta * b, names["b"]))
            conv_in.append(names["b"])
        g.initializer.extend(new_inits)
        nodes += [helper.make_node("Reshape", [n.input[0], names["s4"]], [names["x4"]], name=base + "Reshape"),
                  helper.make_node("Conv", conv_in, [names["y4"]], name=base, kernel_shape=[1, 1]),
                  helper.make_node("Reshape", [names["y4"], names["s2"]], [n.output[0]], name=base + "Reshape_1")]
        changed = True
    if not changed:
        return model_proto
    del g.node[:]
    g.node.extend(nodes)
    still = {i for nd in g.node for i in nd.input}
    keep = [i for i in g.initializer if i.name in still]
    del g.initializer[:]
    g.initializer.extend(keep)
    return model_proto
