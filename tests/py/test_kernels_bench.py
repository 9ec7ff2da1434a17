"""`tinyscene bench-kernels`: per-network and per-layer counts on two boards and both kernel families for a small
model, deterministic over repeated runs, bit-exact with tflite_micro, the layer counts adding up to the
whole, the files (markdown table, JSON, plot); and its errors."""
from __future__ import annotations

import json

import aot_models as M
import pytest


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return M.shared_dir(tmp_path_factory)


@pytest.mark.qemu
def test_bench_kernels_counts_and_files(run_cli, model_dir, tmp_path):
    model = M.build("convs", model_dir)
    rc, out, err = run_cli("bench-kernels", "--models", str(model), "--boards", "qemu-an386,qemu-an547",
                           "--kernels", "reference,auto", "--repeat", "2", "--out", tmp_path)
    assert rc == 0, err
    rep = json.loads((tmp_path / "bench-kernels.json").read_text())
    assert rep["deterministic"] and rep["repeat"] == 2
    runs = {(r["board"], r["kernels"]): r for r in rep["runs"]}
    assert set(runs) == {(b, k) for b in ("qemu-an386", "qemu-an547") for k in ("reference", "auto")}
    assert runs["qemu-an386", "auto"]["family"] == "armv7em" and runs["qemu-an547", "auto"]["family"] == "mve"
    for r in rep["runs"]:
        assert r["bit_exact"] is True
        assert r["instructions"] > 0 and r["macs"] > 0 and r["flash_kernels_bytes"] > 0
        layer_sum = sum(L["instructions"] for L in r["layers"])
        # the layers' counts cover the hooked invoke, a few instructions of hook per layer more than the total
        assert r["instructions"] <= layer_sum + 80 <= r["instructions"] * 1.05 + 80 * len(r["layers"]) + 80
    assert runs["qemu-an386", "auto"]["instructions"] < runs["qemu-an386", "reference"]["instructions"]
    md = (tmp_path / "bench-kernels.md").read_text()
    assert "| convs.tflite |" in md and "per layer" in md
    assert (tmp_path / "bench-kernels.png").read_bytes()[:4] == b"\x89PNG"
    assert "reference / this" in out


def test_bench_kernels_errors(run_cli, tmp_path):
    rc, _, err = run_cli("bench-kernels", "--models", "nosuchnet", "--out", tmp_path)
    assert rc == 2 and "unknown network 'nosuchnet'" in err
    rc, _, err = run_cli("bench-kernels", "--models", str(tmp_path / "missing.tflite"), "--out", tmp_path)
    assert rc == 2 and "does not exist" in err
    rc, _, err = run_cli("bench-kernels", "--models", "resnet8", "--kernels", "fastest", "--out", tmp_path)
    assert rc == 2 and "--kernels fastest" in err
    rc, _, err = run_cli("bench-kernels", "--models", "resnet8", "--boards", "host", "--kernels", "auto",
                         "--out", tmp_path)
    assert rc == 2 and "not emulated" in err
