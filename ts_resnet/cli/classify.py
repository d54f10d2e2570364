"""``ts-resnet classify``: signal files in, per-class probabilities out.

Exit status: 0 = every record classified; 1 = some records could not be read (each is listed on
stderr with the reason; the others are still classified and written); 2 = usage error, unreadable
model file, or an output file that exists (without ``--force``).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from ..data.readers import Layout
from ..data.transforms import FillMissing, RepairPolicy
from ..tasks import WindowAgg
from .common import CLIError, atomic_write_text, check_output, err, pick_device


def _thresholds(clf: Any, threshold: float | None, thresholds: str | None) -> np.ndarray:
    """Per-class thresholds: --threshold for all, --thresholds per class (others keep the model's)."""
    names = clf.class_names
    values = clf.thresholds()
    if threshold is not None:
        if not 0.0 <= threshold <= 1.0:
            raise CLIError(f"--threshold {threshold}: a probability threshold must be in [0, 1]")
        values[:] = threshold
    if thresholds:
        try:
            given = json.loads(Path(thresholds).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise CLIError(f"--thresholds {thresholds}: not a readable JSON object ({e})") from None
        if not isinstance(given, dict):
            raise CLIError(f"--thresholds {thresholds}: expected a JSON object of class -> threshold")
        unknown = sorted(set(given) - set(names))
        if unknown:
            raise CLIError(f"--thresholds: unknown classes {unknown}; the model's classes are {names}")
        for name, value in given.items():
            if not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise CLIError(f"--thresholds {thresholds}: {name!r}: {value!r} is not a threshold in [0, 1]")
            values[names.index(name)] = float(value)
    return values


class RecordFiles(Dataset):
    """Read + preprocess one file per item (in DataLoader workers):
    ``(index, (id, path), windows, quality flags, error)``.

    A file that cannot be read or preprocessed yields its error message instead of raising, so one
    bad file never stops the batch."""

    def __init__(self, paths: list[Path], clf: Any, pre: Any, *, fs: float | None, layout: str | None,
                 quality: bool = True) -> None:
        self.paths = paths
        self.quality = quality
        self.clf = clf
        self.pre = pre
        self.fs = fs
        self.layout = layout

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> tuple[int, tuple[str, str] | None, np.ndarray | None, list[str] | None, str | None]:
        from ..data.readers import read_record
        from ..data.records import SignalReadError

        path = self.paths[i]
        try:
            rec = read_record(path, fs=self.fs, layout=self.layout, nan_policy=self.pre.config.reader_nan_policy)
            prepared = self.clf.prepare(rec, self.pre, quality=self.quality)
        except SignalReadError as e:
            return i, None, None, None, e.problem
        except Exception as e:  # a broken file must not stop the batch
            return i, None, None, None, f"{type(e).__name__}: {e}"
        # not the signal: only windows cross processes
        return i, (rec.id, rec.path), prepared.windows, prepared.quality, None


def _worker_init(_: int) -> None:
    torch.set_num_threads(1)  # workers only read and filter; the cores are for the main process


def _identity(item: Any) -> Any:
    return item


def default_workers(n_paths: int) -> int:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return min(2, cores) if n_paths >= 16 and cores >= 2 else 0


QualityMode = Literal["warn", "skip", "fail", "off"]


def classify_records(clf: Any, paths: list[Path], device: torch.device, *, batch_size: int = 64,
                     workers: int | None = None, window_agg: WindowAgg | None = None,
                     fill_missing_leads: FillMissing | None = None,
                     nan_policy: RepairPolicy | None = None, fs: float | None = None,
                     layout: Layout | None = None, on_poor_quality: QualityMode = "warn",
                     quiet: bool = False) -> tuple[list[dict[str, Any]], list[tuple[str, str]], list[tuple[str, str]]]:
    """Read, preprocess and classify; returns (rows in input order, failures, skipped)."""
    from tqdm.auto import tqdm

    pre = clf.preprocessor(fill_missing_leads=fill_missing_leads, nan_policy=nan_policy)
    agg = window_agg or clf.card.window_agg
    # A model without a sampling rate (UCR/UEA archives) never resamples: files need not declare one.
    default_fs = fs if fs is not None else (1.0 if clf.fs is None else None)
    workers = default_workers(len(paths)) if workers is None else workers
    files = RecordFiles(paths, clf, pre, fs=default_fs, layout=layout, quality=on_poor_quality != "off")
    loader = DataLoader(files, batch_size=None,
                        num_workers=workers, collate_fn=_identity, worker_init_fn=_worker_init if workers else None,
                        prefetch_factor=8 if workers else None)
    done: list[tuple[int, Any, np.ndarray, int, list[str] | None]] = []
    failures: list[tuple[int, str, str]] = []
    skipped: list[tuple[int, str, str]] = []
    pending: dict[tuple[int, ...], list[tuple[int, Any, np.ndarray, list[str] | None]]] = {}

    def flush(key: tuple[int, ...]) -> None:
        group = pending.pop(key, [])
        if group:
            probs = clf.predict([[w for _, _, w, _ in group]], device=device, agg=agg)
            done.extend((i, rec, p, int(w.shape[0]), q) for (i, rec, w, q), p in zip(group, probs))

    bar = tqdm(loader, total=len(paths), desc="classifying", unit="rec", file=sys.stderr,
               disable=quiet or len(paths) <= 5)
    for i, rec, windows, flags, error in bar:
        if error is not None:
            failures.append((i, str(paths[i]), error))
            continue
        if flags and on_poor_quality in ("skip", "fail"):
            (skipped if on_poor_quality == "skip" else failures).append((i, str(paths[i]), "poor signal quality: " + ", ".join(flags)))
            continue
        key = windows.shape[1:]  # records whose windows share a shape share a batch
        pending.setdefault(key, []).append((i, rec, windows, flags))
        if len(pending[key]) >= batch_size:
            flush(key)
    for key in list(pending):
        flush(key)
    done.sort(key=lambda r: r[0])
    rows = [{"rec": rec, "probs": p, "n_windows": n, "quality": q} for _, rec, p, n, q in done]
    return (rows, [(path, reason) for _, path, reason in sorted(failures)],
            [(path, reason) for _, path, reason in sorted(skipped)])


def classify(
    paths: list[str],
    *,
    checkpoint: str | list[str],
    output: str | None = None,
    force: bool = False,
    threshold: float | None = None,
    thresholds: str | None = None,
    batch_size: int = 64,
    workers: int | None = None,
    device: Literal["auto", "cpu", "cuda"] = "auto",
    window_agg: WindowAgg | None = None,
    fill_missing_leads: FillMissing | None = None,
    nan_policy: RepairPolicy | None = None,
    fs: float | None = None,
    layout: Layout | None = None,
    on_poor_quality: QualityMode = "warn",
    quiet: bool = False,
) -> int:
    """Classify signal files (WFDB .hea, .edf, .csv, .npy/.npz) with a trained model.

    PATHs may be files, folders (searched recursively) or globs.

    Args:
        paths: record files, folders or globs.
        checkpoint: .ckpt, .safetensors (+ .json sidecar) or exported .onnx model file (.onnx runs on
            ONNX Runtime). Given more than once (-m a.ckpt -m b.ckpt), the models' probabilities are
            averaged (an ensemble; .ckpt/.safetensors models that read records the same way, such as
            seeds of one training run; differing per-class thresholds are averaged too).
        output: preds.csv, preds.jsonl (JSON lines) or preds.json (one document); default CSV on stdout.
        force: overwrite an existing output file.
        threshold: multi-label/binary decision threshold in [0, 1] for every class (default: the
            model's per-class thresholds, else 0.5).
        thresholds: JSON file of per-class thresholds, e.g. {"AF": 0.3}.
        batch_size: records per inference batch.
        workers: processes that read and preprocess records while the model runs (default: 2 for
            folders of 16+ records when there are 2+ cores, else 0).
        device: where the network runs.
        window_agg: combine window scores of long records (default: the model's).
        fill_missing_leads: records lacking some of the model's leads: fail (default) or use flat zero leads.
        nan_policy: NaN/Inf samples (default: the model's preprocessing setting).
        fs: sampling rate of CSV/NPY files without a sidecar.
        layout: axis order of NPY files without a sidecar.
        on_poor_quality: records with signal-quality flags (flat, clipped, NaN gaps, implausible
            amplitude, noise, shorter than a window; the 'quality' column): warn = classify and flag,
            skip = leave them out, fail = report them as failed (exit 1), off = do not assess.
        quiet: no progress bar or summary.

    Returns:
        The exit status: 0 = every record classified, 1 = some records failed, 2 = usage error.
    """
    from ..data.readers import find_records

    try:
        if batch_size < 1:
            raise CLIError("--batch-size must be >= 1")
        if workers is not None and workers < 0:
            raise CLIError("--workers must be >= 0")
        if threshold is not None and thresholds is not None:
            raise CLIError("threshold and thresholds are alternatives; give one")
        clf, out_path, fmt = _model_and_output(checkpoint, output, force)
        cuts = _thresholds(clf, threshold, thresholds)
        torch_device = pick_device(device)
        files = find_records(list(paths))
        if not files:
            raise CLIError(f"no readable records found under {list(paths)}")
    except CLIError as e:
        err(f"ts-resnet classify: error: {e}")
        return 2
    start = time.perf_counter()
    rows, failures, skipped = classify_records(
        clf, files, torch_device, batch_size=batch_size, workers=workers, window_agg=window_agg,
        fill_missing_leads=fill_missing_leads, nan_policy=nan_policy, fs=fs, layout=layout,
        on_poor_quality=on_poor_quality, quiet=quiet)
    elapsed = time.perf_counter() - start
    _write(clf, rows, failures, skipped, cuts, out_path, fmt)
    if not quiet:
        # per file looked at: reading and refusing a file costs time too (81 failures and 1 success
        # read as 22,000 ms/record when divided by the successes alone)
        per = 1000 * elapsed / max(len(files), 1)
        dest = f" -> {out_path}" if out_path else ""
        flagged = sum(1 for r in rows if r["quality"])
        extra = f", {len(skipped)} skipped" if skipped else ""
        extra += f", {flagged} with quality flags (see the 'quality' column)" if flagged else ""
        err(f"classified {len(rows)} record(s), {len(failures)} failed{extra}, {elapsed:.2f} s ({per:.1f} ms/file)"
            f"{dest}")
    return 1 if failures else 0


def _model_and_output(checkpoint: str | list[str], output: str | None, force: bool) -> tuple[Any, Path | None, Any]:
    """The model (BatchNorm folded; several files: their average) and the checked output path and
    format; CLIError if unusable."""
    from ..inference import ModelFileError, load_ensemble
    from ..layers import fold_batchnorm
    from ..rows import output_format

    out_path = Path(output) if output else None
    try:
        fmt = output_format(out_path)
    except ValueError as e:
        raise CLIError(f"--output {e}") from None
    if out_path is not None:
        check_output(out_path, force)
    try:
        clf = load_ensemble([checkpoint] if isinstance(checkpoint, str) else checkpoint)
    except ModelFileError as e:
        raise CLIError(str(e)) from None
    fold_batchnorm(clf.net)  # inference only: BatchNorm folded into the convolutions
    return clf, out_path, fmt


def _write(clf: Any, rows: list[dict[str, Any]], failures: list[tuple[str, str]], skipped: list[tuple[str, str]],
           cuts: np.ndarray, out_path: Path | None, fmt: Any) -> None:
    """The rows to the output file (atomically) or stdout; failures and skips to stderr."""
    from ..rows import prediction_rows, render

    probs = np.stack([r["probs"] for r in rows]) if rows else np.zeros((0, len(clf.class_names)))
    table = prediction_rows(clf.class_names, [r["rec"][0] for r in rows], [r["rec"][1] for r in rows], probs,
                            clf.decide(probs, cuts) if rows else probs.astype(bool),
                            [r["n_windows"] for r in rows], [r["quality"] for r in rows])
    model = {"arch": clf.card.arch, "task": clf.task, "classes": clf.class_names, "fs": clf.fs,
             "window": clf.window, "channels": clf.channels}
    members = getattr(clf.net, "members", None)  # an ensemble (ProbabilityMean) says how many it averages
    if members is not None:
        model["members"] = len(members)
    text = render(table, fmt, clf.class_names, model=model, errors=failures, skipped=skipped)
    if out_path is None:
        sys.stdout.write(text)
    else:
        atomic_write_text(out_path, text)
    for path, reason in failures:
        err(f"FAILED {path}: {reason}")
    for path, reason in skipped:
        err(f"SKIPPED {path}: {reason}")


def main(argv: list[str] | None = None) -> int:
    from .signature import run_command

    return run_command(classify, argv, prog="ts-resnet classify", aliases={"checkpoint": "-m", "output": "-o",
                       "quiet": "-q"}, exclusive=[("threshold", "thresholds")], epilog=__doc__.split("\n\n", 1)[1])
