"""`tinyscene data synth`: the TAU layout and format, folds by location, determinism, class cues."""
from __future__ import annotations

import csv
import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tinyscene.data import tau
from tinyscene.data.synth import CITIES


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


@pytest.fixture(scope="module")
def tau4(tmp_path_factory):
    """The issue's check: 4 clips per scene, real format (10 s)."""
    from tinyscene.cli import main

    d = tmp_path_factory.mktemp("synth") / "d"
    assert main(["data", "synth", "--out", str(d), "--clips-per-scene", "4", "--seed", "5"]) == 0
    return d


def test_tau_format_and_counts(tau4):
    meta = rows(tau4 / "meta.csv")
    assert len(meta) == 40
    assert Counter(r["scene_label"] for r in meta) == {s: 4 for s in tau.SCENES}
    for r in meta:
        i = sf.info(tau4 / r["filename"])
        assert (i.samplerate, i.channels, i.subtype, i.frames) == (48000, 2, "PCM_24", 480000), r["filename"]
        scene, city, loc, seg, dev = Path(r["filename"]).stem.split("-")
        assert r["filename"].startswith("audio/") and scene == r["scene_label"] and city in CITIES and dev == "a"
        assert r["identifier"] == f"{city}-{loc}" and loc.isdigit() and seg.isdigit()
    train, evaluate = tau.load_split(tau4, "train"), tau.load_split(tau4, "evaluate")
    assert len(train) + len(evaluate) == 40 and {c.filename for c in train}.isdisjoint(c.filename for c in evaluate)
    # ~70/30 per scene, at least one clip of each scene on each side
    for s in tau.SCENES:
        n_eval = sum(c.scene == s for c in evaluate)
        assert n_eval == 1 and sum(c.scene == s for c in train) == 3
    assert tau.class_counts(train) == {"indoor": 9, "outdoor": 12, "transportation": 9}
    assert tau.class_counts(evaluate) == {"indoor": 3, "outdoor": 4, "transportation": 3}
    for c in train + evaluate:
        assert c.label == tau.SCENE_CLASS[c.scene]
    assert not tau.shared_locations(train, evaluate)
    assert [r["filename"] for r in rows(tau4 / "evaluation_setup/fold1_test.csv")] == [c.filename for c in evaluate]


def test_audio_is_sane(tau4):
    for r in rows(tau4 / "meta.csv")[::7]:
        x, _ = sf.read(tau4 / r["filename"])
        level = 20 * np.log10(np.sqrt(np.mean(x ** 2)))
        assert -50 < level < -10 and np.max(np.abs(x)) <= 0.99, r["filename"]
        assert np.all(np.isfinite(x)) and not np.array_equal(x[:, 0], x[:, 1])


def _features(path: Path) -> tuple[float, float]:
    """Share of power below 200 Hz, and the correlation between the ears (numpy, not our code)."""
    x, fs = sf.read(path)
    p = np.abs(np.fft.rfft(x, axis=0)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / fs)
    low = p[f < 200].sum() / p.sum()
    return float(low), float(np.corrcoef(x.T)[0, 1])


def test_classes_differ_in_the_designed_cues(tau4):
    """Transportation has more low-frequency rumble and a more coherent (cabin) field than outdoor;
    neither cue is a threshold that sorts every clip (not trivially separable)."""
    feats = {c: [] for c in tau.CLASSES}
    for r in rows(tau4 / "meta.csv"):
        feats[tau.SCENE_CLASS[r["scene_label"]]].append(_features(tau4 / r["filename"]))
    low = {c: np.array([v[0] for v in feats[c]]) for c in feats}
    coh = {c: np.array([v[1] for v in feats[c]]) for c in feats}
    assert np.median(low["transportation"]) > 2 * np.median(low["outdoor"])
    assert np.median(coh["transportation"]) > np.median(coh["outdoor"])
    assert low["transportation"].min() < low["outdoor"].max() or low["indoor"].max() > low["transportation"].min()


def _digest(d: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(d.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(d).as_posix().encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_deterministic_whatever_the_workers(tmp_path, run_cli):
    args = ["data", "synth", "--clips-per-scene", "2", "--seconds", "0.5", "--seed", "11"]
    assert run_cli(*args, "--out", tmp_path / "a", "--jobs", "1")[0] == 0
    assert run_cli(*args, "--out", tmp_path / "b", "--jobs", "2")[0] == 0
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert run_cli(*args[:-1], "12", "--out", tmp_path / "c", "--jobs", "1")[0] == 0
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")
    i = sf.info(next((tmp_path / "a/audio").iterdir()))
    assert (i.samplerate, i.channels, i.subtype, i.frames) == (48000, 2, "PCM_24", 24000)


@pytest.mark.parametrize("n", [1, 3, 7, 12])
def test_fold_split_by_location(n):
    from tinyscene.data.synth import plan

    clips = plan(n, seed=4)
    assert len(clips) == 10 * n and len({c.filename for c in clips}) == 10 * n
    folds_of = {}
    for c in clips:
        folds_of.setdefault((c.scene, c.identifier), set()).add(c.fold)
    assert all(len(f) == 1 for f in folds_of.values())  # a location lies in one fold
    share = sum(c.fold == "evaluate" for c in clips) / len(clips)
    if n == 1:
        assert share == 0
    else:
        assert 0.2 <= share <= 0.4
        for s in tau.SCENES:
            assert {c.fold for c in clips if c.scene == s} == {"train", "evaluate"}


def test_refuses_bad_arguments_and_existing_out(tmp_path, run_cli):
    rc, _, err = run_cli("data", "synth", "--out", tmp_path / "x", "--clips-per-scene", "0")
    assert rc == 2 and "--clips-per-scene 0" in err
    rc, _, err = run_cli("data", "synth", "--out", tmp_path / "x", "--clips-per-scene", "1", "--seconds", "0")
    assert rc == 2 and "--seconds 0" in err
    (tmp_path / "y").mkdir()
    rc, _, err = run_cli("data", "synth", "--out", tmp_path / "y", "--clips-per-scene", "1", "--seconds", "0.2")
    assert rc == 2 and "already exists" in err
    assert run_cli("data", "synth", "--out", tmp_path / "y", "--clips-per-scene", "1", "--seconds", "0.2",
                   "--force", "--jobs", "1")[0] == 0
    assert (tmp_path / "y").stat().st_mode & 0o055  # not mkdtemp's 0700
    assert (tmp_path / "y/meta.csv").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left over
