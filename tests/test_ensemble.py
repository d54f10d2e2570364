"""ProbabilityMean: the ensemble's logits give back the mean of the members' probabilities."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ts_resnet.inference import ModelFileError, ProbabilityMean, load_ensemble
from ts_resnet.tasks import TaskSpec


class Fixed(nn.Module):
    """A 'network' whose logits are a fixed linear map of the input's mean over time."""

    def __init__(self, weight: torch.Tensor, min_input_length: int = 1) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight)
        self.min_input_length = min_input_length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(-1) @ self.weight


@pytest.mark.parametrize("task, outputs", [("multiclass", 4), ("multilabel", 4), ("binary", 1)])
def test_probability_mean_returns_logits_of_the_mean(task, outputs):
    gen = torch.Generator().manual_seed(0)
    spec = TaskSpec(task, 2 if task == "binary" else outputs)
    members = [Fixed(3 * torch.randn(2, outputs, generator=gen), m) for m in (1, 9)]
    temperatures = [None, [2.0] * outputs]  # each member keeps its own calibration
    x = torch.randn(5, 2, 30, generator=gen)
    expected = torch.stack([spec.probabilities(m(x), t) for m, t in zip(members, temperatures)]).mean(0)
    ensemble = ProbabilityMean(members, spec, temperatures)
    torch.testing.assert_close(spec.probabilities(ensemble(x)), expected, atol=1e-6, rtol=0)
    # averaging logits instead would give something else here: the test can tell the two apart
    naive = spec.probabilities(torch.stack([m(x) / torch.tensor(t or 1.0) for m, t in zip(members, temperatures)]).mean(0))
    assert (naive - expected).abs().max() > 1e-3
    assert ensemble.min_input_length == 9  # windows are padded for the most demanding member


def test_load_ensemble_refuses_onnx_and_nothing(tmp_path):
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"not used")
    with pytest.raises(ModelFileError, match="m.onnx: an ONNX model cannot be averaged"):
        load_ensemble([onnx, onnx])
    with pytest.raises(ModelFileError, match="no model file given"):
        load_ensemble([])
