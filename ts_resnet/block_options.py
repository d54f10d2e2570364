"""Options a multi-scale block can switch on, each measured on the UCR benchmark and left off in
the presets (BENCHMARKS.md, sessions 31-33): squeeze-excitation channel gates, selective-kernel fusion
of the branches, stochastic depth; and the activation and channel-rounding helpers they share with the
blocks in :mod:`ts_resnet.layers`.
"""

from __future__ import annotations

import torch
from torch import nn


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round a channel count to a multiple of ``divisor`` (never below 90% of ``v``), as timm does."""
    min_value = min_value or divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def _accepts_inplace(act_layer: type[nn.Module]) -> bool:
    return act_layer in (nn.ReLU, nn.ReLU6, nn.SiLU, nn.Hardswish, nn.LeakyReLU, nn.ELU, nn.Mish)


def create_act(act_layer: type[nn.Module]) -> nn.Module:
    return act_layer(inplace=True) if _accepts_inplace(act_layer) else act_layer()


class SqueezeExcite1d(nn.Module):
    """Squeeze-and-excitation (Hu et al. 2018): channel gates from the time-averaged features.

    No norm inside, so it works at batch size 1 in training mode.
    """

    def __init__(self, channels: int, rd_ratio: float = 1 / 16, act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        rd = make_divisible(channels * rd_ratio, 8)
        self.fc1 = nn.Conv1d(channels, rd, 1)
        self.act = create_act(act_layer)
        self.fc2 = nn.Conv1d(rd, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean(-1, keepdim=True)
        return x * torch.sigmoid(self.fc2(self.act(self.fc1(s))))


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016): drop the whole residual branch per sample."""

    def __init__(self, drop_prob: float = 0.0) -> None:
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.drop_prob == 0.0 or not self.training:
            return x
        keep = 1.0 - self.drop_prob
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob}"


class SelectiveKernelAttention(nn.Module):
    """Selective-kernel fusion (Li et al. 2019, SKNet): per-channel softmax weights over branches.

    The weights are computed from the globally pooled sum of the branches, so every sample chooses
    its own mix of time scales.
    """

    def __init__(self, channels: int, num_branches: int, rd_ratio: float = 1 / 4,
                 act_layer: type[nn.Module] = nn.ReLU) -> None:
        super().__init__()
        rd = make_divisible(channels * rd_ratio, 8, min_value=16)
        self.num_branches = num_branches
        # Bias + no norm: BatchNorm on a (B, C, 1) tensor breaks batch-size-1 training.
        self.fc_reduce = nn.Conv1d(channels, rd, 1)
        self.act = create_act(act_layer)
        self.fc_select = nn.Conv1d(rd, channels * num_branches, 1)

    def forward(self, branches: torch.Tensor) -> torch.Tensor:
        # branches: (B, n, C, T)
        b, n, c, _ = branches.shape
        s = branches.sum(1).mean(-1, keepdim=True)  # (B, C, 1)
        a = self.fc_select(self.act(self.fc_reduce(s))).view(b, n, c, 1)
        return (branches * a.softmax(dim=1)).sum(1)


__all__ = ["DropPath", "SelectiveKernelAttention", "SqueezeExcite1d", "create_act", "make_divisible"]
