"""Write ``ts-resnet predict`` results to a file, in the same rows as ``ts-resnet classify``.

    ts-resnet predict -c configs/demo.yaml --ckpt_path best.ckpt \\
        --trainer.callbacks+=ts_resnet.writers.PredictionWriter --trainer.callbacks.output preds.csv
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch.callbacks import BasePredictionWriter

from .rows import output_format, prediction_rows, render


class PredictionWriter(BasePredictionWriter):
    """One row per record: ``id``, ``path``, a probability column per class, ``predicted`` (decided
    with the model card's thresholds, 0.5 without) and ``n_windows``; CSV, JSON lines or JSON by
    the file's suffix.

    Args:
        output: file to write (``.csv``, ``.jsonl`` or ``.json``; not overwritten unless ``overwrite``).
        overwrite: replace an existing file.
    """

    def __init__(self, output: str = "predictions.csv", overwrite: bool = False) -> None:
        super().__init__(write_interval="epoch")
        self.output = Path(output)
        self.format = output_format(self.output)
        self.overwrite = overwrite

    def on_predict_start(self, trainer, pl_module) -> None:
        # said before any record is predicted, not after every rank has predicted its share
        if trainer.world_size > 1:
            raise RuntimeError(f"{self.output} is written from one process: predict with --trainer.devices=1 "
                               "--trainer.num_nodes=1 (each rank sees only part of the records)")
        if self.output.exists() and not self.overwrite:
            raise FileExistsError(f"{self.output} exists; set overwrite=True to replace it")

    def write_on_epoch_end(self, trainer, pl_module, predictions: list[Any], batch_indices: Any) -> None:
        from .cli.common import atomic_write_text

        card = pl_module.model_card()
        spec = card.spec
        ids = [rid for batch in predictions for rid in batch["id"]]
        probs = spec.class_probabilities(np.concatenate([b["probs"].numpy() for b in predictions]))
        n_windows = [int(n) for b in predictions for n in b["n_windows"].tolist()]
        dm = getattr(trainer, "datamodule", None)
        paths = dict(dm.record_items()) if hasattr(dm, "record_items") else {}
        thresholds = None if card.thresholds is None else np.asarray(card.thresholds)
        rows = prediction_rows(card.class_names, ids, [paths.get(i) for i in ids], probs,
                               spec.decide(probs, thresholds, card.class_priors), n_windows)
        self.output.parent.mkdir(parents=True, exist_ok=True)
        model = {"arch": card.arch, "task": card.task, "classes": card.class_names}
        atomic_write_text(self.output, render(rows, self.format, card.class_names, model=model))
