"""Write ``ts-resnet predict`` results to a file.

    ts-resnet predict -c configs/demo.yaml --ckpt_path best.ckpt \\
        --trainer.callbacks+=ts_resnet.writers.PredictionWriter --trainer.callbacks.output preds.csv
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import BasePredictionWriter


class PredictionWriter(BasePredictionWriter):
    """One CSV row per record: ``id``, a probability column per class, ``n_windows``.

    Args:
        output: CSV file to write (not overwritten unless ``overwrite``).
        overwrite: replace an existing file.
    """

    def __init__(self, output: str = "predictions.csv", overwrite: bool = False) -> None:
        super().__init__(write_interval="epoch")
        self.output = Path(output)
        self.overwrite = overwrite

    def on_predict_start(self, trainer, pl_module) -> None:
        if self.output.exists() and not self.overwrite:
            raise FileExistsError(f"{self.output} exists; set overwrite=True to replace it")

    def write_on_epoch_end(self, trainer, pl_module, predictions: list[Any], batch_indices: Any) -> None:
        if trainer.world_size > 1:
            raise RuntimeError("PredictionWriter writes from a single process; predict on one device")
        names = list(pl_module.class_names)
        self.output.parent.mkdir(parents=True, exist_ok=True)
        with open(self.output, "w", newline="") as f:
            writer = csv.writer(f)
            binary = pl_module.task == "binary"
            writer.writerow(["id", *names, "n_windows"])
            for batch in predictions:
                probs = batch["probs"]
                if binary:
                    probs = torch.cat([1 - probs, probs], dim=1)
                for rid, p, n in zip(batch["id"], probs.tolist(), batch["n_windows"].tolist()):
                    writer.writerow([rid, *(f"{v:.6f}" for v in p), n])
