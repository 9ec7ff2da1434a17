"""Streamed execution at compile time, on small graphs built directly in the compiler's IR (no conversion):
the rows each ring must hold, worked out by hand from the windows and the order of the calls; which rings
are transient; the transposition of a model streamed along W; the memory plan; and the refusals (an op that
mixes the whole streamed axis, an axis that does not exist or is shorter than the receptive field), one line
each naming the op. The bit-exactness of the generated code is in test_stream_run.py."""
from __future__ import annotations

import numpy as np
import pytest

from tinyscene.tflite.graph import Graph, Op, Quant, Tensor
from tinyscene.aot.stream import StreamSpec
from tinyscene.aot.streamcompile import compile_stream_graph
from tinyscene.aot.streamlower import check_plan
from tinyscene.errors import TsError

SAME, VALID = 0, 1


class Net:
    """A tiny int8 graph in the compiler's IR, op by op (NHWC, batch 1)."""

    def __init__(self, shape):
        self.g = Graph({}, [], [], [], source="test")
        self.rng = np.random.default_rng(0)
        self.x = self.tensor(shape)
        self.g.inputs = [self.x]

    def tensor(self, shape, dtype="int8", data=None, scale=0.05, zp=0, per_channel=0):
        tid = len(self.g.tensors)
        if per_channel:
            q = Quant(np.full(per_channel, 0.02, np.float32), np.zeros(per_channel, np.int64), 0)
        else:
            q = Quant(np.array([scale], np.float32), np.array([zp], np.int64))
        self.g.tensors[tid] = Tensor(tid, f"t{tid}", tuple(shape), dtype, q, data)
        return tid

    def op(self, kind, inputs, out_shape, **options):
        y = self.tensor(out_shape)
        self.g.ops.append(Op(len(self.g.ops), kind, list(inputs), [y], options))
        return y

    def shape(self, t):
        return self.g.t(t).shape

    def conv(self, x, cout, kh, kw, sh=1, sw=1, padding=SAME, dh=1, dw=1):
        n, h, w, c = self.shape(x)
        wt = self.tensor((cout, kh, kw, c), data=self.rng.integers(-20, 20, (cout, kh, kw, c)).astype(np.int8),
                         per_channel=cout)
        b = self.tensor((cout,), "int32", np.zeros(cout, np.int32))

        def out(size, k, s, d):
            eff = (k - 1) * d + 1
            return (size + s - 1) // s if padding == SAME else (size - eff + s) // s

        return self.op("CONV_2D", [x, wt, b], (n, out(h, kh, sh, dh), out(w, kw, sw, dw), cout), padding=padding,
                       stride_h=sh, stride_w=sw, dilation_h_factor=dh, dilation_w_factor=dw)

    def add(self, a, b):
        return self.op("ADD", [a, b], self.shape(a))

    def pool(self, x, k, s, padding=VALID, kind="MAX_POOL_2D"):
        n, h, w, c = self.shape(x)
        oh = (h - k) // s + 1 if padding == VALID else (h + s - 1) // s
        ow = (w - k) // s + 1 if padding == VALID else (w + s - 1) // s
        return self.op(kind, [x], (n, oh, ow, c), padding=padding, stride_h=s, stride_w=s, filter_height=k,
                       filter_width=k)

    def mean(self, x, axes=(1, 2)):
        ax = self.tensor((len(axes),), "int32", np.array(axes, np.int32))
        n, h, w, c = self.shape(x)
        return self.op("MEAN", [x, ax], (1, c), keep_dims=False)

    def fc(self, x, units):
        depth = int(np.prod(self.shape(x)[1:]))
        wt = self.tensor((units, depth), data=self.rng.integers(-20, 20, (units, depth)).astype(np.int8))
        return self.op("FULLY_CONNECTED", [x, wt, -1], (1, units))

    def compile(self, y, axis="H", family="reference"):
        self.g.outputs = [y]
        return compile_stream_graph(self.g, StreamSpec(axis), family)


def ring_rows(comp, tid):
    """Rows the ring of a streamed tensor holds."""
    return comp.sched.rings[comp.sched.alias[tid]].slots


def test_conv_windows_set_the_ring_sizes():
    """A 3x3 SAME convolution reads rows o-1..o+1: when input row p+1 arrives, output p is next: 3 rows. A 5x5
    stride-2 convolution with one row of padding on top reads 2o-1..2o+3; its input ring holds 2o+1..2o+5 when
    row 2o+5 arrives: 5 rows. A 2x2/2 max pool reads two rows of a 3x3 convolution's output, which arrive one
    per input row and leave two at a time: 2 rows, one of them kept past the pass that wrote it."""
    n = Net((1, 20, 6, 2))
    a = n.conv(n.x, 4, 3, 3)
    p = n.pool(a, 2, 2)
    comp = n.compile(n.fc(n.mean(p), 3))
    assert ring_rows(comp, n.x) == 3
    assert ring_rows(comp, a) == 2 and comp.sched.rings[a].persistent
    assert ring_rows(comp, p) == 1 and not comp.sched.rings[p].persistent  # read as soon as written

    n = Net((1, 20, 6, 2))
    s = n.conv(n.x, 4, 5, 5, sh=2, sw=2)  # SAME on 20 rows: 10 outputs, 3 rows of padding, 1 on top
    comp = n.compile(n.fc(n.mean(s), 3))
    assert comp.slayers[0].sop.window.pad == 1 and comp.slayers[0].sop.window.extent == 5
    assert ring_rows(comp, n.x) == 5


def test_residual_branch_delay_sizes_the_shortcut_ring():
    """x -> conv3x3 -> conv3x3 -> conv3x3 -> add(x, .): after input row p, the three convolutions have made
    rows p-1, p-2, p-3 and the add row p-3; when row p+1 arrives the add still needs x's row p-2 and the first
    convolution rows p-1..p+1: x holds p-2..p+1, 4 rows (a branch of two convolutions: 3)."""
    for convs, rows in ((3, 4), (2, 3)):
        n = Net((1, 24, 5, 3))
        x = n.conv(n.x, 4, 1, 1)
        y = x
        for _ in range(convs):
            y = n.conv(y, 4, 3, 3)
        s = n.add(x, y)
        comp = n.compile(n.fc(n.mean(s), 2))
        assert ring_rows(comp, x) == rows, convs
        assert not comp.sched.rings[s].persistent  # the add's rows go straight into the mean


def test_valid_tail_and_stride_rows_and_calls():
    """A VALID 3-row window with stride 2 on 21 rows makes 10 rows, reading rows 2o..2o+2; its calls are all of
    one shape (no padding anywhere); a SAME one makes 11 rows, the first and the last call with their own
    parameter blocks (padding on top; a window cut by the end)."""
    n = Net((1, 21, 4, 2))
    v = n.conv(n.x, 3, 3, 1, sh=2, padding=VALID)
    comp = n.compile(n.fc(n.mean(v), 2))
    sl = comp.slayers[0]
    assert (sl.sop.t_out, sl.sop.window.stride, sl.sop.window.pad) == (10, 2, 0) and not sl.edges
    assert sl.layer.params["input"][1] == 3 and sl.layer.params["output"][1] == 1
    n = Net((1, 21, 4, 2))
    s = n.conv(n.x, 3, 4, 1, sh=2)  # SAME: 11 rows, (10 * 2 + 4 - 21) = 3 rows of padding, 1 on top
    comp = n.compile(n.fc(n.mean(s), 2))
    sl = comp.slayers[0]
    assert sl.sop.t_out == 11 and sorted(sl.edges) == [0, 10]
    assert sl.edges[0].params["pad_top"] == 1 and sl.edges[0].params["input"][1] == 3
    assert sl.edges[10].params["pad_top"] == 0 and sl.edges[10].params["input"][1] == 2  # rows 19, 20


def test_transposition_along_w_moves_time_first():
    """Streamed along W, a [1, 6, 30, 2] input becomes 30 rows of 6 x 2; a (1, 3) filter becomes (3, 1) with
    the same taps; its stride (1, 2) becomes (2, 1)."""
    n = Net((1, 6, 30, 2))
    c = n.conv(n.x, 4, 1, 3, sh=1, sw=2)
    w_before = n.g.t(n.g.ops[0].inputs[1]).data.copy()
    comp = n.compile(n.fc(n.mean(c), 2), axis="W")
    assert comp.sched.info.transposed and comp.sched.info.rows == 30
    assert comp.sched.input_ring.row_bytes == 6 * 2
    assert tuple(comp.graph.t(n.x).shape) == (1, 30, 6, 2) and tuple(comp.graph.t(c).shape) == (1, 15, 6, 4)
    L = comp.slayers[0].layer
    assert L.params["filter"] == (4, 3, 1, 2) and (L.params["stride_h"], L.params["stride_w"]) == (2, 1)
    np.testing.assert_array_equal(L.array("weights").values.reshape(4, 3, 1, 2), w_before.transpose(0, 2, 1, 3))


def test_plan_never_overlaps_live_buffers():
    n = Net((1, 30, 8, 2))
    a = n.conv(n.x, 6, 5, 5, sh=2, sw=2)
    b = n.conv(n.conv(a, 6, 3, 3), 6, 3, 3)
    c = n.pool(n.add(a, b), 2, 2)
    d = n.conv(c, 8, 3, 3)
    comp = n.compile(n.fc(n.mean(d), 3))
    check_plan(comp.plan)
    m = comp.memory()
    assert m["arena"] == comp.plan.arena_bytes == m["rings_persistent"] + m["accumulators"] + m["shared"]
    # far below the whole-tensor activations: the largest tensor alone is 15 x 4 x 6 bytes
    assert comp.plan.arena_bytes < 2 * 15 * 4 * 6 + 200


def test_avg_pool_over_all_rows_is_the_reduction():
    """An AVERAGE_POOL_2D whose window covers every row (Keras' AveragePooling2D over the whole map) keeps one
    int32 sum per column and channel (5 x 4) and divides at the end."""
    n = Net((1, 12, 5, 2))
    a = n.conv(n.x, 4, 3, 3)
    p = n.op("AVERAGE_POOL_2D", [a], (1, 1, 1, 4), padding=VALID, stride_h=1, stride_w=1, filter_height=12,
             filter_width=5)
    v = n.op("RESHAPE", [p], (1, 4))
    comp = n.compile(n.fc(v, 2))
    red = [s for s in comp.slayers if s.sop.kind == "reduce"]
    assert len(red) == 1 and red[0].finish.function == "ts_avg_pool_finish_s8" and red[0].acc_bytes == 4 * 5 * 4


# ---- refusals ------------------------------------------------------------------------------------------------

def refused(n, y, axis="H", family="reference") -> str:
    with pytest.raises(TsError) as e:
        n.compile(y, axis, family)
    msg = str(e.value)
    assert "\n" not in msg
    return msg


def test_dense_layer_over_the_whole_axis_is_refused():
    n = Net((1, 16, 8, 1))
    v = n.op("RESHAPE", [n.x], (1, 128))
    msg = refused(n, n.fc(v, 4))
    assert msg.startswith("op 0 RESHAPE: reshapes tensor 0")
    assert "streamed axis" in msg and "cannot be streamed" in msg


def test_op_reading_a_reduction_on_every_row_is_refused():
    """A squeeze-and-excitation gate: the mean over the whole clip multiplies every row."""
    n = Net((1, 16, 6, 4))
    a = n.conv(n.x, 4, 3, 3)
    g = n.mean(a)
    g4 = n.op("RESHAPE", [g], (1, 1, 1, 4))
    msg = refused(n, n.fc(n.mean(n.op("MUL", [a, g4], n.shape(a))), 2))
    assert msg.startswith("op 3 MUL") and "reduction over the whole streamed axis (op 1 MEAN)" in msg


def test_concatenation_along_time_and_global_max_pool_are_refused():
    n = Net((1, 16, 6, 2))
    a = n.conv(n.x, 4, 3, 3)
    cat = n.op("CONCATENATION", [a, a], (1, 32, 6, 4), axis=1)
    assert "concatenation along the streamed axis" in refused(n, n.fc(n.mean(cat), 2))
    n = Net((1, 16, 6, 2))
    p = n.op("MAX_POOL_2D", [n.conv(n.x, 4, 3, 3)], (1, 1, 1, 4), padding=VALID, stride_h=1, stride_w=1,
             filter_height=16, filter_width=6)
    assert "global max pooling" in refused(n, n.fc(n.op("RESHAPE", [p], (1, 4)), 2))


def test_missing_short_or_unreduced_axis_is_refused():
    n = Net((1, 24, 1))  # rank 3 [1, 24, 1]: W is axis 2, of length 1
    n.g.t(n.x).shape = (1, 24)
    assert "has no axis W" in refused(n, n.fc(n.x, 2), axis="W")
    n = Net((1, 8, 10, 1))  # 3 convolutions of 5 rows: a receptive field of 13 rows > 8
    y = n.conv(n.conv(n.conv(n.x, 2, 5, 1), 2, 5, 1), 2, 5, 1)
    msg = refused(n, n.fc(n.mean(y), 2))
    assert "8 rows along H, fewer than the receptive field" in msg and "13 rows" in msg
    n = Net((1, 8, 10, 1))
    y = n.conv(n.x, 2, 3, 3)
    n.g.outputs = [y]
    assert "without a reduction over it" in refused(n, y)


def test_board_without_enough_ram_even_streamed():
    from tinyscene.aot.streamcompile import _check_board
    from tinyscene.target.boards import load_board

    n = Net((1, 40, 64, 16))
    a = n.conv(n.conv(n.x, 64, 3, 3), 64, 3, 3)
    comp = n.compile(n.fc(n.mean(a), 2))
    board = load_board("nucleo-f411re")
    import dataclasses

    small = dataclasses.replace(board, ram=dataclasses.replace(board.ram, size=24 * 1024))
    with pytest.raises(TsError, match=r"streamed does not fit board 'nucleo-f411re' RAM: needs streamed model arena "
                                      r"\(rings [\d,]+ B \+ sums [\d,]+ B \+ shared [\d,]+ B\) [\d,]+ B"):
        _check_board(small, comp)
