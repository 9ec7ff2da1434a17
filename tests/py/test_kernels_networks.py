"""Whole networks of the MLPerf Tiny shapes (aot_models.NETWORKS) with the optimized kernel families on the three
QEMU boards: bit-exact with tflite_micro on several inputs in one firmware run, deterministic counts, and the
optimized families clearly ahead of the reference kernels (the issue's figures are measured by `tinyscene
bench-kernels` on the full-size networks; here only sanity margins on the test networks)."""
from __future__ import annotations

import aot_models as M
import pytest

from tinyscene.aot.runner import run
from tinyscene.target.boards import load_board

N_INPUTS = 5


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return M.shared_dir(tmp_path_factory)


# Every network on the M4 and the M55; on the M7 (qemu-an500: the Armv7E-M family again, another core) one fast
# representative, the rest in the slow suite.
M7_FAST = "dscnn"
CASES = [(name, board) for name in M.NETWORKS for board in ("qemu-an386", "qemu-an547")] + \
    [pytest.param(name, "qemu-an500", marks=() if name == M7_FAST else pytest.mark.slow) for name in M.NETWORKS]


@pytest.mark.qemu
@pytest.mark.parametrize("name,board", CASES)
def test_network_bit_exact(name, board, model_dir, tmp_path):
    model = M.build(name, model_dir)
    inputs = M.random_inputs(model, N_INPUTS, seed=9)
    outs, report = run(model, load_board(board), inputs, kernels="auto", workdir=tmp_path, timeout=600)
    M.assert_bit_exact(model, outs, inputs)
    counts = report.instructions_per_input
    # the convolutions' instructions do not depend on the data (only softmax's and a few branches do, a little);
    # an input's count may also move by one counter tick with the tick's phase at the start of the invoke
    tick = load_board(board).counter.per_tick
    assert len(counts) == N_INPUTS and max(counts) - min(counts) <= max(0.0005 * max(counts), tick)


@pytest.mark.qemu
@pytest.mark.parametrize("name", ("resnet8", "dscnn"))
def test_optimized_families_beat_reference(name, model_dir, tmp_path):
    """M4: the Armv7E-M kernels at least 4x fewer instructions than the reference ones; M55: Helium at least
    1.8x fewer than the Armv7E-M kernels on the M4 (the issue's 5x and 2x are checked on the benchmark)."""
    model = M.build(name, model_dir)
    inputs = M.random_inputs(model, 1, seed=10)
    counts = {}
    for board, kernels in (("qemu-an386", "reference"), ("qemu-an386", "auto"), ("qemu-an547", "auto")):
        outs, report = run(model, load_board(board), inputs, kernels=kernels, workdir=tmp_path / f"{board}-{kernels}",
                           timeout=600)
        M.assert_bit_exact(model, outs, inputs)
        counts[board, kernels] = report.instructions
    assert counts["qemu-an386", "reference"] >= 4 * counts["qemu-an386", "auto"], counts
    assert counts["qemu-an386", "auto"] >= 1.8 * counts["qemu-an547", "auto"], counts
