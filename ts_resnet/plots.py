"""Evaluation figures after ``ts-resnet test``: ROC curves and a confusion matrix.

    ts-resnet test -c configs/demo.yaml --ckpt_path best.ckpt \\
        --trainer.callbacks+=ts_resnet.plots.EvaluationPlots --trainer.callbacks.out_dir figures

Multi-label/binary tasks get one ROC curve per class; multi-class tasks get one-vs-rest ROC curves
and a confusion matrix (scikit-learn computes them; matplotlib draws them).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import numpy as np
import torch


class EvaluationPlots(L.Callback):
    """Collects test-set scores and writes ``roc.png`` (+ ``confusion_matrix.png`` for multi-class).

    Args:
        out_dir: folder for the PNG files (created if needed; existing files are not overwritten
            unless ``overwrite``).
        overwrite: replace existing figures.
    """

    def __init__(self, out_dir: str = "figures", overwrite: bool = False) -> None:
        self.out_dir = Path(out_dir)
        self.overwrite = overwrite
        self._probs: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []
        self.written: list[Path] = []

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        check_single_process(trainer, "EvaluationPlots")

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._probs, self._targets = [], []

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if outputs is not None:
            self._probs.append(outputs["probs"].float().cpu())
            self._targets.append(outputs["y"].cpu())

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero or not self._probs:
            return
        probs = torch.cat(self._probs).numpy()
        y = torch.cat(self._targets).numpy()
        self.written = write_figures(probs, y, pl_module.task, list(pl_module.class_names), self.out_dir,
                                     overwrite=self.overwrite)
        for f in self.written:
            print(f"wrote {f}")


def check_single_process(trainer: L.Trainer, what: str) -> None:
    """The figures and the report are computed from the test outputs this process saw: under DDP, rank
    0 holds 1/N of the test set (plus the sampler's padding), and a report on that part would not say so."""
    if trainer.world_size > 1:
        raise RuntimeError(f"{what} is computed on one process: run `ts-resnet test`/`report` with "
                           "--trainer.devices=1 --trainer.num_nodes=1 (each rank sees only part of the test set)")


class EvaluationReport(L.Callback):
    """After ``ts-resnet test``: a report folder (:func:`ts_resnet.report.write_report`) - per-class
    AUROC, AP, F1, sensitivity, specificity and PPV at the model's thresholds with 95% bootstrap
    intervals (CSV + Markdown), ECE, and ROC, PR, reliability (+ confusion matrix) figures.

    Args:
        out_dir: the report folder (existing report files are kept unless ``overwrite``).
        n_boot: bootstrap resamples over records.
        seed: seed of the resampling.
        overwrite: replace an existing report.
        figures: also draw the PNG figures (needs matplotlib).
    """

    def __init__(self, out_dir: str = "report", n_boot: int = 1000, seed: int = 0, overwrite: bool = False,
                 figures: bool = True) -> None:
        self.out_dir = Path(out_dir)
        self.n_boot = n_boot
        self.seed = seed
        self.overwrite = overwrite
        self.figures = figures
        self._probs: list[torch.Tensor] = []
        self._raw: list[torch.Tensor] = []
        self._targets: list[torch.Tensor] = []
        self.written: list[Path] = []

    def on_test_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        check_single_process(trainer, "The evaluation report")

    def on_test_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._probs, self._raw, self._targets = [], [], []

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if outputs is not None:
            self._probs.append(outputs["probs"].float().cpu())
            self._targets.append(outputs["y"].cpu())
            if "probs_raw" in outputs:
                self._raw.append(outputs["probs_raw"].float().cpu())

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        from .report import write_report

        if not trainer.is_global_zero or not self._probs:
            return
        spec = pl_module.spec
        probs = spec.class_probabilities(torch.cat(self._probs).numpy())
        y = spec.target_matrix(torch.cat(self._targets).numpy())
        thresholds = pl_module.thresholds if spec.name != "multiclass" else None
        decisions = spec.decide(probs, None if thresholds is None else np.asarray(thresholds), pl_module.class_priors)
        raw = spec.class_probabilities(torch.cat(self._raw).numpy()) if self._raw else None
        self.written = write_report(self.out_dir, y, probs, decisions, list(pl_module.class_names), task=spec.name,
                                    thresholds=thresholds, n_boot=self.n_boot, seed=self.seed,
                                    overwrite=self.overwrite, figures=self.figures, uncalibrated=raw,
                                    temperature=pl_module.temperature)
        print(f"wrote the evaluation report to {self.out_dir}/ (metrics.md, metrics.csv, figures)")


def write_figures(probs: np.ndarray, y: np.ndarray, task: str, class_names: list[str], out_dir: Path,
                  *, overwrite: bool = False) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, RocCurveDisplay

    from .tasks import TaskSpec

    spec = TaskSpec(task, len(class_names))
    out_dir.mkdir(parents=True, exist_ok=True)
    targets = {"roc": out_dir / "roc.png"}
    if spec.exclusive:
        targets["cm"] = out_dir / "confusion_matrix.png"
    for f in targets.values():
        if f.exists() and not overwrite:
            raise FileExistsError(f"{f} exists; pass overwrite=True to replace it")

    scores, truth = spec.class_probabilities(probs), spec.target_matrix(y)
    columns = [(class_names[k], truth[:, k], scores[:, k]) for k in spec.curve_classes]
    fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
    for name, yt, ps in columns:
        if 0 < yt.sum() < len(yt):  # a class without positives or negatives has no ROC curve
            RocCurveDisplay.from_predictions(yt, ps, name=name, ax=ax)
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set_title("ROC (test)" + (" - one vs rest" if spec.exclusive else ""))
    fig.tight_layout()
    fig.savefig(targets["roc"])
    plt.close(fig)
    if spec.exclusive:
        fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
        ConfusionMatrixDisplay.from_predictions(y, scores.argmax(1), labels=list(range(len(class_names))),
                                                display_labels=class_names, ax=ax, colorbar=False)
        ax.set_title("Confusion matrix (test)")
        fig.tight_layout()
        fig.savefig(targets["cm"])
        plt.close(fig)
    return list(targets.values())
