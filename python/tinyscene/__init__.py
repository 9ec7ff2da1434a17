"""tinyscene: acoustic-scene classification from PyTorch training to a Cortex-M microcontroller, with proof
that the device computes what Python computed.

Packages, on floors; every import points down this list (tests/py/test_structure.py checks it):

    errors, paths, config, util   the one user-facing exception, where things are, typed configs, helpers
    target    boards as data, firmware builds, QEMU, flashing, transports, the protocol, the board budget
    data      the TAU 2020 3Class layout, synthetic scenes, the real example recording, audio I/O
    models    the paper ResNet and the DCASE baseline (torch)
    tflite    the one .tflite reader (graph IR), the reference interpreters, the TFLM arena probe
    frontend  the fixed-point log-mel front-end (C, on host and device) and its float reference
    aot       the int8 compiler: .tflite -> model.c, its kernels' choice, its memory plan, its runner
    tflm      TensorFlow Lite Micro + CMSIS-NN from pinned sources: the second runtime, the yardstick
    train     training on the front-end's int8 features, run folders, metrics
    runtimes  one model on a board with any runtime (`tinyscene run`), runtimes side by side (`bench`)
    export    torch -> ONNX -> int8 TFLite, the verification ladder, the deployable bundle
    slim      network slimming (uses export's converter for the real .tflite size)
    deploy    the classifier firmware of a bundle, the device session, parity (composes all of the above)
    cli, demo the command line, and the whole pipeline on synthetic data through it
"""
__version__ = "0.1.0"
