"""The training loop: int8 features in memory, dequantised per batch, mixup, Adam/SGD with a
schedule, class-balanced evaluation on the fold's evaluate split every epoch, the best epoch
checkpointed, the last epoch's state saved for --resume, early stop, NaN guard.

Determinism: the order of the clips and every mixup λ/permutation of epoch e come from a numpy
generator seeded with (seed, e), dropout from torch's generator seeded with (seed, e); so a run
gives the same numbers on the same machine and thread count, and a resumed run continues with the
numbers an uninterrupted run would have used.
"""
from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tinyscene.data.tau import CLASSES
from tinyscene.errors import TsError
from tinyscene.train import run as runfiles
from tinyscene.train.bn_gamma import GAMMA_FILE, plot_gamma_histogram
from tinyscene.train.config import TrainConfig
from tinyscene.train.metrics import compute_metrics
from tinyscene.train.mixup import mixup_batch, soft_cross_entropy
from tinyscene.train.plots import plot_confusion, plot_curves
from tinyscene.util.atomic import atomic_path, write_json


def resolve_device(name: str) -> str:
    import torch

    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise TsError("--device cuda: torch sees no CUDA device (this torch is "
                      f"{torch.__version__}); use --device cpu or auto")
    return name


def _batches(order: np.ndarray, batch_size: int) -> list[np.ndarray]:
    out = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    if len(out) > 1 and len(out[-1]) < 2:  # a batch of one clip breaks batch normalisation
        out[-2] = np.concatenate([out[-2], out[-1]])
        out.pop()
    return out


def _as_input(features, idx, dequant, device):
    """Float32 batch of clips `idx` from int8 (dequantised) or float features."""
    import torch

    xb = features[idx]
    if xb.dtype == torch.int8:
        if dequant is None:
            raise ValueError("int8 features need a dequantiser")
        xb = dequant(xb.to(device, non_blocking=True))  # int8 crosses to the GPU, not float32
    # channels-last: oneDNN's convolutions run ~1.8x faster on it on this CPU (and cuDNN likes it too)
    return xb.to(device=device, dtype=torch.float32, non_blocking=True).contiguous(memory_format=torch.channels_last)


def predict_probs(model, features, dequant=None, batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """Softmax probabilities [n, classes]; features: torch tensor [n, C, H, W], float or int8."""
    import torch

    if isinstance(features, np.ndarray):
        features = torch.from_numpy(features)
    model.eval()
    out = []
    n = features.shape[0]
    with torch.no_grad():
        for i in range(0, n, batch_size):
            idx = torch.arange(i, min(n, i + batch_size))
            logits = model(_as_input(features, idx, dequant, device))
            out.append(torch.softmax(logits.float(), dim=1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros((0, 3), np.float32)


def evaluate_model(model, features, labels, dequant=None, batch_size: int = 64, device: str | None = None) -> dict:
    """Metrics (see tinyscene.train.metrics) of `model` on features [n, C, H, W] (float32, or int8
    with `dequant`) and integer labels [n]."""
    import torch


    if device is None:
        device = next(model.parameters()).device.type
    model.to(device)
    labels = labels.numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    probs = predict_probs(model, features, dequant, batch_size, device)
    return compute_metrics(probs, labels)


def bn_l1(model):
    """Σ|γ| over the model's BN layers (a tensor, for the loss)."""
    total = None
    for _, bn in model.bn_layers():
        s = bn.weight.abs().sum()
        total = s if total is None else total + s
    return total


def lr_at(tcfg: TrainConfig, epoch: int) -> float:
    """Learning rate of epoch `epoch` (1-based). cosine: from lr down to lr/100 at the last epoch;
    step: lr, x0.1 from half-way, x0.01 from three quarters."""
    E, e = tcfg.epochs, epoch - 1
    if tcfg.schedule == "cosine":
        f = 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(e, E - 1) / max(1, E - 1)))
    else:
        f = 0.1 ** (int(e >= E * 0.5) + int(e >= E * 0.75))
    return tcfg.learning_rate * f


def make_optimizer(model, tcfg: TrainConfig):
    import torch

    if tcfg.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=tcfg.learning_rate, weight_decay=tcfg.weight_decay)
    return torch.optim.SGD(model.parameters(), lr=tcfg.learning_rate, momentum=tcfg.momentum,
                           nesterov=True, weight_decay=tcfg.weight_decay)


@dataclass
class FitResult:
    metrics: dict          # evaluate-split metrics of the best epoch + run figures
    history: list[dict]


def fit(model, model_name: str, train_q, train_y, eval_q, eval_y, dequant, tcfg: TrainConfig,
        out: str | os.PathLike, resume: bool = False, extra_metrics: dict | None = None,
        progress: bool = True) -> FitResult:
    """Train `model` on (train_q, train_y), select on (eval_q, eval_y); write model.pt, state.pt,
    history.json, metrics.json, curves.png, confusion.png into `out` (which must exist).

    train_q/eval_q: torch tensors [n, C, H, W], int8 (with `dequant`) or float32."""
    import torch


    out = Path(out)
    device = resolve_device(tcfg.device)
    n_classes = len(CLASSES)
    train_y = torch.as_tensor(train_y, dtype=torch.int64)
    eval_y_np = np.asarray(eval_y, dtype=np.int64)
    n_train = int(train_q.shape[0])
    if n_train < 2:
        raise TsError(f"{n_train} training clip(s): need at least 2")

    model.to(device=device, memory_format=torch.channels_last)
    opt = make_optimizer(model, tcfg)
    history: list[dict] = []
    best = {"epoch": None, "accuracy": -1.0, "log_loss": math.inf, "metrics": None}
    since_best = 0
    start = 1
    train_seconds = eval_seconds = 0.0
    clips_seen = clips_evaluated = 0
    if resume:
        st = runfiles.load_checkpoint(out / runfiles.STATE_FILE)
        try:
            model.load_state_dict(st["model"])
            opt.load_state_dict(st["optimizer"])
            history, best, since_best = st["history"], st["best"], st["since_best"]
            start = st["epoch"] + 1
            train_seconds, eval_seconds = st["train_seconds"], st["eval_seconds"]
            clips_seen, clips_evaluated = st["clips_seen"], st["clips_evaluated"]
        except (KeyError, RuntimeError, ValueError) as e:
            raise TsError(f"{out / runfiles.STATE_FILE}: does not match this run ({type(e).__name__}: "
                          f"{str(e).splitlines()[0]}); start again with --force") from None
        if st.get("early_stopped") and start <= tcfg.epochs:
            since_best = 0  # a resumed run gets a fresh patience
    stopped_early = bool(resume and start > tcfg.epochs and st.get("early_stopped"))
    say = (lambda s: tqdm.write(s, file=sys.stdout)) if progress else (lambda s: None)
    if start > tcfg.epochs:
        say(f"train: {out} already has {start - 1} epoch(s) (--epochs {tcfg.epochs}); nothing to train")

    for epoch in range(start, tcfg.epochs + 1):
        rng = np.random.default_rng([tcfg.seed, epoch])
        torch.manual_seed(tcfg.seed * 100_003 + epoch)
        model.train()
        lr = lr_at(tcfg, epoch)
        for g in opt.param_groups:
            g["lr"] = lr
        t0 = time.perf_counter()
        loss_sum = correct = 0.0
        seen = 0
        batches = _batches(rng.permutation(n_train), tcfg.batch_size)
        bar = tqdm(batches, desc=f"epoch {epoch}/{tcfg.epochs}", unit="batch", leave=False,
                   disable=not progress, mininterval=0.5, file=sys.stderr)
        for bi, idx_np in enumerate(bar, start=1):
            idx = torch.from_numpy(idx_np)
            xb = _as_input(train_q, idx, dequant, device)
            yb = train_y[idx].to(device)
            xm, ym, lam, perm = mixup_batch(xb, yb, n_classes, rng, tcfg.mixup_alpha)
            logits = model(xm)
            loss = soft_cross_entropy(logits, ym)
            if tcfg.slim_l1 > 0:
                loss = loss + tcfg.slim_l1 * bn_l1(model)
            if not torch.isfinite(loss):
                raise TsError(f"epoch {epoch} batch {bi}/{len(batches)}: loss is {loss.item()} "
                              f"(lr {lr:.3g}); try a lower --lr — the run folder keeps the last good epoch "
                              "(--resume)")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                pred = logits.argmax(dim=1)
                c = lam * (pred == yb).float().sum() + (1 - lam) * (pred == yb[perm]).float().sum()
            b = len(idx_np)
            loss_sum += loss.item() * b
            correct += float(c)
            seen += b
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        bar.close()
        if device == "cuda":
            torch.cuda.synchronize()
        t_train = time.perf_counter() - t0
        train_seconds += t_train
        clips_seen += seen

        t1 = time.perf_counter()
        probs = predict_probs(model, eval_q, dequant, tcfg.eval_batch_size, device)
        m = compute_metrics(probs, eval_y_np)
        t_eval = time.perf_counter() - t1
        eval_seconds += t_eval
        clips_evaluated += len(eval_y_np)
        rec = {"epoch": epoch, "lr": lr, "train_loss": loss_sum / seen, "train_accuracy": correct / seen,
               "eval_loss": m["log_loss"], "eval_accuracy": m["accuracy"],
               "eval_micro_accuracy": m["micro_accuracy"], "train_seconds": t_train, "eval_seconds": t_eval,
               "train_clips_per_s": seen / t_train if t_train > 0 else None}
        with torch.no_grad():  # Σ|γ| over the BN layers, the quantity --slim-l1 pushes down
            g = bn_l1(model)
        rec["bn_gamma_l1"] = float(g) if g is not None else 0.0
        history.append(rec)
        improved = (m["accuracy"] > best["accuracy"]
                    or (m["accuracy"] == best["accuracy"] and m["log_loss"] < best["log_loss"]))
        if improved:
            best = {"epoch": epoch, "accuracy": m["accuracy"], "log_loss": m["log_loss"], "metrics": m}
            since_best = 0
            runfiles.save_model(out / runfiles.MODEL_FILE, model, model_name, epoch=epoch,
                                accuracy=m["accuracy"], log_loss=m["log_loss"])
        else:
            since_best += 1
        stopped_early = since_best >= tcfg.patience and epoch < tcfg.epochs
        _save_state(out, model, opt, epoch, history, best, since_best, train_seconds, eval_seconds,
                    clips_seen, clips_evaluated, stopped_early)
        write_json(out / runfiles.HISTORY_FILE, history)
        say(f"epoch {epoch:3d}/{tcfg.epochs}  lr {lr:.2e}  train loss {rec['train_loss']:.4f} "
            f"acc {rec['train_accuracy']:.3f}  |  evaluate acc {m['accuracy']:.3f} log loss {m['log_loss']:.4f}"
            f"  |  {rec['train_clips_per_s'] or 0:.1f} clips/s{'  *best' if improved else ''}")
        if stopped_early:
            say(f"train: early stop — no better evaluate accuracy for {tcfg.patience} epoch(s) "
                f"(best {best['accuracy']:.3f} at epoch {best['epoch']})")
            break

    if best["metrics"] is None:
        raise TsError(f"{out}: no epoch was trained")
    metrics = dict(best["metrics"])
    metrics.update({
        "split": "evaluate", "fold": tcfg.fold,
        "best_epoch": best["epoch"], "epochs_run": len(history), "epochs_planned": tcfg.epochs,
        "early_stopped": bool(stopped_early),
        "final_epoch": {"epoch": history[-1]["epoch"], "accuracy": history[-1]["eval_accuracy"],
                        "log_loss": history[-1]["eval_loss"]},
        "training_seconds": round(train_seconds + eval_seconds, 3),
        "train_step_seconds": round(train_seconds, 3),
        "eval_seconds": round(eval_seconds, 3),
        "train_clips_per_s": round(clips_seen / train_seconds, 2) if train_seconds > 0 else None,
        "eval_clips_per_s": round(clips_evaluated / eval_seconds, 2) if eval_seconds > 0 else None,
        "n_train_clips": n_train,
        "device": device, "torch_threads": torch.get_num_threads(),
    })
    if extra_metrics:
        metrics.update(extra_metrics)
    write_json(out / runfiles.METRICS_FILE, metrics)
    title = f"{model_name} on {metrics.get('features', '?')} features"
    plot_curves(history, out / runfiles.CURVES_FILE, title, best["epoch"])
    plot_confusion(metrics["confusion"], metrics["classes"], out / runfiles.CONFUSION_FILE,
                   f"{title}, epoch {best['epoch']}: {metrics['accuracy']:.1%}")
    if tcfg.slim_l1 > 0:  # network slimming: where the BN scales ended up
        plot_gamma_histogram(model, out / GAMMA_FILE, f"{title}, --slim-l1 {tcfg.slim_l1:g}: BN |γ| after epoch "
                             f"{history[-1]['epoch']}", history)
    return FitResult(metrics, history)


def _save_state(out, model, opt, epoch, history, best, since_best, train_seconds, eval_seconds,
                clips_seen, clips_evaluated, early_stopped) -> None:
    import torch


    st = {"model": model.state_dict(), "optimizer": opt.state_dict(),
          "epoch": epoch, "history": history, "best": best, "since_best": since_best,
          "train_seconds": train_seconds, "eval_seconds": eval_seconds, "clips_seen": clips_seen,
          "clips_evaluated": clips_evaluated, "early_stopped": early_stopped}
    with atomic_path(out / runfiles.STATE_FILE) as tmp:
        torch.save(st, tmp)
