"""Constants of the firmware's public C headers, read by Python so that the two sides cannot drift:
plain `#define NAME <integer>` lines and X-macro lists `X(NAME, value, "text")`."""
from __future__ import annotations

import functools
import re
from pathlib import Path

from tinyscene.paths import FIRMWARE_DIR

INCLUDE_DIR = FIRMWARE_DIR / "include" / "ts"
_DEFINE = re.compile(r"^\s*#define\s+(\w+)\s+(0[xX][0-9a-fA-F]+|\d+)[uUlL]*\b", re.MULTILINE)


@functools.cache
def defines(header: str) -> dict[str, int]:
    """{NAME: value} of the integer #defines of firmware/include/ts/<header>."""
    text = (INCLUDE_DIR / header).read_text()
    return {m.group(1): int(m.group(2), 0) for m in _DEFINE.finditer(text)}


@functools.cache
def xmacro(header: str, macro: str) -> list[tuple[str, int, str]]:
    """[(NAME, value, text)] of the X-macro list `macro` in firmware/include/ts/<header>."""
    text = (INCLUDE_DIR / header).read_text()
    m = re.search(rf"#define\s+{macro}\(X\)((?:.*\\\n)*.*)", text)
    if not m:
        raise KeyError(f"{Path(header).name}: no X-macro list {macro}")
    items = re.findall(r'X\(\s*(\w+)\s*,\s*(0[xX][0-9a-fA-F]+|\d+)\s*,[^"]*"([^"]*)"\s*\)', m.group(1))
    return [(name, int(value, 0), text_) for name, value, text_ in items]
