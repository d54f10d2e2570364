"""A scikit-learn classifier over the UCR recipe: ``fit(X, y)``, ``predict``, ``predict_proba``.

    from ts_resnet.sklearn import MultiScaleResNetClassifier
    clf = MultiScaleResNetClassifier(max_steps=1000, random_state=0).fit(X_train, y_train)   # X: (n, T) or (n, C, T)
    clf.score(X_test, y_test); clf.save("model.ckpt"); MultiScaleResNetClassifier.load("model.ckpt")

Training runs through the same :class:`~ts_resnet.module.SignalClassifier` and Lightning loop as
``ts-resnet fit -c configs/ucr.yaml`` (same network preset, step budget, batch-size and decimation
rules, augmentation); prediction through the same inference path as ``ts-resnet classify``
(:class:`~ts_resnet.inference.Classifier`).  Every hyper-parameter is a plain constructor argument, so
``clone``, ``GridSearchCV``, ``cross_val_score`` and ``Pipeline`` work.  ``save`` writes a checkpoint
that ``ts-resnet classify`` and :func:`~ts_resnet.load_classifier` read as well.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from .data.modules.series import ArrayDataModule, as_series
from .data.records import Record
from .data.transforms import Augment

_QUIET_LOGGERS = ("lightning.pytorch", "lightning.fabric", "pytorch_lightning")


class MultiScaleResNetClassifier(ClassifierMixin, BaseEstimator):
    """Multi-scale residual network classifier for equal- or variable-length series.

    Args:
        arch: network preset (``ts_resnet.list_models()``); the UCR recipe's by default.
        kernel_sizes: override the preset's branch kernel lengths (None = the preset's).
        max_steps: optimisation steps (the recipe counts steps, not epochs), before ``min_epochs``.
        min_epochs: the recipe's training-length rule (:class:`~ts_resnet.budget.StepBudget`): at least
            this many passes over the training set, within 3 x ``max_steps`` and 16 million samples
            through the network; None = exactly ``max_steps``.
        lr: peak learning rate of the one-cycle schedule (AdamW).
        weight_decay: AdamW weight decay (not on norms and biases).
        batch_size: None = 16/32/64/128 by the number of training series.
        max_length: decimate series longer than this (None = never); see ``UCRDataModule``.
        normalize: ``"auto"``: the UCR/UEA recipe's choice (``configs/ucr.yaml``'s
            ``keep_level: null``, :func:`~ts_resnet.data.modules.recipe_normalize`): multivariate
            series get per-channel training-set statistics, univariate ones a per-series z-score plus
            level channels when they are not z-normalised already and every class has two or more
            training series. Or one of ``"zscore"`` per series (the UCR convention), ``"dataset"``
            per-channel statistics, ``"zscore_level"`` both (twice the channels). See
            ``UCRDataModule``'s ``keep_level`` for what the rule did on the UCR benchmark.
        augment_scale: amplitude scaling augmentation (fraction; 0 = none, the recipe's choice).
        augment_noise: Gaussian noise augmentation (standard deviation, normalised units; 0 = none).
        ema_decay: decay of the weight average that is kept as the model
            (:class:`~ts_resnet.averaging.WeightEMA`, horizon capped at a tenth of ``max_steps``);
            None = the last step's weights.
        random_state: seed of initialisation, batching and augmentation (None = 0).
        device: ``"auto"``, ``"cpu"`` or ``"gpu"``.
        verbose: show Lightning's progress bar and messages.
        precision: Lightning's training precision: ``"32-true"`` (the recipe's), or ``"bf16-mixed"``,
            faster on GPUs and on CPUs with bf16 instructions (:mod:`ts_resnet.precision`; a warning
            where the CPU would emulate it). The fitted weights are float32 either way.
    """

    # min_epochs and precision come last: added after the others, so that positional calls written
    # before them keep their meaning
    def __init__(self, arch: str = "msresnet_ucr", kernel_sizes: tuple[int, ...] | None = None, max_steps: int = 1000,
                 lr: float = 3e-3, weight_decay: float = 0.05, batch_size: int | None = None,
                 max_length: int | None = 256, normalize: str = "auto", augment_scale: float = 0.0,
                 augment_noise: float = 0.0, ema_decay: float | None = 0.99, random_state: int | None = None,
                 device: str = "auto", verbose: bool = False, min_epochs: int | None = 200,
                 precision: str = "32-true") -> None:
        self.arch = arch
        self.kernel_sizes = kernel_sizes
        self.max_steps = max_steps
        self.min_epochs = min_epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_length = max_length
        self.normalize = normalize
        self.augment_scale = augment_scale
        self.augment_noise = augment_noise
        self.ema_decay = ema_decay
        self.random_state = random_state
        self.device = device
        self.verbose = verbose
        self.precision = precision

    # ---- training ------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> MultiScaleResNetClassifier:
        import lightning as L

        from .averaging import WeightEMA
        from .budget import StepBudget
        from .inference import Classifier
        from .module import SignalClassifier
        from .precision import cpu_bf16_warning

        series = self._series(X, reset=True)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(series):
            raise ValueError(f"y must be 1-D with one label per series ({len(series)}), got shape {y.shape}")
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError(f"need at least 2 classes to fit a classifier, got {len(self.classes_)}")
        index = np.searchsorted(self.classes_, y)
        names = [str(i) for i in range(len(self.classes_))]  # labels of any type: indices internally
        seed = 0 if self.random_state is None else int(self.random_state)
        dm = ArrayDataModule(series, index, class_names=names, normalize=self.normalize, batch_size=self.batch_size,
                             max_length=self.max_length, augment=Augment(scale=self.augment_scale,
                                                                         noise_std=self.augment_noise), seed=seed)
        options = {"kernel_sizes": list(self.kernel_sizes)} if self.kernel_sizes else None
        # Seeded before the network is built: its initial weights are drawn here, so seeding only for
        # the Trainer left them to whatever the global RNG held (the first fit of a process differed
        # from every later one with the same random_state)
        L.seed_everything(seed, workers=True, verbose=False)
        module = SignalClassifier(arch=self.arch, arch_options=options, num_classes=len(names),
                                  in_channels=dm.in_channels, task="multiclass", class_names=names, lr=self.lr,
                                  weight_decay=self.weight_decay,
                                  channels_last=False)  # as configs/ucr.yaml: not faster for msresnet_ucr
        # the budget first: the weight average reads the run's length in its own setup
        callbacks = [StepBudget(min_epochs=self.min_epochs)] if self.min_epochs else []
        callbacks += [WeightEMA(decay=self.ema_decay)] if self.ema_decay else []
        slower = cpu_bf16_warning(self.precision, self.device, option="precision")
        if slower:
            warnings.warn(slower, UserWarning, stacklevel=2)
        with _quiet(not self.verbose):
            trainer = L.Trainer(max_steps=self.max_steps, max_epochs=None, accelerator=self.device, devices=1,
                                logger=False, enable_checkpointing=False, enable_progress_bar=self.verbose,
                                enable_model_summary=False, num_sanity_val_steps=0,
                                callbacks=callbacks, precision=self.precision)
            trainer.fit(module, datamodule=dm)
        module.eval()
        self.module_ = module
        self.classifier_ = Classifier(module.net.eval(), module.model_card())
        return self

    # ---- prediction ----------------------------------------------------------------------------
    def predict_proba(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "classifier_")
        series = self._series(X, reset=False)
        clf = self.classifier_
        pre = clf.preprocessor()
        windows = [clf.windows(Record(s, 1.0, clf.channels), pre) for s in series]
        # series whose windows share a shape share a batch (variable-length sets)
        order = sorted(range(len(windows)), key=lambda i: windows[i].shape)
        groups, current = [], []
        for i in order:
            if current and (len(current) == 256 or windows[current[0]].shape[1:] != windows[i].shape[1:]):
                groups.append(current)
                current = []
            current.append(i)
        groups.append(current)
        probs = clf.predict([[windows[i] for i in g] for g in groups], device="cpu")
        out = np.empty((len(windows), len(self.classes_)), dtype=np.float64)
        out[[i for g in groups for i in g]] = np.stack(probs)
        return out

    def predict(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "classifier_")
        return self.classes_[self.predict_proba(X).argmax(1)]

    # ---- persistence ---------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """A ``.ckpt`` model file: the network, its card (preprocessing, classes) and these
        hyper-parameters; plain data only, loadable with ``torch.load(weights_only=True)``."""
        check_is_fitted(self, "classifier_")
        p = Path(path)
        if p.exists():
            raise FileExistsError(f"{p} exists; not overwriting")
        # the estimator's own state rides in the model card: plain data, read back by load_classifier
        card = self.classifier_.card.replace(
            class_names=[str(c) for c in self.classes_],
            extra={"sklearn": {"params": self.get_params(), "classes": self.classes_.tolist()}})
        torch.save({"state_dict": {f"net.{k}": v for k, v in self.classifier_.net.state_dict().items()},
                    "ts_resnet": card.to_dict()}, p)
        return p

    @classmethod
    def load(cls, path: str | Path) -> MultiScaleResNetClassifier:
        from .inference import Classifier, load_classifier

        clf = load_classifier(path)  # one weights-only read of the file
        extra = clf.card.extra.get("sklearn", {})
        est = cls(**extra.get("params", {}))
        est.classes_ = np.asarray(extra.get("classes", clf.class_names))
        card = clf.card.replace(class_names=[str(i) for i in range(len(est.classes_))], extra={})
        est.classifier_ = Classifier(clf.net, card)
        est.n_features_in_ = None
        return est

    # ---- helpers -------------------------------------------------------------------------------
    def _series(self, X: Any, *, reset: bool) -> list[np.ndarray]:
        if X is None:
            raise ValueError("X is None; expected an array (n_series, T) or (n_series, channels, T)")
        if not isinstance(X, (list, tuple)):
            X = np.asarray(X)
        two_d = not isinstance(X, (list, tuple)) and X.ndim == 2
        try:
            series = as_series(X, "X")
        except (TypeError, ValueError) as e:
            raise ValueError(str(e)) from None
        if min(s.shape[-1] for s in series) == 0:
            raise ValueError(f"0 feature(s) (shape={getattr(X, 'shape', len(X))}) while a minimum of 1 is required: "
                             "series need at least one time step")
        if any(not np.isfinite(s).any() for s in series):
            raise ValueError("X holds a series with no finite value")
        if np.isinf(np.concatenate([s.ravel() for s in series])).any():
            raise ValueError("X contains infinity (NaN gaps are interpolated; infinite values are not)")
        shape = series[0].shape
        if reset:
            self.n_channels_ = shape[0]
            # scikit-learn's convention for 2-D input: features = time steps
            self.n_features_in_ = shape[-1] if two_d else None
        elif shape[0] != getattr(self, "n_channels_", shape[0]):
            raise ValueError(f"X has {shape[0]} channels; the model was fitted on {self.n_channels_}")
        elif self.n_features_in_ is not None and two_d and shape[-1] != self.n_features_in_:
            raise ValueError(f"X has {shape[-1]} features (time steps), but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input")
        return series

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # NaN gaps are interpolated, as in the archives
        tags.non_deterministic = self.device != "cpu"
        return tags


class _quiet:
    """Silence Lightning's info messages and warnings during a fit (``verbose=False``)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __enter__(self) -> None:
        if self.enabled:
            self.levels = {name: logging.getLogger(name).level for name in _QUIET_LOGGERS}
            for name in _QUIET_LOGGERS:
                logging.getLogger(name).setLevel(logging.ERROR)
            self.warnings = warnings.catch_warnings()
            self.warnings.__enter__()
            warnings.simplefilter("ignore")

    def __exit__(self, *exc: Any) -> None:
        if self.enabled:
            self.warnings.__exit__(*exc)
            for name, level in self.levels.items():
                logging.getLogger(name).setLevel(level)
