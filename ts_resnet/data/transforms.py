"""The one preprocessing pipeline, shared by training, evaluation and ``ts-resnet classify``.

``Preprocessor(PreprocessConfig(...))(record)`` runs, in this order:

1. lead selection/reordering by name (case-insensitive; ``aVR`` == ``avr``), with an explicit
   ``fill_missing_leads="zero"`` or a clear error naming the missing leads;
2. NaN/Inf repair (``nan_policy``);
3. resampling to ``fs`` with ``scipy.signal.resample_poly`` (polyphase, anti-aliased), or of every
   series to ``resize_to`` samples (rate-less series of different lengths), then an optional integer
   ``decimate`` factor (same filter; how long series without a sampling rate, such as UCR's, are
   shortened);
4. band-pass / baseline-wander removal with a zero-phase ``scipy.signal`` SOS Butterworth filter;
5. normalisation: per-record z-score, dataset statistics (fitted on the training split only, with
   scikit-learn's ``StandardScaler``), or none.

The configuration is a plain dataclass of numbers, strings and lists: :meth:`PreprocessConfig.to_dict`
goes into every checkpoint, so inference replays exactly what training did.
Cropping/padding and augmentation act on arrays afterwards (:func:`sliding_windows`, :func:`pad_or_crop`,
:class:`Augment`).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, get_args

import numpy as np
from scipy import signal as sps
from scipy.integrate import cumulative_trapezoid
from scipy.interpolate import CubicSpline

from .readers import repair_nonfinite
from .records import Record, SignalReadError

FillMissing = Literal["error", "zero"]  # records lacking some of the model's leads
RepairPolicy = Literal["error", "interpolate", "zero"]  # NaN/Inf samples in a record

STANDARD_12_LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]
# Names some devices use for the standard leads (MIT-BIH's modified limb lead "MLII" ~ II).
LEAD_ALIASES = {"mlii": "ii", "mli": "i", "mliii": "iii", "avr": "avr", "avl": "avl", "avf": "avf"}


@functools.lru_cache(maxsize=1024)  # a handful of distinct names, looked up ~80 times per record
def lead_key(name: str) -> str:
    key = name.strip().lower().replace(" ", "").replace("_", "").replace("-", "")
    return LEAD_ALIASES.get(key, key)


NORMALIZE = Literal["zscore", "dataset", "zscore_level", "none"]


@dataclass
class PreprocessConfig:
    """Serialisable preprocessing settings (stored in checkpoints).

    Attributes:
        fs: target sampling rate in Hz (None = keep the record's rate).
        leads: channel names to select, in this order (None = keep all, in file order).
        fill_missing_leads: ``"error"`` or ``"zero"`` (missing leads become flat zero channels).
        nan_policy: ``"error" | "interpolate" | "zero"`` for NaN/Inf samples.
        bandpass: ``(low_hz, high_hz)``; either may be None for high-/low-pass only; None = no filter.
            ``(0.5, None)`` removes baseline wander; ``(0.5, 40)`` is a common ECG band.
        filter_order: Butterworth order (applied forwards and backwards: zero phase).
        decimate: keep every ``decimate``-th sample after an anti-aliasing filter (1 = off); applied
            after resampling. Data modules of rate-less archives set it from the training lengths.
        normalize: ``"zscore"`` (per record and channel), ``"dataset"`` (``mean``/``std`` below),
            ``"zscore_level"`` (both: the z-scored channels followed by the same channels standardised with
            the dataset statistics, so ``2C`` channels; per-record z-scoring discards each record's level
            and amplitude, and the second half keeps them) or ``"none"``.
        mean: per-channel dataset statistics for ``normalize="dataset"`` / ``"zscore_level"``.
        std: per-channel dataset statistics for ``normalize="dataset"`` / ``"zscore_level"``.
        derivative: also give the network the slope of every signal channel (``numpy.gradient``, central
            differences, z-scored on its own), appended after the normalised channels: one more
            channel per signal channel. A stem convolution can learn a difference filter, but next to the series its
            output is small; scaled on its own it weighs as much as the series (MultiRocket's
            first-difference representation, Tan et al. 2022).
        position: also give the network where each sample sits in the series: one more channel (not one
            per signal channel), a ramp from -1 at the first sample to +1 at the last. Average pooling
            otherwise leaves a stride-1 network only the zero padding at the ends as a cue to position
            (CoordConv's idea, Liu et al. 2018, in 1-D).
        pad_to: zero-pad every normalised series at the end to this many samples (None = off; a longer
            series is never cut). Rate-less data modules set it from the longest training series when
            asked to (``SeriesDataModule(variable_length="pad")``): the network then sees where a
            shorter series ends (zero is the mean after normalisation), instead of pooling over its
            valid samples only, and every batch carries the same amount of padding.
        resize_to: resample every series to this many samples before decimation (None = off;
            ``scipy.signal.resample_poly`` with its anti-aliasing filter, the ends extended along their
            trend so they do not droop). For rate-less series whose lengths differ because the same
            shape was recorded at different speeds (a gesture drawn faster or slower): stretched to one
            length, the same shape lands on the same samples. Rate-less data modules set it from the
            longest training series when asked to (``SeriesDataModule(variable_length="resample")``).
            Not with ``fs`` (a record with a sampling rate is resampled to the rate instead).
    """

    fs: float | None = None
    leads: list[str] | None = None
    fill_missing_leads: FillMissing = "error"
    nan_policy: RepairPolicy = "interpolate"
    bandpass: tuple[float | None, float | None] | None = None
    filter_order: int = 2
    decimate: int = 1
    normalize: NORMALIZE = "zscore"
    mean: list[float] | None = None
    std: list[float] | None = None
    derivative: bool = False
    position: bool = False
    pad_to: int | None = None
    resize_to: int | None = None

    def __post_init__(self) -> None:
        if self.normalize not in get_args(NORMALIZE):
            raise ValueError(f"normalize must be one of {list(get_args(NORMALIZE))}, got {self.normalize!r}")
        if int(self.decimate) != self.decimate or self.decimate < 1:
            raise ValueError(f"decimate must be a positive integer, got {self.decimate!r}")
        self.decimate = int(self.decimate)
        if self.pad_to is not None and (int(self.pad_to) != self.pad_to or self.pad_to < 1):
            raise ValueError(f"pad_to must be a positive integer or None, got {self.pad_to!r}")
        if self.resize_to is not None and (int(self.resize_to) != self.resize_to or self.resize_to < 2):
            raise ValueError(f"resize_to must be an integer >= 2 or None, got {self.resize_to!r}")
        if self.resize_to is not None and self.fs is not None:
            raise ValueError("resize_to and fs are exclusive: resize_to is for series without a sampling rate")

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        if d["bandpass"] is not None:
            d["bandpass"] = list(d["bandpass"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PreprocessConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown preprocessing settings {sorted(unknown)}")
        d = dict(d)
        if d.get("bandpass") is not None:
            d["bandpass"] = tuple(d["bandpass"])
        return cls(**d)

    def replace(self, **changes: Any) -> PreprocessConfig:
        return dataclasses.replace(self, **changes)

    @property
    def uses_dataset_stats(self) -> bool:
        """Whether normalising needs ``mean``/``std`` fitted on the training split."""
        return self.normalize in ("dataset", "zscore_level")

    @property
    def channel_factor(self) -> int:
        """Network input channels per signal channel (2 for ``"zscore_level"``, one more with ``derivative``)."""
        return (2 if self.normalize == "zscore_level" else 1) + (1 if self.derivative else 0)

    def input_channels(self, signal_channels: int) -> int:
        """Network input channels for ``signal_channels`` signal channels (:attr:`channel_factor` each,
        plus the one ``position`` channel)."""
        return signal_channels * self.channel_factor + (1 if self.position else 0)

    @property
    def reader_nan_policy(self) -> Literal["error", "keep"]:
        """What readers do with NaN/Inf samples under this config: keep them for the preprocessor to
        repair (after lead selection, so gaps in unused leads never matter), or fail at once."""
        return "error" if self.nan_policy == "error" else "keep"


def select_leads(rec: Record, leads: list[str], fill_missing: str = "error") -> np.ndarray:
    """Rows of ``rec.signal`` in the order of ``leads``, matched by name case-insensitively."""
    index = {lead_key(c): i for i, c in enumerate(rec.channels)}
    rows, missing = [], []
    for lead in leads:
        i = index.get(lead_key(lead))
        rows.append(i)
        if i is None:
            missing.append(lead)
    if missing and fill_missing != "zero":
        raise SignalReadError(
            rec.path or rec.id,
            f"missing leads {missing} (the record has {rec.channels}); fill them with zeros explicitly "
            "with fill_missing_leads='zero' / --fill-missing-leads zero",
        )
    out = np.zeros((len(leads), rec.num_samples), dtype=np.float32)
    for j, i in enumerate(rows):
        if i is not None:
            out[j] = rec.signal[i]
    return out


def resample(x: np.ndarray, fs_in: float, fs_out: float) -> np.ndarray:
    """Polyphase resampling along the last axis (``scipy.signal.resample_poly``)."""
    if fs_in == fs_out:
        return x
    ratio = Fraction(fs_out / fs_in).limit_denominator(1000)
    return _resample_poly(x, ratio.numerator, ratio.denominator)


def resize(x: np.ndarray, length: int) -> np.ndarray:
    """``x`` resampled along the last axis to ``length`` samples (``scipy.signal.resample_poly``,
    anti-aliased when shortening). The ends are extended along their linear trend (``padtype="line"``)
    rather than with zeros, so a series that does not start or end at zero keeps its first and last
    samples instead of drooping towards zero."""
    t = x.shape[-1]
    if t == length:
        return x.astype(np.float32, copy=False)
    if t == 1:  # one sample has no trend to follow: hold it
        return np.repeat(x, length, axis=-1).astype(np.float32, copy=False)
    return _resample_poly(x, length, t, padtype="line")


def decimate(x: np.ndarray, factor: int) -> np.ndarray:
    """Keep every ``factor``-th sample after ``resample_poly``'s anti-aliasing filter; the output
    has ``ceil(T / factor)`` samples (never fewer than one)."""
    if factor == 1:
        return x
    return _resample_poly(x, 1, factor)


@functools.lru_cache(maxsize=32)
def _antialias_taps(up: int, down: int, dtype: str) -> np.ndarray:
    """The low-pass FIR that ``resample_poly`` designs by default (Kaiser, beta 5, 10 taps per
    phase), designed once per rate pair: re-designing it took a fifth of a record's preprocessing."""
    max_rate = max(up, down)
    taps = sps.firwin(2 * 10 * max_rate + 1, 1.0 / max_rate, window=("kaiser", 5.0))
    taps = taps.astype(dtype)
    taps.flags.writeable = False  # shared by every call; resample_poly copies it before use
    return taps


def _resample_poly(x: np.ndarray, up: int, down: int, padtype: str = "constant") -> np.ndarray:
    g = math.gcd(up, down)
    up, down = up // g, down // g
    if up == down == 1:  # e.g. 500 vs 500.0001 Hz: no resampling
        return x.astype(np.float32, copy=False)
    taps = _antialias_taps(up, down, np.dtype(x.dtype).name)
    y = sps.resample_poly(x, up, down, axis=-1, window=taps, padtype=padtype)
    return y.astype(np.float32, copy=False)


def bandpass_filter(x: np.ndarray, fs: float, low: float | None, high: float | None, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth band-/high-/low-pass (SOS form, ``sosfiltfilt``)."""
    nyq = fs / 2
    if high is not None and high >= nyq:
        high = None  # nothing to remove above Nyquist
    if low is None and high is None:
        return x
    if low is not None and high is not None:
        sos = sps.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
    elif low is not None:
        sos = sps.butter(order, low, btype="highpass", fs=fs, output="sos")
    else:
        sos = sps.butter(order, high, btype="lowpass", fs=fs, output="sos")
    padlen = min(x.shape[-1] - 1, 3 * (2 * len(sos) + 1))
    return sps.sosfiltfilt(sos, x, axis=-1, padlen=padlen).astype(np.float32, copy=False)


def zscore(x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, keepdims=True)
    return ((x - mean) / (std + eps)).astype(np.float32, copy=False)


class Preprocessor:
    """Applies a :class:`PreprocessConfig` to records: ``Record -> (C, T) float32``."""

    def __init__(self, config: PreprocessConfig) -> None:
        self.config = config

    def channels_out(self, rec: Record) -> list[str]:
        return list(self.config.leads) if self.config.leads is not None else list(rec.channels)

    def __call__(self, rec: Record, *, normalize: bool = True) -> np.ndarray:
        cfg = self.config
        x = select_leads(rec, cfg.leads, cfg.fill_missing_leads) if cfg.leads is not None else rec.signal
        if not np.isfinite(x).all():
            if cfg.nan_policy == "error":
                raise SignalReadError(rec.path or rec.id, "NaN/Inf samples (nan_policy='error')")
            x = repair_nonfinite(x, cfg.nan_policy)
        fs = rec.fs
        if cfg.fs is not None and cfg.fs != fs:
            x = resample(x, fs, cfg.fs)
            fs = cfg.fs
        if cfg.resize_to is not None:
            x = resize(x, cfg.resize_to)
        if cfg.decimate > 1:
            x = decimate(x, cfg.decimate)
            fs = fs / cfg.decimate
        if cfg.bandpass is not None:
            x = bandpass_filter(x, fs, cfg.bandpass[0], cfg.bandpass[1], cfg.filter_order)
        if normalize:
            x = self.normalize(x)
        return np.ascontiguousarray(x, dtype=np.float32)

    def normalize(self, x: np.ndarray) -> np.ndarray:
        cfg = self.config
        if cfg.normalize == "zscore":
            out = zscore(x)
        elif cfg.normalize == "dataset":
            out = self._standardise(x)
        elif cfg.normalize == "zscore_level":
            out = np.concatenate([zscore(x), self._standardise(x)], axis=0)
        else:
            out = x
        if cfg.derivative:
            # z-scored, the slope is the same whatever the normalisation before it (a level channel's
            # slope would repeat the series'), so one slope per signal channel, from x itself
            slope = np.gradient(x, axis=-1) if x.shape[-1] > 1 else np.zeros_like(x)
            out = np.concatenate([out, zscore(slope)], axis=0)
        if cfg.position:
            ramp = np.linspace(-1.0, 1.0, x.shape[-1], dtype=np.float32) if x.shape[-1] > 1 else np.zeros(1, np.float32)
            out = np.concatenate([out, ramp[None]], axis=0)
        if cfg.pad_to is not None and out.shape[-1] < cfg.pad_to:
            out = np.pad(out, ((0, 0), (0, cfg.pad_to - out.shape[-1])))
        return out

    def _standardise(self, x: np.ndarray) -> np.ndarray:
        cfg = self.config
        if cfg.mean is None or cfg.std is None:
            raise ValueError(f"normalize={cfg.normalize!r} needs mean and std (fitted on the training split by "
                             "the data module's setup, or by fit_channel_stats)")
        mean = np.asarray(cfg.mean, dtype=np.float32)[:, None]
        std = np.asarray(cfg.std, dtype=np.float32)[:, None]
        if mean.shape[0] != x.shape[0]:
            raise ValueError(f"dataset statistics are for {mean.shape[0]} channels, signal has {x.shape[0]}")
        return ((x - mean) / std).astype(np.float32, copy=False)


def fit_channel_stats(signals: list[np.ndarray] | np.ndarray) -> tuple[list[float], list[float]]:
    """Per-channel mean/std over all samples of the given (training) signals, via StandardScaler."""
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler()
    for s in signals:
        scaler.partial_fit(np.asarray(s, dtype=np.float64).T)
    std = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    return [float(v) for v in scaler.mean_], [float(v) for v in std]


def pad_or_crop(x: np.ndarray, length: int, *, start: int | None = None) -> np.ndarray:
    """Zero-pad at the end or crop (from ``start``, default 0) to ``length`` samples."""
    t = x.shape[-1]
    if t == length:
        return x
    if t < length:
        out = np.zeros(x.shape[:-1] + (length,), dtype=x.dtype)
        out[..., :t] = x
        return out
    s = 0 if start is None else start
    return x[..., s : s + length]


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Start of each window: every ``stride`` samples, plus one flush with the end so no tail is
    ignored; a record no longer than ``window`` has one window at 0."""
    if length <= window:
        return [0]
    starts = list(range(0, length - window + 1, stride))
    if starts[-1] != length - window:
        starts.append(length - window)
    return starts


def sliding_windows(x: np.ndarray, window: int, stride: int) -> np.ndarray:
    """``(C, T) -> (n, C, window)`` at :func:`window_starts`; records shorter than ``window`` give one
    zero-padded window."""
    t = x.shape[-1]
    if t <= window:
        return pad_or_crop(x, window)[None]
    view = np.lib.stride_tricks.sliding_window_view(x, window, axis=-1)  # (C, T-W+1, W)
    return np.ascontiguousarray(view[:, window_starts(t, window, stride)].transpose(1, 0, 2))


def default_stride(window: int | None) -> int | None:
    """Evaluation stride when none is configured: half a window (the one place this is decided)."""
    return max(1, window // 2) if window else None


def eval_windows(x: np.ndarray, window: int | None, stride: int | None = None, *, min_length: int = 1
                 ) -> tuple[np.ndarray, list[int]]:
    """A preprocessed record ``(C, T)`` as the network sees it in evaluation and inference:
    ``((n, C, W), starts)``. With a window: sliding windows every ``stride`` samples (default half a
    window) plus one flush with the end; without: the whole record, zero-padded to ``min_length``."""
    t = x.shape[-1]
    if window:
        stride = stride or default_stride(window)
        return sliding_windows(x, window, stride), window_starts(t, window, stride)
    return pad_or_crop(x, max(min_length, t))[None], [0]


def num_windows(length: int, window: int, stride: int) -> int:
    return len(window_starts(length, window, stride))


def _read_at(x: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Every channel of ``x`` (C, T) read at fractional sample positions ``at`` (linear interpolation):
    the one resampling step the time-axis augmentations share."""
    grid = np.arange(x.shape[-1], dtype=np.float64)
    return np.stack([np.interp(at, grid, row) for row in x]).astype(np.float32)


@dataclass
class Augment:
    """Training-only augmentations on normalised ``(C, T)`` arrays; each is off at its zero value.

    Attributes:
        noise_std: Gaussian noise standard deviation (in normalised units).
        scale: amplitude scaling drawn from ``[1 - scale, 1 + scale]`` per channel.
        wander: amplitude of an added low-frequency (0.05-0.5 Hz) sinusoidal baseline wander.
        max_shift: largest circular time shift, in samples.
        lead_dropout: probability of zeroing each channel (at least one always kept).
        crop_resize: window slicing (Le Guennec et al. 2016): a random window that drops up to this
            fraction of the series (drawn from ``[0, crop_resize]``) is stretched back to the full
            length by linear interpolation, so the network sees the shapes shifted and slightly
            slower; the length (and so the evaluation path) is unchanged. For series without a
            sampling rate (UCR), where random crops of a fixed window do not apply.
        time_warp: smooth random time warping (Um et al. 2017): the series is read at a speed that
            drifts along it, ``exp`` of a cubic spline through ``N(0, time_warp)`` log-speeds at six
            evenly spaced knots, so some stretches play faster and others slower while the ends stay
            where they are. The warp is monotone by construction (the speed is always positive).
        window_warp: window warping (Le Guennec et al. 2016): a random window of this fraction of the
            series is played at half or double speed and the whole is resized back to its length.
    """

    noise_std: float = 0.0
    scale: float = 0.0
    wander: float = 0.0
    max_shift: int = 0
    lead_dropout: float = 0.0
    crop_resize: float = 0.0
    time_warp: float = 0.0
    window_warp: float = 0.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.crop_resize < 1.0:
            raise ValueError(f"Augment.crop_resize must be in [0, 1) (a fraction of the series dropped), "
                             f"got {self.crop_resize}")
        if self.time_warp < 0.0:
            raise ValueError(f"Augment.time_warp must be >= 0 (the spread of the log-speed), got {self.time_warp}")
        if not 0.0 <= self.window_warp < 1.0:
            raise ValueError(f"Augment.window_warp must be in [0, 1) (a fraction of the series warped), "
                             f"got {self.window_warp}")

    @property
    def active(self) -> bool:
        return any([self.noise_std, self.scale, self.wander, self.max_shift, self.lead_dropout, self.crop_resize,
                    self.time_warp, self.window_warp])

    def _time_warp(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        t = x.shape[-1]
        knots = np.linspace(0.0, t - 1, 6)
        speed = np.exp(CubicSpline(knots, rng.normal(0.0, self.time_warp, size=knots.size))(np.arange(t)))
        at = cumulative_trapezoid(speed, initial=0.0)
        at *= (t - 1) / at[-1]  # the warped series starts and ends where the original does
        return _read_at(x, at)

    def _window_warp(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        t = x.shape[-1]
        width = max(2, round(self.window_warp * t))
        start = int(rng.integers(0, t - width + 1))
        factor = 0.5 if rng.random() < 0.5 else 2.0
        # Source positions of the warped series before resizing: the window's samples at a new spacing.
        inside = np.linspace(start, start + width - 1, max(2, round(width * factor)))
        at = np.concatenate([np.arange(start), inside, np.arange(start + width, t)]).astype(np.float64)
        at = np.interp(np.linspace(0.0, at.size - 1, t), np.arange(at.size), at)  # back to t samples
        return _read_at(x, at)

    def __call__(self, x: np.ndarray, rng: np.random.Generator, fs: float) -> np.ndarray:
        if not self.active:
            return x
        x = x.copy()
        c, t = x.shape
        if self.crop_resize and t > 2:
            keep = (1.0 - rng.uniform(0.0, self.crop_resize)) * (t - 1)  # span of the window, in samples
            start = rng.uniform(0.0, (t - 1) - keep)
            x = _read_at(x, start + np.linspace(0.0, keep, t))
        if self.time_warp and t > 2:
            x = self._time_warp(x, rng)
        if self.window_warp and t > 2:
            x = self._window_warp(x, rng)
        if self.scale:
            x *= rng.uniform(1 - self.scale, 1 + self.scale, size=(c, 1)).astype(np.float32)
        if self.wander:
            f = rng.uniform(0.05, 0.5)
            phase = rng.uniform(0, 2 * np.pi, size=(c, 1))
            x += (self.wander * np.sin(2 * np.pi * f * np.arange(t) / fs + phase)).astype(np.float32)
        if self.noise_std:
            x += rng.normal(0, self.noise_std, size=x.shape).astype(np.float32)
        if self.max_shift:
            x = np.roll(x, int(rng.integers(-self.max_shift, self.max_shift + 1)), axis=-1)
        if self.lead_dropout and c > 1:
            drop = rng.random(c) < self.lead_dropout
            if drop.all():
                drop[rng.integers(c)] = False
            x[drop] = 0.0
        return x
