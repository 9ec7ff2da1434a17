"""Streamed execution, step 2: the schedule. After `stream.transpose_to_rows`, every streamed tensor is T rows
of R bytes; each streamed op becomes a sequence of calls, call c producing output rows [c n, c n + n) from a
window of input rows. The device runs one *pass* per input row: every op, in graph order, makes every call
whose input rows all exist (`simulate` replays this at compile time).

Each streamed tensor lives in a *ring*: a buffer of `cap + slack` rows where row r sits at slot r - base.
Writing rows [r, r + n) that would pass the end first moves the rows that a reader still needs (from the
oldest row any reader's next call reads) to the start of the buffer (base = that row): every window a kernel
reads is contiguous. `cap` is the most rows alive at any write (simulated exactly as the device does it);
`slack` extra rows make the moves rarer (one every slack + 1 writes) at the cost of RAM. A ring none of
whose rows outlives the sweep that wrote it is *transient*: it only needs memory from its writer to its last
reader within a sweep and shares it with other transient rings and the kernels' scratch.

A pass is a series of sweeps over the ops in graph order until a sweep makes no call; in a sweep a window op
makes at most one call and the ops that read one row per output row every call they can: rows flow to their
readers as soon as possible, so few are in flight at once."""
from __future__ import annotations

from dataclasses import dataclass, field

from tinyscene.tflite.graph import DTYPE_BYTES, Graph, Op
from tinyscene.aot.stream import StreamInfo
from tinyscene.errors import TsError


@dataclass(frozen=True)
class Window:
    """Output row o of an op reads input rows [o stride - pad, o stride - pad + extent), clipped."""

    stride: int = 1
    pad: int = 0
    extent: int = 1

    def start(self, o: int) -> int:
        return o * self.stride - self.pad

    def first(self, o: int) -> int:
        return max(0, self.start(o))

    def last(self, o: int, n: int, t_in: int) -> int:
        return min(t_in - 1, self.start(o + n - 1) + self.extent - 1)


@dataclass
class SOp:
    """One streamed op: its calls, each producing up to n rows."""

    pos: int  # position in a pass
    op: Op
    kind: str  # window | row | reduce
    inputs: list[int]  # streamed input tensors (op input order)
    rings_in: list[int]  # their rings
    window: Window
    output: int | None  # streamed output tensor (None: a reduction)
    ring_out: int | None
    t_in: int
    t_out: int  # output rows (reductions: input rows consumed)
    n: int = 1  # output rows per call
    lazy: bool = False  # computed only when a reader wants its rows (mark_lazy)

    @property
    def greedy(self) -> bool:
        """Makes every call it can in a sweep (reads each row once: holds no more rows by running ahead)."""
        return self.window.extent == 1 and self.window.stride == 1
    phase: int = 0  # call c makes output rows [c n - phase, (c + 1) n - phase) (clipped): aligns blocks of rows

    @property
    def calls(self) -> int:
        return (self.t_out + self.phase + self.n - 1) // self.n

    def call_index(self, o: int) -> int:
        """The call that makes output row o."""
        return (o + self.phase) // self.n

    def call_rows(self, c: int) -> tuple[int, int, int, int]:
        """Call c -> (first output row, output rows, first input row read, input rows read)."""
        o = max(0, c * self.n - self.phase)
        n = min(self.t_out, (c + 1) * self.n - self.phase) - o
        first = self.window.first(o)
        last = self.window.last(o, n, self.t_in)
        return o, n, first, last - first + 1

    def call_pad(self, c: int) -> int:
        """Padding rows above the window of call c (the clip's start)."""
        return max(0, -self.window.start(self.call_rows(c)[0]))


@dataclass
class Ring:
    tensor: int  # root tensor (views of it share the ring)
    rows: int
    row_bytes: int
    writer: int  # position of the op writing it (-1: the graph input, written by push_row)
    readers: list[tuple[int, Window]] = field(default_factory=list)  # (op position, window)
    cap: int = 0
    slack: int = 0
    persistent: bool = False
    last_reader: int = -1
    moves: int = 0  # row moves per clip (simulated)
    moved_bytes: int = 0

    @property
    def slots(self) -> int:
        return self.cap + self.slack

    @property
    def bytes(self) -> int:
        return self.slots * self.row_bytes


@dataclass
class Schedule:
    info: StreamInfo
    sops: list[SOp]
    rings: dict[int, Ring]  # root tensor -> ring
    alias: dict[int, int]  # streamed tensor -> its ring's root tensor
    passes: list[list[tuple[int, int, int]]] = field(default_factory=list)  # per input row: (pos, row, n)

    @property
    def input_ring(self) -> Ring:
        return self.rings[self.alias[self.info.input]]


def _row_bytes(g: Graph, tid: int, rows: int) -> int:
    t = g.t(tid)
    return t.size // rows * DTYPE_BYTES.get(t.dtype, 1)


def window_of(g: Graph, op: Op) -> Window:
    """The window along axis 1 (rows) of a window op of the transposed graph, as its kernel computes it."""
    from tinyscene.aot.kernels import lower_op

    layer = lower_op(g, op, 0)
    p = layer.params
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        ext = (p["filter"][1] - 1) * p["dilation_h"] + 1
    else:
        ext = p["filter_h"]
    return Window(p["stride_h"], p["pad_top"], ext)


def build(g: Graph, info: StreamInfo) -> Schedule:
    """The streamed ops in graph order, their windows and rings (capacities still 0: see simulate)."""
    alias: dict[int, int] = {info.input: info.input}
    rings: dict[int, Ring] = {info.input: Ring(info.input, info.rows, _row_bytes(g, info.input, info.rows), -1)}
    rows_of = {info.input: info.rows}
    sops: list[SOp] = []
    for op in g.ops:
        kind = info.kind[id(op)]
        if kind == "post":
            continue
        s_in = [i for i in op.inputs if i >= 0 and i in info.axis]
        t_in = rows_of[s_in[0]]
        if kind == "view":
            alias[op.outputs[0]] = alias[s_in[0]]
            rows_of[op.outputs[0]] = t_in
            continue
        win = window_of(g, op) if kind == "window" else Window()
        pos = len(sops)
        for i in s_in:
            rings[alias[i]].readers.append((pos, win))
        if kind == "reduce":
            sops.append(SOp(pos, op, kind, s_in, [alias[i] for i in s_in], win, None, None, t_in, t_in))
            continue
        y = op.outputs[0]
        t_out = int(g.t(y).shape[1 if info.axis[y] >= 1 else 0])
        if kind == "row" and t_out != t_in:
            raise TsError(f"{op.where()}: {t_out} output rows for {t_in} input rows (internal)")
        alias[y] = y
        rows_of[y] = t_out
        rings[y] = Ring(y, t_out, _row_bytes(g, y, t_out), pos)
        sops.append(SOp(pos, op, kind, s_in, [alias[i] for i in s_in], win, y, y, t_in, t_out))
    for r in rings.values():
        r.last_reader = max((p for p, _ in r.readers), default=r.writer)
    return Schedule(info, sops, rings, alias)


def _first_needed(sched: Schedule, ring: Ring, done: list[int]) -> int | None:
    """The oldest row of `ring` that a reader's next call reads (None: no reader needs any more rows)."""
    m = None
    for pos, win in ring.readers:
        s = sched.sops[pos]
        if done[pos] >= s.t_out:
            continue
        f = win.first(done[pos])
        m = f if m is None else min(m, f)
    return m


def ready(sched: Schedule, s: SOp, done: list[int], produced: dict[int, int]) -> bool:
    """Every input row of s's next call has been produced."""
    _, _, first, count = s.call_rows(s.call_index(done[s.pos]))
    return all(produced[r] >= first + count for r in s.rings_in)


def wanted(sched: Schedule, s: SOp, done: list[int], produced: dict[int, int]) -> bool:
    """A lazy op's next row is wanted: a reader that still reads rows has every other input's row there."""
    o = done[s.pos]
    for pos, _ in sched.rings[s.ring_out].readers:
        r = sched.sops[pos]
        if done[pos] < r.t_out and all(produced[x] > o for x in r.rings_in if x != s.ring_out):
            return True
    return False


def mark_lazy(sched: Schedule) -> None:
    """Ops computed only when a reader wants their rows (instead of as soon as their inputs exist): a row op or
    1-row window op whose output rows are larger than its input rows and are read only by row ops (e.g. the 1x1
    projection on a residual shortcut, which would otherwise wait, wider, for the other branch). At most one
    lazy input per reader (two would wait for each other)."""
    lazy_readers: set[int] = set()
    for s in sched.sops:
        s.lazy = False
        if s.ring_out is None or s.window.extent != 1 or s.window.stride != 1 or s.n != 1 or len(s.rings_in) != 1:
            continue
        out = sched.rings[s.ring_out]
        if out.row_bytes <= sched.rings[s.rings_in[0]].row_bytes or not out.readers:
            continue
        readers = [sched.sops[pos] for pos, _ in out.readers]
        if any(r.kind != "row" or r.n != 1 or r.pos in lazy_readers for r in readers):
            continue
        s.lazy = True
        lazy_readers.update(r.pos for r in readers)


def simulate(sched: Schedule) -> Schedule:
    """Replay the device's passes: per input row, sweeps over the ops in graph order until a sweep makes no
    call; in a sweep a window op makes at most one call, the others (row ops, 1x1 windows, reductions) every
    call they can, when the call's input rows exist and, for a lazy op, a reader wants its rows. Records every call, every ring's capacity (the most rows alive at a write) and which rings hold rows
    past the sweep that wrote them (persistent); the others are transient."""
    sops, rings = sched.sops, sched.rings
    done = [0] * len(sops)
    produced = {t: 0 for t in rings}
    for r in rings.values():
        r.cap, r.persistent = 0, False

    def write(ring: Ring, row: int, n: int) -> None:
        f = _first_needed(sched, ring, done)
        keep = row if f is None else min(f, row)
        ring.cap = max(ring.cap, row + n - keep)
        produced[ring.tensor] = row + n

    def end_of_sweep() -> None:
        for r in rings.values():
            f = _first_needed(sched, r, done)
            if f is not None and f < produced[r.tensor]:
                r.persistent = True

    sched.passes = []
    for p in range(sched.info.rows):
        write(sched.input_ring, p, 1)
        calls = []
        progress = True
        while progress:
            progress = False
            for s in sops:
                while done[s.pos] < s.t_out and ready(sched, s, done, produced) \
                        and (not s.lazy or wanted(sched, s, done, produced)):
                    o, n, _, _ = s.call_rows(s.call_index(done[s.pos]))
                    if s.ring_out is not None:
                        write(rings[s.ring_out], o, n)
                    done[s.pos] = o + n
                    calls.append((s.pos, o, n))
                    progress = True
                    if not s.greedy:
                        break
            end_of_sweep()
        sched.passes.append(calls)
    for s in sops:
        if done[s.pos] != s.t_out:
            raise TsError(f"{s.op.where()}: the schedule stops at row {done[s.pos]} of {s.t_out} (internal)")
    replay(sched)
    return sched


def ring_bytes(sched: Schedule) -> int:
    return sum(r.bytes for r in sched.rings.values())


def choose_phases(sched: Schedule) -> None:
    """For each op making blocks of rows (n > 1), the phase whose simulated rings take the fewest bytes (a block
    aligned with its input's blocks reads one row fewer: e.g. two Winograd 3x3 layers in a row)."""
    for s in sched.sops:
        if s.n < 2:
            continue
        best = None
        for phase in range(s.n):
            s.phase = phase
            simulate(sched)
            total = ring_bytes(sched)
            if best is None or total < best[0]:
                best = (total, phase)
        s.phase = best[1]


def replay(sched: Schedule) -> None:
    """The rings' moves with their capacities and slack as set (counted per clip), checking that every window
    a call reads is in its ring."""
    sops, rings = sched.sops, sched.rings
    base = {t: 0 for t in rings}
    for r in rings.values():
        r.moves, r.moved_bytes = 0, 0
    done = [0] * len(sops)
    produced = {t: 0 for t in rings}

    def write(ring: Ring, row: int, n: int) -> None:
        if row + n - base[ring.tensor] > ring.slots:
            f = _first_needed(sched, ring, done)
            keep = row if f is None else min(f, row)
            if row > keep:
                ring.moves += 1
                ring.moved_bytes += (row - keep) * ring.row_bytes
            base[ring.tensor] = keep
        assert row + n - base[ring.tensor] <= ring.slots
        produced[ring.tensor] = row + n

    for p, calls in enumerate(sched.passes):
        write(sched.input_ring, p, 1)
        for pos, o, n in calls:
            s = sops[pos]
            _, _, first, count = s.call_rows(s.call_index(o))
            for r in s.rings_in:
                assert base[r] <= first and first + count <= produced[r], (s.op.where(), r, first, count)
            if s.ring_out is not None:
                write(rings[s.ring_out], o, n)
            done[pos] = o + n
