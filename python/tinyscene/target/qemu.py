"""Run firmware: under QEMU for emulated boards (semihosting for console, files, arguments and the
exit code; -icount shift=0 so the tick counter counts executed instructions), or natively for the
host build. A fault or a hang is a clear error, never a silent pass."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from tinyscene.errors import TsError
from tinyscene.target.boards import Board

QEMU = "qemu-system-arm"
FAULT_LINE = re.compile(r"^FAULT: (.*)$", re.MULTILINE)


@dataclass
class RunResult:
    exit_code: int
    output: str
    seconds: float
    fault: str | None = None  # "HardFault pc=... " when the firmware reported a fault

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.fault is None


def _qemu_arg(value: str) -> str:
    if " " in value:
        raise TsError(f"firmware argument '{value}' contains a space (the semihosting command line "
                      "is split on spaces)")
    return value.replace(",", ",,")


def qemu_command(board: Board, elf: Path, args: Sequence[str] = (), serial: str | None = None) -> list[str]:
    if not board.is_emulated:
        raise TsError(f"board '{board.name}' is not emulated (no qemu section in its board.yaml)")
    sh = ",".join(["enable=on", "target=native", f"arg={_qemu_arg(Path(elf).name)}",
                   *[f"arg={_qemu_arg(a)}" for a in args]])
    return [QEMU, "-M", board.qemu.machine, "-cpu", board.qemu.cpu, "-nographic", "-monitor", "none",
            "-serial", serial or "null", "-semihosting-config", sh,
            "-icount", "shift=0,align=off,sleep=off", "-kernel", str(elf)]


def run_firmware(board: Board, elf: Path, args: Sequence[str] = (), *, timeout: float = 60.0,
                 cwd: Path | None = None, serial: str | None = None,
                 on_output: Callable[[str], None] | None = None) -> RunResult:
    """Run `elf` on `board` (QEMU or host) and wait for it to exit.

    `on_output` receives the console output line by line as it comes (e.g. print, for streaming).
    Raises TsError on a hang past `timeout` seconds or when the emulator cannot start.
    """
    elf = Path(elf).resolve()
    if not elf.exists():
        raise TsError(f"{elf}: no such firmware image")
    if board.is_host:
        cmd = [str(elf), *args]
    else:
        if not shutil.which(QEMU):
            raise TsError(f"'{QEMU}' not found on PATH (run `make setup`)")
        cmd = qemu_command(board, elf, args, serial=serial)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    except OSError as e:
        raise TsError(f"cannot start {cmd[0]}: {e}") from None
    chunks: list[str] = []

    def pump() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = raw.decode(errors="replace")
            chunks.append(line)
            if on_output:
                on_output(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        reader.join(timeout=2)
        tail = "".join(chunks)[-300:].strip().replace("\n", " | ")
        raise TsError(f"{board.name}: {elf.name} hung: no exit after {timeout:g} s"
                      + (f" (last output: {tail})" if tail else "")) from None
    reader.join(timeout=5)
    output = "".join(chunks)
    fault = None
    m = FAULT_LINE.search(output)
    if m:
        fault = m.group(1).strip()
    elif "Lockup" in output or "qemu: fatal" in output:
        fault = next(ln for ln in output.splitlines() if "Lockup" in ln or "fatal" in ln).strip()
    if board.is_host and rc < 0:
        fault = f"signal {-rc}"
    return RunResult(exit_code=rc, output=output, seconds=time.monotonic() - start, fault=fault)


def echo(line: str) -> None:
    sys.stdout.write(line)
    sys.stdout.flush()
