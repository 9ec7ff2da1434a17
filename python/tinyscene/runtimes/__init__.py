"""Any runtime, one interface: a model on a board with tinyscene's compiler (`aot`) or TensorFlow Lite Micro
(`tflm`, `tflm-ref`).

    dispatch.py  RUNTIMES (name -> run function) and run_model
    bench.py     runtimes side by side: instructions, per MAC, arena, flash, exactness
    commands.py  `tinyscene run`, `tinyscene bench`
"""
