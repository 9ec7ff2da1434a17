"""torch → ONNX: static shapes, batch 1, opset 17, one self-contained file, simplified and checked.

The model's input is the dequantised int8 front-end output in torch's layout, float32
[1, channels, n_mels, frames] (NCHW); its output the logits [1, n_classes].

Before anything is traced, every parameter and buffer is checked for NaN/inf (the error names the
layer), and after tracing every ONNX node must be an op that has an int8 TFLite form (the error
names the layer the node came from).
"""
from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

from tinyscene.errors import TsError

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

    from tinyscene.export.quiet import quiet
    from tinyscene.util.atomic import atomic_path

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
