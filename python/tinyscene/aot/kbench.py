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

from tinyscene.errors import TsError
from tinyscene.target.apps import App
from tinyscene.util.limits import parse_limits

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
    from tinyscene.target.apps import group_sources

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

    from tinyscene.tflite.reader import read_tflite

    g = read_tflite(model)  # an arena for the largest models: twice every tensor, at least 1 MiB
    arena = max(1 << 20, 2 * sum(t.nbytes for t in g.tensors.values() if t.data is None) + (1 << 16))
    it = tflm.Interpreter.from_file(str(model), arena_size=arena)
    it.set_input(x, 0)
    it.invoke()
    return [np.asarray(it.get_output(k)).copy() for k in range(n_outputs)]


def bench_one(model: Path, board_name: str, kernels: str, workdir: Path, x: np.ndarray,
              expected: list[np.ndarray] | None = None, timeout: float = 900.0) -> BenchResult:
    """Counts for one model on one board with one kernel family request (reference | auto)."""
    from tinyscene.aot.compiler import compile_model
    from tinyscene.aot.runner import prepare_inputs
    from tinyscene.target.boards import load_board
    from tinyscene.target.build import build_firmware
    from tinyscene.target.modelrun import ticks_to_count
    from tinyscene.target.qemu import run_firmware

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
    from tinyscene.target.image import symbols_bytes

    flash_model = symbols_bytes(build.elf, ("tsm_", "ts_model_layer", "ts_model_inputs", "ts_model_outputs"))
    return BenchResult(model=str(model), board=board_name, kernels=kernels, family=comp.family, instructions=total,
                       macs=comp.macs, arena_bytes=comp.plan.arena_bytes, flash_model_bytes=flash_model,
                       flash_runtime_bytes=max(build.flash_bytes - flash_model, 0),
                       flash_kernels_bytes=_kernel_code_bytes(build, comp.family), bit_exact=exact, layers=layers)


# ---- the command ------------------------------------------------------------------------------------

DEFAULT_BOARDS = ("qemu-an386", "qemu-an500", "qemu-an547")
M4_BOARD, M55_BOARD = "qemu-an386", "qemu-an547"


@dataclass
class Targets:
    """The figures issue 9 asks for, checked on the measured counts (qemu-an386 = Cortex-M4, an547 = M55)."""

    max_per_mac: float = 1.5  # whole network, M4, optimized
    min_speedup: float = 5.0  # reference / optimized, M4
    max_layer_per_mac: float = 1.1  # 3x3 and 1x1 convolutions with >= 32 input and output channels, M4
    min_m55_gain: float = 2.0  # M4 optimized / M55 optimized


# --fail-on keys -> the Targets field each sets (a target named in --fail-on fails the command when missed)
FAIL_ON_KEYS = {"per_mac": "max_per_mac", "speedup": "min_speedup", "layer_per_mac": "max_layer_per_mac",
                "m55_gain": "min_m55_gain"}


def parse_fail_on(spec: str | None) -> dict[str, float]:
    """"speedup=5,per_mac=1.5" -> {"speedup": 5.0, "per_mac": 1.5}; malformed: a TsError naming the part."""
    return parse_limits(spec, FAIL_ON_KEYS)


def display_name(model: str) -> str:
    """A built-in network's cache file (name-<hash>.tflite) shows as its name; other models as their file."""
    m = re.match(r"^(.*)-[0-9a-f]{12}\.tflite$", Path(model).name)
    return m.group(1) if m else Path(model).name


def _key(r: BenchResult) -> tuple[str, str, str]:
    return (display_name(r.model), r.board, r.kernels)


def check_targets(results: list[BenchResult], t: Targets = Targets()) -> list[tuple[str, str, bool, str]]:
    """-> (key, what, met, detail) per network and target (key: the --fail-on key, "exact" for bit-exactness), for
    the networks measured on the boards involved."""
    by = {_key(r): r for r in results}
    out = []
    for model in dict.fromkeys(display_name(r.model) for r in results):
        opt, ref, m55 = by.get((model, M4_BOARD, "auto")), by.get((model, M4_BOARD, "reference")), \
            by.get((model, M55_BOARD, "auto"))
        if opt and opt.per_mac is not None:
            out.append(("per_mac", f"{model}: M4 instructions/MAC <= {t.max_per_mac}", opt.per_mac <= t.max_per_mac,
                        f"{opt.per_mac:.3f}"))
            big = [L for L in opt.layers if L.op == "CONV_2D" and L.kernel_hw in ((3, 3), (1, 1))
                   and min(L.channels_in, L.channels_out) >= 32 and L.per_mac is not None]
            if big:
                worst = max(big, key=lambda L: L.per_mac)
                out.append(("layer_per_mac", f"{model}: M4 3x3/1x1 conv layers with >= 32 channels <= {t.max_layer_per_mac} "
                            "instructions/MAC", worst.per_mac <= t.max_layer_per_mac,
                            f"worst layer {worst.index} ({worst.detail}) {worst.per_mac:.3f}, {len(big)} layers"))
        if opt and ref and opt.instructions and ref.instructions:
            s = ref.instructions / opt.instructions
            out.append(("speedup", f"{model}: M4 reference / optimized >= {t.min_speedup}x", s >= t.min_speedup, f"{s:.2f}x"))
        if opt and m55 and opt.instructions and m55.instructions:
            s = opt.instructions / m55.instructions
            out.append(("m55_gain", f"{model}: M4 / M55 (both optimized) >= {t.min_m55_gain}x", s >= t.min_m55_gain,
                        f"{s:.2f}x"))
        for r in results:
            if display_name(r.model) == model and r.bit_exact is False:
                out.append(("exact", f"{model} on {r.board} ({r.family}): bit-exact with tflite_micro", False, "differs"))
    return out


def _fmt(n) -> str:
    return "-" if n is None else f"{n:,}"


def network_table(results: list[BenchResult]) -> str:
    by = {_key(r): r for r in results}
    lines = ["| network | MACs | board | kernels | instructions | instr/MAC | reference / this | M4 / this "
             "| bit-exact | flash model B | flash runtime B | kernel code B | arena B |",
             "|---|---:|---|---|---:|---:|---:|---:|---|---:|---:|---:|---:|"]
    for r in results:
        m = display_name(r.model)
        ref = by.get((m, r.board, "reference"))
        m4 = by.get((m, M4_BOARD, "auto"))
        sp = f"{ref.instructions / r.instructions:.2f}x" if ref and ref is not r and r.instructions else ""
        g = f"{m4.instructions / r.instructions:.2f}x" if (m4 and r.kernels == "auto" and r.board != M4_BOARD
                                                           and r.instructions) else ""
        ex = {True: "yes", False: "NO", None: "-"}[r.bit_exact]
        lines.append(f"| {m} | {r.macs:,} | {r.board} | {r.family} | {_fmt(r.instructions)} | "
                     f"{r.per_mac:.3f} | {sp} | {g} | {ex} | {r.flash_model_bytes:,} | {r.flash_runtime_bytes:,} | "
                     f"{r.flash_kernels_bytes:,} | {r.arena_bytes:,} |")
    return "\n".join(lines)


def layer_table(results: list[BenchResult], model: str) -> str:
    runs = [r for r in results if display_name(r.model) == model]
    if not runs:
        return ""
    cols = [(r.board, r.family) for r in runs]
    base = next((r for r in runs if r.board == M4_BOARD and r.kernels == "auto"), runs[0])
    head = "| layer | op | kernel (" + base.family + ") | shape | MACs | " + " | ".join(
        f"{b} {f}" for b, f in cols) + " |"
    lines = [head, "|" + "---|" * 5 + "---:|" * len(cols)]
    for k, L in enumerate(base.layers):
        cells = []
        for r in runs:
            c = r.layers[k]
            cells.append(_fmt(c.instructions) + (f" ({c.per_mac:.2f}/MAC)" if c.per_mac is not None else ""))
        lines.append(f"| {L.index} | {L.op} | {L.kernel} | {L.detail} | {L.macs:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(results: list[BenchResult], path: Path) -> None:
    from tinyscene.util.plots import pyplot, save_png

    plt = pyplot()
    models = list(dict.fromkeys(display_name(r.model) for r in results))
    configs = list(dict.fromkeys((r.board, r.kernels) for r in results))
    by = {_key(r): r for r in results}
    fig, axes = plt.subplots(1 + len(models), 1, figsize=(11, 3.2 * (1 + len(models))))
    ax = axes[0]
    width = 0.8 / max(len(configs), 1)
    for j, (b, k) in enumerate(configs):
        vals = [by[(m, b, k)].per_mac if (m, b, k) in by else 0 for m in models]
        ax.bar(np.arange(len(models)) + j * width, vals, width, label=f"{b} {k}")
    ax.set_xticks(np.arange(len(models)) + width * (len(configs) - 1) / 2, models)
    ax.set_ylabel("instructions / MAC")
    ax.set_yscale("log")
    ax.axhline(1.5, color="k", lw=0.8, ls="--")
    ax.legend(fontsize=7, ncol=3)
    ax.set_title("whole networks (executed instructions under QEMU -icount, per multiply-accumulate)")
    for ax, m in zip(axes[1:], models):
        runs = [r for r in results if display_name(r.model) == m]
        n = len(runs[0].layers) if runs else 0
        w = 0.8 / max(len(runs), 1)
        for j, r in enumerate(runs):
            ax.bar(np.arange(n) + j * w, [L.instructions or 0 for L in r.layers], w, label=f"{r.board} {r.family}")
        ax.set_xticks(np.arange(n) + w * (len(runs) - 1) / 2,
                      [f"{L.index}\n{L.op[:8]}" for L in runs[0].layers], fontsize=6)
        ax.set_yscale("log")
        ax.set_ylabel("instructions")
        ax.set_title(f"{m}: per layer")
        ax.legend(fontsize=6, ncol=3)
    fig.tight_layout()
    save_png(fig, path, dpi=110)


def _resolve_models(names: list[str]) -> list[Path]:
    from tinyscene.aot.benchnets import network_path

    out = []
    for n in names:
        p = Path(n)
        if p.suffix == ".tflite":
            if not p.exists():
                raise TsError(f"--models: {p} does not exist")
            out.append(p)
        else:
            out.append(network_path(n))
    return out


def _input_for(model: Path, seed: int) -> np.ndarray:
    from tinyscene.tflite.reader import read_tflite

    g = read_tflite(model)
    if len(g.inputs) != 1:
        raise TsError(f"{model}: bench-kernels takes single-input models")
    t = g.t(g.inputs[0])
    rng = np.random.default_rng(seed)
    if t.dtype == "int8":
        return rng.integers(-128, 128, size=t.shape, dtype=np.int8)
    return rng.standard_normal(t.shape).astype(np.float32)


def run_bench(models: list[str], boards: list[str], kernels: list[str], out: Path, *, repeat: int = 1,
              seed: int = 1, progress: bool = True,
              targets: Targets = Targets()) -> tuple[list[BenchResult], list[tuple[str, str, bool, str]]]:
    import json
    import tempfile

    from tqdm import tqdm

    from tinyscene.target.boards import load_board
    from tinyscene.tflite.reader import read_tflite
    from tinyscene.util.atomic import write_json, write_text

    for k in kernels:
        if k not in ("reference", "auto"):
            raise TsError(f"--kernels {k}: expected reference and/or auto")
    for b in boards:
        if not load_board(b).is_emulated:
            raise TsError(f"--boards: board '{b}' is not emulated (instruction counts need QEMU)")
    paths = _resolve_models(models)
    jobs = [(p, b, k) for p in paths for b in boards for k in kernels]
    results: list[BenchResult] = []
    with tempfile.TemporaryDirectory(prefix="tinyscene-bench-") as tmp:
        bar = tqdm(jobs, desc="bench-kernels", unit="run", disable=not progress or None)
        for p, b, k in bar:
            bar.set_postfix_str(f"{p.stem} {b} {k}")
            x = _input_for(p, seed)
            expected = tflm_outputs(p, x, len(read_tflite(p).outputs))
            runs = [bench_one(p, b, k, Path(tmp) / f"{p.stem}-{b}-{k}-{i}", x, expected) for i in range(repeat)]
            counts = {(r.instructions, tuple(L.instructions for L in r.layers)) for r in runs}
            if len(counts) != 1:
                raise TsError(f"{p.name} on {b} ({k}): instruction counts differ between runs: not deterministic")
            results.append(runs[0])
    checks = check_targets(results, targets)
    out = Path(out)
    report = {"command": "tinyscene bench-kernels", "repeat": repeat, "deterministic": True, "seed": seed,
              "counter": "executed instructions (QEMU -icount shift=0, board SysTick x counter.per_tick), around "
                         "ts_model_invoke(); per layer: the counter after each layer (hook), so per-layer counts "
                         "include a few instructions of the hook",
              "runs": [r.to_dict() for r in results],
              "targets": [{"key": k, "target": w, "met": ok, "measured": d} for k, w, ok, d in checks]}
    write_json(out / "bench-kernels.json", report)
    md = ["# tinyscene bench-kernels", "",
          "Executed instructions per invoke under QEMU (`-icount shift=0`); bit-exact: output == tflite_micro.", "",
          network_table(results), ""]
    for m in dict.fromkeys(display_name(r.model) for r in results):
        md += [f"## {m} per layer", "", layer_table(results, m), ""]
    if checks:
        md += ["## Targets (issue 9)", ""] + [f"- {'met' if ok else 'NOT MET'}: {w}: {d}" for _, w, ok, d in checks] + [""]
    write_text(out / "bench-kernels.md", "\n".join(md))
    plot(results, out / "bench-kernels.png")
    json.dumps(report)  # serialisable
    return results, checks


def _bench_cmd(args) -> int:
    import dataclasses
    import sys

    limits = parse_fail_on(args.fail_on)  # a malformed spec stops before any build
    targets = dataclasses.replace(Targets(), **{FAIL_ON_KEYS[k]: v for k, v in limits.items()})
    models = [m for m in args.models.split(",") if m]
    boards = [b for b in args.boards.split(",") if b]
    kernels = [k for k in args.kernels.split(",") if k]
    results, checks = run_bench(models, boards, kernels, Path(args.out), repeat=args.repeat, seed=args.seed,
                                targets=targets)
    print(network_table(results))
    for _, w, ok, d in checks:
        print(f"{'met' if ok else 'NOT MET'}: {w}: {d}")
    print(f"wrote {args.out}/bench-kernels.md, bench-kernels.json, bench-kernels.png")
    failed = [(w, d) for k, w, ok, d in checks if not ok and (k == "exact" or k in limits)]
    for w, d in failed:
        print(f"tinyscene bench-kernels: FAIL: {w}: {d}", file=sys.stderr)
    return 1 if failed else 0


def register(sub) -> None:
    p = sub.add_parser("bench-kernels", help="instructions of the int8 kernel families per network and per layer "
                                             "on the QEMU boards (reference vs optimized), table + plot")
    p.add_argument("--models", default="resnet8,dscnn,scene",
                   help="comma-separated built-in networks (resnet8, dscnn, scene; paper, paper-uniform: the full-size "
                        "paper networks, a minute or more per run) and/or .tflite paths")
    p.add_argument("--boards", default=",".join(DEFAULT_BOARDS), help="comma-separated QEMU boards")
    p.add_argument("--kernels", default="reference,auto", help="kernel families to compare: reference,auto")
    p.add_argument("--out", default="build/bench-kernels", help="folder for bench-kernels.md/.json/.png")
    p.add_argument("--repeat", type=int, default=1, help="runs per configuration; counts must be identical")
    p.add_argument("--seed", type=int, default=1, help="seed of the random int8 input")
    p.add_argument("--fail-on", metavar="KEY=VALUE,...",
                   help="exit 1 when a named target is missed: per_mac (M4 instructions per MAC, at most), speedup "
                        "(M4 reference / optimized, at least), layer_per_mac (M4 3x3/1x1 layers with >= 32 "
                        "channels, at most), m55_gain (M4 / M55, at least); e.g. speedup=5,m55_gain=2. An output "
                        "that is not bit-exact always exits 1")
    p.set_defaults(func=_bench_cmd)
