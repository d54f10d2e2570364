"""Held-out series gained or lost by recipe candidates against a baseline, from ``benchmark_ucr.py
--dev-folds K --json`` files, with a pass/fail line for an adoption rule stated before the folds are
read (the protocol in BENCHMARKS.md: choices are made on TRAIN, never on TEST).

    python examples/compare_cv.py base.json bs8.json steps2000.json --min-gain 2 --max-loss 1
    python examples/compare_cv.py base.json level.json --min-mean-gain 0.5 --max-loss 1 --max-loss-points 2

Rows are matched on (data set, method, seed), and must come from the same folds (same K, same series).
Two kinds of rule. By default the gain is counted in series: "+1 of 36" is one series, whatever the
percentage, and a 30-series set weighs less than a 180-series one. With ``--min-mean-gain P`` it is the
mean over sets of the change in accuracy, in points, so that a set of 7,200 series cannot outvote twenty
small ones. ``--max-loss-points Q`` lets one set lose up to Q points or ``--max-loss`` series, whichever
is more (a loss of "1 series" is 5 points on a 20-series set and 0.01 on Crop).
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


def compare(base: dict, cand: dict, *, min_gain: int, max_loss: int, min_mean_gain: float | None = None,
            max_loss_points: float = 0.0) -> tuple[list[tuple], int, bool]:
    """Per shared key ``(key, base correct, candidate correct, held out)``, the summed gain in series, and
    whether the rule holds: the gain is at least ``min_gain`` series (or, when ``min_mean_gain`` is given,
    the mean change in accuracy is at least that many points) and no set loses more than ``max_loss``
    series or ``max_loss_points`` points, whichever allows more."""
    shared = sorted(set(base) & set(cand))
    for key in shared:
        b, c = base[key], cand[key]
        splits = {row.get("split") for row in (b, c)} - {None}
        if b["held_out"] != c["held_out"] or len(splits) > 1:
            # Every K holds out all of TRAIN once, so the series count alone cannot tell 3 folds from 5.
            raise SystemExit(f"{key[0]} (seed {key[2]}): {b['held_out']} held-out series ({b.get('split')}) vs "
                             f"{c['held_out']} ({c.get('split')}) - not the same folds")
    per = [(k, correct(base[k]), correct(cand[k]), base[k]["held_out"]) for k in shared]
    gain = sum(c - b for _, b, c, _ in per)
    allowed = [max(max_loss, max_loss_points * n / 100.0) for _, _, _, n in per]
    no_big_loss = all(c - b >= -a for (_, b, c, _), a in zip(per, allowed))
    enough = gain >= min_gain if min_mean_gain is None else mean_points(per) >= min_mean_gain
    return per, gain, bool(per) and enough and no_big_loss


def mean_points(per: list[tuple]) -> float:
    """Mean over sets of the change in held-out accuracy, in percentage points."""
    return sum(100.0 * (c - b) / n for _, b, c, n in per) / len(per) if per else 0.0


def main(argv: list[str] | None = None) -> dict[str, tuple[int, bool]]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("baseline", type=Path)
    p.add_argument("candidates", type=Path, nargs="+")
    p.add_argument("--min-gain", type=int, default=2, help="series the candidate must gain, summed over sets")
    p.add_argument("--max-loss", type=int, default=1, help="series any one set may lose")
    p.add_argument("--min-mean-gain", type=float, default=None,
                   help="judge the gain as the mean change in accuracy over sets, in points, instead of series")
    p.add_argument("--max-loss-points", type=float, default=0.0,
                   help="a set may also lose this many points of accuracy, if that is more than --max-loss series")
    args = p.parse_args(argv)
    base = load_rows(args.baseline)
    verdicts = {}
    for path in args.candidates:
        cand = load_rows(path)
        per, gain, ok = compare(base, cand, min_gain=args.min_gain, max_loss=args.max_loss,
                                min_mean_gain=args.min_mean_gain, max_loss_points=args.max_loss_points)
        print(f"== {path.name} against {args.baseline.name}")
        for (dataset, method, seed), b, c, n in per:
            print(f"  {dataset:<24} {method:<10} seed {seed}: {b:>4} -> {c:>4} of {n:<5} ({c - b:+d}; "
                  f"{100.0 * b / n:.1f} -> {100.0 * c / n:.1f}%)")
        if not per:
            print("  no (data set, method, seed) in common with the baseline")
        missing = sorted(f"{d} ({m}, seed {s})" for d, m, s in set(base) - set(cand))
        if missing:  # an unfinished run is judged on fewer sets: say so beside the verdict
            print(f"  not in {path.name}: {', '.join(missing)}")
        need = (f"mean gain >= {args.min_mean_gain:g} points" if args.min_mean_gain is not None
                else f"gain >= {args.min_gain}")
        loss = f"-{args.max_loss}" + (f" series or -{args.max_loss_points:g} points" if args.max_loss_points else "")
        print(f"  total {gain:+d} series, mean {mean_points(per):+.2f} points over {len(per)} sets; "
              f"rule ({need}, no set below {loss}): {'passes' if ok else 'fails'}")
        verdicts[path.name] = (gain, ok)
    return verdicts


if __name__ == "__main__":
    main()
