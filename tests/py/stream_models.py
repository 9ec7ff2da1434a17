"""Small int8 models for the streamed-execution tests, converted once per pytest session (shared by the
workers, keyed by this file's content, like aot_models):

- `paperlike`: tinyscene's own `paper` ResNet (tinyscene.models) at a small size, exported through the
  project's export path (torch -> ONNX -> onnx2tf -> int8 TFLite, as `tinyscene export` does): a 5x5/2 stem
  padded as PyTorch pads (PAD -> VALID conv), 3x3 convolutions, residual adds with and without a 1x1
  projection, 2x2 max pools, the global mean, a dense layer. Input [1, 16 mels, 96 frames, 2]: time on W.
- `dscnn`: the MLPerf Tiny keyword-spotting DS-CNN shape (49 x 10 x 1, time on H), narrower.
- `random_<seed>`: a random streamable network (odd sizes, strides, dilations, VALID tails, residual branches
  of different delays, concatenations, pools, a global mean or a global average pooling), time on W or H.
- `mlp`: a dense network over the whole input (cannot be streamed).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import aot_models as M

PAPER_SHAPE = (2, 16, 96)  # channels, n_mels, frames (the receptive field is 71 frames)
PAPER_SCALE, PAPER_ZP = 0.0625, -9


def paperlike_tflite(work: Path) -> bytes:
    import torch

    from tinyscene.export.to_onnx import export_onnx
    from tinyscene.export.to_tflite import convert
    from tinyscene.models import build_model

    torch.manual_seed(0)
    m = build_model("paper", {"stem": 6, "widths": [6, 8, 8], "kernels": [[3, 1], [3, 3], [3, 3]]}, PAPER_SHAPE)
    ranges = {"running_mean": (-0.3, 0.3), "running_var": (0.5, 2.0), "weight": (0.5, 1.5), "bias": (-0.2, 0.2)}
    bns = [mod for mod in m.modules() if isinstance(mod, torch.nn.BatchNorm2d)]
    with torch.no_grad():  # BN statistics that are not the identity, so folding is exercised
        for bn in bns:
            for field, (lo, hi) in ranges.items():
                getattr(bn, field).uniform_(lo, hi)
    m.eval()
    work.mkdir(parents=True, exist_ok=True)
    export_onnx(m, PAPER_SHAPE, work / "model.onnx")
    rng = np.random.default_rng(1)
    calib = rng.integers(-110, 100, size=(10, PAPER_SHAPE[1], PAPER_SHAPE[2], PAPER_SHAPE[0])).astype(np.int8)
    data, _ = convert(work / "model.onnx", calib, PAPER_SCALE, PAPER_ZP, work / "conv")
    return data


def dscnn_tflite() -> bytes:
    tf = M._tf()
    M._init(tf, 21)
    return M.convert(M._dscnn(tf, shape=(49, 10, 1), width=16))


def random_keras(seed: int):
    """-> (Keras model, streamed axis 'H' | 'W')."""
    tf = M._tf()
    K = tf.keras.layers
    M._init(tf, 100 + seed)
    rng = np.random.default_rng(seed)
    axis = random_axis(f"random_{seed}")
    T, F, C = int(rng.integers(28, 45)), int(rng.integers(5, 12)), int(rng.integers(1, 4))
    x0 = K.Input((F, T, C) if axis == "W" else (T, F, C), batch_size=1)
    x = x0
    t_ax = 2 if axis == "W" else 1
    f_ax = 3 - t_ax
    init = "he_normal"

    def size(t, a):
        return int(t.shape[a])

    def conv(t, ch, kt, kf, st=1, dil=1, pad="same"):
        k = (kf, kt) if axis == "W" else (kt, kf)
        s = (1, st) if axis == "W" else (st, 1)
        d = (1, dil) if axis == "W" else (dil, 1)
        return K.Conv2D(ch, k, strides=s, dilation_rate=d, padding=pad, kernel_initializer=init)(t)

    for _ in range(int(rng.integers(3, 6))):
        kind = rng.choice(["conv", "strided", "dilated", "dw", "pool", "residual", "concat"])
        t, f, c = size(x, t_ax), size(x, f_ax), int(x.shape[3])
        if kind == "conv":
            kt, kf = int(rng.choice([1, 2, 3, 5])), int(rng.choice([1, 3]))
            pad = "valid" if rng.random() < 0.4 and t > kt + 6 and f > kf else "same"
            x = K.ReLU()(conv(x, int(rng.integers(3, 9)), kt, kf, pad=pad))
        elif kind == "strided" and t > 12:
            kt = int(rng.choice([3, 4, 5]))
            x = K.ReLU(6.0)(conv(x, int(rng.integers(3, 9)), kt, 3, st=2, pad=str(rng.choice(["same", "valid"]))))
        elif kind == "dilated" and t > 12:  # native dilation (VALID): TFLM pads a SAME one with 0, TFLite with the zp
            x = K.ReLU()(conv(x, int(rng.integers(3, 9)), 3, 1, dil=2, pad="valid"))
        elif kind == "dw":
            st = int(rng.choice([1, 2])) if t > 12 else 1
            k = (3, 3)
            s = (1, st) if axis == "W" else (st, 1)
            x = K.ReLU()(K.DepthwiseConv2D(k, strides=s, padding="same", depth_multiplier=int(rng.choice([1, 2])),
                                           depthwise_initializer=M._dw_init(tf))(x))
        elif kind == "pool" and t > 8 and f > 1:
            p = (2, 2) if rng.random() < 0.5 else (3, 2)
            p = (p[1], p[0]) if axis == "W" else p
            pad = str(rng.choice(["same", "valid"]))
            x = (K.MaxPooling2D if rng.random() < 0.6 else K.AveragePooling2D)(p, strides=2, padding=pad)(x)
        elif kind == "residual":
            y = K.ReLU()(conv(x, c, 3, 3))
            for _ in range(int(rng.integers(0, 3))):  # a longer branch: a later delay
                y = K.ReLU()(conv(y, c, int(rng.choice([1, 3])), 3))
            s = x if rng.random() < 0.5 else conv(x, c, 1, 1)
            x = K.ReLU()(K.Add()([conv(y, c, 3, 1), s]))
        elif kind == "concat":
            a = K.ReLU()(conv(x, int(rng.integers(2, 6)), 3, 3))
            b = K.ReLU()(conv(K.ReLU()(conv(x, 4, 1, 1)), int(rng.integers(2, 6)), 5, 1))
            x = K.Concatenate(axis=-1)([a, b])
    if rng.random() < 0.5:
        x = K.GlobalAveragePooling2D()(x)
    else:
        x = K.Flatten()(K.AveragePooling2D(pool_size=(int(x.shape[1]), int(x.shape[2])))(x))
    return tf.keras.Model(x0, K.Dense(int(rng.integers(2, 6)), kernel_initializer=init)(x)), axis


def mlp_tflite() -> bytes:
    """The acceptance check's MLP: Flatten over a [16, 8] input, two dense layers."""
    tf = M._tf()
    K = tf.keras.layers
    x0 = K.Input((16, 8))
    x = K.Dense(16, activation="relu")(K.Flatten()(x0))
    return M.convert(tf.keras.Model(x0, K.Dense(4)(x)))


def shared_dir(tmp_path_factory) -> Path:
    return M.shared_dir(tmp_path_factory, "stream-models", (Path(__file__),))


def build(name: str, out: Path) -> Path:
    """Convert model `name` into out/<name>.tflite once."""
    makers = {"paperlike": lambda: paperlike_tflite(out / "paperlike-work"), "dscnn": dscnn_tflite, "mlp": mlp_tflite}
    if name.startswith("random_"):
        return M.build(name, out, lambda: M.convert(random_keras(int(name.split("_")[1]))[0]))
    return M.build(name, out, makers[name])


def random_axis(name: str) -> str:
    return "W" if int(name.split("_")[1]) % 3 else "H"
