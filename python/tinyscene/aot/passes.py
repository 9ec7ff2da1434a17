"""Graph passes before kernel lowering, each exact (the device computes the same bytes as TFLM):

- fold_constants: ops whose inputs are all known at compile time are evaluated with numpy and their
  outputs become constants; SHAPE of a static tensor is known. This removes the shape arithmetic that
  Keras' Flatten leaves in converted models (SHAPE -> STRIDED_SLICE -> PACK -> RESHAPE).
- views: RESHAPE / SQUEEZE / EXPAND_DIMS only reinterpret bytes (TFLM copies them unchanged); they become
  VIEW ops whose output shares the input's memory, and lose their shape operand.
- fuse_activations: a standalone RELU / RELU6 that is the only consumer of a CONV_2D, DEPTHWISE_CONV_2D,
  FULLY_CONNECTED, ADD, MUL or pooling output is merged into that op's output clamp.
- fuse_space_to_batch: SPACE_TO_BATCH_ND -> CONV_2D / DEPTHWISE_CONV_2D (VALID, stride 1) -> BATCH_TO_SPACE_ND,
  the converter's form of a dilated convolution, becomes one dilated convolution with explicit padding where
  that is what TFLM computes (see its docstring: with the converter's batch-1 shapes TFLM computes something
  else, which the compiler reproduces op by op, aot/tflm_arena.py).
- fuse_pad: PAD / PADV2 of the height and width only, with the pad value equal to the zero point, whose only
  reader is a CONV_2D / DEPTHWISE_CONV_2D, becomes that convolution's explicit padding: the padded border
  holds the zero point, exactly what a convolution's own padding means, so the bytes are the same. The
  converter writes this pair for PyTorch's symmetric padding (a 5x5/2 conv with padding 2 is not SAME);
  the padded copy of the input (a full-size buffer, and on a 2-channel input one tiny row per pixel) is gone.
- depthwise_one_channel_as_conv: a DEPTHWISE_CONV_2D on a one-channel input (depth multiplier = output channels,
  e.g. TFLM's micro_speech stem, 10x8 stride 2 on a spectrogram) is a CONV_2D whose filter is the depthwise
  filter with its channel axis in front: the same sums, biases and per-channel requantisation, so the
  convolution kernels (and their fast paths for few input channels and large kernels) take it.
- remove_dead: ops whose outputs nobody reads.
"""
from __future__ import annotations

import numpy as np

from tinyscene.aot import quant as Q
from tinyscene.errors import TsError
from tinyscene.tflite.graph import NUMPY_DTYPES, Graph, Op, Quant, Tensor

VIEW_OPS = ("RESHAPE", "SQUEEZE", "EXPAND_DIMS")
FUSABLE_PRODUCERS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "MAX_POOL_2D",
                     "AVERAGE_POOL_2D")


def run_passes(g: Graph) -> Graph:
    fold_constants(g)
    fuse_space_to_batch(g)
    fuse_pad(g)
    depthwise_one_channel_as_conv(g)
    make_views(g)
    fuse_activations(g)
    remove_dead(g)
    return g


# ---- constant folding ----------------------------------------------------------------------------

def _strided_slice(op: Op, x: np.ndarray, begin, end, strides) -> np.ndarray:
    o = op.options
    if o.get("ellipsis_mask", 0) or o.get("new_axis_mask", 0):
        raise TsError(f"{op.where()}: STRIDED_SLICE with ellipsis/new-axis masks is not supported")
    sl, shrink = [], []
    for i in range(x.ndim):
        if i >= len(begin):
            sl.append(slice(None))
            continue
        b, e, s = int(begin[i]), int(end[i]), int(strides[i])
        if o.get("offset", False):
            e = b + e
        if o.get("shrink_axis_mask", 0) >> i & 1:
            b = b + x.shape[i] if b < 0 else b
            sl.append(slice(b, b + 1, 1))
            shrink.append(i)
            continue
        sl.append(slice(None if o.get("begin_mask", 0) >> i & 1 else b,
                        None if o.get("end_mask", 0) >> i & 1 else e, s))
    y = x[tuple(sl)]
    return y.reshape([d for i, d in enumerate(y.shape) if i not in shrink])


def _eval(g: Graph, op: Op, vals: list[np.ndarray | None]) -> np.ndarray | None:
    """numpy value of a foldable op, or None when the op is not folded."""
    k = op.kind
    out = g.t(op.outputs[0])
    if k == "SHAPE":
        src = g.t(op.inputs[0])
        return np.asarray(src.shape, dtype=NUMPY_DTYPES.get(out.dtype, np.int32))
    if any(v is None for v in vals):
        return None
    x = vals[0]
    if k in ("RESHAPE", "SQUEEZE", "EXPAND_DIMS"):
        return x.reshape(out.shape)
    if k == "STRIDED_SLICE":
        return _strided_slice(op, x, vals[1], vals[2], vals[3])
    if k == "SLICE":
        b, s = vals[1], vals[2]
        return x[tuple(slice(int(bi), None if int(si) < 0 else int(bi) + int(si)) for bi, si in zip(b, s))]
    if k == "PACK":
        return np.stack(vals, axis=int(op.options.get("axis", 0)))
    if k == "CONCATENATION":
        if x.dtype == np.int8 and len({(float(g.t(i).quant.s), g.t(i).quant.zp) if g.t(i).quant else None
                                       for i in op.inputs + op.outputs}) > 1:
            return None  # int8 constants with different quantisation: leave to the device kernel
        return np.concatenate(vals, axis=int(op.options.get("axis", 0)))
    if k == "GATHER":
        return np.take(x, vals[1].astype(np.int64), axis=int(op.options.get("axis", 0)))
    if k == "CAST":
        return x.astype(NUMPY_DTYPES[out.dtype])
    if k == "REDUCE_PROD" and out.dtype in ("int32", "int64"):
        return np.prod(x, axis=tuple(int(a) for a in np.atleast_1d(vals[1])),
                       keepdims=bool(op.options.get("keep_dims", False))).astype(x.dtype)
    if k in ("ADD", "SUB", "MUL", "FLOOR_DIV") and out.dtype in ("int32", "int64") \
            and op.options.get("fused_activation_function", 0) == Q.ACT_NONE:
        a, b = vals[0], vals[1]
        r = {"ADD": np.add, "SUB": np.subtract, "MUL": np.multiply, "FLOOR_DIV": np.floor_divide}[k](a, b)
        return r.astype(NUMPY_DTYPES[out.dtype])
    return None


def fold_constants(g: Graph) -> None:
    kept = []
    for op in g.ops:
        if len(op.outputs) != 1 or g.t(op.outputs[0]).data is not None:
            kept.append(op)
            continue
        vals = [g.t(i).data if i >= 0 else None for i in op.inputs]
        try:
            v = _eval(g, op, vals)
        except TsError:
            raise
        except Exception as e:  # a malformed constant op: name it
            raise TsError(f"{op.where()}: cannot evaluate on constants ({e})") from None
        out = g.t(op.outputs[0])
        if v is None or out.index in g.outputs:
            kept.append(op)
            continue
        if tuple(v.shape) != tuple(out.shape) and v.size == out.size:
            v = v.reshape(out.shape)
        if tuple(v.shape) != tuple(out.shape):
            raise TsError(f"{op.where()}: folded value has shape {list(v.shape)}, the model says {list(out.shape)}")
        out.data = np.array(v, dtype=NUMPY_DTYPES.get(out.dtype, v.dtype), order="C")  # keeps 0-d shapes
    g.ops = kept


# ---- dilated convolutions -------------------------------------------------------------------------

def _const_ints(g: Graph, tid: int) -> list[int] | None:
    t = g.t(tid) if tid >= 0 else None
    return None if t is None or t.data is None else [int(v) for v in t.data.reshape(-1)]


def fuse_space_to_batch(g: Graph) -> None:
    """SPACE_TO_BATCH_ND -> conv (VALID, stride 1) -> BATCH_TO_SPACE_ND becomes one dilated convolution where that
    is what TFLM computes: the intermediate tensors' static shapes hold every block phase (TFLM does not resize
    tensors: with batch 1 there, as the converter writes a model of unknown batch, TFLM computes the first phase
    only, and the three ops are lowered as TFLM runs them), and the padded border is not read or the zero point
    is 0 (TFLM's SPACE_TO_BATCH_ND pads with 0, TFLite's with the zero point; the convolution kernels' padding
    is the zero point)."""
    removed = set()
    for b2s in [op for op in g.ops if op.kind == "BATCH_TO_SPACE_ND"]:
        z = b2s.inputs[0]
        conv = g.producer(z)
        if conv is None or conv.kind not in ("CONV_2D", "DEPTHWISE_CONV_2D") or len(g.consumers(z)) != 1 \
                or z in g.outputs or len(b2s.inputs) != 3:
            continue
        o = conv.options
        if int(o.get("padding", 0)) != 1 or int(o.get("stride_h", 1)) != 1 or int(o.get("stride_w", 1)) != 1 \
                or int(o.get("dilation_h_factor", 1)) != 1 or int(o.get("dilation_w_factor", 1)) != 1:
            continue
        s = conv.inputs[0]
        s2b = g.producer(s)
        if s2b is None or s2b.kind != "SPACE_TO_BATCH_ND" or len(g.consumers(s)) != 1 or s in g.outputs:
            continue
        x = s2b.inputs[0]
        block, block2 = _const_ints(g, s2b.inputs[1]), _const_ints(g, b2s.inputs[1])
        pads, crops = _const_ints(g, s2b.inputs[2]), _const_ints(g, b2s.inputs[2])
        if None in (block, block2, pads, crops) or block != block2 or len(block) != 2 or len(pads) != 4 \
                or len(crops) != 4 or len(g.t(x).shape) != 4:
            continue
        y = b2s.outputs[0]
        n, h, w = (int(d) for d in g.t(x).shape[:3])
        phases = block[0] * block[1]
        if g.t(s).shape[0] != n * phases or g.t(z).shape[0] != n * phases or g.t(y).shape[0] != n:
            continue  # TFLM computes only the phases the static shapes hold
        sq, xq = g.t(s).quant, g.t(x).quant
        if sq is None or xq is None or float(sq.s) != float(xq.s) or sq.zp != xq.zp:
            continue
        pad_top, pad_left = pads[0] - crops[0], pads[2] - crops[2]
        kh, kw = (int(d) for d in g.t(conv.inputs[1]).shape[1:3])
        oh, ow = int(g.t(y).shape[1]), int(g.t(y).shape[2])
        last_row = oh - 1 + (kh - 1) * block[0] - pad_top
        last_col = ow - 1 + (kw - 1) * block[1] - pad_left
        if pad_top < 0 or pad_left < 0:
            continue
        if xq.zp != 0 and (pad_top > 0 or pad_left > 0 or last_row >= h or last_col >= w):
            continue  # TFLM's border is 0, not the zero point
        conv.inputs = [x] + conv.inputs[1:]
        conv.outputs = [y]
        conv.options = dict(o, dilation_h_factor=block[0], dilation_w_factor=block[1],
                            explicit_padding=(pad_top, pad_left))
        conv.options.setdefault("output_quant_from", z)
        conv.options.setdefault("input_quant_from", s)
        conv.fused += [s2b.index, b2s.index]
        removed.add(id(b2s))
    g.ops = [op for op in g.ops if id(op) not in removed]


# ---- explicit padding -----------------------------------------------------------------------------

def fuse_pad(g: Graph) -> None:
    removed = set()
    for pad in [op for op in g.ops if op.kind in ("PAD", "PADV2")]:
        p = pad.outputs[0]
        readers = g.consumers(p)
        if len(readers) != 1 or p in g.outputs or readers[0].kind not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        conv = readers[0]
        x, pt_ = g.t(pad.inputs[0]), g.t(p)
        pads = _const_ints(g, pad.inputs[1]) if len(pad.inputs) > 1 else None
        if conv.inputs[0] != p or "explicit_padding" in conv.options or pads is None or len(pads) != 8 \
                or len(x.shape) != 4 or x.dtype != "int8" or pt_.quant is None or pt_.quant.scale.size != 1 \
                or any(pads[i] for i in (0, 1, 6, 7)) or min(pads) < 0:
            continue  # padding of the batch or the channels, or not a plain 4-D int8 pad
        value = pt_.quant.zp
        if pad.kind == "PADV2" and len(pad.inputs) > 2 and pad.inputs[2] >= 0:
            cv = _const_ints(g, pad.inputs[2])
            if cv is None or len(cv) != 1:
                continue
            value = cv[0]
        if value != pt_.quant.zp:
            continue  # a border that is not the zero point is not a convolution's padding
        o = conv.options
        same_top = same_left = 0
        if int(o.get("padding", 0)) == 0:  # SAME on the padded input: its own border adds to PAD's
            kh, kw = (int(d) for d in g.t(conv.inputs[1]).shape[1:3])
            eff = lambda k, d: (k - 1) * d + 1  # noqa: E731
            sh, sw = int(o.get("stride_h", 1)), int(o.get("stride_w", 1))
            h, w = int(pt_.shape[1]), int(pt_.shape[2])
            same_top = max((-(-h // sh) - 1) * sh + eff(kh, int(o.get("dilation_h_factor", 1))) - h, 0) // 2
            same_left = max((-(-w // sw) - 1) * sw + eff(kw, int(o.get("dilation_w_factor", 1))) - w, 0) // 2
        conv.inputs = [x.index] + conv.inputs[1:]
        conv.options = dict(o, explicit_padding=(pads[2] + same_top, pads[4] + same_left))
        conv.options.setdefault("input_quant_from", p)
        conv.fused.append(pad.index)
        removed.add(id(pad))
    g.ops = [op for op in g.ops if id(op) not in removed]


# ---- one-channel depthwise ------------------------------------------------------------------------

def depthwise_one_channel_as_conv(g: Graph) -> None:
    for op in g.ops:
        if op.kind != "DEPTHWISE_CONV_2D" or len(op.inputs) < 2 or op.inputs[0] < 0 or op.inputs[1] < 0:
            continue
        x, w = g.t(op.inputs[0]), g.t(op.inputs[1])
        if len(x.shape) != 4 or x.shape[3] != 1 or w.data is None or len(w.shape) != 4 or w.shape[0] != 1 \
                or w.quant is None or (w.quant.per_channel and w.quant.axis != 3):
            continue
        tid = max(g.tensors, default=-1) + 1
        q = Quant(scale=w.quant.scale, zero_point=w.quant.zero_point, axis=0)
        data = np.ascontiguousarray(w.data.transpose(3, 1, 2, 0))  # 1HWC -> OHWI with I = 1
        g.tensors[tid] = Tensor(index=tid, name=f"{w.name} (as a CONV_2D filter)", shape=tuple(data.shape),
                                dtype=w.dtype, quant=q, data=data)
        op.kind = "CONV_2D"
        op.inputs = [op.inputs[0], tid] + op.inputs[2:]
        op.options = {k: v for k, v in op.options.items() if k != "depth_multiplier"}
        op.options["from_depthwise"] = True


# ---- views ---------------------------------------------------------------------------------------

def make_views(g: Graph) -> None:
    for op in g.ops:
        if op.kind not in VIEW_OPS:
            continue
        src, dst = g.t(op.inputs[0]), g.t(op.outputs[0])
        if src.nbytes != dst.nbytes or src.dtype != dst.dtype:
            raise TsError(f"{op.where()}: input {src.dtype}{list(src.shape)} and output {dst.dtype}{list(dst.shape)} "
                          "do not hold the same bytes")
        op.options = dict(op.options, original=op.kind)
        op.kind = "VIEW"
        op.inputs = op.inputs[:1]


# ---- activation fusion ---------------------------------------------------------------------------

def _same_quant(a, b) -> bool:
    return (a is not None and b is not None and a.scale.size == 1 and b.scale.size == 1
            and float(a.s) == float(b.s) and a.zp == b.zp)


def fuse_activations(g: Graph) -> None:
    removed = set()
    for op in g.ops:
        if op.kind not in ("RELU", "RELU6") or id(op) in removed:
            continue
        src = g.t(op.inputs[0])
        dst = g.t(op.outputs[0])
        if src.dtype != "int8" or dst.dtype != "int8" or src.index in g.outputs or src.index in g.inputs:
            continue
        prod = g.producer(src.index)
        if prod is None or prod.kind not in FUSABLE_PRODUCERS or len(g.consumers(src.index)) != 1:
            continue
        if src.quant is None or src.quant.scale.size != 1:
            continue
        if op.kind == "RELU":
            if not _same_quant(src.quant, dst.quant):
                continue  # RELU also rescales: not a pure clamp
            lo, hi = src.quant.zp, Q.INT8_MAX
            lo = max(Q.INT8_MIN, lo)
        else:
            lo = src.quant.zp
            hi = Q.float_to_quantized_int8(6.0, src.quant.s, src.quant.zp)
        # the producer's own clamp, intersected; only when the intervals overlap (then exact)
        plo, phi = prod.options.get("extra_clamp", (Q.INT8_MIN, Q.INT8_MAX))
        act = prod.options.get("fused_activation_function", Q.ACT_NONE)
        if act not in (Q.ACT_NONE, Q.ACT_RELU, Q.ACT_RELU6, Q.ACT_RELU_N1_TO_1):
            continue
        alo, ahi = Q.activation_range(act, src.quant.s, src.quant.zp)
        cur_lo, cur_hi = max(plo, alo), min(phi, ahi)
        if cur_lo > cur_hi or max(cur_lo, lo) > min(cur_hi, hi):
            continue
        prod.options["extra_clamp"] = (max(plo, lo), min(phi, hi))
        # the producer keeps computing at its own output quantisation (RELU6 does not rescale)
        prod.options.setdefault("output_quant_from", src.index)
        prod.outputs = [dst.index]
        prod.fused.append(op.index)
        # the producer now writes the activation's output tensor (same bytes, the activation's name)
        removed.add(id(op))
    g.ops = [op for op in g.ops if id(op) not in removed]


# ---- dead code -----------------------------------------------------------------------------------

def remove_dead(g: Graph) -> None:
    live = set(g.outputs)
    kept: list[Op] = []
    for op in reversed(g.ops):
        if any(o in live for o in op.outputs):
            kept.append(op)
            live.update(i for i in op.inputs if i >= 0)
    g.ops = list(reversed(kept))
