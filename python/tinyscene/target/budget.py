"""The one board budget: where every static buffer of a firmware image lives and whether the whole fits.

Every build that puts a model on a board asks here — `tinyscene compile --board`, the classifier firmware
(`tinyscene build`, `flash`, `parity`), `inspect` — so they all use the same reserves and the same
placement rule:

  * RAM: the board's internal RAM less its stack and heap (board.yaml) and RUNTIME_RAM_RESERVE for what
    no plan lists (C library state, runtime and kernel statics). Buffers are placed in the order given;
    when they do not all fit and the board has external RAM, the movable ones go there, largest first,
    until the rest fits (the model arena, then a feature ring, on the disco-f746ng's SDRAM).
  * flash: the board's flash less RUNTIME_FLASH_RESERVE for code (app, runtime, front-end, kernels,
    C library) — the linker checks the real image again.

A plan that does not fit is a TsError that gives every part with its bytes and what the board has.
The host board has no budget (everything fits).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from tinyscene.errors import TsError
from tinyscene.target.boards import Board

RUNTIME_RAM_RESERVE = 8 * 1024
RUNTIME_FLASH_RESERVE = 48 * 1024
EXTERNAL_SECTION = ".ext_bss"  # boards/common/sections.ld: zero-initialised data in external RAM


@dataclass(frozen=True)
class Part:
    """One static buffer (RAM) or block of constants (flash)."""

    name: str
    bytes: int
    movable: bool = False  # may live in external RAM


@dataclass
class Placement:
    board: str
    ram_parts: list[Part]
    flash_parts: list[Part]
    in_ext: set[str] = field(default_factory=set)  # names of the parts placed in external RAM
    ram_available: int = 0
    ext_available: int = 0
    flash_available: int = 0

    def external(self, name: str) -> bool:
        return name in self.in_ext

    def section(self, name: str) -> str | None:
        """The linker section of part `name`: EXTERNAL_SECTION, or None for ordinary .bss."""
        return EXTERNAL_SECTION if name in self.in_ext else None

    @property
    def ram_used(self) -> int:
        return sum(p.bytes for p in self.ram_parts if p.name not in self.in_ext)

    @property
    def ext_used(self) -> int:
        return sum(p.bytes for p in self.ram_parts if p.name in self.in_ext)

    @property
    def flash_used(self) -> int:
        return sum(p.bytes for p in self.flash_parts)

    def to_dict(self) -> dict:
        return {"board": self.board, "ram": {p.name: p.bytes for p in self.ram_parts},
                "flash": {p.name: p.bytes for p in self.flash_parts}, "external": sorted(self.in_ext),
                "ram_used": self.ram_used, "ram_available": self.ram_available, "ext_used": self.ext_used,
                "ext_available": self.ext_available, "flash_used": self.flash_used,
                "flash_available": self.flash_available}


def _list(parts: list[Part]) -> str:
    return " + ".join(f"{p.name} {p.bytes:,} B" for p in parts)


def ram_available(board: Board) -> int:
    """Internal RAM left for planned buffers."""
    return board.ram.size - board.stack_size - board.heap_size - RUNTIME_RAM_RESERVE


def place(board: Board, ram_parts: list[Part], flash_parts: list[Part], what: str) -> Placement:
    """Place `ram_parts` in the board's RAM (movable ones in external RAM where needed) and check
    `flash_parts` against its flash; `what` names the image in errors ("bundle X", "model m.tflite")."""
    pl = Placement(board.name, list(ram_parts), list(flash_parts))
    if board.is_host:
        return pl
    pl.ram_available = ram_available(board)
    pl.ext_available = board.ext_ram.size if board.ext_ram else 0
    pl.flash_available = board.flash.size - RUNTIME_FLASH_RESERVE
    if pl.ext_available:
        for p in sorted((p for p in ram_parts if p.movable), key=lambda p: -p.bytes):
            if pl.ram_used <= pl.ram_available:
                break
            pl.in_ext.add(p.name)
    if pl.ram_used > pl.ram_available or pl.ext_used > pl.ext_available:
        ext = f", {pl.ext_available:,} B of external RAM" if pl.ext_available else ""
        placed = f" ({_list([p for p in ram_parts if p.name in pl.in_ext])} in external RAM)" if pl.in_ext else ""
        raise TsError(f"{what} does not fit board '{board.name}' RAM: needs {_list(ram_parts)} = "
                      f"{sum(p.bytes for p in ram_parts):,} B{placed}; the board has {pl.ram_available:,} B of RAM "
                      f"left after stack {board.stack_size:,} B, heap {board.heap_size:,} B and "
                      f"{RUNTIME_RAM_RESERVE:,} B for the runtime{ext}")
    if pl.flash_used > pl.flash_available:
        raise TsError(f"{what} does not fit board '{board.name}' flash: {_list(flash_parts)} = {pl.flash_used:,} B "
                      f"> {pl.flash_available:,} B ({board.flash.size:,} B less {RUNTIME_FLASH_RESERVE:,} B for "
                      "the code)")
    return pl
