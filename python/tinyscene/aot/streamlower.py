"""Streamed execution, step 3: kernel calls and memory.

Lowering. A streamed op's calls differ only in their window: the first calls may reach above the clip
(pad_top), the last ones below it (fewer input rows) or produce fewer rows. Each distinct call shape is
lowered as the whole op would be (kernels.lower_op: the same multipliers, folded biases, clamps), with its
parameter block's input rows, output rows and pad_top set to the call's, and gets the same kernel variant
and packed constants as the interior calls (the first variant of the family that applies to every call
shape; the weights are written once). Row ops are lowered on a view of the graph whose streamed tensors
have the call's rows. A reduction becomes two kernels: ts_mean_accumulate_s8 per row into an int32 sum per
output element, and at the end ts_mean_finish_s8 (MEAN) or ts_avg_pool_finish_s8 (global AVERAGE_POOL_2D),
with TFLite's requantisation or rounded division. The ops after the reductions are lowered as usual.

Memory. One arena: persistent rings and accumulators (live for the whole clip), then one region shared in
time by the transient rings (from their writer to their last reader within a pass), every kernel's scratch
(during its call) and, at the end, the tensors of the ops after the reductions."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np

from tinyscene.aot import quant as Q
from tinyscene.tflite.graph import Graph, Op, Tensor
from tinyscene.aot.kernels import VARIANTS, Layer, apply_variant, choose_kernel, lower_op, optimized_variants
from tinyscene.aot.planner import _place as place_greedy
from tinyscene.aot.streamsched import Schedule, SOp
from tinyscene.errors import TsError

ALIGN = 4
# Kernels that make better use of several output rows per call (their natural block)
ROWS_PER_CALL = {"ts_conv_wino_s8": 2}


@dataclass
class SLayer:
    """A streamed op lowered: the kernel of its calls and one parameter block per distinct call shape."""

    sop: SOp
    layer: Layer  # the interior calls' layer (function, variant, packed constants, parameter block)
    edges: dict[int, Layer] = field(default_factory=dict)  # call index -> its own parameter block
    scratch_bytes: int = 0
    finish: Layer | None = None  # reductions: the kernel run at the end
    acc_bytes: int = 0  # reductions: the int32 sums
    row_consts: list[tuple[int, int]] = field(default_factory=list)  # (input position, row bytes) sliced per row
    macs: int = 0  # per clip

    @property
    def top(self) -> int:
        """Calls [0, top) have their own parameter blocks."""
        t = 0
        while t in self.edges:
            t += 1
        return t

    @property
    def bottom(self) -> int:
        """Calls [bottom, calls) have their own parameter blocks."""
        b = self.sop.calls
        while b - 1 in self.edges and b - 1 >= self.top:
            b -= 1
        return b


@dataclass
class Buf:
    label: str
    size: int
    first: int  # positions (streamed layers, then the layers at the end) where it is live
    last: int
    offset: int = -1

    def overlaps_in_time(self, o: "Buf") -> bool:
        return not (self.last < o.first or o.last < self.first)


@dataclass
class StreamPlan:
    arena_bytes: int
    persistent_bytes: int
    shared_bytes: int
    ring_offset: dict[int, int]  # ring root tensor -> offset
    acc_offset: dict[int, int]  # streamed layer position -> offset of its sums
    scratch_offset: dict[int, int]  # layer index -> offset
    tensor_offset: dict[int, int]  # tensors of the ops after the reductions
    buffers: list[Buf]

    def to_dict(self) -> dict:
        return {"arena_bytes": self.arena_bytes, "persistent_bytes": self.persistent_bytes,
                "shared_bytes": self.shared_bytes,
                "buffers": [{"label": b.label, "offset": b.offset, "size": b.size, "first": b.first, "last": b.last}
                            for b in sorted(self.buffers, key=lambda b: (b.offset, b.first))]}


def _align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def _rows_axis(g: Graph, sched: Schedule, tid: int) -> int:
    return 1 if sched.info.axis[tid] >= 1 else 0


def _with_rows(t: Tensor, axis: int, rows: int) -> Tensor:
    s = list(t.shape)
    s[axis] = rows
    data = None
    if t.data is not None:
        data = np.take(t.data, np.arange(rows), axis=axis)
    return Tensor(t.index, t.name, tuple(s), t.dtype, t.quant, data)


def _row_view(g: Graph, sched: Schedule, op: Op, rows: int) -> tuple[Graph, list[tuple[int, int]]]:
    """g with op's streamed tensors (and constants that hold one row per input row) cut to `rows` rows; also
    the row-sliced constants (input position, bytes per row)."""
    tensors = dict(g.tensors)
    T = None
    for tid in [*op.inputs, *op.outputs]:
        if tid >= 0 and tid in sched.info.axis:
            ax = _rows_axis(g, sched, tid)
            T = int(g.t(tid).shape[ax])
            tensors[tid] = _with_rows(g.t(tid), ax, rows)
    sliced = []
    y = g.t(op.outputs[0])
    for pos, tid in enumerate(op.inputs):
        t = g.t(tid) if tid >= 0 else None
        if t is None or t.data is None or tid in sched.info.axis:
            continue
        if len(t.shape) == len(y.shape) and len(t.shape) >= 2 and int(t.shape[1]) == T and T > 1:
            tensors[tid] = _with_rows(t, 1, rows)
            sliced.append((pos, t.nbytes // T))
    return Graph(tensors, g.ops, g.inputs, g.outputs, g.source, g.description, g.sha256, g.file_bytes), sliced


def _window_call(full: Layer, sop: SOp, c: int) -> Layer:
    L = copy.deepcopy(full)
    _, n, _, count = sop.call_rows(c)
    p = L.params
    p["input"] = (1, count, *tuple(p["input"][2:]))
    p["output"] = (1, n, *tuple(p["output"][2:]))
    p["pad_top"] = sop.call_pad(c)
    return L


def _same_constants(a: Layer, b: Layer) -> bool:
    if a.function != b.function or len(a.arrays) != len(b.arrays):
        return False
    for x, y in zip(a.arrays, b.arrays):
        if x.name != y.name or x.ctype != y.ctype or not np.array_equal(x.values, y.values):
            return False
    return True


def _choose_common(layers: list[Layer], family: str) -> None:
    """One kernel variant for every call shape, with identical packed constants (the weights are shared)."""
    optimized_variants()
    key = layers[0].info.get("variant_key", layers[0].op.kind)
    originals = [copy.deepcopy(L) for L in layers]
    first = choose_kernel(layers[0], family)
    order = [first] + [v for v in VARIANTS.get(key, []) if v is not first and family in v.families]
    for v in order:
        if not all(v.applies(L) for L in originals):
            continue
        trial = [copy.deepcopy(L) for L in originals]
        for L in trial:
            apply_variant(L, v, family)
        if all(_same_constants(trial[0], L) for L in trial[1:]):
            for dst, src in zip(layers, trial):
                dst.__dict__.update(src.__dict__)
            return
    raise TsError(f"{layers[0].op.where()}: no '{family}' kernel applies to every row window of the stream")


def _call_shapes(sop: SOp) -> dict[tuple, list[int]]:
    shapes: dict[tuple, list[int]] = {}
    for c in range(sop.calls):
        _, n, _, count = sop.call_rows(c)
        shapes.setdefault((n, count, sop.call_pad(c)), []).append(c)
    return shapes


def choose_rows_per_call(g: Graph, sop: SOp, family: str) -> None:
    """sop.n: the rows per call of the kernel its interior calls get (ROWS_PER_CALL), 1 for most."""
    if sop.kind != "window":
        return
    sop.n, sop.phase = 1, 0
    probe = _window_call(lower_op(g, sop.op, sop.pos), sop, sop.calls // 2)
    apply_variant(probe, choose_kernel(probe, family), family)
    sop.n = ROWS_PER_CALL.get(probe.function, 1)


def lower_streamed(g: Graph, sched: Schedule, sop: SOp, family: str) -> SLayer:
    """The kernel calls of one streamed op (its rows per call and phase chosen)."""
    k = sop.pos
    if sop.kind == "reduce":
        return _lower_reduce(g, sched, sop, k)
    if sop.kind == "window":
        full = lower_op(g, sop.op, k)
        shapes = _call_shapes(sop)
        interior = max(shapes, key=lambda s: len(shapes[s]))
        layers = {s: _window_call(full, sop, cs[0]) for s, cs in shapes.items()}
    else:
        shapes = _call_shapes(sop)
        interior = max(shapes, key=lambda s: len(shapes[s]))
        layers, sliced = {}, []
        for s in shapes:
            view, sliced = _row_view(g, sched, sop.op, s[0])
            layers[s] = lower_op(view, sop.op, k)
    order = [interior] + [s for s in shapes if s != interior]
    _choose_common([layers[s] for s in order], family)
    sl = SLayer(sop, layers[interior])
    sl.macs = full.macs if sop.kind == "window" else sum(layers[s].macs * len(cs) for s, cs in shapes.items())
    if sop.kind == "row":
        sl.row_consts = sliced
    for j, s in enumerate(s for s in order if s != interior):
        for c in shapes[s]:
            sl.edges[c] = layers[s]
    sl.scratch_bytes = max(L.scratch_bytes for L in layers.values())
    # the interior shape must be one run of calls: edges only at the start and the end
    top, bottom = sl.top, sl.bottom
    if any(c in sl.edges for c in range(top, bottom)):
        raise TsError(f"{sop.op.where()}: row windows of irregular shape inside the stream (internal)")
    return sl


def _lower_reduce(g: Graph, sched: Schedule, sop: SOp, k: int) -> SLayer:
    op = sop.op
    x = g.t(sop.inputs[0])
    y = g.t(op.outputs[0])
    ax = _rows_axis(g, sched, x.index)
    T = int(x.shape[ax])
    row_dims = [int(d) for d in x.shape[ax + 1:]]
    if op.kind == "MEAN":
        r = len(x.shape)
        axes = {int(v) + r if int(v) < 0 else int(v) for v in np.atleast_1d(g.t(op.inputs[1]).data).tolist()}
        flags = [(d, (ax + 1 + i) in axes) for i, d in enumerate(row_dims) if d > 1]
    else:  # global average pooling: every row element summed on its own, the window taken at the end
        flags = [(d, False) for d in row_dims if d > 1]
    red = [i for i, (_, f) in enumerate(flags) if f]
    if red and red != list(range(red[0], red[-1] + 1)):
        raise TsError(f"{op.where()}: MEAN over non-adjacent axes of {list(x.shape)} is not supported")
    if red:
        outer = int(np.prod([d for d, _ in flags[:red[0]]]))
        reduce = int(np.prod([d for d, _ in flags[red[0]:red[-1] + 1]]))
        inner = int(np.prod([d for d, _ in flags[red[-1] + 1:]]))
    else:
        outer, reduce, inner = 1, 1, int(np.prod([d for d, _ in flags]))
    xq = x.quant
    acc = {"outer": outer, "reduce": reduce, "inner": inner, "input_zero_point": xq.zp, "output_zero_point": 0,
           "multiplier": 0, "shift": 0}
    accumulate = Layer(k, op, "ts_mean_params_t", acc, [], [x.index], [], "accumulate",
                       info={"rows": T, "outer": outer, "reduce_per_row": reduce, "inner": inner})
    accumulate.function = "ts_mean_accumulate_s8"
    if op.kind == "MEAN":
        count = T * reduce
        if y.size != outer * inner:
            raise TsError(f"{op.where()}: output {list(y.shape)} does not match the reduction of {list(x.shape)}")
        m, s = Q.ratio_multiplier(xq.s, y.quant.s)
        m, s = Q.mean_multiplier(m, s, count)
        fin = Layer(k, op, "ts_mean_params_t", {"outer": outer, "reduce": count, "inner": inner,
                                                 "input_zero_point": xq.zp, "output_zero_point": y.quant.zp,
                                                 "multiplier": m, "shift": s},
                    [], [], [y.index], "finish", info={"count": count})
        fin.function = "ts_mean_finish_s8"
    else:
        fin = lower_op(g, op, k)  # the whole pooling's parameters: the window along the other axis
        fin.function = "ts_avg_pool_finish_s8"
        fin.signature = "finish"
        fin.scratch_bytes = 0
        fin.inputs = []
    sl = SLayer(sop, accumulate, finish=fin, acc_bytes=4 * outer * inner)
    return sl


def lower_post(g: Graph, op: Op, k: int, family: str) -> Layer:
    L = lower_op(g, op, k)
    apply_variant(L, choose_kernel(L, family), family)
    return L


# ---- memory ---------------------------------------------------------------------------------------------

def _place(bufs: list[Buf]) -> int:
    """Offsets for buffers that live in intervals of positions (the whole-tensor planner's greedy placement,
    several orders, the smallest kept)."""
    best, best_offsets = None, None
    for order in (sorted(bufs, key=lambda b: (-b.size, b.first)), sorted(bufs, key=lambda b: (b.first, -b.size)),
                  sorted(bufs, key=lambda b: (-(b.last - b.first), -b.size))):
        total = place_greedy(bufs, order)
        if best is None or total < best:
            best, best_offsets = total, [b.offset for b in bufs]
    for b, off in zip(bufs, best_offsets or []):
        b.offset = off
    return _align(best or 0)


def plan(g: Graph, sched: Schedule, slayers: list[SLayer], post: list[Layer], finish_pos: dict[int, int],
         views: dict[int, int], min_shared: int = 0) -> StreamPlan:
    """The arena (see the module docstring). finish_pos: streamed layer position -> layer index of its finish;
    views: tensor -> the tensor whose bytes it shares (ops after the reductions); min_shared: bytes the shared
    region must have at least (what the caller uses between two pushes: ts_model_stream_shared). The input's
    ring is always persistent (the caller writes the next row while it may use the shared region), and the
    shared region starts 8-byte aligned."""
    bufs: list[Buf] = []
    ring_offset, acc_offset, scratch_offset, tensor_offset = {}, {}, {}, {}
    off = 0
    sched.input_ring.persistent = True
    for root, r in sched.rings.items():
        if r.persistent:
            ring_offset[root] = off
            bufs.append(Buf(f"ring of tensor {root} ({r.slots} rows x {r.row_bytes} B)", r.bytes, -1, 10**9, off))
            off = _align(off + r.bytes)
    for sl in slayers:
        if sl.acc_bytes:
            acc_offset[sl.sop.pos] = off
            bufs.append(Buf(f"sums of layer {sl.sop.pos} ({sl.sop.op.kind})", sl.acc_bytes, -1, 10**9, off))
            off = _align(off + sl.acc_bytes)
    persistent = (off + 7) // 8 * 8
    shared: list[tuple[Buf, str, int]] = []
    for root, r in sched.rings.items():
        if not r.persistent:
            b = Buf(f"ring of tensor {root} ({r.slots} rows x {r.row_bytes} B, transient)", r.bytes, r.writer,
                    r.last_reader)
            shared.append((b, "ring", root))
    for sl in slayers:
        if sl.scratch_bytes:
            shared.append((Buf(f"scratch of layer {sl.sop.pos}", sl.scratch_bytes, sl.sop.pos, sl.sop.pos), "scratch",
                           sl.sop.pos))
    end = max([*finish_pos.values(), *(L.index for L in post)], default=0) + 1
    life: dict[int, list[int]] = {}

    def root(t: int) -> int:
        while t in views:
            t = views[t]
        return t

    for sl in slayers:
        if sl.finish is not None:
            for t in sl.finish.outputs:
                life.setdefault(root(t), [finish_pos[sl.sop.pos], finish_pos[sl.sop.pos]])
    for L in post:
        for t in L.outputs:
            if g.t(t).data is None:
                lo, hi = life.setdefault(root(t), [L.index, L.index])
                life[root(t)] = [min(lo, L.index), max(hi, L.index)]
        for t in L.inputs:
            if t >= 0 and g.t(t).data is None and root(t) in life:
                life[root(t)][1] = max(life[root(t)][1], L.index)
        if L.scratch_bytes:
            shared.append((Buf(f"scratch of layer {L.index}", L.scratch_bytes, L.index, L.index), "scratch", L.index))
    for t in g.outputs:
        if root(t) in life:
            life[root(t)][1] = end
    for t, (lo, hi) in life.items():
        size = max(g.t(u).nbytes for u in [t, *(v for v in views if root(v) == t)])
        shared.append((Buf(f"tensor {t}", size, lo, hi), "tensor", t))
    total_shared = max(_place([b for b, _, _ in shared]), _align(min_shared))
    for b, what, key in shared:
        b.offset += persistent
        if what == "ring":
            ring_offset[key] = b.offset
        elif what == "scratch":
            scratch_offset[key] = b.offset
        else:
            tensor_offset[key] = b.offset
        bufs.append(b)
    for v in views:
        if root(v) in tensor_offset:
            tensor_offset[v] = tensor_offset[root(v)]
    return StreamPlan(persistent + total_shared, persistent, total_shared, ring_offset, acc_offset, scratch_offset,
                      tensor_offset, bufs)


def check_plan(plan: StreamPlan) -> None:
    """No two buffers live at the same position overlap in memory (AssertionError)."""
    bs = plan.buffers
    for i, a in enumerate(bs):
        assert a.offset % ALIGN == 0 and a.offset + a.size <= plan.arena_bytes, a
        for b in bs[i + 1:]:
            if not (a.last < b.first or b.last < a.first):
                assert a.offset + a.size <= b.offset or b.offset + b.size <= a.offset, (a, b)
