"""Where things are: the source tree (firmware, boards) and the per-user cache."""
from __future__ import annotations

import os
from pathlib import Path

# python/tinyscene/paths.py -> repository root (editable install; the package is not used outside its tree)
REPO_ROOT = Path(__file__).resolve().parents[2]
FIRMWARE_DIR = REPO_ROOT / "firmware"
BOARDS_DIR = REPO_ROOT / "boards"


def cache_dir() -> Path:
    """Per-user cache (host libraries, third-party sources, example audio). TS_CACHE_DIR overrides."""
    root = os.environ.get("TS_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "tinyscene")
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path
