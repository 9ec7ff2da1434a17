"""`tinyscene train` / `tinyscene evaluate` as library calls: a run from a data folder, and the
metrics of a run on any split."""
from __future__ import annotations

import os
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from tinyscene import __version__
from tinyscene.config import FrontendConfig, load_frontend_config
from tinyscene.data.tau import CLASSES
from tinyscene.errors import TsError
from tinyscene.train import features as feat
from tinyscene.train import run as runfiles
from tinyscene.frontend.spec import ARITH_VERSION
from tinyscene.train.config import TrainConfig
from tinyscene.train.loop import evaluate_model, fit, resolve_device
from tinyscene.util.atomic import write_json


def _seed_everything(seed: int) -> None:
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _deterministic(on: bool) -> bool:
    """Sets torch's deterministic mode; returns the previous setting."""
    import torch

    prev = torch.are_deterministic_algorithms_enabled()
    if on:  # cuBLAS is deterministic only with a fixed workspace (read when CUDA starts)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(on, warn_only=True)
    torch.backends.cudnn.deterministic = on
    torch.backends.cudnn.benchmark = not on
    return prev


def train_run(data_dir: str | os.PathLike, model_name: str, features: str, out: str | os.PathLike,
              tcfg: TrainConfig, resume: bool = False, force: bool = False, model_cfg: dict | None = None,
              command: str | None = None, progress: bool = True,
              resume_overrides: tuple[str, ...] | None = None) -> dict:
    """Train a model into the run folder `out`; returns the metrics written to metrics.json.

    `features`: a front-end preset name or a FrontendConfig JSON file. With `resume`, the model,
    features, data and settings come from out/config.json; only the fields named in
    `resume_overrides` ("epochs", "patience"; "device" and "workers" always) are taken from `tcfg`
    (a longer run continues where the last one stopped)."""
    import torch

    from tinyscene.models import build_model, model_config, model_info, model_spec

    out = Path(out)
    if resume and force:
        raise TsError("--resume and --force exclude each other")
    if resume:
        runfiles.prepare_run_dir(out, resume=True, force=False)
        saved = runfiles.read_run_config(out)
        old = TrainConfig.from_dict(saved.get("train", {}))
        keep = {k: getattr(tcfg, k) for k in ("epochs", "patience", "device", "workers")
                if k in (resume_overrides or ("device", "workers"))}
        tcfg = TrainConfig.from_dict({**old.to_dict(), **keep})
        model_name, model_cfg = saved["model_name"], saved["model_config"]
        fcfg = FrontendConfig.from_dict(saved["frontend"], source=str(out / runfiles.CONFIG_FILE))
        quant = feat.quant_from_dict(saved["input_quant"])
    else:
        model_spec(model_name)  # unknown names fail before any work
        fcfg = load_frontend_config(features)
        model_cfg = model_config(model_name, model_cfg)
        quant = None

    data_dir = Path(data_dir)
    # All the checks on the data before anything is written or computed.
    train_clips = feat.split_clips(data_dir, "train", tcfg.fold, need_classes=2)
    eval_clips = feat.split_clips(data_dir, "evaluate", tcfg.fold, need_classes=1)
    overlap = {c.filename for c in train_clips} & {c.filename for c in eval_clips}
    if overlap:
        raise TsError(f"{data_dir}: {len(overlap)} clip(s) are in both the train and the evaluate split "
                      f"of fold {tcfg.fold} (e.g. {sorted(overlap)[0]})")
    resolve_device(tcfg.device)
    if not resume:
        runfiles.prepare_run_dir(out, resume=False, force=force)

    prev_det = _deterministic(True)
    try:
        _seed_everything(tcfg.seed)
        t0 = time.perf_counter()
        L_train = None
        if quant is None:  # fit on the train split only
            quant, L_train = feat.fit_quant_clips(fcfg, train_clips, tcfg.workers)
        train = feat.split_features(fcfg, quant, data_dir, "train", workers=tcfg.workers, clips=train_clips,
                                    L=L_train)
        del L_train
        evaluate = feat.split_features(fcfg, quant, data_dir, "evaluate", workers=tcfg.workers, clips=eval_clips)
        feature_seconds = time.perf_counter() - t0
        deq = feat.Dequantizer(quant, train.nhwc()[0])
        input_shape = tuple(int(v) for v in train.q.shape[1:])

        model = build_model(model_name, model_cfg, input_shape)
        info = model_info(model)
        cfg = {
            "tinyscene_version": __version__,
            "command": command,
            "model_name": model_name,
            "arch": model.arch,
            "model_config": model.cfg.to_dict(),
            "input_shape": list(input_shape),
            "input_layout": "NCHW [channels, n_mels, frames]; the device input is int8 [n_mels, frames, channels]",
            "classes": list(CLASSES),
            "features": features if not resume else fcfg.name,
            "frontend": fcfg.to_dict(),
            "frontend_arith": ARITH_VERSION,
            "input_quant": quant.to_dict(),
            "data_dir": str(data_dir.resolve()),
            "fold": tcfg.fold,
            "seed": tcfg.seed,
            "epochs": tcfg.epochs,
            "train": tcfg.to_dict(),
            "n_train": len(train_clips),
            "n_evaluate": len(eval_clips),
            "params": info["params"], "macs": info["macs"], "int8_kb": info["int8_kb"],
        }
        if resume:
            saved.update({k: cfg[k] for k in ("epochs", "train", "tinyscene_version")})
            cfg = saved
        write_json(out / runfiles.CONFIG_FILE, cfg)
        print(f"train: {model_name} ({info['params']:,} parameters, {info['macs'] / 1e6:.1f} M MACs) on "
              f"{fcfg.name} features {list(input_shape)}: {len(train_clips)} train / {len(eval_clips)} "
              f"evaluate clips, features ready in {feature_seconds:.1f} s", file=sys.stdout, flush=True)
        result = fit(model, model_name, torch.from_numpy(train.q), train.labels, torch.from_numpy(evaluate.q),
                     evaluate.labels, deq, tcfg, out, resume=resume, progress=progress,
                     extra_metrics={"model": model_name, "features": fcfg.name, "params": info["params"],
                                    "macs": info["macs"], "int8_kb": info["int8_kb"],
                                    "feature_seconds": round(feature_seconds, 3),
                                    "data_dir": str(data_dir.resolve())})
        return result.metrics
    except BaseException:
        # a new run that failed before finishing an epoch leaves no folder behind
        if not resume and not (out / runfiles.STATE_FILE).exists():
            shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        _deterministic(prev_det)


def evaluate_run(run_dir: str | os.PathLike, data_dir: str | os.PathLike | None = None, split: str = "evaluate",
                 device: str = "cpu", workers: int = 2) -> dict:
    """Metrics of a run's model (model.pt) on a split, with the run's own front-end and quantisation."""
    import torch


    model, cfg = runfiles.load_run(run_dir)
    data_dir = runfiles.run_data_dir(run_dir, cfg, data_dir)
    fold = int(cfg.get("fold", 1))
    t0 = time.perf_counter()
    clips = feat.split_clips(data_dir, split, fold, need_classes=1)

    fcfg = FrontendConfig.from_dict(cfg["frontend"], source=str(Path(run_dir) / runfiles.CONFIG_FILE))
    quant = feat.quant_from_dict(cfg["input_quant"])
    sf = feat.split_features(fcfg, quant, data_dir, split, fold, workers, clips=clips)
    if list(sf.q.shape[1:]) != list(model.input_shape):
        raise TsError(f"{data_dir}: features {list(sf.q.shape[1:])} do not fit the model input "
                      f"{list(model.input_shape)} of {run_dir}")
    t1 = time.perf_counter()
    deq = feat.Dequantizer(quant, sf.nhwc()[0])
    dev = resolve_device(device)
    m = evaluate_model(model, torch.from_numpy(sf.q), sf.labels, deq, device=dev)
    m.update({"run": str(run_dir), "data_dir": str(Path(data_dir).resolve()), "split": split, "fold": fold,
              "model": cfg.get("model_name"), "features": fcfg.name,
              "feature_seconds": round(t1 - t0, 3), "eval_seconds": round(time.perf_counter() - t1, 3)})
    return m
