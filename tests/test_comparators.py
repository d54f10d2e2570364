"""The late-fusion comparator: the recipe's branches, rearranged so that the scales meet only at the head."""

from __future__ import annotations

import pytest
import torch
from conftest import REPO, fixture
from torch import nn

import ts_resnet
from ts_resnet.comparators import LateFusionResNet1d
from ts_resnet.layers import MultiScaleBottleneck1d


def _branch_convs(net: nn.Module) -> list[tuple[int, ...]]:
    """Weight shapes of every convolution longer than 1x1 inside a residual block's branches."""
    return sorted(tuple(m.weight.shape) for blk in net.blocks() for m in blk.branches.modules()
                  if isinstance(m, nn.Conv1d) and m.kernel_size[0] > 1)


def test_latefusion_ucr_holds_the_recipes_kernel_branches_one_scale_per_block():
    torch.manual_seed(0)
    recipe, late = ts_resnet.create_model("msresnet_ucr", in_ch=2, num_classes=3), \
        ts_resnet.create_model("latefusion_ucr", in_ch=2, num_classes=3)
    assert isinstance(late, LateFusionResNet1d) and len(late.streams) == 3
    # the same convolution taps, only arranged differently
    assert _branch_convs(late) == _branch_convs(recipe)
    assert {(32, 32, 9), (32, 32, 19), (32, 32, 39)} == set(_branch_convs(recipe))
    # in the recipe every block mixes three scales; in the comparator no block mixes two
    assert all(len(blk.branches) == 3 for blk in recipe.blocks())
    assert all(len(blk.branches) == 1 for blk in late.blocks())
    assert [s.kernel_sizes for s in late.streams] == [(9,), (19,), (39,)]
    assert all(isinstance(blk, MultiScaleBottleneck1d) for blk in late.blocks())
    assert late.num_features == 3 * recipe.num_features and late.fc.in_features == late.num_features
    late.reset_classifier(5)  # a new head over the same concatenated features
    assert (late.fc.in_features, late.fc.out_features, late.num_classes) == (late.num_features, 5, 5)


def test_streams_meet_only_after_the_pool():
    """Changing one stream's weights moves only that stream's slice of the features, so nothing before
    the head combines scales."""
    torch.manual_seed(0)
    net = LateFusionResNet1d(1, 4, kernel_sizes=(3, 7), layers=(1, 1), widths=(8, 8), stem_width=8,
                             stem_stride=1, stem_pool=False, stage_strides=(1, 1), zero_init_last=False).eval()
    x = torch.randn(2, 1, 40)
    with torch.no_grad():
        before = net.forward_features(x)
        width = before.shape[1] // 2
        for p in net.streams[1].parameters():
            p.add_(0.5)
        after = net.forward_features(x)
    torch.testing.assert_close(after[:, :width], before[:, :width], rtol=0, atol=0)
    assert not torch.allclose(after[:, width:], before[:, width:])


def test_variable_length_batches_and_batch_size_one():
    torch.manual_seed(0)
    net = ts_resnet.create_model("latefusion_ucr", in_ch=1, num_classes=3).eval()
    short, long = torch.randn(1, 1, 30), torch.randn(1, 1, 50)
    batch = torch.zeros(2, 1, 50)
    batch[0, :, :30], batch[1] = short[0], long[0]
    with torch.no_grad():
        padded = net(batch, lengths=torch.tensor([30, 50]))
        # pooling ignores the zero-padded tail, so each row is what its series gives alone (exactly so
        # at init, where the padded tail stays zero through every layer; a trained network's long
        # kernels also see the tail's activations near the end of a short series)
        torch.testing.assert_close(padded[1:], net(long))
        torch.testing.assert_close(padded[:1], net(short))
        assert not torch.allclose(net(batch)[:1], net(short))  # without lengths the tail is averaged in
    net.train()
    assert net(torch.randn(1, 1, 24)).shape == (1, 3)  # BatchNorm in training at batch size 1


def test_options_reach_every_stream_and_bad_ones_are_named():
    net = ts_resnet.create_model("latefusion_ucr", in_ch=1, num_classes=2, kernel_sizes=[5, 11], dilations=[1, 2])
    taps = [[(m.kernel_size, m.dilation) for m in s.blocks()[0].branches.modules() if isinstance(m, nn.Conv1d)]
            for s in net.streams]
    assert taps == [[((5,), (1,))], [((11,), (2,))]]
    with pytest.raises(TypeError, match=r"create_model\('latefusion_ucr'\): unknown arguments \['kernels'\]"):
        ts_resnet.create_model("latefusion_ucr", kernels=[5])
    with pytest.raises(ValueError, match="one entry per kernel length"):
        LateFusionResNet1d(1, 2, kernel_sizes=(3, 5), dilations=(1,))


def test_latefusion_trains_through_the_cli_and_its_checkpoint_rebuilds_it(tmp_path):
    """--model.arch latefusion_ucr is all the benchmark needs; the checkpoint's card names the preset, so
    the weights-only loader rebuilds the comparator and gives the trained network's outputs."""
    from test_training import fit_cli

    from ts_resnet.inference import load_classifier

    cli = fit_cli(["-c", str(REPO / "configs" / "ucr.yaml"), "--data.root", str(fixture("ucr")), "--data.dataset",
                   "ItalyPowerDemand", "--trainer.max_steps=3", "--model.arch=latefusion_ucr"], tmp_path)
    assert isinstance(cli.model.net, LateFusionResNet1d)
    path = cli.trainer.checkpoint_callback.last_model_path or cli.trainer.checkpoint_callback.best_model_path
    clf = load_classifier(path)
    assert clf.card.arch == "latefusion_ucr" and isinstance(clf.net, LateFusionResNet1d)
    x = torch.randn(4, cli.model.net.in_ch, 24)
    with torch.no_grad():
        torch.testing.assert_close(clf.net.eval()(x), cli.model.net.eval()(x))
