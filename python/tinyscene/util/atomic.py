"""Write files and folders so that a reader never sees them half-written: temporary name, then rename."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from tinyscene.errors import TsError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _usual_mode(path: Path, directory: bool) -> None:
    """mkstemp/mkdtemp create private (0600/0700) entries; give them the modes of a normal open/mkdir."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it is renamed onto `path`, on error removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    _usual_mode(tmp_path, directory=False)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | os.PathLike, text: str) -> Path:
    return write_bytes(path, text.encode())


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    return write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def save_npy(path: str | os.PathLike, array) -> Path:
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, array)
    return Path(path)


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike, force: bool = False) -> Iterator[Path]:
    """Build a folder under a temporary name and rename it into place when the block succeeds.

    Refuses an existing `path` unless `force` (then the old folder is replaced only on success).
    """

    path = Path(path)
    if path.exists() and not force:
        raise TsError(f"{path}: already exists (use --force to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    _usual_mode(tmp, directory=True)
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_files(files: dict) -> list[Path]:
    """Write several files all or none: {path: str | bytes}. Every file is first written under a temporary
    name beside its target; only when all are written are they renamed into place. A target that is a
    folder, or a folder that cannot be made, fails before anything is written."""

    targets = [(Path(p), v.encode() if isinstance(v, str) else bytes(v)) for p, v in files.items()]
    for p, _ in targets:
        if p.is_dir():
            raise TsError(f"{p}: is a folder, not a file")
        try:
            p.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TsError(f"{p.parent}: cannot create the folder ({e.strerror})") from None
    temps: list[Path] = []
    try:
        for p, data in targets:
            fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
            temps.append(Path(tmp))
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            _usual_mode(Path(tmp), directory=False)
        for (p, _), tmp in zip(targets, temps):
            os.replace(tmp, p)
    except OSError as e:
        raise TsError(f"{e.filename or targets[0][0]}: cannot write ({e.strerror})") from None
    finally:
        for tmp in temps:
            if tmp.exists():
                tmp.unlink()
    return [p for p, _ in targets]
