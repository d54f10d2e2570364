"""An evaluation report: per-class metrics with 95% bootstrap intervals, as a CSV and a Markdown table.

Per class: AUROC, average precision (AP), and at the model's decision thresholds F1, sensitivity,
specificity and PPV, plus support; then a macro row (mean over classes) and a micro row (all
record-class pairs pooled). Intervals are percentile intervals over records resampled with
replacement (seeded, ``n_boot`` resamples, default 1,000), computed for every class and resample at
once: a resample is a vector of record weights (multinomial counts), so each metric is a weighted
sum over records sorted once per class - 2,000 records x 71 classes x 1,000 resamples take seconds,
not the hours a loop over scikit-learn calls would. Point estimates equal scikit-learn's (tested).
Expected calibration error (ECE, 10 equal-width bins over all class probabilities) is in the summary.

Used by :class:`ts_resnet.plots.EvaluationReport` (``ts-resnet test ...
--trainer.callbacks+=ts_resnet.plots.EvaluationReport --trainer.callbacks.out_dir report``); the
functions here need numpy only (matplotlib for the figures).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

METRICS = ("auroc", "ap", "f1", "sensitivity", "specificity", "ppv")


def _weighted_auroc(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """AUROC of scores ``p`` (N,) with 0/1 labels ``y`` under record weights ``w`` (B, N), ties
    counted half (the Mann-Whitney statistic, as scikit-learn)."""
    order = np.argsort(p, kind="mergesort")
    p, y, w = p[order], y[order], w[:, order]
    pos = np.flatnonzero(y > 0)
    wn = w * (1 - y)
    cum_neg = np.cumsum(wn, axis=1)  # negatives at or below each position
    _, first, counts = np.unique(p, return_index=True, return_counts=True)
    if len(first) == len(p):
        # no ties: a positive is credited with every negative below it (none sits at its own position)
        credit = cum_neg[:, pos]
    else:
        # negatives strictly below each tie group, plus half of those tied with it
        below = np.concatenate([np.zeros((w.shape[0], 1), w.dtype), cum_neg], axis=1)[:, first]
        tied = cum_neg[:, first + counts - 1] - below
        group = np.repeat(np.arange(len(first)), counts)[pos]
        credit = below[:, group] + 0.5 * tied[:, group]
    wp = w[:, pos]
    num = (wp * credit).sum(1, dtype=np.float64)
    den = wp.sum(1, dtype=np.float64) * cum_neg[:, -1].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / den, np.nan)


def _weighted_ap(p: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Average precision (scikit-learn's step-wise definition: thresholds at every distinct score)
    under record weights ``w`` (B, N): the mean precision at each positive, positives weighted."""
    order = np.argsort(-p, kind="mergesort")
    p, y, w = p[order], y[order], w[:, order]
    pos = np.flatnonzero(y > 0)
    _, first, counts = np.unique(-p, return_index=True, return_counts=True)
    tp = np.cumsum(w * y, axis=1)
    total = np.cumsum(w, axis=1)
    if len(first) != len(p):  # a tie group is one threshold: precision counts the whole group
        end = np.repeat(first + counts - 1, counts)
        tp, total = tp[:, end], total[:, end]
    positives = tp[:, -1].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(total[:, pos] > 0, tp[:, pos] / total[:, pos], 0.0)
        ap = (w[:, pos] * precision).sum(1, dtype=np.float64) / positives
        return np.where(positives > 0, ap, np.nan)


def _counts(y: np.ndarray, d: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, ...]:
    y, d = y.astype(np.float64), d.astype(np.float64)
    tp, fp = w @ (y * d), w @ ((1 - y) * d)
    fn, tn = w @ (y * (1 - d)), w @ ((1 - y) * (1 - d))
    return tp, fp, fn, tn


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(b > 0, a / np.where(b > 0, b, 1), np.nan)


def _micro_curves(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Micro AUROC and AP: every (record, class) pair pooled, each pair weighted by its record."""
    wk = np.repeat(w, y.shape[1], axis=1)
    return _weighted_auroc(p.ravel(), y.ravel(), wk), _weighted_ap(p.ravel(), y.ravel(), wk)


def _all_metrics(y: np.ndarray, p: np.ndarray, d: np.ndarray, w: np.ndarray, *, micro_curves: bool
                 ) -> dict[str, np.ndarray]:
    """Every metric for every class under weights ``w`` (B, N): arrays (B, K), plus micro (B,).
    Micro AUROC/AP pool N x K pairs (B x N x K memory): computed only when ``micro_curves``."""
    k = y.shape[1]
    out = {"auroc": np.stack([_weighted_auroc(p[:, j], y[:, j], w) for j in range(k)], 1),
           "ap": np.stack([_weighted_ap(p[:, j], y[:, j], w) for j in range(k)], 1)}
    tp, fp, fn, tn = _counts(y, d, w)
    out["f1"] = _ratio(2 * tp, 2 * tp + fp + fn)
    out["sensitivity"] = _ratio(tp, tp + fn)
    out["specificity"] = _ratio(tn, tn + fp)
    out["ppv"] = _ratio(tp, tp + fp)
    # micro: every (record, class) pair is one decision; the counts are the classes' counts summed
    tp, fp, fn, tn = (c.sum(1) for c in (tp, fp, fn, tn))
    micro = {"f1": _ratio(2 * tp, 2 * tp + fp + fn), "sensitivity": _ratio(tp, tp + fn),
             "specificity": _ratio(tn, tn + fp), "ppv": _ratio(tp, tp + fp)}
    if micro_curves:
        micro["auroc"], micro["ap"] = _micro_curves(y, p, w)
    else:
        micro["auroc"] = micro["ap"] = np.full(len(w), np.nan)
    return {**{m: out[m] for m in METRICS}, **{f"micro_{m}": micro[m] for m in METRICS}}


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE over all class probabilities: the support-weighted mean |accuracy - confidence| gap of
    ``bins`` equal-width probability bins."""
    y, p = np.asarray(y, dtype=np.float64).ravel(), np.asarray(p, dtype=np.float64).ravel()
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = np.bincount(which, minlength=bins)
    conf = np.bincount(which, p, minlength=bins)
    hits = np.bincount(which, y, minlength=bins)
    used = total > 0
    return float(np.sum(np.abs(hits[used] - conf[used])) / len(p))


def evaluation_table(y: np.ndarray, probs: np.ndarray, decisions: np.ndarray, class_names: Sequence[str], *,
                     n_boot: int = 1000, seed: int = 0, level: float = 0.95) -> list[dict[str, Any]]:
    """Rows per class, then ``macro`` and ``micro``: each metric's point estimate with ``_lo``/``_hi``
    bootstrap bounds, and the class's ``support`` (positive records).

    Args:
        y: 0/1 targets, one column per class ``(N, K)``.
        probs: class probabilities ``(N, K)``.
        decisions: the model's 0/1 decisions ``(N, K)`` (at its thresholds, or argmax).
        class_names: K names.
        n_boot: bootstrap resamples (0: no intervals).
        seed: seed of the resampling.
        level: interval coverage.
    """
    y, p, d = (np.asarray(a, dtype=np.float64) for a in (y, probs, decisions))
    n, k = y.shape
    if p.shape != (n, k) or d.shape != (n, k) or len(class_names) != k:
        raise ValueError(f"targets {y.shape}, probabilities {p.shape}, decisions {d.shape} and "
                         f"{len(class_names)} class names must agree")
    point = _all_metrics(y, p, d, np.ones((1, n)), micro_curves=True)
    boot: dict[str, np.ndarray] = {}
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        chunks = []
        for start in range(0, n_boot, 250):  # bounded memory: 250 resamples at a time
            # counts <= n are exact in float32, which halves the memory traffic of the sums below
            w = rng.multinomial(n, np.full(n, 1.0 / n), size=min(250, n_boot - start)).astype(np.float32)
            metrics = _all_metrics(y, p, d, w, micro_curves=False)
            # micro AUROC/AP pool N x K (record, class) pairs: fewer resamples per pass keep the
            # (resamples, N x K) arrays small
            step = max(1, 2_000_000 // max(1, n * k))
            curves = [_micro_curves(y, p, w[i : i + step]) for i in range(0, len(w), step)]
            metrics["micro_auroc"] = np.concatenate([c[0] for c in curves])
            metrics["micro_ap"] = np.concatenate([c[1] for c in curves])
            chunks.append(metrics)
        boot = {m: np.concatenate([c[m] for c in chunks]) for m in chunks[0]}
    lo_q, hi_q = 100 * (1 - level) / 2, 100 * (1 + level) / 2

    def interval(values: np.ndarray) -> tuple[float, float]:
        values = values[np.isfinite(values)]
        if not len(values):
            return float("nan"), float("nan")
        return float(np.percentile(values, lo_q)), float(np.percentile(values, hi_q))

    rows = []
    for j, name in enumerate(class_names):
        row: dict[str, Any] = {"class": name, "support": int(y[:, j].sum())}
        for m in METRICS:
            row[m] = float(point[m][0, j])
            if boot:
                row[f"{m}_lo"], row[f"{m}_hi"] = interval(boot[m][:, j])
        rows.append(row)
    macro: dict[str, Any] = {"class": "macro", "support": int(y.sum())}
    micro: dict[str, Any] = {"class": "micro", "support": int(y.sum())}
    for m in METRICS:
        with np.errstate(invalid="ignore"):
            macro[m] = float(np.nanmean(point[m][0])) if np.isfinite(point[m][0]).any() else float("nan")
            micro[m] = float(point[f"micro_{m}"][0])
            if boot:
                valid = np.isfinite(boot[m]).any(1)
                macro_boot = np.full(len(boot[m]), np.nan)
                macro_boot[valid] = np.nanmean(boot[m][valid], axis=1)
                macro[f"{m}_lo"], macro[f"{m}_hi"] = interval(macro_boot)
                micro[f"{m}_lo"], micro[f"{m}_hi"] = interval(boot[f"micro_{m}"])
    return rows + [macro, micro]


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def to_markdown(rows: list[dict[str, Any]], *, title: str = "", notes: Sequence[str] = ()) -> str:
    """A Markdown table: ``0.912 (0.884-0.937)`` per cell."""

    def cell(r: dict[str, Any], m: str) -> str:
        v = r[m]
        if not np.isfinite(v):
            return "n/a"
        if f"{m}_lo" in r and np.isfinite(r[f"{m}_lo"]):
            return f"{v:.3f} ({r[f'{m}_lo']:.3f}-{r[f'{m}_hi']:.3f})"
        return f"{v:.3f}"

    lines = [f"# {title}", ""] if title else []
    lines += [f"{n}" for n in notes] + ([""] if notes else [])
    lines.append("| class | support | " + " | ".join(m.upper() if m in ("auroc", "ap", "ppv") else m for m in METRICS) + " |")
    lines.append("|---" * (len(METRICS) + 2) + "|")
    for r in rows:
        lines.append(f"| {r['class']} | {r['support']} | " + " | ".join(cell(r, m) for m in METRICS) + " |")
    return "\n".join(lines) + "\n"


def write_report(out_dir: str | Path, y: np.ndarray, probs: np.ndarray, decisions: np.ndarray,
                 class_names: Sequence[str], *, task: str, thresholds: Sequence[float] | None = None,
                 n_boot: int = 1000, seed: int = 0, overwrite: bool = False, figures: bool = True,
                 uncalibrated: np.ndarray | None = None, temperature: Sequence[float] | None = None) -> list[Path]:
    """``metrics.csv``, ``metrics.md``, ``summary.json`` and (with matplotlib) ROC, PR, reliability and,
    for multi-class tasks, confusion-matrix PNGs in ``out_dir``; existing files are kept unless
    ``overwrite``. ``uncalibrated``: the same probabilities before temperature scaling (the
    summary then gives the calibration error before and after)."""
    out = Path(out_dir)
    names = ["metrics.csv", "metrics.md", "summary.json"]
    if figures:
        names += ["roc.png", "pr.png", "reliability.png"] + (["confusion_matrix.png"] if task == "multiclass" else [])
    paths = [out / n for n in names]
    existing = [str(p) for p in paths if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"{existing[0]} exists; pass overwrite=True (ts-resnet report --overwrite) "
                              "to replace the report")
    out.mkdir(parents=True, exist_ok=True)
    rows = evaluation_table(y, probs, decisions, class_names, n_boot=n_boot, seed=seed)
    ece = expected_calibration_error(y, probs)
    notes = [f"{len(y)} records; 95% percentile bootstrap intervals over records ({n_boot} resamples, seed {seed}).",
             "Decisions: " + ("argmax." if task == "multiclass" else "per-class thresholds " + (
                 ", ".join(f"{n} {t:.3f}" for n, t in zip(class_names, thresholds)) if thresholds is not None
                 else "0.5") + "."),
             f"Expected calibration error (10 bins, all class probabilities): {ece:.4f}"
             + (f" (before temperature scaling {expected_calibration_error(y, uncalibrated):.4f}; "
                f"temperature {', '.join(f'{t:.3f}' for t in temperature or [])})." if uncalibrated is not None
                else ".")]
    (out / "metrics.csv").write_text(to_csv(rows))
    (out / "metrics.md").write_text(to_markdown(rows, title="Evaluation report", notes=notes))
    summary = {"records": int(len(y)), "ece": ece, "n_boot": n_boot, "seed": seed, "task": task,
               "ece_uncalibrated": None if uncalibrated is None else expected_calibration_error(y, uncalibrated),
               "temperature": list(temperature) if temperature is not None else None,
               "thresholds": list(thresholds) if thresholds is not None else None,
               "macro": rows[-2], "micro": rows[-1]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    if figures:
        _figures(out, np.asarray(y), np.asarray(probs), class_names, task)
    return paths


def _figures(out: Path, y: np.ndarray, p: np.ndarray, class_names: Sequence[str], task: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.calibration import CalibrationDisplay
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    curve_classes = [1] if task == "binary" else range(len(class_names))
    for fname, display, diagonal in (("roc.png", RocCurveDisplay, True), ("pr.png", PrecisionRecallDisplay, False)):
        fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
        for k in curve_classes:
            if 0 < y[:, k].sum() < len(y):
                display.from_predictions(y[:, k], p[:, k], name=class_names[k], ax=ax)
        if diagonal:
            ax.plot([0, 1], [0, 1], "k--", lw=0.8)
        ax.set_title(fname[:-4].upper() + " (test)")
        fig.tight_layout()
        fig.savefig(out / fname)
        plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 6), dpi=100)
    CalibrationDisplay.from_predictions(y.ravel(), p.ravel(), n_bins=10, ax=ax, name="all classes")
    ax.set_title("Reliability (test)")
    fig.tight_layout()
    fig.savefig(out / "reliability.png")
    plt.close(fig)
    if task == "multiclass":
        fig, ax = plt.subplots(figsize=(7, 6), dpi=100)
        ConfusionMatrixDisplay.from_predictions(y.argmax(1), p.argmax(1), labels=list(range(len(class_names))),
                                                display_labels=list(class_names), ax=ax, colorbar=False)
        ax.set_title("Confusion matrix (test)")
        fig.tight_layout()
        fig.savefig(out / "confusion_matrix.png")
        plt.close(fig)
