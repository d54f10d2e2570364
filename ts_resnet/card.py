"""The model card: everything needed to rebuild a trained network and feed it new recordings.

Written by the training module into every checkpoint (under the ``ts_resnet`` key) and by
``ts-resnet export --format safetensors`` as the JSON sidecar; read back by :func:`ModelCard.from_dict`,
which validates it, so a card from a newer ts_resnet, a truncated file or a hand-edited sidecar
fails with a message that names the field instead of a ``KeyError`` deep in inference.

Plain data only (numbers, strings, lists, dicts): checkpoints stay loadable with
``torch.load(weights_only=True)``. Needs no Lightning.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_args

from torch import nn

from .data.transforms import PreprocessConfig, default_stride
from .registry import build_network, layer_name, pin_changed_options
from .tasks import Task, TaskSpec, WindowAgg, check_task

#: Card layout this version writes and the newest it reads. Version 1: ts_resnet 0.2.0 checkpoints;
#: later fields are optional, so every version-1 card stays readable.
FORMAT_VERSION = 1


class ModelCardError(ValueError):
    """A model card that cannot be used; the message names the source and the field."""


@dataclass
class ModelCard:
    """What a trained model is and how to feed it.

    Attributes:
        arch: registered preset name (``ts_resnet.list_models()``).
        num_classes: number of classes (binary: 2).
        in_channels: input channels of the network.
        task: ``multiclass``, ``multilabel`` or ``binary``.
        class_names: one name per class, in output order.
        arch_options: keyword overrides of the preset (layer types as dotted names).
        channels: lead / channel names the network expects, in order.
        fs: sampling rate the network was trained at (None: rate-free series such as UCR's).
        window: window length in samples at ``fs`` (None: whole records).
        eval_stride: stride of evaluation windows (None: half a window).
        window_agg: how window scores of a record combine: ``mean`` or ``max``.
        preprocess: the preprocessing pipeline, with normalisation statistics from training.
        thresholds: per-class decision thresholds (multi-label/binary), None = 0.5.
        temperature: temperature scaling of the logits (one value, or one per output), None = 1.
        class_priors: training class frequencies for multi-class prior correction (decisions by
            argmax of ``p / prior``), None = plain argmax.
        extra: plain data written by wrappers (the scikit-learn estimator's parameters).
        format_version: card layout version (:data:`FORMAT_VERSION`).
    """

    arch: str
    num_classes: int
    in_channels: int
    task: Task
    class_names: list[str]
    arch_options: dict[str, Any] = field(default_factory=dict)
    channels: list[str] = field(default_factory=list)
    fs: float | None = None
    window: int | None = None
    eval_stride: int | None = None
    window_agg: str = "mean"
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    thresholds: list[float] | None = None
    temperature: list[float] | None = None
    class_priors: list[float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        # Pin the preset values that have changed before (registry.PRESET_HISTORY) so this card keeps
        # describing the same network whatever the preset becomes; a card read from a file that did
        # not pin them has been given their old values by from_dict already.
        self.arch_options = pin_changed_options(self.arch, layer_name(dict(self.arch_options or {})), legacy=False)
        self.class_names = [str(c) for c in self.class_names]
        self.channels = [str(c) for c in self.channels]

    # ---- derived -------------------------------------------------------------------------------
    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(self.task, self.num_classes)

    @property
    def num_outputs(self) -> int:
        return self.spec.num_outputs

    @property
    def stride(self) -> int | None:
        """Evaluation window stride (the one place its default is decided)."""
        return self.eval_stride or default_stride(self.window)

    def build_network(self) -> nn.Module:
        """The untrained network this card describes (load the weights into it)."""
        return build_network(self.arch, self.in_channels, self.num_outputs, self.arch_options)

    def preprocess_config(self, *, fill_missing_leads: str | None = None, nan_policy: str | None = None
                          ) -> PreprocessConfig:
        """The stored preprocessing, selecting the model's channels, with inference-time overrides."""
        cfg = self.preprocess
        if cfg.leads is None and self.channels:
            cfg = cfg.replace(leads=list(self.channels))
        if fill_missing_leads is not None:
            cfg = cfg.replace(fill_missing_leads=fill_missing_leads)
        if nan_policy is not None:
            cfg = cfg.replace(nan_policy=nan_policy)
        return cfg

    def replace(self, **changes: Any) -> ModelCard:
        return dataclasses.replace(self, **changes)

    # ---- plain data ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["preprocess"] = self.preprocess.to_dict()
        d["num_outputs"] = self.num_outputs  # redundant, kept for 0.2.0 readers
        if self.thresholds is None:
            d.pop("thresholds")
        if self.temperature is None:
            d.pop("temperature")
        if self.class_priors is None:
            d.pop("class_priors")
        if not self.extra:
            d.pop("extra")
        return d

    @classmethod
    def from_dict(cls, d: Any, source: str = "model card") -> ModelCard:
        """Validate and read a card; every problem is a :class:`ModelCardError` naming ``source``."""
        if not isinstance(d, dict):
            raise ModelCardError(f"{source}: expected a mapping of model settings, got {type(d).__name__}")
        d = dict(d)
        version = d.pop("format_version", None)
        if not isinstance(version, int) or version < 1:
            raise ModelCardError(f"{source}: no valid 'format_version' ({version!r}); not a ts_resnet model card")
        if version > FORMAT_VERSION:
            from . import __version__

            raise ModelCardError(
                f"{source}: model card format {version} was written by a newer ts_resnet; ts_resnet "
                f"{__version__} reads formats up to {FORMAT_VERSION}: upgrade ts_resnet to load it")
        num_outputs = d.pop("num_outputs", None)
        if "sklearn" in d:  # 0.2.0 estimators stored their state at the top level
            d.setdefault("extra", {})["sklearn"] = d.pop("sklearn")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ModelCardError(f"{source}: unknown model card fields {unknown} (format {version})")
        missing = sorted(f.name for f in dataclasses.fields(cls)
                         if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                         and f.name not in d)
        if missing:
            raise ModelCardError(f"{source}: model card lacks {missing}")
        try:
            check_task(d["task"])
            d["preprocess"] = PreprocessConfig.from_dict(d.get("preprocess") or {})
            d["arch_options"] = pin_changed_options(str(d["arch"]), dict(d.get("arch_options") or {}), legacy=True)
            card = cls(**d, format_version=version)
            spec = card.spec
        except (TypeError, ValueError) as e:
            raise ModelCardError(f"{source}: invalid model card ({e})") from None
        if len(card.class_names) != card.num_classes:
            raise ModelCardError(f"{source}: {len(card.class_names)} class names for num_classes={card.num_classes}")
        if num_outputs is not None and int(num_outputs) != spec.num_outputs:
            raise ModelCardError(f"{source}: num_outputs={num_outputs} does not fit a {card.task} task "
                                 f"with {card.num_classes} classes")
        if card.thresholds is not None and (len(card.thresholds) != card.num_classes
                                            or not all(0.0 <= float(t) <= 1.0 for t in card.thresholds)):
            raise ModelCardError(f"{source}: thresholds must be {card.num_classes} values in [0, 1]")
        if card.temperature is not None and (len(card.temperature) not in (1, spec.num_outputs)
                                             or not all(float(t) > 0 for t in card.temperature)):
            raise ModelCardError(f"{source}: temperature must be 1 or {spec.num_outputs} positive values")
        if card.class_priors is not None and (card.task != "multiclass" or len(card.class_priors) != card.num_classes
                                              or not all(float(v) > 0 for v in card.class_priors)):
            raise ModelCardError(f"{source}: class_priors must be {card.num_classes} positive values of a "
                                 "multi-class model")
        if card.window_agg not in get_args(WindowAgg):
            raise ModelCardError(f"{source}: window_agg must be 'mean' or 'max', got {card.window_agg!r}")
        return card


class CheckpointDataError(ValueError):
    """A checkpoint is being loaded into a model built for other data (:func:`data_differences`)."""


def data_differences(card: Mapping[str, Any], hparams: Mapping[str, Any]) -> list[str]:
    """What differs between the data a checkpoint's card was trained on and the data a model was built
    for (its ``hparams``): the task, input channels, number of classes, or the same classes in another
    order. With equal shapes and another order the weights would load and every record be scored
    against the wrong names, so the order counts. Empty when they agree (or a side does not say)."""
    differs = [f"{what} {card[key]} (this data: {hparams.get(key)})"
               for key, what in (("task", "task"), ("in_channels", "input channels"), ("num_classes", "classes"))
               if card.get(key) is not None and hparams.get(key) is not None and card[key] != hparams[key]]
    names, ours = card.get("class_names"), hparams.get("class_names")
    if not differs and names and ours and list(names) != list(ours):
        differs.append(f"classes {', '.join(map(str, names))} (this data: {', '.join(map(str, ours))})")
    return differs
