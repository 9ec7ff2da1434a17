"""Each front-end stage on a board against the portable C on the host, on inputs built here: the check
that the optimized stages (firmware/src/fe/armv7em, firmware/src/fe/mve) compute the integers of the
portable ones. The `fe_stages` app (firmware/src/rt/app_fe_stages.c) runs the records of one file:

    shift (frame) | cfft (k, frame) | power (Z) | mel (P) | log (k, mel sums) | quantize (one frame)

and `vectors` builds them: frames at every level (silence, +-1 LSB, full scale extremes, tones, noise),
spectra up to the FFT's bound 2^30, powers up to 2^61 / n_bins, mel sums up to 2^62, every frame shift.
"""
from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tinyscene.config import FrontendConfig
from tinyscene.errors import TsError
from tinyscene.frontend import codegen
from tinyscene.paths import cache_dir

OPS = {"shift": 1, "cfft": 2, "power": 3, "mel": 4, "log": 5, "quantize": 6}
_TICKS = re.compile(r"fe_stages: records=(\d+) ticks (.*)")


@dataclass
class Record:
    op: str
    data: tuple  # the op's inputs (numpy arrays / ints)


def _app():
    from tinyscene.target.apps import App

    return App("fe_stages", "each front-end stage on host-built inputs (tinyscene.frontend.stages)", ("rt", "fe"))


def vectors(cfg: FrontendConfig, seed: int = 0, per_kind: int = 6) -> list[Record]:
    """Records exercising every stage across its input range (for cfg's sizes)."""
    from tinyscene.frontend.native import FixedFrontend

    rng = np.random.default_rng(seed)
    n, m, nm = cfg.n_fft, cfg.n_fft // 2, cfg.n_mels
    t = np.arange(n)
    frames = [np.zeros(n), np.full(n, -32768), np.full(n, 32767), np.where(t % 2, -32768, 32767),
              rng.choice([-32768, 32767], n), rng.integers(-1, 2, n), np.round(32767 * np.cos(2 * np.pi * 3.3 * t / n))]
    frames += [np.round(rng.standard_normal(n) * 10 ** rng.uniform(0, 4.3)) for _ in range(per_kind)]
    frames = [np.clip(f, -32768, 32767).astype(np.int16) for f in frames]
    fe = FixedFrontend(cfg)
    recs: list[Record] = []
    for f in frames:
        recs.append(Record("shift", (f,)))
        k = fe.frame_shift(f)
        recs.append(Record("cfft", (k, f)))
        if k > 1:  # any smaller shift is within the bounds too
            recs.append(Record("cfft", (k // 2, f)))
    for _ in range(per_kind):
        z = rng.integers(-(2**30) + 1, 2**30, (m, 2))
        z[rng.random(m) < 0.5] //= 2 ** rng.integers(0, 30)
        recs.append(Record("power", (z.astype(np.int32),)))
        p = rng.integers(0, 2**61 // (m + 1), m + 1, dtype=np.uint64) >> rng.integers(0, 60, m + 1).astype(np.uint64)
        recs.append(Record("mel", (p,)))
        mel = rng.integers(0, 2**62, nm, dtype=np.uint64) >> rng.integers(0, 63, nm).astype(np.uint64)
        recs.append(Record("log", (int(rng.integers(0, 16)), mel)))
        lm = rng.integers(-30 * 2**24, 12 * 2**24, (cfg.channels, nm)).astype(np.int32)
        recs.append(Record("quantize", (lm,)))
    recs.append(Record("log", (15, np.zeros(nm, np.uint64))))
    recs.append(Record("log", (0, np.full(nm, 2**62 - 1, np.uint64))))
    return recs


def host(cfg: FrontendConfig, recs: list[Record], quant=None) -> list[np.ndarray]:
    """The portable C (host library) on each record: int32 words as the app writes them."""
    from tinyscene.frontend.native import FixedFrontend

    fe = FixedFrontend(cfg)
    out = []
    for r in recs:
        if r.op == "shift":
            out.append(np.array([fe.frame_shift(r.data[0])], np.int32))
        elif r.op == "cfft":
            out.append(fe.cfft(r.data[1], r.data[0])[0].reshape(-1).astype(np.int32))
        elif r.op == "power":
            out.append(fe.power(r.data[0]).view(np.int32))
        elif r.op == "mel":
            out.append(fe.mel(r.data[0]).view(np.int32))
        elif r.op == "log":
            out.append(fe.log_raw(r.data[1], r.data[0]))
        elif r.op == "quantize":
            q8 = fe.quantize(r.data[0][:, :, None], quant)[:, 0, :].reshape(-1)  # [n_mels][channels]
            out.append(np.pad(q8, (0, -len(q8) % 4)).view(np.int32))
    return out


def _encode(cfg: FrontendConfig, r: Record) -> bytes:
    op = np.array([OPS[r.op]], "<i4").tobytes()
    if r.op == "shift":
        return op + np.asarray(r.data[0], "<i2").tobytes()
    if r.op == "cfft":
        return op + np.array([r.data[0]], "<i4").tobytes() + np.asarray(r.data[1], "<i2").tobytes()
    if r.op == "power":
        return op + np.asarray(r.data[0], "<i4").tobytes()
    if r.op == "mel":
        return op + np.asarray(r.data[0], "<u8").tobytes()
    if r.op == "log":
        return op + np.array([r.data[0]], "<i4").tobytes() + np.asarray(r.data[1], "<u8").tobytes()
    if r.op == "quantize":
        return op + np.asarray(r.data[0], "<i4").tobytes()
    raise TsError(f"fe_stages: unknown op {r.op}")


def _out_words(cfg: FrontendConfig, r: Record) -> int:
    n, nm = cfg.n_fft, cfg.n_mels
    return {"shift": 1, "cfft": n, "power": n + 2, "mel": 2 * nm, "log": nm,
            "quantize": (cfg.channels * nm + 3) // 4}[r.op]


def build_stages_firmware(cfg: FrontendConfig, quant, board_name: str, fe_kernels: str = "auto"):
    from tinyscene.target.boards import load_board
    from tinyscene.target.build import build_firmware
    from tinyscene.frontend.device import fe_family, firmware_source_hash

    board = load_board(board_name)
    family = fe_family(board, fe_kernels)
    c_text, h_text = codegen.render(cfg, quant, command="tinyscene.frontend.stages")
    app = _app()
    key = hashlib.sha256("\0".join([c_text, h_text, board_name, family, firmware_source_hash(),
                                    app.main_source.read_text()]).encode()).hexdigest()[:20]
    out_dir = cache_dir() / "fe-stages" / f"{board_name}-{family}-{key}"
    elf = out_dir / ("fe_stages" if board.is_host else "fe_stages.elf")
    if not elf.exists():
        gen = out_dir / "gen"
        codegen.write_fe_tables(gen, cfg, quant, command="tinyscene.frontend.stages")
        build_firmware(board, app, elf, extra_sources=[gen / "fe_tables.c"], include_dirs=[gen],
                       kernel_family=family)
    return elf, board, family


def run_stages(cfg: FrontendConfig, recs: list[Record], board_name: str, quant=None, fe_kernels: str = "auto",
               timeout: float = 300.0) -> tuple[list[np.ndarray], dict]:
    """The records on a board: (outputs as int32 arrays, ticks per op kind)."""
    from tinyscene.target.qemu import run_firmware

    elf, board, family = build_stages_firmware(cfg, quant, board_name, fe_kernels)
    with tempfile.TemporaryDirectory(prefix="ts-fe-stages-") as tmp:
        tmp = Path(tmp)
        (tmp / "in.bin").write_bytes(b"".join(_encode(cfg, r) for r in recs))
        res = run_firmware(board, elf, ["--in", "in.bin", "--count", str(len(recs)), "--out", "out.bin"], cwd=tmp,
                           timeout=timeout)
        if res.fault or res.exit_code != 0:
            raise TsError(f"{board.name}: fe_stages failed: {res.fault or res.output.strip()[-300:]}")
        words = np.fromfile(tmp / "out.bin", "<i4")
    outs, pos = [], 0
    for r in recs:
        k = _out_words(cfg, r)
        outs.append(words[pos:pos + k])
        pos += k
    if pos != words.size:
        raise TsError(f"{board.name}: fe_stages wrote {words.size} words, expected {pos}")
    ticks = {}
    m = _TICKS.search(res.output)
    if m:
        for part in m.group(2).split():
            name, v = part.split("=")
            ticks[name] = int(v) * board.counter.per_tick
    return outs, {"family": family, "ticks": ticks}


def compare(cfg: FrontendConfig, board_name: str, quant=None, recs: list[Record] | None = None,
            fe_kernels: str = "auto") -> dict:
    """Device vs host on every record: {'family', 'records', 'mismatches': [(index, op, first word)], ...}."""
    recs = recs if recs is not None else vectors(cfg)
    if quant is None:
        from tinyscene.frontend.quant import InputQuant

        quant = InputQuant(mean=np.linspace(-12.0, -4.0, cfg.n_mels), std=np.linspace(1.0, 3.0, cfg.n_mels))
    dev, info = run_stages(cfg, recs, board_name, quant, fe_kernels)
    ref = host(cfg, recs, quant)
    bad = []
    for i, (r, d, h) in enumerate(zip(recs, dev, ref)):
        if not np.array_equal(d, h):
            j = int(np.flatnonzero(d != h)[0]) if d.shape == h.shape else -1
            bad.append((i, r.op, j))
    return {"family": info["family"], "records": len(recs), "mismatches": bad, "ticks": info["ticks"],
            "ops": sorted({r.op for r in recs})}
