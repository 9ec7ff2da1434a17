"""Reading a JSON file a user may have edited or broken: one TsError naming the file, never a traceback."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tinyscene.errors import TsError


def read_json(path: str | os.PathLike, what: type | None = None) -> Any:
    """The JSON value in `path`; with `what` (dict, list), a value of another type is an error too."""
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TsError(f"{path}: not found") from None
    except (OSError, ValueError) as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise TsError(f"{path}: not readable JSON ({e})") from None
    if what is not None and not isinstance(value, what):
        raise TsError(f"{path}: expected a JSON {'object' if what is dict else what.__name__}, "
                      f"found {type(value).__name__}")
    return value
