"""`tinyscene slim` / `tinyscene slim-sweep` as library calls: a run folder in, a slimmed run folder
out (model.pt, config.json, metrics.json, history.json, curves.png, confusion.png as `tinyscene
train` writes them, so `tinyscene evaluate` and `tinyscene export` take it), plus slim.json,
slim.png (channels per layer before/after) and gamma_hist.png (the source's γ and the threshold)."""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyscene import __version__
from tinyscene.config import FrontendConfig
from tinyscene.errors import TsError
from tinyscene.slim import plots
from tinyscene.slim.budget import search_budget, tflite_int8_bytes
from tinyscene.slim.graph import analyse
from tinyscene.slim.plots import plot_sweep
from tinyscene.slim.prune import (
    channel_scores,
    check_ratio,
    group_table,
    layer_table,
    plan_slim,
    prune_model,
)
from tinyscene.train import features as feat
from tinyscene.train import run as runfiles
from tinyscene.train.config import TrainConfig
from tinyscene.train.loop import evaluate_model, fit
from tinyscene.train.plots import plot_confusion
from tinyscene.train.run import CONFIG_FILE, load_run, run_data_dir
from tinyscene.util.atomic import atomic_dir, write_json

SLIM_FILE = "slim.json"
SLIM_PLOT = "slim.png"
SWEEP_FILE = "sweep.json"
SWEEP_PLOT = "sweep.png"


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def warn(msg: str) -> None:
    print(f"tinyscene slim: warning: {msg}", file=sys.stderr, flush=True)


@dataclass
class SlimData:
    """A source run, its model, and its fold's train/evaluate features (loaded once)."""
    run: Path
    model: object
    cfg: dict
    data_dir: Path
    train_q: np.ndarray      # int8 NCHW
    train_y: np.ndarray
    eval_q: np.ndarray
    eval_y: np.ndarray
    deq: object


def source_warnings(cfg: dict, run) -> list[str]:
    out = []
    l1 = float((cfg.get("train") or {}).get("slim_l1", 0.0) or 0.0)
    if l1 <= 0:
        out.append(f"{run} was trained without the L1 term on γ (--slim-l1): its BN scales are not sparse, so "
                   "ranking channels by |γ| costs more accuracy (train with e.g. --slim-l1 1e-4)")
    return out


def load_slim_data(run, data=None, workers: int = 2) -> SlimData:
    run = Path(run)
    model, cfg = load_run(run)
    analyse(model)   # a model that cannot be slimmed fails before any feature is computed
    data_dir = run_data_dir(run, cfg, data)
    fold = int(cfg.get("fold", 1))
    fcfg = FrontendConfig.from_dict(cfg["frontend"], source=str(run / CONFIG_FILE))
    quant = feat.quant_from_dict(cfg["input_quant"])
    tr = feat.split_features(fcfg, quant, data_dir, "train", fold, workers, need_classes=2)
    ev = feat.split_features(fcfg, quant, data_dir, "evaluate", fold, workers)
    if list(ev.q.shape[1:]) != list(model.input_shape):
        raise TsError(f"{data_dir}: features {list(ev.q.shape[1:])} do not fit the model input "
                      f"{list(model.input_shape)} of {run}")
    deq = feat.Dequantizer(quant, ev.nhwc()[0])
    return SlimData(run, model, cfg, data_dir, tr.q, tr.labels, ev.q, ev.labels, deq)


def _evaluate(model, sd: SlimData) -> dict:
    import torch


    return evaluate_model(model, torch.from_numpy(sd.eval_q), sd.eval_y, sd.deq, device="cpu")


def _zero_weight_layers(model) -> list[str]:
    """'layer[channel]' for every conv/linear output channel whose weights (times a following BN's
    γ/σ, by the model's declared structure) are all zero."""
    import torch

    out = []
    lay = {ly["name"]: ly for ly in model.describe()["layers"]}
    with torch.no_grad():
        for name, ly in lay.items():
            w = model.get_submodule(name).weight.detach()
            w = w.reshape(w.shape[0], -1)
            if ly.get("bn"):
                bn = model.get_submodule(ly["bn"])
                w = w * (bn.weight / torch.sqrt(bn.running_var + bn.eps)).reshape(-1, 1)
            for c in torch.nonzero(w.abs().amax(dim=1) == 0).flatten().tolist():
                out.append(f"{name}[{c}]")
    return out


def _finetune_config(cfg: dict, epochs: int, lr: float | None, device: str, workers: int):
    src = TrainConfig.from_dict(cfg.get("train") or {})
    d = src.to_dict()
    d.update({"epochs": max(1, epochs), "patience": max(1, epochs), "slim_l1": 0.0, "device": device,
              "workers": workers})
    d["lr"] = float(lr) if lr is not None else src.learning_rate
    return TrainConfig.from_dict(d)


def _calib(sd: SlimData, n: int = 16) -> np.ndarray:
    idx = np.linspace(0, len(sd.train_q) - 1, num=min(n, len(sd.train_q))).round().astype(int)
    return np.ascontiguousarray(sd.train_q[idx].transpose(0, 2, 3, 1))


def real_tflite_bytes(model, sd: SlimData) -> tuple[int | None, str | None]:
    """(bytes of the int8 .tflite from the export pipeline, None) or (None, why not)."""

    try:
        quant = feat.quant_from_dict(sd.cfg["input_quant"])
        scale, zp = float(np.float32(quant.scale)), int(quant.zero_point)
        return tflite_int8_bytes(model, _calib(sd), scale, zp), None
    except TsError as e:
        return None, str(e)
    except (ImportError, AttributeError, TypeError) as e:
        return None, f"export pipeline not usable here ({type(e).__name__}: {e})"


def write_slim_run(sd: SlimData, folder: Path, *, ratio: float | None = None, budget_kb: float | None = None,
                   finetune_epochs: int = 5, min_channels: int | None = None, finetune_lr: float | None = None,
                   device: str = "cpu", workers: int = 2, verify_tflite: bool = False,
                   command: str | None = None, progress: bool = True, base_metrics: dict | None = None) -> dict:
    """Slim `sd.model` and write the slimmed run into the existing, empty `folder`. Returns slim.json."""
    import torch

    from tinyscene.models import model_info

    model, cfg = sd.model, sd.cfg
    model_name = cfg["model_name"]
    warnings = source_warnings(cfg, sd.run)
    graph = analyse(model)
    scores = channel_scores(model, graph)
    info0 = model_info(model)
    base = base_metrics or _evaluate(model, sd)

    budget_rec = None
    if budget_kb is not None:
        res = search_budget(model, budget_kb, min_channels, graph, log=_say if progress else None)
        plan, small = res.plan, res.model
        budget_rec = {"budget_kb": res.budget_kb, "smallest_kb": res.smallest_kb, "unpruned_kb": res.unpruned_kb,
                      "estimate_kb": res.int8_kb, "fits": res.int8_kb <= res.budget_kb,
                      "search": [{"removed_entries": n, "int8_kb": kb} for n, kb in res.steps]}
    else:
        plan = plan_slim(model, ratio=ratio, min_channels=min_channels, graph=graph)
        small = prune_model(model, plan.keep, graph)
    warnings += plan.warnings
    for w in plan.warnings:
        warn(w)
    info1 = model_info(small)
    pruned = _evaluate(small, sd)
    if progress:
        _say(f"slim: {info0['params']:,} -> {info1['params']:,} parameters ({info1['params'] / info0['params']:.1%}), "
             f"int8 {info0['int8_kb']:.1f} -> {info1['int8_kb']:.1f} KiB; accuracy {base['accuracy']:.4f} -> "
             f"{pruned['accuracy']:.4f} right after pruning")

    tcfg = _finetune_config(cfg, finetune_epochs, finetune_lr, device, workers)
    extra = {"model": model_name, "features": cfg.get("features"), "params": info1["params"], "macs": info1["macs"],
             "int8_kb": info1["int8_kb"], "data_dir": str(sd.data_dir.resolve()), "slimmed_from": str(sd.run)}
    if finetune_epochs > 0:
        torch.manual_seed(tcfg.seed)
        small.train()
        result = fit(small, model_name, torch.from_numpy(sd.train_q), sd.train_y, torch.from_numpy(sd.eval_q),
                     sd.eval_y, sd.deq, tcfg, folder, progress=progress, extra_metrics=extra)
        metrics = result.metrics
        final = runfiles.load_model(folder / runfiles.MODEL_FILE)
    else:
        final = small
        metrics = dict(pruned)
        metrics.update({"split": "evaluate", "fold": int(cfg.get("fold", 1)), "best_epoch": 0, "epochs_run": 0,
                        **extra})
        runfiles.save_model(folder / runfiles.MODEL_FILE, small, model_name, epoch=0,
                            accuracy=pruned["accuracy"], log_loss=pruned["log_loss"])
        write_json(folder / runfiles.METRICS_FILE, metrics)
        write_json(folder / runfiles.HISTORY_FILE, [])
        plot_confusion(metrics["confusion"], metrics["classes"], folder / runfiles.CONFUSION_FILE,
                       f"{model_name} slimmed, not fine-tuned: {metrics['accuracy']:.1%}")
    zero = _zero_weight_layers(final)
    if zero:
        warnings.append(f"channel(s) with all-zero weights after fine-tuning: {', '.join(zero[:6])}")
        warn(warnings[-1])

    tfl = None
    if verify_tflite:
        if progress:
            _say("slim: int8 TFLite export of the slimmed model (export pipeline) to check its size")
        nbytes, why = real_tflite_bytes(final, sd)
        tfl = {"bytes": nbytes, "kb": None if nbytes is None else round(nbytes / 1024, 2),
               "estimate_kb": info1["tflite_kb"]}
        if nbytes is None:
            tfl["error"] = why
            warnings.append(f"could not build the int8 TFLite to check its size: {why}")
            warn(warnings[-1])
        else:
            tfl["estimate_error"] = round(info1["tflite_kb"] * 1024 / nbytes - 1, 4)
            if abs(tfl["estimate_error"]) > 0.05:
                warnings.append(f"the real int8 TFLite file is {nbytes / 1024:.2f} KiB, the estimate "
                                f"{info1['tflite_kb']:.2f} KiB ({100 * tfl['estimate_error']:+.1f} %): the budget "
                                "search's size model is off for this network")
                warn(warnings[-1])

    new_cfg = dict(cfg)
    new_cfg.update({
        "tinyscene_version": __version__, "command": command, "model_config": final.cfg.to_dict(),
        "arch": final.arch, "data_dir": str(sd.data_dir.resolve()), "epochs": tcfg.epochs if finetune_epochs else 0,
        "train": tcfg.to_dict(), "params": info1["params"], "macs": info1["macs"], "int8_kb": info1["int8_kb"],
        "slimmed_from": {"run": str(sd.run), "model_config": cfg["model_config"], "train": cfg.get("train")},
    })
    write_json(folder / runfiles.CONFIG_FILE, new_cfg)

    layers = layer_table(model, graph, plan.keep)
    after_ft = metrics["accuracy"] if finetune_epochs > 0 else None
    thr = max((r["max_removed_score"] or 0.0) for r in group_table(graph, plan.keep, scores))
    report = {
        "source_run": str(sd.run), "command": command, "model": model_name, "arch": model.arch,
        "mode": "budget" if budget_kb is not None else "ratio",
        "ratio_requested": ratio, "ratio": round(plan.ratio, 6), "budget_kb": budget_kb,
        "min_channels": min_channels if min_channels is not None else "10% of each group, at least 1",
        "source_slim_l1": float((cfg.get("train") or {}).get("slim_l1", 0.0) or 0.0),
        "threshold": thr,
        "params": {"before": info0["params"], "after": info1["params"],
                   "kept": round(info1["params"] / info0["params"], 6)},
        "int8_kb": {"before": info0["int8_kb"], "after": info1["int8_kb"],
                    "kept": round(info1["int8_kb"] / info0["int8_kb"], 6)},
        "tflite_kb": {"before": info0.get("tflite_kb"), "after": info1.get("tflite_kb")},
        "macs": {"before": info0["macs"], "after": info1["macs"], "kept": round(info1["macs"] / info0["macs"], 6)},
        "accuracy": {"before_pruning": base["accuracy"], "after_pruning": pruned["accuracy"],
                     "after_finetune": after_ft,
                     "change_pp": round(100 * ((after_ft if after_ft is not None else pruned["accuracy"])
                                               - base["accuracy"]), 3)},
        "log_loss": {"before_pruning": base["log_loss"], "after_pruning": pruned["log_loss"],
                     "after_finetune": metrics["log_loss"] if finetune_epochs > 0 else None},
        "finetune": {"epochs": finetune_epochs, "best_epoch": metrics.get("best_epoch"),
                     "lr": tcfg.learning_rate if finetune_epochs else None},
        "tflite": tfl, "budget": budget_rec,
        "layers": layers, "groups": group_table(graph, plan.keep, scores),
        "dropped_zero_weight": [{"group": g, "channel": c, "layer": ly} for g, c, ly in plan.dropped_zero],
        "warnings": warnings,
        "split": "evaluate", "fold": int(cfg.get("fold", 1)), "data_dir": str(sd.data_dir.resolve()),
    }
    write_json(folder / SLIM_FILE, report)
    plots.plot_channels(layers, folder / SLIM_PLOT,
                        f"{model_name}: {info0['params']:,} -> {info1['params']:,} parameters, "
                        f"int8 {info0['int8_kb']:.1f} -> {info1['int8_kb']:.1f} KiB")
    plots.plot_gamma_histogram(model, folder / plots.GAMMA_FILE, f"source run {sd.run.name}: BN |γ|",
                               threshold=thr or None)
    return report


def _check_args(run, out, ratio, budget_kb, finetune_epochs, min_channels) -> None:
    if (ratio is None) == (budget_kb is None):
        raise TsError("slim: give exactly one of --ratio and --budget-kb")
    if ratio is not None:
        check_ratio(ratio)
    if budget_kb is not None and not (math.isfinite(float(budget_kb)) and float(budget_kb) > 0):
        raise TsError(f"slim: --budget-kb {budget_kb}: must be a positive size in KiB")
    if finetune_epochs < 0:
        raise TsError(f"slim: --finetune-epochs {finetune_epochs}: must be >= 0")
    if min_channels is not None and min_channels < 1:
        raise TsError(f"slim: --min-channels {min_channels}: must be >= 1 (a layer never loses every channel)")
    if Path(out).resolve() == Path(run).resolve():
        raise TsError(f"slim: --out {out} is the source run; write the slimmed run elsewhere")


def _open(run, out, data, workers: int, force: bool) -> tuple[Path, SlimData]:
    """The output folder (refused if it exists without force) and the source run's data, its warnings
    printed: what slim and slim-sweep do before any pruning."""
    out = Path(out)
    if out.exists() and not force:
        raise TsError(f"{out}: already exists (use --force to replace it)")
    sd = load_slim_data(run, data, workers)
    for w in source_warnings(sd.cfg, run):
        warn(w)
    return out, sd


def slim_run(run, out, *, ratio: float | None = None, budget_kb: float | None = None, finetune_epochs: int = 5,
             min_channels: int | None = None, finetune_lr: float | None = None, data=None, force: bool = False,
             device: str = "cpu", workers: int = 2, verify_tflite: bool | None = None, command: str | None = None,
             progress: bool = True) -> dict:
    """Slim run folder `run` into a new run folder `out` (built atomically). Returns slim.json.
    verify_tflite None: build the real int8 TFLite to check the size in budget mode only."""

    _check_args(run, out, ratio, budget_kb, finetune_epochs, min_channels)
    out, sd = _open(run, out, data, workers, force)
    if verify_tflite is None:
        verify_tflite = budget_kb is not None
    with atomic_dir(out, force=force) as tmp:
        report = write_slim_run(sd, tmp, ratio=ratio, budget_kb=budget_kb, finetune_epochs=finetune_epochs,
                                min_channels=min_channels, finetune_lr=finetune_lr, device=device,
                                workers=workers, verify_tflite=verify_tflite, command=command, progress=progress)
    return report


def parse_ratios(text: str) -> list[float]:
    try:
        vals = [float(v) for v in str(text).split(",") if v.strip()]
    except ValueError:
        raise TsError(f"slim-sweep: --ratios '{text}': expected numbers separated by commas") from None
    if not vals:
        raise TsError("slim-sweep: --ratios: no ratio given")
    for v in vals:
        check_ratio(v)
    if len(set(vals)) != len(vals):
        raise TsError(f"slim-sweep: --ratios '{text}': a ratio appears twice")
    return sorted(vals)


def slim_sweep(run, out, ratios: list[float], *, finetune_epochs: int = 5, min_channels: int | None = None,
               finetune_lr: float | None = None, data=None, force: bool = False, device: str = "cpu",
               workers: int = 2, verify_tflite: bool = False, command: str | None = None,
               progress: bool = True) -> dict:
    """One slimmed run per ratio in out/ratio-R/, plus out/sweep.json and out/sweep.png (accuracy
    against kept parameters)."""
    from tinyscene.models import model_info

    for r in ratios:
        _check_args(run, out, r, None, finetune_epochs, min_channels)
    out, sd = _open(run, out, data, workers, force)
    base = _evaluate(sd.model, sd)
    params0 = model_info(sd.model)["params"]
    points = []
    with atomic_dir(out, force=force) as tmp:
        for r in ratios:
            sub = tmp / f"ratio-{r:.2f}"
            sub.mkdir()
            if progress:
                _say(f"slim-sweep: ratio {r:g} -> {out / sub.name}")
            rep = write_slim_run(sd, sub, ratio=r, finetune_epochs=finetune_epochs, min_channels=min_channels,
                                 finetune_lr=finetune_lr, device=device, workers=workers,
                                 verify_tflite=verify_tflite, command=command, progress=progress, base_metrics=base)
            points.append({"ratio": r, "run": str(out / sub.name), "ratio_removed": rep["ratio"],
                           "params": rep["params"]["after"], "kept_params": rep["params"]["kept"],
                           "int8_kb": rep["int8_kb"]["after"], "macs": rep["macs"]["after"],
                           "accuracy_pruned": rep["accuracy"]["after_pruning"],
                           "accuracy_finetuned": rep["accuracy"]["after_finetune"],
                           "change_pp": rep["accuracy"]["change_pp"],
                           "tflite_bytes": (rep["tflite"] or {}).get("bytes")})
        summary = {"source_run": str(sd.run), "command": command, "model": sd.cfg["model_name"],
                   "base": {"accuracy": base["accuracy"], "log_loss": base["log_loss"], "params": params0,
                            "int8_kb": model_info(sd.model)["int8_kb"]},
                   "finetune_epochs": finetune_epochs, "split": "evaluate", "fold": int(sd.cfg.get("fold", 1)),
                   "points": points}
        write_json(tmp / SWEEP_FILE, summary)
        plot_sweep(points, tmp / SWEEP_PLOT, {"accuracy": base["accuracy"], "params": params0},
                   f"{sd.cfg['model_name']} slimmed ({finetune_epochs} fine-tuning epochs)")
    return summary


__all__ = ["SLIM_FILE", "SLIM_PLOT", "SWEEP_FILE", "SWEEP_PLOT", "SlimData", "load_slim_data", "write_slim_run",
           "slim_run", "slim_sweep", "parse_ratios", "source_warnings", "real_tflite_bytes"]
