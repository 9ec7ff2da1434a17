"""`tinyscene export` (run folder → verified bundle) and `tinyscene inspect` (a bundle's model and ladder)."""
from __future__ import annotations

import argparse
import json
import shlex
import sys


def register(sub) -> None:
    from tinyscene.export.bundle import CALIB_GAIN_DB
    from tinyscene.export.ladder import FAIL_ON

    defaults = ", ".join(f"{k}={v[0]:g}" for k, v in FAIL_ON.items())
    p = sub.add_parser(
        "export", help="export a trained run: ONNX, int8 TFLite, verification ladder, deployable bundle",
        description="torch -> ONNX (opset 17, static batch 1) -> int8 TFLite (onnx2tf + TFLiteConverter, "
                    "calibrated on the fixed-point front-end's int8 output, NHWC, no transposes) -> "
                    "verification ladder (report.json) -> bundle folder with vectors, manifest and TFLM sources. "
                    "Nothing is written unless every rung passes its --fail-on threshold.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="--fail-on keys (defaults): " + defaults + "; a value of 'off' disables a check.")
    p.add_argument("--run", required=True, metavar="RUN", help="a `tinyscene train` run folder (runs/NAME)")
    p.add_argument("--out", required=True, metavar="DIR", help="bundle folder to create (export/NAME)")
    p.add_argument("--calib", type=int, default=100, metavar="N",
                   help="calibration clips from the train split (default 100; fewer than 10 is an error)")
    p.add_argument("--data", default=None, metavar="DIR", help="data folder (default: the run's, from config.json)")
    p.add_argument("--fail-on", default=None, metavar="KEY=VALUE,...",
                   help="ladder thresholds that make the export fail (see below)")
    p.add_argument("--calib-gain-db", type=float, default=CALIB_GAIN_DB, metavar="G",
                   help=f"calibrate on each clip also G dB quieter and louder (default {CALIB_GAIN_DB:g}; "
                        "0 = as recorded only)")
    p.add_argument("--no-bias-correction", dest="bias_correction", action="store_false",
                   help="keep the converter's bias of the output layer (default: corrected for the mean int8 "
                        "vs float logit offset on the calibration clips)")
    p.add_argument("--vectors", type=int, default=5, metavar="N", help="evaluate clips saved as test vectors (default 5)")
    p.add_argument("--exact-clips", type=int, default=32, metavar="N",
                   help="evaluate clips run through the reference interpreters for the bit-exact rungs (default 32)")
    p.add_argument("--force", action="store_true", help="replace an existing --out")
    p.set_defaults(func=cmd_export)

    i = sub.add_parser("inspect", help="show an export bundle: ops, tensor shapes, parameters, flash, the ladder",
                       description="Checks the bundle against its manifest, then prints the int8 model's ops "
                                   "with their shapes, parameter count, flash size of the weights and the "
                                   "verification ladder.")
    i.add_argument("bundle", metavar="DIR", help="an export bundle (export/NAME)")
    i.add_argument("--json", action="store_true", help="print everything as JSON")
    i.add_argument("--board", help="plan the streamed model with this board's kernels and check it against its "
                                   "RAM and flash (default: reference kernels, no board)")
    i.set_defaults(func=cmd_inspect)


def cmd_export(args: argparse.Namespace) -> int:
    from tinyscene.errors import TsError
    from tinyscene.export.bundle import export_bundle

    if args.vectors < 5:
        raise TsError(f"--vectors {args.vectors}: a bundle carries at least 5 test vectors")
    if args.exact_clips < 1:
        raise TsError(f"--exact-clips {args.exact_clips}: must be >= 1")
    command = "tinyscene " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:2] == ["export"] \
        else f"tinyscene export --run {args.run} --out {args.out}"
    report = export_bundle(args.run, args.out, calib=args.calib, data=args.data, fail_on=args.fail_on,
                           force=args.force, n_vectors=args.vectors, exact_clips=args.exact_clips, command=command,
                           calib_gain_db=args.calib_gain_db, bias_correction=args.bias_correction)
    s = report["sizes"]
    print(f"{args.out}: int8 model {s['tflite_bytes']} B ({s['tflite_kb']} KiB; weights {s['weights_int8_bytes']} B), "
          f"TFLM arena {report['tflm_arena_bytes']} B, ladder {'PASS' if report['passed'] else 'FAIL'}")
    return 0


def _shape(s) -> str:
    return "x".join(str(v) for v in s) if s else "-"


def stream_plan(bundle, board_name: str | None) -> dict:
    """The bundle's model compiled for streamed execution along time (its plan), or why it cannot stream."""
    from pathlib import Path

    from tinyscene.aot.stream import StreamSpec
    from tinyscene.aot.streamcompile import compile_stream_graph, stream_parts
    from tinyscene.errors import TsError
    from tinyscene.target.boards import load_board
    from tinyscene.target.budget import place
    from tinyscene.tflite.reader import read_tflite

    board = load_board(board_name) if board_name else None
    try:
        comp = compile_stream_graph(read_tflite(Path(bundle) / "model_int8.tflite"), StreamSpec("W"),
                                    board.kernel_family() if board else "reference")
    except TsError as e:
        return {"streamable": False, "reason": str(e)}
    rep = comp.report()
    out = {"streamable": True, "kernels": comp.family, "memory": comp.memory(), "stream": rep["stream"],
           "layers": [{k: L.get(k) for k in ("index", "op", "kernel", "rows_out", "rows_per_call", "ring",
                                             "accumulator_bytes", "scratch_bytes")} for L in rep["layers"]]}
    if board is not None:
        arena, weights = stream_parts(comp)
        try:
            place(board, [arena], [weights], "the streamed model")
            out["board"] = {"name": board.name, "fits": True}
        except TsError as e:
            out["board"] = {"name": board.name, "fits": False, "reason": str(e)}
    return out


def print_stream_plan(sp: dict) -> None:
    if not sp["streamable"]:
        print(f"streamed execution: no ({sp['reason']})")
        return
    m, st = sp["memory"], sp["stream"]
    print(f"streamed execution (--exec stream, {sp['kernels']} kernels): {st['rows']} input rows of "
          f"{st['row_bytes']:,} B, {st['calls_per_clip']:,} kernel calls per clip; arena {m['arena']:,} B = rings "
          f"{m['rings_persistent']:,} B + sums {m['accumulators']:,} B + shared {m['shared']:,} B (transient rings, "
          f"scratch up to {m['scratch_max']:,} B, the layers after the reduction)")
    for L in sp["layers"]:
        r = L["ring"]
        what = (f"ring {r['rows']} x {r['row_bytes']:,} B = {r['bytes']:,} B{'' if r['persistent'] else ' (shared)'}"
                if r else f"sums {L['accumulator_bytes']:,} B" if L.get("accumulator_bytes") else "at the end")
        print(f"  {L['index']:3d} {L['op']:18s} {L['kernel']:26s} {what}")
    if "board" in sp:
        b = sp["board"]
        print(f"board {b['name']}: " + ("the streamed model fits" if b["fits"] else b["reason"]))


def cmd_inspect(args: argparse.Namespace) -> int:
    from tinyscene.export.bundle import inspect_bundle
    from tinyscene.export.ladder import format_table

    info = inspect_bundle(args.bundle)
    sp = stream_plan(args.bundle, args.board)
    if args.json:
        print(json.dumps({"model": info["model"], "report": info["report"], "stream": sp}, indent=2, default=str))
        return 0
    m = info["model"]
    print(f"bundle {info['bundle']}  (manifest OK: {len(info['manifest']['files'])} files)")
    print(f"input  {m['input']['dtype']} {_shape(m['input']['shape'])}  scale {m['input']['scale']:.9g} "
          f"zero point {m['input']['zero_point']}")
    print(f"output {m['output']['dtype']} {_shape(m['output']['shape'])}  scale {m['output']['scale']:.9g} "
          f"zero point {m['output']['zero_point']}")
    print()
    rows = [(str(op["index"]), op["op"], ", ".join(_shape(s) for s in op["inputs"]),
             _shape(op["weights"]) if op["weights"] else "", _shape(op["output"])) for op in m["ops"]]
    head = ("#", "op", "input", "weights", "output")
    w = [max(len(r[i]) for r in rows + [head]) for i in range(5)]
    for r in [head] + rows:
        print(f"{r[0]:>{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]:<{w[3]}}  {r[4]}")
    f = m["flash"]
    print()
    print(f"parameters {m['params']:,}; ops {len(m['ops'])} ({', '.join(f'{k} x{v}' for k, v in m['op_counts'].items())})")
    print(f"flash: weights {f['weights_int8']:,} B + biases {f['biases_int32']:,} B + other constants "
          f"{f['other_constants']:,} B = {f['total_constants']:,} B; quantisation parameters {f['quant_params']:,} B; "
          f".tflite file {f['file']:,} B ({f['file'] / 1024:.1f} KiB)")
    rep = info["report"]
    if rep.get("tflm_arena_bytes"):
        print(f"TFLM arena (tflite_micro interpreter): {rep['tflm_arena_bytes']:,} B")
    print()
    print_stream_plan(sp)
    if rep.get("ladder"):
        print()
        print(format_table(rep))
    return 0
