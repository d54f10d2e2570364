"""Sharpness-aware minimisation: the gradient it leaves, what it must not touch, and training with it."""

from __future__ import annotations

import copy

import lightning as L
import pytest
import torch
import torch.nn.functional as F

from ts_resnet import SignalClassifier, create_model
from ts_resnet.sam import ascent_step, descend_back, keep_norm_statistics, sam_closure


def _net_and_batch():
    torch.manual_seed(0)
    net = create_model("msresnet_tiny", in_ch=2, num_classes=3).train()
    x, y = torch.randn(6, 2, 48), torch.tensor([0, 1, 2, 0, 1, 2])
    return net, x, y


def _norm_buffers(net):
    return {k: v.clone() for k, v in net.state_dict().items() if "running" in k or "num_batches" in k}


def test_sam_gradient_is_the_gradient_at_the_ascent_point():
    net, x, y = _net_and_batch()
    rho = 0.05
    by_hand = copy.deepcopy(net)
    # by hand: g at w, then the gradient at w + rho * g / ||g|| (global L2 norm)
    F.cross_entropy(by_hand(x), y).backward()
    g = [p.grad.clone() for p in by_hand.parameters()]
    norm = torch.sqrt(sum((t ** 2).sum() for t in g))
    with torch.no_grad():
        for p, t in zip(by_hand.parameters(), g):
            p.add_(rho * t / norm)
    by_hand.zero_grad()
    F.cross_entropy(by_hand(x), y).backward()
    expected = [p.grad.clone() for p in by_hand.parameters()]

    weights = copy.deepcopy(net.state_dict())

    def closure():
        net.zero_grad()
        loss = F.cross_entropy(net(x), y)
        loss.backward()
        return loss

    first_loss = F.cross_entropy(copy.deepcopy(net)(x), y)
    after_first = copy.deepcopy(net)
    F.cross_entropy(after_first(x), y)  # BatchNorm statistics after one training-mode pass
    loss = sam_closure(closure, net, rho)()
    torch.testing.assert_close(loss, first_loss)  # the loss at the weights being trained
    for p, e in zip(net.parameters(), expected):
        torch.testing.assert_close(p.grad, e, rtol=1e-4, atol=1e-6)
    for k, v in net.state_dict().items():  # the weights are back, and the second pass left no statistics
        ref = after_first.state_dict()[k] if ("running" in k or "num_batches" in k) else weights[k]
        torch.testing.assert_close(v, ref, rtol=0, atol=1e-6, msg=k)
    # ... and the first pass did update them, as a plain training step would
    assert any(not torch.equal(after_first.state_dict()[k], weights[k]) for k in _norm_buffers(net))


def test_ascent_step_moves_by_rho_and_back():
    net, x, y = _net_and_batch()
    before = [p.detach().clone() for p in net.parameters()]
    assert ascent_step(net.parameters(), 0.05) == []  # no gradient yet: nothing moves
    F.cross_entropy(net(x), y).backward()
    moves = ascent_step(net.parameters(), 0.05)
    dist = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(net.parameters(), before)))
    assert dist.item() == pytest.approx(0.05, rel=1e-4)
    descend_back(moves)
    for p, b in zip(net.parameters(), before):
        torch.testing.assert_close(p.detach(), b, rtol=0, atol=1e-7)
    for p in net.parameters():  # a non-finite gradient (a skipped mixed-precision step) moves nothing
        p.grad.fill_(float("nan"))
    assert ascent_step(net.parameters(), 0.05) == []


def test_keep_norm_statistics_restores_them_even_after_an_error():
    net, x, _ = _net_and_batch()
    before = _norm_buffers(net)
    with pytest.raises(RuntimeError, match="boom"), keep_norm_statistics(net):
        net(x)
        raise RuntimeError("boom")
    for k, v in _norm_buffers(net).items():
        assert torch.equal(v, before[k]), k


def test_second_pass_reuses_the_mixup_blend_and_stays_out_of_metrics():
    model = SignalClassifier(arch="msresnet_tiny", num_classes=3, in_channels=2, task="multiclass",
                             mixup_alpha=0.4, sam_rho=0.05)
    batch = {"x": torch.randn(6, 2, 64), "y": torch.arange(6) % 3, "n_windows": torch.ones(6, dtype=torch.long),
             "id": [str(i) for i in range(6)]}
    torch.manual_seed(1)
    with keep_norm_statistics(model.net):
        first = model.training_step(batch, 0)
    model._sam_second_pass = True
    second = model.training_step(batch, 0)  # same weights, same blend: the same loss
    model._sam_second_pass = False
    torch.testing.assert_close(second, first)
    assert int(model.train_loss.weight) == 6  # only the first pass was counted


def _fit(tmp_path, sam_rho, **trainer):
    from ts_resnet.data.modules import SyntheticECGDataModule

    L.seed_everything(0)
    dm = SyntheticECGDataModule(num_records=40, batch_size=8, window=250)
    model = SignalClassifier(arch="msresnet_tiny", num_classes=5, in_channels=12, task="multilabel", sam_rho=sam_rho)
    t = L.Trainer(max_steps=3, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                  limit_val_batches=0, default_root_dir=tmp_path, **trainer)
    t.fit(model, datamodule=dm)
    return model, t


def test_training_with_sam_steps_once_per_batch_and_takes_other_steps(tmp_path):
    plain, _ = _fit(tmp_path, 0.0)
    sam, trainer = _fit(tmp_path, 0.05)
    assert trainer.global_step == 3  # one optimiser step per batch, as without SAM
    assert sam.hparams.sam_rho == 0.05
    diff = max((a - b).abs().max().item() for a, b in zip(sam.net.parameters(), plain.net.parameters()))
    assert diff > 1e-6  # the second gradient is what AdamW stepped with
    assert all(torch.isfinite(p).all() for p in sam.net.parameters())


def test_sam_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(ValueError, match="sam_rho must be >= 0"):
        SignalClassifier(arch="msresnet_tiny", num_classes=2, in_channels=1, task="multiclass", sam_rho=-0.1)
    with pytest.raises(ValueError, match="accumulate_grad_batches"):
        _fit(tmp_path, 0.05, accumulate_grad_batches=2)
