"""Held-out series gained or lost by recipe candidates against a baseline, from ``benchmark_ucr.py
--dev-folds K --json`` (or ``--dev-val F --json``) files, with a pass/fail line for an adoption rule
stated before the folds are read (the protocol in BENCHMARKS.md: choices are made on TRAIN, never on TEST).

    python examples/compare_cv.py base.json bs8.json steps2000.json --min-gain 2 --max-loss 1
    python examples/compare_cv.py base.json level.json --min-mean-gain 0.5 --max-loss 1 --max-loss-points 2
    python examples/compare_cv.py base.json ls.json --sign-p 0.05 --min-mean-gain 0.001 --max-loss 0 \
        --max-loss-points 3

Rows are matched on (data set, method, seed), and must come from the same folds (same K, same series).
Two kinds of rule. By default the gain is counted in series: "+1 of 36" is one series, whatever the
percentage, and a 30-series set weighs less than a 180-series one. With ``--min-mean-gain P`` it is the
mean over sets of the change in accuracy, in points, so that a set of 7,200 series cannot outvote twenty
small ones. ``--max-loss-points Q`` lets one set lose up to Q points or ``--max-loss`` series, whichever
is more (a loss of "1 series" is 5 points on a 20-series set and 0.01 on Crop). Every comparison also
prints how many sets went up, down or stayed level and the one-sided sign-test p-value of the sets that
moved; ``--sign-p P`` makes p <= P part of the rule. That test needs no re-run of the recipe (below):
with many sets it is the cheap bar; on seven small ones it reaches 0.05 only if every set that moved rose.

    python examples/compare_cv.py base.json lld.json --null s1000.json s2000.json --max-loss 1

``--null RERUN.json ...`` takes the bar from the screen's own spread instead of a number picked
beforehand. Each RERUN is the recipe itself re-run on the same folds with another training seed
(``screen_parallel.py --arm "s1000=--seed_everything=1000"``): its differences from the baseline are what
two trainings differ by when nothing changed, which is what a candidate's differences are when it does
not help. From them comes s, the standard deviation of a noise-only total gain on one draw, as the larger
of two estimates: the per-set one (the sum of the sets' mean squared differences, which assumes the sets
move independently) and the whole-run one (the root mean square of each re-run's total difference, which
does not). The candidate must gain at least ``--null-z`` (2) times s / sqrt(draws), in series or (with
``--min-mean-gain``) in mean points, and never less than the fixed bar. Baseline, re-runs and candidate
must be trained side by side, in one environment (rows that record different torch versions or devices,
or none beside rows that do, are refused with ``--null`` and flagged without it).

Why both estimates: the sets of one run need not move independently. On the seven-set screen of
sessions 52-55 (BENCHMARKS.md, "The fold screen's own spread") the recipe at seed 1000 was +8 of 210
above the recipe at seed 0 trained beside it, one series up or two on six sets and level on the
seventh; the per-set estimate from those very differences is 3.46, so the re-run cleared a 2 s bar of 7
series set from itself. The whole-run estimate is 8 and the bar 16; with a second re-run (seed 2000,
185 against the baseline's 186) it is 5.70 and the bar 12: on one draw of seven small sets that screen
cannot see a gain below about 6% of the held-out series. More draws and more re-run seeds lower it.
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


def null_bar(base: dict, nulls: list[dict], keys: list[tuple], *, points: bool) -> tuple[float, float, float, int]:
    """``(s, s_sets, s_totals, draws)`` from re-runs of the recipe (``nulls``, one dict of rows per training
    seed) on the folds of ``keys``; a gain averaged over ``draws`` fold draws must clear z * s / sqrt(draws).
    ``s`` estimates the standard deviation of one draw's noise-only total gain (in series; with
    ``points``, of the mean over sets in points) as the larger of two estimates:

    - ``s_sets``: the square root of the summed per-set mean squared difference from the baseline. It
      assumes the sets move independently of one another.
    - ``s_totals``: the root mean square of each re-run's whole total difference, one per draw. It
      assumes nothing about the sets, but has one degree of freedom per re-run and draw.

    Both are needed because the sets of one run need not move independently: in session 55 the recipe
    at seed 1000 was above the recipe at seed 0 on six of the seven sets and level on the seventh, +8 in
    all against s_sets = 3.46, so the re-run passed the bar taken from its own per-set differences.
    Every key must be in every re-run: a bar from fewer sets than the candidate is judged on would be
    too low."""
    for key in keys:
        seeds = [n[key].get("train_seed", n[key]["seed"]) for n in nulls if key in n]
        if len(seeds) != len(set(seeds)):
            raise SystemExit(f"--null: {key[0]} (seed {key[2]}): two re-runs were trained at the same seed "
                             f"({sorted(seeds)}), so they count one spread twice; give each once")
    sq: dict[str, list[float]] = defaultdict(list)
    totals: dict[tuple[int, int], float] = defaultdict(float)  # (re-run, draw) -> total difference
    for r, null in enumerate(nulls):
        missing = sorted(f"{d} (seed {k})" for d, _, k in set(keys) - set(null))
        if missing:
            raise SystemExit(f"--null: the re-run has no row for {', '.join(missing)}; the bar needs every "
                             "set and draw the candidate is judged on")
        for key in keys:
            b, n = base[key], null[key]
            if not same_folds(b, n):
                raise SystemExit(f"--null: {key[0]} (seed {key[2]}) was not re-run on the same folds")
            # benchmark_ucr.py trains at the draw's seed unless told otherwise; older rows lack train_seed.
            if b.get("train_seed", b["seed"]) == n.get("train_seed", n["seed"]):
                raise SystemExit(f"--null: {key[0]} (seed {key[2]}): the re-run used the baseline's training "
                                 "seed, so it repeats the baseline and shows no spread; re-run it with "
                                 "'-- --seed_everything=N' for another N")
            d = float(correct(n) - correct(b))
            if points:
                d = 100.0 * d / b["held_out"]
            sq[key[0]].append(d * d)
            totals[r, key[2]] += d
    draws = max(1, len({k[2] for k in keys}))
    n_sets = max(1, len(sq))
    scale = n_sets if points else 1  # a mean over sets, not a sum, in points
    s_sets = math.sqrt(sum(sum(v) / len(v) for v in sq.values())) / scale
    s_totals = math.sqrt(sum(t * t for t in totals.values()) / len(totals)) / scale if totals else 0.0
    return max(s_sets, s_totals), s_sets, s_totals, draws


def sign_test(per: list[tuple]) -> tuple[int, int, int, float]:
    """``(up, down, level, p)``: the sets whose held-out count rose, fell or stayed, and the one-sided
    sign-test p-value (scipy's exact binomial test) of at least ``up`` rises among the ``up + down`` sets
    that moved, if a rise and a fall were equally likely. It needs no re-run of the recipe: each set's
    difference is symmetric about zero when the candidate does nothing, whatever its size, so a set of
    7,200 series and one of 100 count the same (session 56's screen of nine larger held-out sets). It
    does assume that the sets move independently, so both arms should train at the same seed: the
    initial weights a seed draws are shared by every set, and what they do to all sets at once (session
    55's seed 1000, up on six of seven) then cancels within each pair."""
    from scipy.stats import binomtest

    up = sum(c > b for _, b, c, _ in per)
    down = sum(c < b for _, b, c, _ in per)
    p = binomtest(up, up + down, 0.5, alternative="greater").pvalue if up + down else 1.0
    return up, down, len(per) - up - down, float(p)


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
    p.add_argument("--null", type=Path, nargs="+", default=None,
                   help="the recipe re-run on the same folds with other training seeds, one file per seed: the "
                        "bar becomes --null-z times the spread of their differences from the baseline (never "
                        "below the fixed bar)")
    p.add_argument("--null-z", type=float, default=2.0, help="how many noise standard deviations the gain must clear")
    p.add_argument("--sign-p", type=float, default=None,
                   help="also require the one-sided sign-test p-value of the sets that moved to be at most this")
    args = p.parse_args(argv)
    base = load_rows(args.baseline)
    nulls = [load_rows(path) for path in args.null] if args.null else None
    verdicts = {}
    for path in args.candidates:
        cand = load_rows(path)
        min_gain, min_mean_gain, spread = args.min_gain, args.min_mean_gain, ""
        if nulls is not None:
            keys = sorted(set(base) & set(cand))
            if len(envs := environments(base, cand, *nulls, keys=keys)) > 1:
                raise SystemExit(f"--null: the baseline, {path.name} and the re-run were trained under different "
                                 f"environments {sorted(map(str, envs))}; the spread of a re-run says nothing "
                                 "about a shift between them. Run all three side by side (screen_parallel.py).")
            s, s_sets, s_totals, draws = null_bar(base, nulls, keys, points=min_mean_gain is not None)
            bar = args.null_z * s / math.sqrt(draws)
            unit = "series a draw" if min_mean_gain is None else "points"
            spread = (f"null s = {s:.2f} {unit} (sets {s_sets:.2f}, totals {s_totals:.2f}; {len(nulls)} "
                      f"re-run(s)) over {draws} draw(s): bar ")
            if min_mean_gain is None:
                # The gain is summed over every draw; the bar is per draw, so it scales with the draws.
                min_gain = max(min_gain, math.ceil(bar * draws - 1e-9))
                spread += f"{min_gain} series; "
            else:
                min_mean_gain = max(min_mean_gain, bar)
                spread += f"{min_mean_gain:.2f} points; "
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
        up, down, level, sign_p = sign_test(per)
        print(f"  sets up / down / level: {up} / {down} / {level}; sign test (one-sided) p = {sign_p:.3g}")
        need = spread + (f"mean gain >= {min_mean_gain:.3g} points" if min_mean_gain is not None
                         else f"gain >= {min_gain}")
        if args.sign_p is not None:
            ok = ok and sign_p <= args.sign_p
            need += f", sign-test p <= {args.sign_p:g}"
        loss = f"-{args.max_loss}" + (f" series or -{args.max_loss_points:g} points" if args.max_loss_points else "")
        print(f"  total {gain:+d} series, mean {mean_points(per):+.2f} points over {len(per)} sets; "
              f"rule ({need}, no set below {loss}): {'passes' if ok else 'fails'}")
        verdicts[path.name] = (gain, ok)
    return verdicts


if __name__ == "__main__":
    main()
