"""The compiler's differential test: random int8 networks drawn from fixed seeds (aot/randnet.py: every op the
compiler accepts, odd sizes, strides, dilations, paddings, depth multipliers, groups, branches, concatenation,
residual add / mul, pools, activations, float I/O, the converter's SPACE_TO_BATCH_ND form of dilated
convolutions), converted by the TFLite converter, compiled, run on the host and on a QEMU board (qemu-an386, or
qemu-an547 for one seed in four) and compared with the tflite_micro interpreter, bit for bit. A failure prints
the seed, the network and `tinyscene compare`'s first difference; `tinyscene randnet --seed N` or
`pytest tests/py/test_aot_randnet.py --randnet-seed N` reproduces one."""
from __future__ import annotations

import pytest

from tinyscene.aot import randnet

FAST_SEEDS = list(range(24))  # make test: >= 20 networks compared
SLOW_SEEDS = list(range(1000, 1320))  # the slow suite: >= 300 networks
CHUNK = 6


@pytest.fixture(scope="session")
def randnet_dir(tmp_path_factory):
    import os

    base = tmp_path_factory.getbasetemp()
    return (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / f"randnet-{randnet.SOURCE_KEY}"


def _check(seeds, folder, workdir) -> tuple[int, int, list[str]]:
    compared, skipped, failures = 0, 0, []
    for s in seeds:
        for r in randnet.check(s, folder, workdir):
            if r.skipped:
                skipped += 1
            elif r.ok:
                compared += 1
            else:
                failures.append(r.message)
    return compared, skipped, failures


@pytest.mark.qemu
@pytest.mark.parametrize("chunk", range(len(FAST_SEEDS) // CHUNK))
def test_random_networks_bit_exact(chunk, randnet_dir, tmp_path):
    seeds = FAST_SEEDS[chunk * CHUNK:(chunk + 1) * CHUNK]
    compared, skipped, failures = _check(seeds, randnet_dir, tmp_path)
    assert not failures, "\n\n".join(failures)
    # host + one QEMU board per network; a network TFLM leaves partly undefined is not comparable
    assert compared == 2 * (len(seeds) - skipped) and skipped <= 2, (compared, skipped)


def test_fast_seeds_compare_at_least_20_networks(randnet_dir):
    """The fast seeds really give >= 20 comparable networks, and they cover what the generator promises."""
    from tinyscene.aot.compiler import compile_graph
    from tinyscene.tflite.reader import read_tflite

    kinds, comparable, options = set(), 0, set()
    for s in FAST_SEEDS:
        spec = randnet.network(s)
        g = read_tflite(randnet.model_path(s, randnet_dir))
        kinds |= {op.kind for op in g.ops}
        comp = compile_graph(g)
        comparable += not comp.warnings()
        for L in comp.layers:
            if L.op.kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
                options.add(("stride>1", max(L.info["stride"]) > 1))
                options.add(("dilation>1", max(L.info["dilation"]) > 1))
            if "depth_multiplier" in L.info:
                options.add(("multiplier>1", L.info["depth_multiplier"] > 1))
            if L.info.get("groups", 1) > 1:
                options.add(("groups", True))
        options.add(("branches", any(len(L.inputs) > 1 for L in spec.layers)))
    assert comparable >= 20
    assert {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "ADD", "MUL", "MAX_POOL_2D", "AVERAGE_POOL_2D",
            "MEAN", "CONCATENATION", "PAD", "RESHAPE", "SPACE_TO_BATCH_ND", "BATCH_TO_SPACE_ND"} <= kinds, kinds
    assert {("stride>1", True), ("dilation>1", True), ("multiplier>1", True), ("branches", True)} <= options


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("chunk", range(len(SLOW_SEEDS) // 20))
def test_random_networks_bit_exact_slow(chunk, randnet_dir, tmp_path):
    seeds = SLOW_SEEDS[chunk * 20:(chunk + 1) * 20]
    compared, skipped, failures = _check(seeds, randnet_dir, tmp_path)
    assert not failures, "\n\n".join(failures)
    assert compared == 2 * (len(seeds) - skipped) and skipped <= 5, (compared, skipped)


def test_randnet_seed(request, randnet_dir, tmp_path):
    """`pytest tests/py/test_aot_randnet.py --randnet-seed N` reproduces one network (skipped without it)."""
    seed = request.config.getoption("--randnet-seed")
    if seed is None:
        pytest.skip("no --randnet-seed given")
    print(randnet.network(seed).describe())
    compared, skipped, failures = _check([seed], randnet_dir, tmp_path)
    assert not failures, "\n\n".join(failures)


def test_same_seed_same_network():
    """A seed names one network on any machine: the draw is numpy's, not TensorFlow's."""
    assert randnet.network(7).describe() == randnet.network(7).describe()
    assert randnet.network(7).describe() != randnet.network(8).describe()
