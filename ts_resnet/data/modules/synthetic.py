"""SyntheticECGDataModule: the embedded default dataset (no downloads)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from ..records import Record
from ..synthetic import CLASS_NAMES, make_dataset
from ..synthetic_hard import HARD_CLASS_NAMES, make_hard_dataset
from ..transforms import STANDARD_12_LEADS, PreprocessConfig
from .base import DatasetInfo, SignalDataModule, Split


class SyntheticECGDataModule(SignalDataModule):
    """Synthetic 12-lead ECGs (NSR / AF / tachycardia / bradycardia rhythms, bundle-branch-block QRS).

    ``label_set="hard"`` switches to the PTB-XL-shaped task of :mod:`ts_resnet.data.synthetic_hard`
    (AF, first-degree AV block, left/right bundle-branch block, ST elevation in one territory, LVH;
    multi-label) whose classes are not separable by heart rate; use ``num_records=21772`` with the
    default fractions for PTB-XL's 17,418 training records.  Synthetic data is a workload and a relative
    yardstick between models, never evidence of clinical accuracy.

    Args:
        num_records: records generated (split into train/val/test).
        fs: sampling rate of the generated signals (Hz).
        duration: seconds per record.
        task: ``"multilabel"`` (one rhythm + optional BBB) or ``"multiclass"`` (5 exclusive classes).
        bbb_prob: probability of a BBB morphology in the multi-label task.
        val_fraction: split sizes.
        test_fraction: split sizes.
        label_set: ``"rhythm"`` (the 5 classes above) or ``"hard"`` (6 PTB-XL-like findings).
        difficulty: for ``"hard"``: 0 = well separated classes, 1 = pathological ranges touching the
            normal ones, wide inter-patient variability, more noise.
    """

    def __init__(
        self,
        num_records: int = 1000,
        fs: float = 100.0,
        duration: float = 10.0,
        task: Literal["multilabel", "multiclass"] = "multilabel",
        bbb_prob: float = 0.3,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        label_set: Literal["rhythm", "hard"] = "rhythm",
        difficulty: float = 0.5,
        **kwargs: Any,
    ) -> None:
        if label_set not in ("rhythm", "hard"):
            raise ValueError(f"label_set must be 'rhythm' or 'hard', got {label_set!r}")
        if label_set == "hard" and task != "multilabel":
            raise ValueError("label_set='hard' is a multi-label task (findings co-occur); use task='multilabel'")
        if not 0.0 <= difficulty <= 1.0:
            raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
        self.label_set = label_set
        self.difficulty = difficulty
        self.num_records = num_records
        self.fs = fs
        self.duration = duration
        self.synthetic_task = task
        self.bbb_prob = bbb_prob
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        super().__init__(**kwargs)

    def default_preprocess(self) -> PreprocessConfig:
        return PreprocessConfig(fs=self.fs, leads=list(STANDARD_12_LEADS), normalize="zscore")

    def describe(self) -> DatasetInfo:
        names = HARD_CLASS_NAMES if self.label_set == "hard" else CLASS_NAMES
        return DatasetInfo(list(names), self.synthetic_task, list(STANDARD_12_LEADS), self.fs)

    def load_splits(self) -> dict[str, Split]:
        if self.label_set == "hard":
            x, y = make_hard_dataset(self.num_records, fs=self.fs, duration=self.duration, seed=self.seed,
                                     difficulty=self.difficulty)
        else:
            x, y = make_dataset(self.num_records, fs=self.fs, duration=self.duration, task=self.synthetic_task,
                                seed=self.seed, bbb_prob=self.bbb_prob)
        pre = self.preprocessor  # lead selection, resampling, filtering: the same pipeline as for files
        x = np.stack([pre(Record(s, self.fs, list(STANDARD_12_LEADS)), normalize=False) for s in x])
        ids = [f"synth{i:05d}" for i in range(len(x))]
        parts = self.split_records(y, val_fraction=self.val_fraction, test_fraction=self.test_fraction)
        return {name: Split(x[idx], y[idx], [ids[i] for i in idx]) for name, idx in parts.items()}
