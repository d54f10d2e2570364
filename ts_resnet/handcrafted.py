"""Fixed, hand-crafted convolution filters beside the learned stem (``stem_filters=True``).

Ismail-Fawaz et al. 2022 ("Deep learning for time series classification using new hand-crafted
convolution filters", IEEE BigData) add 17 non-trainable filters per input channel to InceptionTime's
first module: increasing- and decreasing-trend detectors of lengths 2-64 and peak detectors of lengths
6-96. They cost no parameters, so they add features without adding anything a 20-series training set
can overfit, and the authors report the hybrid network ahead of the plain one on most of the 128 UCR
sets. Here their rectified outputs are concatenated with the learned stem convolution's channels before
the stem's norm and activation, as in their hybrid layer.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .block_options import create_act

TREND_LENGTHS = (2, 4, 8, 16, 32, 64)
"""Lengths of the increasing- and decreasing-trend filters; peak filters use ``TREND_LENGTHS[1:]``."""


def handcrafted_filters() -> list[np.ndarray]:
    """The 17 filters, in the paper's order: 6 increasing, 6 decreasing, 5 peak detectors.

    A trend filter of length L alternates -1 and +1, so its response sums every other first
    difference: positive on a rising stretch (increasing filter) or a falling one (decreasing). A peak
    filter of length 1.5 L is a positive parabolic bump of width L/2 between two negative ones of the
    same width, so it responds where the series rises and falls again within about L samples.
    """
    filters = []
    for sign in (-1.0, 1.0):  # sign of the even taps: -1 detects increases, +1 decreases
        for length in TREND_LENGTHS:
            w = np.ones(length)
            w[0::2] = sign
            w[1::2] = -sign
            filters.append(w)
    for length in TREND_LENGTHS[1:]:
        q = length // 4
        left = np.linspace(0.0, 1.0, q + 1)[1:] ** 2
        right = left[::-1]
        filters.append(np.concatenate([-left, -right, 2 * left, 2 * right, -left, -right]))
    return filters


class HandCraftedFilters1d(nn.Module):
    """The 17 fixed filters applied to every input channel separately (depthwise), 'same' padding
    as Keras pads (``(L - 1) // 2`` samples before, the rest after), then ReLU.

    ``(B, in_ch, T)`` -> ``(B, 17 * in_ch, ceil(T / stride))``. The filters are a non-persistent
    buffer: they never train, are not weight-decayed, and do not appear in state dicts (a
    checkpoint's ``stem_filters`` option rebuilds them).
    """

    def __init__(self, in_ch: int, stride: int = 1) -> None:
        super().__init__()
        filters = handcrafted_filters()
        width = max(len(w) for w in filters)
        self.pad_left = (width - 1) // 2
        self.pad_right = width - 1 - self.pad_left
        bank = np.zeros((len(filters), width), dtype=np.float32)
        for i, w in enumerate(filters):
            # Place each filter so that its own 'same' centre falls on the bank's centre.
            start = self.pad_left - (len(w) - 1) // 2
            bank[i, start:start + len(w)] = w
        self.in_ch = in_ch
        self.stride = stride
        self.num_filters = len(filters)
        weight = torch.from_numpy(bank).unsqueeze(1).repeat(in_ch, 1, 1)  # (17 * in_ch, 1, width)
        self.register_buffer("weight", weight, persistent=False)

    @property
    def out_channels(self) -> int:
        return self.num_filters * self.in_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (self.pad_left, self.pad_right))
        return F.relu(F.conv1d(x, self.weight.to(x.dtype), stride=self.stride, groups=self.in_ch))


class HybridStem1d(nn.Module):
    """Learned stem convolution and :class:`HandCraftedFilters1d`, concatenated over channels, then
    one norm and activation over both (the layout of the paper's hybrid layer)."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int, stride: int, *,
                 norm_layer: type[nn.Module], act_layer: type[nn.Module]) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            # An even kernel with kernel_size // 2 padding gives one more output than the filter bank.
            raise ValueError(f"stem_filters needs an odd stem_kernel, got {kernel_size}")
        self.conv = nn.Conv1d(in_ch, out_ch, kernel_size, stride, padding=kernel_size // 2, bias=False)
        self.filters = HandCraftedFilters1d(in_ch, stride)
        self.out_channels = out_ch + self.filters.out_channels
        self.norm = norm_layer(self.out_channels)
        self.act = create_act(act_layer)  # as every other block builds its activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(torch.cat([self.conv(x), self.filters(x)], dim=1)))
