"""`tinyscene bench`: every model on every board with every runtime, the same input for all, in one
table (markdown + CSV) and one plot.

Per model, board and runtime: instructions per invoke (board counter, QEMU -icount), instructions
per MAC (MACs of the model's convolutions, depthwise convolutions and fully connected layers),
the flash image, the code and tables beyond the weights (the image's bytes outside the harness every app
shares, target.imagemap, less the model's weight and bias bytes as the .tflite stores them: kernels or
interpreter, layer descriptors, quantisation records, padding), arena bytes, each as a ratio to `tflm`
(TFLM + CMSIS-NN) on the same board and model, and whether the output equals the tflite_micro Python
interpreter's. A runtime that is not available (or fails) is reported in its row, never a crash of the
whole bench. Counts are deterministic: QEMU counts instructions, and the input is drawn from a seed.

Gates (`--fail-on ratio=0.8,flash=1.0,arena=1.0,code=0.25`): every row of another runtime at most that
ratio to tflm's on the same model and board; any output that is not bit-exact, or a runtime that fails,
fails the bench too (BenchFailure, exit status 1).
"""
from __future__ import annotations

import csv
import inspect
import io
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyscene.errors import TsError
from tinyscene.runtimes import layerjoin
from tinyscene.runtimes.dispatch import RUNTIMES
from tinyscene.target.boards import load_board
from tinyscene.tflite.graph import NUMPY_DTYPES
from tinyscene.tflite.interpreters import tflm_interpreter
from tinyscene.tflite.reader import read_tflite
from tinyscene.util.atomic import write_text
from tinyscene.util.limits import parse_limits
from tinyscene.util.plots import pyplot, save_png
from tinyscene.util.quiet import quiet

COLUMNS = ["model", "board", "runtime", "kernels", "instructions", "instr_per_mac", "ratio_to_tflm", "macs",
           "flash_bytes", "flash_ratio", "code_bytes", "code_ratio", "arena_bytes", "arena_ratio",
           "flash_runtime_bytes", "flash_model_bytes", "weight_bytes", "stack_bytes", "exact", "status"]

# --fail-on keys -> the Row attribute each bounds (a ratio to tflm's on the same model and board)
GATES = {"ratio": "ratio_to_tflm", "flash": "flash_ratio", "arena": "arena_ratio", "code": "code_ratio",
         "layer": "layer_ratio"}


class BenchFailure(Exception):
    """The bench ran, but a gate (--fail-on), an output that is not bit-exact or a failed runtime fails it."""


def parse_fail_on(spec: str | None) -> dict[str, float]:
    """"ratio=0.8,flash=1.0" -> {"ratio": 0.8, "flash": 1.0}; a malformed spec is a TsError naming the part."""
    return parse_limits(spec, GATES)


@dataclass
class Row:
    model: str
    board: str
    runtime: str
    kernels: str = ""
    instructions: int | None = None
    macs: int | None = None
    arena_bytes: int | None = None
    flash_runtime_bytes: int | None = None
    flash_model_bytes: int | None = None
    flash_bytes: int | None = None
    code_bytes: int | None = None  # the image beyond the harness and the model's weight bytes
    weight_bytes: int | None = None  # the model's constant bytes (weights, biases) as the .tflite stores them
    stack_bytes: int | None = None
    exact: bool | None = None
    status: str = "ok"
    ratio_to_tflm: float | None = None
    flash_ratio: float | None = None
    code_ratio: float | None = None
    arena_ratio: float | None = None
    per_layer: list[dict] | None = field(default=None, repr=False)
    layers_vs_tflm: list[dict] | None = field(default=None, repr=False)  # layerjoin.join with tflm's
    layer_ratio: float | None = None  # the slowest layer's ratio to tflm's operators (--per-layer)

    @property
    def instr_per_mac(self) -> float | None:
        if self.instructions is None or not self.macs:
            return None
        return self.instructions / self.macs

    def values(self) -> dict:
        return {k: (self.instr_per_mac if k == "instr_per_mac" else getattr(self, k)) for k in COLUMNS}


MICRO_SPEECH = "tensorflow/lite/micro/examples/micro_speech/models/micro_speech_quantized.tflite"


def resolve_model(name: str) -> Path:
    """A .tflite path, a network of `tinyscene bench-kernels` (resnet8, dscnn, scene, paper, paper-uniform: built
    and cached on first use) or micro_speech (TFLM's example model, from the pinned tflite-micro sources)."""
    from tinyscene.aot import benchnets

    p = Path(name)
    if p.is_file():
        return p
    if name in benchnets.NETWORKS:
        return benchnets.network_path(name)
    if name == "micro_speech":
        from tinyscene.thirdparty.fetch import sources

        return sources(["tflite-micro"])["tflite-micro"] / MICRO_SPEECH
    raise TsError(f"{name}: no such model file (nor a named network: {', '.join(benchnets.NETWORKS)}, micro_speech)")


def bench_input(model: Path, seed: int) -> np.ndarray:
    """The input every runtime gets: uniform random values of the model's input type, from `seed`."""
    info = read_tflite(model)
    if len(info.inputs) != 1:
        raise TsError(f"{model}: bench feeds models with one input tensor; this one has {len(info.inputs)}")
    t = info.t(info.inputs[0])
    dtype = np.dtype(NUMPY_DTYPES.get(t.dtype, np.int8))
    rng = np.random.default_rng(seed)
    if np.issubdtype(dtype, np.integer):
        lim = np.iinfo(dtype)
        return rng.integers(lim.min, int(lim.max) + 1, size=t.shape, dtype=dtype)
    return rng.standard_normal(t.shape).astype(dtype)


def reference_output(model: Path, x: np.ndarray) -> np.ndarray | None:
    """The tflite_micro Python interpreter's output for x (None if it cannot run the model)."""
    try:
        data = Path(model).read_bytes()
        it = tflm_interpreter(data, max(64 << 20, 16 * len(data)))  # as large as any model here needs
        with quiet():
            it.set_input(x, 0)
            it.invoke()
        return np.asarray(it.get_output(0))
    except Exception:  # noqa: BLE001 - a model the interpreter refuses is reported as exact=None
        return None


def weight_bytes(model: Path) -> int:
    """The bytes of the model's constant tensors (weights, biases, other constants) as the .tflite stores them."""
    g = read_tflite(model)
    return sum(t.nbytes for t in g.tensors.values() if t.is_const)


def _run_one(model: Path, label: str, board: str, runtime: str, x: np.ndarray, ref: np.ndarray | None,
             workdir: Path, per_layer: bool, timeout: float, macs: int, weights: int) -> Row:
    row = Row(model=label, board=board, runtime=runtime, macs=macs, weight_bytes=weights)
    if runtime not in RUNTIMES:
        row.status = f"unknown runtime (known: {', '.join(RUNTIMES)})"
        return row
    run = RUNTIMES[runtime]
    kwargs = {"runtime": runtime, "kernels": "auto", "workdir": workdir, "dump_layers": None, "timeout": timeout}
    params = inspect.signature(run).parameters
    if per_layer and "per_layer" in params:
        kwargs["per_layer"] = True
    elif per_layer and "profile_layers" in params:  # the aot runtime's name for it
        kwargs["profile_layers"] = True
    if "progress" in params:
        kwargs["progress"] = False
    try:
        outputs, rep = run(model, load_board(board), [x], **kwargs)
    except TsError as e:
        row.status = f"failed: {e}".replace("\n", " ")[:300]
        return row
    row.kernels = rep.kernels
    row.instructions = rep.instructions
    row.arena_bytes = rep.arena_bytes
    row.flash_runtime_bytes = rep.flash_runtime_bytes if rep.flash_bytes else None
    row.flash_model_bytes = rep.flash_model_bytes
    row.flash_bytes = rep.flash_bytes or None
    runtime_image = rep.extra.get("flash_runtime_image_bytes")
    row.code_bytes = runtime_image - weights if runtime_image is not None else None
    row.stack_bytes = rep.stack_bytes
    row.per_layer = rep.per_layer
    if ref is not None and outputs:
        first = outputs[0][0] if isinstance(outputs[0], (list, tuple)) else outputs[0]  # output 0 of a multi-output model
        row.exact = bool(np.array_equal(np.asarray(first).reshape(ref.shape), ref))
    return row


def _fmt(v, kind: str = "") -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "NO"
    if kind == "ratio":
        return f"{v:.2f}×"
    if isinstance(v, float):
        return f"{v:.3f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def geomeans(rows: list[Row]) -> dict[tuple[str, str], float]:
    """(board, runtime) -> geometric mean of the instruction ratios to tflm over the models."""
    out: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if r.runtime != "tflm" and r.ratio_to_tflm:
            out.setdefault((r.board, r.runtime), []).append(r.ratio_to_tflm)
    return {k: float(np.exp(np.mean(np.log(v)))) for k, v in out.items()}


def markdown(rows: list[Row], command: str) -> str:
    head = ["model", "board", "runtime", "kernels", "instructions / invoke", "instr / MAC", "vs tflm", "flash B",
            "vs tflm", "code + tables B", "vs tflm", "arena B", "vs tflm", "stack B", "= tflite_micro", "status"]
    out = [f"<!-- Generated by `{command}` -->", "", "| " + " | ".join(head) + " |",
           "|" + "|".join(["---"] * 4 + ["---:"] * 10 + ["---", "---"]) + "|"]
    for r in rows:
        v = r.values()
        cells = [v["model"], v["board"], v["runtime"], v["kernels"] or "—", _fmt(v["instructions"]),
                 _fmt(v["instr_per_mac"]), _fmt(v["ratio_to_tflm"], "ratio"), _fmt(v["flash_bytes"]),
                 _fmt(v["flash_ratio"], "ratio"), _fmt(v["code_bytes"]), _fmt(v["code_ratio"], "ratio"),
                 _fmt(v["arena_bytes"]), _fmt(v["arena_ratio"], "ratio"), _fmt(v["stack_bytes"]),
                 _fmt(v["exact"]), v["status"]]
        out.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    g = geomeans(rows)
    if g:
        out.append("")
        out += [f"Geometric mean of the instruction ratios to tflm, {rt} on {b}: {x:.2f}×"
                for (b, rt), x in sorted(g.items())]
    out += layer_summary(rows)
    out += ["", "Code + tables: the flash image outside the harness every app shares (start-up, board support, "
                "firmware/src/rt, C library), less the model's weight and bias bytes as the .tflite stores them."]
    return "\n".join(out) + "\n"


def to_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        v = r.values()
        if v["instr_per_mac"] is not None:
            v["instr_per_mac"] = round(v["instr_per_mac"], 4)
        for k in ("ratio_to_tflm", "flash_ratio", "code_ratio", "arena_ratio"):
            if v[k] is not None:
                v[k] = round(v[k], 4)
        w.writerow({k: ("" if v[k] is None else v[k]) for k in COLUMNS})
    return buf.getvalue()


def layers_csv(rows: list[Row]) -> str:
    """Every layer of every run; a compiled runtime's layers also with TFLM's instructions for the same .tflite
    operators and the ratio (layerjoin)."""
    buf = io.StringIO()
    cols = ["model", "board", "runtime", "index", "op", "kernel", "instructions", "macs", "instr_per_mac",
            "tflite_ops", "tflm_instructions", "vs_tflm"]
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        joined = {g["layers"][-1]: g for g in r.layers_vs_tflm or []}
        for lay in r.per_layer or []:
            ins, macs = lay.get("instructions"), lay.get("macs")
            g = joined.get(lay.get("index"))
            w.writerow({"model": r.model, "board": r.board, "runtime": r.runtime, "index": lay.get("index"),
                        "op": lay.get("op"), "kernel": lay.get("kernel", ""),
                        "instructions": "" if ins is None else ins, "macs": macs or 0,
                        "instr_per_mac": round(ins / macs, 4) if ins is not None and macs else "",
                        "tflite_ops": " ".join(map(str, g["ops"])) if g else "",
                        "tflm_instructions": "" if not g or g["tflm_instructions"] is None else g["tflm_instructions"],
                        "vs_tflm": "" if not g or g["ratio"] is None else round(g["ratio"], 4)})
    return buf.getvalue()


def layer_summary(rows: list[Row]) -> list[str]:
    """Markdown lines: per compiled run, its slowest layer against TFLM's operators and how many are above 1.0x."""
    out = []
    for r in rows:
        if not r.layers_vs_tflm:
            continue
        g = layerjoin.worst(r.layers_vs_tflm)
        if g is None:
            continue
        above = sum(1 for x in r.layers_vs_tflm if x["ratio"] is not None and x["ratio"] > 1.0)
        rated = sum(1 for x in r.layers_vs_tflm if x["ratio"] is not None)
        out.append(f"| {r.model} | {r.board} | {r.runtime} | {rated} | {above} | {g['ratio']:.2f}× | "
                   f"{' '.join(map(str, g['ops']))} {g['op']} | {g['kernel']} |")
    if not out:
        return []
    return ["", "Per layer against TFLM + CMSIS-NN (the same .tflite operators, `--per-layer`; bench_layers.csv has "
                "every layer):", "",
            "| model | board | runtime | layers compared | above 1.0× | slowest layer vs tflm | operators | kernel |",
            "|---|---|---|---:|---:|---:|---|---|", *out]


def plot(rows: list[Row], path: Path, runtimes: list[str]) -> None:
    """Instructions per MAC, one group of bars per (model, board), one bar per runtime."""
    plt = pyplot()
    groups = list(dict.fromkeys((r.model, r.board) for r in rows))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(groups) * max(1, len(runtimes)) / 2), 4.5))
    width = 0.8 / max(1, len(runtimes))
    xs = np.arange(len(groups))
    for i, rt in enumerate(runtimes):
        vals = []
        for g in groups:
            r = next((r for r in rows if (r.model, r.board) == g and r.runtime == rt), None)
            vals.append(r.instr_per_mac if r is not None and r.instr_per_mac is not None else 0.0)
        bars = ax.bar(xs + (i - (len(runtimes) - 1) / 2) * width, vals, width, label=rt)
        for b, v in zip(bars, vals):
            ax.text(b.get_x() + b.get_width() / 2, b.get_height(), f"{v:.2f}" if v else "n/a",
                    ha="center", va="bottom", fontsize=7)
    ax.set_xticks(xs, [f"{m}\n{b}" for m, b in groups], fontsize=8)
    ax.set_ylabel("instructions per MAC (lower is better)")
    ax.set_title("tinyscene bench: instructions per MAC by runtime")
    ax.legend()
    fig.tight_layout()
    save_png(fig, path, dpi=120)


def _ratio(a: int | None, b: int | None) -> float | None:
    return a / b if a is not None and b else None


def gate_failures(rows: list[Row], limits: dict[str, float]) -> list[str]:
    """One line per failure: an output that is not bit-exact, a runtime that failed (with gates), a ratio above
    its --fail-on limit or without a tflm baseline to compare with."""
    bad = []
    for r in rows:
        where = f"{r.model} on {r.board} ({r.runtime})"
        if r.exact is False:
            bad.append(f"{where}: output differs from tflite_micro")
        if limits and r.status != "ok":
            bad.append(f"{where}: {r.status}")
            continue
        if r.runtime == "tflm":
            continue
        for key, limit in limits.items():
            value = getattr(r, GATES[key])
            if value is None:
                bad.append(f"{where}: no {key} ratio (no tflm baseline on this board, or not measured)")
            elif value > limit:
                bad.append(f"{where}: {key} {value:.2f}x tflm's (limit {limit:g})")
    return bad


def bench(models: list[Path], boards: list[str], runtimes: list[str], *, out: Path | None = None,
          per_layer: bool = False, seed: int = 0, timeout: float = 600.0, echo: bool = True,
          fail_on: dict[str, float] | None = None) -> list[Row]:
    """Runs the bench and writes its table; raises BenchFailure (after writing) when a gate fails."""
    limits = dict(fail_on or {})
    if limits and "tflm" not in runtimes:
        raise TsError("--fail-on compares with tflm: add tflm to --runtimes")
    if "layer" in limits and not per_layer:
        raise TsError("--fail-on layer=... compares layers: add --per-layer")
    if not models or not boards or not runtimes:
        raise TsError("bench needs at least one --model, one board in --boards and one runtime in --runtimes")
    names = [str(m) for m in models]
    models = [resolve_model(str(m)) for m in models]
    for b in boards:
        load_board(b)  # an unknown board is a clear error before any build
    out = Path(out) if out else Path("build") / "bench"
    command = (f"tinyscene bench --model {' '.join(names)} --boards {','.join(boards)} "
               f"--runtimes {','.join(runtimes)}" + (" --per-layer" if per_layer else "")
               + (" --fail-on " + ",".join(f"{k}={v:g}" for k, v in limits.items()) if limits else ""))
    rows: list[Row] = []
    work = Path(tempfile.mkdtemp(prefix="tinyscene-bench-"))
    try:
        for name, model in zip(names, models):
            label = Path(name).name if Path(name).is_file() else name
            info = read_tflite(model)
            x = bench_input(model, seed)
            ref = reference_output(model, x)
            weights = weight_bytes(model)
            for board in boards:
                for rt in runtimes:
                    row = _run_one(model, label, board, rt, x, ref, work / f"{model.stem}-{board}-{rt}", per_layer,
                                   timeout, info.macs, weights)
                    rows.append(row)
                    if echo:
                        print(f"  {label} {board} {rt}: "
                              + (f"{_fmt(row.instructions)} instructions" if row.status == "ok" else row.status),
                              flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for r in rows:
        base = next((t for t in rows if (t.model, t.board, t.runtime) == (r.model, r.board, "tflm")), None)
        if base is not None:
            r.ratio_to_tflm = _ratio(r.instructions, base.instructions)
            r.flash_ratio = _ratio(r.flash_bytes, base.flash_bytes)
            r.code_ratio = _ratio(r.code_bytes, base.code_bytes)
            r.arena_ratio = _ratio(r.arena_bytes, base.arena_bytes)
            if r is not base and r.per_layer and base.per_layer:
                r.layers_vs_tflm = layerjoin.join(r.per_layer, base.per_layer)
                w = layerjoin.worst(r.layers_vs_tflm)
                r.layer_ratio = w["ratio"] if w else None
    md = markdown(rows, command)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "bench.md", md)
    write_text(out / "bench.csv", to_csv(rows))
    if per_layer:
        write_text(out / "bench_layers.csv", layers_csv(rows))
    plot(rows, out / "bench.png", runtimes)
    if echo:
        print()
        print(md)
        print(f"wrote {out / 'bench.md'}, {out / 'bench.csv'}, {out / 'bench.png'}"
              + (f", {out / 'bench_layers.csv'}" if per_layer else ""))
    bad = gate_failures(rows, limits)
    if bad:
        raise BenchFailure("\n".join(bad))
    return rows
