"""`tinyscene model-info`, `tinyscene train`, `tinyscene evaluate`."""
from __future__ import annotations

import argparse
import json
import shlex
import sys


def _model_info(args: argparse.Namespace) -> int:
    from tinyscene.config import load_frontend_config
    from tinyscene.models import build_model, model_info, model_spec

    spec = model_spec(args.model)
    fcfg = load_frontend_config(args.features)
    shape = (fcfg.channels, fcfg.n_mels, fcfg.n_frames)
    info = model_info(build_model(args.model, None, shape))
    if not args.layers:
        info.pop("layers")
    out = {"model": spec.name, "arch": spec.arch, "description": spec.help, "features": fcfg.name, **info}
    print(json.dumps(out, indent=2))
    return 0


def _train(args: argparse.Namespace) -> int:
    from tinyscene.train.api import train_run
    from tinyscene.train.config import TrainConfig

    given = {k: getattr(args, k) for k in ("epochs", "batch_size", "lr", "optimizer", "schedule", "weight_decay",
                                           "mixup_alpha", "seed", "patience", "slim_l1", "device", "fold",
                                           "workers") if getattr(args, k) is not None}
    tcfg = TrainConfig(**given)
    if not args.resume and (args.model is None or args.features is None):
        from tinyscene.errors import TsError

        raise TsError("--model and --features are required (except with --resume)")
    m = train_run(args.data, args.model, args.features, args.out, tcfg, resume=args.resume, force=args.force,
                  command="tinyscene " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
                  resume_overrides=tuple(k for k in ("epochs", "patience", "device", "workers") if k in given))
    pc = ", ".join(f"{c} {v:.3f}" if v is not None else f"{c} -" for c, v in m["per_class"].items())
    print(f"train: best epoch {m['best_epoch']}/{m['epochs_run']}: accuracy {m['accuracy']:.4f} "
          f"(class-balanced; {pc}), log loss {m['log_loss']:.4f}; {m['training_seconds']:.1f} s, "
          f"{m['train_clips_per_s']} clips/s -> {args.out}")
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from tinyscene.train.api import evaluate_run
    from tinyscene.util.atomic import write_json

    m = evaluate_run(args.run, args.data, args.split, device=args.device, workers=args.workers)
    if args.out:
        write_json(args.out, m)
    print(json.dumps(m, indent=2))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from tinyscene.models import MODELS

    names = ", ".join(MODELS)
    p = sub.add_parser("model-info", help="parameters, MACs and int8 size of a model for a front-end preset",
                       description="Prints JSON: params (trainable, BN included), macs (conv + linear, one clip), "
                                   "int8_kb (estimated int8 TFLite size: int8 weights, int32 biases with BN folded, "
                                   "per-channel quantisation, flatbuffer overhead; KiB).")
    p.add_argument("--model", required=True, help=f"model preset ({names})")
    p.add_argument("--features", default="paper", help="front-end preset or FrontendConfig JSON (default paper)")
    p.add_argument("--layers", action="store_true", help="also list each conv/linear layer")
    p.set_defaults(func=_model_info)

    p = sub.add_parser("train", help="train a model on the int8 front-end features of a TAU-layout folder",
                       description="Trains on fold N's train split, evaluates (class-balanced accuracy) on its "
                                   "evaluate split every epoch, keeps the best epoch. Writes model.pt, config.json, "
                                   "metrics.json, history.json, curves.png, confusion.png (and state.pt for --resume) "
                                   "into --out.")
    p.add_argument("--data", required=True, help="data folder in the TAU 2020 3Class layout")
    p.add_argument("--model", default=None, help=f"model preset ({names})")
    p.add_argument("--features", default=None, metavar="PRESET|FILE",
                   help="front-end preset (paper, m4-small, tiny) or a FrontendConfig JSON file")
    p.add_argument("--out", required=True, help="run folder, e.g. runs/NAME")
    p.add_argument("--epochs", type=int, default=None, help="epochs (default 30)")
    p.add_argument("--batch-size", type=int, default=None, help="clips per batch (default 32)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default 1e-3 adam, 0.05 sgd)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default=None, help="default adam")
    p.add_argument("--schedule", choices=("cosine", "step"), default=None,
                   help="learning-rate schedule over the epochs (default cosine)")
    p.add_argument("--weight-decay", type=float, default=None, help="default 0")
    p.add_argument("--mixup-alpha", type=float, default=None, metavar="A",
                   help="mixup lambda ~ Beta(A, A); 0 = off (default 0.2)")
    p.add_argument("--seed", type=int, default=None, metavar="K", help="random seed (default 0)")
    p.add_argument("--patience", type=int, default=None, metavar="P",
                   help="early stop after P epochs without a better evaluate accuracy (default 10)")
    p.add_argument("--slim-l1", type=float, default=None, metavar="LAMBDA",
                   help="add LAMBDA * sum|gamma| over the BN layers to the loss (network slimming; default 0)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default=None, help="default auto (cuda if available)")
    p.add_argument("--fold", type=int, default=None, help="evaluation-setup fold (default 1)")
    p.add_argument("--workers", type=int, default=None, help="processes featurising audio (default 2)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.set_defaults(func=_train)

    p = sub.add_parser("evaluate", help="metrics of a trained run on a split",
                       description="Recomputes the metrics of a run's model.pt on a split, with the run's own "
                                   "front-end and input quantisation; prints JSON.")
    p.add_argument("--run", required=True, help="run folder of `tinyscene train`")
    p.add_argument("--data", default=None, help="data folder (default: the one the run was trained on)")
    p.add_argument("--split", choices=("evaluate", "train", "test", "all"), default="evaluate")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--out", default=None, metavar="FILE", help="also write the JSON to FILE")
    p.set_defaults(func=_evaluate)
