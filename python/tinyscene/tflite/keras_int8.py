"""A Keras model -> a full-integer int8 .tflite through TensorFlow's TFLiteConverter (int8 input and output,
TFLITE_BUILTINS_INT8, calibrated on a representative dataset): what the export, the kernel bench's networks
and the tests' models all do. TensorFlow is imported by the caller (seconds; most commands never need it)."""
from __future__ import annotations

from typing import Callable, Iterable

import numpy as np


def keras_to_int8(tf, model, representative: Callable[[], Iterable[list[np.ndarray]]], *,
                  per_tensor_dense: bool = False, float_io: bool = False) -> bytes:
    """`representative()` yields [float32 batch of 1] samples of the model's input. `per_tensor_dense`:
    fully connected weights quantised per tensor (LiteRT's per-channel FULLY_CONNECTED requantises with
    single rounding, tflite_micro's with double rounding; per tensor both use the same arithmetic).
    `float_io`: float32 input and output (QUANTIZE / DEQUANTIZE ops at the ends) instead of int8."""
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = representative
    conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if not float_io:
        conv.inference_input_type = tf.int8
        conv.inference_output_type = tf.int8
    if per_tensor_dense:
        conv._experimental_disable_per_channel_quantization_for_dense_layers = True
    return bytes(conv.convert())
