"""ts_resnet: 1D multi-scale residual networks for time-series classification, ECG first.

Importing the package imports torch and the network only; the Lightning parts load on first use.
"""

from __future__ import annotations

from typing import Any

from .network import DEFAULT_NUM_CLASSES, MultiScaleResNet1d
from .registry import create_model, list_models, model_defaults, register_model

__version__ = "0.2.0"

_LAZY = {
    "SignalClassifier": "ts_resnet.module",
    "load_classifier": "ts_resnet.inference",
    "load_ensemble": "ts_resnet.inference",
    "Classifier": "ts_resnet.inference",
}


def __getattr__(name: str) -> Any:
    # Lightning and the data stack take seconds to import; only pay for them when asked.
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ts_resnet' has no attribute {name!r}")


__all__ = [
    "DEFAULT_NUM_CLASSES",
    "MultiScaleResNet1d",
    "create_model",
    "list_models",
    "model_defaults",
    "register_model",
    *_LAZY,
]
