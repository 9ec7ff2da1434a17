"""TensorFlow Lite Micro + CMSIS-NN as a second device runtime (`--runtime tflm|tflm-ref`).

fetch.py   pinned sources (third_party.lock): mirror or archive URL, tree digest, cache
build.py   TFLM core / kernels / CMSIS-NN compiled per CPU kind, cached by flags + sources
model.py   the .tflite's ops, MACs, arena estimate (tflite_micro interpreter)
runner.py  the modelrun interface: build the tflm app for a model and a board, run it
bench.py   `tinyscene bench`: runtimes side by side
"""
