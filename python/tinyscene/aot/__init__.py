"""tinyscene's ahead-of-time int8 model compiler: .tflite -> graph IR -> passes -> kernel choice ->
static memory plan -> C (model.c/.h) that calls the int8 kernels of firmware/src/nn in order.

    reader.py    .tflite (TFLite's flatc-generated schema module) -> ir.Graph
    passes.py    constant folding, views (RESHAPE/SQUEEZE), activation fusion, dead-code removal
    quant.py     TFLite's quantisation arithmetic (QuantizeMultiplier & co.), bit for bit
    kernels.py   per-layer kernel choice (C function, weight layout, scratch, packed constants)
    planner.py   static arena from tensor lifetimes (greedy by size, in-place reuse)
    cwriter.py   model.c / model.h (the only writer of C in this package)
    compiler.py  the pipeline: compile_model()
    runner.py    runtime "aot" of tinyscene.target.modelrun (build, run on a board, read results)
    commands.py  `tinyscene compile`, `tinyscene run`, `tinyscene compare`
"""
