"""One row format for predictions, shared by ``ts-resnet classify`` and ``ts-resnet predict``.

A row is ``id, path, <one probability column per class>, predicted, n_windows, quality``;
``predicted`` holds the decided class names joined by ``;``, ``quality`` the signal-quality flags
(``ok``, ``flat:V3;noise:II``..., or empty where quality was not assessed, as in ``predict``). It is written as CSV, JSON lines or one JSON document,
chosen by the output file's suffix. No Lightning here: ``classify`` imports it.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

Format = Literal["csv", "jsonl", "json"]
FORMATS: dict[str, Format] = {".csv": "csv", ".jsonl": "jsonl", ".json": "json"}


def output_format(path: str | Path | None) -> Format:
    """``csv`` for stdout (None), else by suffix; anything else is a ``ValueError`` naming the file."""
    if path is None:
        return "csv"
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValueError(f"{path}: use a .csv, .jsonl or .json file name")
    return fmt


def prediction_rows(class_names: Sequence[str], ids: Sequence[str], paths: Sequence[str | None],
                    class_probs: np.ndarray, decisions: np.ndarray, n_windows: Sequence[int],
                    quality: Sequence[list[str] | None] | None = None) -> list[dict[str, Any]]:
    """Rows of per-class probabilities (rounded to 6 decimals) and decisions, one per record."""
    names = list(class_names)
    quality = quality if quality is not None else [None] * len(ids)
    rows = []
    for rid, path, p, d, n, q in zip(ids, paths, np.atleast_2d(class_probs), np.atleast_2d(decisions), n_windows,
                                     quality):
        rows.append({"id": rid, "path": "" if path is None else str(path),
                     **{name: round(float(v), 6) for name, v in zip(names, p)},
                     "predicted": ";".join(name for name, yes in zip(names, d) if yes), "n_windows": int(n),
                     "quality": "" if q is None else (";".join(q) or "ok")})
    return rows


def render(rows: list[dict[str, Any]], fmt: Format, class_names: Sequence[str], *,
           model: dict[str, Any] | None = None, errors: Sequence[tuple[str, str]] = (),
           skipped: Sequence[tuple[str, str]] = ()) -> str:
    """The rows as CSV, JSON lines (``predicted`` and ``quality`` as lists) or one JSON document with
    the model's description and the records that failed or were skipped."""
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=["id", "path", *class_names, "predicted", "n_windows", "quality"],
                                lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
    as_lists = [{**r, "predicted": r["predicted"].split(";") if r["predicted"] else [],
                 "quality": None if r["quality"] == "" else ([] if r["quality"] == "ok" else r["quality"].split(";"))}
                for r in rows]
    if fmt == "jsonl":
        return "".join(json.dumps(r) + "\n" for r in as_lists)
    doc = {"model": model or {}, "records": as_lists, "errors": [{"path": p, "error": e} for p, e in errors],
           "skipped": [{"path": p, "reason": e} for p, e in skipped]}
    return json.dumps(doc, indent=2) + "\n"
