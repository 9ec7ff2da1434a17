"""What a linked image takes: flash, RAM and external RAM by section (firmware ELF), code and constants of a
host executable, and the bytes of given symbols (a model's constants)."""
from __future__ import annotations

from pathlib import Path

from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from tinyscene.target.boards import Board


def measure_sections(result, board: Board) -> None:
    """Fill a BuildResult's sections, flash, RAM and external-RAM bytes from its ELF's allocated sections."""
    with open(result.elf, "rb") as f:
        elf = ELFFile(f)
        for s in elf.iter_sections():
            if not s["sh_flags"] & 0x2 or s["sh_size"] == 0:  # SHF_ALLOC
                continue
            name, size, addr = s.name, s["sh_size"], s["sh_addr"]
            result.sections[name] = size
            in_ram = board.ram.origin <= addr < board.ram.origin + board.ram.size
            in_ext = board.ext_ram is not None and board.ext_ram.origin <= addr < board.ext_ram.origin + board.ext_ram.size
            if name == ".ext_bss":
                result.ext_ram_bytes += size
                if in_ram:
                    result.ram_bytes += size
            elif in_ram or in_ext:
                result.ram_bytes += size
                if s["sh_type"] != "SHT_NOBITS":
                    result.flash_bytes += size  # initialisers stored in flash
            else:
                result.flash_bytes += size


def host_image_bytes(elf: Path) -> int:
    """Code and constant bytes of a host executable (.text, .rodata, .data), as the firmware builds count them."""
    total = 0
    with open(elf, "rb") as f:
        for s in ELFFile(f).iter_sections():
            if s["sh_flags"] & 0x2 and s["sh_type"] != "SHT_NOBITS" and s.name in (".text", ".rodata", ".data"):
                total += s["sh_size"]
    return total


def symbols_bytes(elf: Path, prefix: tuple[str, ...]) -> int:
    """Total size of the data objects whose names start with one of `prefix`."""
    total = 0
    with open(elf, "rb") as f:
        for s in ELFFile(f).iter_sections():
            if isinstance(s, SymbolTableSection):
                for sym in s.iter_symbols():
                    if sym["st_info"]["type"] == "STT_OBJECT" and sym.name.startswith(prefix):
                        total += sym["st_size"]
    return total
