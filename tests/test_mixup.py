"""Mixup and CutMix on training batches: the blend or cut, its loss, and that switching them off leaves
training alone."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ts_resnet import SignalClassifier
from ts_resnet.mixup import cut_batch, mix_batch


def test_mix_batch_blends_each_record_with_a_partner():
    torch.manual_seed(3)
    x = torch.randn(5, 2, 16)
    lengths = torch.tensor([16, 9, 12, 16, 4])
    torch.manual_seed(4)
    m = mix_batch(x, torch.ones(5, dtype=torch.long), 0.4, lengths)
    assert sorted(m.perm.tolist()) == [0, 1, 2, 3, 4]
    assert 0.0 <= m.lam <= 1.0
    torch.testing.assert_close(m.x, m.lam * x + (1 - m.lam) * x[m.perm])
    # padded series keep the longer of the two lengths, so pooling sees all of both
    assert m.lengths.tolist() == torch.maximum(lengths, lengths[m.perm]).tolist()
    # torch's global generator: seed_everything makes the blend repeatable
    torch.manual_seed(4)
    again = mix_batch(x, torch.ones(5, dtype=torch.long), 0.4, lengths)
    assert again.lam == m.lam and torch.equal(again.perm, m.perm)


def test_mix_batch_refuses_what_it_cannot_pair():
    x = torch.randn(6, 1, 8)
    with pytest.raises(ValueError, match="one window per training record"):
        mix_batch(x, torch.tensor([1, 2, 3]), 0.4)
    with pytest.raises(ValueError, match="alpha must be > 0"):
        mix_batch(x, torch.ones(6, dtype=torch.long), 0.0)
    with pytest.raises(ValueError, match="mixup_alpha must be >= 0"):
        SignalClassifier(arch="msresnet_tiny", num_classes=2, in_channels=1, task="multiclass", mixup_alpha=-0.1)


def _batch(task: str, k: int, n: int = 6) -> dict:
    torch.manual_seed(0)
    if task == "multiclass":
        y = torch.arange(n) % k
    else:
        y = (torch.rand(n, k) > 0.5).float()
    return {"x": torch.randn(n, 2, 64), "y": y, "n_windows": torch.ones(n, dtype=torch.long),
            "id": [str(i) for i in range(n)]}


@pytest.mark.parametrize("task", ["multiclass", "multilabel"])
def test_training_step_blends_the_losses_of_both_label_sets(task):
    k = 3
    model = SignalClassifier(arch="msresnet_tiny", num_classes=k, in_channels=2, task=task, mixup_alpha=0.4)
    batch = _batch(task, k)
    torch.manual_seed(11)
    loss = model.training_step(batch, 0)
    torch.manual_seed(11)  # the same draw, by hand
    m = mix_batch(batch["x"], batch["n_windows"], 0.4)
    logits = model(m.x)  # train mode: batch statistics of the same blended batch
    y, y2 = batch["y"], batch["y"][m.perm]
    if task == "multiclass":
        expected = m.lam * F.cross_entropy(logits, y) + (1 - m.lam) * F.cross_entropy(logits, y2)
    else:  # BCE is linear in its target: blending the losses is blending the labels
        expected = F.binary_cross_entropy_with_logits(logits, m.lam * y + (1 - m.lam) * y2)
    torch.testing.assert_close(loss, expected)
    assert not torch.allclose(m.x, batch["x"])  # the network saw blended series


def test_mixup_off_draws_nothing_from_the_generator():
    # the recipe's runs (mixup_alpha=0) must train exactly as before the option existed
    batch = _batch("multiclass", 3)
    for alpha, cut, untouched in [(0.0, 0.0, True), (0.4, 0.0, False), (0.0, 1.0, False)]:
        model = SignalClassifier(arch="msresnet_tiny", num_classes=3, in_channels=2, task="multiclass",
                                 mixup_alpha=alpha, cutmix_alpha=cut)
        state = torch.get_rng_state()
        model.training_step(batch, 0)
        assert torch.equal(torch.get_rng_state(), state) is untouched


def test_mixup_refuses_multi_window_training_batches():
    model = SignalClassifier(arch="msresnet_tiny", num_classes=2, in_channels=2, task="multiclass", mixup_alpha=0.4)
    batch = {"x": torch.randn(5, 2, 64), "y": torch.tensor([0, 1]), "n_windows": torch.tensor([2, 3]), "id": ["a", "b"]}
    with pytest.raises(ValueError, match="5 windows for 2 records"):
        model.training_step(batch, 0)


def test_cut_batch_replaces_one_segment_by_the_partners():
    torch.manual_seed(3)
    x = torch.randn(5, 2, 40)
    lengths = torch.tensor([40, 22, 31, 40, 9])
    seen_cuts = set()
    for seed in range(30):
        torch.manual_seed(seed)
        m = cut_batch(x, torch.ones(5, dtype=torch.long), 1.0, lengths)
        assert sorted(m.perm.tolist()) == [0, 1, 2, 3, 4]
        from_partner = (m.x == x[m.perm]).all(dim=(0, 1)) & (m.x != x).any(dim=(0, 1))
        kept = (m.x == x).all(dim=(0, 1))
        assert bool((from_partner | kept).all())  # every sample is one record's or its partner's, every channel
        idx = from_partner.nonzero().flatten()
        if len(idx):  # one contiguous segment, its share of the length the loss weight
            assert idx.tolist() == list(range(int(idx[0]), int(idx[-1]) + 1))
        # lam is the share the records kept (unless the permutation left every record its own partner)
        if not torch.equal(m.perm, torch.arange(5)):
            assert m.lam == pytest.approx(1 - int((~kept).sum()) / 40)
        assert m.lengths.tolist() == torch.maximum(lengths, lengths[m.perm]).tolist()
        seen_cuts.add(round(m.lam, 2))
        torch.manual_seed(seed)  # the global generator: repeatable under seed_everything
        again = cut_batch(x, torch.ones(5, dtype=torch.long), 1.0, lengths)
        assert again.lam == m.lam and torch.equal(again.x, m.x)
    assert len(seen_cuts) > 10  # Beta(1, 1): cuts of many lengths
    with pytest.raises(ValueError, match="cutmix needs one window per training record"):
        cut_batch(x, torch.tensor([2, 3]), 1.0)
    with pytest.raises(ValueError, match="cutmix alpha must be > 0"):
        cut_batch(x, torch.ones(5, dtype=torch.long), 0.0)
    with pytest.raises(ValueError, match="cutmix_alpha must be >= 0"):
        SignalClassifier(arch="msresnet_tiny", num_classes=2, in_channels=1, task="multiclass", cutmix_alpha=-1.0)


def test_training_step_with_cutmix_blends_the_losses_by_the_kept_share():
    model = SignalClassifier(arch="msresnet_tiny", num_classes=3, in_channels=2, task="multiclass", cutmix_alpha=1.0)
    batch = _batch("multiclass", 3)
    torch.manual_seed(5)
    loss = model.training_step(batch, 0)
    torch.manual_seed(5)
    m = cut_batch(batch["x"], batch["n_windows"], 1.0)
    logits = model(m.x)
    y = batch["y"]
    expected = m.lam * F.cross_entropy(logits, y) + (1 - m.lam) * F.cross_entropy(logits, y[m.perm])
    torch.testing.assert_close(loss, expected)
    assert 0.0 < m.lam < 1.0


def test_with_both_alphas_each_batch_takes_one_of_them():
    model = SignalClassifier(arch="msresnet_tiny", num_classes=3, in_channels=2, task="multiclass",
                             mixup_alpha=0.4, cutmix_alpha=1.0)
    batch = _batch("multiclass", 3)
    kinds = set()
    for seed in range(12):
        torch.manual_seed(seed)
        m = model._mix(batch["x"], batch["n_windows"], None)
        x, partner = batch["x"], batch["x"][m.perm]
        # a cut leaves every sample either the record's or its partner's; a blend leaves almost none so
        exact = ((m.x == x) | (m.x == partner)).float().mean().item()
        kinds.add("cut" if exact == 1.0 else "blend")
    assert kinds == {"cut", "blend"}
