"""PTBXLDataModule: PTB-XL's published layout, labels aggregated as in the PTB-XL benchmark.

Label levels follow Strodthoff et al. 2021 ("Deep learning for ECG analysis: benchmarks and insights
from PTB-XL", ``utils.compute_label_aggregations``): every SCP code listed in a record's ``scp_codes``
(whatever its likelihood) counts, mapped through ``scp_statements.csv``:

* ``diagnostic``: codes with ``diagnostic == 1`` (44 statements);
* ``subdiagnostic``: their ``diagnostic_subclass`` (23); ``superdiagnostic``: ``diagnostic_class`` (5);
* ``form``: codes with ``form == 1`` (19); ``rhythm``: ``rhythm == 1`` (12); ``all``: all 71.

Records without any label at the chosen level are dropped; classes are the labels that occur, sorted.
Standard split: ``strat_fold`` 1-8 train, 9 validation, 10 test.
"""

from __future__ import annotations

import ast
import csv
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from ..transforms import STANDARD_12_LEADS, PreprocessConfig
from .base import DatasetInfo, FileDataModule, Split, multihot

PTBXLTask = Literal["superdiagnostic", "subdiagnostic", "diagnostic", "form", "rhythm", "all"]


def load_scp_statements(path: str | Path) -> dict[str, dict[str, str]]:
    """``scp_statements.csv`` as ``{code: row}``."""
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        first = reader.fieldnames[0] if reader.fieldnames else ""
        return {row[first]: row for row in reader}


def _flag(row: dict[str, str], column: str) -> bool:
    v = (row.get(column) or "").strip()
    return bool(v) and float(v) == 1.0


def aggregate_labels(scp_codes: dict[str, float], statements: dict[str, dict[str, str]], task: PTBXLTask) -> list[str]:
    """Labels of one record at the chosen level (sorted, unique)."""
    out: set[str] = set()
    for code in scp_codes:
        row = statements.get(code)
        if row is None:
            continue
        if task == "all":
            out.add(code)
        elif task in ("form", "rhythm"):
            if _flag(row, task):
                out.add(code)
        elif _flag(row, "diagnostic"):
            if task == "diagnostic":
                out.add(code)
            else:
                col = "diagnostic_class" if task == "superdiagnostic" else "diagnostic_subclass"
                value = (row.get(col) or "").strip()
                if value:
                    out.add(value)
    return sorted(out)


class PTBXLDataModule(FileDataModule):
    """PTB-XL (``ptbxl_database.csv``, ``scp_statements.csv``, ``records100/``, ``records500/``).

    Args:
        root: the PTB-XL folder.
        sampling_rate: 100 (``filename_lr``) or 500 (``filename_hr``) Hz records.
        task: label level (see module doc).
        val_fold: ``strat_fold`` values held out (benchmark: 9 and 10).
        test_fold: ``strat_fold`` values held out (benchmark: 9 and 10).

    ``cache_dir`` (where decoded signals are cached, default ``~/.cache/ts_resnet``) and the other
    shared options are :class:`FileDataModule`'s and :class:`SignalDataModule`'s.
    """

    def __init__(
        self,
        root: str,
        sampling_rate: Literal[100, 500] = 100,
        task: PTBXLTask = "superdiagnostic",
        val_fold: int = 9,
        test_fold: int = 10,
        **kwargs: Any,
    ) -> None:
        if sampling_rate not in (100, 500):
            raise ValueError(f"PTB-XL ships 100 and 500 Hz records, got sampling_rate={sampling_rate}")
        if task not in ("superdiagnostic", "subdiagnostic", "diagnostic", "form", "rhythm", "all"):
            raise ValueError(f"unknown PTB-XL task {task!r}")
        self.root = Path(root)
        self.sampling_rate_hz = sampling_rate
        self.label_task = task
        self.val_fold = val_fold
        self.test_fold = test_fold
        super().__init__(**kwargs)

    def default_preprocess(self) -> PreprocessConfig:
        # Benchmark: raw signals, standardised with statistics of the training folds.
        return PreprocessConfig(fs=float(self.sampling_rate_hz), leads=list(STANDARD_12_LEADS), normalize="dataset")

    @cached_property
    def database(self) -> list[dict[str, Any]]:
        """Every row of ``ptbxl_database.csv``: id, fold, SCP codes and the record path at this rate."""
        db = self.root / "ptbxl_database.csv"
        scp = self.root / "scp_statements.csv"
        for f in (db, scp):
            if not f.exists():
                raise FileNotFoundError(f"{f} not found: is {self.root} a PTB-XL folder?")
        column = "filename_lr" if self.sampling_rate_hz == 100 else "filename_hr"
        rows = []
        with open(db, newline="") as f:
            for lineno, row in enumerate(csv.DictReader(f), start=2):
                try:
                    codes = ast.literal_eval(row["scp_codes"])
                    fold = int(float(row["strat_fold"]))
                    rows.append({"ecg_id": str(int(float(row["ecg_id"]))), "fold": fold, "codes": codes,
                                 "path": str(self.root / row[column]) + ".hea"})
                except (KeyError, ValueError, SyntaxError) as e:
                    raise ValueError(f"{db} line {lineno}: bad ecg_id/scp_codes/strat_fold/{column} ({e})") from None
        return rows

    @cached_property
    def table(self) -> list[dict[str, Any]]:
        """Rows that have labels at the chosen level, with their labels."""
        statements = load_scp_statements(self.root / "scp_statements.csv")
        rows = []
        for row in self.database:
            labels = aggregate_labels(row["codes"], statements, self.label_task)
            if labels:
                rows.append({**row, "labels": labels})
        if not rows:
            raise ValueError(f"{self.root / 'ptbxl_database.csv'}: no record has a {self.label_task!r} label")
        return rows

    def describe(self) -> DatasetInfo:
        names = sorted({lab for r in self.table for lab in r["labels"]})
        return DatasetInfo(names, "multilabel", list(STANDARD_12_LEADS), float(self.sampling_rate_hz))

    def record_items(self) -> list[tuple[str, str]]:
        return [(r["ecg_id"], r["path"]) for r in self.table]

    def source_items(self) -> list[tuple[str, str]]:
        # The cache holds every record at this rate, labelled at this level or not, and is keyed
        # before labels: each task level (superdiagnostic, rhythm, all...) reuses one decoded copy.
        return [(r["ecg_id"], r["path"]) for r in self.database]

    def load_splits(self) -> dict[str, Split]:
        signals = self.cached_signals()
        rows = [r for r in self.table if r["ecg_id"] in signals]
        y = multihot([r["labels"] for r in rows], self.class_names)
        splits = {}
        for name, keep in (("train", lambda f: f not in (self.val_fold, self.test_fold)),
                           ("val", lambda f: f == self.val_fold), ("test", lambda f: f == self.test_fold)):
            idx = [i for i, r in enumerate(rows) if keep(r["fold"])]
            splits[name] = Split([signals[rows[i]["ecg_id"]] for i in idx], y[idx] if idx else y[:0],
                                 [rows[i]["ecg_id"] for i in idx])
        return splits
