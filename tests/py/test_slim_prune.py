"""Network slimming on tiny models (no data): physical removal equals zeroing the removed channels'
BN γ and β, the saved state dict really shrinks, residual graphs stay valid, the global threshold,
the per-layer minimum, all-zero channels, bad input."""
from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from tinyscene.errors import TsError
from tinyscene.models import build_model

SHAPE = (2, 12, 20)   # [channels, n_mels, frames]: tiny maps, fast

CASES = {
    "paper": ("paper", None),
    "paper-uniform": ("paper-uniform", None),
    "paper-wide": ("paper-wide", None),
    "custom": ("paper", {"stem": 6, "widths": [6, 8, 8, 5, 6], "mids": [3, 4, 5, 6, 7]}),
    "baseline": ("baseline", None),
}


def _randomized(name, cfg, seed=0, shape=SHAPE):
    """A model with non-trivial BN parameters and statistics (γ of both signs, β != 0)."""
    torch.manual_seed(seed)
    m = build_model(name, cfg, shape)
    with torch.no_grad():
        for _, bn in m.bn_layers():
            bn.weight.uniform_(-1.0, 1.0)
            bn.bias.normal_(0.0, 0.5)
            bn.running_mean.normal_(0.0, 0.3)
            bn.running_var.uniform_(0.5, 2.0)
    return m.eval()


def _masked_reference(model, keep):
    """The unslimmed model with every removed channel zeroed — written from the model's own declared
    structure (describe()), not from the pruner: γ = β = 0 in each BN of the channel's group, and the
    channel's row zeroed in a producer that has no BN (a projection shortcut)."""
    ref = copy.deepcopy(model).eval()
    d = model.describe()
    bn_of = {ly["name"]: ly.get("bn") for ly in d["layers"]}
    with torch.no_grad():
        for g in d["groups"]:
            if g["name"] not in keep:
                continue
            gone = sorted(set(range(g["size"])) - {int(c) for c in keep[g["name"]]})
            if not gone:
                continue
            for b in g["bns"]:
                bn = ref.get_submodule(b)
                bn.weight[gone] = 0.0
                bn.bias[gone] = 0.0
            for p in g["producers"]:
                if bn_of[p] is None:
                    ref.get_submodule(p).weight[gone] = 0.0
    return ref


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("ratio", [0.2, 0.5, 0.8])
def test_slimmed_equals_zeroed_gamma_beta(case, ratio):
    from tinyscene.slim.prune import plan_slim, prune_model

    name, cfg = CASES[case]
    m = _randomized(name, cfg, seed=int(ratio * 10))
    plan = plan_slim(m, ratio=ratio)
    small = prune_model(m, plan.keep)
    ref = _masked_reference(m, plan.keep)
    x = torch.randn(4, *SHAPE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y_small, y_ref, y_orig = small(x), ref(x), m(x)
    assert y_small.shape == y_orig.shape == (4, 3)
    scale = float(y_ref.abs().max())
    assert torch.allclose(y_small, y_ref, atol=1e-5 * max(1.0, scale), rtol=1e-5), float((y_small - y_ref).abs().max())
    # the removal changed the function (so the comparison above is not vacuous)
    assert float((y_orig - y_ref).abs().max()) > 1e-3
    n0 = sum(p.numel() for p in m.parameters())
    n1 = sum(p.numel() for p in small.parameters())
    assert n1 < n0
    assert type(small) is type(m)


def test_removed_channels_are_gone_from_the_saved_state_dict(tmp_path):
    from tinyscene.slim.prune import plan_slim, prune_model
    from tinyscene.train.run import load_model, save_model

    m = _randomized("paper-uniform", None, seed=3)   # one stream from the stem to block 4 (hand-indexed below)
    plan = plan_slim(m, ratio=0.5)
    small = prune_model(m, plan.keep)
    save_model(tmp_path / "model.pt", small, "paper-uniform")
    o = torch.load(tmp_path / "model.pt", map_location="cpu", weights_only=False)
    sd, sd0 = o["state_dict"], m.state_dict()
    s0, mid0, s5 = plan.keep["stream0"], plan.keep["blocks.0.mid"], plan.keep["stream5"]
    assert len(s0) < 36 and len(mid0) < 36 and len(s5) < 72
    # shapes: rows (outputs) and columns (inputs) of the kept channels only, hand-indexed here
    assert tuple(sd["stem.conv.weight"].shape) == (len(s0), 2, 5, 5)
    assert tuple(sd["stem.bn.weight"].shape) == (len(s0),)
    assert tuple(sd["blocks.0.conv1.weight"].shape) == (len(mid0), len(s0), 3, 3)
    assert tuple(sd["blocks.0.conv2.weight"].shape) == (len(s0), len(mid0), 1, 1)
    assert tuple(sd["blocks.4.shortcut.weight"].shape) == (len(s5), len(s0), 1, 1)
    assert tuple(sd["fc.weight"].shape) == (3, len(s5))
    # values: exactly the original's kept entries
    assert torch.equal(sd["stem.conv.weight"], sd0["stem.conv.weight"][s0])
    assert torch.equal(sd["blocks.0.conv1.weight"], sd0["blocks.0.conv1.weight"][mid0][:, s0])
    assert torch.equal(sd["blocks.0.bn1.running_var"], sd0["blocks.0.bn1.running_var"][mid0])
    assert torch.equal(sd["fc.weight"], sd0["fc.weight"][:, s5])
    assert torch.equal(sd["fc.bias"], sd0["fc.bias"])
    # the parameter count the acceptance check computes (running statistics excluded)
    def count(d):
        return sum(v.numel() for k, v in d.items() if "running" not in k and "num_batches" not in k)
    assert count(sd) == sum(p.numel() for p in small.parameters()) < 0.5 * count(sd0)
    # the checkpoint alone rebuilds the slimmed model (its config carries the per-layer widths)
    again = load_model(tmp_path / "model.pt")
    x = torch.randn(2, *SHAPE)
    with torch.no_grad():
        assert torch.equal(again(x), small(x))


@pytest.mark.parametrize("case", ["paper", "paper-uniform", "paper-wide", "custom"])
def test_residual_graph_stays_valid(case):
    """Every ratio gives a network whose residual adds line up and whose shortcuts are kept."""
    from tinyscene.slim.prune import plan_slim, prune_model

    name, cfg = CASES[case]
    m = _randomized(name, cfg, seed=7)
    for ratio in (0.05, 0.5, 0.95):
        plan = plan_slim(m, ratio=ratio)
        small = prune_model(m, plan.keep)
        with torch.no_grad():
            assert small(torch.randn(2, *SHAPE)).shape == (2, 3)
        for b0, b1 in zip(m.blocks, small.blocks):
            assert (b0.shortcut is None) == (b1.shortcut is None)
            assert b1.conv2.out_channels == (b1.shortcut.out_channels if b1.shortcut is not None
                                             else b1.conv1.in_channels)
        d = small.describe()
        assert {g["name"] for g in d["groups"]} == {g["name"] for g in m.describe()["groups"]}


def test_streams_of_equal_count_keep_their_projection():
    """stream0 and stream5 pruned to the same count: block 5 must keep its 1x1 projection (the two
    streams keep different channels), which the config records."""
    from tinyscene.slim.graph import analyse
    from tinyscene.slim.prune import prune_model

    m = _randomized("paper-uniform", None, seed=2)   # stem..block 4 one 36-channel stream, block 5 72
    g = analyse(m)
    keep = {gr.name: np.arange(gr.size) for gr in g.groups}
    keep["stream0"] = np.array([1, 4, 5, 9, 20, 30])
    keep["stream5"] = np.array([0, 7, 8, 40, 41, 71])
    small = prune_model(m, keep, g)
    assert small.cfg.stem == small.cfg.widths[4] == 6
    assert small.blocks[4].shortcut is not None and small.cfg.shortcuts[4] is True
    ref = _masked_reference(m, keep)
    x = torch.randn(3, *SHAPE)
    with torch.no_grad():
        assert torch.allclose(small(x), ref(x), atol=1e-5)
    rebuilt = build_model("paper-uniform", small.cfg.to_dict(), SHAPE)
    rebuilt.load_state_dict(small.state_dict())


def test_global_threshold_removes_the_smallest_gammas():
    """Hand-set γ: the channels given the smallest |γ| (anywhere in the net) are the ones removed."""
    from tinyscene.slim.prune import plan_slim

    m = build_model("paper", {"stem": 8, "widths": [8, 8, 8, 8, 16]}, SHAPE).eval()
    small_ones = {"blocks.1.bn1": [0, 3, 5], "blocks.4.bn1": [2, 9, 10, 11], "blocks.2.bn1": [7]}
    with torch.no_grad():
        for n, bn in m.bn_layers():
            bn.weight.fill_(1.0)
            bn.weight[torch.arange(bn.num_features) % 2 == 0] = -1.0   # |γ|, not γ, is ranked
            for c in small_ones.get(n, []):
                bn.weight[c] = 0.01 * (c + 1) * (-1) ** c
    n_gamma = sum(bn.num_features for _, bn in m.bn_layers())
    plan = plan_slim(m, ratio=8 / n_gamma)
    for n, chans in small_ones.items():
        group = n.replace(".bn1", ".mid")
        removed = sorted(set(range(m.get_submodule(n).num_features)) - set(plan.keep[group].tolist()))
        assert removed == sorted(chans), (n, removed)
    assert all(len(k) == m.describe()["groups"][[g["name"] for g in m.describe()["groups"]].index(name)]["size"]
               for name, k in plan.keep.items() if name not in {"blocks.1.mid", "blocks.4.mid", "blocks.2.mid"})
    assert plan.ratio == pytest.approx(8 / n_gamma)


def test_residual_group_is_scored_by_its_mean_gamma():
    """A stream channel with a tiny γ in one BN but large γ in the others is kept; one small in all
    of its BNs goes first."""
    from tinyscene.slim.prune import plan_slim

    m = build_model("paper", {"stem": 8, "widths": [8, 8, 8, 8, 16]}, SHAPE).eval()
    stream_bns = ["stem.bn"] + [f"blocks.{i}.bn2" for i in range(4)]
    with torch.no_grad():
        for _, bn in m.bn_layers():
            bn.weight.fill_(1.0)
        m.get_submodule("blocks.2.bn2").weight[3] = 1e-4     # small in one BN only
        for b in stream_bns:
            m.get_submodule(b).weight[6] = 0.05               # small in all five
    plan = plan_slim(m, ratio=5 / sum(bn.num_features for _, bn in m.bn_layers()))
    assert 6 not in plan.keep["stream0"] and 3 in plan.keep["stream0"]
    assert len(plan.keep["stream0"]) == 7


def test_minimum_channels_per_layer():
    from tinyscene.slim.prune import min_keep, plan_slim, prune_model

    m = _randomized("paper", None, seed=4)
    plan = plan_slim(m, ratio=0.999)
    for g in m.describe()["groups"]:
        assert len(plan.keep[g["name"]]) == min_keep(g["size"]) == math.ceil(0.1 * g["size"])
    assert any("minimum" in w for w in plan.warnings)
    plan1 = plan_slim(m, ratio=0.999, min_channels=1)
    assert all(len(k) == 1 for k in plan1.keep.values())
    small = prune_model(m, plan1.keep)
    with torch.no_grad():
        assert small(torch.randn(1, *SHAPE)).shape == (1, 3)
    plan_big = plan_slim(m, ratio=0.5, min_channels=10_000)   # min above the size: keep everything
    assert all(len(plan_big.keep[g["name"]]) == g["size"] for g in m.describe()["groups"])


def test_channels_with_all_zero_weights_are_removed():
    from tinyscene.slim.prune import plan_slim, prune_model

    m = _randomized("paper", None, seed=5)
    with torch.no_grad():
        for _, bn in m.bn_layers():
            bn.weight.copy_(bn.weight.abs() + 0.5)      # every γ large: the ratio would keep these
        m.blocks[1].conv1.weight[4] = 0.0               # a row of zeros (mid channel 4 of block 2)
        m.blocks[3].bn1.weight[2] = 0.0                 # γ = 0: folded weights of channel 2 are zero
    plan = plan_slim(m, ratio=0.01)
    assert 4 not in plan.keep["blocks.1.mid"] and 2 not in plan.keep["blocks.3.mid"]
    assert ("blocks.1.mid", 4) in {(g, c) for g, c, _ in plan.dropped_zero}   # γ = 0 goes first anyway
    small = prune_model(m, plan.keep)
    for name, mod in small.named_modules():
        if isinstance(mod, (nn.Conv2d, nn.Linear)):
            w = mod.weight.detach().reshape(mod.weight.shape[0], -1)
            assert bool((w.abs().amax(dim=1) > 0).all()), name
    with torch.no_grad():
        m.blocks[2].conv1.weight.zero_()                # a whole layer of zero rows: no valid network
    with pytest.raises(TsError, match="all-zero weights"):
        plan_slim(m, ratio=0.3)


def test_baseline_slims_its_two_conv_layers():
    from tinyscene.slim.prune import plan_slim, prune_model

    m = _randomized("baseline", None, seed=6, shape=(2, 40, 50))
    small = prune_model(m, plan_slim(m, ratio=0.6).keep)
    assert small.conv1.out_channels < 32 and small.conv2.out_channels < 64
    assert small.fc1.out_channels == 100 and small.fc2.out_features == 3   # no BN: never pruned
    assert small.conv1.in_channels == 2


@pytest.mark.parametrize("ratio", [0, 1, -0.1, 1.5, float("nan"), float("inf")])
def test_ratio_outside_0_1_is_refused(ratio):
    from tinyscene.slim.prune import plan_slim

    with pytest.raises(TsError, match="strictly between 0 and 1"):
        plan_slim(_randomized("paper", None), ratio=ratio)


class _NoBN(nn.Module):
    arch = "resnet"

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3)
        self.fc = nn.Linear(4, 3)
        self.input_shape = SHAPE

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).mean(dim=(2, 3)))


def test_model_without_batch_norm_is_refused():
    from tinyscene.slim.graph import analyse

    with pytest.raises(TsError, match="no batch-norm layers"):
        analyse(_NoBN())


def test_undeclared_layer_is_refused():
    from tinyscene.slim.graph import analyse

    m = build_model("paper", {"stem": 4, "widths": [4, 4, 4, 4, 8]}, SHAPE)
    m.extra = nn.Conv2d(4, 4, 1)    # a layer the structure does not list: slicing it would be guesswork
    with pytest.raises(TsError, match="not in the model's declared structure"):
        analyse(m)
