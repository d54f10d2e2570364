"""Load a trained model without its config or training code, and classify records with it.

A model file is either a Lightning checkpoint (``.ckpt``, loaded with ``torch.load(weights_only=True)``:
tensors and plain data only, never pickled code) or a safetensors file with a JSON sidecar
(``model.safetensors`` + ``model.json``) written by ``ts-resnet export --format safetensors``.
Both carry the network preset and options, class names, task, leads, sampling rate, window and the
preprocessing configuration, so inference replays training's pipeline exactly.
"""

from __future__ import annotations

import json
import pickle
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .data.records import Record
from .data.transforms import PreprocessConfig, Preprocessor, lead_key, pad_or_crop, sliding_windows
from .module import _resolve_layer, aggregate_windows, probabilities
from .registry import create_model


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message names the file and the reason."""


def _build_net(meta: dict[str, Any]) -> nn.Module:
    options = {k: _resolve_layer(v) for k, v in (meta.get("arch_options") or {}).items()}
    return create_model(meta["arch"], in_ch=int(meta["in_channels"]), num_classes=int(meta["num_outputs"]), **options)


def _load_ckpt(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise ModelFileError(
            f"{path}: refused to load: the file contains pickled objects other than tensors and plain "
            f"data, which could run arbitrary code ({str(e).splitlines()[0][:200]})"
        ) from None
    except Exception as e:
        raise ModelFileError(f"{path}: not a readable checkpoint ({type(e).__name__}: {e})") from None
    if not isinstance(ckpt, dict) or "ts_resnet" not in ckpt or "state_dict" not in ckpt:
        raise ModelFileError(f"{path}: not a ts_resnet checkpoint (no 'ts_resnet' metadata / 'state_dict')")
    state = {k[len("net."):]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    return dict(ckpt["ts_resnet"]), state


def _load_safetensors(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    from safetensors.torch import load_file

    sidecar = path.with_suffix(".json")
    if not sidecar.exists():
        raise ModelFileError(f"{path}: metadata sidecar {sidecar.name} not found")
    try:
        meta = json.loads(sidecar.read_text())
        state = load_file(str(path))
    except Exception as e:
        raise ModelFileError(f"{path}: could not read ({type(e).__name__}: {e})") from None
    return meta, state


@dataclass
class Classifier:
    """A network plus the metadata needed to feed it; see :func:`load_classifier`."""

    net: nn.Module
    meta: dict[str, Any]

    @property
    def class_names(self) -> list[str]:
        return list(self.meta["class_names"])

    @property
    def task(self) -> str:
        return self.meta["task"]

    @property
    def channels(self) -> list[str]:
        return list(self.meta.get("channels") or [])

    @property
    def fs(self) -> float | None:
        return self.meta.get("fs")

    @property
    def window(self) -> int | None:
        return self.meta.get("window")

    @property
    def stride(self) -> int | None:
        return self.meta.get("eval_stride") or (self.window // 2 if self.window else None)

    def preprocess_config(self, fill_missing_leads: str | None = None) -> PreprocessConfig:
        cfg = PreprocessConfig.from_dict(self.meta.get("preprocess") or {})
        if cfg.leads is None and self.channels:
            cfg = cfg.replace(leads=self.channels)
        if fill_missing_leads is not None:
            cfg = cfg.replace(fill_missing_leads=fill_missing_leads)
        return cfg

    def signal(self, rec: Record, pre: Preprocessor, *, normalize: bool = True) -> np.ndarray:
        """Record -> ``(C, T)`` in the model's leads and rate (normalised unless asked not to)."""
        return pre(_match_unnamed(rec, pre), normalize=normalize)

    def window_array(self, x: np.ndarray) -> np.ndarray:
        """Preprocessed ``(C, T)`` -> ``(n_windows, C, W)`` as in evaluation (padded when short)."""
        if self.window:
            return sliding_windows(x, self.window, self.stride)
        min_len = getattr(self.net, "min_input_length", 1)
        return pad_or_crop(x, max(min_len, x.shape[-1]))[None]

    def windows(self, rec: Record, preprocessor: Preprocessor | None = None) -> np.ndarray:
        """Record -> ``(n_windows, C, W)`` exactly as the model saw data in evaluation."""
        pre = preprocessor or Preprocessor(self.preprocess_config())
        return self.window_array(self.signal(rec, pre))

    @torch.inference_mode()
    def predict_windows(self, batches: Iterable[Sequence[np.ndarray]], *, device: torch.device | str = "cpu",
                        agg: str | None = None) -> list[np.ndarray]:
        """Per-record probabilities for groups of records' windows (records of one group share a batch)."""
        agg = agg or self.meta.get("window_agg", "mean")
        self.net.to(device).eval()
        out = []
        for group in batches:
            x = torch.from_numpy(np.concatenate(group, 0)).to(device)
            n = torch.tensor([g.shape[0] for g in group], device=device)
            probs = aggregate_windows(probabilities(self.net(x).float(), self.task), n, agg)
            out.extend(probs.cpu().numpy())
        return out

    def predict_record(self, rec: Record) -> dict[str, float]:
        """One record -> ``{class name: probability}``, through the model's own preprocessing and windows."""
        return self.to_probability_row(self.predict_windows([[self.windows(rec)]])[0])

    def to_probability_row(self, probs: np.ndarray) -> dict[str, float]:
        if self.task == "binary":
            p = float(probs.reshape(-1)[0])
            return {self.class_names[0]: 1 - p, self.class_names[-1]: p}
        return {name: float(p) for name, p in zip(self.class_names, probs)}


_GENERIC = re.compile(r"^(ch|dim)\d+$")


def _match_unnamed(rec: Record, pre: Preprocessor) -> Record:
    """Channels without real names (NPY without sidecar: ``ch0, ch1...``; UCR/UEA models: ``dim0...``)
    are matched by position when the counts agree; named leads are always matched by name."""
    leads = pre.config.leads
    if not leads or rec.num_channels != len(leads) or [lead_key(c) for c in rec.channels] == [
            lead_key(c) for c in leads]:
        return rec
    if all(_GENERIC.match(c) for c in rec.channels) or all(_GENERIC.match(c) for c in leads):
        return Record(rec.signal, rec.fs, list(leads), rec.units, rec.id, rec.labels, rec.meta, rec.path)
    return rec


def load_classifier(path: str | Path) -> Classifier:
    """Load a ``.ckpt`` or ``.safetensors`` model file (never executes code from the file)."""
    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"{p}: no such model file")
    meta, state = _load_safetensors(p) if p.suffix == ".safetensors" else _load_ckpt(p)
    try:
        net = _build_net(meta)
        net.load_state_dict(state)
    except (KeyError, TypeError, RuntimeError, ValueError) as e:
        raise ModelFileError(f"{p}: weights do not match the stored architecture ({e})") from None
    return Classifier(net.eval(), meta)
