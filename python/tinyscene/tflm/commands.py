"""`tinyscene third-party ...` (pinned TFLM / CMSIS-NN sources and their libraries) and
`tinyscene bench` (runtimes side by side)."""
from __future__ import annotations

import argparse
from pathlib import Path


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def cmd_fetch(args: argparse.Namespace) -> int:
    import os

    from tinyscene.thirdparty.fetch import MIRROR_ENV, fetch, load_lock

    lock = load_lock()
    names = _csv(args.only) if args.only else None
    mirror = os.environ.get(MIRROR_ENV)
    print(f"third-party sources ({len(names or lock)}) from " + (f"the mirror {mirror}" if mirror else "the source host"))
    for name, path in fetch(names, progress=not args.quiet).items():
        src = lock[name]
        print(f"  {src.repository:28s} {src.commit[:12]}  tree {src.tree_sha256[:12]}  {path}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from tinyscene.errors import TsError
    from tinyscene.thirdparty.fetch import load_lock, source_dir, verify

    lock = load_lock()
    result = verify(_csv(args.only) if args.only else None)
    for name, ok in result.items():
        print(f"  {lock[name].repository:28s} {'ok' if ok else 'MISMATCH or missing'}  {source_dir(lock[name])}")
    bad = [n for n, ok in result.items() if not ok]
    if bad:
        raise TsError(f"{', '.join(bad)}: the cached tree does not match third_party.lock (run "
                      "`tinyscene third-party fetch` after removing it)")
    return 0


def cmd_digest(args: argparse.Namespace) -> int:
    import re
    import tempfile

    from tinyscene.errors import TsError
    from tinyscene.thirdparty.fetch import Source, extract, keep_paths, tree_digest

    path = Path(args.archive)
    m = re.match(r"^(.+)-([0-9a-f]{40})\.tar\.gz$", path.name)
    if not m:
        raise TsError(f"{path}: expected a file named <repo>-<commit>.tar.gz")
    src = Source(m.group(1), f"unknown/{m.group(1)}", m.group(2), "0" * 64)
    with tempfile.TemporaryDirectory() as tmp:
        root = extract(src, path, Path(tmp))
        keep_paths(root, tuple(_csv(args.paths)) if args.paths else ())
        print(tree_digest(root))
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from tinyscene.target.boards import board_names, load_board
    from tinyscene.tflm.build import cpu_kind, prebuild

    names = _csv(args.boards) if args.boards else board_names()
    boards = [load_board(n) for n in names]
    done: dict[str, str] = {}
    for b in boards:
        kind = cpu_kind(b)
        if kind.label in done:
            print(f"  {b.name:14s} {kind.label}: same library as {done[kind.label]}")
            continue
        lib, seconds = prebuild(b, progress=not args.quiet)
        done[kind.label] = b.name
        print(f"  {b.name:14s} {kind.label}: {lib.dir}  ({seconds:.0f} s)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("third-party", help="pinned TFLM / CMSIS-NN sources: fetch, verify, build",
                       description="The C sources of the TensorFlow Lite Micro runtime, pinned in third_party.lock "
                                   "and cached outside the source tree (set TS_THIRD_PARTY_MIRROR to a folder of "
                                   "<repo>-<commit>.tar.gz archives to work offline).")
    tsub = p.add_subparsers(dest="third_party_command", metavar="SUBCOMMAND")
    tsub.required = True

    f = tsub.add_parser("fetch", help="get, verify and extract every pinned source (resumable; skips what is there)")
    f.add_argument("--only", metavar="NAMES", help="comma-separated repository names (default: all)")
    f.add_argument("--quiet", action="store_true", help="no progress bars")
    f.set_defaults(func=cmd_fetch)

    v = tsub.add_parser("verify", help="recompute the tree digest of every cached source")
    v.add_argument("--only", metavar="NAMES", help="comma-separated repository names (default: all)")
    v.set_defaults(func=cmd_verify)

    b = tsub.add_parser("build", help="build the TFLM + CMSIS-NN libraries (one per CPU kind) into the cache")
    b.add_argument("--boards", metavar="B,...", help="boards whose CPU kinds to build (default: every board)")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=cmd_build)

    d = tsub.add_parser("digest", help="print the tree digest of a <repo>-<commit>.tar.gz (to pin a new commit)")
    d.add_argument("archive")
    d.add_argument("--paths", metavar="P,...", help="only these top-level files/folders (a lock entry's `paths`)")
    d.set_defaults(func=cmd_digest)
