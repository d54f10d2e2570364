"""FolderDataModule: any readable signal files plus a labels CSV."""

from __future__ import annotations

import csv
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..readers import read_record
from ..records import Record
from .base import DatasetInfo, FileDataModule, Split, multihot


class FolderDataModule(FileDataModule):
    """Files under ``root`` (WFDB, EDF, CSV, NPY/NPZ) with labels from a CSV.

    The labels CSV has a ``file`` column (path relative to ``root``; a WFDB record by its ``.hea``)
    and either

    * one ``label`` column: multi-class, or multi-label when ``multilabel=True`` (labels separated by
      ``label_separator``), or
    * ``label_column: null`` and one 0/1 column per class: multi-label;

    plus an optional ``split`` column (``train``/``val``/``test``); without it a reproducible
    stratified split is drawn. Name a patient-id column in ``group_column`` and the drawn split
    keeps every patient's records in one split (an official split that does not is warned about).

    Args:
        root: folder the ``file`` paths are relative to.
        labels_csv: the labels table (default ``root/labels.csv``).
        file_column: column names.
        label_column: column names.
        split_column: column names.
        multilabel: the label column holds several labels per record.
        label_separator: separator of several labels in one cell.
        fs: sampling rate for CSV/NPY files without a sidecar.
        layout: ``"CT"``/``"TC"`` for NPY files without a sidecar.
        group_column: column of the patient (or subject) id; records sharing it stay together.
        val_fraction: split sizes when there is no split column.
        test_fraction: split sizes when there is no split column.
    """

    def __init__(
        self,
        root: str,
        labels_csv: str | None = None,
        file_column: str = "file",
        label_column: str | None = "label",
        split_column: str = "split",
        multilabel: bool = False,
        label_separator: str = ";",
        fs: float | None = None,
        layout: Literal["CT", "TC"] | None = None,
        group_column: str | None = None,
        val_fraction: float = 0.15,
        test_fraction: float = 0.15,
        **kwargs: Any,
    ) -> None:
        self.root = Path(root)
        self.labels_csv = Path(labels_csv) if labels_csv else self.root / "labels.csv"
        self.file_column = file_column
        self.label_column = label_column
        self.split_column = split_column
        self.multilabel = multilabel
        self.label_separator = label_separator
        self.fs = fs
        self.layout = layout
        self.group_column = group_column
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        super().__init__(**kwargs)

    @cached_property
    def table(self) -> tuple[list[dict[str, str]], list[str]]:
        if not self.labels_csv.exists():
            raise FileNotFoundError(f"labels CSV {self.labels_csv} not found")
        with open(self.labels_csv, newline="") as f:
            reader = csv.DictReader(f)
            rows = list(reader)
            columns = list(reader.fieldnames or [])
        if self.file_column not in columns:
            raise ValueError(f"{self.labels_csv}: no {self.file_column!r} column (columns: {columns})")
        if self.label_column is not None and self.label_column not in columns:
            raise ValueError(f"{self.labels_csv}: no {self.label_column!r} column (columns: {columns}); "
                             "set label_column: null for one 0/1 column per class")
        if self.group_column is not None and self.group_column not in columns:
            raise ValueError(f"{self.labels_csv}: no {self.group_column!r} column (columns: {columns}) "
                             "for group_column")
        if not rows:
            raise ValueError(f"{self.labels_csv}: no rows")
        return rows, columns

    def _labels(self, row: dict[str, str]) -> list[str]:
        if self.label_column is None:
            return [c for c in self.class_columns if str(row[c]).strip() in ("1", "1.0", "True", "true")]
        value = row[self.label_column].strip()
        if self.multilabel:
            return [v.strip() for v in value.split(self.label_separator) if v.strip()]
        return [value]

    @cached_property
    def class_columns(self) -> list[str]:
        _, columns = self.table
        return [c for c in columns if c not in (self.file_column, self.split_column, self.group_column)]

    @property
    def label_source(self) -> str:
        return str(self.labels_csv)

    def describe(self) -> DatasetInfo:
        rows, _ = self.table
        if self.label_column is None:
            names, task = self.class_columns, "multilabel"
        else:
            names = sorted({lab for r in rows for lab in self._labels(r)})
            task = "multilabel" if self.multilabel else "multiclass"
        first = self.read(str(self.root / rows[0][self.file_column]), nan_policy="keep")
        return DatasetInfo(names, task, list(self.preprocess.leads or first.channels), first.fs)

    def record_items(self) -> list[tuple[str, str]]:
        rows, _ = self.table
        return [(r[self.file_column], str(self.root / r[self.file_column])) for r in rows]

    def read(self, path: str, nan_policy: str | None = None) -> Record:
        # CSV/NPY files need the module's fs/layout; WFDB/EDF ignore them.
        return read_record(path, fs=self.fs, layout=self.layout, nan_policy=nan_policy or self._read_nan_policy)

    def load_splits(self) -> dict[str, Split]:
        signals = self.cached_signals()
        rows, columns = self.table
        rows = [r for r in rows if r[self.file_column] in signals]
        names = self.class_names
        if self.task == "multilabel":
            y = multihot([self._labels(r) for r in rows], names)
        else:
            y = np.array([names.index(self._labels(r)[0]) for r in rows], dtype=np.int64)
        groups = None
        if self.group_column is not None:
            # A record without a patient id is its own group.
            groups = [r[self.group_column].strip() or f"\0{r[self.file_column]}" for r in rows]
        parts = self.split_records(
            y, official=[r[self.split_column] for r in rows] if self.split_column in columns else None,
            groups=groups, val_fraction=self.val_fraction, test_fraction=self.test_fraction)
        return {name: Split([signals[rows[i][self.file_column]] for i in idx], y[idx],
                            [rows[i][self.file_column] for i in idx]) for name, idx in parts.items()}
