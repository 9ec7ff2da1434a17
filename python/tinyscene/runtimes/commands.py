"""`tinyscene run` (one model on a board with any runtime) and `tinyscene bench` (runtimes side by side)."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from tinyscene.util.workdir import work_folder


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _split_batch(x, in_shape: tuple) -> tuple[list, str]:
    """-> (inputs, how outputs are stacked): 'single' | 'batch' (leading axis) | 'batch-replace' (the
    model's batch-1 axis replaced by the batch)."""
    from tinyscene.errors import TsError

    if tuple(x.shape) == tuple(in_shape):
        return [x], "single"
    if x.ndim == len(in_shape) + 1 and tuple(x.shape[1:]) == tuple(in_shape):
        return [x[k] for k in range(x.shape[0])], "batch"
    if in_shape and in_shape[0] == 1 and x.ndim == len(in_shape) and tuple(x.shape[1:]) == tuple(in_shape[1:]):
        return [x[k:k + 1] for k in range(x.shape[0])], "batch-replace"
    raise TsError(f"--input: shape {list(x.shape)} is neither the model input {list(in_shape)} nor a batch of it")


def _stack(outs: list, how: str):
    import numpy as np

    if how == "single":
        return outs[0]
    if how == "batch":
        return np.stack(outs)
    return np.concatenate(outs, axis=0)


def _run(args: argparse.Namespace) -> int:
    import numpy as np

    from tinyscene.errors import TsError
    from tinyscene.runtimes.dispatch import run_model
    from tinyscene.tflite.reader import read_tflite
    from tinyscene.util.atomic import save_npy, write_json

    model = Path(args.model)
    g = read_tflite(model)
    if len(g.inputs) != 1:
        raise TsError(f"{model}: {len(g.inputs)} inputs; `tinyscene run --input` takes single-input models")
    try:
        x = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise TsError(f"--input {args.input}: cannot read a .npy array ({e})") from None
    inputs, how = _split_batch(x, g.t(g.inputs[0]).shape)
    many = len(g.outputs) > 1
    if many and not str(args.out).endswith(".npz"):
        raise TsError(f"{model} has {len(g.outputs)} outputs: give --out a .npz path")
    with work_folder(args.workdir) as wd:
        try:
            dump = Path(args.dump_layers) if args.dump_layers else None
            if args.runtime == "aot-stream":  # its own options: the streamed axis
                from tinyscene.aot.streamrunner import run as stream_run
                from tinyscene.target.boards import load_board

                outs, report = stream_run(model, load_board(args.board), inputs, kernels=args.kernels, workdir=wd,
                                          dump_layers=dump, timeout=args.timeout, stream_axis=args.stream_axis,
                                          profile_layers=args.profile_layers)
            elif args.profile_layers or args.prefer != "size":  # options of the aot runtime: straight to its runner
                if args.runtime != "aot":
                    raise TsError("--profile-layers and --prefer: only with --runtime aot (--profile-layers also "
                                  "aot-stream)")
                from tinyscene.aot.runner import run as aot_run
                from tinyscene.target.boards import load_board

                outs, report = aot_run(model, load_board(args.board), inputs, kernels=args.kernels, workdir=wd,
                                       dump_layers=dump, timeout=args.timeout, profile_layers=args.profile_layers,
                                       prefer=args.prefer)
            else:
                outs, report = run_model(model, args.board, inputs, runtime=args.runtime, kernels=args.kernels,
                                         workdir=wd, dump_layers=dump, timeout=args.timeout)
        except ImportError as e:
            raise TsError(f"--runtime {args.runtime}: not available in this installation ({e})") from None
    if many:
        arrays = {f"output_{j}": _stack([o[j] for o in outs], how) for j in range(len(g.outputs))}
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        np.savez(args.out, **arrays)
    else:
        save_npy(args.out, _stack(outs, how))
    d = report.to_dict()
    d["invokes"] = len(inputs)
    if args.json:
        write_json(args.json, d)
    print(json.dumps(d, indent=1))
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    import sys

    from tinyscene.runtimes.bench import BenchFailure, bench, parse_fail_on

    limits = parse_fail_on(args.fail_on)  # a malformed spec stops before any build
    try:
        bench([Path(m) for m in args.model], _csv(args.boards), _csv(args.runtimes),
              out=Path(args.out) if args.out else None, per_layer=args.per_layer, seed=args.seed,
              timeout=args.timeout, fail_on=limits)
    except BenchFailure as e:
        lines = str(e).splitlines()
        for line in lines:
            print(f"tinyscene bench: FAIL: {line}", file=sys.stderr)
        print(f"tinyscene bench: {len(lines)} failure(s)", file=sys.stderr)
        return 1
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run an int8 .tflite on a board (host or QEMU) and report counts")
    p.add_argument("--model", required=True)
    p.add_argument("--board", required=True, help="host or a QEMU board (see `tinyscene boards`)")
    p.add_argument("--input", required=True, help=".npy: one input, or a batch of them (leading axis)")
    p.add_argument("--out", required=True, help=".npy for the outputs (stacked like the input); .npz for "
                                                "several outputs")
    p.add_argument("--json", help="write the report (instructions, arena_bytes, flash_bytes, stack_bytes, ...)")
    p.add_argument("--runtime", default="aot", choices=("aot", "aot-stream", "tflm", "tflm-ref"),
                   help="aot-stream: tinyscene's compiler, streamed (the input fed row by row along --stream-axis)")
    p.add_argument("--stream-axis", default="W", choices=("H", "W"), help="the streamed axis of --runtime aot-stream")
    p.add_argument("--kernels", default="auto", choices=("auto", "reference"))
    p.add_argument("--prefer", default="size", choices=("size", "speed"),
                   help="aot: size (default) stores every weight once, int8; speed adds expanded weight copies "
                        "(Winograd's int16 transformed weights) where the board's flash allows")
    p.add_argument("--dump-layers", help="folder: every layer's output tensor (layer_NNN.npy + layers.json)")
    p.add_argument("--profile-layers", action="store_true",
                   help="per-layer instruction counts in the report (aot, aot-stream; adds a few instructions per "
                        "layer)")
    p.add_argument("--workdir", help="keep the generated sources and firmware here (default: temporary)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds before the firmware counts as hung")
    p.set_defaults(func=_run)

    q = sub.add_parser("bench", help="runtimes side by side: instructions, per MAC, flash, arena",
                       description="Runs each model on each board with each runtime (same input), and writes one "
                                   "table (markdown + CSV) and one plot: instructions per invoke and per MAC, "
                                   "flash image, code + tables beyond the weights, arena bytes, each beside its "
                                   "ratio to tflm (TFLM + CMSIS-NN); exit 1 on an output that is not bit-exact "
                                   "or a --fail-on limit missed.")
    q.add_argument("--model", nargs="+", required=True, metavar="M.tflite", help="int8 .tflite model(s)")
    q.add_argument("--boards", required=True, metavar="B,...", help="comma-separated boards")
    q.add_argument("--runtimes", default="aot,tflm,tflm-ref", metavar="R,...",
                   help="comma-separated runtimes (default aot,tflm,tflm-ref)")
    q.add_argument("--per-layer", action="store_true", help="also per layer, where a runtime can report it")
    q.add_argument("--out", metavar="DIR", help="folder for bench.md, bench.csv, bench.png (default build/bench)")
    q.add_argument("--seed", type=int, default=0, help="seed of the random int8 input (default 0)")
    q.add_argument("--timeout", type=float, default=600.0, help="seconds per firmware run (default 600)")
    q.add_argument("--fail-on", metavar="KEY=LIMIT,...",
                   help="exit 1 when a runtime's ratio to tflm on the same model and board is above LIMIT: ratio "
                        "(instructions), flash (image), code (code + tables beyond the weights), arena; e.g. "
                        "ratio=0.8,flash=1.0,arena=1.0. Outputs that are not bit-exact always exit 1")
    q.set_defaults(func=cmd_bench)
