"""The classifier firmware of a bundle for a board: front-end tables + the int8 model (generated C, or
TensorFlow Lite Micro) + firmware/src/rt/app_classifier.c + the board.

Execution of the model (`exec`): `stream` (tinyscene's compiler, streamed along time: model_stream.c, each
front-end frame pushed into the model as it is computed, rings of rows instead of tensors; the default
whenever the bundle's model can be streamed and the runtime is aot) or `tensor` (the whole feature map, then
one invoke on whole tensors: aot's model.c or TFLM).

The memory plan is static and checked before anything is compiled: front-end state and scratch, the
feature ring (streaming), the protocol buffers and the model arena must fit the board's RAM (large
buffers go to external RAM where the board has it), weights and code its flash — otherwise a TsError
gives the numbers. The linker checks the same again on the real image.
"""
from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from tinyscene.aot.compiler import ARENA_PART, compile_graph, emit
from tinyscene.aot.stream import StreamSpec
from tinyscene.aot.streamcompile import MODEL_C as STREAM_MODEL_C
from tinyscene.aot.streamcompile import compile_stream_graph, emit_stream, stream_parts
from tinyscene.config import FrontendConfig
from tinyscene.errors import TsError
from tinyscene.export.bundle import check_bundle
from tinyscene.frontend import InputQuant
from tinyscene.frontend.codegen import write_fe_tables
from tinyscene.frontend.spec import check_arith_version, make_tables
from tinyscene.paths import FIRMWARE_DIR, cache_dir
from tinyscene.target.apps import get_app
from tinyscene.target.boards import Board, load_board
from tinyscene.target.budget import EXTERNAL_SECTION, Part, place
from tinyscene.target.build import build_firmware
from tinyscene.target.cheader import defines
from tinyscene.tflite.arena import tflm_arena_bytes
from tinyscene.tflite.reader import read_tflite
from tinyscene.tflm import build as tb
from tinyscene.tflm.firmware_sources import write_model_asm, write_ops_header
from tinyscene.tflm.model import arena_with_margin, resolver_entries
from tinyscene.util.atomic import write_json, write_text
from tinyscene.util.lock import file_lock

RUNTIMES = ("aot", "tflm")
EXECS = ("stream", "tensor")
STREAM_SPEC = StreamSpec("W")  # tinyscene's features: [1, n_mels, frames, channels], time on W
RUNTIME_IDS = {"aot": 0, "tflm": 1}
MAX_PAYLOAD = defines("proto.h")["TS_PROTO_MAX_PAYLOAD"]
TX_BYTES = 128  # app_classifier.c tx_buf: INFO (52 B) and COUNTS (6 + 9 per stage); the rest is sent in place
# Stack and heap of the streamed classifier, from what it was measured to use (parity's stack_high_water and
# COUNTS heap_high_water, the paper preset and the tiny test bundle on qemu-an386 and qemu-an386-128k): stack
# 1,120 B at most -> 2,560 B reserved (2x, in 512 B steps); heap 4,416 B with semihosting file I/O (the C
# library's FILE buffers) -> 4,608 B, 0 B over the UART -> 512 B. tests/py/test_stream_classifier.py measures
# them again on every run. A whole-tensor build keeps board.yaml's stack_size / heap_size.
STREAM_STACK_BYTES = 2560
STREAM_HEAP_BYTES = {"semihosting": 4608, "uart": 512, "stdio": 512}


def stream_reserves(board: Board) -> Board:
    """The board with the streamed classifier's stack and heap reservations (the host keeps its own)."""
    if board.is_host:
        return board
    return replace(board, stack_size=STREAM_STACK_BYTES, heap_size=STREAM_HEAP_BYTES.get(board.console, 4608))


@dataclass
class Bundle:
    path: Path
    manifest: dict
    frontend: dict  # frontend.json
    config: object  # FrontendConfig
    quant: object  # InputQuant
    tflite: Path
    classes: list[str]
    bundle_id: int  # crc32 of frontend.json + model_int8.tflite: the firmware reports it in INFO

    @property
    def n_frames(self) -> int:
        return int(self.config.n_frames)

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def feature_shape(self) -> tuple[int, int, int]:
        """[n_mels, frames, channels]: the model's NHWC input without the batch."""
        return (self.config.n_mels, self.n_frames, self.config.channels)


def load_bundle(path: str | Path) -> Bundle:
    """A bundle folder (tinyscene export), checked against its manifest."""

    path = Path(path)
    if not path.is_dir():
        raise TsError(f"{path}: no such bundle folder (make one with `tinyscene export`)")
    man = check_bundle(path)
    fj = path / "frontend.json"
    tfl = path / "model_int8.tflite"
    for f in (fj, tfl):
        if not f.is_file():
            raise TsError(f"{f}: missing from the bundle")
    try:
        fe = json.loads(fj.read_text())
        check_arith_version(fe.get("frontend_arith"), str(fj))
        cfg = FrontendConfig.from_dict(fe["config"], source=str(fj))
        quant = InputQuant.from_dict(fe["input_quant"], source=str(fj)).check(cfg, source=str(fj))
    except (KeyError, TypeError, ValueError) as e:
        raise TsError(f"{fj}: not a bundle front-end description ({e})") from None
    classes = list(fe.get("classes") or [])
    if not classes:
        shape = (fe.get("output") or {}).get("shape") or []
        classes = [f"class{k}" for k in range(int(shape[-1]) if shape else 0)]
    bid = zlib.crc32(tfl.read_bytes(), zlib.crc32(fj.read_bytes()))
    return Bundle(path, man, fe, cfg, quant, tfl, classes, bid)


@dataclass
class MemoryPlan:
    """Bytes of every static buffer of the classifier and where it lives."""

    fe_state: int
    fe_scratch: int
    feature_ring: int  # streaming ring (0 without streaming); the model input itself is in the arena
    io_buffers: int  # one hop of PCM, protocol rx/tx buffers
    arena: int
    arena_in_ext: bool
    ring_in_ext: bool
    model_flash: int
    fe_flash: int
    stack: int
    heap: int
    exec: str = "tensor"
    arena_parts: dict = field(default_factory=dict)  # streamed: rings, sums, shared (bytes)

    @property
    def ram_total(self) -> int:
        """RAM need of the classifier: front-end + features + arena + I/O buffers (stack and heap apart)."""
        return self.fe_state + self.fe_scratch + self.feature_ring + self.io_buffers + self.arena

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("exec", "fe_state", "fe_scratch", "feature_ring", "io_buffers", "arena",
                                            "arena_in_ext", "ring_in_ext", "model_flash", "fe_flash", "stack",
                                            "heap")}
        if self.arena_parts:
            d["arena_parts"] = dict(self.arena_parts)
        d["planned_buffers"] = self.ram_total
        return d

    def describe(self) -> str:
        ext = lambda b: " (external RAM)" if b else ""  # noqa: E731
        parts = f" (streamed: {', '.join(f'{k} {v:,} B' for k, v in self.arena_parts.items())})" \
            if self.arena_parts else ""
        return (f"front-end state {self.fe_state:,} B + scratch {self.fe_scratch:,} B, feature ring "
                f"{self.feature_ring:,} B{ext(self.ring_in_ext)}, I/O buffers {self.io_buffers:,} B, model arena "
                f"{self.arena:,} B{parts}{ext(self.arena_in_ext)} = {self.ram_total:,} B; stack {self.stack:,} B, "
                f"heap {self.heap:,} B; flash: model {self.model_flash:,} B, front-end tables {self.fe_flash:,} B")


def plan_memory(board: Board, bundle: Bundle, arena_bytes: int, model_flash: int, *,
                streaming: bool = True, arena_part: Part | None = None,
                fe_scratch_in_model: bool = False) -> MemoryPlan:
    """The static memory plan on `board`; TsError with the numbers when it does not fit. arena_part: the
    model arena's part when it is not the whole-tensor one (a streamed model's); fe_scratch_in_model: the
    front-end's scratch is inside it (the streamed model's shared region)."""

    cfg = bundle.config
    tables = make_tables(cfg)
    fe_state, fe_scratch = tables.state_bytes, 0 if fe_scratch_in_model else tables.scratch_bytes
    feat = int(np.prod(bundle.feature_shape))
    ring = feat if streaming else 0
    io = cfg.hop_length * cfg.channels * 2 + MAX_PAYLOAD + TX_BYTES + (feat // max(bundle.n_frames, 1) if streaming else 0)
    plan = MemoryPlan(fe_state, fe_scratch, ring, io, arena_bytes, False, False, model_flash,
                      tables.flash_bytes, board.stack_size, board.heap_size)
    arena = arena_part or Part(ARENA_PART, arena_bytes, movable=True)
    ram_parts = [Part("front-end state", fe_state), Part("front-end scratch", fe_scratch), Part("I/O buffers", io),
                 Part("feature ring", ring, movable=True), arena]
    flash_parts = [Part("model", model_flash), Part("front-end tables", tables.flash_bytes)]
    placed = place(board, [p for p in ram_parts if p.bytes], flash_parts, f"bundle {bundle.path.name}")
    plan.arena_in_ext, plan.ring_in_ext = placed.external(arena.name), placed.external("feature ring")
    return plan


# ---------------------------------------------------------------------------------------------
# Generated sources

def clf_header(bundle: Bundle, board: Board, runtime: str, plan: MemoryPlan, command: str, *,
               streaming: bool, delay_hops: int, exec_stream: bool = False) -> str:
    cfg = bundle.config
    ext = f'__attribute__((section("{EXTERNAL_SECTION}")))'
    persistent = 1 if (not board.is_emulated and not board.is_host) else 0
    return "\n".join([
        f"/* Generated by `{command}` for bundle {bundle.path.name}, board {board.name}, runtime {runtime}.",
        " * Sizes and identity of the classifier build (firmware/src/rt/app_classifier.c). Do not edit. */",
        "#ifndef TS_CLF_H", "#define TS_CLF_H", "", "#include <stdint.h>", "", '#include "ts/fe.h"',
        '#include "ts/status.h"', "",
        f"#define TS_CLF_BUNDLE_ID 0x{bundle.bundle_id:08x}u",
        f'#define TS_CLF_BOARD_NAME "{board.name}"',
        f"#define TS_CLF_RUNTIME_ID {RUNTIME_IDS[runtime]}",
        f"#define TS_CLF_CLOCK_HZ {board.clock_hz}u",
        f"#define TS_CLF_SAMPLE_RATE {cfg.sample_rate}u",
        f"#define TS_CLF_N_FFT {cfg.n_fft}",
        f"#define TS_CLF_HOP {cfg.hop_length}",
        f"#define TS_CLF_N_MELS {cfg.n_mels}",
        f"#define TS_CLF_CHANNELS {cfg.channels}",
        f"#define TS_CLF_N_FRAMES {bundle.n_frames}",
        f"#define TS_CLF_DELAY_HOPS {delay_hops}",
        f"#define TS_CLF_N_CLASSES {bundle.n_classes}",
        f"#define TS_CLF_FEATURE_BYTES {int(np.prod(bundle.feature_shape))}",
        f"#define TS_CLF_FE_STATE_BYTES {plan.fe_state}",
        f"#define TS_CLF_FE_SCRATCH_BYTES {plan.fe_scratch}",
        f"#define TS_CLF_ARENA_BYTES {plan.arena}u",
        f"#define TS_CLF_STREAMING {1 if streaming else 0}",
        f"#define TS_CLF_EXEC_STREAM {1 if exec_stream else 0} /* the model runs row by row (model_stream.c) */",
        f"#define TS_CLF_FE_SCRATCH_IN_MODEL {1 if exec_stream else 0} /* in ts_model_stream_shared() */",
        f"#define TS_CLF_TX_BYTES {TX_BYTES}",
        f"#define TS_CLF_PERSISTENT {persistent} /* a real board keeps serving after BYE */",
        "#define TS_CLF_FE_SECTION __attribute__((aligned(8)))",
        f"#define TS_CLF_RING_SECTION {ext if plan.ring_in_ext else ''}", "",
        "/* front-end tables (fe_tables.c via ts_clf_fe.c) and model glue (ts_clf_glue.c) */",
        "const ts_fe_config_t *ts_clf_fe_config(void);",
        "const ts_fe_quant_t *ts_clf_fe_quant(void);",
        "ts_status_t ts_clf_model_init(void);",
        "int8_t *ts_clf_input(void);",
        "const int8_t *ts_clf_output(void);",
        "ts_status_t ts_clf_invoke(void);", "", "#endif /* TS_CLF_H */", ""])


FE_GLUE = """/* Generated by `{command}`: the classifier's front-end tables (fe_tables.c of tinyscene.frontend.codegen). */
#include "fe_tables.h"
#include "ts_clf.h"

const ts_fe_config_t *ts_clf_fe_config(void) {{ return &ts_fe_config; }}
const ts_fe_quant_t *ts_clf_fe_quant(void) {{ return &ts_fe_quant; }}
"""

AOT_GLUE = """/* Generated by `{command}`: the classifier's model calls on tinyscene's generated model (model.c). */
#include "model.h"
#include "ts_clf.h"

ts_status_t ts_clf_model_init(void) {{ return ts_model_check(); }}
int8_t *ts_clf_input(void) {{ return (int8_t *)ts_model_inputs[0].data; }}
const int8_t *ts_clf_output(void) {{ return (const int8_t *)ts_model_outputs[0].data; }}
ts_status_t ts_clf_invoke(void) {{ return ts_model_invoke(); }}
"""


STREAM_GLUE = """/* Generated by `{command}`: the classifier's model on tinyscene's streamed model (model_stream.c; the
 * app pushes each frame with ts_model_stream_push_row and ends the clip with ts_model_stream_finish). */
#include "model_stream.h"
#include "ts_clf.h"

ts_status_t ts_clf_model_init(void) {{ return ts_model_check(); }}
int8_t *ts_clf_input(void) {{ return 0; }}
const int8_t *ts_clf_output(void) {{ return (const int8_t *)ts_model_outputs[0].data; }}
ts_status_t ts_clf_invoke(void) {{ return ts_model_invoke(); }}
"""


def streamable(bundle: Bundle) -> tuple[bool, str]:
    """(whether the bundle's model can run streamed along time, why not)."""
    from tinyscene.aot.kernels import check_supported
    from tinyscene.aot.passes import run_passes
    from tinyscene.aot.stream import analyse

    g = read_tflite(bundle.tflite)
    try:
        check_supported(g)
        run_passes(g)
        analyse(g, STREAM_SPEC)
    except TsError as e:
        return False, str(e)
    return True, ""


def sliding_refusal(bundle: Bundle) -> str:
    """Why a streamed model gives no sliding decision (--decide-every): a window's logits equal the whole-tensor
    model's on that window only if no layer pads the time axis (the rows near a window's edges would see the
    zero point instead of the neighbouring frames the stream has) and the window starts on every layer's
    stride; tinyscene's networks pad (SAME / PyTorch padding)."""
    from tinyscene.aot.kernels import check_supported
    from tinyscene.aot.passes import run_passes
    from tinyscene.aot.stream import analyse, transpose_to_rows
    from tinyscene.aot.streamsched import build

    g = read_tflite(bundle.tflite)
    check_supported(g)
    run_passes(g)
    info = analyse(g, STREAM_SPEC)
    transpose_to_rows(g, info)
    for s in build(g, info).sops:
        last = s.window.start(s.t_out - 1) + s.window.extent
        if s.kind == "window" and (s.window.pad > 0 or last > s.t_in):
            return (f"--decide-every: op {s.op.index} {s.op.kind} pads the time axis ({s.window.pad} row(s) before the "
                    f"clip, {max(last - s.t_in, 0)} after): the rows at a sliding window's edges would not be the "
                    "whole-tensor model's on that window, so a streamed model decides once per clip; a sliding "
                    "decision runs whole tensors (--exec tensor --decide-every N: the feature ring of "
                    f"{bundle.config.n_mels * bundle.n_frames * bundle.config.channels:,} B and one whole-tensor "
                    "invoke per decision)")
    return ("--decide-every: a streamed model without padding along time could slide by keeping its reduction's "
            "per-row sums; not implemented: use --exec tensor --decide-every N")


def resolve_exec(bundle: Bundle, runtime: str, exec_mode: str | None) -> str:
    """--exec: stream or tensor; None: stream whenever the runtime is aot and the model can be streamed."""
    if exec_mode is not None and exec_mode not in EXECS:
        raise TsError(f"--exec {exec_mode}: expected one of {', '.join(EXECS)}")
    if exec_mode == "tensor" or (exec_mode is None and runtime != "aot"):
        return "tensor"
    if runtime != "aot":
        raise TsError(f"--exec stream: runtime {runtime} runs whole tensors; streamed execution is tinyscene's "
                      "compiler (--runtime aot)")
    ok, why = streamable(bundle)
    if ok:
        return "stream"
    if exec_mode == "stream":
        raise TsError(f"--exec stream: bundle {bundle.path.name}: {why}")
    return "tensor"


@dataclass
class ClassifierFirmware:
    elf: Path
    board: Board
    runtime: str
    bundle: Bundle
    plan: MemoryPlan
    flash_bytes: int
    ram_bytes: int
    ext_ram_bytes: int
    kernels: str
    macs: int | None = None
    extra: dict = field(default_factory=dict)
    exec: str = "tensor"

    def summary(self) -> str:
        b = self.board
        if b.is_host:
            return f"{self.elf}: host executable ({self.runtime}, exec {self.exec}); {self.plan.describe()}"
        s = (f"{self.elf}: {self.runtime} runtime, exec {self.exec}, {self.kernels} kernels; flash "
             f"{self.flash_bytes:,} B of "
             f"{b.flash.size:,}, RAM {self.ram_bytes:,} B of {b.ram.size:,}")
        if self.ext_ram_bytes:
            s += f", external RAM {self.ext_ram_bytes:,} B of {b.ext_ram.size:,}" if b.ext_ram else ""
        return s + f"\n  memory plan: {self.plan.describe()}"

    def to_dict(self) -> dict:
        return {"elf": str(self.elf), "board": self.board.name, "runtime": self.runtime, "exec": self.exec,
                "kernels": self.kernels,
                "bundle": str(self.bundle.path), "bundle_id": f"0x{self.bundle.bundle_id:08x}",
                "flash_bytes": self.flash_bytes, "ram_bytes": self.ram_bytes, "ext_ram_bytes": self.ext_ram_bytes,
                "macs": self.macs, "plan": self.plan.to_dict(), **self.extra}


def _check_model_io(bundle: Bundle, graph) -> None:
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise TsError(f"{bundle.tflite}: the classifier needs one input and one output "
                      f"(the model has {len(graph.inputs)} and {len(graph.outputs)})")
    ti, to = graph.t(graph.inputs[0]), graph.t(graph.outputs[0])
    want = [1, *bundle.feature_shape]
    if list(ti.shape) != want or ti.dtype != "int8":
        raise TsError(f"{bundle.tflite}: model input {ti.dtype} {list(ti.shape)} does not match the front-end of "
                      f"frontend.json (int8 {want} = [1, n_mels, frames, channels])")
    if to.dtype != "int8" or int(np.prod(to.shape)) != bundle.n_classes:
        raise TsError(f"{bundle.tflite}: model output {to.dtype} {list(to.shape)} is not int8 logits of the "
                      f"bundle's {bundle.n_classes} classes")
    inp = bundle.frontend.get("input") or {}
    if ti.quant is not None and "scale" in inp:
        if abs(float(ti.quant.s) - float(inp["scale"])) > 1e-6 * abs(float(inp["scale"])) \
                or int(ti.quant.zp) != int(inp.get("zero_point", 0)):
            raise TsError(f"{bundle.tflite}: model input quantisation (scale {float(ti.quant.s):g}, zero point "
                          f"{int(ti.quant.zp)}) differs from frontend.json ({inp['scale']:g}, {inp.get('zero_point')})")


def _sources_digest(paths) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(str(p).encode())
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def build_classifier(bundle: str | Path | Bundle, board: str | Board, *, runtime: str = "aot",
                     kernels: str = "auto", out: Path | None = None, streaming: bool = True,
                     command: str | None = None, exec_mode: str | None = None) -> ClassifierFirmware:
    """Build the classifier firmware of `bundle` for `board` (ELF, or a host executable). exec_mode: stream or
    tensor (resolve_exec: None = stream where the model can be streamed)."""
    if runtime not in RUNTIMES:
        raise TsError(f"--runtime {runtime}: expected one of {', '.join(RUNTIMES)}")
    if isinstance(bundle, Bundle):

        check_bundle(bundle.path)  # the files may have changed since load_bundle checked them
        b = bundle
    else:
        b = load_bundle(bundle)  # checks the bundle's manifest (export.bundle.check_bundle)
    brd = board if isinstance(board, Board) else load_board(board)
    ex = resolve_exec(b, runtime, exec_mode)
    if ex == "stream":
        brd = stream_reserves(brd)
    streaming = streaming and ex == "tensor"  # the sliding mode's feature ring: whole-tensor execution only
    cmd = command or (f"tinyscene.deploy.classifier.build_classifier({b.path.name!r}, {brd.name!r}, "
                      f"runtime={runtime!r}, exec_mode={ex!r})")
    key = f"{brd.name}-{runtime}-{ex}-{kernels}-{'s' if streaming else 'w'}-{b.bundle_id:08x}"
    work = cache_dir() / "classifier" / key
    gen = work / "gen"
    gen.mkdir(parents=True, exist_ok=True)

    with file_lock(work / ".lock"):  # one build of this folder at a time (parallel tests, runs)
        return _build_locked(b, brd, runtime, kernels, out, streaming, cmd, work, gen, ex)


def _build_locked(b: Bundle, brd: Board, runtime: str, kernels: str, out, streaming: bool, cmd: str, work: Path,
                  gen: Path, ex: str) -> ClassifierFirmware:
    if ex == "stream":
        _check_model_io(b, read_tflite(b.tflite))
        fe_scratch = make_tables(b.config).scratch_bytes  # the front-end's scratch: the model's shared region
        for prefer in ("speed", "size"):  # Winograd's transformed weights in flash where the board's flash allows
            comp = compile_stream_graph(read_tflite(b.tflite), STREAM_SPEC, brd.kernel_family(kernels),
                                        min_shared=fe_scratch, prefer=prefer)
            arena_part, _ = stream_parts(comp)
            arena_part = replace(arena_part,
                                 name=arena_part.name.replace("shared", "shared with the front-end's scratch"))
            model_flash, family, macs = comp.model_bytes, comp.family, comp.macs
            try:
                plan = plan_memory(brd, b, arena_part.bytes, model_flash, streaming=False, arena_part=arena_part,
                                   fe_scratch_in_model=True)
                break
            except TsError:
                if prefer == "size":
                    raise
        plan.exec = "stream"
        m = comp.memory()
        plan.arena_parts = {"rings": m["rings_persistent"], "sums": m["accumulators"],
                            "shared (transient rings, scratch, front-end scratch)": m["shared"]}
        emit_stream(comp, gen, cmd, arena_section=EXTERNAL_SECTION if plan.arena_in_ext else "")
        glue = STREAM_GLUE.format(command=cmd)
        extra_sources = [gen / STREAM_MODEL_C]
        extra_objects, link_flags, linker, cflags = [], [], None, []
        group_family = family
    elif runtime == "aot":
        comp = compile_graph(read_tflite(b.tflite), brd.kernel_family(kernels))
        _check_model_io(b, comp.graph)
        arena, model_flash, family, macs = comp.plan.arena_bytes, comp.model_bytes, comp.family, comp.macs
        plan = plan_memory(brd, b, arena, model_flash, streaming=streaming)
        # the classifier's own buffers share the RAM: the arena goes where the whole image's budget says
        emit(comp, gen, cmd, arena_section=EXTERNAL_SECTION if plan.arena_in_ext else "")
        glue = AOT_GLUE.format(command=cmd)
        extra_sources = [gen / "model.c"]
        extra_objects, link_flags, linker, cflags = [], [], None, []
        group_family = family
    else:
        tf = _tflm_parts(b, brd, kernels, gen, cmd, streaming)
        plan = tf["plan"]
        model_flash, family, macs = tf["model_bytes"], tf["kernels"], tf.get("macs")
        glue = "/* --runtime tflm: the model calls are in firmware/src/rt/classifier_tflm.cc */\n"
        extra_sources = tf["sources"]
        extra_objects, link_flags, linker, cflags = tf["objects"], tf["link_flags"], tf["linker"], tf["cflags"]
        group_family = brd.kernel_family("auto")  # the app's groups are rt and fe: the front-end's stages

    tables = make_tables(b.config)
    write_text(gen / "ts_clf.h", clf_header(b, brd, runtime, plan, cmd, streaming=streaming,
                                             delay_hops=tables.delay_hops, exec_stream=ex == "stream"))

    write_fe_tables(gen, b.config, b.quant, command=cmd)
    write_text(gen / "ts_clf_fe.c", FE_GLUE.format(command=cmd))
    write_text(gen / "ts_clf_glue.c", glue)
    elf = Path(out) if out else work / ("classifier" if brd.is_host else "classifier.elf")
    app = get_app("classifier")
    groups_app = app
    if runtime == "tflm":

        groups_app = replace(app, groups=("rt", "fe"))
    sources = [*extra_sources, gen / "fe_tables.c", gen / "ts_clf_fe.c", gen / "ts_clf_glue.c"]
    res = build_firmware(brd, groups_app, elf, extra_sources=sources, include_dirs=[gen],
                         kernel_family=group_family, cflags=cflags,
                         extra_objects=extra_objects, link_flags=link_flags, linker=linker)
    fw = ClassifierFirmware(elf=res.elf, board=brd, runtime=runtime, bundle=b, plan=plan,
                            flash_bytes=res.flash_bytes, ram_bytes=res.ram_bytes, ext_ram_bytes=res.ext_ram_bytes,
                            kernels=family, macs=macs, exec=ex)
    write_json(work / "build.json", fw.to_dict())
    return fw


def _tflm_parts(bundle: Bundle, board: Board, kernels: str, gen: Path, command: str, streaming: bool) -> dict:
    """TensorFlow Lite Micro with CMSIS-NN for the classifier (tinyscene.tflm's pinned library): the
    model in flash, the op resolver of its operators, a static arena (the tflite_micro interpreter's
    figure with a margin), firmware/src/rt/classifier_tflm.cc as the model glue."""

    info = read_tflite(bundle.tflite)
    arena = arena_with_margin(tflm_arena_bytes(bundle.tflite.read_bytes()))
    plan = plan_memory(board, bundle, arena, info.file_bytes, streaming=streaming)
    lib = tb.ensure_library(board, kernels="auto", progress=False)
    entries = resolver_entries(info, lib.tree.micro / "micro_mutable_op_resolver.h")
    objects = lib.kernel_objects([e.registration for e in entries], "cmsis-nn", progress=False)
    write_ops_header(gen, info, entries, command)
    write_model_asm(gen, bundle.tflite, command)
    section = f'__attribute__((section("{EXTERNAL_SECTION}")))' if plan.arena_in_ext else ""
    return {"plan": plan, "model_bytes": info.file_bytes, "kernels": "cmsis-nn", "macs": info.macs,
            "sources": [gen / "ts_tflm_model.S", FIRMWARE_DIR / "src" / "rt" / "classifier_tflm.cc"],
            "objects": objects, "link_flags": lib.link_inputs(), "linker": lib.kind.cxx,
            "cflags": [*lib.app_cflags(), f"-DTS_TFLM_ARENA_BYTES={arena}u",
                       f"-DTS_CLF_ARENA_SECTION={section}" if section else "-DTS_CLF_ARENA_SECTION="]}
