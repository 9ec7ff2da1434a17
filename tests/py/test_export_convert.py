"""Export pieces without the front-end: torch -> ONNX -> int8 TFLite on a tiny model of the paper's
shape, checked against onnxruntime, LiteRT and tflite_micro; the failure paths of the conversion."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch  # noqa: F401 (the export path needs it)

from tinyscene.errors import TsError  # noqa: E402

SHAPE = (2, 16, 24)  # channels, n_mels, frames
SCALE, ZP = 0.0625, -9


def tiny_model(seed=0):
    from tinyscene.models import build_model

    torch.manual_seed(seed)
    m = build_model("paper", {"stem": 6, "widths": [6, 6, 6, 6, 12]}, SHAPE)
    with torch.no_grad():  # BN statistics that are not the identity, so folding is exercised
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.3, 0.3)
                mod.running_var.uniform_(0.5, 2.0)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
    return m.eval()


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """A model with a channel whose weights are all zero (and a BN with γ = 0), converted once."""
    from tinyscene.export.to_onnx import export_onnx
    from tinyscene.export.to_tflite import convert

    d = tmp_path_factory.mktemp("conv")
    m = tiny_model()
    with torch.no_grad():
        m.stem.conv.weight[2].zero_()            # stem channel 2: all-zero weights, BN bias nonzero
        m.blocks[1].conv1.weight[4].zero_()
        m.blocks[2].bn1.weight[1] = 0.0          # γ = 0: the folded weights of that channel are 0
    info_onnx = export_onnx(m, SHAPE, d / "model.onnx")
    rng = np.random.default_rng(1)
    calib = rng.integers(-110, 100, size=(10, SHAPE[1], SHAPE[2], SHAPE[0])).astype(np.int8)
    data, info = convert(d / "model.onnx", calib, SCALE, ZP, d / "work")
    return {"model": m, "onnx": d / "model.onnx", "tflite": data, "info": info, "onnx_info": info_onnx, "dir": d}


def test_onnx_is_static_opset17_single_file(converted):
    import onnx

    info = converted["onnx_info"]
    assert info["opset"] >= 17
    assert info["input"]["shape"] == [1, *SHAPE]
    m = onnx.load(str(converted["onnx"]), load_external_data=False)
    assert all(i.data_location != onnx.TensorProto.EXTERNAL for i in m.graph.initializer)
    assert not list(converted["dir"].glob("*.data"))
    onnx.checker.check_model(m, full_check=True)
    assert "BatchNormalization" not in info["ops"]  # folded into the convolutions
    assert "Gemm" not in info["ops"]  # the linear layer is a 1x1 convolution (see to_onnx)


def test_int8_graph_nhwc_no_transpose_input_quant_exact(converted):
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    it = Interpreter(model_content=converted["tflite"], experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    ops = {o["op_name"] for o in it._get_ops_details()}
    assert "TRANSPOSE" not in ops and "DEQUANTIZE" not in ops
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    assert list(inp["shape"]) == [1, SHAPE[1], SHAPE[2], SHAPE[0]]
    s, z = inp["quantization"]
    assert np.float32(s) == np.float32(SCALE) and z == ZP
    # per-channel weights, and every scale finite and > 0 (the zero-weight channels included)
    n_per_channel = 0
    for t in it.get_tensor_details():
        sc = t["quantization_parameters"]["scales"]
        if len(sc):
            assert np.all(np.isfinite(sc)) and np.all(sc > 0), t["name"]
        if len(sc) > 1 and t["dtype"] == np.int8:
            n_per_channel += 1
    assert n_per_channel >= 10
    assert converted["info"]["calibration"]["range_ends_added"] is True


def test_float_int8_agree_and_litert_equals_tflm(converted):
    """Independent oracles: onnxruntime on the float model, LiteRT (reference kernels) and
    tflite_micro on the int8 one."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter, OpResolverType
    from tflite_micro.python.tflite_micro import runtime as tflm

    rng = np.random.default_rng(7)
    q = rng.integers(-110, 100, size=(12, SHAPE[1], SHAPE[2], SHAPE[0])).astype(np.int8)
    it = Interpreter(model_content=converted["tflite"], experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    micro = tflm.Interpreter.from_bytes(converted["tflite"])
    sess = ort.InferenceSession(str(converted["onnx"]))
    torch_model = converted["model"]
    osc, ozp = out["quantization"]
    lo, hi = (-128 - ozp) * osc, (127 - ozp) * osc  # what the int8 output can represent
    errs, agree = [], 0
    for x in q:
        it.set_tensor(inp["index"], x[None])
        it.invoke()
        y8 = it.get_tensor(out["index"])
        micro.set_input(x[None], 0)
        micro.invoke()
        assert np.array_equal(y8, micro.get_output(0))
        xf = ((x.astype(np.float32) - ZP) * SCALE).transpose(2, 0, 1)[None]
        yf = sess.run(None, {"input": xf})[0]
        with torch.no_grad():
            yt = torch_model(torch.from_numpy(xf)).numpy()
        assert np.max(np.abs(yf - yt)) < 1e-4
        errs.append(np.abs((y8.astype(np.float32) - ozp) * osc - np.clip(yf, lo, hi)).max())
        agree += int(np.argmax(y8) == np.argmax(yf))
    # random inputs on an untrained net: int8 follows float to a few output steps on most clips
    assert np.median(errs) < 5 * osc, (errs, osc)
    assert agree >= len(q) - 2


def test_wrong_input_quant_is_refused(converted):
    from tinyscene.export.to_tflite import check_int8_model

    check_int8_model(converted["tflite"], SCALE, ZP)
    with pytest.raises(TsError, match="differs from the front-end"):
        check_int8_model(converted["tflite"], SCALE * 1.01, ZP)
    with pytest.raises(TsError, match="zero point"):
        check_int8_model(converted["tflite"], SCALE, ZP + 1)


def test_nan_weights_name_the_layer(tmp_path):
    from tinyscene.export.to_onnx import export_onnx

    m = tiny_model()
    with torch.no_grad():
        m.blocks[3].conv2.weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(TsError, match=r"layer blocks\.3\.conv2: parameter 'weight' has 1 non-finite"):
        export_onnx(m, SHAPE, tmp_path / "m.onnx")
    m = tiny_model()
    with torch.no_grad():
        m.blocks[0].bn1.running_var[3] = float("inf")
    with pytest.raises(TsError, match=r"layer blocks\.0\.bn1: buffer 'running_var'.*1 inf"):
        export_onnx(m, SHAPE, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_op_without_int8_form_names_the_layer(tmp_path):
    from tinyscene.export.to_onnx import export_onnx

    class Wavy(torch.nn.Module):
        def forward(self, x):
            return torch.sin(x)

    m = tiny_model()
    m.blocks[1].relu1 = Wavy()
    with pytest.raises(TsError, match=r"layer blocks\.1\.relu1 .*op Sin has no int8 TFLite form"):
        export_onnx(m, SHAPE, tmp_path / "m.onnx")


def test_fail_on_parsing():
    from tinyscene.export.ladder import FAIL_ON, check, parse_fail_on

    th = parse_fail_on(None)
    assert th["torch_onnx_max_abs"] == 1e-4 and th["top1_agreement"] == 0.99
    assert th["accuracy_drop_pp"] == 0.5 and th["litert_tflm_bitexact"] == 1.0 and th["calib_min"] == 10
    th = parse_fail_on("top1_agreement=0.9, accuracy_drop_pp=off")
    assert th["top1_agreement"] == 0.9 and th["accuracy_drop_pp"] is None
    assert check("accuracy_drop_pp", 7.0, th) is None
    assert check("top1_agreement", 0.89, th)["pass"] is False
    assert check("torch_onnx_max_abs", float("nan"), th)["pass"] is False
    for bad in ("nope=1", "top1_agreement", "top1_agreement=x"):
        with pytest.raises(TsError, match="--fail-on"):
            parse_fail_on(bad)
    assert set(FAIL_ON) >= {"torch_onnx_max_abs", "top1_agreement", "accuracy_drop_pp", "litert_tflm_bitexact"}


def test_tflm_sources(converted, tmp_path):
    """model_data.cc holds exactly the .tflite bytes (compiled and read back by the host compiler's
    own output, not by re-parsing our text), ops.h names the resolver methods of every op."""
    import dataclasses
    import shutil
    import subprocess

    from tinyscene.tflite.reader import read_tflite_bytes
    from tinyscene.tflm import sources as tflm_src

    # TFLM's MicroMutableOpResolver method of each op these models use (micro_mutable_op_resolver.h)
    methods = {"CONV_2D": "AddConv2D", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D", "FULLY_CONNECTED":
               "AddFullyConnected", "ADD": "AddAdd", "MEAN": "AddMean", "MAX_POOL_2D": "AddMaxPool2D",
               "AVERAGE_POOL_2D": "AddAveragePool2D", "RESHAPE": "AddReshape", "PAD": "AddPad",
               "SOFTMAX": "AddSoftmax", "MUL": "AddMul", "QUANTIZE": "AddQuantize", "PADV2": "AddPadV2"}
    data = converted["tflite"]
    g = read_tflite_bytes(data)
    h = tflm_src.ops_h(g, 4242, "tinyscene export --run r --out o")
    assert "#define TS_MODEL_ARENA_BYTES 4242u" in h
    assert f"#define TS_MODEL_OP_COUNT {len(g.op_codes)}" in h
    for op in g.op_codes:
        assert f"r.{methods[op]}()" in h
    assert "Generated by `tinyscene export" in h
    (tmp_path / "model_data.h").write_text(tflm_src.model_data_h(len(data), "cmd"))
    (tmp_path / "model_data.cc").write_text(tflm_src.model_data_cc(data, "cmd", "0" * 64))
    cxx = shutil.which("g++")
    assert cxx, "no g++: make setup installs it"
    main = tmp_path / "dump.cc"
    main.write_text('#include <cstdio>\n#include <cstdint>\n#include "model_data.h"\n'
                    "int main(){ if (((uintptr_t)ts_model_data) % 16) return 3;"
                    " fwrite(ts_model_data, 1, ts_model_data_len, stdout); return 0; }\n")
    exe = tmp_path / "dump"
    subprocess.run([cxx, "-std=c++11", "-O0", "-o", str(exe), str(main), str(tmp_path / "model_data.cc")],
                   check=True, capture_output=True)
    got = subprocess.run([str(exe)], check=True, capture_output=True).stdout
    assert got == data
    fancy = dataclasses.replace(g, op_codes=[*g.op_codes, "FANCY_OP"],
                                ops=[*g.ops, dataclasses.replace(g.ops[0], kind="FANCY_OP", index=99)])
    with pytest.raises(TsError, match=r"operator FANCY_OP \(operator #99\) is not supported by TensorFlow Lite Micro"):
        tflm_src.ops_h(fancy, 1, "cmd")


def test_thresholds_at_the_split_resolution():
    """One clip of a small split is the smallest deviation it can measure; large splits are exact."""
    from tinyscene.export.ladder import check, effective_threshold, parse_fail_on

    th = parse_fail_on(None)
    assert effective_threshold("top1_agreement", 0.99, 37) == pytest.approx(36 / 37)
    assert effective_threshold("top1_agreement", 0.99, 100) == pytest.approx(0.99)
    assert effective_threshold("top1_agreement", 0.99, 1000) == pytest.approx(0.99)
    assert effective_threshold("top1_agreement", 1.0, 37) == 1.0
    assert effective_threshold("accuracy_drop_pp", 0.5, 37) == pytest.approx(100 / 37)
    assert effective_threshold("accuracy_drop_pp", 0.5, 400) == 0.5
    assert check("top1_agreement", 36 / 37, th, 37)["pass"] is True
    assert check("top1_agreement", 35 / 37, th, 37)["pass"] is False
    assert check("top1_agreement", 990 / 1000, th, 1000)["pass"] is True
    assert check("top1_agreement", 989 / 1000, th, 1000)["pass"] is False
    assert check("accuracy_drop_pp", 100 * 2 / 37, th, 37)["pass"] is False


def test_ladder_table_and_pending_rungs():
    from tinyscene.export.ladder import (
        check,
        format_table,
        parse_fail_on,
        pending,
        rung,
        set_rung,
    )

    th = parse_fail_on(None)
    rep: dict = {}
    set_rung(rep, pending("device_vs_host", "later"))
    set_rung(rep, rung("torch_vs_onnxruntime", {"max_abs_diff": 2e-6, "clips": 3},
                       [check("torch_onnx_max_abs", 2e-6, th)]))
    set_rung(rep, rung("float_vs_int8", {"top1_agreement": 0.5, "clips": 3},
                       [check("top1_agreement", 0.5, th)]))
    assert [r["rung"] for r in rep["ladder"]] == ["torch_vs_onnxruntime", "float_vs_int8", "device_vs_host"]
    assert rep["passed"] is False
    table = format_table(rep)
    assert re.search(r"torch float == onnxruntime float\s+PASS", table)
    assert "top1_agreement needs >= 0.99" in table and "PENDING" in table


def test_top1_agreement_counts_every_clip_ties_only_special():
    """Every clip counts, however close its float decision; an exact int8 tie at the top agrees when
    the float top-1 is one of the tied classes."""
    from tinyscene.export.ladder import check, parse_fail_on, top1_agreement

    yf = np.array([[1.0, 0.5, 0.2],     # clear, int8 agrees
                   [0.1, 0.9, 0.3],     # int8 tie {0, 1}: float top-1 (1) among them -> agrees
                   [0.5, 0.4999, 0.0],  # float near-tie, int8 picks class 1 -> a disagreement all the same
                   [0.3, 0.2, 0.9],     # int8 three-way tie -> agrees
                   [0.9, 0.1, 0.0]],    # int8 tie {1, 2} without the float top-1 -> disagrees
                  dtype=np.float32)
    y8 = np.array([[10, 5, 1], [4, 4, 0], [3, 7, 0], [9, 9, 9], [1, 6, 6]], dtype=np.int8)
    agrees, tied = top1_agreement(yf, y8)
    assert agrees.tolist() == [True, True, False, True, False]
    assert tied.tolist() == [False, True, False, True, True]
    th = parse_fail_on(None)
    # 5 clips cannot resolve 1 %: one clip tolerated (3/5 fails, 4/5 passes with the tolerance applied)
    c = check("top1_agreement", float(np.mean(agrees)), th, len(agrees))
    assert c["pass"] is False and c["small_split_tolerance"]["tolerated_clips"] == 1
    c = check("top1_agreement", 4 / 5, th, 5)
    assert c["pass"] is True and c["small_split_tolerance"]["applied"] is True
    c = check("top1_agreement", 1.0, th, 5)
    assert c["pass"] is True and c["small_split_tolerance"]["applied"] is False
    assert "small_split_tolerance" not in check("top1_agreement", 1.0, th, 100)
