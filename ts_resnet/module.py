"""SignalClassifier: the LightningModule that trains a registered network on any data module."""

from __future__ import annotations

from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn
from torchmetrics import MeanMetric

from .calibration import TemperatureMode
from .card import CheckpointDataError, ModelCard, data_differences
from .data.transforms import PreprocessConfig
from .decisions import ThresholdMethod, fit_thresholds
from .layout import choose_layout
from .metrics import make_metrics
from .mixup import MixedBatch, cut_batch, mix_batch
from .registry import NetworkOptions, build_network
from .sam import sam_closure
from .tasks import Task, TaskSpec, WindowAgg, aggregate_windows, check_task


class SignalClassifier(L.LightningModule):
    """Trains a :func:`ts_resnet.create_model` preset on (multi-)labelled signals.

    Args:
        arch: registered preset name (``ts_resnet.list_models()``).
        arch_options: typed overrides of the preset (:class:`~ts_resnet.registry.NetworkOptions`),
            e.g. ``--model.arch_options.fusion attention``; a plain dict works from Python.
        num_classes: normally linked from the data module.
        in_channels: normally linked from the data module.
        task: normally linked from the data module.
        class_names: normally linked from the data module.
        lr: peak learning rate (AdamW).
        weight_decay: AdamW weight decay (not applied to norms and biases).
        scheduler: ``"onecycle"`` (default), ``"cosine"`` or ``"none"``; ignored when the CLI is
            given ``--optimizer``/``--lr_scheduler``.
        label_smoothing: multi-class cross-entropy label smoothing.
        mixup_alpha: mixup on training batches (:mod:`ts_resnet.mixup`): each batch is blended with
            a shuffled copy of itself by ``lam ~ Beta(alpha, alpha)``, and so is the loss; 0 = off.
            Needs one window per training record. Training metrics score the dominant label.
        cutmix_alpha: CutMix on training batches (:func:`ts_resnet.mixup.cut_batch`): a random
            segment, ``1 - lam`` of the length with ``lam ~ Beta(alpha, alpha)``, comes from a
            shuffled partner, and the loss is blended by the share each record kept; 0 = off. With
            both alphas set, each batch takes one of the two at random (even odds, as in timm).
        sam_rho: sharpness-aware minimisation (:mod:`ts_resnet.sam`): each step takes its gradient at
            the weights moved ``sam_rho`` (L2) up the loss, which favours flat minima; two forward and
            backward passes per step. 0 = off (the SAM paper's default is 0.05).
        class_weights: multi-class cross-entropy weights, one per class.
        pos_weight: multi-label/binary BCE positive weights, one per class.
        window_agg: how evaluation windows of a record are combined: ``"mean"`` or ``"max"``.
        threshold_method: how per-class decision thresholds are chosen on each validation epoch's
            predictions and stored in the checkpoint (multi-label/binary; ``classify`` uses them):
            ``"f1"`` (max F1), ``"youden"``, ``"sensitivity"``/``"specificity"`` (reach
            ``threshold_target``) or ``"none"`` (0.5). See :mod:`ts_resnet.decisions`.
        threshold_target: the sensitivity or specificity to reach for those methods.
        prior_correction: multi-class only: decide by argmax of ``p / training class frequency``
            instead of plain argmax (frequencies from the training split, stored in the checkpoint).
        temperature_scaling: fit a temperature on each validation epoch's window logits and store
            it in the checkpoint (``classify``, ``export`` and the report apply it): ``"global"``
            (one), ``"per_class"`` (one per output, multi-label/binary) or ``"none"``. Thresholds are
            then chosen on the calibrated probabilities; ``val/ece`` and ``val/ece_raw`` are logged.
        channels: input channel names, normally linked from the data module (``init_from`` maps the
            first convolution by these names).
        init_from: a trained model file (``.ckpt`` or ``.safetensors``) to start from: backbone
            copied, head rows kept for classes it knows (by name), first convolution mapped by lead
            name (:mod:`ts_resnet.finetune`). The same arch and arch_options as the source.
        freeze_backbone_epochs: train only the head for this many first epochs.
        lr_layer_decay: layer-wise learning-rate decay: the head trains at ``lr``, the last stage
            at ``lr * decay``, each earlier stage one more factor lower (1.0 = off).
        compile: run the network through ``torch.compile`` (weights stay those of the plain module).
        channels_last: train with the convolutions run as 2-D channels-last ones (same weights and
            outputs, faster on CPU: :mod:`ts_resnet.layout`); None = on when training on CPU with a
            network that has that path.
        net: a ready ``nn.Module`` to train instead of a preset (Python use; not saved in hparams).
    """

    def __init__(
        self,
        arch: str = "msresnet_ecg",
        arch_options: NetworkOptions | None = None,
        num_classes: int = 5,
        in_channels: int = 12,
        task: Task = "multilabel",
        class_names: list[str] | None = None,
        lr: float = 1e-3,
        weight_decay: float = 1e-2,
        scheduler: Literal["onecycle", "cosine", "none"] = "onecycle",
        label_smoothing: float = 0.0,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        sam_rho: float = 0.0,
        class_weights: list[float] | None = None,
        pos_weight: list[float] | None = None,
        window_agg: WindowAgg = "mean",
        threshold_method: ThresholdMethod = "f1",
        threshold_target: float | None = None,
        temperature_scaling: TemperatureMode = "none",
        prior_correction: bool = False,
        channels: list[str] | None = None,
        init_from: str | None = None,
        freeze_backbone_epochs: int = 0,
        lr_layer_decay: float = 1.0,
        compile: bool = False,
        channels_last: bool | None = None,
        net: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net"])
        # Layer types given from Python become dotted names: checkpoints hold plain data only, so
        # they load with torch.load(weights_only=True).
        options = NetworkOptions.parse(arch_options)
        self.hparams["arch_options"] = options.to_dict() or None
        check_task(task)
        if class_names is not None and len(class_names) != num_classes:
            raise ValueError(f"{len(class_names)} class names for num_classes={num_classes}")
        self.task = task
        self.spec = TaskSpec(task, num_classes)
        self.class_names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
        self.num_outputs = self.spec.num_outputs  # binary: one logit for the positive (second) class
        self.net = net if net is not None else build_network(arch, in_channels, self.num_outputs, options)
        self.window_agg = window_agg
        self.data_config: dict[str, Any] = {}
        if class_weights is not None and len(class_weights) != num_classes:
            raise ValueError(f"class_weights has {len(class_weights)} entries for {num_classes} classes")
        if pos_weight is not None and len(pos_weight) != self.num_outputs:
            raise ValueError(f"pos_weight has {len(pos_weight)} entries for {self.num_outputs} outputs")
        self.register_buffer("class_weights", torch.tensor(class_weights) if class_weights else None, persistent=False)
        self.register_buffer("pos_weight", torch.tensor(pos_weight) if pos_weight else None, persistent=False)
        self.train_metrics = make_metrics(task, num_classes).clone(prefix="train/")
        # The epoch's training loss as a torchmetrics mean: under DDP it is gathered over every rank once
        # per epoch (Lightning's own epoch mean of an unsynced value is the logging rank's alone, and
        # syncing that value would all-reduce at every step).
        self.train_loss = MeanMetric()
        self.val_metrics = make_metrics(task, num_classes).clone(prefix="val/")
        self.test_metrics = make_metrics(task, num_classes).clone(prefix="test/")
        self._compiled: Any = None
        if threshold_method in ("sensitivity", "specificity") and not (threshold_target and 0 < threshold_target <= 1):
            raise ValueError(f"threshold_method={threshold_method!r} needs threshold_target in (0, 1]")
        # Per-class thresholds fitted on the latest validation epoch (None until then, and for
        # multi-class tasks, which decide by argmax); written into the checkpoint's card.
        self.thresholds: list[float] | None = None
        if temperature_scaling == "per_class" and task == "multiclass":
            raise ValueError("temperature_scaling='per_class' is for multi-label/binary tasks; use 'global'")
        self.temperature: list[float] | None = None  # fitted on validation when temperature_scaling is on
        if prior_correction and task != "multiclass":
            raise ValueError("prior_correction is for multi-class tasks (multi-label ones use thresholds)")
        self.class_priors: list[float] | None = None  # training class frequencies, with prior_correction
        # per validation/test batch: (record probs, targets, ids, window logits, windows per record)
        self._val_outputs: list[tuple[torch.Tensor, torch.Tensor, list[str], torch.Tensor, torch.Tensor]] = []
        if mixup_alpha < 0:
            raise ValueError(f"mixup_alpha must be >= 0 (0 = off), got {mixup_alpha}")
        if cutmix_alpha < 0:
            raise ValueError(f"cutmix_alpha must be >= 0 (0 = off), got {cutmix_alpha}")
        if not sam_rho >= 0:
            raise ValueError(f"sam_rho must be >= 0 (0 = off), got {sam_rho}")
        # SAM's second pass (ts_resnet.sam): the same batch and mixup blend, kept out of metrics and logs
        self._sam_second_pass = False
        self._last_mix: Any = None
        if freeze_backbone_epochs < 0 or not 0 < lr_layer_decay <= 1:
            raise ValueError("freeze_backbone_epochs must be >= 0 and lr_layer_decay in (0, 1]")
        self.transfer = None
        if init_from is not None:
            from .finetune import transfer_weights
            from .inference import load_classifier

            self.transfer = transfer_weights(self.net, load_classifier(init_from), class_names=self.class_names,
                                             task=task, channels=channels)

    # ---- model ---------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        if self.hparams.compile and self._compiled is None:
            # Kept out of the module tree so state_dict keys stay those of the plain network.
            object.__setattr__(self, "_compiled", torch.compile(self.net))
        net = self._compiled if self._compiled is not None else self.net
        if lengths is None:
            return net(x)
        if self.training:
            # variable-length batches carry lengths: length-aware pooling (networks that accept them)
            return net(x, lengths=lengths)
        return forward_by_length(net, x, lengths, getattr(self.net, "min_input_length", 1))

    def _mix(self, x: torch.Tensor, n: torch.Tensor, lengths: torch.Tensor | None) -> MixedBatch:
        mixup, cutmix = self.hparams.mixup_alpha, self.hparams.cutmix_alpha
        # the coin is drawn only when both are on, so either one alone draws what it did before
        use_cut = bool(cutmix) and (not mixup or bool(torch.rand(()) < 0.5))
        return cut_batch(x, n, cutmix, lengths) if use_cut else mix_batch(x, n, mixup, lengths)

    def loss(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.spec.loss(logits, y, class_weights=self.class_weights, pos_weight=self.pos_weight,
                              label_smoothing=self.hparams.label_smoothing)

    def _step(self, batch: dict[str, Any], stage: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, lengths, y, n = batch["x"], batch.get("lengths"), batch["y"], batch["n_windows"]
        mixed = None
        second = stage == "train" and self._sam_second_pass
        if stage == "train" and (self.hparams.mixup_alpha or self.hparams.cutmix_alpha):
            # one window per record (checked); SAM's second pass must see the same blend as its first
            mixed = self._last_mix if second else self._mix(x, n, lengths)
            self._last_mix = mixed
            x, lengths = mixed.x, mixed.lengths
        logits_w = self(x, lengths)
        # Loss on window-averaged logits; metrics on aggregated probabilities (mean or max).
        logits = aggregate_windows(logits_w, n, "mean")
        if mixed is None:
            loss = self.loss(logits, y)
        else:  # the same blend of the losses against both label sets; metrics score the dominant one
            y_partner = y[mixed.perm]
            loss = mixed.lam * self.loss(logits, y) + (1.0 - mixed.lam) * self.loss(logits, y_partner)
            y = y if mixed.lam >= 0.5 else y_partner
        if second:  # only its gradient counts
            return loss, logits_w, logits_w
        probs = aggregate_windows(self.spec.probabilities(logits_w.float(), self.temperature), n, self.window_agg)
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(*self.spec.metric_inputs(probs, y))
        if stage in ("val", "test"):  # kept for calibration, thresholds and the data set's decision metrics
            self._val_outputs.append((probs.detach().float(), batch["y"].detach(), list(batch["id"]),
                                      logits_w.detach().float(), n.detach()))
        bsz = n.shape[0]
        if stage == "train":  # the same names Lightning gives a value logged on step and on epoch
            self.log("train/loss_step", loss, prog_bar=True, on_step=True, on_epoch=False, batch_size=bsz)
            self.train_loss.update(loss.detach(), bsz)  # logged in on_train_epoch_end, on every rank
        else:
            self.log(f"{stage}/loss", loss, prog_bar=stage != "test", on_epoch=True, batch_size=bsz, sync_dist=True)
        return loss, probs, logits_w

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")[0]

    def validation_step(self, batch: dict[str, Any], batch_idx: int) -> None:
        self._step(batch, "val")

    def test_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, torch.Tensor]:
        # returned so callbacks (e.g. ts_resnet.plots.EvaluationPlots) can see per-record scores
        _, probs, logits_w = self._step(batch, "test")
        out = {"probs": probs.detach(), "y": batch["y"]}
        if self.temperature is not None:  # the report's calibration error before scaling
            out["probs_raw"] = aggregate_windows(self.spec.probabilities(logits_w.detach().float()),
                                                 batch["n_windows"], self.window_agg)
        return out

    def _log_epoch_metrics(self, stage: str) -> None:
        metrics = getattr(self, f"{stage}_metrics")
        values = metrics.compute()  # torchmetrics gathers the states of every DDP rank first
        headline = f"{stage}/{self.spec.headline_metric}"
        for name, value in values.items():
            # already the same on every rank; sync_dist says so to Lightning (a mean of equal values)
            # instead of leaving it to warn that an epoch value may be one rank's
            self.log(name, value, prog_bar=name == headline and stage != "test", sync_dist=True)
        metrics.reset()

    def on_train_epoch_end(self) -> None:
        # computed here, on every rank, and logged as a number: logged as the MeanMetric itself,
        # Lightning computed it when the progress bar asked, on rank 0 alone, and that rank's
        # all-gather met no partner (DDP died with "Is there a distributed collective mismatch")
        if self.train_loss.update_called:  # not after an epoch without training batches
            self.log("train/loss_epoch", self.train_loss.compute(), prog_bar=True, sync_dist=True)
        self.train_loss.reset()
        self._log_epoch_metrics("train")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch_metrics("val")
        self._fit_thresholds()

    @property
    def _fits_thresholds(self) -> bool:
        return self.task != "multiclass" and self.hparams.threshold_method != "none"

    def _fit_thresholds(self) -> None:
        outputs, self._val_outputs = self._val_outputs, []
        if not outputs or self.trainer.sanity_checking:
            return
        if self.hparams.temperature_scaling != "none":
            self._fit_temperature(outputs)
            # the probabilities thresholds are chosen on must be the calibrated ones
            outputs = [(aggregate_windows(self.spec.probabilities(lw, self.temperature), n, self.window_agg), y, ids,
                        lw, n) for _, y, ids, lw, n in outputs]
        if self._fits_thresholds:
            probs = torch.cat([o[0] for o in outputs])
            y = torch.cat([o[1] for o in outputs])
            if self.trainer.world_size > 1:  # every rank holds part of the split; decide on all of it
                probs, y = self.all_gather(probs).flatten(0, 1), self.all_gather(y).flatten(0, 1)
            spec = self.spec
            self.thresholds = fit_thresholds(spec.target_matrix(y.cpu().numpy()),
                                             spec.class_probabilities(probs.cpu().numpy()),
                                             self.hparams.threshold_method, self.hparams.threshold_target)
        self._log_decision_metrics("val", outputs)

    def _fit_temperature(self, outputs: list[tuple[torch.Tensor, ...]]) -> None:
        from .calibration import fit_temperature
        from .report import expected_calibration_error

        logits = torch.cat([o[3] for o in outputs]).cpu()
        n = torch.cat([o[4] for o in outputs]).cpu()
        y = torch.cat([o[1] for o in outputs]).cpu()
        temperature = fit_temperature(logits, n, y, self.spec, per_class=self.hparams.temperature_scaling == "per_class",
                                      agg=self.window_agg)
        # each rank saw part of the split; every rank uses rank 0's fit, so checkpoints agree
        self.temperature = self.trainer.strategy.broadcast(temperature, src=0)
        target = self.spec.target_matrix(y.numpy())
        for name, t in (("ece_raw", None), ("ece", self.temperature)):
            probs = aggregate_windows(self.spec.probabilities(logits, t), n, self.window_agg)
            self.log(f"val/{name}", expected_calibration_error(target, self.spec.class_probabilities(probs.numpy())))

    def _log_decision_metrics(self, stage: str, outputs: list[tuple[torch.Tensor, torch.Tensor, list[str]]]) -> None:
        """The data module's own scores of the decisions (validation: with this epoch's thresholds,
        an optimistic figure; test: with the checkpoint's, fitted on validation)."""
        dm = getattr(self.trainer, "datamodule", None)
        if dm is None or not hasattr(dm, "decision_metrics") or self.trainer.world_size > 1:
            return
        probs = self.spec.class_probabilities(torch.cat([o[0] for o in outputs]).cpu().numpy())
        thresholds = None if self.thresholds is None else np.asarray(self.thresholds)
        decisions = self.spec.decide(probs, thresholds, self.class_priors)
        for name, value in dm.decision_metrics([i for o in outputs for i in o[2]], decisions).items():
            self.log(f"{stage}/{name}", float(value))

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        card = checkpoint.get("ts_resnet") or {}
        # Lightning calls this before it loads the weights: a checkpoint trained on other data is named
        # here with what differs, not met as a state-dict size mismatch (or, with the classes in another
        # order, not met at all). `ts-resnet` says the same before it starts (cli/train.py).
        differs = data_differences(card, self.hparams)
        if differs:
            raise CheckpointDataError(f"the checkpoint was trained on other data: {'; '.join(differs)}")
        # `test --ckpt_path`: decide with the thresholds this checkpoint was saved with
        if card.get("thresholds") is not None:
            self.thresholds = [float(t) for t in card["thresholds"]]
        if card.get("temperature") is not None:
            self.temperature = [float(t) for t in card["temperature"]]
        if card.get("class_priors") is not None:
            self.class_priors = [float(v) for v in card["class_priors"]]

    def on_test_epoch_end(self) -> None:
        self._log_epoch_metrics("test")
        outputs, self._val_outputs = self._val_outputs, []
        if outputs:
            self._log_decision_metrics("test", outputs)

    def on_validation_start(self) -> None:
        self._val_outputs = []

    def on_test_start(self) -> None:
        self._capture_data_config()
        self._val_outputs = []

    def predict_step(self, batch: dict[str, Any], batch_idx: int) -> dict[str, Any]:
        probs = aggregate_windows(self.spec.probabilities(self(batch["x"], batch.get("lengths")).float(),
                                                          self.temperature), batch["n_windows"], self.window_agg)
        return {"id": list(batch["id"]), "probs": probs.cpu(), "n_windows": batch["n_windows"].cpu()}

    # ---- optimisation --------------------------------------------------------------------------
    def param_groups(self) -> list[dict[str, Any]]:
        """AdamW groups: weight decay on weights but not on norms and biases (1-D: decaying them only
        fights the normalisation); with ``lr_layer_decay`` < 1, one learning rate per depth."""
        from .finetune import layer_depths

        decay_rate = self.hparams.lr_layer_decay
        depths = layer_depths(self.net) if decay_rate < 1 else {}
        groups: dict[tuple[int, bool], list[torch.nn.Parameter]] = {}
        for name, p in self.net.named_parameters():
            groups.setdefault((depths.get(name, 0), p.ndim > 1), []).append(p)
        return [{"params": ps, "lr": self.hparams.lr * decay_rate ** depth,
                 "weight_decay": self.hparams.weight_decay if decayed else 0.0}
                for (depth, decayed), ps in sorted(groups.items())]

    def on_train_epoch_start(self) -> None:
        frozen = self.current_epoch < self.hparams.freeze_backbone_epochs
        for name, p in self.net.named_parameters():
            if not name.startswith("fc."):
                p.requires_grad_(not frozen)
        if frozen:  # a frozen backbone keeps its BatchNorm statistics too
            for m in self.net.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        elif self.hparams.freeze_backbone_epochs:
            self.net.train()  # Lightning restores per-module modes after validation: unfreeze them

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None) -> None:
        rho = self.hparams.get("sam_rho", 0.0)
        if rho and optimizer_closure is not None:
            optimizer_closure = sam_closure(optimizer_closure, self.net, rho, self._set_sam_second_pass)
        optimizer.step(closure=optimizer_closure)

    def _set_sam_second_pass(self, on: bool) -> None:
        self._sam_second_pass = on

    def configure_optimizers(self) -> Any:
        groups = self.param_groups()
        opt = torch.optim.AdamW(groups, lr=self.hparams.lr)
        if self.hparams.scheduler == "none":
            return opt
        total = int(self.trainer.estimated_stepping_batches)
        if self.hparams.scheduler == "onecycle":
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups],
                                                        total_steps=max(total, 1), pct_start=0.3)
        else:
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total, 1))
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def configure_callbacks(self) -> list[L.Callback]:
        """Checkpoint on the headline validation metric (and keep ``last.ckpt`` for resuming), unless
        the user configured a monitored ModelCheckpoint of their own."""
        has_val = True
        if self._trainer is not None:
            existing = [c for c in self.trainer.callbacks if isinstance(c, ModelCheckpoint)]
            if not existing or any(c.monitor is not None for c in existing):
                return []  # checkpointing disabled, or the user chose what to monitor
            dm = getattr(self.trainer, "datamodule", None)
            has_val = bool(getattr(dm, "has_val_split", True)) and self.trainer.limit_val_batches != 0
        monitor = f"val/{self.spec.headline_metric}" if has_val else None
        return [BestAndLastCheckpoint(monitor=monitor, mode="max", save_last=True,
                                      filename="best-{epoch}" if monitor else "{epoch}-{step}")]

    # ---- checkpoint contents -------------------------------------------------------------------
    def on_fit_start(self) -> None:
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed window lengths: let cuDNN pick its kernels
        choose_layout(self.net, self.device, self.hparams.get("channels_last"))
        if self.hparams.get("sam_rho") and self.trainer.accumulate_grad_batches > 1:
            # the closure would not zero the gradient between SAM's two passes
            raise ValueError("sam_rho > 0 cannot be combined with trainer.accumulate_grad_batches > 1")
        self._capture_data_config()
        if self.hparams.prior_correction:
            dm = getattr(self.trainer, "datamodule", None)
            train = getattr(dm, "splits", {}).get("train") if dm is not None else None
            if train is None:
                raise RuntimeError("prior_correction needs a data module with a training split")
            counts = np.bincount(np.asarray(train.targets, dtype=np.int64), minlength=len(self.class_names))
            total = float(max(1, int(counts.sum())))
            # plain floats: the checkpoint must stay loadable with weights_only=True
            self.class_priors = [float(c) / total for c in np.maximum(counts, 1)]

    def on_fit_end(self) -> None:
        # The layout is a training-speed choice: after fit the network computes exactly (bit for
        # bit) what `classify` computes from the checkpoint, which runs the 1-D layout.
        choose_layout(self.net, self.device, False)

    def _capture_data_config(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None and hasattr(dm, "inference_config"):
            # after setup: includes statistics fitted on the training split
            self.data_config = dm.inference_config()

    def model_card(self) -> ModelCard:
        """The card written into checkpoints: network, classes, and the data pipeline of the run."""
        hp = self.hparams
        data = self.data_config
        return ModelCard(
            arch=hp.arch, arch_options=hp.arch_options or {}, num_classes=hp.num_classes,
            in_channels=hp.in_channels, task=self.task, class_names=list(self.class_names),
            window_agg=self.window_agg, channels=list(data.get("channels") or []), fs=data.get("fs"),
            window=data.get("window"), eval_stride=data.get("eval_stride"),
            preprocess=PreprocessConfig.from_dict(data.get("preprocess") or {}),
            thresholds=list(self.thresholds) if self.thresholds is not None else None,
            temperature=list(self.temperature) if self.temperature is not None else None,
            class_priors=list(self.class_priors) if self.class_priors is not None else None,
        )

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["ts_resnet"] = self.model_card().to_dict()


def forward_by_length(net: nn.Module, x: torch.Tensor, lengths: torch.Tensor, min_length: int = 1) -> torch.Tensor:
    """Outputs for a zero-padded batch with every series cut to its own length, series of one length
    run together. The padding is zero only at the input: after the first BatchNorm it is not, and the
    next convolutions carry it into a series' last samples, so in one padded batch a series' output
    would depend on what it was batched with (on a UCR gesture set, 13 of 130 test predictions
    changed). Cut, a series gets what ``classify`` gives it (one record at a time). Training masks the
    padding (:mod:`ts_resnet.padding`), so this is also what a series trained as; before it did, scoring
    at own length cost 77 of 9,330 TEST series on the UCR variable-length sets (BENCHMARKS.md). For
    stride-1 networks the masked padded batch gives the same outputs; strided ones need the cut. The
    cut is kept for stride-1 networks too: one padded batch was not faster on CPU (0.96x on a UCR
    gesture set's 700 test series, 136 lengths; it computes every series at the longest length)."""
    out: list[torch.Tensor | None] = [None] * x.shape[0]
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(lengths.tolist()):
        groups.setdefault(max(int(n), min_length), []).append(i)
    for n, idx in groups.items():
        for i, y in zip(idx, net(x[idx, :, :n])):
            out[i] = y
    return torch.stack(out)  # type: ignore[arg-type]


class BestAndLastCheckpoint(ModelCheckpoint):
    """A ModelCheckpoint whose ``last.ckpt`` follows every epoch, as before Lightning 2.6.

    Since 2.6, ``save_last=True`` rewrites ``last.ckpt`` only when a top-k checkpoint is written in the
    same step, so once the monitored metric stops improving ``last.ckpt`` goes stale and a resumed run
    silently restarts from an old epoch.  Here ``last.ckpt`` is refreshed at every save point
    (validation end, or train-epoch end when there is no validation)."""

    def _refresh_last(self, trainer: L.Trainer) -> None:
        if self.save_last and self._last_global_step_saved != trainer.global_step:
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_skip_saving_checkpoint(trainer) and not self._should_save_on_train_epoch_end(trainer):
            self._refresh_last(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if not self._should_skip_saving_checkpoint(trainer) and self._should_save_on_train_epoch_end(trainer):
            self._refresh_last(trainer)
