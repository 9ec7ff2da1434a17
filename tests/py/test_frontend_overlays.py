"""The optimized front-end stages (firmware/src/fe/armv7em on the Cortex-M4, firmware/src/fe/mve over them
on the Cortex-M55) against the portable C, bit for bit: every stage on vectors built on the host
(tinyscene.frontend.stages: extremes, every frame shift, spectra and sums up to their bounds) on
qemu-an386 and qemu-an547; the whole streaming front-end on the real recording (the example
acoustic_scene.wav) on both boards and on the portable C compiled for the M4; and the accuracy floor
(log-mel SNR vs librosa, int8 within one step of librosa quantised alike) on the real recording and on
synthetic signals."""
from __future__ import annotations

import numpy as np
import pytest

from tinyscene.config import FRONTEND_PRESETS, FrontendConfig
from tinyscene.frontend import FixedFrontend, InputQuant, spec, stages
from tinyscene.frontend.bench import THRESHOLDS, bench_clips
from tinyscene.frontend.device import run_device

BOARDS = {"qemu-an386": "armv7em", "qemu-an547": "mve"}
# paper, and one that takes the other paths: n_fft 4096 (a radix-2 FFT stage), a mel count that is no
# multiple of four, an odd hop (unaligned histories), mono
ODD = FrontendConfig(name="odd", sample_rate=32000, n_fft=4096, hop_length=1001, n_mels=42, channels=1)


@pytest.fixture(scope="module")
def recording():
    from tinyscene.data.audio import load_clip
    from tinyscene.data.example import example_wav

    return load_clip(example_wav(), FRONTEND_PRESETS["paper"])  # int16 [2, 441000]


@pytest.mark.parametrize("board", list(BOARDS))
@pytest.mark.parametrize("cfg", [FRONTEND_PRESETS["paper"], ODD], ids=lambda c: c.name)
def test_every_stage_equals_the_portable_c(cfg, board):
    r = stages.compare(cfg, board)
    assert r["family"] == BOARDS[board]
    assert r["ops"] == sorted(stages.OPS) and r["records"] > 50
    assert not r["mismatches"], r["mismatches"][:5]


def _accuracy(cfg, pcm, quant=None):
    fe = FixedFrontend(cfg)
    L = fe.logmel(pcm)
    quant = quant or InputQuant.fit(cfg, [L])
    ref = spec.float_logmel(cfg, pcm)
    q8 = fe.quantize(L, quant)
    qref = np.clip(np.floor(quant.normalize(ref) / quant.scale + quant.zero_point + 0.5), -128, 127)
    d = np.abs(q8.astype(np.int64) - qref.astype(np.int64))
    return spec.snr_db(ref, fe.to_float(L)), float(np.mean(d <= 1)), L, quant


def test_the_real_recording_on_both_boards_and_its_accuracy(recording):
    cfg = FRONTEND_PRESETS["paper"]
    pcm = recording[:, : 2 * cfg.sample_rate]  # 2 s: 58 frames
    snr, within, L, quant = _accuracy(cfg, pcm)
    assert snr >= THRESHOLDS["snr_mean_db"] and within >= THRESHOLDS["int8_within_1_step"], (snr, within)
    fe = FixedFrontend(cfg)
    for board, family in BOARDS.items():
        r = run_device(cfg, pcm, quant, board, timeout=120)
        assert r.family == family
        assert np.array_equal(r.logmel, L) and np.array_equal(r.int8, fe.quantize(L, quant)), board


def test_the_portable_c_on_the_m4_and_the_odd_config_on_both_boards(recording):
    """The portable stages compiled for the device (what a core without the DSP extension runs) and the
    odd configuration's whole path (mono, odd hop: the Helium push and stride-free FFT)."""
    cfg = FRONTEND_PRESETS["m4-small"]
    pcm = (recording[:, :44100:3] // 2).astype(np.int16)  # 14,700 samples
    fe = FixedFrontend(cfg)
    L = fe.logmel(pcm)
    quant = InputQuant.fit(cfg, [L])
    r = run_device(cfg, pcm, quant, "qemu-an386", timeout=120, fe_kernels="reference")
    assert r.family == "reference"
    assert np.array_equal(r.logmel, L) and np.array_equal(r.int8, fe.quantize(L, quant))
    mono = recording[:1, :20000]
    fe, L = FixedFrontend(ODD), FixedFrontend(ODD).logmel(mono)
    quant = InputQuant.fit(ODD, [L])
    for board in BOARDS:
        r = run_device(ODD, mono, quant, board, timeout=120)
        assert np.array_equal(r.logmel, L) and np.array_equal(r.int8, fe.quantize(L, quant)), board


def test_accuracy_floor_on_synthetic_signals():
    """Tones, a chirp over the whole band, quiet and loud noise, clicks: each clip >= the worst-clip
    floor, their mean >= the mean floor, int8 within one step on >= 99.9 % of values."""
    cfg = FRONTEND_PRESETS["paper"]
    keep = ("tone 1 kHz full scale", "chirp 50 Hz..Nyquist -3 dBFS", "pink -60 dBFS", "noise full scale",
            "clicks 7/s", "chirp -40 dBFS")
    clips = [(n, p) for n, p in bench_clips(cfg, 0.5) if n in keep]
    assert len(clips) == len(keep)
    res = [_accuracy(cfg, p)[:2] for _, p in clips]
    snrs = [s for s, _ in res]
    assert min(snrs) >= THRESHOLDS["snr_worst_db"], dict(zip(keep, snrs))
    assert np.mean(snrs) >= THRESHOLDS["snr_mean_db"], dict(zip(keep, snrs))
    assert min(w for _, w in res) >= THRESHOLDS["int8_within_1_step"]


def test_a_board_without_the_extension_is_refused():
    from tinyscene.errors import TsError

    with pytest.raises(TsError, match=r"qemu-an386 \(cortex-m4\): no Helium \(MVE\)"):
        run_device(FRONTEND_PRESETS["m4-small"], np.zeros((2, 512), np.int16), None, "qemu-an386", fe_kernels="mve")
