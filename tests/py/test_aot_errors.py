"""Bad input to the compiler: an unsupported op or option, a float or int16 model, dynamic shapes, a corrupt
or truncated file, a model too big for the board's flash or an arena too big for its RAM. Each is one clear
TsError naming the op / index or the budget and the numbers, raised before anything is built."""
from __future__ import annotations

import dataclasses

import aot_models as M
import numpy as np
import pytest

from tinyscene.aot.compiler import compile_graph, compile_model
from tinyscene.aot.runner import run
from tinyscene.errors import TsError
from tinyscene.target.boards import Memory, load_board
from tinyscene.tflite.reader import read_tflite, read_tflite_bytes


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    return M.shared_dir(tmp_path_factory)


@pytest.fixture(scope="session")
def bad_models(tmp_path_factory):
    """Small models the compiler must refuse, converted once."""
    tf = M._tf()
    K = tf.keras.layers
    out = tmp_path_factory.mktemp("bad-models")
    rng = np.random.default_rng(0)

    def rep(shape):
        def gen():
            for _ in range(8):
                yield [rng.standard_normal((1, *shape)).astype(np.float32)]
        return gen

    paths = {}
    x0 = K.Input((6, 6, 2))
    m = tf.keras.Model(x0, K.LeakyReLU(0.1)(K.Conv2D(3, 3)(x0)))
    (out / "leaky.tflite").write_bytes(M.convert(m))
    paths["leaky"] = out / "leaky.tflite"

    x0 = K.Input((6, 6, 2))
    m = tf.keras.Model(x0, K.Conv2D(3, 3)(x0))
    (out / "float.tflite").write_bytes(tf.lite.TFLiteConverter.from_keras_model(m).convert())
    paths["float"] = out / "float.tflite"

    c = tf.lite.TFLiteConverter.from_keras_model(m)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = rep((6, 6, 2))
    c.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
    c.inference_input_type = tf.int16
    c.inference_output_type = tf.int16
    (out / "int16.tflite").write_bytes(c.convert())
    paths["int16"] = out / "int16.tflite"

    x0 = K.Input((None, 8))
    m = tf.keras.Model(x0, K.Conv1D(4, 3, padding="same")(x0))
    c = tf.lite.TFLiteConverter.from_keras_model(m)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = rep((5, 8))
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    c.inference_input_type = tf.int8
    c.inference_output_type = tf.int8
    (out / "dynamic.tflite").write_bytes(c.convert())
    paths["dynamic"] = out / "dynamic.tflite"
    return paths


def _nothing_built(workdir):
    return not any(p.name in ("model", "model.elf", "model.c") for p in workdir.rglob("*"))


def test_unsupported_op_names_the_op_and_index(bad_models, tmp_path):
    with pytest.raises(TsError, match=r"op \d+ LEAKY_RELU: unsupported op"):
        run(bad_models["leaky"], load_board("host"), [np.zeros((1, 6, 6, 2), np.int8)], workdir=tmp_path)
    assert _nothing_built(tmp_path)


def test_unsupported_option_names_the_op_and_option(model_dir):
    g = read_tflite(M.build("grouped", model_dir))
    conv = next(op for op in g.ops if op.kind == "CONV_2D")
    conv.options["fused_activation_function"] = 4  # TANH: no int8 clamp for it
    with pytest.raises(TsError, match=rf"op {conv.index} CONV_2D: fused activation TANH is not supported"):
        compile_graph(g)
    g = read_tflite(M.build("grouped", model_dir))
    next(op for op in g.ops if op.kind == "CONV_2D").options["padding"] = 7
    with pytest.raises(TsError, match="CONV_2D: padding mode 7 is not supported"):
        compile_graph(g)


def test_float_model_is_refused(bad_models, tmp_path):
    with pytest.raises(TsError, match=r"op 0 CONV_2D: input .* is float32: a float model"):
        run(bad_models["float"], load_board("host"), [np.zeros((1, 6, 6, 2), np.float32)], workdir=tmp_path)
    assert _nothing_built(tmp_path)


def test_int16_model_is_refused(bad_models):
    with pytest.raises(TsError, match="int16"):
        compile_model(bad_models["int16"], None)


def test_dynamic_shapes_are_refused(bad_models):
    with pytest.raises(TsError, match=r"input tensor 0 .* dynamic shape \[-1, -1, 8\]"):
        read_tflite(bad_models["dynamic"])


def test_corrupt_and_truncated_files(model_dir, tmp_path):
    blob = M.build("dense", model_dir).read_bytes()
    with pytest.raises(TsError, match="not a TFLite model"):
        read_tflite_bytes(b"\x00" * 100, "zeros")
    with pytest.raises(TsError, match="not a TFLite model"):
        read_tflite_bytes(blob[:12], "tiny")
    with pytest.raises(TsError, match="corrupt or truncated"):
        read_tflite_bytes(blob[: len(blob) // 2], "half")
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(blob[:4] + b"XXXX" + blob[8:])
    with pytest.raises(TsError, match="no 'TFL3'"):
        compile_model(bad, None)
    with pytest.raises(TsError, match="cannot read"):
        read_tflite(tmp_path / "missing.tflite")


def test_random_corruption_never_escapes_as_a_traceback(model_dir):
    """Bytes flipped anywhere: the compiler either still compiles (the flip hit weights or a value it accepts) or
    raises one TsError, one line naming the file or the op; both outcomes occur (the test reaches the structure,
    not only the weights), and nothing else escapes."""
    import re

    blob = bytearray(M.build("dense", model_dir).read_bytes())
    rng = np.random.default_rng(0)
    compiled, errors = 0, []
    for _ in range(60):
        b = bytearray(blob)
        for pos in rng.integers(8, len(b), size=int(rng.integers(1, 4))):
            b[int(pos)] = int(rng.integers(0, 256))
        try:
            compile_graph(read_tflite_bytes(bytes(b), "flipped"))
            compiled += 1
        except TsError as e:
            errors.append(str(e))
    assert compiled >= 10 and len(errors) >= 10, (compiled, len(errors))
    for msg in errors:
        assert "\n" not in msg and re.match(r"^(flipped: |op \d+ )", msg), msg


def test_model_too_big_for_flash_names_the_numbers(model_dir):
    board = dataclasses.replace(load_board("qemu-an547"), flash=Memory(0x10000000, 128 * 1024))
    with pytest.raises(TsError, match=r"does not fit board 'qemu-an547' flash: model weights and tables [\d,]+ B = [\d,]+ B > "
                                      r"[\d,]+ B \(131,072 B less"):
        compile_model(M.build("autoencoder", model_dir), None, board=board)


def test_arena_too_big_for_ram_names_the_numbers(model_dir):
    board = dataclasses.replace(load_board("qemu-an386"), ram=Memory(0x20000000, 96 * 1024), ext_ram=None)
    with pytest.raises(TsError, match=r"does not fit board 'qemu-an386' RAM: needs model arena [\d,]+ B = [\d,]+ B; the board "
                                      r"has [\d,]+ B of RAM left"):
        compile_model(M.build("resnet8", model_dir), None, board=board)


def test_big_arena_moves_to_external_ram(model_dir):
    board = dataclasses.replace(load_board("qemu-an386"), ram=Memory(0x20000000, 96 * 1024))
    comp = compile_model(M.build("resnet8", model_dir), None, board=board)
    assert comp.arena_section == ".ext_bss"


def test_cli_error_is_one_line(bad_models, tmp_path, run_cli):
    np.save(tmp_path / "x.npy", np.zeros((1, 6, 6, 2), np.float32))
    rc, out, err = run_cli("run", "--model", bad_models["float"], "--board", "host", "--input", tmp_path / "x.npy",
                           "--out", tmp_path / "y.npy")
    assert rc == 2
    assert err.count("\n") == 1 and err.startswith("tinyscene run: error: op 0 CONV_2D")
