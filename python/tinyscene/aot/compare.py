"""`tinyscene compare`: run a model on a board with every layer's output dumped, run the tflite_micro
interpreter on the same input keeping all its tensors (InterpreterConfig.kPreserveAllTensors), and report
the first layer, in execution order, whose output differs, with the first differing index."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tinyscene.aot.runner import prepare_inputs, run
from tinyscene.errors import TsError
from tinyscene.target.boards import load_board
from tinyscene.tflite.reader import read_tflite


@dataclass
class LayerDiff:
    layer: int
    op: str
    op_index: int
    tensor: int
    name: str
    kernel: str
    differing: int
    total: int
    first_index: tuple[int, ...] | None = None
    device_value: float | None = None
    tflm_value: float | None = None
    max_abs_diff: float = 0.0


@dataclass
class Comparison:
    model: str
    board: str
    layers: list[LayerDiff] = field(default_factory=list)
    outputs_identical: bool = True

    @property
    def first(self) -> LayerDiff | None:
        return next((d for d in self.layers if d.differing), None)

    @property
    def identical(self) -> bool:
        return self.first is None and self.outputs_identical

    def text(self) -> str:
        f = self.first
        if f is None and self.outputs_identical:
            return (f"{self.model} on {self.board}: all {len(self.layers)} layers and the outputs are identical "
                    "to tflite_micro")
        if f is None:
            return f"{self.model} on {self.board}: layers identical, but the graph outputs differ"
        bad = sum(1 for d in self.layers if d.differing)
        return (f"{self.model} on {self.board}: first difference at layer {f.layer} ({f.op}, op {f.op_index}, "
                f"kernel {f.kernel}), tensor {f.tensor} '{f.name}': index {list(f.first_index)} device "
                f"{f.device_value:g} vs tflite_micro {f.tflm_value:g}; {f.differing} of {f.total} values differ "
                f"(max |d| {f.max_abs_diff:g}); {bad} of {len(self.layers)} layers differ")

    def to_dict(self) -> dict:
        f = self.first
        return {"model": self.model, "board": self.board, "identical": self.identical,
                "first_difference": None if f is None else {
                    "layer": f.layer, "op": f.op, "op_index": f.op_index, "tensor": f.tensor, "name": f.name,
                    "kernel": f.kernel, "index": list(f.first_index), "device": f.device_value,
                    "tflite_micro": f.tflm_value, "differing": f.differing, "total": f.total},
                "layers": [{"layer": d.layer, "op": d.op, "op_index": d.op_index, "tensor": d.tensor,
                            "differing": d.differing, "total": d.total, "max_abs_diff": d.max_abs_diff}
                           for d in self.layers]}


def tflm_tensors(model: Path, x: np.ndarray, tensor_ids: list[int], n_outputs: int) -> tuple[dict[int, np.ndarray], list]:
    """tflite_micro's values of the given tensors (and its outputs) for input x."""
    from tflite_micro.python.tflite_micro import runtime as tflm

    try:
        it = tflm.Interpreter.from_file(str(model), intrepreter_config=tflm.InterpreterConfig.kPreserveAllTensors)
        it.set_input(x, 0)
        it.invoke()
    except Exception as e:  # the interpreter raises RuntimeError with TFLM's log
        raise TsError(f"{model}: tflite_micro cannot run the model ({str(e).strip()[:300]})") from None
    vals = {}
    for tid in tensor_ids:
        d = it.GetTensor(tid, 0)
        vals[tid] = np.asarray(d["tensor_data"])
    return vals, [it.get_output(j) for j in range(n_outputs)]


def compare_with_tflm(model: Path, board_name: str, input_path: Path, *, workdir: Path, kernels: str = "auto",
                      index: int = 0, timeout: float = 600.0) -> Comparison:
    board = load_board(board_name)
    g = read_tflite(model)
    if len(g.inputs) != 1:
        raise TsError(f"{model}: compare takes single-input models")
    try:
        x = np.load(input_path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise TsError(f"--input {input_path}: cannot read a .npy array ({e})") from None
    shape = g.t(g.inputs[0]).shape
    if tuple(x.shape) != tuple(shape):
        if x.ndim == len(shape) + 1 and tuple(x.shape[1:]) == tuple(shape):
            x = x[index]
        elif x.shape[0] > index and tuple(x.shape[1:]) == tuple(shape[1:]):
            x = x[index:index + 1]
    x = prepare_inputs(g, [x])[0][0]
    dump = workdir / "layers"
    outs, _ = run(model, board, [x], kernels=kernels, workdir=workdir, dump_layers=dump, timeout=timeout,
                  command=f"tinyscene compare --model {Path(model).name} --board {board.name}")

    index_json = json.loads((dump / "layers.json").read_text())
    tids = [e["tensor"] for e in index_json["layers"]]
    ref, ref_outs = tflm_tensors(model, x, tids, len(g.outputs))
    cmp = Comparison(model=str(model), board=board.name)
    for e in index_json["layers"]:
        dev = np.load(dump / e["file"])[0]
        r = ref[e["tensor"]].reshape(dev.shape)
        diff = dev != r
        d = LayerDiff(layer=e["layer"], op=e["op"], op_index=e["op_index"], tensor=e["tensor"], name=e["name"],
                      kernel=e["kernel"], differing=int(diff.sum()), total=int(dev.size))
        if d.differing:
            first = tuple(int(i) for i in np.argwhere(diff)[0])
            d.first_index = first
            d.device_value, d.tflm_value = float(dev[first]), float(r[first])
            d.max_abs_diff = float(np.abs(dev.astype(np.float64) - r.astype(np.float64)).max())
        cmp.layers.append(d)
    dev_outs = outs[0] if isinstance(outs[0], list) else [outs[0]]
    cmp.outputs_identical = len(dev_outs) == len(ref_outs) and all(
        np.array_equal(a.reshape(b.shape), b) for a, b in zip(dev_outs, ref_outs))
    return cmp
