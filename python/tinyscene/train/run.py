"""A run folder (`tinyscene train --out runs/NAME`) and the files in it.

    model.pt      torch.save of {"state_dict", "model_name", "arch", "model_config", "input_shape",
                  "classes", "epoch", ...} — the best epoch's weights (CPU tensors)
    config.json   everything needed to rebuild the model and its features: model name + config +
                  input shape, the FrontendConfig, the InputQuant, data dir, fold, seed, training settings
    metrics.json  the best epoch on the fold's evaluate split (see train.metrics), timing, throughput
    history.json  one record per epoch
    curves.png, confusion.png
    state.pt      last epoch's full state (model, optimizer, schedule, history) for --resume
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from tinyscene.data.tau import CLASSES
from tinyscene.errors import TsError
from tinyscene.util.atomic import atomic_path
from tinyscene.util.jsonfile import read_json

MODEL_FILE = "model.pt"
CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.json"
HISTORY_FILE = "history.json"
STATE_FILE = "state.pt"
CURVES_FILE = "curves.png"
CONFUSION_FILE = "confusion.png"
MODEL_FORMAT = "tinyscene-model/1"


def read_run_config(run_dir: str | os.PathLike) -> dict:
    run_dir = Path(run_dir)
    path = run_dir / CONFIG_FILE
    if not run_dir.is_dir():
        raise TsError(f"{run_dir}: no such run folder")
    if not path.is_file():
        raise TsError(f"{path}: not found (not a finished `tinyscene train` run folder)")
    cfg = read_json(path, dict)
    for key in ("model_name", "model_config", "input_shape", "frontend", "input_quant"):
        if key not in cfg:
            raise TsError(f"{path}: lacks '{key}'")
    return cfg


def save_model(path: str | os.PathLike, model, model_name: str, **extra) -> Path:
    """Write a model checkpoint (atomically) that `load_model` / `load_run` rebuild."""
    import torch


    sd = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    obj = {"format": MODEL_FORMAT, "state_dict": sd, "model_name": model_name, "arch": model.arch,
           "model_config": model.cfg.to_dict(), "input_shape": list(model.input_shape),
           "classes": list(CLASSES), **extra}
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
    return Path(path)


def load_checkpoint(path: str | os.PathLike) -> dict:
    import torch

    path = Path(path)
    if not path.is_file():
        raise TsError(f"{path}: not found")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # pickle/zip errors of a damaged or foreign file
        raise TsError(f"{path}: not a readable torch checkpoint ({type(e).__name__}: {e})") from None
    return obj


def model_from_checkpoint(obj, source: str = "checkpoint"):
    """A model (eval mode) from a checkpoint dict of `save_model` (or a whole pickled module)."""
    from torch import nn

    from tinyscene.models import build_model

    if isinstance(obj, nn.Module):
        return obj.eval()
    if not isinstance(obj, dict) or "state_dict" not in obj:
        raise TsError(f"{source}: not a tinyscene model checkpoint (no state_dict)")
    name = obj.get("model_name") or obj.get("arch")
    if name is None or "input_shape" not in obj:
        raise TsError(f"{source}: lacks model_name/input_shape")
    model = build_model(name, obj.get("model_config"), obj["input_shape"])
    try:
        model.load_state_dict(obj["state_dict"])
    except RuntimeError as e:
        first = str(e).strip().splitlines()
        raise TsError(f"{source}: weights do not fit model '{name}' "
                      f"({first[1].strip() if len(first) > 1 else first[0]})") from None
    return model.eval()


def load_model(path: str | os.PathLike):
    return model_from_checkpoint(load_checkpoint(path), str(path))


def load_run(run_dir: str | os.PathLike):
    """(model in eval mode on the CPU, config dict) of a run folder."""
    cfg = read_run_config(run_dir)
    model = load_model(Path(run_dir) / MODEL_FILE)
    return model, cfg


def run_data_dir(run_dir: str | os.PathLike, cfg: dict, data: str | os.PathLike | None = None) -> Path:
    """The data folder a command on a run reads: `data` when given, else the one the run's config.json names."""
    data_dir = data or cfg.get("data_dir")
    if not data_dir:
        raise TsError(f"{run_dir}: config.json names no data folder; pass --data DIR")
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise TsError(f"{data_dir}: no such data folder (the run's data; pass --data DIR)")
    return data_dir


def prepare_run_dir(out: str | os.PathLike, resume: bool, force: bool) -> bool:
    """Checks the run folder. Returns True when resuming an existing run."""
    out = Path(out)
    if resume and force:
        raise TsError("--resume and --force exclude each other")
    if out.exists() and not out.is_dir():
        raise TsError(f"{out}: exists and is not a folder")
    if resume:
        if not (out / STATE_FILE).is_file() or not (out / CONFIG_FILE).is_file():
            raise TsError(f"{out}: nothing to resume (no {STATE_FILE} and {CONFIG_FILE}; "
                          "run without --resume to start)")
        return True
    if out.exists() and any(out.iterdir()):
        if not force:
            raise TsError(f"{out}: run folder already exists (--resume to continue it, --force to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return False
