"""TensorFlow Lite Micro + CMSIS-NN as a second device runtime (`--runtime tflm|tflm-ref`) and the
yardstick of `tinyscene bench`.

    fetch.py             pinned sources (third_party.lock): mirror or archive URL, tree digest, cache
    build.py             TFLM core / kernels / CMSIS-NN compiled per CPU kind, cached by flags + sources
    model.py             the op resolver methods a model needs (from the pinned header), the arena margin
    firmware_sources.py  the one writer of a TFLM firmware's generated sources (ops list, model, arena)
    runner.py            the `tflm` runtime: build the tflm app for a model and a board, run it
    sources.py           a bundle's tflm/ files (model_data.cc/.h, ops.h) for users who build TFLM
    commands.py          `tinyscene third-party fetch|verify|build|digest`
"""
