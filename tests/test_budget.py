"""StepBudget: the UCR recipe's training length from the training set (ts_resnet.budget)."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest

from ts_resnet import SignalClassifier
from ts_resnet.averaging import WeightEMA
from ts_resnet.budget import StepBudget, series_length
from ts_resnet.data.datasets import SignalDataset
from ts_resnet.data.modules import ArrayDataModule


def fit(tmp_path, budget: StepBudget | None, max_steps: int | None = 10, n: int = 100, length: int = 64,
        extra_callbacks: tuple = ()):
    """A few steps of a tiny network on ``n`` random two-class series (batch 16: ceil(n / 16) batches)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 1, length)).astype(np.float32)
    y = np.arange(n) % 2
    dm = ArrayDataModule(x, y, batch_size=16)
    model = SignalClassifier(arch="msresnet_tiny", num_classes=2, in_channels=1, task="multiclass")
    callbacks = [c for c in (budget, *extra_callbacks) if c is not None]
    trainer = L.Trainer(max_steps=max_steps if max_steps is not None else -1, max_epochs=None if max_steps else 1,
                        accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, callbacks=callbacks,
                        default_root_dir=tmp_path)
    trainer.fit(model, datamodule=dm)
    return trainer


def scheduled_steps(trainer) -> int:
    return trainer.lr_scheduler_configs[0].scheduler.total_steps


def test_short_runs_grow_to_the_epoch_floor_within_the_factor_cap(tmp_path):
    # 100 series at batch 16: 7 batches per epoch. 3 epochs = 21 steps, under 3 x 10.
    trainer = fit(tmp_path, StepBudget(min_epochs=3, max_factor=3.0, max_samples=None))
    assert trainer.global_step == 21 and scheduled_steps(trainer) == 21  # the LR schedule spans the new length
    # 5 epochs = 35 steps: capped at 3 x the configured 10
    budget = StepBudget(min_epochs=5, max_factor=3.0, max_samples=None)
    trainer = fit(tmp_path, budget)
    assert budget.steps == 30 and trainer.global_step == 30 and scheduled_steps(trainer) == 30


def test_runs_are_never_shortened(tmp_path):
    budget = StepBudget(min_epochs=1, max_factor=3.0, max_samples=None)  # 1 epoch = 7 steps < 10
    trainer = fit(tmp_path, budget)
    assert budget.steps == 10 and trainer.global_step == 10
    # a cost cap below the configured length leaves the configured length
    budget = StepBudget(min_epochs=200, max_factor=3.0, max_samples=16 * 64 * 5)
    assert fit(tmp_path, budget).global_step == 10


def test_the_cost_cap_counts_samples_through_the_network(tmp_path):
    # 16 series x 64 samples per step: 16 * 64 * 25 samples allow 25 steps (the epoch floor wants 35)
    budget = StepBudget(min_epochs=5, max_factor=3.0, max_samples=16 * 64 * 25)
    assert fit(tmp_path, budget).global_step == 25
    # series twice as long: half the steps for the same samples, but never under the configured 10
    budget = StepBudget(min_epochs=5, max_factor=3.0, max_samples=16 * 64 * 25)
    assert fit(tmp_path, budget, length=128).global_step == 12


def test_weight_ema_placed_after_it_sees_the_new_length(tmp_path):
    ema = WeightEMA(decay=0.99, max_horizon=0.1)
    fit(tmp_path, StepBudget(min_epochs=5, max_factor=3.0, max_samples=None), extra_callbacks=(ema,))
    assert ema.effective_decay == pytest.approx(1 - 1 / 3)  # a tenth of 30 steps, not of 10


def test_series_length_of_windows_arrays_and_ragged_lists():
    targets, ids = np.zeros(2, dtype=np.int64), ["a", "b"]
    assert series_length(SignalDataset(np.zeros((2, 1, 50), np.float32), targets, ids)) == 50
    ragged = [np.zeros((1, 30), np.float32), np.zeros((1, 80), np.float32)]
    assert series_length(SignalDataset(ragged, targets, ids)) == 80  # batches are padded to the longest
    assert series_length(SignalDataset(ragged, targets, ids, window=20)) == 20
    with pytest.raises(TypeError, match="max_samples=None"):
        series_length([np.zeros(3)])


def test_bad_settings_and_epoch_based_runs_are_refused(tmp_path):
    for bad in ({"min_epochs": 0}, {"max_factor": 0.5}, {"max_samples": 0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            StepBudget(**bad)
    with pytest.raises(ValueError, match="needs trainer.max_steps"):
        fit(tmp_path, StepBudget(), max_steps=None)


def test_a_loader_without_batch_size_is_refused_clearly_by_the_cost_cap(tmp_path):
    from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

    from ts_resnet.data.datasets import collate_windows

    x = np.random.default_rng(0).standard_normal((20, 1, 32)).astype(np.float32)
    ds = SignalDataset(x, np.arange(20) % 2, [str(i) for i in range(20)], train=True)
    loader = DataLoader(ds, batch_sampler=BatchSampler(SequentialSampler(ds), 4, False), collate_fn=collate_windows)
    model = SignalClassifier(arch="msresnet_tiny", num_classes=2, in_channels=1, task="multiclass")

    def trainer(budget: StepBudget) -> L.Trainer:
        return L.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                         callbacks=[budget])

    with pytest.raises(ValueError, match="batch_sampler"):
        trainer(StepBudget()).fit(model, train_dataloaders=loader)
    fitted = trainer(StepBudget(min_epochs=2, max_samples=None))
    fitted.fit(model, train_dataloaders=loader)
    assert fitted.global_step == 6  # the epoch rule alone: 2 epochs of 5 batches wanted, capped at 3 x 2
