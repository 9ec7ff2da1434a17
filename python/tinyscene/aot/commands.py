"""`tinyscene compile`, `tinyscene run`, `tinyscene compare`."""
from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import tempfile
from pathlib import Path


def _compile(args: argparse.Namespace) -> int:
    from tinyscene.aot.compiler import compile_model
    from tinyscene.device.boards import load_board

    board = load_board(args.board) if args.board else None
    cmd = "tinyscene compile " + " ".join(shlex.quote(str(a)) for a in
                                          [args.model, "--out", args.out]
                                          + (["--board", args.board] if args.board else [])
                                          + (["--kernels", args.kernels] if args.kernels != "auto" else []))
    comp = compile_model(Path(args.model), Path(args.out), board=board, kernels=args.kernels, command=cmd)
    print(comp.summary())
    print(f"wrote {comp.out_dir}/model.c, model.h, compile_report.json")
    return 0


@contextlib.contextmanager
def _workdir(path: str | None):
    if path:
        p = Path(path)
        p.mkdir(parents=True, exist_ok=True)
        yield p
    else:
        with tempfile.TemporaryDirectory(prefix="tinyscene-run-") as d:
            yield Path(d)


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

    from tinyscene.aot.reader import read_tflite
    from tinyscene.device.modelrun import run_model
    from tinyscene.errors import TsError
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
    with _workdir(args.workdir) as wd:
        try:
            dump = Path(args.dump_layers) if args.dump_layers else None
            if args.profile_layers:  # an option of the aot runtime only: straight to its runner
                if args.runtime != "aot":
                    raise TsError("--profile-layers: only with --runtime aot")
                from tinyscene.aot.runner import run as aot_run
                from tinyscene.device.boards import load_board

                outs, report = aot_run(model, load_board(args.board), inputs, kernels=args.kernels, workdir=wd,
                                       dump_layers=dump, timeout=args.timeout, profile_layers=True)
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


def _compare(args: argparse.Namespace) -> int:
    from tinyscene.aot.compare import compare_with_tflm
    from tinyscene.util.atomic import write_json

    with _workdir(args.workdir) as wd:
        result = compare_with_tflm(Path(args.model), args.board, Path(args.input), workdir=wd,
                                   kernels=args.kernels, index=args.index, timeout=args.timeout)
    print(result.text())
    if args.json:
        write_json(args.json, result.to_dict())
    return 0 if result.identical else 1


def _randnet(args: argparse.Namespace) -> int:
    from tinyscene.aot import randnet
    from tinyscene.errors import TsError

    if args.count < 1:
        raise TsError(f"--count {args.count}: at least 1")
    boards = tuple(b for b in args.boards.split(",") if b) if args.boards else None
    seeds = range(args.seed, args.seed + args.count)
    if args.show:
        for s in seeds:
            print(randnet.network(s).describe())
        return 0
    failed = compared = skipped = 0
    with _workdir(args.out) as wd:
        for s in seeds:
            for r in randnet.check(s, wd / "models", wd / "runs", boards=boards, n_inputs=args.inputs,
                                   kernels=args.kernels):
                if r.skipped:
                    skipped += 1
                    print(f"seed {s}: not compared: {r.skipped}")
                elif r.ok:
                    compared += 1
                    print(f"seed {s} on {r.board}: bit-exact with tflite_micro")
                else:
                    failed += 1
                    print(r.message)
    print(f"{compared} runs bit-exact, {failed} differ, {skipped} networks not comparable")
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compile", help="compile an int8 .tflite into C (model.c/.h + compile report)")
    p.add_argument("model", help="int8 .tflite model")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--board", help="target board (budgets, kernel family); default: generic reference kernels")
    p.add_argument("--kernels", default="auto", choices=("auto", "reference"),
                   help="kernel family: auto = the board's (armv7em, mve), or reference")
    p.set_defaults(func=_compile)

    p = sub.add_parser("run", help="run an int8 .tflite on a board (host or QEMU) and report counts")
    p.add_argument("--model", required=True)
    p.add_argument("--board", required=True, help="host or a QEMU board (see `tinyscene boards`)")
    p.add_argument("--input", required=True, help=".npy: one input, or a batch of them (leading axis)")
    p.add_argument("--out", required=True, help=".npy for the outputs (stacked like the input); .npz for "
                                                "several outputs")
    p.add_argument("--json", help="write the report (instructions, arena_bytes, flash_bytes, stack_bytes, ...)")
    p.add_argument("--runtime", default="aot", choices=("aot", "tflm", "tflm-ref"))
    p.add_argument("--kernels", default="auto", choices=("auto", "reference"))
    p.add_argument("--dump-layers", help="folder: every layer's output tensor (layer_NNN.npy + layers.json)")
    p.add_argument("--profile-layers", action="store_true",
                   help="per-layer instruction counts in the report (aot; adds a few instructions per layer)")
    p.add_argument("--workdir", help="keep the generated sources and firmware here (default: temporary)")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds before the firmware counts as hung")
    p.set_defaults(func=_run)

    p = sub.add_parser("compare", help="first layer and index where the device differs from tflite_micro")
    p.add_argument("--model", required=True)
    p.add_argument("--board", required=True)
    p.add_argument("--input", required=True, help=".npy: one input (or a batch: see --index)")
    p.add_argument("--index", type=int, default=0, help="which input of a batch (default 0)")
    p.add_argument("--kernels", default="auto", choices=("auto", "reference"))
    p.add_argument("--json", help="write the comparison as JSON")
    p.add_argument("--workdir", help="keep the build here (default: temporary)")
    p.add_argument("--timeout", type=float, default=600.0)
    p.set_defaults(func=_compare)

    p = sub.add_parser("randnet", help="random int8 networks through the TFLite converter, compiled and compared "
                                       "with tflite_micro (the compiler's differential test)",
                       description="Draws network SEED (and the COUNT - 1 after it), converts it to int8 with the "
                                   "TFLite converter, runs the generated C on the host and a QEMU board and compares "
                                   "every output with the tflite_micro interpreter. Exit 1 if any differs.")
    p.add_argument("--seed", type=int, required=True, help="the network's seed (a failure of the test suite names it)")
    p.add_argument("--count", type=int, default=1, help="networks SEED, SEED + 1, ... (default 1)")
    p.add_argument("--boards", help="comma-separated boards (default: host and the seed's QEMU board, qemu-an386 or "
                                    "qemu-an547)")
    p.add_argument("--kernels", default="auto", choices=("auto", "reference"))
    p.add_argument("--inputs", type=int, default=3, help="random inputs per network (default 3)")
    p.add_argument("--show", action="store_true", help="only print the networks")
    p.add_argument("--out", help="keep the models and builds here (default: temporary)")
    p.set_defaults(func=_randnet)
