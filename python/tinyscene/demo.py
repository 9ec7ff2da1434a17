"""`tinyscene demo`: the main job end to end on synthetic data, with a summary at the end."""
from __future__ import annotations

import argparse
import time
from pathlib import Path


def _stage(title: str) -> float:
    print(f"\n=== {title}", flush=True)
    return time.monotonic()


def run_demo(args: argparse.Namespace) -> int:
    from tinyscene.data.synth import synth
    from tinyscene.device.apps import get_app
    from tinyscene.device.boards import load_board
    from tinyscene.device.build import build_firmware
    from tinyscene.device.qemu import echo, run_firmware
    from tinyscene.errors import TsError

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    summary: list[tuple[str, str]] = []

    t = _stage("synthesise a small data set in the TAU layout")
    data = out / "data"
    clips = synth(data, args.clips_per_scene, seconds=10.0, seed=args.seed, force=True, progress=True)
    summary.append(("data", f"{len(clips)} clips in {data} ({time.monotonic() - t:.0f} s)"))

    t = _stage(f"firmware smoke test on {args.board}")
    board = load_board(args.board)
    build = build_firmware(board, get_app("selftest"), out / "selftest.elf")
    print(build.summary(board))
    result = run_firmware(board, build.elf, cwd=out, timeout=60, on_output=echo)
    if not result.ok:
        raise TsError(f"{args.board}: selftest failed ({result.fault or f'exit {result.exit_code}'})")
    summary.append(("selftest", f"{args.board}: PASS ({time.monotonic() - t:.0f} s)"))

    print("\n=== summary")
    for k, v in summary:
        print(f"{k:10s} {v}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="the whole pipeline on synthetic data (what `make demo` runs)")
    p.add_argument("--out", default="build/demo", help="working folder (default build/demo)")
    p.add_argument("--board", default="qemu-an386", help="emulated board (default qemu-an386)")
    p.add_argument("--clips-per-scene", type=int, default=4)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=run_demo)
