"""The TAU Urban Acoustic Scenes 2020 3Class development layout: meta.csv, fold files, audio/.

    DIR/meta.csv                          tab-separated, header; columns `filename`, `scene_label` (+ others)
    DIR/evaluation_setup/fold1_train.csv  tab-separated, header `filename\\tscene_label`
    DIR/evaluation_setup/fold1_evaluate.csv   the same, or `filename` only (labels come from meta.csv)
    DIR/audio/<scene>-<city>-<location>-<segment>-<device>.wav    48 kHz, 24-bit, 2 channels, 10 s

`scene_label` may hold the three classes of the 3Class set or the ten scenes of TAU 2020; the
scenes map onto the classes as DCASE 2020 Task 1b does. Every problem with the layout is a
TsError naming the file (and line) and the problem.
"""
from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

from tinyscene.errors import TsError

# Class order = model output order.
CLASSES: tuple[str, ...] = ("indoor", "outdoor", "transportation")

# The ten TAU Urban Acoustic Scenes 2020 scenes and their DCASE 2020 Task 1b class.
SCENE_CLASS: dict[str, str] = {
    "airport": "indoor", "shopping_mall": "indoor", "metro_station": "indoor",
    "street_pedestrian": "outdoor", "public_square": "outdoor", "street_traffic": "outdoor", "park": "outdoor",
    "bus": "transportation", "tram": "transportation", "metro": "transportation",
}
SCENES: tuple[str, ...] = tuple(SCENE_CLASS)

META_FILE = "meta.csv"
SETUP_DIR = "evaluation_setup"
AUDIO_DIR = "audio"
SPLITS = ("train", "evaluate", "test")


@dataclass(frozen=True)
class Clip:
    """One audio segment of a data set."""

    path: Path              # absolute path of the wav
    filename: str           # as written in meta.csv (relative to the data folder, e.g. audio/x.wav)
    label: str              # class name, one of CLASSES
    scene: str | None       # one of SCENES when known (from the label or the file name), else None
    identifier: str         # recording location (meta.csv `identifier`, else <city>-<location> of the name)

    @property
    def class_index(self) -> int:
        return CLASSES.index(self.label)


def class_of(label: str) -> str:
    """The class name of a class or scene label; KeyError for anything else."""
    if label in CLASSES:
        return label
    return SCENE_CLASS[label]


def _known_labels() -> str:
    return f"the classes {', '.join(CLASSES)} or the scenes {', '.join(SCENES)}"


def _name_parts(filename: str) -> list[str]:
    return Path(filename).stem.split("-")


def _scene_from_name(filename: str) -> str | None:
    first = _name_parts(filename)[0]
    return first if first in SCENE_CLASS else None


def _identifier_from_name(filename: str) -> str:
    """TAU names are <scene>-<city>-<location>-<segment>-<device>; the location is <city>-<location>."""
    parts = _name_parts(filename)
    if len(parts) >= 5:
        return "-".join(parts[1:-2])
    return Path(filename).stem


def _read_table(path: Path, what: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """(header, [(line number, fields)]) of a tab-separated file with a header line."""
    if not path.is_file():
        raise TsError(f"{path}: not found ({what})")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise TsError(f"{path}: cannot read ({e})") from None
    rows = []
    for n, fields in enumerate(csv.reader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
        if not fields or all(not f.strip() for f in fields):
            continue
        rows.append((n, [f.strip() for f in fields]))
    if not rows:
        raise TsError(f"{path}: empty ({what})")
    return rows[0][1], rows[1:]


def _check_filename(path: Path, line: int, filename: str) -> None:
    p = Path(filename)
    if not filename or p.is_absolute() or ".." in p.parts:
        raise TsError(f"{path} line {line}: '{filename}' must be a path relative to the data folder")


def read_meta(data_dir: str | os.PathLike, check_files: bool = True) -> dict[str, Clip]:
    """All clips of meta.csv by filename. Checks labels, duplicates and (unless told not to) that
    every listed wav exists."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise TsError(f"{data_dir}: not a folder (expected a TAU data folder with {META_FILE}, "
                      f"{SETUP_DIR}/ and {AUDIO_DIR}/)")
    meta = data_dir / META_FILE
    header, rows = _read_table(meta, "the TAU meta file: tab-separated, header with filename and scene_label")
    if "filename" not in header or "scene_label" not in header:
        raise TsError(f"{meta}: header must name the tab-separated columns 'filename' and 'scene_label'; "
                      f"found {header!r}")
    i_name, i_label = header.index("filename"), header.index("scene_label")
    i_ident = header.index("identifier") if "identifier" in header else None
    if not rows:
        raise TsError(f"{meta}: lists no clips")
    clips: dict[str, Clip] = {}
    missing: list[tuple[int, str]] = []
    for line, f in rows:
        if len(f) <= max(i_name, i_label):
            raise TsError(f"{meta} line {line}: {len(f)} tab-separated field(s), the header has {len(header)}")
        name, label = f[i_name], f[i_label]
        _check_filename(meta, line, name)
        if label not in CLASSES and label not in SCENE_CLASS:
            raise TsError(f"{meta} line {line}: unknown scene label '{label}' for {name} "
                          f"(expected {_known_labels()})")
        if name in clips:
            raise TsError(f"{meta} line {line}: {name} is listed twice")
        cls = class_of(label)
        scene = label if label in SCENE_CLASS else _scene_from_name(name)
        if scene is not None and SCENE_CLASS[scene] != cls:
            scene = None
        ident = f[i_ident] if i_ident is not None and i_ident < len(f) and f[i_ident] else _identifier_from_name(name)
        clip = Clip(path=(data_dir / name).resolve(), filename=name, label=cls, scene=scene, identifier=ident)
        if check_files and not clip.path.is_file():
            missing.append((line, name))
        clips[name] = clip
    if missing:
        line, name = missing[0]
        more = f" ({len(missing)} listed files are missing in all)" if len(missing) > 1 else ""
        raise TsError(f"{meta} line {line}: {name}: no such file{more}")
    return clips


def fold_file(data_dir: str | os.PathLike, split: str, fold: int = 1) -> Path:
    return Path(data_dir) / SETUP_DIR / f"fold{fold}_{split}.csv"


def load_split(data_dir: str | os.PathLike, split: str = "train", fold: int = 1,
               meta: dict[str, Clip] | None = None) -> list[Clip]:
    """The clips of one split (`train`, `evaluate`, `test` = fold files; `all` = meta.csv), in file order.

    Labels come from meta.csv; a label in the fold file must agree with it.
    """
    if meta is None:
        meta = read_meta(data_dir)
    if split == "all":
        return list(meta.values())
    if split not in SPLITS:
        raise TsError(f"split '{split}': expected one of {', '.join(SPLITS)} or all")
    path = fold_file(data_dir, split, fold)
    if not path.is_file():
        raise TsError(f"{path}: not found (the fold {fold} {split} list of the TAU layout)")
    header, rows = _read_table(path, f"fold {fold} {split} list")
    if header and header[0] == "filename":
        i_label = header.index("scene_label") if "scene_label" in header else None
    else:  # no header line: filename [scene_label]
        rows = [(1, header)] + rows
        i_label = 1 if len(header) > 1 else None
    clips: list[Clip] = []
    seen: set[str] = set()
    meta_path = Path(data_dir) / META_FILE
    for line, f in rows:
        name = f[0]
        _check_filename(path, line, name)
        if name not in meta:
            where = "no such file" if not (Path(data_dir) / name).is_file() else "not in " + str(meta_path)
            raise TsError(f"{path} line {line}: {name}: {where}")
        if name in seen:
            raise TsError(f"{path} line {line}: {name} is listed twice")
        seen.add(name)
        clip = meta[name]
        if i_label is not None and i_label < len(f) and f[i_label]:
            label = f[i_label]
            if label not in CLASSES and label not in SCENE_CLASS:
                raise TsError(f"{path} line {line}: unknown scene label '{label}' for {name} "
                              f"(expected {_known_labels()})")
            if class_of(label) != clip.label:
                raise TsError(f"{path} line {line}: {name} is labelled '{label}' but meta.csv says "
                              f"'{clip.scene or clip.label}'")
        clips.append(clip)
    return clips


def check_folds(data_dir: str | os.PathLike, fold: int = 1, meta: dict[str, Clip] | None = None
                ) -> dict[str, list[Clip]]:
    """Both fold lists, checked for overlap (no clip may be in both)."""
    if meta is None:
        meta = read_meta(data_dir)
    splits = {s: load_split(data_dir, s, fold, meta) for s in ("train", "evaluate")}
    train = {c.filename for c in splits["train"]}
    for c in splits["evaluate"]:
        if c.filename in train:
            raise TsError(f"{fold_file(data_dir, 'evaluate', fold)}: {c.filename} is also in "
                          f"{fold_file(data_dir, 'train', fold).name}")
    return splits


def shared_locations(a: list[Clip], b: list[Clip]) -> set[str]:
    """Recording locations with clips in both lists (TAU keeps each location in one fold)."""
    return {c.identifier for c in a} & {c.identifier for c in b}


def class_counts(clips: list[Clip]) -> dict[str, int]:
    counts = dict.fromkeys(CLASSES, 0)
    for c in clips:
        counts[c.label] += 1
    return counts


def scene_counts(clips: list[Clip]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in clips:
        key = c.scene or "?"
        counts[key] = counts.get(key, 0) + 1
    return counts


def usual_mode(folder: Path) -> None:
    """Folders built under a temporary name (mkdtemp, mode 0700) get the permissions of any new folder."""
    mask = os.umask(0)
    os.umask(mask)
    os.chmod(folder, 0o777 & ~mask)
