"""A fork soup, screened on a held-out part of TRAIN: two continuations of one run, weights averaged.

    python examples/screen_fork_soup.py --root heldout --datasets Car Fish --dev-val 0.3 --json soup.json

Three networks of the recipe averaged gained 0.68 points on the benchmark's sets of more than 40 training
series (BENCHMARKS.md, "Five seeds of today's recipe"), at three times the CPU and as three networks. This
screen asks how much of that one network can keep. The recipe (``configs/ucr.yaml``) is fitted once; at
``--fork-at`` of its optimiser steps the whole training state is saved (weights, optimiser, one-cycle
schedule and the weight EMA, which Lightning's ``WeightAveraging`` checkpoints with the run). The run goes
on to its end: child A, the recipe's own fit. Child B resumes from the saved state with another data order
(``seed_everything`` = seed + 1000, Lightning's ``ckpt_path`` resume). Each child ends with the recipe's
averaged weights; the soup is the mean of the two children's weights and BatchNorm statistics, one
network at 1 + (1 - fork_at) times the recipe's steps.

Scored on the held-out part (``--dev-val``; TEST is never read unless ``--dev-val 0``): A, B, the soup,
and the two children's probabilities averaged (``ens``, two networks: what the soup would be if
averaging weights were as good as averaging outputs). ``A`` is scored by Lightning's own validation loop
as well, and the two must agree. Extra LightningCLI arguments follow ``--``.
"""

from __future__ import annotations

import copy
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchmark_ucr  # noqa: E402  (a sibling script, not a package)
from benchmark_ucr import count_right  # noqa: E402

SECOND_SEED = 1000  # child B's data order: seed + SECOND_SEED, as benchmark_ucr's re-runs


class SaveAtStep(Callback):
    """Saves the whole training state once, after optimiser step ``round(at * max_steps)``."""

    def __init__(self, path: str, at: float = 0.5) -> None:
        if not 0.0 < at < 1.0:
            raise ValueError(f"at must be in (0, 1), got {at}")
        self.path = path
        self.at = at
        self.step: int | None = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.max_steps is None or trainer.max_steps <= 0:
            raise ValueError("SaveAtStep needs a run of trainer.max_steps steps (the UCR recipe's budget)")
        self.step = max(1, round(self.at * trainer.max_steps))

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.step and not Path(self.path).exists():
            trainer.save_checkpoint(self.path)  # WeightAveraging stores its average beside the weights


def average_states(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The mean of two state dicts of one architecture; integer buffers (BatchNorm's step counter) are
    kept from ``a``: they count, they do not average."""
    if a.keys() != b.keys():
        raise ValueError("the two networks' state dicts differ in their keys")
    return {k: (a[k] + b[k]) / 2 if a[k].is_floating_point() else a[k].clone() for k in a}


def distance(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """How far apart two networks' weights are, relative to their size: ||a - b|| / ||a|| over the
    floating-point entries (0 would mean B never left A's trajectory)."""
    keys = [k for k in a if a[k].is_floating_point()]
    diff = torch.sqrt(sum(((a[k] - b[k]).double() ** 2).sum() for k in keys))
    return float(diff / torch.sqrt(sum((a[k].double() ** 2).sum() for k in keys)))


def screen_set(root: str, dataset: str, seed: int, dev_val: float, fork_at: float, extra: list[str]) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix=f"soup-{dataset}-") as tmp:
        fork = str(Path(tmp) / "fork.ckpt")
        save = [f"--trainer.callbacks+={SaveAtStep.__module__}.SaveAtStep", f"--trainer.callbacks.path={fork}",
                f"--trainer.callbacks.at={fork_at}"]
        with benchmark_ucr._fitted(root, dataset, benchmark_ucr.CONFIG.as_posix(), seed, dev_val,
                                   extra + save) as cli:
            loader = benchmark_ucr._scored_loader(cli, dev_val)
            a_state = copy.deepcopy(cli.model.net.state_dict())
            p_a, labels = benchmark_ucr.predict_probs(cli, loader)
            steps = cli.trainer.global_step
            saver = next(c for c in cli.trainer.callbacks if isinstance(c, SaveAtStep))
            # this script's scoring of A is Lightning's own evaluation loop's
            cli.trainer.limit_val_batches = 1.0
            if dev_val > 0:
                acc = cli.trainer.validate(cli.model, dataloaders=loader, verbose=False)[0]["val/acc"]
            else:
                acc = cli.trainer.test(cli.model, dataloaders=loader, verbose=False)[0]["test/acc"]
            if abs(count_right(p_a, labels) - acc * len(labels)) > 1e-3:
                raise RuntimeError(f"{dataset}: A scored {count_right(p_a, labels)} of {len(labels)}, "
                                   f"Lightning's loop {acc * len(labels):.1f}")
        if not Path(fork).exists():
            raise RuntimeError(f"{dataset}: the run never reached step {saver.step}")
        a_s = time.perf_counter() - wall
        with benchmark_ucr._fitted(root, dataset, benchmark_ucr.CONFIG.as_posix(), seed + SECOND_SEED, dev_val,
                                   extra + [f"--ckpt_path={fork}"]) as cli_b:
            if cli_b.trainer.global_step != steps:
                raise RuntimeError(f"{dataset}: B ended at step {cli_b.trainer.global_step}, A at {steps}")
            p_b, labels_b = benchmark_ucr.predict_probs(cli_b, loader)
            if not torch.equal(labels, labels_b):
                raise RuntimeError(f"{dataset}: A and B were scored on different series")
            b_state = cli_b.model.net.state_dict()
            apart = distance(a_state, b_state)
            cli_b.model.net.load_state_dict(average_states(a_state, b_state))
            p_soup, _ = benchmark_ucr.predict_probs(cli_b, loader)
    right = {"A": count_right(p_a, labels), "B": count_right(p_b, labels), "soup": count_right(p_soup, labels),
             "ens": count_right((p_a + p_b) / 2, labels)}
    return {"dataset": dataset, "seed": seed, "split": "dev-val" if dev_val > 0 else "test",
            "held_out": len(labels), "right": right, "ab_distance": apart, "steps": steps, "fork_step": saver.step,
            "a_wall_s": a_s, "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
            "probe_s": benchmark_ucr.machine_probe()}


def table(rows: list[dict]) -> str:
    """Held-out series right per set; changes against the mean of A and B, and B against A."""
    lines = [f"{'set (held out)':<30}{'A':>7}{'B':>7}{'soup':>7}{'ens':>7}{'soup-AB':>9}{'ens-AB':>8}{'B-A':>6}"]
    tot = dict.fromkeys(("A", "B", "soup", "ens"), 0)
    for r in rows:
        c = r["right"]
        mean_ab = (c["A"] + c["B"]) / 2
        name = f"{r['dataset']} ({r['held_out']})"
        lines.append(f"{name:<30}{c['A']:>7}{c['B']:>7}{c['soup']:>7}{c['ens']:>7}"
                     f"{c['soup'] - mean_ab:>+9.1f}{c['ens'] - mean_ab:>+8.1f}{c['B'] - c['A']:>+6d}")
        for k in tot:
            tot[k] += c[k]
    mean_ab = (tot["A"] + tot["B"]) / 2
    held = sum(r["held_out"] for r in rows)
    lines.append(f"{f'sum ({held})':<30}{tot['A']:>7}{tot['B']:>7}{tot['soup']:>7}{tot['ens']:>7}"
                 f"{tot['soup'] - mean_ab:>+9.1f}{tot['ens'] - mean_ab:>+8.1f}{tot['B'] - tot['A']:>+6d}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    p = benchmark_ucr.screen_parser(__doc__, held_out=True)
    p.add_argument("--fork-at", type=float, default=0.5, help="fraction of the optimiser steps where B forks")
    args = p.parse_args(argv)
    benchmark_ucr.screen_root(args.root)
    benchmark_ucr.check_dev_val(args.dev_val)
    if not 0.0 < args.fork_at < 1.0:
        raise SystemExit("--fork-at must be in (0, 1): a fraction of the run's optimiser steps")
    rows: list[dict] = []
    for name in args.datasets:
        benchmark_ucr.keep_row(rows, screen_set(args.root, name, args.seed, args.dev_val, args.fork_at, args.extra),
                               args.json)
    print()
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
