"""UCR benchmark: ``configs/ucr.yaml`` on every dataset under a UCR folder, test accuracy + wall time.

    python examples/benchmark_ucr.py --root ../shared/data/ucr [--datasets GunPoint Coffee] [--epochs 150]

Each dataset: fit on all of TRAIN with the config's settings, then test the last-epoch model on TEST
(the protocol of Fawaz et al. 2019).  Published accuracies for comparison are those quoted in
``../shared/data/README.md`` (ResNet: Wang et al. 2017 re-run by Fawaz et al., mean of 5 runs;
InceptionTime: Ismail Fawaz et al. 2020).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

PUBLISHED = {  # dataset: (ResNet, InceptionTime) test accuracy, %
    "ECG5000": (93.5, 94.1), "ECGFiveDays": (96.6, 100.0), "TwoLeadECG": (100.0, 99.6),
    "GunPoint": (99.1, 100.0), "ItalyPowerDemand": (96.2, 96.5), "ArrowHead": (83.8, 84.6),
    "Coffee": (100.0, 100.0),
}


def run_one(root: str, dataset: str, epochs: int | None, config: str, seed: int, extra: list[str]) -> dict:
    import tempfile

    from ts_resnet.cli.train import run_lightning_cli

    workdir = tempfile.mkdtemp(prefix=f"ucr-{dataset}-")
    args = ["fit", "-c", config, f"--trainer.default_root_dir={workdir}", "--data.root", root, "--data.dataset", dataset, f"--seed_everything={seed}",
            "--trainer.enable_progress_bar=false", "--trainer.logger=false", "--trainer.enable_checkpointing=false",
            *extra]
    if epochs is not None:
        args.append(f"--trainer.max_epochs={epochs}")
    start = time.perf_counter()
    cli = run_lightning_cli(args)
    fit_s = time.perf_counter() - start
    metrics = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)[0]
    return {"dataset": dataset, "test_acc": 100 * metrics["test/acc"], "fit_seconds": fit_s,
            "epochs": cli.trainer.current_epoch, "seed": seed}


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default="../shared/data/ucr")
    p.add_argument("--datasets", nargs="*", default=None)
    p.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "configs" / "ucr.yaml"))
    p.add_argument("--epochs", type=int, default=None, help="override the config's max_epochs")
    p.add_argument("--seeds", type=int, nargs="*", default=[0])
    p.add_argument("--json", default=None)
    p.add_argument("extra", nargs="*", help="further LightningCLI arguments, after --")
    args = p.parse_args(argv)
    names = args.datasets or sorted(d.name for d in Path(args.root).iterdir() if d.is_dir())
    rows = []
    for name in names:
        for seed in args.seeds:
            r = run_one(args.root, name, args.epochs, args.config, seed, args.extra)
            rows.append(r)
            print(json.dumps(r), flush=True)
    print(f"\n{'dataset':<18}{'ours %':>8}{'ResNet %':>10}{'Incep. %':>10}{'fit s':>8}")
    for name in names:
        accs = [r["test_acc"] for r in rows if r["dataset"] == name]
        secs = [r["fit_seconds"] for r in rows if r["dataset"] == name]
        pub = PUBLISHED.get(name, (float("nan"), float("nan")))
        print(f"{name:<18}{sum(accs) / len(accs):>8.1f}{pub[0]:>10.1f}{pub[1]:>10.1f}{sum(secs) / len(secs):>8.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))
    return rows


if __name__ == "__main__":
    main()
