"""The real example recording (dcase_util 0.2.20's acoustic_scene.wav): fetched from PyPI into the
user cache once, then reused; `tinyscene data example --out F` copies it."""
from __future__ import annotations

import hashlib

import numpy as np
import soundfile as sf

from tinyscene.config import FRONTEND_PRESETS
from tinyscene.data.audio import load_clip
from tinyscene.data.example import SHA256, example_wav
from tinyscene.paths import cache_dir


def test_example_wav_is_the_real_recording():
    path = example_wav()
    assert path == cache_dir() / "acoustic_scene.wav"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == SHA256
    i = sf.info(path)
    assert (i.samplerate, i.channels) == (44100, 2) and abs(i.frames - 441000) <= 1  # 10 s (441,001 samples)
    x, _ = sf.read(path)
    assert 1e-3 < np.sqrt(np.mean(x ** 2)) < 0.5 and not np.allclose(x[:, 0], x[:, 1])  # binaural, not silence
    pcm = load_clip(path, FRONTEND_PRESETS["paper"])  # 44.1 kHz already: the samples themselves
    assert pcm.shape == (2, 441000)
    np.testing.assert_array_equal(pcm, sf.read(path, dtype="int16")[0][:441000].T)


def test_example_command_copies(tmp_path, run_cli):
    rc, out, err = run_cli("data", "example", "--out", tmp_path / "scene.wav")
    assert rc == 0, err
    assert out.strip() == str(tmp_path / "scene.wav")
    assert (tmp_path / "scene.wav").read_bytes() == example_wav().read_bytes()
