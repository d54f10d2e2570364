"""Load a trained model without its config or training code, and classify records with it.

A model file is either a Lightning checkpoint (``.ckpt``, loaded with ``torch.load(weights_only=True)``:
tensors and plain data only, never pickled code) or a safetensors file with a JSON sidecar
(``model.safetensors`` + ``model.json``) written by ``ts-resnet export --format safetensors``.
Both carry a :class:`~ts_resnet.card.ModelCard` - network preset and options, class names, task,
leads, sampling rate, window and the preprocessing - so inference replays training's pipeline.

The record pipeline is written once, here: :meth:`Classifier.prepare` turns a record into the
windows the network sees (``classify``, ``explain`` and the scikit-learn estimator use it; the
training datasets window with the same :func:`~ts_resnet.data.transforms.eval_windows`), and
:meth:`Classifier.predict` turns windows into per-record probabilities, one column per class.
Nothing here imports Lightning.
"""

from __future__ import annotations

import json
import pickle
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .card import ModelCard, ModelCardError
from .data.records import Record
from .data.transforms import Preprocessor, eval_windows, lead_key
from .tasks import DEFAULT_THRESHOLD, TaskSpec, aggregate_windows


class ModelFileError(ValueError):
    """A model file that cannot be loaded; the message names the file and the reason."""


def _not_a_checkpoint(path: Path) -> str | None:
    """Why ``path`` cannot be a ``torch.save`` file, or None if it may be one.

    Asked before ``torch.load`` because, under ``weights_only=True``, a text file or an image fails with
    the same UnpicklingError as a checkpoint that smuggles code, and a copy cut short fails with a bare
    ``OSError: [Errno 22]``; neither tells the user what is wrong with the file."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    if zipfile.is_zipfile(path):
        return None  # torch.save's format since PyTorch 1.6
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive without its end record: the file is truncated or damaged (a copy cut short?)"
    if head[:1] == b"\x80":
        return None  # a pickle stream: torch.save's legacy format, which torch.load still reads
    return "not a PyTorch checkpoint: neither a zip archive (torch.save) nor a pickle stream"


def check_checkpoint_file(path: str | Path) -> None:
    """Raise :class:`ModelFileError` when ``path`` cannot be a ``torch.save`` file: not a zip archive
    or pickle stream, or a zip archive cut short. Cheap (reads the header and the zip directory)."""
    reason = _not_a_checkpoint(Path(path))
    if reason is not None:
        raise ModelFileError(f"{path}: {reason}")


def _load_ckpt(path: Path) -> tuple[Any, dict[str, torch.Tensor]]:
    check_checkpoint_file(path)
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
    return ckpt["ts_resnet"], state


def _load_safetensors(path: Path) -> tuple[Any, dict[str, torch.Tensor]]:
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
class Prepared:
    """One record as the network sees it.

    Attributes:
        windows: ``(n_windows, C, W)`` normalised windows.
        starts: start sample of each window in ``signal``.
        signal: the preprocessed record ``(C, T)`` before normalisation (model's leads and rate,
            physical units), e.g. for plotting.
        quality: :func:`ts_resnet.quality.assess` flags of the record as read (None: not assessed).
    """

    windows: np.ndarray
    starts: list[int]
    signal: np.ndarray = field(repr=False)
    quality: list[str] | None = None  # signal-quality flags (ts_resnet.quality), when asked for

    @property
    def n_windows(self) -> int:
        return int(self.windows.shape[0])


@dataclass
class Classifier:
    """A network plus its :class:`~ts_resnet.card.ModelCard`; see :func:`load_classifier`."""

    net: nn.Module
    card: ModelCard

    @property
    def class_names(self) -> list[str]:
        return list(self.card.class_names)

    @property
    def task(self) -> str:
        return self.card.task

    @property
    def spec(self) -> TaskSpec:
        return self.card.spec

    @property
    def channels(self) -> list[str]:
        return list(self.card.channels)

    @property
    def fs(self) -> float | None:
        return self.card.fs

    @property
    def window(self) -> int | None:
        return self.card.window

    @property
    def stride(self) -> int | None:
        return self.card.stride

    @property
    def meta(self) -> dict[str, Any]:
        """The card as plain data (what checkpoints and sidecars store)."""
        return self.card.to_dict()

    # ---- the record pipeline -------------------------------------------------------------------
    def preprocessor(self, *, fill_missing_leads: str | None = None, nan_policy: str | None = None) -> Preprocessor:
        """The model's preprocessing, with optional inference-time overrides."""
        return Preprocessor(self.card.preprocess_config(fill_missing_leads=fill_missing_leads, nan_policy=nan_policy))

    def prepare(self, rec: Record, preprocessor: Preprocessor | None = None, *, quality: bool = False) -> Prepared:
        """Record -> the windows the network sees, exactly as in evaluation (padded when short);
        with ``quality``, also the record's signal-quality flags (on the record as read)."""
        pre = preprocessor or self.preprocessor()
        rec = _match_unnamed(rec, pre)
        flags = None
        if quality:
            from .quality import assess

            window = None
            if self.window:  # the model's window in the record's own samples
                window = int(np.ceil(self.window * rec.fs / self.fs)) if self.fs else self.window
            flags = assess(rec, pre.config.leads, min_samples=window)
        signal = pre(rec, normalize=False)
        windows, starts = eval_windows(pre.normalize(signal), self.window, self.stride,
                                       min_length=getattr(self.net, "min_input_length", 1))
        return Prepared(windows, starts, signal, flags)

    def windows(self, rec: Record, preprocessor: Preprocessor | None = None) -> np.ndarray:
        """Record -> ``(n_windows, C, W)``; shorthand for ``prepare(rec).windows``."""
        return self.prepare(rec, preprocessor).windows

    @torch.inference_mode()
    def predict(self, groups: Iterable[Sequence[np.ndarray]], *, device: torch.device | str = "cpu",
                agg: str | None = None) -> list[np.ndarray]:
        """Per-record class probabilities (one column per class) for groups of records' windows;
        the windows of one group go through the network in one batch, so they must share a shape."""
        agg = agg or self.card.window_agg
        spec = self.spec
        self.net.to(device).eval()
        out: list[np.ndarray] = []
        for group in groups:
            x = torch.from_numpy(np.concatenate(group, 0)).to(device)
            n = torch.tensor([g.shape[0] for g in group], device=device)
            probs = aggregate_windows(spec.probabilities(self.net(x).float(), self.card.temperature), n, agg)
            out.extend(spec.class_probabilities(probs.cpu().numpy()))
        return out

    def predict_record(self, rec: Record) -> dict[str, float]:
        """One record -> ``{class name: probability}``, through the model's own preprocessing and windows."""
        probs = self.predict([[self.windows(rec)]])[0]
        return {name: float(p) for name, p in zip(self.class_names, probs)}

    def thresholds(self, override: Sequence[float] | None = None) -> np.ndarray:
        """Decision thresholds per class: ``override``, else the card's, else 0.5."""
        if override is not None:
            return np.asarray(override, dtype=np.float64)
        if self.card.thresholds is None:
            return np.full(len(self.class_names), DEFAULT_THRESHOLD)
        return np.asarray(self.card.thresholds, dtype=np.float64)

    def decide(self, class_probs: np.ndarray, thresholds: Sequence[float] | None = None) -> np.ndarray:
        """Boolean decisions ``(N, classes)`` from class probabilities (see :meth:`TaskSpec.decide`)."""
        return self.spec.decide(np.atleast_2d(class_probs), self.thresholds(thresholds), self.card.class_priors)


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
    """Load a ``.ckpt``, ``.safetensors`` (+ JSON sidecar) or exported ``.onnx`` model file (never
    executes code from the file). An ``.onnx`` file runs on ONNX Runtime (:mod:`ts_resnet.onnx_backend`)."""
    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"{p}: no such model file")
    if p.suffix == ".onnx":
        return _load_onnx_classifier(p)
    meta, state = _load_safetensors(p) if p.suffix == ".safetensors" else _load_ckpt(p)
    card = _card(meta, p)
    try:
        net = card.build_network()
        net.load_state_dict(state)
    except (KeyError, TypeError, RuntimeError, ValueError) as e:
        raise ModelFileError(f"{p}: weights do not match the stored architecture ({e})") from None
    return Classifier(net.eval(), card)


class ProbabilityMean(nn.Module):
    """Several trained networks as one: each member's outputs become probabilities (softmax or
    sigmoid, with the member's own temperature), the probabilities are averaged, and the result is
    returned as the logits of that mean - ``log p`` for softmax, ``logit p`` for sigmoid - so that the
    task's probabilities at temperature 1 give the mean back and every caller of a single network
    (windows, aggregation, decisions) works unchanged. Probabilities are averaged, not logits: that is
    what ``benchmark_ucr.py --ensemble`` measures, and a member that is confidently wrong cannot
    outvote the others by the size of its logits."""

    def __init__(self, members: Sequence[nn.Module], spec: TaskSpec,
                 temperatures: Sequence[list[float] | None]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        self.spec = spec
        self.temperatures = list(temperatures)
        # windows are padded to what the most demanding member needs
        self.min_input_length = max(getattr(m, "min_input_length", 1) for m in members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = torch.stack([self.spec.probabilities(m(x).float(), t)
                             for m, t in zip(self.members, self.temperatures)]).mean(0)
        probs = probs.clamp(1e-7, 1.0 - 1e-7)  # finite logits for probabilities of exactly 0 or 1
        return probs.log() if self.spec.name == "multiclass" else torch.logit(probs)


# What members of an ensemble must share: they read a record into the same windows and score the same
# classes, so one preprocessing pass serves them all.
_SHARED = ("task", "num_classes", "class_names", "in_channels", "channels", "fs", "window", "eval_stride",
           "window_agg", "preprocess")


def load_ensemble(paths: Sequence[str | Path]) -> Classifier:
    """Several ``.ckpt`` / ``.safetensors`` model files as one :class:`Classifier` whose probabilities
    are the mean of theirs (:class:`ProbabilityMean`); one file is :func:`load_classifier`.

    The members must read records the same way - the same classes, task, leads, sampling rate,
    windows and preprocessing (normalisation statistics included), as the networks of several seeds
    of one training run do; the error names the first field that differs. Their architectures may
    differ. Each member's temperature is applied before averaging. Where the members' per-class
    decision thresholds (or class priors) differ, the ensemble uses their mean per class; thresholds
    tuned for the ensemble itself (``--thresholds``) are better where validation data is at hand."""
    files = [Path(p) for p in paths]
    if not files:
        raise ModelFileError("no model file given")
    if len(files) == 1:
        return load_classifier(files[0])
    members = []
    for p in files:
        if p.suffix == ".onnx":
            raise ModelFileError(f"{p}: an ONNX model cannot be averaged with others; give the .ckpt or "
                                 f".safetensors files of the ensemble's members")
        members.append(load_classifier(p))
    first = members[0].card
    for p, member in zip(files[1:], members[1:]):
        for name in _SHARED:
            if getattr(member.card, name) != getattr(first, name):
                raise ModelFileError(
                    f"{p}: its {name} ({_short(getattr(member.card, name))}) differs from {files[0]}'s "
                    f"({_short(getattr(first, name))}); only models that read records the same way (seeds "
                    f"of one training run, say) can be averaged")
    card = first.replace(temperature=None, thresholds=_mean_or_none([m.card.thresholds for m in members]),
                         class_priors=_mean_or_none([m.card.class_priors for m in members]))
    net = ProbabilityMean([m.net for m in members], first.spec, [m.card.temperature for m in members])
    return Classifier(net.eval(), card)


def _short(value: Any, limit: int = 160) -> str:
    """``repr`` cut to ``limit`` characters: a preprocessing config with 12 leads' statistics is long."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _mean_or_none(values: list[list[float] | None]) -> list[float] | None:
    """The per-class mean of the members' values; None when any member has none."""
    if any(v is None for v in values):
        return None
    return [float(x) for x in np.mean(np.asarray(values, dtype=np.float64), axis=0)]


def _card(meta: Any, p: Path) -> ModelCard:
    try:
        return ModelCard.from_dict(meta, source=str(p))
    except ModelCardError as e:
        raise ModelFileError(str(e)) from None


def _load_onnx_classifier(p: Path) -> Classifier:
    try:
        from .onnx_backend import load_onnx

        meta, net = load_onnx(p)
    except ImportError:
        raise ModelFileError(f"{p}: running an ONNX model needs onnxruntime: pip install 'ts-resnet[export]'") from None
    except ValueError as e:
        raise ModelFileError(f"{p}: {e}") from None
    card = _card(meta, p)
    # windows shorter than the network's receptive field are padded exactly as for the checkpoint
    net.min_input_length = getattr(card.build_network(), "min_input_length", 1)
    return Classifier(net.eval(), card)
