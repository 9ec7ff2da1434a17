"""The C front-end's stages (host library) against independent references: an exact integer model of
the documented arithmetic (tests/py/fe_model.py, its own tables and Python integers), numpy FFTs and
logs in float64; properties (hypothesis) of the fixed-point stages: no overflow at full scale, silence
gives the floor, bounded errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinyscene.config import FRONTEND_PRESETS, FrontendConfig
from tinyscene.frontend import FixedFrontend, float_logmel, spec

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(scope="module")
def small():
    return FixedFrontend(FRONTEND_PRESETS["m4-small"])


@pytest.fixture(scope="module")
def paper():
    return FixedFrontend(FRONTEND_PRESETS["paper"])


def frame_strategy(n):
    """int16 frames: random at any level, full-scale extremes, silence, DC, alternating."""
    def build(args):
        kind, level, seed = args
        rng = np.random.default_rng(seed)
        if kind == "random":
            x = rng.standard_normal(n) * 10 ** (level / 20) * 32767
        elif kind == "extreme":
            x = rng.choice([-32768, 32767], n)
        elif kind == "dc":
            x = np.full(n, -32768 if seed % 2 else 32767)
        elif kind == "nyquist":
            x = np.where(np.arange(n) % 2, -32768, 32767)
        elif kind == "impulse":
            x = np.zeros(n)
            x[seed % n] = -32768
        else:
            x = np.zeros(n)
        return np.clip(np.round(x), -32768, 32767).astype(np.int16)

    return st.tuples(st.sampled_from(["random", "random", "extreme", "dc", "nyquist", "impulse", "zero"]),
                     st.floats(-100, 6), st.integers(0, 2**31 - 1)).map(build)


SIZES = [FrontendConfig(name=f"n{n}", sample_rate=16000, n_fft=n, hop_length=n // 2, n_mels=m, channels=1)
         for n, m in ((256, 20), (512, 40), (1024, 64), (2048, 96), (4096, 128))]


@pytest.fixture(scope="module")
def sized():
    return {c.n_fft: FixedFrontend(c) for c in SIZES}


@SETTINGS
@given(frame_strategy(512))
def test_stages_equal_the_integer_model(small, frame):
    """Frame shift, window + FFT, split + power, mel sums and log: bit for bit the arithmetic documented in
    fe.h, as tests/py/fe_model.py computes it on its own (its own tables, Python integers)."""
    import fe_model

    cfg = small.cfg
    k = small.frame_shift(frame)
    assert k == fe_model.frame_shift(frame)
    z, _ = small.cfft(frame, k)
    assert np.array_equal(z, fe_model.cfft(frame, k))
    P = small.power(z)
    ref_p = fe_model.power(z)
    assert P.tolist() == ref_p
    ivals = fe_model.intervals(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.f_max)
    M = small.mel(P)
    assert M.tolist() == fe_model.mel(ref_p, ivals)
    t = small.tables
    assert small.log_raw(M, k).tolist() == fe_model.log_q24(M.tolist(), t.mel_floor, t.mel_offset, k)


def test_fft_of_every_size_equals_the_integer_model(sized):
    import fe_model

    rng = np.random.default_rng(11)
    for n, fe in sized.items():
        t = np.arange(n)
        frames = [np.full(n, -32768), np.where(t % 2, -32768, 32767), rng.choice([-32768, 32767], n),
                  np.round(rng.standard_normal(n) * 300), np.round(32767 * np.cos(2 * np.pi * 7.3 * t / n))]
        for x in frames:
            x = np.clip(x, -32768, 32767).astype(np.int16)
            z, k = fe.cfft(x)
            assert k == fe_model.frame_shift(x)
            assert np.array_equal(z, fe_model.cfft(x, k)), n
            assert fe.power(z).tolist() == fe_model.power(z), n


@SETTINGS
@given(frame_strategy(512))
def test_stages_against_float64(small, frame):
    """Each stage in float units against numpy / the slaney filterbank: the FFT within its roundings,
    power and mel relative to the frame's level, the log to 0.05 (quiet bands) and 1e-3 (loud ones)."""
    fx, fl = small.stages(frame), spec.float_stages(small.cfg, frame)
    cfg = small.cfg
    if not frame.any():
        assert not fx["z_raw"].any() and not fx["power_raw"].any()
        np.testing.assert_allclose(fx["log"], math.log(spec.LOG_FLOOR), atol=1e-3)
        return
    v = fl["windowed"]
    zref = np.fft.fft(v[0::2] + 1j * v[1::2])
    # one unit of Z in pcm / 32768 units: 2^-(15 + 12 + k - s); the roundings add up to a few units, the
    # window product's floor (2^-12 of an int16 step per sample) to at most n_fft 2^-27 in the DC bin, the
    # Q28 window's rounding to sum |v| 2^-28
    unit = 2.0 ** -(15 + 12 + fx["k"] - fx["fft_shift"])
    wnd = (cfg.n_fft + np.abs(v).sum()) * 2.0**-27
    assert np.max(np.abs(fx["z"] - zref)) <= 8 * math.sqrt(cfg.n_fft) * unit + wnd
    assert np.max(np.abs(fx["z_raw"])) < 2**30
    # |X - X_ref| <= delta (the FFT's roundings and the split's), so |P - P_ref| <= 2 |X_ref| delta + delta^2
    delta = 16 * math.sqrt(cfg.n_fft) * unit + wnd
    xref = np.abs(np.fft.rfft(v))
    assert np.all(np.abs(fx["power"] - fl["power"]) <= 2 * xref * delta + delta**2)
    band = spec.mel_filterbank(cfg) @ (2 * xref * delta + delta**2)
    assert np.all(np.abs(fx["mel"] - fl["mel"]) <= 1e-4 * fl["mel"] + band + 1e-14)
    assert np.all(np.isfinite(fx["log"]))
    assert np.max(np.abs(fx["log"] - fl["log"])) < 0.05
    loud = fl["mel"] > max(1e-3 * fl["mel"].max(), 1e4 * spec.LOG_FLOOR)
    assert np.all(np.abs(fx["log"] - fl["log"])[loud] < 1e-3)


def test_power_mel_and_log_of_extreme_values(small):
    """The split at full scale (|Z| up to 2^30) and mel sums of the largest powers stay exact (Python
    integers); the log of every magnitude of mel sum against numpy."""
    import fe_model

    cfg = small.cfg
    rng = np.random.default_rng(2)
    m = cfg.n_fft // 2
    z = rng.integers(-(2**29), 2**29, (m, 2)).astype(np.int32)
    z[0] = [2**30 - 1, 2**30 - 1]
    z[m // 2] = [-(2**30) + 1, 2**30 - 1]
    P = small.power(z)
    assert P.tolist() == fe_model.power(z)
    ivals = fe_model.intervals(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.f_max)
    big = np.full(m + 1, 2**61 // (m + 1), np.uint64)
    assert small.mel(big).tolist() == fe_model.mel([int(v) for v in big], ivals)
    t = small.tables
    mel = np.concatenate([[0, 1, 2, 3], rng.integers(0, 2**61, cfg.n_mels - 4, dtype=np.uint64)]).astype(np.uint64)
    for k in (0, 1, 7, 15):
        L = small.log_raw(mel, k).astype(np.float64) / 2**24
        y = mel.astype(np.float64) + t.mel_floor.astype(np.float64) * 2.0 ** (2 * k)
        ref = np.log(y) + t.mel_offset / 2**24 - 2 * k * math.log(2)
        assert np.max(np.abs(L - ref)) < 2e-5, k
        # and in the reference's units: ln(slaney mel + floor) for that power
        norm = spec.slaney_norm(cfg)
        mel_true = mel.astype(np.float64) * norm * 2.0 ** -(t.scale_exp + 2 * k)
        floor_err = 0.5 / t.mel_floor.astype(np.float64)  # the floor is an integer in the units of M
        assert np.all(np.abs(L - np.log(mel_true + spec.LOG_FLOOR)) < 2e-5 + floor_err), k


def test_silence_gives_the_floor_and_full_scale_does_not_overflow(paper):
    cfg = paper.cfg
    L = paper.logmel(np.zeros((2, 20000), np.int16))
    # the floor is an integer in the units of each band's mel sum (relative error <= 1/(2 floor)), the log
    # table is good to 1e-5
    tol = (0.5 / paper.tables.mel_floor.astype(np.float64) + 2e-5) * 2**24
    assert np.all(np.abs(L - math.log(spec.LOG_FLOOR) * 2**24) <= tol[None, :, None])
    rng = np.random.default_rng(5)
    n = 20000
    t = np.arange(n) / cfg.sample_rate
    for x in (rng.choice([-32768, 32767], (2, n)),                      # full-scale random square
              np.tile(np.where(np.arange(n) % 2, -32768, 32767), (2, 1)),  # Nyquist at full scale
              np.full((2, n), -32768),                                  # DC at full scale
              np.tile(np.round(32767 * np.sin(2 * np.pi * 997 * t)), (2, 1))):
        pcm = x.astype(np.int16)
        ref, got = float_logmel(cfg, pcm), paper.to_float(paper.logmel(pcm))
        assert np.all(np.isfinite(got))
        if np.ptp(ref) > 1e-6:
            snr = spec.snr_db(ref, got)
            assert snr > 50, snr
        else:  # a constant reference (no variance for an SNR): the error itself must be tiny
            assert np.max(np.abs(got - ref)) < 1e-3, np.max(np.abs(got - ref))


def test_full_scale_square_waves_at_many_frequencies(paper):
    """Full-scale square waves (every harmonic at full scale: the FFT's largest outputs) at 48
    frequencies up to Nyquist, one after another: no overflow anywhere (overflow would be garbage)."""
    cfg = paper.cfg
    seg = cfg.hop_length * 2
    parts = []
    for f in np.geomspace(20, cfg.sample_rate / 2, 48):
        t = np.arange(seg) / cfg.sample_rate
        parts.append(np.where(np.cos(2 * np.pi * f * t + 0.3) >= 0, 32767, -32768))
    pcm = np.tile(np.concatenate(parts), (2, 1)).astype(np.int16)
    snr = spec.snr_db(float_logmel(cfg, pcm), paper.to_float(paper.logmel(pcm)))
    assert snr > 50, snr


@pytest.mark.parametrize("name", ["m4-small", "paper"])
def test_log_mel_snr_against_librosa(name, small, paper):
    fe = small if name == "m4-small" else paper
    cfg = fe.cfg
    rng = np.random.default_rng(6)
    n = 2 * cfg.sample_rate
    t = np.arange(n) / cfg.sample_rate
    pink = np.cumsum(rng.standard_normal((2, n)), axis=1)
    pink -= pink.mean(axis=1, keepdims=True)
    clips = {"noise": 0.1 * rng.standard_normal((2, n)),
             "tone": np.tile(0.9 * np.sin(2 * np.pi * 1000.3 * t), (2, 1)),
             "quiet -60 dBFS": 1e-3 * rng.standard_normal((2, n)),
             "clipped": np.clip(4 * (0.3 * rng.standard_normal((2, n)) + 0.5 * np.sin(2 * np.pi * 300 * t)), -1, 1),
             "brown": 0.5 * pink / np.abs(pink).max()}
    snrs = []
    for k, x in clips.items():
        pcm = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
        snrs.append(spec.snr_db(float_logmel(cfg, pcm), fe.to_float(fe.logmel(pcm))))
    assert min(snrs) >= 50 and np.mean(snrs) >= 60, dict(zip(clips, snrs))


def test_quantize_matches_the_float_formula(small):
    from tinyscene.frontend import InputQuant

    cfg = small.cfg
    rng = np.random.default_rng(7)
    pcm = (rng.standard_normal((2, 16000)) * 3000).astype(np.int16)
    L = small.logmel(pcm)
    q = InputQuant.fit(cfg, [L])
    q8 = small.quantize(L, q)
    # exactly the integers fe.h defines: clamp(floor((floor(L mul / 2^32) + add) / 2^(shift - 32)))
    Li = np.transpose(L, (1, 2, 0)).astype(np.int64)  # [n_mels, frames, channels]
    hi = ((Li * q.mul.astype(np.int64)[:, None, None]) >> 32) + q.add.astype(np.int64)[:, None, None]
    assert np.array_equal(q8, np.clip(hi >> (q.shift - 32), -128, 127))
    z = q.normalize(L.astype(np.float64) / 2**24)  # [n_mels, frames, channels]
    ref = np.clip(np.floor(z / q.scale + q.zero_point + 0.5), -128, 127)
    diff = np.abs(q8.astype(int) - ref)
    assert diff.max() <= 1 and np.mean(diff) < 1e-3
    # scale 1/32: +-4 std spans the int8 range; the statistics are those of the clip
    assert q.scale == 1 / 32 and q.zero_point == 0
    np.testing.assert_allclose(q.mean, (L / 2**24).mean(axis=(0, 2)), rtol=1e-9)
    assert abs(float(np.mean(q.dequantize(q8)))) < 0.1


def test_quantize_refuses_another_configs_quantisation(small):
    from tinyscene.errors import TsError
    from tinyscene.frontend import InputQuant

    q = InputQuant(mean=np.zeros(32), std=np.ones(32))
    with pytest.raises(TsError, match="32 mel bins"):
        small.quantize(np.zeros((2, 64, 3), np.int32), q)


def test_c_init_refuses_inconsistent_tables(small):
    """A table that does not match the config is refused by ts_fe_init (TS_ERR_CONFIG)."""
    import ctypes

    from tinyscene.errors import TsError

    fe = FixedFrontend(small.cfg)
    fe.config.n_weights += 1
    with pytest.raises(TsError, match="configuration does not match"):
        fe.logmel(np.zeros((2, 100), np.int16))
    fe = FixedFrontend(small.cfg)
    fe.config.struct_size = ctypes.sizeof(fe.config) - 8
    with pytest.raises(TsError, match="configuration does not match"):
        fe.logmel(np.zeros((2, 100), np.int16))


def test_bad_pcm_is_a_clear_error(small):
    from tinyscene.errors import TsError

    with pytest.raises(TsError, match="int16"):
        small.logmel(np.zeros((2, 100), np.float32))
    with pytest.raises(TsError, match=r"\[2, samples\]"):
        small.logmel(np.zeros((3, 100), np.int16))


def test_odd_hop_and_long_delay_config():
    """hop 441 (odd: unaligned channel histories) and n_fft 2048 / hop 128 (8 hops of delay)."""
    for cfg in (FrontendConfig(name="odd", sample_rate=22050, n_fft=1024, hop_length=441, n_mels=40, channels=2),
                FrontendConfig(name="long", sample_rate=16000, n_fft=2048, hop_length=128, n_mels=48, channels=1)):
        fe = FixedFrontend(cfg)
        rng = np.random.default_rng(8)
        pcm = (rng.standard_normal((cfg.channels, 7777)) * 5000).astype(np.int16)
        L = fe.logmel(pcm)
        assert L.shape == (cfg.channels, cfg.n_mels, 1 + 7777 // cfg.hop_length)
        assert spec.snr_db(float_logmel(cfg, pcm), fe.to_float(L)) > 60
