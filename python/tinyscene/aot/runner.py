"""Runtime "aot" of tinyscene.target.modelrun: compile the model, build the `model` app for the board,
run every input in ONE firmware run (QEMU or host), read the outputs back."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tinyscene.aot.compiler import compile_model
from tinyscene.errors import TsError
from tinyscene.target.apps import get_app
from tinyscene.target.boards import Board
from tinyscene.target.build import build_firmware
from tinyscene.target.image import host_image_bytes, symbols_bytes
from tinyscene.target.imagemap import runtime_flash_of
from tinyscene.target.modelrun import ModelRunReport, ticks_to_count
from tinyscene.target.qemu import run_firmware
from tinyscene.util.atomic import save_npy, write_json

RESULT_LINE = re.compile(r"^ts-model: result invokes=(\d+) arena_bytes=(\d+) stack_bytes=(\d+) ticks=([\d,]*)\s*$",
                         re.MULTILINE)
ERROR_LINE = re.compile(r"^ts-model: error: (.*)$", re.MULTILINE)
LAYER_TICKS_LINE = re.compile(r"^ts-model: layer-ticks ([\d,]*)\s*$", re.MULTILINE)
MAX_INVOKES_PER_RUN = 1024  # app_model.c TS_MODEL_MAX_INVOKES


def _np_dtype(dtype: str):
    return {"int8": np.int8, "float32": np.float32, "int32": np.int32}[dtype]


def prepare_inputs(graph, inputs: list) -> list[list[np.ndarray]]:
    """Each element of `inputs` is one invoke: an array (single-input model) or a list of arrays."""
    out = []
    for k, item in enumerate(inputs):
        arrays = list(item) if isinstance(item, (list, tuple)) else [item]
        if len(arrays) != len(graph.inputs):
            raise TsError(f"input {k}: {len(arrays)} arrays for a model with {len(graph.inputs)} inputs")
        row = []
        for j, (a, tid) in enumerate(zip(arrays, graph.inputs)):
            t = graph.t(tid)
            a = np.asarray(a)
            want = _np_dtype(t.dtype)
            if a.size != t.size:
                raise TsError(f"input {k}: shape {list(a.shape)} does not match model input {j} {list(t.shape)}")
            if a.dtype != want:
                if want is np.int8 and np.issubdtype(a.dtype, np.integer) and a.size and \
                        (a.min() < -128 or a.max() > 127):
                    raise TsError(f"input {k}: values outside int8 for the int8 model input {j}")
                if want is np.int8 and not np.issubdtype(a.dtype, np.integer):
                    q = t.quant
                    raise TsError(f"input {k}: dtype {a.dtype}, the model input {j} is int8 (quantise it: "
                                  f"q = round(x / {float(q.s):.6g}) + {q.zp})")
                a = a.astype(want)
            row.append(np.ascontiguousarray(a.reshape(t.shape)))
        out.append(row)
    return out


def run_for_result(board: Board, elf: Path, args: list[str], workdir: Path, timeout: float, app: str):
    """Runs a model app; -> (the run, its `ts-model: result` line). A fault, an error line or no result is a
    TsError naming the board and the app."""
    res = run_firmware(board, elf, args, cwd=workdir, timeout=timeout)
    err = ERROR_LINE.search(res.output)
    if res.fault:
        raise TsError(f"{board.name}: {app} firmware fault: {res.fault}")
    if err:
        raise TsError(f"{board.name}: {app} firmware: {err.group(1).strip()}")
    m = RESULT_LINE.search(res.output)
    if res.exit_code != 0 or not m:
        tail = res.output.strip()[-400:]
        raise TsError(f"{board.name}: {app} firmware exited with code {res.exit_code} without a result"
                      + (f" (output: {tail})" if tail else ""))
    return res, m


def read_outputs(path: Path, out_bytes: int, n: int, board: Board) -> list[bytes]:
    """The outputs file of a model app: n invokes' outputs of out_bytes each."""
    raw = path.read_bytes()
    if len(raw) != out_bytes * n:
        raise TsError(f"{board.name}: output file has {len(raw)} bytes, expected {out_bytes * n}")
    return [raw[k * out_bytes:(k + 1) * out_bytes] for k in range(n)]


def split_outputs(outputs_raw: list[bytes], out_specs: list) -> list:
    """Each invoke's bytes -> its output array (or a list of arrays for a model with several outputs)."""
    outputs = []
    for raw in outputs_raw:
        arrs, pos = [], 0
        for t in out_specs:
            arrs.append(np.frombuffer(raw[pos:pos + t.nbytes], dtype=_np_dtype(t.dtype)).reshape(t.shape).copy())
            pos += t.nbytes
        outputs.append(arrs[0] if len(arrs) == 1 else arrs)
    return outputs


def build_model_firmware(model: Path, board: Board, kernels: str, workdir: Path, command: str, prefer: str = "size",
                         poison_arena: bool = False, arena_budget: int | None = None):
    gen = workdir / "gen"
    comp = compile_model(model, gen, board=board, kernels=kernels, command=command, prefer=prefer,
                         arena_budget=arena_budget)
    elf = workdir / ("model" if board.is_host else "model.elf")
    # model.c only needs the public headers (ts/model.h): no include folder per model, so the kernels and
    # the runtime stay in the object cache and only model.c compiles for a new model
    build = build_firmware(board, get_app("model"), elf, extra_sources=[gen / "model.c"],
                           kernel_family=comp.family, defines={"TS_MODEL_POISON": 1} if poison_arena else None)
    return comp, build


def run(model: Path, board: Board, inputs: list, *, runtime: str = "aot", kernels: str = "auto",
        workdir: Path, dump_layers: Path | None = None, timeout: float = 300.0,
        command: str | None = None, poison_arena: bool = False,
        profile_layers: bool = False, prefer: str = "size",
        arena_budget: int | None = None) -> tuple[list, ModelRunReport]:
    """See tinyscene.target.modelrun. Returns one output per input (an array, or a list of arrays for a
    model with several outputs) and the report. With dump_layers, writes layer_<k>.npy (every invoke
    stacked on a leading axis) and layers.json there. poison_arena (tests): the firmware overwrites every
    arena byte that holds no live tensor before and after each layer. profile_layers: per-layer counts in
    report.per_layer (the layer hook adds a few instructions per layer to the invoke's count). prefer:
    'size' (every weight once, int8) or 'speed' (expanded weight copies where the board's flash allows).
    arena_budget: the arena the compiler's faster variants may fill (see aot.compiler.compile_graph)."""

    if runtime != "aot":
        raise TsError(f"tinyscene.aot.runner runs the 'aot' runtime, not '{runtime}'")
    if not inputs:
        raise TsError("no inputs to run")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = command or f"tinyscene run --model {Path(model).name} --board {board.name} --runtime aot --kernels {kernels}"
    comp, build = build_model_firmware(Path(model), board, kernels, workdir, cmd, prefer, poison_arena, arena_budget)
    g = comp.graph
    rows = prepare_inputs(g, inputs)

    out_specs = [g.t(t) for t in g.outputs]
    out_bytes = sum(t.nbytes for t in out_specs)
    dump_specs = [g.t(L.outputs[0]) for L in comp.layers]
    dump_bytes = sum(t.nbytes for t in dump_specs)
    outputs_raw: list[bytes] = []
    dumps_raw: list[bytes] = []
    ticks: list[int] = []
    stack = 0
    arena_reported = comp.plan.arena_bytes
    layer_ticks = [0] * len(comp.layers)
    for start in range(0, len(rows), MAX_INVOKES_PER_RUN):
        chunk = rows[start:start + MAX_INVOKES_PER_RUN]
        (workdir / "in.bin").write_bytes(b"".join(a.tobytes() for row in chunk for a in row))
        for name in ("out.bin", "dump.bin"):
            (workdir / name).unlink(missing_ok=True)
        args = ["--in", "in.bin", "--out", "out.bin", "--n", str(len(chunk))]
        if dump_layers is not None:
            args += ["--dump", "dump.bin"]
        elif profile_layers:
            args += ["--profile"]
        res, m = run_for_result(board, build.elf, args, workdir, timeout, "model")
        ticks += [int(x) for x in m.group(4).split(",") if x]
        lt = LAYER_TICKS_LINE.search(res.output)
        if lt:
            layer_ticks = [a + int(b) for a, b in zip(layer_ticks, lt.group(1).split(","))]
        stack = max(stack, int(m.group(3)))
        arena_reported = int(m.group(2))
        outputs_raw += read_outputs(workdir / "out.bin", out_bytes, len(chunk), board)
        if dump_layers is not None:
            raw = (workdir / "dump.bin").read_bytes()
            if len(raw) != dump_bytes * len(chunk):
                raise TsError(f"{board.name}: layer dump has {len(raw)} bytes, expected {dump_bytes * len(chunk)}")
            dumps_raw += [raw[k * dump_bytes:(k + 1) * dump_bytes] for k in range(len(chunk))]

    outputs = split_outputs(outputs_raw, out_specs)

    if dump_layers is not None:
        dump_dir = Path(dump_layers)
        dump_dir.mkdir(parents=True, exist_ok=True)
        index, pos = [], 0
        for L, t in zip(comp.layers, dump_specs):
            vals = np.stack([np.frombuffer(r[pos:pos + t.nbytes], dtype=_np_dtype(t.dtype)).reshape(t.shape)
                             for r in dumps_raw])
            pos += t.nbytes
            fname = f"layer_{L.index:03d}.npy"
            save_npy(dump_dir / fname, vals)
            entry = {"layer": L.index, "file": fname, "op": L.op.kind, "op_index": L.op.index,
                     "fused_ops": L.op.fused, "kernel": L.function, "tensor": t.index, "name": t.name,
                     "shape": list(t.shape), "dtype": t.dtype}
            if t.quant is not None and t.quant.scale.size == 1:
                entry.update(scale=float(t.quant.s), zero_point=t.quant.zp)
            index.append(entry)
        write_json(dump_dir / "layers.json", {"model": str(model), "invokes": len(rows), "layers": index})

    per_tick = board.counter.per_tick
    instr = [ticks_to_count(t, per_tick) for t in ticks] if board.counter.unit != "none" else []
    if board.is_host:
        flash_model = comp.model_bytes
        flash_total = host_image_bytes(build.elf)
    else:
        flash_model = symbols_bytes(build.elf, ("tsm_", "ts_model_layer", "ts_model_inputs", "ts_model_outputs"))
        flash_total = build.flash_bytes
    report = ModelRunReport(
        model=str(model), board=board.name, runtime="aot", kernels=comp.family,
        instructions=max(instr) if instr else None, arena_bytes=arena_reported, flash_bytes=flash_total,
        flash_model_bytes=flash_model, flash_runtime_bytes=max(flash_total - flash_model, 0),
        stack_bytes=stack if not board.is_host else None, macs=comp.macs, instructions_per_input=instr,
        per_layer=[{"index": L.index, "op": L.op.kind, "op_index": L.op.index, "kernel": L.function,
                    "macs": L.macs,
                    "instructions": ticks_to_count(layer_ticks[L.index] / len(rows), per_tick)
                    if profile_layers and dump_layers is None and board.counter.unit != "none" else None}
                   for L in comp.layers],
        extra={"arena_lower_bound_bytes": comp.plan.lower_bound_bytes, "layers": len(comp.layers),
               "prefer": comp.prefer, **{f"flash_{k}": v for k, v in comp.flash_breakdown().items()},
               "flash_runtime_image_bytes": runtime_flash_of(build.elf, board),
               "ticks": ticks, "counter_unit": board.counter.unit, "elf": str(build.elf),
               "generated": str(comp.out_dir)},
    )
    return outputs, report
