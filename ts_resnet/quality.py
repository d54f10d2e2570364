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
            fraction of its power in 0.5-40 Hz (needs a sampling rate of at least 100 Hz).
    """

    nan_fraction: float = 0.005
    flat_ratio: float = 0.01
    clip_fraction: float = 0.01
    noise_ratio: float = 0.5


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
    from scipy import signal as sps

    index = {lead_key(c): i for i, c in enumerate(rec.channels)}
    rows = [(name, index[lead_key(name)]) for name in (leads or rec.channels) if lead_key(name) in index]
    flags: list[str] = []
    if min_samples is not None and rec.num_samples < min_samples:
        flags.append("short")
    if not rows or rec.num_samples < 2:
        return flags
    x = rec.signal[[i for _, i in rows]].astype(np.float64)
    finite = np.isfinite(x)
    stds = np.array([x[k][finite[k]].std() if finite[k].any() else 0.0 for k in range(len(rows))])
    ref = float(np.median(stds[stds > 0])) if (stds > 0).any() else 0.0
    min_run = max(3, int(round(0.010 * rec.fs)))
    for k, (name, i) in enumerate(rows):
        v = x[k][finite[k]]
        nan_frac = 1.0 - len(v) / x.shape[1]
        if nan_frac > limits.nan_fraction:
            flags.append(f"nan:{name}({100 * nan_frac:.0f}%)")
        if len(v) < 2 or stds[k] == 0.0 or stds[k] < limits.flat_ratio * ref:
            flags.append(f"flat:{name}")
            continue
        clipped = _runs_at(v, v.max(), min_run) + _runs_at(v, v.min(), min_run)
        if clipped > limits.clip_fraction * len(v):
            flags.append(f"clipped:{name}")
        unit = (rec.units[i] if i < len(rec.units) else "").strip().lower()
        if unit in _MAX_ABS and np.abs(v).max() > _MAX_ABS[unit]:
            flags.append(f"amplitude:{name}")
        if rec.fs >= 100 and len(v) >= int(2 * rec.fs):
            f, pxx = sps.welch(v - v.mean(), fs=rec.fs, nperseg=min(len(v), int(2 * rec.fs)))
            signal_power = pxx[(f >= 0.5) & (f <= 40)].sum()
            noise_power = pxx[f >= 45].sum()
            if signal_power > 0 and noise_power > limits.noise_ratio * signal_power:
                flags.append(f"noise:{name}")
    return flags
