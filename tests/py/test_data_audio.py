"""Audio I/O: resampling against analytic signals and scipy's polyphase resampler, int16 rounding
and saturation by hand, and load_clip's channel/length handling."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.signal as ss
import soundfile as sf

from tinyscene.config import FrontendConfig
from tinyscene.data.audio import TAU_SPEC, WavSpec, load_clip, resample, to_pcm16
from tinyscene.errors import TsError

CFG = FrontendConfig(name="t", sample_rate=16000, n_fft=512, hop_length=256, n_mels=32, channels=2, clip_seconds=1.0)
CFG_MONO = FrontendConfig(name="t1", sample_rate=16000, n_fft=512, hop_length=256, n_mels=32, channels=1,
                          clip_seconds=1.0)


def interior(x, margin):
    return x[..., margin:-margin]


@pytest.mark.parametrize("rate_out", [44100, 16000])
def test_sine_frequency_and_amplitude_preserved(rate_out):
    t = np.arange(2 * 48000) / 48000
    x = 0.5 * np.sin(2 * np.pi * 1000 * t + 0.3)
    y = resample(x, 48000, rate_out)
    assert len(y) == 2 * rate_out
    ref = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(len(y)) / rate_out + 0.3)  # no delay either
    assert np.max(np.abs(interior(y - ref, rate_out // 10))) < 1e-4
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    assert np.argmax(spec) * rate_out / len(y) == pytest.approx(1000, abs=1)


def test_band_limited_no_aliasing():
    """A 12 kHz tone is above 16 kHz's Nyquist: it must vanish, not fold down to 4 kHz."""
    t = np.arange(48000) / 48000
    y = resample(np.sin(2 * np.pi * 12000 * t), 48000, 16000)
    assert np.sqrt(np.mean(interior(y, 1600) ** 2)) < 1e-4


@pytest.mark.parametrize("rate_out,up,down,band", [(44100, 147, 160, 16000), (16000, 1, 3, 6000)])
@pytest.mark.parametrize("quality", ["HQ", "VHQ"])
def test_soxr_agrees_with_scipy_resample_poly(rate_out, up, down, band, quality):
    rng = np.random.default_rng(1)
    noise = ss.lfilter(ss.firwin(801, band, fs=48000), 1, rng.standard_normal((2, 96000)), axis=-1)
    a = resample(noise, 48000, rate_out, quality)
    b = ss.resample_poly(noise, up, down, axis=-1, window=("kaiser", 12.0))
    assert a.shape == b.shape == (2, 2 * rate_out)
    err = np.sqrt(np.mean(interior(a - b, rate_out // 10) ** 2)) / np.sqrt(np.mean(b ** 2))
    assert err < 2e-3


def test_to_pcm16_rounds_and_saturates():
    lsb = 1 / 32768
    x = np.array([0.0, 0.4 * lsb, 0.6 * lsb, 1.5 * lsb, -0.6 * lsb, -1.0, 1.0, 2.0, -3.0, 32766.6 * lsb,
                  -32768.4 * lsb])
    assert to_pcm16(x).tolist() == [0, 0, 1, 2, -1, -32768, 32767, 32767, -32768, 32767, -32768]
    assert to_pcm16(x).dtype == np.int16


def _wav(path, x, rate, subtype):
    sf.write(path, np.asarray(x).T, rate, subtype=subtype)
    return path


def test_load_clip_16bit_at_target_rate_is_exact(tmp_path):
    pcm = np.random.default_rng(2).integers(-32768, 32768, size=(2, 16000), dtype=np.int16)
    p = _wav(tmp_path / "a.wav", pcm, 16000, "PCM_16")
    got = load_clip(p, CFG)
    assert got.dtype == np.int16 and got.shape == (2, 16000)
    np.testing.assert_array_equal(got, pcm)
    mono = load_clip(p, CFG_MONO)
    assert mono.shape == (1, 16000)
    want = np.rint((pcm[0].astype(np.float64) + pcm[1]) / 2)  # mean of the channels, rounded
    assert np.max(np.abs(mono[0] - np.clip(want, -32768, 32767))) <= 1  # float32 mean vs exact: ties may differ


def test_load_clip_resamples_24bit_48k(tmp_path):
    t = np.arange(48000) / 48000
    x = np.stack([0.3 * np.sin(2 * np.pi * 440 * t), 0.2 * np.sin(2 * np.pi * 3000 * t)])
    p = _wav(tmp_path / "b.wav", x, 48000, "PCM_24")
    got = load_clip(p, CFG, spec=WavSpec(48000, 2, 1.0))
    tt = np.arange(16000) / 16000
    ref = np.stack([0.3 * np.sin(2 * np.pi * 440 * tt), 0.2 * np.sin(2 * np.pi * 3000 * tt)]) * 32768
    assert np.max(np.abs(interior(got - ref, 1600))) <= 2  # LSBs


def test_load_clip_pads_trims_and_refuses_short(tmp_path):
    x = np.full((2, 15900), 0.25)  # 0.994 s: within the 10 ms tolerance, zero-padded
    got = load_clip(_wav(tmp_path / "c.wav", x, 16000, "PCM_16"), CFG)
    assert got.shape == (2, 16000)
    assert np.all(got[:, :15900] == 8192) and np.all(got[:, 15900:] == 0)
    long = load_clip(_wav(tmp_path / "d.wav", np.full((2, 40000), 0.25), 16000, "PCM_16"), CFG)
    assert long.shape == (2, 16000) and np.all(long == 8192)
    with pytest.raises(TsError, match=r"e.wav: clip is 0.500 s long .* shorter than the expected 1 s"):
        load_clip(_wav(tmp_path / "e.wav", np.zeros((2, 8000)), 16000, "PCM_16"), CFG)


def test_load_clip_checks_spec_and_channels(tmp_path):
    mono = _wav(tmp_path / "m.wav", np.zeros((1, 16000)), 16000, "PCM_16")
    with pytest.raises(TsError, match="m.wav: 1 channel\\(s\\), the front-end needs 2"):
        load_clip(mono, CFG)
    with pytest.raises(TsError, match="m.wav: sample rate 16000 Hz, expected 48000 Hz"):
        load_clip(mono, CFG, spec=TAU_SPEC)
    (tmp_path / "x.wav").write_bytes(b"not audio at all")
    with pytest.raises(TsError, match="x.wav: not a readable audio file"):
        load_clip(tmp_path / "x.wav", CFG)
    with pytest.raises(TsError, match="nope.wav: no such file"):
        load_clip(tmp_path / "nope.wav", CFG)
