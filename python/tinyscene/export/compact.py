"""Compaction of the converter's int8 .tflite: the same graph and the same numbers in fewer bytes.

The TFLite converter writes records that no kernel reads. `compact_tflite` unpacks the file with
TFLite's generated schema object API (`ModelT`, tinyscene.tflite.schema), drops
them and packs it again with the flatbuffers Builder (as TensorFlow's own flatbuffer_utils does;
nothing here writes flatbuffer bytes by hand):

  * tensor names: onnx2tf's long names ('model_4/tf.nn.convolution_15/convolution;...') become
    't<index>'; the graph's input and output are 'input' and 'output' (several: 'input0', ...);
  * `shape_signature` where it equals `shape` (a static graph);
  * the quantisation of int32 constants that kernels read as plain integers: the bias of CONV_2D
    and DEPTHWISE_CONV_2D (int8 kernels derive the bias scale as input scale x weight scale; LiteRT
    reference kernels, tflite_micro and tinyscene's compiler were checked bit-exact without it) and
    the index operands of PAD, RESHAPE and MEAN. FULLY_CONNECTED biases keep theirs: LiteRT and TFLM
    check a per-tensor FULLY_CONNECTED bias scale against input x weight scale;
  * the model description and the metadata: CONVERSION_METADATA (the converter's environment)
    and min_runtime_version (no interpreter reads it: LiteRT and tflite_micro load the file without);
  * the empty buffer record of every activation tensor (they all point at the empty buffer 0) and
    buffers nothing refers to.

What stays: every tensor's shape, type and quantisation (weights keep one zero point per channel
next to their per-channel scales: LiteRT refuses a zero-point list shorter than the scale list; but
each distinct quantisation record and zero-point vector is written once and shared by every tensor
that has it — the all-zero weight zero points were 5.5 KB of the paper model's file),
operators and options, the signature (LiteRT's signature runner), constant data — each constant
buffer aligned to 16 bytes as the schema's `force_align: 16` asks (the Python builder does not
apply it by itself; `Builder.Prep` does the alignment the C++ builder would).

`convert` (to_tflite.py) compacts the converter's output before any check or ladder rung, so every
rung verifies the compacted file, and it checks that LiteRT's reference kernels give identical int8
outputs before and after compaction on calibration inputs.
"""
from __future__ import annotations

import flatbuffers
import numpy as np

from tinyscene.errors import TsError
from tinyscene.tflite import schema as S
from tinyscene.tflite.interpreters import run_litert

BUFFER_ALIGN = 16
# op -> input positions of int32 constants whose quantisation no int8 kernel reads
_PLAIN_INT32_INPUTS = {
    "CONV_2D": (2,),             # bias
    "DEPTHWISE_CONV_2D": (2,),   # bias
    "PAD": (1,),                 # paddings
    "PADV2": (1,),
    "RESHAPE": (1,),             # new shape
    "MEAN": (1,),                # axes
}
_DROP_METADATA = ("CONVERSION_METADATA", "min_runtime_version")


def _aligned_buffer_type(schema):
    class AlignedBufferT(schema.BufferT):
        """A Buffer whose data vector starts on a BUFFER_ALIGN boundary (schema: force_align: 16)."""

        def Pack(self, builder):
            if isinstance(self.data, np.ndarray) and self.data.size:
                # align so that the data (written next, by BufferT.Pack) ends on the boundary the
                # C++ builder's force_align would give it
                builder.Prep(BUFFER_ALIGN, int(self.data.size * self.data.itemsize))
            return super().Pack(builder)

    return AlignedBufferT


def _as_array(v, dtype):
    return None if v is None else np.ascontiguousarray(v, dtype=dtype)


def _shared_quantization_type(schema):
    """QuantizationParametersT whose Pack writes each distinct record once: tensors with the same
    quantisation (a max pool's input and output, ...) point at one table, and each distinct zero-point
    vector is written once (the weights' per-channel zero points are all 0: one int64 vector per
    channel count instead of one per tensor). Flatbuffers allow any number of references to one object;
    the readers (LiteRT, tflite_micro, tinyscene.aot) only read through them."""
    tables: dict = {}
    vectors: dict = {}

    class SharedQuantizationT(schema.QuantizationParametersT):
        def Pack(self, builder):
            if self.details is not None:  # a custom quantisation record: written as it is
                return super().Pack(builder)
            fields = [("Min", _as_array(self.min, np.float32)), ("Max", _as_array(self.max, np.float32)),
                      ("Scale", _as_array(self.scale, np.float32)), ("ZeroPoint", _as_array(self.zeroPoint, np.int64))]
            key = tuple((f, None if a is None else a.tobytes()) for f, a in fields) + (int(self.quantizedDimension),)
            if key in tables:
                return tables[key]
            offsets = {}
            for f, a in fields:
                if a is None:
                    continue
                vkey = (a.dtype.str, a.tobytes())
                if vkey not in vectors:
                    vectors[vkey] = builder.CreateNumpyVector(a)
                offsets[f] = vectors[vkey]
            schema.QuantizationParametersStart(builder)
            for f, off in offsets.items():
                getattr(schema, f"QuantizationParametersAdd{f}")(builder, off)
            schema.QuantizationParametersAddDetailsType(builder, self.detailsType)
            schema.QuantizationParametersAddQuantizedDimension(builder, self.quantizedDimension)
            tables[key] = schema.QuantizationParametersEnd(builder)
            return tables[key]

    return SharedQuantizationT


def unpack_model(data: bytes, source: str = "model_int8.tflite"):
    """(schema module, ModelT) of a .tflite (TFLite's generated object API, tinyscene.tflite.schema)."""
    schema = S.schema
    try:
        if not schema.Model.ModelBufferHasIdentifier(data, 0):
            raise ValueError("no TFL3 identifier")
        return schema, schema.ModelT.InitFromPackedBuf(bytearray(data), 0)
    except Exception as e:
        raise TsError(f"{source}: not a TFLite flatbuffer ({e})") from None


def pack_model(schema, model, size_hint: int = 1024) -> bytes:
    """The .tflite bytes of a ModelT, every constant buffer aligned to BUFFER_ALIGN, each distinct
    quantisation record and zero-point vector written once."""
    aligned = _aligned_buffer_type(schema)
    bufs = []
    for b in model.buffers or []:
        nb = aligned()
        nb.__dict__.update(b.__dict__)
        if nb.data is not None:
            nb.data = np.ascontiguousarray(nb.data, dtype=np.uint8) if len(nb.data) else None
        bufs.append(nb)
    model.buffers = bufs
    shared = _shared_quantization_type(schema)
    for g in model.subgraphs or []:
        for t in g.tensors or []:
            if t.quantization is not None:
                q = shared()
                q.__dict__.update(t.quantization.__dict__)
                t.quantization = q
    builder = flatbuffers.Builder(max(1024, int(size_hint)))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _name(v) -> str:
    return v.decode(errors="replace") if isinstance(v, bytes) else str(v or "")


def compact_tflite(data: bytes, source: str = "model_int8.tflite") -> tuple[bytes, dict]:
    """(compacted .tflite bytes, what was dropped with the byte counts)."""
    schema, model = unpack_model(data, source)
    buffers = list(model.buffers or [])
    if any(int(b.offset or 0) > 1 for b in buffers):
        raise TsError(f"{source}: buffers stored after the flatbuffer (a model over 2 GB) cannot be compacted")
    names = S.builtin_names()
    codes = [names.get(max(int(oc.builtinCode), int(oc.deprecatedBuiltinCode)), "?")
             for oc in (model.operatorCodes or [])]
    stats = {"bytes_before": len(data), "names_bytes": 0, "shape_signatures": 0, "int32_quant_dropped": 0,
             "metadata_dropped": [], "buffers_before": len(buffers)}

    used: set[int] = {0}
    for g in model.subgraphs or []:
        tensors = list(g.tensors or [])
        ins = [int(i) for i in (g.inputs if g.inputs is not None else [])]
        outs = [int(i) for i in (g.outputs if g.outputs is not None else [])]
        io = {i: f"input{k}" if len(ins) > 1 else "input" for k, i in enumerate(ins)}
        io.update({i: f"output{k}" if len(outs) > 1 else "output" for k, i in enumerate(outs)})
        plain: set[int] = set()
        other_use: set[int] = set()
        for op in g.operators or []:
            kind = codes[op.opcodeIndex] if op.opcodeIndex < len(codes) else "?"
            for pos, t in enumerate(op.inputs if op.inputs is not None else []):
                if t < 0:
                    continue
                (plain if pos in _PLAIN_INT32_INPUTS.get(kind, ()) else other_use).add(int(t))
        for i, t in enumerate(tensors):
            stats["names_bytes"] += len(_name(t.name))
            t.name = io.get(i, f"t{i}")
            if t.shapeSignature is not None and (t.shape is None or np.array_equal(t.shapeSignature, t.shape)):
                t.shapeSignature = None
                stats["shape_signatures"] += 1
            b = buffers[t.buffer] if 0 < t.buffer < len(buffers) else None
            const = b is not None and b.data is not None and len(b.data) > 0
            if not const:
                t.buffer = 0  # an activation: the empty buffer
            else:
                used.add(int(t.buffer))
            if (const and t.type == schema.TensorType.INT32 and i in plain and i not in other_use
                    and t.quantization is not None):
                t.quantization = None
                stats["int32_quant_dropped"] += 1

    kept_meta = []
    for md in model.metadata or []:
        if _name(md.name) in _DROP_METADATA:
            stats["metadata_dropped"].append(_name(md.name))
        else:
            kept_meta.append(md)
            used.add(int(md.buffer))
    model.metadata = kept_meta or None
    model.description = None

    # renumber the buffers that are still referred to (buffer 0, the empty one, stays first)
    order = sorted(used)
    remap = {old: new for new, old in enumerate(order)}
    new_buffers = [buffers[old] if old < len(buffers) else schema.BufferT() for old in order]
    if new_buffers:
        new_buffers[0] = schema.BufferT()
    model.buffers = new_buffers
    for g in model.subgraphs or []:
        for t in g.tensors or []:
            t.buffer = remap[int(t.buffer)]
    for md in model.metadata or []:
        md.buffer = remap[int(md.buffer)]
    # signature defs name tensors by index: unchanged

    out = pack_model(schema, model, len(data))
    stats.update({"bytes_after": len(out), "buffers_after": len(new_buffers)})
    return out, stats


def same_outputs(before: bytes, after: bytes, samples: np.ndarray) -> bool:
    """LiteRT reference kernels give identical int8 outputs for both files on every sample."""
    return bool(np.array_equal(run_litert(before, samples, reference=True),
                               run_litert(after, samples, reference=True)))


__all__ = ["compact_tflite", "same_outputs", "unpack_model", "pack_model", "BUFFER_ALIGN"]
