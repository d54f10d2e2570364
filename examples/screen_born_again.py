"""Born-again self-distillation, screened on a held-out part of TRAIN.

    python examples/screen_born_again.py --root heldout --datasets Car Fish --dev-val 0.3 --json ban.json

Three networks of the recipe averaged beat one on the benchmark's sets of more than 40 training series
(BENCHMARKS.md, "Five seeds of today's recipe"), as three networks; forks of one run and two subnetworks
in one network did not keep that gain ("A fork soup", "Two subnetworks in one network"). Born-again
networks (Furlanello et al. 2018, "Born-Again Neural Networks") keep one network and spend the second
fit on training it: the recipe (``configs/ucr.yaml``) is fitted once, the *teacher* (the recipe's own
fit, scored as such); then a *student* of the same architecture, with the same seed (so the same initial
weights and data order), is trained by the same recipe on the loss

    (1 - alpha) * CE(student, label) + alpha * T^2 * KL(softmax(teacher / T) || softmax(student / T))

(Hinton et al. 2015's distillation loss; ``--alpha``, ``--temperature``). The teacher's logits are
computed on the student's own batch, with the teacher's averaged weights and BatchNorm statistics (eval
mode), so variable-length batches and any augmentation are seen by both. A set's TRAIN series are the
only inputs: what the student can learn beyond the labels is how the teacher ranks the wrong classes.
One network at inference; about 2.3x the recipe's training CPU (the teacher's fit, then the student's,
whose steps add the teacher's forward pass).

Scored on the held-out part (``--dev-val``; TEST is never read unless ``--dev-val 0``): the teacher, the
student, and the two networks' probabilities averaged (``ens``, what two networks would give). ``--alpha 0``
trains the recipe itself through this code, and a test holds it to the teacher's fit. Extra LightningCLI
arguments follow ``--``.
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchmark_ucr  # noqa: E402  (a sibling script, not a package)
from benchmark_ucr import count_right  # noqa: E402

from ts_resnet.module import SignalClassifier  # noqa: E402


class DistilClassifier(SignalClassifier):
    """The recipe's classifier trained towards a fitted teacher's softened probabilities as well as the
    labels (see the module docstring). :func:`taught_by` binds the teacher: LightningCLI builds the
    instance, so the teacher is a class attribute of a subclass, not an ``__init__`` argument, and it is
    neither a submodule (not in the checkpoint, not optimised) nor trained.

    Args:
        distill_alpha: weight of the distillation term (0: the recipe's loss alone).
        distill_temperature: softmax temperature of both networks' logits in the distillation term.
    """

    teacher: nn.Module | None = None

    def __init__(self, distill_alpha: float = 0.5, distill_temperature: float = 4.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not 0.0 <= distill_alpha <= 1.0 or distill_temperature <= 0:
            raise ValueError(f"distill_alpha must be in [0, 1] and distill_temperature > 0, "
                             f"got {distill_alpha} and {distill_temperature}")
        if self.task != "multiclass":  # the term below compares softmax outputs
            raise ValueError(f"DistilClassifier is for multi-class tasks (the UCR/UEA sets), got task={self.task!r}")
        if self.hparams.mixup_alpha or self.hparams.cutmix_alpha or self.hparams.sam_rho:
            raise ValueError("DistilClassifier's loss does not mix batches or run SAM")
        self._teacher_logits: torch.Tensor | None = None

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        teacher = type(self).teacher
        if teacher is None:
            raise ValueError("DistilClassifier has no teacher: build the class with taught_by(network)")
        if bool((batch["n_windows"] != 1).any()):
            raise ValueError("DistilClassifier matches logits series by series: it needs one window per record")
        x, lengths = batch["x"], batch.get("lengths")
        teacher.eval()  # its averaged weights and BatchNorm statistics, as it was scored
        with torch.no_grad():
            self._teacher_logits = teacher(x) if lengths is None else teacher(x, lengths=lengths)
        try:
            return super().training_step(batch, batch_idx)
        finally:
            self._teacher_logits = None

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        hard = super().loss(logits, y)
        alpha, t = self.hparams.distill_alpha, self.hparams.distill_temperature
        if self._teacher_logits is None or alpha == 0:  # validation, or the recipe itself
            return hard
        # T^2 keeps the soft term's gradient on the hard term's scale as T grows (Hinton et al. 2015)
        soft = F.kl_div(F.log_softmax(logits.float() / t, -1), F.log_softmax(self._teacher_logits.float() / t, -1),
                        reduction="batchmean", log_target=True) * t * t
        return (1.0 - alpha) * hard + alpha * soft


def taught_by(teacher: nn.Module) -> type[DistilClassifier]:
    """A :class:`DistilClassifier` subclass whose instances learn from ``teacher`` (a copy, frozen)."""
    frozen = copy.deepcopy(teacher).eval().requires_grad_(False)
    return type("BornAgainClassifier", (DistilClassifier,), {"teacher": frozen})


def screen_set(root: str, dataset: str, seed: int, dev_val: float, alpha: float, temperature: float,
               extra: list[str]) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    config = benchmark_ucr.CONFIG.as_posix()
    with benchmark_ucr._fitted(root, dataset, config, seed, dev_val, extra) as cli:
        loader = benchmark_ucr._scored_loader(cli, dev_val)
        p_teacher, labels = benchmark_ucr.predict_probs(cli, loader)
        teacher_steps = cli.trainer.global_step
        # after fit the module holds the weight EMA's average (Lightning's WeightAveraging.on_train_end)
        student_class = taught_by(cli.model.net)
    teacher_cpu = time.process_time() - cpu
    args = [f"--model.distill_alpha={alpha}", f"--model.distill_temperature={temperature}"]
    with benchmark_ucr._fitted(root, dataset, config, seed, dev_val, args + extra, model_class=student_class) as cli:
        p_student, labels_student = benchmark_ucr.predict_probs(cli, benchmark_ucr._scored_loader(cli, dev_val))
        steps = cli.trainer.global_step
    if not torch.equal(labels, labels_student) or steps != teacher_steps:
        raise RuntimeError(f"{dataset}: the student's run did not see the teacher's split or length")
    right = {"teacher": count_right(p_teacher, labels), "student": count_right(p_student, labels),
             "ens": count_right((p_teacher + p_student) / 2, labels)}
    return {"dataset": dataset, "seed": seed, "split": "dev-val" if dev_val > 0 else "test", "alpha": alpha,
            "temperature": temperature, "held_out": len(labels), "right": right, "steps": steps,
            "wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu, "teacher_cpu_s": teacher_cpu,
            "probe_s": benchmark_ucr.machine_probe()}


def main(argv: list[str] | None = None) -> list[dict]:
    p = benchmark_ucr.screen_parser(__doc__, held_out=True)
    p.add_argument("--alpha", type=float, default=0.5, help="weight of the distillation term (0: the recipe)")
    p.add_argument("--temperature", type=float, default=4.0, help="softmax temperature of the distillation term")
    args = p.parse_args(argv)
    benchmark_ucr.screen_root(args.root)
    benchmark_ucr.check_dev_val(args.dev_val)
    if not 0.0 <= args.alpha <= 1.0 or args.temperature <= 0:
        raise SystemExit("--alpha must be in [0, 1] and --temperature > 0")
    def job(name: str) -> dict:
        return screen_set(args.root, name, args.seed, args.dev_val, args.alpha, args.temperature, args.extra)

    return benchmark_ucr.screen_all(args.datasets, job, args.json)


if __name__ == "__main__":
    main()
