"""Static memory plan: every non-constant tensor (and every kernel's scratch) gets an offset in ONE arena.

Buffers: tensors that share bytes are grouped first (a VIEW's output is its input; an element-wise op, and
the optimized kernels that say so (1x1 and depthwise convolutions that read each input byte before writing
over it), may write their output over an input that dies at that op, from its first byte). A buffer is live from the
layer that writes it (graph inputs: before the first layer) to the last layer that reads it (graph
outputs: after the last layer); a scratch buffer only during its layer. Two buffers whose lifetimes
overlap never overlap in memory.

Placement is greedy like TFLM's GreedyMemoryPlanner: buffers in some order, each at the lowest aligned
offset that does not collide with an already placed, time-overlapping buffer. Several orders are tried
(by size, by size x lifetime, by first use) and the smallest arena is kept. The lower bound is the
largest total of bytes live at any one moment; the report gives both.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tinyscene.aot.layer import Layer
from tinyscene.tflite.graph import Graph

ALIGN = 4  # word alignment: int32 scratch, LDR on Armv7E-M, VLDRW on MVE


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


@dataclass
class Buffer:
    id: int
    size: int
    first: int  # layer index (-1: before the first layer)
    last: int  # layer index (len(layers): after the last)
    tensors: list[int] = field(default_factory=list)
    scratch_of: int | None = None  # layer index for a scratch buffer
    offset: int = -1

    def overlaps_in_time(self, o: "Buffer") -> bool:
        return not (self.last < o.first or o.last < self.first)

    @property
    def label(self) -> str:
        return f"scratch of layer {self.scratch_of}" if self.scratch_of is not None else \
            "tensors " + ",".join(map(str, self.tensors))


@dataclass
class Plan:
    arena_bytes: int
    lower_bound_bytes: int
    buffers: list[Buffer]
    tensor_offset: dict[int, int]  # tensor id -> arena offset
    scratch_offset: dict[int, int]  # layer index -> arena offset
    order: str = ""

    def to_dict(self) -> dict:
        return {"arena_bytes": self.arena_bytes, "lower_bound_bytes": self.lower_bound_bytes,
                "ratio_to_lower_bound": round(self.arena_bytes / self.lower_bound_bytes, 4)
                if self.lower_bound_bytes else 1.0,
                "placement_order": self.order,
                "buffers": [{"offset": b.offset, "size": b.size, "first_layer": b.first, "last_layer": b.last,
                             "tensors": b.tensors, "scratch_of_layer": b.scratch_of} for b in
                            sorted(self.buffers, key=lambda b: (b.offset, b.first))]}


class _UnionFind:
    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, x: int) -> int:
        self.parent.setdefault(x, x)
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[rb] = ra


def _place(buffers: list[Buffer], order: list[Buffer]) -> int:
    placed: list[Buffer] = []
    for b in order:
        busy = sorted((p.offset, p.offset + p.size) for p in placed if p.overlaps_in_time(b))
        off = 0
        for start, end in busy:
            if off + b.size <= start:
                break
            off = max(off, _align(end))
        b.offset = off
        placed.append(b)
    return max((b.offset + b.size for b in buffers), default=0)


def plan_memory(g: Graph, layers: list[Layer], *, inplace: bool = True) -> Plan:
    n = len(layers)
    uf = _UnionFind()
    arena_tensors: set[int] = set()

    def use(tid: int) -> None:
        if tid >= 0 and g.t(tid).data is None:
            arena_tensors.add(tid)
            uf.find(tid)

    for tid in g.inputs + g.outputs:
        use(tid)
    for L in layers:
        for tid in L.inputs + L.outputs:
            use(tid)
    for op in g.ops:  # views share their input's bytes
        if op.kind == "VIEW":
            use(op.inputs[0])
            use(op.outputs[0])
            uf.union(op.inputs[0], op.outputs[0])

    def lifetimes() -> dict[int, list[int]]:
        life: dict[int, list[int]] = {}
        for tid in arena_tensors:
            r = uf.find(tid)
            lo, hi = life.get(r, [n + 1, -2])
            if tid in g.inputs:
                lo = min(lo, -1)
            if tid in g.outputs:
                hi = max(hi, n)
            life[r] = [lo, hi]
        for L in layers:
            for tid in L.outputs:
                if tid in arena_tensors:
                    r = uf.find(tid)
                    life[r][0] = min(life[r][0], L.index)
                    life[r][1] = max(life[r][1], L.index)
            for tid in L.inputs:
                if tid in arena_tensors:
                    r = uf.find(tid)
                    life[r][1] = max(life[r][1], L.index)
                    life[r][0] = min(life[r][0], L.index)
        return life

    if inplace:
        for L in layers:
            for ip, outp in L.inplace:
                src, dst = L.inputs[ip], L.outputs[outp]
                if src not in arena_tensors or dst not in arena_tensors or uf.find(src) == uf.find(dst):
                    continue
                life = lifetimes()
                rs, rd = uf.find(src), uf.find(dst)
                if life[rs][1] != L.index or any(uf.find(o) == rs for o in g.outputs):
                    continue  # the input is still needed after this layer
                if life[rd][0] != L.index:
                    continue  # the output's bytes are already shared with something live before
                if any(uf.find(t) == rs for t in L.inputs if t != src):
                    continue  # the same bytes are also another operand
                if g.t(dst).nbytes > g.t(src).nbytes:
                    continue  # the output must fit in the input's bytes (it starts where the input starts)
                uf.union(src, dst)

    life = lifetimes()
    groups: dict[int, list[int]] = {}
    for tid in sorted(arena_tensors):
        groups.setdefault(uf.find(tid), []).append(tid)
    buffers: list[Buffer] = []
    for r, tids in groups.items():
        size = max(g.t(t).nbytes for t in tids)
        lo, hi = life[r]
        if lo > hi:  # an input nobody reads, or an output nobody writes (a graph input that is also an output)
            lo, hi = min(lo, hi), max(lo, hi)
        buffers.append(Buffer(len(buffers), size, lo, hi, tids))
    for L in layers:
        if L.scratch_bytes > 0:
            buffers.append(Buffer(len(buffers), L.scratch_bytes, L.index, L.index, [], scratch_of=L.index))

    lower = 0
    for t in range(-1, n + 1):
        lower = max(lower, sum(b.size for b in buffers if b.first <= t <= b.last))

    orders = {
        "size": sorted(buffers, key=lambda b: (-b.size, b.first)),
        "size*lifetime": sorted(buffers, key=lambda b: (-b.size * (b.last - b.first + 1), -b.size)),
        "first use": sorted(buffers, key=lambda b: (b.first, -b.size)),
        "lifetime": sorted(buffers, key=lambda b: (-(b.last - b.first), -b.size)),
    }
    best, best_name, best_offsets = None, "", {}
    for name, order in orders.items():
        total = _place(buffers, order)
        if best is None or total < best:
            best, best_name, best_offsets = total, name, {b.id: b.offset for b in buffers}
    for b in buffers:
        b.offset = best_offsets[b.id]
    tensor_offset = {t: b.offset for b in buffers for t in b.tensors}
    scratch_offset = {b.scratch_of: b.offset for b in buffers if b.scratch_of is not None}
    return Plan(arena_bytes=_align(best or 0), lower_bound_bytes=lower, buffers=buffers,
                tensor_offset=tensor_offset, scratch_offset=scratch_offset, order=best_name)


def check_plan(plan: Plan) -> None:
    """Internal consistency: no two time-overlapping buffers overlap in memory (raises AssertionError)."""
    bs = plan.buffers
    for i, a in enumerate(bs):
        assert a.offset % ALIGN == 0 and a.offset + a.size <= plan.arena_bytes
        for b in bs[i + 1:]:
            if a.overlaps_in_time(b):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
