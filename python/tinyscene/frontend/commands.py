"""`tinyscene features`, `tinyscene featurize`, `tinyscene bench-fe`."""
from __future__ import annotations

import argparse
from pathlib import Path

IMPLS = ("fixed", "float", "device")
FE_FAMILIES = ("auto", "reference", "armv7em", "mve")  # the front-end stages a device build takes


def load_audio(cfg, path):
    """A wav for the front-end: resampled to cfg.sample_rate (soxr), mono = mean when cfg.channels is
    1, int16 [channels, samples]; the first clip_seconds of it, as training sees it (a shorter file
    is taken whole, without padding)."""
    from tinyscene.data import audio

    info = audio.wav_info(path)
    if info.frames / info.samplerate >= cfg.clip_seconds:
        return audio.load_clip(path, cfg)
    x, rate = audio.read_wav(path)
    x = audio.mix_channels(x, cfg.channels, path)
    return audio.to_pcm16(audio.resample(x, rate, cfg.sample_rate))


def load_quant(path, cfg):
    """An InputQuant from a frontend.json (its input_quant / quant member) or a bare InputQuant JSON;
    a config in the file must equal `cfg`."""
    import json

    from tinyscene.config import FrontendConfig
    from tinyscene.errors import TsError
    from tinyscene.frontend.quant import InputQuant

    try:
        d = json.loads(Path(path).read_text())
    except (OSError, ValueError) as e:
        raise TsError(f"{path}: not a readable JSON file ({e})") from None
    if not isinstance(d, dict):
        raise TsError(f"{path}: must be a JSON object")
    if isinstance(d.get("config"), dict):
        other = FrontendConfig.from_dict(d["config"], source=str(path))
        mine = {k: v for k, v in cfg.to_dict().items() if k != "name"}
        theirs = {k: v for k, v in other.to_dict().items() if k != "name"}
        if mine != theirs:
            diff = ", ".join(f"{k} {theirs[k]} != {mine[k]}" for k in mine if mine[k] != theirs[k])
            raise TsError(f"{path}: its front-end config does not match --config {cfg.name} ({diff})")
    q = d.get("input_quant", d.get("quant", d))
    return InputQuant.from_dict(q, source=str(path)).check(cfg, str(path))


def _features(args: argparse.Namespace) -> int:
    import numpy as np

    from tinyscene.config import load_frontend_config
    from tinyscene.errors import TsError
    from tinyscene.util.atomic import save_npy

    cfg = load_frontend_config(args.config)
    if args.int8_out and args.impl == "float":
        raise TsError("--int8-out: the int8 model input comes from the fixed-point front-end (--impl fixed or device)")
    if (args.board or args.fe_kernels != "auto") and args.impl != "device":
        raise TsError("--board and --fe-kernels are for --impl device")
    pcm = load_audio(cfg, args.audio)
    quant = None
    if args.impl in ("fixed", "device"):
        from tinyscene.frontend.native import FixedFrontend
        from tinyscene.frontend.quant import InputQuant

        fe = FixedFrontend(cfg)
        if args.int8_out:
            if args.quant:
                quant = load_quant(args.quant, cfg)
            else:  # default: the per-bin statistics of this clip's own fixed-point log-mel
                quant = InputQuant.fit(cfg, [fe.logmel(pcm)])
    if args.impl == "float":
        from tinyscene.frontend.spec import float_logmel

        feats, q8 = float_logmel(cfg, pcm), None
    elif args.impl == "fixed":
        if quant is not None:
            q8, L = fe.process_clip(pcm, quant)
        else:
            q8, L = None, fe.logmel(pcm)
        feats = fe.to_float(L)
    else:
        from tinyscene.frontend.device import run_device

        run = run_device(cfg, pcm, quant, args.board or "qemu-an386", timeout=args.timeout, fe_kernels=args.fe_kernels)
        feats, q8 = fe.to_float(run.logmel), run.int8
        print(f"device {args.board or 'qemu-an386'} ({run.family} stages): {run.frames} frames, {run.units_total:,.0f} {run.unit} "
              f"({run.units_per_hop:,.0f} per hop), state {run.state_bytes:,} B + scratch {run.scratch_bytes:,} B, "
              f"tables {run.table_bytes:,} B")
    save_npy(args.out, np.asarray(feats, np.float32))
    msg = f"{args.out}: {args.impl} log-mel float32 [channels, n_mels, frames] = {list(feats.shape)}"
    if q8 is not None:
        save_npy(args.int8_out, q8)
        msg += f"; {args.int8_out}: int8 [n_mels, frames, channels] = {list(q8.shape)}"
        if not args.quant:
            msg += " (quantisation fitted on this clip; give --quant frontend.json for a model's)"
    print(msg)
    return 0


def _wav_list(items) -> list[Path]:
    from tinyscene.errors import TsError

    out = []
    for it in items:
        p = Path(it)
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix.lower() in (".wav", ".flac"))
        elif p.is_file():
            out.append(p)
        else:
            raise TsError(f"{p}: no such file or folder")
    if not out:
        raise TsError("no audio files found")
    return out


def _featurize(args: argparse.Namespace) -> int:
    import numpy as np

    from tinyscene.config import load_frontend_config
    from tinyscene.frontend.batch import featurize_clips
    from tinyscene.frontend.spec import LOG_FRAC_BITS
    from tinyscene.paths import cache_dir
    from tinyscene.util.atomic import atomic_path

    cfg = load_frontend_config(args.config)
    wavs = _wav_list(args.audio)
    cache = None if args.no_cache else Path(args.cache) if args.cache else cache_dir() / "features"
    L = featurize_clips(cfg, wavs, cache=cache, workers=args.workers)
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, logmel=L, files=np.array([str(w) for w in wavs]), log_frac_bits=LOG_FRAC_BITS,
                     config=np.array(__import__("json").dumps(cfg.to_dict())))
    print(f"{args.out}: {len(wavs)} clips, int32 Q{31 - LOG_FRAC_BITS}.{LOG_FRAC_BITS} log-mel "
          f"[clips, channels, n_mels, frames] = {list(L.shape)}")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from tinyscene.config import load_frontend_config
    from tinyscene.frontend.bench import bench, failures, format_table
    from tinyscene.util.atomic import write_json

    configs = [load_frontend_config(name.strip()) for name in args.configs.split(",") if name.strip()]
    boards = [b.strip() for b in (args.board or args.boards).split(",") if b.strip()]
    result = bench(configs, boards, args.seconds, cmsis=not args.no_cmsis)
    print()
    print(format_table(result))
    if args.out:
        write_json(args.out, result)
        print(f"\nwrote {args.out}")
    bad = failures(result)
    for line in bad:
        print(f"bench-fe: {line}")
    return 1 if bad else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("features", help="log-mel features of a wav: fixed-point C on the host, float librosa "
                                        "reference, or the front-end firmware on a board")
    p.add_argument("--config", required=True, help="front-end preset (paper, m4-small, tiny) or JSON file")
    p.add_argument("--audio", required=True, help="wav file (resampled to the config's rate; the first "
                                                  "clip_seconds of it)")
    p.add_argument("--out", required=True, help="float32 log-mel [channels, n_mels, frames] (.npy), natural log "
                                                 "of the power mel, before normalisation")
    p.add_argument("--impl", choices=IMPLS, default="fixed", help="fixed (C on the host, default), float "
                                                                  "(librosa), device (firmware under QEMU)")
    p.add_argument("--board", help="board for --impl device (default qemu-an386)")
    p.add_argument("--fe-kernels", choices=FE_FAMILIES, default="auto",
                   help="the front-end's stages for --impl device: auto (the board's best: mve on Helium, armv7em "
                        "with the DSP extension, else reference), reference (the portable C), armv7em, mve (an "
                        "error on a board without that extension); every family gives the same integers")
    p.add_argument("--int8-out", help="also the int8 model input [n_mels, frames, channels] (.npy)")
    p.add_argument("--quant", help="frontend.json (or an InputQuant JSON) with the model's input "
                                   "normalisation/quantisation; default: fitted on this clip")
    p.add_argument("--timeout", type=float, default=600.0, help="seconds for the device run (default 600)")
    p.set_defaults(func=_features)

    p = sub.add_parser("featurize", help="fixed-point log-mel of many wavs (a data set) into one .npz, cached "
                                         "per clip, on several processes")
    p.add_argument("--config", required=True)
    p.add_argument("--audio", required=True, nargs="+", help="wav files and/or folders (searched recursively)")
    p.add_argument("--out", required=True, help=".npz with logmel (int32 Q7.24 [clips, channels, n_mels, "
                                                "frames]), files, config")
    p.add_argument("--cache", help="cache folder (default: the user cache)")
    p.add_argument("--no-cache", action="store_true")
    p.add_argument("--workers", type=int, default=2)
    p.set_defaults(func=_featurize)

    p = sub.add_parser("bench-fe", help="front-end benchmark: tinyscene and CMSIS-DSP (f32, q31, q15) measured in "
                                        "the same run per config and board: instructions per channel-frame, "
                                        "flash/RAM, SNR vs librosa, int8 within one step, device == host, "
                                        "streaming == clip")
    p.add_argument("--configs", default="paper,m4-small", help="comma-separated presets/files (default "
                                                               "paper,m4-small)")
    p.add_argument("--boards", default="qemu-an386", help="comma-separated boards (default qemu-an386)")
    p.add_argument("--board", help="one board (the same as --boards with one)")
    p.add_argument("--seconds", type=float, help="clip length (default: the config's clip_seconds)")
    p.add_argument("--no-cmsis", action="store_true", help="skip the CMSIS-DSP comparison")
    p.add_argument("--out", help="also write the results as JSON: {\"rows\": [...], ...}")
    p.set_defaults(func=_bench)
