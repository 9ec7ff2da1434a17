"""The `tflm` (TFLM + CMSIS-NN) and `tflm-ref` (TFLM reference kernels) runtimes: the compiler issue's
whole networks (DS-CNN and ResNet-8 of the MLPerf Tiny shapes, built with Keras in tests/py/aot_models.py)
bit-exact with the tflite_micro Python interpreter on the host and on qemu-an386, and on qemu-an547
(Helium); instructions per MAC against ../shared/ANCHORS.md; per-operator counts and tensors; the arena
too small (the size needed is named), an operator TFLM lacks, a Helium build for a CPU without it;
`tinyscene run --runtime tflm` and `tinyscene bench` (deterministic). The TFLM libraries are built
once per CPU kind (by `make setup`, or here on a fresh machine) and reused."""
from __future__ import annotations

import json

import aot_models as M
import numpy as np
import pytest

from tinyscene.errors import TsError
from tinyscene.runtimes.dispatch import run_model
from tinyscene.target.boards import load_board
from tinyscene.tflm import build as tb
from tinyscene.tflm import runner

# ../shared/ANCHORS.md: MACs of the MLPerf Tiny shapes (the networks of aot_models are those shapes).
ANCHOR_MACS = {"dscnn": 2_656_768, "resnet8": 12_501_632}
N_INPUTS = 3


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return M.shared_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def tflm_lib():
    """The library of a board's CPU kind: from the cache, or built now under a lock (xdist workers
    wait for one build)."""
    def get(board: str) -> tb.Library:
        return tb.ensure_library(load_board(board), progress=False)

    return get


def _check(model, board, runtime, inputs, tmp_path, tflm_lib, **kw):
    tflm_lib(board)
    outs, rep = run_model(model, board, inputs, runtime=runtime, workdir=tmp_path / f"{board}-{runtime}", **kw)
    ref = M.tflm_outputs(model, inputs)
    for k, (o, r) in enumerate(zip(outs, ref)):
        assert np.array_equal(o.reshape(r[0].shape), r[0]), f"{runtime} on {board}: input {k} differs from tflite_micro"
    return rep


@pytest.mark.parametrize("board", ["host", pytest.param("qemu-an386", marks=pytest.mark.qemu)])
@pytest.mark.parametrize("name", ["dscnn", "resnet8"])
def test_network_bit_exact_tflm_and_ref(name, board, model_dir, tmp_path, tflm_lib):
    model = M.build(name, model_dir)
    inputs = M.random_inputs(model, N_INPUTS, seed=3)
    reps = {rt: _check(model, board, rt, inputs, tmp_path, tflm_lib) for rt in ("tflm", "tflm-ref")}
    for rt, rep in reps.items():
        assert rep.runtime == rt and rep.kernels == ("cmsis-nn" if rt == "tflm" else "tflm-reference")
        assert rep.macs == ANCHOR_MACS[name]
        assert rep.flash_model_bytes == model.stat().st_size
        assert rep.flash_bytes > rep.flash_model_bytes
        # TFLM's own arena_used_bytes, below the arena compiled in
        assert 0 < rep.arena_bytes <= rep.extra["arena_capacity"]
    if board == "host":
        assert reps["tflm"].instructions is None and reps["tflm"].stack_bytes is None
        return
    tflm, ref = reps["tflm"], reps["tflm-ref"]
    assert len(tflm.instructions_per_input) == N_INPUTS
    assert tflm.instructions == max(tflm.instructions_per_input)
    assert 0 < tflm.stack_bytes < load_board(board).stack_size
    # ANCHORS.md: TFLM + CMSIS-NN on the M4 at 2.2-3.3 instructions per MAC for these networks; the
    # reference kernels 3.6-5.6x more (the acceptance floor is 2.5x)
    assert 2.2 <= tflm.instructions_per_mac <= 3.3, tflm.instructions_per_mac
    assert ref.instructions / tflm.instructions >= 2.5


@pytest.mark.qemu
def test_helium_build_on_qemu_an547(model_dir, tmp_path, tflm_lib):
    model = M.build("dscnn", model_dir)
    inputs = M.random_inputs(model, 2, seed=4)
    rep = _check(model, "qemu-an547", "tflm", inputs, tmp_path, tflm_lib)
    ref = _check(model, "qemu-an547", "tflm-ref", inputs, tmp_path, tflm_lib)
    assert rep.extra["cpu_kind"].startswith("armv8.1m-mve")
    # ANCHORS.md: 0.68 instructions per MAC with Helium (vs 2.9 on the M4)
    assert rep.instructions_per_mac < 1.2, rep.instructions_per_mac
    assert ref.instructions / rep.instructions > 5


@pytest.mark.qemu
def test_per_layer_counts_and_tensors(model_dir, tmp_path, tflm_lib):
    """Per operator: ticks around each operator (their sum is the invoke's count to within the profiler's
    own calls) and every operator's output, equal to the tflite_micro interpreter's kept tensors."""
    from tflite_micro.python.tflite_micro import runtime as tflm_rt

    from tinyscene.tflite.reader import read_tflite

    model = M.build("dscnn", model_dir)
    x = M.random_inputs(model, 1, seed=5)
    rep = _check(model, "qemu-an386", "tflm", x, tmp_path, tflm_lib, dump_layers=tmp_path / "layers")
    outs, rep = runner.run(model, load_board("qemu-an386"), x, runtime="tflm", workdir=tmp_path / "p",
                           per_layer=True, progress=False)
    info = read_tflite(model)
    assert [r["op"] for r in rep.per_layer] == [o.kind for o in info.ops]
    total = sum(r["instructions"] for r in rep.per_layer)
    assert abs(total - rep.instructions) < 0.02 * rep.instructions
    kernels = {r["op"]: r["kernel"] for r in rep.per_layer}
    assert kernels["CONV_2D"] == kernels["DEPTHWISE_CONV_2D"] == "cmsis-nn" and kernels["RESHAPE"] == "tflm-reference"
    assert sum(r["macs"] for r in rep.per_layer) == ANCHOR_MACS["dscnn"]

    it = tflm_rt.Interpreter.from_file(str(model), intrepreter_config=tflm_rt.InterpreterConfig.kPreserveAllTensors)
    it.set_input(x[0], 0)
    it.invoke()
    index = json.loads((tmp_path / "layers" / "layers.json").read_text())
    assert [e["op"] for e in index["layers"]] == [o.kind for o in info.ops]
    for e in index["layers"]:
        got = np.load(tmp_path / "layers" / e["file"])[0]
        want = np.asarray(it.GetTensor(e["tensor"], 0)["tensor_data"]).reshape(got.shape)
        assert np.array_equal(got, want), f"operator {e['layer']} ({e['op']})"


def test_arena_too_small_names_the_size_needed(model_dir, tmp_path, tflm_lib):
    model = M.build("dscnn", model_dir)
    x = M.random_inputs(model, 1, seed=1)
    tflm_lib("host")
    _, rep = runner.run(model, load_board("host"), x, runtime="tflm", workdir=tmp_path / "ok", progress=False)
    with pytest.raises(TsError) as e:
        runner.run(model, load_board("host"), x, runtime="tflm", workdir=tmp_path / "small", arena_bytes=4096,
                   progress=False)
    msg = str(e.value)
    assert "a tensor arena of 4,096 bytes is too small" in msg
    assert f"it needs {rep.arena_bytes:,} bytes" in msg


def _with_opcode(src, dst, old: str, new: str) -> None:
    """A copy of a .tflite with the operator code `old` replaced by `new` (flatbuffers, TFLite's schema)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as s

    m = s.ModelT.InitFromPackedBuf(src.read_bytes(), 0)
    code = getattr(s.BuiltinOperator, new)
    for oc in m.operatorCodes:
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) == getattr(s.BuiltinOperator, old):
            oc.builtinCode = code
            oc.deprecatedBuiltinCode = min(code, s.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    dst.write_bytes(bytes(b.Output()))


def test_operator_tflm_lacks_is_named(model_dir, tmp_path):
    from tinyscene.tflite.reader import read_tflite

    src = M.build("dscnn", model_dir)
    bad = tmp_path / "gelu.tflite"
    _with_opcode(src, bad, "SOFTMAX", "GELU")
    where = next(o.index for o in read_tflite(bad).ops if o.kind == "GELU")
    x = M.random_inputs(src, 1)
    with pytest.raises(TsError, match=rf"gelu\.tflite: operator GELU \(operator #{where}\) is not supported by "
                                      "TensorFlow Lite Micro"):
        runner.run(bad, load_board("host"), x, runtime="tflm", workdir=tmp_path / "w", progress=False)
    assert not (tmp_path / "w" / "tflm-tflm-host.elf").exists()


def test_helium_build_for_a_cpu_without_it(model_dir, tmp_path):
    model = M.build("dscnn", model_dir)
    with pytest.raises(TsError, match=r"qemu-an386: a Helium \(MVE\) build was asked for, but cortex-m4 has no Helium"):
        runner.run(model, load_board("qemu-an386"), M.random_inputs(model, 1), runtime="tflm", kernels="mve",
                   workdir=tmp_path, progress=False)
    with pytest.raises(TsError, match="has no Helium"):
        tb.cpu_kind(load_board("host"), "mve")
    # M4 and M7 share one Armv7E-M + DSP library; the M55 has its own
    kinds = {b: tb.cpu_kind(load_board(b)).label for b in ("qemu-an386", "qemu-an500", "qemu-an547")}
    assert kinds["qemu-an386"] == kinds["qemu-an500"] != kinds["qemu-an547"]


def test_cli_run_runtime_tflm(model_dir, tmp_path, run_cli, tflm_lib):
    model = M.build("dscnn", model_dir)
    x = M.random_inputs(model, 2, seed=8)
    np.save(tmp_path / "in.npy", np.stack(x))
    tflm_lib("host")
    rc, out, err = run_cli("run", "--model", model, "--board", "host", "--runtime", "tflm", "--input",
                           tmp_path / "in.npy", "--out", tmp_path / "out.npy", "--json", tmp_path / "r.json")
    assert rc == 0, err
    ref = M.tflm_outputs(model, x)
    got = np.load(tmp_path / "out.npy")
    assert all(np.array_equal(got[k].reshape(ref[k][0].shape), ref[k][0]) for k in range(2))
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["runtime"] == "tflm" and rep["kernels"] == "cmsis-nn"
    for key in ("instructions", "arena_bytes", "flash_bytes", "stack_bytes"):
        assert key in rep
    assert rep["arena_bytes"] > 0 and rep["flash_bytes"] > rep["flash_model_bytes"] > 0


@pytest.mark.qemu
def test_bench_side_by_side_and_deterministic(model_dir, tmp_path, run_cli, tflm_lib):
    model = M.build("dscnn", model_dir)
    tflm_lib("qemu-an386")
    csvs = []
    for k in range(2):
        out = tmp_path / f"b{k}"
        rc, stdout, err = run_cli("bench", "--model", model, "--boards", "qemu-an386", "--runtimes",
                                  "tflm,tflm-ref,nosuch", "--out", out)
        assert rc == 0, err
        csvs.append((out / "bench.csv").read_text())
        assert (out / "bench.md").exists() and (out / "bench.png").stat().st_size > 1000
    assert csvs[0] == csvs[1]
    rows = {r.split(",")[2]: r.split(",") for r in csvs[0].splitlines()[1:]}
    head = csvs[0].splitlines()[0].split(",")
    col = {h: i for i, h in enumerate(head)}
    assert rows["tflm"][col["ratio_to_tflm"]] == "1.0"
    assert float(rows["tflm-ref"][col["ratio_to_tflm"]]) >= 2.5
    assert rows["tflm"][col["exact"]] == rows["tflm-ref"][col["exact"]] == "True"
    assert "unknown runtime" in rows["nosuch"][col["status"]]
    assert "| dscnn.tflite | qemu-an386 | tflm | cmsis-nn |" in stdout


@pytest.mark.qemu
@pytest.mark.parametrize("name", ["mobilenet", "autoencoder"])
def test_more_networks_with_cmsis_nn_helium(name, model_dir, tmp_path, tflm_lib):
    """Fast representative of the test below: two more networks (depthwise-separable, fully connected)
    on the Cortex-M55 with CMSIS-NN's Helium kernels, bit-exact with tflite_micro."""
    model = M.build(name, model_dir)
    rep = _check(model, "qemu-an547", "tflm", M.random_inputs(model, 2, seed=4), tmp_path, tflm_lib)
    assert rep.kernels == "cmsis-nn" and rep.instructions > 0


@pytest.mark.slow
@pytest.mark.qemu
@pytest.mark.parametrize("board", ["host", "qemu-an386", "qemu-an547"])
@pytest.mark.parametrize("name", M.NETWORKS)
def test_every_network_every_board(name, board, model_dir, tmp_path, tflm_lib):
    """Every whole network of the compiler issue, both TFLM runtimes, on the host, the M4 and the M55."""
    model = M.build(name, model_dir)
    inputs = M.random_inputs(model, 4, seed=9)
    for rt in ("tflm", "tflm-ref"):
        _check(model, board, rt, inputs, tmp_path, tflm_lib)


def test_failed_library_build_leaves_nothing_and_key_follows_flags(tmp_path, monkeypatch):
    """A library whose compilation fails is an error naming the file, and leaves no library (nor a
    temporary folder) in the cache; the cache key changes with the flags."""
    tree = tb.source_tree()
    bad = tmp_path / "broken.cc"
    bad.write_text("this is not C++;\n")
    root = tmp_path / "tflm-cache"
    monkeypatch.setattr(tb, "source_tree", lambda: tree)
    monkeypatch.setattr(tb, "library_root", lambda: root)
    monkeypatch.setattr(tb, "core_sources", lambda t: [bad])
    monkeypatch.setattr(tb, "kernel_files", lambda d: ({}, []))
    monkeypatch.setattr(tb, "cmsis_nn_sources", lambda t: [])
    monkeypatch.setattr(tb, "COMMON_REGISTRATIONS", [])
    with pytest.raises(TsError, match=r"compiling .*broken\.cc for host failed"):
        tb.ensure_library(load_board("host"), progress=False)
    assert [p.name for p in root.iterdir() if not p.name.endswith(".lock")] == []
    kind = tb.cpu_kind(load_board("host"))
    key = tb.library_key(kind, tree)
    monkeypatch.setattr(tb, "KERNEL_OPT", "-O3")
    assert tb.library_key(kind, tree) != key
