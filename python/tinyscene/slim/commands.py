"""`tinyscene slim`, `tinyscene slim-sweep`."""
from __future__ import annotations

import argparse
import shlex
import sys


def _command() -> str:
    return "tinyscene " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def _slim(args: argparse.Namespace) -> int:
    from tinyscene.slim.api import slim_run

    verify = True if args.verify_tflite else (False if args.no_verify_tflite else None)
    rep = slim_run(args.run, args.out, ratio=args.ratio, budget_kb=args.budget_kb,
                   finetune_epochs=args.finetune_epochs, min_channels=args.min_channels, finetune_lr=args.finetune_lr,
                   data=args.data, force=args.force, device=args.device, workers=args.workers,
                   verify_tflite=verify, command=_command())
    a, p, k = rep["accuracy"], rep["params"], rep["int8_kb"]
    ft = "-" if a["after_finetune"] is None else f"{a['after_finetune']:.4f}"
    line = (f"slim: {p['before']:,} -> {p['after']:,} parameters ({p['kept']:.1%}), int8 {k['before']:.2f} -> "
            f"{k['after']:.2f} KiB, {rep['ratio']:.3f} of the BN channels removed; accuracy {a['before_pruning']:.4f} "
            f"-> {a['after_pruning']:.4f} pruned -> {ft} fine-tuned ({a['change_pp']:+.2f} pp)")
    if rep.get("tflite") and rep["tflite"].get("bytes"):
        line += f"; int8 TFLite {rep['tflite']['kb']:.2f} KiB"
    print(line + f" -> {args.out}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from tinyscene.slim.api import parse_ratios, slim_sweep

    s = slim_sweep(args.run, args.out, parse_ratios(args.ratios), finetune_epochs=args.finetune_epochs,
                   min_channels=args.min_channels, finetune_lr=args.finetune_lr, data=args.data, force=args.force,
                   device=args.device, workers=args.workers, verify_tflite=args.verify_tflite, command=_command())
    b = s["base"]
    print(f"slim-sweep: unpruned {b['params']:,} parameters, accuracy {b['accuracy']:.4f}")
    print(f"{'ratio':>6} {'params':>8} {'kept':>6} {'int8 KiB':>9} {'pruned':>7} {'tuned':>7} {'change pp':>9}")
    for p in s["points"]:
        ft = "-" if p["accuracy_finetuned"] is None else f"{p['accuracy_finetuned']:.4f}"
        print(f"{p['ratio']:>6.2f} {p['params']:>8,} {p['kept_params']:>6.1%} {p['int8_kb']:>9.2f} "
              f"{p['accuracy_pruned']:>7.4f} {ft:>7} {p['change_pp']:>+9.2f}")
    print(f"-> {args.out}/sweep.json, {args.out}/sweep.png")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, metavar="RUN", help="a `tinyscene train` run folder (runs/NAME)")
    p.add_argument("--finetune-epochs", type=int, default=5, metavar="N",
                   help="fine-tuning epochs after pruning (default 5; 0 = none)")
    p.add_argument("--finetune-lr", type=float, default=None, metavar="LR",
                   help="fine-tuning learning rate (default: the run's)")
    p.add_argument("--min-channels", type=int, default=None, metavar="K",
                   help="channels every layer keeps at least (default 10%% of the layer, at least 1)")
    p.add_argument("--data", default=None, metavar="DIR", help="data folder (default: the run's, from config.json)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto", help="fine-tuning device (default auto)")
    p.add_argument("--workers", type=int, default=2, help="processes featurising audio (default 2)")
    p.add_argument("--force", action="store_true", help="replace an existing --out")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "slim", help="network slimming: remove the channels with small BN |γ|, fine-tune",
        description="Ranks the channels of a trained run by |γ| of their batch norms (one global threshold; "
                    "channels joined by a residual add are pruned together), removes them physically "
                    "(convolution rows, BN entries, next layers' columns), fine-tunes, and writes a run folder that "
                    "`tinyscene evaluate` and `tinyscene export` take, plus slim.json (channels per layer before/after, "
                    "parameters, int8 size, accuracy before pruning, right after, after fine-tuning), slim.png and "
                    "gamma_hist.png. Train the run with --slim-l1 (e.g. 1e-4) first.")
    _common(p)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--ratio", type=float, default=None, metavar="R",
                   help="fraction of the BN channels (γ values) to remove, 0 < R < 1")
    g.add_argument("--budget-kb", type=float, default=None, metavar="K",
                   help="remove the fewest channels that make the int8 model fit K KiB (model-info's int8_kb)")
    p.add_argument("--out", required=True, metavar="DIR", help="slimmed run folder to create (runs/NAME-slim)")
    v = p.add_mutually_exclusive_group()
    v.add_argument("--verify-tflite", action="store_true",
                   help="also build the real int8 TFLite (export pipeline) and record its size (default with --budget-kb)")
    v.add_argument("--no-verify-tflite", action="store_true", help="do not build the real int8 TFLite")
    p.set_defaults(func=_slim)

    p = sub.add_parser(
        "slim-sweep", help="slim a run at several ratios: accuracy against kept parameters",
        description="Runs `tinyscene slim` at each ratio into DIR/ratio-R/ (full run folders) and writes DIR/sweep.json "
                    "and DIR/sweep.png (accuracy right after pruning and after fine-tuning against the fraction of "
                    "parameters kept).")
    _common(p)
    p.add_argument("--ratios", default="0.3,0.5,0.7,0.8", metavar="R,R,...",
                   help="ratios to try (default 0.3,0.5,0.7,0.8)")
    p.add_argument("--out", required=True, metavar="DIR", help="sweep folder to create")
    p.add_argument("--verify-tflite", action="store_true", help="also record each model's real int8 TFLite size")
    p.set_defaults(func=_sweep)
