"""Runtime "aot-stream" (tinyscene.runtimes.dispatch): compile the model for streamed execution, build the
`model_stream` app for the board, feed every input row by row in ONE firmware run (QEMU or host), read the
outputs back. The report's `instructions` are per clip (every push and the finish); `extra` adds the worst
row (`instructions_per_row_max`: one hop's model work), the finish alone and the RAM of the stream by part."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tinyscene.aot.runner import LAYER_TICKS_LINE, prepare_inputs, read_outputs, run_for_result, split_outputs
from tinyscene.aot.stream import AXES, StreamSpec
from tinyscene.target.boards import Board
from tinyscene.target.image import host_image_bytes, symbols_bytes
from tinyscene.target.modelrun import ModelRunReport, ticks_to_count
from tinyscene.errors import TsError

STREAM_LINE = re.compile(r"^ts-model: stream rows=(\d+) row-ticks-max=([\d,]*) finish-ticks=([\d,]*)\s*$",
                         re.MULTILINE)
MAX_CLIPS_PER_RUN = 256  # app_model_stream.c TS_MODEL_MAX_INVOKES


def build_stream_firmware(model: Path, board: Board, kernels: str, workdir: Path, command: str, spec: StreamSpec,
                          poison_arena: bool = False, slack: int = 0):
    from tinyscene.aot.streamcompile import compile_stream_model
    from tinyscene.target.apps import get_app
    from tinyscene.target.build import build_firmware

    gen = workdir / "gen-stream"
    comp = compile_stream_model(model, gen, spec, board=board, kernels=kernels, command=command, slack=slack)
    elf = workdir / ("model_stream" if board.is_host else "model_stream.elf")
    build = build_firmware(board, get_app("model_stream"), elf, extra_sources=[comp.model_c],
                           kernel_family=comp.family, defines={"TS_MODEL_POISON": 1} if poison_arena else None)
    return comp, build


def rows_of(x: np.ndarray, axis: int) -> bytes:
    """One input in stream order: the streamed axis first (a row = the rest, in order)."""
    return np.ascontiguousarray(np.moveaxis(x, axis, 0)).tobytes()


def run(model: Path, board: Board, inputs: list, *, runtime: str = "aot-stream", kernels: str = "auto",
        workdir: Path, dump_layers: Path | None = None, timeout: float = 300.0, command: str | None = None,
        poison_arena: bool = False, profile_layers: bool = False, stream_axis: str = "W",
        slack: int = 0) -> tuple[list, ModelRunReport]:
    """See tinyscene.target.modelrun; stream_axis: H or W of the NHWC input."""
    if runtime != "aot-stream":
        raise TsError(f"tinyscene.aot.streamrunner runs the 'aot-stream' runtime, not '{runtime}'")
    if dump_layers is not None:
        raise TsError("--dump-layers: a streamed model has no whole layer outputs (use --runtime aot)")
    if not inputs:
        raise TsError("no inputs to run")
    spec = StreamSpec(stream_axis)
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = command or (f"tinyscene run --model {Path(model).name} --board {board.name} --runtime aot-stream "
                      f"--stream-axis {spec.axis} --kernels {kernels}")
    comp, build = build_stream_firmware(Path(model), board, kernels, workdir, cmd, spec, poison_arena, slack)
    g = comp.graph
    from tinyscene.tflite.reader import read_tflite

    rows = prepare_inputs(read_tflite(model), inputs)  # comp.graph is transposed: the inputs keep the model's shape
    axis = AXES[spec.axis]
    out_specs = [g.t(t) for t in g.outputs]
    out_bytes = sum(t.nbytes for t in out_specs)
    n_layers = len(comp.slayers) + sum(1 for s in comp.slayers if s.finish is not None) + len(comp.post)
    outputs_raw: list[bytes] = []
    ticks: list[int] = []
    row_max: list[int] = []
    finish: list[int] = []
    layer_ticks = [0] * n_layers
    stack = 0
    for start in range(0, len(rows), MAX_CLIPS_PER_RUN):
        chunk = rows[start:start + MAX_CLIPS_PER_RUN]
        (workdir / "in.bin").write_bytes(b"".join(rows_of(row[0], axis) for row in chunk))
        (workdir / "out.bin").unlink(missing_ok=True)
        args = ["--in", "in.bin", "--out", "out.bin", "--n", str(len(chunk))] + (["--profile"] if profile_layers else [])
        res, m = run_for_result(board, build.elf, args, workdir, timeout, "model_stream")
        s = STREAM_LINE.search(res.output)
        if not s:
            raise TsError(f"{board.name}: model_stream firmware printed no stream line")
        ticks += [int(x) for x in m.group(4).split(",") if x]
        row_max += [int(x) for x in s.group(2).split(",") if x]
        finish += [int(x) for x in s.group(3).split(",") if x]
        lt = LAYER_TICKS_LINE.search(res.output)
        if lt:
            layer_ticks = [a + int(b) for a, b in zip(layer_ticks, lt.group(1).split(","))]
        stack = max(stack, int(m.group(3)))
        outputs_raw += read_outputs(workdir / "out.bin", out_bytes, len(chunk), board)
    outputs = split_outputs(outputs_raw, out_specs)

    per_tick = board.counter.per_tick
    counted = board.counter.unit != "none"
    instr = [ticks_to_count(t, per_tick) for t in ticks] if counted else []
    if board.is_host:
        flash_model, flash_total = comp.model_bytes, host_image_bytes(build.elf)
    else:
        flash_model = symbols_bytes(build.elf, ("tsm_", "ts_model_layer", "ts_model_inputs", "ts_model_outputs"))
        flash_total = build.flash_bytes
    names = ([(s.layer.index, s.sop.op, s.layer.function, s.macs) for s in comp.slayers]
             + [(s.finish.index, s.sop.op, s.finish.function, 0) for s in comp.slayers if s.finish is not None]
             + [(L.index, L.op, L.function, L.macs) for L in comp.post])
    report = ModelRunReport(
        model=str(model), board=board.name, runtime="aot-stream", kernels=comp.family,
        instructions=max(instr) if instr else None, arena_bytes=comp.plan.arena_bytes, flash_bytes=flash_total,
        flash_model_bytes=flash_model, flash_runtime_bytes=max(flash_total - flash_model, 0),
        stack_bytes=stack if not board.is_host else None, macs=comp.macs, instructions_per_input=instr,
        per_layer=[{"index": i, "op": op.kind, "op_index": op.index, "kernel": fn, "macs": macs,
                    "instructions": ticks_to_count(layer_ticks[i] / len(rows), per_tick)
                    if profile_layers and counted else None} for i, op, fn, macs in names],
        extra={"stream_axis": spec.axis, "rows": comp.sched.info.rows, "calls_per_clip": comp.calls,
               "instructions_per_row_max": max(ticks_to_count(t, per_tick) for t in row_max) if counted else None,
               "instructions_finish": max(ticks_to_count(t, per_tick) for t in finish) if counted else None,
               "memory": comp.memory(), "ticks": ticks, "counter_unit": board.counter.unit, "elf": str(build.elf),
               "generated": str(comp.out_dir)},
    )
    return outputs, report
