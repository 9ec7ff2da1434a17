"""Front-end tables and float reference against independent references (librosa, scipy, numpy),
and configurations that must be refused before any table is computed."""
from __future__ import annotations

import numpy as np
import pytest

from tinyscene.config import FRONTEND_PRESETS, FrontendConfig
from tinyscene.errors import TsError
from tinyscene.frontend import spec

PRESETS = ["paper", "m4-small", "tiny"]


@pytest.mark.parametrize("name", PRESETS)
def test_mel_filterbank_is_librosa_slaney(name):
    import librosa

    cfg = FRONTEND_PRESETS[name]
    ref = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.f_max,
                              htk=False, norm="slaney", dtype=np.float64)
    ours = spec.mel_filterbank(cfg)
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-15)


@pytest.mark.parametrize("name", PRESETS)
def test_quantised_mel_weights_keep_16_significant_bits_per_band(name):
    import librosa

    cfg = FRONTEND_PRESETS[name]
    t = spec.make_tables(cfg)
    ref = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, dtype=np.float64)
    dense = t.mel_dense()
    for m in range(cfg.n_mels):
        peak = ref[m].max()
        assert np.max(np.abs(dense[m] - ref[m])) <= peak * 2.0**-15, m
    # each band is a contiguous run of bins with its own 16-bit scale
    assert t.mel_weight.max() <= 65535 and t.mel_weight.size == int(t.mel_count.sum())
    assert np.all(t.mel_start.astype(int) + t.mel_count <= cfg.n_fft // 2 + 1)


def test_window_twiddles_and_log_table():
    from scipy.signal import get_window

    cfg = FRONTEND_PRESETS["m4-small"]
    t = spec.make_tables(cfg)
    w = get_window("hann", cfg.n_fft, fftbins=True)
    assert np.max(np.abs(t.window / 2.0**31 - w)) <= 2.0**-31
    assert t.window.dtype == np.int32 and t.window.max() == 2**31 - 1  # 1.0 saturated
    n = cfg.n_fft
    k = np.arange(1, n // 4 + 1)
    np.testing.assert_allclose(t.rfft_twiddle[:, 0] / 2.0**31, np.cos(2 * np.pi * k / n), atol=2.0**-31)
    np.testing.assert_allclose(t.rfft_twiddle[:, 1] / 2.0**31, np.sin(2 * np.pi * k / n), atol=2.0**-31)
    # first radix-4 stage (len = n/2): W^i, W^2i, W^3i for i = 1..n/8-1
    first = t.fft_twiddle[: n // 8 - 1] / 2.0**30
    i = np.arange(1, n // 8)
    L = n // 2
    for j, mult in enumerate((1, 2, 3)):
        np.testing.assert_allclose(first[:, 2 * j], np.cos(2 * np.pi * mult * i / L), atol=2.0**-30)
        np.testing.assert_allclose(first[:, 2 * j + 1], np.sin(2 * np.pi * mult * i / L), atol=2.0**-30)
    lut = t.log_lut / 2.0**30
    np.testing.assert_allclose(lut, np.log2(1 + np.arange(129) / 128), atol=2.0**-30)
    assert t.floor_mant * 2.0**t.floor_exp == pytest.approx(spec.LOG_FLOOR, rel=1e-9)


def test_float_reference_equals_a_plain_numpy_log_mel():
    """librosa's centred power mel + floor == frames -> periodic Hann -> rfft -> |.|^2 -> mel -> ln."""
    cfg = FRONTEND_PRESETS["tiny"]
    rng = np.random.default_rng(0)
    pcm = (rng.standard_normal((2, 5000)) * 2000).astype(np.int16)
    ref = spec.float_logmel(cfg, pcm)
    fr = spec.frames_of(cfg, pcm).astype(np.float64) / 32768
    power = np.abs(np.fft.rfft(fr * spec.hann_periodic(cfg.n_fft), axis=-1)) ** 2
    ours = np.log(np.einsum("cfk,mk->cmf", power, spec.mel_filterbank(cfg)) + spec.LOG_FLOOR)
    assert ref.shape == (2, cfg.n_mels, 1 + 5000 // cfg.hop_length)
    np.testing.assert_allclose(ref, ours, atol=1e-4)


def test_silence_is_the_floor_in_the_float_reference():
    cfg = FRONTEND_PRESETS["tiny"]
    ref = spec.float_logmel(cfg, np.zeros((2, 3000), np.int16))
    np.testing.assert_allclose(ref, np.log(spec.LOG_FLOOR), rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_fft=1000), "power of two"),
    (dict(n_fft=8192), "power of two"),
    (dict(n_fft=512, hop_length=256, n_mels=300), "FFT bins"),
    (dict(sample_rate=16000, fmax=9000.0), "above Nyquist"),
    (dict(n_fft=512, hop_length=600), "hop_length"),
    (dict(fmin=5000.0, fmax=4000.0, sample_rate=16000), "must exceed fmin"),
    (dict(channels=3), "channels"),
])
def test_bad_configs_are_refused_at_config_time(kwargs, match):
    with pytest.raises(TsError, match=match):
        FrontendConfig(name="bad", **kwargs)


def test_config_with_only_empty_filters_is_refused():
    # 8 mels squeezed into 0.5 Hz above 1 kHz: no FFT bin falls into any filter
    cfg = FrontendConfig(name="empty", sample_rate=16000, n_fft=256, hop_length=128, n_mels=8, fmin=1000.0,
                         fmax=1000.5, channels=1)
    with pytest.raises(TsError, match="every mel filter is empty"):
        spec.make_tables(cfg)


def test_snr_helper():
    a = np.array([0.0, 1.0, 2.0, 3.0])
    assert spec.snr_db(a, a) == float("inf")
    assert spec.snr_db(a, a + 0.1) == pytest.approx(10 * np.log10(np.var(a) / 0.01))
    assert np.isnan(spec.snr_db(np.zeros(3), np.ones(3)))
