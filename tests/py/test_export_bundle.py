"""`tinyscene export` end to end on a small synthetic run (1 s clips, a tiny front-end, one epoch of the
paper model), and `tinyscene inspect`. One bundle is built per test session (shared between xdist
workers through a file lock) and checked against independent references: hashlib for the
manifest, the fixed-point front-end and tflite_micro for the vectors, onnxruntime / LiteRT /
tflite_micro for the ladder's figures."""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import LEARNED_FE as FE
from conftest import build_once

FRAMES = 1 + int(FE["sample_rate"] * FE["clip_seconds"]) // FE["hop_length"]  # centred framing


def cli(*argv) -> tuple[int, str, str]:
    from tinyscene.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main([str(a) for a in argv])
        except SystemExit as e:
            rc = e.code if isinstance(e.code, int) else 2
    return rc, out.getvalue(), err.getvalue()


@pytest.fixture(scope="session")
def exported(learned, tmp_path_factory):
    """The learned run exported with the default thresholds of every rung (no --fail-on)."""
    def build(root):
        rc, out, err = cli("export", "--run", learned["run"], "--out", root / "bundle", "--calib", 20)
        assert rc == 0, err[-3000:]
        (root / "export.log").write_text(out + "\n" + err)

    root = build_once(tmp_path_factory, "export-e2e", build)
    return {**learned, "bundle": root / "bundle", "root": root, "log": (root / "export.log").read_text()}


def _report(b: Path) -> dict:
    return json.loads((b / "report.json").read_text())


def _rung(report: dict, name: str) -> dict:
    return next(r for r in report["ladder"] if r["rung"] == name)


def test_bundle_files_and_manifest(exported):
    b = exported["bundle"]
    for f in ("model.onnx", "model_int8.tflite", "frontend.json", "report.json", "manifest.json", "logits.png",
              "tflm/model_data.cc", "tflm/model_data.h", "tflm/ops.h", "vectors/index.json",
              "c/model.c", "c/model.h", "c/fe_tables.c", "c/fe_tables.h"):
        assert (b / f).is_file() and (b / f).stat().st_size > 0, f
    assert len(list((b / "vectors").glob("*_pcm.npy"))) >= 5
    man = json.loads((b / "manifest.json").read_text())
    on_disk = sorted(p.relative_to(b).as_posix() for p in b.rglob("*") if p.is_file() and p.name != "manifest.json")
    assert sorted(man["files"]) == on_disk
    for rel, rec in man["files"].items():
        data = (b / rel).read_bytes()
        assert rec["sha256"] == hashlib.sha256(data).hexdigest(), rel
        assert rec["bytes"] == len(data)
    for tool in ("torch", "onnx", "tensorflow", "onnx2tf", "tflite-micro"):
        assert man["versions"][tool], tool
    assert "commit" in man["git"]
    cfg = man["configs"]
    assert cfg["frontend"]["n_mels"] == 32 and cfg["model_name"] == "paper" and cfg["calibration_clips"] == 20
    assert not list(b.parent.glob(".bundle.*"))  # no temporary folder left behind


def test_int8_model_contract(exported):
    """No TRANSPOSE, int8 in and out, NHWC input, input quantisation == the front-end's."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    b = exported["bundle"]
    it = Interpreter(model_path=str(b / "model_int8.tflite"), experimental_op_resolver_type=OpResolverType.BUILTIN_REF)
    it.allocate_tensors()
    ops = {o["op_name"] for o in it._get_ops_details()}
    assert "TRANSPOSE" not in ops and "DEQUANTIZE" not in ops and "FULLY_CONNECTED" not in ops
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    assert inp["dtype"] == np.int8 and out["dtype"] == np.int8
    fj = json.loads((b / "frontend.json").read_text())
    assert list(inp["shape"]) == [1, FE["n_mels"], FRAMES, FE["channels"]] == fj["input"]["shape"]
    run_cfg = json.loads((exported["run"] / "config.json").read_text())
    s, z = inp["quantization"]
    assert np.float32(s) == np.float32(run_cfg["input_quant"]["scale"]) == np.float32(fj["input"]["scale"])
    assert z == run_cfg["input_quant"]["zero_point"] == fj["input"]["zero_point"]
    assert fj["input_quant"]["mean"] == run_cfg["input_quant"]["mean"]
    # the bundle's frontend.json is a front-end config the front-end itself accepts
    from tinyscene.config import load_frontend_config

    assert load_frontend_config(str(b / "frontend.json")).to_dict() == run_cfg["frontend"]


def test_vectors_recomputed(exported):
    """Features = the fixed-point front-end on the saved PCM; logits = tflite_micro on the features;
    and the float model agrees with torch on them."""
    import onnxruntime as ort
    from tflite_micro.python.tflite_micro import runtime as tflm

    from tinyscene.config import load_frontend_config
    from tinyscene.frontend import FixedFrontend, InputQuant
    from tinyscene.train.run import load_run

    b = exported["bundle"]
    fj = json.loads((b / "frontend.json").read_text())
    cfg = load_frontend_config(str(b / "frontend.json"))
    quant = InputQuant.from_dict(fj["input_quant"])
    fe = FixedFrontend(cfg)
    micro = tflm.Interpreter.from_file(str(b / "model_int8.tflite"))
    sess = ort.InferenceSession(str(b / "model.onnx"))
    model, _ = load_run(exported["run"])
    import torch

    index = json.loads((b / "vectors" / "index.json").read_text())["clips"]
    assert len(index) >= 5
    for rec in index:
        pcm = np.load(b / "vectors" / rec["pcm"])
        q = np.load(b / "vectors" / rec["features"])
        y = np.load(b / "vectors" / rec["logits"])
        assert pcm.dtype == np.int16 and pcm.shape == (2, 32000)
        assert q.dtype == np.int8 and y.dtype == np.int8
        assert np.array_equal(q, np.asarray(fe.quantize(fe.logmel(pcm), quant)))
        micro.set_input(q[None], 0)
        micro.invoke()
        assert np.array_equal(micro.get_output(0).reshape(-1), y)
        xf = ((q.astype(np.float32) - fj["input"]["zero_point"]) * fj["input"]["scale"]).transpose(2, 0, 1)[None]
        yf = sess.run(None, {"input": xf})[0]
        with torch.no_grad():
            yt = model(torch.from_numpy(xf)).numpy()
        assert np.max(np.abs(yf - yt)) <= 1e-4


def test_ladder_numbers(exported):
    """Each rung passed its DEFAULT threshold, and the float/int8 figures match an independent recount on
    the evaluate split (onnxruntime on the float model, tflite_micro on the int8 one)."""
    import onnxruntime as ort
    from tflite_micro.python.tflite_micro import runtime as tflm

    from tinyscene.train import run_features_int8

    b = exported["bundle"]
    rep = _report(b)
    assert rep["passed"] is True
    assert [r["rung"] for r in rep["ladder"]][:3] == ["torch_vs_onnxruntime", "float_vs_int8", "litert_ref_vs_tflm"]
    t = _rung(rep, "torch_vs_onnxruntime")
    assert t["status"] == "pass" and t["metrics"]["max_abs_diff"] <= 1e-4
    e = _rung(rep, "litert_ref_vs_tflm")
    assert e["status"] == "pass" and e["metrics"]["bitexact"] == 1.0
    h = _rung(rep, "host_c_vs_tflm")
    assert h["status"] == "pass" and h["metrics"]["bitexact"] == 1.0 and h["metrics"]["clips"] >= 32
    assert _rung(rep, "device_vs_host")["status"] == "pending"
    f = _rung(rep, "float_vs_int8")["metrics"]
    feats = run_features_int8(exported["run"], exported["data"], "evaluate")
    q, labels = feats.nhwc(), feats.labels
    assert f["clips"] == len(q) >= 40
    fj = json.loads((b / "frontend.json").read_text())
    sess = ort.InferenceSession(str(b / "model.onnx"))
    micro = tflm.Interpreter.from_file(str(b / "model_int8.tflite"))
    pf, p8, agree, ties = [], [], [], 0
    for x in q:
        xf = ((x.astype(np.float32) - fj["input"]["zero_point"]) * fj["input"]["scale"]).transpose(2, 0, 1)[None]
        pf.append(int(np.argmax(sess.run(None, {"input": xf})[0])))
        micro.set_input(x[None], 0)
        micro.invoke()
        y8 = np.asarray(micro.get_output(0)).reshape(-1)
        p8.append(int(np.argmax(y8)))
        top = {int(c) for c in range(len(y8)) if y8[c] == y8.max()}   # an exact int8 tie at the top
        ties += len(top) > 1
        agree.append(pf[-1] in top)
    pf, p8 = np.array(pf), np.array(p8)
    # the check is the agreement over every clip (ties: float top-1 among the tied int8 maxima)
    assert f["top1_agreement"] == pytest.approx(np.mean(agree))
    assert f["int8_top_ties"] == ties
    assert len(f["disagreements"]) == f["clips_disagreeing"] == len(agree) - sum(agree)
    chk = next(c for c in _rung(rep, "float_vs_int8")["checks"] if c["key"] == "top1_agreement")
    assert chk["value"] == f["top1_agreement"]
    # the defaults (0.99, 0.5 pp) cannot be resolved on fewer than 100 / 200 clips: one clip is tolerated,
    # and was not needed (every clip agrees: a run that learned, exported with the defaults)
    assert chk["threshold"] == 0.99 and chk["small_split_tolerance"]["applied"] is False
    assert f["clips_disagreeing"] == 0 and chk["pass"] is True
    assert f["accuracy_float"] >= 0.6 and f["accuracy_drop_pp"] == 0.0
    # the margin analysis is information only
    assert f["margin_analysis"]["clips_resolvable"] <= f["clips"]
    assert f["accuracy_float"] == pytest.approx(np.mean(pf == labels))
    assert f["accuracy_int8"] == pytest.approx(np.mean(p8 == labels))
    assert f["accuracy_drop_pp"] == pytest.approx(100 * (f["accuracy_float"] - f["accuracy_int8"]))
    # the table was printed
    assert "LiteRT int8 (reference kernels) == tflite_micro" in exported["log"]


def test_tflm_sources_match_model(exported):
    b = exported["bundle"]
    data = (b / "model_int8.tflite").read_bytes()
    cc = (b / "tflm" / "model_data.cc").read_text()
    body = cc[cc.index("= {") + 3: cc.index("};")]
    assert bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", body)) == data
    assert "alignas(16)" in cc and "Generated by `tinyscene export" in cc
    ops_h = (b / "tflm" / "ops.h").read_text()
    rep = _report(b)
    assert f"#define TS_MODEL_ARENA_BYTES {rep['tflm_arena_bytes']}u" in ops_h
    for method in ("AddConv2D", "AddAdd", "AddMaxPool2D", "AddPad", "AddReshape"):
        assert f"r.{method}()" in ops_h
    # the arena figure is enough for tflite_micro and (nearly) all of it is needed
    from tflite_micro.python.tflite_micro import runtime as tflm

    tflm.Interpreter.from_bytes(data, arena_size=rep["tflm_arena_bytes"])
    with pytest.raises(RuntimeError):
        tflm.Interpreter.from_bytes(data, arena_size=rep["tflm_arena_bytes"] - 64)


def test_generated_c_in_bundle(exported):
    """c/model.c/.h (reference kernels) name the bundle's model_int8.tflite by its sha256 (hashlib
    here), c/fe_tables.c/.h carry the export command; both compile against firmware/include."""
    import subprocess

    from tinyscene.paths import FIRMWARE_DIR

    b = exported["bundle"]
    digest = hashlib.sha256((b / "model_int8.tflite").read_bytes()).hexdigest()
    for f in ("model.c", "model.h"):
        text = (b / "c" / f).read_text()
        assert f"model_int8.tflite (sha256 {digest})" in text and "tinyscene export" in text, f
    for f in ("fe_tables.c", "fe_tables.h"):
        assert "tinyscene export" in (b / "c" / f).read_text(), f
    man = json.loads((b / "manifest.json").read_text())
    assert {"c/model.c", "c/model.h", "c/fe_tables.c", "c/fe_tables.h"} <= set(man["files"])
    cc = shutil.which("gcc")
    assert cc, "no gcc: make setup installs it"
    for f in ("model.c", "fe_tables.c"):
        r = subprocess.run([cc, "-std=c11", "-fsyntax-only", "-Wall", "-Werror", f"-I{FIRMWARE_DIR / 'include'}",
                            f"-I{b / 'c'}", str(b / "c" / f)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]


def test_inspect(exported):
    rc, out, err = cli("inspect", exported["bundle"])
    assert rc == 0, err
    assert "CONV_2D" in out and f"1x32x{FRAMES}x2" in out
    assert re.search(r"parameters [\d,]+", out) and "flash: weights" in out
    assert "torch float == onnxruntime float" in out and "PASS" in out
    rc, out, err = cli("inspect", exported["bundle"], "--json")
    assert rc == 0 and json.loads(out)["model"]["op_counts"]["CONV_2D"] >= 10


def test_refusals(exported, tmp_path):
    run, b = exported["run"], exported["bundle"]
    before = (b / "manifest.json").read_bytes()
    rc, out, err = cli("export", "--run", run, "--out", b)
    assert rc == 2 and "already exists" in err and str(b) in err
    assert (b / "manifest.json").read_bytes() == before
    rc, out, err = cli("export", "--run", run, "--out", tmp_path / "x", "--calib", 5)
    assert rc == 2 and "--calib 5" in err and "fewer than 10" in err
    rc, out, err = cli("export", "--run", run, "--out", tmp_path / "x", "--fail-on", "bogus=1")
    assert rc == 2 and "--fail-on" in err
    assert not (tmp_path / "x").exists()
    # a bundle whose file changed is refused by inspect (the manifest check)
    copy = tmp_path / "copy"
    shutil.copytree(b, copy)
    with open(copy / "model_int8.tflite", "ab") as f:
        f.write(b"\0")
    rc, out, err = cli("inspect", copy)
    assert rc == 2 and "model_int8.tflite" in err and "sha256" in err


def test_nan_weights_in_run_are_refused(exported, tmp_path):
    import torch

    run = tmp_path / "run"
    shutil.copytree(exported["run"], run)
    ck = torch.load(run / "model.pt", map_location="cpu", weights_only=False)
    ck["state_dict"]["blocks.2.conv1.weight"][0, 0, 0, 0] = float("nan")
    torch.save(ck, run / "model.pt")
    rc, out, err = cli("export", "--run", run, "--out", tmp_path / "b", "--calib", 10, "--data", exported["data"])
    assert rc == 2 and "layer blocks.2.conv1" in err and "NaN" in err
    assert not (tmp_path / "b").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".b.")]


def test_failed_ladder_writes_nothing(exported, tmp_path):
    """A threshold the export cannot meet stops it after the ladder: error naming the check, no bundle."""
    rc, out, err = cli("export", "--run", exported["run"], "--out", tmp_path / "b", "--calib", 10,
                       "--fail-on", "torch_onnx_max_abs=-1")
    assert rc == 2, err[-2000:]
    assert "torch_onnx_max_abs" in err and "no bundle written" in err
    assert not (tmp_path / "b").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".b.")]


def test_later_rung_keeps_manifest(exported, tmp_path):
    """A later stage (parity on a device) replaces the pending device rung with its record, pass or fail;
    the ladder's verdict follows the record's checks and the manifest follows the report."""
    from tinyscene.export.bundle import add_rung, check_bundle
    from tinyscene.export.ladder import check, failures, parse_fail_on, rung

    copy = tmp_path / "copy"
    shutil.copytree(exported["bundle"], copy)
    n_rungs = len(_report(copy)["ladder"])
    th = parse_fail_on(None)
    bad = rung("device_vs_host", {"clips": 5, "logits_bitexact": 0.8},
               [check("host_c_bitexact", 0.8, th)])     # 4 of 5 clips bit-exact: below the default 1.0
    rep = add_rung(copy, bad)
    assert len(rep["ladder"]) == n_rungs and [r["rung"] for r in rep["ladder"]][-1] == "device_vs_host"
    assert _rung(_report(copy), "device_vs_host")["status"] == "fail"
    assert any("host_c_bitexact" in f for f in failures(_report(copy)))
    check_bundle(copy)  # manifest still matches the changed report.json
    good = rung("device_vs_host", {"clips": 5, "logits_bitexact": 1.0}, [check("host_c_bitexact", 1.0, th)])
    add_rung(copy, good)
    assert _rung(_report(copy), "device_vs_host")["status"] == "pass" and failures(_report(copy)) == []
    check_bundle(copy)


def test_tflm_sources_compile_against_tflm(exported, tmp_path):
    """tflm/ops.h and model_data.cc compile against the pinned TensorFlow Lite Micro headers."""
    import subprocess

    from tinyscene.tflm.build import source_tree

    cxx = shutil.which("g++")
    assert cxx, "no g++: make setup installs Debian's gcc/g++"
    t = source_tree()
    main = tmp_path / "main.cc"
    main.write_text('#include "ops.h"\n#include "model_data.h"\n'
                    '#include "tensorflow/lite/micro/micro_interpreter.h"\n'
                    "static uint8_t arena[TS_MODEL_ARENA_BYTES] __attribute__((aligned(16)));\n"
                    "int main() { TsModelOpResolver r; if (ts_model_register_ops(r) != kTfLiteOk) return 1;\n"
                    "  tflite::MicroInterpreter it(tflite::GetModel(ts_model_data), r, arena, sizeof arena);\n"
                    "  return it.AllocateTensors() == kTfLiteOk ? 0 : 2; }\n")
    inc = [exported["bundle"] / "tflm", t.tflm, t.flatbuffers / "include", t.gemmlowp, t.ruy]
    for src in (main, exported["bundle"] / "tflm" / "model_data.cc"):
        r = subprocess.run([cxx, "-std=c++17", "-fsyntax-only", "-DTF_LITE_STATIC_MEMORY",
                            *[f"-I{p}" for p in inc], str(src)], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr[-2000:]
