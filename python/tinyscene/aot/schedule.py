"""The execution order of the whole-tensor compiler: the graph's ops reordered (another topological order of the
same ops, so the same arithmetic) to free the arena earlier.

The converter writes a residual block's projection shortcut (a 1x1 convolution of the block's input) after the
block's main branch, so the block's input stays live through the main branch's convolutions. Run earlier, the
projection lets that input die before them, and the bytes it held are free for their scratch (Winograd's
transformed weights, widened weights: fewer passes over the input). The order is greedy: among the ops whose
inputs exist, the one that leaves the fewest bytes live (its new outputs less the inputs it is the last reader
of), the earlier in the .tflite on ties. It is kept only if the most bytes live at any one moment do not grow.
Models whose bytes depend on TFLM's own memory plan (aot/tflm_arena.py fills) keep the .tflite order."""
from __future__ import annotations

from tinyscene.tflite.graph import Graph


def _roots(g: Graph) -> dict[int, int]:
    """tensor -> the tensor whose bytes it shares (VIEW outputs are their input)."""
    parent: dict[int, int] = {}
    for op in g.ops:
        if op.kind == "VIEW":
            parent[op.outputs[0]] = op.inputs[0]

    def root(t: int) -> int:
        while t in parent:
            t = parent[t]
        return t

    return {t: root(t) for op in g.ops for t in [*op.inputs, *op.outputs] if t >= 0}


def _uses(g: Graph, order: list[int], roots: dict[int, int]) -> tuple[dict[int, int], dict[int, set[int]]]:
    """root -> bytes, root -> the ops (positions in g.ops) that read it."""
    size: dict[int, int] = {}
    readers: dict[int, set[int]] = {}
    for i in order:
        op = g.ops[i]
        for t in [*op.inputs, *op.outputs]:
            if t >= 0 and g.t(t).data is None:
                r = roots[t]
                size[r] = max(size.get(r, 0), g.t(t).nbytes)
        for t in op.inputs:
            if t >= 0 and g.t(t).data is None:
                readers.setdefault(roots[t], set()).add(i)
    return size, readers


def _run(g: Graph, i: int, roots: dict[int, int], live: set[int], left: dict[int, set[int]],
         keep: set[int]) -> None:
    """Op i runs: its outputs become live, the inputs it is the last reader of die (outputs kept)."""
    op = g.ops[i]
    live |= {roots[t] for t in op.outputs if t >= 0 and g.t(t).data is None}
    for t in op.inputs:
        if t >= 0 and g.t(t).data is None:
            r = roots[t]
            left[r].discard(i)
            if not left[r] and r not in keep:
                live.discard(r)


def peak_bytes(g: Graph, order: list[int]) -> int:
    """The most bytes live at one moment when the ops run in `order` (positions in g.ops), tensors apart."""
    roots = _roots(g)
    size, readers = _uses(g, order, roots)
    keep = {roots.get(t, t) for t in g.outputs}
    live = {roots.get(t, t) for t in g.inputs if g.t(t).data is None}
    left = {r: set(s) for r, s in readers.items()}
    peak = sum(size.get(r, g.t(r).nbytes) for r in live)
    for i in order:
        live |= {roots[t] for t in g.ops[i].outputs if t >= 0 and g.t(t).data is None}
        peak = max(peak, sum(size[r] for r in live if r in size))
        _run(g, i, roots, live, left, keep)
    return peak


def greedy_order(g: Graph) -> list[int]:
    """Positions of g.ops in the greedy order (see the module docstring)."""
    n = len(g.ops)
    roots = _roots(g)
    size, readers = _uses(g, list(range(n)), roots)
    keep = {roots.get(t, t) for t in g.outputs}
    producer = {t: i for i, op in enumerate(g.ops) for t in op.outputs if t >= 0}
    deps = [{producer[t] for t in op.inputs if t >= 0 and t in producer and producer[t] != i}
            for i, op in enumerate(g.ops)]
    live = {roots.get(t, t) for t in g.inputs if g.t(t).data is None}
    left = {r: set(s) for r, s in readers.items()}
    done: set[int] = set()
    order: list[int] = []
    while len(order) < n:
        best, best_key = None, None
        for i in range(n):
            if i in done or not deps[i] <= done:
                continue
            op = g.ops[i]
            new = {roots[t] for t in op.outputs if t >= 0 and g.t(t).data is None} - live
            freed = {roots[t] for t in op.inputs if t >= 0 and g.t(t).data is None
                     and left[roots[t]] <= {i} and roots[t] not in keep}
            key = (sum(size.get(r, 0) for r in new) - sum(size.get(r, 0) for r in freed - new), i)
            if best_key is None or key < best_key:
                best, best_key = i, key
        done.add(best)
        order.append(best)
        _run(g, best, roots, live, left, keep)
    return order


def reorder_for_memory(g: Graph) -> bool:
    """Reorder g.ops in place (see the module docstring); -> whether the order changed."""
    if any("tflm_fills" in op.options for op in g.ops):
        return False
    original = list(range(len(g.ops)))
    order = greedy_order(g)
    if order == original or peak_bytes(g, order) > peak_bytes(g, original):
        return False
    g.ops[:] = [g.ops[i] for i in order]
    return True
