"""The training features: chunked statistics equal the front-end's InputQuant.fit; the batch
dequantisation table equals InputQuant.dequantize."""
from __future__ import annotations

import numpy as np
import torch

from tinyscene.config import FRONTEND_PRESETS


def test_chunked_quant_stats_equal_inputquant_fit():
    from tinyscene.frontend import InputQuant
    from tinyscene.train.features import QuantStats

    cfg = FRONTEND_PRESETS["tiny"]
    rng = np.random.default_rng(0)
    L = (rng.normal(-5, 2, (7, cfg.channels, cfg.n_mels, 20)) * 2**24).astype(np.int32)
    L[:, :, 3, :] = -7 * 2**24  # a constant bin: std clamps to the minimum
    st = QuantStats(cfg)
    for part in (L[:3], L[3:5], L[5:]):
        st.add(part)
    assert st.quant().to_dict() == InputQuant.fit(cfg, L).to_dict()


def test_dequantizer_equals_frontend():
    from tinyscene.frontend import InputQuant
    from tinyscene.train.features import Dequantizer

    cfg = FRONTEND_PRESETS["tiny"]
    quant = InputQuant(mean=np.linspace(-8, -2, cfg.n_mels), std=np.linspace(0.5, 2, cfg.n_mels))
    q = np.random.default_rng(1).integers(-128, 128, (cfg.n_mels, 9, 2)).astype(np.int8)
    deq = Dequantizer(quant, q)
    assert np.array_equal(deq(torch.from_numpy(q)).numpy(), quant.dequantize(q))
