"""Programming a real board: pyOCD or OpenOCD, as board.yaml `flash_tool` says (overridable).

board.yaml:
    flash_tool:
      tool: openocd                      # the default programmer
      target: "-f interface/stlink.cfg -f target/stm32l4x.cfg"   # for the default tool
      openocd_target: "..."              # optional: the other tool's target, when --tool overrides
      pyocd_target: stm32l4r5zitx
"""
from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tinyscene.errors import TsError
from tinyscene.target.boards import Board

TOOLS = ("pyocd", "openocd")
NO_PROBE = ("no available debug probe", "no probe", "unable to find a matching", "open failed",
            "could not find", "libusb_open() failed", "no device found", "error: no stlink")


def _flash_section(board: Board) -> dict:
    d = yaml.safe_load((board.path / "board.yaml").read_text()) or {}
    return d.get("flash_tool") or {}


def flash_target(board: Board, tool: str) -> str:
    if board.flash_tool is None:
        raise TsError(f"board '{board.name}' has no flash_tool in its board.yaml"
                      + (" (it is emulated: use tinyscene parity / emulate)" if board.is_emulated else ""))
    if tool == board.flash_tool.tool and board.flash_tool.target:
        return board.flash_tool.target
    t = _flash_section(board).get(f"{tool}_target")
    if not t:
        raise TsError(f"{board.path / 'board.yaml'}: flash_tool has no {tool}_target for --tool {tool}")
    return str(t)


def _pyocd_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("pyocd")
    if exe.exists():
        return [str(exe)]
    found = shutil.which("pyocd")
    return [found] if found else [sys.executable, "-m", "pyocd"]


def flash_command(board: Board, image: Path, tool: str | None = None) -> list[str]:
    """The exact programming command for `image` on `board`."""
    tool = tool or (board.flash_tool.tool if board.flash_tool else None)
    if tool not in TOOLS:
        raise TsError(f"--tool {tool}: expected one of {', '.join(TOOLS)}")
    target = flash_target(board, tool)
    image = Path(image).resolve()
    extra = list(board.flash_tool.extra_args) if board.flash_tool and tool == board.flash_tool.tool else []
    if tool == "pyocd":
        return [*_pyocd_cmd(), "load", "--target", target, "--format", "elf", *extra, str(image)]
    return ["openocd", *shlex.split(target), *extra, "-c", f"program {image} verify reset exit"]


def flash_image(board: Board, image: Path, tool: str | None = None, *, dry_run: bool = False,
                timeout: float = 300.0) -> list[str]:
    """Program `image`; returns the command. A missing programmer or probe is a clear TsError."""
    cmd = flash_command(board, image, tool)
    if dry_run:
        return cmd
    tool = tool or board.flash_tool.tool
    if tool == "openocd" and not shutil.which("openocd"):
        raise TsError("openocd not found on PATH: `make setup` installs it (Debian package openocd), or use "
                      "--tool pyocd")
    if tool == "pyocd":
        _check_pyocd_probe()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TsError(f"{tool} did not finish programming {board.name} within {timeout:g} s") from None
    out = (r.stdout + "\n" + r.stderr).strip()
    if r.returncode != 0:
        low = out.lower()
        if any(s in low for s in NO_PROBE):
            raise TsError(f"no debug probe connected: plug {board.description} in over its ST-LINK USB "
                          f"connector ({tool} found no probe)")
        if "target type" in low and "not recognized" in low:
            raise TsError(f"pyOCD does not know target '{flash_target(board, 'pyocd')}': install its device "
                          f"pack once with `pyocd pack install {flash_target(board, 'pyocd')}`")
        last = out.splitlines()[-1] if out else f"exit code {r.returncode}"
        raise TsError(f"{tool} failed to program {board.name}: {last}")
    return cmd


def _check_pyocd_probe() -> None:
    try:
        from pyocd.core.helpers import ConnectHelper
    except ImportError:
        raise TsError("pyocd is not installed in this environment (make setup)") from None
    try:
        probes = ConnectHelper.get_all_connected_probes(blocking=False, print_wait_message=False)
    except Exception as e:  # USB back-ends missing etc.
        raise TsError(f"pyocd cannot list debug probes: {e}") from None
    if not probes:
        raise TsError("no debug probe connected: plug the board in over its ST-LINK USB connector "
                      "(pyocd found no probe)")
