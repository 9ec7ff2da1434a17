"""`tinyscene slim` / `slim-sweep` end to end on a tiny synthetic set through the real front-end: the
slimmed run folder (evaluate takes it), slim.json, the budget, bad input, atomic writes."""
from __future__ import annotations

import json
import shutil

import pytest
import torch

from tinyscene.errors import TsError


@pytest.fixture(scope="module")
def src(tmp_path_factory):
    """A 2-epoch paper run trained with --slim-l1 on 1 s clips (input [2, 32, 32])."""
    from tinyscene.cli import main
    from tinyscene.data.synth import synth

    root = tmp_path_factory.mktemp("slim_cli")
    synth(root / "syn", clips_per_scene=3, seconds=1.0, seed=11, jobs=1, progress=False)
    feats = root / "tiny1s.json"
    feats.write_text(json.dumps({"name": "tiny1s", "sample_rate": 16000, "n_fft": 512, "hop_length": 512,
                                 "n_mels": 32, "channels": 2, "clip_seconds": 1.0}))
    rc = main(["train", "--data", str(root / "syn"), "--model", "paper", "--features", str(feats), "--out",
               str(root / "run"), "--epochs", "2", "--seed", "1", "--batch-size", "8", "--workers", "1",
               "--slim-l1", "1e-4"])
    assert rc == 0
    return root, root / "syn", root / "run"


def _count(path):
    o = torch.load(path, map_location="cpu", weights_only=False)
    sd = o["state_dict"]
    return sum(v.numel() for k, v in sd.items() if "running" not in k and "num_batches" not in k), o


def _slim(run_cli, *argv):
    return run_cli("slim", "--workers", "1", "--device", "cpu", *argv)


def test_slim_ratio_writes_an_evaluable_run(src, run_cli):
    root, data, run = src
    assert (run / "gamma_hist.png").stat().st_size > 0          # --slim-l1 runs plot their γ
    out = root / "slim50"
    rc, so, se = _slim(run_cli, "--run", run, "--ratio", "0.5", "--out", out, "--finetune-epochs", "1")
    assert rc == 0, se[-2000:]
    for f in ("model.pt", "config.json", "metrics.json", "history.json", "curves.png", "confusion.png",
              "slim.json", "slim.png", "gamma_hist.png"):
        assert (out / f).stat().st_size > 0, f
    n0, _ = _count(run / "model.pt")
    n1, o = _count(out / "model.pt")
    assert n1 <= 0.75 * n0
    rep = json.loads((out / "slim.json").read_text())
    assert rep["params"]["before"] == n0 and rep["params"]["after"] == n1
    assert rep["int8_kb"]["after"] < rep["int8_kb"]["before"]
    assert 0.45 <= rep["ratio"] <= 0.55 and rep["ratio_requested"] == 0.5
    acc = rep["accuracy"]
    for k in ("before_pruning", "after_pruning", "after_finetune"):
        assert 0 <= acc[k] <= 1
    # per-layer channels before/after match the saved tensors
    sd = o["state_dict"]
    for ly in rep["layers"]:
        w = sd[f"{ly['name']}.weight"]
        assert (w.shape[0], w.shape[1]) == (ly["out_after"], ly["in_after"]), ly["name"]
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_name"] == "paper" and cfg["model_config"]["stem"] == sd["stem.conv.weight"].shape[0]
    assert cfg["params"] == n1
    # `tinyscene evaluate` rebuilds it from the folder and gets the metrics the folder records
    m = json.loads((out / "metrics.json").read_text())
    rc, so, se = run_cli("evaluate", "--run", out, "--data", data, "--workers", "1")
    assert rc == 0, se[-2000:]
    assert json.loads(so)["accuracy"] == pytest.approx(m["accuracy"], abs=1e-12)
    assert acc["after_finetune"] == pytest.approx(m["accuracy"], abs=1e-12)


def test_slim_budget(src, run_cli):
    root, data, run = src
    full = json.loads((run / "config.json").read_text())["int8_kb"]
    budget = round(0.6 * full, 1)
    out = root / "budget"
    rc, so, se = _slim(run_cli, "--run", run, "--budget-kb", budget, "--out", out, "--finetune-epochs", "0",
                       "--no-verify-tflite")
    assert rc == 0, se[-2000:]
    rep = json.loads((out / "slim.json").read_text())
    assert rep["mode"] == "budget" and rep["int8_kb"]["after"] <= budget < rep["int8_kb"]["before"]
    assert rep["budget"]["fits"] and rep["accuracy"]["after_finetune"] is None
    from tinyscene.models import model_info
    from tinyscene.train.run import load_run

    model, _ = load_run(out)
    assert model_info(model)["int8_kb"] <= budget


@pytest.mark.parametrize("args, msg", [
    (["--ratio", "1.5"], "strictly between 0 and 1"),
    (["--ratio", "0"], "strictly between 0 and 1"),
    (["--budget-kb", "0.5"], "smaller than the smallest valid network"),
    (["--budget-kb", "-3"], "positive"),
    (["--ratio", "0.5", "--min-channels", "0"], "min-channels"),
])
def test_bad_input_writes_nothing(src, run_cli, args, msg):
    root, _, run = src
    out = root / "bad"
    rc, so, se = _slim(run_cli, "--run", run, "--out", out, "--finetune-epochs", "0", *args)
    assert rc == 2 and msg in se, se
    assert "Traceback" not in se and not out.exists()


def test_ratio_and_budget_exclude_each_other(src, run_cli):
    root, _, run = src
    rc, _, se = _slim(run_cli, "--run", run, "--out", root / "x", "--ratio", "0.5", "--budget-kb", "10")
    assert rc == 2 and "not allowed with" in se


def test_run_without_l1_warns_and_still_slims(src, run_cli):
    root, _, run = src
    plain = root / "plain"
    shutil.copytree(run, plain)
    cfg = json.loads((plain / "config.json").read_text())
    cfg["train"]["slim_l1"] = 0.0
    (plain / "config.json").write_text(json.dumps(cfg))
    out = root / "plain-slim"
    rc, so, se = _slim(run_cli, "--run", plain, "--ratio", "0.3", "--out", out, "--finetune-epochs", "0")
    assert rc == 0, se[-2000:]
    assert "warning" in se and "--slim-l1" in se
    assert any("--slim-l1" in w for w in json.loads((out / "slim.json").read_text())["warnings"])


class _NoBNCfg:
    def to_dict(self):
        return {}


class _NoBN(torch.nn.Module):
    arch = "nobn"

    def __init__(self, input_shape):
        super().__init__()
        self.cfg = _NoBNCfg()
        self.input_shape = tuple(input_shape)
        self.conv = torch.nn.Conv2d(input_shape[0], 4, 3)
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def test_run_without_batch_norm_is_refused(src, run_cli, monkeypatch):
    from tinyscene import models
    from tinyscene.train.run import save_model

    root, _, run = src
    monkeypatch.setitem(models.ARCHS, "nobn", (lambda cfg, shape: _NoBN(shape), lambda: {}))
    monkeypatch.setitem(models.MODELS, "nobn", models.ModelSpec("nobn", "nobn", "test: no BN"))
    nobn = root / "nobn"
    nobn.mkdir()
    cfg = json.loads((run / "config.json").read_text())
    cfg.update({"model_name": "nobn", "arch": "nobn", "model_config": {}})
    (nobn / "config.json").write_text(json.dumps(cfg))
    save_model(nobn / "model.pt", _NoBN(cfg["input_shape"]), "nobn")
    out = root / "nobn-slim"
    rc, _, se = _slim(run_cli, "--run", nobn, "--ratio", "0.5", "--out", out)
    assert rc == 2 and "no batch-norm layers" in se and not out.exists()


def test_a_failure_never_leaves_a_half_written_run(src, run_cli, monkeypatch):
    import tinyscene.slim.plots as plots

    root, _, run = src
    out = root / "atomic"
    rc, _, se = _slim(run_cli, "--run", run, "--ratio", "0.4", "--out", out, "--finetune-epochs", "0")
    assert rc == 0, se
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def boom(*a, **k):   # the last step, after model.pt, config.json and slim.json are written
        raise TsError("plotting exploded")

    monkeypatch.setattr(plots, "plot_channels", boom)
    rc, _, se = _slim(run_cli, "--run", run, "--ratio", "0.6", "--out", out, "--finetune-epochs", "0", "--force")
    assert rc == 2 and "exploded" in se
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before    # the old run is untouched
    rc, _, se = _slim(run_cli, "--run", run, "--ratio", "0.6", "--out", root / "atomic2", "--finetune-epochs", "0")
    assert rc == 2 and not (root / "atomic2").exists()
    assert not [p for p in root.iterdir() if p.name.startswith(".atomic")]
    rc, _, se = _slim(run_cli, "--run", run, "--ratio", "0.6", "--out", out)     # exists, no --force
    assert rc == 2 and "already exists" in se


def test_sweep(src, run_cli):
    root, _, run = src
    out = root / "sweep"
    rc, so, se = run_cli("slim-sweep", "--run", run, "--ratios", "0.6,0.3", "--out", out, "--finetune-epochs", "0",
                         "--workers", "1", "--device", "cpu")
    assert rc == 0, se[-2000:]
    s = json.loads((out / "sweep.json").read_text())
    assert [p["ratio"] for p in s["points"]] == [0.3, 0.6]
    assert s["points"][0]["params"] > s["points"][1]["params"]
    assert s["points"][1]["kept_params"] < 1.0 and (out / "sweep.png").stat().st_size > 0
    for p in s["points"]:
        assert (out / f"ratio-{p['ratio']:.2f}" / "model.pt").is_file()
    rc, _, se = run_cli("slim-sweep", "--run", run, "--ratios", "0.3,abc", "--out", root / "sweep2")
    assert rc == 2 and "--ratios" in se and not (root / "sweep2").exists()
