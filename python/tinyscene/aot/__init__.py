"""tinyscene's ahead-of-time int8 model compiler: .tflite -> graph IR -> passes -> kernel choice ->
static memory plan -> C (model.c/.h) that calls the int8 kernels of firmware/src/nn in order.

    quant.py        TFLite's quantisation arithmetic (QuantizeMultiplier & co.), bit for bit
    passes.py       constant folding, views, fused padding / dilations / activations, dead code
    kernels.py      lowering of each op and the kernel-variant table (reference family)
    fastkernels.py  the armv7em / mve variants: weight packing, requantisation records
    planner.py      the static arena from tensor lifetimes
    cwriter.py      the text of model.c / model.h
    compiler.py     the pipeline (compile_graph, compile_model) and `emit`, the one writer of its files
    runner.py       the `aot` runtime: compile, build the model app for a board, run, read back
    compare.py      first layer where a board differs from tflite_micro (`tinyscene compare`)
    benchnets.py    the networks the kernel bench runs
    kbench.py       `tinyscene bench-kernels`: reference vs optimized kernels per network and layer
    commands.py     `tinyscene compile`, `tinyscene compare`

Streamed execution along time (`tinyscene compile --stream time`, runtime "aot-stream"):

    stream.py         which ops stream (window, row, reduction, after it) or why not; time moved first
    streamsched.py    rows per call, rings, the sweeps per input row simulated (ring capacities)
    streamlower.py    a parameter block per call shape, the reductions' kernels, the arena
    streamwriter.py   model_stream.c / model_stream.h
    streamcompile.py  the pipeline: compile_stream_model(), emit_stream() (their only writer)
    streamrunner.py   runtime "aot-stream" (the model_stream app fed row by row)
"""
