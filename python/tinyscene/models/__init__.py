"""Model registry: a name -> an architecture and its default configuration.

    paper          the seed's ResNet at ~84k parameters, widths growing as the maps shrink
                   (stem 12; blocks 12, 32, 40, 48, 96): 83,459 parameters, 137 M MACs
    paper-uniform  the seed's ResNet at ~84k parameters, uniform widths (36 channels, 72 in
                   block 5): 85,899 parameters, 411 M MACs — the network ANCHORS.md measured
    paper-wide     the seed's ResNet at its literal widths (128 channels, 256 in block 5)
    baseline    the DCASE 2020 Task 1b baseline (two conv layers + one fully connected layer)

`build_model(name, cfg, input_shape)` builds one (cfg: None = the preset's defaults, or a dict of
the architecture's config fields — a slimmed model is the same architecture with other widths).
Importing this package does not import torch; building does.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from tinyscene.errors import TsError


@dataclass(frozen=True)
class ModelSpec:
    name: str
    arch: str                   # "resnet" | "baseline"
    help: str
    defaults: dict = field(default_factory=dict)  # overrides of the architecture's config defaults


def _build_resnet(cfg: dict, input_shape):
    from tinyscene.models.resnet import build_resnet, init_weights

    m = build_resnet(cfg, input_shape)
    init_weights(m)
    return m


def _build_baseline(cfg: dict, input_shape):
    from tinyscene.models.baseline import build_baseline
    from tinyscene.models.resnet import init_weights

    m = build_baseline(cfg, input_shape)
    init_weights(m)
    return m


def _resnet_defaults() -> dict:
    from tinyscene.models.resnet import ResNetConfig

    return ResNetConfig().to_dict()


def _baseline_defaults() -> dict:
    from tinyscene.models.baseline import BaselineConfig

    return BaselineConfig().to_dict()


# arch -> (builder(cfg dict, input_shape) -> nn.Module, default config dict)
ARCHS: dict[str, tuple[Callable[[dict, Any], Any], Callable[[], dict]]] = {
    "resnet": (_build_resnet, _resnet_defaults),
    "baseline": (_build_baseline, _baseline_defaults),
}

MODELS: dict[str, ModelSpec] = {
    "paper": ModelSpec("paper", "resnet", "the seed's ResNet, ~84k parameters, widths growing with depth "
                       "(stem 12; blocks 12/32/40/48/96): 83,459 parameters, 137 M MACs"),
    "paper-uniform": ModelSpec("paper-uniform", "resnet",
                               "the seed's ResNet, ~84k parameters at uniform widths (36 channels, 72 in "
                               "block 5): 85,899 parameters, 411 M MACs; the network ANCHORS.md measured",
                               {"stem": 36, "widths": [36, 36, 36, 36, 72]}),
    "paper-wide": ModelSpec("paper-wide", "resnet", "the seed's ResNet at its literal 128/256 channels",
                            {"stem": 128, "widths": [128, 128, 128, 128, 256]}),
    "baseline": ModelSpec("baseline", "baseline", "DCASE 2020 Task 1b baseline (2 conv + 1 FC, ~117k parameters)"),
}


def model_spec(name: str) -> ModelSpec:
    """A preset by name; an architecture name (`resnet`, `baseline`) is accepted too (its defaults)."""
    if name in MODELS:
        return MODELS[name]
    if name in ARCHS:
        return ModelSpec(name, name, f"the {name} architecture")
    raise TsError(f"model '{name}': unknown (known: {', '.join(MODELS)})")


def model_config(name: str, cfg: dict | None = None) -> dict:
    """The full config dict of model `name`: architecture defaults < preset < `cfg`."""
    spec = model_spec(name)
    d = ARCHS[spec.arch][1]()
    d.update(spec.defaults)
    if cfg:
        unknown = sorted(set(cfg) - set(d))
        if unknown:
            raise TsError(f"model '{name}': unknown config field(s) {', '.join(unknown)}")
        d.update(cfg)
    return d


def build_model(name: str, cfg: dict | None = None, input_shape=(2, 256, 288)):
    """A freshly initialised model (torch.nn.Module) for input [channels, n_mels, frames].

    The module has `.arch`, `.cfg`, `.input_shape`, `.bn_layers()` and `.describe()` (the channel
    structure: which BN scales which convolution's channels, which channels residual adds join)."""
    spec = model_spec(name)
    shape = tuple(int(v) for v in input_shape)
    if len(shape) != 3:
        raise TsError(f"model '{name}': input shape {list(input_shape)} must be [channels, n_mels, frames]")
    return ARCHS[spec.arch][0](model_config(name, cfg), shape)


# --- size and cost ---------------------------------------------------------------------------------

# tinyscene's AOT runtime (tinyscene.aot): per output channel an int32 bias (BN folded in) and an
# int32 requantisation multiplier + int32 shift; per layer a 64-byte parameter block.
_AOT_BYTES_PER_CHANNEL = 4 + 8
_AOT_BYTES_PER_LAYER = 64
# An int8 .tflite file as tinyscene's export writes it (compacted, tinyscene.export.compact): per
# output channel an int32 bias and the weights' float32 scale (the bias carries no quantisation); one
# int64 zero-point vector per distinct channel count (compaction writes each distinct vector once);
# per op its flatbuffer records (operator, output tensor with its scale and zero point, weight and bias
# tensors, short names); fitted on the exported paper, paper slimmed to 47 % and the demo's m4-small
# slimmed model (97,504 / 51,248 / 38,896 B: all three within 50 B).
_TFLITE_BYTES_PER_CHANNEL = 4 + 4
_TFLITE_ZERO_POINT_BYTES = 8
_TFLITE_BYTES_PER_OP = 270
_TFLITE_FIXED_BYTES = 120


def _op_counts(model) -> dict:
    """Ops of the int8 graph: convolutions, fully connected, max pools, residual adds, mean, reshape."""
    from torch import nn

    mods = list(model.modules())
    blocks = getattr(model, "blocks", None)
    return {"conv": sum(isinstance(m, nn.Conv2d) for m in mods),
            "fully_connected": sum(isinstance(m, nn.Linear) for m in mods),
            "max_pool": sum(isinstance(m, nn.MaxPool2d) for m in mods),
            "add": len(blocks) if blocks is not None else 0,
            "mean": 1 if blocks is not None else 0,
            "reshape": 1}


def model_info(model) -> dict:
    """Parameters, multiply-accumulates of one inference, and the int8 model's size.

    params: trainable parameters (BN γ and β included). macs: conv and linear layers (BN folded,
    pooling/add/ReLU not counted). int8_kb (KiB): the int8 model as tinyscene deploys it — the flash
    its constants take in the AOT-compiled firmware: int8 weights of every conv/linear + per output
    channel an int32 bias (BN folds into it) and an int32 requantisation multiplier and shift + a
    parameter block per layer (equal to tinyscene.aot's count for the exported paper model).
    tflite_kb: the same model as the int8 .tflite file tinyscene's export writes (adds the weights'
    float scales per channel, the shared int64 zero-point vectors and the flatbuffer records; within
    ~0.1 % of the exported paper and slimmed models' files)."""
    import torch
    from torch import nn

    params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    per_layer: list[dict] = []
    hooks = []

    def hook(name):
        def fn(mod, inp, out):
            if isinstance(mod, nn.Conv2d):
                kh, kw = mod.kernel_size
                macs = out.shape[2] * out.shape[3] * mod.out_channels * (mod.in_channels // mod.groups) * kh * kw
                out_ch = mod.out_channels
            else:
                macs = mod.in_features * mod.out_features
                out_ch = mod.out_features
            per_layer.append({"name": name, "macs": int(macs), "weights": int(mod.weight.numel()),
                              "out_channels": int(out_ch),
                              "out_shape": [int(v) for v in out.shape[1:]]})
        return fn

    for name, mod in model.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            hooks.append(mod.register_forward_hook(hook(name)))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            p0 = next(model.parameters())
            model(torch.zeros((1, *model.input_shape), dtype=p0.dtype, device=p0.device))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    ops = _op_counts(model)
    n_ops = sum(ops.values())
    weights = sum(ly["weights"] for ly in per_layer)
    channels = sum(ly["out_channels"] for ly in per_layer)
    aot = {"weights_int8": weights, "biases_int32": 4 * channels, "requant_int32": 8 * channels,
           "layer_params": _AOT_BYTES_PER_LAYER * n_ops}
    aot["total"] = sum(aot.values())
    zero_points = _TFLITE_ZERO_POINT_BYTES * sum({ly["out_channels"] for ly in per_layer})
    tflite = (weights + _TFLITE_BYTES_PER_CHANNEL * channels + zero_points + _TFLITE_BYTES_PER_OP * n_ops
              + _TFLITE_FIXED_BYTES)
    return {
        "params": int(params),
        "macs": int(sum(ly["macs"] for ly in per_layer)),
        "int8_kb": round(aot["total"] / 1024, 2),
        "int8_bytes": aot,
        "tflite_kb": round(tflite / 1024, 2),
        "float32_kb": round(4 * params / 1024, 2),
        "ops": ops,
        "input_shape": list(model.input_shape),
        "layers": per_layer,
    }


__all__ = ["MODELS", "ARCHS", "ModelSpec", "model_spec", "model_config", "build_model", "model_info"]
