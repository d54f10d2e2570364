"""Temperature scaling (Guo et al. 2017): probabilities that mean what they say, fitted on validation.

A network trained with cross-entropy ranks well but is often over-confident: among records it calls
90% AF, fewer than 90% are. Dividing the logits by a temperature ``T > 1`` softens them without
changing any ranking (AUROC is untouched). One ``T`` for all outputs, or one per class for
multi-label tasks, is chosen to minimise the validation negative log-likelihood of the record
probabilities exactly as inference computes them (window logits / T -> probabilities -> mean or max
over a record's windows). No Lightning; torch's L-BFGS.
"""

from __future__ import annotations

from typing import Literal

import torch

from .tasks import TaskSpec, aggregate_windows

TemperatureMode = Literal["none", "global", "per_class"]


def fit_temperature(logits: torch.Tensor, n_windows: torch.Tensor, y: torch.Tensor, spec: TaskSpec, *,
                    per_class: bool = False, agg: str = "mean", max_iter: int = 100) -> list[float]:
    """Temperatures minimising the NLL of aggregated record probabilities.

    Args:
        logits: window logits ``(sum n_windows, outputs)``.
        n_windows: windows per record ``(records,)``.
        y: record targets (class indices, or 0/1 per output).
        spec: the task.
        per_class: one temperature per output (multi-label/binary only).
        agg: window aggregation, as the model uses it.
        max_iter: L-BFGS iterations.
    """
    if per_class and spec.name == "multiclass":
        raise ValueError("a multi-class softmax has one temperature (per_class is for multi-label tasks)")
    logits = logits.detach().double()
    log_t = torch.zeros(logits.shape[1] if per_class else 1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.5, max_iter=max_iter, line_search_fn="strong_wolfe")
    eps = 1e-7

    def nll() -> torch.Tensor:
        opt.zero_grad()
        probs = aggregate_windows(spec.probabilities(logits / log_t.exp()), n_windows, agg).clamp(eps, 1 - eps)
        if spec.name == "multiclass":
            loss = -torch.log(probs.gather(1, y.long().view(-1, 1))).mean()
        else:
            t = y.double().view_as(probs)
            loss = -(t * probs.log() + (1 - t) * (1 - probs).log()).mean()
        loss.backward()
        return loss

    opt.step(nll)
    return [float(v) for v in log_t.detach().exp().clamp(0.05, 20.0)]
