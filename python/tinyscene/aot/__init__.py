"""tinyscene's ahead-of-time int8 model compiler: .tflite -> graph IR -> passes -> kernel choice ->
static memory plan -> C (model.c/.h) that calls the int8 kernels of firmware/src/nn in order.

    reader.py    .tflite (TFLite's flatc-generated schema module) -> ir.Graph
    passes.py    constant folding, views (RESHAPE/SQUEEZE), activation fusion, dead-code removal
    quant.py     TFLite's quantisation arithmetic (QuantizeMultiplier & co.), bit for bit
    kernels.py   per-layer kernel choice (C function, weight layout, scratch, packed constants)
    planner.py   static arena from tensor lifetimes (greedy by size, in-place reuse)
    cwriter.py   model.c / model.h (the only writer of whole-tensor C)
    compiler.py  the pipeline: compile_model()
    runner.py    runtime "aot" of tinyscene.target.modelrun (build, run on a board, read results)
    commands.py  `tinyscene compile`, `tinyscene compare`

Streamed execution along time (`tinyscene compile --stream time`, runtime "aot-stream"):

    stream.py         which ops stream (window, row, reduction, after it) or why not; time moved first
    streamsched.py    rows per call, rings, the sweeps per input row simulated (ring capacities)
    streamlower.py    a parameter block per call shape, the reductions' kernels, the arena
    streamwriter.py   model_stream.c / model_stream.h
    streamcompile.py  the pipeline: compile_stream_model(), emit_stream() (their only writer)
    streamrunner.py   runtime "aot-stream" (the model_stream app fed row by row)
"""
