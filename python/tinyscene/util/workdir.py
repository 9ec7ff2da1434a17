"""A command's work folder: the one the user named with --workdir (kept), or a temporary one."""
from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Iterator

from tinyscene.errors import TsError


@contextlib.contextmanager
def work_folder(path: str | None, prefix: str = "tinyscene-") -> Iterator[Path]:
    if path:
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise TsError(f"--workdir {p}: not a folder")
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise TsError(f"--workdir {p}: cannot create it ({e.strerror})") from None
        yield p
    else:
        with tempfile.TemporaryDirectory(prefix=prefix) as d:
            yield Path(d)
