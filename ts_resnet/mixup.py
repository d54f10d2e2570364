"""Mixup for signal batches (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization").

Each training batch is blended with a shuffled copy of itself, ``x = lam * x + (1 - lam) * x[perm]``
with one ``lam ~ Beta(alpha, alpha)`` per batch, and the loss is the same blend of the losses against
both label sets. Blending the losses rather than the targets keeps class weights, label smoothing and
integer multi-class targets working unchanged; for the BCE of multi-label/binary tasks the two are the
same thing, because BCE is linear in its target.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MixedBatch:
    """A blended batch: ``x`` (and ``lengths``) to feed the network, ``perm`` the partner of each
    record and ``lam`` the weight of the record itself (1 - lam goes to its partner)."""

    x: torch.Tensor
    lengths: torch.Tensor | None
    perm: torch.Tensor
    lam: float


def mix_batch(x: torch.Tensor, n_windows: torch.Tensor, alpha: float,
              lengths: torch.Tensor | None = None) -> MixedBatch:
    """Blend a collated batch ``x: (B, C, T)`` with a random permutation of itself.

    Mixup pairs records, so it needs one window per record (the UCR/UEA data modules and the ECG
    presets' random training crops give that); a batch of multi-window records is refused rather
    than mixing windows of unrelated records. Zero-padded variable-length series keep the longer
    length of each pair, so length-aware pooling sees all of both. Uses torch's global generator,
    so ``seed_everything`` makes it repeatable.
    """
    if alpha <= 0:
        raise ValueError(f"mixup alpha must be > 0, got {alpha}")
    if bool((n_windows != 1).any()):  # then x also holds exactly one row per record
        raise ValueError("mixup needs one window per training record; this batch has "
                         f"{x.shape[0]} windows for {n_windows.shape[0]} records (use training crops "
                         "of one window, or mixup_alpha=0)")
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(x.shape[0], device=x.device)
    mixed = x * lam + x[perm] * (1.0 - lam)
    if lengths is not None:
        lengths = torch.maximum(lengths, lengths[perm])
    return MixedBatch(mixed, lengths, perm, lam)
