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

    python examples/compare_cv.py base.json lld.json --null null.json --max-loss 1

``--null NULL.json`` takes the bar from the screen's own spread instead of a number picked beforehand.
NULL is the recipe itself re-run on the same folds with another training seed (``screen_parallel.py
--arm "null=--seed_everything=1000"``): its per-set differences from the baseline are what two
trainings differ by when nothing changed, which is what a candidate's differences are when it does
not help. Their sum of squares estimates the variance of a noise-only total gain, s^2; the candidate
must gain at least ``--null-z`` (2) times s / sqrt(draws), in series or (with ``--min-mean-gain``) in
mean points, and never less than the fixed bar. A candidate that changes no more than the optimiser
shares its baseline's seed (same start, same batches), which makes its differences smaller than the
null's: the bar errs on the side of rejecting. The three must be trained side by side, in one
environment: against counts stored by an earlier session, session 54's re-run of the recipe itself
gained as much as the candidate they had passed (rows that record different torch versions or
devices, or none beside rows that do, are refused with ``--null`` and flagged without it). Sessions
52-53 passed a candidate at +5 of 210 against a +2 bar that then lost 1.16 points on TEST; session 54
measured the null of that seven-set screen (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
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


def same_folds(a: dict, b: dict) -> bool:
    """Whether two rows were scored on the same folds. Every K holds out all of TRAIN once, so the series
    count alone cannot tell 3 folds from 5: the split names it (rows from before it was recorded have
    none)."""
    return a["held_out"] == b["held_out"] and len({row.get("split") for row in (a, b)} - {None}) <= 1


def compare(base: dict, cand: dict, *, min_gain: int, max_loss: int, min_mean_gain: float | None = None,
            max_loss_points: float = 0.0) -> tuple[list[tuple], int, bool]:
    """Per shared key ``(key, base correct, candidate correct, held out)``, the summed gain in series, and
    whether the rule holds: the gain is at least ``min_gain`` series (or, when ``min_mean_gain`` is given,
    the mean change in accuracy is at least that many points) and no set loses more than ``max_loss``
    series or ``max_loss_points`` points, whichever allows more."""
    shared = sorted(set(base) & set(cand))
    for key in shared:
        b, c = base[key], cand[key]
        if not same_folds(b, c):
            raise SystemExit(f"{key[0]} (seed {key[2]}): {b['held_out']} held-out series ({b.get('split')}) vs "
                             f"{c['held_out']} ({c.get('split')}) - not the same folds")
    per = [(k, correct(base[k]), correct(cand[k]), base[k]["held_out"]) for k in shared]
    gain = sum(c - b for _, b, c, _ in per)
    allowed = [max(max_loss, max_loss_points * n / 100.0) for _, _, _, n in per]
    no_big_loss = all(c - b >= -a for (_, b, c, _), a in zip(per, allowed))
    enough = gain >= min_gain if min_mean_gain is None else mean_points(per) >= min_mean_gain
    return per, gain, bool(per) and enough and no_big_loss


def environments(*runs: dict, keys: list[tuple]) -> set[tuple]:
    """The (torch version, device) pairs the rows of ``keys`` were trained under; rows from before
    benchmark_ucr.py recorded the version count as an unknown one of their own. A fit repeats bit for
    bit on one machine and version, not between them, so rows from two environments differ by more than
    what was changed (session 54: the recipe re-run today was +5 of 210 against counts stored in
    session 39, which recorded no version, as much as the candidate those counts had passed)."""
    return {(r[k].get("torch"), r[k].get("device")) for r in runs for k in keys if k in r}


def null_bar(base: dict, null: dict, keys: list[tuple], *, z: float, points: bool) -> tuple[float, float, int]:
    """``(s, bar, draws)`` from a recipe re-run (``null``) on the folds of ``keys``: ``s`` is the estimated
    standard deviation of one draw's noise-only total gain (in series; with ``points``, of the mean over
    sets in points), the square root of the summed per-set mean squared difference between the re-run
    and the baseline; ``bar`` is ``z * s / sqrt(draws)``, for a gain averaged over ``draws`` fold draws.
    Every key must be in the re-run: a bar from fewer sets than the candidate is judged on would be too
    low."""
    missing = sorted(f"{d} (seed {k})" for d, _, k in set(keys) - set(null))
    if missing:
        raise SystemExit(f"--null: the re-run has no row for {', '.join(missing)}; the bar needs every "
                         "set and draw the candidate is judged on")
    sq: dict[str, list[float]] = defaultdict(list)
    for key in keys:
        b, n = base[key], null[key]
        if not same_folds(b, n):
            raise SystemExit(f"--null: {key[0]} (seed {key[2]}) was not re-run on the same folds")
        # benchmark_ucr.py trains at the draw's seed unless told otherwise; older rows lack train_seed.
        if b.get("train_seed", b["seed"]) == n.get("train_seed", n["seed"]):
            raise SystemExit(f"--null: {key[0]} (seed {key[2]}): the re-run used the baseline's training seed, "
                             "so it repeats the baseline and shows no spread; re-run it with "
                             "'-- --seed_everything=N' for another N")
        d = correct(n) - correct(b)
        sq[key[0]].append((100.0 * d / b["held_out"]) ** 2 if points else float(d * d))
    draws = max(1, len({k[2] for k in keys}))
    var = sum(sum(v) / len(v) for v in sq.values())
    s = math.sqrt(var) / (len(sq) if points else 1) if sq else 0.0
    return s, z * s / math.sqrt(draws), draws


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
    p.add_argument("--null", type=Path, default=None,
                   help="the recipe re-run on the same folds with another training seed: the bar becomes "
                        "--null-z times the spread of its differences from the baseline (never below the fixed bar)")
    p.add_argument("--null-z", type=float, default=2.0, help="how many noise standard deviations the gain must clear")
    args = p.parse_args(argv)
    base = load_rows(args.baseline)
    null = load_rows(args.null) if args.null else None
    verdicts = {}
    for path in args.candidates:
        cand = load_rows(path)
        min_gain, min_mean_gain, spread = args.min_gain, args.min_mean_gain, ""
        if null is not None:
            keys = sorted(set(base) & set(cand))
            if len(envs := environments(base, cand, null, keys=keys)) > 1:
                raise SystemExit(f"--null: the baseline, {path.name} and the re-run were trained under different "
                                 f"environments {sorted(map(str, envs))}; the spread of a re-run says nothing "
                                 "about a shift between them. Run all three side by side (screen_parallel.py).")
            s, bar, draws = null_bar(base, null, keys, z=args.null_z, points=min_mean_gain is not None)
            if min_mean_gain is None:
                # The gain is summed over every draw; the bar is per draw, so it scales with the draws.
                min_gain = max(min_gain, math.ceil(bar * draws - 1e-9))
                spread = f"null s = {s:.2f} series a draw over {draws} draw(s): bar {min_gain} series; "
            else:
                min_mean_gain = max(min_mean_gain, bar)
                spread = f"null s = {s:.2f} points over {draws} draw(s): bar {min_mean_gain:.2f} points; "
        per, gain, ok = compare(base, cand, min_gain=min_gain, max_loss=args.max_loss,
                                min_mean_gain=min_mean_gain, max_loss_points=args.max_loss_points)
        print(f"== {path.name} against {args.baseline.name}")
        for (dataset, method, seed), b, c, n in per:
            print(f"  {dataset:<24} {method:<10} seed {seed}: {b:>4} -> {c:>4} of {n:<5} ({c - b:+d}; "
                  f"{100.0 * b / n:.1f} -> {100.0 * c / n:.1f}%)")
        if not per:
            print("  no (data set, method, seed) in common with the baseline")
        missing = sorted(f"{d} ({m}, seed {s})" for d, m, s in set(base) - set(cand))
        if len(envs := environments(base, cand, keys=[k for k, *_ in per])) > 1:
            print(f"  note: trained under different environments {sorted(map(str, envs))}; a fit does not "
                  "repeat between them, so part of any difference is the environment")
        if missing:  # an unfinished run is judged on fewer sets: say so beside the verdict
            print(f"  not in {path.name}: {', '.join(missing)}")
        need = spread + (f"mean gain >= {min_mean_gain:.3g} points" if min_mean_gain is not None
                         else f"gain >= {min_gain}")
        loss = f"-{args.max_loss}" + (f" series or -{args.max_loss_points:g} points" if args.max_loss_points else "")
        print(f"  total {gain:+d} series, mean {mean_points(per):+.2f} points over {len(per)} sets; "
              f"rule ({need}, no set below {loss}): {'passes' if ok else 'fails'}")
        verdicts[path.name] = (gain, ok)
    return verdicts


if __name__ == "__main__":
    main()
