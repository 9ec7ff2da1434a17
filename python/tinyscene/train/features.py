"""The int8 features a run trains on: the fixed-point front-end's output, quantised exactly as the
device quantises its model input, kept in memory as int8 and dequantised batch by batch.

    clips --featurize_clips (cached)--> int32 log-mel [n, ch, mels, frames]
          --InputQuant (fit on the train split)--> int8 [mels, frames, ch] per clip (the device input)
          --> int8 [n, ch, mels, frames] in memory (NCHW for torch) --dequantise per batch--> float32
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyscene import frontend
from tinyscene.config import FrontendConfig
from tinyscene.data.tau import CLASSES, fold_file, load_split
from tinyscene.errors import TsError
from tinyscene.frontend import quant as fq
from tinyscene.frontend.spec import LOG_FRAC_BITS
from tinyscene.paths import cache_dir
from tinyscene.train.run import read_run_config


def _frontend():
    try:
        frontend.FixedFrontend, frontend.InputQuant, frontend.featurize_clips  # noqa: B018
    except (ImportError, AttributeError) as e:
        raise TsError(f"tinyscene.frontend: the fixed-point front-end is not available ({e})") from None
    return frontend


def feature_cache_dir() -> Path:
    return cache_dir() / "features"


def split_clips(data_dir: str | os.PathLike, split: str, fold: int = 1, need_classes: int = 1):
    """The clips of a split of a TAU-layout folder; TsError for an empty split or one with fewer than
    `need_classes` classes."""

    clips = load_split(data_dir, split, fold)
    where = fold_file(data_dir, split, fold) if split != "all" else Path(data_dir) / "meta.csv"
    if not clips:
        raise TsError(f"{where}: the {split} split is empty")
    present = sorted({c.label for c in clips}, key=CLASSES.index)
    if len(present) < need_classes:
        raise TsError(f"{where}: the {split} split has clips of {len(present)} class(es) only "
                      f"({', '.join(present)}); training needs at least {need_classes} of "
                      f"{', '.join(CLASSES)}")
    return clips


# Clips featurised per call: bounds the int32 log-mels held at once (512 paper-preset clips = 300 MB);
# the int8 features of a whole split stay in memory (TAU's 9,185 training clips: 1.35 GB).
CHUNK_CLIPS = 512


def log_mel(fcfg, clips, workers: int = 2) -> np.ndarray:
    """int32 fixed-point log-mel [n, channels, n_mels, frames] of the clips (cached per clip)."""
    fe = _frontend()
    paths = [str(c.path) for c in clips]
    L = fe.featurize_clips(fcfg, paths, cache=feature_cache_dir(), workers=workers)
    return np.asarray(L)


def _chunks(clips, size: int = CHUNK_CLIPS):
    for i in range(0, len(clips), size):
        yield i, clips[i:i + size]


def fit_quant(fcfg, L_train: np.ndarray):
    """Per-bin normalisation + int8 input scale/zero point, fit on the train split only."""
    fe = _frontend()
    return fe.InputQuant.fit(fcfg, L_train)  # [clips, channels, n_mels, frames], streamed clip by clip


def quant_from_dict(d: dict):
    """The InputQuant saved in a run's config.json."""
    return _frontend().InputQuant.from_dict(d)


class QuantStats:
    """InputQuant.fit's statistics accumulated chunk by chunk (the same sums in the same order, so
    the result equals InputQuant.fit on all the clips at once — a test checks it)."""

    def __init__(self, fcfg):
        self.fcfg = fcfg
        self.s1 = np.zeros(fcfg.n_mels)
        self.s2 = np.zeros(fcfg.n_mels)
        self.count = 0
        self.n_clips = 0

    def add(self, L: np.ndarray) -> None:
        for Li in L:
            x = Li.astype(np.float64) * 2.0 ** -LOG_FRAC_BITS
            self.s1 += x.sum(axis=(0, 2))
            self.s2 += (x * x).sum(axis=(0, 2))
            self.count += x.shape[0] * x.shape[2]
            self.n_clips += 1

    def quant(self):
        if self.count == 0:
            raise TsError("input quantisation: no clips to fit on")
        mean = self.s1 / self.count
        std = np.sqrt(np.maximum(self.s2 / self.count - mean * mean, 0.0))
        return fq.InputQuant(mean=mean, std=np.maximum(std, fq.STD_MIN), n_clips=self.n_clips)


def fit_quant_clips(fcfg, clips, workers: int = 2):
    """(InputQuant fit on the clips, their int32 log-mels when they fit in one chunk else None)."""
    _frontend()
    if len(clips) <= CHUNK_CLIPS:
        L = log_mel(fcfg, clips, workers)
        return fit_quant(fcfg, L), L
    stats = QuantStats(fcfg)
    for i, part in _chunks(clips):
        print(f"features: statistics of clips {i + 1}-{i + len(part)} of {len(clips)}", flush=True)
        stats.add(log_mel(fcfg, part, workers))
    return stats.quant(), None


def quantize(fcfg, L: np.ndarray, quant, out: np.ndarray | None = None) -> np.ndarray:
    """int8 [n, channels, n_mels, frames] (NCHW) — each clip exactly the device's model input
    ([n_mels, frames, channels]) transposed for torch. Written into `out` when given."""
    fe_mod = _frontend()
    fe = fe_mod.FixedFrontend(fcfg)
    n = L.shape[0]
    for i in range(n):
        q = np.asarray(fe.quantize(L[i], quant))
        if q.dtype != np.int8 or q.ndim != 3:
            raise TsError(f"front-end: quantize gave {q.dtype} {list(q.shape)}, expected int8 [n_mels, frames, channels]")
        if out is None:
            out = np.empty((n, q.shape[2], q.shape[0], q.shape[1]), dtype=np.int8)
        out[i] = q.transpose(2, 0, 1)
    if out is None:
        raise TsError("front-end: no clips to quantise")
    return out


def quantized_features(fcfg, quant, clips, workers: int = 2) -> np.ndarray:
    """int8 NCHW features of the clips, featurised and quantised chunk by chunk."""
    if not clips:
        raise TsError("front-end: no clips to featurise")
    out = np.empty((len(clips), fcfg.channels, fcfg.n_mels, fcfg.n_frames), dtype=np.int8)
    for i, part in _chunks(clips):
        if len(clips) > CHUNK_CLIPS:
            print(f"features: clips {i + 1}-{i + len(part)} of {len(clips)}", flush=True)
        quantize(fcfg, log_mel(fcfg, part, workers), quant, out[i:i + len(part)])
    return out


class Dequantizer:
    """int8 NCHW -> float32, the same numbers as `quant.dequantize` (checked once on a sample).

    The front-end's dequantisation is affine per tensor (one scale and zero point: the per-bin
    normalisation lives inside the quantisation), so a 256-entry table does it on any batch."""

    def __init__(self, quant, sample_nhwc: np.ndarray | None = None):
        import torch

        self.quant = quant
        levels = np.arange(-128, 128, dtype=np.int8)
        table = self._table(quant, levels)
        self.table = torch.from_numpy(table.astype(np.float32))
        if sample_nhwc is not None:  # check the table against the front-end on a real clip
            ref = np.asarray(quant.dequantize(sample_nhwc), dtype=np.float32)
            mine = table[sample_nhwc.astype(np.int16) + 128]
            if ref.shape != mine.shape or not np.allclose(ref, mine, rtol=1e-6, atol=1e-6):
                raise TsError("front-end: InputQuant.dequantize is not one affine map per tensor; "
                              "the training loop cannot dequantise batches with a table")

    @staticmethod
    def _table(quant, levels: np.ndarray) -> np.ndarray:
        scale = getattr(quant, "scale", None)
        zero = getattr(quant, "zero_point", None)
        if np.ndim(scale) == 0 and np.ndim(zero) == 0 and scale is not None and zero is not None:
            return (levels.astype(np.float32) - np.float32(zero)) * np.float32(scale)
        return np.asarray(quant.dequantize(levels), dtype=np.float32).reshape(256)

    def __call__(self, q):
        """q: int8 torch tensor (any shape) -> float32 tensor on the table's device."""
        import torch

        if self.table.device != q.device:
            self.table = self.table.to(q.device)
        return self.table[q.to(torch.int64) + 128]


@dataclass
class SplitFeatures:
    """One split in memory: int8 NCHW features, integer labels, the clips."""

    q: np.ndarray            # int8 [n, channels, n_mels, frames]
    labels: np.ndarray       # int64 [n]
    clips: list

    def nhwc(self) -> np.ndarray:
        """The device's input layout, int8 [n, n_mels, frames, channels]."""
        return self.q.transpose(0, 2, 3, 1)


def split_features(fcfg, quant, data_dir, split: str, fold: int = 1, workers: int = 2,
                   need_classes: int = 1, clips=None, L=None) -> SplitFeatures:
    if clips is None:
        clips = split_clips(data_dir, split, fold, need_classes)
    q = quantized_features(fcfg, quant, clips, workers) if L is None else quantize(fcfg, L, quant)
    labels = np.array([c.class_index for c in clips], dtype=np.int64)
    return SplitFeatures(q, labels, list(clips))


def run_features_int8(run_or_config, data_dir, split: str = "evaluate", workers: int = 2) -> SplitFeatures:
    """The int8 device inputs of a split for a run (its front-end config and input quantisation)."""

    cfg = run_or_config if isinstance(run_or_config, dict) else read_run_config(run_or_config)
    fcfg = FrontendConfig.from_dict(cfg["frontend"], source="run config")
    quant = quant_from_dict(cfg["input_quant"])
    return split_features(fcfg, quant, data_dir, split, int(cfg.get("fold", 1)), workers)


def run_features(run_or_config, data_dir, split: str = "evaluate", workers: int = 2):
    """(x, y): the dequantised float32 features [n, channels, n_mels, frames] and int64 labels of a
    split, as torch tensors — what the run's model sees."""
    import torch


    cfg = run_or_config if isinstance(run_or_config, dict) else read_run_config(run_or_config)
    feats = run_features_int8(cfg, data_dir, split, workers)
    quant = quant_from_dict(cfg["input_quant"])
    deq = Dequantizer(quant, feats.nhwc()[0])
    return deq(torch.from_numpy(feats.q)), torch.from_numpy(feats.labels)
