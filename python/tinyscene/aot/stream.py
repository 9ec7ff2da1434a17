"""Streamed execution, step 1: which ops can run row by row along the input's time axis, and the graph
rewritten so that time is the outermost spatial axis.

A model is streamed along one axis of its (single, NHWC) input: W (`--stream-axis W`, tinyscene's features:
[1, n_mels, frames, channels]) or H (e.g. a keyword-spotting DS-CNN with time on H). Every tensor computed
from the input before the reduction over that axis is *streamed*: it is produced one row (one step along the
axis) at a time. An op is

- a *window* op (CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D, AVERAGE_POOL_2D): output row o reads the input rows
  [o s - pad, o s - pad + extent) clipped to the input (padding rows are the zero point, as in the kernels);
- a *row* op (element-wise, CONCATENATION across the other axes, PAD of the other axes, SOFTMAX, a
  FULLY_CONNECTED or MEAN within a row, views that keep the rows): output row o reads input row o;
- the *reduction* (MEAN over axes that include the streamed one, or an AVERAGE_POOL_2D whose one output row
  covers all input rows): a running int32 sum per output element, requantised once at the end;
- a *post* op: everything computed from the reductions' results (and constants), run once at the end.

Anything else that reads a streamed tensor mixes the whole axis before the reduction (a reshape across it, a
fully connected layer over it, a concatenation along it, an op that needs a reduction's result on every
row, a streamed graph output) and the model is refused with one line naming the op.

For W, the graph is transposed at compile time (`transpose_to_rows`): every streamed tensor gets its streamed
axis moved to position 1 (NHWC [1, H, T, C] -> [1, T, H, C]), and the ops that read them get their weights,
strides, dilations, paddings, pooling windows and axes swapped to match, so that one row (all of H and C) is
one contiguous block of memory and the existing kernels compute each output element with the same integers
in the same order (a transposed convolution of transposed data: bit-exact)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tinyscene.tflite.graph import Graph, Op, Tensor
from tinyscene.errors import TsError

AXES = {"H": 1, "W": 2}
WINDOW_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "AVERAGE_POOL_2D")
ELEMENTWISE = ("ADD", "MUL", "QUANTIZE", "DEQUANTIZE", "LOGISTIC", "TANH", "RELU", "RELU6")


@dataclass(frozen=True)
class StreamSpec:
    """What `--stream time [--stream-axis H|W]` asks for."""

    axis: str = "W"

    def __post_init__(self):
        if self.axis not in AXES:
            raise TsError(f"--stream-axis {self.axis}: expected H or W")


@dataclass
class StreamInfo:
    """The classification of a graph for streaming (tensor ids and ops of the compiler's IR)."""

    axis_name: str
    input: int  # the streamed graph input
    rows: int  # T: rows of the input along the streamed axis
    axis: dict[int, int] = field(default_factory=dict)  # streamed tensor -> its axis in the ORIGINAL shape
    kind: dict[int, str] = field(default_factory=dict)  # id(op) -> window | row | view | reduce | post
    receptive_field: int = 1  # input rows one row of the reductions' inputs depends on
    input_shape: tuple = ()  # the input's shape in the model (before transposition)
    transposed: bool = False


def _refuse(op: Op, why: str) -> TsError:
    kind = op.options.get("original", op.kind) if op.kind == "VIEW" else op.kind  # a view: the op of the model
    return TsError(f"op {op.index} {kind}: {why}: the model cannot be streamed")


def _prod(xs) -> int:
    return int(np.prod([int(v) for v in xs], dtype=np.int64)) if len(xs) else 1


def _layout(t: Tensor, a: int) -> tuple[int, int, int]:
    """(pre, T, post): the tensor's elements as [pre][T][post] along axis a."""
    return _prod(t.shape[:a]), int(t.shape[a]), _prod(t.shape[a + 1:])


def analyse(g: Graph, spec: StreamSpec) -> StreamInfo:
    """Classify every op (see the module docstring) or refuse the model with one line naming the op."""
    streamed_inputs = [t for t in g.inputs if g.t(t).data is None]
    if len(streamed_inputs) != 1:
        raise TsError(f"streamed execution takes a model with one input; this one has {len(streamed_inputs)}")
    x = g.t(streamed_inputs[0])
    a = AXES[spec.axis]
    if len(x.shape) < a + 1 or len(x.shape) < 3:
        raise TsError(f"--stream-axis {spec.axis}: the input {x.describe()} has no axis {spec.axis} (H and W are "
                      "axes 1 and 2 of an NHWC input)")
    if int(x.shape[0]) != 1:
        raise TsError(f"--stream-axis {spec.axis}: the input {x.describe()} has a batch of {x.shape[0]} (streamed "
                      "execution takes batch 1)")
    T = int(x.shape[a])
    if T < 2:
        raise TsError(f"--stream-axis {spec.axis}: the input {x.describe()} has {T} row along {spec.axis}: nothing "
                      "to stream")
    info = StreamInfo(axis_name=spec.axis, input=x.index, rows=T, axis={x.index: a}, input_shape=tuple(x.shape))
    reduced: dict[int, Op] = {}  # non-streamed tensors computed from a reduction -> that reduction
    rf: dict[int, int] = {x.index: 1}
    jump: dict[int, int] = {x.index: 1}
    for op in g.ops:
        ins = [i for i in op.inputs if i >= 0]
        s_in = [i for i in ins if i in info.axis]
        if not s_in:
            info.kind[id(op)] = "post"
            for o in op.outputs:
                src = next((reduced[i] for i in ins if i in reduced), None)
                if src is not None:
                    reduced[o] = src
            continue
        kind, out_axis = _classify(g, op, info, s_in, reduced)
        info.kind[id(op)] = kind
        if kind == "reduce":
            for o in op.outputs:
                reduced[o] = op
            rf_in = max(rf[i] for i in s_in)
            info.receptive_field = max(info.receptive_field, rf_in)
            continue
        y = op.outputs[0]
        info.axis[y] = out_axis
        if kind == "window":
            ext, stride = _window_extent(g, op, info.axis[s_in[0]])
            rf[y] = rf[s_in[0]] + (ext - 1) * jump[s_in[0]]
            jump[y] = jump[s_in[0]] * stride
        else:
            rf[y] = max(rf[i] for i in s_in)
            jump[y] = max(jump[i] for i in s_in)
    for t in g.outputs:
        if t in info.axis:
            op = g.producer(t)
            raise TsError(f"output {g.t(t).describe()} ({op.where() if op else 'the input'}) is computed row by row "
                          f"along {spec.axis} without a reduction over it: streamed execution needs a MEAN or a "
                          "global pooling over the streamed axis before the outputs")
    if not any(k == "reduce" for k in info.kind.values()):
        raise TsError(f"no reduction over the streamed axis {spec.axis}: the model cannot be streamed")
    if info.receptive_field > T:
        raise TsError(f"--stream-axis {spec.axis}: the input has {T} rows along {spec.axis}, fewer than the receptive "
                      f"field of the reduction ({info.receptive_field} rows): streaming would hold the whole input")
    return info


def _window_extent(g: Graph, op: Op, a: int) -> tuple[int, int]:
    """(effective kernel extent, stride) of a window op along original axis a (1 = H, 2 = W)."""
    o = op.options
    hw = "h" if a == 1 else "w"
    if op.kind in ("MAX_POOL_2D", "AVERAGE_POOL_2D"):
        k = int(o.get("filter_height" if a == 1 else "filter_width", 1))
        return k, int(o.get(f"stride_{hw}", 1))
    w = g.t(op.inputs[1])
    k = int(w.shape[1 if a == 1 else 2])
    d = int(o.get(f"dilation_{hw}_factor", 1))
    return (k - 1) * d + 1, int(o.get(f"stride_{hw}", 1))


def _classify(g: Graph, op: Op, info: StreamInfo, s_in: list[int], reduced: dict[int, Op]) -> tuple[str, int]:
    """-> (kind, the output's streamed axis in its original shape) for an op that reads a streamed tensor."""
    for i in op.inputs:
        if i >= 0 and i in reduced:
            raise _refuse(op, f"reads {g.t(i).describe()}, computed from the reduction over the whole streamed axis "
                              f"({reduced[i].where()}), together with streamed rows")
    ax = {i: info.axis[i] for i in s_in}
    x = g.t(s_in[0])
    a = ax[s_in[0]]
    T = int(x.shape[a])
    k = op.kind
    if k in WINDOW_OPS:
        if len(x.shape) != 4 or a not in (1, 2):
            raise _refuse(op, f"input {x.describe()} is streamed along axis {a}, not H or W of an NHWC tensor")
        y = g.t(op.outputs[0])
        if k == "AVERAGE_POOL_2D" and int(y.shape[a]) == 1 and _pool_covers_all(op, a, T):
            return "reduce", -1
        if k == "MAX_POOL_2D" and int(y.shape[a]) == 1 and T > 1 and _pool_covers_all(op, a, T):
            raise _refuse(op, "a max pool over the whole streamed axis (global max pooling) is not supported in "
                              "streamed execution")
        return "window", a
    if k == "VIEW":
        y = g.t(op.outputs[0])
        pre, _, post = _layout(x, a)
        for b in range(len(y.shape)):
            if int(y.shape[b]) == T and _layout(y, b) == (pre, T, post) and (b == 0 or int(y.shape[0]) == 1):
                return "view", b
        raise _refuse(op, f"reshapes {x.describe()} into {list(y.shape)}, which mixes the streamed axis ({T} rows) "
                          "with the others before any reduction over it")
    if k == "MEAN":
        axes = _mean_axes(g, op, x)
        if a in axes:
            return "reduce", -1
        y = g.t(op.outputs[0])
        keep = bool(op.options.get("keep_dims", False))
        b = a if keep else a - sum(1 for d in axes if d < a)
        if b < 1:
            raise _refuse(op, "MEAN over the batch of a streamed tensor")
        return "row", b
    if k in ELEMENTWISE:
        y = g.t(op.outputs[0])
        for i in s_in:
            if len(g.t(i).shape) != len(y.shape) or ax[i] != a or int(g.t(i).shape[a]) != T:
                raise _refuse(op, f"inputs {[list(g.t(j).shape) for j in s_in]} are streamed along different axes")
        for i in op.inputs:
            if i >= 0 and i not in info.axis:
                t = g.t(i)
                if t.data is None:
                    raise _refuse(op, f"input {t.describe()} is neither streamed nor constant")
                r = len(y.shape) - len(t.shape)
                if r < 0:
                    raise _refuse(op, f"constant {t.describe()} has more dimensions than {list(y.shape)}")
        return "row", a
    if k == "CONCATENATION":
        r = len(x.shape)
        axis = int(op.options.get("axis", 0))
        axis = axis + r if axis < 0 else axis
        if axis == a:
            raise _refuse(op, "concatenation along the streamed axis")
        for i in op.inputs:
            if i not in info.axis or info.axis[i] != a:
                raise _refuse(op, f"input {g.t(i).describe()} is not streamed like the others")
        return "row", a
    if k in ("PAD", "PADV2"):
        pads = g.t(op.inputs[1]).data
        if pads is None:
            raise _refuse(op, "paddings are not constant")
        pd = pads.reshape(-1, 2)
        if pd[a].any():
            raise _refuse(op, "pads the streamed axis (a PAD that is not fused into a convolution)")
        return "row", a
    if k == "SOFTMAX":
        if a == len(x.shape) - 1:
            raise _refuse(op, "softmax over the streamed axis")
        return "row", a
    if k == "FULLY_CONNECTED":
        w = g.t(op.inputs[1])
        depth = int(w.shape[1]) if len(w.shape) == 2 else 0
        pre, _, post = _layout(x, a)
        y = g.t(op.outputs[0])
        if depth and post % depth == 0:  # each row holds whole rows of the fully connected layer
            want = (pre, T, post // depth * int(w.shape[0]))
            for b in range(len(y.shape)):
                if int(y.shape[b]) == T and _layout(y, b) == want and (b == 0 or int(y.shape[0]) == 1):
                    return "row", b
            raise _refuse(op, f"output {list(y.shape)} folds the {T} streamed rows into its batch")
        raise _refuse(op, f"fully connected layer over {x.describe()}: its {depth} inputs span the streamed axis "
                          f"({T} rows)")
    raise _refuse(op, f"reads the streamed tensor {x.describe()} and is not supported in streamed execution")


def _pool_covers_all(op: Op, a: int, T: int) -> bool:
    """The single output row of a pooling op reads every one of the T input rows."""
    o = op.options
    k = int(o.get("filter_height" if a == 1 else "filter_width", 1))
    s = int(o.get("stride_h" if a == 1 else "stride_w", 1))
    if int(o.get("padding", 0)) == 1:  # VALID: the window starts at row 0
        return k >= T
    total = max(((T + s - 1) // s - 1) * s + k - T, 0)  # SAME
    start = -(total // 2)
    return start <= 0 and start + k >= T


def _mean_axes(g: Graph, op: Op, x: Tensor) -> list[int]:
    ax = g.t(op.inputs[1]).data
    if ax is None:
        raise _refuse(op, "the reduction axes are not constant")
    r = len(x.shape)
    return sorted({int(v) + r if int(v) < 0 else int(v) for v in np.atleast_1d(ax).tolist()})


# ---- transposition ---------------------------------------------------------------------------------------

def _moved(shape: tuple, a: int) -> tuple:
    """The shape with axis a moved to position 1 (rows first after the batch)."""
    s = list(shape)
    t = s.pop(a)
    s.insert(1, t)
    return tuple(s)


def transpose_to_rows(g: Graph, info: StreamInfo) -> None:
    """Rewrite g in place so that every streamed tensor has its streamed axis at position 1 (see the module
    docstring). Constants read by row ops are moved the same way (broadcast dimensions aligned first)."""
    if all(a < 2 for a in info.axis.values()):
        return
    info.transposed = True
    old_shapes = {t: tuple(g.t(t).shape) for t in info.axis}
    for op in g.ops:
        kind = info.kind[id(op)]
        if kind == "post":
            continue
        s_in = [i for i in op.inputs if i >= 0 and i in info.axis]
        a = info.axis[s_in[0]]
        if a < 2:
            continue
        if op.kind in WINDOW_OPS:
            _swap_window_op(g, op)
        elif op.kind == "MEAN":
            r = len(old_shapes[s_in[0]])
            perm = _perm(r, a)
            axes = [perm.index(d) for d in _mean_axes(g, op, g.t(s_in[0]))]
            _replace_const(g, op, 1, np.array(sorted(axes), dtype=np.int32))
        elif op.kind == "CONCATENATION":
            r = len(old_shapes[s_in[0]])
            axis = int(op.options.get("axis", 0))
            axis = axis + r if axis < 0 else axis
            op.options = dict(op.options, axis=_perm(r, a).index(axis))
        elif op.kind in ("PAD", "PADV2"):
            pd = g.t(op.inputs[1]).data.reshape(-1, 2)
            _replace_const(g, op, 1, pd[_perm(len(pd), a)].astype(g.t(op.inputs[1]).data.dtype))
        if op.kind in ELEMENTWISE:
            y_rank = len(old_shapes[op.outputs[0]]) if op.outputs[0] in old_shapes else None
            for pos, i in enumerate(op.inputs):
                if i >= 0 and i not in info.axis and g.t(i).data is not None and y_rank:
                    c = g.t(i).data
                    full = c.reshape((1,) * (y_rank - c.ndim) + c.shape)
                    _replace_const(g, op, pos, np.ascontiguousarray(np.moveaxis(full, a, 1)))
    for t, a in info.axis.items():
        if a >= 2:
            g.t(t).shape = _moved(old_shapes[t], a)


def _perm(r: int, a: int) -> list[int]:
    """new position -> old axis for moving axis a to position 1."""
    p = list(range(r))
    p.pop(a)
    p.insert(1, a)
    return p


def _replace_const(g: Graph, op: Op, pos: int, value: np.ndarray) -> None:
    """Give op's input `pos` a new constant tensor (constants may be shared between ops)."""
    old = g.t(op.inputs[pos])
    tid = max(g.tensors, default=-1) + 1
    g.tensors[tid] = Tensor(tid, old.name, tuple(value.shape), old.dtype, old.quant, value)
    op.inputs = list(op.inputs)
    op.inputs[pos] = tid


def _swap_window_op(g: Graph, op: Op) -> None:
    """H <-> W of a convolution or pooling op (its tensors' shapes are swapped by the caller)."""
    o = dict(op.options)
    for h, w in (("stride_h", "stride_w"), ("dilation_h_factor", "dilation_w_factor"),
                 ("filter_height", "filter_width")):
        if h in o or w in o:
            o[h], o[w] = o.get(w, 1), o.get(h, 1)
    if "explicit_padding" in o:
        pt, pl = o["explicit_padding"]
        o["explicit_padding"] = (pl, pt)
    op.options = o
    if op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
        w = g.t(op.inputs[1])
        _replace_const(g, op, 1, np.ascontiguousarray(w.data.transpose(0, 2, 1, 3)))
