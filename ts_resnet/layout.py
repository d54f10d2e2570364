"""Running 1-D layers as 2-D channels-last ones: same weights, same outputs, faster on CPU.

oneDNN, PyTorch's CPU convolution library, is fastest in the channels-last ("nhwc") layout, which
exists for 2-D tensors only. A series ``(B, C, T)`` viewed as an image ``(B, C, 1, T)`` with a
``(1, k)`` kernel is the same convolution, and in channels-last layout a training step of the
default ECG network ran 1.17x faster on a 2-core CPU (BENCHMARKS.md); the early, long-sequence
layers gain the most (2x), the last stage nothing. Nothing is converted or copied: the 1-D modules
keep their parameters and buffers (state dicts, checkpoints and exports do not change); only their
forward pass takes a 4-D path when it is handed a 4-D tensor
(:meth:`~ts_resnet.network.MultiScaleResNet1d.set_channels_last`).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def to_2d(x: torch.Tensor) -> torch.Tensor:
    """``(B, C, T)`` -> ``(B, C, 1, T)`` in channels-last memory layout."""
    return x.unsqueeze(2).contiguous(memory_format=torch.channels_last)


def conv1d_as_2d(conv: nn.Conv1d, x: torch.Tensor) -> torch.Tensor:
    """``conv`` applied to a ``(B, C, 1, T)`` tensor (the weight is viewed as ``(O, I, 1, k)``)."""
    if conv.padding_mode != "zeros" or isinstance(conv.padding, str):
        raise ValueError(f"the 2-D layout needs numeric zero padding, got {conv.padding!r}/{conv.padding_mode}")
    return F.conv2d(x, conv.weight.unsqueeze(2), conv.bias, (1, conv.stride[0]), (0, conv.padding[0]),
                    (1, conv.dilation[0]), conv.groups)


def batch_norm_any_dim(bn: nn.modules.batchnorm._BatchNorm, x: torch.Tensor) -> torch.Tensor:
    """``bn``'s forward pass for an input of any rank (``BatchNorm1d`` itself refuses 4-D input).

    The same steps as ``torch.nn.modules.batchnorm._BatchNorm.forward`` (momentum, cumulative
    average when ``momentum is None``, batch statistics in training or without running stats), so
    the running statistics and ``num_batches_tracked`` are updated exactly as the 1-D layer would.
    """
    factor = running_stats_factor(bn)
    use_batch_stats = bn.training or (bn.running_mean is None and bn.running_var is None)
    keep = not bn.training or bn.track_running_stats
    return F.batch_norm(x, bn.running_mean if keep else None, bn.running_var if keep else None,
                        bn.weight, bn.bias, use_batch_stats, factor, bn.eps)


def running_stats_factor(bn: nn.modules.batchnorm._BatchNorm) -> float:
    """Count a training batch in ``bn.num_batches_tracked`` and return the weight its statistics get in
    the running ones: ``momentum``, or ``1 / batches`` (a cumulative average) when it is None, as
    ``torch.nn.modules.batchnorm._BatchNorm.forward`` does."""
    factor = 0.0 if bn.momentum is None else bn.momentum
    if bn.training and bn.track_running_stats and bn.num_batches_tracked is not None:
        bn.num_batches_tracked.add_(1)
        factor = 1.0 / float(bn.num_batches_tracked) if bn.momentum is None else bn.momentum
    return factor


def max_pool1d_as_2d(pool: nn.MaxPool1d, x: torch.Tensor) -> torch.Tensor:
    """``pool`` applied to a ``(B, C, 1, T)`` tensor."""
    def one(v: int | tuple[int, ...]) -> int:
        return v if isinstance(v, int) else v[0]
    return F.max_pool2d(x, (1, one(pool.kernel_size)), (1, one(pool.stride or pool.kernel_size)),
                        (0, one(pool.padding)), (1, one(pool.dilation)), pool.ceil_mode)


def choose_layout(net: nn.Module, device: torch.device, wanted: bool | None = None) -> bool:
    """Set and return the layout a training run uses: ``wanted``, or with None the 2-D channels-last
    path on CPU when ``net`` has one (it was measured faster there; GPUs keep the 1-D layout, since the
    2-D path trained 0.72x as fast on an H200, BENCHMARKS.md "GPU"). Asking
    for it where there is no 2-D path is a ``ValueError`` that lists why."""
    supported = hasattr(net, "channels_last_problems")
    if wanted is None:
        wanted = device.type == "cpu" and supported and not net.channels_last_problems()
    elif wanted and not supported:
        raise ValueError(f"channels_last=True needs a MultiScaleResNet1d, got {type(net).__name__}")
    if supported:
        net.set_channels_last(bool(wanted))
    return bool(wanted)
