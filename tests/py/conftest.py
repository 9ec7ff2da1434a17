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


# A run that has learned: synthetic data (16 clips per scene, 2 s), the tiny front-end, the paper model,
# 10 epochs (about 25 s on 2 cores). Built once per test session and shared by the xdist workers.
LEARNED_FE = {"name": "tiny2s", "sample_rate": 16000, "n_fft": 512, "hop_length": 512, "n_mels": 32,
              "channels": 2, "clip_seconds": 2.0}


def _shared_dir(tmp_path_factory):
    base = tmp_path_factory.getbasetemp()
    # under xdist each worker has basetemp/popen-gwN: their parent is this session's, shared by all
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def build_once(tmp_path_factory, name: str, build) -> "os.PathLike":
    """Run build(root) once per session (across xdist workers) into a shared folder; returns it."""
    import shutil

    from filelock import FileLock

    shared = _shared_dir(tmp_path_factory)
    root = shared / name
    with FileLock(str(shared / f"{name}.lock")):
        if not (root / "done").is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            build(root)
            (root / "done").write_text("ok")
    return root


@pytest.fixture(scope="session")
def learned(tmp_path_factory):
    """{'data', 'run', 'fe'}: a run trained well enough that its int8 export passes the default ladder."""
    import json

    from tinyscene.cli import main

    def build(root):
        (root / "fe.json").write_text(json.dumps(LEARNED_FE))
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()) as err:
            rc = main(["data", "synth", "--out", str(root / "data"), "--clips-per-scene", "16", "--seconds", "2",
                       "--seed", "3"])
            assert rc == 0, err.getvalue()[-2000:]
            # Whether such a small run exports with no int8 disagreement is a matter of its seed (previous
            # front-end: seed 1 clean, seed 2 failing the ladder); with front-end arithmetic 2, seed 6 is the
            # first clean one (seeds 1-5: 1 to 4 of the 50 evaluate clips disagree).
            rc = main(["train", "--data", str(root / "data"), "--model", "paper", "--features", str(root / "fe.json"),
                       "--out", str(root / "run"), "--epochs", "10", "--seed", "6"])
            assert rc == 0, err.getvalue()[-2000:]

    root = build_once(tmp_path_factory, "learned-run", build)
    return {"data": root / "data", "run": root / "run", "fe": root / "fe.json"}
