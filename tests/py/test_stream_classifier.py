"""The classifier firmware with streamed execution (--exec stream): each hop's front-end frame is the model's
next input row, the logits come after the clip's last frame. Parity proves it: features and logits bit-exact
with Python (the host C front-end, tflite_micro) and the logits equal to the whole-tensor build's on the same
clips; parity.json records the exec and everything the image reserves in RAM. The paper network's shape
(256 mels x 288 frames x 2, the paper front-end; random weights) fits qemu-an386-128k and builds for the
NUCLEO-F411RE; the stack and heap it was measured to use stay inside their reservations."""
from __future__ import annotations

import pytest

import device_bundle as DB
from tinyscene.config import FRONTEND_PRESETS
from tinyscene.deploy.classifier import (STREAM_HEAP_BYTES, STREAM_STACK_BYTES, build_classifier, load_bundle,
                                         resolve_exec)
from tinyscene.deploy.parity import parity_run
from tinyscene.errors import TsError


@pytest.fixture(scope="module")
def tiny():
    """A 1 s bundle (32 frames): a few layers whose receptive field (9 frames) streams."""
    return load_bundle(DB.cached_bundle(DB.tiny_config(1.0)))


@pytest.fixture(scope="module")
def paper():
    """The paper network's shape on the paper front-end (10 s, 288 frames), random weights."""
    return load_bundle(DB.cached_bundle(FRONTEND_PRESETS["paper"], model_kind="paper", n_vectors=1))


def clips(bundle, n):
    return [DB.synth_pcm(bundle.config, k % 3, 100 + k) for k in range(n)]


def check(report, exec_mode="stream"):
    assert report["exec"] == exec_mode
    assert report["features_bitexact"] == 1 and report["logits_bitexact"] == 1 and report["agreement"] == 1
    if exec_mode == "stream":
        w = report["whole_tensor"]
        assert w["clips"] == report["clips"] and w["logits_equal"] == 1


def test_default_exec_is_stream_where_the_model_streams(tiny):
    assert resolve_exec(tiny, "aot", None) == "stream"
    assert resolve_exec(tiny, "tflm", None) == "tensor"
    short = load_bundle(DB.cached_bundle(DB.tiny_config(0.25)))  # 8 frames < its receptive field of 9
    assert resolve_exec(short, "aot", None) == "tensor"
    with pytest.raises(TsError, match=r"--exec stream: bundle .*fewer than the receptive field"):
        resolve_exec(short, "aot", "stream")
    with pytest.raises(TsError, match="--exec stream: runtime tflm runs whole tensors"):
        resolve_exec(tiny, "tflm", "stream")


def test_host_parity_stream(tiny, tmp_path):
    rep = parity_run(tiny, "host", clips(tiny, 3), out_dir=tmp_path, progress=False, record=False)
    check(rep)
    assert rep["whole_tensor"]["board"] == "host" and rep["memory"]["exec"] == "stream"
    assert (tmp_path / "parity.json").is_file()


@pytest.mark.qemu
def test_qemu_an386_stream_and_tensor(tiny):
    s = parity_run(tiny, "qemu-an386", clips(tiny, 2), progress=False, record=False)
    t = parity_run(tiny, "qemu-an386", clips(tiny, 2), exec_mode="tensor", progress=False, record=False)
    check(s)
    check(t, "tensor")
    assert [r["device_logits"] for r in s["per_clip"]] == [r["device_logits"] for r in t["per_clip"]]
    c = s["counts"]
    assert c["hop_max"]["max"] >= c["frontend_max_hop"]["max"] and c["model_finish"]["max"] > 0
    assert s["memory"]["ram_total"] < t["memory"]["ram_total"]
    parts = s["memory"]["ram_parts"]
    assert parts["stack"] == STREAM_STACK_BYTES and parts["heap"] == STREAM_HEAP_BYTES["semihosting"]
    assert sum(parts.values()) == s["memory"]["ram_total"]  # everything the image reserves in RAM


@pytest.mark.qemu
def test_paper_shape_fits_128k(paper):
    """The paper network streamed on a Cortex-M4 with 128 KB of RAM: the whole pipeline (front-end, rings,
    I/O buffers, stack, heap) in at most 96 KB, bit-exact; the stack and heap it used within 1/2 and all of
    their reservations (the measured need they are sized from)."""
    rep = parity_run(paper, "qemu-an386-128k", clips(paper, 1), progress=False, record=False)
    check(rep)
    assert rep["whole_tensor"]["board"] == "qemu-an386"  # the whole-tensor arena does not fit 128 KB
    assert rep["memory"]["ram_total"] <= 96 * 1024, rep["memory"]["ram_parts"]
    assert rep["stack_high_water"] <= STREAM_STACK_BYTES // 2
    assert max(r["counts"]["heap_high_water"] for r in rep["per_clip"]) <= STREAM_HEAP_BYTES["semihosting"]


def test_paper_shape_builds_for_f411re(paper, run_cli):
    fw = build_classifier(paper, "nucleo-f411re", exec_mode="stream")
    assert fw.exec == "stream" and fw.kernels == "armv7em"
    assert fw.flash_bytes <= 512 * 1024 and fw.ram_bytes <= 96 * 1024
    rc, out, err = run_cli("flash", "--bundle", paper.path, "--board", "nucleo-f411re", "--exec", "stream",
                           "--dry-run")
    assert rc == 0, err
    assert "exec stream" in out and "openocd" in out.strip().splitlines()[-1]
    with pytest.raises(TsError, match="does not fit board 'nucleo-f411re' RAM"):
        build_classifier(paper, "nucleo-f411re", exec_mode="tensor")


def test_sliding_decision_refused_with_the_padding_op(tiny, run_cli, tmp_path):
    rc, out, err = run_cli("parity", "--bundle", tiny.path, "--board", "host", "--decide-every", "8", "--out",
                           tmp_path / "p")
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "--decide-every: op 0 CONV_2D pads the time axis" in err and "--exec tensor --decide-every N" in err
    rc, out, err = run_cli("parity", "--bundle", tiny.path, "--board", "host", "--exec", "tensor", "--decide-every",
                           "8", "--out", tmp_path / "p", "--n", "1")
    assert rc == 0, err
