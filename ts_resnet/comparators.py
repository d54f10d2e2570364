"""Networks the benchmark compares the design against (not recommended for use).

:class:`LateFusionResNet1d` is the peer design the package's in-block fusion is claimed to beat: one
single-scale residual stream per kernel length, run side by side and joined only after the global
pool (the layout of geekfeiw's Multi-Scale-1D-ResNet). Built from the same blocks as
:class:`~ts_resnet.network.MultiScaleResNet1d`, it holds the same kernel branches - the same lengths
and widths, so the same convolution taps - and differs only in where the scales meet: never inside a
block, so no block can mix what a short kernel and a long kernel saw. ``create_model("latefusion_ucr")``
is the UCR recipe's network rearranged this way (BENCHMARKS.md, "In-block against late fusion").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import nn

from .layers import GlobalPool1d
from .network import DEFAULT_NUM_CLASSES, MultiScaleResNet1d


class LateFusionResNet1d(nn.Module):
    """One single-scale :class:`~ts_resnet.network.MultiScaleResNet1d` stream per kernel length; the
    streams' last-stage features are concatenated, globally pooled and classified by one linear head.

    Same input and output as :class:`~ts_resnet.network.MultiScaleResNet1d`: ``(B, in_ch, T)`` ->
    logits ``(B, num_classes)``, or pooled features with ``num_classes=0``.

    Args:
        in_ch: input channels.
        num_classes: classifier outputs; 0 = no head.
        kernel_sizes: one stream per kernel length.
        dilations: one per kernel length (None = all 1).
        global_pool: ``"avg"``, ``"max"`` or ``"avgmax"`` over the concatenated features.
        dropout: dropout before the classifier.
        **stream_options: any other :class:`~ts_resnet.network.MultiScaleResNet1d` keyword argument,
            given to every stream (``layers``, ``widths``, ``block``, ``branch_ratio``, the stem, ...).
            Each stream has its own stem: the streams share nothing but the input.
    """

    def __init__(
        self,
        in_ch: int = 12,
        num_classes: int = DEFAULT_NUM_CLASSES,
        *,
        kernel_sizes: Sequence[int] = (3, 5, 7),
        dilations: Sequence[int] | None = None,
        global_pool: Literal["avg", "max", "avgmax"] = "avg",
        dropout: float = 0.0,
        **stream_options: Any,
    ) -> None:
        super().__init__()
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0 (0 = no head), got {num_classes}")
        if dilations is not None and len(dilations) != len(kernel_sizes):
            raise ValueError(f"dilations {list(dilations)} needs one entry per kernel length {list(kernel_sizes)}")
        self.in_ch = in_ch
        self.num_classes = num_classes
        self.kernel_sizes = tuple(kernel_sizes)
        self.streams = nn.ModuleList(
            MultiScaleResNet1d(in_ch, 0, kernel_sizes=(k,), dilations=None if dilations is None else (dilations[i],),
                               **stream_options)
            for i, k in enumerate(kernel_sizes)
        )
        first = self.streams[0]
        self.total_stride = first.total_stride
        self.min_input_length = first.min_input_length
        self.global_pool = GlobalPool1d(global_pool)
        # streams are built with num_classes=0 and the default average pool: num_features = channels
        self.num_features = sum(s.num_features for s in self.streams) * self.global_pool.multiplier
        self.head_drop = nn.Dropout(dropout)
        self.fc: nn.Module = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def blocks(self) -> list[nn.Module]:
        """Every residual block of every stream."""
        return [b for s in self.streams for b in s.blocks()]

    def channels_last_problems(self) -> list[str]:
        return [f"streams.{i}.{p}" for i, s in enumerate(self.streams) for p in s.channels_last_problems()]

    def set_channels_last(self, enabled: bool) -> None:
        for s in self.streams:
            s.set_channels_last(enabled)

    @property
    def channels_last(self) -> bool:
        return bool(self.streams[0].channels_last)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_ch, T)`` -> the streams' last-stage features side by side, ``(B, C, T / total_stride)``."""
        return torch.cat([s.forward_features(x) for s in self.streams], dim=1)

    # The head is MultiScaleResNet1d's, unchanged: it reads and replaces only total_stride, global_pool,
    # head_drop, num_features and fc, which this class has with the same meaning, so both networks pool
    # padded batches and swap heads alike.
    forward_head = MultiScaleResNet1d.forward_head
    reset_classifier = MultiScaleResNet1d.reset_classifier
    forward = MultiScaleResNet1d.forward
