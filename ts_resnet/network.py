"""MultiScaleResNet1d: stem -> four stages of multi-scale residual blocks -> global pool -> head."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from .handcrafted import HybridStem1d
from .layers import (
    BlockConfig,
    ConvNormAct1d,
    Fusion,
    GlobalPool1d,
    MultiScaleBlock1d,
    MultiScaleBottleneck1d,
    PaddingMode,
    SelectiveKernelAttention,
    SqueezeExcite1d,
    _MultiScaleResidual,
)
from .layout import max_pool1d_as_2d, to_2d
from .padding import padded_batch

DEFAULT_NUM_CLASSES = 5
"""Default head size: the five PTB-XL diagnostic superclasses (NORM, MI, STTC, CD, HYP)."""


class MultiScaleResNet1d(nn.Module):
    """1D ResNet whose blocks fuse parallel branches of different kernel lengths.

    Input ``(B, in_ch, T)`` float, output logits ``(B, num_classes)``; with ``num_classes=0`` the
    network returns pooled features ``(B, num_features)`` and serves as a backbone.

    Args:
        in_ch: input channels (12 for a standard ECG).
        num_classes: classifier outputs; default 5 (PTB-XL diagnostic superclasses); 0 = no head.
        layers: residual blocks per stage.
        widths: channels per stage (bottleneck blocks output ``4 *`` these).
        block: ``"basic"`` (two convs per branch) or ``"bottleneck"`` (1x1 -> k -> 1x1).
        kernel_sizes: kernel length of each parallel branch; one entry gives a single-scale ResNet.
        dilations: spacing of each branch's kernel taps, one per kernel length (None = all 1): kernel
            9 at dilations 1/2/4 sees 9/17/33 samples for the cost of three 9-tap kernels.
        fusion: how branches are fused inside each block: ``"concat"``, ``"sum"``, ``"attention"``.
        branch_ratio: branch width as a fraction of the block width (default ``1/len(kernel_sizes)``).
        stem_width: channels of the stem convolution. The stem is ResNet-18's
            (conv k=7 s=2 -> BN -> ReLU -> max-pool s=2); short series want stride 1 and no pool.
        stem_kernel: kernel length of the stem convolution.
        stem_stride: stride of the stem convolution.
        stem_pool: max-pool (stride 2) after the stem.
        stem_filters: add 17 fixed hand-crafted filters per input channel (trend and peak detectors,
            Ismail-Fawaz et al. 2022; :mod:`ts_resnet.handcrafted`) beside the stem convolution; no
            parameters, ``17 * in_ch`` more stem channels.
        stage_strides: stride of each stage's first block.
        avg_down: ResNet-D shortcut (avg-pool + 1x1) when a block downsamples.
        se: squeeze-excitation after the fusion of every block.
        drop_path_rate: stochastic depth, linearly increasing to this value over all blocks.
        dropout: dropout before the classifier.
        global_pool: ``"avg"``, ``"max"`` or ``"avgmax"``.
        norm_layer: normalisation layer type used throughout (e.g. ``torch.nn.GroupNorm`` wrappers).
        act_layer: activation layer type used throughout.
        zero_init_last: zero the last norm of every residual branch, so every block whose input and
            output shapes match starts as the identity (He et al. 2016; Goyal et al. 2017 report
            +0.2-0.3% top-1 on ImageNet from it).
        fuse_convs: compute the first convolution of all branches of a block as one convolution
            (kernels zero-padded to the longest; same weights, same state dict, same outputs). Off by
            default: not faster for whole networks on CPU in BENCHMARKS.md; measure it on your device.
        padding_mode: what the stem and branch convolutions see beyond the ends of the series:
            ``"zeros"`` or ``"circular"`` (the other end, as for a closed outline: a shape's contour
            traced from an arbitrary starting point has no ends). With stride 1 throughout and average
            pooling the network is then invariant to circular shifts. In a batch of series of
            different lengths the shorter ones are zero-padded at the end first, so they wrap into
            that padding rather than onto their own start. ``configs/ucr.yaml`` keeps zeros:
            circular padding lost 4 of 289 held-out series on TRAIN folds of ten UCR sets (BENCHMARKS.md).
        pool_branch: one more branch in every block, InceptionTime's fourth (a max-pool over 3 samples
            of the block's input, then a 1x1 convolution to the branch width; ``fusion="concat"``
            only). ``configs/ucr.yaml`` leaves it off (BENCHMARKS.md, "InceptionTime's max-pool branch").
    """

    def __init__(
        self,
        in_ch: int = 12,
        num_classes: int = DEFAULT_NUM_CLASSES,
        *,
        layers: Sequence[int] = (1, 1, 1, 1),
        widths: Sequence[int] = (48, 96, 192, 384),
        block: Literal["basic", "bottleneck"] = "basic",
        kernel_sizes: Sequence[int] = (3, 5, 7),
        dilations: Sequence[int] | None = None,
        fusion: Fusion = "concat",
        branch_ratio: float | None = None,
        stem_width: int = 48,
        stem_kernel: int = 7,
        stem_stride: int = 2,
        stem_pool: bool = True,
        stem_filters: bool = False,
        stage_strides: Sequence[int] | None = None,
        avg_down: bool = False,
        se: bool = False,
        drop_path_rate: float = 0.0,
        dropout: float = 0.0,
        global_pool: Literal["avg", "max", "avgmax"] = "avg",
        norm_layer: type[nn.Module] = nn.BatchNorm1d,
        act_layer: type[nn.Module] = nn.ReLU,
        zero_init_last: bool = True,
        fuse_convs: bool = False,
        padding_mode: PaddingMode = "zeros",
        pool_branch: bool = False,
    ) -> None:
        super().__init__()
        if in_ch < 1:
            raise ValueError(f"in_ch must be >= 1, got {in_ch}")
        if num_classes < 0:
            raise ValueError(f"num_classes must be >= 0 (0 = no head), got {num_classes}")
        if len(layers) != len(widths):
            raise ValueError(f"layers {list(layers)} and widths {list(widths)} must have the same length")
        if stage_strides is None:
            stage_strides = (1,) + (2,) * (len(layers) - 1)
        if len(stage_strides) != len(layers):
            raise ValueError(f"stage_strides {list(stage_strides)} needs one entry per stage ({len(layers)})")
        if block not in ("basic", "bottleneck"):
            raise ValueError(f"block must be 'basic' or 'bottleneck', got {block!r}")
        block_cls = MultiScaleBlock1d if block == "basic" else MultiScaleBottleneck1d
        block_config = BlockConfig(kernel_sizes=tuple(kernel_sizes),
                                   dilations=None if dilations is None else tuple(dilations), fusion=fusion,
                                   branch_ratio=branch_ratio, se=se, avg_down=avg_down, norm_layer=norm_layer,
                                   act_layer=act_layer, fuse_convs=fuse_convs, padding_mode=padding_mode,
                                   pool_branch=pool_branch)

        self.in_ch = in_ch
        self.num_classes = num_classes
        self.kernel_sizes = tuple(kernel_sizes)

        stem_conv: nn.Module
        if stem_filters:
            stem_conv = HybridStem1d(in_ch, stem_width, stem_kernel, stem_stride, norm_layer=norm_layer,
                                     act_layer=act_layer)
            stem_out = stem_conv.out_channels
        else:
            stem_conv = ConvNormAct1d(in_ch, stem_width, stem_kernel, stem_stride, norm_layer=norm_layer,
                                      act_layer=act_layer, padding_mode=padding_mode)
            stem_out = stem_width
        self.stem = nn.Sequential(stem_conv, nn.MaxPool1d(3, 2, padding=1) if stem_pool else nn.Identity())
        reduction = stem_stride * (2 if stem_pool else 1)
        self.feature_info: list[dict[str, int | str]] = [
            {"num_chs": stem_out, "reduction": reduction, "module": "stem"}
        ]

        total_blocks = sum(layers)
        block_idx = 0
        ch = stem_out
        stages = []
        for i, (n_blocks, width, stride) in enumerate(zip(layers, widths, stage_strides)):
            out_ch = width * block_cls.expansion
            blocks = []
            for j in range(n_blocks):
                # Linear stochastic-depth rule (Huang et al. 2016): deeper blocks dropped more often.
                dpr = drop_path_rate * block_idx / max(total_blocks - 1, 1)
                blocks.append(block_cls(ch, out_ch, stride if j == 0 else 1, config=block_config, drop_path=dpr))
                ch = out_ch
                block_idx += 1
            reduction *= stride
            stages.append(nn.Sequential(*blocks))
            self.feature_info.append({"num_chs": ch, "reduction": reduction, "module": f"stages.{i}"})
        self.stages = nn.Sequential(*stages)
        self.total_stride = reduction
        # Two positions left after the last stage: BatchNorm needs > 1 value per channel when training
        # at batch size 1.
        self.min_input_length = 2 * reduction

        self.global_pool = GlobalPool1d(global_pool)
        self.num_features = ch * self.global_pool.multiplier
        self.head_drop = nn.Dropout(dropout)
        self.fc: nn.Module = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

        self._init_weights(zero_init_last)
        self.channels_last = False  # an execution choice, not architecture: set_channels_last

    def _init_weights(self, zero_init_last: bool) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1 / math.sqrt(m.in_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)
        if zero_init_last:
            for m in self.modules():
                if hasattr(m, "zero_init_last") and callable(m.zero_init_last):
                    m.zero_init_last()

    def blocks(self) -> list[nn.Module]:
        return [b for stage in self.stages for b in stage]

    def reset_classifier(self, num_classes: int) -> None:
        """Replace the head (e.g. fine-tuning on another label set); 0 removes it."""
        self.num_classes = num_classes
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def _check_input(self, x: torch.Tensor) -> None:
        if torch.jit.is_tracing() or torch.compiler.is_compiling():
            return
        if x.ndim != 3:
            raise ValueError(f"expected input (batch, channels, time), got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_ch:
            raise ValueError(f"expected {self.in_ch} input channels, got {x.shape[1]} (input shape {tuple(x.shape)})")
        if x.shape[-1] < self.min_input_length:
            raise ValueError(
                f"input length {x.shape[-1]} is below this network's minimum of {self.min_input_length} samples "
                f"(total stride {self.total_stride}); pad the signal or use a preset with less downsampling"
            )

    def channels_last_problems(self) -> list[str]:
        """Why :meth:`set_channels_last` cannot be used with this network (empty: it can)."""
        problems = []
        for name, m in self.named_modules():
            if isinstance(m, ConvNormAct1d) and not isinstance(m[1], nn.modules.batchnorm._BatchNorm):
                problems.append(f"{name}: norm layer {type(m[1]).__name__} (only BatchNorm)")
            elif isinstance(m, (SqueezeExcite1d, SelectiveKernelAttention, nn.AvgPool1d)):
                problems.append(f"{name}: {type(m).__name__} (se, fusion='attention', avg_down)")
            elif isinstance(m, _MultiScaleResidual) and m.fused is not None:
                problems.append(f"{name}: fuse_convs")
            elif isinstance(m, HybridStem1d):
                problems.append(f"{name}: stem_filters")
        return problems

    def set_channels_last(self, enabled: bool) -> None:
        """Run the stem and the stages as 2-D convolutions over ``(B, C, 1, T)`` in channels-last
        layout (:mod:`ts_resnet.layout`): the same parameters, outputs and gradients (tested), and a
        faster training step on CPU. The state dict does not change; a ``ValueError`` lists the
        options that have no 2-D path (squeeze-excitation, attention fusion, ``avg_down``,
        ``fuse_convs``, ``stem_filters``, norms other than BatchNorm)."""
        if enabled and (problems := self.channels_last_problems()):
            raise ValueError("no channels-last path for: " + "; ".join(problems))
        self.channels_last = bool(enabled)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, in_ch, T)`` -> last-stage features ``(B, C, T / total_stride)``."""
        self._check_input(x)
        if self.channels_last:
            x = to_2d(x)
            for m in self.stem:
                x = max_pool1d_as_2d(m, x) if isinstance(m, nn.MaxPool1d) else m(x)
            return self.stages(x).squeeze(2)
        return self.stages(self.stem(x))

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False,
                     lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Pool and classify; ``lengths`` (input samples per series, before zero padding) make the
        global pooling ignore the padded tail of variable-length batches."""
        valid = None
        if lengths is not None:
            valid = torch.div(lengths + self.total_stride - 1, self.total_stride, rounding_mode="floor")
        x = self.head_drop(self.global_pool(features, valid))
        return x if pre_logits else self.fc(x)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if lengths is None:  # equal lengths: no context to enter (one graph under torch.compile)
            return self.forward_head(self.forward_features(x))
        with padded_batch(lengths, x.shape[-1]):  # ts_resnet.padding: the padding stays out of the series
            features = self.forward_features(x)
        return self.forward_head(features, lengths=lengths)
