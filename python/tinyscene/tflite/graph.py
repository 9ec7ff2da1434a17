"""The graph IR of a .tflite (tinyscene.tflite.reader fills it; the compiler transforms it): tensors (shape,
dtype, quantisation, constant data) and ops in execution order, with each op's multiply-accumulates.
Tensor ids are the tensor indices of the .tflite subgraph, so that a tensor is named the same way in the
compiler, the firmware's layer dumps and the tflite_micro interpreter."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# bytes per element of the dtypes the compiler handles
DTYPE_BYTES = {"int8": 1, "uint8": 1, "int16": 2, "int32": 4, "int64": 8, "float32": 4, "float16": 2,
               "float64": 8, "bool": 1}
NUMPY_DTYPES = {"int8": np.int8, "uint8": np.uint8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
                "float32": np.float32, "float16": np.float16, "float64": np.float64, "bool": np.bool_}


@dataclass
class Quant:
    """Affine quantisation: real = scale * (q - zero_point), per tensor or per channel along `axis`."""

    scale: np.ndarray  # float32, 1 or C values
    zero_point: np.ndarray  # int64, 1 or C values
    axis: int = 0

    @property
    def per_channel(self) -> bool:
        return self.scale.size > 1

    @property
    def s(self) -> float:
        """The (first) scale as float32 (per-tensor scale)."""
        return np.float32(self.scale[0])

    @property
    def zp(self) -> int:
        return int(self.zero_point[0])


@dataclass
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    quant: Quant | None = None
    data: np.ndarray | None = None  # constant value, shaped and typed

    @property
    def is_const(self) -> bool:
        return self.data is not None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def nbytes(self) -> int:
        return self.size * DTYPE_BYTES.get(self.dtype, 1)

    def describe(self) -> str:
        return f"tensor {self.index} '{self.name}' {self.dtype}{list(self.shape)}"


@dataclass
class Op:
    index: int  # operator index in the .tflite subgraph (what error messages name)
    kind: str  # TFLite builtin name: CONV_2D, ADD, ...
    inputs: list[int]  # tensor ids; -1 for an absent optional input
    outputs: list[int]
    options: dict = field(default_factory=dict)
    fused: list[int] = field(default_factory=list)  # .tflite operator indices folded into this op
    macs: int = 0  # multiply-accumulates of the op as read (convolutions, depthwise, fully connected, ...)

    def where(self) -> str:
        return f"op {self.index} {self.kind}"


@dataclass
class Graph:
    tensors: dict[int, Tensor]
    ops: list[Op]
    inputs: list[int]
    outputs: list[int]
    source: str = ""
    description: str = ""
    sha256: str = ""
    file_bytes: int = 0
    subgraphs: int = 1  # the graph is subgraph 0; control flow has more
    op_codes: list[str] = field(default_factory=list)  # distinct op kinds of every subgraph, in model order

    @property
    def macs(self) -> int:
        return sum(op.macs for op in self.ops)

    def t(self, tid: int) -> Tensor:
        return self.tensors[tid]

    def consumers(self, tid: int) -> list[Op]:
        return [op for op in self.ops if tid in op.inputs]

    def producer(self, tid: int) -> Op | None:
        for op in self.ops:
            if tid in op.outputs:
                return op
        return None
