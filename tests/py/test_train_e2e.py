"""A tiny end-to-end run on synthetic data through the real front-end: train (2 epochs), the run
folder, evaluate, the Python API, determinism and --resume."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

FILES = ("model.pt", "config.json", "metrics.json", "curves.png", "confusion.png", "history.json", "state.pt")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from tinyscene.data.synth import synth

    root = tmp_path_factory.mktemp("train_e2e")
    synth(root / "syn", clips_per_scene=3, seconds=1.0, seed=5, jobs=1, progress=False)
    feats = root / "tiny1s.json"   # the tiny preset on 1 s clips: input [2, 32, 32]
    feats.write_text(json.dumps({"name": "tiny1s", "sample_rate": 16000, "n_fft": 512, "hop_length": 512,
                                 "n_mels": 32, "channels": 2, "clip_seconds": 1.0}))
    return root, root / "syn", feats


def _cli(*argv):
    import contextlib
    import io

    from tinyscene.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        rc = main([str(a) for a in argv])
    return rc, out.getvalue(), err.getvalue()


def _train(data_dir, feats, out, *extra, model="paper"):
    rc, so, se = _cli("train", "--data", data_dir, "--model", model, "--features", feats, "--out", out,
                      "--seed", "3", "--batch-size", "8", "--workers", "1", *extra)
    assert rc == 0, se[-2000:]
    return so


@pytest.fixture(scope="module")
def run2(data, tmp_path_factory):
    """A 2-epoch run (module-wide)."""
    root, d, feats = data
    out = root / "run2"
    _train(d, feats, out, "--epochs", "2")
    return out


def test_run_folder(run2, data):
    for f in FILES:
        assert (run2 / f).stat().st_size > 0, f
    m = json.loads((run2 / "metrics.json").read_text())
    assert 0 <= m["accuracy"] <= 1
    assert set(m["per_class"]) == {"indoor", "outdoor", "transportation"}
    cm = np.array(m["confusion"])
    assert cm.shape == (3, 3) and cm.sum() == m["n_clips"]
    assert m["best_epoch"] in (1, 2) and m["epochs_run"] == 2
    assert m["train_clips_per_s"] > 0 and m["training_seconds"] > 0
    cfg = json.loads((run2 / "config.json").read_text())
    assert cfg["model_name"] == "paper" and cfg["input_shape"] == [2, 32, 32]
    assert cfg["frontend"]["clip_seconds"] == 1.0 and cfg["seed"] == 3 and cfg["epochs"] == 2
    assert {"mean", "std", "scale", "zero_point"} <= set(cfg["input_quant"])
    # what the slimming/export code does with model.pt
    o = torch.load(run2 / "model.pt", map_location="cpu", weights_only=False)
    assert "state_dict" in o and o["model_name"] == "paper"
    assert o["epoch"] == m["best_epoch"]


def test_training_learns(learned):
    """On a synthetic split whose classes are separable (2 s clips, 16 per scene), ten epochs of the paper
    model end far above chance (1/3) in class-balanced accuracy, and the evaluate log loss falls well
    below that of a uniform guess (ln 3) from its first epoch."""
    import math

    m = json.loads((learned["run"] / "metrics.json").read_text())
    h = json.loads((learned["run"] / "history.json").read_text())
    assert m["accuracy"] >= 0.6, m["accuracy"]
    assert min(v for v in m["per_class"].values()) >= 0.3, m["per_class"]
    assert m["log_loss"] < 0.85 * math.log(3) and m["log_loss"] < h[0]["eval_loss"]
    assert h[-1]["train_loss"] < h[0]["train_loss"]


def test_evaluate_recomputes_metrics(run2, data, run_cli):
    _, d, _ = data
    m = json.loads((run2 / "metrics.json").read_text())
    rc, so, se = run_cli("evaluate", "--run", run2, "--data", d)
    assert rc == 0, se
    e = json.loads(so)
    assert e["accuracy"] == pytest.approx(m["accuracy"], abs=1e-12)
    assert e["log_loss"] == pytest.approx(m["log_loss"], rel=1e-5)
    assert e["confusion"] == m["confusion"]
    rc, so, se = run_cli("evaluate", "--run", run2, "--data", d, "--split", "train")
    assert rc == 0, se
    assert json.loads(so)["n_clips"] == json.loads((run2 / "config.json").read_text())["n_train"]


def test_python_api(run2, data):
    from tinyscene.frontend import InputQuant
    from tinyscene.train import (
        evaluate_model,
        load_run,
        run_features,
        run_features_int8,
    )

    _, d, _ = data
    model, cfg = load_run(run2)
    x, y = run_features(run2, d, "evaluate")
    assert x.dtype == torch.float32 and list(x.shape[1:]) == cfg["input_shape"]
    f8 = run_features_int8(cfg, d, "evaluate")
    quant = InputQuant.from_dict(cfg["input_quant"])
    # the float features are exactly the front-end's dequantisation of the device's int8 input
    ref = quant.dequantize(f8.nhwc()).transpose(0, 3, 1, 2)
    assert np.array_equal(x.numpy(), ref)
    m = evaluate_model(model, x, y)
    assert m["accuracy"] == pytest.approx(json.loads((run2 / "metrics.json").read_text())["accuracy"])


def test_resume_continues_like_one_run(run2, data, run_cli):
    """1 epoch + --resume to 2 epochs = the same numbers as 2 epochs straight (and so the same seed
    gives the same metrics)."""
    root, d, feats = data
    out = root / "run1+1"
    _train(d, feats, out, "--epochs", "1")
    assert len(json.loads((out / "history.json").read_text())) == 1
    rc, so, se = run_cli("train", "--data", d, "--out", out, "--resume", "--epochs", "2")
    assert rc == 0, se[-2000:]
    a = json.loads((run2 / "history.json").read_text())
    b = json.loads((out / "history.json").read_text())
    assert [h["epoch"] for h in b] == [1, 2]
    for ha, hb in zip(a, b):
        for k in ("lr", "train_loss", "eval_loss", "eval_accuracy", "bn_gamma_l1"):
            assert hb[k] == pytest.approx(ha[k], rel=1e-6, abs=1e-9), (k, ha, hb)


def test_existing_run_refused_then_forced(run2, data, run_cli):
    _, d, feats = data
    rc, so, se = run_cli("train", "--data", d, "--model", "paper", "--features", feats, "--out", run2,
                         "--epochs", "1")
    assert rc == 2 and "already exists" in se and "--resume" in se and len(se.strip().splitlines()) == 1
    root = run2.parent
    out = root / "forced"
    out.mkdir()
    (out / "junk.txt").write_text("x")
    _train(d, feats, out, "--epochs", "1", "--force", "--mixup-alpha", "0", "--slim-l1", "1e-3",
           "--optimizer", "sgd", model="baseline")
    assert not (out / "junk.txt").exists()
    h = json.loads((out / "history.json").read_text())
    assert h[0]["bn_gamma_l1"] > 0
    assert json.loads((out / "config.json").read_text())["model_name"] == "baseline"
