"""Silence the chatter of TensorFlow, onnx2tf and the TFLM interpreter (C++ code that writes to the
process's file descriptors 1 and 2, below Python's sys.stdout), keeping it for error messages."""
from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from typing import Iterator

# Set before TensorFlow is first imported: no oneDNN/CUDA banners, errors only.
_TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_ENABLE_ONEDNN_OPTS": "0", "CUDA_VISIBLE_DEVICES": "-1"}


def tf_env() -> None:
    for k, v in _TF_ENV.items():
        os.environ.setdefault(k, v)


class Captured:
    """What a `quiet()` block wrote; `tail()` gives its last lines for an error message."""

    def __init__(self) -> None:
        self.text = ""

    def tail(self, n: int = 3) -> str:
        lines = [ln.strip() for ln in self.text.splitlines() if ln.strip()]
        return " | ".join(lines[-n:])


@contextlib.contextmanager
def quiet() -> Iterator[Captured]:
    """Redirect fds 1 and 2 (and Python warnings) into a temporary file for the block."""
    tf_env()
    cap = Captured()
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile(mode="w+b") as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.dup2(tmp.fileno(), 1)
        os.dup2(tmp.fileno(), 2)
        try:
            yield cap
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            except Exception:
                pass
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            tmp.seek(0)
            cap.text = tmp.read().decode(errors="replace")


def import_tf():
    """tensorflow, imported quietly (the first import prints banners from C++)."""
    tf_env()
    with quiet():
        import tensorflow as tf
        tf.get_logger().setLevel("ERROR")
    return tf
