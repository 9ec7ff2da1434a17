"""Networks for `tinyscene bench-kernels`: the shapes of the MLPerf Tiny reference models (ResNet-8 for image
classification, DS-CNN for keyword spotting) and a small network of the tinyscene paper's shape (5x5/2 stem,
residual blocks with max pooling, global mean, dense), with seeded random weights, converted to full-integer
int8 TFLite with a seeded representative dataset. Instruction counts do not depend on the weights' values,
only on the shapes (and on which requantisation path each layer takes), so random weights measure what
trained ones would. Converted once and cached (cache_dir()/bench-models)."""
from __future__ import annotations

import hashlib
import inspect
import os
from pathlib import Path

import numpy as np

from tinyscene.errors import TsError
from tinyscene.paths import cache_dir
from tinyscene.tflite.keras_int8 import keras_to_int8
from tinyscene.util.atomic import write_bytes


def _keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    tf.get_logger().setLevel("ERROR")
    return tf


def resnet8(tf):
    """MLPerf Tiny image classification: 32x32x3, three stages of 16/32/64 channels, 1x1 projections."""
    K = tf.keras.layers
    x0 = K.Input((32, 32, 3))
    x = K.ReLU()(K.Conv2D(16, 3, padding="same", kernel_initializer="he_normal")(x0))
    for ch, st in ((16, 1), (32, 2), (64, 2)):
        y = K.ReLU()(K.Conv2D(ch, 3, strides=st, padding="same", kernel_initializer="he_normal")(x))
        y = K.Conv2D(ch, 3, padding="same", kernel_initializer="he_normal")(y)
        s = x if st == 1 else K.Conv2D(ch, 1, strides=st, kernel_initializer="he_normal")(x)
        x = K.ReLU()(K.Add()([y, s]))
    x = K.GlobalAveragePooling2D()(x)
    return tf.keras.Model(x0, K.Softmax()(K.Dense(10)(x)))


def dscnn(tf):
    """MLPerf Tiny keyword spotting: 49x10 MFCC, 10x4/2 stem, four depthwise-separable blocks of 64."""
    K = tf.keras.layers
    x0 = K.Input((49, 10, 1))
    x = K.ReLU()(K.Conv2D(64, (10, 4), strides=2, padding="same", kernel_initializer="he_normal")(x0))
    for _ in range(4):
        x = K.ReLU()(K.DepthwiseConv2D(3, padding="same",
                                       depthwise_initializer=tf.keras.initializers.RandomNormal(stddev=0.47))(x))
        x = K.ReLU()(K.Conv2D(64, 1, kernel_initializer="he_normal")(x))
    x = K.Flatten()(K.AveragePooling2D(pool_size=x.shape[1:3])(x))
    return tf.keras.Model(x0, K.Softmax()(K.Dense(12)(x)))


def scene(tf):
    """The paper network's shape at a small size: 64x64x2 input, 5x5/2 stem of 24, four residual blocks (3x3
    then 3x3 or 1x1) with max pooling, global mean, dense to 3 classes."""
    K = tf.keras.layers
    x0 = K.Input((64, 64, 2))
    x = K.ReLU()(K.Conv2D(24, 5, strides=2, padding="same", kernel_initializer="he_normal")(x0))
    for k2 in (1, 3, 3, 1):
        y = K.ReLU()(K.Conv2D(24, 3, padding="same", kernel_initializer="he_normal")(x))
        y = K.Conv2D(24, k2, padding="same", kernel_initializer="he_normal")(y)
        x = K.ReLU()(K.Add()([x, y]))
        if x.shape[1] >= 4:
            x = K.MaxPooling2D(2)(x)
    x = K.GlobalAveragePooling2D()(x)
    return tf.keras.Model(x0, K.Dense(3)(x))


def paper_net(tf, stem: int, widths: tuple[int, ...], explicit_pad: bool, shape: tuple = (256, 288, 2),
              n_classes: int = 3):
    """256 mel x 288 frames x 2 channels, 5x5/2 stem, five residual blocks ((3,1), (3,3), (3,3), (3,1), (1,1)
    kernels; a 1x1 projection where the width changes) each followed by a 2x2 max pool, global mean, dense
    to 3. BN folded: not represented. explicit_pad: the stem pads 2 on every side as PyTorch does (the
    exported model's PAD -> VALID conv, which the compiler fuses), else SAME."""
    K = tf.keras.layers
    x0 = K.Input(shape)
    x = K.ZeroPadding2D(2)(x0) if explicit_pad else x0
    x = K.ReLU()(K.Conv2D(stem, 5, strides=2, padding="valid" if explicit_pad else "same", use_bias=False,
                          kernel_initializer="he_normal")(x))
    c_in = stem
    for (k1, k2), width in zip(((3, 1), (3, 3), (3, 3), (3, 1), (1, 1)), widths):
        y = K.ReLU()(K.Conv2D(width, k1, padding="same", kernel_initializer="he_normal")(x))
        y = K.Conv2D(width, k2, padding="same", kernel_initializer="he_normal")(y)
        s = x if c_in == width else K.Conv2D(width, 1, use_bias=False, kernel_initializer="he_normal")(x)
        x = K.ReLU()(K.Add()([y, s]))
        h, w = int(x.shape[1]), int(x.shape[2])
        if h >= 2 or w >= 2:
            x = K.MaxPooling2D((2 if h >= 2 else 1, 2 if w >= 2 else 1))(x)
        c_in = width
    x = K.GlobalAveragePooling2D()(x)
    return tf.keras.Model(x0, K.Dense(n_classes)(x))


def paper(tf):
    """The tinyscene paper network (python/tinyscene/models/resnet.py, preset `paper`: 83,459 parameters,
    137 M MACs per clip): stem 12, blocks 12/32/40/48/96, the stem padded as the exported model is."""
    return paper_net(tf, 12, (12, 32, 40, 48, 96), explicit_pad=True)


def paper_uniform(tf):
    """The preset `paper-uniform` (85,899 parameters, 411 M MACs: the network ANCHORS.md trains): stem 36,
    blocks 36/36/36/36/72, SAME stem."""
    return paper_net(tf, 36, (36, 36, 36, 36, 72), explicit_pad=False)


NETWORKS = {"resnet8": resnet8, "dscnn": dscnn, "scene": scene, "paper": paper, "paper-uniform": paper_uniform}


def convert(model, seed: int = 0) -> bytes:
    tf = _keras()
    shape = tuple(int(d) for d in model.inputs[0].shape[1:])
    rng = np.random.default_rng(seed)

    def rep():
        for _ in range(32):
            yield [rng.standard_normal((1, *shape)).astype(np.float32)]

    return keras_to_int8(tf, model, rep)


def network_path(name: str) -> Path:
    """The converted .tflite of a named network (built on first use, cached by the source of its builder)."""

    if name not in NETWORKS:
        raise TsError(f"unknown network '{name}' (known: {', '.join(NETWORKS)}; or give a .tflite path)")
    fn = NETWORKS[name]
    key = hashlib.sha256((inspect.getsource(fn) + inspect.getsource(convert)).encode()).hexdigest()[:12]
    path = cache_dir() / "bench-models" / f"{name}-{key}.tflite"
    if not path.exists():
        tf = _keras()
        tf.random.set_seed(0)
        tf.keras.utils.set_random_seed(0)
        write_bytes(path, convert(fn(tf)))
    return path
