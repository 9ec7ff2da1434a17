"""The C front-end's stages (host library) against independent references: numpy FFTs, exact
Python integer arithmetic, numpy log; properties (hypothesis) of the fixed-point stages: no overflow
at full scale, silence gives the floor, bounded errors."""
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


@SETTINGS
@given(frame_strategy(512))
def test_window_fft_power_mel_log_against_float64(small, frame):
    fx, fl = small.stages(frame), spec.float_stages(small.cfg, frame)
    peak = int(np.max(np.abs(frame.astype(np.int64))))
    if peak == 0:
        assert not fx["windowed"].any() and not fx["spectrum"].any()
        np.testing.assert_allclose(fx["log"], math.log(spec.LOG_FLOOR), atol=1e-6)
        return
    scale_v = 2.0 ** (14 + fx["k"])  # v = x w 2^(14 + k), |v| <= 2^28
    assert np.max(np.abs(fx["windowed"] * scale_v)) <= 2**28
    # window product: SMULWB keeps x w to 2^-30 (then the frame's scaling), the Q31 window to 2^-32
    assert np.max(np.abs(fx["windowed"] - fl["windowed"])) <= max(1.0 / scale_v, 1.5 * 2.0**-30)
    # spectrum: block floating point error of a few LSB of the output scale (plus, for quiet frames,
    # the window product's 2^-30 resolution summed over the frame)
    lsb = 2.0 ** -(14 + fx["k"] - fx["fft_shift"])
    assert np.max(np.abs(fx["spectrum"] - fl["spectrum"])) <= 24 * lsb + len(frame) * 2.0**-30
    assert np.max(np.abs(fx["spectrum"])) / lsb < 2**30  # no overflow
    # mel (relative to the band's own level, above the FFT noise) and log
    mel_noise = 48 * lsb * np.sqrt(fl["power"].max()) * spec.mel_filterbank(small.cfg).sum(axis=1)
    assert np.all(np.abs(fx["mel"] - fl["mel"]) <= 1e-4 * fl["mel"] + mel_noise + 1e-14)
    assert np.all(np.isfinite(fx["log"]))
    assert np.max(np.abs(fx["log"] - fl["log"])) < 0.05


def test_cfft_against_numpy_and_bounds(small):
    rng = np.random.default_rng(1)
    n = small.cfg.n_fft // 2
    for amp in (2**27, 2**20, 1000, 3):
        z = np.clip(np.round(rng.standard_normal((n, 2)) * amp / 4), -amp, amp).astype(np.int32)
        out, sh = small.cfft(z)
        ref = np.fft.fft(z[:, 0] + 1j * z[:, 1]) / 2.0**sh
        got = out[:, 0] + 1j * out[:, 1]
        # rounding noise of the stages that do not shift adds up like sqrt(n) LSB of the output
        assert np.max(np.abs(got - ref)) <= 2 * math.sqrt(n), amp
        assert np.max(np.abs(out)) < 2**29


def test_power_is_exact(small):
    """re^2 + im^2 with Python integers (arbitrary precision) as the reference."""
    import ctypes

    from tinyscene.frontend.native import _ptr

    rng = np.random.default_rng(2)
    buf = rng.integers(-(2**30) + 1, 2**30, 2 * 257).astype(np.int32)
    buf[:4] = [-(2**30) + 1, 2**30 - 1, 0, -(2**30) + 1]
    ref = [int(buf[2 * k]) ** 2 + int(buf[2 * k + 1]) ** 2 for k in range(257)]
    small.lib.ts_fe_power_u64(_ptr(buf, ctypes.c_int32), 257)
    assert buf.view(np.uint64).tolist() == ref


def test_mel_sums_are_exact_up_to_the_final_truncations(small):
    """sum(w P) / 2^(16 + shift) with Python integers: the C result is within 1 of it."""
    import ctypes

    from tinyscene.frontend.native import _ptr

    t = small.tables
    rng = np.random.default_rng(3)
    nb = small.cfg.n_fft // 2 + 1
    P = rng.integers(0, 2**61 // nb, nb, dtype=np.uint64)
    P[5] = 2**60
    mel = np.zeros(small.cfg.n_mels, np.uint64)
    small.lib.ts_fe_mel_u64(_ptr(P, ctypes.c_uint32), _ptr(t.mel_start, ctypes.c_uint16),
                            _ptr(t.mel_count, ctypes.c_uint16), _ptr(t.mel_weight, ctypes.c_uint16),
                            _ptr(t.mel_shift, ctypes.c_uint8), small.cfg.n_mels, _ptr(mel, ctypes.c_uint64))
    off = 0
    for m in range(small.cfg.n_mels):
        s, c, sh = int(t.mel_start[m]), int(t.mel_count[m]), int(t.mel_shift[m])
        exact = sum(int(P[s + i]) * int(t.mel_weight[off + i]) for i in range(c))
        off += c
        ref = exact / 2 ** (16 + sh)
        assert abs(int(mel[m]) - ref) <= 1.5, m


def test_log_stage_against_numpy(small):
    rng = np.random.default_rng(4)
    mel = np.concatenate([[0, 1, 2, 3, 1000], rng.integers(0, 2**62, 300, dtype=np.uint64),
                          2 ** rng.integers(0, 62, 100).astype(np.uint64)]).astype(np.uint64)
    for e in (-20, 0, 37, 70):
        L = small.log_raw(mel, e).astype(np.float64) / 2**24
        # the floor in the units of the mel sums, at least one of them
        floor_units = max(1.0, round(spec.LOG_FLOOR * 2.0**e))
        ref = np.log((mel.astype(np.float64) + floor_units) * 2.0**-e)
        assert np.max(np.abs(L - ref)) < 2e-5, e


def test_silence_gives_the_floor_and_full_scale_does_not_overflow(paper):
    cfg = paper.cfg
    L = paper.logmel(np.zeros((2, 20000), np.int16))
    assert np.all(np.abs(L - round(math.log(spec.LOG_FLOOR) * 2**24)) <= 64)
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
