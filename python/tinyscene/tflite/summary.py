"""What `tinyscene inspect` and the export report say about an int8 .tflite (read into a Graph): its ops
with shapes, the parameter count, the flash its constants take, its input and output quantisation."""
from __future__ import annotations

from tinyscene.tflite.graph import Graph, Tensor

# Builtin ops whose int8 form reads its weights from input 1 and bias from input 2.
WEIGHTED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "TRANSPOSE_CONV")


def _qp(t: Tensor) -> dict:
    q = t.quant
    return {"scale": float(q.scale[0]) if q is not None else None,
            "zero_point": int(q.zero_point[0]) if q is not None else None}


def summarize(g: Graph) -> dict:
    const = [t for t in g.tensors.values() if t.data is not None]
    weight_idx, bias_idx = set(), set()
    for op in g.ops:
        if op.kind in WEIGHTED_OPS:
            if len(op.inputs) > 1 and op.inputs[1] >= 0:
                weight_idx.add(op.inputs[1])
            if len(op.inputs) > 2 and op.inputs[2] >= 0:
                bias_idx.add(op.inputs[2])

    def nbytes(t: Tensor) -> int:
        return t.nbytes if t.shape else 0

    params = sum(t.size for t in const if t.index in weight_idx | bias_idx)
    w_bytes = sum(nbytes(g.t(i)) for i in weight_idx)
    b_bytes = sum(nbytes(g.t(i)) for i in bias_idx)
    other = sum(nbytes(t) for t in const if t.index not in weight_idx | bias_idx)
    q_bytes = sum(4 * t.quant.scale.size + 8 * t.quant.zero_point.size for t in g.tensors.values()
                  if t.quant is not None)
    inp, out = g.t(g.inputs[0]), g.t(g.outputs[0])

    def shape(i: int) -> list[int]:
        return list(g.t(i).shape)

    ops_unique = list(dict.fromkeys(op.kind for op in g.ops))
    return {
        "bytes": g.file_bytes,
        "ops": [{"index": op.index, "op": op.kind,
                 "inputs": [shape(i) for i in op.inputs if i >= 0 and g.t(i).data is None],
                 "weights": shape(op.inputs[1]) if op.kind in WEIGHTED_OPS else None,
                 "output": shape(op.outputs[0]) if op.outputs else None} for op in g.ops],
        "op_types": ops_unique,
        "op_counts": {k: sum(1 for op in g.ops if op.kind == k) for k in ops_unique},
        "input": {"name": inp.name, "shape": list(inp.shape), "dtype": inp.dtype, **_qp(inp)},
        "output": {"name": out.name, "shape": list(out.shape), "dtype": out.dtype, **_qp(out)},
        "params": int(params),
        "flash": {"weights_int8": int(w_bytes), "biases_int32": int(b_bytes), "other_constants": int(other),
                  "quant_params": int(q_bytes), "total_constants": int(w_bytes + b_bytes + other),
                  "file": g.file_bytes},
        "tensors": len(g.tensors),
        "macs": int(sum(op.macs for op in g.ops)),
    }


__all__ = ["WEIGHTED_OPS", "summarize"]
