"""Export: PyTorch → ONNX → int8 TFLite, the verification ladder, and the deployable bundle.

    to_onnx.py    torch → ONNX (static shapes, batch 1, opset 17, one self-contained file),
                  onnxsim-simplified, onnx.checker-checked; weights checked for NaN/inf first
    to_tflite.py  ONNX → Keras (onnx2tf, NCHW → NHWC) → TFLiteConverter full-integer int8,
                  calibrated on the fixed-point front-end's int8 output, checked afterwards
                  (int8 in/out, no TRANSPOSE, finite scales, input quantisation == front-end's)
    ladder.py     the verification ladder written into report.json
    bundle.py     export/<name>/: model.onnx, model_int8.tflite, frontend.json, vectors/,
                  report.json, manifest.json, tflm/ — built atomically
    compact.py    the converter's file compacted (same graph, fewer bytes), checked with LiteRT
    biascorr.py   the logits layer's int32 bias corrected for the mean int8-vs-float offset
    commands.py   `tinyscene export`, `tinyscene inspect`

Importing this package imports neither torch nor tensorflow.
"""
