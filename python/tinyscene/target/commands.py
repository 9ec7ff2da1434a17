"""`tinyscene build`, `tinyscene emulate`, `tinyscene boards`."""
from __future__ import annotations

import argparse
from pathlib import Path


def _build(args: argparse.Namespace) -> int:
    from tinyscene.target.apps import get_app
    from tinyscene.target.boards import load_board
    from tinyscene.target.build import build_firmware

    board = load_board(args.board)
    result = build_firmware(board, get_app(args.app), Path(args.out))
    print(result.summary(board))
    return 0


def _emulate(args: argparse.Namespace) -> int:
    from tinyscene.errors import TsError
    from tinyscene.target.boards import load_board
    from tinyscene.target.qemu import echo, run_firmware

    board = load_board(args.board)
    fw_args = [a for a in args.args if a != "--"]
    result = run_firmware(board, Path(args.elf), fw_args, timeout=args.timeout, on_output=echo)
    if result.fault:
        raise TsError(f"{board.name}: firmware fault: {result.fault}")
    if result.exit_code != 0:
        print(f"tinyscene emulate: {Path(args.elf).name} exited with code {result.exit_code}")
    return result.exit_code


def _boards(args: argparse.Namespace) -> int:
    from tinyscene.target.boards import board_names, load_board

    for name in board_names():
        b = load_board(name)
        kind = f"QEMU {b.qemu.machine}" if b.qemu else ("host" if b.is_host else f"flash: {b.flash_tool.tool}")
        print(f"{name:16s} {b.cpu:11s} {kind:20s} {b.description}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build", help="build a firmware app for a board into an ELF")
    p.add_argument("--board", required=True, help="a folder of boards/ (see `tinyscene boards`)")
    p.add_argument("--app", required=True, help="firmware app (e.g. selftest)")
    p.add_argument("--out", required=True, help="output ELF (or host executable)")
    p.set_defaults(func=_build)

    p = sub.add_parser("emulate", help="run an ELF under QEMU (semihosting) and return its exit code")
    p.add_argument("--board", required=True)
    p.add_argument("--elf", required=True)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds before a hang is an error (default 60)")
    p.add_argument("args", nargs=argparse.REMAINDER, help="-- ARGS...: the firmware's command line")
    p.set_defaults(func=_emulate)

    p = sub.add_parser("boards", help="list the boards (boards/*/board.yaml)")
    p.set_defaults(func=_boards)
