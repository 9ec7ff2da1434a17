"""Where a firmware image's flash goes, from the linker map (GNU ld -Map, written beside every firmware ELF):
the bytes of each input object, and the split between the harness every app shares (start-up, board support,
the tinyscene runtime of firmware/src/rt, the C library) and the rest: the model runtime under test (kernels
and generated model, or TFLM's library, its C++ support and the model's flatbuffer)."""
from __future__ import annotations

import re
from pathlib import Path

from elftools.elf.elffile import ELFFile

from tinyscene.paths import BOARDS_DIR, FIRMWARE_DIR
from tinyscene.target.boards import Board

_OUT = re.compile(r"^(\.\S+)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+))?")
_IN = re.compile(r"^ (\S+)(?:\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*))?$")
_IN_CONT = re.compile(r"^\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")
_OBJ_HASH = re.compile(r"-[0-9a-f]{20}\.o$")
# toolchain libraries every app links; the C++ ones (libstdc++, libsupc++) only TFLM needs: not harness
_HARNESS_LIBS = ("libc.a", "libc_nano.a", "libm.a", "libgcc.a", "librdimon.a", "librdimon_nano.a", "libnosys.a")


def flash_sections(elf: Path, board: Board) -> set[str]:
    """Output sections whose bytes are stored in flash (as target.image.measure_sections counts them)."""
    names = set()
    with open(elf, "rb") as f:
        for s in ELFFile(f).iter_sections():
            if not s["sh_flags"] & 0x2 or s["sh_size"] == 0:
                continue
            addr = s["sh_addr"]
            in_ram = board.ram.origin <= addr < board.ram.origin + board.ram.size
            ext = board.ext_ram
            in_ext = ext is not None and ext.origin <= addr < ext.origin + ext.size
            if s.name == ".ext_bss":
                continue
            if not (in_ram or in_ext) or s["sh_type"] != "SHT_NOBITS":
                names.add(s.name)
    return names


def object_name(path: str) -> str:
    """An input object as the map names it, without the build's hash: `ts_conv_s8.o`, `libc.a(lib_a-memcpy.o)`,
    `core.a(micro_interpreter.o)` (archives keep their member)."""
    path = path.strip()
    m = re.match(r"^(.*?)(\(.*\))?$", path)
    base, member = (m.group(1), m.group(2) or "") if m else (path, "")
    return _OBJ_HASH.sub(".o", Path(base).name) + member


def flash_by_object(map_path: Path, elf: Path, board: Board) -> dict[str, int]:
    """Flash bytes of each input object (object_name), fill between input sections under '*fill*'."""
    keep = flash_sections(elf, board)
    out: dict[str, int] = {}
    section: str | None = None
    pending = False  # an input section's name stood alone; its address, size and object follow
    started = False
    for line in Path(map_path).read_text(errors="replace").splitlines():
        if not started:
            started = line.startswith("Linker script and memory map")
            continue
        if line.startswith("."):
            m = _OUT.match(line)
            section = m.group(1) if m else None
            pending = False
            continue
        if section not in keep:
            continue
        if line.startswith(" *fill*"):
            parts = line.split()
            if len(parts) >= 3:
                out["*fill*"] = out.get("*fill*", 0) + int(parts[2], 16)
            continue
        if pending:
            m = _IN_CONT.match(line)
            pending = False
            if m:
                name = object_name(m.group(3))
                out[name] = out.get(name, 0) + int(m.group(2), 16)
            continue
        m = _IN.match(line)
        if not m or m.group(1).startswith("*") or m.group(1).startswith("0x"):
            continue
        if m.group(2) is None:
            pending = True
            continue
        name = object_name(m.group(4))
        out[name] = out.get(name, 0) + int(m.group(3), 16)
    return out


def _harness_objects() -> set[str]:
    names = set()
    for folder, patterns in ((BOARDS_DIR, ("**/*.c", "**/*.S", "**/*.s")), (FIRMWARE_DIR / "src" / "rt",
                                                                               ("*.c", "*.cc"))):
        for pat in patterns:
            names.update(p.stem + ".o" for p in Path(folder).glob(pat))
    return names


def is_harness(obj: str, harness: set[str] | None = None) -> bool:
    """Start-up, board support, firmware/src/rt (apps, file I/O, protocol) and the C library: what every app
    links whatever runs the model."""
    lib = obj.split("(", 1)[0]
    if lib in _HARNESS_LIBS:
        return True
    return obj in (harness if harness is not None else _harness_objects()) or obj == "*fill*"


def runtime_flash_bytes(map_path: Path, elf: Path, board: Board) -> int:
    """Flash bytes of the model runtime: the image without the harness (is_harness)."""
    harness = _harness_objects()
    return sum(v for k, v in flash_by_object(map_path, elf, board).items() if not is_harness(k, harness))


def runtime_flash_of(elf: Path, board: Board) -> int | None:
    """runtime_flash_bytes of a firmware ELF from its map beside it (None on the host or without a map)."""
    map_path = Path(elf).with_suffix(".map")
    if board.is_host or not map_path.is_file():
        return None
    return runtime_flash_bytes(map_path, Path(elf), board)
