"""`tinyscene bench --fail-on` and `tinyscene bench-kernels --fail-on`: limits parsed strictly (a malformed spec is
one line, exit 2, nothing written), every gate checked on the rows (ratio, flash, code, arena against TFLM +
CMSIS-NN, an output that is not bit-exact, a failed runtime), and the command's exit status 1 when one fails."""
from __future__ import annotations

import pytest

import aot_models as M
from tinyscene.errors import TsError
from tinyscene.runtimes.bench import Row, gate_failures, parse_fail_on


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return M.shared_dir(tmp_path_factory)


def test_fail_on_spec():
    assert parse_fail_on("ratio=0.8,flash=1.0,arena=1") == {"ratio": 0.8, "flash": 1.0, "arena": 1.0}
    assert parse_fail_on(" code=0.25 ") == {"code": 0.25}
    assert parse_fail_on(None) == {}
    for bad, words in (("ratio", "KEY=LIMIT"), ("speed=0.8", "KEY=LIMIT"), ("ratio=fast", "not a number"),
                       ("ratio=0", "positive"), ("ratio=-1", "positive"), ("", "KEY=LIMIT"),
                       ("ratio=0.8,,flash=1", "KEY=LIMIT")):
        with pytest.raises(TsError, match=words):
            parse_fail_on(bad)


def _rows(**aot) -> list[Row]:
    base = dict(model="m", board="qemu-an386", instructions=100, flash_bytes=1000, code_bytes=400, arena_bytes=50,
                exact=True)
    tflm = Row(runtime="tflm", **base)
    mine = Row(runtime="aot", **{**base, **aot})
    for r in (tflm, mine):
        r.ratio_to_tflm = r.instructions / tflm.instructions if r.instructions is not None else None
        r.flash_ratio = r.flash_bytes / tflm.flash_bytes
        r.code_ratio = r.code_bytes / tflm.code_bytes
        r.arena_ratio = r.arena_bytes / tflm.arena_bytes
    return [tflm, mine]


def test_gates_on_rows():
    limits = {"ratio": 0.8, "flash": 1.0, "arena": 1.0, "code": 0.25}
    assert gate_failures(_rows(instructions=70, flash_bytes=900, code_bytes=100, arena_bytes=50), limits) == []
    bad = gate_failures(_rows(instructions=81, flash_bytes=1001, code_bytes=101, arena_bytes=51), limits)
    assert [b.split(": ", 1)[1].split(" ")[0] for b in bad] == ["ratio", "flash", "arena", "code"]
    assert all(b.startswith("m on qemu-an386 (aot)") for b in bad)
    # a limit that is not asked for is not checked; bit-exactness always is
    assert gate_failures(_rows(instructions=200), {"flash": 1.0}) == []
    assert gate_failures(_rows(instructions=50, exact=False), {}) == ["m on qemu-an386 (aot): output differs from "
                                                                      "tflite_micro"]
    # no baseline, or a failed run, fails a gate rather than passing it
    rows = _rows(instructions=None)
    rows[1].status = "failed: boom"
    assert gate_failures(rows, {"ratio": 0.8}) == ["m on qemu-an386 (aot): failed: boom"]
    rows = _rows()
    rows[1].ratio_to_tflm = None
    assert "no ratio ratio" in gate_failures(rows, {"ratio": 0.8})[0]


def test_malformed_fail_on_is_one_line_exit_2(run_cli, tmp_path, model_dir):
    model = M.build("dense", model_dir)
    for cmd in (("bench", "--model", model, "--boards", "qemu-an386", "--runtimes", "aot,tflm"),
                ("bench-kernels", "--models", model, "--boards", "qemu-an386")):
        rc, out, err = run_cli(*cmd, "--out", tmp_path / "b", "--fail-on", "ratio=0.8,flash")
        assert rc == 2 and len(err.strip().splitlines()) == 1 and "--fail-on" in err, (cmd, err)
        assert not (tmp_path / "b").exists()
    rc, _, err = run_cli("bench", "--model", model, "--boards", "qemu-an386", "--runtimes", "aot",
                         "--fail-on", "ratio=0.8", "--out", tmp_path / "b")
    assert rc == 2 and "add tflm to --runtimes" in err


@pytest.mark.qemu
def test_bench_exit_status_follows_the_gates(run_cli, tmp_path, model_dir):
    """The same run passes generous limits and fails a strict one (exit 1, the failing ratio named)."""
    from tinyscene.target.boards import load_board
    from tinyscene.tflm import build as tb

    tb.ensure_library(load_board("qemu-an386"), progress=False)
    model = M.build("dscnn", model_dir)
    base = ("bench", "--model", model, "--boards", "qemu-an386", "--runtimes", "aot,tflm")
    rc, out, err = run_cli(*base, "--out", tmp_path / "ok", "--fail-on", "ratio=5,flash=5,arena=5")
    assert rc == 0, err
    header = (tmp_path / "ok" / "bench.csv").read_text().splitlines()[0].split(",")
    assert {"flash_ratio", "code_bytes", "code_ratio", "arena_ratio", "weight_bytes"} <= set(header)
    rc, out, err = run_cli(*base, "--out", tmp_path / "strict", "--fail-on", "ratio=0.01")
    assert rc == 1 and "FAIL: dscnn" in err and "ratio" in err, err
    assert (tmp_path / "strict" / "bench.md").exists()  # the table is written before the verdict
