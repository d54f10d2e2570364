"""Zero-padded variable-length batches that behave like each series run alone.

A batch of series of different lengths is zero-padded at the end to its longest one. The padding is
zero only at the input: after the first BatchNorm it is not, an unmasked convolution carries it into
each series' last samples, and BatchNorm's batch statistics (and so its running statistics) take the
padded positions in. A series' features would then depend on what it is batched with, and training
would see something that scoring one series at a time (``classify``) never does: on the UCR
variable-length sets that mismatch cost 77 of 9,330 TEST series (BENCHMARKS.md).

While a network runs inside :func:`padded_batch`, :func:`mask_padding` zeroes the positions past each
series' end before every convolution wider than one sample (what the convolution's own zero padding
does for a series alone), and :func:`masked_batch_norm` takes training statistics over the valid
positions only. For stride-1 networks (``msresnet_ucr``) a padded batch then gives each series its
alone output, in training and evaluation alike. Not masked: squeeze-excitation's average over the
whole series, and pooling or downsampling windows that cross a series' end (exact where each stage's
length is a whole multiple of its stride); networks with these are closer to, not equal to, alone.
Equal-length batches carry no lengths and take none of these paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import nn

from .layout import running_stats_factor

# (valid samples per series, input length) of the zero-padded batch a network is running, or None.
# A context variable rather than an argument threaded through every block: the blocks' forward
# signatures (and torch.jit/ONNX export of equal-length networks) stay as they are.
_PADDED: ContextVar[tuple[torch.Tensor, int] | None] = ContextVar("ts_resnet_padded", default=None)


@contextmanager
def padded_batch(lengths: torch.Tensor | None, length: int) -> Iterator[None]:
    """Mask the padding of a zero-padded batch (``lengths`` valid samples of ``length``) in the
    convolutions and BatchNorms that run inside this context; ``lengths=None`` masks nothing."""
    token = _PADDED.set(None if lengths is None else (lengths, length))
    try:
        yield
    finally:
        _PADDED.reset(token)


def padding_mask(x: torch.Tensor) -> torch.Tensor | None:
    """``(B, 1, ..., T)`` 1.0 where ``x``'s positions lie inside their series, inside
    :func:`padded_batch` (else None). A stage of length ``T`` out of an input of ``length`` samples
    keeps ``ceil(lengths * T / length)`` of them, as a stride-``s`` convolution with 'same' padding does."""
    padded = _PADDED.get()
    if padded is None:
        return None
    lengths, length = padded
    t = x.shape[-1]
    valid = torch.div(lengths * t + length - 1, length, rounding_mode="floor")
    keep = torch.arange(t, device=x.device)[None, :] < valid.to(x.device)[:, None]
    return keep.view(x.shape[0], *([1] * (x.ndim - 2)), t).to(x.dtype)


def mask_padding(x: torch.Tensor) -> torch.Tensor:
    """``x`` with the positions past each series' end zeroed, inside :func:`padded_batch` (else ``x``)."""
    keep = padding_mask(x)
    return x if keep is None else x * keep


def masked_batch_norm(bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor, keep: torch.Tensor) -> torch.Tensor:
    """``bn`` in training, with its batch statistics over the positions where ``keep`` is 1.

    The same update as ``torch.nn.BatchNorm1d`` (biased variance to normalise, unbiased into
    ``running_var``, ``momentum`` or the cumulative average when it is None), so the running
    statistics that evaluation uses are those of the series' own samples, not of the padding.
    Statistics are computed in at least float32 (as BatchNorm does under autocast)."""
    dims = [d for d in range(x.ndim) if d != 1]
    shape = [1, -1] + [1] * (x.ndim - 2)
    xf = x if x.dtype in (torch.float32, torch.float64) else x.float()
    keep = keep.to(xf.dtype)
    n = keep.sum() * (x[0, 0].numel() // keep[0, 0].numel())  # valid positions per channel
    # Few passes over the activations (this runs in every BatchNorm of a padded training batch): the
    # centred input is zero past each series' end, so its norm is the valid samples' spread alone.
    mean = (xf * keep).sum(dims) / n
    centred = (xf - mean.view(shape)) * keep
    var = torch.linalg.vector_norm(centred, dim=dims).square() / n
    if bn.track_running_stats and bn.running_mean is not None and bn.running_var is not None:
        factor = running_stats_factor(bn)
        with torch.no_grad():
            bn.running_mean.lerp_(mean.to(bn.running_mean.dtype), factor)
            unbiased = var * n / torch.clamp(n - 1, min=1)
            bn.running_var.lerp_(unbiased.to(bn.running_var.dtype), factor)
    scale = torch.rsqrt(var + bn.eps)
    if not bn.affine:
        return (centred * scale.view(shape)).to(x.dtype)
    # past a series' end the output is the bias: no later layer reads it (ts_resnet.padding)
    return torch.addcmul(bn.bias.view(shape), centred, (bn.weight * scale).view(shape)).to(x.dtype)
