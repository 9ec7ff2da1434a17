"""The `tflm` and `tflm-ref` runtimes of tinyscene.target.modelrun: TensorFlow Lite Micro with
CMSIS-NN kernels, or with TFLM's reference kernels, on any board.

For a model and a board: the TFLM library of the board's CPU kind (tinyscene.tflm.build), the
kernel objects of the model's operators for the variant, a generated op list (ts_tflm_ops.h), the
model linked into flash (a generated .S that .incbin's it), and firmware/src/rt/app_tflm.cc, linked
by tinyscene.target.build into one ELF (or host executable) and run once for all inputs. Counts are
the board's tick counter read right before and after Invoke(), times board.yaml counter.per_tick,
as every runtime measures them.
"""
from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np

from tinyscene.errors import TsError
from tinyscene.paths import FIRMWARE_DIR
from tinyscene.target.apps import App
from tinyscene.target.boards import Board
from tinyscene.target.build import build_firmware
from tinyscene.target.image import host_image_bytes
from tinyscene.target.imagemap import runtime_flash_of
from tinyscene.target.modelrun import ModelRunReport, ticks_to_count
from tinyscene.target.qemu import run_firmware
from tinyscene.tflite.arena import tflm_arena_bytes
from tinyscene.tflite.graph import NUMPY_DTYPES, Graph, Tensor
from tinyscene.tflite.reader import read_tflite
from tinyscene.tflm import build as tb
from tinyscene.tflm.firmware_sources import (
    ops_header,
    write_arena_source,
    write_model_asm,
    write_ops_header,
)
from tinyscene.tflm.model import arena_with_margin, op_code, resolver_entries
from tinyscene.util.atomic import save_npy, write_json

VARIANT = {"tflm": "cmsis-nn", "tflm-ref": "ref"}
KERNELS_LABEL = {"cmsis-nn": "cmsis-nn", "ref": "tflm-reference"}
EXIT_ARENA = 4
HOST_PROBE_ARENA = 64 << 20
_LINE = re.compile(r"^tflm: (\w+) (.*)$", re.MULTILINE)


class TflmApp(App):
    """The TFLM app: its entry is C++ (firmware/src/rt/app_tflm.cc)."""

    @property
    def main_source(self) -> Path:
        return FIRMWARE_DIR / "src" / "rt" / "app_tflm.cc"


APP = TflmApp("tflm", "TensorFlow Lite Micro interpreter (CMSIS-NN or reference kernels) on a linked-in model")


def _max_arena(board: Board) -> int:
    """The largest arena worth trying on `board`: its external RAM (or RAM) less 64 KiB."""
    if board.is_host:
        return HOST_PROBE_ARENA
    mem = board.ext_ram or board.ram
    return max(mem.size - (64 << 10), 4096) // 16 * 16


def build_app(model: Path, board: Board, *, runtime: str, workdir: Path, arena_bytes: int,
              kernels: str = "auto", info: Graph | None = None, progress: bool = True):
    """Build the TFLM firmware for `model` on `board` into workdir.

    Returns (BuildResult, Library, {operator name: kernel family}) — `cmsis-nn` for an operator whose
    kernel is the kernels/cmsis_nn/ file, `tflm-reference` otherwise."""

    if runtime not in VARIANT:
        raise TsError(f"--runtime {runtime}: the TFLM runner knows {', '.join(VARIANT)}")
    info = info or read_tflite(model)
    lib = tb.ensure_library(board, kernels=_kind_request(kernels), progress=progress)
    entries = resolver_entries(info, lib.tree.micro / "micro_mutable_op_resolver.h")
    variant = VARIANT[runtime]
    objects = lib.kernel_objects([e.registration for e in entries], variant, progress=progress)
    op_kernels = {}
    for name, e in zip((op_code(k)[0] for k in info.op_codes), entries):
        [(_, store)] = lib.kernel_sources([e.registration], variant)
        op_kernels[name] = "cmsis-nn" if store == "cmsis-nn" else "tflm-reference"
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    command = f"tinyscene run --runtime {runtime}"
    # The op list goes into a folder named by its content, so that the app's object (keyed by its
    # headers' paths and bytes) is reused across work folders for models with the same operators.
    header = ops_header(info, entries, "tinyscene run --runtime tflm|tflm-ref")
    gen = tb.library_root() / "gen" / hashlib.sha256(header.encode()).hexdigest()[:16]
    write_ops_header(gen, info, entries, "tinyscene run --runtime tflm|tflm-ref")
    asm = write_model_asm(workdir, model, command)
    arena_c = write_arena_source(workdir, arena_bytes, command)
    elf = workdir / f"tflm-{runtime}-{board.name}.elf"
    result = build_firmware(board, APP, elf, extra_sources=[asm, arena_c], include_dirs=[gen],
                            cflags=lib.app_cflags(),
                            extra_objects=objects, link_flags=lib.link_inputs(),
                            linker=lib.kind.cxx)
    return result, lib, op_kernels


def _kind_request(kernels: str) -> str:
    """The modelrun `kernels` argument, as a CPU-kind request for the TFLM build."""
    k = (kernels or "auto").lower()
    if k in ("auto", "cmsis-nn", "reference", "tflm-reference"):
        return "auto"
    if k in ("mve", "helium", "dsp"):
        return k
    if k == "armv7em":
        return "dsp"
    raise TsError(f"--kernels {kernels}: for the TFLM runtimes use auto, dsp or mve (the kernels are chosen "
                  "with --runtime tflm / tflm-ref)")


def _parse(output: str) -> dict:
    facts: dict = {"invoke": {}, "layers": []}
    for key, rest in _LINE.findall(output):
        parts = rest.split()
        if key == "arena" and len(parts) == 3:
            facts["arena_capacity"], facts["arena_used"] = int(parts[0]), int(parts[2])
        elif key == "invoke" and len(parts) == 3:
            facts["invoke"][int(parts[0])] = int(parts[2])
        elif key == "layer" and len(parts) == 4:
            facts["layers"].append((int(parts[0]), parts[1], int(parts[3])))
        elif key == "stack":
            facts["stack"] = int(parts[0])
        elif key == "error":
            facts.setdefault("errors", []).append(rest)
    return facts


def _firmware_error(board: Board, result, facts: dict) -> TsError:
    if result.fault:
        return TsError(f"{board.name}: TFLM firmware fault: {result.fault}")
    errors = facts.get("errors")
    detail = errors[0] if errors else result.output.strip().splitlines()[-1:] or ["no output"]
    return TsError(f"{board.name}: TFLM firmware exited with code {result.exit_code}: "
                   f"{detail if isinstance(detail, str) else detail[0]}")


def _np_dtype(t: Tensor) -> np.dtype:
    return np.dtype(NUMPY_DTYPES.get(t.dtype, np.int8))


def _check_inputs(info: Graph, inputs: list[np.ndarray]) -> list[np.ndarray]:
    if len(info.inputs) != 1:
        raise TsError(f"{info.source}: the model has {len(info.inputs)} input tensors; the TFLM runner feeds one")
    if not inputs:
        raise TsError(f"{info.source}: no input to run")
    t = info.t(info.inputs[0])
    out = []
    for k, x in enumerate(inputs):
        x = np.asarray(x)
        if x.dtype != _np_dtype(t):
            raise TsError(f"input {k}: dtype {x.dtype}, the model's input '{t.name}' is {t.dtype}")
        if x.size * x.itemsize != t.nbytes:
            raise TsError(f"input {k}: shape {x.shape} ({x.size} values), the model's input '{t.name}' is "
                          f"{list(t.shape)}")
        out.append(np.ascontiguousarray(x.reshape(t.shape)))
    return out


def _probe_arena(model: Path, board: Board, runtime: str, workdir: Path, kernels: str, info: Graph,
                 timeout: float, progress: bool) -> tuple[int, object, object]:
    """Build with the largest arena the board holds and let TFLM say what it uses.
    Returns (arena_used_bytes, BuildResult, Library); a model that does not fit even then is a TsError."""

    biggest = _max_arena(board)
    probe_dir = workdir / "arena-probe"
    fw, lib, _ = build_app(model, board, runtime=runtime, workdir=probe_dir, arena_bytes=biggest,
                           kernels=kernels, info=info, progress=progress)
    r = run_firmware(board, fw.elf, ["0"], cwd=probe_dir, timeout=timeout)
    facts = _parse(r.output)
    if r.exit_code == EXIT_ARENA:
        raise TsError(f"{model}: TFLM ({runtime}) needs a tensor arena of more than {biggest:,} bytes, the most "
                      f"{board.name} holds")
    if not r.ok or "arena_used" not in facts:
        raise _firmware_error(board, r, facts)
    return facts["arena_used"], fw, lib


def run(model: Path, board: Board, inputs: list[np.ndarray], *, runtime: str, kernels: str = "auto",
        workdir: Path, dump_layers: Path | None = None, timeout: float = 300.0, per_layer: bool = False,
        arena_bytes: int | None = None, progress: bool = True) -> tuple[list[np.ndarray], ModelRunReport]:
    """Run every input (one Invoke each) in one firmware run; returns the int8 outputs and the report.

    `arena_bytes`: the tensor arena to compile in (default: the tflite_micro interpreter's figure with
    a margin); one that is too small is a TsError giving the size TFLM needs. `per_layer`: a second
    run of input 0 with a tick profiler on every operator (report.per_layer). `dump_layers`: a folder
    to receive every operator's output for input 0 (layer_<k>.npy + layers.json, as the aot runtime).
    """

    model = Path(model)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    info = read_tflite(model)
    xs = _check_inputs(info, inputs)
    tb.cpu_kind(board, _kind_request(kernels))  # a Helium build for a CPU without it: before any work
    resolver_entries(info, tb.source_tree().micro / "micro_mutable_op_resolver.h")  # an op TFLM lacks
    interp_arena = None
    if arena_bytes is None:
        interp_arena = tflm_arena_bytes(model.read_bytes())
        arena = arena_with_margin(interp_arena)
    else:
        arena = int(arena_bytes)
        if arena <= 0:
            raise TsError(f"arena_bytes {arena_bytes}: must be positive")
    fw, lib, op_kernels = build_app(model, board, runtime=runtime, workdir=workdir, arena_bytes=arena,
                                    kernels=kernels, info=info, progress=progress)
    for k, x in enumerate(xs):
        (workdir / f"in_{k}.bin").write_bytes(x.tobytes())
        (workdir / f"out_{k}.bin").unlink(missing_ok=True)
    result = run_firmware(board, fw.elf, [str(len(xs))], cwd=workdir, timeout=timeout)
    facts = _parse(result.output)
    if result.exit_code == EXIT_ARENA:
        used, probe_fw, _ = _probe_arena(model, board, runtime, workdir, kernels, info, timeout, progress)
        if arena_bytes is not None:
            raise TsError(f"{model.name}: a tensor arena of {arena:,} bytes is too small for TFLM ({runtime}) "
                          f"on {board.name}: it needs {used:,} bytes (arena_used_bytes)")
        # The interpreter's estimate + margin was short: run with the probe's build (same code).
        fw = probe_fw
        workdir = workdir / "arena-probe"
        for k, x in enumerate(xs):
            (workdir / f"in_{k}.bin").write_bytes(x.tobytes())
        result = run_firmware(board, fw.elf, [str(len(xs))], cwd=workdir, timeout=timeout)
        facts = _parse(result.output)
    if not result.ok or len(facts["invoke"]) != len(xs):
        raise _firmware_error(board, result, facts)

    out_t = info.t(info.outputs[0])
    outputs = []
    for k in range(len(xs)):
        raw = (workdir / f"out_{k}.bin").read_bytes()
        if len(raw) != out_t.nbytes:
            raise TsError(f"{board.name}: output {k} has {len(raw)} bytes, the model's output is {out_t.nbytes}")
        outputs.append(np.frombuffer(raw, dtype=_np_dtype(out_t)).reshape(out_t.shape).copy())

    flash = host_image_bytes(fw.elf) if board.is_host else fw.flash_bytes
    counted = board.counter.unit != "none" and not board.is_host
    per_input = [ticks_to_count(facts["invoke"][k], board.counter.per_tick) for k in range(len(xs))] if counted else []
    report = ModelRunReport(
        model=str(model), board=board.name, runtime=runtime, kernels=KERNELS_LABEL[VARIANT[runtime]],
        instructions=max(per_input) if per_input else None,
        arena_bytes=int(facts.get("arena_used", 0)),
        flash_bytes=flash,
        flash_model_bytes=info.file_bytes,
        flash_runtime_bytes=max(flash - info.file_bytes, 0),
        stack_bytes=facts.get("stack") if counted else None,
        macs=info.macs,
        instructions_per_input=per_input,
        extra={"arena_capacity": facts.get("arena_capacity"), "interpreter_arena_bytes": interp_arena,
               "cpu_kind": lib.kind.label, "library": str(lib.dir), "elf": str(fw.elf),
               "flash_runtime_image_bytes": runtime_flash_of(fw.elf, board),
               "counter_unit": board.counter.unit},
    )
    if per_layer:
        report.per_layer = _profile_run(board, fw.elf, workdir, info, timeout, counted, op_kernels)
    if dump_layers is not None:
        _dump_run(model, board, runtime, workdir, kernels, info, xs[0], Path(dump_layers), timeout, progress)
    return outputs, report


def _profile_run(board: Board, elf: Path, workdir: Path, info: Graph, timeout: float, counted: bool,
                 op_kernels: dict[str, str]) -> list[dict]:
    """Input 0 again, with the tick profiler on every operator (its own run: the profiler's calls
    would otherwise count in the invoke's total)."""

    r = run_firmware(board, elf, ["1", "--profile"], cwd=workdir, timeout=timeout)
    facts = _parse(r.output)
    if not r.ok:
        raise _firmware_error(board, r, facts)
    rows = []
    for k, tag, ticks in facts["layers"]:
        op = info.ops[k] if k < len(info.ops) else None
        name = op_code(op.kind)[0] if op else tag
        rows.append({"index": k, "op": name,
                     "instructions": ticks_to_count(ticks, board.counter.per_tick) if counted else None,
                     "macs": op.macs if op else 0, "kernel": op_kernels.get(name, "tflm-reference")})
    return rows


def _dump_run(model: Path, board: Board, runtime: str, workdir: Path, kernels: str, info: Graph,
              x: np.ndarray, dump_dir: Path, timeout: float, progress: bool) -> None:
    """Every operator's first output for input 0, as the aot runtime writes its layers: dump_dir/
    layer_<k>.npy (a leading axis of 1 invoke) and layers.json. TFLM keeps every tensor for this run
    (preserve_all_tensors), so it has its own build, with the largest arena."""

    d = workdir / "dump"
    fw, _, op_kernels = build_app(model, board, runtime=runtime, workdir=d, arena_bytes=_max_arena(board),
                                  kernels=kernels, info=info, progress=progress)
    (d / "in_0.bin").write_bytes(x.tobytes())
    r = run_firmware(board, fw.elf, ["1", "--dump"], cwd=d, timeout=timeout)
    facts = _parse(r.output)
    if not r.ok:
        raise _firmware_error(board, r, facts)
    dump_dir.mkdir(parents=True, exist_ok=True)
    index = []
    for op in info.ops:
        f = d / f"layer_{op.index}.bin"
        if not f.exists():
            continue
        t = info.t(op.outputs[0])
        name = op_code(op.kind)[0]
        raw = f.read_bytes()
        if len(raw) != t.nbytes:
            raise TsError(f"{board.name}: operator {op.index} ({name}) dumped {len(raw)} bytes, its output "
                          f"'{t.name}' has {t.nbytes}")
        fname = f"layer_{op.index:03d}.npy"
        save_npy(dump_dir / fname, np.frombuffer(raw, dtype=_np_dtype(t)).reshape((1, *t.shape)))
        index.append({"layer": op.index, "file": fname, "op": name, "op_index": op.index,
                      "kernel": op_kernels.get(name, "tflm-reference"), "tensor": t.index, "name": t.name,
                      "shape": list(t.shape), "dtype": _np_dtype(t).name})
    write_json(dump_dir / "layers.json", {"model": str(model), "runtime": runtime, "invokes": 1, "layers": index})
