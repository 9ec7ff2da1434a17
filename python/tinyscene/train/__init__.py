"""Training: config.py, features.py (the front-end's int8 features of a split, cached), mixup.py, loop.py,
metrics.py, plots.py, bn_gamma.py (the BN scales slimming prunes by), run.py (run folders), api.py.

Library entry points (imported lazily, so `import tinyscene.train` does not import torch):

    train_run(data_dir, model_name, features, out, TrainConfig(...))   -> metrics dict
    evaluate_run(run_dir, data_dir, split)                              -> metrics dict
    load_run(run_dir)                     -> (model in eval mode, config dict)
    evaluate_model(model, features, labels[, dequant])                  -> metrics dict
    run_features(run_dir_or_config, data_dir, split)  -> (x float32 [n, C, H, W], y int64) torch tensors
    run_features_int8(run_dir_or_config, data_dir, split)  -> SplitFeatures (int8 device inputs)
    save_model(path, model, model_name, **extra) / load_model(path)
    build_model(name, cfg, input_shape)   (from tinyscene.models)
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "train_run": "tinyscene.train.api", "evaluate_run": "tinyscene.train.api",
    "load_run": "tinyscene.train.run", "save_model": "tinyscene.train.run", "load_model": "tinyscene.train.run",
    "read_run_config": "tinyscene.train.run",
    "evaluate_model": "tinyscene.train.loop", "fit": "tinyscene.train.loop",
    "run_features": "tinyscene.train.features", "run_features_int8": "tinyscene.train.features",
    "Dequantizer": "tinyscene.train.features",
    "compute_metrics": "tinyscene.train.metrics",
    "TrainConfig": "tinyscene.train.config",
    "build_model": "tinyscene.models", "model_info": "tinyscene.models",
}


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'tinyscene.train' has no attribute {name!r}")


__all__ = sorted(_EXPORTS)
