"""What to keep at the end of a run, screened on folds of TRAIN: one fit per fold, scored several ways.

    python examples/screen_end_of_run.py --root ../shared/data/ucr --datasets ArrowHead OliveOil --json scr.json

Changes to the network or the training loop move a small set's score by several series through the
training trajectory alone, so two fits cannot be compared series by series. What is kept after the
last step can be: every variant below comes from the *same* fit of the recipe (``configs/ucr.yaml``)
on each fold, so their differences are theirs alone. Variants:

- ``recipe``: what the recipe keeps, the EMA of the weights (``ts_resnet.averaging.WeightEMA``) with
  the BatchNorm statistics averaged alongside;
- ``last``: the last step's weights and statistics;
- ``ema<D>``: an EMA with a longer horizon (``--ema-decay``), statistics averaged alongside;
- ``swa``: the uniform average of the weights over the last ``--swa-from`` fraction of the steps;
- ``...+bn``: the same weights with the BatchNorm statistics recomputed in one pass over the fold's
  whole TRAIN (``torch.optim.swa_utils.update_bn``), as SWA requires.

Stratified ``--folds``-fold cross-validation of the official TRAIN file (``benchmark_ucr.write_folds``);
TEST is never read. Prints held-out series right per set and variant and the change against the
recipe; ``--json`` keeps one row per fold. Extra LightningCLI arguments follow ``--``.
"""

from __future__ import annotations

import copy
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch.callbacks import Callback
from torch.optim.swa_utils import AveragedModel, get_ema_avg_fn, update_bn

from ts_resnet.module import forward_by_length

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchmark_ucr  # noqa: E402  (a sibling script, not a package)


class RunAverages(Callback):
    """Keeps a longer EMA, a late uniform average and the last step of ``pl_module.net`` beside the
    recipe's own average; reads the network after each optimiser step and never changes it."""

    def __init__(self, ema_decay: float = 0.998, swa_from: float = 0.5) -> None:
        self.ema_decay = ema_decay
        self.swa_from = swa_from
        self.last: dict[str, torch.Tensor] | None = None

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        if trainer.max_steps is None or trainer.max_steps <= 0:
            raise ValueError("RunAverages needs a run of trainer.max_steps steps (the UCR recipe's budget)")
        self.total = trainer.max_steps
        self.ema = AveragedModel(pl_module.net, avg_fn=get_ema_avg_fn(self.ema_decay), use_buffers=True)
        self.swa = AveragedModel(pl_module.net, use_buffers=False)  # statistics: recomputed afterwards

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.ema.update_parameters(pl_module.net)
        if trainer.global_step > self.swa_from * self.total:
            self.swa.update_parameters(pl_module.net)
        if trainer.global_step >= self.total:  # before the recipe's average is copied into the model
            self.last = copy.deepcopy(pl_module.net.state_dict())


def held_out_right(net: torch.nn.Module, loader: Any) -> int:
    net.eval()
    right = 0
    with torch.no_grad():
        for b in loader:
            if not bool((b["n_windows"] == 1).all()):
                raise ValueError("this screen scores one window per series (no data.window)")
            lengths = b.get("lengths")
            # scored as SignalClassifier scores a padded batch: each series at its own length
            logits = net(b["x"]) if lengths is None else forward_by_length(net, b["x"], lengths)
            right += int((logits.argmax(1) == b["y"]).sum())
    return right


def whole_batch(train_loader: Any) -> torch.Tensor:
    """All of TRAIN as one batch, read once per fold for every variant's statistics."""
    batches = list(train_loader)
    if any(b.get("lengths") is not None for b in batches):
        raise ValueError("variable-length series: recomputed statistics would include the padding")
    return torch.cat([b["x"] for b in batches])


def with_fresh_bn(net: torch.nn.Module, train_x: torch.Tensor) -> torch.nn.Module:
    """A copy of ``net`` whose BatchNorm statistics are those of ``train_x`` (all of TRAIN) in one batch:
    update_bn's cumulative average over several batches would weigh a short last batch like a full one."""
    net = copy.deepcopy(net)
    update_bn([train_x], net)
    return net


def score_fold(fold_root: Path, dataset: str, seed: int, ema_decay: float, swa_from: float,
               extra: list[str]) -> dict:
    callback = f"--trainer.callbacks+={RunAverages.__module__}.RunAverages"
    args = [callback, f"--trainer.callbacks.ema_decay={ema_decay}", f"--trainer.callbacks.swa_from={swa_from}"]
    with benchmark_ucr._fitted(str(fold_root), dataset, benchmark_ucr.CONFIG.as_posix(), seed, 0.0,
                               extra + args) as cli:
        runs = next(c for c in cli.trainer.callbacks if type(c).__name__ == "RunAverages")
        dm = cli.datamodule
        held, train = dm.test_dataloader(), whole_batch(dm.train_dataloader())
        last = copy.deepcopy(cli.model.net)
        last.load_state_dict(runs.last)
        ema = f"ema{ema_decay:g}"
        variants = {"recipe": cli.model.net, "recipe+bn": with_fresh_bn(cli.model.net, train), "last": last,
                    "last+bn": with_fresh_bn(last, train), ema: runs.ema.module,
                    f"{ema}+bn": with_fresh_bn(runs.ema.module, train), "swa+bn": with_fresh_bn(runs.swa.module, train)}
        right = {name: held_out_right(net, held) for name, net in variants.items()}
        # this script's scoring of the recipe is Lightning's test loop's
        acc = cli.trainer.test(cli.model, dataloaders=held, verbose=False)[0]["test/acc"]
        n = len(dm.datasets["test"])
        if abs(right["recipe"] - acc * n) > 1e-3:
            raise RuntimeError(f"{dataset}: scored {right['recipe']} of {n}, Lightning's test loop {acc * n:.1f}")
    return {"dataset": dataset, "seed": seed, "held_out": n, "right": right,
            "swa_steps": int(runs.swa.n_averaged), "steps": cli.trainer.global_step, "ema_decay": runs.ema_decay}


def table(rows: list[dict]) -> str:
    names = list(rows[0]["right"])
    sets = list(dict.fromkeys(r["dataset"] for r in rows))
    tot = {d: {v: sum(r["right"][v] for r in rows if r["dataset"] == d) for v in names} for d in sets}
    held = {d: sum(r["held_out"] for r in rows if r["dataset"] == d) for d in sets}

    def cell(counts: dict[str, int], v: str) -> str:
        change = counts[v] - counts["recipe"]
        return f"{counts[v]}" + (f" ({change:+d})" if v != "recipe" and change else "")

    lines = [f"{'set (held out)':<28}" + "".join(f"{v:>14}" for v in names)]
    for d in sets:
        lines.append(f"{f'{d} ({held[d]})':<28}" + "".join(f"{cell(tot[d], v):>14}" for v in names))
    total = {v: sum(tot[d][v] for d in sets) for v in names}
    lines.append(f"{f'sum ({sum(held.values())})':<28}" + "".join(f"{cell(total, v):>14}" for v in names))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[dict]:
    p = benchmark_ucr.screen_parser(__doc__)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=0, help="seed of the fold assignment and of the training")
    p.add_argument("--ema-decay", type=float, default=0.998)
    p.add_argument("--swa-from", type=float, default=0.5)
    args = p.parse_args(argv)
    root = benchmark_ucr.screen_root(args.root)
    if args.folds < 2:
        raise SystemExit("--folds needs K >= 2")
    rows: list[dict] = []
    for name in args.datasets:
        with tempfile.TemporaryDirectory(prefix=f"screen-{name}-") as tmp:
            for fold_root, _ in benchmark_ucr.write_folds(root, name, args.folds, args.seed, Path(tmp)):
                benchmark_ucr.keep_row(rows, score_fold(fold_root, name, args.seed, args.ema_decay, args.swa_from,
                                                        args.extra), args.json)
    print()
    print(table(rows))
    return rows


if __name__ == "__main__":
    main()
