"""bf16 mixed precision on the CPU: whether this processor runs it natively, and what to tell a user.

``--trainer.precision=bf16-mixed`` (``configs/cpu_bf16.yaml``) makes Lightning run each training and
test step under ``torch.autocast("cpu", dtype=torch.bfloat16)``: the convolutions and the classifier's
matrix product take bf16 inputs, while the weights, the optimizer, the loss and the weight average
stay float32, so checkpoints are the same float32 files as ever. Whether that is faster depends on the
processor. oneDNN, torch's CPU convolution library, has bf16 instructions to use only where the CPU
has them - AVX512-BF16 (AMD Zen 4 and later, Intel Cooper Lake) or AMX (Intel Sapphire Rapids and
later). On such a CPU the default ECG preset's training step ran 1.59x as fast as in float32
and the UCR recipe's fits took 0.74x the CPU time, with UCR accuracy within what a float32 re-run moves
(BENCHMARKS.md, "bf16 on the CPU"). Without those instructions oneDNN emulates bf16, and a training
step took 1.65x (AVX-512 without BF16) to 6.8x (AVX2) float32's time. :func:`cpu_bf16_warning` says so
before such a run starts.
"""

from __future__ import annotations

from typing import Literal

import torch

Bf16Support = Literal["native", "emulated", "none", "unknown"]

#: Lightning precision strings that compute in bf16
BF16_PRECISIONS = ("bf16", "bf16-mixed", "bf16-true")


def cpu_bf16_support() -> Bf16Support:
    """How this CPU runs bf16 convolutions: ``"native"`` (AVX512-BF16 or AMX instructions),
    ``"emulated"`` (oneDNN converts through float32: slower than float32), ``"none"`` (no oneDNN bf16
    path at all) or ``"unknown"`` (this torch does not say)."""
    # torch.cpu's probes are private (what torch's own compiler uses to pick bf16 kernels); a torch
    # without them gets "unknown" and no advice, rather than a wrong one.
    try:
        native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
        onednn = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    except (AttributeError, RuntimeError):
        return "unknown"
    if native:
        return "native"
    return "emulated" if onednn else "none"


def _runs_on_cpu(accelerator: object) -> bool:
    name = str(getattr(accelerator, "value", accelerator) or "auto").lower()
    if name == "cpu":
        return True
    if name != "auto":
        return False  # gpu/cuda/mps/an Accelerator instance: not ours to judge
    return not (torch.cuda.is_available() or torch.backends.mps.is_available())


def cpu_bf16_warning(precision: object, accelerator: object, support: Bf16Support | None = None, *,
                     option: str = "--trainer.precision") -> str | None:
    """The line to print when a run asks for bf16 on a CPU that has no bf16 instructions, else None.

    Args:
        precision: the trainer's precision setting (``"bf16-mixed"``, ``32``, None...).
        accelerator: the trainer's accelerator setting (``"auto"`` counts as the CPU when there is no
            GPU).
        support: :func:`cpu_bf16_support`'s answer (default: ask it).
        option: how the caller's user sets the precision, named in the message (the CLI's
            ``--trainer.precision``, the scikit-learn estimator's ``precision``).
    """
    if str(precision) not in BF16_PRECISIONS or not _runs_on_cpu(accelerator):
        return None
    support = cpu_bf16_support() if support is None else support
    if support in ("native", "unknown"):
        return None
    how = ("converts every bf16 convolution through float32" if support == "emulated"
           else "has no bf16 convolutions for this CPU")
    return (f"{option}={precision} on a CPU without bf16 instructions (AVX512-BF16 or AMX): oneDNN "
            f"{how}, so training is slower than {option}=32-true, not faster (BENCHMARKS.md, "
            "'bf16 on the CPU')")


__all__ = ["BF16_PRECISIONS", "Bf16Support", "cpu_bf16_support", "cpu_bf16_warning"]
