"""The optimized kernel families on QEMU against the tflite_micro interpreter (bit-exact): the compiler's op
models (aot_models.OP_MODELS) and a model of the optimized kernels' own edge cases (odd channel counts and
sizes, every im2col path, Winograd, depthwise strides and multipliers, clamped activations, broadcast and
in-place adds), on the Cortex-M4 (armv7em), the Cortex-M7 (armv7em, compiled for M7) and the Cortex-M55 (mve);
plus the Armv7E-M kernels' exact requantisation path, forced. Several random inputs per firmware run."""
from __future__ import annotations

import aot_models as M
import pytest

from tinyscene.aot import fastkernels as FK
from tinyscene.aot.runner import run
from tinyscene.target.boards import load_board

BOARDS = ("qemu-an386", "qemu-an547", "qemu-an500")
FAMILY = {"qemu-an386": "armv7em", "qemu-an500": "armv7em", "qemu-an547": "mve"}


@M.case
def kernel_edges():
    """Shapes chosen for the optimized kernels' paths (see the module docstring)."""
    tf = M._tf(); K = tf.keras.layers; M._init(tf, 21)
    x0 = K.Input((7, 9, 16))
    he = "he_normal"
    a = K.Conv2D(5, 3, padding="same", kernel_initializer=he)(x0)                     # Winograd, odd channels
    b = K.Conv2D(7, 3, strides=2, padding="same", kernel_initializer=he)(x0)          # pair rows, stride 2
    c = K.Conv2D(3, (2, 5), padding="valid", activation="relu6", kernel_initializer=he)(x0)  # clamp, gather
    d = K.Conv2D(6, 1, strides=2, kernel_initializer=he)(K.Conv2D(6, 1)(x0))          # 1x1 on 6 channels
    e = K.Conv2D(4, 3, padding="same", kernel_initializer=he)(
        K.Conv2D(3, 1)(x0))                                                             # 3 input channels
    f = K.DepthwiseConv2D(3, padding="same")(x0)                                       # depthwise 3x3 /1
    g = K.DepthwiseConv2D(3, strides=2, padding="same", activation="relu6")(x0)        # /2, clamp
    h = K.DepthwiseConv2D(3, padding="valid", depth_multiplier=2)(x0)                  # multiplier 2
    i = K.Conv2D(12, 3, padding="same", groups=4, kernel_initializer=he)(
        K.Conv2D(12, 1)(x0))                                                            # grouped, 3 per group
    j = K.Dense(7, activation="relu")(K.Flatten()(b))                                  # dense, odd units
    sa = K.Conv2D(16, 1)(x0)
    k = K.ReLU(max_value=6.0)(K.Add()([x0, sa]))                                       # add, clamp
    m = K.Add()([sa, K.GlobalAveragePooling2D(keepdims=True)(x0)])                     # broadcast add
    n = K.MaxPooling2D(3, strides=2, padding="same")(K.Conv2D(6, 1)(x0))              # max pool, 6 channels
    o = K.AveragePooling2D((3, 3), strides=(2, 2), padding="same")(x0)                 # average pool
    q = K.Lambda(lambda t: tf.reduce_mean(t, axis=[1, 2]))(K.Conv2D(10, 1)(x0))       # mean, 10 channels
    r = K.Conv2D(40, 3, padding="same", kernel_initializer=he)(K.Conv2D(40, 1)(x0))   # Winograd, 10 groups
    s = K.Conv2D(6, 3, padding="same", kernel_initializer=he)(K.Conv2D(4, 1)(x0))     # pair rows + odd width
    return tf.keras.Model(x0, [a, b, c, d, e, f, g, h, i, j, k, m, n, o, q, r, s]), {}


@M.case
def kernel_edges_2():
    """More paths: convolutions over widened field rows (1 and 2 input channels), an average pool over whole
    rows longer than one flush (320 pixels), depthwise 3x3 rows of 4k + 0 / 2 outputs (four at a time)."""
    tf = M._tf(); K = tf.keras.layers; M._init(tf, 22)
    x0 = K.Input((20, 16, 8))
    he = "he_normal"
    one = K.Conv2D(1, 1)(x0)
    a = K.Conv2D(6, (10, 4), strides=2, padding="same", kernel_initializer=he)(one)  # field rows, 1 channel
    b = K.Conv2D(5, (3, 4), padding="same", kernel_initializer=he)(one)             # field rows, stride 1
    c = K.Conv2D(3, 2, padding="same", kernel_initializer=he)(K.Conv2D(2, 1)(x0))   # field rows, 2 channels
    d = K.AveragePooling2D((20, 16))(x0)                                             # 320-pixel run
    e = K.DepthwiseConv2D(3, padding="same")(x0)                                     # rows of 16 / 20
    f = K.DepthwiseConv2D(3, padding="same")(K.MaxPooling2D(2)(x0))                  # rows of 8 / 10
    g = K.DepthwiseConv2D(3, padding="same", activation="relu")(K.Conv2D(12, 1)(x0))  # 12 channels, relu
    return tf.keras.Model(x0, [a, b, c, d, e, f, g]), {}


MODELS = M.OP_MODELS + ("kernel_edges", "kernel_edges_2")
ROOMY = 1 << 20  # an arena budget that lets the compiler take its scratch-hungry variants everywhere


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return M.shared_dir(tmp_path_factory)


@pytest.mark.qemu
@pytest.mark.parametrize("board", BOARDS)
@pytest.mark.parametrize("name", MODELS)
def test_optimized_ops_bit_exact(name, board, model_dir, tmp_path):
    model = M.build(name, model_dir)
    inputs = M.random_inputs(model, 4, seed=7)
    outs, report = run(model, load_board(board), inputs, kernels="auto", workdir=tmp_path, timeout=300,
                       poison_arena=True)
    assert report.kernels == FAMILY[board]
    M.assert_bit_exact(model, outs, inputs)


@pytest.mark.qemu
@pytest.mark.parametrize("name", ("kernel_edges", "kernel_edges_2", "convs"))
@pytest.mark.parametrize("prefer", ("size", "speed"))
def test_roomy_variants_bit_exact(name, prefer, model_dir, tmp_path):
    """The variants the compiler takes where the arena has room (weights widened or Winograd-transformed per
    call, rows widened ahead, all channel pairs per pass) and the stored Winograd weights of --prefer speed,
    on the Cortex-M4: bit-exact too."""
    model = M.build(name, model_dir)
    inputs = M.random_inputs(model, 3, seed=12)
    outs, _ = run(model, load_board("qemu-an386"), inputs, kernels="auto", workdir=tmp_path, timeout=300,
                  prefer=prefer, arena_budget=ROOMY)
    M.assert_bit_exact(model, outs, inputs)


def test_edge_model_reaches_every_optimized_kernel(model_dir):
    """The edge-case model exercises each optimized kernel (else the test above would not cover it)."""
    from tinyscene.aot.compiler import compile_model

    model = M.build("kernel_edges", model_dir)
    used = {}
    for board in ("qemu-an386", "qemu-an547"):
        comp = compile_model(model, None, board=load_board(board), arena_budget=ROOMY)
        used[board] = {L.function for L in comp.layers} | {L.function for L in compile_model(
            model, None, board=load_board(board)).layers}
    # Winograd: made at run time (default, where the arena has room) and stored transformed (--prefer speed)
    speed = compile_model(model, None, board=load_board("qemu-an386"), prefer="speed")
    stored = [L for L in speed.layers if L.function == "ts_conv_wino_s8" and L.params.get("flags", 0) & 2]
    assert stored and speed.flash_breakdown()["expanded_weight_bytes"] > 0
    assert {"ts_conv_wino_s8", "ts_conv_widened_s8", "ts_conv_1x1_widened_s8", "ts_depthwise_conv_3x3_s8",
            "ts_depthwise_conv_s8", "ts_add_lut_s8", "ts_fully_connected_s8", "ts_max_pool_s8", "ts_avg_pool_s8",
            "ts_mean_s8"} <= used["qemu-an386"]
    assert {"ts_conv_s8", "ts_depthwise_conv_s8", "ts_depthwise_conv_planar_s8", "ts_add_lut_s8",
            "ts_fully_connected_s8"} <= used["qemu-an547"]


@pytest.mark.qemu
@pytest.mark.parametrize("name", ("convs", "kernel_edges"))
def test_exact_requantisation_path(name, model_dir, tmp_path, monkeypatch):
    """Layers whose fast records could overflow keep TFLite's multipliers and the kernels' exact path: forced
    here for every layer, still bit-exact."""
    monkeypatch.setattr(FK, "plan_requant", lambda *a, **k: FK.Requant(False, 1, None, "forced by the test"))
    model = M.build(name, model_dir)
    inputs = M.random_inputs(model, 3, seed=8)
    outs, _ = run(model, load_board("qemu-an386"), inputs, kernels="auto", workdir=tmp_path, timeout=300)
    M.assert_bit_exact(model, outs, inputs)
