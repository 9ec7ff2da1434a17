"""The limits and layouts the compiler (aot/fastkernels.py, kernels.py, runner.py) assumes of the C kernels, read
from the C sources themselves: the two sides cannot drift apart. Integer #defines are compared with the Python
constants; the layout macros (words of a channel pair, bytes of a Helium block) are evaluated and compared with
the streams the compiler really packs for a convolution."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tinyscene.aot import fastkernels as FK
from tinyscene.aot import kernels as KN
from tinyscene.aot import runner
from tinyscene.paths import FIRMWARE_DIR

NN = FIRMWARE_DIR / "src" / "nn"
_DEFINE = re.compile(r"^\s*#define\s+(\w+)\s+(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b", re.MULTILINE)


def c_defines(path: Path) -> dict[str, int]:
    return {m.group(1): int(m.group(2), 0) for m in _DEFINE.finditer(path.read_text())}


def c_macro(path: Path, name: str):
    """A one-parameter function-like #define as a Python function (its body is plain arithmetic)."""
    m = re.search(rf"^\s*#define\s+{name}\((\w+)\)\s+(.+)$", path.read_text(), re.MULTILINE)
    assert m, f"{path.name}: no macro {name}(x)"
    param, body = m.group(1), m.group(2).split("/*")[0]
    body = re.sub(r"\((?:u?int\d+_t)\)", "", body)  # C casts of whole values
    return lambda v: eval(re.sub(rf"\b{param}\b", str(int(v)), body), {})  # noqa: S307 - our own header


@pytest.mark.parametrize("py,c_file,c_name", [
    (FK.CONV_RING_MAX, "armv7em/ts_armv7em_conv.c", "TS_ARMV7EM_CONV_RING_MAX"),
    (FK.CONV_FIELD_MAX, "armv7em/ts_armv7em_conv.c", "TS_ARMV7EM_CONV_FIELD_MAX"),
    (FK.DW_SCRATCH, "armv7em/ts_depthwise_conv_3x3_s8.c", "TS_ARMV7EM_DW_SCRATCH"),
    (FK.DW_STREAM_WORDS, "armv7em/ts_depthwise_conv_3x3_s8.c", "DW_FLASH_WORDS"),
    (FK.DW_WIDE_WORDS, "armv7em/ts_depthwise_conv_3x3_s8.c", "DW_WORDS"),
    (FK.PLANAR_MAX, "mve/ts_depthwise_conv_planar_s8.c", "TS_MVE_PLANAR_MAX"),
    (FK.CONV_COMPACT, "../../include/ts/nn.h", "TS_CONV_COMPACT"),
    (FK.CONV_STORED_TRANSFORM, "../../include/ts/nn.h", "TS_CONV_STORED_TRANSFORM"),
    (FK.CONV_ROW_CHUNKS, "../../include/ts/nn.h", "TS_CONV_ROW_CHUNKS"),
    (KN.MAX_DIMS, "../../include/ts/nn.h", "TS_NN_MAX_DIMS"),
    (runner.MAX_INVOKES_PER_RUN, "../rt/app_model.c", "TS_MODEL_MAX_INVOKES"),
])
def test_constant_matches_the_c_side(py, c_file, c_name):
    path = (NN / c_file).resolve()
    assert c_defines(path).get(c_name) == py, f"{path.name}: {c_name} = {c_defines(path).get(c_name)}, Python {py}"


def test_layout_macros_match_the_python_side():
    h7 = NN / "armv7em" / "ts_armv7em.h"
    nn_h = FIRMWARE_DIR / "include" / "ts" / "nn.h"
    words, words16 = c_macro(h7, "TS_ARMV7EM_PAIR_WORDS"), c_macro(h7, "TS_ARMV7EM_PAIR_WORDS_S16")
    chunk = c_macro(nn_h, "TS_CONV_CHUNK")
    chunk_of = c_macro(nn_h, "TS_CONV_CHUNK_OF")
    for n in (1, 2, 7, 16, 300):
        assert words(n) == FK.pair_words(n) and words16(n) == FK.pair_words_s16(n)
        assert chunk(n) == FK.conv_chunk(n) and chunk_of(FK.conv_chunk(n) | 3) == FK.chunk_of(FK.conv_chunk(n)) == n
    block = c_macro(NN / "mve" / "ts_mve.h", "TS_MVE_BLOCK_BYTES")
    assert [block(n) for n in (1, 3)] == [128, 256]


def _conv_layer(cout: int, cin: int, k: int):
    """A CONV_2D layer as the lowering makes it (arrays and params), without a .tflite."""
    from tinyscene.aot.layer import CArray, Layer, Ref

    rng = np.random.default_rng(0)
    name = "tsm_l0"
    w = rng.integers(-127, 128, (cout, k, k, cin)).astype(np.int8)
    arrays = [CArray(f"{name}_w", "int8_t", w, "weights"),
              CArray(f"{name}_bias", "int32_t", rng.integers(-1000, 1000, cout).astype(np.int32), "bias"),
              CArray(f"{name}_mult", "int32_t", np.full(cout, 1 << 30, np.int32), "quant"),
              CArray(f"{name}_shift", "int32_t", np.full(cout, -8, np.int32), "quant")]
    params = {"input": (1, 8, 8, cin), "filter": (cout, k, k, cin), "output": (1, 8, 8, cout), "stride_h": 1,
              "stride_w": 1, "dilation_h": 1, "dilation_w": 1, "pad_top": k // 2, "pad_left": k // 2,
              "input_zero_point": 0, "output_zero_point": 0, "act_min": -128, "act_max": 127,
              "weights": Ref(f"{name}_w"), "bias": Ref(f"{name}_bias"),
              "requant": {"multiplier": Ref(f"{name}_mult"), "shift": Ref(f"{name}_shift")}}
    return Layer(0, None, "ts_conv_params_t", params, arrays, [0], [1], "unary", macs=1, scratch_bytes=k * k * cin)


@pytest.mark.parametrize("cout,cin,k", [(6, 3, 3), (5, 8, 1), (16, 16, 3)])
def test_packed_streams_have_the_c_layout(cout, cin, k):
    """The armv7em stream is pairs x TS_ARMV7EM_PAIR_WORDS(n4) words; the Helium one blocks x TS_MVE_BLOCK_BYTES."""
    words = c_macro(NN / "armv7em" / "ts_armv7em.h", "TS_ARMV7EM_PAIR_WORDS")
    L = _conv_layer(cout, cin, k)
    FK._prepare_conv_a7(L, "armv7em")
    n4 = (k * k * cin + 3) // 4
    assert L.array("weights").values.size == 4 * ((cout + 1) // 2) * words(n4)
    block = c_macro(NN / "mve" / "ts_mve.h", "TS_MVE_BLOCK_BYTES")
    L = _conv_layer(cout, cin, k)
    FK._prepare_conv_mve(L, "mve")
    # chunks of k per block; with TS_CONV_ROW_CHUNKS every filter row is padded to whole 16-byte chunks
    chunks = k * -(-k * cin // 16) if L.params.get("flags", 0) & FK.CONV_ROW_CHUNKS else -(-k * k * cin // 16)
    assert L.array("weights").values.size == ((cout + 3) // 4) * block(chunks)
    assert (cout, cin, k) != (6, 3, 3) or L.params["flags"] & FK.CONV_ROW_CHUNKS  # 3 rows of 9 bytes
