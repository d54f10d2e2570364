"""Test-time averaging over the decimation phases, scored against the recipe from the same fit.

    python examples/screen_tta.py --root ../shared/data/ucr --datasets BeetleFly OliveOil --folds 5 --json tta.json
    python examples/screen_tta.py --root ../shared/data/ucr --datasets BeetleFly --seeds 0 1 --json tta.json

Where the recipe (``configs/ucr.yaml``) decimates a set by ``f > 1``, the network sees every ``f``-th
sample of the anti-aliased series, from sample 0 on. The ``f - 1`` other phases (the series decimated
from sample ``k`` on: ``SeriesDataModule._phase``, the construction ``phase_jitter`` trains on) are
further, equally valid views of the same series. The ``tta`` variant scores each series by the mean
class probability over all ``f`` phases; sets that are not decimated have one phase and are unchanged.

Both variants are scored from the *same* fit, so their difference is the averaging's alone, not a
second training trajectory. ``--folds K``: stratified K-fold cross-validation of the official TRAIN
file (``benchmark_ucr.write_folds``, fold draw ``--seeds``); TEST is never read. Without ``--folds``:
one fit on all of TRAIN per seed, scored on the official TEST split. Prints the series right per set
and variant; ``--json`` keeps one row per fit. Extra LightningCLI arguments follow ``--``.
"""

from __future__ import annotations

import copy
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchmark_ucr  # noqa: E402  (a sibling script, not a package)


def phase_probs(cli) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Class probabilities of the fitted model on the scored split (the datamodule's ``test``), one
    tensor per sampling phase (phase 0 first, as the recipe scores it), and the labels."""
    dm = cli.datamodule
    base = dm.datasets["test"]
    loader = dm.test_dataloader()
    probs0, labels = benchmark_ucr.predict_probs(cli, loader)
    out = [probs0]
    f = dm.preprocess.decimate
    if f > 1:
        series, _ = dm.raw_series()["TEST"]
        channels, source = dm.info.channels, dm.source_name("TEST")
        for k in range(1, f):
            view = copy.copy(base)  # same labels, ids and normalisation; other samples
            view.signals = dm._phase(series, channels, source, k, base.signals)
            dm.datasets["test"] = view
            try:
                out.append(benchmark_ucr.predict_probs(cli, dm.test_dataloader())[0])
            finally:
                dm.datasets["test"] = base
    return out, labels


def score_fit(root: str, dataset: str, seed: int, extra: list[str], split: str) -> dict:
    with benchmark_ucr._fitted(root, dataset, benchmark_ucr.CONFIG.as_posix(), seed, 0.0, extra) as cli:
        probs, labels = phase_probs(cli)
        acc = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)[0]["test/acc"]
        n = len(labels)
        right = {"recipe": int((probs[0].argmax(1) == labels).sum()),
                 "tta": int((torch.stack(probs).mean(0).argmax(1) == labels).sum())}
        # this script's phase-0 scoring is Lightning's test loop's
        if abs(right["recipe"] - acc * n) > 1e-3:
            raise RuntimeError(f"{dataset}: scored {right['recipe']} of {n}, Lightning's test loop {acc * n:.1f}")
        return {"dataset": dataset, "seed": seed, "split": split, "held_out": n, "right": right,
                "phases": len(probs), "steps": cli.trainer.global_step,
                "phase_agreement": float(np.mean([(p.argmax(1) == probs[0].argmax(1)).float().mean().item()
                                                  for p in probs[1:]])) if len(probs) > 1 else 1.0}


def table(rows: list[dict]) -> str:
    sets = list(dict.fromkeys(r["dataset"] for r in rows))
    lines = [f"{'set':<26}{'phases':>7}{'held out':>10}{'recipe':>8}{'tta':>8}{'change':>8}"]
    tot = {"held": 0, "recipe": 0, "tta": 0}
    for d in sets:
        rs = [r for r in rows if r["dataset"] == d]
        held, a, b = sum(r["held_out"] for r in rs), sum(r["right"]["recipe"] for r in rs), sum(r["right"]["tta"] for r in rs)
        tot["held"] += held
        tot["recipe"] += a
        tot["tta"] += b
        lines.append(f"{d:<26}{rs[0]['phases']:>7}{held:>10}{a:>8}{b:>8}{b - a:>+8d}")
    lines.append(f"{'sum':<26}{'':>7}{tot['held']:>10}{tot['recipe']:>8}{tot['tta']:>8}{tot['tta'] - tot['recipe']:>+8d}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    p = benchmark_ucr.screen_parser(__doc__)
    p.add_argument("--folds", type=int, default=0, help="K-fold CV of TRAIN (K >= 2); 0 = score the official TEST")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds (with --folds: also the fold draw)")
    args = p.parse_args(argv)
    root = benchmark_ucr.screen_root(args.root)
    if args.folds == 1 or args.folds < 0:
        raise SystemExit("--folds needs K >= 2 (or 0 for the official TEST split)")
    rows: list[dict] = []

    def keep(row: dict) -> None:
        benchmark_ucr.keep_row(rows, row, args.json)

    for name in args.datasets:
        for seed in args.seeds:
            if args.folds:
                with tempfile.TemporaryDirectory(prefix=f"tta-{name}-") as tmp:
                    for fold_root, _ in benchmark_ucr.write_folds(root, name, args.folds, seed, Path(tmp)):
                        keep(score_fit(str(fold_root), name, seed, args.extra, f"fold {fold_root.name}"))
            else:
                keep(score_fit(str(root), name, seed, args.extra, "test"))
    print()
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
