from __future__ import annotations

from copy import deepcopy

import pytest
import torch
from torch import nn

import ts_resnet
from ts_resnet.layers import BlockConfig, MultiScaleBlock1d, MultiScaleBottleneck1d

FUSIONS = ["concat", "sum", "attention"]
# Full-size presets are slow on 2 CPU cores; they are all built and run, but with a shorter input.
PRESETS = ts_resnet.list_models()


def build(name: str, fusion: str, in_ch: int = 12, **kw) -> nn.Module:
    torch.manual_seed(0)
    return ts_resnet.create_model(name, in_ch=in_ch, fusion=fusion, **kw)


def test_design_example_works_as_written():
    model = ts_resnet.MultiScaleResNet1d(in_ch=12)
    assert model(torch.randn(2, 12, 500)).shape == (2, ts_resnet.DEFAULT_NUM_CLASSES)
    model = ts_resnet.MultiScaleResNet1d(in_ch=12, num_classes=5)
    assert model.fc.out_features == 5


def test_the_class_defaults_are_the_default_preset():
    # MultiScaleResNet1d() and create_model("msresnet_ecg") must build the same network: the preset
    # fixes its values explicitly (so model cards can pin them), the class defaults repeat them.
    plain, preset = ts_resnet.MultiScaleResNet1d(), ts_resnet.create_model("msresnet_ecg")
    assert [tuple(p.shape) for p in plain.state_dict().values()] == [
        tuple(p.shape) for p in preset.state_dict().values()]
    assert list(plain.state_dict()) == list(preset.state_dict())


@pytest.mark.parametrize(("name", "options"), [("msresnet_ecg", {}), ("msresnet18", {"fusion": "sum"}),
                                               ("msresnet_ucr", {}), ("msresnet_tiny", {"drop_path_rate": 0.0}),
                                               ("msresnet_ucr", {"kernel_sizes": (9, 9, 9), "dilations": (1, 4, 16)}),
                                               ("msresnet_ucr", {"pool_branch": True}),
                                               ("msresnet_tiny", {"pool_branch": True})])
def test_channels_last_layout_gives_the_same_network(name, options):
    torch.manual_seed(0)
    plain = ts_resnet.create_model(name, in_ch=3, num_classes=4, **options).train()
    for p in plain.parameters():  # non-zero last norms: no block is the identity
        if p.ndim == 1:
            nn.init.uniform_(p, 0.5, 1.5)
    fast = ts_resnet.create_model(name, in_ch=3, num_classes=4, **options).train()
    fast.load_state_dict(plain.state_dict())
    fast.set_channels_last(True)
    assert list(fast.state_dict()) == list(plain.state_dict())  # an execution choice, not architecture
    x, lengths = torch.randn(5, 3, 301), torch.tensor([301, 250, 301, 120, 200])
    for net in (plain, fast):
        net(x, lengths=lengths).square().sum().backward()
    torch.testing.assert_close(fast(x), plain(x), rtol=1e-4, atol=1e-5)
    # absolute tolerance from the largest gradient: some are ~0 up to rounding (a bias that a
    # BatchNorm right after cancels), and their rounding differs between layouts
    scale = max(p.grad.abs().max().item() for p in plain.parameters())
    for (name_, a), b in zip(plain.named_parameters(), fast.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-4, atol=1e-5 * scale, msg=name_)
    for (name_, a), b in zip(plain.named_buffers(), fast.buffers()):  # BatchNorm statistics, batch counts
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=name_)
    plain.eval(), fast.eval()
    torch.testing.assert_close(fast(x[:1]), plain(x[:1]), rtol=1e-4, atol=1e-5)  # running statistics
    fast.set_channels_last(False)
    torch.testing.assert_close(fast(x), plain(x))


@pytest.mark.parametrize("options", [{"se": True}, {"fusion": "attention"}, {"avg_down": True},
                                     {"fuse_convs": True},
                                     {"norm_layer": nn.InstanceNorm1d, "zero_init_last": False}])
def test_channels_last_layout_names_what_has_no_2d_path(options):
    net = ts_resnet.create_model("msresnet_tiny", **options)
    assert net.channels_last_problems()
    with pytest.raises(ValueError, match="no channels-last path for"):
        net.set_channels_last(True)
    assert net.channels_last is False


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("name", PRESETS)
def test_shapes_train_and_eval(name, fusion):
    model = build(name, fusion, num_classes=7)
    for mode in ("train", "eval"):
        model.train(mode == "train")
        for shape in [(2, 12, 1000), (1, 12, 1000), (2, 12, 777)]:
            with torch.no_grad():
                out = model(torch.randn(*shape))
            assert out.shape == (shape[0], 7)
            assert torch.isfinite(out).all()
    single = build(name, fusion, in_ch=1, num_classes=3).eval()
    assert single(torch.randn(2, 1, 96)).shape == (2, 3)


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("name", PRESETS)
def test_gradients_reach_every_branch(name, fusion):
    # zero_init_last=False: with zero-initialised last norms the gradient into the first conv of
    # each branch is exactly zero at step 0 by design, which would hide a disconnected branch.
    model = build(name, fusion, num_classes=4, zero_init_last=False)
    model.train()
    model(torch.randn(2, 12, 256)).sum().backward()
    for i, blk in enumerate(model.blocks()):
        for j, branch in enumerate(blk.branches):
            grads = [p.grad for p in branch.parameters()]
            assert all(g is not None for g in grads), f"block {i} branch {j}: missing grad"
            assert sum(g.abs().sum().item() for g in grads) > 0, f"block {i} branch {j}: zero grad"


@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("name", PRESETS)
def test_identity_at_init(name, fusion):
    model = build(name, fusion)
    model.train()  # BN in train mode uses batch statistics: the identity must hold there too
    checked = 0
    for blk in model.blocks():
        if not isinstance(blk.shortcut, nn.Identity):
            continue
        in_ch = blk.branches[0][0][0].in_channels if isinstance(blk, MultiScaleBlock1d) else blk.reduce[0].in_channels
        x = torch.rand(3, in_ch, 64)  # non-negative, as after a ReLU
        with torch.no_grad():
            torch.testing.assert_close(blk(x), x, rtol=0, atol=0)
        checked += 1
    assert checked > 0


def test_identity_needs_zero_init():
    """Control for the test above: without zero init the same block is not the identity."""
    torch.manual_seed(0)
    blk = MultiScaleBlock1d(32, 32)  # plain construction: BN weights are 1
    x = torch.rand(2, 32, 50)
    with torch.no_grad():
        assert not torch.allclose(blk(x), x)
        blk.zero_init_last()
        torch.testing.assert_close(blk(x), x, rtol=0, atol=0)


@pytest.mark.parametrize("fusion", FUSIONS)
def test_branch_kernel_lengths_differ(fusion):
    model = ts_resnet.create_model("msresnet18", fusion=fusion)
    for blk in model.blocks():
        lengths = [branch[0][0].kernel_size[0] for branch in blk.branches]
        assert lengths == [3, 5, 7]
        second = [branch[1][0].kernel_size[0] for branch in blk.branches]
        assert second == [3, 5, 7]
    bottleneck = ts_resnet.create_model("msresnet50", fusion=fusion)
    for blk in bottleneck.blocks():
        assert isinstance(blk, MultiScaleBottleneck1d)
        assert [b[0].kernel_size[0] for b in blk.branches] == [3, 5, 7]
    baseline = ts_resnet.create_model("resnet18_1d")
    assert {len(b.branches) for b in baseline.blocks()} == {1}


def test_fusion_happens_inside_block_before_add():
    """Perturbing one branch changes the block output only through the fused residual."""
    torch.manual_seed(0)
    blk = MultiScaleBlock1d(16, 16, config=BlockConfig(fusion="concat")).eval()
    for m in blk.modules():
        if isinstance(m, nn.BatchNorm1d):
            nn.init.ones_(m.weight)
    x = torch.rand(1, 16, 40)
    base = blk(x)
    with torch.no_grad():
        blk.branches[2][0][0].weight.add_(1.0)  # the k=7 branch
    assert not torch.allclose(blk(x), base)
    # the fuse conv mixes all branches into every output channel
    assert blk.fuse[0].in_channels == sum(b[1][0].out_channels for b in blk.branches)


def test_projection_shortcut_when_shape_changes():
    model = ts_resnet.create_model("msresnet18")
    kinds = [type(b.shortcut).__name__ for b in model.blocks()]
    # stage 1 keeps (64 ch, stride 1): identity; first block of stages 2-4 halves length, doubles width
    assert kinds == ["Identity", "Identity", "ConvNormAct1d", "Identity"] * 1 + ["ConvNormAct1d", "Identity"] * 2
    proj = model.blocks()[2].shortcut
    assert proj[0].kernel_size == (1,) and proj[0].stride == (2,)
    assert isinstance(proj[1], nn.BatchNorm1d)
    resd = ts_resnet.create_model("msresnet18", avg_down=True)
    assert isinstance(resd.blocks()[2].shortcut[0], nn.AvgPool1d)


def test_min_length_error_names_minimum():
    model = ts_resnet.create_model("msresnet18")
    with pytest.raises(ValueError, match="minimum of 64"):
        model(torch.randn(1, 12, 40))
    with pytest.raises(ValueError, match="12 input channels"):
        model(torch.randn(1, 3, 400))
    model.eval()
    assert model(torch.randn(1, 12, 64)).shape == (1, 5)


def test_backbone_api():
    model = ts_resnet.create_model("msresnet18", num_classes=0, global_pool="avgmax")
    feats = model(torch.randn(2, 12, 512))
    assert feats.shape == (2, model.num_features) == (2, 1024)
    fmap = model.forward_features(torch.randn(2, 12, 512))
    assert fmap.shape == (2, 512, 512 // model.total_stride)
    assert [f["reduction"] for f in model.feature_info] == [4, 4, 8, 16, 32]
    assert [f["num_chs"] for f in model.feature_info] == [64, 64, 128, 256, 512]
    model.reset_classifier(3)
    assert model(torch.randn(2, 12, 512)).shape == (2, 3)
    with pytest.raises(ValueError, match="unknown model"):
        ts_resnet.create_model("nope")
    with pytest.raises(TypeError, match="not_an_option"):
        ts_resnet.create_model("msresnet18", not_an_option=1)


def test_options_are_built():
    model = ts_resnet.create_model("msresnet_tiny", se=True, drop_path_rate=0.2, dropout=0.3,
                                   norm_layer=nn.BatchNorm1d, act_layer=nn.SiLU)
    blocks = model.blocks()
    assert all(type(b.se).__name__ == "SqueezeExcite1d" for b in blocks)
    assert blocks[-1].drop_path.drop_prob == pytest.approx(0.2)
    assert model.head_drop.p == 0.3
    assert any(isinstance(m, nn.SiLU) for m in model.modules())


def test_determinism():
    outs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = ts_resnet.create_model("msresnet_tiny", in_ch=12, fusion="attention").eval()
        torch.manual_seed(7)
        outs.append(model(torch.randn(2, 12, 300)))
    torch.testing.assert_close(outs[0], outs[1], rtol=0, atol=0)


@pytest.mark.parametrize("options", [{}, {"pool_branch": True}])
def test_torch_export_and_compile(options):
    model = ts_resnet.create_model("msresnet_tiny", in_ch=2, num_classes=3, **options).eval()
    x = torch.randn(2, 2, 128)
    batch = torch.export.Dim("batch", min=1, max=64)
    length = torch.export.Dim("length", min=16, max=100_000)
    exported = torch.export.export(model, (x,), dynamic_shapes={"x": {0: batch, 2: length}})
    for shape in [(2, 2, 128), (3, 2, 200)]:
        inp = torch.randn(*shape)
        torch.testing.assert_close(exported.module()(inp), model(inp), rtol=1e-4, atol=1e-5)
    traced = torch.jit.trace(model, x)
    torch.testing.assert_close(traced(torch.randn(1, 2, 333) * 0 + 1), model(torch.ones(1, 2, 333)))


def test_overfits_random_labels():
    torch.manual_seed(0)
    x = torch.randn(32, 12, 128)
    y = torch.randint(0, 4, (32,))
    model = ts_resnet.create_model("msresnet_tiny", in_ch=12, num_classes=4)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    for step in range(300):
        model.train()
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 25 == 24:
            model.eval()
            with torch.no_grad():
                acc = (model(x).argmax(1) == y).float().mean().item()
            if acc == 1.0:
                break
    assert acc == 1.0, f"train accuracy {acc} after {step + 1} steps"


def test_length_aware_pooling_ignores_padding():
    from ts_resnet.layers import GlobalPool1d

    x = torch.randn(2, 4, 10)
    x[1, :, 6:] = 100.0  # padding garbage after 6 valid steps
    valid = torch.tensor([10, 6])
    for kind, ref in (("avg", lambda t: t.mean(-1)), ("max", lambda t: t.amax(-1))):
        out = GlobalPool1d(kind)(x, valid)
        torch.testing.assert_close(out[0], ref(x[0]))
        torch.testing.assert_close(out[1], ref(x[1, :, :6]))
    assert GlobalPool1d("avgmax")(x, valid).shape == (2, 8)
    # through the network: the padded tail changes nothing once lengths are given (no downsampling,
    # eval mode, and a tail far beyond the receptive field of the valid part is what differs)
    torch.manual_seed(0)
    model = ts_resnet.create_model("msresnet_short", in_ch=1, num_classes=3, layers=(1,), widths=(16,),
                                   stem_width=16, stage_strides=(1,), kernel_sizes=(3,)).eval()
    series = torch.randn(1, 1, 40)
    padded = torch.nn.functional.pad(series, (0, 60))
    with torch.no_grad():
        masked = model(padded, lengths=torch.tensor([40]))
        plain_padded = model(padded)
        alone = model(series)
    assert (masked - alone).abs().max() < (plain_padded - alone).abs().max()


@pytest.mark.parametrize(("arch", "lengths", "atol", "options"), [
    ("msresnet_ucr", (200, 120, 57), 1e-5, {}),
    ("msresnet_ecg", (256, 160, 96), 1e-4, {}),
    ("msresnet_ucr", (200, 120, 57), 1e-5, {"pool_branch": True}),  # the max-pool never sees the padding
    ("msresnet_tiny", (200, 120, 58), 1e-5, {"pool_branch": True, "act_layer": nn.GELU}),  # inputs < 0 too
])
def test_a_padded_batch_gives_each_series_what_it_gets_alone(arch, lengths, atol, options):
    # The zero padding stops being zero after the first BatchNorm; every convolution wider than one
    # sample masks it again, so a series' output does not depend on the series it is batched with.
    # (Strided presets: exact where each stage's length is a whole multiple, as here.)
    from ts_resnet.padding import _PADDED

    torch.manual_seed(0)
    net = ts_resnet.create_model(arch, in_ch=2, num_classes=4, **options)
    for m in net.modules():  # trained-looking norms (blocks no longer the identity), padding far from zero after them
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.uniform_(-1, 1)
            m.bias.data.uniform_(-1, 1)
            m.weight.data.uniform_(0.5, 1.5)
    net.eval()
    x = torch.zeros(len(lengths), 2, max(lengths))
    for i, n in enumerate(lengths):
        x[i, :, :n] = torch.randn(2, n)
    with torch.no_grad():
        batched = net(x, lengths=torch.tensor(lengths))
        alone = torch.cat([net(x[i:i + 1, :, :n]) for i, n in enumerate(lengths)])
        unmasked = net.forward_head(net.forward_features(x), lengths=torch.tensor(lengths))
    torch.testing.assert_close(batched, alone, atol=atol, rtol=0)
    assert (unmasked - alone).abs().max() > 100 * atol
    assert _PADDED.get() is None  # the mask is only in force while the network runs


@pytest.mark.parametrize("channels_last", [False, True])
def test_training_on_a_padded_batch_does_not_see_the_padding(channels_last):
    # BatchNorm's batch statistics (and so the running statistics evaluation uses) come from the
    # series' own samples: padding the same batch further changes neither the training output at
    # the valid positions, nor the gradients, nor the running statistics.
    torch.manual_seed(0)
    net = ts_resnet.create_model("msresnet_ucr", in_ch=2, num_classes=3)
    net.set_channels_last(channels_last)
    lengths = torch.tensor([90, 140, 57])
    x = torch.zeros(3, 2, 140)
    for i, n in enumerate(lengths.tolist()):
        x[i, :, :n] = torch.randn(2, n)
    runs = []
    for extra in (0, 60):
        run = deepcopy(net).train()
        out = run(nn.functional.pad(x, (0, extra)), lengths=lengths)
        out.sum().backward()
        bn = run.stem[0].norm
        runs.append((out, bn.running_mean.clone(), bn.running_var.clone(), run.fc.weight.grad.clone(),
                     run.stem[0][0].weight.grad.clone()))
    for a, b in zip(*runs):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
    # the statistics are those of the valid samples: the stem's first BatchNorm input, pooled by hand
    conv = net.stem[0][0]
    own = torch.cat([conv(x[i:i + 1, :, :n]) for i, n in enumerate(lengths.tolist())], dim=-1)
    momentum = net.stem[0].norm.momentum
    torch.testing.assert_close(runs[0][1], momentum * own.mean((0, 2)).detach(), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("ndim", [3, 4])
def test_masked_batch_norm_is_batch_norm_over_the_valid_samples(ndim):
    # The reference is torch's own BatchNorm run on the valid samples laid end to end: same outputs
    # there, same gradients, same running statistics (float64, so the comparison is of the formula).
    from ts_resnet.padding import masked_batch_norm

    torch.manual_seed(0)
    lengths = [40, 10, 33, 5]
    x = torch.randn(4, 6, 40, dtype=torch.float64) * 3 + 2
    keep = torch.zeros(4, 1, 40, dtype=torch.float64)
    for i, n in enumerate(lengths):
        keep[i, :, :n] = 1
    bn = nn.BatchNorm1d(6).double()
    nn.init.uniform_(bn.weight, 0.5, 1.5)
    nn.init.uniform_(bn.bias, -1, 1)
    ref = deepcopy(bn)
    weights = torch.rand(4, 6, 40, dtype=torch.float64)  # a loss that weighs every output differently

    xm = x.clone().requires_grad_()
    inp, k = (xm.unsqueeze(2), keep.unsqueeze(2)) if ndim == 4 else (xm, keep)
    out = masked_batch_norm(bn, inp, k).reshape(4, 6, 40)
    (out * keep * weights).sum().backward()

    xr = x.clone().requires_grad_()
    joined = torch.cat([xr[i:i + 1, :, :n] for i, n in enumerate(lengths)], dim=-1)
    out_ref = ref(joined)
    (out_ref * torch.cat([weights[i:i + 1, :, :n] for i, n in enumerate(lengths)], dim=-1)).sum().backward()

    torch.testing.assert_close(torch.cat([out[i:i + 1, :, :n] for i, n in enumerate(lengths)], dim=-1), out_ref)
    torch.testing.assert_close(xm.grad * keep, xr.grad)
    for a, b in ((bn.weight.grad, ref.weight.grad), (bn.bias.grad, ref.bias.grad), (bn.running_mean, ref.running_mean),
                 (bn.running_var, ref.running_var), (bn.num_batches_tracked, ref.num_batches_tracked)):
        torch.testing.assert_close(a, b)


def test_collate_reports_lengths_only_when_padding():
    from ts_resnet.data.datasets import collate_windows

    items = [{"x": torch.ones(1, 2, n), "y": torch.tensor(0), "index": i, "id": str(i)} for i, n in enumerate((5, 8))]
    batch = collate_windows(items)
    assert batch["x"].shape == (2, 2, 8) and batch["lengths"].tolist() == [5, 8]
    same = collate_windows([items[1], items[1]])
    assert "lengths" not in same


@pytest.mark.parametrize("dilations", [None, (1, 2, 4)])
@pytest.mark.parametrize("fusion", FUSIONS)
@pytest.mark.parametrize("block_cls", [MultiScaleBlock1d, MultiScaleBottleneck1d])
def test_fused_first_convs_equal_the_plain_branches(block_cls, fusion, dilations):
    """One zero-padded convolution for all branches is the same mathematics as the three-branch
    definition: same outputs (train and eval) and same gradients for the same weights - also when
    the branches are dilated (their kernels written densely, zeros between the taps)."""
    import copy

    torch.manual_seed(0)
    out_ch = 64 if block_cls is MultiScaleBlock1d else 128
    config = BlockConfig(kernel_sizes=(3, 5, 7), dilations=dilations, fusion=fusion, fuse_convs=True)
    fused = block_cls(32, out_ch, 2, config=config).double()
    for m in fused.modules():  # non-trivial norms, so no branch is zero
        if isinstance(m, nn.BatchNorm1d):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    plain = copy.deepcopy(fused)
    plain.set_fused(False)
    assert fused.fused is not None and plain.fused is None
    assert fused.state_dict().keys() == plain.state_dict().keys()  # checkpoints are interchangeable
    x = torch.randn(4, 32, 101, dtype=torch.float64)
    for mode in (True, False):
        fused.train(mode)
        plain.train(mode)
        a, b = fused(x), plain(x)
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    fused.train()
    plain.train()
    fused(x).square().sum().backward()
    plain(x).square().sum().backward()
    for (name, p), q in zip(fused.named_parameters(), plain.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-9, atol=1e-9, msg=name)
    for (name, buf), other in zip(fused.named_buffers(), plain.buffers()):
        torch.testing.assert_close(buf, other, msg=name)  # BN running statistics updated alike


@pytest.mark.parametrize("block_cls", [MultiScaleBlock1d, MultiScaleBottleneck1d])
def test_dilated_branches_see_further_at_the_same_cost(block_cls):
    """A branch of kernel k and dilation d reaches d * (k - 1) / 2 samples each side (and no further)
    with k taps; the block keeps the input length, is the identity at init, and the option reaches
    the network from the command-line options."""
    torch.manual_seed(0)
    plain = block_cls(64, 64, config=BlockConfig(kernel_sizes=(9,), fusion="sum", branch_ratio=1.0))
    dilated = block_cls(64, 64, config=BlockConfig(kernel_sizes=(9,), dilations=(4,), fusion="sum", branch_ratio=1.0))
    assert sum(p.numel() for p in plain.parameters()) == sum(p.numel() for p in dilated.parameters())
    for blk in (plain, dilated):
        blk.zero_init_last()
        with torch.no_grad():
            x = torch.rand(2, 64, 64)
            torch.testing.assert_close(blk(x), x, rtol=0, atol=0)  # the identity, dilated or not
            for m in blk.modules():
                if isinstance(m, nn.BatchNorm1d):
                    nn.init.uniform_(m.weight, 0.5, 1.5)
    blk_reach = 2 if block_cls is MultiScaleBlock1d else 1  # k-convs in series per branch
    for blk, d in ((plain, 1), (dilated, 4)):
        blk.eval()
        x = torch.randn(1, 64, 201, requires_grad=True)
        out = blk(x)
        assert out.shape == (1, 64, 201)  # 'same' padding at any dilation
        out[0, :, 100].sum().backward()
        reached = (x.grad[0].abs().sum(0) > 0).nonzero().flatten()
        reach = blk_reach * d * 4
        assert (reached.min().item(), reached.max().item()) == (100 - reach, 100 + reach)
    with pytest.raises(ValueError, match="one integer >= 1 per kernel length"):
        BlockConfig(kernel_sizes=(9, 9), dilations=(1,))
    with pytest.raises(ValueError, match="one integer >= 1 per kernel length"):
        BlockConfig(kernel_sizes=(9,), dilations=(0,))
    from ts_resnet.registry import build_network

    net = build_network("msresnet_ucr", 1, 3, {"kernel_sizes": [9, 9, 9], "dilations": [1, 4, 16]})
    assert [b[0].dilation[0] for b in net.blocks()[0].branches] == [1, 4, 16]
    assert net(torch.randn(1, 1, 40)).shape == (1, 3)  # shorter than the widest branch's reach


@pytest.mark.parametrize("block", ["basic", "bottleneck"])
def test_circular_padding_makes_a_stride_1_network_invariant_to_circular_shifts(block):
    """With padding_mode="circular" every convolution wraps around the series' ends, so a network with
    stride 1 throughout and average pooling gives the same output for a circularly shifted series (a
    closed outline traced from another starting point); zero padding does not."""
    torch.manual_seed(0)
    opts = dict(in_ch=2, num_classes=3, block=block, kernel_sizes=(9, 19, 39), layers=(1, 1), widths=(16, 16),
                stem_stride=1, stem_pool=False, stage_strides=(1, 1), zero_init_last=False)
    circ = ts_resnet.create_model("msresnet_tiny", padding_mode="circular", **opts).eval()
    zeros = ts_resnet.create_model("msresnet_tiny", **opts).eval()
    zeros.load_state_dict(circ.state_dict())  # same parameters: padding is not architecture
    x = torch.randn(3, 2, 60)
    shifted = torch.roll(x, 23, dims=-1)
    with torch.no_grad():
        torch.testing.assert_close(circ(shifted), circ(x), rtol=1e-4, atol=1e-5)
        assert (zeros(shifted) - zeros(x)).abs().max() > 1e-3
        assert (circ(x) - zeros(x)).abs().max() > 1e-3
        # the fused first convolutions wrap the same way
        plain_out = circ(x)
        for blk in circ.blocks():
            blk.set_fused(True)
        assert all(blk.fused is not None and blk.fused.circular for blk in circ.blocks())
        torch.testing.assert_close(circ(x), plain_out, rtol=1e-4, atol=1e-5)
        # a series shorter than a kernel's reach wraps more than once (F.pad's circular mode refuses)
        assert circ(torch.randn(2, 2, 7)).shape == (2, 3)
        # InceptionTime's max-pool branch wraps too
        circ_pool = ts_resnet.create_model("msresnet_tiny", padding_mode="circular", pool_branch=True, **opts).eval()
        torch.testing.assert_close(circ_pool(shifted), circ_pool(x), rtol=1e-4, atol=1e-5)
        ends_pool = deepcopy(circ_pool)  # control: the same network whose pools stop at the ends
        for blk in ends_pool.blocks():
            blk.pool_branch.circular = False
        assert (ends_pool(shifted) - ends_pool(x)).abs().max() > 1e-3
    # the 2-D channels-last layout wraps the same way: same outputs and gradients (in float64: in
    # float32 the two layouts' rounding differs by up to ~1% of the largest gradient of some
    # layers on one thread, which a float32 tolerance cannot tell from an error; float64 agrees to 1e-12)
    torch.manual_seed(0)
    plain = ts_resnet.create_model("msresnet_ucr", in_ch=3, num_classes=4, padding_mode="circular").double().train()
    fast = ts_resnet.create_model("msresnet_ucr", in_ch=3, num_classes=4, padding_mode="circular").double().train()
    fast.load_state_dict(plain.state_dict())
    fast.set_channels_last(True)
    x, lengths = torch.randn(5, 3, 101, dtype=torch.float64), torch.tensor([101, 80, 101, 40, 70])
    for net in (plain, fast):
        net(x, lengths=lengths).square().sum().backward()
    for (name_, a), b in zip(plain.named_parameters(), fast.parameters()):
        torch.testing.assert_close(b.grad, a.grad, rtol=1e-9, atol=1e-9, msg=name_)
    # blocks whose last norm is zero are still exactly the identity
    net = ts_resnet.create_model("msresnet_ucr", in_ch=1, padding_mode="circular").train()
    blk = net.blocks()[1]
    h = torch.rand(2, blk.reduce[0].in_channels, 40)
    with torch.no_grad():
        torch.testing.assert_close(blk(h), h, rtol=0, atol=0)
    with pytest.raises(ValueError, match="padding_mode must be 'zeros' or 'circular'"):
        BlockConfig(padding_mode="reflect")


def test_fuse_convs_is_an_option():
    # off by default (not faster on CPU for whole networks, BENCHMARKS.md); one branch: nothing to fuse
    assert MultiScaleBlock1d(16, 16, config=BlockConfig(kernel_sizes=(3, 5, 7))).fused is None
    assert MultiScaleBlock1d(16, 16, config=BlockConfig(kernel_sizes=(3, 5, 7), fuse_convs=True)).fused is not None
    assert MultiScaleBlock1d(16, 16, config=BlockConfig(kernel_sizes=(5,), fuse_convs=True)).fused is None
    model = ts_resnet.create_model("msresnet_ecg", fuse_convs=True)
    assert all(b.fused is not None for b in model.blocks())


@pytest.mark.parametrize(("name", "options"), [("msresnet_ecg", {}), ("msresnet50", {}), ("msresnet_ucr", {}),
                                               ("msresnet_ucr", {"pool_branch": True})])
def test_folded_batchnorm_gives_the_same_outputs(name, options):
    import copy

    from ts_resnet.layers import fold_batchnorm

    model = build(name, "concat", zero_init_last=False, **options)
    for m in model.modules():  # trained-looking statistics, not the initial 0/1
        if isinstance(m, nn.BatchNorm1d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.2, 0.2)
    model.eval()
    folded = fold_batchnorm(copy.deepcopy(model))
    assert not any(isinstance(m, nn.BatchNorm1d) for m in folded.modules())
    x = torch.randn(2, 12, 500)
    with torch.no_grad():
        torch.testing.assert_close(folded(x), model(x), rtol=1e-4, atol=1e-4)


def test_handcrafted_filters_detect_trends_and_peaks():
    """The 17 fixed filters of Ismail-Fawaz et al. 2022: on a rising ramp only the increasing-trend
    filters respond (more for longer ones), on a falling ramp only the decreasing ones; the peak
    filters sum to zero, so they ignore a level and a ramp and respond at the top of a bump."""
    from ts_resnet.handcrafted import HandCraftedFilters1d, handcrafted_filters

    filters = handcrafted_filters()
    assert [len(w) for w in filters] == [2, 4, 8, 16, 32, 64] * 2 + [6, 12, 24, 48, 96]
    assert all(abs(w.sum()) < 1e-9 for w in filters)  # zero response to a constant level
    bank = HandCraftedFilters1d(1)
    ramp = torch.arange(300.0).view(1, 1, -1)
    up, down = bank(ramp)[0, :, 150], bank(-ramp)[0, :, 150]  # far from the padded edges
    torch.testing.assert_close(up[:6], torch.tensor([1.0, 2, 4, 8, 16, 32]))  # L/2 rises per filter
    assert up[6:].abs().max() < 1e-3 and down[:6].abs().max() < 1e-3 and down[12:].abs().max() < 1e-3
    torch.testing.assert_close(down[6:12], up[:6])
    t = torch.arange(300.0)
    bump = torch.exp(-0.5 * ((t - 150) / 4) ** 2).view(1, 1, -1)
    peaks = bank(bump)[0, 12:]  # (5, 300)
    assert peaks[0].argmax().item() in (149, 150, 151) and peaks[0, 150] > 0.3
    assert peaks[:, :100].abs().max() < 1e-3  # flat far from the bump
    # depthwise: each input channel gets its own 17 responses, the other channel does not leak in
    two = HandCraftedFilters1d(2)(torch.cat([ramp, torch.zeros_like(ramp)], dim=1))
    assert two.shape == (1, 34, 300) and two[0, 17:].abs().max() == 0
    torch.testing.assert_close(two[0, :17], bank(ramp)[0])


def test_stem_filters_option():
    """stem_filters adds 17 fixed channels per input channel to the stem: nothing trains or is saved
    for them, every block is still the identity at init, batch size 1 and short series work, and the
    option travels through the network options a checkpoint stores."""
    from ts_resnet.handcrafted import HybridStem1d
    from ts_resnet.registry import build_network

    torch.manual_seed(0)
    plain = ts_resnet.create_model("msresnet_ucr", in_ch=2, num_classes=3)
    net = build_network("msresnet_ucr", 2, 3, {"stem_filters": True})
    assert isinstance(net.stem[0], HybridStem1d) and net.feature_info[0]["num_chs"] == 64 + 34
    assert not any("filters" in k for k in net.state_dict())  # a non-persistent buffer
    assert not any("filters" in n for n, _ in net.named_parameters())
    extra = sum(p.numel() for p in net.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == 2 * 34 + 34 * (32 + 128)  # stem norm + first block's 1x1 reduce and projection shortcut
    for blk in net.blocks()[1:]:  # shape-preserving blocks: the identity at init
        x = torch.rand(2, 128, 50)
        with torch.no_grad():
            torch.testing.assert_close(blk.eval()(x), x, rtol=0, atol=0)
    net.train()
    out = net(torch.randn(1, 2, 24))  # batch 1, a series shorter than the longest filter (96)
    out.sum().backward()
    assert out.shape == (1, 3) and net.stem[0].conv.weight.grad is not None
    assert net.channels_last_problems() == ["stem.0: stem_filters"]
    with pytest.raises(ValueError, match="odd stem_kernel"):
        ts_resnet.create_model("msresnet_tiny", stem_filters=True, stem_kernel=8)
    strided = ts_resnet.create_model("msresnet_tiny", in_ch=12, stem_filters=True)  # stem stride 2
    assert strided(torch.randn(2, 12, 301)).shape == (2, 5)


@pytest.mark.parametrize("block_cls", [MultiScaleBlock1d, MultiScaleBottleneck1d])
def test_pool_branch_is_inception_times_fourth_branch(block_cls):
    from ts_resnet.layers import MaxPoolBranch

    torch.manual_seed(0)
    config = BlockConfig(kernel_sizes=(3, 9), pool_branch=True)
    blk = block_cls(32, 32, config=config)
    plain = block_cls(32, 32, config=BlockConfig(kernel_sizes=(3, 9)))
    assert isinstance(blk.pool_branch, MaxPoolBranch) and plain.pool_branch is None
    # one more branch's width into the fusing 1x1 convolution
    last = blk.fuse if block_cls is MultiScaleBlock1d else blk.expand
    plain_last = plain.fuse if block_cls is MultiScaleBlock1d else plain.expand
    width = blk.pool_branch.proj[0].out_channels
    assert last[0].in_channels == plain_last[0].in_channels + width
    # the branch is a max over 3 samples of the block's input (not the bottleneck's), then a 1x1 conv
    assert blk.pool_branch.proj[0].in_channels == 32
    x = torch.randn(2, 32, 40)
    blk.pool_branch.eval()
    with torch.no_grad():
        torch.testing.assert_close(blk.pool_branch(x), blk.pool_branch.proj(nn.functional.max_pool1d(x, 3, 1, 1)))
    # the identity at init (last norm zeroed) holds with the fourth branch, and its gradient flows
    # once the block is not the identity
    net = ts_resnet.create_model("msresnet_ucr", in_ch=1, num_classes=3, pool_branch=True)
    h = torch.rand(2, 128, 50)
    with torch.no_grad():
        torch.testing.assert_close(net.blocks()[1].train()(h), h, rtol=0, atol=0)
    net = ts_resnet.create_model("msresnet_ucr", in_ch=1, num_classes=3, pool_branch=True, zero_init_last=False)
    net(torch.randn(2, 1, 64)).sum().backward()
    for b in net.blocks():
        assert b.pool_branch.proj[0].weight.grad.abs().sum() > 0
    # strided blocks pool with the block's stride; the shapes of the kernel branches match
    strided = block_cls(32, 64 if block_cls is MultiScaleBlock1d else 128, stride=2, config=config)
    assert strided(torch.randn(2, 32, 41)).shape[-1] == 21
    strided.pool_branch.eval()
    for n in (40, 41):
        x = torch.randn(2, 32, n)
        with torch.no_grad():
            torch.testing.assert_close(strided.pool_branch(x),
                                       strided.pool_branch.proj(nn.functional.max_pool1d(x, 3, 2, 1)))


def test_pool_branch_needs_concat_fusion_and_is_an_option():
    with pytest.raises(ValueError, match="pool_branch needs fusion='concat'"):
        BlockConfig(fusion="sum", pool_branch=True)
    from ts_resnet.registry import build_network

    plain = build_network("msresnet_ucr", 1, 3)
    net = build_network("msresnet_ucr", 1, 3, {"pool_branch": True})
    assert all(b.pool_branch is None for b in plain.blocks())
    assert all(b.pool_branch is not None for b in net.blocks())
    # every block adds one 1x1 convolution and its norm, nothing else
    extra = sum(p.numel() for p in net.parameters()) - sum(p.numel() for p in plain.parameters())
    stem, width = 64, 32
    pools = (stem * width + 2 * width) + 2 * (128 * width + 2 * width)
    assert extra == pools + 3 * width * 128  # + each expand's wider input
