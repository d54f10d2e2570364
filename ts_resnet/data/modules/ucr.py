"""UCRDataModule: UCR (.tsv) and UEA (.ts) archive datasets by name."""

from __future__ import annotations

import difflib
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..archives import read_ucr_tsv, read_uea_ts
from ..transforms import PreprocessConfig
from .base import DatasetInfo
from .series import SeriesDataModule, auto_batch_size, energy_below, recipe_normalize, znormalised

__all__ = ["UCRDataModule", "archive_file", "auto_batch_size", "energy_below", "znormalised"]


def archive_file(root: str | Path, dataset: str, split: str) -> Path:
    """``root/NAME/NAME_{split}.tsv`` (UCR) or ``.ts`` (UEA), whichever exists."""
    folder = Path(root) / dataset
    for suffix in (".tsv", ".ts"):
        f = folder / f"{dataset}_{split}{suffix}"
        if f.exists():
            return f
    hint = ""
    if not folder.is_dir() and Path(root).is_dir():
        # a misspelt name is the usual cause: offer the archive's nearest set names
        names = sorted(d.name for d in Path(root).iterdir() if d.is_dir())
        close = difflib.get_close_matches(dataset, names, n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(close)}?" if close else f"; {root} has {len(names)} set folder(s)"
    raise FileNotFoundError(f"{folder}: no {dataset}_{split}.tsv (UCR) or {dataset}_{split}.ts (UEA) found{hint}")


class UCRDataModule(SeriesDataModule):
    """A UCR/UEA dataset: ``root/NAME/NAME_TRAIN.tsv`` + ``_TEST.tsv`` (UCR) or ``.ts`` (UEA).

    Official TRAIN/TEST split; a stratified validation split is carved from TRAIN
    (``val_fraction=0`` trains on all of TRAIN and validates on nothing, the archive convention when
    reporting test accuracy).  Labels map to 0..K-1 with their names kept.  Normalisation: per-series
    z-score for univariate sets (the UCR archive's convention), optionally with a training-set-standardised
    copy of each series (``keep_level``); per-channel training-set statistics for multivariate (UEA) sets.
    It follows the number of channels, not the file format, because the UCR sets are also distributed as
    ``.ts`` (timeseriesclassification.com, aeon): the same set must get the same recipe from either file.
    Variable-length series are zero-padded per batch after normalisation and the network's pooling
    ignores the padding.

    Every series goes through the shared :class:`~ts_resnet.data.transforms.Preprocessor` (NaN repair,
    ``decimate``, normalisation), the same code ``classify`` replays from the checkpoint.

    Args:
        root: folder holding one sub-folder per dataset.
        dataset: dataset name, e.g. ``ECG5000`` or ``JapaneseVowels``.
        keep_level: also give the network every channel standardised with training-set statistics,
            beside its per-series z-score (``normalize="zscore_level"``: twice the channels), so each
            series' level and amplitude are not thrown away. None (the default, as in
            ``configs/ucr.yaml``) = :func:`~ts_resnet.data.modules.wants_level_channels`: when the training series are not
            z-normalised already (in the archive, most of its 2018 additions, e.g. DodgerLoopDay's
            traffic counts or PowerCons' kilowatts) and every class has at least two of them. On the
            benchmark it won big on some sets (DodgerLoopDay +12 points, AllGestureWiimoteX +6, and
            PickupGestureWiimoteZ +11, a set no recipe decision had seen) and lost 21 on Fungi, whose
            18 training series are one per class, hence the second condition (BENCHMARKS.md, "Level
            channels"). False = per-series z-score only. Multivariate (UEA) sets are standardised
            with training-set statistics either way; ``True`` adds the per-series z-score beside them.
        derivative: also give the network each channel's slope, z-scored on its own
            (``PreprocessConfig.derivative``: one more channel per signal channel). Off in the recipe:
            91.12 against 91.40 on the 30-set UCR benchmark's TEST, seed 0 (BENCHMARKS.md).
        position: also give the network each sample's position in the series, a ramp from -1 to +1 as
            one more channel (``PreprocessConfig.position``). Off in the recipe: 279 against 289
            held-out series on TRAIN folds of ten small UCR sets (BENCHMARKS.md).
        **kwargs: :class:`SeriesDataModule`'s ``val_fraction``, ``max_length``, ``keep_energy``,
            ``batch_size`` (None = the size rule), ``phase_jitter`` and ``variable_length``, and every data module's arguments.
    """

    def __init__(self, root: str, dataset: str, keep_level: bool | None = None, derivative: bool = False,
                 position: bool = False, **kwargs: Any) -> None:
        self.root = Path(root)
        self.dataset = dataset
        self.keep_level = keep_level
        self.derivative = derivative
        self.position = position
        self.id_prefix = dataset
        super().__init__(**kwargs)

    def default_preprocess(self) -> PreprocessConfig:
        # One rule for this module and ArrayDataModule(normalize="auto"): it follows the number of
        # channels, not the file format, so a UCR set read from .ts trains as from .tsv
        train, labels, _ = self._raw["TRAIN"]
        return PreprocessConfig(normalize=recipe_normalize(train, labels, self.keep_level), nan_policy="interpolate",
                                derivative=self.derivative, position=self.position)

    def _file(self, split: str) -> Path:
        return archive_file(self.root, self.dataset, split)

    @cached_property
    def _raw(self) -> dict[str, tuple[list[np.ndarray], list[str], list[str]]]:
        out = {}
        declared: list[str] = []
        for split in ("TRAIN", "TEST"):
            f = self._file(split)
            if f.suffix == ".tsv":
                series, labels = read_ucr_tsv(f)
            else:
                series, labels, header = read_uea_ts(f)
                declared = list(header.get("class_labels") or [])
            out[split] = (series, labels, declared)
        return out

    def describe(self) -> DatasetInfo:
        series, labels, declared = self._raw["TRAIN"]
        names = declared or sorted(set(labels), key=_label_sort_key)
        n_ch = series[0].shape[0]
        return DatasetInfo(names, "multiclass", [f"dim{i}" for i in range(n_ch)] if n_ch > 1 else ["ch0"], None)

    def source_name(self, split: str) -> str:
        return str(self._file(split))

    @property
    def label_source(self) -> str:
        return self.source_name("TRAIN")

    def raw_series(self) -> dict[str, tuple[list[np.ndarray], list[str]]]:
        return {split: (series, labels) for split, (series, labels, _) in self._raw.items()}


def _label_sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)
