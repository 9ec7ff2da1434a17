"""The whole-tensor execution order (aot/schedule.py): on a ResNet-8 the greedy order runs each projection
shortcut before the second convolution of its block (the block's input dies earlier), is a topological order of
the same ops, never raises the most bytes live at one moment, and gives those convolutions more free arena
(fewer passes of Winograd's transformed weights); the outputs stay bit-exact (host, poisoned arena)."""
from __future__ import annotations

import aot_models as M
import pytest

from tinyscene.aot.compiler import compile_graph
from tinyscene.aot.passes import run_passes
from tinyscene.aot.schedule import greedy_order, peak_bytes, reorder_for_memory
from tinyscene.aot.runner import run
from tinyscene.target.boards import load_board
from tinyscene.tflite.reader import read_tflite


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return M.shared_dir(tmp_path_factory)


def _graph(model):
    g = read_tflite(model)
    run_passes(g)
    return g


def test_projection_shortcut_runs_before_the_second_convolution(model_dir):
    g = _graph(M.build("resnet8", model_dir))
    order = greedy_order(g)
    assert sorted(order) == list(range(len(g.ops)))
    producer = {t: i for i, op in enumerate(g.ops) for t in op.outputs}
    pos = {op_i: k for k, op_i in enumerate(order)}
    for i, op in enumerate(g.ops):  # a topological order
        for t in op.inputs:
            if t in producer:
                assert pos[producer[t]] < pos[i]
    # the blocks with a stride: their 1x1 projection and their two 3x3 convolutions read the same tensor / chain
    projections = [i for i, op in enumerate(g.ops) if op.kind == "CONV_2D" and g.t(op.inputs[1]).shape[1:3] == (1, 1)]
    assert projections
    for pi in projections:
        x = g.ops[pi].inputs[0]
        first = next(i for i, op in enumerate(g.ops) if i != pi and op.kind == "CONV_2D" and op.inputs[0] == x)
        second = next(i for i, op in enumerate(g.ops) if op.kind == "CONV_2D" and op.inputs[0] in g.ops[first].outputs)
        assert pos[first] < pos[pi] < pos[second]  # the .tflite has the projection after the second
        assert pi > second
    assert peak_bytes(g, order) <= peak_bytes(g, list(range(len(g.ops))))


def test_reorder_gives_the_convolutions_more_room(model_dir):
    model = M.build("resnet8", model_dir)
    ordered = compile_graph(read_tflite(model), "armv7em")
    import tinyscene.aot.compiler as C

    keep = C.reorder_for_memory
    try:
        C.reorder_for_memory = lambda g: False
        tflite_order = compile_graph(read_tflite(model), "armv7em")
    finally:
        C.reorder_for_memory = keep

    def wino_passes(comp):
        out = []
        for L in comp.layers:
            if L.function == "ts_conv_wino_s8":
                pairs = (L.params["filter"][0] + 1) // 2
                n = (L.params.get("flags", 0) >> 8) & 0xFFFF
                out.append(-(-pairs // (n if 0 < n < pairs else pairs)))
        return out

    assert sum(wino_passes(ordered)) < sum(wino_passes(tflite_order))
    assert ordered.plan.arena_bytes <= tflite_order.plan.arena_bytes + 2048


def test_models_with_tflm_fills_keep_the_tflite_order(model_dir):
    g = _graph(M.build("resnet8", model_dir))
    g.ops[0].options["tflm_fills"] = []
    before = [op.index for op in g.ops]
    assert not reorder_for_memory(g)
    assert [op.index for op in g.ops] == before


def test_reordered_resnet_bit_exact_poisoned(model_dir, tmp_path):
    model = M.build("resnet8", model_dir)
    inputs = M.random_inputs(model, 3, seed=11)
    outs, _ = run(model, load_board("host"), inputs, workdir=tmp_path, poison_arena=True)
    M.assert_bit_exact(model, outs, inputs)
