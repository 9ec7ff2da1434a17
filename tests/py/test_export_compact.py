"""Compaction of the converter's int8 .tflite (tinyscene.export.compact): the same graph and numbers
in fewer bytes; the output bias correction (tinyscene.export.biascorr). The converter's own file is the reference: LiteRT (reference kernels), tflite_micro
and tinyscene's generated C give identical outputs on both; what is dropped is read back through
TensorFlow's generated schema (flatbuffers' own reader)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch  # noqa: F401 (the export path needs it)

from tinyscene.errors import TsError  # noqa: E402

SHAPE = (2, 16, 24)  # channels, n_mels, frames
SCALE, ZP = 0.0625, -9


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """(converter's file, compacted file, stats, ONNX file, calibration inputs) of a tiny model of the paper's shape with widths that
    change (projection shortcuts) and a channel of all-zero weights."""
    from tinyscene.export.compact import compact_tflite
    from tinyscene.export.to_onnx import export_onnx
    from tinyscene.export.to_tflite import onnx_to_keras, quantize_keras
    from tinyscene.models import build_model

    d = tmp_path_factory.mktemp("compact")
    torch.manual_seed(0)
    m = build_model("paper", {"stem": 4, "widths": [4, 6, 6, 8, 10]}, SHAPE).eval()
    with torch.no_grad():
        for _, bn in m.bn_layers():
            bn.running_mean.uniform_(-0.3, 0.3)
            bn.running_var.uniform_(0.5, 2.0)
            bn.bias.uniform_(-0.2, 0.2)
        m.blocks[1].conv1.weight[2].zero_()
    export_onnx(m, SHAPE, d / "model.onnx")
    calib = np.random.default_rng(1).integers(-128, 128, size=(8, SHAPE[1], SHAPE[2], SHAPE[0])).astype(np.int8)
    raw, _ = quantize_keras(onnx_to_keras(d / "model.onnx", d / "work"), calib, SCALE, ZP)
    small, stats = compact_tflite(raw)
    return raw, small, stats, d / "model.onnx", calib


def _model(data: bytes):
    from tinyscene.tflite.schema import schema as s

    return s, s.Model.GetRootAsModel(data, 0)


def _inputs(n=6, seed=5):
    return np.random.default_rng(seed).integers(-128, 128, size=(n, 1, SHAPE[1], SHAPE[2], SHAPE[0])).astype(np.int8)


def test_smaller_and_what_is_dropped(files):
    raw, small, stats, _, _ = files
    assert len(small) < len(raw) and stats["bytes_after"] == len(small) and stats["bytes_before"] == len(raw)
    s, m = _model(small)
    _, m0 = _model(raw)
    assert m.MetadataLength() == 0 and m.Description() is None
    assert m0.MetadataLength() > 0        # the converter wrote metadata (min_runtime_version, ...)
    g, g0 = m.Subgraphs(0), m0.Subgraphs(0)
    assert g.TensorsLength() == g0.TensorsLength() and g.OperatorsLength() == g0.OperatorsLength()
    names = [g.Tensors(i).Name().decode() for i in range(g.TensorsLength())]
    assert names[g.Inputs(0)] == "input" and names[g.Outputs(0)] == "output"
    assert all(len(n) <= 6 for n in names) and len(set(names)) == len(names)
    op_names = {v: k for k, v in vars(s.BuiltinOperator).items() if not k.startswith("_")}
    n_bias = 0
    for k in range(g.OperatorsLength()):
        op, op0 = g.Operators(k), g0.Operators(k)
        assert list(op.InputsAsNumpy()) == list(op0.InputsAsNumpy())
        code = m.OperatorCodes(op.OpcodeIndex())
        if op_names[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())] == "CONV_2D":
            w, b = g.Tensors(op.Inputs(1)), g.Tensors(op.Inputs(2))
            q = w.Quantization()
            # weights: one scale and one zero point per output channel, as the converter wrote them
            assert q.ScaleLength() == q.ZeroPointLength() == w.Shape(0) > 1
            w0 = g0.Tensors(op0.Inputs(1)).Quantization()
            assert np.array_equal(q.ScaleAsNumpy(), w0.ScaleAsNumpy())
            # the int32 bias has no quantisation left
            assert b.Type() == s.TensorType.INT32 and (b.Quantization() is None or b.Quantization().ScaleLength() == 0)
            n_bias += 1
    assert n_bias >= 10 and stats["int32_quant_dropped"] >= n_bias
    for i in range(g.TensorsLength()):
        t, t0 = g.Tensors(i), g0.Tensors(i)
        assert list(t.ShapeAsNumpy()) == list(t0.ShapeAsNumpy()) and t.Type() == t0.Type()
        assert t.ShapeSignatureLength() == 0
        if t.Type() == s.TensorType.INT8:      # activations and weights keep their quantisation
            assert np.array_equal(t.Quantization().ScaleAsNumpy(), t0.Quantization().ScaleAsNumpy())
            assert np.array_equal(t.Quantization().ZeroPointAsNumpy(), t0.Quantization().ZeroPointAsNumpy())
        # constant data unchanged, every buffer aligned to 16 bytes in the file
        b, b0 = m.Buffers(t.Buffer()), m0.Buffers(t0.Buffer())
        assert b.DataLength() == b0.DataLength()
        if b.DataLength():
            assert np.array_equal(b.DataAsNumpy(), b0.DataAsNumpy())
            assert b._tab.Vector(b._tab.Offset(4)) % 16 == 0
    # activations share the empty buffer 0: one buffer per constant (+ the empty one)
    n_const = sum(1 for i in range(g.TensorsLength()) if m.Buffers(g.Tensors(i).Buffer()).DataLength())
    assert m.BuffersLength() == n_const + 1


def test_each_zero_point_vector_written_once(files):
    """Equal zero-point vectors (the weights' all-zero ones of layers with the same width, the activations'
    equal zero points) are one vector in the file that several quantisation records point at."""
    _, small, _, _, _ = files
    _, m = _model(small)
    g = m.Subgraphs(0)
    where: dict[bytes, set[int]] = {}
    n = 0
    for i in range(g.TensorsLength()):
        q = g.Tensors(i).Quantization()
        if q is None or q.ZeroPointLength() == 0:
            continue
        n += 1
        # field 4 of QuantizationParameters (min, max, scale, zero_point): vtable offset 10
        where.setdefault(q.ZeroPointAsNumpy().tobytes(), set()).add(q._tab.Vector(q._tab.Offset(10)))
    assert all(len(places) == 1 for places in where.values())
    assert len(where) < n / 2


def test_outputs_identical_on_litert_tflm_and_generated_c(files, tmp_path):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro.python.tflite_micro import runtime as tflm

    raw, small, _, _, _ = files
    x = _inputs()
    outs = {}
    for tag, data in (("raw", raw), ("small", small)):
        it = Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        it.allocate_tensors()
        i, o = it.get_input_details()[0], it.get_output_details()[0]
        micro = tflm.Interpreter.from_bytes(data)   # tflite_micro with its default arena
        ys, ym = [], []
        for q in x:
            it.set_tensor(i["index"], q)
            it.invoke()
            ys.append(it.get_tensor(o["index"]).copy())
            micro.set_input(q, 0)
            micro.invoke()
            ym.append(np.asarray(micro.get_output(0)).copy())
        outs[tag] = (np.stack(ys), np.stack(ym))
    assert np.array_equal(outs["raw"][0], outs["small"][0])     # LiteRT reference kernels
    assert np.array_equal(outs["raw"][1], outs["small"][1])     # tflite_micro
    assert np.array_equal(outs["small"][0], outs["small"][1])
    from tinyscene.runtimes.dispatch import run_model

    p = tmp_path / "small.tflite"
    p.write_bytes(small)
    got, _ = run_model(p, "host", [q[0] for q in x], runtime="aot", workdir=tmp_path / "w")
    assert np.array_equal(np.stack([np.asarray(v).reshape(-1) for v in got]),
                          outs["raw"][1].reshape(len(x), -1))


def test_convert_compacts_and_checks(files, tmp_path):
    """convert() returns the compacted file (checked against LiteRT before and after)."""
    from tinyscene.export.to_tflite import compact

    raw, small, _, _, _ = files
    calib = _inputs(3)[:, 0]
    out, stats = compact(raw, calib)
    assert out == small and stats["checked_identical_inputs"] == 3


def test_not_a_tflite_is_refused():
    from tinyscene.export.compact import compact_tflite

    with pytest.raises(TsError, match="not a TFLite flatbuffer"):
        compact_tflite(b"\0" * 64)


def test_output_bias_correction(files):
    """The recorded offset is the mean int8 - float logit difference (LiteRT and onnxruntime run
    here); only the output layer's bias changes, by the recorded amounts; the error shrinks."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    from tinyscene.export.biascorr import correct_output_bias, output_layer

    _, small, _, onnx_path, calib = files
    q = calib                     # inputs whose float logits are inside the calibrated output range
    sess = ort.InferenceSession(str(onnx_path))
    yf = np.stack([sess.run(None, {sess.get_inputs()[0].name:
                                   ((x.astype(np.float32) - ZP) * SCALE).transpose(2, 0, 1)[None]})[0][0] for x in q])

    def int8_logits(data):
        it = Interpreter(model_content=data, experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
        it.allocate_tensors()
        i, o = it.get_input_details()[0], it.get_output_details()[0]
        ys = []
        for x in q:
            it.set_tensor(i["index"], x[None])
            it.invoke()
            ys.append(it.get_tensor(o["index"]).reshape(-1).astype(np.float32))
        s, z = o["quantization"]
        return (np.stack(ys) - z) * s, np.stack(ys)

    corrected, rec = correct_output_bias(small, q, yf)
    e0, raw8 = int8_logits(small)
    e0 -= yf
    ok = (raw8 > -128) & (raw8 < 127)                       # saturated logits are left out of the mean
    assert ok.sum(0).min() >= 5
    want = [e0[ok[:, c], c].mean() for c in range(e0.shape[1])]
    np.testing.assert_allclose(rec["mean_error_before"], want, atol=1e-4)
    assert rec["applied"] is True and rec["layer"].startswith("CONV_2D"), json.dumps(rec)
    e1 = int8_logits(corrected)[0] - yf
    assert np.mean(np.abs(e1)) < np.mean(np.abs(e0))
    # only the output layer's bias differs, by bias_delta
    s0, m0 = _model(small)
    _, m1 = _model(corrected)
    bias_t = output_layer(small)[0]["bias"].index
    g0, g1 = m0.Subgraphs(0), m1.Subgraphs(0)
    for i in range(g0.TensorsLength()):
        b0, b1 = m0.Buffers(g0.Tensors(i).Buffer()), m1.Buffers(g1.Tensors(i).Buffer())
        if i == bias_t:
            d = b1.DataAsNumpy().view("<i4").astype(np.int64) - b0.DataAsNumpy().view("<i4")
            assert d.tolist() == rec["bias_delta"] and any(rec["bias_delta"])
        elif b0.DataLength():
            assert np.array_equal(b0.DataAsNumpy(), b1.DataAsNumpy())
