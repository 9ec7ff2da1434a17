"""What the TFLM runtime needs to know about an int8 .tflite: its operators (for the op resolver),
its input and output tensors, its MACs per operator, and the tensor arena the tflite_micro Python
interpreter needs. Read with the schema generated from TFLite's schema.fbs (ai_edge_litert), never
a hand-written flatbuffer parser."""
from __future__ import annotations

import contextlib
import functools
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from tinyscene.errors import TsError

_NP_TYPES = {0: np.float32, 2: np.int32, 3: np.uint8, 4: np.int64, 7: np.int16, 9: np.int8}


@dataclass(frozen=True)
class TensorInfo:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: np.dtype

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize


@dataclass(frozen=True)
class OpInfo:
    index: int
    name: str  # builtin operator name (CONV_2D) or the custom code
    custom: bool
    macs: int


@dataclass
class ModelInfo:
    path: Path
    size: int
    ops: list[OpInfo]
    inputs: list[TensorInfo]
    outputs: list[TensorInfo]
    op_codes: list[tuple[str, bool]] = field(default_factory=list)  # distinct (name, custom), model order

    @property
    def macs(self) -> int:
        return sum(o.macs for o in self.ops)


@functools.lru_cache(maxsize=1)
def _schema():
    from ai_edge_litert import schema_py_generated as schema

    return schema


@functools.lru_cache(maxsize=1)
def builtin_names() -> dict[int, str]:
    s = _schema()
    return {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_") and isinstance(v, int)}


def _dims(t) -> tuple[int, ...]:
    return tuple(int(d) for d in (t.shape if t.shape is not None else ()))


def _op_macs(name: str, op, tensors) -> int:
    """Multiply-accumulates of one operator (convolutions, depthwise, fully connected, transposed
    convolution, batch matmul); 0 for the others."""
    def shape(i):
        return _dims(tensors[op.inputs[i]]) if i < len(op.inputs) and op.inputs[i] >= 0 else ()

    out = _dims(tensors[op.outputs[0]]) if len(op.outputs) else ()
    if name == "CONV_2D" and len(out) == 4:
        co, kh, kw, ci = shape(1)
        return int(np.prod(out[:3])) * co * kh * kw * ci
    if name == "DEPTHWISE_CONV_2D" and len(out) == 4:
        _, kh, kw, _ = shape(1)
        return int(np.prod(out)) * kh * kw
    if name == "FULLY_CONNECTED":
        units, depth = shape(1)
        return int(np.prod(shape(0))) // max(depth, 1) * units * depth
    if name == "TRANSPOSE_CONV" and len(shape(2)) == 4:
        co, kh, kw, ci = shape(1)
        return int(np.prod(shape(2)[:3])) * ci * kh * kw * co
    if name == "BATCH_MATMUL" and len(shape(0)) >= 2:
        return int(np.prod(out)) * shape(0)[-1]
    return 0


def read_model(path: str | os.PathLike) -> ModelInfo:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise TsError(f"{path}: cannot read the model ({e.strerror})") from None
    s = _schema()
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise TsError(f"{path}: not a TFLite flatbuffer (no TFL3 identifier)")
    try:
        m = s.ModelT.InitFromPackedBuf(data, 0)
    except Exception as e:  # a corrupt flatbuffer raises anything from struct/IndexError
        raise TsError(f"{path}: corrupt TFLite flatbuffer ({type(e).__name__}: {e})") from None
    if not m.subgraphs:
        raise TsError(f"{path}: the model has no subgraph")
    names = builtin_names()
    codes = []
    for oc in m.operatorCodes or []:
        if oc.customCode:
            codes.append((oc.customCode.decode(errors="replace"), True))
        else:
            code = max(int(oc.builtinCode or 0), int(oc.deprecatedBuiltinCode or 0))
            codes.append((names.get(code, f"BUILTIN_{code}"), False))
    sg = m.subgraphs[0]
    tensors = sg.tensors or []

    def info(i: int) -> TensorInfo:
        t = tensors[i]
        if t.type not in _NP_TYPES:
            raise TsError(f"{path}: tensor {i} ({t.name.decode(errors='replace')}) has an unsupported type {t.type}")
        return TensorInfo(i, (t.name or b"").decode(errors="replace"), _dims(t), np.dtype(_NP_TYPES[t.type]))

    ops = []
    for k, op in enumerate(sg.operators or []):
        name, custom = codes[op.opcodeIndex]
        ops.append(OpInfo(k, name, custom, 0 if custom else _op_macs(name, op, tensors)))
    seen: list[tuple[str, bool]] = []
    for sub in m.subgraphs:
        for op in sub.operators or []:
            if codes[op.opcodeIndex] not in seen:
                seen.append(codes[op.opcodeIndex])
    return ModelInfo(path=path, size=len(data), ops=ops, inputs=[info(i) for i in sg.inputs],
                     outputs=[info(i) for i in sg.outputs], op_codes=seen)


def read_tensors(path: str | os.PathLike) -> list[TensorInfo]:
    """The first output tensor of each operator of subgraph 0, in operator order."""
    s = _schema()
    m = s.ModelT.InitFromPackedBuf(Path(path).read_bytes(), 0)
    sg = m.subgraphs[0]
    out = []
    for op in sg.operators or []:
        t = sg.tensors[op.outputs[0]]
        out.append(TensorInfo(int(op.outputs[0]), (t.name or b"").decode(errors="replace"), _dims(t),
                              np.dtype(_NP_TYPES.get(t.type, np.int8))))
    return out


# --- the op resolver -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResolverEntry:
    method: str  # MicroMutableOpResolver method, e.g. AddConv2D
    registration: str  # Register_<registration>() it installs by default, e.g. CONV_2D


@functools.lru_cache(maxsize=4)
def resolver_table(resolver_header: Path) -> dict[tuple[str, bool], ResolverEntry]:
    """{(operator, custom): entry} from TFLM's micro_mutable_op_resolver.h: each `Add<Op>(` method,
    the BuiltinOperator_<OP> (or custom name) it registers and its default Register_<X>()."""
    text = Path(resolver_header).read_text()
    starts = [m for m in re.finditer(r"TfLiteStatus\s+(Add\w+)\s*\(", text)]
    table: dict[tuple[str, bool], ResolverEntry] = {}
    for i, m in enumerate(starts):
        body = text[m.start(): starts[i + 1].start() if i + 1 < len(starts) else len(text)]
        method = m.group(1)
        if method in ("AddBuiltin", "AddCustom"):
            continue
        reg = re.search(r"Register_(\w+)\s*\(", body)
        if not reg:
            continue
        builtin = re.search(r"AddBuiltin\(\s*BuiltinOperator_(\w+)", body)
        custom = re.search(r'AddCustom\(\s*"([^"]+)"', body)
        if builtin:
            table.setdefault((builtin.group(1), False), ResolverEntry(method, reg.group(1)))
        elif custom:
            table.setdefault((custom.group(1), True), ResolverEntry(method, reg.group(1)))
    return table


def resolver_entries(model: ModelInfo, resolver_header: Path) -> list[ResolverEntry]:
    """The resolver methods the model needs; an operator TFLM does not have is a TsError naming it
    and the first operator index that uses it."""
    table = resolver_table(resolver_header)
    out = []
    for code in model.op_codes:
        entry = table.get(code)
        if entry is None:
            name, custom = code
            where = next((o.index for o in model.ops if (o.name, o.custom) == code), None)
            kind = "custom operator" if custom else "operator"
            raise TsError(f"{model.path}: {kind} {name} (operator #{where}) is not supported by TensorFlow Lite "
                          f"Micro (no Add method for it in {Path(resolver_header).name})")
        out.append(entry)
    return out


def ops_header(model: ModelInfo, entries: list[ResolverEntry], command: str) -> str:
    """The generated op list: an X-macro of the resolver methods, included by app_tflm.cc."""
    lines = [f"/* Generated by `{command}` from {model.path.name}: do not edit.",
             " * The TFLM operators this model uses, as MicroMutableOpResolver methods. */",
             "#ifndef TS_TFLM_OPS_H", "#define TS_TFLM_OPS_H", "",
             f"#define TS_TFLM_OP_COUNT {len(entries)}", "#define TS_TFLM_OPS(X) \\"]
    lines += [f"    X({e.method}) \\" for e in entries]
    lines += ["", "#endif /* TS_TFLM_OPS_H */", ""]
    return "\n".join(lines)


# --- arena -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def _quiet_fds() -> Iterator[None]:
    """Silence C-level stdout/stderr (the interpreter prints allocation failures while we probe)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def interpreter_arena_bytes(path: str | os.PathLike) -> int:
    """The smallest tensor arena (to 16 bytes) with which the tflite_micro Python interpreter
    (reference kernels, 64-bit host) allocates the model's tensors."""
    from tflite_micro.python.tflite_micro import runtime as tflm_rt

    data = Path(path).read_bytes()

    def fits(n: int) -> bool:
        # In a forked child: the interpreter can crash (not only fail) on some too-small arenas.
        pid = os.fork()
        if pid == 0:  # child
            code = 1
            try:
                with _quiet_fds():
                    tflm_rt.Interpreter.from_bytes(data, arena_size=n)
                code = 0
            except BaseException:
                pass
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0

    hi = max(4096, 2 * len(data))
    while not fits(hi):
        hi *= 2
        if hi > (1 << 31):
            raise TsError(f"{path}: the tflite_micro interpreter cannot allocate this model with any arena")
    lo = 0
    while hi - lo > 16:
        mid = (lo + hi) // 2 // 16 * 16
        if mid <= lo:
            break
        if fits(mid):
            hi = mid
        else:
            lo = mid
    return hi


def arena_with_margin(needed: int) -> int:
    """The arena compiled into the firmware: the interpreter's figure + 25% + 8 KiB, to 16 bytes.
    The margin covers CMSIS-NN's scratch buffers (the reference kernels need none) and the
    differences of a 32-bit target; the firmware reports what it really used."""
    return (needed * 5 // 4 + 8192 + 15) // 16 * 16
