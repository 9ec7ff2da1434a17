"""Small int8 TFLite models for the compiler's tests, built with Keras and the TFLite converter
(full-integer quantisation with a representative dataset), and a cache so that pytest workers convert
each model once per session. Each op model has several outputs, one per case, so that one conversion
and one firmware run cover many parameter combinations."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

CASES: dict[str, callable] = {}


def case(fn):
    CASES[fn.__name__] = fn
    return fn


def _tf():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


def convert(model, *, float_io: bool = False, per_channel: bool = True, dense_per_channel: bool = True,
            seed: int = 0) -> bytes:
    tf = _tf()
    shapes = [tuple(int(d) for d in i.shape[1:]) for i in model.inputs]
    rng = np.random.default_rng(seed)

    def rep():
        for _ in range(24):
            yield [rng.standard_normal((1, *s)).astype(np.float32) for s in shapes]

    c = tf.lite.TFLiteConverter.from_keras_model(model)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.representative_dataset = rep
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        c.inference_input_type = tf.int8
        c.inference_output_type = tf.int8
    if not per_channel:
        c._experimental_disable_per_channel = True
    if not dense_per_channel:
        c._experimental_disable_per_channel_quantization_for_dense_layers = True
    return c.convert()


def _init(tf, seed):
    tf.random.set_seed(seed)
    tf.keras.utils.set_random_seed(seed)


@case
def convs():
    """CONV_2D / DEPTHWISE_CONV_2D: paddings, strides, dilations, kernel shapes, depth multipliers, groups,
    fused activations."""
    tf = _tf(); K = tf.keras.layers; _init(tf, 1)
    x0 = K.Input((9, 10, 6), batch_size=1)  # a static batch: VALID dilations stay native CONV_2D options
    outs = [
        K.Conv2D(8, 3, padding="same", activation="relu")(x0),
        K.Conv2D(5, 3, strides=2, padding="valid")(x0),
        K.Conv2D(4, (3, 2), strides=(2, 1), padding="same", activation="relu6")(x0),
        K.Conv2D(6, 3, dilation_rate=(2, 3), padding="valid")(x0),
        K.Conv2D(7, 1)(x0),
        K.Conv2D(5, 5, strides=2, padding="same")(x0),
        K.Conv2D(4, (2, 4), strides=(1, 3), padding="valid", activation="relu")(x0),
        K.DepthwiseConv2D(3, padding="same", activation="relu")(x0),
        K.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="valid")(x0),
        K.DepthwiseConv2D(3, dilation_rate=2, depth_multiplier=3, padding="valid")(x0),
        K.DepthwiseConv2D((2, 3), strides=(2, 2), padding="same", activation="relu6")(x0),
    ]
    return tf.keras.Model(x0, outs), {}


def _dilated_head(tf, shape, layer, seed):
    """input -> a dilated convolution -> a strided 3x3 convolution -> global mean -> dense (the shape of the
    issue's failing networks); an unknown batch, so that the converter writes the dilated convolution as
    SPACE_TO_BATCH_ND -> conv -> BATCH_TO_SPACE_ND with batch-1 tensors (see test_aot_ops)."""
    K = tf.keras.layers
    _init(tf, seed)
    x0 = K.Input(shape)
    x = K.Conv2D(8, 3, strides=2, padding="same", kernel_initializer="he_normal")(layer(K)(x0))
    return tf.keras.Model(x0, K.Dense(4)(K.GlobalAveragePooling2D()(x))), {}


@case
def dilated_valid():
    """VALID 3x3, dilation 2, on 17 x 33: block paddings and crops [[0, 1], [0, 1]]."""
    return _dilated_head(_tf(), (17, 33, 3), lambda K: K.Conv2D(12, 3, dilation_rate=2, activation="relu6"), 31)


@case
def dilated_same():
    """SAME 5x5, dilation 2, on 34 x 18: block paddings [[4, 4], [4, 4]]."""
    return _dilated_head(_tf(), (34, 18, 8), lambda K: K.Conv2D(16, 5, dilation_rate=2, padding="same"), 32)


@case
def dilated_depthwise():
    """SAME depthwise 3x3, dilation 2, multiplier 2, on 15 x 21 (odd: paddings [[2, 3], [2, 3]], crops)."""
    return _dilated_head(_tf(), (15, 21, 8), lambda K: K.DepthwiseConv2D(3, dilation_rate=2, padding="same",
                                                                          depth_multiplier=2), 33)


@case
def dilated_phases():
    """The converter's dilated form with every block phase in the tensors' static shapes (batch 4, as TFLite
    resizes them; rewritten here with TFLite's schema object API, since the converter writes batch 1): TFLM
    then computes the whole dilated convolution, padding with 0. A VALID and a SAME branch."""
    tf = _tf(); K = tf.keras.layers; _init(tf, 34)
    x0 = K.Input((11, 13, 4))
    a = K.Conv2D(6, 3, dilation_rate=2, kernel_initializer="he_normal")(x0)
    b = K.DepthwiseConv2D(3, dilation_rate=2, padding="same")(x0)
    return tf.keras.Model(x0, [a, b]), {"rewrite": _all_phases}


def _all_phases(blob: bytes) -> bytes:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

    m = S.ModelT.InitFromObj(S.Model.GetRootAsModel(blob, 0))
    sg = m.subgraphs[0]
    code = lambda op: max(m.operatorCodes[op.opcodeIndex].builtinCode,  # noqa: E731
                          m.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode)
    for op in sg.operators:
        if code(op) == S.BuiltinOperator.SPACE_TO_BATCH_ND:
            block = np.frombuffer(bytes(m.buffers[sg.tensors[op.inputs[1]].buffer].data), "<i4")
            s2b = sg.tensors[op.outputs[0]]
            s2b.shape = np.array([int(np.prod(block))] + list(s2b.shape[1:]), np.int32)
            for conv in sg.operators:
                if op.outputs[0] in list(conv.inputs):
                    out = sg.tensors[conv.outputs[0]]
                    out.shape = np.array([int(np.prod(block))] + list(out.shape[1:]), np.int32)
    return _pack(m)


def _pack(m) -> bytes:
    import flatbuffers

    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    return bytes(b.Output())


@case
def padded_convs():
    """PAD -> convolution, which the compiler fuses into the convolution's padding (PyTorch's symmetric padding
    arrives this way): a 5x5/2 stem on 2 channels, asymmetric padding before a strided depthwise, padding before
    a SAME convolution, padding wider than the kernel, padding before a 1x1, and one PAD read by two
    convolutions (not fused)."""
    tf = _tf(); K = tf.keras.layers; _init(tf, 11)
    x0 = K.Input((12, 14, 2))
    b = K.Conv2D(8, 3, padding="same")(x0)
    shared = K.ZeroPadding2D(2)(b)  # not a SAME border: the converter keeps the PAD
    outs = [
        K.Conv2D(6, 5, strides=2, padding="valid", activation="relu")(K.ZeroPadding2D(2)(x0)),
        K.DepthwiseConv2D(3, strides=2, padding="valid")(K.ZeroPadding2D(((1, 2), (2, 1)))(b)),
        K.Conv2D(4, 3, padding="same")(K.ZeroPadding2D(1)(b)),
        K.Conv2D(5, 3, padding="valid")(K.ZeroPadding2D(3)(b)),
        K.Conv2D(6, 1)(K.ZeroPadding2D(((0, 1), (0, 1)))(K.Conv2D(16, 3, padding="same")(x0))),
        K.Conv2D(3, 3)(shared),
        K.DepthwiseConv2D(3)(shared),
    ]
    return tf.keras.Model(x0, outs), {}


@case
def convs_per_tensor():
    """Per-tensor weights for convolutions and fully connected layers."""
    tf = _tf(); K = tf.keras.layers; _init(tf, 2)
    x0 = K.Input((7, 8, 4))
    a = K.Conv2D(6, 3, padding="same", activation="relu")(x0)
    b = K.DepthwiseConv2D(3, strides=2, depth_multiplier=2, padding="same")(x0)
    c = K.Dense(5)(K.Flatten()(K.Conv2D(3, 2, strides=2)(x0)))
    return tf.keras.Model(x0, [a, b, c]), {"per_channel": False, "dense_per_channel": False}


@case
def grouped():
    """Grouped convolution (CONV_2D whose filter has fewer input channels than the input)."""
    tf = _tf(); K = tf.keras.layers; _init(tf, 3)
    x0 = K.Input((6, 6, 8))
    return tf.keras.Model(x0, [K.Conv2D(6, 3, groups=2, padding="same")(x0)]), {}


@case
def dense():
    """FULLY_CONNECTED: per-channel, with and without bias, fused RELU / RELU6."""
    tf = _tf(); K = tf.keras.layers; _init(tf, 4)
    x0 = K.Input((24,))
    a = K.Dense(16, activation="relu")(x0)
    a = K.Dense(7)(a)
    b = K.Dense(5, use_bias=False)(x0)
    c = K.Dense(3, activation="relu6")(x0)
    return tf.keras.Model(x0, [a, b, c]), {}


@case
def binary():
    """ADD / MUL (same shapes, broadcast, constant operand), CONCATENATION (with the requantising QUANTIZE
    the converter inserts), standalone RELU / RELU6, RESHAPE, LOGISTIC."""
    tf = _tf(); K = tf.keras.layers; _init(tf, 5)
    x0 = K.Input((6, 7, 8))
    a = K.Conv2D(8, 1)(x0)
    b = K.Conv2D(8, 3, padding="same")(x0)
    add = K.Add()([a, b])
    add_relu = K.ReLU()(K.Add()([x0, b]))
    mul = K.Multiply()([a, x0])
    se = K.GlobalAveragePooling2D(keepdims=True)(b)
    se = K.Activation("sigmoid")(K.Conv2D(8, 1)(se))
    mul_b = K.Multiply()([b, se])
    const_add = K.Lambda(lambda t: t + tf.constant(np.linspace(-1, 1, 8, dtype=np.float32)))(a)
    cat = K.Concatenate(axis=-1)([a, b])
    cat_relu = K.ReLU()(K.Concatenate(axis=1)([a, b]))
    relu6 = K.ReLU(max_value=6.0)(K.Concatenate(axis=2)([b, x0]))
    resh = K.Reshape((7, 6, 8))(K.Add()([b, x0]))
    return tf.keras.Model(x0, [add, add_relu, mul, mul_b, const_add, cat, cat_relu, relu6, resh]), {}


@case
def unary():
    """MAX_POOL_2D / AVERAGE_POOL_2D (SAME and VALID, border windows), MEAN (keep dims or not), SOFTMAX
    (rows of a 4-D tensor and of a vector), TANH, PAD."""
    tf = _tf(); K = tf.keras.layers; _init(tf, 6)
    x0 = K.Input((6, 7, 8))
    b = K.Conv2D(8, 3, padding="same")(x0)
    mp1 = K.MaxPooling2D(2)(x0)
    mp2 = K.MaxPooling2D(3, strides=2, padding="same")(b)
    ap1 = K.AveragePooling2D(3, strides=2, padding="same")(b)
    ap2 = K.AveragePooling2D((2, 3), strides=(1, 2), padding="valid")(x0)
    mean = K.GlobalAveragePooling2D()(b)
    mean_w = K.Lambda(lambda t: tf.reduce_mean(t, axis=2))(b)
    sm = K.Softmax()(b)
    sm2 = K.Softmax()(K.Dense(10)(K.Flatten()(b)))
    th = K.Activation("tanh")(b)
    pad = K.ZeroPadding2D(((1, 2), (0, 3)))(b)
    return tf.keras.Model(x0, [mp1, mp2, ap1, ap2, mean, mean_w, sm, sm2, th, pad]), {}


@case
def views():
    """SQUEEZE and EXPAND_DIMS (no copy: views of their input). The converter writes both as RESHAPE; the
    model is rewritten with TFLite's schema object API to hold the real ops."""
    tf = _tf(); K = tf.keras.layers; _init(tf, 9)
    x0 = K.Input((6, 7, 8), batch_size=1)
    sq = K.Reshape((7, 4))(K.Conv2D(4, (6, 1))(x0))  # [1, 1, 7, 4] -> [1, 7, 4]: SQUEEZE axis 1
    ex = K.Reshape((6, 7, 1, 3))(K.Conv2D(3, 1)(x0))  # [1, 6, 7, 3] -> [1, 6, 7, 1, 3]: EXPAND_DIMS axis 3
    return tf.keras.Model(x0, [K.Add()([sq, sq]), ex]), {"rewrite": _reshapes_as_squeeze_and_expand_dims}


def _reshapes_as_squeeze_and_expand_dims(blob: bytes) -> bytes:
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as S

    m = S.ModelT.InitFromObj(S.Model.GetRootAsModel(blob, 0))
    sg = m.subgraphs[0]

    def opcode(code):
        oc = S.OperatorCodeT()
        oc.builtinCode = oc.deprecatedBuiltinCode = code
        oc.version = 1
        m.operatorCodes.append(oc)
        return len(m.operatorCodes) - 1

    sq_code, ex_code = opcode(S.BuiltinOperator.SQUEEZE), opcode(S.BuiltinOperator.EXPAND_DIMS)
    for op in sg.operators:
        oc = m.operatorCodes[op.opcodeIndex]
        if max(oc.builtinCode, oc.deprecatedBuiltinCode) != S.BuiltinOperator.RESHAPE:
            continue
        src, dst = list(sg.tensors[op.inputs[0]].shape), list(sg.tensors[op.outputs[0]].shape)
        axis = next(i for i in range(len(dst)) if i >= len(src) or src[i] != dst[i])
        if len(dst) == len(src) - 1:
            op.opcodeIndex, op.inputs = sq_code, op.inputs[:1]
            op.builtinOptionsType = S.BuiltinOptions.SqueezeOptions
            op.builtinOptions = S.SqueezeOptionsT()
            op.builtinOptions.squeezeDims = [axis]
        else:
            buf = S.BufferT()
            buf.data = np.array([axis], "<i4").view(np.uint8)
            m.buffers.append(buf)
            t = S.TensorT()
            t.shape, t.type, t.buffer, t.name = [1], S.TensorType.INT32, len(m.buffers) - 1, "expand_dims_axis"
            sg.tensors.append(t)
            op.opcodeIndex, op.inputs = ex_code, [op.inputs[0], len(sg.tensors) - 1]
            op.builtinOptionsType = S.BuiltinOptions.ExpandDimsOptions
            op.builtinOptions = S.ExpandDimsOptionsT()
    return _pack(m)


@case
def float_io():
    """float32 inputs and outputs: QUANTIZE at the input, DEQUANTIZE at the output."""
    tf = _tf(); K = tf.keras.layers; _init(tf, 7)
    x0 = K.Input((5, 5, 3))
    y = K.Conv2D(4, 3, padding="same", activation="relu")(x0)
    return tf.keras.Model(x0, [K.Dense(3)(K.Flatten()(y))]), {"float_io": True}


# ---- whole networks (the shapes of the MLPerf Tiny reference models, small enough for CI) -----------

# He-normal initialisation everywhere (a 3x3 depthwise has fan-in 9): random networks whose activations
# neither die nor saturate, so that the outputs depend on the input and a wrong layer shows.
HE = "he_normal"


def _dw_init(tf):
    return tf.keras.initializers.RandomNormal(stddev=(2 / 9) ** 0.5)


def _dscnn(tf, shape=(49, 10, 1), width=64):
    K = tf.keras.layers
    x0 = K.Input(shape)
    x = K.ReLU()(K.Conv2D(width, (10, 4), strides=2, padding="same", kernel_initializer=HE)(x0))
    for _ in range(4):
        x = K.ReLU()(K.DepthwiseConv2D(3, padding="same", depthwise_initializer=_dw_init(tf))(x))
        x = K.ReLU()(K.Conv2D(width, 1, kernel_initializer=HE)(x))
    x = K.AveragePooling2D(pool_size=x.shape[1:3])(x)
    x = K.Flatten()(x)
    return tf.keras.Model(x0, K.Softmax()(K.Dense(12, kernel_initializer=HE)(x)))


def _resnet8(tf, shape=(32, 32, 3)):
    K = tf.keras.layers
    x0 = K.Input(shape)
    x = K.ReLU()(K.Conv2D(16, 3, padding="same", kernel_initializer=HE)(x0))
    for ch, st in ((16, 1), (32, 2), (64, 2)):
        y = K.ReLU()(K.Conv2D(ch, 3, strides=st, padding="same", kernel_initializer=HE)(x))
        y = K.Conv2D(ch, 3, padding="same", kernel_initializer=HE)(y)
        s = x if (st == 1 and x.shape[-1] == ch) else K.Conv2D(ch, 1, strides=st, kernel_initializer=HE)(x)
        x = K.ReLU()(K.Add()([y, s]))
    x = K.GlobalAveragePooling2D()(x)
    return tf.keras.Model(x0, K.Softmax()(K.Dense(10, kernel_initializer=HE)(x)))


def _mobilenet(tf, shape=(48, 48, 3), alpha=0.25):
    K = tf.keras.layers
    c = lambda n: max(8, int(n * alpha))  # noqa: E731
    x0 = K.Input(shape)
    he, dw = HE, _dw_init(tf)
    x = K.ReLU(6.0)(K.Conv2D(c(32), 3, strides=2, padding="same", kernel_initializer=he)(x0))
    # MobileNetV1 (MLPerf Tiny visual wake words at 96 x 96 x 3, alpha 0.25; the tests use 48 x 48)
    for ch, st in ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1),
                   (512, 1), (512, 1), (1024, 2), (1024, 1)):
        x = K.ReLU(6.0)(K.DepthwiseConv2D(3, strides=st, padding="same", depthwise_initializer=dw)(x))
        x = K.ReLU(6.0)(K.Conv2D(c(ch), 1, kernel_initializer=he)(x))
    x = K.GlobalAveragePooling2D()(x)
    return tf.keras.Model(x0, K.Softmax()(K.Dense(2, kernel_initializer=he)(x)))


def _autoencoder(tf, n=640):
    K = tf.keras.layers
    x0 = K.Input((n,))
    x = x0
    for u in (128, 128, 128, 128, 8, 128, 128, 128, 128):
        x = K.ReLU()(K.Dense(u)(x))
    return tf.keras.Model(x0, K.Dense(n)(x))


@case
def dscnn():
    tf = _tf(); _init(tf, 10)
    return _dscnn(tf), {}


@case
def resnet8():
    tf = _tf(); _init(tf, 11)
    return _resnet8(tf), {}


@case
def mobilenet():
    tf = _tf(); _init(tf, 12)
    return _mobilenet(tf), {}


@case
def autoencoder():
    tf = _tf(); _init(tf, 13)
    return _autoencoder(tf), {}


NETWORKS = ("dscnn", "resnet8", "mobilenet", "autoencoder")
DILATED = ("dilated_valid", "dilated_same", "dilated_depthwise")
OP_MODELS = ("convs", "padded_convs", "convs_per_tensor", "grouped", "dense", "binary", "unary", "views", "float_io")


def shared_dir(tmp_path_factory, prefix: str = "aot-models", sources: tuple[Path, ...] = ()) -> Path:
    """A folder for converted models shared by the pytest-xdist workers of this session (and keyed by this
    file's content and `sources`', so that an edited model is converted again)."""
    import hashlib

    key = hashlib.sha256(b"".join(p.read_bytes() for p in (Path(__file__), *sources))).hexdigest()[:12]
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return base / f"{prefix}-{key}"


def _case_blob(name: str) -> bytes:
    model, opts = CASES[name]()
    rewrite = opts.pop("rewrite", None)
    blob = convert(model, **opts)
    return rewrite(blob) if rewrite is not None else blob


def build(name: str, out: Path, make=None) -> Path:
    """Convert case `name` (or call `make()` for the .tflite bytes) into out/<name>.tflite, once; other processes
    wait on a lock."""
    from filelock import FileLock

    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.tflite"
    with FileLock(str(path) + ".lock"):
        if not path.exists():
            blob = make() if make is not None else _case_blob(name)
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(blob)
            tmp.replace(path)
    return path


def random_inputs(model: Path, n: int, seed: int = 0) -> list[np.ndarray]:
    from tflite_micro.python.tflite_micro import runtime as tflm

    it = tflm.Interpreter.from_file(str(model))
    det = it.get_input_details(0)
    rng = np.random.default_rng(seed)
    if det["dtype"] == np.float32:
        return [rng.standard_normal(det["shape"]).astype(np.float32) for _ in range(n)]
    return [rng.integers(-128, 128, size=det["shape"], dtype=np.int8) for _ in range(n)]


def tflm_outputs(model: Path, inputs: list[np.ndarray]) -> list[list[np.ndarray]]:
    """The oracle: tflite_micro's interpreter (TFLM reference kernels), one list of outputs per input."""
    from tflite_micro.python.tflite_micro import runtime as tflm

    from tinyscene.tflite.reader import read_tflite

    n_out = len(read_tflite(model).outputs)
    it = tflm.Interpreter.from_file(str(model))
    res = []
    for x in inputs:
        it.set_input(x, 0)
        it.invoke()
        res.append([it.get_output(j).copy() for j in range(n_out)])
    return res


def assert_bit_exact(model, outs, inputs):
    """Every output of every input equal to tflite_micro's (count, dtype, values; the first difference named)."""
    ref = tflm_outputs(model, inputs)
    for k, (got, want) in enumerate(zip(outs, ref)):
        got = got if isinstance(got, list) else [got]
        assert len(got) == len(want)
        for j, (a, r) in enumerate(zip(got, want)):
            a = a.reshape(r.shape)
            assert a.dtype == r.dtype, f"{model.name} input {k} output {j}: dtype {a.dtype} vs {r.dtype}"
            bad = np.argwhere(a != r)
            assert not bad.size, (f"{model.name} input {k} output {j}: {len(bad)} of {r.size} values differ from "
                                  f"tflite_micro, first at {bad[0].tolist()}: {a[tuple(bad[0])]} vs {r[tuple(bad[0])]}")
