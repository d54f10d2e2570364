"""Training length from the training set (the UCR recipe's ``trainer.callbacks``).

The recipe counts optimisation steps, not epochs, so that 20 training series and 9,000 get comparable
work: 1,000 steps are 500 epochs of 32 series. But they are only 67 epochs of ChlorineConcentration's
467, and on held-out TRAIN series such sets still gained from longer training (BENCHMARKS.md, "Training
length from the training set"). :class:`StepBudget` lengthens those runs to a minimum number of epochs,
within two caps: a multiple of the configured ``trainer.max_steps``, and a cost budget in samples pushed
through the network (steps x batch x series length), which holds the longest runs to what the fixed
budget already spent on the archive's costliest sets. Every input is known before training.
"""

from __future__ import annotations

import math

import lightning.pytorch as pl
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info


class StepBudget(Callback):
    """Raise ``trainer.max_steps`` to ``min_epochs`` passes over the training set, within caps.

    ``steps = max(base, min(min_epochs x batches per epoch, max_factor x base, max_samples / (batch x length)))``
    where ``base`` is the trainer's ``max_steps`` and ``length`` the longest training series (or the
    training window) in samples. A run is never made shorter than ``base``. Place it before
    :class:`~ts_resnet.averaging.WeightEMA` in ``trainer.callbacks``: both read the run's length in
    ``setup``, and the learning-rate schedule reads it later in ``configure_optimizers``.

    Args:
        min_epochs: passes over the training set to reach, if the caps allow.
        max_factor: at most this multiple of the configured ``max_steps``.
        max_samples: at most this many samples (time points x series, summed over the run's batches)
            through the network; None = no cost cap.
    """

    def __init__(self, min_epochs: int = 200, max_factor: float = 3.0, max_samples: float | None = 16e6) -> None:
        if min_epochs < 1:
            raise ValueError(f"min_epochs must be >= 1, got {min_epochs}")
        if max_factor < 1.0:
            raise ValueError(f"max_factor must be >= 1, got {max_factor}")
        if max_samples is not None and max_samples <= 0:
            raise ValueError(f"max_samples must be > 0 (or None), got {max_samples}")
        self.min_epochs = min_epochs
        self.max_factor = max_factor
        self.max_samples = max_samples
        self.steps: int | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or trainer.fast_dev_run:
            return
        base = trainer.max_steps
        if base is None or base < 1:
            raise ValueError("StepBudget needs trainer.max_steps (the recipe counts steps, not epochs); "
                             f"got max_steps={base}")
        if trainer.train_dataloader is None:
            trainer.fit_loop.setup_data()  # what estimated_stepping_batches would do a moment later
        loader = trainer.train_dataloader
        per_epoch = trainer.num_training_batches
        if not math.isfinite(per_epoch) or per_epoch < 1:
            raise ValueError(f"StepBudget needs a sized training set; it has {per_epoch} batches per epoch")
        steps = min(self.min_epochs * per_epoch, self.max_factor * base)
        if self.max_samples is not None:
            if loader.batch_size is None:
                raise ValueError("StepBudget's cost cap needs a DataLoader with a batch_size (not a batch_sampler); "
                                 "pass max_samples=None to use the epoch rule alone")
            per_step = loader.batch_size * series_length(loader.dataset)
            steps = min(steps, self.max_samples / per_step)
        self.steps = int(max(base, steps))
        if self.steps != base:
            trainer.fit_loop.epoch_loop.max_steps = self.steps
            rank_zero_info(f"StepBudget: {self.steps} optimisation steps instead of {base} "
                           f"({self.steps / per_epoch:.0f} epochs of {per_epoch} batches)")


def series_length(dataset) -> int:
    """Samples per training item: the training window, else the longest series."""
    window = getattr(dataset, "window", None)
    if window:
        return int(window)
    signals = getattr(dataset, "signals", None)
    if signals is None:
        raise TypeError(f"StepBudget's cost cap needs a ts_resnet SignalDataset, got {type(dataset).__name__}; "
                        "pass max_samples=None to use the epoch rule alone")
    if hasattr(signals, "shape"):
        return int(signals.shape[-1])
    return max(int(s.shape[-1]) for s in signals)
