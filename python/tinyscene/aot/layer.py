"""The compiler's lowering types: a Layer (one kernel call with its constant parameter block and arrays) and the
KernelVariant table entry that implements it (aot/kernels.py holds the generic variants, aot/fastkernels.py the
optimized families'), and the values of a C parameter block (Ref, F32, F64, CArray)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from tinyscene.tflite.graph import Op


# ---- values of a C parameter block ----------------------------------------------------------------

class Ref(str):
    """The name of a constant array (a pointer in C)."""


@dataclass(frozen=True)
class F32:
    value: float


@dataclass(frozen=True)
class F64:
    value: float


@dataclass
class CArray:
    name: str
    ctype: str  # int8_t | int32_t | float
    values: np.ndarray
    role: str  # weights | bias | quant | const | table


@dataclass
class Layer:
    index: int  # position in ts_model_invoke()
    op: Op
    params_type: str  # C struct type
    params: dict  # C struct fields -> int | F32 | F64 | Ref | tuple | dict
    arrays: list[CArray]
    inputs: list[int]  # tensor ids passed to the kernel, in order (constant tensors allowed)
    outputs: list[int]
    signature: str  # unary | binary | nary (concat)
    macs: int = 0
    scratch_bytes: int = 0  # reference scratch; the chosen variant may change it
    inplace: list[tuple[int, int]] = field(default_factory=list)  # (input pos, output pos) allowed to share memory
    info: dict = field(default_factory=dict)  # summary for the compile report
    function: str = ""
    variant: "KernelVariant | None" = None
    weight_layout: str | None = None

    @property
    def name(self) -> str:
        return f"tsm_l{self.index}"

    def array(self, role: str) -> CArray | None:
        return next((a for a in self.arrays if a.role == role), None)


@dataclass(frozen=True)
class KernelVariant:
    op: str  # the IR op kind it implements
    function: str  # C function (same name in every family that provides it)
    families: tuple[str, ...] = ("reference", "armv7em", "mve")
    applies: Callable[[Layer], bool] = lambda layer: True
    weight_layout: str | None = None  # layout of the weights it reads (None: no weights)
    pack_weights: Callable[[np.ndarray, Layer], np.ndarray] | None = None  # TFLite layout -> weight_layout
    scratch_bytes: Callable[[Layer, str], int] | None = None  # None: the layer's reference scratch
    buffer_size_function: str | None = None  # C function that reports the scratch, checked at start-up
    # after the steps above: repacks what the kernel reads (weights, bias, requantisation records, tables) and
    # may change the parameter block (params, params_type, arrays); records its choices in layer.info
    prepare: Callable[[Layer, str], None] | None = None
    expands_weights: bool = False  # stores an expanded copy of the weights: only with --prefer speed
    # needs more scratch than the layer's first choice: taken only where that scratch fits in arena bytes free
    # during the layer (the compiler re-plans and keeps it only if the arena does not grow)
    dead_space: bool = False
    # parameter settings to try, most scratch (fastest) first (e.g. how many output channel pairs the kernel makes
    # per pass in its scratch): the compiler keeps the first whose scratch fits; None: the variant as it is
    settings: Callable[[Layer], list[dict]] | None = None
