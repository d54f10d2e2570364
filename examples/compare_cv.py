"""Held-out series gained or lost by recipe candidates against a baseline, from ``benchmark_ucr.py
--dev-folds K --json`` files, with a pass/fail line for an adoption rule stated before the folds are
read (the protocol in BENCHMARKS.md: choices are made on TRAIN, never on TEST).

    python examples/compare_cv.py base.json bs8.json steps2000.json --min-gain 2 --max-loss 1

Rows are matched on (data set, method, seed). Counting series rather than averaging percentages keeps a
30-series set from weighing as much as a 180-series one, and states a difference the way it is
decided: "+1 of 36" is one series, whatever the percentage.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def load_rows(path: Path) -> dict[tuple[str, str, int], dict]:
    """``{(dataset, method, seed): row}`` for the cross-validation rows of one ``--json`` file."""
    try:
        rows = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f"{path}: not a benchmark_ucr.py --json file ({e})") from e
    out = {}
    for row in rows:
        if "held_out" not in row:  # a TEST row: nothing to count against
            continue
        out[(row["dataset"], row["method"], int(row["seed"]))] = row
    if not out:
        raise SystemExit(f"{path}: no cross-validation rows (run benchmark_ucr.py with --dev-folds K --json)")
    return out


def correct(row: dict) -> int:
    """Held-out series the row got right (its pooled accuracy times the series held out)."""
    return round(row["acc"] * row["held_out"] / 100.0)


def compare(base: dict, cand: dict, *, min_gain: int, max_loss: int) -> tuple[list[tuple], int, bool]:
    """Per shared key ``(key, base correct, candidate correct, held out)``, the summed gain, and whether the
    rule holds: the gain is at least ``min_gain`` series and no set loses more than ``max_loss``."""
    shared = sorted(set(base) & set(cand))
    for key in shared:
        if base[key]["held_out"] != cand[key]["held_out"]:
            raise SystemExit(f"{key[0]} (seed {key[2]}): {base[key]['held_out']} vs {cand[key]['held_out']} "
                             "held-out series - not the same folds")
    per = [(k, correct(base[k]), correct(cand[k]), base[k]["held_out"]) for k in shared]
    gain = sum(c - b for _, b, c, _ in per)
    worst = min((c - b for _, b, c, _ in per), default=0)
    return per, gain, bool(per) and gain >= min_gain and worst >= -max_loss


def main(argv: list[str] | None = None) -> dict[str, tuple[int, bool]]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("baseline", type=Path)
    p.add_argument("candidates", type=Path, nargs="+")
    p.add_argument("--min-gain", type=int, default=2, help="series the candidate must gain, summed over sets")
    p.add_argument("--max-loss", type=int, default=1, help="series any one set may lose")
    args = p.parse_args(argv)
    base = load_rows(args.baseline)
    verdicts = {}
    for path in args.candidates:
        cand = load_rows(path)
        per, gain, ok = compare(base, cand, min_gain=args.min_gain, max_loss=args.max_loss)
        print(f"== {path.name} against {args.baseline.name}")
        for (dataset, method, seed), b, c, n in per:
            print(f"  {dataset:<24} {method:<10} seed {seed}: {b:>4} -> {c:>4} of {n:<5} ({c - b:+d})")
        if not per:
            print("  no (data set, method, seed) in common with the baseline")
        missing = sorted(f"{d} ({m}, seed {s})" for d, m, s in set(base) - set(cand))
        if missing:  # an unfinished run is judged on fewer sets: say so beside the verdict
            print(f"  not in {path.name}: {', '.join(missing)}")
        print(f"  total {gain:+d} series; rule (gain >= {args.min_gain}, no set below -{args.max_loss}): "
              f"{'passes' if ok else 'fails'}")
        verdicts[path.name] = (gain, ok)
    return verdicts


if __name__ == "__main__":
    main()
