"""`tinyscene parity` (the device classifies exactly as Python) and `tinyscene flash` (program a board)."""
from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path


def _bundle_clips(bundle) -> list:
    """The bundle's own test vectors (vectors/NN_pcm.npy + index.json labels)."""
    import numpy as np

    from tinyscene.deploy.parity import ParityClip
    from tinyscene.errors import TsError

    vec = bundle.path / "vectors"
    index = vec / "index.json"
    if not index.is_file():
        raise TsError(f"{bundle.path}: no vectors/index.json: give clips with --data DIR --n N or --audio FILE...")
    clips = []
    for e in json.loads(index.read_text()).get("clips", []):
        pcm = np.load(vec / e["pcm"])
        clips.append(ParityClip(e.get("file") or e["id"], pcm.astype(np.int16), e.get("class_index")))
    if not clips:
        raise TsError(f"{index}: lists no clips")
    return clips


def _parity(args: argparse.Namespace) -> int:
    from tinyscene.deploy.classifier import load_bundle
    from tinyscene.deploy.parity import (
        clips_from_audio,
        clips_from_data,
        markdown,
        parity_run,
    )
    from tinyscene.errors import TsError

    if args.data and args.audio:
        raise TsError("give either --data DIR --n N or --audio FILE..., not both")
    if args.n is not None and args.n < 1:
        raise TsError(f"--n {args.n}: must be at least 1")
    bundle = load_bundle(args.bundle)
    if args.data:
        clips = clips_from_data(args.data, args.n or 10, bundle.config, bundle.classes, split=args.split)
    elif args.audio:
        clips = clips_from_audio(args.audio, bundle.config)
    else:
        clips = _bundle_clips(bundle)
        if args.n:
            clips = clips[:args.n]
    every = args.stream_every
    if args.decide_every:
        from tinyscene.deploy.classifier import resolve_exec, sliding_refusal

        if every and every != args.decide_every:
            raise TsError("give --decide-every or --stream-every, not both")
        if resolve_exec(bundle, args.runtime, args.exec) == "stream":
            raise TsError(sliding_refusal(bundle))
        every = args.decide_every
    report = parity_run(bundle, args.board, clips, transport=args.transport, runtime=args.runtime,
                        out_dir=Path(args.out), port=args.port, flash=not args.no_flash, tool=args.tool,
                        timeout=args.timeout, stream_every=every, exec_mode=args.exec)
    print(markdown(report), end="")
    print(f"wrote {Path(args.out) / 'parity.json'} and parity.md ({report['seconds']} s)")
    if report["features_bitexact"] < 1 or report["logits_bitexact"] < 1:
        fd = report["first_divergence"]
        print(f"tinyscene parity: the device differs from Python: first at stage {fd['stage']}, clip {fd['clip']}, "
              f"index {fd['index']}")
        return 1
    return 0


def _flash(args: argparse.Namespace) -> int:
    from tinyscene.deploy.classifier import build_classifier
    from tinyscene.errors import TsError
    from tinyscene.target.boards import load_board
    from tinyscene.target.flash import flash_command, flash_image

    board = load_board(args.board)
    if board.flash_tool is None:
        raise TsError(f"board '{board.name}' cannot be flashed (no flash_tool in its board.yaml)"
                      + ("; it is emulated: use `tinyscene parity`" if board.is_emulated or board.is_host else ""))
    fw = build_classifier(args.bundle, board, runtime=args.runtime, exec_mode=args.exec,
                          command=f"tinyscene flash --bundle {Path(args.bundle).name} --board {board.name} "
                                  f"--runtime {args.runtime}" + (f" --exec {args.exec}" if args.exec else ""))
    print(fw.summary())
    cmd = flash_command(board, fw.elf, args.tool)
    if args.dry_run:
        print(shlex.join(cmd))
        return 0
    print(f"programming {board.name}: {shlex.join(cmd)}")
    flash_image(board, fw.elf, args.tool)
    print(f"flashed {board.name}; run `tinyscene parity --bundle {args.bundle} --board {board.name} --no-flash "
          f"--out DIR` to check it")
    return 0


def _build(args: argparse.Namespace, target_build) -> int:
    """`tinyscene build --app classifier --bundle B`: the classifier firmware of a bundle (other apps: target's)."""
    from tinyscene.errors import TsError

    if args.bundle is None:
        if args.app == "classifier":
            raise TsError("--app classifier: give the bundle (--bundle export/NAME)")
        return target_build(args)
    if args.app != "classifier":
        raise TsError(f"--bundle: only the classifier app takes a bundle, not '{args.app}'")
    from tinyscene.deploy.classifier import build_classifier

    fw = build_classifier(args.bundle, args.board, runtime=args.runtime, exec_mode=args.exec, out=Path(args.out),
                          command=f"tinyscene build --board {args.board} --app classifier --bundle "
                                  f"{Path(args.bundle).name} --runtime {args.runtime}"
                                  + (f" --exec {args.exec}" if args.exec else ""))
    print(fw.summary())
    return 0


EXEC_HELP = ("model execution: stream (row by row along time as the frames arrive; the default when the model can "
             "be streamed and the runtime is aot) or tensor (the whole feature map, then whole tensors)")


def register(sub: argparse._SubParsersAction) -> None:
    build = sub.choices.get("build")  # tinyscene.target.commands' `build`: the classifier's options added here
    if build is not None:
        target_build = build.get_default("func")
        build.add_argument("--bundle", help="--app classifier: the export bundle to build the classifier of")
        build.add_argument("--runtime", choices=["aot", "tflm"], default="aot", help="classifier: model runtime")
        build.add_argument("--exec", choices=["stream", "tensor"], help="classifier: " + EXEC_HELP)
        build.set_defaults(func=lambda a: _build(a, target_build))

    p = sub.add_parser("parity", help="run clips on a device (QEMU or a real board) and prove it computes exactly "
                                      "what Python computes (features, logits, class)")
    p.add_argument("--bundle", required=True, help="export bundle folder (tinyscene export)")
    p.add_argument("--board", required=True, help="a folder of boards/ (see `tinyscene boards`)")
    p.add_argument("--data", help="TAU-layout data folder: clips from its evaluate split")
    p.add_argument("--n", type=int, help="clips from --data (default 10) or from the bundle's vectors")
    p.add_argument("--split", default="evaluate", help="split of --data (default evaluate)")
    p.add_argument("--audio", nargs="+", help="wav files to classify (no labels)")
    p.add_argument("--port", help="serial port of a real board (default: the ST-LINK virtual COM port found)")
    p.add_argument("--transport", choices=["semihosting", "uart"],
                   help="QEMU boards: semihosting files (default) or the emulated UART; real boards: uart")
    p.add_argument("--runtime", choices=["aot", "tflm"], default="aot", help="model runtime (default aot)")
    p.add_argument("--out", required=True, help="folder for parity.json and parity.md")
    p.add_argument("--exec", choices=["stream", "tensor"], help=EXEC_HELP)
    p.add_argument("--decide-every", type=int, default=0, metavar="HOPS",
                   help="a sliding decision: a classification every HOPS hops over the last clip length of audio "
                        "(--exec tensor: the feature ring; a streamed model refuses it where its rows at a window's "
                        "edges would differ, i.e. any padding along time)")
    p.add_argument("--stream-every", type=int, default=0, metavar="HOPS", help="the same as --decide-every (--exec tensor)")
    p.add_argument("--no-flash", action="store_true", help="real boards: use the firmware already on the board")
    p.add_argument("--tool", choices=["pyocd", "openocd"], help="real boards: programmer (default: board.yaml)")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds a clip may take on the device (default 300)")
    p.set_defaults(func=_parity)

    p = sub.add_parser("flash", help="build the classifier firmware of a bundle and program a real board")
    p.add_argument("--bundle", required=True, help="export bundle folder")
    p.add_argument("--board", required=True, help="a real board (boards/<name> with a flash_tool)")
    p.add_argument("--runtime", choices=["aot", "tflm"], default="aot", help="model runtime (default aot)")
    p.add_argument("--exec", choices=["stream", "tensor"], help=EXEC_HELP)
    p.add_argument("--tool", choices=["pyocd", "openocd"], help="programmer (default: board.yaml flash_tool)")
    p.add_argument("--dry-run", action="store_true", help="build, then print the programming command only")
    p.set_defaults(func=_flash)
