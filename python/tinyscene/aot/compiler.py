"""The compiler pipeline: .tflite -> model.c / model.h / compile_report.json in a folder."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tinyscene.aot.cwriter import const_bytes, write_c
from tinyscene.aot.kernels import Layer, check_supported, lower_graph
from tinyscene.aot.passes import run_passes
from tinyscene.aot.planner import Plan, check_plan, plan_memory
from tinyscene.target.boards import Board
from tinyscene.target.budget import Part, place
from tinyscene.tflite.graph import Graph
from tinyscene.tflite.reader import read_tflite
from tinyscene.util.atomic import write_files

ARENA_PART = "model arena"
WEIGHTS_PART = "model weights and tables"


@dataclass
class Compiled:
    graph: Graph
    layers: list[Layer]
    plan: Plan
    family: str
    model_bytes: int  # flash of the generated constants
    macs: int
    out_dir: Path | None
    arena_section: str | None

    @property
    def model_c(self) -> Path:
        assert self.out_dir is not None
        return self.out_dir / "model.c"

    def report(self) -> dict:
        g = self.graph
        return {
            "model": g.source, "sha256": g.sha256, "kernel_family": self.family, "macs": self.macs,
            "flash_model_bytes": self.model_bytes, "arena_bytes": self.plan.arena_bytes,
            "arena_lower_bound_bytes": self.plan.lower_bound_bytes, "arena_section": self.arena_section or ".bss",
            "inputs": [_tdesc(g, t) for t in g.inputs], "outputs": [_tdesc(g, t) for t in g.outputs],
            "layers": [{
                "index": L.index, "op": L.op.kind, "op_index": L.op.index, "fused_ops": L.op.fused,
                "kernel": L.function, "weight_layout": L.weight_layout, "macs": L.macs,
                "scratch_bytes": L.scratch_bytes,
                "weight_bytes": sum(a.values.size for a in L.arrays if a.role == "weights"),
                "inputs": [_tdesc(g, t) for t in L.inputs], "output": _tdesc(g, L.outputs[0]),
                "arena_offset": self.plan.tensor_offset.get(L.outputs[0]),
                "params": {k: v for k, v in L.info.items() if k != "variant_key"},
            } for L in self.layers],
            "plan": self.plan.to_dict(),
        }

    def summary(self) -> str:
        lines = [f"{self.graph.source}: {len(self.layers)} layers, {self.macs:,} MACs, "
                 f"weights+tables {self.model_bytes:,} B, arena {self.plan.arena_bytes:,} B "
                 f"(lower bound {self.plan.lower_bound_bytes:,} B), kernels {self.family}"]
        for L in self.layers:
            t = self.graph.t(L.outputs[0])
            lines.append(f"  {L.index:3d} {L.op.kind:18s} op {L.op.index:<3d} {L.function:24s} "
                         f"-> {list(t.shape)} @{self.plan.tensor_offset.get(t.index)}"
                         + (f"  {L.macs:,} MACs" if L.macs else ""))
        return "\n".join(lines)


def _tdesc(g: Graph, tid: int) -> dict:
    t = g.t(tid)
    d = {"tensor": tid, "name": t.name, "shape": list(t.shape), "dtype": t.dtype}
    if t.quant is not None and t.quant.scale.size == 1:
        d.update(scale=float(t.quant.s), zero_point=t.quant.zp)
    if t.data is not None:
        d["constant"] = True
    return d


def compile_graph(g: Graph, family: str = "reference", *, board: Board | None = None) -> Compiled:
    """Lower and plan `g` for a kernel family; with a board, check that the model alone fits it (the
    classifier checks its whole image with tinyscene.target.budget and passes the arena's section to
    `emit`)."""
    check_supported(g)
    run_passes(g)
    layers = lower_graph(g, family)
    plan = plan_memory(g, layers)
    check_plan(plan)
    model_bytes = const_bytes(g, layers)
    macs = sum(L.macs for L in layers)
    section = None
    if board is not None:
        placement = place(board, [Part(ARENA_PART, plan.arena_bytes, movable=True)],
                          [Part(WEIGHTS_PART, model_bytes)], f"model {g.source}")
        section = placement.section(ARENA_PART)
    return Compiled(g, layers, plan, family, model_bytes, macs, None, section)


def emit(comp: Compiled, out_dir: str | Path, command: str, *, arena_section: str | None = None,
         report: bool = True) -> None:
    """The single writer of a compiled model's files: model.c, model.h (and compile_report.json) into
    out_dir, all or none. `arena_section` overrides the compiler's own placement of the arena (the
    classifier's budget of the whole image decides it)."""
    if arena_section is not None:
        comp.arena_section = arena_section or None
    out = Path(out_dir)
    src = write_c(comp.graph, comp.layers, comp.plan, command, comp.arena_section)
    files = {out / "model.h": src.model_h, out / "model.c": src.model_c}
    if report:
        files[out / "compile_report.json"] = json.dumps(comp.report(), indent=1) + "\n"
    write_files(files)
    comp.out_dir = out


def compile_model(model: str | Path, out_dir: str | Path | None, *, board: Board | None = None,
                  kernels: str = "auto", command: str = "tinyscene compile") -> Compiled:
    """Compile `model` for `board` (None: generic, reference kernels) and write model.c/.h and
    compile_report.json into out_dir (when given)."""
    family = board.kernel_family(kernels) if board is not None else ("reference" if kernels in ("auto", "reference")
                                                                      else kernels)
    comp = compile_graph(read_tflite(model), family, board=board)
    if out_dir is not None:
        emit(comp, out_dir, command)
    return comp
