"""Decision thresholds per class, chosen on a validation split (never on the test split).

A clinic acts on decisions, and one global 0.5 suits no class: a rare diagnosis' probabilities
rarely reach it, a common one's exceed it for healthy records. After ``fit`` the training module
picks one threshold per class on the validation predictions - the checkpoint's own epoch - by one of:

* ``f1`` (default): the threshold of maximal F1 (precision-recall balance; the PTB-XL benchmark's
  habit of fitting thresholds on validation);
* ``youden``: maximal Youden's J = sensitivity + specificity - 1 (ROC-based, prevalence-free);
* ``sensitivity`` / ``specificity``: the strictest threshold that still reaches ``target``
  sensitivity (screening), or the loosest that keeps ``target`` specificity (confirmation).

Multi-class tasks decide by argmax and need none. Curves come from scikit-learn.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from .tasks import DEFAULT_THRESHOLD

ThresholdMethod = Literal["f1", "youden", "sensitivity", "specificity", "none"]


def fit_threshold(y: np.ndarray, p: np.ndarray, method: ThresholdMethod = "f1", target: float | None = None) -> float:
    """One class: 0/1 targets ``y`` and scores ``p`` -> a threshold in [0, 1] (0.5 when the class has
    no positive or no negative record: nothing to choose from)."""
    from sklearn.metrics import precision_recall_curve, roc_curve

    y = np.asarray(y).astype(int).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if method == "none" or y.min(initial=1) == y.max(initial=0):
        return DEFAULT_THRESHOLD
    if method in ("sensitivity", "specificity") and (target is None or not 0.0 < target <= 1.0):
        raise ValueError(f"threshold method {method!r} needs a target in (0, 1], got {target!r}")
    if method == "f1":
        precision, recall, thresholds = precision_recall_curve(y, p)
        f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
        return float(np.clip(thresholds[int(np.argmax(f1))], 0.0, 1.0))
    fpr, tpr, thresholds = roc_curve(y, p, drop_intermediate=False)
    thresholds = np.clip(thresholds, 0.0, 1.0)  # roc_curve's first threshold is +inf
    if method == "youden":
        return float(thresholds[int(np.argmax(tpr - fpr))])
    if method == "sensitivity":
        return float(thresholds[int(np.argmax(tpr >= target - 1e-12))])  # first (highest) reaching it
    if method == "specificity":
        ok = np.flatnonzero(fpr <= 1.0 - target + 1e-12)
        return float(thresholds[ok[-1]])  # last (lowest) keeping it
    raise ValueError(f"unknown threshold method {method!r}; choose f1, youden, sensitivity, specificity or none")


def fit_thresholds(targets: np.ndarray, class_probs: np.ndarray, method: ThresholdMethod = "f1",
                   target: float | None = None) -> list[float]:
    """Per-class thresholds from 0/1 targets and class probabilities, both ``(N, K)``."""
    targets = np.asarray(targets)
    class_probs = np.asarray(class_probs)
    if targets.shape != class_probs.shape:
        raise ValueError(f"targets {targets.shape} and probabilities {class_probs.shape} differ in shape")
    return [fit_threshold(targets[:, k], class_probs[:, k], method, target) for k in range(targets.shape[1])]
