"""ONNX Runtime as the network behind :class:`~ts_resnet.inference.Classifier`.

``ts-resnet export --format onnx`` writes the model card into the ONNX file's metadata, so an
exported model classifies on its own: ``ts-resnet classify -m model.onnx ...`` (or
``load_classifier("model.onnx")``) runs the graph with ONNX Runtime (the ``export`` extra) and
replays the card's preprocessing, windows, temperature and thresholds exactly as for a checkpoint.
Everything but the network - reading, windowing, aggregation, decisions - is the same code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

CARD_KEY = "ts_resnet_card"  # the metadata property export_onnx writes


class OnnxRuntimeNet(nn.Module):
    """A module whose forward runs an ONNX Runtime session: ``(N, C, T)`` -> ``(N, outputs)`` logits.

    It has no parameters (so BatchNorm folding and ``.to(device)`` leave it alone); inputs on any
    device are run on the CPU and the logits come back on the input's device.
    """

    def __init__(self, session: Any, min_input_length: int = 1) -> None:
        super().__init__()
        self.session = session
        self.input_name = session.get_inputs()[0].name
        self.min_input_length = min_input_length

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.session.run(None, {self.input_name: x.detach().float().cpu().numpy()})[0]
        return torch.from_numpy(logits).to(x.device)


def load_onnx(path: Path) -> tuple[dict[str, Any], OnnxRuntimeNet]:
    """The card dict stored in ``path`` and the session-backed network.

    Raises:
        ImportError: onnxruntime is not installed.
        ValueError: the file is not a readable ONNX model or carries no ts_resnet card.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()  # the same thread budget as the torch path
    try:
        session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as e:  # onnxruntime raises its own Fail/InvalidProtobuf types
        raise ValueError(f"not a readable ONNX model ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    stored = session.get_modelmeta().custom_metadata_map.get(CARD_KEY)
    if stored is None:
        raise ValueError(f"no '{CARD_KEY}' metadata: not exported by `ts-resnet export --format onnx`")
    try:
        meta = json.loads(stored)
    except json.JSONDecodeError as e:
        raise ValueError(f"'{CARD_KEY}' metadata is not JSON ({e})") from None
    return meta, OnnxRuntimeNet(session)
