"""The in-memory record every reader returns and every transform consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np


class SignalReadError(ValueError):
    """A signal file could not be read; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


@dataclass
class Record:
    """One recording.

    Attributes:
        signal: float32 array ``(channels, samples)`` in physical units.
        fs: sampling rate in Hz.
        channels: channel (lead) names, one per row of ``signal``.
        units: physical unit per channel (``"mV"``...); empty strings when unknown.
        id: record identifier (file stem unless the format names it).
        labels: labels the file carries (e.g. SNOMED codes from a CinC ``# Dx:`` line).
        meta: everything else the file says (age, sex, comments...).
        path: the file it came from.
    """

    signal: np.ndarray
    fs: float
    channels: list[str]
    units: list[str] = field(default_factory=list)
    id: str = ""
    labels: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    path: str = ""

    @property
    def num_channels(self) -> int:
        return int(self.signal.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.signal.shape[1])

    @property
    def duration(self) -> float:
        return self.num_samples / self.fs
