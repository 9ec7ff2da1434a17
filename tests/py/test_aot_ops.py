"""Every op the compiler supports, in several shapes and parameter combinations, generated C on the host and
on QEMU mps2-an386 against the tflite_micro interpreter (bit-exact, random inputs). Each model has one output
per case (aot_models.py), so one conversion and one firmware run cover many cases."""
from __future__ import annotations

from collections import Counter

import aot_models as M
import numpy as np
import pytest

from tinyscene.aot.compiler import compile_graph
from tinyscene.aot.runner import run
from tinyscene.target.boards import load_board
from tinyscene.tflite.reader import read_tflite

REQUIRED_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "MAX_POOL_2D", "AVERAGE_POOL_2D",
                "MEAN", "SOFTMAX", "RESHAPE", "SQUEEZE", "EXPAND_DIMS", "PAD", "CONCATENATION", "QUANTIZE",
                "DEQUANTIZE", "LOGISTIC", "TANH", "RELU", "RELU6"}


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return M.shared_dir(tmp_path_factory)


@pytest.mark.parametrize("name", M.OP_MODELS)
def test_ops_bit_exact_host(name, model_dir, tmp_path):
    model = M.build(name, model_dir)
    inputs = M.random_inputs(model, 6, seed=1)
    outs, report = run(model, load_board("host"), inputs, workdir=tmp_path)
    M.assert_bit_exact(model, outs, inputs)
    assert report.arena_bytes > 0 and report.instructions is None


@pytest.mark.qemu
@pytest.mark.parametrize("name", M.OP_MODELS)
def test_ops_bit_exact_qemu_an386(name, model_dir, tmp_path):
    """The reference kernels on the Cortex-M4 (the optimized families have their own tests)."""
    model = M.build(name, model_dir)
    inputs = M.random_inputs(model, 3, seed=2)
    outs, report = run(model, load_board("qemu-an386"), inputs, kernels="reference", workdir=tmp_path,
                       timeout=120)
    M.assert_bit_exact(model, outs, inputs)
    assert report.instructions and report.stack_bytes


@pytest.mark.qemu
@pytest.mark.parametrize("name", M.DILATED)
def test_dilated_converter_form_follows_tflite_micro(name, model_dir, tmp_path):
    """Dilated convolutions of a model with an unknown batch arrive as SPACE_TO_BATCH_ND -> conv ->
    BATCH_TO_SPACE_ND whose tensors keep batch 1: TFLM computes the first block phase only and leaves the other
    output bytes as its arena held them (aot/tflm_arena.py). The compiler runs the three ops as TFLM does and
    fills those bytes from the tensors TFLM's plan put there (zeros where none did: TFLM leaves its planner's
    working data in part of those, the compile report counts them as undefined; in these models they lie
    beyond it). Bit-exact with a new tflite_micro interpreter per input, on the host and the Cortex-M4 (TFLite,
    which resizes the tensors, computes the whole dilated convolution instead)."""
    from tinyscene.aot.randnet import tflm_reference

    model = M.build(name, model_dir)
    comp = compile_graph(read_tflite(model))
    kinds = [L.op.kind for L in comp.layers]
    assert kinds[:3] == ["SPACE_TO_BATCH_ND", "DEPTHWISE_CONV_2D" if "depthwise" in name else "CONV_2D",
                         "BATCH_TO_SPACE_ND"], kinds
    b2s = comp.layers[2]
    assert b2s.info["unwritten_bytes"] > 0 and b2s.info["tflm_fills"] > 0
    inputs = M.random_inputs(model, 4, seed=3)
    ref = tflm_reference(model, inputs)
    for board in ("host", "qemu-an386"):
        outs, _ = run(model, load_board(board), inputs, workdir=tmp_path / board)
        for got, want in zip(outs, ref):
            np.testing.assert_array_equal(np.asarray(got).reshape(want[0].shape), want[0])


@pytest.mark.qemu
def test_dilated_with_every_phase_follows_tflite_micro(model_dir, tmp_path):
    """The same three ops with every block phase in the static shapes: TFLM computes the whole dilated
    convolution with a border of 0. The VALID branch (no border read) becomes one dilated convolution; the SAME
    one too when its input zero point is 0, else it runs op by op (the convolution kernels pad with the zero
    point). Bit-exact with tflite_micro on the host and the Cortex-M4."""
    from tinyscene.aot.randnet import tflm_reference

    model = M.build("dilated_phases", model_dir)
    g = read_tflite(model)
    zp = g.t(g.inputs[0]).quant.zp
    comp = compile_graph(g)
    convs = [L for L in comp.layers if L.op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D")]
    valid = next(L for L in convs if L.op.kind == "CONV_2D")
    assert valid.info["dilation"] == [2, 2] and not any(L.op.kind == "BATCH_TO_SPACE_ND" and L.inputs[0] ==
                                                         valid.outputs[0] for L in comp.layers)
    dw = next(L for L in convs if L.op.kind == "DEPTHWISE_CONV_2D")
    assert (dw.info["dilation"] == [2, 2]) == (zp == 0)
    assert not comp.warnings()
    inputs = M.random_inputs(model, 4, seed=3)
    # TFLM's SPACE_TO_BATCH_ND pads with an uninitialised value: 0 in a new, freshly mapped arena
    ref = tflm_reference(model, inputs)
    for board in ("host", "qemu-an386"):
        outs, _ = run(model, load_board(board), inputs, workdir=tmp_path / board)
        for got, want in zip(outs, ref):
            for a, r in zip(got, want):
                np.testing.assert_array_equal(a.reshape(r.shape), r)


def test_pad_before_a_convolution_becomes_its_padding(model_dir):
    """A PAD whose only reader is a convolution is fused into the convolution's padding; the PAD read by two
    convolutions stays (bit-exactness of the model is checked with the other op models)."""
    g = read_tflite(M.build("padded_convs", model_dir))
    pads = sum(op.kind == "PAD" for op in g.ops)
    comp = compile_graph(g)
    assert pads == 6 and [L.op.kind for L in comp.layers].count("PAD") == 1
    pads_of = Counter(tuple(L.info["pad"]) for L in comp.layers if L.op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"))
    # stem (2, 2); asymmetric (1, 2); PAD 1 + SAME 3x3 (2, 2); PAD 3 (3, 3)
    assert pads_of[(2, 2)] >= 2 and pads_of[(1, 2)] and pads_of[(3, 3)]
    one = next(L for L in comp.layers if L.info.get("kernel") == [1, 1])  # padded at the bottom and right only
    assert one.params["input"] == (1, 12, 14, 16) and one.params["output"] == (1, 13, 15, 6)
    stem = next(L for L in comp.layers if L.info.get("kernel") == [5, 5])
    assert stem.params["input"] == (1, 12, 14, 2) and stem.info["pad"] == [2, 2]


def test_the_op_models_cover_every_op_and_option(model_dir):
    """The converted models really contain the ops and parameter combinations the tests claim (the converter
    could otherwise fold or rewrite them)."""
    kinds = Counter()
    convs = []
    for name in M.OP_MODELS:
        g = read_tflite(M.build(name, model_dir))
        kinds.update(op.kind for op in g.ops)
        comp = compile_graph(g)
        convs += [L for L in comp.layers if L.op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D")]
        if name == "convs_per_tensor":
            assert not any(L.info.get("per_channel") for L in comp.layers if "per_channel" in L.info)
    assert REQUIRED_OPS <= set(kinds), f"missing {REQUIRED_OPS - set(kinds)}"
    assert {tuple(L.info["stride"]) for L in convs} >= {(1, 1), (2, 2), (2, 1), (1, 3)}
    assert {tuple(L.info["dilation"]) for L in convs} >= {(1, 1), (2, 3), (2, 2)}
    assert {L.info["depth_multiplier"] for L in convs if "depth_multiplier" in L.info} >= {1, 2, 3}
    assert any(L.info.get("groups", 1) > 1 for L in convs)
    assert any(L.info["pad"] != [0, 0] for L in convs) and any(L.info["pad"] == [0, 0] for L in convs)
    assert any(L.info["per_channel"] for L in convs) and any(not L.info["per_channel"] for L in convs)
    # fused NONE, RELU, RELU6 (their clamps are mostly the full int8 range: the converter calibrates the
    # output to the activation's range)
    assert {int(L.op.options.get("fused_activation_function", 0)) for L in convs} >= {0, 1, 3}


@pytest.mark.parametrize("seed", [0] + [pytest.param(s, marks=pytest.mark.slow) for s in range(1, 20)])
def test_conv_parameter_sweep(seed, tmp_path):
    """Random convolution / depthwise / pooling parameters (kernel, stride, dilation, padding, channels,
    multiplier), 8 cases per model, host build against tflite_micro (seed 0 in the fast suite, 19 more slow)."""
    tf = M._tf()
    K = tf.keras.layers
    rng = np.random.default_rng(100 + seed)
    h, w = (int(v) for v in rng.integers(5, 13, 2))
    c = int(rng.integers(1, 9))
    x0 = K.Input((h, w, c), batch_size=1)
    outs = []
    for _ in range(8):
        kh, kw = (int(v) for v in rng.integers(1, 4, 2))
        pad = str(rng.choice(["same", "valid"]))
        act = str(rng.choice(["linear", "relu", "relu6"]))
        if rng.random() < 0.3 and pad == "valid":
            dil, st = tuple(int(v) for v in rng.integers(1, 3, 2)), (1, 1)
        else:
            dil, st = (1, 1), tuple(int(v) for v in rng.integers(1, 4, 2))
        if (kh - 1) * dil[0] + 1 > h or (kw - 1) * dil[1] + 1 > w:
            continue
        kind = rng.integers(0, 4)
        if kind == 0:
            outs.append(K.Conv2D(int(rng.integers(1, 9)), (kh, kw), strides=st, dilation_rate=dil, padding=pad,
                                 activation=act)(x0))
        elif kind == 1:
            outs.append(K.DepthwiseConv2D((kh, kw), strides=st, dilation_rate=dil, padding=pad, activation=act,
                                          depth_multiplier=int(rng.integers(1, 4)))(x0))
        elif kind == 2:
            outs.append(K.MaxPooling2D((kh, kw), strides=st, padding=pad)(x0))
        else:
            outs.append(K.AveragePooling2D((kh, kw), strides=st, padding=pad)(x0))
    model = tmp_path / "sweep.tflite"
    model.write_bytes(M.convert(tf.keras.Model(x0, outs), seed=seed))
    inputs = M.random_inputs(model, 4, seed=seed)
    res, _ = run(model, load_board("host"), inputs, workdir=tmp_path / "w")
    M.assert_bit_exact(model, res, inputs)
