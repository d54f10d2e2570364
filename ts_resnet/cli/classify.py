"""``ts-resnet classify``: signal files in, per-class probabilities out.

Exit status: 0 = every record classified; 1 = some records could not be read (each is listed on
stderr with the reason; the others are still classified and written); 2 = usage error, unreadable
model file, or an output file that exists (without ``--force``).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .common import CLIError, atomic_write_text, check_output, err, pick_device


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ts-resnet classify",
        description="Classify signal files (WFDB .hea, .edf, .csv, .npy/.npz) with a trained model. "
        "PATHs may be files, folders (searched recursively) or globs.",
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--checkpoint", "-m", required=True, help=".ckpt or .safetensors (+ .json sidecar) model file")
    p.add_argument("--output", "-o", default=None,
                   help="preds.csv, preds.jsonl (JSON lines) or preds.json (one document); default CSV on stdout")
    p.add_argument("--force", action="store_true", help="overwrite an existing output file")
    thr = p.add_mutually_exclusive_group()
    thr.add_argument("--threshold", type=float, default=0.5, help="multi-label/binary decision threshold")
    thr.add_argument("--thresholds", default=None, help='JSON file of per-class thresholds, e.g. {"AF": 0.3}')
    p.add_argument("--batch-size", type=int, default=64, help="records per inference batch")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--window-agg", default=None, choices=["mean", "max"],
                   help="combine window scores of long records (default: the model's)")
    p.add_argument("--fill-missing-leads", default=None, choices=["error", "zero"],
                   help="records lacking some of the model's leads: fail (default) or use flat zero leads")
    p.add_argument("--nan-policy", default=None, choices=["error", "interpolate", "zero"],
                   help="NaN/Inf samples (default: the model's preprocessing setting)")
    p.add_argument("--fs", type=float, default=None, help="sampling rate of CSV/NPY files without a sidecar")
    p.add_argument("--layout", default=None, choices=["CT", "TC"], help="axis order of NPY files without a sidecar")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar or summary")
    return p


def _thresholds(args: argparse.Namespace, class_names: list[str]) -> np.ndarray:
    values = np.full(len(class_names), args.threshold, dtype=np.float64)
    if args.thresholds:
        try:
            given = json.loads(Path(args.thresholds).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise CLIError(f"--thresholds {args.thresholds}: not a readable JSON object ({e})") from None
        if not isinstance(given, dict):
            raise CLIError(f"--thresholds {args.thresholds}: expected a JSON object of class -> threshold")
        unknown = sorted(set(given) - set(class_names))
        if unknown:
            raise CLIError(f"--thresholds: unknown classes {unknown}; the model's classes are {class_names}")
        for i, name in enumerate(class_names):
            values[i] = float(given.get(name, args.threshold))
    return values


def classify_records(clf: Any, paths: list[Path], args: argparse.Namespace, device: torch.device
                     ) -> tuple[list[dict[str, Any]], list[tuple[str, str]]]:
    """Read, preprocess and classify; returns (rows, failures)."""
    from tqdm.auto import tqdm

    from ..data.readers import read_record
    from ..data.records import SignalReadError
    from ..data.transforms import Preprocessor

    cfg = clf.preprocess_config(fill_missing_leads=args.fill_missing_leads)
    if args.nan_policy:
        cfg = cfg.replace(nan_policy=args.nan_policy)
    pre = Preprocessor(cfg)
    agg = args.window_agg or clf.meta.get("window_agg", "mean")
    rows: list[dict[str, Any]] = []
    failures: list[tuple[str, str]] = []
    pending: dict[tuple[int, ...], list[tuple[Any, np.ndarray]]] = {}
    # A model without a sampling rate (UCR/UEA archives) never resamples: files need not declare one.
    default_fs = args.fs if args.fs is not None else (1.0 if clf.fs is None else None)

    def flush(key: tuple[int, ...]) -> None:
        group = pending.pop(key, [])
        if not group:
            return
        probs = clf.predict_windows([[w for _, w in group]], device=device, agg=agg)
        for (rec, w), p in zip(group, probs):
            rows.append({"rec": rec, "probs": p, "n_windows": int(w.shape[0])})

    bar = tqdm(paths, desc="classifying", unit="rec", file=sys.stderr, disable=args.quiet or len(paths) <= 5)
    for path in bar:
        try:
            rec = read_record(path, fs=default_fs, layout=args.layout,
                              nan_policy="keep" if cfg.nan_policy != "error" else "error")
            windows = clf.windows(rec, pre)
        except SignalReadError as e:
            failures.append((str(path), e.problem))
            continue
        except Exception as e:  # a broken file must not stop the batch
            failures.append((str(path), f"{type(e).__name__}: {e}"))
            continue
        # Records whose windows share a shape share a batch.
        key = windows.shape[1:]
        pending.setdefault(key, []).append((rec, windows))
        if len(pending[key]) >= args.batch_size:
            flush(key)
    for key in list(pending):
        flush(key)
    return rows, failures


def format_rows(clf: Any, rows: list[dict[str, Any]], thresholds: np.ndarray) -> list[dict[str, Any]]:
    out = []
    names = clf.class_names
    for r in rows:
        probs = clf.to_probability_row(r["probs"])
        p = np.array([probs[n] for n in names])
        if clf.task == "multiclass":
            predicted = [names[int(p.argmax())]]
        elif clf.task == "binary":
            predicted = [names[-1] if p[-1] >= thresholds[-1] else names[0]]
        else:
            predicted = [n for n, v, t in zip(names, p, thresholds) if v >= t]
        rec = r["rec"]
        out.append({"id": rec.id, "path": rec.path, **{n: round(float(v), 6) for n, v in probs.items()},
                    "predicted": ";".join(predicted), "n_windows": r["n_windows"]})
    return out


def render(rows: list[dict[str, Any]], fmt: str, clf: Any, failures: list[tuple[str, str]]) -> str:
    columns = ["id", "path", *clf.class_names, "predicted", "n_windows"]
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
    if fmt == "jsonl":
        return "".join(json.dumps({**r, "predicted": r["predicted"].split(";") if r["predicted"] else []}) + "\n"
                       for r in rows)
    doc = {
        "model": {"arch": clf.meta.get("arch"), "task": clf.task, "classes": clf.class_names,
                  "fs": clf.fs, "window": clf.window, "channels": clf.channels},
        "records": [{**r, "predicted": r["predicted"].split(";") if r["predicted"] else []} for r in rows],
        "errors": [{"path": p, "error": e} for p, e in failures],
    }
    return json.dumps(doc, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except CLIError as e:
        err(f"ts-resnet classify: error: {e}")
        return 2


def _run(args: argparse.Namespace) -> int:
    from ..data.readers import find_records
    from ..inference import ModelFileError, load_classifier

    if args.batch_size < 1:
        raise CLIError("--batch-size must be >= 1")
    out_path = Path(args.output) if args.output else None
    fmt = "csv"
    if out_path is not None:
        suffix = out_path.suffix.lower()
        fmt = {".csv": "csv", ".jsonl": "jsonl", ".json": "json"}.get(suffix, "")
        if not fmt:
            raise CLIError(f"--output {out_path}: use a .csv, .jsonl or .json file name")
        check_output(out_path, args.force)
    try:
        clf = load_classifier(args.checkpoint)
    except ModelFileError as e:
        raise CLIError(str(e)) from None
    from ..layers import fold_batchnorm

    fold_batchnorm(clf.net)  # inference only: BatchNorm folded into the convolutions
    thresholds = _thresholds(args, clf.class_names)
    device = pick_device(args.device)
    paths = find_records(args.paths)
    if not paths:
        raise CLIError(f"no readable records found under {args.paths}")
    start = time.perf_counter()
    rows, failures = classify_records(clf, paths, args, device)
    elapsed = time.perf_counter() - start
    table = format_rows(clf, rows, thresholds)
    text = render(table, fmt, clf, failures)
    if out_path is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(out_path, text)
    for path, reason in failures:
        err(f"FAILED {path}: {reason}")
    if not args.quiet:
        per = 1000 * elapsed / max(len(rows), 1)
        dest = f" -> {out_path}" if out_path else ""
        err(f"classified {len(rows)} record(s), {len(failures)} failed, {elapsed:.2f} s ({per:.1f} ms/record){dest}")
    return 1 if failures else 0
