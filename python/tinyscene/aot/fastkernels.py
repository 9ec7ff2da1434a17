"""Kernel variants of the optimized families: `armv7em` (Cortex-M4/M7/M33 with the DSP extension,
firmware/src/nn/armv7em) and `mve` (Cortex-M55 with Helium, firmware/src/nn/mve, over armv7em).

Each variant names its C kernel and packs, at compile time, everything that kernel reads in the order it
reads it (see the comments at the top of each C file): weights widened to int16 and interleaved for the
SMLAD blocks (armv7em) or cut into 16-byte vectors (mve), biases and requantisation records per padded
channel, lookup tables. The choice and its parameters are recorded in layer.info["kernel_choice"] (compile
report, generated C).

Weights are stored once, int8, in the order the kernel reads them (armv7em widens them with SXTB16 as it reads;
Helium reads int8); only `--prefer speed` adds Winograd's int16 transformed weights where they apply.

Requantisation ("fast" records, armv7em): for every channel with a right shift (TFLite shift <= -1), the
compiler checks with the largest |accumulator| any int8 input can give (|bias| + 128 sum|w|) that
  - the accumulator doubled still fits int32 (the kernel doubles it, or Winograd folds the 2 into its int16
    weights and bias, so that one SMMLAR computes TFLite's SaturatingRoundingDoublingHighMul), and
  - adding the rounding term and output_zero_point << shift cannot overflow.
If any channel fails, the layer keeps TFLite's multiplier/shift arrays and the kernel's exact path.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tinyscene.aot.layer import CArray, KernelVariant, Layer, Ref

INT32_LIMIT = 1 << 31


@dataclass(frozen=True)
class FastVariant(KernelVariant):
    source: str = "armv7em"  # the folder of firmware/src/nn that holds the function's file


# ---- requantisation --------------------------------------------------------------------------------

@dataclass
class Requant:
    fast: bool
    fold: int  # factor folded into weights and bias (2 when fast, else 1)
    records: np.ndarray | None  # [C, 3] int32 (multiplier, round, shift) when fast
    reason: str = ""


def plan_requant(w_abs_sum: np.ndarray, bias: np.ndarray, mult: np.ndarray, shift: np.ndarray,
                 out_zp: int) -> Requant:
    """Fast records for channels with accumulator bound |bias| + 128 sum|w| (see the module docstring)."""
    C = mult.size
    rec = np.zeros((C, 3), dtype=np.int64)
    bound = np.abs(bias.astype(np.int64)) + 128 * w_abs_sum.astype(np.int64)
    for c in range(C):
        m, sh = int(mult[c]), int(shift[c])
        if m == 0:  # a dead channel (zero scale): the output is the zero point
            rec[c] = (0, 1 + 2 * out_zp, 1)
            if 2 * int(bound[c]) >= INT32_LIMIT:
                return Requant(False, 1, None, f"channel {c}: accumulator bound {int(bound[c])} too large")
            continue
        if sh >= 0:
            return Requant(False, 1, None, f"channel {c}: multiplier >= 0.5 (shift {sh})")
        e = -sh
        r = (1 << (e - 1)) + out_zp * (1 << e)
        a = int(bound[c])
        if 2 * a >= INT32_LIMIT:
            return Requant(False, 1, None, f"channel {c}: accumulator bound {a} too large to double")
        if a + 2 + abs(r) + (1 << (e - 1)) + 128 * (1 << e) >= INT32_LIMIT:
            return Requant(False, 1, None, f"channel {c}: rounding with shift {e} could overflow")
        rec[c] = (m, r, e)
    return Requant(True, 2, rec.astype(np.int32))


def _pad_rows(a: np.ndarray, rows: int) -> np.ndarray:
    out = np.zeros((rows, *a.shape[1:]), dtype=a.dtype)
    out[:a.shape[0]] = a
    return out


def _arrays(L: Layer) -> dict[str, CArray]:
    name = L.name
    return {"weights": L.array("weights"), "bias": L.array("bias"),
            "mult": next(a for a in L.arrays if a.name == f"{name}_mult"),
            "shift": next(a for a in L.arrays if a.name == f"{name}_shift")}


def _set_requant(L: Layer, rq: Requant, mult: np.ndarray, shift: np.ndarray) -> None:
    """Replace the layer's requantisation arrays: fast records (shift = NULL) or padded TFLite arrays."""
    name = L.name
    keep = [a for a in L.arrays if a.name not in (f"{name}_mult", f"{name}_shift")]
    if rq.fast:
        keep.append(CArray(f"{name}_rq", "int32_t", rq.records.reshape(-1), "quant"))
        L.params["requant"] = {"multiplier": Ref(f"{name}_rq"), "shift": 0}
    else:
        keep += [CArray(f"{name}_mult", "int32_t", mult.astype(np.int32), "quant"),
                 CArray(f"{name}_shift", "int32_t", shift.astype(np.int32), "quant")]
        L.params["requant"] = {"multiplier": Ref(f"{name}_mult"), "shift": Ref(f"{name}_shift")}
    L.arrays = keep


def _k4_pairs(w: np.ndarray) -> np.ndarray:
    """[..., k] int -> [..., n4, 4] int16 in SXTB16 order (k0, k2, k1, k3), zero-padded to 4 n4."""
    k = w.shape[-1]
    n4 = (k + 3) // 4
    out = np.zeros((*w.shape[:-1], 4 * n4), dtype=np.int64)
    out[..., :k] = w
    return out.reshape(*w.shape[:-1], n4, 4)[..., [0, 2, 1, 3]]


def _as_bytes(a: np.ndarray) -> np.ndarray:
    """int16 values -> their little-endian bytes as int8 (what an int8_t array in flash holds)."""
    assert a.min(initial=0) >= -(1 << 15) and a.max(initial=0) < (1 << 15)
    return np.ascontiguousarray(a.astype("<i2")).reshape(-1).view(np.int8)


# ---- armv7em: convolutions --------------------------------------------------------------------------

def _conv_geometry(L: Layer) -> tuple[int, int, int, int]:
    """-> groups, channels per group, k, n4."""
    cout, kh, kw, kc = L.params["filter"]
    groups = L.params["input"][3] // kc
    k = kh * kw * kc
    return groups, cout // groups, k, (k + 3) // 4


def _words(pairs16: np.ndarray) -> np.ndarray:
    """[..., 2] int16 values (low, high) -> [...] uint32 words."""
    lo = pairs16[..., 0].astype(np.int64) & 0xFFFF
    hi = pairs16[..., 1].astype(np.int64) & 0xFFFF
    return (lo | hi << 16).astype(np.uint32)


def _int8_words(w: np.ndarray) -> np.ndarray:
    """[..., k] int -> [..., n4] uint32 words of 4 int8 in k order, zero-padded (what SXTB16 / SXTB16 ROR 8
    widen into the (k0, k2), (k1, k3) pairs the columns hold)."""
    k = w.shape[-1]
    n4 = (k + 3) // 4
    out = np.zeros((*w.shape[:-1], 4 * n4), dtype=np.int64)
    out[..., :k] = w
    b = (out.reshape(*w.shape[:-1], n4, 4) & 0xFF).astype(np.uint32)
    return b[..., 0] | b[..., 1] << 8 | b[..., 2] << 16 | b[..., 3] << 24


def _into_stream(L: Layer, stream_bytes: np.ndarray, exact: bool = False) -> None:
    """The layer's weights array becomes the packed stream (bias and requantisation inside it): the bias and
    requantisation arrays go; with `exact` the multiplier and shift arrays stay (the kernel's exact path: the
    records hold TFLite's multiplier and shift, the arrays mark the mode)."""
    name = L.name
    arr = _arrays(L)
    mult, shift = arr["mult"], arr["shift"]
    arr["weights"].values = np.ascontiguousarray(stream_bytes).reshape(-1).view(np.int8)
    L.arrays = [a for a in L.arrays if a.name not in (f"{name}_bias", f"{name}_mult", f"{name}_shift")]
    L.params["bias"] = 0
    if exact:
        L.arrays += [mult, shift]
        L.params["requant"] = {"multiplier": Ref(f"{name}_mult"), "shift": Ref(f"{name}_shift")}
    else:
        L.params["requant"] = {"multiplier": 0, "shift": 0}


def _finish_stream(L: Layer, stream: np.ndarray) -> None:
    _into_stream(L, stream.astype(np.int8))


def _prepare_conv_a7(L: Layer, family: str) -> None:
    """Stream "s8 2ch x k4 + rq" (ts_conv_s8 / ts_conv_1x1_s8 of armv7em, armv7em/ts_armv7em.h): per channel
    pair the bias pair, the int8 weight words of both channels interleaved, the two requantisation records."""
    arr = _arrays(L)
    groups, pg, k, n4 = _conv_geometry(L)
    pg2 = pg + (pg & 1)
    w = arr["weights"].values.reshape(groups, pg, k).astype(np.int64)
    bias = arr["bias"].values.astype(np.int64).reshape(groups, pg)
    mult = arr["mult"].values.reshape(groups, pg).astype(np.int64)
    shift = arr["shift"].values.reshape(groups, pg).astype(np.int64)
    rq = plan_requant(np.abs(w).sum(-1).reshape(-1), bias.reshape(-1), mult.reshape(-1), shift.reshape(-1),
                      int(L.params["output_zero_point"]))
    pad = lambda a: np.stack([_pad_rows(a[g], pg2) for g in range(groups)])  # noqa: E731  [G, pg2, ...]
    words = _int8_words(pad(w))  # [G, pg2, n4]
    wwords = words.reshape(groups, pg2 // 2, 2, n4).transpose(0, 1, 3, 2).reshape(groups, pg2 // 2, 2 * n4)
    bwords = pad(bias).reshape(groups, pg2 // 2, 2)
    if rq.fast:
        recs = pad(rq.records.reshape(groups, pg, 3)).astype(np.int64)
    else:
        recs = np.stack([pad(mult), pad(shift), np.zeros((groups, pg2), dtype=np.int64)], axis=-1)
    rwords = recs.reshape(groups, pg2 // 2, 6)
    stream = np.concatenate([bwords & 0xFFFFFFFF, wwords.astype(np.int64), rwords & 0xFFFFFFFF],
                            axis=-1).astype(np.uint32)
    _into_stream(L, stream.astype("<u4"), exact=not rq.fast)
    L.info["kernel_choice"] = {
        "block": "2 output channels x 2 pixels (SMLAD, 16 MACs per 14 instructions, int8 weights widened "
                 "by SXTB16)",
        "k": k, "k_padded": 4 * n4,
        "im2col": "none (1x1)" if L.function == "ts_conv_1x1_s8" else
                  ("copies from widened pair rows" if _conv_ring_bytes(L) else
                   "copies from widened field rows" if _conv_field_bytes(L) else "int16, 2 pixels"),
        "weights": "int8, channel pairs interleaved with their bias and requantisation records",
        "requant": "fast" if rq.fast else f"exact ({rq.reason})",
        "scratch_bytes": L.scratch_bytes}
    p = L.params
    if L.function in ("ts_conv_s8", "ts_conv_widened_s8") and _conv_ring_bytes(L) and _chunk_pairs(L) == _pairs(L) \
            and p["stride_h"] == 1 and p["stride_w"] == 1 and tuple(p["input"]) == tuple(p["output"]) \
            and p["output"][2] % 2 == 0:
        # pixel pairs never straddle output rows, whose input rows are in the ring of pair rows before the row is
        # written, and output row r covers input row r only: in place
        L.inplace = [(0, 0)]
        L.info["kernel_choice"]["in_place"] = "allowed (output over the input)"
    if L.function in ("ts_conv_1x1_s8", "ts_conv_1x1_widened_s8") and _chunk_pairs(L) == _pairs(L) \
            and L.params["output"][3] <= L.params["input"][3]:
        # two input pixels are widened before their outputs are written, outputs no wider than inputs: in place
        L.inplace = [(0, 0)]
        L.info["kernel_choice"]["in_place"] = "allowed (output over the input)"


CONV_RING_MAX = 16384  # armv7em/ts_armv7em_conv.c TS_ARMV7EM_CONV_RING_MAX
CONV_COMPACT = 1  # ts/nn.h TS_CONV_COMPACT: no rows widened ahead (the smallest scratch)


def _conv_ring_bytes(L: Layer) -> int:
    """Bytes of the pair rows of armv7em ts_conv_s8 (its use_ring() / ring_bytes()), 0 when not used."""
    p = L.params
    cout, kh, kw, kc = p["filter"]
    c = p["input"][3]
    ring = kh * ((p["output"][2] - 1) * p["stride_w"] + kw) * 4 * c
    ok = not p.get("flags", 0) & CONV_COMPACT and kc == c and c % 4 == 0 and p["dilation_h"] == 1 and p["dilation_w"] == 1 and kh <= 16
    return ring if ok and ring <= CONV_RING_MAX else 0


# Winograd F(2x2, 3x3): G' = 2 G (integer), B^T, A^T of Lavin & Gray's F(2, 3)
WINO_G = np.array([[2, 0, 0], [1, 1, 1], [1, -1, 1], [0, 0, 2]], dtype=np.int64)
WINO_MAX_WEIGHT_BYTES = 256 * 1024  # stored transformed weights (--prefer speed) of one layer at most
CONV_STORED_TRANSFORM = 2  # ts/nn.h TS_CONV_STORED_TRANSFORM
CONV_CHUNK_SHIFT, CONV_CHUNK_MASK = 8, 0xFFFF  # ts/nn.h TS_CONV_CHUNK(n) / TS_CONV_CHUNK_OF(flags)


def pair_words(n4: int) -> int:
    """TS_ARMV7EM_PAIR_WORDS(n4): words of one channel pair of the int8 stream "s8 2ch x k4 + rq"."""
    return 8 + 2 * n4


def pair_words_s16(n4: int) -> int:
    """TS_ARMV7EM_PAIR_WORDS_S16(n4): of the stream widened into the scratch ("s16 2ch x k4 + rq")."""
    return 8 + 4 * n4


def conv_chunk(n: int) -> int:
    """TS_CONV_CHUNK(n): the flags bits of n channel pairs made per pass (0: all)."""
    return n << CONV_CHUNK_SHIFT


def chunk_of(flags: int) -> int:
    """TS_CONV_CHUNK_OF(flags)."""
    return (flags >> CONV_CHUNK_SHIFT) & CONV_CHUNK_MASK


def _wino_stored_ok(L: Layer) -> bool:
    cout, _, _, cin = L.params["filter"]
    return _wino_ok(L) and 16 * (cout + cout % 2) * ((cin + 3) // 4) * 8 <= WINO_MAX_WEIGHT_BYTES


def _wino_band_bytes(L: Layer) -> int:
    """The band of padded input rows of armv7em ts_conv_wino_s8 (its band_tile_rows(), band_width(),
    band_line()): 2 R + 2 rows, R = 2 when a tile row has an odd number of tiles."""
    p = L.params
    tw = (p["output"][2] + 1) // 2
    rows = 2 * (2 if tw % 2 else 1) + 2
    line = ((2 * tw + 2) * 4 * ((p["input"][3] + 3) // 4) + 15) // 16 * 16
    return rows * line


def _wino_chunk_pairs(L: Layer) -> int:
    pairs = (L.params["filter"][0] + 1) // 2
    n = chunk_of(L.params.get("flags", 0))
    return n if 0 < n < pairs else pairs


def _wino_scratch(L: Layer, family: str) -> int:
    """ts_conv_wino_s8_get_buffer_size(): columns, products, the band, the transformed weights of a pass."""
    cout, _, _, cin = L.params["filter"]
    k4 = (cin + 3) // 4
    flags = L.params.get("flags", 0)
    return 16 * 16 * k4 + 256 + _wino_band_bytes(L) + (
        0 if flags & CONV_STORED_TRANSFORM else _wino_chunk_pairs(L) * 16 * k4 * 16)


def pass_sizes(n: int) -> list[int]:
    """The items per pass worth trying for n items, most first: each the smallest size that makes its number of
    passes (n, ceil(n / 2), ceil(n / 3), ... without repeats)."""
    out: list[int] = []
    for passes in range(1, n + 1):
        size = -(-n // passes)
        if size not in out:
            out.append(size)
    return out


def _wino_chunks(L: Layer) -> list[dict]:
    pairs = (L.params["filter"][0] + 1) // 2
    return [{"flags": conv_chunk(0 if n == pairs else n)} for n in pass_sizes(pairs)]


def _wino_records(L: Layer, w: np.ndarray, c2: int) -> np.ndarray:
    arr = _arrays(L)
    bias = arr["bias"].values.astype(np.int64)
    rq = plan_requant(np.abs(w).sum(-1), bias, arr["mult"].values, arr["shift"].values,
                      int(L.params["output_zero_point"]))
    assert rq.fast
    recs = np.concatenate([(2 * bias)[:, None], rq.records.astype(np.int64)], -1)  # bias x 2, M, R, E
    return _pad_rows(recs, c2).reshape(-1)


def _finish_wino(L: Layer, stream: np.ndarray, what: str) -> None:
    _into_stream(L, (stream & 0xFFFFFFFF).astype("<u4"))
    cout, _, _, cin = L.params["filter"]
    L.info["kernel_choice"] = {
        "method": "Winograd F(2x2, 3x3) in exact integers: 16 instead of 36 multiplies per 2x2 outputs; "
                  "2 output channels x 2 tiles SMLAD blocks per Winograd position",
        "k": cin, "k_padded": 4 * ((cin + 3) // 4), "weights": what, "requant": "fast",
        "scratch_bytes": L.scratch_bytes}
    p = L.params
    if _wino_chunk_pairs(L) == (cout + 1) // 2 and tuple(p["input"]) == tuple(p["output"]):
        # one pass over the input, read through the band before the outputs that cover it are written
        L.inplace = [(0, 0)]
        L.info["kernel_choice"]["in_place"] = "allowed (output over the input)"


def _prepare_conv_wino8_a7(L: Layer, family: str) -> None:
    """Stream "wino s8 + rq" (armv7em ts_conv_wino_s8, transformed at run time): per output channel (padded to
    even) its int8 taps as 9 k4 words [ky][kx][group of 4 input channels], then the records."""
    arr = _arrays(L)
    cout, _, _, cin = L.params["filter"]
    c2 = cout + cout % 2
    g = arr["weights"].values.astype(np.int64)  # [cout, 3, 3, cin]
    taps = _int8_words(_pad_rows(g, c2)).reshape(-1)  # [c2, 3, 3, k4]
    stream = np.concatenate([taps.astype(np.int64), _wino_records(L, g.reshape(cout, -1), c2)])
    n = chunk_of(L.params.get("flags", 0))
    _finish_wino(L, stream, "int8 taps, transformed at run time into the scratch (U = G'gG'^T, "
                 + (f"{n} channel pairs per pass)" if n else "all channel pairs at once)"))


def _wino_ok(L: Layer) -> bool:
    p = L.params
    if not (L.info["kernel"] == [3, 3] and L.info["groups"] == 1 and p["stride_h"] == 1 and p["stride_w"] == 1
            and p["dilation_h"] == 1 and p["dilation_w"] == 1):
        return False
    arr = _arrays(L)
    cout, _, _, cin = p["filter"]
    if cin > 64 or cin < 8:  # the kernel's SMLAD loop takes at most 16 groups; few channels: direct is faster
        return False
    w = arr["weights"].values.reshape(cout, -1).astype(np.int64)
    if 4 * 128 * int(np.abs(w).sum(1).max(initial=0)) >= INT32_LIMIT:  # 4 x the sums must fit int32
        return False
    rq = plan_requant(np.abs(w).sum(-1), arr["bias"].values.astype(np.int64), arr["mult"].values,
                      arr["shift"].values, int(p["output_zero_point"]))
    return rq.fast


def _prepare_conv_wino_a7(L: Layer, family: str) -> None:
    """Stream "wino s16 2ch x 16pos x k4 + rq" (armv7em ts_conv_wino_s8 with TS_CONV_STORED_TRANSFORM)."""
    arr = _arrays(L)
    cout, _, _, cin = L.params["filter"]
    c2, k4 = cout + cout % 2, (cin + 3) // 4
    g = arr["weights"].values.astype(np.int64)  # [cout, 3, 3, cin]
    u = np.einsum("ia,oabc,jb->oijc", WINO_G, g, WINO_G).reshape(cout, 16, cin)  # [cout, pos, cin]
    assert np.abs(u).max(initial=0) < (1 << 15)
    up = np.zeros((c2, 16, cin), dtype=np.int64)
    up[:cout] = u
    wp = _k4_pairs(up.transpose(1, 0, 2))  # [pos, c2, k4, 4]: (i0, i2, i1, i3) per group
    wp = wp.reshape(16, c2 // 2, 2, k4, 2, 2).transpose(1, 0, 3, 2, 4, 5)  # [pair, pos, k4, ch, word, half]
    wwords = _words(wp).reshape(-1).astype(np.int64)
    stream = np.concatenate([wwords, _wino_records(L, g.reshape(cout, -1), c2)])
    _finish_wino(L, stream, "int16 G'gG'^T (16 positions), channel pairs interleaved, stored (--prefer speed)")


CONV_FIELD_MAX = 16384  # armv7em/ts_armv7em_conv.c TS_ARMV7EM_CONV_FIELD_MAX


def _conv_field_bytes(L: Layer) -> int:
    """Bytes of the field rows of armv7em ts_conv_s8 (its use_field() / field_bytes()), 0 when not used."""
    p = L.params
    cout, kh, kw, kc = p["filter"]
    c = p["input"][3]
    field = ((p["output"][1] - 1) * p["stride_h"] + kh) * p["output"][2] * 2 * kw * c
    field_and_row = field + ((((p["output"][2] - 1) * p["stride_w"] + kw) * c + 3) & ~3)  # + one padded row
    ok = (not p.get("flags", 0) & CONV_COMPACT and not _conv_ring_bytes(L) and kc == c and (kw * c) % 4 == 0
          and p["dilation_h"] == 1
          and p["dilation_w"] == 1)
    return field_and_row if ok and field <= CONV_FIELD_MAX else 0


def _scratch_conv_a7(L: Layer, family: str) -> int:
    n4 = _conv_geometry(L)[3]
    # column, two int8 rows, pair rows or field rows (armv7em ts_conv_s8)
    return 24 * n4 + _conv_ring_bytes(L) + _conv_field_bytes(L)


def _scratch_conv_1x1_a7(L: Layer, family: str) -> int:
    return 16 * ((L.params["input"][3] + 3) // 4)


def _pairs(L: Layer) -> int:
    groups, pg, _, _ = _conv_geometry(L)
    return groups * ((pg + 1) // 2)


def _chunk_pairs(L: Layer) -> int:
    """ts_armv7em_conv_chunk_pairs(): channel pairs made per pass in the scratch."""
    n, allp = chunk_of(L.params.get("flags", 0)), _pairs(L)
    one_group = L.params["filter"][3] == L.params["input"][3]
    return n if 0 < n < allp and one_group else allp


def _chunk_settings(L: Layer, compact_too: bool) -> list[dict]:
    """Flags to try: all channel pairs per pass, then half, a quarter, ... (one group only), with rows widened
    ahead, then (compact_too) the same without them."""
    allp = _pairs(L)
    sizes = [0]
    if L.params["filter"][3] == L.params["input"][3]:
        n = allp // 2
        while n >= 1:
            sizes.append(n)
            n //= 2
    out = [{"flags": conv_chunk(n)} for n in sizes]
    if compact_too:
        out += [{"flags": CONV_COMPACT | conv_chunk(n)} for n in sizes]
    return out


def _widened_stream_bytes(L: Layer) -> int:
    """Bytes of the int16 stream the widened variants make in their scratch ("s16 2ch x k4 + rq")."""
    _, _, _, n4 = _conv_geometry(L)
    return 4 * _chunk_pairs(L) * pair_words_s16(n4)


def _scratch_conv_widened_a7(L: Layer, family: str) -> int:
    return (_scratch_conv_a7(L, family) + 3) // 4 * 4 + _widened_stream_bytes(L)


def _scratch_conv_1x1_widened_a7(L: Layer, family: str) -> int:
    return _scratch_conv_1x1_a7(L, family) + _widened_stream_bytes(L)


def _pads_after(L: Layer) -> tuple[int, int]:
    """The bottom and right padding a convolution reads (explicit padding from a fused PAD can exceed SAME's)."""
    p = L.params
    (_, h, w, _), (_, kh, kw, _), (_, oh, ow, _) = p["input"], p["filter"], p["output"]
    return ((oh - 1) * p["stride_h"] + (kh - 1) * p["dilation_h"] + 1 - h - p["pad_top"],
            (ow - 1) * p["stride_w"] + (kw - 1) * p["dilation_w"] + 1 - w - p["pad_left"])


def _is_1x1(L: Layer) -> bool:
    return (L.info["kernel"] == [1, 1] and L.info["groups"] == 1 and L.params["pad_top"] == 0
            and L.params["pad_left"] == 0 and max(_pads_after(L)) <= 0)


# ---- armv7em: depthwise 3x3 ------------------------------------------------------------------------------

DW_STREAM_WORDS = 7  # armv7em/ts_depthwise_conv_3x3_s8.c DW_FLASH_WORDS; per channel: bias, 3 x int8 (w0, w1, w2, 0), multiplier, round, shift (in flash)
DW_WIDE_WORDS = 10  # armv7em/ts_depthwise_conv_3x3_s8.c DW_WORDS; per channel in the scratch: bias, 3 x (w0 | w1 << 16, w2), multiplier, round, shift


def _dw_transposed(L: Layer) -> bool | None:
    """The sweep of ts_depthwise_conv_3x3_s8: along the rows (False), along the columns (True: tall narrow
    outputs), or None when neither suits the kernel (stride 1 or 2 and padding <= 1 along the sweep)."""
    p = L.params
    if not (L.info["kernel"] == [3, 3] and p["depth_multiplier"] == 1 and p["dilation_h"] == 1
            and p["dilation_w"] == 1):
        return None
    bottom, right = _pads_after(L)
    rows_ok = p["stride_w"] in (1, 2) and p["pad_left"] <= 1 and right <= 1
    cols_ok = p["stride_h"] in (1, 2) and p["pad_top"] <= 1 and bottom <= 1
    want = L.info.get("_sweep")  # a setting of the variant: "cols" (tall narrow: longer sweeps) or "rows"
    if want == "cols":
        return True if cols_ok else None
    if want == "rows":
        return False if rows_ok else None
    if cols_ok and (p["output"][2] < p["output"][1] or not rows_ok):
        return True
    return False if rows_ok else None


def _dw_settings(L: Layer) -> list[dict]:
    """Sweeps and ring sizes to try, most scratch first: the longer sweep with blocks of rows, then one row per
    block, then the other sweep likewise (settings starting with "_" are the compiler's, not the C block's)."""
    first = "cols" if _dw_transposed(L) else "rows"
    other = "rows" if first == "cols" else "cols"
    out = [{"_sweep": first, "_compact": False}, {"_sweep": first, "_compact": True}]
    L2 = Layer(L.index, L.op, L.params_type, L.params, L.arrays, L.inputs, L.outputs, L.signature,
               info=dict(L.info, _sweep=other))
    if _dw_transposed(L2) is not None:
        out += [{"_sweep": other, "_compact": False}, {"_sweep": other, "_compact": True}]
    return out


def _is_dw3x3(L: Layer) -> bool:
    return _dw_transposed(L) is not None


def _dw_plane(L: Layer) -> int:
    """int16 elements of one channel's row in the kernel's transposed rows: the swept size plus both pads."""
    w = L.params["input"][1 if _dw_transposed(L) else 2]
    return w + 2 + (w & 1)  # even: rows of whole words


DW_SCRATCH = 8192  # armv7em/ts_depthwise_conv_3x3_s8.c TS_ARMV7EM_DW_SCRATCH


def _dw_block_rows(L: Layer) -> int:
    """Output rows per block of ts_depthwise_conv_3x3_s8 (its block_rows())."""
    p = L.params
    tr = _dw_transposed(L)
    sr, out_rows = (p["stride_w"], p["output"][2]) if tr else (p["stride_h"], p["output"][1])
    if L.info.get("_compact"):
        return 1  # the stream's flag bit 1
    row_bytes = p["input"][3] * _dw_plane(L) * 2
    r = int((DW_SCRATCH // row_bytes - 3) / sr) + 1  # C: integer division truncating toward 0
    return max(1, min(r, 186 // sr + 1, 32, out_rows))


def _scratch_dw3x3_a7(L: Layer, family: str) -> int:
    sr = L.params["stride_w" if _dw_transposed(L) else "stride_h"]
    ring = (_dw_block_rows(L) - 1) * sr + 3  # the block's input rows (padding rows included)
    # + the taps widened to int16 pairs for the layer (DW_WIDE_WORDS per channel)
    return ring * L.params["input"][3] * _dw_plane(L) * 2 + 4 * DW_WIDE_WORDS * L.params["input"][3]


def _prepare_dw3x3_a7(L: Layer, family: str) -> None:
    """Stream "dw3x3 s8 + rq" (ts_depthwise_conv_3x3_s8 of armv7em): a flags word, then per channel
    DW_STREAM_WORDS words; the kernel widens the taps (x2 with fast records) into its scratch."""
    arr = _arrays(L)
    C = L.params["output"][3]
    w = arr["weights"].values.reshape(3, 3, C).astype(np.int64)  # [ky, kx, c]
    tr = bool(_dw_transposed(L))
    if tr:
        w = w.transpose(1, 0, 2)  # the sweep runs down the columns: filter columns become rows
    bias = arr["bias"].values.astype(np.int64)
    mult, shift = arr["mult"].values.astype(np.int64), arr["shift"].values.astype(np.int64)
    rq = plan_requant(np.abs(w).sum((0, 1)), bias, mult, shift, int(L.params["output_zero_point"]))
    rows = [_int8_words(w[ky].T).reshape(C) for ky in range(3)]  # [C] words (w0, w1, w2, 0)
    recs = rq.records.astype(np.int64) if rq.fast else np.stack([mult, shift, np.zeros(C, dtype=np.int64)], -1)
    stream = np.concatenate([bias[:, None], np.stack(rows, -1).astype(np.int64), recs], -1) & 0xFFFFFFFF
    assert stream.shape == (C, DW_STREAM_WORDS)
    flags = int(tr) | (2 if L.info.get("_compact") else 0)  # bit 0: transposed sweep; bit 1: one row per block
    stream = np.concatenate([[flags], stream.reshape(-1)]).astype(np.int64) & 0xFFFFFFFF
    _into_stream(L, stream.astype("<u4"), exact=not rq.fast)
    p = L.params
    if p["stride_h"] == 1 and p["stride_w"] == 1 and tuple(p["input"]) == tuple(p["output"]):
        L.inplace = [(0, 0)]  # a block's input rows are in the ring before its output rows are written
    L.info["kernel_choice"] = {
        "in_place": "allowed" if L.inplace else "no",
        "method": "3 input rows transposed to int16 channel planes; per channel, 2 outputs per step with "
                  "SMLAD over tap pairs (w0, w1) and SMLABB/SMLATB for w2",
        "sweep": "down the columns (transposed)" if tr else "along the rows", "block_rows": _dw_block_rows(L),
        "weights": "int8 taps per channel with bias and requantisation record (widened per call into the "
                   "scratch" + (", x2: folded requantisation)" if rq.fast else ")"),
        "requant": "fast" if rq.fast else f"exact ({rq.reason})", "scratch_bytes": L.scratch_bytes}


# ---- armv7em: fully connected -----------------------------------------------------------------------

def _prepare_fc_a7(L: Layer, family: str) -> None:
    """Layout "s8 4ch x k4" (ts_fully_connected_s8 of armv7em): per quad of output channels and group of 4
    inputs, the four channels' int8 words."""
    arr = _arrays(L)
    out_d, depth = L.params["output_depth"], L.params["input_depth"]
    q4 = (out_d + 3) // 4 * 4
    n4 = (depth + 3) // 4
    w = arr["weights"].values.reshape(out_d, depth).astype(np.int64)
    bias = arr["bias"].values.astype(np.int64)
    mult, shift = arr["mult"].values, arr["shift"].values
    rq = plan_requant(np.abs(w).sum(-1), bias, mult, shift, int(L.params["output_zero_point"]))
    words = _int8_words(_pad_rows(w, q4)).reshape(q4 // 4, 4, n4).transpose(0, 2, 1)  # [quads, n4, 4 ch]
    arr["weights"].values = np.ascontiguousarray(words.astype("<u4")).reshape(-1).view(np.int8)
    arr["bias"].values = _pad_rows(bias, q4).astype(np.int32)
    if rq.fast:
        rq.records = _pad_rows(rq.records, q4)
    _set_requant(L, rq, _pad_rows(mult, q4), _pad_rows(shift, q4))
    L.info["kernel_choice"] = {
        "block": "4 output channels x 1 row (SMLAD, 16 MACs per 20 instructions, int8 weights widened by "
                 "SXTB16)", "k": depth, "k_padded": 4 * n4, "weights": "int8, channel quads interleaved",
        "requant": "fast" if rq.fast else f"exact ({rq.reason})"}


# ---- element-wise ADD through lookup tables ------------------------------------------------------------

def srdhm(a: np.ndarray, b: int) -> np.ndarray:
    """gemmlowp SaturatingRoundingDoublingHighMul on int64 arrays (int32 values)."""
    ab = a.astype(np.int64) * int(b)
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    q = np.abs(ab + nudge) // (1 << 31) * np.sign(ab + nudge)  # C division truncates
    return np.where((a == -(1 << 31)) & (b == -(1 << 31)), (1 << 31) - 1, q)


def rdbpot(x: np.ndarray, e: int) -> np.ndarray:
    """gemmlowp RoundingDivideByPOT (half away from zero)."""
    x = x.astype(np.int64)
    mask = (1 << e) - 1
    rem = x & mask
    thr = (mask >> 1) + (x < 0)
    return (x >> e) + (rem > thr)


def _add_lut(L: Layer) -> dict | None:
    """Tables and output record of ts_add_lut_s8, or None when the fast output requantisation does not hold."""
    p = L.params
    u = np.arange(256)
    x = np.where(u > 127, u - 256, u)
    tables = []
    for k in (1, 2):
        a = (x + p[f"input{k}_offset"]) * (1 << p["left_shift"])
        tables.append(2 * rdbpot(srdhm(a, p[f"input{k}_multiplier"]), -p[f"input{k}_shift"]))
    m, sh, zp = p["output_multiplier"], p["output_shift"], p["output_offset"]
    if sh >= 0 or m == 0:
        return None
    e = -sh
    r = (1 << (e - 1)) + zp * (1 << e)
    bound = int(np.abs(tables[0]).max() + np.abs(tables[1]).max())
    if bound >= INT32_LIMIT or bound // 2 + 2 + abs(r) + (1 << (e - 1)) + 128 * (1 << e) >= INT32_LIMIT:
        return None
    return {"tables": tables, "multiplier": m, "round": r, "shift": e}


def _add_lut_ok(L: Layer) -> bool:
    return _add_lut(L) is not None


def _prepare_add_lut(L: Layer, family: str) -> None:
    lut = _add_lut(L)
    p, name = L.params, L.name
    L.arrays += [CArray(f"{name}_t1", "int32_t", lut["tables"][0].astype(np.int32), "table"),
                 CArray(f"{name}_t2", "int32_t", lut["tables"][1].astype(np.int32), "table")]
    L.params = {"shape": p["shape"], "table1": Ref(f"{name}_t1"), "table2": Ref(f"{name}_t2"),
                "output_multiplier": lut["multiplier"], "output_round": lut["round"],
                "output_shift": lut["shift"], "act_min": p["act_min"], "act_max": p["act_max"]}
    L.params_type = "ts_add_lut_params_t"
    L.info["kernel_choice"] = {"method": "two 256-entry int32 tables (each input's rescaling, computed offline) "
                                         "+ one SMMLAR requantisation per element", "table_bytes": 2048}


def _prepare_add_lut_made(L: Layer, family: str) -> None:
    """ts_add_lut_made_s8: the tables made per call in the scratch from TFLite's input rescaling."""
    lut = _add_lut(L)
    p = L.params
    L.params = {"lut": {"shape": p["shape"], "table1": 0, "table2": 0, "output_multiplier": lut["multiplier"],
                        "output_round": lut["round"], "output_shift": lut["shift"], "act_min": p["act_min"],
                        "act_max": p["act_max"]},
                **{k: p[k] for k in ("input1_offset", "input2_offset", "left_shift", "input1_multiplier",
                                     "input1_shift", "input2_multiplier", "input2_shift")}}
    L.params_type = "ts_add_lut_made_params_t"
    L.info["kernel_choice"] = {"method": "two 256-entry int32 tables (each input's rescaling) made per call in the "
                                         "scratch + one SMMLAR requantisation per element", "scratch_bytes": 2048}


# ---- mve: convolutions, fully connected, depthwise -------------------------------------------------------

def _mve_rq(bias: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """[C] -> [C, 4] int32: bias, multiplier, left shift, minus the right shift (mve/ts_mve.h)."""
    return np.stack([bias, mult, np.maximum(shift, 0), np.minimum(shift, 0)], -1).astype(np.int64)


def _mve_blocks(w: np.ndarray, bias: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """One group: w [pg, k] -> stream bytes of ceil(pg / 4) blocks "s8 4ch x k16 + rq"."""
    pg, k = w.shape
    pg4, n16 = (pg + 3) // 4 * 4, (k + 15) // 16
    wp = np.zeros((pg4, 16 * n16), dtype=np.int64)
    wp[:pg, :k] = w
    wb = wp.reshape(pg4 // 4, 4, n16, 16).transpose(0, 2, 1, 3).reshape(pg4 // 4, -1).astype(np.int8)
    rq = _pad_rows(_mve_rq(bias, mult, shift), pg4).reshape(pg4 // 4, 4, 4).transpose(0, 2, 1)  # [blk, field, ch]
    rqb = np.ascontiguousarray((rq.reshape(pg4 // 4, 16) & 0xFFFFFFFF).astype("<u4")).view(np.int8)
    return np.concatenate([wb, rqb.reshape(pg4 // 4, 64)], -1).reshape(-1)




CONV_ROW_CHUNKS = 4  # ts/nn.h TS_CONV_ROW_CHUNKS (Helium): each filter row of the weights padded to whole chunks


def _mve_row_chunks(L: Layer) -> bool:
    """Whether mve ts_conv_s8 reads the fields in place a filter row at a time with each row of the weights
    padded to whole 16-byte chunks (TS_CONV_ROW_CHUNKS): where a filter row is not whole chunks (else it reads
    them in place anyway) and, per pair of pixels, the blocks of 4 channels cost less that way (per row: 14
    instructions per whole chunk, 16 for the predicated last one, 9 to move on) than on the gathered fields (14
    per chunk of k, 3 more) plus the gathering of two fields (about 127 + 6 kh instructions each; measured on
    qemu-an547)."""
    p = L.params
    cout, kh, kw, kc = p["filter"]
    seg = kw * kc
    unpadded_1x1 = kh == kw == 1 and p["pad_top"] == 0 and p["pad_left"] == 0 and max(_pads_after(L)) <= 0
    if seg % 16 == 0 or kc != p["input"][3] or p["dilation_w"] != 1 or unpadded_1x1:  # 1x1: read in place
        return False
    rows = kh * (14 * (seg // 16) + 16 + 9)
    dense = 14 * -(-kh * seg // 16) + 3
    return -(-cout // 4) * (rows - dense) < 2 * (127 + 6 * kh)


def _mve_field_bytes(L: Layer) -> int:
    """One field of the scratch (mve ts_conv_s8 field_bytes())."""
    _, kh, kw, kc = L.params["filter"]
    return 16 * kh * -(-kw * kc // 16) if _mve_row_chunks(L) else 16 * -(-kh * kw * kc // 16)


def _prepare_conv_mve(L: Layer, family: str) -> None:
    arr = _arrays(L)
    groups, pg, k, _ = _conv_geometry(L)
    w = arr["weights"].values.reshape(groups, pg, k).astype(np.int64)
    if _mve_row_chunks(L):  # every filter row padded to whole chunks (zero weights)
        _, kh, kw, kc = L.params["filter"]
        row = 16 * -(-kw * kc // 16)
        wr = np.zeros((groups, pg, kh, row), dtype=np.int64)
        wr[..., :kw * kc] = w.reshape(groups, pg, kh, kw * kc)
        w, k = wr.reshape(groups, pg, kh * row), kh * row
        L.params["flags"] = L.params.get("flags", 0) | CONV_ROW_CHUNKS
    bias = arr["bias"].values.astype(np.int64).reshape(groups, pg)
    mult = arr["mult"].values.astype(np.int64).reshape(groups, pg)
    shift = arr["shift"].values.astype(np.int64).reshape(groups, pg)
    _finish_stream(L, np.concatenate([_mve_blocks(w[g], bias[g], mult[g], shift[g]) for g in range(groups)]))
    cout, kh, kw, kc = L.params["filter"]
    direct = (kh, kw) == (1, 1) and groups == 1 and L.params["pad_top"] == 0 \
        and L.params["pad_left"] == 0 and max(_pads_after(L)) <= 0
    L.info["kernel_choice"] = {
        "block": "4 output channels x 2 pixels (VMLADAVA, 128 MACs per 16 instructions)", "k": k,
        "k_padded": 16 * ((k + 15) // 16),
        "im2col": "none (1x1: the pixels read in place)" if direct else
                  "none inside the input (filter rows read in place, the weights' rows padded to whole chunks)"
                  if L.params.get("flags", 0) & CONV_ROW_CHUNKS else "int8, 2 pixels",
        "weights": "int8, 4-channel blocks of 16-byte chunks with bias and requantisation vectors",
        "requant": "exact (VQRDMULH, VRSHL)", "scratch_bytes": L.scratch_bytes}


def _scratch_conv_mve(L: Layer, family: str) -> int:
    return 2 * _mve_field_bytes(L)


def _fc_split(out_d: int) -> tuple[int, int]:
    """Channels in blocks of 8, and the last 1-4 in a block of 4 (mve ts_fully_connected_s8)."""
    rem = out_d % 8
    return (out_d - rem, rem) if 0 < rem <= 4 else ((out_d + 7) // 8 * 8, 0)


def _mve_blocks8(w: np.ndarray, bias: np.ndarray, mult: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """w [out, k] -> stream bytes "s8 8ch x k16 + rq": blocks of 8 channels, then a last 4-channel block ("s8 4ch x
    k16 + rq") when 1-4 channels are left (mve ts_fully_connected_s8)."""
    out_d, k = w.shape
    n8, rem = _fc_split(out_d)
    if rem:
        head = _mve_blocks8(w[:n8], bias[:n8], mult[:n8], shift[:n8]) if n8 else np.zeros(0, np.int8)
        return np.concatenate([head, _mve_blocks(w[n8:], bias[n8:], mult[n8:], shift[n8:])])
    o8, n16 = n8, (k + 15) // 16
    wp = np.zeros((o8, 16 * n16), dtype=np.int64)
    wp[:out_d, :k] = w
    wb = wp.reshape(o8 // 8, 8, n16, 16).transpose(0, 2, 1, 3).reshape(o8 // 8, -1).astype(np.int8)
    rq = _pad_rows(_mve_rq(bias, mult, shift), o8).reshape(o8 // 8, 2, 4, 4).transpose(0, 1, 3, 2)  # [blk, half, f, ch]
    rqb = np.ascontiguousarray((rq.reshape(o8 // 8, 32) & 0xFFFFFFFF).astype("<u4")).view(np.int8)
    return np.concatenate([wb, rqb.reshape(o8 // 8, 128)], -1).reshape(-1)


def _prepare_fc_mve(L: Layer, family: str) -> None:
    arr = _arrays(L)
    w = arr["weights"].values.reshape(L.params["output_depth"], L.params["input_depth"]).astype(np.int64)
    _finish_stream(L, _mve_blocks8(w, arr["bias"].values.astype(np.int64), arr["mult"].values.astype(np.int64),
                                   arr["shift"].values.astype(np.int64)))
    L.info["kernel_choice"] = {"block": "8 output channels x 1 row (VMLADAVA, 128 MACs per 17 instructions)",
                               "k": L.params["input_depth"],
                               "weights": "int8, 8-channel blocks of 16-byte chunks with bias and requantisation "
                                          "vectors", "requant": "exact (VQRDMULH, VRSHL)"}


def _prepare_dw_mve(L: Layer, family: str) -> None:
    """Layout "dw s8 8ch + rq" (mve ts_depthwise_conv_s8)."""
    arr = _arrays(L)
    _, kh, kw, C = L.params["filter"]
    C8 = (C + 7) // 8 * 8
    w = np.zeros((kh * kw, C8), dtype=np.int64)
    w[:, :C] = arr["weights"].values.reshape(kh * kw, C)
    rq = _pad_rows(_mve_rq(arr["bias"].values.astype(np.int64), arr["mult"].values.astype(np.int64),
                           arr["shift"].values.astype(np.int64)), C8).reshape(C8 // 8, 4, 2, 4)  # [grp, i, parity, f]
    rq = rq.transpose(0, 2, 3, 1)  # [grp, parity (even, odd), field, lane]
    wb = w.reshape(kh * kw, C8 // 8, 8).transpose(1, 0, 2).reshape(C8 // 8, -1).astype(np.int8)
    rqb = np.ascontiguousarray((rq.reshape(C8 // 8, 32) & 0xFFFFFFFF).astype("<u4")).view(np.int8)
    _finish_stream(L, np.concatenate([wb, rqb.reshape(C8 // 8, 128)], -1).reshape(-1))
    L.info["kernel_choice"] = {"method": "8 channels per vector: VLDRB.S16 + VMULLB/VMULLT per tap",
                               "weights": "int8, 8-channel groups of taps with even/odd requantisation vectors",
                               "requant": "exact (VQRDMULH, VRSHL)"}


PLANAR_MAX = 9362  # mve/ts_depthwise_conv_planar_s8.c TS_MVE_PLANAR_MAX: a plane's bytes (16-bit gather offsets)


def _planar_geometry(L: Layer) -> tuple[bool, int, int] | None:
    """(transposed, plane rows, plane width) of mve ts_depthwise_conv_planar_s8, or None when it does not
    apply (its planar_geometry())."""
    p = L.params
    _, kh, kw, C = p["filter"]
    if p["depth_multiplier"] != 1 or kh * kw > 16:
        return None
    options = []
    for tr in (True, False):
        if tr:
            rows, px, sr, sp, dr, dp, kr, kp = p["output"][2], p["output"][1], p["stride_w"], p["stride_h"], \
                p["dilation_w"], p["dilation_h"], kw, kh
        else:
            rows, px, sr, sp, dr, dp, kr, kp = p["output"][1], p["output"][2], p["stride_h"], p["stride_w"], \
                p["dilation_h"], p["dilation_w"], kh, kw
        if sp != 1:
            continue
        hs = (rows - 1) * sr + (kr - 1) * dr + 1
        ws = (px + 3) // 4 * 4 - 1 + (kp - 1) * dp + 1
        px_step = p["input"][3] * (p["input"][2] if tr else 1)  # bytes between pixels along the sweep
        if hs * ws <= PLANAR_MAX and 7 * px_step < 65536:
            options.append((tr, hs, ws, px))
    if not options:
        return None
    tr, hs, ws, _ = max(options, key=lambda o: (o[3] % 4 == 0, o[3]))  # the longer, whole-vector sweep
    return tr, hs, ws


def _prepare_dw_planar_mve(L: Layer, family: str) -> None:
    arr = _arrays(L)
    _, kh, kw, C = L.params["filter"]
    tr, hs, ws = _planar_geometry(L)
    w = arr["weights"].values.reshape(kh, kw, C).astype(np.int64)
    if tr:
        w = w.transpose(1, 0, 2)
    taps = np.zeros((C, 16), dtype=np.int64)
    taps[:, :kh * kw] = w.reshape(kh * kw, C).T
    rq = _mve_rq(arr["bias"].values.astype(np.int64), arr["mult"].values.astype(np.int64),
                 arr["shift"].values.astype(np.int64))
    rb = np.ascontiguousarray((rq & 0xFFFFFFFF).astype("<u4")).view(np.int8).reshape(C, 16)
    body = np.concatenate([taps.astype(np.int8), rb], -1).reshape(-1)
    p = L.params
    # bit 1: the fused 3x3 loop applies (every channel a pure right shift, the full int8 output range)
    fused = (kh == 3 and kw == 3 and p["dilation_h"] == 1 and p["dilation_w"] == 1
             and bool(np.all(rq[:, 2] == 0)) and bool(np.all(rq[:, 3] <= -1))
             and p["act_min"] == -128 and p["act_max"] == 127)
    head = np.ascontiguousarray(np.array([int(tr) | (2 if fused else 0)], dtype="<u4")).view(np.int8)
    _finish_stream(L, np.concatenate([head, body]))
    L.inplace = [(0, 0)]  # a channel's outputs overwrite only that channel's input bytes, gathered before
    L.info["kernel_choice"] = {"method": "padded int8 channel planes; per channel 4 outputs per vector, VLDRB.S32 + "
                                         "VMLA by the tap per tap, scattered stores",
                               "sweep": "down the columns (transposed)" if tr else "along the rows",
                               "weights": "int8 taps per channel with requantisation constants",
                               "requant": "exact (VQRDMULH, VRSHL)", "scratch_bytes": L.scratch_bytes,
                               "loop": "3x3 taps and requantisation fused in assembly (tail-predicated)" if fused
                               else "taps, then requantisation"}


# ---- the table ---------------------------------------------------------------------------------------

A7 = ("armv7em", "mve")  # the mve family overlays armv7em: kernels mve/ does not override serve it too
A7_ONLY = ("armv7em",)
MVE = ("mve",)

FAST_VARIANTS: dict[str, list[KernelVariant]] = {
    "CONV_2D": [
        FastVariant("CONV_2D", "ts_conv_1x1_widened_s8", families=A7_ONLY, applies=_is_1x1,
                    weight_layout="s8 2ch x k4 + rq", scratch_bytes=_scratch_conv_1x1_widened_a7,
                    buffer_size_function="ts_conv_1x1_widened_s8_get_buffer_size", prepare=_prepare_conv_a7,
                    dead_space=True, settings=lambda L: _chunk_settings(L, False)),
        FastVariant("CONV_2D", "ts_conv_1x1_s8", families=A7_ONLY, applies=_is_1x1, weight_layout="s8 2ch x k4 + rq",
                    scratch_bytes=_scratch_conv_1x1_a7, buffer_size_function="ts_conv_1x1_s8_get_buffer_size",
                    prepare=_prepare_conv_a7),
        FastVariant("CONV_2D", "ts_conv_wino_s8", families=A7_ONLY, applies=_wino_stored_ok, expands_weights=True,
                    weight_layout="wino s16 2ch x 16pos x k4 + rq", scratch_bytes=_wino_scratch,
                    buffer_size_function="ts_conv_wino_s8_get_buffer_size", prepare=_prepare_conv_wino_a7,
                    settings=lambda L: [{"flags": CONV_STORED_TRANSFORM}]),
        FastVariant("CONV_2D", "ts_conv_wino_s8", families=A7_ONLY, applies=_wino_ok, weight_layout="wino s8 + rq",
                    scratch_bytes=_wino_scratch, buffer_size_function="ts_conv_wino_s8_get_buffer_size",
                    prepare=_prepare_conv_wino8_a7, dead_space=True, settings=_wino_chunks),
        # the fastest that fits the arena's free bytes during the layer: widened weights (all channel pairs per
        # pass, or fewer) with or without rows widened ahead, rows alone; else int8 weights, the smallest scratch
        FastVariant("CONV_2D", "ts_conv_widened_s8", families=A7_ONLY, weight_layout="s8 2ch x k4 + rq",
                    scratch_bytes=_scratch_conv_widened_a7, buffer_size_function="ts_conv_widened_s8_get_buffer_size",
                    prepare=_prepare_conv_a7, dead_space=True, settings=lambda L: _chunk_settings(L, True)),
        FastVariant("CONV_2D", "ts_conv_s8", families=A7_ONLY, weight_layout="s8 2ch x k4 + rq",
                    scratch_bytes=_scratch_conv_a7, buffer_size_function="ts_conv_s8_get_buffer_size",
                    prepare=_prepare_conv_a7, dead_space=True, settings=lambda L: [{"flags": 0}]),
        FastVariant("CONV_2D", "ts_conv_s8", families=A7_ONLY, weight_layout="s8 2ch x k4 + rq",
                    scratch_bytes=_scratch_conv_a7, buffer_size_function="ts_conv_s8_get_buffer_size",
                    prepare=_prepare_conv_a7, settings=lambda L: [{"flags": CONV_COMPACT}]),
        FastVariant("CONV_2D", "ts_conv_s8", families=MVE, weight_layout="s8 4ch x k16 + rq",
                    scratch_bytes=_scratch_conv_mve, buffer_size_function="ts_conv_s8_get_buffer_size",
                    prepare=_prepare_conv_mve, source="mve"),
    ],
    "DEPTHWISE_CONV_2D": [
        FastVariant("DEPTHWISE_CONV_2D", "ts_depthwise_conv_3x3_s8", families=A7_ONLY, applies=_is_dw3x3,
                    weight_layout="dw3x3 s8 + rq", scratch_bytes=_scratch_dw3x3_a7,
                    buffer_size_function="ts_depthwise_conv_3x3_s8_get_buffer_size", prepare=_prepare_dw3x3_a7,
                    dead_space=True, settings=lambda L: _dw_settings(L)[:-1]),
        FastVariant("DEPTHWISE_CONV_2D", "ts_depthwise_conv_3x3_s8", families=A7_ONLY, applies=_is_dw3x3,
                    weight_layout="dw3x3 s8 + rq", scratch_bytes=_scratch_dw3x3_a7,
                    buffer_size_function="ts_depthwise_conv_3x3_s8_get_buffer_size", prepare=_prepare_dw3x3_a7,
                    settings=lambda L: _dw_settings(L)[-1:]),
        FastVariant("DEPTHWISE_CONV_2D", "ts_depthwise_conv_planar_s8", families=MVE,
                    applies=lambda L: _planar_geometry(L) is not None, weight_layout="dw planar s8 + rq",
                    scratch_bytes=lambda L, fam: _planar_geometry(L)[1] * _planar_geometry(L)[2],
                    buffer_size_function="ts_depthwise_conv_planar_s8_get_buffer_size",
                    prepare=_prepare_dw_planar_mve, source="mve"),
        FastVariant("DEPTHWISE_CONV_2D", "ts_depthwise_conv_s8", families=MVE, weight_layout="dw s8 8ch + rq",
                    scratch_bytes=lambda L, fam: (L.params["input"][3] + 15) // 16 * 16,
                    buffer_size_function="ts_depthwise_conv_s8_get_buffer_size",
                    prepare=_prepare_dw_mve, source="mve"),
    ],
    "ADD": [
        # the tables made per call where the arena has 2 KB free during the layer, else stored in flash
        FastVariant("ADD", "ts_add_lut_made_s8", families=A7, applies=_add_lut_ok, prepare=_prepare_add_lut_made,
                    scratch_bytes=lambda L, fam: 2048, buffer_size_function="ts_add_lut_made_s8_get_buffer_size",
                    dead_space=True),
        FastVariant("ADD", "ts_add_lut_s8", families=A7_ONLY, applies=_add_lut_ok, prepare=_prepare_add_lut),
        FastVariant("ADD", "ts_add_lut_s8", families=MVE, applies=_add_lut_ok, prepare=_prepare_add_lut,
                    source="mve"),
    ],
    "FULLY_CONNECTED": [
        FastVariant("FULLY_CONNECTED", "ts_fully_connected_s8", families=A7_ONLY, weight_layout="s8 4ch x k4",
                    prepare=_prepare_fc_a7),
        FastVariant("FULLY_CONNECTED", "ts_fully_connected_s8", families=MVE, weight_layout="s8 8ch x k16 + rq",
                    prepare=_prepare_fc_mve, source="mve"),
    ],
}


def register(variants: dict[str, list[KernelVariant]]) -> None:
    """Put the optimized variants in front of the generic ones (kernels.VARIANTS)."""
    for key, vs in FAST_VARIANTS.items():
        have = variants.setdefault(key, [])
        for v in reversed(vs):
            if v not in have:
                have.insert(0, v)
