"""What a task means, in one place: outputs, loss, probabilities, decisions, the Grad-CAM target.

Three tasks share the package: ``multiclass`` (one label per record, softmax), ``multilabel`` (any
number of labels, one sigmoid per class) and ``binary`` (two classes, one sigmoid output for the
second class). Everything that differs between them is a method of :class:`TaskSpec`, so training,
inference, writers and plots never branch on the task name themselves. Needs torch and numpy only
(no Lightning): inference imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

Task = Literal["multiclass", "multilabel", "binary"]
TASKS: tuple[str, ...] = ("multiclass", "multilabel", "binary")
WindowAgg = Literal["mean", "max"]  # how a long record's window scores become one
DEFAULT_THRESHOLD = 0.5  # the decision threshold of a class that has no fitted one


def check_task(task: str) -> Task:
    if task not in TASKS:
        raise ValueError(f"task must be 'multiclass', 'multilabel' or 'binary', got {task!r}")
    return task  # type: ignore[return-value]


@dataclass(frozen=True)
class TaskSpec:
    """The semantics of one task with ``num_classes`` classes (binary: 2)."""

    name: Task
    num_classes: int

    def __post_init__(self) -> None:
        check_task(self.name)
        if self.name == "binary" and self.num_classes != 2:
            raise ValueError(f"a binary task has 2 classes, got {self.num_classes}")
        if self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")

    @property
    def num_outputs(self) -> int:
        """Network outputs: one logit for the positive (second) class of a binary task."""
        return 1 if self.name == "binary" else self.num_classes

    @property
    def headline_metric(self) -> str:
        # macro AUROC for (multi-)label tasks as in the PTB-XL benchmark, accuracy for multi-class
        # archives (the UCR/UEA convention)
        return "acc" if self.name == "multiclass" else "auroc"

    def loss(self, logits: torch.Tensor, y: torch.Tensor, *, class_weights: torch.Tensor | None = None,
             pos_weight: torch.Tensor | None = None, label_smoothing: float = 0.0) -> torch.Tensor:
        if self.name == "multiclass":
            return F.cross_entropy(logits, y, weight=class_weights, label_smoothing=label_smoothing)
        return F.binary_cross_entropy_with_logits(logits, y.float().view_as(logits), pos_weight=pos_weight)

    def probabilities(self, logits: torch.Tensor, temperature: list[float] | None = None) -> torch.Tensor:
        """Network outputs -> probabilities, one column per output; ``temperature`` (one value, or
        one per output) divides the logits first (temperature scaling)."""
        if temperature is not None:
            logits = logits / torch.as_tensor(temperature, dtype=logits.dtype, device=logits.device)
        return logits.softmax(-1) if self.name == "multiclass" else torch.sigmoid(logits)

    def class_probabilities(self, probs: np.ndarray) -> np.ndarray:
        """Per-output probabilities ``(N, num_outputs)`` -> one column per class ``(N, num_classes)``."""
        probs = np.asarray(probs, dtype=np.float64).reshape(len(probs), -1)
        if self.name == "binary":
            return np.concatenate([1.0 - probs, probs], axis=1)
        return probs

    def decide(self, class_probs: np.ndarray, thresholds: np.ndarray | None = None,
               priors: np.ndarray | None = None) -> np.ndarray:
        """Boolean decisions ``(N, num_classes)``: argmax for multi-class (of ``p / priors`` with
        class priors: prior correction, so a class that was rare in training is not out-voted by its
        base rate alone); ``p >= threshold`` per class for multi-label; for binary, the positive class
        when ``p >= threshold`` of the second class, the negative class otherwise (exactly one decision
        per record)."""
        p = np.asarray(class_probs, dtype=np.float64)
        out = np.zeros(p.shape, dtype=bool)
        if self.name == "multiclass":
            score = p if priors is None else p / np.maximum(np.asarray(priors, dtype=np.float64), 1e-12)
            out[np.arange(len(p)), score.argmax(1)] = True
            return out
        t = (np.full(self.num_classes, DEFAULT_THRESHOLD) if thresholds is None
             else np.asarray(thresholds, dtype=np.float64))
        if self.name == "binary":
            positive = p[:, 1] >= t[-1]
            out[:, 1], out[:, 0] = positive, ~positive
            return out
        return p >= t

    def target_matrix(self, y: np.ndarray) -> np.ndarray:
        """Targets as one 0/1 column per class ``(N, num_classes)`` (class indices are one-hot encoded)."""
        y = np.asarray(y)
        if self.name == "multilabel":
            return y.astype(np.int64).reshape(len(y), -1)
        index = y.astype(np.int64).ravel()
        return np.eye(self.num_classes, dtype=np.int64)[index]

    @property
    def curve_classes(self) -> list[int]:
        """Classes that get their own ROC/PR curve: the positive class of a binary task, else all."""
        return [1] if self.name == "binary" else list(range(self.num_classes))

    @property
    def exclusive(self) -> bool:
        """One label per record (a confusion matrix makes sense)."""
        return self.name == "multiclass"

    def metric_inputs(self, probs: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-output probabilities and targets in the form torchmetrics' task classes expect."""
        if self.name == "binary":
            return probs.view(-1), y.long().view(-1)
        if self.name == "multilabel":
            return probs, y.long()
        return probs, y

    def cam_target(self, class_index: int) -> tuple[int, bool]:
        """(network output to explain, whether to invert its relevance) for one class: the negative
        class of a binary task is the single output's evidence, inverted."""
        if not 0 <= class_index < self.num_classes:
            raise IndexError(f"class index {class_index} out of range for {self.num_classes} classes")
        if self.name == "binary":
            return 0, class_index == 0
        return class_index, False


def aggregate_windows(values: torch.Tensor, n_windows: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """Reduce per-window rows ``(sum n, K)`` to per-record rows ``(B, K)`` by mean or max."""
    if values.shape[0] == n_windows.shape[0]:
        return values
    record = torch.repeat_interleave(torch.arange(n_windows.shape[0], device=values.device), n_windows)
    out = values.new_zeros((n_windows.shape[0],) + values.shape[1:])
    if how == "max":
        return out.index_reduce_(0, record, values, "amax", include_self=False)
    if how != "mean":
        raise ValueError(f"window aggregation must be 'mean' or 'max', got {how!r}")
    return out.index_add_(0, record, values) / n_windows.to(values.dtype).unsqueeze(-1)
