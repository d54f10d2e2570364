"""Two subnetworks in one network (MIMO), screened on a held-out part of TRAIN.

    python examples/screen_mimo.py --root heldout --datasets Car Fish --dev-val 0.3 --json mimo.json

Two networks of the recipe averaged beat one on the benchmark's sets of more than 40 training series, at
twice the CPU and as two networks; forks of one run did not keep that gain (BENCHMARKS.md, "A fork
soup"). MIMO (Havasi et al. 2021, "Training independent subnetworks for robust prediction") trains
``--heads`` subnetworks inside one network of the same size: in training each head is given its own
series, stacked on the channel axis (the stem takes ``heads x C`` channels, the classifier gives
``heads x K`` logits), and learns to ignore the others' inputs; at evaluation the one series is given to
every head and their probabilities are averaged. One forward pass, about the recipe's CPU. With
probability ``--input-repeat`` a head's partner series is the series itself ("input repetition", which
the paper found helps networks without spare capacity).

Everything else is ``configs/ucr.yaml`` (steps, weight EMA, batch size, decimation, level channels).
``--heads 1`` is the recipe itself through this code, and a test holds it to the plain benchmark's fit.
Scored on the held-out part (``--dev-val``; TEST is never read unless ``--dev-val 0``): the network, and
each head alone (``head0``, ``head1``: its probabilities on the repeated series). Extra LightningCLI
arguments follow ``--``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchmark_ucr  # noqa: E402  (a sibling script, not a package)
from benchmark_ucr import count_right  # noqa: E402

from ts_resnet.module import SignalClassifier  # noqa: E402
from ts_resnet.registry import build_network  # noqa: E402


class MimoNet(nn.Module):
    """``heads`` subnetworks in one network: ``inner`` takes ``heads * in_ch`` channels and gives
    ``heads * num_outputs`` logits.

    ``forward(x)`` gives every head the same series and returns the log of the heads' mean
    probabilities, so a softmax downstream (the module's predict and evaluation loops) yields exactly
    that mean. ``forward(x, stacked=True)`` takes the heads' inputs stacked on the channel axis and
    returns the raw logits ``(B, heads, num_outputs)`` for the training loss. ``only_head`` scores one
    head alone."""

    def __init__(self, inner: nn.Module, heads: int, in_ch: int, num_outputs: int) -> None:
        super().__init__()
        self.inner, self.heads, self.in_ch, self.num_outputs = inner, heads, in_ch, num_outputs
        self.min_input_length = getattr(inner, "min_input_length", 1)
        self.only_head: int | None = None

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None, stacked: bool = False) -> torch.Tensor:
        if not stacked:
            if x.shape[1] != self.in_ch:
                raise ValueError(f"expected {self.in_ch} input channels, got {x.shape[1]}")
            x = x.repeat(1, self.heads, 1)
        logits = self.inner(x) if lengths is None else self.inner(x, lengths=lengths)
        logits = logits.view(x.shape[0], self.heads, self.num_outputs)
        if stacked:
            return logits
        if self.only_head is not None:
            return logits[:, self.only_head]
        return torch.log_softmax(logits.float(), -1).exp().mean(1).log()


def partners(n: int, repeat: float) -> torch.Tensor:
    """A partner for each of ``n`` series: a random permutation, except that with probability
    ``repeat`` a series is its own partner. Draws from torch's global generator (seeded runs repeat)."""
    perm = torch.randperm(n)
    own = torch.rand(n) < repeat
    return torch.where(own, torch.arange(n), perm)


class MimoClassifier(SignalClassifier):
    """The recipe's classifier with ``heads`` subnetworks in its one network (see the module docstring).

    Args:
        heads: subnetworks (1 = the recipe's own network and training step).
        input_repeat: probability that a head's partner series is the series itself.
    """

    def __init__(self, heads: int = 2, input_repeat: float = 0.5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if heads < 1 or not 0.0 <= input_repeat <= 1.0:
            raise ValueError(f"heads must be >= 1 and input_repeat in [0, 1], got {heads} and {input_repeat}")
        if self.task != "multiclass":  # the heads' average below is one of softmax outputs
            raise ValueError(f"MimoClassifier is for multi-class tasks (the UCR/UEA sets), got task={self.task!r}")
        if self.hparams.mixup_alpha or self.hparams.cutmix_alpha or self.hparams.sam_rho:
            raise ValueError("MimoClassifier's training step does not mix batches or run SAM")
        in_ch = self.hparams.in_channels
        # heads == 1 keeps the network the parent built, so that run draws what the recipe draws
        inner = self.net if heads == 1 else build_network(self.hparams.arch, in_ch * heads, self.num_outputs * heads,
                                                          self.hparams.arch_options)
        self.net = MimoNet(inner, heads, in_ch, self.num_outputs)
        self.heads, self.input_repeat = heads, input_repeat

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        x, lengths, y, n = batch["x"], batch.get("lengths"), batch["y"], batch["n_windows"]
        if bool((n != 1).any()):
            raise ValueError("MimoClassifier pairs series: it needs one window per training record")
        perms = [torch.arange(len(y), device=x.device)]
        perms += [partners(len(y), self.input_repeat).to(x.device) for _ in range(self.heads - 1)]
        stacked = torch.cat([x[p] for p in perms], 1)
        if lengths is not None:  # each pair keeps the longer length, as mixup does
            lengths = torch.stack([lengths[p] for p in perms]).amax(0)
        logits = self.net(stacked, lengths=lengths, stacked=True)
        loss = sum(self.loss(logits[:, h], y[p]) for h, p in enumerate(perms))
        self.train_metrics.update(*self.spec.metric_inputs(self.spec.probabilities(logits[:, 0].detach().float()), y))
        self.log("train/loss_step", loss, prog_bar=True, on_step=True, on_epoch=False, batch_size=len(y))
        self.train_loss.update(loss.detach(), len(y))
        return loss


def screen_set(root: str, dataset: str, seed: int, dev_val: float, heads: int, repeat: float,
               extra: list[str]) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    args = [f"--model.heads={heads}", f"--model.input_repeat={repeat}"]
    with benchmark_ucr._fitted(root, dataset, benchmark_ucr.CONFIG.as_posix(), seed, dev_val, args + extra,
                               model_class=MimoClassifier) as cli:
        loader = benchmark_ucr._scored_loader(cli, dev_val)
        probs, labels = benchmark_ucr.predict_probs(cli, loader)
        right = {"mimo": count_right(probs, labels)}
        if heads > 1:
            for h in range(heads):
                cli.model.net.only_head = h
                right[f"head{h}"] = count_right(benchmark_ucr.predict_probs(cli, loader)[0], labels)
            cli.model.net.only_head = None
        steps = cli.trainer.global_step
    return {"dataset": dataset, "seed": seed, "split": "dev-val" if dev_val > 0 else "test", "heads": heads,
            "input_repeat": repeat, "held_out": len(labels), "right": right, "steps": steps,
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
            "probe_s": benchmark_ucr.machine_probe()}


def main(argv: list[str] | None = None) -> list[dict]:
    p = benchmark_ucr.screen_parser(__doc__, held_out=True)
    p.add_argument("--heads", type=int, default=2, help="subnetworks in the one network (1: the recipe)")
    p.add_argument("--input-repeat", type=float, default=0.5,
                   help="probability that a head's partner series is the series itself")
    args = p.parse_args(argv)
    benchmark_ucr.screen_root(args.root)
    benchmark_ucr.check_dev_val(args.dev_val)
    if args.heads < 1 or not 0.0 <= args.input_repeat <= 1.0:
        raise SystemExit("--heads must be >= 1 and --input-repeat in [0, 1]")
    def job(name: str) -> dict:
        return screen_set(args.root, name, args.seed, args.dev_val, args.heads, args.input_repeat, args.extra)

    return benchmark_ucr.screen_all(args.datasets, job, args.json)


if __name__ == "__main__":
    main()
