"""What every model runtime reports about a run on a board (tinyscene.runtimes.dispatch chooses the
runtime: tinyscene.aot.runner, tinyscene.tflm.runner).

Each runtime module provides

    run(model: Path, board: Board, inputs: list[np.ndarray], *, runtime: str, kernels: str,
        workdir: Path, dump_layers: Path | None, timeout: float) -> tuple[list[np.ndarray], ModelRunReport]

running every input (one invoke each) in ONE firmware run, returning the int8 outputs in order.
Counts are measured the same way by every runtime: the board's tick counter read immediately
before and after the invoke call, times board.yaml `counter.per_tick`.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field


@dataclass
class ModelRunReport:
    model: str
    board: str
    runtime: str  # aot | tflm | tflm-ref
    kernels: str  # reference | armv7em | mve | cmsis-nn | tflm-reference
    instructions: int | None  # per invoke (max over inputs; identical when deterministic); None on host
    arena_bytes: int  # tensor arena (incl. kernel scratch)
    flash_bytes: int  # model + runtime code (whole image minus nothing)
    flash_model_bytes: int  # weights, biases, quantisation tables, graph description
    flash_runtime_bytes: int  # everything else in the image: kernels, runtime, start-up, C library
    stack_bytes: int | None  # stack high-water mark of the run (None on host)
    macs: int | None = None
    instructions_per_input: list[int] = field(default_factory=list)
    per_layer: list[dict] | None = None  # [{index, op, instructions, macs, kernel}, ...] where known
    extra: dict = field(default_factory=dict)

    @property
    def instructions_per_mac(self) -> float | None:
        if self.instructions is None or not self.macs:
            return None
        return self.instructions / self.macs

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["instructions_per_mac"] = self.instructions_per_mac
        return d


def ticks_to_count(ticks: int, per_tick: float) -> int:
    """Board counter ticks -> instructions (QEMU -icount) or cycles (DWT)."""
    return int(round(ticks * per_tick))
