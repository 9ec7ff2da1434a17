"""The one .tflite reader: a file -> tinyscene.tflite.graph.Graph (subgraph 0: tensors with shapes, dtypes,
quantisation and constant data; ops with their options and MACs; the op kinds of every subgraph), through
TFLite's flatc-generated schema (tinyscene.tflite.schema). The compiler, the TFLM runtime, the export and
`inspect` all read models here; a file that is not a readable model is a TsError naming it.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from tinyscene.errors import TsError
from tinyscene.tflite import schema as S
from tinyscene.tflite.graph import DTYPE_BYTES, NUMPY_DTYPES, Graph, Op, Quant, Tensor
from tinyscene.tflite.macs import op_macs


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _options(obj) -> dict:
    if obj is None:
        return {}
    out = {}
    for k, v in vars(obj).items():
        if isinstance(v, np.ndarray):
            v = v.tolist()
        out[_snake(k)] = v
    return out


def read_tflite(path: str | Path) -> Graph:
    """Parse `path` into a Graph. Raises TsError for a file that is not a readable TFLite model."""
    path = Path(path)
    try:
        blob = path.read_bytes()
    except OSError as e:
        raise TsError(f"{path}: cannot read ({e.strerror})") from None
    return read_tflite_bytes(blob, str(path))


def read_tflite_bytes(blob: bytes, where: str = "model") -> Graph:
    if len(blob) < 16 or not S.has_identifier(blob):
        raise TsError(f"{where}: not a TFLite model (no 'TFL3' flatbuffer identifier; {len(blob)} bytes)")
    try:
        model = S.unpack(blob)
    except Exception as e:  # the flatbuffers runtime raises IndexError/struct.error/... on bad offsets
        raise TsError(f"{where}: corrupt or truncated TFLite file ({type(e).__name__}: {e})") from None
    if not model.subgraphs:
        raise TsError(f"{where}: corrupt TFLite file (no subgraph)")
    sg = model.subgraphs[0]
    type_names = S.type_names()
    buffers = model.buffers or []

    tensors: dict[int, Tensor] = {}
    for i, t in enumerate(sg.tensors or []):
        name = t.name.decode(errors="replace") if isinstance(t.name, bytes) else str(t.name or f"t{i}")
        dtype = type_names.get(t.type, f"type{t.type}")
        shape = tuple(int(d) for d in (t.shape if t.shape is not None else []))
        if any(d < 0 for d in shape):
            raise TsError(f"{where}: tensor {i} '{name}' has a dynamic shape {list(shape)}")
        if int(np.prod(shape, dtype=np.float64)) * DTYPE_BYTES.get(dtype, 1) > (1 << 31):
            raise TsError(f"{where}: corrupt TFLite file (tensor {i} '{name}' of shape {list(shape)} is over 2 GiB)")
        if t.sparsity is not None:
            raise TsError(f"{where}: tensor {i} '{name}' is sparse (not supported)")
        quant = None
        q = t.quantization
        if q is not None and q.scale is not None and len(q.scale) > 0:
            zp = q.zeroPoint if q.zeroPoint is not None and len(q.zeroPoint) else np.zeros(len(q.scale))
            quant = Quant(scale=np.asarray(q.scale, dtype=np.float32),
                          zero_point=np.asarray(zp, dtype=np.int64), axis=int(q.quantizedDimension))
        data = None
        if 0 < t.buffer < len(buffers):
            b = buffers[t.buffer]
            raw = None
            if b.data is not None and len(b.data):
                raw = np.asarray(b.data, dtype=np.uint8).tobytes()
            elif b.offset and b.offset > 1:  # large models keep buffers after the flatbuffer
                if b.offset + b.size > len(blob):
                    raise TsError(f"{where}: truncated TFLite file (tensor {i} '{name}' data at "
                                  f"{b.offset}+{b.size} is past the end, {len(blob)} bytes)")
                raw = blob[b.offset:b.offset + b.size]
            if raw is not None and dtype not in NUMPY_DTYPES:  # int4, strings, ...: raw bytes, for the ops to refuse
                data = np.frombuffer(raw, dtype=np.uint8).copy()
            elif raw is not None:
                expected = int(np.prod(shape, dtype=np.int64)) * DTYPE_BYTES[dtype]
                if len(raw) != expected:
                    raise TsError(f"{where}: corrupt or truncated TFLite file (tensor {i} '{name}' has "
                                  f"{len(raw)} bytes of data, its shape {list(shape)} needs {expected})")
                data = np.frombuffer(raw, dtype=np.dtype(NUMPY_DTYPES[dtype]).newbyteorder("<")).reshape(shape)
                data = data.astype(NUMPY_DTYPES[dtype])
        tensors[i] = Tensor(index=i, name=name, shape=shape, dtype=dtype, quant=quant, data=data)

    kinds = [_op_kind(oc) for oc in model.operatorCodes or []]
    ops: list[Op] = []
    for k, op in enumerate(sg.operators or []):
        if op.opcodeIndex >= len(kinds):
            raise TsError(f"{where}: corrupt TFLite file (op {k} has opcode index {op.opcodeIndex})")
        kind = kinds[op.opcodeIndex]
        ins = [int(x) for x in (op.inputs if op.inputs is not None else [])]
        outs = [int(x) for x in (op.outputs if op.outputs is not None else [])]
        for x in ins + outs:
            if x >= len(tensors) or x < -1 or (x < 0 and x in outs):
                raise TsError(f"{where}: corrupt TFLite file (op {k} {kind} names tensor {x} of {len(tensors)})")
        opts = _options(op.builtinOptions)
        if op.builtinOptions2 is not None:
            opts.update(_options(op.builtinOptions2))
        ops.append(Op(index=k, kind=kind, inputs=ins, outputs=outs, options=opts))
        ops[-1].macs = op_macs(ops[-1], tensors)
    op_codes = []
    for g in model.subgraphs:
        for op in g.operators or []:
            if op.opcodeIndex < len(kinds) and kinds[op.opcodeIndex] not in op_codes:
                op_codes.append(kinds[op.opcodeIndex])

    inputs = [int(x) for x in (sg.inputs if sg.inputs is not None else [])]
    outputs = [int(x) for x in (sg.outputs if sg.outputs is not None else [])]
    if not inputs or not outputs:
        raise TsError(f"{where}: the model has no inputs or no outputs")
    for x in inputs + outputs:
        if not 0 <= x < len(tensors):
            raise TsError(f"{where}: corrupt TFLite file (graph input/output names tensor {x} of {len(tensors)})")
    for i in inputs:
        # An unknown batch (-1 first) runs as 1, like TFLM; any other unknown input dimension makes every
        # shape downstream a guess. (Intermediate signatures only echo the inputs' and are not checked.)
        sig = sg.tensors[i].shapeSignature
        if sig is not None and len(sig) and any(int(d) < 0 for d in list(sig)[1:]):
            raise TsError(f"{where}: input tensor {i} '{tensors[i].name}' has a dynamic shape "
                          f"{[int(d) for d in sig]} (only the batch dimension may be unknown)")
    desc = model.description.decode(errors="replace") if isinstance(model.description, bytes) else ""
    return Graph(tensors=tensors, ops=ops, inputs=inputs, outputs=outputs, source=where, description=desc,
                 sha256=hashlib.sha256(blob).hexdigest(), file_bytes=len(blob), subgraphs=len(model.subgraphs),
                 op_codes=op_codes)


def _op_kind(oc) -> str:
    """BUILTIN name of an operator code (the larger of the old and new code fields), or CUSTOM:<name>."""
    code = max(int(oc.builtinCode or 0), int(oc.deprecatedBuiltinCode or 0))
    kind = S.builtin_names().get(code, f"BUILTIN_{code}")
    if kind == "CUSTOM":
        cname = oc.customCode.decode(errors="replace") if isinstance(oc.customCode, bytes) else str(oc.customCode)
        kind = f"CUSTOM:{cname}"
    return kind
