"""`tinyscene compile`, `tinyscene run`, `tinyscene compare`."""
from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from tinyscene.util.workdir import work_folder


def _compile(args: argparse.Namespace) -> int:
    from tinyscene.aot.compiler import compile_model
    from tinyscene.target.boards import load_board

    board = load_board(args.board) if args.board else None
    cmd = "tinyscene compile " + " ".join(shlex.quote(str(a)) for a in
                                          [args.model, "--out", args.out]
                                          + (["--board", args.board] if args.board else [])
                                          + (["--kernels", args.kernels] if args.kernels != "auto" else [])
                                          + (["--prefer", args.prefer] if args.prefer != "size" else [])
                                          + (["--stream", args.stream, "--stream-axis", args.stream_axis]
                                             if args.stream else []))
    if args.stream:
        from tinyscene.aot.stream import StreamSpec
        from tinyscene.aot.streamcompile import MODEL_C, MODEL_H, REPORT, compile_stream_model

        comp = compile_stream_model(Path(args.model), Path(args.out), StreamSpec(args.stream_axis), board=board,
                                    kernels=args.kernels, command=cmd)
        print(comp.summary())
        print(f"wrote {comp.out_dir}/{MODEL_C}, {MODEL_H}, {REPORT}")
        return 0
    comp = compile_model(Path(args.model), Path(args.out), board=board, kernels=args.kernels, command=cmd,
                         prefer=args.prefer)
    print(comp.summary())
    print(f"wrote {comp.out_dir}/model.c, model.h, compile_report.json")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from tinyscene.aot.compare import compare_with_tflm
    from tinyscene.util.atomic import write_json

    with work_folder(args.workdir) as wd:
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
    with work_folder(args.out, prefix="tinyscene-randnet-") as wd:
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
    p.add_argument("--prefer", default="size", choices=("size", "speed"),
                   help="size (default): every weight stored once, int8, in the layout its kernel reads; speed: "
                        "also expanded copies (Winograd's int16 transformed weights) where the board's flash allows")
    p.add_argument("--stream", choices=("time",),
                   help="streamed execution along the input's time axis: model_stream.c (rings of rows, running "
                        "sums) instead of model.c")
    p.add_argument("--stream-axis", default="W", choices=("H", "W"),
                   help="the input's time axis for --stream (NHWC; W for tinyscene's features, default)")
    p.set_defaults(func=_compile)

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
