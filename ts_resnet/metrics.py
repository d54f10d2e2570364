"""torchmetrics collections per task (synchronised correctly under DDP by torchmetrics itself)."""

from __future__ import annotations

from torchmetrics import MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryAveragePrecision,
    BinaryF1Score,
    MulticlassAccuracy,
    MulticlassAUROC,
    MulticlassAveragePrecision,
    MulticlassF1Score,
    MultilabelAccuracy,
    MultilabelAUROC,
    MultilabelAveragePrecision,
    MultilabelF1Score,
)


def make_metrics(task: str, num_classes: int) -> MetricCollection:
    """accuracy, macro F1, macro AUROC and macro average precision, on probabilities."""
    if task == "multiclass":
        metrics = {
            # micro accuracy = the fraction of records classified correctly (what UCR papers report)
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "f1": MulticlassF1Score(num_classes, average="macro"),
            "auroc": MulticlassAUROC(num_classes, average="macro"),
            "ap": MulticlassAveragePrecision(num_classes, average="macro"),
        }
    elif task == "multilabel":
        metrics = {
            "acc": MultilabelAccuracy(num_classes, average="macro"),
            "f1": MultilabelF1Score(num_classes, average="macro"),
            "auroc": MultilabelAUROC(num_classes, average="macro"),
            "ap": MultilabelAveragePrecision(num_classes, average="macro"),
        }
    elif task == "binary":
        metrics = {
            "acc": BinaryAccuracy(),
            "f1": BinaryF1Score(),
            "auroc": BinaryAUROC(),
            "ap": BinaryAveragePrecision(),
        }
    else:
        raise ValueError(f"task must be 'multiclass', 'multilabel' or 'binary', got {task!r}")
    return MetricCollection(metrics)
