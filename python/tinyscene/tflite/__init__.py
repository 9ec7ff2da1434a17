"""Everything that reads an int8 .tflite or runs it in a reference interpreter.

    schema.py        TFLite's flatc-generated schema (the one module every reader and writer uses)
    graph.py         the graph IR: tensors, ops, quantisation, constants
    macs.py          multiply-accumulates of an op
    reader.py        a .tflite -> Graph (the one reader: compiler, TFLM runtime, export, inspect)
    summary.py       what `inspect` and the export report say about a model
    interpreters.py  torch, onnxruntime, LiteRT and tflite_micro (the bit-exactness oracle) on a batch
    arena.py         the one TFLM arena probe
"""
