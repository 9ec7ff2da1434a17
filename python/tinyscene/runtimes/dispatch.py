"""One entry point for running an int8 .tflite on a board with any runtime (`tinyscene run`, `bench`,
the export ladder's generated-C rung, parity): `aot` (tinyscene's compiler and kernels,
tinyscene.aot.runner), `aot-stream` (the same, streamed along time: tinyscene.aot.streamrunner), `tflm` and
`tflm-ref` (TensorFlow Lite Micro with CMSIS-NN or reference kernels,
tinyscene.tflm.runner). Every runtime returns the outputs and a tinyscene.target.modelrun.ModelRunReport."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from tinyscene.aot import runner as aot_runner
from tinyscene.aot import streamrunner as aot_stream_runner
from tinyscene.errors import TsError
from tinyscene.target.boards import load_board
from tinyscene.target.modelrun import ModelRunReport
from tinyscene.tflm import runner as tflm_runner

RUNTIMES: dict[str, Callable[..., tuple[list[np.ndarray], ModelRunReport]]] = {
    "aot": aot_runner.run,
    "aot-stream": aot_stream_runner.run,
    "tflm": tflm_runner.run,
    "tflm-ref": tflm_runner.run,
}


def runtime_function(runtime: str) -> Callable[..., tuple[list[np.ndarray], ModelRunReport]]:
    if runtime not in RUNTIMES:
        raise TsError(f"--runtime {runtime}: expected one of {', '.join(RUNTIMES)}")
    return RUNTIMES[runtime]


def run_model(model: Path, board_name: str, inputs: list[np.ndarray], *, runtime: str = "aot",
              kernels: str = "auto", workdir: Path, dump_layers: Path | None = None,
              timeout: float = 300.0) -> tuple[list[np.ndarray], ModelRunReport]:
    run = runtime_function(runtime)
    board = load_board(board_name)
    return run(Path(model), board, inputs, runtime=runtime, kernels=kernels, workdir=Path(workdir),
               dump_layers=dump_layers, timeout=timeout)
