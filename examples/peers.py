"""Re-implementations of the two peer networks the speed benchmark compares against.

Written from the published descriptions (and checked layer by layer against the authors' public code),
so they run in the same process, on the same input, with the same optimiser:

* :class:`MSResNet` - the multi-scale 1D ResNet of Wang et al. (geekfeiw/Multi-Scale-1D-ResNet,
  ``multi_scale_ori.py``): a shared stem (conv k7 s2 -> BN -> ReLU -> max-pool s2), then three separate
  streams of basic residual blocks with kernel lengths 3, 5 and 7 (64, 128, 256 channels, each block
  stride 2), each stream average-pooled, the three concatenated before one linear layer.  As in the
  original, the k5/k7 convolutions use padding 1 (their outputs shrink and the shortcut is cropped).
  The original's fixed ``AvgPool1d(16 / 11 / 6)`` only fits its own input length; a global average
  pool stands in for it, which gives the same result at that length and works at any other.
* :func:`xresnet1d101` - the PTB-XL benchmark's best model (Strodthoff et al. 2021,
  ``code/models/xresnet1d.py``): fastai's XResNet in 1D - a three-conv stem (32, 32, 64 channels,
  kernel 5, first stride 2) and max-pool, bottleneck blocks (1x1 -> k5 -> 1x1, expansion 4) with 64
  hidden channels in every stage (the benchmark's ``block_szs = [64, 64, 64, 64]``), layers
  (3, 4, 23, 3), ResNet-D shortcuts (avg-pool, then 1x1 conv), zero-initialised last BN, and a
  concat-pooling head (avg + max -> BN -> dropout -> linear 128 -> ReLU -> BN -> dropout -> linear).

Neither is part of the package: they exist to be measured next to it.
"""

from __future__ import annotations

import torch
from torch import nn


class _StreamBlock(nn.Module):
    """MSResNet's basic block for one kernel length (padding 1 whatever the length, as published)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(in_ch, out_ch, kernel, stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm1d(out_ch)
        self.conv2 = nn.Conv1d(out_ch, out_ch, kernel, 1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm1d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.down = nn.Sequential(nn.Conv1d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm1d(out_ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x)))))
        residual = self.down(x)
        return self.relu(residual[..., : out.shape[-1]] + out)  # the published crop of the shortcut


class MSResNet(nn.Module):
    def __init__(self, in_ch: int = 12, num_classes: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv1d(in_ch, 64, 7, 2, padding=3, bias=False), nn.BatchNorm1d(64), nn.ReLU(inplace=True),
            nn.MaxPool1d(3, 2, padding=1),
        )
        self.streams = nn.ModuleList(
            nn.Sequential(_StreamBlock(64, 64, k, 2), _StreamBlock(64, 128, k, 2), _StreamBlock(128, 256, k, 2))
            for k in (3, 5, 7)
        )
        self.fc = nn.Linear(256 * 3, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.stem(x)
        return self.fc(torch.cat([s(h).mean(-1) for s in self.streams], dim=1))


def _conv_bn(in_ch: int, out_ch: int, kernel: int, stride: int = 1, *, act: bool = True,
             zero: bool = False) -> nn.Sequential:
    """fastai ConvLayer: conv (no bias) -> BN (bias 1e-3, weight 0 for the last of a block) -> ReLU."""
    bn = nn.BatchNorm1d(out_ch)
    nn.init.constant_(bn.bias, 1e-3)
    nn.init.constant_(bn.weight, 0.0 if zero else 1.0)
    layers: list[nn.Module] = [nn.Conv1d(in_ch, out_ch, kernel, stride, padding=(kernel - 1) // 2, bias=False), bn]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class _XBottleneck(nn.Module):
    def __init__(self, in_ch: int, hidden: int, out_ch: int, stride: int, kernel: int = 5) -> None:
        super().__init__()
        self.convs = nn.Sequential(
            _conv_bn(in_ch, hidden, 1), _conv_bn(hidden, hidden, kernel, stride),
            _conv_bn(hidden, out_ch, 1, act=False, zero=True),
        )
        idpath: list[nn.Module] = []
        if stride != 1:
            idpath.append(nn.AvgPool1d(2, ceil_mode=True))
        if in_ch != out_ch:
            idpath.append(_conv_bn(in_ch, out_ch, 1, act=False))
        self.idpath = nn.Sequential(*idpath)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.convs(x) + self.idpath(x))


class XResNet1d(nn.Module):
    def __init__(self, layers: tuple[int, ...], in_ch: int = 12, num_classes: int = 5, kernel: int = 5) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            _conv_bn(in_ch, 32, 5, 2), _conv_bn(32, 32, 5), _conv_bn(32, 64, 5), nn.MaxPool1d(3, 2, padding=1),
        )
        blocks, ch = [], 64
        for i, n in enumerate(layers):
            for j in range(n):
                blocks.append(_XBottleneck(ch, 64, 256, 2 if (i > 0 and j == 0) else 1, kernel))
                ch = 256
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.BatchNorm1d(2 * ch), nn.Dropout(0.25), nn.Linear(2 * ch, 128), nn.ReLU(inplace=True),
            nn.BatchNorm1d(128), nn.Dropout(0.5), nn.Linear(128, num_classes),
        )
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))
        return self.head(torch.cat([h.mean(-1), h.amax(-1)], dim=1))  # concat pooling


def xresnet1d101(in_ch: int = 12, num_classes: int = 5) -> XResNet1d:
    return XResNet1d((3, 4, 23, 3), in_ch, num_classes)


PEERS = {"MSResNet (Wang, geekfeiw)": MSResNet, "xresnet1d101 (PTB-XL benchmark)": xresnet1d101}
