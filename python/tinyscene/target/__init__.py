"""The target layer: boards and the firmware that runs on them. It knows no model, no bundle, no export.

    boards.py     boards/<name>/board.yaml -> Board (CPU, memories, clock, console, counter, QEMU, flasher)
    budget.py     the one board budget: static buffers placed in RAM / external RAM, flash checked
    apps.py       firmware apps and the C source groups (rt, fe, nn + kernel overlays) they are made of
    build.py      app + board (+ generated sources) -> ELF or host executable, objects cached
    image.py      what a linked image takes: flash, RAM, external RAM, symbols
    qemu.py       run firmware under QEMU (semihosting, -icount) or natively; faults and hangs are errors
    flash.py      program a real board with pyOCD or OpenOCD
    protocol.py   the host <-> device framed protocol (frames, CRC, acknowledgements, clip records)
    transport.py  byte transports: semihosting files, the emulated UART over TCP, pipes
    serial.py     a real board's serial port
    cheader.py    constants of the firmware's public headers, read so that Python and C cannot drift
    status.py     the firmware's status codes
    modelrun.py   what every model runtime reports about a run
    commands.py   `tinyscene boards|build|emulate`
"""
