"""The compiler pipeline: .tflite -> model.c / model.h / compile_report.json in a folder."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tinyscene.aot.cwriter import const_bytes, layer_const_bytes, write_c
from tinyscene.aot.kernels import check_supported, dead_space_upgrades, lower_graph, lower_op, lower_with
from tinyscene.aot.layer import Layer
from tinyscene.aot.passes import run_passes
from tinyscene.aot.planner import Plan, check_plan, plan_memory
from tinyscene.errors import TsError
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
    prefer: str = "size"
    expansions_dropped: list[int] = field(default_factory=list)  # op indices kept unexpanded for the flash

    @property
    def weight_bytes(self) -> int:
        """The model's own weight and bias bytes (as the .tflite holds them: int8 weights, int32 biases)."""
        return sum(L.info.get("model_weight_bytes", 0) for L in self.layers)

    @property
    def expanded_weight_bytes(self) -> int:
        """Flash of expanded weight copies (Winograd's int16 transformed weights) beyond the int8 weights."""
        return sum(max(layer_const_bytes(L) - L.info.get("model_weight_bytes", 0), 0)
                   for L in self.layers if L.variant is not None and L.variant.expands_weights)

    def flash_breakdown(self) -> dict:
        """The generated constants split: the model's weights (stored once), expanded copies, and the tables
        beyond them (requantisation records, lookup tables, layer parameter blocks, tensor descriptors)."""
        expanded = self.expanded_weight_bytes
        return {"weights_bytes": self.weight_bytes, "expanded_weight_bytes": expanded,
                "tables_bytes": self.model_bytes - self.weight_bytes - expanded}

    @property
    def model_c(self) -> Path:
        assert self.out_dir is not None
        return self.out_dir / "model.c"

    def report(self) -> dict:
        g = self.graph
        return {
            "model": g.source, "sha256": g.sha256, "kernel_family": self.family, "macs": self.macs,
            "flash_model_bytes": self.model_bytes, "flash": self.flash_breakdown(), "prefer": self.prefer,
            "expansions_dropped_for_flash": self.expansions_dropped, "arena_bytes": self.plan.arena_bytes,
            "arena_lower_bound_bytes": self.plan.lower_bound_bytes, "arena_section": self.arena_section or ".bss",
            "inputs": [_tdesc(g, t) for t in g.inputs], "outputs": [_tdesc(g, t) for t in g.outputs],
            "layers": [{
                "index": L.index, "op": L.op.kind, "op_index": L.op.index, "fused_ops": L.op.fused,
                "kernel": L.function, "weight_layout": L.weight_layout, "macs": L.macs,
                "scratch_bytes": L.scratch_bytes,
                "weight_bytes": sum(a.values.size for a in L.arrays if a.role == "weights"),
                "expanded_weights": bool(L.variant is not None and L.variant.expands_weights),
                "inputs": [_tdesc(g, t) for t in L.inputs], "output": _tdesc(g, L.outputs[0]),
                "arena_offset": self.plan.tensor_offset.get(L.outputs[0]),
                "params": {k: v for k, v in L.info.items() if k != "variant_key"},
            } for L in self.layers],
            "plan": self.plan.to_dict(),
            "warnings": self.warnings(),
        }

    def warnings(self) -> list[str]:
        """What the model leaves undefined in TFLM (the generated C writes zeros there)."""
        out = []
        for L in self.layers:
            n = L.info.get("undefined_bytes", 0)
            if n:
                out.append(f"layer {L.index} ({L.op.where()}): {n} of its output bytes are never written by TFLM, "
                           "which leaves its memory planner's working data there (the converter's dilated "
                           "convolution with an unknown batch); written as 0")
        return out

    def summary(self) -> str:
        f = self.flash_breakdown()
        lines = [f"{self.graph.source}: {len(self.layers)} layers, {self.macs:,} MACs, "
                 f"flash: weights {f['weights_bytes']:,} B + expanded copies {f['expanded_weight_bytes']:,} B + "
                 f"tables {f['tables_bytes']:,} B, arena {self.plan.arena_bytes:,} B "
                 f"(lower bound {self.plan.lower_bound_bytes:,} B), kernels {self.family}, prefer {self.prefer}"]
        for L in self.layers:
            t = self.graph.t(L.outputs[0])
            lines.append(f"  {L.index:3d} {L.op.kind:18s} op {L.op.index:<3d} {L.function:24s} "
                         f"-> {list(t.shape)} @{self.plan.tensor_offset.get(t.index)}"
                         + (f"  {L.macs:,} MACs" if L.macs else ""))
        lines += [f"warning: {w}" for w in self.warnings()]
        return "\n".join(lines)


def _tdesc(g: Graph, tid: int) -> dict:
    t = g.t(tid)
    d = {"tensor": tid, "name": t.name, "shape": list(t.shape), "dtype": t.dtype}
    if t.quant is not None and t.quant.scale.size == 1:
        d.update(scale=float(t.quant.s), zero_point=t.quant.zp)
    if t.data is not None:
        d["constant"] = True
    return d


def compile_graph(g: Graph, family: str = "reference", *, board: Board | None = None,
                  prefer: str = "size", arena_budget: int | None = None) -> Compiled:
    """Lower and plan `g` for a kernel family; with a board, check that the model alone fits it (the
    classifier checks its whole image with tinyscene.target.budget and passes the arena's section to
    `emit`). prefer='speed' lets kernels store expanded weight copies (Winograd's int16 transformed weights)
    where the board's flash allows: the largest are dropped first until the model fits. arena_budget: the arena
    the faster, scratch-hungrier variants may fill (default: the plan with the smallest scratch and no tensor
    in place, see use_dead_space)."""
    check_supported(g)
    mark_tflm_fills(g)
    run_passes(g)
    dropped: list[int] = []
    while True:
        layers = lower_graph(g, family, prefer, frozenset(dropped))
        plan = plan_memory(g, layers)
        layers, plan = use_dead_space(g, layers, plan, family, prefer, arena_budget)
        check_plan(plan)
        comp = Compiled(g, layers, plan, family, const_bytes(g, layers), sum(L.macs for L in layers), None, None,
                        prefer, list(dropped))
        if board is None:
            return comp
        try:
            placement = place(board, [Part(ARENA_PART, plan.arena_bytes, movable=True)],
                              [Part(WEIGHTS_PART, comp.model_bytes)], f"model {g.source}")
        except TsError:
            expanded = [L for L in layers if L.variant is not None and L.variant.expands_weights]
            if not expanded:
                raise
            dropped.append(max(expanded, key=layer_const_bytes).op.index)
            continue
        comp.arena_section = placement.section(ARENA_PART)
        return comp


def use_dead_space(g: Graph, layers: list[Layer], plan: Plan, family: str, prefer: str,
                   budget: int | None = None) -> tuple[list[Layer], Plan]:
    """Faster variants that need more scratch (e.g. weights widened once per call), layer by layer, the layers
    with the most multiply-accumulates first: each kept only if the re-planned arena stays within the arena of
    the plan with the smallest scratch and no tensor in place (every tensor apart, as TFLM plans them): its
    scratch lies in bytes no tensor uses during that layer, or that writing in place freed."""
    base = budget if budget is not None else plan_memory(g, layers, inplace=False).arena_bytes
    for L in sorted(layers, key=lambda L: -L.macs):
        if not L.macs:
            continue
        fresh = lower_op(g, L.op, L.index)
        done = False
        for v in dead_space_upgrades(fresh, family, prefer):
            for setting in (v.settings(fresh) if v.settings else [None]):
                cand = lower_with(g, L.op, L.index, family, v, setting)
                trial = [cand if x is L else x for x in layers]
                p2 = plan_memory(g, trial)
                if p2.arena_bytes <= base:
                    layers, plan, done = trial, p2, True
                    break
            if done:
                break
    return layers, plan


def mark_tflm_fills(g: Graph) -> None:
    """BATCH_TO_SPACE_ND ops that TFLM writes only in part (aot/tflm_arena.py) get the bytes its arena held in
    the rest as options["tflm_fills"]; the tensors those bytes come from become extra inputs of the op, so that
    the passes keep them and the memory plan keeps them alive until then."""
    from tinyscene.aot.tflm_arena import stale_fills

    for pos, fills in stale_fills(g).items():
        op = g.ops[pos]
        op.options["tflm_fills"] = fills
        op.inputs = op.inputs[:3] + list(dict.fromkeys(f.src for f in fills if f.src >= 0))


def emit(comp: Compiled, out_dir: str | Path, command: str, *, arena_section: str | None = None,
         report: bool = True) -> None:
    """The single writer of a compiled model's files: model.c, model.h (and compile_report.json) into
    out_dir, all or none. `arena_section` overrides the compiler's own placement of the arena (the
    classifier's budget of the whole image decides it)."""
    if arena_section is not None:
        comp.arena_section = arena_section or None
    out = Path(out_dir)
    src = write_c(comp.graph, comp.layers, comp.plan, command, comp.arena_section, comp.family)
    files = {out / "model.h": src.model_h, out / "model.c": src.model_c}
    if report:
        files[out / "compile_report.json"] = json.dumps(comp.report(), indent=1) + "\n"
    write_files(files)
    comp.out_dir = out


def compile_model(model: str | Path, out_dir: str | Path | None, *, board: Board | None = None,
                  kernels: str = "auto", command: str = "tinyscene compile", prefer: str = "size",
                  arena_budget: int | None = None) -> Compiled:
    """Compile `model` for `board` (None: generic, reference kernels) and write model.c/.h and
    compile_report.json into out_dir (when given)."""
    family = board.kernel_family(kernels) if board is not None else ("reference" if kernels in ("auto", "reference")
                                                                      else kernels)
    comp = compile_graph(read_tflite(model), family, board=board, prefer=prefer, arena_budget=arena_budget)
    if out_dir is not None:
        emit(comp, out_dir, command)
    return comp
