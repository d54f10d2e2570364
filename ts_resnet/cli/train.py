"""``ts-resnet fit|validate|test|predict``: LightningCLI over SignalClassifier and the data modules."""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Any

from lightning.pytorch.cli import LightningCLI

from ..card import data_differences
from ..data.modules import SignalDataModule
from ..module import SignalClassifier

# --ckpt_path values that Lightning resolves itself rather than opening as a file
_LIGHTNING_CKPT_NAMES = ("best", "last", "hpc", "registry")


class TSResNetCLI(LightningCLI):
    """LightningCLI with the data module's shape/labels linked into the model."""

    def add_arguments_to_parser(self, parser: Any) -> None:
        # Users never type these twice: the data module knows them.
        for src, dst in (("num_classes", "num_classes"), ("in_channels", "in_channels"), ("task", "task"),
                         ("class_names", "class_names"), ("channels", "channels")):
            parser.link_arguments(f"data.{src}", f"model.{dst}", apply_on="instantiate")

    def parse_arguments(self, parser: Any, args: Any) -> None:
        super().parse_arguments(parser, args)
        # LightningCLI loads --ckpt_path right after parsing (to read its hyper-parameters) and reports
        # a truncated file as "OSError: [Errno 22] Invalid argument", naming no file: check it first
        subcommand = self.config.get("subcommand")
        path = self.config[subcommand].get("ckpt_path") if subcommand else None
        if path and path not in _LIGHTNING_CKPT_NAMES and Path(path).is_file():
            from ..inference import check_checkpoint_file

            check_checkpoint_file(path)
        if subcommand:
            trainer = self.config[subcommand].get("trainer") or {}
            _check_accelerator(parser, trainer)
            _check_cpu_precision(trainer)
        if subcommand in ("validate", "test", "predict"):
            # Lightning evaluates whatever weights the model has: without a checkpoint (or init_from)
            # those are the random initial ones, and the run "succeeds" with chance-level numbers.
            if not path and not self.config[subcommand].get("model", {}).get("init_from"):
                parser.error(f"{subcommand} needs --ckpt_path MODEL.ckpt (a model from `ts-resnet fit`, e.g. "
                             "lightning_logs/version_0/checkpoints/last.ckpt): without it the network has "
                             "its random initial weights")
            # Restoring a checkpoint re-creates our ModelCheckpoint in a new log folder and Lightning
            # says the folder "has changed"; nothing is being saved outside fit, so it is not news.
            warnings.filterwarnings("ignore", message=r"The dirpath has changed from")

    def before_validate(self) -> None:
        self._check_checkpoint_fits_data()

    def before_test(self) -> None:
        self._check_checkpoint_fits_data()
        from ..plots import EvaluationPlots, EvaluationReport

        if self.trainer.world_size > 1 and any(isinstance(cb, (EvaluationPlots, EvaluationReport))
                                               for cb in self.trainer.callbacks):
            # said before the test set is run; the callbacks would refuse at their start anyway
            self.parser.error("the evaluation report and figures are computed on one process: pass "
                              "--trainer.devices=1 --trainer.num_nodes=1 (e.g. after configs/ddp.yaml)")

    def _check_checkpoint_fits_data(self) -> None:
        """A model trained on other data (other classes, channels or task) is named with what differs.
        Lightning would stop on a state-dict size mismatch, or, with equal shapes but the classes in
        another order, score every record against the wrong names without a word."""
        path = self.config[self.subcommand].get("ckpt_path")
        if not path or path in _LIGHTNING_CKPT_NAMES or not Path(path).is_file():
            return
        import torch

        ckpt = torch.load(path, map_location="cpu", weights_only=True)  # file checked in parse_arguments
        card = ckpt.get("ts_resnet") if isinstance(ckpt, dict) else None
        if not card:  # not written by this package: Lightning's own loading decides
            return
        differs = data_differences(card, self.model.hparams)
        if differs:
            self.parser.error(f"{path} was trained on other data: {'; '.join(differs)}. Evaluate it on data "
                              "like its training data, or fine-tune it on this data with `ts-resnet fit "
                              "--model.init_from`")

    def before_predict(self) -> None:
        self._check_checkpoint_fits_data()
        # Lightning's predict only returns the predictions; from the command line they would be lost.
        # Without a writer of the user's own, write them next to the run's logs (a new folder per run,
        # so nothing is overwritten).
        from lightning.pytorch.callbacks import BasePredictionWriter

        from ..writers import PredictionWriter

        writers = [cb for cb in self.trainer.callbacks if isinstance(cb, BasePredictionWriter)]
        # ours writes one file from one process (a user's own writer may handle ranks itself)
        if self.trainer.world_size > 1 and (not writers or any(isinstance(cb, PredictionWriter) for cb in writers)):
            # said now, not after every rank has predicted its share
            self.parser.error("predict writes one file from one process: pass --trainer.devices=1 "
                              "--trainer.num_nodes=1 (e.g. after configs/ddp.yaml)")
        if not writers:
            out = Path(self.trainer.log_dir or ".") / "predictions.csv"
            self.trainer.callbacks.append(PredictionWriter(output=str(out)))

    def after_predict(self) -> None:
        from ..writers import PredictionWriter

        if self.trainer.is_global_zero:
            for cb in self.trainer.callbacks:
                if isinstance(cb, PredictionWriter) and cb.output.is_file():
                    print(f"Predictions: {cb.output}")

    def after_fit(self) -> None:
        trainer = self.trainer
        if not trainer.is_global_zero:
            return
        cb = trainer.checkpoint_callback
        print()
        best = (cb.best_model_path or cb.last_model_path) if cb is not None else ""
        if best and Path(best).exists():  # nothing is saved under fast_dev_run
            score = cb.best_model_score
            label = f"{cb.monitor} = {float(score):.4f}" if score is not None and cb.monitor else "last epoch"
            print(f"Best checkpoint: {best} ({label})")
        shown = {k: float(v) for k, v in trainer.callback_metrics.items()
                 if k.startswith("val/") and math.isfinite(float(v))}
        if shown:
            print("Validation metrics (last epoch): " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(shown.items())))
        model = self.model
        if getattr(model, "thresholds", None) is not None:
            pairs = ", ".join(f"{n} {t:.3f}" for n, t in zip(model.class_names, model.thresholds))
            print(f"Decision thresholds ({model.hparams.threshold_method}, fitted on validation, last epoch): {pairs}")
        if getattr(model, "temperature", None) is not None:
            print("Temperature (fitted on validation, last epoch): " + ", ".join(f"{t:.3f}" for t in model.temperature))


def _check_accelerator(parser: Any, trainer: Any) -> None:
    """A GPU preset (configs/gpu.yaml, configs/ddp.yaml) on a machine without a GPU: say so in one line.
    Lightning's own message is "No supported gpu backend found!" at the end of a 40-line traceback."""
    import torch

    accelerator = str(trainer.get("accelerator") or "auto")
    if accelerator not in ("gpu", "cuda") or torch.cuda.is_available():
        return
    if accelerator == "gpu" and torch.backends.mps.is_available():  # Lightning's "gpu" includes Apple's
        return
    why = ("this torch was built without CUDA" if torch.version.cuda is None
           else f"torch {torch.__version__} (CUDA {torch.version.cuda}) finds no CUDA device")
    hint = "leave the GPU config out to run on the CPU"
    if "ddp" in str(trainer.get("strategy") or ""):
        hint += (" (to try DDP on the CPU: --trainer.accelerator=cpu --trainer.devices=2 "
                 "--trainer.precision=32-true --trainer.sync_batchnorm=false)")
    parser.error(f"--trainer.accelerator={accelerator} (configs/gpu.yaml and configs/ddp.yaml set it), but {why}; "
                 f"{hint}")


def _check_cpu_precision(trainer: Any) -> None:
    """bf16 on a CPU without bf16 instructions runs, but slower than float32: say so before it starts."""
    from lightning.pytorch.utilities import rank_zero_warn

    from ..precision import cpu_bf16_warning

    message = cpu_bf16_warning(trainer.get("precision"), trainer.get("accelerator"))
    if message:
        rank_zero_warn(message)


class _DropNotices(logging.Filter):
    """Lightning messages that are not about the user's run: advertising for its cloud products, and
    the notice that our ModelCheckpoint (monitoring the task's headline metric) replaces the default
    one, which is what we want."""

    PREFIXES = ("💡 Tip", "The following callbacks returned in `LightningModule.configure_callbacks` will override")

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.getMessage()).startswith(self.PREFIXES)


def _quiet_lightning() -> None:
    for name in ("lightning.pytorch", "lightning.fabric"):
        log = logging.getLogger(name)
        if not any(isinstance(f, _DropNotices) for f in log.filters):
            log.addFilter(_DropNotices())
        for handler in log.handlers:
            if not any(isinstance(f, _DropNotices) for f in handler.filters):
                handler.addFilter(_DropNotices())
    # Lightning's own use of a torch API that torch >= 2.10 deprecated; nothing a user can act on.
    warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
    # With no validation split (val_fraction 0, as in configs/ucr.yaml) the series modules return an
    # empty list from val_dataloader, which is how Lightning is told to skip validation; it still says
    # "Total length of `list` across ranks is zero". Only that list case is hidden: an empty DataLoader,
    # which would be a mistake, is reported as `DataLoader` and still shown.
    warnings.filterwarnings("ignore", message=r"Total length of `list` across ranks is zero")


def run_lightning_cli(args: list[str] | None = None,
                      model_class: type[SignalClassifier] = SignalClassifier) -> TSResNetCLI:
    """Runs LightningCLI over ``model_class`` (a SignalClassifier subclass, for screens of a candidate
    that changes the training step; the command line always uses SignalClassifier itself)."""
    _quiet_lightning()
    with warnings.catch_warnings():
        # `ts-resnet report` and the benchmark scripts pass their own argument list on purpose;
        # Lightning's notice that sys.argv holds other arguments is not for the user.
        warnings.filterwarnings("ignore", message=r".*LightningCLI's args parameter.*")
        cli = TSResNetCLI(
            model_class,
            SignalDataModule,
            subclass_mode_data=True,
            args=args,
            auto_configure_optimizers=True,
            parser_kwargs={"description": "Train and evaluate ts_resnet models (Lightning CLI)."},
        )
    _release_process_group()
    return cli


def _release_process_group() -> None:
    """End the DDP process group once the run has finished on this rank.

    Lightning keeps the group alive after ``fit``/``validate`` so a second call can reuse it. Left for
    interpreter exit, gloo's worker threads can be torn down after Python is, and the process dies with
    SIGABRT ("terminate called without an active exception") although the run succeeded. Only reached
    on success: after an exception another rank may still be inside a collective, and tearing the group
    down under it can hang instead of failing."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
