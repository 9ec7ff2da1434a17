"""Synthetic acoustic scenes in exactly the TAU Urban Acoustic Scenes 2020 3Class layout.

`tinyscene data synth --out DIR --clips-per-scene N [--seconds S] [--seed K]` writes DIR/meta.csv
(10 scene labels), DIR/evaluation_setup/fold1_{train,evaluate,test}.csv and DIR/audio/*.wav
(48 kHz, 24-bit, 2 channels), named like TAU: audio/<scene>-<city>-<location>-<segment>-a.wav.

What the three classes differ in (every cue overlaps between classes, none decides alone):
  * noise bed: spectral tilt and resonances per scene (steep low-frequency rumble in vehicles,
    flatter beds outdoors), diffuse babble, wind, water, mains hum; inter-channel coherence
    (wide outdoors, near-mono in a vehicle cabin);
  * events: formant-shaped voice bursts (everywhere), chimes/beeps (stations, vehicles, malls),
    birds, car pass-bys, footsteps, music, engines, motor whine, brake squeal, rail clacks;
  * room: long reverberation indoors, a short cabin response in vehicles, almost dry outdoors;
  * every event has its own interaural delay and level difference; every clip a random level.
Each recording location has its own variation of its scene (tilt, resonances, room, event
rates), its clips all go to the same fold, and the folds are split ~70/30 per scene like TAU's.
Everything is drawn from numpy generators seeded by (seed, scene, location, segment), so a data
set depends only on its arguments, not on the number of worker processes.
"""
from __future__ import annotations

import math
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import soundfile as sf
from tqdm import tqdm

from tinyscene.data.tau import (
    AUDIO_DIR,
    META_FILE,
    SCENE_CLASS,
    SCENES,
    SETUP_DIR,
    usual_mode,
)
from tinyscene.errors import TsError
from tinyscene.util.atomic import atomic_dir

FS = 48000
CITIES = ("barcelona", "helsinki", "lisbon", "london", "lyon", "milan", "paris", "prague", "stockholm", "vienna")
EVALUATE_SHARE = 0.3
MAX_SECONDS = 60.0


# ----------------------------------------------------------------------------------------------
# Scene recipes
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Recipe:
    tilt: float                                   # bed slope, dB per octave around 1 kHz
    bumps: tuple[tuple[float, float, float], ...]  # bed resonances: (centre Hz, width octaves, gain dB)
    coherence: float                              # inter-channel coherence of the bed (0 = independent)
    rt60: tuple[float, float]                     # reverberation time range of the events, s
    wet_db: float                                 # reverberant level of the events relative to dry
    level_db: tuple[float, float]                 # clip RMS range, dBFS
    beds: dict[str, float] = field(default_factory=dict)  # extra bed layers: babble/wind/water/hum -> dB
    events: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # kind -> (per 10 s, lo dB, hi dB)
    lowcut: float = 30.0
    highcut: float = 14000.0


RECIPES: dict[str, Recipe] = {
    # indoor: reverberant halls, babble, chimes, ventilation
    "airport": Recipe(-3.0, ((150, 1.0, 4),), 0.6, (1.2, 2.5), -2, (-36, -24),
                      beds={"babble": -3, "hum": -22},
                      events={"voice": (2, -6, 2), "chime": (0.6, -4, 4), "beep": (0.4, -10, -2),
                              "steps": (0.5, -12, -4)}),
    "shopping_mall": Recipe(-3.5, ((250, 1.0, 3),), 0.6, (0.8, 1.8), -3, (-34, -22),
                            beds={"babble": 0, "hum": -24},
                            events={"voice": (3, -6, 2), "music": (0.8, -10, -2), "chime": (0.3, -6, 2),
                                    "steps": (0.8, -12, -4), "beep": (0.3, -12, -4)}),
    "metro_station": Recipe(-4.5, ((80, 1.0, 6), (2500, 1.0, 2)), 0.5, (1.5, 3.0), 0, (-34, -20),
                            beds={"babble": -6, "hum": -18},
                            events={"train": (0.6, 0, 8), "squeal": (0.5, -6, 4), "beep": (0.8, -8, 0),
                                    "voice": (1.5, -8, 0), "chime": (0.3, -6, 2), "steps": (0.5, -12, -4)}),
    # outdoor: dry, wide, birds, traffic, wind
    "street_pedestrian": Recipe(-3.0, ((400, 1.2, 2),), 0.3, (0.1, 0.4), -14, (-34, -20),
                                beds={"babble": -8, "wind": -20},
                                events={"voice": (3, -4, 4), "steps": (1.5, -8, 0), "pass": (0.6, -10, -2),
                                        "bird": (0.3, -12, -4), "beep": (0.1, -12, -4)}),
    "public_square": Recipe(-2.5, ((3000, 1.0, 3),), 0.25, (0.15, 0.5), -12, (-36, -22),
                            beds={"babble": -6, "water": -10, "wind": -18},
                            events={"voice": (2.5, -6, 2), "bird": (1.0, -10, 0), "steps": (0.8, -10, -2),
                                    "pass": (0.3, -14, -4)}),
    "street_traffic": Recipe(-4.0, ((60, 1.0, 6), (1200, 1.0, 3)), 0.35, (0.05, 0.3), -16, (-30, -16),
                             beds={"wind": -20},
                             events={"pass": (3, -2, 8), "horn": (0.3, -8, 2), "voice": (0.5, -10, -2),
                                     "steps": (0.3, -12, -4)}),
    "park": Recipe(-2.0, ((4000, 1.0, 2),), 0.15, (0.05, 0.2), -18, (-42, -26),
                   beds={"wind": -4, "babble": -20},
                   events={"bird": (4, -6, 6), "voice": (0.8, -10, -2), "pass": (0.4, -20, -10),
                           "steps": (0.5, -12, -4)}),
    # transportation: low-frequency rumble, engines and motors, a small cabin, near-mono
    "bus": Recipe(-6.0, ((40, 1.0, 10), (120, 1.0, 6)), 0.8, (0.2, 0.5), -6, (-32, -18),
                  beds={"babble": -14}, highcut=8000.0, lowcut=20.0,
                  events={"engine": (10, -4, 4), "voice": (1.5, -6, 2), "beep": (0.4, -6, 2),
                          "whine": (0.2, -12, -4)}),
    "tram": Recipe(-5.0, ((60, 1.0, 8), (700, 1.0, 3)), 0.75, (0.25, 0.6), -6, (-32, -18),
                   beds={"babble": -14}, highcut=10000.0, lowcut=20.0,
                   events={"whine": (1.2, -6, 4), "clack": (1.0, -6, 2), "beep": (0.5, -6, 2),
                           "voice": (1.0, -8, 0), "squeal": (0.3, -8, 0)}),
    "metro": Recipe(-5.0, ((50, 1.0, 10), (250, 1.0, 6), (2000, 1.0, 3)), 0.7, (0.3, 0.7), -4, (-28, -14),
                    beds={"babble": -16, "hum": -20}, highcut=10000.0, lowcut=20.0,
                    events={"whine": (1.0, -4, 6), "squeal": (0.6, -6, 4), "clack": (1.2, -4, 2),
                            "beep": (0.4, -6, 2), "voice": (0.8, -8, 0)}),
}
assert set(RECIPES) == set(SCENES)


# ----------------------------------------------------------------------------------------------
# Signal helpers (vectorised numpy; noise shaping in the frequency domain)
# ----------------------------------------------------------------------------------------------

def shape_db(f: np.ndarray, tilt: float, bumps, lowcut: float, highcut: float) -> np.ndarray:
    """Magnitude in dB of a spectral shape: a tilt around 1 kHz, Gaussian resonances on a log axis,
    and 2nd-order low and high cuts."""
    f = np.maximum(f, 1.0)
    lf = np.log2(np.maximum(f, 20.0) / 1000.0)
    db = tilt * lf
    for fc, width, gain in bumps:
        db = db + gain * np.exp(-0.5 * (np.log2(f / fc) / width) ** 2)
    db = db - 10 * np.log10(1 + (f / highcut) ** 4) - 10 * np.log10(1 + (lowcut / f) ** 4)
    return db


def shaped_noise(rng: np.random.Generator, n: int, db: np.ndarray | None = None, mag=None,
                 channels: int = 1, coherence: float = 0.0) -> np.ndarray:
    """Gaussian noise [channels, n] with the spectral shape `db` (dB over rfft bins) or magnitude
    `mag`, normalised to RMS 1; channels share a common part of power `coherence`."""
    nb = n // 2 + 1
    a = 10 ** (db / 20) if mag is None else mag

    def white():
        return rng.standard_normal(nb) + 1j * rng.standard_normal(nb)

    common = white()
    c, s = math.sqrt(coherence), math.sqrt(1 - coherence)
    spec = np.stack([a * (c * common + s * white()) for _ in range(channels)])
    x = np.fft.irfft(spec, n=n, axis=-1)
    rms = np.sqrt(np.mean(x ** 2)) + 1e-12
    return x / rms


def band_noise(rng: np.random.Generator, n: int, lo: float, hi: float) -> np.ndarray:
    """Mono noise band-limited to lo..hi Hz (smooth edges), RMS 1."""
    f = np.fft.rfftfreq(n, 1 / FS)
    return shaped_noise(rng, n, shape_db(f, 0.0, (), lo, hi))[0]


def smooth_random(rng: np.random.Generator, n: int, rate_hz: float) -> np.ndarray:
    """A smooth random curve of n samples (about `rate_hz` wiggles per second), mean 0, RMS ~1."""
    k = max(4, int(n / FS * rate_hz) + 4)
    knots = rng.standard_normal(k)
    return np.interp(np.linspace(0, k - 1, n), np.arange(k), knots)


def envelope(n: int, attack: float, release: float) -> np.ndarray:
    """Linear-in-dB-ish attack/release envelope (raised cosine ramps) of n samples."""
    e = np.ones(n)
    a, r = min(n // 2, int(attack * FS)), min(n // 2, int(release * FS))
    if a > 0:
        e[:a] = 0.5 - 0.5 * np.cos(np.pi * np.arange(a) / a)
    if r > 0:
        e[n - r:] *= 0.5 + 0.5 * np.cos(np.pi * np.arange(r) / r)
    return e


def phase_of(freq: np.ndarray, phase0: float = 0.0) -> np.ndarray:
    return phase0 + 2 * np.pi * np.cumsum(freq) / FS


def pulse(phase: np.ndarray, brightness: float) -> np.ndarray:
    """A band-limited-ish periodic pulse: exp(b (cos - 1)); harmonics fall off smoothly (Bessel),
    about sqrt(b) of them strong. Zero mean."""
    y = np.exp(brightness * (np.cos(phase) - 1.0))
    return y - y.mean()


def rms_norm(x: np.ndarray) -> np.ndarray:
    r = np.sqrt(np.mean(x ** 2))
    return x / r if r > 0 else x


# ----------------------------------------------------------------------------------------------
# Events: each returns a mono signal (RMS ~1 over its active part) and an optional ILD ramp
# ----------------------------------------------------------------------------------------------

VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480), (570, 840, 2410),
          (440, 1020, 2240), (660, 1720, 2410))


def ev_voice(rng, n_max):
    f0 = rng.uniform(95, 240)
    n_syl = int(rng.integers(2, 9))
    out = []
    phase0 = 0.0
    for _ in range(n_syl):
        m = int(rng.uniform(0.12, 0.32) * FS)
        t = np.arange(m) / FS
        fc = f0 * (1 + 0.08 * np.sin(2 * np.pi * rng.uniform(1, 4) * t + rng.uniform(0, 6.3)))
        ph = phase_of(fc, phase0)
        phase0 = float(ph[-1])
        src = pulse(ph, rng.uniform(8, 20))
        f = np.fft.rfftfreq(m, 1 / FS)
        formants = np.array(VOWELS[int(rng.integers(len(VOWELS)))]) * rng.uniform(0.9, 1.15)
        mag = np.zeros_like(f)
        for k, (fk, bw) in enumerate(zip(formants, (90, 110, 150))):
            mag += (0.5 ** k) / (1 + ((f - fk) / bw) ** 2)
        y = np.fft.irfft(np.fft.rfft(src) * mag, n=m) * np.sin(np.pi * np.linspace(0, 1, m)).clip(0) ** 0.7
        out.append(rms_norm(y))
        if rng.random() < 0.3:  # a fricative or a pause
            g = int(rng.uniform(0.04, 0.12) * FS)
            out.append(0.4 * band_noise(rng, g, 3500, 9000) * envelope(g, 0.01, 0.02) if rng.random() < 0.6
                       else np.zeros(g))
    return np.concatenate(out)[:n_max], None


def ev_beep(rng, n_max, lo=600.0, hi=3000.0, harm=0.15):
    f = rng.uniform(lo, hi)
    n_pulse = int(rng.integers(1, 5))
    on, off = rng.uniform(0.08, 0.4), rng.uniform(0.05, 0.25)
    m_on, m_off = int(on * FS), int(off * FS)
    t = np.arange(m_on) / FS
    tone = (np.sin(2 * np.pi * f * t) + harm * np.sin(4 * np.pi * f * t)) * envelope(m_on, 0.005, 0.01)
    one = np.concatenate([tone, np.zeros(m_off)])
    return rms_norm(np.tile(one, n_pulse))[:n_max], None


def ev_horn(rng, n_max):
    f = rng.uniform(300, 550)
    m = int(rng.uniform(0.2, 0.9) * FS)
    ph = phase_of(np.full(m, f))
    y = pulse(ph, 3.0) + 0.7 * pulse(ph * 1.26, 3.0)  # two-tone horn
    return rms_norm(y * envelope(m, 0.01, 0.03))[:n_max], None


def ev_chime(rng, n_max):
    base = rng.uniform(400, 1000)
    steps = rng.choice([1.0, 0.84, 0.75, 0.67, 1.19, 1.33], size=int(rng.integers(2, 5)))
    gap = rng.uniform(0.25, 0.5)
    decay = rng.uniform(0.4, 1.0)
    m = int((gap * len(steps) + 3 * decay) * FS)
    y = np.zeros(m)
    t = np.arange(int(3 * decay * FS)) / FS
    for i, s in enumerate(steps):
        f = base * s
        note = sum(a * np.sin(2 * np.pi * f * p * t) for p, a in ((1, 1.0), (2.0, 0.4), (3.0, 0.15), (4.2, 0.1)))
        note = note * np.exp(-t / decay * 3) * envelope(len(t), 0.003, 0.0)
        k = int(i * gap * FS)
        y[k:k + len(t)] += note[:m - k]
    return rms_norm(y)[:n_max], None


def ev_music(rng, n_max):
    scale = 2 ** (np.array([0, 2, 4, 7, 9, 12, 14, 16]) / 12)
    root = rng.uniform(180, 330)
    dur = rng.uniform(3, 9)
    m = int(dur * FS)
    y = np.zeros(m)
    pos = 0
    bright = rng.uniform(1.5, 4)
    while pos < m:
        ln = int(rng.choice([0.15, 0.25, 0.3, 0.5]) * FS)
        f = root * rng.choice(scale)
        ph = phase_of(np.full(ln, f))
        note = pulse(ph, bright) * envelope(ln, 0.01, 0.05) + 0.5 * np.sin(ph / 2) * envelope(ln, 0.01, 0.05)
        y[pos:pos + ln] += note[:m - pos]
        pos += ln
    return rms_norm(y * envelope(m, 0.3, 0.5))[:n_max], None


def ev_bird(rng, n_max):
    n_chirp = int(rng.integers(2, 9))
    f_lo, f_hi = sorted(rng.uniform(2000, 7000, size=2))
    rise = rng.random() < 0.5
    parts = []
    for _ in range(n_chirp):
        m = int(rng.uniform(0.03, 0.15) * FS)
        u = np.linspace(0, 1, m)
        shape = u ** rng.uniform(0.5, 2) if rise else 1 - u ** rng.uniform(0.5, 2)
        f = f_lo + (f_hi - f_lo) * shape
        ph = phase_of(f)
        parts.append((np.sin(ph) + 0.1 * np.sin(2 * ph)) * np.sin(np.pi * u))
        parts.append(np.zeros(int(rng.uniform(0.03, 0.2) * FS)))
    return rms_norm(np.concatenate(parts))[:n_max], None


def ev_pass(rng, n_max):
    """A car passing by: engine harmonics with a Doppler glide, tyre noise, a distance envelope,
    moving from one side to the other."""
    dur = rng.uniform(3, 7)
    m = int(dur * FS)
    t = np.arange(m) / FS
    tc, tau = dur / 2, rng.uniform(0.5, 1.5)
    f0 = rng.uniform(25, 60) * (1 + 0.04 * np.tanh(-(t - tc) / tau))
    engine = pulse(phase_of(f0), rng.uniform(3, 8))
    tyre = band_noise(rng, m, 300, 3500)
    y = rms_norm(engine) * rng.uniform(0.4, 1.0) + tyre * rng.uniform(0.4, 1.0)
    y = y / (1 + ((t - tc) / tau) ** 2)
    direction = 1 if rng.random() < 0.5 else -1
    ild = direction * 8 * np.tanh((t - tc) / tau)  # dB, left minus right
    return (rms_norm(y) * envelope(m, 0.2, 0.2))[:n_max], ild[:n_max]


def ev_engine(rng, n_max):
    """A running engine (bus): firing-rate harmonics, slowly varying speed."""
    m = n_max
    f0 = rng.uniform(25, 45) * (1 + 0.2 * np.tanh(smooth_random(rng, m, 0.3)))
    y = pulse(phase_of(f0), rng.uniform(4, 10)) + 0.3 * pulse(phase_of(2 * f0), 2)
    y = y * (1 + 0.2 * smooth_random(rng, m, 2.0))
    return rms_norm(y), None


def ev_train(rng, n_max):
    """A train arriving in or leaving a station: a low rumble that swells, with a motor tone."""
    m = int(rng.uniform(4, 9) * FS)
    t = np.arange(m) / FS
    rumble = band_noise(rng, m, 25, 400)
    f = rng.uniform(150, 300) * (1 + 0.5 * t / t[-1] * rng.choice([-1, 1]))
    motor = np.sin(phase_of(f))
    arriving = rng.random() < 0.5
    env = (t / t[-1]) ** 1.5 if arriving else (1 - t / t[-1]) ** 1.5
    return rms_norm((rumble + 0.3 * motor) * (0.05 + env) * envelope(m, 0.5, 0.3))[:n_max], None


def ev_whine(rng, n_max):
    """An electric traction motor accelerating or braking: a tone gliding over an octave or more."""
    m = int(rng.uniform(2, 7) * FS)
    u = np.linspace(0, 1, m)
    f_a, f_b = rng.uniform(250, 600), rng.uniform(900, 2200)
    f = f_a + (f_b - f_a) * (u if rng.random() < 0.5 else 1 - u) ** rng.uniform(0.6, 1.5)
    ph = phase_of(f)
    y = np.sin(ph) + 0.35 * np.sin(2 * ph) + 0.2 * np.sin(3 * ph)
    return rms_norm(y * envelope(m, 0.5, 0.5))[:n_max], None


def ev_squeal(rng, n_max):
    m = int(rng.uniform(0.4, 2.0) * FS)
    t = np.arange(m) / FS
    f = rng.uniform(2000, 6000) * (1 + 0.015 * np.sin(2 * np.pi * rng.uniform(4, 11) * t))
    y = np.sin(phase_of(f)) * (1 + 0.5 * smooth_random(rng, m, 8))
    return rms_norm(y * envelope(m, 0.1, 0.2))[:n_max], None


def _impacts(rng, m, times, lo, hi, decay):
    y = np.zeros(m)
    ln = int(6 * decay * FS)
    for k in (np.asarray(times) * FS).astype(int):
        if k >= m:
            break
        burst = band_noise(rng, ln, lo, hi) * np.exp(-np.arange(ln) / (decay * FS))
        y[k:k + ln] += burst[:m - k] * rng.uniform(0.6, 1.0)
    return y


def ev_clack(rng, n_max):
    """Wheels over rail joints: pairs of impacts (two axles of a bogie) at a steady period."""
    dur = rng.uniform(2, 8)
    period, spacing = rng.uniform(0.6, 1.5), rng.uniform(0.1, 0.25)
    starts = np.arange(0, dur, period)
    times = np.sort(np.concatenate([starts, starts + spacing]))
    m = int((dur + 0.3) * FS)
    return rms_norm(_impacts(rng, m, times, 60, 2500, rng.uniform(0.01, 0.03)))[:n_max], None


def ev_steps(rng, n_max):
    dur = rng.uniform(2, 6)
    period = 1 / rng.uniform(1.6, 2.2)
    times = np.arange(0, dur, period) + rng.normal(0, 0.01, size=len(np.arange(0, dur, period)))
    m = int((dur + 0.3) * FS)
    return rms_norm(_impacts(rng, m, np.maximum(times, 0), 150, 4000, rng.uniform(0.01, 0.03)))[:n_max], None


EVENTS = {"voice": ev_voice, "beep": ev_beep, "horn": ev_horn, "chime": ev_chime, "music": ev_music,
          "bird": ev_bird, "pass": ev_pass, "engine": ev_engine, "train": ev_train, "whine": ev_whine,
          "squeal": ev_squeal, "clack": ev_clack, "steps": ev_steps}
assert all(k in EVENTS for r in RECIPES.values() for k in r.events)


# ----------------------------------------------------------------------------------------------
# A clip
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Location:
    """How one recording location varies its scene (shared by its clips)."""

    tilt: float
    bumps: tuple[tuple[float, float, float], ...]
    coherence: float
    rt60: float
    wet_db: float
    beds: dict[str, float]
    rates: dict[str, float]
    hum_hz: float


def make_location(scene: str, rng: np.random.Generator) -> Location:
    r = RECIPES[scene]
    bumps = tuple((fc * 2 ** rng.normal(0, 0.25), w, g + rng.normal(0, 2)) for fc, w, g in r.bumps)
    # a resonance of its own (a room mode, a ventilation fan, a nearby machine)
    bumps += ((float(np.exp(rng.uniform(np.log(100), np.log(6000)))), 0.5, float(rng.normal(0, 3))),)
    beds = {k: v + rng.normal(0, 3) for k, v in r.beds.items()}
    if "water" in beds and rng.random() < 0.5:  # not every square has a fountain
        beds["water"] -= 30
    return Location(
        tilt=r.tilt + rng.normal(0, 0.8), bumps=bumps,
        coherence=float(np.clip(r.coherence + rng.normal(0, 0.1), 0.0, 0.95)),
        rt60=float(rng.uniform(*r.rt60)), wet_db=r.wet_db + rng.normal(0, 2),
        beds=beds, rates={k: v[0] * rng.uniform(0.5, 1.5) for k, v in r.events.items()},
        hum_hz=float(rng.choice([50.0, 60.0])))


def _place(out: np.ndarray, send: np.ndarray, x: np.ndarray, start: int, gain: float,
           itd: int, ild_db, send_gain: float) -> None:
    """Add mono x at `start` into stereo `out` with an interaural delay (samples, + = right later)
    and level difference (dB, + = left louder; scalar or per-sample)."""
    n = out.shape[1]
    g = 10 ** (np.asarray(ild_db) / 40)
    for ch, (delay, cg) in enumerate(((max(-itd, 0), g), (max(itd, 0), 1 / g))):
        k = start + delay
        if k >= n:
            continue
        m = min(len(x), n - k)
        cgm = cg[:m] if np.ndim(cg) else cg
        out[ch, k:k + m] += gain * x[:m] * cgm
    m = min(len(x), n - start)
    send[start:start + m] += send_gain * gain * x[:m]


def reverb_ir(rng: np.random.Generator, rt60: float) -> np.ndarray:
    """Stereo exponentially decaying noise (independent per ear), unit energy per channel."""
    m = int(min(rt60, 3.0) * FS)
    t = np.arange(m) / FS
    ir = rng.standard_normal((2, m)) * np.exp(-6.91 * t / rt60)
    ir[:, : int(0.003 * FS)] = 0  # a few ms before the first reflections
    return ir / np.sqrt(np.sum(ir ** 2, axis=1, keepdims=True))


def fft_convolve(x: np.ndarray, ir: np.ndarray, n: int) -> np.ndarray:
    """Mono x [N] convolved with each row of ir [C, M], first n samples."""
    from scipy.fft import next_fast_len

    size = next_fast_len(len(x) + ir.shape[1] - 1, real=True)
    y = np.fft.irfft(np.fft.rfft(x, size)[None, :] * np.fft.rfft(ir, size, axis=-1), size, axis=-1)
    return y[:, :n]


def render_clip(scene: str, location: Location, rng: np.random.Generator, seconds: float,
                level_db: float | None = None) -> np.ndarray:
    """One stereo clip [2, seconds * FS], float in (-1, 1)."""
    r = RECIPES[scene]
    n = int(round(seconds * FS))
    f = np.fft.rfftfreq(n, 1 / FS)

    # noise bed and its layers
    tilt = location.tilt + rng.normal(0, 0.5)
    bed = shaped_noise(rng, n, shape_db(f, tilt, location.bumps, r.lowcut, r.highcut), channels=2,
                       coherence=location.coherence)
    bed *= 1 + 0.15 * smooth_random(rng, n, 0.5)[None, :]
    layers = location.beds
    if "babble" in layers:  # distant talkers: speech-shaped noise with syllable-rate modulation
        b = shaped_noise(rng, n, shape_db(f, -4.0, ((250, 0.8, 8), (600, 0.8, 5), (1500, 0.8, 4)), 100, 5000),
                         channels=2, coherence=0.3)
        b *= np.maximum(0.2, 1 + 0.5 * smooth_random(rng, n, 8.0))[None, :]
        bed += 10 ** (layers["babble"] / 20) * b
    if "wind" in layers:  # gusty, low, uncorrelated between the ears
        w = shaped_noise(rng, n, shape_db(f, -6.0, (), 20, rng.uniform(200, 500)), channels=2, coherence=0.1)
        w *= np.maximum(0.0, 0.8 + smooth_random(rng, n, 0.4))[None, :]
        bed += 10 ** (layers["wind"] / 20) * w
    if "water" in layers:
        w = shaped_noise(rng, n, shape_db(f, 0.0, ((2500, 1.0, 4),), 800, 9000), channels=2, coherence=0.4)
        bed += 10 ** (layers["water"] / 20) * w
    if "hum" in layers:
        t = np.arange(n) / FS
        h = sum(np.sin(2 * np.pi * location.hum_hz * k * t + rng.uniform(0, 6.3)) / k for k in range(1, 7))
        bed += 10 ** (layers["hum"] / 20) * rms_norm(h)[None, :]

    # events, each with its own interaural delay and level difference
    dry = np.zeros((2, n))
    send = np.zeros(n)
    for kind, (_, lo, hi) in r.events.items():
        count = rng.poisson(location.rates[kind] * seconds / 10.0)
        if kind == "engine":
            count = 1
        for _ in range(count):
            x, ild = EVENTS[kind](rng, n)
            if len(x) == 0:
                continue
            start = 0 if len(x) >= n else int(rng.integers(0, max(1, n - len(x) // 2)))
            gain = 10 ** (rng.uniform(lo, hi) / 20)
            itd = int(rng.integers(-30, 31))  # up to ~0.6 ms
            if ild is None:
                ild = rng.uniform(-6, 6)
            _place(dry, send, x, start, gain, itd, ild, 1.0)

    # the room: reverberation of the events
    if np.any(send):
        wet = fft_convolve(send, reverb_ir(rng, location.rt60 * rng.uniform(0.9, 1.1)), n)
        mix = bed + dry + 10 ** (location.wet_db / 20) * wet
    else:
        mix = bed + dry

    # random level, and no clipping
    if level_db is None:
        level_db = rng.uniform(*r.level_db)
    mix *= 10 ** (level_db / 20) / (np.sqrt(np.mean(mix ** 2)) + 1e-12)
    peak = np.max(np.abs(mix))
    if peak > 0.98:
        mix *= 0.98 / peak
    return mix


# ----------------------------------------------------------------------------------------------
# The data set: plan (names, locations, folds), render in parallel, write the TAU layout
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlannedClip:
    scene: str
    city: str
    location: int
    segment: int
    fold: str  # "train" or "evaluate"

    @property
    def identifier(self) -> str:
        return f"{self.city}-{self.location}"

    @property
    def filename(self) -> str:
        return f"{AUDIO_DIR}/{self.scene}-{self.city}-{self.location}-{self.segment}-a.wav"


def _split_sizes(n: int, rng: np.random.Generator) -> list[int]:
    """Clips per recording location for n clips of one scene: 1 to 3 each, but never more than
    the evaluate share, so that whole locations can make up that share."""
    top = max(1, min(3, round(EVALUATE_SHARE * n)))
    sizes = []
    while sum(sizes) < n:
        sizes.append(int(min(rng.integers(1, top + 1), n - sum(sizes))))
    return sizes


def plan(clips_per_scene: int, seed: int) -> list[PlannedClip]:
    """Names, recording locations and folds: per scene, whole locations go to `evaluate` until
    about EVALUATE_SHARE of its clips are there (at least one when the scene has two or more)."""
    out = []
    for s, scene in enumerate(SCENES):
        rng = np.random.default_rng([seed, s, 7])
        sizes = _split_sizes(clips_per_scene, rng)
        target = max(1, round(EVALUATE_SHARE * clips_per_scene)) if clips_per_scene >= 2 else 0
        order = rng.permutation(len(sizes))
        chosen, total = set(), 0
        for i in order:
            if total + sizes[i] <= target:
                chosen.add(int(i))
                total += sizes[i]
        if target and not chosen:
            chosen.add(int(np.argmin(sizes)))
        ids = rng.choice(1000, size=len(sizes), replace=False)
        for i, size in enumerate(sizes):
            city = CITIES[int(rng.integers(len(CITIES)))]
            base = int(rng.integers(0, 50)) * 10
            for k in range(size):
                out.append(PlannedClip(scene, city, int(ids[i]), base + k, "evaluate" if i in chosen else "train"))
    return out


def _render_to(args) -> str:
    """Worker: render one clip and write it (PCM_24)."""
    pc, seed, seconds, root = args

    s = SCENES.index(pc.scene)
    loc = make_location(pc.scene, np.random.default_rng([seed, s, pc.location, 1]))
    x = render_clip(pc.scene, loc, np.random.default_rng([seed, s, pc.location, pc.segment, 2]), seconds)
    sf.write(os.path.join(root, pc.filename), x.T, FS, subtype="PCM_24", format="WAV")
    return pc.filename


def _table(rows: list[list[str]]) -> str:
    return "".join("\t".join(r) + "\n" for r in rows)


def synth(out: str | os.PathLike, clips_per_scene: int, seconds: float = 10.0, seed: int = 0,
          jobs: int | None = None, force: bool = False, progress: bool = True) -> list[PlannedClip]:
    """Write a synthetic TAU-layout data set to `out` (atomically); returns the clips."""

    if clips_per_scene < 1:
        raise TsError(f"--clips-per-scene {clips_per_scene}: must be at least 1")
    if not 0.1 <= seconds <= MAX_SECONDS:
        raise TsError(f"--seconds {seconds:g}: must be in 0.1..{MAX_SECONDS:g}")
    if seed < 0:
        raise TsError(f"--seed {seed}: must be >= 0")
    clips = plan(clips_per_scene, seed)
    jobs = max(1, min(jobs or min(2, os.cpu_count() or 1), len(clips)))
    with atomic_dir(out, force=force) as tmp:
        usual_mode(tmp)
        (tmp / AUDIO_DIR).mkdir()
        (tmp / SETUP_DIR).mkdir()
        tasks = [(pc, seed, seconds, str(tmp)) for pc in clips]
        bar = tqdm(total=len(tasks), desc="synth", unit="clip", disable=not progress)
        if jobs == 1:
            for t in tasks:
                _render_to(t)
                bar.update()
        else:

            # spawn: safe whatever threads the calling process runs
            with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as ex:
                for _ in ex.map(_render_to, tasks, chunksize=2):
                    bar.update()
        bar.close()
        by_name = sorted(clips, key=lambda c: c.filename)
        (tmp / META_FILE).write_text(_table(
            [["filename", "scene_label", "identifier", "source_label"]]
            + [[c.filename, c.scene, c.identifier, "a"] for c in by_name]))
        for fold in ("train", "evaluate"):
            sel = [c for c in by_name if c.fold == fold]
            (tmp / SETUP_DIR / f"fold1_{fold}.csv").write_text(_table(
                [["filename", "scene_label"]] + [[c.filename, c.scene] for c in sel]))
        (tmp / SETUP_DIR / "fold1_test.csv").write_text(_table(
            [["filename"]] + [[c.filename] for c in by_name if c.fold == "evaluate"]))
        (tmp / "README.txt").write_text(
            f"Synthetic acoustic scenes in the TAU Urban Acoustic Scenes 2020 3Class layout.\n"
            f"Made by: tinyscene data synth --out DIR --clips-per-scene {clips_per_scene} "
            f"--seconds {seconds:g} --seed {seed}\n"
            f"{len(clips)} clips, {FS} Hz, 24-bit, 2 channels, {seconds:g} s; classes: "
            + ", ".join(f"{c} = {' '.join(s for s in SCENES if SCENE_CLASS[s] == c)}"
                        for c in ("indoor", "outdoor", "transportation")) + "\n")
    return clips
