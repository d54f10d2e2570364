"""ts_resnet.precision: when bf16 on the CPU gets a warning, and what the processor probe answers."""

from __future__ import annotations

import pytest
import torch

from ts_resnet.precision import cpu_bf16_support, cpu_bf16_warning


def test_the_probe_answers_one_of_its_four_words():
    support = cpu_bf16_support()
    assert support in ("native", "emulated", "none", "unknown")
    if support == "native":  # what the answer rests on, checked another way where it can be (Linux)
        try:
            flags = open("/proc/cpuinfo").read()
        except OSError:
            return
        assert "avx512_bf16" in flags or "amx_bf16" in flags


@pytest.mark.parametrize("precision", ["bf16-mixed", "bf16-true", "bf16"])
@pytest.mark.parametrize("support", ["emulated", "none"])
def test_bf16_on_the_cpu_without_instructions_is_named(precision, support):
    message = cpu_bf16_warning(precision, "cpu", support)
    assert message is not None and f"--trainer.precision={precision}" in message
    assert "slower than --trainer.precision=32-true" in message
    assert ("converts every bf16 convolution" in message) == (support == "emulated")


@pytest.mark.parametrize("precision", ["32-true", 32, None, "16-mixed"])
def test_other_precisions_say_nothing(precision):
    assert cpu_bf16_warning(precision, "cpu", "emulated") is None


@pytest.mark.parametrize("support", ["native", "unknown"])
def test_native_or_unknown_support_says_nothing(support):
    assert cpu_bf16_warning("bf16-mixed", "cpu", support) is None


def test_only_runs_on_the_cpu_are_judged(monkeypatch):
    assert cpu_bf16_warning("bf16-mixed", "gpu", "emulated") is None
    assert cpu_bf16_warning("bf16-mixed", "cuda", "none") is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cpu_bf16_warning("bf16-mixed", "auto", "emulated") is None  # auto picks the GPU
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert cpu_bf16_warning("bf16-mixed", "auto", "emulated") is not None  # auto is the CPU
    assert cpu_bf16_warning("bf16-mixed", None, "emulated") is not None
