"""Building blocks of the 1D multi-scale residual network.

The central piece is :class:`MultiScaleBlock1d`: a residual block whose residual branch is made of
parallel convolution branches with *different kernel lengths*, fused inside the block before the
identity is added.  Peers differ here: MSResNet (geekfeiw) runs separate streams and only concatenates
them before the classifier, InceptionTime adds a shortcut every third module.  Fusing inside every
block lets each stage pick, per channel, the time scale it needs (a narrow QRS at k=3 next to a broad
T wave at k=7) while keeping the ResNet property that a block can learn the identity.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from .block_options import DropPath, SelectiveKernelAttention, SqueezeExcite1d, create_act
from .layout import batch_norm_any_dim, conv1d_as_2d
from .padding import mask_padding, masked_batch_norm, padding_mask

Fusion = Literal["concat", "sum", "attention"]


PaddingMode = Literal["zeros", "circular"]


def circular_pad(x: torch.Tensor, pad: int) -> torch.Tensor:
    """``pad`` samples of wrap-around on both ends of the last axis; unlike ``F.pad(mode="circular")``
    it also works when ``pad`` exceeds the length (a 39-tap kernel on a 15-sample series)."""
    if pad == 0:
        return x
    n = x.shape[-1]
    reps = -(-pad // n)  # ceil
    tiled = torch.cat([x] * (2 * reps + 1), dim=-1)
    return tiled[..., reps * n - pad: reps * n + n + pad]


class ConvNormAct1d(nn.Sequential):
    """Conv1d (no bias, a norm follows) -> norm -> optional activation, 'same' padding for odd kernels
    (``dilation * (kernel_size // 2)`` samples each side): zeros, or with ``padding_mode="circular"``
    the other end of the series (the convolution is then built unpadded and the input wrapped first,
    so the 2-D channels-last path and the state dict are the same in both modes)."""

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        kernel_size: int = 3,
        stride: int = 1,
        *,
        groups: int = 1,
        dilation: int = 1,
        norm_layer: type[nn.Module] = nn.BatchNorm1d,
        act_layer: type[nn.Module] | None = nn.ReLU,
        padding_mode: PaddingMode = "zeros",
    ) -> None:
        if padding_mode not in ("zeros", "circular"):
            raise ValueError(f"padding_mode must be 'zeros' or 'circular', got {padding_mode!r}")
        pad = dilation * (kernel_size // 2)
        layers: list[nn.Module] = [
            nn.Conv1d(in_ch, out_ch, kernel_size, stride, padding=pad if padding_mode == "zeros" else 0,
                      dilation=dilation, groups=groups, bias=False),
            norm_layer(out_ch),
        ]
        if act_layer is not None:
            layers.append(create_act(act_layer))
        super().__init__(*layers)
        self.wrap = pad if padding_mode == "circular" else 0

    @property
    def norm(self) -> nn.Module:
        return self[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self[0].kernel_size[0] > 1:  # a 1x1 convolution cannot carry the padding into a series
            x = mask_padding(x)
        x = circular_pad(x, self.wrap)
        # (B, C, 1, T) channels-last: MultiScaleResNet1d.set_channels_last
        return self.after_conv(conv1d_as_2d(self[0], x) if x.ndim == 4 else self[0](x))

    def after_conv(self, x: torch.Tensor) -> torch.Tensor:
        """Norm and activation only (for a convolution computed elsewhere, e.g. fused)."""
        norm, *act = list(self)[1:]
        keep = padding_mask(x) if norm.training and _maskable(norm) else None
        if keep is not None:  # a zero-padded batch in training: statistics of the series' own samples
            x = masked_batch_norm(norm, x, keep)
        else:
            x = batch_norm_any_dim(norm, x) if x.ndim == 4 else norm(x)
        for module in act:
            x = module(x)
        return x


class MaxPoolBranch(nn.Module):
    """InceptionTime's fourth branch (Ismail Fawaz et al. 2020): a max-pool over 3 samples of the
    block's input, then a 1x1 convolution -> norm -> optional activation to the branch width. It gives
    the block a local, shift-tolerant maximum beside the kernel branches' linear filters, for the cost
    of one 1x1 convolution. In a zero-padded batch the pool never sees the padding (it is ``-inf``
    there, as beyond the series' ends), so a series scores the same alone or padded. ``circular``: the
    pool wraps around the series' ends, as the kernel branches do with ``padding_mode="circular"``.

    The pool is ``nn.MaxPool1d(3, stride, padding=1)`` computed as two element-wise maxima of shifted
    views (the same values, tested): ``torch.export`` keeps the series length dynamic through slices,
    where MaxPool1d's output-length formula made it specialise the length to the example's."""

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, *, norm_layer: type[nn.Module] = nn.BatchNorm1d,
                 act_layer: type[nn.Module] | None = nn.ReLU, circular: bool = False) -> None:
        super().__init__()
        self.stride = stride
        self.circular = circular
        self.proj = ConvNormAct1d(in_ch, out_ch, 1, norm_layer=norm_layer, act_layer=act_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        keep = padding_mask(x)
        if keep is not None:
            x = x.masked_fill(keep == 0, float("-inf"))
        x = circular_pad(x, 1) if self.circular else nn.functional.pad(x, (1, 1), value=float("-inf"))
        x = torch.maximum(torch.maximum(x[..., :-2], x[..., 1:-1]), x[..., 2:])[..., ::self.stride]
        if keep is not None:  # windows wholly inside the padding gave -inf: back to zeros
            x = x.masked_fill(padding_mask(x) == 0, 0.0)
        return self.proj(x)

    def extra_repr(self) -> str:
        return f"kernel_size=3, stride={self.stride}, circular={self.circular}"


def _maskable(norm: nn.Module) -> bool:
    # SyncBatchNorm pools statistics across processes (mask-free); other norms have no batch statistics
    return isinstance(norm, nn.modules.batchnorm._BatchNorm) and not isinstance(norm, nn.SyncBatchNorm)


class MultiKernelConv1d(nn.Module):
    """The first convolution of every branch, run as *one* convolution.

    Every branch keeps its own ``Conv1d`` (its own weights, its own state-dict entry); the forward pass
    zero-pads each kernel to the longest length and concatenates them along the output channels, so
    one wide convolution does the work of ``n`` narrow ones.  A length-``k`` kernel centred in ``K``
    taps with padding ``K // 2`` gives exactly the output of the length-``k`` kernel with padding
    ``k // 2``, so the mathematics is unchanged; the gradient of the padding is zero.  The layer alone
    ran 1.5x faster than three separate convolutions in a single-thread micro-benchmark, but whole
    networks on 2 CPU threads were not faster (BENCHMARKS.md), so blocks use it only when asked.
    A dilated kernel (``k`` taps ``d`` apart) is first written as the dense ``d * (k - 1) + 1``-tap
    kernel with zeros between its taps, which is the same convolution.
    """

    def __init__(self, convs: Sequence[nn.Conv1d], *, circular: bool = False) -> None:
        super().__init__()
        first = convs[0]
        self.circular = circular  # the branches wrap the series around instead of zero-padding it
        for c in convs:
            if (c.in_channels, c.stride, c.groups, c.bias is None) != (
                    first.in_channels, first.stride, first.groups, first.bias is None):
                raise ValueError("fused branch convolutions must share input channels, stride, groups and bias")
        self.convs = list(convs)  # not registered: the branches own them (state dict unchanged)
        self.kmax = max(_span(c) for c in convs)
        self.splits = [c.out_channels for c in convs]

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        weight = torch.cat([
            nn.functional.pad(_dense_weight(c), ((self.kmax - _span(c)) // 2,) * 2) for c in self.convs
        ])
        bias = torch.cat([c.bias for c in self.convs]) if self.convs[0].bias is not None else None
        first = self.convs[0]
        pad = self.kmax // 2
        x = mask_padding(x)
        if self.circular:
            x, pad = circular_pad(x, pad), 0
        y = nn.functional.conv1d(x, weight, bias, first.stride, pad, 1, first.groups)
        return list(y.split(self.splits, dim=1))


def _span(conv: nn.Conv1d) -> int:
    """Samples a (possibly dilated) kernel covers: ``dilation * (k - 1) + 1``."""
    return conv.dilation[0] * (conv.kernel_size[0] - 1) + 1


def _dense_weight(conv: nn.Conv1d) -> torch.Tensor:
    """The kernel as an undilated one: the taps ``dilation`` apart, zeros between them."""
    d = conv.dilation[0]
    if d == 1:
        return conv.weight
    dense = conv.weight.new_zeros(*conv.weight.shape[:2], _span(conv))
    dense[..., ::d] = conv.weight  # a differentiable copy: gradients reach the branch's weight
    return dense


@dataclass(frozen=True)
class BlockConfig:
    """How the multi-scale blocks of a network are built: one object passed to every block, instead
    of the same keywords repeated per block (stochastic depth, which varies per block, is separate).

    Attributes:
        kernel_sizes: kernel length of each parallel branch; one entry gives a single-scale block.
        dilations: spacing of each branch's kernel taps (None = 1 for every branch). A branch of
            kernel ``k`` and dilation ``d`` sees ``d * (k - 1) + 1`` samples at the cost of ``k`` taps,
            so long receptive fields stay cheap (MiniRocket's kernels are 9 taps at many dilations).
        fusion: ``"concat"``, ``"sum"`` or ``"attention"`` (see :class:`MultiScaleBlock1d`).
        branch_ratio: branch width as a fraction of the block width (default ``1/len(kernel_sizes)``).
        se: squeeze-excitation after the fusion.
        avg_down: ResNet-D shortcut (avg-pool + 1x1) when the block downsamples.
        norm_layer: normalisation layer type.
        act_layer: activation layer type.
        fuse_convs: run the branches' first convolutions as one (:class:`MultiKernelConv1d`).
        padding_mode: what the k-length convolutions see beyond the ends of the series: ``"zeros"``
            or ``"circular"`` (the other end; see :class:`ConvNormAct1d`).
        pool_branch: one more branch beside the kernel branches, InceptionTime's fourth: a max-pool
            (3 samples, stride 1) over the block's input and a 1x1 convolution to the branch width
            (:class:`MaxPoolBranch`). ``"concat"`` fusion only.
    """

    kernel_sizes: tuple[int, ...] = (3, 5, 7)
    dilations: tuple[int, ...] | None = None
    fusion: Fusion = "concat"
    branch_ratio: float | None = None
    se: bool = False
    avg_down: bool = False
    norm_layer: type[nn.Module] = nn.BatchNorm1d
    act_layer: type[nn.Module] = nn.ReLU
    fuse_convs: bool = False
    padding_mode: PaddingMode = "zeros"
    pool_branch: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "kernel_sizes", tuple(int(k) for k in self.kernel_sizes))
        _check_kernels(self.kernel_sizes)
        if self.dilations is not None:
            object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))
            if len(self.dilations) != len(self.kernel_sizes) or min(self.dilations) < 1:
                raise ValueError(f"dilations must be one integer >= 1 per kernel length {list(self.kernel_sizes)}, "
                                 f"got {list(self.dilations)}")
        if self.fusion not in ("concat", "sum", "attention"):
            raise ValueError(f"fusion must be 'concat', 'sum' or 'attention', got {self.fusion!r}")
        if self.padding_mode not in ("zeros", "circular"):
            raise ValueError(f"padding_mode must be 'zeros' or 'circular', got {self.padding_mode!r}")
        if self.pool_branch and self.fusion != "concat":
            raise ValueError(f"pool_branch needs fusion='concat' (its output is concatenated with the kernel "
                             f"branches'), got fusion={self.fusion!r}")

    def branch_shapes(self) -> list[tuple[int, int]]:
        """``(kernel length, dilation)`` of each branch."""
        return list(zip(self.kernel_sizes, self.dilations or (1,) * len(self.kernel_sizes)))


class _MultiScaleResidual(nn.Module):
    """What both multi-scale blocks share: validation, branch fusion and the residual tail
    (``act(drop_path(se(residual(x))) + shortcut(x))``).  Subclasses build ``branches`` and define
    :meth:`residual`."""

    expansion = 1

    def __init__(self, in_ch: int, out_ch: int, stride: int, config: BlockConfig | None, drop_path: float) -> None:
        super().__init__()
        config = config or BlockConfig()
        self.fused: MultiKernelConv1d | None = None
        self.config = config
        self.fusion = config.fusion
        self.kernel_sizes = config.kernel_sizes
        self.se = SqueezeExcite1d(out_ch, act_layer=config.act_layer) if config.se else nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.shortcut = make_shortcut(in_ch, out_ch, stride, avg_down=config.avg_down, norm_layer=config.norm_layer)
        self.act = create_act(config.act_layer)
        # each branch's share of the block width (default: 1/n, so n branches cost about one)
        self.branch_ratio = 1.0 / len(config.kernel_sizes) if config.branch_ratio is None else config.branch_ratio

    def combine(self, outs: list[torch.Tensor]) -> torch.Tensor:
        """Fuse the branch outputs: concatenate, add, or weight with selective-kernel attention."""
        if self.fusion == "concat":
            return torch.cat(outs, dim=1)
        if self.fusion == "attention":
            return self.attend(torch.stack(outs, dim=1))
        return torch.stack(outs, dim=0).sum(0)

    def last_norms(self) -> list[nn.Module]:
        """The norms that end the residual branch: zero them and the block is the identity."""
        raise NotImplementedError

    def zero_init_last(self) -> None:
        for norm in self.last_norms():
            nn.init.zeros_(norm.weight)

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def branch_first_convs(self) -> list[nn.Conv1d]:
        raise NotImplementedError

    def set_fused(self, fused: bool) -> None:
        """Switch between one fused first convolution and separate ones (same weights, same outputs)."""
        # a plain attribute holding the branches' convs: the state dict and parameters() are unchanged
        object.__setattr__(self, "fused", MultiKernelConv1d(self.branch_first_convs(),
                                                            circular=self.config.padding_mode == "circular")
                           if fused and len(self.kernel_sizes) > 1 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop_path(self.se(self.residual(x))) + self.shortcut(x))


class MultiScaleBlock1d(_MultiScaleResidual):
    """Residual block with parallel multi-kernel branches fused before the identity add.

    ::

        x ──┬── conv k1 ─ BN ─ ReLU ─ conv k1 ─ BN ──┐
            ├── conv k2 ─ BN ─ ReLU ─ conv k2 ─ BN ──┼─ fuse ─ [SE] ─ drop-path ──(+)── ReLU
            ├── conv k3 ─ BN ─ ReLU ─ conv k3 ─ BN ──┘                            │
            └────────────── identity or 1x1 conv + BN (projection) ──────────────┘

    ``fusion``:
      * ``"concat"``: concatenate branches -> 1x1 conv -> BN (the BN is the block's last norm);
      * ``"sum"``: add the branches (each branch's last BN is a last norm);
      * ``"attention"``: selective-kernel softmax over branches (as ``"sum"``, weighted per sample).

    Branch width: each branch is ``branch_ratio * out_ch`` wide (default ``1 / len(kernel_sizes)``,
    so three branches together cost about what one basic block costs).  With ``"sum"``/``"attention"``
    every branch must end at ``out_ch`` channels so they can be added; only the inner width shrinks.

    ``fuse_convs``: run the branches' first convolutions as one (:class:`MultiKernelConv1d`; same
    outputs, same weights).  Off by default: on CPU (oneDNN, torch 2.14) it was not faster for whole
    networks (BENCHMARKS.md); it is there to be measured per device.

    Args:
        in_ch: input channels.
        out_ch: output channels.
        stride: stride of the first convolutions (and of the projection shortcut).
        config: kernel lengths, fusion, layers... (:class:`BlockConfig`; default: its defaults).
        drop_path: stochastic-depth probability of this block.
    """

    expansion = 1

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, *, config: BlockConfig | None = None,
                 drop_path: float = 0.0) -> None:
        super().__init__(in_ch, out_ch, stride, config, drop_path)
        config = self.config
        fusion, n = config.fusion, len(config.kernel_sizes)
        norm_layer, act_layer = config.norm_layer, config.act_layer
        mid = max(8, int(round(out_ch * self.branch_ratio)))
        branch_out = mid if fusion == "concat" else out_ch
        self.branches = nn.ModuleList(
            nn.Sequential(
                ConvNormAct1d(in_ch, mid, k, stride, dilation=d, norm_layer=norm_layer, act_layer=act_layer,
                              padding_mode=config.padding_mode),
                ConvNormAct1d(mid, branch_out, k, 1, dilation=d, norm_layer=norm_layer, act_layer=None,
                              padding_mode=config.padding_mode),
            )
            for k, d in config.branch_shapes()
        )
        self.pool_branch = make_pool_branch(in_ch, branch_out, stride, config, act_layer=None)
        if fusion == "concat":
            self.fuse = ConvNormAct1d(branch_out * (n + int(config.pool_branch)), out_ch, 1, norm_layer=norm_layer,
                                      act_layer=None)
        elif fusion == "attention":
            self.attend = SelectiveKernelAttention(out_ch, n, act_layer=act_layer)
        self.set_fused(config.fuse_convs)  # once the branches exist

    def last_norms(self) -> list[nn.Module]:
        if self.fusion == "concat":
            return [self.fuse.norm]
        return [branch[-1].norm for branch in self.branches]

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        if self.fused is not None:
            firsts = self.fused(x)  # conv only: each branch's own norm + activation follow
            outs = [b[1](b[0].after_conv(h)) for b, h in zip(self.branches, firsts)]
        else:
            outs = [branch(x) for branch in self.branches]
        if self.pool_branch is not None:
            outs.append(self.pool_branch(x))
        h = self.combine(outs)
        return self.fuse(h) if self.fusion == "concat" else h

    def branch_first_convs(self) -> list[nn.Conv1d]:
        return [b[0][0] for b in self.branches]


class MultiScaleBottleneck1d(_MultiScaleResidual):
    """Bottleneck block (1x1 reduce -> parallel k-length convs, fused -> 1x1 expand), expansion 4.

    The multi-scale part is the middle convolution: one branch per kernel length, each
    ``width / n`` wide for ``"concat"`` (concatenated back to ``width``) or ``width`` wide for
    ``"sum"``/``"attention"``.  The expanding 1x1 conv's BN is the block's last norm.

    Args: as :class:`MultiScaleBlock1d`.
    """

    expansion = 4

    def __init__(self, in_ch: int, out_ch: int, stride: int = 1, *, config: BlockConfig | None = None,
                 drop_path: float = 0.0) -> None:
        super().__init__(in_ch, out_ch, stride, config, drop_path)
        config = self.config
        fusion, n = config.fusion, len(config.kernel_sizes)
        norm_layer, act_layer = config.norm_layer, config.act_layer
        width = out_ch // self.expansion
        branch_w = max(8, int(round(width * self.branch_ratio))) if fusion == "concat" else width
        self.reduce = ConvNormAct1d(in_ch, width, 1, norm_layer=norm_layer, act_layer=act_layer)
        self.branches = nn.ModuleList(
            ConvNormAct1d(width, branch_w, k, stride, dilation=d, norm_layer=norm_layer, act_layer=act_layer,
                          padding_mode=config.padding_mode)
            for k, d in config.branch_shapes()
        )
        if fusion == "attention":
            self.attend = SelectiveKernelAttention(width, n, act_layer=act_layer)
        # InceptionTime pools the module's input, not the bottleneck's output
        self.pool_branch = make_pool_branch(in_ch, branch_w, stride, config, act_layer=act_layer)
        fused_w = branch_w * (n + int(config.pool_branch)) if fusion == "concat" else width
        self.expand = ConvNormAct1d(fused_w, out_ch, 1, norm_layer=norm_layer, act_layer=None)
        self.set_fused(config.fuse_convs)  # once the branches exist

    def last_norms(self) -> list[nn.Module]:
        return [self.expand.norm]

    def residual(self, x: torch.Tensor) -> torch.Tensor:
        h = self.reduce(x)
        if self.fused is not None:
            outs = [b.after_conv(y) for b, y in zip(self.branches, self.fused(h))]
        else:
            outs = [branch(h) for branch in self.branches]
        if self.pool_branch is not None:
            outs.append(self.pool_branch(x))
        return self.expand(self.combine(outs))

    def branch_first_convs(self) -> list[nn.Conv1d]:
        return [b[0] for b in self.branches]


def make_pool_branch(in_ch: int, width: int, stride: int, config: BlockConfig,
                     act_layer: type[nn.Module] | None) -> MaxPoolBranch | None:
    """The block's max-pool branch when ``config.pool_branch`` asks for one (else None), wrapping
    around the ends when the kernel branches do."""
    if not config.pool_branch:
        return None
    return MaxPoolBranch(in_ch, width, stride, norm_layer=config.norm_layer, act_layer=act_layer,
                         circular=config.padding_mode == "circular")


def make_shortcut(in_ch: int, out_ch: int, stride: int, *, avg_down: bool,
                  norm_layer: type[nn.Module]) -> nn.Module:
    """Identity when shapes match, else a 1x1 projection (+BN); ``avg_down`` gives ResNet-D's
    avg-pool-then-1x1 shortcut, which does not throw away 3 of every 4 inputs as a strided 1x1 does."""
    if stride == 1 and in_ch == out_ch:
        return nn.Identity()
    if avg_down and stride > 1:
        return nn.Sequential(
            nn.AvgPool1d(stride, stride, ceil_mode=True, count_include_pad=False),
            ConvNormAct1d(in_ch, out_ch, 1, norm_layer=norm_layer, act_layer=None),
        )
    return ConvNormAct1d(in_ch, out_ch, 1, stride, norm_layer=norm_layer, act_layer=None)


def _check_kernels(kernel_sizes: Sequence[int]) -> None:
    if not kernel_sizes:
        raise ValueError("kernel_sizes must name at least one kernel length")
    for k in kernel_sizes:
        if k < 1 or k % 2 == 0:
            raise ValueError(f"kernel lengths must be odd and positive (for 'same' padding), got {list(kernel_sizes)}")


class GlobalPool1d(nn.Module):
    """Global pooling over time: ``"avg"``, ``"max"`` or ``"avgmax"`` (concatenated, doubles features)."""

    def __init__(self, pool_type: Literal["avg", "max", "avgmax"] = "avg") -> None:
        super().__init__()
        if pool_type not in ("avg", "max", "avgmax"):
            raise ValueError(f"global_pool must be 'avg', 'max' or 'avgmax', got {pool_type!r}")
        self.pool_type = pool_type

    @property
    def multiplier(self) -> int:
        return 2 if self.pool_type == "avgmax" else 1

    def forward(self, x: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
        """``valid``: optional per-sample number of valid (unpadded) time steps of ``x``; padded
        steps are then left out of the average and the maximum."""
        if valid is None:
            avg, mx = (x.mean(-1) if self.pool_type != "max" else None), (
                x.amax(-1) if self.pool_type != "avg" else None)
        else:
            mask = torch.arange(x.shape[-1], device=x.device)[None, :] < valid[:, None]  # (B, T)
            mask = mask.unsqueeze(1)
            avg = (x * mask).sum(-1) / valid.clamp(min=1).unsqueeze(1).to(x.dtype)
            mx = x.masked_fill(~mask, float("-inf")).amax(-1)
        if self.pool_type == "avg":
            return avg
        if self.pool_type == "max":
            return mx
        return torch.cat([avg, mx], dim=1)


@torch.no_grad()
def fold_batchnorm(net: nn.Module) -> nn.Module:
    """Fold every ``ConvNormAct1d``'s BatchNorm into its convolution, in place, for inference.

    In eval mode BatchNorm is an affine map per channel, ``y = (x - mean) * g / sqrt(var + eps) + b``,
    so it can live in the convolution's weights and bias: one pass over memory fewer per layer, same
    outputs (to float rounding).  Only for inference: the result has no norms to train, and its state
    dict no longer matches the unfolded architecture (export and explain use the unfolded network).
    """
    for m in net.modules():
        if isinstance(m, ConvNormAct1d) and isinstance(m[1], nn.BatchNorm1d) and m[1].track_running_stats:
            conv, bn = m[0], m[1]
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            bias = bn.bias - bn.running_mean * scale
            if conv.bias is not None:
                bias = bias + conv.bias * scale
            conv.weight.mul_(scale.view(-1, 1, 1))
            conv.bias = nn.Parameter(bias)
            m[1] = nn.Identity()
    return net.eval()


__all__ = [
    "ConvNormAct1d",
    "fold_batchnorm",
    "MultiKernelConv1d",
    "DropPath",
    "GlobalPool1d",
    "MultiScaleBlock1d",
    "MultiScaleBottleneck1d",
    "SelectiveKernelAttention",
    "SqueezeExcite1d",
    "make_shortcut",
]
