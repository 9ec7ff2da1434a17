"""What TFLM's arena holds, byte by byte: a replay of the memory plan of tflite_micro's Python interpreter.

Why: TFLM has no dynamic shapes. The TFLite converter writes a dilated convolution of a model with an unknown
batch as SPACE_TO_BATCH_ND -> CONV_2D -> BATCH_TO_SPACE_ND whose intermediate tensors keep batch 1 in the
flatbuffer (TFLite resizes them to block_h x block_w at run time; TFLM does not). So TFLM's SPACE_TO_BATCH_ND
writes only the first block phase, the convolution runs on that one batch, and BATCH_TO_SPACE_ND writes only
every block_h-th row and block_w-th column of its output; the other bytes of that output are whatever TFLM's
arena held there. To be bit-exact with the tflite_micro interpreter (the project's oracle) on such models, the
compiler computes which bytes those are: the bytes of an earlier tensor that TFLM's greedy planner put at the
same address (the graph input, a SPACE_TO_BATCH_ND output, ...). Bytes no tensor wrote before are undefined:
TFLM's memory planner keeps its working data there while it plans (allocation records with pointers, so on a
64-bit host they differ from one process to the next), and zeros lie beyond that; the compiler writes zeros
there and reports them (compile report: undefined_bytes).

The replay follows the pinned TFLM sources: lifetimes as micro_allocation_info.cc marks them (graph inputs at
scope 0, operator i at scope i + 1, graph outputs to the last scope; scratch buffers of a kernel's Prepare at
its operator's scope), sizes rounded up to 16 bytes (MicroArenaBufferAlignment), buffers added in allocation
order (tensors, then scratch requests) and placed by greedy_memory_planner.cc (descending size, the later-added
first among equal sizes, each at the first gap among the buffers live at the same time). The arena of a new
interpreter holds no tensor bytes before the first invoke (UNWRITTEN); a byte whose last writer was a kernel's
scratch buffer is SCRATCH. Both are undefined for the model's semantics.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyscene.tflite.graph import DTYPE_BYTES, Graph, Op

ALIGN = 16  # MicroArenaBufferAlignment()
UNWRITTEN = -1  # provenance: no tensor written there yet (TFLM's planner working data, or zeros)
SCRATCH = -2  # provenance: last written by a kernel's scratch buffer


@dataclass
class ArenaBuffer:
    key: tuple  # ("tensor", tid) | ("scratch", op position, k)
    size: int  # aligned
    first: int
    last: int
    offset: int = -1


def _scratch_requests(g: Graph, op: Op) -> list[int]:
    """Bytes of each RequestScratchBufferInArena() of the op's reference kernel, in request order (the ops the
    compiler accepts; reduce_common.cc for MEAN)."""
    if op.kind == "MEAN":
        x, y = g.t(op.inputs[0]), g.t(op.outputs[0])
        axes = g.t(op.inputs[1]) if len(op.inputs) > 1 and op.inputs[1] >= 0 else None
        n_axis = axes.size if axes is not None else 0
        out = [4 * y.size] if x.dtype in ("int8", "int16") else []
        return out + [4 * len(x.shape), 4 * n_axis]
    return []


def _needs_arena(g: Graph, tid: int) -> bool:
    t = g.t(tid)
    return t.data is None and t.nbytes > 0


def plan(g: Graph) -> list[ArenaBuffer]:
    """TFLM's buffers with their offsets (relative to the start of the planned area)."""
    n = len(g.ops)
    first: dict[int, int] = {}
    last: dict[int, int] = {}

    def created(tid: int, scope: int) -> None:
        first.setdefault(tid, scope)

    def used(tid: int, scope: int) -> None:
        last[tid] = scope

    for tid in g.inputs:
        created(tid, 0)
        used(tid, 0)
    scratch: list[ArenaBuffer] = []
    for i, op in enumerate(g.ops):
        scope = i + 1
        for tid in op.outputs:
            created(tid, scope)
        for tid in op.inputs:
            if tid >= 0:
                used(tid, scope)
        for tid in op.outputs:
            used(tid, scope)
        for k, size in enumerate(_scratch_requests(g, op)):
            scratch.append(ArenaBuffer(("scratch", i, k), (size + ALIGN - 1) // ALIGN * ALIGN, scope, scope))
    for tid in g.outputs:
        created(tid, n)
        used(tid, n)
    buffers = [ArenaBuffer(("tensor", tid), (g.t(tid).nbytes + ALIGN - 1) // ALIGN * ALIGN,
                           first.get(tid, -1), last.get(tid, -1))
               for tid in sorted(g.tensors) if _needs_arena(g, tid)]
    buffers += scratch
    _greedy(buffers)
    return buffers


def _greedy(bufs: list[ArenaBuffer]) -> None:
    """greedy_memory_planner.cc CalculateOffsetsIfNeeded() for online-planned buffers."""
    if not bufs:
        return
    # filled from the tail (the last added first), then a stable bubble sort by descending size
    order = list(range(len(bufs)))[::-1]
    order.sort(key=lambda i: -bufs[i].size)  # Python's sort is stable: equal sizes keep the reversed order
    placed: list[int] = []  # buffer indices in offset order (insertion after equal offsets)

    def overlaps(a: ArenaBuffer, first: int, last: int) -> bool:
        return not (a.first > last or first > a.last)

    bufs[order[0]].offset = 0
    placed.append(order[0])
    for i in order[1:]:
        b = bufs[i]
        candidate = 0
        prior = None
        pos = 0
        while True:
            nxt = None
            while pos < len(placed):  # the next buffer in offset order live at the same time
                e = bufs[placed[pos]]
                pos += 1
                if overlaps(e, b.first, b.last):
                    nxt = e
                    break
            if prior is not None:
                candidate = max(candidate, prior.offset + prior.size)
            if nxt is None:
                break
            if nxt.offset - candidate >= b.size:
                break
            prior = nxt
        b.offset = candidate
        if bufs[placed[0]].offset > candidate:
            placed.insert(0, i)
        else:
            j = 0
            while j + 1 < len(placed) and bufs[placed[j + 1]].offset <= candidate:
                j += 1
            placed.insert(j + 1, i)


def _b2s_written(g: Graph, op: Op) -> np.ndarray:
    """Byte mask of the output of TFLM's BATCH_TO_SPACE_ND (reference kernel) that the op writes."""
    x, y = g.t(op.inputs[0]), g.t(op.outputs[0])
    xs, ys = _nhwc(x.shape), _nhwc(y.shape)
    block = [int(v) for v in g.t(op.inputs[1]).data.reshape(-1)]
    crops = [int(v) for v in g.t(op.inputs[2]).data.reshape(-1)]
    bh, bw = block[0], (block[1] if len(x.shape) == 4 else 1)
    ct, cl = crops[0], (crops[2] if len(x.shape) == 4 else 0)
    esize = DTYPE_BYTES.get(y.dtype, 1)
    mask = np.zeros(ys, dtype=bool)
    for ib in range(xs[0]):
        ob, so = ib % ys[0], ib // ys[0]
        rows = np.arange(xs[1]) * bh + so // bw - ct
        cols = np.arange(xs[2]) * bw + so % bw - cl
        rows = rows[(rows >= 0) & (rows < ys[1])]
        cols = cols[(cols >= 0) & (cols < ys[2])]
        mask[ob][np.ix_(rows, cols)] = True
    return np.repeat(mask.reshape(-1), esize)


def _nhwc(shape) -> tuple[int, int, int, int]:
    s = [int(d) for d in shape]
    return (s[0], s[1], 1, s[2]) if len(s) == 3 else tuple(s)  # type: ignore[return-value]


def partial_writers(g: Graph) -> list[int]:
    """Positions (in g.ops) of BATCH_TO_SPACE_ND ops that leave part of their output unwritten in TFLM."""
    out = []
    for i, op in enumerate(g.ops):
        if op.kind == "BATCH_TO_SPACE_ND" and len(op.inputs) >= 3 and all(
                g.t(t).data is not None for t in op.inputs[1:3]) and len(g.t(op.inputs[0]).shape) in (3, 4):
            if not _b2s_written(g, op).all():
                out.append(i)
    return out


@dataclass
class Fill:
    """Bytes [dst, dst + length) of a BATCH_TO_SPACE_ND output that TFLM leaves unwritten hold bytes
    [src_offset, src_offset + length) of tensor `src`, or undefined bytes (src UNWRITTEN or SCRATCH)."""

    dst: int
    length: int
    src: int
    src_offset: int = 0


def stale_fills(g: Graph) -> dict[int, list[Fill]]:
    """For each partially written BATCH_TO_SPACE_ND (by op position in g.ops): what TFLM's arena holds in the
    bytes it does not write, on the first invoke of a new interpreter."""
    targets = partial_writers(g)
    if not targets:
        return {}
    bufs = plan(g)
    size = max(b.offset + b.size for b in bufs)
    where = {b.key: b for b in bufs}
    # provenance of each arena byte: tensor id << 32 | byte, or UNWRITTEN / SCRATCH
    prov = np.full(size, UNWRITTEN, dtype=np.int64)

    def write_tensor(tid: int, mask: np.ndarray | None = None) -> None:
        b = where.get(("tensor", tid))
        if b is None:
            return
        nb = g.t(tid).nbytes
        codes = (np.int64(tid) << 32) | np.arange(nb, dtype=np.int64)
        seg = prov[b.offset:b.offset + nb]
        if mask is None:
            seg[:] = codes
        else:
            seg[mask] = codes[mask]

    for tid in g.inputs:
        write_tensor(tid)
    result: dict[int, list[Fill]] = {}
    for i, op in enumerate(g.ops):
        for k in range(len(_scratch_requests(g, op))):
            b = where[("scratch", i, k)]
            prov[b.offset:b.offset + b.size] = SCRATCH
        if i in targets:
            y = op.outputs[0]
            b = where[("tensor", y)]
            mask = _b2s_written(g, op)
            before = prov[b.offset:b.offset + mask.size].copy()
            result[i] = _runs(before, ~mask)
            write_tensor(y, mask)
        else:
            for tid in op.outputs:
                write_tensor(tid)
    return result


def _runs(prov: np.ndarray, need: np.ndarray) -> list[Fill]:
    """Maximal runs of consecutive needed bytes whose provenance is consecutive bytes of one tensor (or zero)."""
    fills: list[Fill] = []
    idx = np.nonzero(need)[0]
    for p in idx.tolist():
        code = int(prov[p])
        src, off = (code >> 32, code & 0xFFFFFFFF) if code >= 0 else (code, 0)
        if fills:
            f = fills[-1]
            if f.dst + f.length == p and f.src == src and (src < 0 or f.src_offset + f.length == off):
                f.length += 1
                continue
        fills.append(Fill(p, 1, src, off))
    return fills
