"""The seed's ResNet and the DCASE baseline: parameter counts and MACs by hand, shapes for every
front-end preset, channel structure for slimming, ONNX export checked with onnxruntime."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from tinyscene.config import FRONTEND_PRESETS
from tinyscene.errors import TsError
from tinyscene.models import build_model, model_info

SMALL = {"stem": 4, "widths": [4, 4, 4, 4, 8]}


def test_small_resnet_params_by_hand():
    m = build_model("paper", SMALL, (2, 16, 20))
    stem = 2 * 4 * 5 * 5 + 2 * 4                      # conv 5x5 2->4 (no bias) + BN γ, β
    b31 = 4 * 4 * 9 + 2 * 4 + 4 * 4 * 1 + 2 * 4       # 3x3 then 1x1, each + BN
    b33 = 4 * 4 * 9 + 2 * 4 + 4 * 4 * 9 + 2 * 4       # 3x3 then 3x3
    b5 = 4 * 8 + 2 * 8 + 8 * 8 + 2 * 8 + 4 * 8        # 1x1 4->8, 1x1 8->8, shortcut 1x1 4->8 (no BN)
    fc = 8 * 3 + 3
    assert stem + b31 + b33 + b33 + b31 + b5 + fc == 1355
    assert model_info(m)["params"] == 1355
    assert sum(p.numel() for p in m.parameters()) == 1355


def test_small_resnet_macs_by_hand():
    m = build_model("paper", SMALL, (2, 16, 20))
    # stem: 5x5 stride 2 pad 2 -> 8 x 10; blocks on 8x10, 4x5, 2x2, 1x1 (no pool left), 1x1
    macs = (8 * 10 * 4 * 2 * 25
            + 8 * 10 * (4 * 4 * 9 + 4 * 4)
            + 4 * 5 * (4 * 4 * 9 * 2)
            + 2 * 2 * (4 * 4 * 9 * 2)
            + 1 * 1 * (4 * 4 * 9 + 4 * 4)
            + 1 * 1 * (4 * 8 + 8 * 8 + 4 * 8)
            + 8 * 3)
    assert macs == 36024
    info = model_info(m)
    assert info["macs"] == macs
    # deployed int8 size: int8 weights, per output channel int32 bias + multiplier + shift, 64 B per op
    weights = 200 + (144 + 16) + 288 + 288 + (144 + 16) + (32 + 64 + 32) + 24
    channels = 4 + 8 + 8 + 8 + 8 + (8 + 8 + 8) + 3
    ops = 12 + 1 + 3 + 5 + 1 + 1  # conv, fully connected, max pools, adds, mean, reshape
    assert info["int8_bytes"]["total"] == weights + 12 * channels + 64 * ops == 3476
    assert m.describe()["map_sizes"] == [[8, 10], [4, 5], [2, 2], [1, 1], [1, 1]]
    assert m.describe()["pools"] == [[2, 2], [2, 2], [2, 2], None, None]


def _resnet_params_by_hand(stem, widths, kernels=((3, 1), (3, 3), (3, 3), (3, 1), (1, 1)), c_in=2, classes=3):
    """Conv weights (no bias) + BN γ, β per conv; a 1x1 projection (no BN) where a block changes width."""
    n = c_in * stem * 25 + 2 * stem
    prev = stem
    for (k1, k2), w in zip(kernels, widths):
        n += prev * w * k1 * k1 + 2 * w + w * w * k2 * k2 + 2 * w
        n += prev * w if prev != w else 0
        prev = w
    return n + prev * classes + classes


def test_paper_preset_matches_seed_size():
    m = build_model("paper", None, (2, 256, 288))
    info = model_info(m)
    assert m.stem.conv.out_channels == 12
    assert [b.conv2.out_channels for b in m.blocks] == [12, 32, 40, 48, 96]
    assert info["params"] == _resnet_params_by_hand(12, (12, 32, 40, 48, 96)) == 83459
    assert abs(info["params"] - 83974) / 83974 < 0.01
    assert info["int8_kb"] < 100
    # the first residual block's activations: 12 channels at 128 x 144, int8
    assert info["layers"][1]["out_shape"] == [12, 128, 144] and 12 * 128 * 144 == 221_184
    # independent count: torch's FLOP counter (2 FLOPs per MAC for convolutions and matmuls)
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as fc:
        m.eval()(torch.zeros(1, 2, 256, 288))
    assert info["macs"] == fc.get_total_flops() // 2
    assert 130e6 < info["macs"] < 140e6


def test_paper_uniform_preset_is_the_36_72_network():
    m = build_model("paper-uniform", None, (2, 256, 288))
    info = model_info(m)
    assert m.stem.conv.out_channels == 36
    assert [b.conv2.out_channels for b in m.blocks] == [36, 36, 36, 36, 72]
    # widths C=36, block 5 D=72: 64 C^2 + 86 C + 3 with a BN on the block-5 shortcut; it has none (-2D)
    assert info["params"] == 64 * 36 ** 2 + 86 * 36 + 3 - 2 * 72 == _resnet_params_by_hand(36, (36,) * 4 + (72,)) == 85899
    assert info["macs"] == 410_904_792


def test_paper_wide_is_literal_128_256():
    m = build_model("paper-wide", None, (2, 64, 80))
    assert [b.conv2.out_channels for b in m.blocks] == [128, 128, 128, 128, 256]
    assert m.stem.conv.out_channels == 128


def test_baseline_params_by_hand():
    m = build_model("baseline", None, (2, 40, 500))  # the original's 40 mels x 500 frames
    conv1 = 2 * 32 * 49 + 32 + 2 * 32
    conv2 = 32 * 64 * 49 + 64 + 2 * 64
    fc1 = 64 * 2 * 1 * 100 + 100                     # 2 x 1 x 64 map -> 100
    fc2 = 100 * 3 + 3
    assert model_info(m)["params"] == conv1 + conv2 + fc1 + fc2 == 116979
    # the seed's 115,219 is the mono original without its BN parameters
    assert conv1 + conv2 + fc1 + fc2 - 32 * 49 - 2 * 32 - 2 * 64 == 115219
    assert m.pool2_kernel == (4, 100)


@pytest.mark.parametrize("preset", sorted(FRONTEND_PRESETS))
@pytest.mark.parametrize("name", ["paper", "baseline"])
def test_every_preset_builds_and_runs(name, preset):
    f = FRONTEND_PRESETS[preset]
    shape = (f.channels, f.n_mels, f.n_frames)
    m = build_model(name, None, shape).eval()
    with torch.no_grad():
        y = m(torch.randn(2, *shape))
    assert y.shape == (2, 3)


def test_describe_groups_match_layers():
    m = build_model("paper", {"stem": 6, "widths": [6, 6, 6, 8, 10], "mids": [3, 4, 5, 6, 7]}, (2, 32, 40))
    d = m.describe()
    mods = dict(m.named_modules())
    bns = {n for n, _ in m.bn_layers()}
    seen_bns = set()
    for g in d["groups"]:
        for b in g["bns"]:
            assert mods[b].num_features == g["size"]
            seen_bns.add(b)
        for p in g["producers"]:
            assert mods[p].out_channels == g["size"]
        for c in g["consumers"]:
            mod = mods[c]
            assert (mod.in_channels if hasattr(mod, "in_channels") else mod.in_features) == g["size"]
    assert seen_bns == bns
    residual = [g for g in d["groups"] if g["residual"]]
    # stem + block 1..3 share one stream (identity shortcuts); blocks 4 and 5 change width
    assert [len(g["bns"]) for g in residual] == [4, 1, 1]


def test_bad_configs_are_tserrors():
    with pytest.raises(TsError, match="widths"):
        build_model("paper", {"widths": [4, 4]}, (2, 32, 40))
    with pytest.raises(TsError, match="unknown"):
        build_model("nonet", None, (2, 32, 40))
    with pytest.raises(TsError, match="unknown config"):
        build_model("paper", {"depth": 3}, (2, 32, 40))
    with pytest.raises(TsError, match="smaller"):
        build_model("baseline", None, (2, 4, 40))


@pytest.mark.parametrize("name", ["paper", "baseline"])
def test_onnx_export_ops_and_numbers(name):
    """Exports with BN folded into the convolutions and only int8-friendly ops; onnxruntime agrees."""
    import onnx
    import onnxruntime as ort

    shape = (2, 32, 40)
    m = build_model(name, {"stem": 8, "widths": [8, 8, 8, 8, 16]} if name == "paper" else None, shape)
    with torch.no_grad():  # non-trivial BN statistics
        for _, bn in m.bn_layers():
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
            bn.weight.uniform_(0.5, 1.5)
    m.eval()
    x = torch.randn(3, *shape)
    buf = io.BytesIO()
    torch.onnx.export(m, x[:1], buf, dynamo=False, opset_version=17, input_names=["x"],
                      dynamic_axes={"x": {0: "n"}})
    model = onnx.load_from_string(buf.getvalue())
    ops = {n.op_type for n in model.graph.node}
    assert ops <= {"Conv", "Relu", "Add", "MaxPool", "ReduceMean", "Gemm", "Flatten", "Identity"}, ops
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    y_ort = sess.run(None, {"x": x.numpy()})[0]
    with torch.no_grad():
        y = m(x).numpy()
    np.testing.assert_allclose(y_ort, y, rtol=1e-4, atol=1e-4)


def test_model_info_cli(run_cli, tmp_path):
    import json

    rc, so, se = run_cli("model-info", "--model", "paper", "--features", "paper")
    assert rc == 0, se
    j = json.loads(so)
    assert j["params"] == 83459 and j["macs"] == 136_618_272 and j["int8_kb"] < 100
    assert j["input_shape"] == [2, 256, 288] and "12" in j["description"]
    rc, so, se = run_cli("model-info", "--model", "paper-uniform", "--features", "paper")
    assert rc == 0, se
    j = json.loads(so)
    assert j["params"] == 85899 and j["macs"] == 410_904_792
    f = tmp_path / "fe.json"
    f.write_text(json.dumps({"sample_rate": 16000, "n_fft": 512, "hop_length": 256, "n_mels": 40, "channels": 1}))
    rc, so, se = run_cli("model-info", "--model", "baseline", "--features", f)
    assert rc == 0, se
    assert json.loads(so)["input_shape"] == [1, 40, 626]
    rc, so, se = run_cli("model-info", "--model", "nope", "--features", "paper")
    assert rc == 2 and "unknown" in se
