"""Export a trained model: ONNX, TorchScript, or safetensors weights + a JSON sidecar."""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Literal, get_args

import torch

from .inference import Classifier

ExportFormat = Literal["onnx", "torchscript", "safetensors"]
EXPORT_FORMATS: tuple[str, ...] = get_args(ExportFormat)


def export_safetensors(clf: Classifier, out: Path) -> list[Path]:
    """``out`` (weights) + ``out.with_suffix('.json')`` (architecture, classes, preprocessing):
    a portable model file set that contains no code; ``classify`` accepts it."""
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in clf.net.state_dict().items()}
    save_file(state, str(out), metadata={"format": "ts_resnet"})
    sidecar = out.with_suffix(".json")
    sidecar.write_text(json.dumps(clf.card.to_dict(), indent=2))
    return [out, sidecar]


def _example(clf: Classifier, length: int | None = None) -> torch.Tensor:
    n_ch = clf.card.in_channels
    t = length or clf.window or max(256, getattr(clf.net, "min_input_length", 1) * 4)
    return torch.randn(2, n_ch, t)


def export_torchscript(clf: Classifier, out: Path) -> list[Path]:
    """Traced TorchScript: convolutions and global pooling are length-generic, so the traced graph
    accepts any batch size and any length above the network's minimum. The model card travels in
    the archive as ``ts_resnet_card.json`` (``torch.jit.load(f, _extra_files={...: ""})``)."""
    net = clf.net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(net, _example(clf))
    traced.save(str(out), _extra_files={"ts_resnet_card.json": json.dumps(clf.card.to_dict())})
    return [out]


def export_onnx(clf: Classifier, out: Path, opset: int = 18) -> list[Path]:
    """ONNX with dynamic batch and length axes (``torch.onnx`` dynamo exporter)."""
    net = clf.net.eval()
    x = _example(clf)
    batch = torch.export.Dim("batch", min=1, max=4096)
    length = torch.export.Dim("length", min=max(8, getattr(net, "min_input_length", 8)), max=1_000_000)
    # The exporter prints eight progress lines, and logs that torchvision is not installed (it would
    # translate detection operators this network never uses); neither is for the user.
    registry_log = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry_log.level
    registry_log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                net, (x,), dynamo=True, dynamic_shapes={"x": {0: batch, 2: length}},
                input_names=["signal"], output_names=["logits"], opset_version=opset, verbose=False,
            )
            program.save(str(out))
    finally:
        registry_log.setLevel(level)
    # The card (classes, leads, rate, windows, preprocessing, thresholds) travels inside the file as a
    # metadata property, so an ONNX Runtime deployment decides like `classify` without a sidecar.
    import onnx

    model = onnx.load(str(out))
    entry = model.metadata_props.add()
    entry.key, entry.value = "ts_resnet_card", json.dumps(clf.card.to_dict())
    onnx.save(model, str(out))
    return [out]


def export_model(clf: Classifier, fmt: str, out: Path) -> list[Path]:
    if fmt == "onnx":
        return export_onnx(clf, out)
    if fmt == "torchscript":
        return export_torchscript(clf, out)
    if fmt == "safetensors":
        return export_safetensors(clf, out)
    raise ValueError(f"unknown export format {fmt!r}; choose from {EXPORT_FORMATS}")
