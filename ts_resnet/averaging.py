"""Weight averaging that is safe at any training length (the UCR recipe's ``trainer.callbacks``).

Lightning's :class:`~lightning.pytorch.callbacks.EMAWeightAveraging` starts its average from the
weights after the first optimiser step and keeps a fixed ``decay``. Over 1,000 steps a decay of 0.99
forgets that start (0.99**1000 = 4e-5), but a user who shortens the run to 120 steps gets a model that
is still 30% its first-step weights - in this project's tests that was chance accuracy on GunPoint.
:class:`WeightEMA` caps the averaging horizon ``1 / (1 - decay)`` at a fraction of the run's optimiser
steps, so a short run averages over proportionally fewer steps and the requested decay is used
unchanged whenever the run is long enough for it.
"""

from __future__ import annotations

import math

import lightning.pytorch as pl
from lightning.pytorch.callbacks import EMAWeightAveraging
from lightning.pytorch.utilities import rank_zero_info
from torch.optim.swa_utils import get_ema_avg_fn


class WeightEMA(EMAWeightAveraging):
    """Exponential moving average of the weights (and BatchNorm statistics), evaluated and saved
    instead of the last step's weights; checkpoints hold the averaged weights.

    Args:
        decay: EMA decay per optimiser step when the run is long enough (horizon ``1/(1-decay)`` steps).
        max_horizon: the horizon is at most this fraction of the run's optimiser steps; with the
            default 0.1 a decay of 0.99 (100 steps) is used unchanged from 1,000 steps up.
        use_buffers: also average buffers (BatchNorm running statistics) rather than recomputing them.
    """

    def __init__(self, decay: float = 0.99, max_horizon: float = 0.1, use_buffers: bool = True) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"decay must be in (0, 1), got {decay}")
        if not 0.0 < max_horizon <= 1.0:
            raise ValueError(f"max_horizon must be in (0, 1], got {max_horizon}")
        super().__init__(decay=decay, use_buffers=use_buffers)
        self.decay = decay
        self.max_horizon = max_horizon
        self.effective_decay = decay

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":
            self.effective_decay = self.decay_for(trainer.estimated_stepping_batches)
            if self.effective_decay != self.decay:
                rank_zero_info(f"WeightEMA: decay {self.effective_decay:.4f} instead of {self.decay} "
                               f"(averaging horizon capped at {self.max_horizon:g} of the run's steps)")
            self._kwargs["avg_fn"] = get_ema_avg_fn(decay=self.effective_decay)
        super().setup(trainer, pl_module, stage)

    def decay_for(self, total_steps: float) -> float:
        """The decay used for a run of ``total_steps`` optimiser steps (unknown/infinite: ``decay``)."""
        total = float(total_steps)
        if not math.isfinite(total) or total <= 0:
            return self.decay
        cap = 1.0 - 1.0 / max(1.0, self.max_horizon * total)
        return self.decay if cap >= self.decay - 1e-9 else cap
