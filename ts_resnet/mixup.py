"""Mixup and CutMix for signal batches.

Mixup (Zhang et al. 2018, "mixup: Beyond Empirical Risk Minimization") blends each training batch with
a shuffled copy of itself, ``x = lam * x + (1 - lam) * x[perm]`` with one ``lam ~ Beta(alpha, alpha)``
per batch. CutMix (Yun et al. 2019), on the time axis as for series, instead replaces one random
segment, ``1 - lam`` of the length, by the same segment of the partner: every sample stays a real
sample of one of the two records. Either way the loss is the same blend of the losses against
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


def _pair(x: torch.Tensor, n_windows: torch.Tensor, alpha: float, name: str,
          lengths: torch.Tensor | None) -> tuple[float, torch.Tensor, torch.Tensor | None]:
    """What both mixes draw, in this order: ``lam ~ Beta(alpha, alpha)``, a partner for every record
    (a permutation of the batch), and each pair's longer length, so that length-aware pooling sees
    all of both. Refuses batches it cannot pair."""
    if alpha <= 0:
        raise ValueError(f"{name} alpha must be > 0, got {alpha}")
    if bool((n_windows != 1).any()):  # then x also holds exactly one row per record
        raise ValueError(f"{name} needs one window per training record; this batch has "
                         f"{x.shape[0]} windows for {n_windows.shape[0]} records (use training crops "
                         f"of one window, or {name}_alpha=0)")
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    perm = torch.randperm(x.shape[0], device=x.device)
    if lengths is not None:
        lengths = torch.maximum(lengths, lengths[perm])
    return lam, perm, lengths


def mix_batch(x: torch.Tensor, n_windows: torch.Tensor, alpha: float,
              lengths: torch.Tensor | None = None) -> MixedBatch:
    """Blend a collated batch ``x: (B, C, T)`` with a random permutation of itself.

    Mixup pairs records, so it needs one window per record (the UCR/UEA data modules and the ECG
    presets' random training crops give that); a batch of multi-window records is refused rather
    than mixing windows of unrelated records. Zero-padded variable-length series keep the longer
    length of each pair, so length-aware pooling sees all of both. Uses torch's global generator,
    so ``seed_everything`` makes it repeatable.
    """
    lam, perm, lengths = _pair(x, n_windows, alpha, "mixup", lengths)
    return MixedBatch(x * lam + x[perm] * (1.0 - lam), lengths, perm, lam)


def cut_batch(x: torch.Tensor, n_windows: torch.Tensor, alpha: float,
              lengths: torch.Tensor | None = None) -> MixedBatch:
    """CutMix on the time axis: one segment of ``x: (B, C, T)``, the same for the whole batch, taken
    from a random permutation of the batch.

    The segment is ``round((1 - lam) * T)`` samples at a uniform start, ``lam ~ Beta(alpha, alpha)``,
    and the returned ``lam`` is the share of the ``T`` samples each record kept, so the loss weights
    match what the network saw. In a zero-padded variable-length batch that share is of the padded
    length (an approximation where the pair's lengths differ), and each record keeps the longer
    length of its pair, as with mixup. Same checks and generator as :func:`mix_batch`.
    """
    lam, perm, lengths = _pair(x, n_windows, alpha, "cutmix", lengths)
    t = x.shape[-1]
    cut = int(round((1.0 - lam) * t))
    start = int(torch.randint(0, t - cut + 1, ()))
    mixed = x.clone()
    mixed[..., start:start + cut] = x[perm, ..., start:start + cut]  # gather only the segment
    return MixedBatch(mixed, lengths, perm, 1.0 - cut / t)
