"""The UCR benchmark's tables: per-set accuracy against the references, wins/ties/losses, mean ranks
and paired comparisons with a bootstrap interval over the sets and a Wilcoxon test. Used by
``benchmark_ucr.py`` (a run's table, ``--from-json``); importable on its own to re-summarise rows.
"""

from __future__ import annotations

import math
import statistics


def paired_comparison(diffs: list[float], resamples: int = 10_000, seed: int = 0) -> dict[str, float]:
    """How sure a mean difference over data sets is (two classifiers, one value per set; Demsar 2006's
    recommendation for this case is the Wilcoxon signed-rank test). ``diffs`` are per-set differences in
    points. Returns their mean, a percentile bootstrap 95% interval of the mean resampling the *sets* (the
    uncertainty that more seeds cannot remove), and the two-sided Wilcoxon p-value (sets with no
    difference are dropped, scipy's default; nan when every set ties)."""
    import numpy as np
    from scipy.stats import wilcoxon

    d = np.asarray(diffs, dtype=float)
    means = np.random.default_rng(seed).choice(d, size=(resamples, d.size), replace=True).mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    nonzero = d[d != 0]
    p = float(wilcoxon(nonzero).pvalue) if nonzero.size else math.nan
    return {"n": int(d.size), "mean": float(d.mean()), "lo": float(lo), "hi": float(hi), "p": p}


def summarize(rows: list[dict], published: dict[str, dict[str, float]], names: list[str]) -> str:
    """The per-set table and the summary lines, as text. The first column is the recipe's ("ours"),
    or with ``--baseline-only`` the baseline's, with its spread over seeds."""
    found = {r["method"] for r in rows}
    lead = "ours" if "ours" in found or not found else sorted(found)[0]
    methods = [lead] + sorted(found - {lead})
    refs = ["ResNet", "InceptionTime"]
    cols = methods + refs
    lines = [f"{'dataset':<24}{lead + ' % (mean +- std)':>22}" + "".join(f"{m:>14}" for m in cols[1:])
             + f"{'wall s':>9}{'cpu s':>9}"]
    table: dict[str, dict[str, float]] = {}
    wall_s, cpu_s = [], 0.0
    for name in names:
        led = [r for r in rows if r["dataset"] == name and r["method"] == lead]
        if not led:
            continue
        accs = [r["acc"] for r in led]
        row = {lead: statistics.fmean(accs)}
        for m in methods[1:]:
            other = [r["acc"] for r in rows if r["dataset"] == name and r["method"] == m]
            row[m] = statistics.fmean(other) if other else math.nan
        row.update(published.get(name, {k: math.nan for k in refs}))
        table[name] = row
        std = statistics.stdev(accs) if len(accs) > 1 else 0.0
        w = statistics.fmean(r["wall_s"] for r in led)
        wall_s.append(w)
        cpu_s += sum(r["cpu_s"] for r in rows if r["dataset"] == name)
        # "-" where a column has no figure (no baseline row, or a published run left out as failed)
        lines.append(f"{name:<24}{row[lead]:>14.1f} +- {std:<4.1f}"
                     + "".join(f"{'-':>14}" if math.isnan(row[m]) else f"{row[m]:>14.1f}" for m in cols[1:])
                     + f"{w:>9.0f}{statistics.fmean(r['cpu_s'] for r in led):>9.0f}")
    if not table:
        return "\n".join(lines)
    lines.append("")
    for m in cols:
        vals = [t[m] for t in table.values() if not math.isnan(t[m])]
        if vals:
            lines.append(f"mean accuracy {m:<14} {statistics.fmean(vals):6.2f}% over {len(vals)} sets")
    for m in cols[1:]:
        pairs = [(t[lead], t[m]) for t in table.values() if not math.isnan(t[m])]
        # differences under 0.05 points are ties (the published figures have 2-4 digits)
        wins = sum(a > b + 0.05 for a, b in pairs)
        losses = sum(a < b - 0.05 for a, b in pairs)
        lines.append(f"{lead} vs {m:<14} wins/ties/losses {wins}/{len(pairs) - wins - losses}/{losses}")
    # Ranks only over the sets where every column that has figures has one there: a set ranked among
    # two columns (a failed published run left out) would otherwise pull the means towards 1.5.
    present = [m for m in cols if any(not math.isnan(t[m]) for t in table.values())]
    ranked = [t for t in table.values() if all(not math.isnan(t[m]) for m in present)]
    ranks = {m: [] for m in present}
    for t in ranked:
        for m in present:  # rank 1 = best, ties share the mean rank
            better = sum(t[o] > t[m] + 1e-9 for o in present)
            equal = sum(abs(t[o] - t[m]) <= 1e-9 for o in present)
            ranks[m].append(better + (equal + 1) / 2)
    if ranked:
        lines.append("mean rank " + ", ".join(f"{m} {statistics.fmean(v):.2f}" for m, v in ranks.items())
                     + f" over {len(ranked)} sets")
    for m in cols[1:]:
        diffs = [t[lead] - t[m] for t in table.values() if not math.isnan(t[m])]
        if len(diffs) >= 2:
            c = paired_comparison(diffs)
            lines.append(f"{lead} - {m:<14} {c['mean']:+.2f} points over {c['n']} sets, 95% interval "
                         f"{c['lo']:+.2f} .. {c['hi']:+.2f} (bootstrap over sets), Wilcoxon signed-rank p {c['p']:.3f}")
    lines.append(f"median wall s per set ({lead}, fit + test) {statistics.median(wall_s):.0f}, max {max(wall_s):.0f}; "
                 f"total CPU s (all methods, all seeds) {cpu_s:.0f}")
    probes = sorted({r["probe_s"] for r in rows if r.get("probe_s")})
    if probes:  # one per run; several when --from-json pools runs
        lines.append("machine probe (CPU s of a fixed workload; CPU s of different runs compare in proportion) "
                     + ", ".join(f"{p:.3f}" for p in probes))
    return "\n".join(lines)
