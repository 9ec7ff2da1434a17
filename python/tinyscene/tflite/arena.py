"""The one TFLM arena probe: the tensor arena the tflite_micro interpreter (reference kernels, this 64-bit
host) needs for a model. Its recording allocator gives the figure; a forked child then checks that the
interpreter really allocates in that many bytes (it can crash, not only fail, on a too-small arena), and
a figure that does not allocate is searched upwards. A 32-bit target needs slightly less (smaller
pointer structs); CMSIS-NN kernels need scratch on top (tinyscene.tflm adds a margin for its firmware)."""
from __future__ import annotations

import faulthandler
import os
import re

from tinyscene.errors import TsError
from tinyscene.tflite.interpreters import arena_upper_bound, tflm_interpreter
from tinyscene.util.quiet import quiet

ALIGN = 16


def recorded_arena_bytes(data: bytes) -> int:
    """'Arena allocation total' of the interpreter's print_allocations() on a roomy arena."""
    it = tflm_interpreter(data)
    with quiet() as cap:
        it.print_allocations()
    m = re.search(r"Arena allocation total (\d+) bytes", cap.text)
    if not m:
        raise TsError(f"tflite_micro: no arena figure in print_allocations ({cap.tail(1)})")
    return int(m.group(1))


def allocates(data: bytes, arena: int) -> bool:
    """Whether the tflite_micro interpreter allocates the model in `arena` bytes (tried in a child)."""
    from tflite_micro.python.tflite_micro import runtime as tflm

    pid = os.fork()
    if pid == 0:  # child: never returns
        faulthandler.disable()  # a crash here is the answer "does not fit", not a report to print
        code = 1
        try:
            with quiet():
                tflm.Interpreter.from_bytes(data, arena_size=arena)
            code = 0
        except BaseException:  # noqa: BLE001 - any failure means "does not fit"
            pass
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


def tflm_arena_bytes(data: bytes) -> int:
    """The smallest arena (to 16 bytes, at least the recorded figure) with which the model allocates."""
    need = (recorded_arena_bytes(data) + ALIGN - 1) // ALIGN * ALIGN
    if allocates(data, need):
        return need
    lo, hi = need, max(arena_upper_bound(data), 2 * need)
    while not allocates(data, hi):
        lo, hi = hi, hi * 2
        if hi > (1 << 31):
            raise TsError("tflite_micro: the interpreter cannot allocate this model with any arena")
    while hi - lo > ALIGN:
        mid = (lo + hi) // 2 // ALIGN * ALIGN
        if mid <= lo:
            break
        lo, hi = (lo, mid) if allocates(data, mid) else (mid, hi)
    return hi
