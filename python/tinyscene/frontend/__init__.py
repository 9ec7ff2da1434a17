"""Fixed-point log-mel front-end: one C implementation (firmware/src/fe) for training and device.

    fe = FixedFrontend(cfg)          # the C code as a host library
    L = fe.logmel(pcm)               # int16 [channels, samples] -> int32 Q7.24 [channels, n_mels, frames]
    ref = float_logmel(cfg, pcm)     # librosa float reference, float32, same units as fe.to_float(L)
    quant = InputQuant.fit(cfg, [L, ...]);  q = fe.quantize(L, quant)   # int8 [n_mels, frames, channels]
    feats = featurize_clips(cfg, wavs, cache=dir)   # int32 [clips, channels, n_mels, frames]

    spec.py      tables (window, FFT twiddles, sparse mel weights) and the float librosa reference
    native.py    the C front-end built as a host shared library, called through ctypes
    quant.py     per-bin normalisation folded into the int8 input quantisation (InputQuant)
    batch.py     a whole data set through the front-end, cached, on both cores
    codegen.py   fe_tables.c/.h for firmware builds (the one writer of them)
    device.py    the `features` firmware on a board (QEMU) for device == host checks
    bench.py     `tinyscene bench-fe`
    commands.py  `tinyscene features|featurize|bench-fe`
"""
from tinyscene.frontend.batch import featurize_clips
from tinyscene.frontend.native import FixedFrontend
from tinyscene.frontend.quant import InputQuant
from tinyscene.frontend.spec import LOG_FLOOR, LOG_FRAC_BITS, float_logmel, make_tables

__all__ = ["FixedFrontend", "InputQuant", "float_logmel", "featurize_clips", "make_tables", "LOG_FRAC_BITS",
           "LOG_FLOOR"]
