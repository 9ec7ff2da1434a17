"""Front-end benchmark (`tinyscene bench-fe`, `make bench-fe`): accuracy of the fixed-point C
front-end against the float librosa reference, host == device bit-exactness, streaming == clip,
per-stage errors, int8 tensor SNR, device cost (instructions, RAM, flash) and CMSIS-DSP's
f32/q31/q15 MFCC path (up to the log) on the same frames."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from tinyscene.config import FrontendConfig
from tinyscene.frontend import spec
from tinyscene.frontend.device import run_device
from tinyscene.frontend.native import FixedFrontend
from tinyscene.frontend.quant import InputQuant

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


SCENE_LIKE = ("noise -20 dBFS", "pink -60 dBFS", "pink with -60 dBFS passage", "pink -12 dBFS", "brown noise",
              "AM noise (speech-like envelope)", "chirp + noise, quiet and clipped parts", "low-pass noise",
              "clipped (x4)", "two tones + noise")


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


def affine_snr_db(ref: np.ndarray, test: np.ndarray) -> float:
    """SNR after the best affine map of `test` onto `ref` per row (per band): [bands, frames]."""
    err = sig = 0.0
    for r, x in zip(ref, test):
        A = np.vstack([x, np.ones_like(x)]).T
        coef, *_ = np.linalg.lstsq(A, r, rcond=None)
        err += float(np.sum((A @ coef - r) ** 2))
        sig += float(np.sum((r - r.mean()) ** 2))
    return 10 * math.log10(sig / err) if err > 0 else float("inf")


def cmsis_logmel(cfg: FrontendConfig, frames: np.ndarray, kind: str) -> np.ndarray:
    """CMSIS-DSP's MFCC path up to the log (identity DCT): int16 frames [frames, n_fft] ->
    [n_mels, frames] in its own units (log of the magnitude mel)."""
    import cmsisdsp as dsp
    import cmsisdsp.datatype as dt

    n, nm = cfg.n_fft, cfg.n_mels
    w = spec.mel_filterbank(cfg)
    pos, lens, coefs = [], [], []
    for m in range(nm):
        nz = np.flatnonzero(w[m])
        a, b = (int(nz[0]), int(nz[-1]) + 1) if nz.size else (0, 1)
        pos.append(a)
        lens.append(b - a)
        coefs.extend(w[m, a:b])
    pos, lens, coefs = np.array(pos, np.uint32), np.array(lens, np.uint32), np.array(coefs)
    win = spec.hann_periodic(n)
    eye = np.eye(nm).reshape(-1)
    out = np.zeros((nm, len(frames)))
    if kind == "f32":
        S = dsp.arm_mfcc_instance_f32()
        dsp.arm_mfcc_init_f32(S, n, nm, nm, eye.astype(np.float32), pos, lens, coefs.astype(np.float32),
                              win.astype(np.float32))
        tmp = np.zeros(n + 2, np.float32)
        for i, f in enumerate(frames):
            out[:, i] = dsp.arm_mfcc_f32(S, (f / 32768.0).astype(np.float32), tmp)
    else:
        DT = dt.Q31 if kind == "q31" else dt.Q15
        init = dsp.arm_mfcc_init_q31 if kind == "q31" else dsp.arm_mfcc_init_q15
        S = dsp.arm_mfcc_instance_q31() if kind == "q31" else dsp.arm_mfcc_instance_q15()
        init(S, n, nm, nm, dt.convert(eye * (1 - 2.0**-15), DT), pos, lens, dt.convert(coefs, DT), dt.convert(win, DT))
        run = dsp.arm_mfcc_q31 if kind == "q31" else dsp.arm_mfcc_q15
        tmp = np.zeros(2 * n, np.int32)
        for i, f in enumerate(frames):
            x = f.astype(np.int32) << 16 if kind == "q31" else f.astype(np.int16)
            r = run(S, x, tmp)
            out[:, i] = r[1] if isinstance(r, tuple) else r
    return out


@dataclass
class PresetResult:
    name: str
    rows: list
    summary: dict


def bench_preset(cfg: FrontendConfig, board: str = "qemu-an386", seconds: float | None = None,
                 cmsis: bool = True, log=print) -> dict:
    """Every figure of the issue for one configuration."""

    fe = FixedFrontend(cfg)
    clips = bench_clips(cfg, seconds)
    t0 = time.time()
    Ls = [fe.logmel(p) for _, p in clips]
    quant = InputQuant.fit(cfg, Ls)
    rows = []
    stage_acc = {k: [] for k in ("windowed", "spectrum", "power", "mel", "log")}
    all_exact = stream_exact = True
    per_hop, per_clip, hop_max = [], [], []
    dev = None
    z_all, q_all = [], []
    rng = np.random.default_rng(3)
    for (name, pcm), L in zip(clips, Ls):
        ref = spec.float_logmel(cfg, pcm)
        Lf = fe.to_float(L)
        snr = spec.snr_db(ref, Lf)
        maxerr = float(np.abs(Lf - ref).max())
        q8, _ = fe.process_clip(pcm, quant)
        z = quant.normalize(ref)
        lo, hi = (-128 - quant.zero_point) * quant.scale, (127 - quant.zero_point) * quant.scale
        zc = np.clip(z, lo, hi)
        snr8 = spec.snr_db(zc, quant.dequantize(q8))
        z_all.append(zc.reshape(-1))
        q_all.append(quant.dequantize(q8).reshape(-1))
        sat = float(np.mean((z < lo) | (z > hi)))
        # streaming == clip (hop by hop through ts_fe_process_hop)
        st = list(fe.stream(pcm, quant))
        s_lm = np.stack([lm for _, _, lm in st], axis=-1)
        s_q8 = np.stack([q for _, q, _ in st], axis=1)
        s_ok = np.array_equal(s_lm, L) and np.array_equal(s_q8, q8)
        stream_exact &= s_ok
        # device: every frame of every clip
        dev = run_device(cfg, pcm, quant, board)
        d_ok = np.array_equal(dev.logmel, L) and np.array_equal(dev.int8, q8)
        all_exact &= d_ok
        per_hop.append(dev.units_per_hop)
        per_clip.append(dev.units_total * cfg.clip_seconds * cfg.sample_rate / pcm.shape[1])
        hop_max.append(dev.ticks_hop_max * dev.per_tick)
        # per-stage errors on a few frames (frames whose reference is not constant)
        frames = spec.frames_of(cfg, pcm)
        for c in range(cfg.channels):
            for t in rng.choice(frames.shape[1], size=min(3, frames.shape[1]), replace=False):
                fx, fl = fe.stages(frames[c, t]), spec.float_stages(cfg, frames[c, t])
                if np.var(fl["log"]) > 1e-6:
                    for k in stage_acc:
                        stage_acc[k].append(spec.snr_db(fl[k], fx[k]))
        rows.append({"clip": name, "snr_db": snr, "max_abs_err": maxerr, "int8_snr_db": snr8,
                     "int8_saturated": sat, "device_exact": d_ok, "stream_exact": s_ok,
                     "frames": int(L.shape[-1]), "device_per_hop": dev.units_per_hop})
        log(f"  {name:42s} SNR {snr:7.1f} dB  max|err| {maxerr:.4f}  int8 {snr8:5.1f} dB  "
            f"device {'==' if d_ok else '!='} host  stream {'==' if s_ok else '!='} clip  "
            f"{dev.units_per_hop:9,.0f} {dev.unit}/hop")
    # cost: the same command twice on a scene-like clip (instruction counts must repeat exactly)
    name, pcm = next((c for c in clips if c[0] == "pink -12 dBFS"), clips[-1])
    runs = [run_device(cfg, pcm, quant, board, profile=True) for _ in range(2)]
    r = runs[0]
    cost = {"clip": name, "hops": r.hops, "frames": r.frames, "units": r.unit,
            "per_hop": r.units_per_hop, "per_hop_max": r.ticks_hop_max * r.per_tick,
            "per_channel_frame": r.units_per_hop / cfg.channels,
            "per_clip": r.units_total * cfg.clip_seconds * cfg.sample_rate / pcm.shape[1],
            "per_clip_rerun": runs[1].units_total * cfg.clip_seconds * cfg.sample_rate / pcm.shape[1],
            "deterministic": runs[0].ticks_total == runs[1].ticks_total and runs[0].profile == runs[1].profile,
            "per_hop_all_clips_mean": float(np.mean(per_hop)), "per_hop_all_clips_max": float(np.max(hop_max)),
            "per_clip_all_clips_max": float(np.max(per_clip)),
            "stages_one_channel": r.profile, "state_bytes": r.state_bytes, "scratch_bytes": r.scratch_bytes,
            "table_bytes": r.table_bytes, "code_bytes": r.code_bytes, "stack_bytes": r.stack_bytes,
            "firmware_flash_bytes": r.flash_bytes}
    finite = [r["snr_db"] for r in rows if math.isfinite(r["snr_db"])]
    stages = {k: {"median_db": float(np.median(vals)), "p5_db": float(np.percentile(vals, 5))}
              for k, vals in stage_acc.items() if vals}
    summary = {"config": cfg.to_dict(), "clips": len(rows), "frames_compared": int(sum(r["frames"] for r in rows)),
               "snr_mean_db": float(np.mean(finite)), "snr_worst_db": float(np.min(finite)),
               "snr_worst_clip": min((r for r in rows if math.isfinite(r["snr_db"])), key=lambda r: r["snr_db"])["clip"],
               "constant_clips_max_abs_err": float(max([r["max_abs_err"] for r in rows
                                                        if not math.isfinite(r["snr_db"])] or [0.0])),
               "int8_snr_mean_db": float(np.mean([r["int8_snr_db"] for r in rows if math.isfinite(r["int8_snr_db"])])),
               "int8_snr_all_db": spec.snr_db(np.concatenate(z_all), np.concatenate(q_all)),
               "device_bit_exact_all": bool(all_exact), "stream_bit_exact_all": bool(stream_exact),
               "stages": stages, "cost": cost, "seconds": None}
    if cmsis:
        summary["cmsis"] = bench_cmsis(cfg, clips, fe, log)
    summary["seconds"] = round(time.time() - t0, 1)
    return {"rows": rows, "summary": summary}


def bench_cmsis(cfg: FrontendConfig, clips, fe, log=print) -> dict:
    """CMSIS-DSP f32/q31/q15 MFCC path up to the log beside ours, channel 0 of the scene-like clips:
    SNR after a per-band affine fit (and one global fit) against librosa's log-mel of the magnitude
    + 1e-6 (what CMSIS's MFCC computes: log(mel(|X|) + 1e-6)) for CMSIS, of the power + floor for ours."""
    import librosa

    res = {k: {"band": [], "global": []} for k in ("ours", "f32", "q31", "q15")}
    names = []
    for name, pcm in clips:
        if name not in SCENE_LIKE:
            continue
        names.append(name)
        frames = spec.frames_of(cfg, pcm[:1])[0]
        x = pcm[0].astype(np.float64) / 32768
        mag = librosa.feature.melspectrogram(y=x, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
                                             center=True, pad_mode="constant", power=1.0, n_mels=cfg.n_mels,
                                             fmin=cfg.fmin, fmax=cfg.f_max, dtype=np.float64)
        ref_mag = np.log(mag + 1e-6)
        for k in ("f32", "q31", "q15"):
            out = cmsis_logmel(cfg, frames, k)
            res[k]["band"].append(affine_snr_db(ref_mag, out))
            res[k]["global"].append(affine_snr_db(ref_mag.reshape(1, -1), out.reshape(1, -1)))
        ref_pow = np.log(spec.float_melspec(cfg, pcm[:1])[0] + spec.LOG_FLOOR)
        ours = fe.to_float(fe.logmel(np.repeat(pcm[:1], cfg.channels, 0)))[0]
        res["ours"]["band"].append(affine_snr_db(ref_pow, ours))
        res["ours"]["global"].append(affine_snr_db(ref_pow.reshape(1, -1), ours.reshape(1, -1)))
    out = {k: {"band_mean_db": float(np.mean(v["band"])), "band_worst_db": float(np.min(v["band"])),
               "global_mean_db": float(np.mean(v["global"]))} for k, v in res.items()}
    out["clips"] = names
    log("  CMSIS-DSP MFCC path up to the log, per-band / global affine fit, channel 0, scene-like clips: " + ", ".join(
        f"{k} {v['band_mean_db']:.1f} / {v['global_mean_db']:.1f} dB" for k, v in out.items() if k != "clips"))
    return out


def format_table(results: dict[str, dict]) -> str:
    lines = []
    hdr = (f"{'preset':10s} {'clips':>5s} {'frames':>6s} {'SNR mean':>9s} {'worst':>6s} {'int8':>5s} {'dev==host':>9s} "
           f"{'stream':>6s} {'instr/hop':>10s} {'instr/10s clip':>15s} {'state B':>8s} {'scratch B':>9s} "
           f"{'tables B':>8s} {'code B':>7s}")
    lines += [hdr, "-" * len(hdr)]
    for name, r in results.items():
        s, c = r["summary"], r["summary"]["cost"] or {}
        lines.append(f"{name:10s} {s['clips']:5d} {s['frames_compared']:6d} {s['snr_mean_db']:8.1f}  "
                     f"{s['snr_worst_db']:6.1f} {s['int8_snr_all_db']:5.1f} "
                     f"{'yes' if s['device_bit_exact_all'] else 'NO':>9s} "
                     f"{'yes' if s['stream_bit_exact_all'] else 'NO':>6s} {c.get('per_hop', 0):10,.0f} "
                     f"{c.get('per_clip', 0):15,.0f} {c.get('state_bytes', 0):8,d} {c.get('scratch_bytes', 0):9,d} "
                     f"{c.get('table_bytes', 0):8,d} {c.get('code_bytes', 0):7,d}")
    lines.append("")
    lines.append("RAM = state (sample history) + scratch (FFT/power, mel sums, one frame of log-mel); flash = "
                 "tables + code (ts_fe_* functions)")
    lines.append("SNR: 10 log10(var(float) / mean((fixed - float)^2)) per clip over [channels, mels, frames], vs librosa "
                 "on the same int16 PCM (clips with a constant reference, e.g. silence, report max|err| instead:")
    lines.append("  " + ", ".join(f"{k} {r['summary']['constant_clips_max_abs_err']:.1e}" for k, r in results.items())
                 + "); worst clip: " + ", ".join(f"{k} '{r['summary']['snr_worst_clip']}'" for k, r in results.items()))
    lines.append("int8: SNR of the dequantised int8 tensor vs the normalised float reference (clipped to +-4 std), all clips")
    lines.append("")
    lines.append("per-stage SNR vs float64 numpy/librosa, per frame (median / 5th percentile over sampled frames, dB):")
    for name, r in results.items():
        st = r["summary"]["stages"]
        lines.append(f"  {name:10s} " + "  ".join(f"{k} {v['median_db']:.1f}/{v['p5_db']:.1f}" for k, v in st.items()))
    lines.append("")
    lines.append("device cost on qemu-an386 (instructions = board ticks x counter.per_tick; the same run twice):")
    for name, r in results.items():
        c = r["summary"]["cost"] or {}
        st = c.get("stages_one_channel", {})
        lines.append(f"  {name:10s} per channel-frame {c.get('per_channel_frame', 0):,.0f} (" +
                     ", ".join(f"{k} {v:,.0f}" for k, v in st.items()) +
                     f"); per hop max {c.get('per_hop_max', 0):,.0f}; all clips: per hop mean "
                     f"{c.get('per_hop_all_clips_mean', 0):,.0f}, max {c.get('per_hop_all_clips_max', 0):,.0f}; "
                     f"repeatable: {c.get('deterministic')}")
    if any("cmsis" in r["summary"] for r in results.values()):
        lines.append("")
        lines.append("CMSIS-DSP 1.10.3 MFCC path up to the log (Python cmsisdsp) beside ours, channel 0 of the "
                     "scene-like clips, SNR after per-band / global affine fit (dB):")
        for name, r in results.items():
            cm = r["summary"].get("cmsis")
            if cm:
                lines.append(f"  {name:10s} " + "  ".join(
                    f"{k} {cm[k]['band_mean_db']:.1f}/{cm[k]['global_mean_db']:.1f}"
                    for k in ("ours", "f32", "q31", "q15") if k in cm))
    return "\n".join(lines)
