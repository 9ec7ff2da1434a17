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
def test_mel_intervals_reproduce_librosas_slaney_filterbank(name):
    """Each bin's rising weight t (Q16) in its interval and 1 - t in the band before, times the slaney
    norm, is librosa's filterbank to 2^-16 of each band's norm; intervals follow each other."""
    import librosa

    cfg = FRONTEND_PRESETS[name]
    t = spec.make_tables(cfg)
    ref = librosa.filters.mel(sr=cfg.sample_rate, n_fft=cfg.n_fft, n_mels=cfg.n_mels, dtype=np.float64)
    pts = librosa.mel_frequencies(cfg.n_mels + 2, fmin=cfg.fmin, fmax=cfg.f_max)
    norm = 2.0 / (pts[2:] - pts[:-2])
    dense = t.mel_dense()
    assert np.all(np.abs(dense - ref) <= norm[:, None] * 2.0**-16)
    assert np.all(np.diff(t.mel_bin.astype(int)) >= 0) and int(t.mel_bin[-1]) <= cfg.n_fft // 2 + 1
    assert t.n_weights == int(t.mel_bin[-1]) - int(t.mel_bin[0])
    # the floor and offset: norm * floor * 2^-S = 1e-10 (to the floor's rounding), offset = ln(norm) - S ln 2
    S = t.scale_exp
    np.testing.assert_allclose(norm * t.mel_floor * 2.0**-S, spec.LOG_FLOOR, rtol=0.5 / t.mel_floor.min() + 1e-12)
    np.testing.assert_allclose(t.mel_offset / 2**24, np.log(norm) - S * np.log(2), atol=2**-24)


def test_window_twiddles_and_log_table():
    """The Q28 window in the first FFT stage's read order, the Q30 (twice odd) / Q31 (odd) twiddles of each stage and of
    the split, the ln table: against scipy / numpy, decoded from the layouts fe.h documents."""
    from scipy.signal import get_window

    for name in ("m4-small", "paper"):
        cfg = FRONTEND_PRESETS[name]
        t = spec.make_tables(cfg)
        n, m = cfg.n_fft, cfg.n_fft // 2
        lg = int(np.log2(m))
        w = get_window("hann", n, fftbins=True)
        rev = lambda i: int(format(i, f"0{lg}b")[::-1], 2)  # noqa: E731
        table = t.window.reshape(m // 4, 4, 2)  # [butterfly][input][part]
        for q in range(m // 4):
            r = rev(4 * q)
            for p, off in enumerate((0, m // 2, m // 4, 3 * m // 4)):
                for part in (0, 1):
                    got = table[q, p, part]
                    assert got == round(w[2 * (r + off) + part] * 2**28), (q, p, part)
        tw = t.fft_twiddle.astype(np.int64)
        assert np.all(t.rfft_twiddle % 2 == 1)
        pos, length = 0, 16
        while length <= m:
            h = length // 4
            stage = tw[pos:pos + 6 * h].reshape(h, 3, 2)  # [i][W^2i, W^i, W^3i][cos, sin]
            assert np.all((stage % 4 == 2) | (stage == 0))  # twice an odd number, or 0
            assert np.all(stage[0, :, 1] == 0)  # butterfly 0: (cos 0, 0)
            for i in range(h):
                for j, mult in enumerate((2, 1, 3)):
                    assert abs(stage[i, j, 0] - np.cos(2 * np.pi * mult * i / length) * 2**30) <= 2
                    assert abs(stage[i, j, 1] - np.sin(2 * np.pi * mult * i / length) * 2**30) <= 2
            pos += 6 * h
            length *= 4
        if lg % 2:
            last = tw[pos:].reshape(-1, 2)
            assert np.all(last % 2 == 1)
            i = np.arange(m // 2)
            assert np.all(np.abs(last[:, 0] - np.cos(2 * np.pi * i / m) * 2.0**31) <= 1)
            assert np.all(np.abs(last[:, 1] - np.sin(2 * np.pi * i / m) * 2.0**31) <= 1)
        else:
            assert pos == tw.size
        k = np.arange(1, n // 4)
        np.testing.assert_allclose(t.rfft_twiddle[:, 0] / 2.0**31, np.cos(2 * np.pi * k / n), atol=2.0**-30)
        np.testing.assert_allclose(t.rfft_twiddle[:, 1] / 2.0**31, np.sin(2 * np.pi * k / n), atol=2.0**-30)
        np.testing.assert_allclose(t.log_lut / 2.0**24, np.log1p(np.arange(129) / 128), atol=2.0**-25)


def test_tables_fit_the_flash_of_the_previous_front_end():
    """Flash of the tables per preset no more than the previous arithmetic's (paper 26,304 B, m4-small
    6,944 B); RAM the same (state + scratch)."""
    for name, flash, state, scratch in (("paper", 26304, 10240, 12296), ("m4-small", 6944, 2048, 3080)):
        t = spec.make_tables(FRONTEND_PRESETS[name])
        assert t.flash_bytes <= flash and t.state_bytes == state and t.scratch_bytes == scratch, name


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
