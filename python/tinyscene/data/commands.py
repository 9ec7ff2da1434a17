"""`tinyscene data ...`: synth, download, example, info."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("data", help="data sets: synthesise, download TAU, inspect",
                       description="Data sets in the TAU Urban Acoustic Scenes 2020 3Class layout.")
    dsub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    dsub.required = True

    s = dsub.add_parser("synth", help="write a synthetic data set in the TAU layout",
                        description="Synthetic scenes (10 TAU scene labels, 48 kHz 24-bit binaural wavs, "
                                    "fold 1 split ~70/30 by recording location).")
    s.add_argument("--out", required=True, help="folder to create")
    s.add_argument("--clips-per-scene", type=int, required=True, metavar="N", help="clips of each of the 10 scenes")
    s.add_argument("--seconds", type=float, default=10.0, metavar="S", help="clip length (default 10, as TAU)")
    s.add_argument("--seed", type=int, default=0, metavar="K", help="random seed (default 0)")
    s.add_argument("--jobs", type=int, default=None, metavar="J", help="worker processes (default: up to 2)")
    s.add_argument("--force", action="store_true", help="replace an existing --out")
    s.set_defaults(func=cmd_synth)

    d = dsub.add_parser("download", help="download TAU Urban Acoustic Scenes 2020 3Class (development)",
                        description="Fetch the official archives (resumable; size and checksums verified) and "
                                    "unpack them into the TAU layout.")
    d.add_argument("--out", required=True, help="folder to create")
    d.add_argument("--base-url", default=None, help="where the archives are (default: the zenodo record)")
    d.add_argument("--table", default=None, metavar="JSON",
                   help='archive table to use instead of the built-in one: [{"name", "size", "sha256"|"md5"}]')
    d.add_argument("--force", action="store_true", help="replace an existing --out")
    d.add_argument("--keep-archives", action="store_true", help="keep the downloaded zips (.OUT.download/)")
    d.set_defaults(func=cmd_download)

    e = dsub.add_parser("example", help="a real 10 s binaural scene recording (from dcase_util on PyPI)",
                        description="Fetch (once, into the user cache) the example recording of dcase_util "
                                    "0.2.20 and print its path.")
    e.add_argument("--out", default=None, metavar="F", help="also copy it to F")
    e.set_defaults(func=cmd_example)

    i = dsub.add_parser("info", help="check a TAU-layout data folder and count its clips",
                        description="Checks meta.csv, the fold files and every wav header; prints clips per "
                                    "split and class.")
    i.add_argument("--data", required=True, help="the data folder")
    i.add_argument("--fold", type=int, default=1)
    i.add_argument("--seconds", type=float, default=10.0, metavar="S", help="expected clip length (default 10)")
    i.add_argument("--no-audio-check", action="store_true", help="skip reading the wav headers")
    i.add_argument("--json", action="store_true", help="print the counts as JSON")
    i.set_defaults(func=cmd_info)


def cmd_synth(args: argparse.Namespace) -> int:
    from tinyscene.data.synth import synth

    clips = synth(args.out, args.clips_per_scene, seconds=args.seconds, seed=args.seed, jobs=args.jobs,
                  force=args.force, progress=sys.stderr.isatty())
    n_eval = sum(c.fold == "evaluate" for c in clips)
    print(f"wrote {len(clips)} clips ({len(clips) - n_eval} train, {n_eval} evaluate) of {args.seconds:g} s "
          f"to {args.out}")
    if n_eval == 0:
        print("note: with 1 clip per scene every clip is in fold1_train.csv; use 2 or more for an evaluate split")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from tinyscene.data import download as dl

    table = dl.load_table(args.table) if args.table else dl.ARCHIVES
    out = dl.download(args.out, base_url=args.base_url or dl.BASE_URL, table=table, force=args.force,
                      keep_archives=args.keep_archives, progress=sys.stderr.isatty())
    print(f"{out}: {len(table)} archives verified and unpacked")
    return 0


def cmd_example(args: argparse.Namespace) -> int:
    from tinyscene.data.example import example_wav
    from tinyscene.util.atomic import atomic_path

    path = example_wav()
    if args.out:
        with atomic_path(args.out) as tmp:
            shutil.copyfile(path, tmp)
            mask = os.umask(0)
            os.umask(mask)
            os.chmod(tmp, 0o666 & ~mask)
        path = Path(args.out)
    print(path)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from tinyscene.data import tau
    from tinyscene.data.audio import WavSpec, check_wav

    meta = tau.read_meta(args.data)
    splits = tau.check_folds(args.data, args.fold, meta)
    splits["all"] = list(meta.values())
    if not args.no_audio_check:
        spec = WavSpec(48000, 2, args.seconds)
        for clip in tqdm(splits["all"], desc="checking wavs", unit="wav", disable=not sys.stderr.isatty()):
            check_wav(clip.path, spec)
    counts = {s: tau.class_counts(c) for s, c in splits.items()}
    shared = tau.shared_locations(splits["train"], splits["evaluate"])
    if args.json:
        print(json.dumps({"data": str(args.data), "fold": args.fold, "counts": counts,
                          "scenes": tau.scene_counts(splits["all"]),
                          "shared_locations": sorted(shared), "audio_checked": not args.no_audio_check}, indent=2))
        return 0
    w = max(len(c) for c in tau.CLASSES)
    print(f"{args.data}: TAU layout, fold {args.fold}")
    print(f"{'split':<9} " + " ".join(f"{c:>{w}}" for c in tau.CLASSES) + f" {'total':>6}")
    for s in ("train", "evaluate", "all"):
        print(f"{s:<9} " + " ".join(f"{counts[s][c]:>{w}}" for c in tau.CLASSES) + f" {len(splits[s]):>6}")
    if shared:
        print(f"note: {len(shared)} recording location(s) have clips in both train and evaluate")
    if not args.no_audio_check:
        print(f"audio: {len(splits['all'])} wav headers ok (48000 Hz, 2 channels, >= {args.seconds:g} s)")
    return 0
