"""Dataset-level readers for the UCR (``.tsv``) and UEA/aeon (``.ts``) archives."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .records import SignalReadError


def read_ucr_tsv(path: str | Path) -> tuple[list[np.ndarray], list[str]]:
    """UCR 2018 ``.tsv``: one series per line, label in column 0, no header.

    Returns series as ``(1, T)`` float32 arrays (trailing NaN padding of variable-length sets removed)
    and labels as strings.
    """
    p = Path(path)
    if not p.exists():
        raise SignalReadError(p, "no such file")
    try:
        raw = np.loadtxt(p, delimiter="\t", dtype=np.float64, ndmin=2)
    except ValueError as e:
        raise SignalReadError(p, f"not a numeric UCR .tsv file ({e})") from None
    if raw.shape[1] < 2:
        raise SignalReadError(p, "expected a label column followed by at least one sample per line")
    series = []
    for i, row in enumerate(raw[:, 1:]):
        finite = np.flatnonzero(~np.isnan(row))
        if finite.size == 0:
            raise SignalReadError(p, f"line {i + 1} has no samples")
        series.append(row[: finite[-1] + 1][None, :].astype(np.float32))
    return series, [_label_str(v) for v in raw[:, 0]]


def _label_str(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def read_uea_ts(path: str | Path) -> tuple[list[np.ndarray], list[str], dict[str, object]]:
    """UEA/aeon ``.ts``: ``@`` header lines, then ``dim0:dim1:...:label`` per series.

    Handles multivariate and variable-length series and ``?`` missing values (returned as NaN).
    Returns ``(series (C, T_i) float32, labels, header)``; ``header["class_labels"]`` keeps the
    declared class order.
    """
    p = Path(path)
    if not p.exists():
        raise SignalReadError(p, "no such file")
    header: dict[str, object] = {}
    series: list[np.ndarray] = []
    labels: list[str] = []
    in_data = False
    with open(p, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not in_data:
                if not line.startswith("@"):
                    raise SignalReadError(p, f"line {lineno}: expected an @ header line before @data")
                key, _, value = line[1:].partition(" ")
                key = key.lower()
                if key == "data":
                    in_data = True
                elif key == "classlabel":
                    parts = value.split()
                    header["class_labels"] = parts[1:] if parts and parts[0].lower() == "true" else []
                else:
                    header[key] = value.strip()
                continue
            if header.get("timestamps", "false").lower() == "true":
                raise SignalReadError(p, "time-stamped .ts files are not supported")
            dims = line.split(":")
            if header.get("class_labels"):
                labels.append(dims[-1].strip())
                dims = dims[:-1]
            try:
                chans = [np.array([np.nan if v.strip() == "?" else float(v) for v in d.split(",")]) for d in dims]
            except ValueError:
                raise SignalReadError(p, f"line {lineno}: non-numeric value in a series") from None
            length = max(len(c) for c in chans)
            arr = np.full((len(chans), length), np.nan, dtype=np.float32)
            for i, c in enumerate(chans):
                arr[i, : len(c)] = c
            series.append(arr)
    if not in_data:
        raise SignalReadError(p, "no @data section")
    if not series:
        raise SignalReadError(p, "no series after @data")
    n_dims = {s.shape[0] for s in series}
    if len(n_dims) != 1:
        raise SignalReadError(p, f"series have different numbers of dimensions: {sorted(n_dims)}")
    return series, labels, header
