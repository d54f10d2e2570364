"""Sharpness-aware minimisation (SAM; Foret et al., ICLR 2021) for :class:`~ts_resnet.module.SignalClassifier`.

Each optimisation step takes the gradient ``g`` at the weights ``w``, moves to the worst nearby point
``w + rho * g / ||g||`` (the norm over every trained parameter at once), takes the gradient there, moves
back to ``w`` and lets the optimiser (AdamW) step with that second gradient: training seeks minima whose
neighbourhood is flat as well as low, which generalises better when there are few training series.
It costs a second forward and backward pass per step.

The second pass must not change anything but the gradient, so BatchNorm's running statistics are put
back as they were after it (:func:`keep_norm_statistics`); the module reuses the first pass's mixup
blend for it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn


def ascent_step(params: Iterable[nn.Parameter], rho: float) -> list[tuple[nn.Parameter, torch.Tensor]]:
    """Move every parameter that has a gradient by ``rho * g / ||g||`` (one global L2 norm) and return
    the moves, for :func:`descend_back`. Nothing moves when the gradient is zero or not finite (a
    mixed-precision step the scaler will skip anyway)."""
    with_grad = [p for p in params if p.grad is not None]
    if not with_grad:
        return []
    # float32 sums: a bf16/fp16 gradient's squares would lose the small entries
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(p.grad.float()) for p in with_grad]))
    if not torch.isfinite(norm) or norm == 0:
        return []
    scale = rho / norm
    moves = []
    with torch.no_grad():
        for p in with_grad:
            e = (p.grad.float() * scale).to(p.dtype)
            p.add_(e)
            moves.append((p, e))
    return moves


def descend_back(moves: list[tuple[nn.Parameter, torch.Tensor]]) -> None:
    """Undo :func:`ascent_step`."""
    with torch.no_grad():
        for p, e in moves:
            p.sub_(e)


@contextmanager
def keep_norm_statistics(module: nn.Module) -> Iterator[None]:
    """Run a training-mode forward pass without leaving a trace in any BatchNorm layer's running
    statistics (``running_mean``, ``running_var``, ``num_batches_tracked`` are restored on exit)."""
    saved = []
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            saved.append((m, [b.clone() if b is not None else None
                              for b in (m.running_mean, m.running_var, m.num_batches_tracked)]))
    try:
        yield
    finally:
        with torch.no_grad():
            for m, (mean, var, count) in saved:
                for buf, old in ((m.running_mean, mean), (m.running_var, var), (m.num_batches_tracked, count)):
                    if buf is not None and old is not None:
                        buf.copy_(old)


def sam_closure(closure: Callable[[], torch.Tensor | None], module: nn.Module, rho: float,
                on_second_pass: Callable[[bool], None] | None = None) -> Callable[[], torch.Tensor | None]:
    """Wrap an optimiser closure (forward, zero_grad, backward) so that calling it leaves SAM's
    gradient in ``.grad``: the closure runs at ``w``, then at ``w + rho * g / ||g||`` without touching
    BatchNorm statistics, and the weights are back at ``w`` when it returns. Returns the first pass's
    loss (the loss at the weights being trained). ``on_second_pass(True/False)`` is called around the
    second pass so the caller can keep it out of its metrics and logs."""

    def run() -> torch.Tensor | None:
        loss = closure()
        moves = ascent_step([p for p in module.parameters() if p.requires_grad], rho)
        if not moves:
            return loss
        try:
            if on_second_pass is not None:
                on_second_pass(True)
            with keep_norm_statistics(module):
                closure()
        finally:
            if on_second_pass is not None:
                on_second_pass(False)
            descend_back(moves)
        return loss

    return run
