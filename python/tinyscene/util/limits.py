"""A command's `--fail-on KEY=LIMIT,...` spec: named positive limits, parsed strictly (a malformed spec is one
TsError naming the part, before any work)."""
from __future__ import annotations

from typing import Iterable

from tinyscene.errors import TsError


def parse_limits(spec: str | None, keys: Iterable[str], option: str = "--fail-on") -> dict[str, float]:
    """"ratio=0.8,flash=1.0" -> {"ratio": 0.8, "flash": 1.0}, each key one of `keys`, each limit > 0; None -> {}."""
    if spec is None:
        return {}
    keys = list(keys)
    out: dict[str, float] = {}
    for part in spec.split(","):
        key, eq, val = part.strip().partition("=")
        if not eq or key.strip() not in keys:
            raise TsError(f"{option}: '{part.strip()}' is not KEY=LIMIT with KEY one of {', '.join(keys)}")
        try:
            limit = float(val)
        except ValueError:
            raise TsError(f"{option}: '{part.strip()}': the limit '{val}' is not a number") from None
        if not limit > 0:
            raise TsError(f"{option}: '{part.strip()}': the limit must be positive")
        out[key.strip()] = limit
    if not out:
        raise TsError(f"{option}: no KEY=LIMIT given")
    return out
