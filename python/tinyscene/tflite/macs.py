"""Multiply-accumulates of one .tflite operator, from its tensors' shapes: convolutions, depthwise
convolutions, fully connected, transposed convolutions and batch matmul; 0 for every other op."""
from __future__ import annotations

import numpy as np

from tinyscene.tflite.graph import Op, Tensor


def op_macs(op: Op, tensors: dict[int, Tensor]) -> int:
    def shape(i: int) -> tuple[int, ...]:
        return tuple(tensors[op.inputs[i]].shape) if i < len(op.inputs) and op.inputs[i] >= 0 else ()

    out = tuple(tensors[op.outputs[0]].shape) if op.outputs else ()
    k = op.kind
    if k == "CONV_2D" and len(out) == 4 and len(shape(1)) == 4:
        co, kh, kw, ci = shape(1)
        return int(np.prod(out[:3])) * co * kh * kw * ci
    if k == "DEPTHWISE_CONV_2D" and len(out) == 4 and len(shape(1)) == 4:
        _, kh, kw, _ = shape(1)
        return int(np.prod(out)) * kh * kw
    if k == "FULLY_CONNECTED" and len(shape(1)) == 2:
        units, depth = shape(1)
        return int(np.prod(shape(0))) // max(depth, 1) * units * depth
    if k == "TRANSPOSE_CONV" and len(shape(2)) == 4 and len(shape(1)) == 4:
        co, kh, kw, ci = shape(1)
        return int(np.prod(shape(2)[:3])) * ci * kh * kw * co
    if k == "BATCH_MATMUL" and len(shape(0)) >= 2:
        return int(np.prod(out)) * shape(0)[-1]
    return 0
