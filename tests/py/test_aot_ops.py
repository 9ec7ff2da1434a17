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


def test_dilated_same_padding_follows_tflite(model_dir, tmp_path):
    """SAME dilated convolutions arrive as SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND and are fused into
    one dilated convolution. TFLM pads SPACE_TO_BATCH_ND with 0 instead of the zero point, so the oracle for
    this model is TFLite's reference interpreter (BUILTIN_REF)."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    model = M.build("dilated_same", model_dir)
    comp = compile_graph(read_tflite(model))
    assert [L.op.kind for L in comp.layers if L.op.kind != "RELU"] == ["CONV_2D", "DEPTHWISE_CONV_2D"]
    assert all(L.params["dilation_h"] == 2 for L in comp.layers if "dilation_h" in L.params)
    inputs = M.random_inputs(model, 4, seed=3)
    outs, _ = run(model, load_board("host"), inputs, workdir=tmp_path)
    it = Interpreter(model_path=str(model), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    for x, got in zip(inputs, outs):
        it.set_tensor(it.get_input_details()[0]["index"], x)
        it.invoke()
        for d, a in zip(it.get_output_details(), got):
            np.testing.assert_array_equal(a, it.get_tensor(d["index"]))


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


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(20))
def test_conv_parameter_sweep(seed, tmp_path):
    """Random convolution / depthwise / pooling parameters (kernel, stride, dilation, padding, channels,
    multiplier), 8 cases per model, host build against tflite_micro."""
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
