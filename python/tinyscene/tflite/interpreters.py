"""The reference interpreters every check of tinyscene compares against, behind one small interface each:
the PyTorch model, onnxruntime on the ONNX export, LiteRT on the int8 .tflite (reference or optimized
kernels) and tflite_micro (TFLM's Python interpreter: the bit-exactness oracle of the device). Inputs are
batches along the first axis; outputs come back stacked, one row per input.

torch, onnxruntime, LiteRT and TensorFlow are imported inside the functions that use them: each costs
seconds to import, and most commands need none of them."""
from __future__ import annotations

import numpy as np

from tinyscene.errors import TsError
from tinyscene.tflite.reader import read_tflite_bytes
from tinyscene.util.quiet import import_tf, quiet


def run_torch(model, x_nchw: np.ndarray) -> np.ndarray:
    import torch

    model = model.eval()
    outs = []
    with torch.no_grad():
        for x in x_nchw:
            outs.append(model(torch.from_numpy(np.ascontiguousarray(x[None], dtype=np.float32))).numpy()[0])
    return np.stack(outs).astype(np.float32)


def run_onnx(onnx_path, x_nchw: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return np.stack([sess.run(None, {name: np.ascontiguousarray(x[None], dtype=np.float32)})[0][0]
                     for x in x_nchw]).astype(np.float32)


def litert_interpreter(data: bytes, reference: bool):
    """LiteRT (ai_edge_litert) interpreter: reference kernels, or the optimized builtin kernels
    without the XNNPACK delegate."""
    with quiet():
        try:
            from ai_edge_litert.interpreter import Interpreter, OpResolverType
        except ImportError:  # older stacks: TensorFlow's own copy
            tf = import_tf()
            Interpreter, OpResolverType = tf.lite.Interpreter, tf.lite.experimental.OpResolverType
        kind = OpResolverType.BUILTIN_REF if reference else OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
        it = Interpreter(model_content=data, experimental_op_resolver_type=kind, num_threads=1)
        it.allocate_tensors()
    return it


def run_litert(data: bytes, q_nhwc: np.ndarray, reference: bool = True) -> np.ndarray:
    it = litert_interpreter(data, reference)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    res = []
    for q in q_nhwc:
        it.set_tensor(inp["index"], np.ascontiguousarray(q.reshape(inp["shape"]), dtype=np.int8))
        it.invoke()
        res.append(it.get_tensor(out["index"]).reshape(-1).copy())
    return np.stack(res)


def arena_upper_bound(data: bytes) -> int:
    """Room enough for every non-constant tensor at once plus TFLM's bookkeeping: an arena with which the
    interpreter always allocates (tinyscene.tflite.arena measures what it really uses)."""
    g = read_tflite_bytes(data)
    act = sum(t.nbytes for t in g.tensors.values() if t.data is None and t.shape)
    return int(act + 64 * 1024 + 512 * (len(g.tensors) + len(g.ops)))


def tflm_interpreter(data: bytes, arena_size: int | None = None):
    """The tflite_micro interpreter on `data` (reference kernels), with an arena that always fits unless
    `arena_size` says otherwise; a model it refuses is a TsError with the interpreter's last words."""
    from tflite_micro.python.tflite_micro import runtime as tflm

    with quiet() as cap:
        try:
            it = tflm.Interpreter.from_bytes(data, arena_size=arena_size or arena_upper_bound(data))
        except Exception as e:  # noqa: BLE001 - the interpreter raises RuntimeError/ValueError/... on a bad model
            err = e
            it = None
    if it is None:
        raise TsError(f"tflite_micro: cannot load the model ({err}) {cap.tail(2)}".strip())
    return it


def run_tflm(data: bytes, q_nhwc: np.ndarray, shape=None) -> np.ndarray:
    it = tflm_interpreter(data)
    det = it.get_input_details(0)
    shape = det["shape"] if shape is None else shape
    res = []
    for q in q_nhwc:
        it.set_input(np.ascontiguousarray(q.reshape(shape), dtype=np.int8), 0)
        it.invoke()
        res.append(np.asarray(it.get_output(0)).reshape(-1).copy())
    return np.stack(res)
