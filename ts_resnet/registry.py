"""Named presets: ``create_model("msresnet18", in_ch=12, num_classes=5, **overrides)``.

A preset is a function that fixes some of :class:`MultiScaleResNet1d`'s keyword arguments; anything
passed to :func:`create_model` overrides them, so ``create_model("msresnet18", fusion="sum")`` is
the sum-fusion variant.  Unknown keywords raise a ``TypeError`` naming the preset and the keyword.
Every preset but one builds a :class:`MultiScaleResNet1d`; ``latefusion_ucr`` builds the benchmark's
comparator (:mod:`ts_resnet.comparators`), which takes the same keyword arguments.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from torch import nn

from .comparators import LateFusionResNet1d
from .network import MultiScaleResNet1d

_PRESETS: dict[str, Callable[..., nn.Module]] = {}
_DEFAULTS: dict[str, dict[str, Any]] = {}
_VALID_KEYS = set(inspect.signature(MultiScaleResNet1d.__init__).parameters) - {"self"}


def register_model(name: str, *, builder: Callable[..., nn.Module] = MultiScaleResNet1d, **defaults: Any) -> None:
    """Register a preset: a name plus the :class:`MultiScaleResNet1d` arguments it fixes. ``builder``
    is the class that takes them (another network that accepts the same keyword arguments, such as
    :class:`~ts_resnet.comparators.LateFusionResNet1d`)."""
    unknown = set(defaults) - _VALID_KEYS
    if unknown:
        raise TypeError(f"preset {name!r}: unknown MultiScaleResNet1d arguments {sorted(unknown)}")
    if name in _PRESETS:
        raise ValueError(f"a model named {name!r} is already registered")
    _DEFAULTS[name] = dict(defaults)

    def build(**overrides: Any) -> nn.Module:
        return builder(**{**_DEFAULTS[name], **overrides})

    build.__name__ = name
    _PRESETS[name] = build


def list_models() -> list[str]:
    """Names of all registered presets, sorted."""
    return sorted(_PRESETS)


def model_defaults(name: str) -> dict[str, Any]:
    """The arguments a preset fixes (a copy)."""
    _check_name(name)
    return dict(_DEFAULTS[name])


def create_model(name: str, **overrides: Any) -> nn.Module:
    """Build preset ``name``; ``overrides`` are :class:`MultiScaleResNet1d` keyword arguments."""
    _check_name(name)
    unknown = set(overrides) - _VALID_KEYS
    if unknown:
        raise TypeError(
            f"create_model({name!r}): unknown arguments {sorted(unknown)}; valid: {sorted(_VALID_KEYS)}"
        )
    return _PRESETS[name](**overrides)


def resolve_layer(value: Any) -> Any:
    """A layer type given by dotted name (``"torch.nn.GroupNorm"``, as YAML files and model cards
    store them) -> the type; anything else unchanged."""
    if isinstance(value, str) and "." in value:
        module, _, name = value.rpartition(".")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as e:
            raise ValueError(f"cannot resolve layer type {value!r}: {e}") from None
    return value


def layer_name(value: Any) -> Any:
    """The inverse of :func:`resolve_layer` for plain-data storage: types -> dotted names, recursively."""
    if isinstance(value, dict):
        return {str(k): layer_name(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [layer_name(v) for v in value]
    if isinstance(value, type):
        return f"{value.__module__}.{value.__qualname__}"
    return value


@dataclass
class NetworkOptions:
    """Typed overrides of a preset's :class:`MultiScaleResNet1d` arguments; ``None`` keeps the preset's
    value. This is ``--model.arch_options`` on the command line (``--model.arch_options.fusion
    attention``; every option is listed with its type by ``ts-resnet fit --help``) and
    ``model.arch_options`` in YAML. Layer types are dotted names (``torch.nn.GELU``).

    Attributes:
        layers: residual blocks per stage.
        widths: channels per stage.
        block: ``"basic"`` or ``"bottleneck"``.
        kernel_sizes: kernel length of each parallel branch.
        dilations: spacing of each branch's kernel taps, one per kernel length.
        fusion: ``"concat"``, ``"sum"`` or ``"attention"``.
        branch_ratio: branch width as a fraction of the block width.
        stem_width: channels of the stem convolution.
        stem_kernel: kernel length of the stem convolution.
        stem_stride: stride of the stem convolution.
        stem_pool: max-pool after the stem.
        stem_filters: 17 fixed hand-crafted trend/peak filters per input channel beside the stem.
        stage_strides: stride of each stage's first block.
        avg_down: ResNet-D shortcut when a block downsamples.
        se: squeeze-excitation in every block.
        drop_path_rate: stochastic depth of the last block.
        dropout: dropout before the classifier.
        global_pool: ``"avg"``, ``"max"`` or ``"avgmax"``.
        norm_layer: dotted name of the normalisation layer type.
        act_layer: dotted name of the activation layer type.
        zero_init_last: every block starts as the identity.
        fuse_convs: compute the branches' first convolutions as one.
        padding_mode: ``"zeros"`` or ``"circular"``: what the convolutions see beyond the series' ends.
        pool_branch: InceptionTime's max-pool branch beside the kernel branches of every block.
    """

    layers: list[int] | None = None
    widths: list[int] | None = None
    block: Literal["basic", "bottleneck"] | None = None
    kernel_sizes: list[int] | None = None
    dilations: list[int] | None = None
    fusion: Literal["concat", "sum", "attention"] | None = None
    branch_ratio: float | None = None
    stem_width: int | None = None
    stem_kernel: int | None = None
    stem_stride: int | None = None
    stem_pool: bool | None = None
    stem_filters: bool | None = None
    stage_strides: list[int] | None = None
    avg_down: bool | None = None
    se: bool | None = None
    drop_path_rate: float | None = None
    dropout: float | None = None
    global_pool: Literal["avg", "max", "avgmax"] | None = None
    norm_layer: str | None = None
    act_layer: str | None = None
    zero_init_last: bool | None = None
    fuse_convs: bool | None = None
    padding_mode: Literal["zeros", "circular"] | None = None
    pool_branch: bool | None = None

    @classmethod
    def parse(cls, value: NetworkOptions | dict[str, Any] | None) -> NetworkOptions:
        """Options from an instance, a plain dict (Python use, old checkpoints) or None; unknown keys
        are a ``TypeError`` naming them."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, dict):
            raise TypeError(f"network options must be NetworkOptions or a dict, got {type(value).__name__}")
        unknown = sorted(set(value) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise TypeError(f"unknown network options {unknown}; valid: {sorted(f.name for f in dataclasses.fields(cls))}")
        return cls(**layer_name(value))

    def to_dict(self) -> dict[str, Any]:
        """The options that are set, as plain data (what checkpoints store)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if getattr(self, f.name) is not None}

    def overrides(self) -> dict[str, Any]:
        """Keyword arguments for :func:`create_model` (layer names resolved to types)."""
        return {k: resolve_layer(v) for k, v in self.to_dict().items()}


def build_network(arch: str, in_channels: int, num_outputs: int,
                  options: NetworkOptions | dict[str, Any] | None = None) -> nn.Module:
    """The one place a classifier's network is built: by training (``SignalClassifier``) and by
    inference (``ModelCard.build_network``), so both always agree."""
    return create_model(arch, in_ch=in_channels, num_classes=num_outputs, **NetworkOptions.parse(options).overrides())


PRESET_HISTORY: dict[str, dict[str, Any]] = {
    # before 2026-11-29 (ts_resnet 0.2.0 development): half of ResNet-18's widths
    "msresnet_ecg": {"widths": [32, 64, 128, 256], "stem_width": 32},
}
"""Preset values that changed after checkpoints had been written with them: per preset, the keys that
changed and their *old* values. A model card names its preset and only the options the user set, so
without this a card written before a change would rebuild a different network than the one its
weights belong to. ``ModelCard`` fills missing keys from here when it reads a card, and pins the
current values of these keys into every card it writes, so the next change cannot break it either.
Append to this table whenever a published preset changes; never edit an entry."""


def pin_changed_options(arch: str, options: dict[str, Any], *, legacy: bool) -> dict[str, Any]:
    """``options`` with every key of :data:`PRESET_HISTORY` for ``arch`` filled in: with the values
    before the change (``legacy=True``: a card read from a file that did not pin them) or with the
    preset's current values (a card being written)."""
    changed = PRESET_HISTORY.get(arch)
    if not changed:
        return dict(options)
    source = changed if legacy else layer_name(model_defaults(arch))
    return {**{k: source[k] for k in changed}, **options}


def _check_name(name: str) -> None:
    if name not in _PRESETS:
        raise ValueError(f"unknown model {name!r}; registered: {', '.join(list_models())}")


# The default for 12-lead ECG at 100-500 Hz (what MultiScaleResNet1d() builds): the ResNet-18 plan at
# three quarters of its width with one block per stage, chosen by accuracy per cost on the synthetic
# PTB-XL-shaped task's validation split (BENCHMARKS.md, "default preset"): as accurate as msresnet18 at
# the same epochs for a quarter of its FLOPs. Width is what paid: at half width (the first version,
# PRESET_HISTORY) it was 2.5 AUROC points lower; depth, SE and longer kernels at half width gained less.
register_model("msresnet_ecg", widths=(48, 96, 192, 384), stem_width=48)
# ResNet-18/34/50 layouts (He et al. 2016) with three parallel kernel lengths per block, the choice of
# the published multi-scale 1D ResNet (3, 5, 7).
_RESNET_WIDTHS = {"widths": (64, 128, 256, 512), "stem_width": 64}
register_model("msresnet18", layers=(2, 2, 2, 2), **_RESNET_WIDTHS)
register_model("msresnet34", layers=(3, 4, 6, 3), **_RESNET_WIDTHS)
register_model("msresnet50", layers=(3, 4, 6, 3), block="bottleneck", **_RESNET_WIDTHS)
# Short univariate series (UCR: 24-300 samples): no stem downsampling and no stage strides, as in
# Wang et al. 2017's 1D ResNet (64-128-128), which keeps every time step to the global pool.
register_model(
    "msresnet_short", layers=(1, 1, 1), widths=(64, 128, 128), stem_width=64, stem_stride=1,
    stem_pool=False, stage_strides=(1, 1, 1),
)
# The UCR/UEA recipe's network (configs/ucr.yaml): InceptionTime's long kernels (Ismail Fawaz et al.
# 2020 use 10/20/40; odd lengths here for 'same' padding) in multi-scale bottleneck blocks - a 1x1
# reduction to 32 channels, three 32-wide branches, fused by a 1x1 expansion to 128 before the identity
# add of every block - with no downsampling, so every time step reaches the global pool.
register_model(
    "msresnet_ucr", block="bottleneck", layers=(1, 1, 1), widths=(32, 32, 32), kernel_sizes=(9, 19, 39),
    branch_ratio=1.0, stem_width=64, stem_stride=1, stem_pool=False, stage_strides=(1, 1, 1),
)
# Comparator, not a recommendation: msresnet_ucr's three kernel branches as three single-scale streams
# joined only after the global pool (geekfeiw's Multi-Scale-1D-ResNet layout), each stream as deep as
# msresnet_ucr. The same kernel taps; the 1x1 reductions, the first projection shortcut and the stem
# three times over: 1.14x the multiply-adds, 1.33x the CPU time on the 30 UCR sets. 90.55 against the
# recipe's 91.40 on TEST, seed 0, but level with it on seeds 1-3 of the 15 smallest sets (94.91 against
# 94.85): the in-block design's edge over it is cost (BENCHMARKS.md, "In-block against late fusion",
# "The design ablations on three more seeds").
_UCR = model_defaults("msresnet_ucr")
register_model("latefusion_ucr", builder=LateFusionResNet1d, **_UCR)
# A few-thousand-parameter network for smoke tests, CI and quick demos.
register_model(
    "msresnet_tiny", layers=(1, 1), widths=(16, 32), stem_width=16, stem_pool=False,
    stage_strides=(1, 2),
)
# Ablation baseline: the same ResNet-18 layout with one kernel length at full width (a plain basic
# block, since "sum" over one branch is just that branch).
register_model("resnet18_1d", layers=(2, 2, 2, 2), kernel_sizes=(5,), fusion="sum", branch_ratio=1.0,
               **_RESNET_WIDTHS)
