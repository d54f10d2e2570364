"""Rate-less series (UCR/UEA archives, NumPy arrays): the archive recipe's data rules in one place.

:class:`SeriesDataModule` turns labelled series into splits the way ``configs/ucr.yaml``'s recipe
needs, from what is known before training: a batch size from the number of training series
(:func:`auto_batch_size`), an integer ``decimate`` factor for long series (``max_length``) that is
lowered while it would filter away more than ``1 - keep_energy`` of the training series' spectral
energy, NaN repair and normalisation through the shared :class:`~ts_resnet.data.transforms.Preprocessor`
(whose settings go into the checkpoint, so ``classify`` replays them).  :class:`UCRDataModule` reads
the archive files; :class:`ArrayDataModule` takes arrays (the scikit-learn estimator uses it).
"""

from __future__ import annotations

import warnings
from collections import Counter
from typing import Any, Literal

import numpy as np

from ..records import Record
from ..transforms import PreprocessConfig, resize
from .base import DatasetInfo, SignalDataModule, Split


def auto_batch_size(n_train: int) -> int:
    """Batch size from the number of training series: small sets take small batches (more, noisier
    steps per epoch, which regularises), large ones larger batches (fewer steps per epoch)."""
    for limit, size in ((200, 16), (1000, 32), (4000, 64)):
        if n_train <= limit:
            return size
    return 128


def znormalised(series: list[np.ndarray], tol: float = 0.05) -> bool:
    """Whether every series is z-normalised per channel already (mean within ``tol`` of 0, standard
    deviation within ``tol`` of 1, NaN ignored; constant channels pass). Most UCR sets were shipped
    this way; on such a set a training-set standardisation would only repeat the per-series z-score."""
    for s in series:
        s = np.asarray(s, dtype=np.float64)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN channel: no level to keep
            mean, std = np.nanmean(s, axis=-1), np.nanstd(s, axis=-1)
        ok = (np.abs(mean) <= tol) & ((np.abs(std - 1) <= tol) | (std == 0))
        if not np.all(ok | np.isnan(mean)):
            return False
    return True


def wants_level_channels(series: list[np.ndarray], labels: list[str]) -> bool:
    """The recipe's rule for level channels (``normalize="zscore_level"``): the training series are not
    z-normalised already (:func:`znormalised`) and every class has at least two training series.

    With one series per class nothing in TRAIN shows the network that the level varies within a
    class, so it can learn the level as the class: on the UCR benchmark Fungi (18 classes of one
    series) lost 21 points with level channels while the sets with several series per class gained
    (BENCHMARKS.md, "Level channels"). That is also where the cross-validation that chose level
    channels cannot be run. Both inputs are known before training.
    """
    return not znormalised(series) and min(Counter(labels).values(), default=0) >= 2


def recipe_normalize(series: list[np.ndarray], labels: list[str], keep_level: bool | None = None) -> str:
    """The UCR/UEA recipe's normalisation for these training series (``PreprocessConfig.normalize``).

    Multivariate (UEA) sets: ``"dataset"``, per-channel training-set statistics, since their channels'
    levels carry information (JapaneseVowels' LPC cepstra: 78.6% test accuracy with per-series
    z-scores, 98.9% this way). Univariate (UCR) sets: the per-series z-score, the archive's convention,
    plus the level channels (``"zscore_level"``) where :func:`wants_level_channels`. ``keep_level``
    (:class:`UCRDataModule`'s) overrides the level rule: True always adds the level-keeping copy
    beside the per-series z-score, False never does.
    """
    if keep_level:
        return "zscore_level"
    if series and series[0].shape[0] > 1:
        return "dataset"
    return "zscore_level" if keep_level is None and wants_level_channels(series, labels) else "zscore"


def energy_below(series: list[np.ndarray], max_factor: int) -> dict[int, float]:
    """``{q: fraction of spectral energy below 1 / (2q) cycles per sample}`` for q = 1..max_factor,
    averaged over the (z-normalised, NaN-zeroed) series and their channels; the DC term is left out."""
    kept = {q: 0.0 for q in range(1, max_factor + 1)}
    for s in series:
        s = np.nan_to_num(np.asarray(s, dtype=np.float64))
        s = (s - s.mean(-1, keepdims=True)) / (s.std(-1, keepdims=True) + 1e-8)
        power = np.abs(np.fft.rfft(s, axis=-1)) ** 2  # (C, T // 2 + 1), bin k = k / T cycles/sample
        total = power[:, 1:].sum(-1) + 1e-12
        n_bins = power.shape[-1]
        for q in kept:
            cut = max(2, int(np.ceil(n_bins / q)))
            kept[q] += float(np.mean(power[:, 1:cut].sum(-1) / total)) / len(series)
    return kept


class SeriesDataModule(SignalDataModule):
    """Base for labelled series without a sampling rate; subclasses implement :meth:`raw_series`.

    Args:
        val_fraction: share of TRAIN held out (stratified) for validation; 0 = train on all of it.
        max_length: series longer than this are shortened by the smallest integer ``decimate`` factor
            (anti-aliased, ``scipy.signal.resample_poly``) that brings the longest training series to at
            most ``max_length`` samples; stored in the preprocessing, so ``classify`` does the same.
            None = keep every sample. Ignored when ``preprocess.decimate`` is set explicitly (> 1).
        keep_energy: the factor is lowered until the training series (z-normalised, mean over series)
            keep at least this fraction of their spectral energy below the new Nyquist frequency:
            a set whose information sits in fast oscillations is not low-pass filtered away.
        batch_size: records per batch; None = a rule from the number of training series
            (:func:`auto_batch_size`: 16 up to 200 series, 32 up to 1,000, 64 up to 4,000, else 128).
        phase_jitter: where the series are decimated by ``f > 1``, train on all ``f`` sampling phases:
            each training item is one of ``x[k:]`` (k = 0..f-1, the end padded with the last sample)
            through the same anti-aliasing filter, chosen at random, so the network sees the same
            band-limited series at sub-sample offsets instead of only samples 0, f, 2f, ... Evaluation,
            ``classify`` and sets that are not decimated keep phase 0. Off by default and in
            ``configs/ucr.yaml``: on TRAIN folds of six decimated UCR sets it changed one held-out
            series in 155, for the worse (BENCHMARKS.md).
        variable_length: what the network sees of series of different lengths. ``"mask"`` (default):
            each batch is zero-padded to its longest series, the network masks the padding in its
            convolutions, BatchNorm statistics and global pooling (:mod:`ts_resnet.padding`), so a
            series trains and is scored as it would be alone and its duration is not an input.
            ``"pad"``: every series is zero-padded at the end (after normalisation) to the longest
            training series (``PreprocessConfig.pad_to``, replayed by ``classify``) and pooled over
            that whole length, as a zero-padded equal-length copy of the set would be: where a series
            ends is visible, and BatchNorm sees the same padding in every batch. Equal-length sets are the same either
            way. Off in ``configs/ucr.yaml``: level with ``"mask"`` on the 9 variable-length UCR sets'
            TRAIN splits (BENCHMARKS.md, "Padding instead of masking").
            ``"resample"``: every series is resampled (``scipy.signal.resample_poly``) to the length of
            the longest training series before decimation (``PreprocessConfig.resize_to``, replayed by
            ``classify``): a shape recorded faster or slower lands on the same samples, and the set
            becomes an equal-length one (no padding, no masks). Where lengths differ only because
            recordings were cut at different points, this distorts them instead. Off in
            ``configs/ucr.yaml``: on 30% of TRAIN of the 8 UCR gesture sets it got 351 of 540 held-out
            series right against the mask's 387 (BENCHMARKS.md, "Every series resampled to one length").
    """

    def __init__(self, *, val_fraction: float = 0.0, max_length: int | None = None, keep_energy: float = 0.95,
                 batch_size: int | None = 32, phase_jitter: bool = False,
                 variable_length: Literal["mask", "pad", "resample"] = "mask", **kwargs: Any) -> None:
        if max_length is not None and max_length < 8:
            raise ValueError(f"max_length must be >= 8 samples (or None), got {max_length}")
        if not 0.0 <= keep_energy <= 1.0:
            raise ValueError(f"keep_energy must be in [0, 1], got {keep_energy}")
        if not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        if variable_length not in ("mask", "pad", "resample"):
            raise ValueError(f"variable_length must be 'mask', 'pad' or 'resample', got {variable_length!r}")
        self.variable_length = variable_length
        self.val_fraction = val_fraction
        self.max_length = max_length
        self.keep_energy = keep_energy
        self.auto_batch = batch_size is None
        self.phase_jitter = phase_jitter
        super().__init__(batch_size=batch_size or 32, **kwargs)

    def raw_series(self) -> dict[str, tuple[list[np.ndarray], list[str]]]:
        """``{"TRAIN": (series, labels), "TEST": ...}``: ``(C, T_i)`` float arrays and label strings
        (TEST may be absent)."""
        raise NotImplementedError

    def source_name(self, split: str) -> str:
        """What error messages call a split's origin (a file name, ``"arrays"``)."""
        return split

    def load_splits(self) -> dict[str, Split]:
        names = self.class_names
        raw = self.raw_series()
        train_series = raw["TRAIN"][0]
        if self.auto_batch:
            self.batch_size = auto_batch_size(len(train_series))
        if (self.variable_length == "resample" and self.preprocess.resize_to is None
                and len({s.shape[-1] for s in train_series}) > 1):
            self.preprocess = self.preprocess.replace(resize_to=max(s.shape[-1] for s in train_series))
            self.__dict__.pop("preprocessor", None)
        if self.max_length is not None and self.preprocess.decimate == 1:
            if self.preprocess.resize_to is not None:
                # the decimation rule reads the spectrum of what will be decimated: the resized series
                train_series = [resize(np.nan_to_num(np.asarray(s, dtype=np.float32)), self.preprocess.resize_to)
                                for s in train_series]
            longest = max(s.shape[-1] for s in train_series)
            factor = -(-longest // self.max_length)  # ceil
            if factor > 1:
                kept = energy_below(train_series, factor)
                while factor > 1 and kept[factor] < self.keep_energy:
                    factor -= 1
            if factor > 1:
                self.preprocess = self.preprocess.replace(decimate=factor)
                self.__dict__.pop("preprocessor", None)
        channels = self.info.channels
        splits = {}
        for split, (series, labels) in raw.items():
            source = self.source_name(split)
            unknown = sorted(set(labels) - set(names))
            if unknown:
                raise ValueError(f"{source}: labels {unknown} not among the training classes {names}")
            y = np.array([names.index(lab) for lab in labels], dtype=np.int64)
            # No sampling rate: 1 Hz stands in (only the rate-free steps apply).
            x = [self.preprocessor(Record(np.asarray(s, dtype=np.float32), 1.0, channels,
                                          id=f"{source}, series {i + 1}"), normalize=False)
                 for i, s in enumerate(series)]
            if len({s.shape for s in x}) == 1:
                x = np.stack(x)
            ids = [f"{self.id_prefix}_{split.lower()}_{i}" for i in range(len(x))]
            phases = None
            if split == "TRAIN" and self.phase_jitter and self.preprocess.decimate > 1:
                phases = [self._phase(series, channels, source, k, x) for k in range(1, self.preprocess.decimate)]
            splits[split] = Split(x, y, ids, phases)
        train = splits["TRAIN"]
        if self.variable_length == "pad" and self.preprocess.pad_to is None and isinstance(train.signals, list):
            # lengths after decimation, before normalisation: normalising keeps the length
            self.preprocess = self.preprocess.replace(pad_to=max(s.shape[-1] for s in train.signals))
            self.__dict__.pop("preprocessor", None)
        parts = self.split_records(train.targets, val_fraction=self.val_fraction)
        out = {"train": _take(train, parts["train"]), "val": _take(train, parts["val"])}
        if "TEST" in splits:
            out["test"] = splits["TEST"]
        return out

    def _phase(self, series: list[np.ndarray], channels: list[str], source: str, k: int,
               like: list[np.ndarray] | np.ndarray) -> list[np.ndarray] | np.ndarray:
        """The training series decimated from sample ``k`` on: the series shifted left by ``k`` samples
        (the end repeats the last one, so the length and hence the decimated length stay those of
        phase 0) through the same preprocessing."""
        out = []
        for i, s in enumerate(series):
            s = np.asarray(s, dtype=np.float32)
            # (T - k) samples from k on, then the last one k times: T samples, as phase 0 has
            shifted = np.concatenate([s[:, k:], np.repeat(s[:, -1:], min(k, s.shape[-1]), axis=-1)], axis=-1)
            out.append(self.preprocessor(Record(shifted, 1.0, channels,
                                                id=f"{source}, series {i + 1}, phase {k}"), normalize=False))
        return np.stack(out) if isinstance(like, np.ndarray) else out

    id_prefix = "series"

    @property
    def has_val_split(self) -> bool:
        return self.val_fraction > 0

    def val_dataloader(self):
        # No validation split requested: Lightning skips validation on an empty list.
        return super().val_dataloader() if "val" in self.datasets else []


def _take(split: Split, idx: np.ndarray) -> Split:
    def pick(signals: list[np.ndarray] | np.ndarray) -> list[np.ndarray] | np.ndarray:
        return signals[idx] if isinstance(signals, np.ndarray) else [signals[i] for i in idx]

    phases = [pick(p) for p in split.phases] if split.phases is not None else None
    return Split(pick(split.signals), split.targets[idx], [split.ids[i] for i in idx], phases)


class ArrayDataModule(SeriesDataModule):
    """Series held in memory: ``x`` of shape ``(n, T)`` or ``(n, C, T)`` (the aeon/sktime layout) or a
    list of ``(C, T_i)`` arrays, with one label per series (any type; names via ``str``).

    Args:
        x: training series.
        y: training labels.
        x_test: optional test series (labels ``y_test``).
        y_test: labels of ``x_test``.
        class_names: label order (default: sorted training labels).
        normalize: ``"zscore"`` per series (UCR convention), ``"dataset"`` per-channel training-set
            statistics, ``"zscore_level"`` both (twice the channels), or ``"auto"``: the UCR/UEA
            recipe's choice, :func:`recipe_normalize` (multivariate: ``"dataset"``; univariate:
            ``"zscore_level"`` when the training series are not z-normalised and every class has two
            or more of them, else ``"zscore"``; :class:`UCRDataModule`'s ``keep_level=None``).
    """

    id_prefix = "array"

    def __init__(self, x: Any, y: Any, *, x_test: Any = None, y_test: Any = None,
                 class_names: list[str] | None = None, normalize: str = "zscore", **kwargs: Any) -> None:
        self._x = as_series(x, "x")
        self._y = [str(v) for v in np.asarray(y).tolist()]
        if len(self._x) != len(self._y):
            raise ValueError(f"x has {len(self._x)} series, y has {len(self._y)} labels")
        self._test = None
        if x_test is not None:
            xt = as_series(x_test, "x_test")
            yt = [str(v) for v in np.asarray(y_test).tolist()] if y_test is not None else [self._y[0]] * len(xt)
            self._test = (xt, yt)
        self._class_names = class_names or sorted(set(self._y))
        self._normalize = normalize
        super().__init__(**kwargs)

    def default_preprocess(self) -> PreprocessConfig:
        normalize = self._normalize
        if normalize == "auto":
            normalize = recipe_normalize(self._x, self._y)
        return PreprocessConfig(normalize=normalize, nan_policy="interpolate")

    @property
    def label_source(self) -> str:
        return "y"

    def describe(self) -> DatasetInfo:
        n_ch = self._x[0].shape[0]
        return DatasetInfo(list(self._class_names), "multiclass",
                           [f"dim{i}" for i in range(n_ch)] if n_ch > 1 else ["ch0"], None)

    def source_name(self, split: str) -> str:
        return "x" if split == "TRAIN" else "x_test"

    def raw_series(self) -> dict[str, tuple[list[np.ndarray], list[str]]]:
        raw = {"TRAIN": (self._x, self._y)}
        if self._test is not None:
            raw["TEST"] = self._test
        return raw


def as_series(x: Any, name: str = "X") -> list[np.ndarray]:
    """``(n, T)``, ``(n, C, T)`` or a list of ``(T,)``/``(C, T_i)`` arrays -> list of float32 ``(C, T_i)``."""
    if isinstance(x, (list, tuple)):
        out = [np.atleast_2d(np.asarray(s, dtype=np.float32)) for s in x]
        if any(s.ndim != 2 for s in out):
            raise ValueError(f"{name}: every series must be 1-D (T,) or 2-D (channels, T)")
    else:
        arr = np.asarray(x, dtype=np.float32)
        if arr.ndim == 2:
            arr = arr[:, None, :]
        if arr.ndim != 3:
            hint = " (one series? Reshape your data with x.reshape(1, -1))" if arr.ndim == 1 else ""
            raise ValueError(f"{name}: expected shape (n_series, T) or (n_series, channels, T), got {arr.shape}{hint}")
        out = list(arr)
    if not out:
        raise ValueError(f"{name}: no series")
    if len({s.shape[0] for s in out}) != 1:
        raise ValueError(f"{name}: series have different numbers of channels")
    return out
