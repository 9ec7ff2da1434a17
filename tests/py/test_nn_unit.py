"""C unit tests of the int8 kernels (tests/c/nn/nn_unit.c) for each kernel family: the reference kernels built for
the host, the Armv7E-M overlays on qemu-an386 (Cortex-M4) and the Helium overlays on qemu-an547 (Cortex-M55).
Besides its hand-checked vectors, the program runs vectors of the tflite_micro interpreter written here into
nn_unit_vectors.c: one converted model whose every output is one op (max and average pooling, softmax, logistic,
tanh) straight on the model input, a few random inputs, and the kernel parameters the compiler derives for each
op (aot lowering), so that each kernel is called alone on the interpreter's numbers."""
from __future__ import annotations

import numpy as np
import pytest

import aot_models as M
from tinyscene.paths import REPO_ROOT
from tinyscene.target.apps import App
from tinyscene.target.boards import load_board
from tinyscene.target.build import build_firmware
from tinyscene.target.qemu import run_firmware

UNIT_SRC = REPO_ROOT / "tests" / "c" / "nn" / "nn_unit.c"
FAMILIES = [("host", "reference"), pytest.param("qemu-an386", "armv7em", marks=pytest.mark.qemu),
            pytest.param("qemu-an547", "mve", marks=pytest.mark.qemu)]
N_INPUTS = 3


class UnitApp(App):
    @property
    def main_source(self):
        return UNIT_SRC


def _model(tmp) -> bytes:
    tf = M._tf()
    K = tf.keras.layers
    x0 = K.Input((7, 9, 12), batch_size=1)
    outs = [K.MaxPooling2D(3, strides=2, padding="same")(x0),
            K.AveragePooling2D((2, 3), strides=(1, 2), padding="valid")(x0),
            K.AveragePooling2D((7, 9), padding="valid")(x0),  # the whole image: one window of 63 pixels
            K.Softmax()(x0), K.Activation("sigmoid")(x0), K.Activation("tanh")(x0)]
    return M.convert(tf.keras.Model(x0, outs), seed=3)


def _c(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f".{k} = {_c(x)}" for k, x in v.items()) + "}"
    if isinstance(v, np.ndarray):
        v = v.reshape(-1).tolist()
    if isinstance(v, (tuple, list)):
        return "{" + ", ".join(_c(x) for x in v) + "}"
    return str(int(v))


CALLS = {"ts_max_pool_s8": ("ts_pool_params_t", "ts_max_pool_s8(&p, in, out);"),
         "ts_avg_pool_s8": ("ts_pool_params_t", "ts_avg_pool_s8(&p, in, out, scratch);"),
         "ts_softmax_s8": ("ts_softmax_params_t", "ts_softmax_s8(&p, in, out);"),
         "ts_logistic_s8": ("ts_sigmoid_params_t", "ts_logistic_s8(&p, in, out);"),
         "ts_tanh_s8": ("ts_sigmoid_params_t", "ts_tanh_s8(&p, in, out);")}


@pytest.fixture(scope="module")
def vectors_c(tmp_path_factory) -> str:
    """nn_unit_vectors.c: per op of the model, its parameters (from the compiler's lowering), and per input the
    tflite_micro interpreter's output of that op."""
    from tinyscene.aot.compiler import compile_graph
    from tinyscene.tflite.reader import read_tflite

    tmp = tmp_path_factory.mktemp("nn-unit")
    model = tmp / "ops.tflite"
    model.write_bytes(_model(tmp))
    g = read_tflite(model)
    comp = compile_graph(g, "reference")
    inputs = M.random_inputs(model, N_INPUTS, seed=4)
    want = M.tflm_outputs(model, inputs)  # [input][output]
    x_id = g.inputs[0]
    lines = ['#include "ts/nn.h"', "", "int nn_unit_check(const char *what, const int8_t *got, const int8_t *want, "
             "int32_t n);", "", "static int32_t scratch[2048];", "static int8_t out[8192];", ""]
    for k, x in enumerate(inputs):
        lines.append(f"static const int8_t in{k}[] = {_c(np.asarray(x).reshape(-1))};")
    body, count, seen = [], 0, set()
    for L in comp.layers:
        assert L.function in CALLS and L.inputs == [x_id], (L.function, L.inputs)
        ptype, call = CALLS[L.function]
        j = g.outputs.index(L.outputs[0])
        lines.append(f"static const {ptype} p{L.index} = {_c(L.params)};")
        for k in range(N_INPUTS):
            y = np.asarray(want[k][j]).reshape(-1)
            lines.append(f"static const int8_t want{L.index}_{k}[] = {_c(y)};")
            body += ["    {", f"        const {ptype} p = p{L.index};", f"        const int8_t *in = in{k};",
                     f"        {call}",
                     f'        nn_unit_check("tflite_micro {L.op.kind} (op {L.op.index}) input {k}", out, '
                     f"want{L.index}_{k}, {y.size});", "    }"]
            count += 1
        seen.add(L.function)
    assert seen == set(CALLS), seen
    lines += ["", "int nn_unit_vectors(void)", "{", "    (void)scratch;", *body, f"    return {count};", "}", ""]
    return "\n".join(lines)


@pytest.mark.parametrize("board,family", FAMILIES)
def test_kernel_family_unit_vectors(board, family, vectors_c, tmp_path):
    src = tmp_path / "nn_unit_vectors.c"
    src.write_text(vectors_c)
    b = load_board(board)
    defines = {"TS_NN_UNIT_REFERENCE": 1} if family == "reference" else {}
    fw = build_firmware(b, UnitApp("nn_unit", "int8 kernel unit tests", ("rt", "nn")), tmp_path / "nn_unit.elf",
                        extra_sources=[src], defines=defines, kernel_family=family)
    r = run_firmware(b, fw.elf, [], cwd=tmp_path, timeout=120)
    assert r.ok and "0 failures" in r.output and "FAIL" not in r.output, r.output[-3000:]
    n = int(r.output.split("nn-unit: ")[-1].split(" checks")[0])
    assert n == (38 if family == "reference" else 34), r.output[-500:]  # 16 hand (+4 reference), 18 generated
