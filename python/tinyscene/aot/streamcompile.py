"""The streamed compiler pipeline: .tflite -> model_stream.c / model_stream.h / stream_report.json.

    passes (as the whole-tensor compiler) -> stream.analyse (refuses what cannot stream) ->
    stream.transpose_to_rows -> streamsched.build -> streamlower.lower_streamed (kernels, rows per call) ->
    streamsched.simulate (ring capacities) -> streamlower.plan (arena) -> streamwriter (C)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from tinyscene.aot.compiler import WEIGHTS_PART
from tinyscene.aot.cwriter import PARAM_BLOCK_BYTES, _ctype_bytes
from tinyscene.tflite.graph import Graph
from tinyscene.aot.kernels import Layer, check_supported
from tinyscene.aot.passes import run_passes
from tinyscene.tflite.reader import read_tflite
from tinyscene.aot.stream import StreamSpec, analyse, transpose_to_rows
from tinyscene.aot.streamlower import (SLayer, StreamPlan, check_plan, choose_rows_per_call, lower_post,
                                       lower_streamed, plan)
from tinyscene.aot.streamsched import Schedule, build, choose_phases, mark_lazy, replay, simulate
from tinyscene.aot.streamwriter import write_stream_c
from tinyscene.target.budget import Part, place
from tinyscene.util.atomic import write_files

MODEL_C = "model_stream.c"
MODEL_H = "model_stream.h"
REPORT = "stream_report.json"


@dataclass
class StreamCompiled:
    graph: Graph
    spec: StreamSpec
    sched: Schedule
    slayers: list[SLayer]
    post: list[Layer]
    plan: StreamPlan
    family: str
    model_bytes: int
    macs: int
    out_dir: Path | None = None
    arena_section: str | None = None

    @property
    def model_c(self) -> Path:
        assert self.out_dir is not None
        return self.out_dir / MODEL_C

    @property
    def calls(self) -> int:
        return sum(s.sop.calls for s in self.slayers)

    def memory(self) -> dict:
        """The RAM of the stream by part (bytes)."""
        acc = sum(s.acc_bytes for s in self.slayers)
        rings = self.plan.persistent_bytes - acc  # the persistent rings (and the shared region's 8-byte alignment)
        return {"rings_persistent": rings, "accumulators": acc, "shared": self.plan.shared_bytes,
                "transient_rings": sum(r.bytes for r in self.sched.rings.values() if not r.persistent),
                "scratch_max": max([s.scratch_bytes for s in self.slayers] + [L.scratch_bytes for L in self.post]
                                   + [0]),
                "arena": self.plan.arena_bytes}

    def report(self) -> dict:
        g, s = self.graph, self.sched
        layers = []
        for sl in self.slayers:
            L, so = sl.layer, sl.sop
            ring = s.rings.get(so.ring_out) if so.ring_out is not None else None
            layers.append({
                "index": L.index, "op": so.op.kind, "op_index": so.op.index, "fused_ops": so.op.fused,
                "kind": so.kind, "kernel": L.function, "weight_layout": L.weight_layout, "macs": sl.macs,
                "rows_in": so.t_in, "rows_out": so.t_out, "rows_per_call": so.n, "calls": so.calls,
                "edge_calls": sorted(sl.edges), "window": vars(so.window),
                "ring": None if ring is None else {"tensor": ring.tensor, "rows": ring.slots, "row_bytes": ring.row_bytes,
                                                   "bytes": ring.bytes, "persistent": ring.persistent,
                                                   "moves_per_clip": ring.moves,
                                                   "moved_bytes_per_clip": ring.moved_bytes},
                "accumulator_bytes": sl.acc_bytes, "scratch_bytes": sl.scratch_bytes,
                "params": {k: v for k, v in L.info.items() if k != "variant_key"}})
        for L in self.post:
            layers.append({"index": L.index, "op": L.op.kind, "op_index": L.op.index, "kind": "post",
                           "kernel": L.function, "macs": L.macs, "scratch_bytes": L.scratch_bytes,
                           "params": {k: v for k, v in L.info.items() if k != "variant_key"}})
        inp = s.input_ring
        return {
            "model": g.source, "sha256": g.sha256, "kernel_family": self.family, "macs": self.macs,
            "stream": {"axis": self.spec.axis, "transposed": s.info.transposed, "rows": s.info.rows,
                       "row_bytes": inp.row_bytes, "receptive_field_rows": s.info.receptive_field,
                       "calls_per_clip": self.calls, "max_calls_per_row": max(len(p) for p in s.passes),
                       "input_ring": {"rows": inp.slots, "bytes": inp.bytes, "persistent": inp.persistent}},
            "memory": self.memory(), "flash_model_bytes": self.model_bytes, "arena_bytes": self.plan.arena_bytes,
            "arena_section": self.arena_section or ".bss", "layers": layers, "plan": self.plan.to_dict()}

    def summary(self) -> str:
        m = self.memory()
        s = self.sched
        lines = [f"{self.graph.source}: streamed along {self.spec.axis} ({s.info.rows} rows of "
                 f"{s.input_ring.row_bytes} B{', transposed' if s.info.transposed else ''}), {len(self.slayers)} "
                 f"streamed layers + {len(self.post)} after the reduction, {self.calls} kernel calls per clip, "
                 f"{self.macs:,} MACs, kernels {self.family}",
                 f"  RAM: rings {m['rings_persistent']:,} B + sums {m['accumulators']:,} B + shared "
                 f"{m['shared']:,} B (transient rings, scratch, layers after the reduction) = arena "
                 f"{m['arena']:,} B; flash (weights, tables) {self.model_bytes:,} B"]
        for sl in self.slayers:
            so = sl.sop
            ring = s.rings.get(so.ring_out) if so.ring_out is not None else None
            what = (f"ring {ring.slots} x {ring.row_bytes} B = {ring.bytes:,} B{'' if ring.persistent else ' (shared)'}"
                    if ring else f"sums {sl.acc_bytes:,} B")
            lines.append(f"  {sl.layer.index:3d} {so.op.kind:18s} op {so.op.index:<3d} {sl.layer.function:26s} "
                         f"{so.t_out:4d} rows, {so.n}/call  {what}")
        for L in self.post:
            lines.append(f"  {L.index:3d} {L.op.kind:18s} op {L.op.index:<3d} {L.function:26s} (at the end)")
        return "\n".join(lines)


def _const_bytes(g: Graph, slayers: list[SLayer], post: list[Layer]) -> int:
    seen, total, blocks = set(), 0, 0
    for L in [*(s.layer for s in slayers), *(s.finish for s in slayers if s.finish is not None), *post]:
        total += sum(a.values.size * _ctype_bytes(a.ctype) for a in L.arrays)
        blocks += 1
        for t in L.inputs:
            if t >= 0 and g.t(t).data is not None and t not in seen:
                seen.add(t)
                total += g.t(t).nbytes
    blocks += sum(len(s.edges) for s in slayers)
    return total + PARAM_BLOCK_BYTES * blocks


def compile_stream_graph(g: Graph, spec: StreamSpec, family: str = "reference", *, board=None,
                         slack: int = 0, min_shared: int = 0) -> StreamCompiled:
    """min_shared: bytes the caller will use between pushes (ts_model_stream_shared), e.g. a front-end's scratch."""
    check_supported(g)
    run_passes(g)
    info = analyse(g, spec)
    transpose_to_rows(g, info)
    sched = build(g, info)
    for s in sched.sops:
        choose_rows_per_call(g, s, family)
    mark_lazy(sched)
    choose_phases(sched)
    simulate(sched)
    slayers = [lower_streamed(g, sched, s, family) for s in sched.sops]
    if slack:
        for r in sched.rings.values():
            if r.persistent and r.cap > 1:
                r.slack = slack
        replay(sched)
    S = len(slayers)
    finish_pos: dict[int, int] = {}
    for sl in slayers:
        if sl.finish is not None:
            finish_pos[sl.sop.pos] = S + len(finish_pos)
            sl.finish.index = finish_pos[sl.sop.pos]
    post_ops = [op for op in g.ops if info.kind[id(op)] == "post"]
    views = {op.outputs[0]: op.inputs[0] for op in post_ops if op.kind == "VIEW"}
    post: list[Layer] = []
    for op in post_ops:
        if op.kind != "VIEW":
            post.append(lower_post(g, op, S + len(finish_pos) + len(post), family))
    p = plan(g, sched, slayers, post, finish_pos, views, min_shared)
    check_plan(p)
    model_bytes = _const_bytes(g, slayers, post)
    macs = sum(sl.macs for sl in slayers) + sum(L.macs for L in post)
    comp = StreamCompiled(g, spec, sched, slayers, post, p, family, model_bytes, macs)
    if board is not None:
        comp.arena_section = _check_board(board, comp)
    return comp


def stream_parts(comp: StreamCompiled) -> tuple[Part, Part]:
    """The streamed model's RAM (one arena: rings, sums, the shared region) and flash, for the board budget."""
    m = comp.memory()
    arena = Part(f"streamed model arena (rings {m['rings_persistent']:,} B + sums {m['accumulators']:,} B + shared "
                 f"{m['shared']:,} B)", comp.plan.arena_bytes, movable=True)
    return arena, Part(WEIGHTS_PART, comp.model_bytes)


def _check_board(board, comp: StreamCompiled) -> str | None:
    """The model alone on the board (tinyscene.target.budget); -> the arena's section."""
    arena, weights = stream_parts(comp)
    return place(board, [arena], [weights], f"model {comp.graph.source} streamed").section(arena.name)


def compile_stream_model(model: str | Path, out_dir: str | Path | None, spec: StreamSpec, *, board=None,
                         kernels: str = "auto", command: str = "tinyscene compile --stream time",
                         slack: int = 0) -> StreamCompiled:
    """Compile `model` for streamed execution and write model_stream.c/.h and stream_report.json."""
    family = board.kernel_family(kernels) if board is not None else ("reference" if kernels in ("auto", "reference")
                                                                      else kernels)
    g = read_tflite(model)
    comp = compile_stream_graph(g, spec, family, board=board, slack=slack)
    if out_dir is not None:
        emit_stream(comp, out_dir, command)
    return comp


def emit_stream(comp: StreamCompiled, out_dir: str | Path, command: str, *, arena_section: str | None = None,
                report: bool = True) -> None:
    """The single writer of a streamed model's files: model_stream.c, model_stream.h (and stream_report.json)
    into out_dir, all or none. `arena_section` overrides the compiler's own placement of the arena."""
    if arena_section is not None:
        comp.arena_section = arena_section or None
    out = Path(out_dir)
    c, h = write_stream_c(comp.graph, comp.sched, comp.slayers, comp.post, comp.plan, command, comp.arena_section,
                          comp.family)
    files = {out / MODEL_H: h, out / MODEL_C: c}
    if report:
        files[out / REPORT] = json.dumps(comp.report(), indent=1, default=_jsonable) + "\n"
    write_files(files)
    comp.out_dir = out


def _jsonable(v):
    import numpy as np

    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    if isinstance(v, np.ndarray):
        return v.tolist()
    return str(v)
