"""Build a pretraining set from other UCR sets' TRAIN splits: each series labelled with the set it came from.

A network that learns to tell the sets apart (the pretext task of Ismail-Fawaz et al. 2023, "Finding
foundation models for time series classification with a pretext task") has seen thousands of series
before it meets a set of 20. This script writes that pool in the archive's layout, so the recipe fits
it like any other set, and ``--model.init_from`` starts a set's network from the result::

    python examples/pretrain_pool.py --root ../shared/data/ucr --out pool \\
        --exclude ArrowHead BeetleFly BirdChicken FaceFour Meat MoteStrain OliveOil
    ts-resnet fit -c configs/ucr.yaml --data.root pool --data.dataset Pool --data.keep_level false \\
        --trainer.default_root_dir pool-fit
    python examples/benchmark_ucr.py --root ../shared/data/ucr --datasets ArrowHead --dev-folds 5 \\
        -- --model.init_from=pool-fit/lightning_logs/version_0/checkpoints/last.ckpt

Only ``<set>_TRAIN`` files are read: a TEST split never reaches the pool, so a set that is judged later
on TEST has not been seen through it. Sets named in ``--exclude`` (those to be judged) are left out
entirely. Per set at most ``--cap`` series are drawn at random (seeded), so the sets with thousands of
series do not drown the others; missing values are interpolated, every series is resampled to
``--length`` samples (``scipy.signal.resample_poly``, anti-aliased) and z-normalised on its own.
Multivariate sets are skipped (the pool has one channel, the univariate sets' one), and so is a folder
whose TRAIN file is missing or does not parse; each skip is reported on stderr and the pool is built
from the rest.

Labels are 1000 + the set's index, written with a ``sources.csv`` that names them. They are numbers
because the ``.tsv`` layout has numeric labels, and they start at 1000 so that no class of a UCR set
shares a name with them: ``init_from`` keeps the head rows of classes whose names the source model
knows, and a pretext label must never pass for one. ``Pool_TEST.tsv`` repeats the first three series of
each set (the data module wants both files; the pool's TEST is never a measurement). Files already in
``--out`` are never overwritten: an identical file is left alone, a different one is an error.
"""

from __future__ import annotations

import argparse
import sys
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

POOL = "Pool"
LABEL_BASE = 1000
TEST_PER_SET = 3


def read_train(root: Path, name: str) -> list[np.ndarray]:
    """The set's TRAIN series as ``(channels, T)`` arrays (.tsv or .ts, as ``UCRDataModule`` reads them)."""
    from ts_resnet.data.archives import read_ucr_tsv, read_uea_ts
    from ts_resnet.data.modules.ucr import archive_file

    path = archive_file(root, name, "TRAIN")
    return read_ucr_tsv(path)[0] if path.suffix == ".tsv" else read_uea_ts(path)[0]


def to_length(x: np.ndarray, length: int) -> np.ndarray:
    """One univariate series: NaNs interpolated, resampled to ``length`` samples, z-normalised.

    Not ``readers.repair_nonfinite`` / ``transforms.zscore`` / ``transforms.resample``: those work in
    float32 (zscore with eps 1e-6), zero-fill a series with no sample at all instead of refusing it,
    and bound the rate fraction's denominator (1,639 samples would not come out at exactly 256), so
    the pool measured in BENCHMARKS.md would not be rebuilt byte for byte.
    """
    x = np.asarray(x, dtype=np.float64).copy()
    bad = np.isnan(x)
    if bad.all():
        raise ValueError("every sample is missing")
    if bad.any():
        x[bad] = np.interp(np.flatnonzero(bad), np.flatnonzero(~bad), x[~bad])
    g = gcd(length, len(x))
    y = resample_poly(x, length // g, len(x) // g)
    return (y - y.mean()) / (y.std() + 1e-8)


def build(root: Path, out: Path, datasets: list[str], *, cap: int = 500, length: int = 256,
          seed: int = 0) -> dict[str, int]:
    """Write ``out/Pool/Pool_{TRAIN,TEST}.tsv`` and ``out/Pool/sources.csv``; returns set -> series taken."""
    if cap < 1 or length < 2:
        raise SystemExit(f"--cap must be >= 1 and --length >= 2, got {cap} and {length}")
    rng = np.random.default_rng(seed)
    train_rows: list[str] = []
    test_rows: list[str] = []
    taken: dict[str, int] = {}
    skipped: list[str] = []
    for name in datasets:
        try:
            series = read_train(root, name)
        except (OSError, ValueError) as e:  # no TRAIN file, or one that does not parse: report, go on
            print(f"{name}: skipped, {e}", file=sys.stderr)
            skipped.append(name)
            continue
        if any(s.shape[0] != 1 for s in series):
            print(f"{name}: skipped, multivariate ({series[0].shape[0]} channels); the pool is univariate",
                  file=sys.stderr)
            skipped.append(name)
            continue
        label = LABEL_BASE + len(taken)
        for j, i in enumerate(rng.permutation(len(series))[:cap]):
            try:
                y = to_length(series[i][0], length)
            except ValueError as e:
                raise SystemExit(f"{name} TRAIN series {i + 1}: {e}") from None
            row = f"{label}\t" + "\t".join(f"{v:.6g}" for v in y)
            train_rows.append(row)
            if j < TEST_PER_SET:
                test_rows.append(row)
        taken[name] = min(cap, len(series))
        print(f"{name}: {taken[name]} of {len(series)} TRAIN series, label {label}", file=sys.stderr)
    if skipped:
        print(f"{len(skipped)} set(s) skipped: {', '.join(skipped)}", file=sys.stderr)
    if not taken:
        raise SystemExit("no readable univariate set to pool")
    sources = "label,dataset,series\n" + "".join(f"{LABEL_BASE + k},{n},{c}\n" for k, (n, c) in enumerate(taken.items()))
    folder = out / POOL
    files = {folder / f"{POOL}_TRAIN.tsv": "\n".join(train_rows) + "\n",
             folder / f"{POOL}_TEST.tsv": "\n".join(test_rows) + "\n",
             folder / "sources.csv": sources}
    for path, text in files.items():  # check every file before writing any
        if path.exists() and path.read_text() != text:
            raise SystemExit(f"{path}: already exists with different content; choose another --out")
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        if not path.exists():
            path.write_text(text)
    return taken


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="a UCR root: one folder per set")
    p.add_argument("--out", required=True, help="where the Pool folder is written")
    p.add_argument("--datasets", nargs="*", default=None, help="sets to pool (default: every set under --root)")
    p.add_argument("--exclude", nargs="*", default=[], help="sets left out of the pool (those to be judged)")
    p.add_argument("--cap", type=int, default=500, help="at most this many series per set (default 500)")
    p.add_argument("--length", type=int, default=256, help="every series resampled to this length (default 256)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    root = Path(args.root)
    if not root.is_dir():
        raise SystemExit(f"--root {root}: no such folder")
    names = args.datasets if args.datasets is not None else sorted(d.name for d in root.iterdir() if d.is_dir())
    exclude = set(args.exclude)
    unknown = sorted(exclude - set(names))
    if unknown:
        raise SystemExit(f"--exclude names sets that are not being pooled: {unknown}")
    names = [n for n in names if n not in exclude]
    taken = build(root, Path(args.out), names, cap=args.cap, length=args.length, seed=args.seed)
    print(f"{sum(taken.values())} series from {len(taken)} sets in {Path(args.out) / POOL}")


if __name__ == "__main__":
    main()
