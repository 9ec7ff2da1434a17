"""`export/<name>/`: the deployable bundle of a trained run (shared/DESIGN.md, "Contracts between stages").

    model.onnx           float model, NCHW input [1, channels, n_mels, frames], logits out
    model_int8.tflite    int8 in/out, NHWC input [1, n_mels, frames, channels] = the front-end's bytes
    frontend.json        {"config": FrontendConfig, "input_quant": InputQuant, "input": int8 scale,
                         zero point, shape, layout, "classes"}
    vectors/             NN_pcm.npy (int16 [channels, samples]), NN_features.npy (int8 [n_mels, frames,
                         channels], the fixed-point front-end on that PCM), NN_logits.npy (int8 [classes],
                         tflite_micro on those features); index.json names the clips
    report.json          the verification ladder (tinyscene.export.ladder), sizes, calibration
    logits.png           float vs int8 logits on the evaluate split
    c/                   model.c/.h (tinyscene.aot, the int8 model as C for the `reference` kernel family:
                         weights, folded biases, requantisation, static arena, kernel calls) and
                         fe_tables.c/.h (tinyscene.frontend.codegen, the front-end's tables and input
                         quantisation) — the generated C of the bundle. A firmware build
                         (tinyscene.deploy.classifier) checks the manifest and regenerates both from
                         model_int8.tflite and frontend.json for its board's kernel family
                         (armv7em, mve, ...): these copies are the portable reference version
    tflm/                model_data.cc/.h and ops.h for TensorFlow Lite Micro users
    manifest.json        sha256 + size of every other file, tool versions, git commit, configs

The folder is built under a temporary name and renamed into place only when every check passed
(an existing folder is refused unless force=True); `check_bundle` verifies a bundle against its
manifest, for the stages that consume it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
from tqdm import tqdm

from tinyscene import frontend
from tinyscene.aot.compiler import compile_graph, emit
from tinyscene.config import FrontendConfig
from tinyscene.data.audio import load_clip
from tinyscene.data.tau import CLASSES
from tinyscene.errors import TsError
from tinyscene.export import ladder as lad
from tinyscene.export.ladder import set_rung
from tinyscene.export.to_onnx import export_onnx
from tinyscene.export.to_tflite import convert
from tinyscene.frontend.codegen import write_fe_tables
from tinyscene.frontend.spec import ARITH_VERSION
from tinyscene.paths import REPO_ROOT
from tinyscene.tflite.arena import tflm_arena_bytes
from tinyscene.tflite.reader import read_tflite, read_tflite_bytes
from tinyscene.tflite.summary import summarize
from tinyscene.tflm import sources as tflm_src
from tinyscene.train import features as feat
from tinyscene.train.run import load_run, run_data_dir
from tinyscene.util.atomic import (
    atomic_dir,
    save_npy,
    write_bytes,
    write_json,
    write_text,
)
from tinyscene.util.jsonfile import read_json

BUNDLE_FORMAT = "tinyscene-bundle/1"
MANIFEST = "manifest.json"
SEED_INT8_KB = 83.46  # the seed's int8 model size (section 3.2), for the report
N_VECTORS = 5
# Calibration also sees every clip 20 dB quieter and louder (the fixed-point front-end on the scaled
# PCM): min/max ranges set on the clips' own levels alone saturate on a louder recording (measured:
# logit RMSE float vs int8 on the evaluate split 0.28 -> 0.017 on a synthetic run whose clips vary in
# level). 10 dB was not enough for a 20-clip calibration of the paper preset (synthetic, 12 clips per
# scene: evaluate logit RMSE 0.093, max 0.91, 2 of 37 top-1 flips; at 20 dB 0.026, max 0.18, 1 flip
# on a float margin of 0.003); on the 180 evaluate clips of the 60-per-scene run 20 dB gave 180/180
# agreement where 10 dB gave 179 (with the output bias correction; 178 without).
CALIB_GAIN_DB = 20.0


def _log(msg: str) -> None:
    print(f"export: {msg}", file=sys.stderr, flush=True)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tool_versions() -> dict:
    out = {"python": sys.version.split()[0]}
    for dist in ("tinyscene", "torch", "onnx", "onnxruntime", "onnxsim", "onnx2tf", "tensorflow", "tf_keras",
                 "tflite-micro", "ai-edge-litert", "numpy"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = None
    return out


def git_state() -> dict:
    def git(*args):
        try:
            r = subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.SubprocessError):
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def stratified(clips: list, n: int) -> list:
    """n clips taken round-robin over the classes (file order within a class): deterministic, and
    every class is in the calibration set."""
    by: dict[str, list] = {}
    for c in clips:
        by.setdefault(c.label, []).append(c)
    queues = [list(v) for _, v in sorted(by.items())]
    out: list = []
    while len(out) < n and any(queues):
        for q in queues:
            if q and len(out) < n:
                out.append(q.pop(0))
    return out


def scalar_quant(quant) -> tuple[float, int]:
    """(scale, zero point) of the front-end's int8 output = the model's int8 input quantisation."""
    scale = getattr(quant, "scale", None)
    zp = getattr(quant, "zero_point", None)
    if scale is None or zp is None or np.ndim(scale) != 0 or np.ndim(zp) != 0:
        raise TsError("front-end InputQuant: the int8 model input needs one scale and one zero point "
                      "(per-bin normalisation folded in before quantisation)")
    scale = float(np.float32(scale))
    zp = int(zp)
    if not (np.isfinite(scale) and scale > 0) or not -128 <= zp <= 127:
        raise TsError(f"front-end InputQuant: scale {scale}, zero point {zp} is not a valid int8 quantisation")
    return scale, zp


_scalar_quant = scalar_quant  # the name tinyscene.slim imports


def vector_features(fcfg, quant, clip) -> tuple[np.ndarray, np.ndarray]:
    """(int16 PCM [channels, samples], int8 features [n_mels, frames, channels]) of one clip, computed
    from its PCM by the fixed-point front-end — what the device is given and computes."""

    pcm = load_clip(clip.path, fcfg)
    fe = frontend.FixedFrontend(fcfg)
    q = np.asarray(fe.quantize(fe.logmel(pcm), quant))
    return pcm, q


def calibration_features(fcfg, quant, clips, gains_db=(0.0,)) -> np.ndarray:
    """int8 NHWC [len(clips) * len(gains_db), n_mels, frames, channels]: the fixed-point front-end's
    output for each clip's PCM scaled by each gain (int16, saturating) — the bytes the device
    computes for the same scene recorded louder or quieter."""

    fe = frontend.FixedFrontend(fcfg)
    out = []
    for c in tqdm(clips, desc="calibration features", unit="clip", leave=False, file=sys.stderr,
                  disable=len(clips) * len(gains_db) < 40):
        pcm = load_clip(c.path, fcfg)
        for g in gains_db:
            p = pcm if g == 0 else np.clip(np.rint(pcm.astype(np.float64) * 10.0 ** (g / 20.0)),
                                           -32768, 32767).astype(np.int16)
            out.append(np.asarray(fe.quantize(fe.logmel(p), quant), dtype=np.int8))
    return np.stack(out)


def export_bundle(run: str | os.PathLike, out: str | os.PathLike, *, calib: int = 100,
                  data: str | os.PathLike | None = None, fail_on: str | None = None, force: bool = False,
                  n_vectors: int = N_VECTORS, exact_clips: int = 32, command: str | None = None,
                  workers: int = 2, calib_gain_db: float = CALIB_GAIN_DB, bias_correction: bool = True) -> dict:
    """Export run folder `run` into bundle folder `out`; returns the report (report.json)."""

    t0 = time.time()
    command = command or f"tinyscene export --run {run} --out {out}"
    thresholds = lad.parse_fail_on(fail_on)
    calib = int(calib)
    calib_min = thresholds.get("calib_min")
    if calib_min is not None and calib < calib_min:
        raise TsError(f"--calib {calib}: a calibration set of fewer than {int(calib_min)} clips is too small "
                      "to set the int8 ranges")
    if calib < 1:
        raise TsError(f"--calib {calib}: must be >= 1")
    out = Path(out)
    if out.exists() and not force:
        raise TsError(f"{out}: already exists (use --force to replace it)")


    model, cfg = load_run(run)
    data_dir = run_data_dir(run, cfg, data)
    fold = int(cfg.get("fold", 1))
    fcfg = FrontendConfig.from_dict(cfg["frontend"], source=f"{run}/config.json")
    quant = feat.quant_from_dict(cfg["input_quant"])
    scale, zp = scalar_quant(quant)
    c, h, w = (int(v) for v in cfg["input_shape"])
    nhwc_shape = [1, h, w, c]

    _log(f"run {run}: model {cfg.get('model_name')} input [{c}, {h}, {w}], front-end {fcfg.name}, data {data_dir}")
    train_clips = feat.split_clips(data_dir, "train", fold)
    chosen = stratified(train_clips, calib)
    if calib_min is not None and len(chosen) < calib_min:
        raise TsError(f"{data_dir}: the train split has {len(train_clips)} clip(s); a calibration set needs at "
                      f"least {int(calib_min)}")
    if not (0 <= calib_gain_db <= 40):
        raise TsError(f"--calib-gain-db {calib_gain_db}: must be in 0..40 dB")
    gains = (0.0,) if calib_gain_db == 0 else (0.0, -float(calib_gain_db), float(calib_gain_db))
    _log(f"features: {len(chosen)} calibration clips (train split) x gains {', '.join(f'{g:+g} dB' for g in gains)}; "
         "evaluate split")
    q_cal = calibration_features(fcfg, quant, chosen, gains)
    ev = feat.split_features(fcfg, quant, data_dir, "evaluate", fold, workers)
    q_ev = ev.nhwc()
    if list(q_ev.shape[1:]) != nhwc_shape[1:]:
        raise TsError(f"{data_dir}: front-end features {list(q_ev.shape[1:])} do not fit the model's NHWC "
                      f"input {nhwc_shape[1:]}")

    with atomic_dir(out, force=force) as tmp:
        work = tmp / ".work"
        _log("torch -> ONNX")
        onnx_info = export_onnx(model, (c, h, w), tmp / "model.onnx")
        _log(f"ONNX -> int8 TFLite (onnx2tf + TFLiteConverter, {len(q_cal)} calibration inputs)")
        tfl, tfl_info = convert(tmp / "model.onnx", q_cal, scale, zp, work, nhwc_shape,
                                bias_calib=q_cal[::len(gains)], bias_correction=bias_correction)
        write_bytes(tmp / "model_int8.tflite", tfl)

        _log(f"verification ladder on {len(q_ev)} evaluate clips")
        report, arrays = lad.run_ladder(
            lad.LadderInputs(model=model, onnx_path=tmp / "model.onnx", tflite=tfl, scale=scale, zero_point=zp,
                             q_eval=q_ev, labels=ev.labels, exact_clips=exact_clips),
            thresholds, progress=lambda m: _log(f"  {m}"))
        calib_rec = dict(tfl_info["calibration"])
        calib_rec.update({"split": "train", "requested": calib, "clips": len(chosen), "gains_db": list(gains),
                          "files": [cl.filename for cl in chosen]})
        cal_check = lad.check("calib_min", float(len(chosen)), thresholds)
        report["calibration"] = calib_rec
        report["compaction"] = tfl_info["compaction"]
        report["calibration"]["check"] = cal_check
        report["thresholds"] = thresholds
        print(lad.format_table(report), file=sys.stderr, flush=True)
        bad = lad.failures(report)
        if bad:
            raise TsError(f"{out}: the verification ladder failed ({'; '.join(bad)}); no bundle written "
                          "(thresholds: --fail-on)")

        arena = tflm_arena_bytes(tfl)
        flash = tfl_info["flash"]
        report.update({
            "format": lad.REPORT_FORMAT,
            "created_by": command,
            "run": str(Path(run).resolve()),
            "data_dir": str(data_dir.resolve()),
            "model": {"name": cfg.get("model_name"), "params_torch": int(sum(p.numel() for p in model.parameters())),
                      "params_int8": tfl_info["params"], "onnx": onnx_info, "ops": tfl_info["op_counts"],
                      "input": tfl_info["input"], "output": tfl_info["output"],
                      "per_channel_weights": tfl_info["per_channel_weights"]},
            "sizes": {"tflite_bytes": flash["file"], "tflite_kb": round(flash["file"] / 1024, 2),
                      "onnx_bytes": (tmp / "model.onnx").stat().st_size, **{f"{k}_bytes": v for k, v in flash.items()
                                                                           if k != "file"},
                      "seed_int8_kb": SEED_INT8_KB,
                      "vs_seed": round(flash["file"] / 1024 / SEED_INT8_KB - 1, 4)},
            "tflm_arena_bytes": arena,
            "plot": "logits.png",
            "seconds": None,
        })
        lad.plot_logits(arrays, tmp / "logits.png", list(CLASSES))

        _log(f"vectors ({min(n_vectors, len(ev.clips))} evaluate clips)")
        vec = tmp / "vectors"
        vec.mkdir()
        index = []
        k = min(int(n_vectors), len(ev.clips))
        feats = []
        pcms = []
        for i in range(k):
            pcm, q = vector_features(fcfg, quant, ev.clips[i])
            if not np.array_equal(q, q_ev[i]):
                raise TsError(f"{ev.clips[i].path}: the front-end on the clip's PCM differs from the cached "
                              "features the ladder used (stale feature cache?)")
            feats.append(q)
            pcms.append(pcm)
        logits = lad.run_tflm(tfl, np.stack(feats)) if feats else np.zeros((0, 0), np.int8)
        for i in range(k):
            stem = f"{i:02d}"
            save_npy(vec / f"{stem}_pcm.npy", pcms[i].astype(np.int16))
            save_npy(vec / f"{stem}_features.npy", feats[i].astype(np.int8))
            save_npy(vec / f"{stem}_logits.npy", logits[i].astype(np.int8))
            index.append({"id": stem, "file": ev.clips[i].filename, "label": ev.clips[i].label,
                          "class_index": int(ev.clips[i].class_index),
                          "predicted": int(np.argmax(logits[i])),
                          "pcm": f"{stem}_pcm.npy", "features": f"{stem}_features.npy",
                          "logits": f"{stem}_logits.npy"})
        write_json(vec / "index.json", {"sample_rate": fcfg.sample_rate, "pcm": "int16 [channels, samples]",
                                        "features": "int8 [n_mels, frames, channels] (fixed-point front-end)",
                                        "logits": "int8 [classes] (tflite_micro)", "clips": index})

        write_json(tmp / "frontend.json", {
            "frontend_arith": ARITH_VERSION, "config": fcfg.to_dict(), "input_quant": quant.to_dict(),
            "input": {"dtype": "int8", "scale": scale, "zero_point": zp, "layout": "NHWC", "shape": nhwc_shape},
            "output": {"dtype": "int8", "scale": tfl_info["output"]["scale"],
                       "zero_point": tfl_info["output"]["zero_point"], "shape": tfl_info["output"]["shape"]},
            "classes": list(CLASSES)})

        _log("generated C: c/model.c/.h (tinyscene.aot, reference kernels), c/fe_tables.c/.h")
        write_generated_c(tmp / "c", tfl, fcfg, quant, command)

        (tmp / "tflm").mkdir()
        digest = hashlib.sha256(tfl).hexdigest()
        write_text(tmp / "tflm" / "model_data.h", tflm_src.model_data_h(len(tfl), command))
        write_text(tmp / "tflm" / "model_data.cc", tflm_src.model_data_cc(tfl, command, digest))
        write_text(tmp / "tflm" / "ops.h", tflm_src.ops_h(read_tflite_bytes(tfl, "model_int8.tflite"), arena,
                                                           command))

        shutil.rmtree(work, ignore_errors=True)
        report["seconds"] = round(time.time() - t0, 1)
        write_json(tmp / "report.json", report)
        write_manifest(tmp, {
            "created_by": command,
            "run": str(Path(run).resolve()), "data_dir": str(data_dir.resolve()), "fold": fold,
            "model_name": cfg.get("model_name"), "model_config": cfg.get("model_config"),
            "input_shape": [c, h, w], "frontend": fcfg.to_dict(), "input_quant": quant.to_dict(),
            "calibration_clips": len(chosen), "calibration_gains_db": list(gains), "fail_on": thresholds,
        })
    _log(f"wrote {out} ({report['sizes']['tflite_bytes']} B int8 model, {report['seconds']} s)")
    return report


def write_generated_c(out: Path, tflite: bytes, fcfg, quant, command: str) -> None:
    """c/model.c/.h (tinyscene.aot for the reference kernel family; the banner names
    model_int8.tflite and its sha256) and c/fe_tables.c/.h (tinyscene.frontend.codegen)."""
    g = read_tflite_bytes(tflite, "model_int8.tflite")
    emit(compile_graph(g, "reference", board=None), out, command, report=False)
    write_fe_tables(out, fcfg, quant, command=command)


def write_manifest(folder: Path, configs: dict) -> dict:
    files = {}
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST and not any(part.startswith(".") for part in p.relative_to(folder).parts):
            rel = p.relative_to(folder).as_posix()
            files[rel] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
    man = {"format": BUNDLE_FORMAT, "files": files, "versions": tool_versions(), "git": git_state(),
           "configs": configs, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    write_json(folder / MANIFEST, man)
    return man


def check_bundle(path: str | os.PathLike) -> dict:
    """The manifest of bundle `path` after checking every file against it (TsError naming the first
    missing, changed or unlisted file)."""
    path = Path(path)
    mpath = path / MANIFEST
    if not mpath.is_file():
        raise TsError(f"{path}: not an export bundle (no {MANIFEST})")
    man = read_json(mpath, dict)
    if man.get("format") != BUNDLE_FORMAT or not isinstance(man.get("files"), dict):
        raise TsError(f"{mpath}: not a {BUNDLE_FORMAT} manifest")
    for rel, rec in man["files"].items():
        f = path / rel
        if not f.is_file():
            raise TsError(f"{f}: listed in {MANIFEST} but missing")
        if f.stat().st_size != rec.get("bytes") or sha256_file(f) != rec.get("sha256"):
            raise TsError(f"{f}: does not match its sha256 in {MANIFEST} (the bundle was changed after export)")
    for p in path.rglob("*"):
        rel = p.relative_to(path).as_posix()
        if p.is_file() and p.name != MANIFEST and rel not in man["files"] and not rel.startswith("."):
            raise TsError(f"{p}: not listed in {MANIFEST}")
    return man


def add_rung(path: str | os.PathLike, record: dict) -> dict:
    """Add or replace one rung of the bundle's ladder (e.g. `device_vs_host` from `tinyscene parity`,
    built with `tinyscene.export.ladder.rung(...)`), keeping manifest.json consistent. Returns the
    updated report."""

    path = Path(path)
    man = check_bundle(path)
    if not isinstance(record, dict) or "rung" not in record or "status" not in record:
        raise TsError("ladder rung: needs at least 'rung' and 'status'")
    report = json.loads((path / "report.json").read_text())
    set_rung(report, record)
    write_json(path / "report.json", report)
    man["files"]["report.json"] = {"sha256": sha256_file(path / "report.json"),
                                   "bytes": (path / "report.json").stat().st_size}
    write_json(path / MANIFEST, man)
    return report


def inspect_bundle(path: str | os.PathLike) -> dict:
    """What `tinyscene inspect` shows, as a dict: the int8 model's summary and the report."""
    path = Path(path)
    man = check_bundle(path)
    info = summarize(read_tflite(path / "model_int8.tflite"))
    report = json.loads((path / "report.json").read_text()) if (path / "report.json").is_file() else {}
    return {"bundle": str(path), "model": info, "report": report, "manifest": man}
