"""TFLite's flatbuffer schema: the module flatc generates from tensorflow/lite/schema/schema.fbs, as the
tflite_micro package ships it (the same file as ai_edge_litert's; importing it does not load TensorFlow).
The one place that names it: every reader and writer of .tflite files in tinyscene goes through here,
never through a hand-written flatbuffer parser."""
from __future__ import annotations

import functools

from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

FILE_IDENTIFIER = b"TFL3"


def _enum_names(cls) -> dict[int, str]:
    return {v: k for k, v in vars(cls).items() if not k.startswith("_") and isinstance(v, int)}


@functools.cache
def builtin_names() -> dict[int, str]:
    """BuiltinOperator code -> name (CONV_2D, ...)."""
    return _enum_names(schema.BuiltinOperator)


@functools.cache
def type_names() -> dict[int, str]:
    """TensorType code -> lower-case name (int8, float32, ...)."""
    return {k: v.lower() for k, v in _enum_names(schema.TensorType).items()}


def has_identifier(blob: bytes) -> bool:
    return len(blob) >= 8 and blob[4:8] == FILE_IDENTIFIER


def unpack(blob: bytes):
    """The object-API tree (schema.ModelT) of a .tflite; raises whatever the flatbuffers runtime raises on a
    corrupt buffer (callers turn it into a TsError naming the file)."""
    return schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(blob, 0))
