"""The firmware's status codes (TS_STATUS_LIST of firmware/include/ts/status.h), for messages on the host."""
from __future__ import annotations

from tinyscene.target.cheader import xmacro

STATUS_TEXT: dict[int, str] = {value: text for _, value, text in xmacro("status.h", "TS_STATUS_LIST")}
STATUS_NAMES: dict[int, str] = {value: name for name, value, _ in xmacro("status.h", "TS_STATUS_LIST")}


def status_text(code: int) -> str:
    return STATUS_TEXT.get(int(code), f"unknown status {int(code)}")
