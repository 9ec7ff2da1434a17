"""Instruction counts of the int8 kernel families, per network and per layer (`tinyscene bench-kernels`).

One firmware run per (model, board, kernel family): the `nnbench` app (firmware/src/rt/app_nnbench.c) invokes
the generated model once without a layer hook (the whole-network count, as `tinyscene run` measures it) and
once with a hook that reads the board counter after every layer. Counts are executed instructions under QEMU
-icount shift=0 (board.yaml counter.per_tick instructions per SysTick tick), hence deterministic. Each run's
output is compared with the tflite_micro interpreter on the same input.
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from tinyscene.device.apps import App
from tinyscene.errors import TsError

NNBENCH_APP = App("nnbench", "whole-network and per-layer instruction counts of a generated model", ("rt", "nn"))
RESULT_LINE = re.compile(r"^ts-nnbench: result total=(\d+) layers=([\d,]*) hooked=(\d+)\s*$", re.MULTILINE)
ERROR_LINE = re.compile(r"^ts-nnbench: error: (.*)$", re.MULTILINE)


@dataclass
class LayerCount:
    index: int
    op: str
    kernel: str
    macs: int
    instructions: int | None
    detail: str  # e.g. "3x3 /1 16->16 ch"
    channels_in: int = 0
    channels_out: int = 0
    kernel_hw: tuple[int, int] | None = None
    scratch_bytes: int = 0

    @property
    def per_mac(self) -> float | None:
        return self.instructions / self.macs if self.instructions is not None and self.macs else None


@dataclass
class BenchResult:
    model: str
    board: str
    kernels: str  # requested: reference | auto
    family: str  # reference | armv7em | mve
    instructions: int | None
    macs: int
    arena_bytes: int
    flash_model_bytes: int
    flash_runtime_bytes: int  # the image minus the model's constants
    flash_kernels_bytes: int  # code of the int8 kernels linked in (firmware/src/nn objects)
    bit_exact: bool | None  # output == tflite_micro's
    layers: list[LayerCount] = field(default_factory=list)

    @property
    def per_mac(self) -> float | None:
        return self.instructions / self.macs if self.instructions is not None and self.macs else None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["instructions_per_mac"] = self.per_mac
        for L, dl in zip(self.layers, d["layers"]):
            dl["instructions_per_mac"] = L.per_mac
        return d


def _layer_detail(L) -> tuple[str, int, int, tuple | None]:
    p = L.params
    if L.op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        _, kh, kw, _ = p["filter"]
        cin, cout = p["input"][3], p["output"][3]
        s = f"{kh}x{kw}/{p['stride_h']} {cin}->{cout} ch, {p['output'][1]}x{p['output'][2]}"
        return s, cin, cout, (kh, kw)
    if L.op.kind == "FULLY_CONNECTED":
        return f"{p['input_depth']}->{p['output_depth']}", p["input_depth"], p["output_depth"], None
    return "", 0, 0, None


def _kernel_code_bytes(build, family: str) -> int:
    """Bytes of .text from the nn objects, read from the linker map."""
    from tinyscene.device.apps import group_sources

    stems = {s.stem for s in group_sources("nn", family)}
    mp = Path(build.elf).with_suffix(".map")
    if not mp.exists():
        return 0
    total = 0
    pat = re.compile(r"^\s*(?:\.text\S*)?\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+\.o)\s*$")
    in_text = False
    for line in mp.read_text(errors="replace").splitlines():
        if line.startswith(" .text") or line.startswith(".text"):
            in_text = True
        elif line.startswith(" .") or (line and not line.startswith(" ")):
            in_text = line.startswith(" .text")
        m = pat.match(line)
        if in_text and m:
            stem = Path(m.group(2)).stem.rsplit("-", 1)[0]
            if stem in stems:
                total += int(m.group(1), 16)
    return total


def tflm_outputs(model: Path, x: np.ndarray, n_outputs: int = 1) -> list[np.ndarray]:
    """Outputs of the tflite_micro Python interpreter (TFLM's reference kernels) for one input."""
    from tflite_micro.python.tflite_micro import runtime as tflm

    it = tflm.Interpreter.from_file(str(model))
    it.set_input(x, 0)
    it.invoke()
    return [np.asarray(it.get_output(k)).copy() for k in range(n_outputs)]


def bench_one(model: Path, board_name: str, kernels: str, workdir: Path, x: np.ndarray,
              expected: list[np.ndarray] | None = None, timeout: float = 900.0) -> BenchResult:
    """Counts for one model on one board with one kernel family request (reference | auto)."""
    from tinyscene.aot.compiler import compile_model
    from tinyscene.aot.runner import prepare_inputs
    from tinyscene.device.boards import load_board
    from tinyscene.device.build import build_firmware
    from tinyscene.device.modelrun import ticks_to_count
    from tinyscene.device.qemu import run_firmware

    board = load_board(board_name)
    if not board.is_emulated:
        raise TsError(f"bench-kernels: board '{board_name}' is not emulated (instruction counts need QEMU)")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = f"tinyscene bench-kernels --model {model.name} --boards {board_name} --kernels {kernels}"
    comp = compile_model(model, workdir / "gen", board=board, kernels=kernels, command=cmd)
    elf = workdir / "nnbench.elf"
    build = build_firmware(board, NNBENCH_APP, elf, extra_sources=[workdir / "gen" / "model.c"],
                           kernel_family=comp.family)
    g = comp.graph
    row = prepare_inputs(g, [x])[0]
    (workdir / "in.bin").write_bytes(b"".join(a.tobytes() for a in row))
    (workdir / "out.bin").unlink(missing_ok=True)
    res = run_firmware(board, build.elf, ["--in", "in.bin", "--out", "out.bin"], cwd=workdir, timeout=timeout)
    err = ERROR_LINE.search(res.output)
    if res.fault or err:
        raise TsError(f"{board_name}: nnbench: {res.fault or err.group(1).strip()}")
    m = RESULT_LINE.search(res.output)
    if res.exit_code != 0 or not m:
        raise TsError(f"{board_name}: nnbench exited with code {res.exit_code} without a result "
                      f"({res.output.strip()[-300:]})")
    per_tick = board.counter.per_tick
    total = ticks_to_count(int(m.group(1)), per_tick)
    ticks = [int(t) for t in m.group(2).split(",") if t]
    raw = (workdir / "out.bin").read_bytes()
    outs, pos = [], 0
    for tid in g.outputs:
        t = g.t(tid)
        dt = {"int8": np.int8, "float32": np.float32, "int32": np.int32}[t.dtype]
        outs.append(np.frombuffer(raw[pos:pos + t.nbytes], dtype=dt).reshape(t.shape))
        pos += t.nbytes
    exact = None
    if expected is not None:
        exact = len(expected) == len(outs) and all(np.array_equal(a, np.asarray(b).reshape(a.shape))
                                                   for a, b in zip(outs, expected))
    layers = []
    for L, tk in zip(comp.layers, ticks):
        detail, cin, cout, khw = _layer_detail(L)
        layers.append(LayerCount(L.index, L.op.kind, L.function, L.macs, ticks_to_count(tk, per_tick), detail,
                                 cin, cout, khw, L.scratch_bytes))
    from tinyscene.aot.runner import _symbols_bytes

    flash_model = _symbols_bytes(build.elf, ("tsm_", "ts_model_layer", "ts_model_inputs", "ts_model_outputs"))
    return BenchResult(model=str(model), board=board_name, kernels=kernels, family=comp.family, instructions=total,
                       macs=comp.macs, arena_bytes=comp.plan.arena_bytes, flash_model_bytes=flash_model,
                       flash_runtime_bytes=max(build.flash_bytes - flash_model, 0),
                       flash_kernels_bytes=_kernel_code_bytes(build, comp.family), bit_exact=exact, layers=layers)
