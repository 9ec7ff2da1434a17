"""The front-end's arithmetic version (spec.ARITH_VERSION = TS_FE_ARITH_VERSION) travels with everything
made from its integers: a bundle's frontend.json, a training run's config, the input quantisation, the
feature cache key. What was made with another version (or before the version was recorded: version 1)
is refused with a message that says to re-export; a cached feature of another version is never found."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from tinyscene.config import FRONTEND_PRESETS
from tinyscene.errors import TsError
from tinyscene.frontend import InputQuant, batch, spec


def _quant():
    return InputQuant(mean=np.full(32, -5.0), std=np.full(32, 2.0))


def test_input_quant_records_and_checks_the_version():
    d = _quant().to_dict()
    assert d["arith_version"] == spec.ARITH_VERSION
    assert np.array_equal(InputQuant.from_dict(d).add, _quant().add)
    for old in ({k: v for k, v in d.items() if k != "arith_version"}, {**d, "arith_version": 1}):
        with pytest.raises(TsError, match=r"front-end arithmetic version 1.*re-export"):
            InputQuant.from_dict(old, source="frontend.json")


def test_a_run_config_of_the_old_arithmetic_is_refused():
    from tinyscene.train import features as feat

    old = {k: v for k, v in _quant().to_dict().items() if k != "arith_version"}
    with pytest.raises(TsError, match="re-export"):
        feat.quant_from_dict(old)


def test_the_feature_cache_key_carries_the_version(monkeypatch):
    cfg = FRONTEND_PRESETS["tiny"]
    h = batch.frontend_hash(cfg)
    assert h.startswith(f"v{spec.ARITH_VERSION}-")
    monkeypatch.setattr(spec, "ARITH_VERSION", spec.ARITH_VERSION + 1)
    assert batch.frontend_hash(cfg) != h  # another arithmetic: another key, so never served


def test_a_bundle_of_the_old_arithmetic_is_refused(tmp_path):
    import device_bundle as DB

    from tinyscene.deploy.classifier import load_bundle
    from tinyscene.export.bundle import write_manifest

    src = DB.cached_bundle(DB.tiny_config())
    assert json.loads((src / "frontend.json").read_text())["frontend_arith"] == spec.ARITH_VERSION
    load_bundle(src)
    b = tmp_path / "old"
    shutil.copytree(src, b)
    fj = json.loads((b / "frontend.json").read_text())
    del fj["frontend_arith"]
    (b / "frontend.json").write_text(json.dumps(fj))
    write_manifest(b, {"created_by": "test_frontend_version", "frontend": fj["config"]})
    with pytest.raises(TsError, match=r"frontend.json: made with front-end arithmetic version 1; .*re-export"):
        load_bundle(b)
