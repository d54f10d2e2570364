"""The PhysioNet/CinC Challenge 2021 score: a reward-weighted agreement of predicted and true labels.

The Challenge scores 26 diagnoses (some as one: e.g. complete and plain right bundle branch block),
with a table of rewards ``W[true class, predicted class]``: 1 on the diagonal, partial credit for
clinically similar confusions. Per record with true label set ``L`` and predicted set ``O``, every
pair ``(l, o)`` adds ``1 / max(1, |L u O|)`` to ``A[l, o]``; ``observed = sum(W * A)``. The score
normalises it between always answering "sinus rhythm" (0) and the truth (1):
``(observed - inactive) / (correct - inactive)``. Codes outside the table are ignored.

Vectorised with numpy; no Lightning.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SINUS_RHYTHM = "426783006"  # the Challenge's "inactive" answer


@dataclass
class ChallengeWeights:
    """The reward table: ``classes[i]`` is the set of SNOMED codes scored as class ``i``."""

    classes: list[frozenset[str]]
    weights: np.ndarray

    @classmethod
    def load(cls, path: str | Path) -> ChallengeWeights:
        """Read ``challenge2021_weights.csv`` (header row and first column: codes, ``|`` joins equivalents)."""
        p = Path(path)
        try:
            with open(p, newline="") as f:
                rows = [r for r in csv.reader(f) if r]
        except OSError as e:
            raise ValueError(f"{p}: cannot read the Challenge weights ({e})") from None
        if len(rows) < 2:
            raise ValueError(f"{p}: expected a header row of classes and one row per class")
        header = [c.strip() for c in rows[0][1:]]
        classes = [frozenset(c.split("|")) for c in header]
        if [r[0].strip() for r in rows[1:]] != header:
            raise ValueError(f"{p}: row labels must repeat the header's classes in the same order")
        try:
            w = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
        except ValueError as e:
            raise ValueError(f"{p}: non-numeric weight ({e})") from None
        if w.shape != (len(classes), len(classes)):
            raise ValueError(f"{p}: a {w.shape} table for {len(classes)} classes")
        return cls(classes, w)

    def index(self, code: str) -> int | None:
        for i, codes in enumerate(self.classes):
            if code in codes:
                return i
        return None

    def encode(self, label_sets: Sequence[Sequence[str]]) -> np.ndarray:
        """Label sets of SNOMED codes -> a ``(N, classes)`` 0/1 matrix (unscored codes dropped)."""
        out = np.zeros((len(label_sets), len(self.classes)), dtype=np.float64)
        for n, codes in enumerate(label_sets):
            for code in codes:
                i = self.index(str(code))
                if i is not None:
                    out[n, i] = 1.0
        return out


def _reward(weights: np.ndarray, labels: np.ndarray, outputs: np.ndarray) -> float:
    union = np.maximum(labels, outputs).sum(1)
    a = labels.T @ (outputs / np.maximum(union, 1.0)[:, None])  # the Challenge's modified confusion matrix
    return float((weights * a).sum())


def challenge_score(true_sets: Sequence[Sequence[str]], predicted_sets: Sequence[Sequence[str]],
                    weights: ChallengeWeights, normal: str = SINUS_RHYTHM) -> float:
    """The Challenge 2021 score of predicted label sets (SNOMED codes) against the true ones."""
    if len(true_sets) != len(predicted_sets):
        raise ValueError(f"{len(true_sets)} true label sets for {len(predicted_sets)} predictions")
    labels, outputs = weights.encode(true_sets), weights.encode(predicted_sets)
    inactive = weights.encode([[normal]] * len(true_sets))
    observed = _reward(weights.weights, labels, outputs)
    correct = _reward(weights.weights, labels, labels)
    baseline = _reward(weights.weights, labels, inactive)
    return float((observed - baseline) / (correct - baseline)) if correct != baseline else 0.0
