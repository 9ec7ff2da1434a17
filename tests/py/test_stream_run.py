"""Streamed execution end to end: the generated model_stream.c fed row by row (the `model_stream` app) gives
exactly tflite_micro's outputs and exactly the whole-tensor build's (runtime aot), on the host (with every
dead ring row, every unused ring slot and the shared region poisoned between layers) and under QEMU with the
optimized kernels (Armv7E-M on qemu-an386, Helium on qemu-an547): tinyscene's own paper ResNet exported
through the export path (time on W), a DS-CNN streamed along H, random streamable networks. The paper network
at full size runs streamed on qemu-an386-128k (128 KB of RAM) within 1.05x the whole-tensor instructions."""
from __future__ import annotations

import numpy as np
import pytest

import aot_models as M
import stream_models as SM
from tinyscene.aot.runner import run as run_whole
from tinyscene.aot.streamrunner import run as run_stream
from tinyscene.target.boards import load_board

FAST_RANDOM = [1, 2, 3, 4]
SLOW_RANDOM = list(range(5, 41))


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return SM.shared_dir(tmp_path_factory)


def axis_of(name: str) -> str:
    return {"paperlike": "W", "dscnn": "H"}.get(name) or SM.random_axis(name)


def check(name, board, model_dir, tmp_path, n=3, kernels="auto", poison=None):
    model = SM.build(name, model_dir)
    b = load_board(board)
    xs = M.random_inputs(model, n, seed=7)
    outs, rep = run_stream(model, b, xs, kernels=kernels, workdir=tmp_path / "s", stream_axis=axis_of(name),
                           poison_arena=b.is_host if poison is None else poison)
    M.assert_bit_exact(model, outs, xs)
    whole, wrep = run_whole(model, b, xs, kernels=kernels, workdir=tmp_path / "w")
    for k, (a, w) in enumerate(zip(outs, whole)):
        assert np.array_equal(a, w), f"{name} input {k}: streamed {a.reshape(-1)} vs whole-tensor {w.reshape(-1)}"
    assert rep.arena_bytes < wrep.arena_bytes
    return rep, wrep


@pytest.mark.parametrize("name", ["paperlike", "dscnn"])
def test_host_bit_exact_poisoned(name, model_dir, tmp_path):
    check(name, "host", model_dir, tmp_path)


@pytest.mark.parametrize("seed", FAST_RANDOM)
def test_random_networks_host(seed, model_dir, tmp_path):
    check(f"random_{seed}", "host", model_dir, tmp_path, n=2)


@pytest.mark.slow
@pytest.mark.parametrize("seed", SLOW_RANDOM)
def test_random_networks_host_many(seed, model_dir, tmp_path):
    check(f"random_{seed}", "host", model_dir, tmp_path, n=2)


@pytest.mark.qemu
@pytest.mark.parametrize("name", ["paperlike", "dscnn", "random_1", "random_3"])
def test_qemu_an386_armv7em(name, model_dir, tmp_path):
    rep, wrep = check(name, "qemu-an386", model_dir, tmp_path, n=2)
    assert rep.kernels == "armv7em"
    assert rep.extra["instructions_per_row_max"] < rep.instructions


@pytest.mark.qemu
@pytest.mark.parametrize("name", ["paperlike", "random_4"])
def test_qemu_an547_helium(name, model_dir, tmp_path):
    rep, _ = check(name, "qemu-an547", model_dir, tmp_path, n=2)
    assert rep.kernels == "mve"


@pytest.mark.qemu
def test_paper_network_fits_128k_within_5_percent(tmp_path):
    """The paper network at its full size (256 mels x 288 frames x 2, 137 M MACs; random weights) streamed on a
    Cortex-M4 whose linker has 128 KB of RAM: bit-exact with tflite_micro, in at most 1.05x the instructions of
    the whole-tensor build with the same kernel variants (qemu-an386; arena_budget 0: none of the variants that
    fill free arena bytes with widened weights or rows, which the streamed build does not take either), whose
    arena (over 256 KB) needs a 4 MB board."""
    from tinyscene.aot.benchnets import network_path

    model = network_path("paper")
    xs = M.random_inputs(model, 1, seed=3)
    outs, rep = run_stream(model, load_board("qemu-an386-128k"), xs, workdir=tmp_path / "s", stream_axis="W")
    M.assert_bit_exact(model, outs, xs)
    assert rep.arena_bytes < 64 * 1024 and rep.kernels == "armv7em"
    whole, wrep = run_whole(model, load_board("qemu-an386"), xs, workdir=tmp_path / "w", arena_budget=0)
    assert np.array_equal(outs[0], whole[0]) and wrep.arena_bytes > 256 * 1024
    assert rep.instructions <= 1.05 * wrep.instructions, (rep.instructions, wrep.instructions)


def test_cli_compile_run_and_refusal(model_dir, tmp_path, run_cli):
    model = SM.build("dscnn", model_dir)
    rc, out, err = run_cli("compile", model, "--out", tmp_path / "gen", "--stream", "time", "--stream-axis", "H")
    assert rc == 0, err
    assert {p.name for p in (tmp_path / "gen").iterdir()} == {"model_stream.c", "model_stream.h",
                                                              "stream_report.json"}
    assert "streamed along H" in out and "RAM: rings" in out
    x = M.random_inputs(model, 2, seed=1)
    np.save(tmp_path / "x.npy", np.stack(x))
    rc, out, err = run_cli("run", "--model", model, "--board", "host", "--input", tmp_path / "x.npy", "--out",
                           tmp_path / "y.npy", "--runtime", "aot-stream", "--stream-axis", "H")
    assert rc == 0, err
    M.assert_bit_exact(model, list(np.load(tmp_path / "y.npy")), x)
    mlp = SM.build("mlp", model_dir)
    rc, out, err = run_cli("compile", mlp, "--out", tmp_path / "mlp", "--stream", "time")
    assert rc == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert " RESHAPE: reshapes " in err and "cannot be streamed" in err and not (tmp_path / "mlp").exists()
