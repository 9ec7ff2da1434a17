"""Fixed-point log-mel front-end: one C implementation (firmware/src/fe) for training and device.

    fe = FixedFrontend(cfg)          # the C code as a host library
    L = fe.logmel(pcm)               # int16 [channels, samples] -> int32 Q7.24 [channels, n_mels, frames]
    ref = float_logmel(cfg, pcm)     # librosa float reference, float32, same units as fe.to_float(L)
    quant = InputQuant.fit(cfg, [L, ...]);  q = fe.quantize(L, quant)   # int8 [n_mels, frames, channels]
    feats = featurize_clips(cfg, wavs, cache=dir)   # int32 [clips, channels, n_mels, frames]
"""
from tinyscene.frontend.batch import featurize_clips
from tinyscene.frontend.native import FixedFrontend
from tinyscene.frontend.quant import InputQuant
from tinyscene.frontend.spec import LOG_FLOOR, LOG_FRAC_BITS, float_logmel, make_tables

__all__ = ["FixedFrontend", "InputQuant", "float_logmel", "featurize_clips", "make_tables", "LOG_FRAC_BITS",
           "LOG_FLOOR"]
