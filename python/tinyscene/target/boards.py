"""Boards are data: `boards/<name>/board.yaml`, loaded into a validated dataclass.

Nothing in Python or the Makefile names a board; adding a board is adding a folder.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tinyscene.errors import TsError
from tinyscene.paths import BOARDS_DIR

HOST_BOARD = "host"
_SIZE = re.compile(r"^\s*(\d+)\s*([KMG]?)i?B?\s*$", re.IGNORECASE)


def parse_size(value, what: str) -> int:
    """128K, 4M, 2MiB, 0x400 or a plain integer -> bytes."""
    if isinstance(value, int):
        return value
    s = str(value)
    if s.lower().startswith("0x"):
        return int(s, 16)
    m = _SIZE.match(s)
    if not m:
        raise TsError(f"{what}: cannot read size '{value}' (use e.g. 512K, 2M or bytes)")
    return int(m.group(1)) * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[m.group(2).upper()]


@dataclass(frozen=True)
class Memory:
    origin: int
    size: int


@dataclass(frozen=True)
class Counter:
    """The board's tick counter. `per_tick` converts ticks to `unit` (instructions under QEMU -icount
    shift=0, cycles on silicon with DWT)."""

    kind: str  # systick-icount | dwt | host
    unit: str  # instructions | cycles | none
    per_tick: float = 1.0


@dataclass(frozen=True)
class QemuSpec:
    machine: str
    cpu: str


@dataclass(frozen=True)
class FlashSpec:
    tool: str  # pyocd | openocd
    target: str  # pyOCD target name or OpenOCD config file(s)
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Board:
    name: str
    path: Path
    description: str
    cpu: str  # gcc -mcpu value, or "host"
    fpu: str | None
    float_abi: str
    features: tuple[str, ...]  # dsp, mve, mve.fp, fpu
    clock_hz: int
    flash: Memory | None
    ram: Memory | None
    ext_ram: Memory | None
    stack_size: int
    heap_size: int
    console: str  # semihosting | uart | stdio
    counter: Counter
    qemu: QemuSpec | None
    flash_tool: FlashSpec | None
    sources: tuple[str, ...]  # relative to boards/
    defines: dict = field(default_factory=dict)
    transports: tuple[str, ...] = ()
    uart_baud: int = 115200

    @property
    def is_host(self) -> bool:
        return self.cpu == HOST_BOARD

    @property
    def is_emulated(self) -> bool:
        return self.qemu is not None

    @property
    def has_dsp(self) -> bool:
        return "dsp" in self.features

    @property
    def has_mve(self) -> bool:
        return "mve" in self.features

    def kernel_family(self, requested: str = "auto") -> str:
        """reference | armv7em | mve: which int8 kernel family a build for this board uses."""
        if requested == "reference":
            return "reference"
        if requested != "auto":
            raise TsError(f"--kernels {requested}: expected 'reference' or 'auto'")
        if self.has_mve:
            return "mve"
        if self.has_dsp:
            return "armv7em"
        return "reference"

    def cpu_flags(self) -> list[str]:
        if self.is_host:
            return []
        flags = [f"-mcpu={self.cpu}", "-mthumb", f"-mfloat-abi={self.float_abi}"]
        if self.fpu:
            flags.append(f"-mfpu={self.fpu}")
        return flags


def board_names() -> list[str]:
    return sorted(p.parent.name for p in BOARDS_DIR.glob("*/board.yaml"))


def _memory(d: dict, key: str, where: str) -> Memory | None:
    m = d.get(key)
    if m is None:
        return None
    if not isinstance(m, dict) or "origin" not in m or "size" not in m:
        raise TsError(f"{where}: memories.{key} needs origin and size")
    return Memory(origin=parse_size(m["origin"], f"{where}: memories.{key}.origin"),
                  size=parse_size(m["size"], f"{where}: memories.{key}.size"))


def load_board(name: str) -> Board:
    path = BOARDS_DIR / name / "board.yaml"
    if not path.exists():
        raise TsError(f"unknown board '{name}' (known: {', '.join(board_names())})")
    where = str(path)
    try:
        d = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise TsError(f"{where}: not valid YAML ({e})") from None
    if not isinstance(d, dict):
        raise TsError(f"{where}: must be a mapping")
    for key in ("cpu", "counter"):
        if key not in d:
            raise TsError(f"{where}: missing '{key}'")
    cpu = str(d["cpu"])
    mem = d.get("memories") or {}
    if cpu != HOST_BOARD and ("flash" not in mem or "ram" not in mem):
        raise TsError(f"{where}: memories.flash and memories.ram are required")
    c = d["counter"]
    counter = Counter(kind=str(c.get("kind", "none")), unit=str(c.get("unit", "none")),
                      per_tick=float(c.get("per_tick", 1.0)))
    q = d.get("qemu")
    qemu = QemuSpec(machine=str(q["machine"]), cpu=str(q["cpu"])) if q else None
    f = d.get("flash_tool")
    flash_tool = None
    if f:
        if f.get("tool") not in ("pyocd", "openocd"):
            raise TsError(f"{where}: flash_tool.tool must be pyocd or openocd")
        flash_tool = FlashSpec(tool=f["tool"], target=str(f.get("target", "")),
                               extra_args=tuple(str(a) for a in f.get("extra_args", ())))
    console = str(d.get("console", "semihosting"))
    if console not in ("semihosting", "uart", "stdio"):
        raise TsError(f"{where}: console must be semihosting, uart or stdio")
    board = Board(
        name=name, path=path.parent, description=str(d.get("description", name)), cpu=cpu,
        fpu=d.get("fpu"), float_abi=str(d.get("float_abi", "hard")),
        features=tuple(str(x) for x in d.get("features", ())),
        clock_hz=int(parse_size(d.get("clock_hz", 0), f"{where}: clock_hz")),
        flash=_memory(mem, "flash", where), ram=_memory(mem, "ram", where),
        ext_ram=_memory(mem, "ext_ram", where),
        stack_size=parse_size(d.get("stack_size", "32K"), f"{where}: stack_size"),
        heap_size=parse_size(d.get("heap_size", "16K"), f"{where}: heap_size"),
        console=console, counter=counter, qemu=qemu, flash_tool=flash_tool,
        sources=tuple(str(s) for s in d.get("sources", ())),
        defines={str(k): v for k, v in (d.get("defines") or {}).items()},
        transports=tuple(str(t) for t in d.get("transports", ())),
        uart_baud=int(d.get("uart_baud", 115200)),
    )
    for s in board.sources:
        if not (BOARDS_DIR / s).exists():
            raise TsError(f"{where}: source '{s}' does not exist under boards/")
    return board
