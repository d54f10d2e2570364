"""Accuracy per cost of network presets on ECG tasks: the check behind the default ECG preset.

    python examples/compare_presets.py --presets msresnet_ecg msresnet18 --json presets.json

Two yardsticks, same recipe for every preset, seed by seed:

* the ECG sets of the UCR archive (ECG5000, ECGFiveDays, TwoLeadECG) with ``configs/ucr.yaml`` and only
  the network swapped (``--model.arch``), test accuracy of the model at the end of training;
* the PTB-XL-shaped synthetic task (``SyntheticECGDataModule(label_set="hard")``, 12 leads, 100 Hz,
  2.5 s training crops, 10 s records scored by sliding windows), test macro AUROC.  Synthetic data is a
  relative yardstick between networks, never evidence of clinical accuracy.

Each row also carries the fit wall time on this machine.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.logger=false", "--trainer.enable_checkpointing=false",
         "--trainer.enable_model_summary=false"]


def _fit_test(args: list[str]) -> tuple[dict, float, str]:
    from ts_resnet.cli.train import run_lightning_cli

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="compare-presets-") as workdir:  # removed after the test pass
        cli = run_lightning_cli(["fit", *args, f"--trainer.default_root_dir={workdir}", *QUIET])
        seconds = time.perf_counter() - start
        metrics = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)[0]
        return metrics, seconds, str(cli.trainer.precision)  # the precision the fit ran in, as Lightning has it


def ucr_ecg(preset: str, root: str, dataset: str, seed: int, steps: int | None,
            precision: str = "32-true") -> dict:
    extra = [f"--trainer.max_steps={steps}"] if steps else []
    metrics, seconds, ran = _fit_test(["-c", str(REPO / "configs" / "ucr.yaml"), "--data.root", root, "--data.dataset",
                                  dataset, f"--model.arch={preset}", f"--seed_everything={seed}",
                                  f"--trainer.precision={precision}", *extra])
    return {"preset": preset, "task": dataset, "metric": "test acc %", "value": 100 * metrics["test/acc"],
            "fit_s": seconds, "seed": seed, "precision": ran}


def synthetic(preset: str, records: int, epochs: int, seed: int, difficulty: float,
              precision: str = "32-true") -> dict:
    metrics, seconds, ran = _fit_test([
        "--data=ts_resnet.data.modules.SyntheticECGDataModule", f"--data.init_args.num_records={records}",
        "--data.init_args.label_set=hard", f"--data.init_args.difficulty={difficulty}", "--data.init_args.window=250",
        "--data.init_args.eval_stride=125", "--data.init_args.batch_size=64", f"--model.arch={preset}", "--model.lr=0.003", f"--trainer.max_epochs={epochs}",
        f"--seed_everything={seed}", "--trainer.accelerator=cpu", f"--trainer.precision={precision}",
    ])
    return {"preset": preset, "task": f"synthetic-hard d={difficulty} n={records}", "metric": "test macro AUROC",
            "value": metrics["test/auroc"], "fit_s": seconds, "seed": seed, "precision": ran}


def main(argv: list[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", nargs="*", default=["msresnet_ecg", "msresnet18"])
    p.add_argument("--ucr-root", default=str(REPO.parent / "shared" / "data" / "ucr"))
    p.add_argument("--ucr-sets", nargs="*", default=["ECG5000", "ECGFiveDays", "TwoLeadECG"])
    p.add_argument("--ucr-steps", type=int, default=None, help="override the recipe's step budget")
    p.add_argument("--records", type=int, default=3000, help="synthetic records (70%% train); 0 = skip")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--difficulty", type=float, default=0.5)
    p.add_argument("--seeds", type=int, nargs="*", default=[0])
    p.add_argument("--precision", default="32-true",
                   help="Lightning training precision, e.g. bf16-mixed (configs/cpu_bf16.yaml) on a CPU with bf16 "
                        "instructions")
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    rows = []
    for seed in args.seeds:
        for preset in args.presets:
            for name in args.ucr_sets:
                rows.append(ucr_ecg(preset, args.ucr_root, name, seed, args.ucr_steps, args.precision))
                print(json.dumps(rows[-1]), flush=True)
            if args.records:
                rows.append(synthetic(preset, args.records, args.epochs, seed, args.difficulty, args.precision))
                print(json.dumps(rows[-1]), flush=True)
    print(f"\n{'task':<34}" + "".join(f"{pr:>16}" for pr in args.presets))
    for task in dict.fromkeys(r["task"] for r in rows):
        cells = []
        for pr in args.presets:
            vals = [r for r in rows if r["task"] == task and r["preset"] == pr]
            mean = sum(r["value"] for r in vals) / len(vals)
            cells.append(f"{mean:>9.3f} ({sum(r['fit_s'] for r in vals) / len(vals):>3.0f}s)")
        print(f"{task:<34}" + "".join(f"{c:>16}" for c in cells))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return rows


if __name__ == "__main__":
    main()
