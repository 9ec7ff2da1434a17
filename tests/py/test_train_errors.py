"""Bad input to `tinyscene train` / `evaluate`: one clean line, exit code 2, nothing half-written."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from tinyscene.errors import TsError


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    from tinyscene.data.synth import synth

    d = tmp_path_factory.mktemp("train_err") / "syn"
    synth(d, clips_per_scene=2, seconds=0.5, seed=1, jobs=1, progress=False)
    return d


def _one_line_error(rc, se, *words):
    assert rc == 2, se
    lines = se.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tinyscene train: error:"), se
    for w in words:
        assert w in lines[0], (w, lines[0])


def _train(run_cli, data, out, *extra):
    return run_cli("train", "--data", data, "--model", "paper", "--features", "tiny", "--out", out, *extra)


def test_not_a_tau_folder(run_cli, tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "some.wav").write_bytes(b"")
    rc, so, se = _train(run_cli, tmp_path / "d", tmp_path / "run")
    _one_line_error(rc, se, "meta.csv")
    assert not (tmp_path / "run").exists()
    rc, so, se = _train(run_cli, tmp_path / "nope", tmp_path / "run")
    _one_line_error(rc, se, "not a folder")


def _copy_layout(src, dst, keep_train):
    """The same data folder with a fold-1 train list filtered by `keep_train(line)`."""
    import shutil

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("audio"))
    (dst / "audio").symlink_to(src / "audio")
    f = dst / "evaluation_setup" / "fold1_train.csv"
    lines = f.read_text().splitlines()
    f.write_text("\n".join([lines[0]] + [ln for ln in lines[1:] if keep_train(ln)]) + "\n")


def test_single_class_split(run_cli, syn, tmp_path):
    from tinyscene.data.tau import SCENE_CLASS

    indoor = tuple(s for s, c in SCENE_CLASS.items() if c == "indoor")
    _copy_layout(syn, tmp_path / "d", lambda ln: ln.split("/")[-1].startswith(indoor))
    rc, so, se = _train(run_cli, tmp_path / "d", tmp_path / "run")
    _one_line_error(rc, se, "fold1_train.csv", "1 class", "indoor")
    assert not (tmp_path / "run").exists()


def test_empty_split(run_cli, syn, tmp_path):
    _copy_layout(syn, tmp_path / "d", lambda ln: False)
    rc, so, se = _train(run_cli, tmp_path / "d", tmp_path / "run")
    _one_line_error(rc, se, "fold1_train.csv", "empty")


def test_existing_folder_and_resume_without_state(run_cli, syn, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    rc, so, se = _train(run_cli, syn, out)
    _one_line_error(rc, se, "already exists", "--force")
    assert (out / "notes.txt").read_text() == "mine"
    rc, so, se = run_cli("train", "--data", syn, "--out", out, "--resume")
    _one_line_error(rc, se, "nothing to resume")
    rc, so, se = _train(run_cli, syn, out, "--resume", "--force")
    _one_line_error(rc, se, "exclude")


@pytest.mark.parametrize("args, words", [
    (("--epochs", "0"), ("--epochs=0: must be >= 1",)),
    (("--mixup-alpha", "-1"), ("--mixup-alpha",)),
    (("--lr", "nan"), ("--lr",)),
    (("--batch-size", "1"), ("--batch-size",)),
])
def test_bad_settings(run_cli, syn, tmp_path, args, words):
    rc, so, se = _train(run_cli, syn, tmp_path / "run", *args)
    _one_line_error(rc, se, *words)


def test_unknown_model_and_features(run_cli, syn, tmp_path):
    rc, so, se = run_cli("train", "--data", syn, "--model", "gpt", "--features", "tiny", "--out", tmp_path / "r")
    _one_line_error(rc, se, "gpt")
    rc, so, se = run_cli("train", "--data", syn, "--model", "paper", "--features", "huge", "--out", tmp_path / "r")
    _one_line_error(rc, se, "huge")
    assert not (tmp_path / "r").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_cuda():
    from tinyscene.train.loop import resolve_device

    with pytest.raises(TsError, match="no CUDA"):
        resolve_device("cuda")
    assert resolve_device("auto") == "cpu"


def test_nan_loss_names_epoch_and_batch(tmp_path):
    from tinyscene.models import build_model
    from tinyscene.train.config import TrainConfig
    from tinyscene.train.loop import fit

    x = torch.randn(12, 2, 16, 16)
    x[9] = float("nan")  # clip 9 lands in some batch of epoch 1
    y = np.arange(12) % 3
    m = build_model("paper", {"stem": 4, "widths": [4, 4, 4, 4, 4]}, (2, 16, 16))
    with pytest.raises(TsError, match=r"epoch 1 batch [1-3]/3: loss is nan") as e:
        fit(m, "paper", x, y, x[:3].nan_to_num(), y[:3], None,
            TrainConfig(epochs=2, batch_size=4, mixup_alpha=0.0), tmp_path, progress=False)
    assert "--lr" in str(e.value) and "\n" not in str(e.value)


def test_evaluate_bad_run(run_cli, tmp_path, syn):
    rc, so, se = run_cli("evaluate", "--run", tmp_path / "none", "--data", syn)
    assert rc == 2 and "no such run folder" in se
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "config.json").write_text("{")
    rc, so, se = run_cli("evaluate", "--run", tmp_path / "r", "--data", syn)
    assert rc == 2 and "not readable JSON" in se


def test_failed_run_leaves_no_folder(run_cli, syn, tmp_path):
    # 0.5 s clips for a 10 s front-end: featurisation fails after the folder was made
    rc, so, se = _train(run_cli, syn, tmp_path / "run")
    _one_line_error(rc, se, "shorter")
    assert not (tmp_path / "run").exists()
