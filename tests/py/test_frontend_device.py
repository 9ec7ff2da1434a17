"""The front-end firmware (features app) on QEMU mps2-an386 == the host library, bit for bit; the
`tinyscene features` / `featurize` commands."""
from __future__ import annotations

import json

import numpy as np
import pytest

from tinyscene.config import FRONTEND_PRESETS
from tinyscene.frontend import FixedFrontend, InputQuant, spec


def _clips(cfg, n):
    rng = np.random.default_rng(9)
    t = np.arange(n) / cfg.sample_rate
    sig = {
        "silence": np.zeros((cfg.channels, n)),
        "full-scale noise": rng.uniform(-1.0, 1.0, (cfg.channels, n)),
        "tone": np.tile(0.999 * np.sin(2 * np.pi * 1000.3 * t), (cfg.channels, 1)),
        "clipped": np.clip(4 * (0.3 * rng.standard_normal((cfg.channels, n)) + np.sin(2 * np.pi * 300 * t)), -1, 1),
        "quiet -60 dBFS": 1e-3 * rng.standard_normal((cfg.channels, n)),
    }
    return {k: np.clip(np.round(v * 32767), -32768, 32767).astype(np.int16) for k, v in sig.items()}


@pytest.mark.qemu
def test_device_equals_host_on_short_clips():
    from tinyscene.frontend.device import run_device

    cfg = FRONTEND_PRESETS["tiny"]
    fe = FixedFrontend(cfg)
    clips = _clips(cfg, 8000)
    Ls = {k: fe.logmel(p) for k, p in clips.items()}
    quant = InputQuant.fit(cfg, list(Ls.values()))
    ticks = []
    for k, pcm in clips.items():
        r = run_device(cfg, pcm, quant, "qemu-an386", timeout=60)
        assert np.array_equal(r.logmel, Ls[k]), k
        assert np.array_equal(r.int8, fe.quantize(Ls[k], quant)), k
        ticks.append(r.ticks_total)
        assert r.state_bytes == fe.state_bytes and r.scratch_bytes == fe.scratch_bytes
    assert all(t > 0 for t in ticks)
    # the same run twice gives the same instruction count
    again = run_device(cfg, clips["tone"], quant, "qemu-an386", timeout=60)
    assert again.ticks_total == ticks[2]
    # the host board's executable of the same app agrees too
    r = run_device(cfg, clips["clipped"], quant, "host", timeout=60)
    assert np.array_equal(r.logmel, Ls["clipped"])


@pytest.mark.qemu
@pytest.mark.parametrize("board", ["qemu-an500", "qemu-an547"])
def test_device_equals_host_on_other_cores(board):
    """Cortex-M7 and Cortex-M55 (the same DSP instructions, other pipelines and compilers' choices)."""
    from tinyscene.frontend.device import run_device

    cfg = FRONTEND_PRESETS["tiny"]
    fe = FixedFrontend(cfg)
    pcm = _clips(cfg, 6000)["clipped"]
    L = fe.logmel(pcm)
    quant = InputQuant.fit(cfg, [L])
    r = run_device(cfg, pcm, quant, board, timeout=60)
    assert np.array_equal(r.logmel, L) and np.array_equal(r.int8, fe.quantize(L, quant))


@pytest.mark.qemu
def test_device_equals_host_paper_preset(tmp_path):
    """One paper-preset clip (0.5 s, stereo, 44.1 kHz) on QEMU."""
    from tinyscene.frontend.device import run_device

    cfg = FRONTEND_PRESETS["paper"]
    fe = FixedFrontend(cfg)
    pcm = _clips(cfg, cfg.sample_rate // 2)["clipped"]
    L = fe.logmel(pcm)
    quant = InputQuant.fit(cfg, [L])
    r = run_device(cfg, pcm, quant, "qemu-an386", timeout=60)
    assert np.array_equal(r.logmel, L)
    assert np.array_equal(r.int8, fe.quantize(L, quant))
    assert r.frames == L.shape[-1] and r.hops == L.shape[-1] + 0  # delay_hops = 1: one frame per hop


def _write_wav(path, pcm, rate):
    import soundfile as sf

    sf.write(str(path), pcm.T, rate, subtype="PCM_16")


@pytest.mark.qemu
def test_features_cli_fixed_float_device(tmp_path, run_cli):
    cfg = FRONTEND_PRESETS["tiny"]
    pcm = _clips(cfg, 12000)["clipped"]
    wav = tmp_path / "a.wav"
    _write_wav(wav, pcm, cfg.sample_rate)
    out = {}
    for impl in ("fixed", "float", "device"):
        args = ["features", "--config", "tiny", "--audio", wav, "--out", tmp_path / f"{impl}.npy", "--impl", impl]
        if impl != "float":
            args += ["--int8-out", tmp_path / f"{impl}8.npy"]
        rc, so, se = run_cli(*args)
        assert rc == 0, se
        out[impl] = np.load(tmp_path / f"{impl}.npy")
        assert out[impl].dtype == np.float32 and out[impl].shape == (2, 32, 1 + 12000 // 512)
    assert np.array_equal(out["fixed"], out["device"])
    q_fixed, q_dev = np.load(tmp_path / "fixed8.npy"), np.load(tmp_path / "device8.npy")
    assert q_fixed.dtype == np.int8 and q_fixed.shape == (32, 24, 2) and np.array_equal(q_fixed, q_dev)
    assert spec.snr_db(out["float"], out["fixed"]) > 60
    # the float impl is librosa's log-mel of the same samples
    np.testing.assert_allclose(out["float"], spec.float_logmel(cfg, pcm), rtol=1e-6)


def test_features_cli_with_quant_file_and_errors(tmp_path, run_cli):
    cfg = FRONTEND_PRESETS["tiny"]
    pcm = _clips(cfg, 6000)["tone"]
    wav = tmp_path / "a.wav"
    _write_wav(wav, pcm, cfg.sample_rate)
    fe = FixedFrontend(cfg)
    quant = InputQuant(mean=np.full(32, -5.0), std=np.full(32, 3.0))
    fj = tmp_path / "frontend.json"
    fj.write_text(json.dumps({"config": cfg.to_dict(), "input_quant": quant.to_dict()}))
    rc, so, se = run_cli("features", "--config", "tiny", "--audio", wav, "--out", tmp_path / "f.npy",
                         "--int8-out", tmp_path / "q.npy", "--quant", fj)
    assert rc == 0, se
    assert np.array_equal(np.load(tmp_path / "q.npy"), fe.quantize(fe.logmel(pcm), quant))
    # a frontend.json made for another config is refused
    rc, so, se = run_cli("features", "--config", "m4-small", "--audio", wav, "--out", tmp_path / "f.npy",
                         "--int8-out", tmp_path / "q.npy", "--quant", fj)
    assert rc == 2 and "does not match --config m4-small" in se
    rc, so, se = run_cli("features", "--config", "tiny", "--audio", wav, "--out", tmp_path / "f.npy",
                         "--impl", "float", "--int8-out", tmp_path / "q.npy")
    assert rc == 2 and "--int8-out" in se
    rc, so, se = run_cli("features", "--config", "tiny", "--audio", tmp_path / "missing.wav", "--out",
                         tmp_path / "f.npy")
    assert rc == 2 and "missing.wav" in se
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"n_fft": 1000}))
    rc, so, se = run_cli("features", "--config", bad, "--audio", wav, "--out", tmp_path / "f.npy")
    assert rc == 2 and "power of two" in se
    mono = tmp_path / "mono.wav"
    _write_wav(mono, pcm[:1], cfg.sample_rate)
    rc, so, se = run_cli("features", "--config", "tiny", "--audio", mono, "--out", tmp_path / "f.npy")
    assert rc == 2 and "channel" in se


def test_featurize_cli_and_cache(tmp_path, run_cli, monkeypatch):
    import soundfile as sf

    cfg = FRONTEND_PRESETS["tiny"]
    d = tmp_path / "wavs"
    d.mkdir()
    rng = np.random.default_rng(3)
    for i in range(3):  # 48 kHz stereo, 10 s: resampled to 16 kHz like TAU clips
        sf.write(str(d / f"c{i}.wav"), rng.standard_normal((480000, 2)) * 0.05 * (i + 1), 48000, subtype="PCM_16")
    cache = tmp_path / "cache"
    rc, so, se = run_cli("featurize", "--config", "tiny", "--audio", d, "--out", tmp_path / "f.npz", "--cache", cache,
                         "--workers", "2")
    assert rc == 0, se
    z = np.load(tmp_path / "f.npz")
    assert z["logmel"].shape == (3, 2, 32, cfg.n_frames) and z["logmel"].dtype == np.int32
    assert len(list(cache.rglob("*.npy"))) == 3
    # cached: the second run does not compute (no front-end call)
    from tinyscene.frontend import batch

    monkeypatch.setattr(batch, "_logmel_one", lambda *a: (_ for _ in ()).throw(AssertionError("recomputed")))
    from tinyscene.frontend.batch import featurize_clips

    again = featurize_clips(cfg, sorted(d.glob("*.wav")), cache=cache, workers=1, progress=False)
    assert np.array_equal(again, z["logmel"])
    # each clip equals the front-end on the clip loaded for the config
    from tinyscene.data.audio import load_clip

    fe = FixedFrontend(cfg)
    assert np.array_equal(z["logmel"][1], fe.logmel(load_clip(d / "c1.wav", cfg)))
