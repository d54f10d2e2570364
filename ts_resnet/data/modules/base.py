"""Shared machinery of all data modules: preprocessing, normalisation fitted on train, windows, loaders."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader

from ..datasets import SignalDataset, collate_windows
from ..transforms import Augment, PreprocessConfig, Preprocessor, default_stride, fit_channel_stats

Task = Literal["multiclass", "multilabel", "binary"]


@dataclass
class Split:
    """Preprocessed (not yet normalised) signals of one split, with targets and record ids.

    ``phases``: other samplings of the same records, indexed like ``signals`` (the decimated series'
    other sampling phases, :class:`~ts_resnet.data.modules.SeriesDataModule`'s ``phase_jitter``);
    training items are drawn from ``signals`` or one of them at random. None = ``signals`` only.
    """

    signals: list[np.ndarray] | np.ndarray
    targets: np.ndarray
    ids: list[str]
    phases: list[list[np.ndarray] | np.ndarray] | None = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class CacheInfo:
    """What :meth:`FileDataModule.prepare` left on disk."""

    folder: Path
    records: int
    skipped: int
    decoded: bool  # False: a valid cache was already there


@dataclass
class DatasetInfo:
    """What the model needs to know about the data before seeing any of it."""

    class_names: list[str]
    task: Task
    channels: list[str]
    fs: float | None


class SignalDataModule(L.LightningDataModule):
    """Base class: subclasses implement :meth:`describe` (cheap metadata) and :meth:`load_splits`.

    Args (shared by every data module):
        preprocess: resampling, lead selection, filtering and normalisation (``PreprocessConfig``);
            None = the data module's default. Stored in checkpoints and replayed by ``classify``.
        batch_size: records per batch (evaluation windows of a record stay together).
        num_workers: DataLoader worker processes.
        window: training crop / evaluation window length in samples at the target rate
            (None = whole records).
        eval_stride: evaluation window stride in samples (default ``window // 2``).
        augment: training-only augmentations.
        seed: seed of the train/val/test split where the dataset has no official one.
        drop_last: drop each training epoch's short last batch (when the training split holds more
            than one batch). Without it a 20-series set at batch 16 alternates steps of 16 and 4
            series, so half of its optimiser steps are on four series; every step is a full batch
            with it. Evaluation always sees every record. (The UCR recipe keeps the short batches:
            dropping them lowered its TEST accuracy; BENCHMARKS.md, "Full batches only".)
    """

    def __init__(
        self,
        *,
        preprocess: PreprocessConfig | None = None,
        batch_size: int = 32,
        num_workers: int = 0,
        window: int | None = None,
        eval_stride: int | None = None,
        augment: Augment | None = None,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        super().__init__()
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if window is not None and window < 1:
            raise ValueError(f"window must be >= 1 sample, got {window}")
        self.preprocess = preprocess if preprocess is not None else self.default_preprocess()
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.window = window
        self.eval_stride = eval_stride
        self.augment = augment
        self.seed = seed
        self.drop_last = drop_last
        self.splits: dict[str, Split] = {}
        self.datasets: dict[str, SignalDataset] = {}

    # ---- to implement -------------------------------------------------------------------------
    def default_preprocess(self) -> PreprocessConfig:
        return PreprocessConfig()

    def describe(self) -> DatasetInfo:
        """Class names, task, channel names and rate, without decoding signals."""
        raise NotImplementedError

    def load_splits(self) -> dict[str, Split]:
        """``{"train": ..., "val": ..., "test": ...}`` preprocessed with ``self.preprocessor(normalize=False)``."""
        raise NotImplementedError

    # ---- split policy (one place for every module) ---------------------------------------------
    def split_records(
        self,
        targets: np.ndarray,
        *,
        official: list[str] | None = None,
        groups: np.ndarray | list[str] | None = None,
        val_fraction: float = 0.0,
        test_fraction: float = 0.0,
    ) -> dict[str, np.ndarray]:
        """Indices of ``train``/``val``/``test``: the source's official split when it has one
        (``official[i]`` names record i's split), otherwise a stratified split drawn with
        ``self.seed`` - group-aware when ``groups`` (e.g. patient ids) is given.

        An official split that puts one group in two splits is reported (a patient-level leak)."""
        import warnings

        if official is not None:
            names = [str(s).strip().lower() for s in official]
            bad = sorted({s for s in names if s not in ("train", "val", "test")})
            if bad:
                raise ValueError(f"{type(self).__name__}: split values must be train/val/test, got {bad}")
            parts = {s: np.array([i for i, n in enumerate(names) if n == s], dtype=int) for s in ("train", "val", "test")}
            if groups is not None:
                g = np.asarray(groups)
                seen: dict[str, set[str]] = {}
                for s, idx in parts.items():
                    for value in set(g[idx].tolist()):
                        seen.setdefault(value, set()).add(s)
                leaked = sorted(v for v, s in seen.items() if len(s) > 1)
                if leaked:
                    warnings.warn(f"{type(self).__name__}: {len(leaked)} group(s) appear in more than one split "
                                  f"(e.g. {leaked[:3]}): records of one patient in train and test inflate scores",
                                  stacklevel=2)
            return parts
        tr, va, te = split_indices(targets, (val_fraction, test_fraction), self.seed,
                                   None if groups is None else np.asarray(groups))
        return {"train": tr, "val": va, "test": te}

    # ---- metadata (linked into the model by the CLI) -------------------------------------------
    @cached_property
    def info(self) -> DatasetInfo:
        info = self.describe()
        if len(info.class_names) < 2:
            # torchmetrics would stop the run later with "num_classes ... larger than 1", naming no file
            raise ValueError(f"{self.label_source}: {len(info.class_names)} class(es) in the training data "
                             f"{info.class_names}; a classifier needs at least two")
        return info

    @property
    def label_source(self) -> str:
        """What error messages call the place the labels come from (a file, ``"y"``)."""
        return type(self).__name__

    @property
    def num_classes(self) -> int:
        return len(self.info.class_names)

    @property
    def class_names(self) -> list[str]:
        return list(self.info.class_names)

    @property
    def task(self) -> Task:
        return self.info.task

    @property
    def channels(self) -> list[str]:
        """Channel names the model sees: the selected leads, or the dataset's channels."""
        return list(self.preprocess.leads or self.info.channels)

    @property
    def in_channels(self) -> int:
        """Network input channels: :meth:`PreprocessConfig.input_channels` of the signal channels."""
        return self.preprocess.input_channels(len(self.channels))

    @property
    def has_val_split(self) -> bool:
        """Whether a validation split exists (decides what checkpoints monitor)."""
        return True

    @property
    def sampling_rate(self) -> float | None:
        return self.preprocess.fs or self.info.fs

    @cached_property
    def preprocessor(self) -> Preprocessor:
        return Preprocessor(self.preprocess)

    def decision_metrics(self, ids: list[str], decisions: np.ndarray) -> dict[str, float]:
        """Data-set specific scores of the model's decisions ``(records, classes)`` (e.g. the CinC
        Challenge score), logged at the end of validation and test; none by default."""
        return {}

    def inference_config(self) -> dict[str, Any]:
        """Everything a checkpoint needs to replay this data pipeline on new files."""
        return {
            "class_names": self.class_names,
            "task": self.task,
            "channels": self.channels,
            "fs": self.sampling_rate,
            "window": self.window,
            "eval_stride": self.eval_stride or default_stride(self.window),
            "preprocess": self.preprocess.to_dict(),
        }

    # ---- Lightning hooks ---------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        self.splits = self.load_splits()
        if self.preprocess.uses_dataset_stats and self.preprocess.mean is None:
            # Statistics from the training split only: nothing about val/test leaks into training.
            mean, std = fit_channel_stats(self.splits["train"].signals)
            self.preprocess = self.preprocess.replace(mean=mean, std=std)
            self.__dict__.pop("preprocessor", None)
        fs = self.sampling_rate or 100.0
        augment = self.augment
        self.datasets = {}
        for name, split in self.splits.items():
            if len(split) == 0:
                continue
            self.datasets[name] = SignalDataset(
                split.signals, split.targets, split.ids, window=self.window, stride=self.eval_stride,
                train=name == "train", augment=augment if name == "train" else None,
                transform=self.preprocessor.normalize, fs=fs, phases=split.phases if name == "train" else None,
            )

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split not in self.datasets:
            raise RuntimeError(f"{type(self).__name__} has no {split!r} split (available: {sorted(self.datasets)})")
        dataset = self.datasets[split]
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            # a split smaller than one batch keeps its one (short) batch rather than yielding none
            drop_last=split == "train" and self.drop_last and len(dataset) > self.batch_size,
            num_workers=self.num_workers,
            collate_fn=collate_windows,
            pin_memory=torch.cuda.is_available(),
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test" if "test" in self.datasets else "val", shuffle=False)


def multihot(label_lists: list[list[str]], class_names: list[str]) -> np.ndarray:
    """Multi-hot float32 targets via scikit-learn's MultiLabelBinarizer (fixed class order)."""
    import warnings

    from sklearn.preprocessing import MultiLabelBinarizer

    mlb = MultiLabelBinarizer(classes=class_names)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # labels outside class_names are dropped on purpose
        return mlb.fit_transform(label_lists).astype(np.float32)


def stratify_key(targets: np.ndarray) -> np.ndarray:
    """A stratification key that also works for multi-label targets: the record's rarest label
    (labels with fewer than 2 records are pooled), so rare classes land in every split."""
    if targets.ndim == 1:
        keys = targets.astype(np.int64)
    else:
        counts = targets.sum(0)
        keys = np.full(len(targets), -1, dtype=np.int64)
        for i, row in enumerate(targets):
            present = np.flatnonzero(row > 0)
            if present.size:
                keys[i] = present[np.argmin(counts[present])]
    values, counts = np.unique(keys, return_counts=True)
    rare = set(values[counts < 2].tolist())
    return np.array([-2 if k in rare else k for k in keys])


def split_indices(
    targets: np.ndarray, fractions: tuple[float, float], seed: int, groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reproducible stratified train/val/test indices (scikit-learn), ``fractions = (val, test)``.

    With ``groups`` (e.g. one patient id per record) the split is group-aware: all records of a
    group land in the same split (scikit-learn's ``StratifiedGroupKFold``, one fold held out), so
    a patient's second recording can never test what the model saw in training. Held-out sizes are
    then approximate (whole groups move), stratification best-effort.
    """
    from sklearn.model_selection import StratifiedGroupKFold, train_test_split

    idx = np.arange(len(targets))
    val_f, test_f = fractions
    if groups is not None:
        groups = np.asarray(groups)
        if len(groups) != len(targets):
            raise ValueError(f"groups has {len(groups)} entries for {len(targets)} records")

    def cut(ids: np.ndarray, frac: float, salt: int) -> tuple[np.ndarray, np.ndarray]:
        if frac <= 0 or len(ids) < 2:
            return ids, ids[:0]
        key = stratify_key(targets[ids])
        if groups is not None:
            n_groups = len(np.unique(groups[ids]))
            if n_groups < 2:
                return ids, ids[:0]
            # Holding out one of k folds keeps ~1/k of the groups: k = 1/frac, at least 2.
            k = int(min(n_groups, max(2, round(1 / frac))))
            import warnings

            with warnings.catch_warnings():
                # "The least populated class has fewer members than n_splits": expected for rare labels.
                warnings.simplefilter("ignore", UserWarning)
                splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed + salt)
                keep, hold = next(splitter.split(ids, key, groups[ids]))
            return np.sort(ids[keep]), np.sort(ids[hold])
        n_hold = max(1, int(round(frac * len(ids))))
        strat = key if len(np.unique(key)) <= n_hold and np.unique(key, return_counts=True)[1].min() >= 2 else None
        keep, hold = train_test_split(ids, test_size=n_hold, random_state=seed + salt, stratify=strat)
        return np.sort(keep), np.sort(hold)

    rest, test = cut(idx, test_f, 0)
    train, val = cut(rest, val_f / max(1e-9, 1 - test_f) if test_f < 1 else 0, 1)
    return train, val, test


class FileDataModule(SignalDataModule):
    """Base for data modules over signal files: decode + preprocess once into a :class:`SignalCache`.

    ``prepare_data`` (rank 0 only under DDP) builds the cache; ``setup`` (every rank) memory-maps it.
    Unreadable records are skipped with a warning naming each file and the reason.
    """

    def __init__(self, *, cache_dir: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.cache_dir = cache_dir

    def record_items(self) -> list[tuple[str, str]]:
        """``(record id, path)`` for every record the module uses."""
        raise NotImplementedError

    def source_items(self) -> list[tuple[str, str]]:
        """``(record id, path)`` for every record of the source, labelled at this module's level or
        not: what the cache holds and is keyed on, so modules that differ only in their labels
        (PTB-XL's task levels) share one decoded copy. Default: :meth:`record_items`."""
        return self.record_items()

    def _cache(self) -> tuple[Any, str, list[tuple[str, str]]]:
        from ..cache import SignalCache, cache_key, default_cache_dir

        items = self.source_items()
        settings = self.preprocess.replace(normalize="none", mean=None, std=None).to_dict()
        key = cache_key([p for _, p in items], {"preprocess": settings, "module": type(self).__name__})
        name = f"{type(self).__name__}-{key}"
        folder = default_cache_dir(name) if self.cache_dir is None else Path(self.cache_dir) / name
        return SignalCache(folder), key, items

    @property
    def _read_nan_policy(self) -> str:
        return self.preprocess.reader_nan_policy

    def read(self, path: str, nan_policy: str | None = None) -> Any:
        """Read one record (subclasses pass format options such as ``fs``)."""
        from ..readers import read_record

        return read_record(path, nan_policy=nan_policy or self._read_nan_policy)

    def prepare(self) -> CacheInfo:
        """Decode and preprocess every record of the source once into the memory-mapped cache (a no-op
        when a valid cache exists); unreadable records are skipped with a warning naming each."""
        import warnings

        from ..cache import first_reasons

        cache, key, items = self._cache()
        decoded = False
        if not cache.is_valid(key):
            pre = Preprocessor(self.preprocess)

            def load(path: str) -> np.ndarray:
                return pre(self.read(path), normalize=False)

            skipped = cache.build(key, items, load, desc=f"{type(self).__name__}: decoding records")
            for rid, reason in skipped:
                warnings.warn(f"skipped record {rid}: {reason}", stacklevel=2)
            decoded = True
        ids, _, skipped = cache.load()
        if skipped and not decoded:
            # a reused cache remembers what it could not read; say so on every run, not only the first
            warnings.warn(f"{len(skipped)} record(s) skipped, as when the cache {cache.folder} was built "
                          f"(they are read again once the source files change): {first_reasons(skipped)}",
                          stacklevel=2)
        return CacheInfo(cache.folder, len(ids), len(skipped), decoded)

    def prepare_data(self) -> None:
        self.prepare()

    def cached_signals(self) -> dict[str, np.ndarray]:
        """Record id -> preprocessed (not normalised) signal, memory-mapped."""
        cache, key, _ = self._cache()
        if not cache.is_valid(key):
            self.prepare()
        ids, views, _ = cache.load()
        return dict(zip(ids, views))
