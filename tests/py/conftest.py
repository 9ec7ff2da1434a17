"""Shared pytest fixtures. Tests run the CLI in-process through `run_cli` (argv list -> rc, stdout, stderr)."""
from __future__ import annotations

import contextlib
import io
import os

import pytest

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture
def run_cli():
    """Run `tinyscene ARGS...` in this process; returns (exit code, stdout, stderr)."""
    from tinyscene.cli import main

    def run(*argv: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                rc = main([str(a) for a in argv])
            except SystemExit as e:  # argparse errors
                rc = e.code if isinstance(e.code, int) else 2
        return rc, out.getvalue(), err.getvalue()

    return run


def pytest_addoption(parser):
    parser.addoption("--randnet-seed", type=int, default=None,
                     help="test_aot_randnet.py: check the random network of this seed (tinyscene randnet --seed N)")
