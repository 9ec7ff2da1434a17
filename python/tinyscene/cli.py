"""The `tinyscene` command. Thin: parses arguments, calls the library, prints.

Each subsystem keeps its subcommands in its own `commands.py` with a `register(subparsers)`
function; heavy imports (torch, tensorflow) happen inside the command functions, so that
`tinyscene --help` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from tinyscene import __version__
from tinyscene.errors import TsError

# Order = order in `tinyscene --help`.
COMMAND_MODULES = [
    "tinyscene.data.commands",
    "tinyscene.frontend.commands",
    "tinyscene.train.commands",
    "tinyscene.slim.commands",
    "tinyscene.export.commands",
    "tinyscene.target.commands",
    "tinyscene.deploy.commands",
    "tinyscene.aot.commands",
    "tinyscene.runtimes.commands",
    "tinyscene.aot.kbench",
    "tinyscene.tflm.commands",
    "tinyscene.demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tinyscene",
        description="Acoustic-scene classifier: train in PyTorch, run bit-exact on a Cortex-M.")
    parser.add_argument("--version", action="version", version=f"tinyscene {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        rc = args.func(args)
    except TsError as e:
        print(f"tinyscene {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tinyscene {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    raise SystemExit(main())
