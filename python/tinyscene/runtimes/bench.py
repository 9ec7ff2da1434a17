"""`tinyscene bench`: every model on every board with every runtime, the same input for all, in one
table (markdown + CSV) and one plot.

Per model, board and runtime: instructions per invoke (board counter, QEMU -icount), instructions
per MAC (MACs of the model's convolutions, depthwise convolutions and fully connected layers),
arena bytes, flash bytes (runtime code and model separately), ratio of instructions to `tflm` on
the same board and model, and whether the output equals the tflite_micro Python interpreter's.
A runtime that is not available (or fails) is reported in its row, never a crash of the whole
bench. Counts are deterministic: QEMU counts instructions, and the input is drawn from a seed.
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
from tinyscene.runtimes.dispatch import RUNTIMES
from tinyscene.target.boards import load_board
from tinyscene.tflite.graph import NUMPY_DTYPES
from tinyscene.tflite.interpreters import tflm_interpreter
from tinyscene.tflite.reader import read_tflite
from tinyscene.util.atomic import write_text
from tinyscene.util.plots import pyplot, save_png
from tinyscene.util.quiet import quiet

COLUMNS = ["model", "board", "runtime", "kernels", "instructions", "instr_per_mac", "ratio_to_tflm", "macs",
           "arena_bytes", "flash_runtime_bytes", "flash_model_bytes", "stack_bytes", "exact", "status"]


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
    stack_bytes: int | None = None
    exact: bool | None = None
    status: str = "ok"
    ratio_to_tflm: float | None = None
    per_layer: list[dict] | None = field(default=None, repr=False)

    @property
    def instr_per_mac(self) -> float | None:
        if self.instructions is None or not self.macs:
            return None
        return self.instructions / self.macs

    def values(self) -> dict:
        return {"model": self.model, "board": self.board, "runtime": self.runtime, "kernels": self.kernels,
                "instructions": self.instructions, "instr_per_mac": self.instr_per_mac,
                "ratio_to_tflm": self.ratio_to_tflm, "macs": self.macs, "arena_bytes": self.arena_bytes,
                "flash_runtime_bytes": self.flash_runtime_bytes, "flash_model_bytes": self.flash_model_bytes,
                "stack_bytes": self.stack_bytes, "exact": self.exact, "status": self.status}


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


def _run_one(model: Path, board: str, runtime: str, x: np.ndarray, ref: np.ndarray | None, workdir: Path,
             per_layer: bool, timeout: float, macs: int) -> Row:
    row = Row(model=model.name, board=board, runtime=runtime, macs=macs)
    if runtime not in RUNTIMES:
        row.status = f"unknown runtime (known: {', '.join(RUNTIMES)})"
        return row
    run = RUNTIMES[runtime]
    kwargs = {"runtime": runtime, "kernels": "auto", "workdir": workdir, "dump_layers": None, "timeout": timeout}
    params = inspect.signature(run).parameters
    if per_layer and "per_layer" in params:
        kwargs["per_layer"] = True
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
    row.stack_bytes = rep.stack_bytes
    row.per_layer = rep.per_layer
    if ref is not None and outputs:
        row.exact = bool(np.array_equal(np.asarray(outputs[0]).reshape(ref.shape), ref))
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


def markdown(rows: list[Row], command: str) -> str:
    head = ["model", "board", "runtime", "kernels", "instructions / invoke", "instr / MAC", "vs tflm", "MACs",
            "arena B", "flash runtime B", "flash model B", "stack B", "= tflite_micro", "status"]
    out = [f"<!-- Generated by `{command}` -->", "", "| " + " | ".join(head) + " |",
           "|" + "|".join(["---"] * 4 + ["---:"] * 8 + ["---", "---"]) + "|"]
    for r in rows:
        v = r.values()
        cells = [v["model"], v["board"], v["runtime"], v["kernels"] or "—", _fmt(v["instructions"]),
                 _fmt(v["instr_per_mac"]), _fmt(v["ratio_to_tflm"], "ratio"), _fmt(v["macs"]),
                 _fmt(v["arena_bytes"]), _fmt(v["flash_runtime_bytes"]), _fmt(v["flash_model_bytes"]),
                 _fmt(v["stack_bytes"]), _fmt(v["exact"]), v["status"]]
        out.append("| " + " | ".join(str(c).replace("|", "/") for c in cells) + " |")
    return "\n".join(out) + "\n"


def to_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        v = r.values()
        if v["instr_per_mac"] is not None:
            v["instr_per_mac"] = round(v["instr_per_mac"], 4)
        if v["ratio_to_tflm"] is not None:
            v["ratio_to_tflm"] = round(v["ratio_to_tflm"], 4)
        w.writerow({k: ("" if v[k] is None else v[k]) for k in COLUMNS})
    return buf.getvalue()


def layers_csv(rows: list[Row]) -> str:
    buf = io.StringIO()
    cols = ["model", "board", "runtime", "index", "op", "kernel", "instructions", "macs", "instr_per_mac"]
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for r in rows:
        for lay in r.per_layer or []:
            ins, macs = lay.get("instructions"), lay.get("macs")
            w.writerow({"model": r.model, "board": r.board, "runtime": r.runtime, "index": lay.get("index"),
                        "op": lay.get("op"), "kernel": lay.get("kernel", ""),
                        "instructions": "" if ins is None else ins, "macs": macs or 0,
                        "instr_per_mac": round(ins / macs, 4) if ins is not None and macs else ""})
    return buf.getvalue()


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


def bench(models: list[Path], boards: list[str], runtimes: list[str], *, out: Path | None = None,
          per_layer: bool = False, seed: int = 0, timeout: float = 600.0, echo: bool = True) -> list[Row]:
    if not models or not boards or not runtimes:
        raise TsError("bench needs at least one --model, one board in --boards and one runtime in --runtimes")
    for m in models:
        if not Path(m).is_file():
            raise TsError(f"{m}: no such model file")
    for b in boards:
        load_board(b)  # an unknown board is a clear error before any build
    out = Path(out) if out else Path("build") / "bench"
    command = (f"tinyscene bench --model {' '.join(str(m) for m in models)} --boards {','.join(boards)} "
               f"--runtimes {','.join(runtimes)}" + (" --per-layer" if per_layer else ""))
    rows: list[Row] = []
    work = Path(tempfile.mkdtemp(prefix="tinyscene-bench-"))
    try:
        for model in models:
            model = Path(model)
            info = read_tflite(model)
            x = bench_input(model, seed)
            ref = reference_output(model, x)
            for board in boards:
                for rt in runtimes:
                    row = _run_one(model, board, rt, x, ref, work / f"{model.stem}-{board}-{rt}", per_layer,
                                   timeout, info.macs)
                    rows.append(row)
                    if echo:
                        print(f"  {model.name} {board} {rt}: "
                              + (f"{_fmt(row.instructions)} instructions" if row.status == "ok" else row.status),
                              flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for r in rows:
        base = next((t for t in rows if (t.model, t.board, t.runtime) == (r.model, r.board, "tflm")), None)
        if base is not None and base.instructions and r.instructions is not None:
            r.ratio_to_tflm = r.instructions / base.instructions
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
    return rows
