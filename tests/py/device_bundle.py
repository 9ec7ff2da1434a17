"""A small export bundle for the device tests, made without the training pipeline: a Keras int8 model
(a few conv layers, random weights) fed by the fixed-point front-end of a short-clip `tiny`
configuration, written in the bundle layout of tinyscene.export.bundle (frontend.json,
model_int8.tflite, vectors/, manifest.json). Built once into the user cache (keyed by its recipe)."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

RECIPE_VERSION = 4
CLASSES = ["indoor", "outdoor", "transportation"]


def tiny_config(seconds: float = 1.0, channels: int = 2):
    from tinyscene.config import FrontendConfig

    return FrontendConfig(name=f"tiny-{seconds:g}s", sample_rate=16000, n_fft=512, hop_length=512, n_mels=32,
                          channels=channels, clip_seconds=seconds)


def synth_pcm(cfg, label: int, seed: int, seconds: float | None = None) -> np.ndarray:
    """int16 [channels, samples]: class 0 low rumble, 1 tones over noise, 2 broadband noise; random level
    (down to -60 dBFS) and a clipped passage now and then."""
    rng = np.random.default_rng(seed)
    n = int(round((seconds or cfg.clip_seconds) * cfg.sample_rate))
    t = np.arange(n) / cfg.sample_rate
    x = rng.standard_normal((cfg.channels, n))
    if label == 0:
        k = np.ones(64) / 64
        x = np.stack([np.convolve(c, k, mode="same") for c in x]) * 6
    elif label == 1:
        f = rng.uniform(300, 3000, size=3)
        x = 0.2 * x + sum(np.sin(2 * np.pi * fi * t + rng.uniform(0, 6)) for fi in f)
    level = 10 ** (rng.uniform(-60, -3) / 20)
    x = x / (np.max(np.abs(x)) + 1e-9) * level
    if seed % 5 == 0:
        x = np.clip(x * 4, -1, 1)
    return np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)


def _keras_int8(cfg, feats_float: list[np.ndarray], n_classes: int, seed: int, model_kind: str = "tiny") -> bytes:
    """model_kind: tiny (a few layers) or paper (the paper network's shape, tinyscene.aot.benchnets)."""
    import tensorflow as tf

    K = tf.keras.layers
    tf.random.set_seed(seed)
    shape = (cfg.n_mels, cfg.n_frames, cfg.channels)
    if model_kind == "paper":
        from tinyscene.aot.benchnets import paper_net

        tf.keras.utils.set_random_seed(seed)
        model = paper_net(tf, 12, (12, 32, 40, 48, 96), explicit_pad=True, shape=shape, n_classes=n_classes)
    else:
        x0 = K.Input(shape)
        x = K.ReLU()(K.Conv2D(8, 3, strides=2, padding="same")(x0))
        y = K.Conv2D(8, 3, padding="same")(x)
        x = K.MaxPooling2D(2)(K.ReLU()(K.Add()([x, y])))
        x = K.GlobalAveragePooling2D()(x)
        model = tf.keras.Model(x0, K.Dense(n_classes)(x))
    lo, hi = -128 / 32, 127 / 32  # the front-end's int8 range at scale 1/32, zero point 0

    def rep():
        yield [np.full((1, *shape), lo, np.float32)]
        yield [np.full((1, *shape), hi, np.float32)]
        for f in feats_float:
            yield [np.clip(f, lo, hi)[None].astype(np.float32)]

    from tinyscene.tflite.keras_int8 import keras_to_int8

    return keras_to_int8(tf, model, rep)


def make_bundle(out: Path, cfg, *, n_classes: int = 3, seed: int = 0, n_vectors: int = 3,
                model_kind: str = "tiny") -> Path:
    from tinyscene.export.bundle import write_manifest
    from tinyscene.frontend import FixedFrontend, InputQuant
    from tinyscene.tflite.interpreters import run_tflm
    from tinyscene.util.atomic import save_npy, write_json

    fe = FixedFrontend(cfg)
    pcms = [synth_pcm(cfg, k % n_classes, seed * 1000 + k) for k in range(12)]
    Ls = [fe.logmel(p) for p in pcms]
    quant = InputQuant.fit(cfg, Ls)
    q = [np.asarray(fe.quantize(L, quant)) for L in Ls]
    tfl = _keras_int8(cfg, [(a.astype(np.float32) - quant.zero_point) * quant.scale for a in q], n_classes, seed,
                      model_kind)

    from tinyscene.tflite.interpreters import tflm_interpreter

    det = tflm_interpreter(tfl).get_input_details(0)
    scale, zp = float(det["quantization_parameters"]["scales"][0]), int(det["quantization_parameters"]["zero_points"][0])
    assert abs(scale - quant.scale) < 1e-9 and zp == quant.zero_point, (scale, zp)
    out.mkdir(parents=True)
    (out / "model_int8.tflite").write_bytes(tfl)
    logits = run_tflm(tfl, np.stack(q[:n_vectors]))
    vec = out / "vectors"
    vec.mkdir()
    index = []
    for i in range(n_vectors):
        save_npy(vec / f"{i:02d}_pcm.npy", pcms[i])
        save_npy(vec / f"{i:02d}_features.npy", q[i])
        save_npy(vec / f"{i:02d}_logits.npy", logits[i])
        index.append({"id": f"{i:02d}", "label": CLASSES[i % n_classes], "class_index": i % n_classes,
                      "pcm": f"{i:02d}_pcm.npy", "features": f"{i:02d}_features.npy", "logits": f"{i:02d}_logits.npy"})
    write_json(vec / "index.json", {"clips": index})
    from tinyscene.frontend.spec import ARITH_VERSION

    write_json(out / "frontend.json", {
        "frontend_arith": ARITH_VERSION, "config": cfg.to_dict(), "input_quant": quant.to_dict(),
        "input": {"dtype": "int8", "scale": scale, "zero_point": zp, "layout": "NHWC",
                  "shape": [1, cfg.n_mels, cfg.n_frames, cfg.channels]},
        "output": {"dtype": "int8", "shape": [1, n_classes]}, "classes": CLASSES[:n_classes]})
    write_manifest(out, {"created_by": "tests/py/device_bundle.py", "frontend": cfg.to_dict()})
    return out


def cached_bundle(cfg, **kw) -> Path:
    """The bundle for `cfg` in the user cache, built once (safe when several test workers race)."""
    from tinyscene.frontend import native
    from tinyscene.paths import REPO_ROOT, cache_dir

    fe_py = sorted((REPO_ROOT / "python" / "tinyscene" / "frontend").glob("*.py"))
    fe_version = hashlib.sha256(native.source_hash().encode() + b"".join(p.read_bytes() for p in fe_py)).hexdigest()
    key = hashlib.sha256(json.dumps([RECIPE_VERSION, cfg.to_dict(), kw, fe_version],
                                    sort_keys=True).encode()).hexdigest()[:12]
    final = cache_dir() / "test-bundles" / f"{cfg.name}-{key}"
    if (final / "manifest.json").is_file():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".build-", dir=final.parent))
    try:
        make_bundle(tmp / "b", cfg, **kw)
        try:
            os.replace(tmp / "b", final)
        except OSError:
            if not (final / "manifest.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final
