"""Batch featurisation for training: wav files -> fixed-point log-mel (the C front-end on the host),
on several processes, with an on-disk cache per clip.

A clip's cache entry is keyed by its absolute path, size and modification time, the front-end
configuration, the front-end's arithmetic version (spec.ARITH_VERSION), its C source hash and its
tables' hash: editing the audio, the config or the C code gives a new entry, never a stale one.
"""
from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tinyscene.config import FrontendConfig
from tinyscene.data.audio import load_clip
from tinyscene.errors import TsError
from tinyscene.frontend import native, spec
from tinyscene.frontend.native import FixedFrontend
from tinyscene.util.atomic import save_npy

_WORKER_FE = {}


def clip_key(cfg: FrontendConfig, path: str | os.PathLike, fe_hash: str) -> str:
    p = Path(path).resolve()
    try:
        st = p.stat()
    except OSError:
        raise TsError(f"{path}: no such file") from None
    ident = {"path": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "cfg": cfg.to_dict(), "fe": fe_hash}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:32]


def frontend_hash(cfg: FrontendConfig) -> str:
    """The arithmetic version + the C sources' hash + the tables' hash: what the features of `cfg` depend on
    besides the audio (a cache entry of another front-end arithmetic is never found, so never served)."""

    return f"v{spec.ARITH_VERSION}-" + native.source_hash()[:16] + spec.make_tables(cfg).sha256()[:16]


def load_pcm(cfg: FrontendConfig, path) -> np.ndarray:
    """A wav as the front-end takes it: resampled (soxr) to cfg.sample_rate, mono = mean when
    cfg.channels == 1, padded/trimmed to cfg.clip_samples, int16 [channels, samples]."""

    return load_clip(path, cfg)


def _logmel_one(args) -> np.ndarray:
    cfg_dict, path, out = args
    cfg = FrontendConfig.from_dict(cfg_dict)
    fe = _WORKER_FE.get(cfg)
    if fe is None:

        fe = _WORKER_FE[cfg] = FixedFrontend(cfg)
    L = fe.logmel(load_pcm(cfg, path))
    if out is not None:

        save_npy(out, L)
    return L


def featurize_clips(cfg: FrontendConfig, clips, cache: str | os.PathLike | None = None, workers: int = 2,
                    progress: bool = True) -> np.ndarray:
    """int32 Q7.24 log-mel [n_clips, channels, n_mels, frames] of wav files (FixedFrontend.logmel of
    each clip loaded for `cfg`), computed on `workers` processes, cached in `cache` (a folder) when
    given."""

    paths = [str(p) for p in clips]
    n = len(paths)
    out = np.empty((n, cfg.channels, cfg.n_mels, cfg.n_frames), np.int32)
    if n == 0:
        return out
    fe_hash = frontend_hash(cfg)
    todo = []
    cache_dir = Path(cache) if cache is not None else None
    bar = tqdm(total=n, desc=f"features ({cfg.name})", unit="clip", disable=not progress or None, leave=False)
    for i, p in enumerate(paths):
        entry = None
        if cache_dir is not None:
            key = clip_key(cfg, p, fe_hash)
            entry = cache_dir / key[:2] / f"{key}.npy"
            if entry.exists():
                try:
                    L = np.load(entry)
                    if L.shape == out.shape[1:] and L.dtype == np.int32:
                        out[i] = L
                        bar.update(1)
                        continue
                except (OSError, ValueError):
                    pass  # a broken entry is recomputed
        elif not Path(p).is_file():
            raise TsError(f"{p}: no such file")
        todo.append((i, p, entry))
    try:
        jobs = [(cfg.to_dict(), p, str(e) if e is not None else None) for _, p, e in todo]
        if workers <= 1 or len(todo) <= 1:
            results = map(_logmel_one, jobs)
            for (i, _, _), L in zip(todo, results):
                out[i] = L
                bar.update(1)
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=get_context("spawn")) as pool:
                for (i, _, _), L in zip(todo, pool.map(_logmel_one, jobs, chunksize=4)):
                    out[i] = L
                    bar.update(1)
    finally:
        bar.close()
    return out
