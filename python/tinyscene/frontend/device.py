"""The front-end on a board: the `features` firmware app, built with generated fe_tables.c for one
configuration + input quantisation, run under QEMU (or natively for the host board), PCM in and
int8 features + Q7.24 log-mel out over (semihosting) files."""
from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from tinyscene.config import FrontendConfig
from tinyscene.errors import TsError
from tinyscene.frontend import codegen, native
from tinyscene.frontend.commands import FE_FAMILIES
from tinyscene.paths import cache_dir
from tinyscene.target.apps import get_app
from tinyscene.target.boards import load_board
from tinyscene.target.build import BuildResult, build_firmware
from tinyscene.target.image import measure_sections
from tinyscene.target.qemu import run_firmware

_SUMMARY = re.compile(r"features: frames=(\d+) hops=(\d+) ticks_total=(\d+) ticks_hop_min=(\d+) ticks_hop_max=(\d+)")
_MEMORY = re.compile(r"features: state_bytes=(\d+) scratch_bytes=(\d+) table_bytes=(\d+) stack_high_water=(\d+)")
_PROFILE = re.compile(r"features: profile ticks (.*)")


def fe_family(board, requested: str = "auto") -> str:
    """The front-end's stage family on `board`: its optimized stages (firmware/src/fe/armv7em/, and mve/
    on top of them for Helium) where the board's CPU has the extension; `reference` is the portable C.
    Asking for an extension the board lacks is an error."""
    if requested not in FE_FAMILIES:
        raise TsError(f"front-end kernels '{requested}': expected one of {', '.join(FE_FAMILIES)}")
    if requested == "auto":
        return board.kernel_family("auto")
    if requested == "reference":
        return "reference"
    if board.is_host:
        raise TsError(f"front-end kernels '{requested}': the host board runs the portable C (use 'reference')")
    if requested == "armv7em" and not board.has_dsp:
        raise TsError(f"{board.name} ({board.cpu}): no DSP extension, which the armv7em front-end stages need "
                      "(use 'reference')")
    if requested == "mve" and not board.has_mve:
        raise TsError(f"{board.name} ({board.cpu}): no Helium (MVE), which the mve front-end stages need "
                      "(use 'armv7em' or 'reference')")
    return requested


def firmware_source_hash() -> str:
    """sha256 of every front-end C source (portable and optimized stages) and header."""
    from tinyscene.paths import FIRMWARE_DIR

    h = hashlib.sha256()
    fe = FIRMWARE_DIR / "src" / "fe"
    for p in sorted([*fe.rglob("*.c"), *fe.rglob("*.h")]):
        h.update(str(p.relative_to(fe)).encode())
        h.update(p.read_bytes())
    h.update(native.source_hash().encode())
    return h.hexdigest()


@dataclass
class DeviceRun:
    int8: np.ndarray | None  # [n_mels, frames, channels]
    logmel: np.ndarray  # int32 Q7.24 [channels, n_mels, frames]
    frames: int
    hops: int
    ticks_total: int
    ticks_hop_min: int
    ticks_hop_max: int
    per_tick: float  # board counter unit per tick (instructions on QEMU)
    unit: str
    state_bytes: int
    scratch_bytes: int
    table_bytes: int
    stack_bytes: int
    flash_bytes: int
    ram_bytes: int
    code_bytes: int = 0  # the front-end's functions (ts_fe_*) in the ELF
    profile: dict[str, float] = field(default_factory=dict)  # units per stage per channel-frame
    output: str = ""
    family: str = "reference"  # the front-end's stage family (fe_family)

    @property
    def units_total(self) -> float:
        return self.ticks_total * self.per_tick

    @property
    def units_per_hop(self) -> float:
        return self.units_total / max(self.hops, 1)


def build_features_firmware(cfg: FrontendConfig, quant, board_name: str, max_frames: int,
                            fe_kernels: str = "auto") -> tuple[Path, object]:
    """The features ELF for (cfg, quant, board, stage family), cached by the hash of everything that goes in."""
    board = load_board(board_name)
    family = fe_family(board, fe_kernels)
    c_text, h_text = codegen.render(cfg, quant, command="tinyscene features --impl device")
    app_src = get_app("features").main_source
    key = hashlib.sha256("\0".join([c_text, h_text, str(max_frames), board_name, family, firmware_source_hash(),
                                    app_src.read_text()]).encode()).hexdigest()[:20]
    out_dir = cache_dir() / "fe-firmware" / f"{board_name}-{family}-{key}"
    elf = out_dir / ("features" if board.is_host else "features.elf")
    if not elf.exists():
        gen = out_dir / "gen"
        codegen.write_fe_tables(gen, cfg, quant, command="tinyscene features --impl device")
        build_firmware(board, get_app("features"), elf, extra_sources=[gen / "fe_tables.c"], include_dirs=[gen],
                       defines={"TS_FE_APP_MAX_FRAMES": max_frames}, kernel_family=family)
    return elf, board


def run_device(cfg: FrontendConfig, pcm: np.ndarray, quant=None, board_name: str = "qemu-an386", *,
               profile: bool = False, timeout: float = 600.0, fe_kernels: str = "auto") -> DeviceRun:
    """Run the front-end firmware on int16 PCM [channels, samples]; returns what it computed."""

    pcm = np.asarray(pcm)
    if pcm.ndim != 2 or pcm.shape[0] != cfg.channels or pcm.dtype != np.int16:
        raise TsError(f"device front-end: PCM must be int16 [{cfg.channels}, samples], got {pcm.dtype} {pcm.shape}")
    if quant is not None:
        quant.check(cfg)
    n = pcm.shape[1]
    frames = 1 + n // cfg.hop_length
    elf, board = build_features_firmware(cfg, quant, board_name, frames, fe_kernels)
    with tempfile.TemporaryDirectory(prefix="ts-fe-dev-") as tmp:
        tmp = Path(tmp)
        (tmp / "pcm.bin").write_bytes(np.ascontiguousarray(pcm.T).astype("<i2").tobytes())
        args = ["--pcm", "pcm.bin", "--samples", str(n), "--logmel", "logmel.bin"]
        if quant is not None:
            args += ["--out", "q.bin"]
        if profile:
            args.append("--profile")
        r = run_firmware(board, elf, args, cwd=tmp, timeout=timeout)
        if r.fault:
            raise TsError(f"{board.name}: features firmware fault: {r.fault}")
        if r.exit_code != 0:
            raise TsError(f"{board.name}: features firmware exited with {r.exit_code}: {r.output.strip()[-300:]}")
        m, mm = _SUMMARY.search(r.output), _MEMORY.search(r.output)
        if not m or not mm:
            raise TsError(f"{board.name}: features firmware printed no summary: {r.output.strip()[-300:]}")
        lm = np.fromfile(tmp / "logmel.bin", dtype="<i4")
        if lm.size != frames * cfg.channels * cfg.n_mels:
            raise TsError(f"{board.name}: features firmware wrote {lm.size} log-mel values, expected "
                          f"{frames * cfg.channels * cfg.n_mels}")
        logmel = np.ascontiguousarray(lm.reshape(frames, cfg.channels, cfg.n_mels).transpose(1, 2, 0))
        q8 = None
        if quant is not None:
            q = np.fromfile(tmp / "q.bin", dtype=np.int8)
            if q.size != cfg.n_mels * frames * cfg.channels:
                raise TsError(f"{board.name}: features firmware wrote {q.size} int8 values")
            q8 = q.reshape(cfg.n_mels, frames, cfg.channels)
    prof = {}
    pm = _PROFILE.search(r.output)
    if pm:
        for part in pm.group(1).split():
            k, v = part.split("=")
            # shift .. log: one channel's frame; quantize and push: the whole hop (every channel)
            prof[k] = int(v) * board.counter.per_tick / (cfg.channels if k in ("quantize", "push") else 1)

    sizes = BuildResult(elf=elf, board=board.name)
    code = 0
    if not board.is_host:
        measure_sections(sizes, board)
        code = fe_code_bytes(elf)
    return DeviceRun(int8=q8, logmel=logmel, frames=int(m.group(1)), hops=int(m.group(2)),
                     ticks_total=int(m.group(3)), ticks_hop_min=int(m.group(4)), ticks_hop_max=int(m.group(5)),
                     per_tick=board.counter.per_tick, unit=board.counter.unit, state_bytes=int(mm.group(1)),
                     scratch_bytes=int(mm.group(2)), table_bytes=int(mm.group(3)), stack_bytes=int(mm.group(4)),
                     flash_bytes=sizes.flash_bytes, ram_bytes=sizes.ram_bytes, code_bytes=code, profile=prof,
                     output=r.output, family=fe_family(board, fe_kernels))


def symbol_bytes(elf: Path, files, names, types=("STT_FUNC",)) -> int:
    """Bytes of an ELF's symbols of the given types: the local ones defined in a source file for which
    `files(file name)` holds (static helpers included), the global ones for which `names(symbol)` holds."""
    total, current = 0, ""
    with open(elf, "rb") as f:
        for sec in ELFFile(f).iter_sections():
            if not isinstance(sec, SymbolTableSection):
                continue
            for sym in sec.iter_symbols():
                kind, bind = sym["st_info"]["type"], sym["st_info"]["bind"]
                if kind == "STT_FILE":
                    current = sym.name
                elif kind in types and sym["st_shndx"] != "SHN_UNDEF":
                    if (files(current) if bind == "STB_LOCAL" else names(sym.name)):
                        total += sym["st_size"]
    return total


def fe_code_bytes(elf: Path) -> int:
    """Bytes of the front-end's code in an ELF: the functions of firmware/src/fe (ts_fe_*.c, their static
    assembly helpers included)."""
    return symbol_bytes(elf, lambda f: f.startswith("ts_fe_"), lambda n: n.startswith("ts_fe_"))
