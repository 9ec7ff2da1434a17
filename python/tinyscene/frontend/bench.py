"""Front-end benchmark (`tinyscene bench-fe`, `make bench-fe`): tinyscene's fixed-point front-end and
CMSIS-DSP's log-mel stages (f32, q31, q15; built from the pinned sources, tinyscene.frontend.cmsisdsp)
measured in the same run on each board, for each configuration.

Per configuration x board x implementation, one row: instructions per channel-frame, flash and RAM,
log-mel SNR against librosa (mean and worst over the bench clips); for tinyscene also the int8 model
input against librosa's float log-mel quantised with the same InputQuant (share of values within one
step, worst step), device == host (every clip, bit for bit) and streaming == whole clip (host)."""
from __future__ import annotations

import math
import time

import numpy as np

from tinyscene.config import FrontendConfig
from tinyscene.frontend import cmsisdsp, spec
from tinyscene.frontend.device import run_device
from tinyscene.frontend.native import FixedFrontend
from tinyscene.frontend.quant import InputQuant

IMPLS = ("tinyscene",) + tuple(f"cmsis-dsp-{t}" for t in cmsisdsp.IMPLS)
# tinyscene's accuracy floor (the exit status): log-mel SNR vs librosa, int8 within one step
THRESHOLDS = {"snr_mean_db": 50.0, "snr_worst_db": 40.0, "int8_within_1_step": 0.999}
COST_CLIP = "pink -12 dBFS"  # the scene-like clip whose frames give the instruction counts

# ---------------------------------------------------------------------------------------------
# test signals


def _pcm(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(x) * 32767.0), -32768, 32767).astype(np.int16)


def _pink(rng, n: int, ch: int) -> np.ndarray:
    """Pink-ish noise (-3 dB/octave) by spectral shaping, unit RMS."""
    spec_ = np.fft.rfft(rng.standard_normal((ch, n)), axis=1)
    f = np.arange(spec_.shape[1])
    spec_[:, 1:] /= np.sqrt(f[1:])
    spec_[:, 0] = 0
    x = np.fft.irfft(spec_, n=n, axis=1)
    return x / x.std()


def bench_clips(cfg: FrontendConfig, seconds: float | None = None, seed: int = 11) -> list[tuple[str, np.ndarray]]:
    """22 synthetic clips of int16 PCM [channels, samples] at cfg.sample_rate: silence, full-scale
    noise, pure tones, clipped audio, quiet (-60 dBFS) passages, chirps, clicks, ..."""
    sr, ch = cfg.sample_rate, cfg.channels
    n = int(round((seconds or cfg.clip_seconds) * sr))
    t = np.arange(n) / sr
    rng = np.random.default_rng(seed)
    ny = sr / 2

    def both(x):
        return np.tile(x, (ch, 1)) if x.ndim == 1 else x[:ch]

    clips = []
    clips.append(("silence", np.zeros((ch, n), np.int16)))
    clips.append(("noise full scale", _pcm(rng.uniform(-1, 1, (ch, n)))))
    clips.append(("noise -20 dBFS", _pcm(0.1 * rng.standard_normal((ch, n)))))
    clips.append(("tone 1 kHz full scale", _pcm(both(0.999 * np.sin(2 * np.pi * 1000.3 * t)))))
    clips.append(("tone 440 Hz -6 dBFS", _pcm(both(0.5 * np.sin(2 * np.pi * 440 * t + 0.3)))))
    loud = 0.3 * rng.standard_normal((ch, n)) + both(0.8 * np.sin(2 * np.pi * 220 * t))
    clips.append(("clipped (x4)", _pcm(np.clip(4 * loud, -1, 1))))
    clips.append(("pink -60 dBFS", _pcm(1e-3 * _pink(rng, n, ch))))
    mixed = 0.2 * _pink(rng, n, ch)
    a, b = n // 3, 2 * n // 3
    mixed[:, a:b] *= 1e-3 / 0.2  # a -60 dBFS passage in the middle
    clips.append(("pink with -60 dBFS passage", _pcm(mixed)))
    f0, f1 = 50.0, 0.95 * ny
    phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1]))
    clips.append(("chirp 50 Hz..Nyquist -3 dBFS", _pcm(both(0.7 * np.sin(phase)))))
    clips.append(("pink -12 dBFS", _pcm(0.25 * _pink(rng, n, ch))))
    brown = np.cumsum(rng.standard_normal((ch, n)), axis=1)
    brown -= np.mean(brown, axis=1, keepdims=True)
    clips.append(("brown noise", _pcm(0.5 * brown / np.abs(brown).max())))
    clicks = np.zeros((ch, n))
    clicks[:, ::max(1, sr // 7)] = 0.9
    clips.append(("clicks 7/s", _pcm(clicks)))
    env = 0.5 * (1 + np.sin(2 * np.pi * 4 * t)) ** 2 / 4
    clips.append(("AM noise (speech-like envelope)", _pcm(both(env) * 0.5 * rng.standard_normal((ch, n)))))
    two = 0.4 * np.sin(2 * np.pi * 300 * t) + 0.3 * np.sin(2 * np.pi * 3300 * t)
    clips.append(("two tones + noise", _pcm(both(two) + 0.01 * rng.standard_normal((ch, n)))))
    clips.append(("square 200 Hz", _pcm(both(0.6 * np.sign(np.sin(2 * np.pi * 200 * t))))))
    clips.append(("DC offset + noise", _pcm(0.5 + 0.05 * rng.standard_normal((ch, n)))))
    clips.append(("dither +-1 LSB (-90 dBFS)", rng.integers(-1, 2, (ch, n)).astype(np.int16)))
    lr = np.stack([0.1 * rng.standard_normal(n), 0.5 * np.sin(2 * np.pi * 700 * t)])
    clips.append(("L noise / R tone", _pcm(lr[:ch])))
    clips.append(("chirp -40 dBFS", _pcm(both(0.01 * np.sin(phase[::-1])))))
    acc = 0.05 * rng.standard_normal((ch, n)) + both(0.2 * np.sin(2 * np.pi * (200 + 3000 * t / t[-1]) * t))
    acc[:, : n // 10] *= 0.001
    s5 = slice(n // 2, n // 2 + n // 10)
    acc[:, s5] = np.clip(4 * acc[:, s5], -1, 1)
    clips.append(("chirp + noise, quiet and clipped parts", _pcm(acc)))
    bursts = np.zeros(n)
    for _ in range(int(seconds or cfg.clip_seconds) * 3):
        s = rng.integers(0, max(1, n - sr // 10))
        f = rng.uniform(500, 0.8 * ny)
        k = np.arange(min(sr // 10, n - s))
        bursts[s:s + k.size] += 0.3 * np.sin(2 * np.pi * f * k / sr) * np.hanning(k.size)
    clips.append(("tone bursts", _pcm(both(bursts) + 1e-4 * rng.standard_normal((ch, n)))))
    lp = np.stack([np.convolve(rng.standard_normal(n), np.ones(16) / 16, "same") for _ in range(ch)])
    clips.append(("low-pass noise", _pcm(0.3 * lp / np.abs(lp).max())))
    return clips


# ---------------------------------------------------------------------------------------------
# measurements


def _finite(values) -> list[float]:
    return [float(v) for v in values if math.isfinite(v)]


def clip_snr_db(ref, x) -> float:
    """spec.snr_db, nan where the reference is constant (to float64 rounding: digital silence)."""
    ref = np.asarray(ref, np.float64)
    return float("nan") if np.ptp(ref) < 1e-9 else spec.snr_db(ref, x)


def host_accuracy(cfg: FrontendConfig, clips, log=print) -> dict:
    """tinyscene on the host (the portable C): log-mel SNR vs librosa per clip, the int8 model input vs
    librosa's float log-mel quantised with the same InputQuant (fitted on these clips), streaming (hop by
    hop) == whole clip, per-stage SNR on a few frames."""
    fe = FixedFrontend(cfg)
    Ls = [fe.logmel(p) for _, p in clips]
    quant = InputQuant.fit(cfg, Ls)
    per_clip, diffs = [], []
    stage_acc = {k: [] for k in ("power", "mel", "log")}
    stream_ok = True
    rng = np.random.default_rng(3)
    for (name, pcm), L in zip(clips, Ls):
        ref = spec.float_logmel(cfg, pcm)
        snr = clip_snr_db(ref, fe.to_float(L))
        q8 = fe.quantize(L, quant)
        qref = np.clip(np.floor(quant.normalize(ref) / quant.scale + quant.zero_point + 0.5), -128, 127)
        d = np.abs(q8.astype(np.int64) - qref.astype(np.int64))
        diffs.append(d.reshape(-1))
        st = list(fe.stream(pcm, quant))
        s_ok = (np.array_equal(np.stack([lm for _, _, lm in st], axis=-1), L)
                and np.array_equal(np.stack([q for _, q, _ in st], axis=1), q8))
        stream_ok &= s_ok
        frames = spec.frames_of(cfg, pcm)
        for t in rng.choice(frames.shape[1], size=min(2, frames.shape[1]), replace=False):
            fx, fl = fe.stages(frames[0, t]), spec.float_stages(cfg, frames[0, t])
            if np.var(fl["log"]) > 1e-6:
                for k in stage_acc:
                    stage_acc[k].append(spec.snr_db(fl[k], fx[k]))
        per_clip.append({"clip": name, "snr_db": snr, "max_abs_err": float(np.abs(fe.to_float(L) - ref).max()),
                         "int8_within_1_step": float(np.mean(d <= 1)), "int8_worst_step": int(d.max()),
                         "stream_equals_clip": bool(s_ok)})
        log(f"  host {name:42s} SNR {snr:6.1f} dB  int8 within 1 step {100 * np.mean(d <= 1):6.2f} % "
            f"(worst {int(d.max())})  stream {'==' if s_ok else '!='} clip")
    d = np.concatenate(diffs)
    finite = [r for r in per_clip if math.isfinite(r["snr_db"])]
    worst = min(finite, key=lambda r: r["snr_db"])
    return {"fe": fe, "Ls": Ls, "quant": quant, "per_clip": per_clip,
            "snr_mean_db": float(np.mean([r["snr_db"] for r in finite])), "snr_worst_db": worst["snr_db"],
            "snr_worst_clip": worst["clip"], "int8_within_1_step": float(np.mean(d <= 1)),
            "int8_worst_step": int(d.max()), "stream_equals_clip": bool(stream_ok),
            "constant_clips_max_abs_err": float(max([r["max_abs_err"] for r in per_clip
                                                     if not math.isfinite(r["snr_db"])] or [0.0])),
            "stages": {k: {"median_db": float(np.median(v)), "p5_db": float(np.percentile(v, 5))}
                       for k, v in stage_acc.items() if v}}


def tinyscene_row(cfg: FrontendConfig, board: str, clips, host: dict, log=print) -> dict:
    """tinyscene's firmware on a board: every clip against the host (bit for bit), the instructions of
    the cost clip (twice: they must repeat), its memory."""
    fe, quant = host["fe"], host["quant"]
    exact, per_hop = True, []
    for (name, pcm), L in zip(clips, host["Ls"]):
        dev = run_device(cfg, pcm, quant, board)
        ok = np.array_equal(dev.logmel, L) and np.array_equal(dev.int8, fe.quantize(L, quant))
        exact &= ok
        per_hop.append(dev.units_per_hop)
        if not ok:
            log(f"  {board} {name}: device != host")
    name, pcm = next((c for c in clips if c[0] == COST_CLIP), clips[-1])
    runs = [run_device(cfg, pcm, quant, board, profile=True) for _ in range(2)]
    r = runs[0]
    clip10 = cfg.clip_seconds * cfg.sample_rate / pcm.shape[1]
    return {"config": cfg.name, "board": board, "impl": "tinyscene", "family": r.family,
            "instructions_per_channel_frame": r.units_per_hop / cfg.channels,
            "snr_mean_db": host["snr_mean_db"], "snr_worst_db": host["snr_worst_db"],
            "snr_worst_clip": host["snr_worst_clip"], "int8_within_1_step": host["int8_within_1_step"],
            "int8_worst_step": host["int8_worst_step"], "device_equals_host": bool(exact),
            "stream_equals_clip": host["stream_equals_clip"],
            "flash_bytes": r.table_bytes + r.code_bytes, "ram_bytes": r.state_bytes + r.scratch_bytes,
            "table_bytes": r.table_bytes, "code_bytes": r.code_bytes, "state_bytes": r.state_bytes,
            "scratch_bytes": r.scratch_bytes, "stack_bytes": r.stack_bytes, "unit": r.unit,
            "per_hop": r.units_per_hop, "per_hop_max": r.ticks_hop_max * r.per_tick,
            "per_clip": r.units_total * clip10, "clip_seconds": cfg.clip_seconds, "cost_clip": name,
            "per_hop_all_clips_mean": float(np.mean(per_hop)), "per_hop_all_clips_max": float(np.max(per_hop)),
            "repeatable": runs[0].ticks_total == runs[1].ticks_total and runs[0].profile == runs[1].profile,
            "stages_per_channel_frame": r.profile}


def cmsis_row(cfg: FrontendConfig, board: str, impl: str, clips, log=print) -> dict:
    """CMSIS-DSP's arm_mfcc_<impl> up to the log on the board: its instructions per frame (one channel) on
    the cost clip's frames (channel 0, as tinyscene's), flash and RAM, and the SNR of its log-mel against
    librosa's (the natural log of the magnitude mel + 1e-6: what arm_mfcc computes) on channel 0 of every
    clip, in a second run."""
    frames = [spec.frames_of(cfg, pcm[:1])[0] for _, pcm in clips]
    names = [c[0] for c in clips]
    cost_clip = COST_CLIP if COST_CLIP in names else names[-1]
    cost = cmsisdsp.run_cmsis(cfg, frames[names.index(cost_clip)], board, impl)
    run = cmsisdsp.run_cmsis(cfg, np.concatenate(frames), board, impl)
    snrs, at = [], 0
    for (_, pcm), f in zip(clips, frames):
        lm = run.logmel[at:at + len(f)].T
        at += len(f)
        snrs.append(clip_snr_db(cmsisdsp.reference_logmel(cfg, pcm[0]), lm))
    finite = _finite(snrs)
    return {"config": cfg.name, "board": board, "impl": f"cmsis-dsp-{impl}",
            "instructions_per_channel_frame": cost.per_frame, "cost_clip": cost_clip,
            "per_frame_all_clips_mean": run.per_frame, "snr_mean_db": float(np.mean(finite)),
            "snr_worst_db": float(np.min(finite)), "int8_within_1_step": None, "int8_worst_step": None,
            "device_equals_host": None, "stream_equals_clip": None,
            "flash_bytes": run.code_bytes + run.table_bytes, "ram_bytes": run.buffer_bytes + run.instance_bytes,
            "table_bytes": run.table_bytes, "code_bytes": run.code_bytes, "buffer_bytes": run.buffer_bytes,
            "instance_bytes": run.instance_bytes, "unit": run.unit, "frames": run.frames,
            "snr_per_clip_db": dict(zip(names, snrs))}


def bench(configs: list[FrontendConfig], boards: list[str], seconds: float | None = None, cmsis: bool = True,
          log=print) -> dict:
    """Every row of `bench-fe`: {"rows": [...], "host": {config: host details}, ...}."""
    t0 = time.time()
    rows, host_out = [], {}
    for cfg in configs:
        clips = bench_clips(cfg, seconds)
        log(f"{cfg.name}: {cfg.sample_rate} Hz, n_fft {cfg.n_fft}, hop {cfg.hop_length}, {cfg.n_mels} mels, "
            f"{cfg.channels} ch; {len(clips)} clips of {seconds or cfg.clip_seconds:g} s")
        host = host_accuracy(cfg, clips, log)
        host_out[cfg.name] = {k: v for k, v in host.items() if k not in ("fe", "Ls", "quant")}
        for board in boards:
            row = tinyscene_row(cfg, board, clips, host, log)
            rows.append(row)
            log(f"  {board}: tinyscene {row['instructions_per_channel_frame']:,.0f} {row['unit']}/channel-frame, "
                f"device {'==' if row['device_equals_host'] else '!='} host")
            if cmsis:
                for impl in cmsisdsp.IMPLS:
                    c = cmsis_row(cfg, board, impl, clips, log)
                    rows.append(c)
                    log(f"  {board}: {c['impl']} {c['instructions_per_channel_frame']:,.0f} {c['unit']}/channel-frame, "
                        f"SNR {c['snr_mean_db']:.1f} dB")
    for r in rows:
        f32 = next((c for c in rows if c["config"] == r["config"] and c["board"] == r["board"]
                    and c["impl"] == "cmsis-dsp-f32"), None)
        r["vs_cmsis_f32"] = r["instructions_per_channel_frame"] / f32["instructions_per_channel_frame"] if f32 else None
    return {"rows": rows, "host": host_out, "thresholds": THRESHOLDS, "cost_clip": COST_CLIP,
            "seconds": seconds, "elapsed_s": round(time.time() - t0, 1)}


def failures(result: dict) -> list[str]:
    """What makes `bench-fe` exit non-zero: a tinyscene row below the accuracy floor, device != host,
    streaming != whole clip."""
    bad = []
    for r in result["rows"]:
        if r["impl"] != "tinyscene":
            continue
        where = f"{r['config']} on {r['board']}"
        if r["snr_mean_db"] < THRESHOLDS["snr_mean_db"] or r["snr_worst_db"] < THRESHOLDS["snr_worst_db"]:
            bad.append(f"{where}: log-mel SNR mean {r['snr_mean_db']:.1f} / worst {r['snr_worst_db']:.1f} dB "
                       f"(floor {THRESHOLDS['snr_mean_db']:g} / {THRESHOLDS['snr_worst_db']:g})")
        if r["int8_within_1_step"] < THRESHOLDS["int8_within_1_step"]:
            bad.append(f"{where}: int8 within one step on {100 * r['int8_within_1_step']:.2f} % of values")
        if not r["device_equals_host"]:
            bad.append(f"{where}: device != host")
        if not r["stream_equals_clip"]:
            bad.append(f"{where}: streaming != whole clip")
    return bad


def _yes(v) -> str:
    return "-" if v is None else ("yes" if v else "NO")


def format_table(result: dict) -> str:
    rows = result["rows"]
    hdr = (f"{'config':9s} {'board':11s} {'impl':14s} {'instr/ch-frame':>14s} {'vs f32':>7s} {'SNR mean':>8s} "
           f"{'worst':>6s} {'int8 +-1':>9s} {'dev==host':>9s} {'stream':>6s} {'flash B':>8s} {'RAM B':>7s}")
    lines = [hdr, "-" * len(hdr)]
    for r in rows:
        within = "-" if r["int8_within_1_step"] is None else f"{100 * r['int8_within_1_step']:.2f}%"
        ratio = "-" if r.get("vs_cmsis_f32") is None else f"{r['vs_cmsis_f32']:.3f}x"
        lines.append(f"{r['config']:9s} {r['board']:11s} {r['impl']:14s} {r['instructions_per_channel_frame']:14,.0f} "
                     f"{ratio:>7s} {r['snr_mean_db']:8.1f} {r['snr_worst_db']:6.1f} {within:>9s} "
                     f"{_yes(r['device_equals_host']):>9s} {_yes(r['stream_equals_clip']):>6s} "
                     f"{r['flash_bytes']:8,d} {r['ram_bytes']:7,d}")
    lines.append("")
    lines.append("instructions: board ticks x counter.per_tick (QEMU -icount), per channel-frame = per hop / channels "
                 f"on the '{result['cost_clip']}' clip; tinyscene: the whole streaming front-end (push, shift, window + "
                 "FFT, power, mel, log, int8), CMSIS-DSP: arm_mfcc_<type> with no DCT outputs (peak normalisation, "
                 "window, real FFT, magnitude, mel, log) on one channel's float/q31/q15 frame")
    lines.append("SNR: 10 log10(var(ref) / mean((x - ref)^2)) per clip vs librosa on the same int16 PCM (tinyscene: "
                 "ln(power mel + 1e-10); CMSIS-DSP: ln(magnitude mel + 1e-6), channel 0); clips with a constant "
                 "reference (silence) left out")
    lines.append("int8 +-1: share of tinyscene's int8 values within one step of librosa's float log-mel quantised "
                 "with the same InputQuant (worst step: " + ", ".join(
                     f"{r['config']} {r['int8_worst_step']}" for r in rows if r["impl"] == "tinyscene"
                     and r["board"] == rows[0]["board"]) + ")")
    lines.append("flash: tables + code (ts_fe_* / arm_* functions and CMSIS-DSP's constant tables); RAM: tinyscene "
                 "state (sample history) + scratch, CMSIS-DSP the buffers arm_mfcc is given + its instance")
    lines.append("")
    for r in rows:
        if r["impl"] != "tinyscene":
            continue
        st = r["stages_per_channel_frame"]
        lines.append(f"{r['config']:9s} {r['board']:11s} ({r['family']}) per channel-frame: " + ", ".join(
            f"{k} {v:,.0f}" for k, v in st.items()) + f"; {r['clip_seconds']:g} s clip {r['per_clip'] / 1e6:.1f} M; "
            f"all clips per hop mean {r['per_hop_all_clips_mean']:,.0f}; repeatable: {r['repeatable']}")
    for name, h in result["host"].items():
        lines.append(f"{name:9s} host: worst clip '{h['snr_worst_clip']}'; per-stage SNR vs float64 (median/5th pct, "
                     "dB): " + ", ".join(f"{k} {v['median_db']:.1f}/{v['p5_db']:.1f}" for k, v in h["stages"].items()))
    return "\n".join(lines)
