"""TAU layout loader: counts and labels (3-class and 10-scene styles), and every bad input of the
issue as a clean one-line error through the CLI (`tinyscene data info`, exit code 2)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tinyscene.data import tau
from tinyscene.errors import TsError

SECONDS = 0.2  # short clips keep the fixtures small; `data info --seconds` is told so
SCENE_OF_CLASS = {"indoor": "airport", "outdoor": "park", "transportation": "tram"}


def write_wav(path: Path, rate=48000, channels=2, seconds=SECONDS, subtype="PCM_24") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = 0.1 * np.random.default_rng(0).standard_normal((int(rate * seconds), channels))
    sf.write(path, x, rate, subtype=subtype)


def tsv(path: Path, rows) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join("\t".join(r) + "\n" for r in rows))


def make_dataset(root: Path, scenes_style=True, evaluate_labels=True) -> Path:
    """6 scenes x 2 clips, hand-written; location k of each scene: clip 0 -> train, clip 1 -> evaluate."""
    scenes = ["airport", "metro_station", "park", "street_traffic", "bus", "metro"]
    meta, train, evaluate = [], [], []
    for s in scenes:
        for k in range(2):
            name = f"audio/{s}-lyon-{k}-{10 + k}-a.wav"
            write_wav(root / name)
            label = s if scenes_style else tau.SCENE_CLASS[s]
            meta.append([name, label, f"lyon-{k}", "a"])
            (train if k == 0 else evaluate).append([name, label])
    tsv(root / "meta.csv", [["filename", "scene_label", "identifier", "source_label"]] + meta)
    tsv(root / "evaluation_setup/fold1_train.csv", [["filename", "scene_label"]] + train)
    if evaluate_labels:
        tsv(root / "evaluation_setup/fold1_evaluate.csv", [["filename", "scene_label"]] + evaluate)
    else:
        tsv(root / "evaluation_setup/fold1_evaluate.csv", [["filename"]] + [[r[0]] for r in evaluate])
    return root


@pytest.mark.parametrize("scenes_style", [True, False], ids=["10-scene labels", "3-class labels"])
@pytest.mark.parametrize("evaluate_labels", [True, False], ids=["labelled", "filenames only"])
def test_load_split_counts_and_labels(tmp_path, scenes_style, evaluate_labels):
    d = make_dataset(tmp_path / "d", scenes_style, evaluate_labels)
    train = tau.load_split(d, "train")
    evaluate = tau.load_split(d, "evaluate")
    assert len(train) == 6 and len(evaluate) == 6
    assert tau.class_counts(train) == {"indoor": 2, "outdoor": 2, "transportation": 2}
    for c in train + evaluate:
        scene = c.filename.split("/")[1].split("-")[0]
        assert c.scene == scene  # from the label, or from the TAU file name
        assert c.label == {"airport": "indoor", "metro_station": "indoor", "park": "outdoor",
                           "street_traffic": "outdoor", "bus": "transportation", "metro": "transportation"}[scene]
        assert tau.CLASSES[c.class_index] == c.label
        assert c.path.is_file() and c.path.is_absolute()
    assert [c.filename for c in train] == [f"audio/{s}-lyon-0-10-a.wav" for s in
                                           ["airport", "metro_station", "park", "street_traffic", "bus", "metro"]]
    assert train[0].identifier == "lyon-0"
    assert len(tau.load_split(d, "all")) == 12


def test_class_order_and_mapping():
    assert tau.CLASSES == ("indoor", "outdoor", "transportation")
    by_class = {c: sorted(s for s, k in tau.SCENE_CLASS.items() if k == c) for c in tau.CLASSES}
    assert by_class == {"indoor": ["airport", "metro_station", "shopping_mall"],
                        "outdoor": ["park", "public_square", "street_pedestrian", "street_traffic"],
                        "transportation": ["bus", "metro", "tram"]}


def test_info_counts(tmp_path, run_cli):
    d = make_dataset(tmp_path / "d")
    rc, out, err = run_cli("data", "info", "--data", d, "--seconds", SECONDS)
    assert rc == 0, err
    lines = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines() if ln.split()}
    assert lines["train"] == ["2", "2", "2", "6"]
    assert lines["evaluate"] == ["2", "2", "2", "6"]
    assert lines["all"] == ["4", "4", "4", "12"]
    assert "12 wav headers ok" in out


def test_headerless_fold_file(tmp_path):
    d = make_dataset(tmp_path / "d")
    names = [c.filename for c in tau.load_split(d, "evaluate")]
    tsv(d / "evaluation_setup/fold1_evaluate.csv", [[n] for n in names])
    assert [c.filename for c in tau.load_split(d, "evaluate")] == names


# ----- bad input: each case changes one thing of a good data set -----------------------------

def _first(d: Path, split="train") -> str:
    return (d / f"evaluation_setup/fold1_{split}.csv").read_text().splitlines()[1].split("\t")[0]


def corrupt_wav(d):
    name = _first(d)
    (d / name).write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    return name, "not a readable audio file"


def garbage_wav(d):
    name = _first(d)
    (d / name).write_bytes(bytes(range(256)) * 10)
    return name, "not a readable audio file"


def missing_wav(d):
    name = _first(d)
    (d / name).unlink()
    return "meta.csv line 2", "no such file"


def wrong_rate(d):
    name = _first(d)
    write_wav(d / name, rate=44100)
    return name, "sample rate 44100 Hz, expected 48000 Hz"


def mono(d):
    name = _first(d)
    write_wav(d / name, channels=1)
    return name, "1 channel(s), expected 2"


def too_short(d):
    name = _first(d)
    write_wav(d / name, seconds=SECONDS / 2)
    return name, "shorter than the expected"


def truncated(d):  # a download cut short: the header promises more than the file holds
    name = _first(d)
    data = (d / name).read_bytes()
    (d / name).write_bytes(data[: len(data) // 2])
    return name, "shorter than the expected"


def unknown_label(d):
    text = (d / "meta.csv").read_text().replace("\tpark\t", "\tbeach\t", 1)
    (d / "meta.csv").write_text(text)
    return "meta.csv line", "unknown scene label 'beach'"


def meta_no_header(d):
    lines = (d / "meta.csv").read_text().splitlines()
    (d / "meta.csv").write_text("\n".join(lines[1:]) + "\n")
    return "meta.csv", "header must name"


def meta_commas(d):
    (d / "meta.csv").write_text((d / "meta.csv").read_text().replace("\t", ","))
    return "meta.csv", "header must name"


def meta_missing(d):
    (d / "meta.csv").unlink()
    return "meta.csv", "not found"


def meta_duplicate(d):
    lines = (d / "meta.csv").read_text().splitlines()
    (d / "meta.csv").write_text("\n".join(lines + [lines[1]]) + "\n")
    return "meta.csv line 14", "listed twice"


def fold_names_missing_file(d):
    f = d / "evaluation_setup/fold1_evaluate.csv"
    f.write_text(f.read_text() + "audio/bus-oslo-9-9-a.wav\tbus\n")
    return "fold1_evaluate.csv line 8", "audio/bus-oslo-9-9-a.wav: no such file"


def fold_names_file_not_in_meta(d):
    write_wav(d / "audio/bus-oslo-9-9-a.wav")
    f = d / "evaluation_setup/fold1_train.csv"
    f.write_text(f.read_text() + "audio/bus-oslo-9-9-a.wav\tbus\n")
    return "fold1_train.csv line 8", "not in"


def fold_missing(d):
    (d / "evaluation_setup/fold1_train.csv").unlink()
    return "fold1_train.csv", "not found"


def fold_label_disagrees(d):
    f = d / "evaluation_setup/fold1_train.csv"
    f.write_text(f.read_text().replace("\tairport", "\tbus", 1))
    return "fold1_train.csv line 2", "labelled 'bus' but meta.csv says 'airport'"


def fold_overlap(d):
    f = d / "evaluation_setup/fold1_evaluate.csv"
    f.write_text(f.read_text() + _first(d) + "\tairport\n")
    return "fold1_evaluate.csv", "is also in fold1_train.csv"


def not_a_folder(d):
    import shutil
    shutil.rmtree(d)
    return str(d), "not a folder"


CASES = [corrupt_wav, garbage_wav, missing_wav, wrong_rate, mono, too_short, truncated, unknown_label,
         meta_no_header, meta_commas, meta_missing, meta_duplicate, fold_names_missing_file,
         fold_names_file_not_in_meta, fold_missing, fold_label_disagrees, fold_overlap, not_a_folder]


@pytest.mark.parametrize("case", CASES, ids=[c.__name__ for c in CASES])
def test_bad_input_is_one_clean_line(tmp_path, run_cli, case):
    d = make_dataset(tmp_path / "d")
    where, problem = case(d)
    rc, out, err = run_cli("data", "info", "--data", d, "--seconds", SECONDS)
    assert rc == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tinyscene data: error: "), err
    assert where in lines[0] and problem in lines[0], lines[0]
    assert "Traceback" not in err


def test_bad_input_through_the_real_command(tmp_path):
    """The installed entry point: no traceback, exit 2, one line."""
    d = make_dataset(tmp_path / "d")
    wrong_rate(d)
    r = subprocess.run([sys.executable, "-m", "tinyscene", "data", "info", "--data", str(d),
                        "--seconds", str(SECONDS)], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "sample rate 44100 Hz" in r.stderr and "Traceback" not in r.stderr


def test_load_split_errors_are_ts_errors(tmp_path):
    d = make_dataset(tmp_path / "d")
    with pytest.raises(TsError, match="split 'dev'"):
        tau.load_split(d, "dev")
    with pytest.raises(TsError, match="fold2_train.csv: not found"):
        tau.load_split(d, "train", fold=2)
    (d / "meta.csv").write_text("filename\tscene_label\n../x.wav\tbus\n")
    with pytest.raises(TsError, match="relative to the data folder"):
        tau.read_meta(d)
