"""Device parity: the classifier firmware of a bundle runs clips on a board (QEMU or real) and every
stage it sends back is compared with Python — the int8 features with the host build of the same C
front-end, the int8 logits with the tflite_micro interpreter on the Python features, the class with
both. `parity_run` is the library entry (`tinyscene parity`, `make demo`).

parity.json: clips, features_bitexact, logits_bitexact (fractions of clips), agreement (device class
== Python class), device_accuracy / python_accuracy (vs labels, over labelled clips), first_divergence
(stage, layer, index, values), counts (instructions on QEMU, cycles on silicon), memory, per-clip rows.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from tinyscene.aot.compare import compare_with_tflm
from tinyscene.data.audio import load_clip
from tinyscene.data.tau import load_split
from tinyscene.deploy.classifier import build_classifier, load_bundle, resolve_exec
from tinyscene.deploy.session import ClipRequest, StreamSession, check_info, run_batch
from tinyscene.errors import TsError
from tinyscene.export.bundle import add_rung
from tinyscene.export.ladder import rung
from tinyscene.frontend import FixedFrontend
from tinyscene.paths import cache_dir
from tinyscene.target.boards import load_board
from tinyscene.target.flash import flash_image
from tinyscene.target.protocol import ClipResult, ProtocolError
from tinyscene.target.serial import SerialTransport, default_port
from tinyscene.target.status import status_text
from tinyscene.target.transport import start_uart_device
from tinyscene.tflite.interpreters import run_tflm
from tinyscene.tflite.reader import read_tflite
from tinyscene.util.atomic import write_json, write_text
from tinyscene.util.lock import file_lock


@dataclass
class ParityClip:
    name: str
    pcm: np.ndarray  # int16 [channels, samples]
    label: int | None = None  # class index, when known


def clips_from_data(data_dir: str | Path, n: int, cfg, classes: Sequence[str], split: str = "evaluate",
                    fold: int = 1) -> list[ParityClip]:
    """N clips of a TAU-layout folder's split, classes taken in turn (deterministic)."""

    clips = load_split(data_dir, split, fold)
    if not clips:
        raise TsError(f"{data_dir}: the {split} split of fold {fold} has no clips")
    by_class: dict[str, list] = {}
    for c in clips:
        by_class.setdefault(c.label, []).append(c)
    order, i = [], 0
    while len(order) < min(n, len(clips)):
        for label in sorted(by_class):
            if i < len(by_class[label]) and len(order) < n:
                order.append(by_class[label][i])
        i += 1
    out = []
    for c in order:
        label = list(classes).index(c.label) if c.label in classes else None
        out.append(ParityClip(c.filename, load_clip(c.path, cfg), label))
    return out


def clips_from_audio(files: Sequence[str | Path], cfg) -> list[ParityClip]:
    out = []
    for f in files:
        if not Path(f).is_file():
            raise TsError(f"{f}: no such audio file")
        out.append(ParityClip(Path(f).name, load_clip(f, cfg), None))
    return out


def _as_clips(clips, cfg) -> list[ParityClip]:
    out = []
    for k, c in enumerate(clips):
        if isinstance(c, ParityClip):
            out.append(c)
        elif isinstance(c, (str, Path)):
            out += clips_from_audio([c], cfg)
        elif isinstance(c, tuple):
            out.append(ParityClip(str(c[0]), np.asarray(c[1]), c[2] if len(c) > 2 else None))
        else:
            out.append(ParityClip(f"clip{k:03d}", np.asarray(c), None))
    for c in out:
        if c.pcm.dtype != np.int16 or c.pcm.ndim != 2 or c.pcm.shape[0] != cfg.channels:
            raise TsError(f"{c.name}: PCM must be int16 [{cfg.channels}, samples], got {c.pcm.dtype} {list(c.pcm.shape)}")
    return out


# ---------------------------------------------------------------------------------------------
# Python side

def first_difference(a: np.ndarray, b: np.ndarray) -> tuple[int, ...] | None:
    if a.shape != b.shape:
        return ()
    diff = np.argwhere(a != b)
    return tuple(int(x) for x in diff[0]) if len(diff) else None


def _layer_divergence(bundle, board, runtime: str, features: np.ndarray, workdir: Path) -> dict | None:
    """Where the device's model first differs from tflite_micro on the same features: per-layer dumps of
    tinyscene's runtime on the same board (tinyscene.aot.compare); None when it cannot tell."""
    if runtime != "aot":
        return None
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        np.save(workdir / "input.npy", features[None].astype(np.int8))
        cmp = compare_with_tflm(bundle.tflite, board.name, workdir / "input.npy", workdir=workdir)
        d = cmp.to_dict()
        return {"first_difference": d["first_difference"], "summary": cmp.text()}
    except Exception as e:  # a diagnosis must not hide the parity result
        return {"error": str(e)}


def _whole_tensor_board(board, arena: int):
    """Where the whole-tensor build of a model runs beside a streamed device: the board itself when it is
    emulated and holds the arena, else an emulated board of the same machine, or of the same kernel family,
    with the RAM for it; the host build when none."""
    from tinyscene.target.boards import board_names

    def fits(b) -> bool:
        return b.ram.size - b.stack_size - b.heap_size - 16 * 1024 >= arena or (
            b.ext_ram is not None and b.ext_ram.size >= arena)

    if board.is_host:
        return board
    if board.is_emulated and fits(board):
        return board
    cands = [load_board(n) for n in board_names()]
    cands = [c for c in cands if c.is_emulated and c.name != board.name and fits(c)]
    for same in (lambda c: c.qemu == board.qemu, lambda c: c.kernel_family() == board.kernel_family()):
        pick = [c for c in cands if same(c)]
        if pick:
            return pick[0]
    return load_board("host")


def whole_tensor_check(b, brd, results, report: dict, workdir: Path) -> dict:
    """Streamed execution vs the whole-tensor build of the same bundle on the same clips: the whole-tensor
    generated C (tinyscene.aot.runner, the board's kernel family) on the features the device computed, its
    logits against the device's."""
    from tinyscene.aot.compiler import compile_graph
    from tinyscene.aot.runner import run as run_whole

    shape = b.feature_shape
    feats, dev = [], []
    for r in results:
        if r.features is None or not r.classifications:
            continue
        feats.append(r.features.reshape(shape[1], shape[0], shape[2]).transpose(1, 0, 2)[None].copy())
        dev.append(r.classifications[-1].logits)
    if not feats:
        return {"clips": 0}
    whole = _whole_tensor_board(brd, compile_graph(read_tflite(b.tflite)).plan.arena_bytes)
    outs, rep = run_whole(b.tflite, whole, feats, workdir=workdir, timeout=600)
    equal = [bool(np.array_equal(np.asarray(o).reshape(-1), np.asarray(d).reshape(-1))) for o, d in zip(outs, dev)]
    return {"board": whole.name, "kernels": rep.kernels, "clips": len(equal), "logits_equal": sum(equal) / len(equal),
            "instructions_per_clip": rep.instructions, "arena_bytes": rep.arena_bytes}


def image_ram_parts(fw) -> dict:
    """Everything the firmware image reserves in RAM, by part (bytes): the model arena, the front-end, the I/O
    buffers, the feature ring, the rest of .data/.bss, heap, stack (from the ELF's symbols and sections); a buffer
    placed in the board's external RAM is listed as "NAME (external RAM)", outside the internal RAM total."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    if fw.board.is_host:
        return {}
    groups = {"ts_model_arena": "model arena", "fe_state": "front-end state", "fe_scratch": "front-end scratch",
              "feature_ring": "feature ring", "hop_pcm": "I/O buffers", "rx_buf": "I/O buffers", "tx_buf": "I/O buffers",
              "rx_ring": "UART receive ring"}
    parts: dict[str, int] = {}
    ext_parts: dict[str, int] = {}
    sections: dict[str, int] = {}
    with open(fw.elf, "rb") as f:
        e = ELFFile(f)
        ram, ext = fw.board.ram, fw.board.ext_ram
        for sec in e.iter_sections():
            if sec["sh_flags"] & 0x2 and ram.origin <= sec["sh_addr"] < ram.origin + ram.size:
                sections[sec.name] = sec["sh_size"]
        for sec in e.iter_sections():
            if isinstance(sec, SymbolTableSection):
                for sym in sec.iter_symbols():
                    name = groups.get(sym.name.split(".")[0])
                    if not name or sym["st_info"]["type"] != "STT_OBJECT":
                        continue
                    addr = sym["st_value"]
                    if ram.origin <= addr < ram.origin + ram.size:
                        parts[name] = parts.get(name, 0) + sym["st_size"]
                    elif ext and ext.origin <= addr < ext.origin + ext.size:
                        ext_parts[f"{name} (external RAM)"] = ext_parts.get(f"{name} (external RAM)", 0) + sym["st_size"]
    data_bss = sum(v for k, v in sections.items() if k not in (".heap", ".stack"))
    parts["other .data/.bss (C library, runtime, vectors)"] = data_bss - sum(parts.values())
    parts["heap"] = sections.get(".heap", 0)
    parts["stack"] = sections.get(".stack", 0)
    return {**parts, **ext_parts}


# ---------------------------------------------------------------------------------------------
# Device side

def _session_clips(s, fw, reqs, info, progress):
    """The clips through a started session whose device announced `info`: (info, results, link stats)."""
    check_info(info, fw.bundle.bundle_id, s.what)
    results = []
    for r in reqs:
        results.append(s.run_clip(r))
        if progress:
            progress.update(1)
    s.bye()
    return info, results, {"resent": s.link.n_resent, "crc_errors": s.link.n_crc_errors}


def run_on_device(fw, reqs, transport: str, *, port: str | None = None, timeout: float = 300.0,
                  workdir: Path, progress=None):
    """(DeviceInfo, [ClipResult], protocol stats) of the clips on the board of `fw`."""

    board = fw.board
    stats = {"resent": 0, "crc_errors": 0}
    Path(workdir).mkdir(parents=True, exist_ok=True)
    if transport == "semihosting":
        info, results = run_batch(board, fw.elf, reqs, workdir, timeout=30 + timeout * len(reqs))
        check_info(info, fw.bundle.bundle_id, f"{board.name} firmware")
        if progress:
            progress.update(len(reqs))
        return info, results, stats
    if board.is_emulated or board.is_host:
        with start_uart_device(board, fw.elf, ["--uart"], cwd=workdir) as dev:
            s = StreamSession(dev.transport, what=f"{board.name} firmware", clip_timeout=timeout)
            try:
                info, results, stats = _session_clips(s, fw, reqs, s.wait_info(60), progress)
                rc = dev.wait(30)
            except ProtocolError as e:
                tail = dev.console_tail()
                raise ProtocolError(f"{board.name} (UART): {e}" + (f" [console: {tail}]" if tail else "")) from None
            if rc not in (0, None):
                raise ProtocolError(f"{board.name}: classifier firmware exited with code {rc}: {dev.console_tail()}")
            return info, results, stats
    # a real board on its serial port

    t = SerialTransport(port or default_port(), board.uart_baud)
    try:
        s = StreamSession(t, what=f"{board.name} on {t.name}", clip_timeout=timeout)
        s.link.drain()
        return _session_clips(s, fw, reqs, s.wait_info(15, ping=True), progress)
    finally:
        t.close()


# ---------------------------------------------------------------------------------------------
# The run

def parity_run(bundle, board, clips, transport: str | None = None, runtime: str = "aot",
               out_dir: str | Path | None = None, *, port: str | None = None, flash: bool = True,
               tool: str | None = None, timeout: float = 300.0, stream_every: int = 0,
               progress: bool = True, record: bool = True, exec_mode: str | None = None) -> dict:
    """Run `clips` (ParityClip, (name, pcm[, label]) tuples, int16 [channels, samples] arrays or wav
    paths) through the classifier of `bundle` on `board` and compare with Python. Writes parity.json and
    parity.md into out_dir (when given) only once everything is known, and (record=True, a device
    board) the `device_vs_host` rung of the bundle's ladder; returns the parity dict."""

    t0 = time.monotonic()
    b = bundle if hasattr(bundle, "bundle_id") else load_bundle(bundle)
    brd = board if hasattr(board, "ram") else load_board(board)
    clips = _as_clips(clips, b.config)
    if not clips:
        raise TsError("parity: no clips to run")
    if transport is None:
        transport = "semihosting" if brd.console == "semihosting" and brd.is_emulated else "uart"
    if transport not in ("semihosting", "uart"):
        raise TsError(f"--transport {transport}: expected semihosting or uart")
    if brd.transports and transport not in brd.transports and not brd.is_host:
        raise TsError(f"board '{brd.name}' speaks {', '.join(brd.transports)}, not {transport}")
    if transport == "semihosting" and not (brd.is_emulated or brd.is_host):
        raise TsError(f"board '{brd.name}' is not emulated: semihosting needs QEMU (use --transport uart)")
    streaming = stream_every > 0
    ex = resolve_exec(b, runtime, exec_mode if exec_mode is not None or not streaming else "tensor")
    if streaming and ex == "stream":
        raise TsError("--stream-every: the sliding classifications take the whole feature window each time "
                      "(--exec tensor); a streamed model classifies each whole clip")
    if not streaming:
        for c in clips:
            if 1 + c.pcm.shape[1] // b.config.hop_length != b.n_frames:
                raise TsError(f"{c.name}: {c.pcm.shape[1]} samples give {1 + c.pcm.shape[1] // b.config.hop_length} "
                              f"frames; the model takes {b.n_frames} (clips of {b.config.clip_seconds:g} s)")

    fw = build_classifier(b, brd, runtime=runtime, exec_mode=ex,
                          command=f"tinyscene parity --bundle {b.path.name} --board {brd.name} --runtime {runtime} "
                                  f"--exec {ex}")
    if flash and not (brd.is_emulated or brd.is_host):

        flash_image(brd, fw.elf, tool=tool)


    work = cache_dir() / "parity" / f"{brd.name}-{time.strftime('%Y%m%d-%H%M%S')}-{id(clips) & 0xFFFF:04x}"
    reqs = [ClipRequest(k + 1, c.pcm, features=True, streaming=streaming, every=stream_every)
            for k, c in enumerate(clips)]
    bar = None
    if progress:

        bar = tqdm(total=len(reqs), desc=f"parity {brd.name} ({transport})", unit="clip", leave=False,
                   disable=None)
    try:
        info, results, stats = run_on_device(fw, reqs, transport, port=port, timeout=timeout, workdir=work,
                                             progress=bar)
    finally:
        if bar:
            bar.close()
    failed = [(c, r) for c, r in zip(clips, results) if r.status != 0]
    if failed:
        c, r = failed[0]
        raise TsError(f"{brd.name}: clip {c.name} failed on the device: {r.message} "
                      f"(status {r.status}: {status_text(r.status)})")

    report = compare(b, brd, fw, clips, results, streaming=streaming, every=stream_every)
    if ex == "stream":
        report["whole_tensor"] = whole_tensor_check(b, brd, results, report, work / "whole")
    report.update(transport=transport, runtime=runtime, exec=ex, protocol=stats,
                  seconds=round(time.monotonic() - t0, 1), device_info=dataclasses.asdict(info))
    if report["first_divergence"] and report["first_divergence"]["stage"] == "logits":
        fd = report["first_divergence"]
        k = fd["clip_index"]
        layer = _layer_divergence(b, brd, runtime, results[k].features.reshape(b.feature_shape), work / "layers")
        if layer:
            fd["layer"] = layer

    shutil.rmtree(work, ignore_errors=True)
    if out_dir is not None:
        write_report(report, Path(out_dir))
    if record and not brd.is_host:
        record_rung(b.path, report)
    return report


def record_rung(bundle_path: Path, report: dict) -> None:
    """The `device_vs_host` rung of the bundle's verification ladder (report.json), one entry per board
    and transport/runtime; kept consistent with manifest.json (tinyscene.export.bundle.add_rung)."""

    path = Path(bundle_path)
    if not (path / "report.json").is_file():
        return  # a bundle without a ladder (hand-made): nothing to add to
    with file_lock(path / ".parity.lock"):
        try:
            old = json.loads((path / "report.json").read_text())
        except (OSError, ValueError):
            return
        prev = next((r for r in old.get("ladder", []) if r.get("rung") == "device_vs_host"), None)
        runs = dict((prev or {}).get("metrics", {}).get("runs", {}))
        key = f"{report['board']}/{report['transport']}/{report['runtime']}"
        runs[key] = {k: report[k] for k in ("clips", "features_bitexact", "logits_bitexact", "agreement",
                                             "device_accuracy", "python_accuracy")}
        worst_f = min(r["features_bitexact"] for r in runs.values())
        worst_l = min(r["logits_bitexact"] for r in runs.values())
        checks = [{"key": "features_bitexact", "value": worst_f, "op": ">=", "threshold": 1, "pass": worst_f >= 1},
                  {"key": "logits_bitexact", "value": worst_l, "op": ">=", "threshold": 1, "pass": worst_l >= 1}]
        metrics = {"runs": runs, "clips": sum(r["clips"] for r in runs.values()),
                   "features_bitexact": worst_f, "logits_bitexact": worst_l}
        add_rung(path, rung("device_vs_host", metrics, checks))


def _unit(board) -> str:
    return board.counter.unit if board.counter.unit != "none" else "ticks"


def compare(b, brd, fw, clips: list[ParityClip], results: list[ClipResult], *, streaming: bool = False,
            every: int = 0) -> dict:
    """Device results vs Python, per clip and overall."""

    per_tick = brd.counter.per_tick
    rows = []
    first = None
    n_feat_ok = n_logit_ok = n_agree = 0
    n_lab = n_dev_ok = n_py_ok = 0
    fe = FixedFrontend(b.config)
    tfl = b.tflite.read_bytes()
    n_frames = b.n_frames
    for k, (c, r) in enumerate(zip(clips, results)):
        q = np.asarray(fe.quantize(fe.logmel(c.pcm), b.quant), dtype=np.int8)  # [n_mels, T, ch]
        if streaming:
            T = q.shape[1]
            ends = [e for e in range(n_frames, T + 1) if (e - n_frames) % every == 0]
            windows = np.stack([q[:, e - n_frames:e, :] for e in ends]) if ends else np.zeros((0, *b.feature_shape), np.int8)
            py_logits = run_tflm(tfl, windows).astype(np.int8) if len(ends) else np.zeros((0, b.n_classes), np.int8)
            dev_feat = None if r.features is None else r.features.reshape(T, b.config.n_mels, b.config.channels).transpose(1, 0, 2)
            dev_logits = np.stack([w.logits for w in r.classifications]) if r.classifications else \
                np.zeros((0, b.n_classes), np.int8)
        else:
            py_logits = run_tflm(tfl, q[None]).astype(np.int8)
            if r.features is None:
                dev_feat = None
            elif fw.exec == "stream":  # frame by frame: [frame][mel][channel]
                dev_feat = r.features.reshape(q.shape[1], q.shape[0], q.shape[2]).transpose(1, 0, 2)
            else:
                dev_feat = r.features.reshape(q.shape)
            dev_logits = np.stack([w.logits for w in r.classifications]) if r.classifications else \
                np.zeros((0, b.n_classes), np.int8)
        feat_ok = dev_feat is not None and np.array_equal(dev_feat, q)
        logit_ok = dev_logits.shape == py_logits.shape and np.array_equal(dev_logits, py_logits)
        py_class = int(np.argmax(py_logits[-1])) if len(py_logits) else None
        dev_class = r.label
        agree = py_class is not None and dev_class == py_class and (
            not streaming or [w.label for w in r.classifications] == [int(np.argmax(x)) for x in py_logits])
        n_feat_ok += feat_ok
        n_logit_ok += logit_ok
        n_agree += agree
        if c.label is not None:
            n_lab += 1
            n_dev_ok += dev_class == c.label
            n_py_ok += py_class == c.label
        if first is None and not feat_ok:
            idx = first_difference(dev_feat, q) if dev_feat is not None else ()
            first = {"stage": "features", "clip": c.name, "clip_index": k, "layer": None,
                     "index": {"mel": idx[0], "frame": idx[1], "channel": idx[2]} if idx else None,
                     "device": int(dev_feat[idx]) if idx else None, "python": int(q[idx]) if idx else None,
                     "differing": int(np.sum(dev_feat != q)) if dev_feat is not None and dev_feat.shape == q.shape else None}
        elif first is None and not logit_ok:
            idx = first_difference(dev_logits, py_logits)
            first = {"stage": "logits", "clip": c.name, "clip_index": k, "layer": None,
                     "index": list(idx) if idx else None,
                     "device": dev_logits.tolist(), "python": py_logits.tolist()}
        cnt = {name: int(round(v * per_tick)) if name.endswith("ticks") else int(v) for name, v in r.counts.items()}
        rows.append({
            "clip": c.name, "label": c.label, "device_class": dev_class, "python_class": py_class,
            "features_equal": bool(feat_ok), "logits_equal": bool(logit_ok), "agree": bool(agree),
            "device_logits": dev_logits.tolist(), "python_logits": py_logits.tolist(),
            "counts": cnt, "stack_high_water": r.stack_high_water})
    n = len(clips)
    unit = _unit(brd)

    def stat(key: str, per: str | None = None) -> dict:
        vals = []
        for row in rows:
            v = row["counts"].get(key)
            if v is None:
                continue
            d = row["counts"].get(per, 1) if per else 1
            vals.append(v / max(d, 1))
        if not vals:
            return {}
        return {"mean": float(np.mean(vals)), "min": float(np.min(vals)), "max": float(np.max(vals))}

    if brd.counter.unit == "none":  # the host build has no counter
        for row in rows:
            row["counts"] = {k: v for k, v in row["counts"].items() if not k.endswith("ticks")}
    counts = {"unit": unit, "per_tick": per_tick,
              "frontend_per_clip": stat("fe_ticks"), "frontend_per_hop": stat("fe_ticks", "hops"),
              "frontend_max_hop": stat("fe_max_hop_ticks"), "model_per_invoke": stat("model_ticks", "invokes"),
              "model_per_clip": stat("model_ticks"), "model_max_hop": stat("model_max_ticks"),
              "hop_max": stat("hop_max_ticks"), "model_finish": stat("finish_ticks"),
              "clip_total_with_io": stat("clip_ticks")}
    return {
        "bundle": str(b.path), "bundle_id": f"0x{b.bundle_id:08x}", "board": brd.name,
        "mode": f"streaming every {every} hops" if streaming else "whole clip",
        "clips": n, "labelled": n_lab,
        "features_bitexact": n_feat_ok / n, "logits_bitexact": n_logit_ok / n, "agreement": n_agree / n,
        "device_accuracy": (n_dev_ok / n_lab) if n_lab else None,
        "python_accuracy": (n_py_ok / n_lab) if n_lab else None,
        "first_divergence": first,
        "counts": counts,
        "stack_high_water": max((row["stack_high_water"] or 0) for row in rows) or None,
        "memory": {**fw.plan.to_dict(), "ram_total": fw.ram_bytes if not brd.is_host else fw.plan.ram_total,
                   "image_flash_bytes": fw.flash_bytes, "image_ram_bytes": fw.ram_bytes,
                   "image_ext_ram_bytes": fw.ext_ram_bytes, "ram_parts": image_ram_parts(fw)},
        "kernels": fw.kernels, "macs": fw.macs,
        "per_clip": rows,
    }


def _fmt_pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


def markdown(report: dict) -> str:
    c = report["counts"]
    unit = c.get("unit", "ticks")
    fe_hop = c.get("frontend_per_hop", {}).get("mean")
    model = c.get("model_per_invoke", {}).get("mean")
    fd = report["first_divergence"]
    lines = [f"# Device parity: {Path(report['bundle']).name} on {report['board']}", "",
             f"{report['mode']}, transport {report['transport']}, runtime {report['runtime']} "
             f"({report['kernels']} kernels)", "",
             "| board | clips | features bit-exact | logits bit-exact | class agreement | device accuracy | "
             f"Python accuracy | front-end {unit}/hop | model {unit}/invoke | stack B | RAM plan B |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
             f"| {report['board']} | {report['clips']} | {_fmt_pct(report['features_bitexact'])} | "
             f"{_fmt_pct(report['logits_bitexact'])} | {_fmt_pct(report['agreement'])} | "
             f"{_fmt_pct(report['device_accuracy'])} | {_fmt_pct(report['python_accuracy'])} | "
             f"{'n/a' if fe_hop is None else f'{fe_hop:,.0f}'} | {'n/a' if model is None else f'{model:,.0f}'} | "
             f"{report['stack_high_water'] or 'n/a'} | {report['memory']['ram_total']:,} |", ""]
    if fd:
        lines.append(f"First divergence: stage {fd['stage']}, clip {fd['clip']}, index {fd['index']}, "
                     f"device {fd['device']} vs Python {fd['python']}"
                     + (f", layer {fd['layer']}" if fd.get("layer") else "") + ".")
    else:
        lines.append("No divergence: the device computed exactly what Python computed.")
    return "\n".join(lines) + "\n"


def write_report(report: dict, out: Path) -> None:
    """parity.json and parity.md, each written atomically (nothing is written for a failed run)."""

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "parity.json", json.loads(json.dumps(report, default=_json_default)))
    write_text(out / "parity.md", markdown(report))


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)
