"""`tinyscene demo` (what `make demo` runs): the whole pipeline on synthetic data, end to end,
through the same commands a user types, ending with a summary.

    synth -> features -> train (with the slimming L1 term) -> slim -> export -> inspect
          -> build + emulate (firmware self-test) -> parity on the emulated board -> summary
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tinyscene.errors import TsError


def _cli(*argv) -> None:
    """Run one `tinyscene` command in this process; a failure stops the demo with its message."""
    from tinyscene.cli import main

    argv = [str(a) for a in argv]
    print(f"$ tinyscene {' '.join(argv)}", flush=True)
    rc = main(argv)
    if rc != 0:
        raise TsError(f"demo stopped: `tinyscene {' '.join(argv)}` exited with {rc}")


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _fmt_pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def run_demo(args: argparse.Namespace) -> int:
    from tinyscene.data.tau import load_split

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data, run, slim = out / "data", out / "runs" / "demo", out / "runs" / "demo-slim"
    bundle, parity = out / "export" / "demo", out / "parity"
    timings: list[tuple[str, float]] = []

    def stage(short: str, title: str, *commands) -> None:
        print(f"\n=== {title}", flush=True)
        t = time.monotonic()
        for cmd in commands:
            _cli(*cmd)
        timings.append((short, time.monotonic() - t))

    stage("synth", "synthesise a data set in the TAU layout",
          ("data", "synth", "--out", data, "--clips-per-scene", args.clips_per_scene, "--seed", args.seed,
           "--force"))
    wavs = [c.path for c in load_split(data, "all")]
    stage("features", "fixed-point features of every clip (cached for training)",
          ("featurize", "--config", args.features, "--audio", data / "audio", "--out", out / "features.npz"),
          ("features", "--config", args.features, "--audio", wavs[0], "--impl", "device", "--board", args.board,
           "--out", out / "features_device.npy", "--int8-out", out / "features_device_int8.npy"))
    stage("train", "train the paper ResNet with mixup and the slimming L1 term",
          ("train", "--data", data, "--model", args.model, "--features", args.features, "--out", run,
           "--epochs", args.epochs, "--seed", args.seed, "--slim-l1", args.slim_l1, "--force"))
    stage("slim", "network slimming: remove channels, fine-tune",
          ("slim", "--run", run, "--ratio", args.slim_ratio, "--out", slim,
           "--finetune-epochs", args.finetune_epochs, "--force"))
    stage("export", "export: ONNX -> int8 TFLite, verification ladder, bundle",
          ("export", "--run", slim, "--out", bundle, "--calib", args.calib, "--force"),
          ("inspect", bundle))
    stage("selftest", f"firmware self-test on {args.board}",
          ("build", "--board", args.board, "--app", "selftest", "--out", out / "selftest.elf"),
          ("emulate", "--board", args.board, "--elf", out / "selftest.elf", "--timeout", 60))
    stage("parity", f"the classifier on {args.board}: device vs Python, clip by clip",
          ("parity", "--bundle", bundle, "--board", args.board, "--data", data, "--n", args.parity_clips,
           "--out", parity))

    base = _load(run / "metrics.json")
    slim_report, report, par = _load(slim / "slim.json"), _load(bundle / "report.json"), _load(parity / "parity.json")
    m = next((r for r in report.get("ladder", []) if r.get("rung") == "float_vs_int8"), {}).get("metrics", {})
    acc, params, counts, mem = slim_report["accuracy"], slim_report["params"], par.get("counts", {}), par.get("memory", {})
    unit = counts.get("unit", "instructions")

    def mean(key):
        return counts.get(key, {}).get("mean")

    print("\n=== summary")
    rows = [
        ("data", f"{len(wavs)} synthetic clips, front-end '{args.features}', model '{args.model}'"),
        ("float accuracy", f"{_fmt_pct(base.get('accuracy'))} trained; slimmed {_fmt_pct(acc['after_pruning'])} "
                           f"after pruning, {_fmt_pct(acc['after_finetune'])} after fine-tuning (class-balanced)"),
        ("int8 accuracy", f"{_fmt_pct(m.get('accuracy_int8'))} (float {_fmt_pct(m.get('accuracy_float'))}, "
                          f"top-1 agreement {_fmt_pct(m.get('top1_agreement'))} on {m.get('clips')} clips; "
                          "fraction of clips)"),
        ("device accuracy", f"{_fmt_pct(par.get('device_accuracy'))} on {par.get('clips')} clips; features "
                            f"bit-exact {_fmt_pct(par.get('features_bitexact'))}, logits bit-exact "
                            f"{_fmt_pct(par.get('logits_bitexact'))}, agreement {_fmt_pct(par.get('agreement'))}"),
        ("parameters", f"{params['before']:,} -> {params['after']:,} after slimming ({params['kept']:.0%})"),
        ("int8 model", f"{(bundle / 'model_int8.tflite').stat().st_size:,} B .tflite; "
                       f"{mem.get('model_flash', 0):,} B in the device image"),
    ]
    if mean("clip_total_with_io") is not None:
        rows.append((f"{unit} per clip", f"{mean('clip_total_with_io'):,.0f} (front-end {mean('frontend_per_clip'):,.0f}, "
                                         f"model {mean('model_per_invoke'):,.0f}; {par.get('kernels')} kernels)"))
    if mem:
        rows.append(("device memory", f"RAM {mem.get('image_ram_bytes', 0):,} B, flash {mem.get('image_flash_bytes', 0):,} B "
                                      f"on {par.get('board')}"))
    rows.append(("time", ", ".join(f"{n} {t:.0f} s" for n, t in timings)
                 + f"; total {sum(t for _, t in timings) / 60:.1f} min"))
    for k, v in rows:
        print(f"  {k:22s} {v}")
    print(f"\nfolders: data {data}, runs {run.parent}, bundle {bundle}, parity {parity}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("demo", help="the whole pipeline on synthetic data (what `make demo` runs)",
                       description="synth -> features -> train -> slim -> export -> build -> emulate -> "
                                   "parity, then a summary. About 10-15 minutes on 2 cores.")
    p.add_argument("--out", default="build/demo", help="working folder (default build/demo)")
    p.add_argument("--board", default="qemu-an386", help="emulated board (default qemu-an386)")
    p.add_argument("--model", default="paper")
    p.add_argument("--features", default="m4-small", help="front-end preset (default m4-small)")
    p.add_argument("--clips-per-scene", type=int, default=30)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--slim-l1", type=float, default=1e-2, help="L1 on BN scales during training")
    p.add_argument("--slim-ratio", type=float, default=0.5)
    p.add_argument("--finetune-epochs", type=int, default=6)
    p.add_argument("--calib", type=int, default=100,
                   help="calibration clips for the int8 export (default 100, as export's; with 40 the small "
                        "demo model lost two evaluate clips to int8 ties)")
    p.add_argument("--parity-clips", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    p.set_defaults(func=run_demo)
