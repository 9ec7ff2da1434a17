"""What the TFLM runtime derives from a model (read by tinyscene.tflite.reader): the op resolver methods
for its operators (parsed from the pinned TFLM's micro_mutable_op_resolver.h: one source for the op list
of the firmware, the classifier and the bundle's tflm/ops.h) and the arena compiled into the firmware."""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from tinyscene.errors import TsError
from tinyscene.tflite.graph import Graph


def op_code(kind: str) -> tuple[str, bool]:
    """A graph op kind (CONV_2D, CUSTOM:name) as (operator name, custom)."""
    return (kind[7:], True) if kind.startswith("CUSTOM:") else (kind, False)


@dataclass(frozen=True)
class ResolverEntry:
    method: str  # MicroMutableOpResolver method, e.g. AddConv2D
    registration: str  # Register_<registration>() it installs by default, e.g. CONV_2D


@functools.lru_cache(maxsize=4)
def resolver_table(resolver_header: Path) -> dict[tuple[str, bool], ResolverEntry]:
    """{(operator, custom): entry} from TFLM's micro_mutable_op_resolver.h: each `Add<Op>(` method,
    the BuiltinOperator_<OP> (or custom name) it registers and its default Register_<X>()."""
    text = Path(resolver_header).read_text()
    starts = [m for m in re.finditer(r"TfLiteStatus\s+(Add\w+)\s*\(", text)]
    table: dict[tuple[str, bool], ResolverEntry] = {}
    for i, m in enumerate(starts):
        body = text[m.start(): starts[i + 1].start() if i + 1 < len(starts) else len(text)]
        method = m.group(1)
        if method in ("AddBuiltin", "AddCustom"):
            continue
        reg = re.search(r"Register_(\w+)\s*\(", body)
        if not reg:
            continue
        builtin = re.search(r"AddBuiltin\(\s*BuiltinOperator_(\w+)", body)
        custom = re.search(r'AddCustom\(\s*"([^"]+)"', body)
        if builtin:
            table.setdefault((builtin.group(1), False), ResolverEntry(method, reg.group(1)))
        elif custom:
            table.setdefault((custom.group(1), True), ResolverEntry(method, reg.group(1)))
    return table


def resolver_entries(model: Graph, resolver_header: Path) -> list[ResolverEntry]:
    """The resolver methods the model needs; an operator TFLM does not have is a TsError naming it
    and the first operator index that uses it."""
    table = resolver_table(resolver_header)
    out = []
    for kind in model.op_codes:
        entry = table.get(op_code(kind))
        if entry is None:
            name, custom = op_code(kind)
            where = next((o.index for o in model.ops if o.kind == kind), None)
            what = "custom operator" if custom else "operator"
            raise TsError(f"{model.source}: {what} {name} (operator #{where}) is not supported by TensorFlow Lite "
                          f"Micro (no Add method for it in {Path(resolver_header).name})")
        out.append(entry)
    return out


def arena_with_margin(needed: int) -> int:
    """The arena compiled into the firmware: the interpreter's figure + 25% + 8 KiB, to 16 bytes.
    The margin covers CMSIS-NN's scratch buffers (the reference kernels need none) and the
    differences of a 32-bit target; the firmware reports what it really used."""
    return (needed * 5 // 4 + 8192 + 15) // 16 * 16
