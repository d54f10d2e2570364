"""Signal-quality flags: is this record fit to be classified at all?

A flat lead (electrode off), a clipped lead (amplifier saturated), NaN gaps, an amplitude no heart
produces, mains hum or muscle noise louder than the ECG, a record shorter than one model window: the
network still returns confident probabilities for all of them. :func:`assess` flags them per lead,
on the record as read (physical units, before gap repair), for the leads the model uses; ``classify``
writes the flags in a ``quality`` column and can skip or fail such records
(``--on-poor-quality``). The rules and limits (``QualityLimits``) follow what the signal physics
allows, not a trained model; each flag says which lead and what was seen.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .data.records import Record
from .data.transforms import lead_key

# Largest plausible ECG amplitude per unit (a QRS rarely exceeds 5 mV; 10 mV leaves room).
_MAX_ABS = {"mv": 10.0, "uv": 10_000.0, "µv": 10_000.0, "v": 0.01}


@dataclass(frozen=True)
class QualityLimits:
    """Thresholds of :func:`assess`.

    Attributes:
        nan_fraction: flag a lead with more than this fraction of NaN/Inf samples.
        flat_ratio: flag a lead whose standard deviation is below this fraction of the record's
            median lead standard deviation (or exactly zero).
        clip_fraction: flag a lead with more than this fraction of samples in runs (>= 10 ms) stuck
            at the lead's minimum or maximum value.
        noise_ratio: flag a lead whose power above 45 Hz (mains 50/60 Hz, muscle) exceeds this
            fraction of its power in 0.5-40 Hz, or of the record's median lead power there when the
            lead itself is smaller (needs >= 100 Hz sampling).
    """

    nan_fraction: float = 0.005
    flat_ratio: float = 0.01
    clip_fraction: float = 0.01
    noise_ratio: float = 0.5


@functools.lru_cache(maxsize=16)
def _hann(n: int, dtype: str) -> np.ndarray:
    """The periodic Hann window of ``scipy.signal.periodogram`` (records of a folder share lengths)."""
    from scipy import signal as sps

    w = sps.get_window("hann", n).astype(dtype)
    w.flags.writeable = False
    return w


def _runs_at(x: np.ndarray, value: float, min_run: int) -> int:
    """Samples of ``x`` in runs of at least ``min_run`` consecutive samples equal to ``value``."""
    hit = np.concatenate([[False], x == value, [False]])
    edges = np.flatnonzero(np.diff(hit.astype(np.int8)))
    lengths = edges[1::2] - edges[::2]
    return int(lengths[lengths >= min_run].sum())


def assess(rec: Record, leads: list[str] | None = None, *, min_samples: int | None = None,
           limits: QualityLimits = QualityLimits()) -> list[str]:
    """Flags for one record, e.g. ``["flat:V3", "clipped:II", "nan:I(12%)", "noise:aVR", "short"]``;
    empty when nothing is wrong. ``leads``: the model's leads (others are not looked at);
    ``min_samples``: the model's window in the record's own samples (shorter records are padded)."""
    from scipy import fft as sp_fft

    index = {lead_key(c): i for i, c in enumerate(rec.channels)}
    rows = [(name, index[lead_key(name)]) for name in (leads or rec.channels) if lead_key(name) in index]
    flags: list[str] = []
    if min_samples is not None and rec.num_samples < min_samples:
        flags.append("short")
    if not rows or rec.num_samples < 2:
        return flags
    x = rec.signal[[i for _, i in rows]]
    finite = np.isfinite(x)
    if finite.all():  # the common case: no masking needed
        n_finite = np.full(len(rows), x.shape[1])
        mean = x.mean(1, dtype=np.float64)
        centred = x - mean[:, None].astype(x.dtype)
        hi, lo = x.max(1), x.min(1)
    else:
        n_finite = finite.sum(1)
        filled = np.where(finite, x, 0.0)
        mean = filled.sum(1, dtype=np.float64) / np.maximum(n_finite, 1)
        centred = np.where(finite, x - mean[:, None].astype(x.dtype), 0.0).astype(x.dtype)
        hi = np.where(finite, x, -np.inf).max(1)
        lo = np.where(finite, x, np.inf).min(1)
    stds = np.sqrt(np.einsum("ij,ij->i", centred, centred, dtype=np.float64) / np.maximum(n_finite, 1))
    ref = float(np.median(stds[stds > 0])) if (stds > 0).any() else 0.0
    # Noise: power above 45 Hz (mains, muscle) against the record's typical ECG power in 0.5-40 Hz
    # (the median over leads, so a naturally small lead such as III is not called noisy).
    noise = np.zeros(len(rows), dtype=bool)
    if rec.fs >= 100 and x.shape[1] >= int(2 * rec.fs):
        # one Hann-windowed periodogram per lead (band sums average out its variance), as
        # ``scipy.signal.periodogram(window="hann", detrend=False)`` computes it but without its
        # generic cross-spectral machinery (3x faster here); only ratios of band sums are used,
        # so its constant density scaling is left out
        n = x.shape[1]
        spec = sp_fft.rfft(centred * _hann(n, centred.dtype.name), axis=-1)
        pxx = spec.real**2 + spec.imag**2
        pxx[:, 1:(n + 1) // 2] *= 2  # one-sided: every bin but DC and (even n) Nyquist counts twice
        f = sp_fft.rfftfreq(n, 1.0 / rec.fs)
        signal_power = pxx[:, (f >= 0.5) & (f <= 40)].sum(1)
        # against the lead's own ECG power, or the record's typical one where the lead is small
        reference = np.maximum(signal_power, np.median(signal_power))
        noise = (pxx[:, f >= 45].sum(1) > limits.noise_ratio * reference) & (reference > 0)
    min_run = max(3, int(round(0.010 * rec.fs)))
    # only leads with enough samples at an extreme can be clipped: the run analysis is for those
    at_extreme = (x == hi[:, None]).sum(1) + (x == lo[:, None]).sum(1)
    for k, (name, i) in enumerate(rows):
        nan_frac = 1.0 - n_finite[k] / x.shape[1]
        if nan_frac > limits.nan_fraction:
            flags.append(f"nan:{name}({100 * nan_frac:.0f}%)")
        if n_finite[k] < 2 or stds[k] == 0.0 or stds[k] < limits.flat_ratio * ref:
            flags.append(f"flat:{name}")
            continue
        if at_extreme[k] > limits.clip_fraction * n_finite[k]:
            v = x[k][finite[k]] if nan_frac > 0 else x[k]
            if _runs_at(v, hi[k], min_run) + _runs_at(v, lo[k], min_run) > limits.clip_fraction * len(v):
                flags.append(f"clipped:{name}")
        unit = (rec.units[i] if i < len(rec.units) else "").strip().lower()
        if unit in _MAX_ABS and max(abs(hi[k]), abs(lo[k])) > _MAX_ABS[unit]:
            flags.append(f"amplitude:{name}")
        if noise[k]:
            flags.append(f"noise:{name}")
    return flags
