from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, fixture, shared, ts_resnet_command
from helpers import make_ptbxl_tree

import ts_resnet
from ts_resnet import SignalClassifier
from ts_resnet.cli.main import main
from ts_resnet.cli.train import run_lightning_cli
from ts_resnet.inference import ModelFileError, load_classifier

CONFIGS = REPO / "configs"
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


def fit_cli(args: list[str], root: Path):
    return run_lightning_cli(["fit", *args, f"--trainer.default_root_dir={root}", *QUIET])


def test_demo_config_learns(tmp_path, capsys):
    """The README's main job, unchanged: well above chance (0.5 macro AUROC) after its epochs."""
    cli = fit_cli(["-c", str(CONFIGS / "demo.yaml")], tmp_path)
    metrics = cli.trainer.callback_metrics
    assert float(metrics["val/auroc"]) > 0.9
    assert float(metrics["val/ap"]) > 0.7
    out = capsys.readouterr().out
    assert "Best checkpoint:" in out and "val/auroc" in out
    best = Path(cli.trainer.checkpoint_callback.best_model_path)
    assert best.exists() and best.name.startswith("best-")
    from lightning.pytorch.loggers import TensorBoardLogger

    assert isinstance(cli.trainer.logger, TensorBoardLogger)  # the tensorboard dependency is used
    assert list(Path(cli.trainer.logger.log_dir).glob("events.out.tfevents.*"))
    # per-class thresholds chosen on the last validation epoch travel in the checkpoint's card
    from ts_resnet.inference import load_classifier

    card = load_classifier(cli.trainer.checkpoint_callback.last_model_path).card
    assert card.thresholds == cli.model.thresholds and len(card.thresholds) == 5
    assert all(0 <= t <= 1 for t in card.thresholds) and card.thresholds != [0.5] * 5
    assert "Decision thresholds (f1, fitted on validation" in out


def test_entry_point_subprocess_fast_dev_run(tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run(
        [*ts_resnet_command(), "fit", "-c", str(CONFIGS / "demo.yaml"), "-c", str(CONFIGS / "cpu.yaml"),
         "--trainer.fast_dev_run=true", "--data.init_args.num_records=60", *QUIET],
        cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    # what a newcomer sees: no notices to puzzle over, TensorBoard logs out of the box
    for noise in ("tensorboardX", "LeafSpec", "will override existing callbacks", "Tip:"):
        assert noise not in proc.stderr + proc.stdout, noise
    help_ = subprocess.run([*ts_resnet_command(), "--help"], capture_output=True, text=True, timeout=60)
    assert help_.returncode == 0 and "classify" in help_.stdout and "fit" in help_.stdout


def test_fast_dev_run_ucr_config(tmp_path):
    root = fixture("ucr")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        cli = fit_cli(["-c", str(CONFIGS / "ucr.yaml"), "--data.root", str(root), "--data.dataset", "ItalyPowerDemand",
                       "--trainer.fast_dev_run=true"], tmp_path)
    # no validation split (val_fraction 0) is the recipe's intent: Lightning's "Total length of `list` ...
    # is zero" notice about the empty validation loader is not shown to the user
    assert not [w for w in seen if "across ranks is zero" in str(w.message)]
    assert cli.model.task == "multiclass" and cli.model.hparams.num_classes == 2
    assert cli.datamodule.drop_last is False  # the recipe keeps each epoch's short last batch
    budget = [c for c in cli.trainer.callbacks if type(c).__name__ == "StepBudget"]
    assert len(budget) == 1 and budget[0].steps is None  # a fast_dev_run is left at its one batch
    full = fit_cli(["-c", str(CONFIGS / "ucr.yaml"), "--data.root", str(root), "--data.dataset", "ItalyPowerDemand",
                    "--trainer.fast_dev_run=true", "--data.init_args.drop_last=true"], tmp_path)
    sizes = [len(b["y"]) for b in full.datamodule.train_dataloader()]
    assert sizes == [16] * 4  # 67 series: the short batch of 3 is dropped
    uea = fit_cli(["-c", str(CONFIGS / "ucr.yaml"), "--data.root", str(shared("uea")), "--data.dataset",
                   "JapaneseVowels", "--trainer.fast_dev_run=true"], tmp_path)
    assert uea.model.hparams.in_channels == 12 and uea.model.hparams.num_classes == 9


@pytest.fixture(scope="module")
def ptbxl_tree(tmp_path_factory):
    return make_ptbxl_tree(tmp_path_factory.mktemp("ptbxl"), fixture("ptbxl-meta"))


@pytest.mark.parametrize("extra", [[], ["-c", str(CONFIGS / "ptbxl_all.yaml")]])
def test_fast_dev_run_ptbxl_configs(tmp_path, ptbxl_tree, extra):
    cli = fit_cli(["-c", str(CONFIGS / "ptbxl.yaml"), *extra, "--data.root", str(ptbxl_tree),
                   "--data.cache_dir", str(tmp_path / "cache"), "--data.num_workers=0", "--data.batch_size=4",
                   "--model.arch=msresnet_tiny", "--trainer.fast_dev_run=true"], tmp_path)
    dm = cli.datamodule
    assert cli.model.class_names == dm.class_names and cli.model.hparams.in_channels == 12
    assert dm.label_task == ("all" if extra else "superdiagnostic")


def test_fast_dev_run_cinc_config(tmp_path):
    cli = fit_cli(["-c", str(CONFIGS / "cinc2021.yaml"), "--data.roots", f"[{fixture('cinc2021-sample')}]",
                   "--data.cache_dir", str(tmp_path / "cache"), "--data.num_workers=0",
                   "--model.arch=msresnet_tiny", "--trainer.fast_dev_run=true"], tmp_path)
    assert cli.model.task == "multilabel" and cli.model.hparams.num_classes == cli.datamodule.num_classes


@pytest.mark.parametrize("preset", ["gpu.yaml", "ddp.yaml"])
def test_gpu_presets_parse(preset, capsys):
    with pytest.raises(SystemExit) as e:
        run_lightning_cli(["fit", "-c", str(CONFIGS / "demo.yaml"), "-c", str(CONFIGS / preset), "--print_config"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    assert "precision: bf16-mixed" in out and "accelerator: gpu" in out


def test_multilabel_metrics_agree_with_sklearn():
    from sklearn.metrics import average_precision_score, roc_auc_score

    from ts_resnet.metrics import make_metrics

    rng = np.random.default_rng(0)
    y = (rng.random((200, 4)) < 0.3).astype(np.int64)
    p = np.clip(0.35 * y + rng.random((200, 4)) * 0.65, 0, 1).astype(np.float32)
    m = make_metrics("multilabel", 4)
    m.update(torch.from_numpy(p[:120]), torch.from_numpy(y[:120]))
    m.update(torch.from_numpy(p[120:]), torch.from_numpy(y[120:]))
    out = m.compute()
    assert float(out["auroc"]) == pytest.approx(roc_auc_score(y, p, average="macro"), abs=1e-5)
    assert float(out["ap"]) == pytest.approx(average_precision_score(y, p, average="macro"), abs=1e-5)
    mc = make_metrics("multiclass", 3)
    yc = rng.integers(0, 3, 100)
    pc = rng.dirichlet([1, 1, 1], 100).astype(np.float32)
    mc.update(torch.from_numpy(pc), torch.from_numpy(yc))
    assert float(mc.compute()["acc"]) == pytest.approx((pc.argmax(1) == yc).mean())


def test_window_aggregation():
    from ts_resnet.tasks import aggregate_windows

    v = torch.tensor([[0.1], [0.3], [0.9], [0.2], [0.4]])
    n = torch.tensor([2, 3])
    torch.testing.assert_close(aggregate_windows(v, n, "mean"), torch.tensor([[0.2], [0.5]]))
    torch.testing.assert_close(aggregate_windows(v, n, "max"), torch.tensor([[0.3], [0.9]]))


@pytest.mark.parametrize("task,k", [("multiclass", 3), ("multilabel", 4), ("binary", 2)])
def test_module_tasks_step(task, k):
    model = SignalClassifier(arch="msresnet_tiny", num_classes=k, in_channels=2, task=task,
                             class_names=[f"c{i}" for i in range(k)])
    x = torch.randn(6, 2, 128)
    if task == "multiclass":
        y = torch.randint(0, k, (3,))
    elif task == "multilabel":
        y = torch.randint(0, 2, (3, k)).float()
    else:
        y = torch.randint(0, 2, (3,))
    batch = {"x": x, "y": y, "n_windows": torch.tensor([1, 2, 3]), "id": ["a", "b", "c"]}
    loss, probs, _ = model._step(batch, "val")
    assert torch.isfinite(loss) and probs.shape[0] == 3
    assert model.net.fc.out_features == (1 if task == "binary" else k)
    out = model.predict_step(batch, 0)
    assert out["id"] == ["a", "b", "c"] and ((out["probs"] >= 0) & (out["probs"] <= 1)).all()
    with pytest.raises(ValueError, match="class names"):
        SignalClassifier(arch="msresnet_tiny", num_classes=3, class_names=["a"])


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("trained")
    cli = fit_cli(["-c", str(CONFIGS / "demo.yaml"), "--trainer.max_epochs=1", "--data.init_args.num_records=120"],
                  root)
    return cli, Path(cli.trainer.checkpoint_callback.last_model_path)


def test_checkpoint_round_trip_is_weights_only(trained):
    cli, ckpt = trained
    raw = torch.load(ckpt, map_location="cpu", weights_only=True)  # plain data + tensors only
    meta = raw["ts_resnet"]
    assert meta["class_names"] == ["NSR", "AF", "STACH", "SBRAD", "BBB"]
    assert meta["fs"] == 100.0 and meta["window"] == 500 and meta["channels"][3] == "aVR"
    assert meta["preprocess"]["normalize"] == "zscore"
    clf = load_classifier(ckpt)
    x = torch.randn(3, 12, 500)
    net = cli.model.net.eval()
    with torch.no_grad():
        torch.testing.assert_close(clf.net(x), net(x), rtol=0, atol=0)


class _Exploit:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


def test_tampered_checkpoint_is_refused(trained, tmp_path):
    _, ckpt = trained
    raw = torch.load(ckpt, map_location="cpu", weights_only=True)
    raw["ts_resnet"]["payload"] = _Exploit()
    bad = tmp_path / "tampered.ckpt"
    torch.save(raw, bad)
    with pytest.raises(ModelFileError, match="refused to load"):
        load_classifier(bad)
    junk = tmp_path / "junk.ckpt"
    junk.write_bytes(b"not a checkpoint")  # under weights_only, torch reports this as an unsafe pickle
    with pytest.raises(ModelFileError, match=r"junk\.ckpt: not a PyTorch checkpoint"):
        load_classifier(junk)
    cut = tmp_path / "cut.ckpt"  # a copy cut short: torch's own error is "OSError: [Errno 22]"
    cut.write_bytes(Path(ckpt).read_bytes()[:4096])
    with pytest.raises(ModelFileError, match=r"cut\.ckpt: .*truncated or damaged"):
        load_classifier(cut)
    legacy = tmp_path / "legacy.ckpt"  # torch.save's pre-1.6 pickle format still loads
    torch.save(torch.load(ckpt, map_location="cpu", weights_only=True), legacy,
               _use_new_zipfile_serialization=False)
    assert load_classifier(legacy).class_names == load_classifier(ckpt).class_names


@pytest.mark.parametrize(("wanted", "options", "expected"), [
    (None, None, True),  # CPU training: the 2-D channels-last path when the network has one
    (False, None, False),
    (None, {"se": True}, False),  # no 2-D path: the plain layout, silently
])
def test_training_on_cpu_picks_the_channels_last_layout(tmp_path, wanted, options, expected):
    import lightning as L

    from ts_resnet.data.modules import SyntheticECGDataModule

    class Seen(L.Callback):
        layouts: list[bool] = []

        def on_train_batch_end(self, trainer, pl_module, *args):
            self.layouts.append(pl_module.net.channels_last)

    dm = SyntheticECGDataModule(num_records=40, batch_size=8, window=250)
    model = SignalClassifier(arch="msresnet_tiny", arch_options=options, num_classes=5, in_channels=12,
                             task="multilabel", channels_last=wanted)
    L.Trainer(max_steps=2, accelerator="cpu", logger=False, enable_checkpointing=False, callbacks=[Seen()],
              enable_progress_bar=False, limit_val_batches=1, default_root_dir=tmp_path).fit(model, datamodule=dm)
    assert Seen.layouts == [expected, expected]
    assert model.net.channels_last is False  # after fit: the layout classify runs, bit for bit
    assert model.hparams.channels_last is wanted
    if expected:  # the checkpoint's network is the plain one: same keys, loads into a fresh network
        fresh = ts_resnet.create_model("msresnet_tiny", in_ch=12, num_classes=5)
        fresh.load_state_dict(model.net.state_dict())


def test_channels_last_asked_for_where_there_is_no_2d_path_is_an_error(tmp_path):
    import lightning as L

    from ts_resnet.data.modules import SyntheticECGDataModule

    model = SignalClassifier(arch="msresnet_tiny", arch_options={"se": True}, num_classes=5, in_channels=12,
                             task="multilabel", channels_last=True)
    with pytest.raises(ValueError, match="no channels-last path for.*SqueezeExcite1d"):
        L.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                  enable_progress_bar=False, default_root_dir=tmp_path).fit(
            model, datamodule=SyntheticECGDataModule(num_records=40, batch_size=8, window=250))


def test_weight_ema_horizon_follows_the_run_length():
    from ts_resnet.averaging import WeightEMA

    ema = WeightEMA(decay=0.99, max_horizon=0.1)
    assert ema.decay_for(1000) == 0.99 and ema.decay_for(50_000) == 0.99  # the recipe's budget and up
    assert ema.decay_for(120) == pytest.approx(1 - 1 / 12)  # 120 steps: a 12-step horizon
    assert ema.decay_for(120) ** 119 < 1e-4  # ... which forgets the first step's weights
    assert ema.decay_for(5) == 0.0 and ema.decay_for(float("inf")) == 0.99
    for bad in ({"decay": 1.0}, {"decay": 0.0}, {"max_horizon": 0.0}, {"max_horizon": 2.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            WeightEMA(**bad)


def test_ucr_recipe_learns_gunpoint_for_two_seeds(tmp_path):
    """The recipe learns (far above the 50% of chance, for two seeds) on a short step budget.

    Published-level accuracy is the benchmark's business (examples/benchmark_ucr.py), not a test's:
    it moves with library versions."""
    root = fixture("ucr")
    for seed in (0, 1):
        cli = fit_cli(["-c", str(CONFIGS / "ucr.yaml"), "--data.root", str(root), "--data.dataset", "GunPoint",
                       f"--seed_everything={seed}", "--trainer.max_steps=40", "--trainer.logger=false",
                       "--trainer.enable_checkpointing=false"], tmp_path / str(seed))
        acc = cli.trainer.test(cli.model, datamodule=cli.datamodule, verbose=False)[0]["test/acc"]
        assert acc >= 0.75, (seed, acc)
        # the recipe's weight average is active, with its horizon capped to this short run
        ema = [c for c in cli.trainer.callbacks if type(c).__name__ == "WeightEMA"]
        # ... after the recipe's StepBudget tripled the run (200 epochs of 4 batches wanted, 3 x 40 allowed)
        assert cli.trainer.global_step == 120
        assert len(ema) == 1 and ema[0].effective_decay == pytest.approx(1 - 1 / 12)


class _Interrupt(Exception):
    pass


def test_resume_from_last_checkpoint(tmp_path):
    import lightning as L

    from ts_resnet.data.modules import SyntheticECGDataModule

    def make():
        dm = SyntheticECGDataModule(num_records=80, batch_size=16, window=250)
        model = SignalClassifier(arch="msresnet_tiny", num_classes=5, in_channels=12, task="multilabel")
        return dm, model

    class StopAt(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step == 10:  # mid third epoch (4 steps per epoch)
                raise _Interrupt

    dm, model = make()
    kw = dict(max_epochs=4, default_root_dir=tmp_path, enable_progress_bar=False, logger=False,
              enable_model_summary=False)
    trainer = L.Trainer(callbacks=[StopAt()], **kw)
    with pytest.raises(_Interrupt):
        trainer.fit(model, dm)
    last = tmp_path / "checkpoints" / "last.ckpt"
    assert last.exists()
    saved = torch.load(last, weights_only=True)
    assert saved["epoch"] == 1 and saved["global_step"] == 8
    dm, model = make()
    trainer = L.Trainer(**kw)
    trainer.fit(model, dm, ckpt_path=str(last))
    assert trainer.current_epoch == 4 and trainer.global_step == 16
    opt = trainer.optimizers[0]
    steps = {int(s["step"]) for s in opt.state_dict()["state"].values()}
    assert steps == {16}  # Adam moments continued from step 8, not restarted
    sched = trainer.lr_scheduler_configs[0].scheduler
    assert sched.last_epoch == 16


DDP_SCRIPT = r'''
import json, os, sys
from ts_resnet.data.modules import SyntheticECGDataModule
log = sys.argv[1]
orig_prepare, orig_setup = SyntheticECGDataModule.prepare_data, SyntheticECGDataModule.setup
def prepare(self):
    open(log, "a").write(f"prepare {os.environ.get('LOCAL_RANK', '0')}\n")
    return orig_prepare(self)
def setup(self, stage=None):
    open(log, "a").write(f"setup {os.environ.get('LOCAL_RANK', '0')}\n")
    return orig_setup(self, stage)
SyntheticECGDataModule.prepare_data, SyntheticECGDataModule.setup = prepare, setup
from ts_resnet.cli.main import main
from ts_resnet.cli.train import run_lightning_cli
import torch.distributed as dist
cli = run_lightning_cli(sys.argv[3:])
if cli.trainer.is_global_zero:
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items()}
    json.dump({**metrics, "group_alive": float(dist.is_initialized())}, open(sys.argv[2], "w"))
'''


def test_ddp_metrics_equal_single_process(trained, tmp_path):
    _, ckpt = trained
    script = tmp_path / "ddp_validate.py"
    script.write_text(DDP_SCRIPT)
    # 120 records -> 18 validation records: an even split over 2 ranks, so no sampler padding
    common = ["validate", "-c", str(CONFIGS / "demo.yaml"), "--data.init_args.num_records=120",
              f"--ckpt_path={ckpt}", "--trainer.logger=false", *QUIET]
    results = {}
    for name, extra in (("single", ["--trainer.devices=1"]),
                        ("ddp", ["--trainer.devices=2", "--trainer.strategy=ddp", "--trainer.accelerator=cpu"])):
        out, log = tmp_path / f"{name}.json", tmp_path / f"{name}.log"
        (tmp_path / name).mkdir()
        proc = subprocess.run([sys.executable, str(script), str(log), str(out), *common, *extra],
                              capture_output=True, text=True, timeout=300, cwd=tmp_path / name,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        assert proc.returncode == 0, proc.stderr[-3000:]
        results[name] = (json.loads(out.read_text()), log.read_text().split("\n"))
    single, ddp = results["single"][0], results["ddp"][0]
    for key in ("val/auroc", "val/ap", "val/acc", "val/f1", "val/loss"):
        assert ddp[key] == pytest.approx(single[key], abs=1e-5), key
    # The process group is ended before exit: left to interpreter teardown, gloo's threads could
    # abort the finished run with SIGABRT (a failure seen on a 2-core CI machine).
    assert ddp["group_alive"] == 0.0
    lines = results["ddp"][1]
    assert lines.count("prepare 0") == 1 and "prepare 1" not in lines  # prepare once
    assert "setup 0" in lines and "setup 1" in lines  # set up on every rank


DDP_FIT_SCRIPT = r'''
import json, os, sys
from ts_resnet.cli.main import main
from ts_resnet.cli.train import run_lightning_cli
cli = run_lightning_cli(sys.argv[2:])
rank = cli.trainer.global_rank
json.dump({k: float(v) for k, v in cli.trainer.callback_metrics.items()}, open(f"{sys.argv[1]}.{rank}.json", "w"))
'''


def test_ddp_training_logs_are_global_and_quiet(tmp_path):
    """Under DDP every rank logs the same epoch values - the training loss too, which each rank used to
    average over its own batches only - and Lightning has no sync_dist warning to give."""
    script = tmp_path / "ddp_fit.py"
    script.write_text(DDP_FIT_SCRIPT)
    proc = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "metrics"), "fit", "-c", str(CONFIGS / "demo.yaml"),
         "--data.init_args.num_records=120", "--data.init_args.num_workers=0", "--model.arch=msresnet_tiny",
         "--trainer.max_epochs=2", "--trainer.logger=false", "--trainer.enable_checkpointing=false",
         f"--trainer.default_root_dir={tmp_path}", "--trainer.devices=2", "--trainer.strategy=ddp",
         # the progress bar on: it shows the epoch loss, which rank 0 once computed alone (a collective
         # the other rank never joined: the run died at the first epoch's end)
         "--trainer.accelerator=cpu", "--trainer.enable_model_summary=false"],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "train/loss_epoch=" in proc.stdout  # the bar showed it (from the second epoch on)
    rank0, rank1 = (json.loads((tmp_path / f"metrics.{r}.json").read_text()) for r in (0, 1))
    assert {"train/loss_epoch", "train/auroc", "val/auroc", "val/loss"} <= set(rank0)
    for key in ("train/loss_epoch", "train/auroc", "train/acc", "val/auroc", "val/loss"):
        assert rank0[key] == pytest.approx(rank1[key], abs=1e-6), key
    assert "sync_dist=True" not in proc.stderr


def test_predict_writes_csv(trained, tmp_path):
    import csv

    _, ckpt = trained
    out = tmp_path / "preds.csv"
    run_lightning_cli(["predict", "-c", str(CONFIGS / "demo.yaml"), "--data.init_args.num_records=120",
                       f"--ckpt_path={ckpt}", f"--trainer.default_root_dir={tmp_path}", *QUIET,
                       "--trainer.callbacks+=ts_resnet.writers.PredictionWriter",
                       f"--trainer.callbacks.output={out}"])
    reader = csv.DictReader(open(out))
    rows = list(reader)
    # the same columns as `ts-resnet classify` writes
    assert reader.fieldnames == ["id", "path", "NSR", "AF", "STACH", "SBRAD", "BBB", "predicted", "n_windows",
                                 "quality"]
    assert {r["quality"] for r in csv.DictReader(open(out))} == {""}  # not assessed by predict
    assert len(rows) == 18 and rows[0]["id"].startswith("synth")  # the test split
    assert all(0 <= float(r["AF"]) <= 1 for r in rows) and {r["n_windows"] for r in rows} == {"3"}
    thresholds = torch.load(ckpt, weights_only=True)["ts_resnet"]["thresholds"]  # the checkpoint's own
    for r in rows:
        assert r["predicted"] == ";".join(c for c, t in zip(("NSR", "AF", "STACH", "SBRAD", "BBB"), thresholds)
                                          if float(r[c]) >= t - 1e-6)


def test_predict_without_writer_writes_into_the_run_folder(trained, tmp_path, capsys):
    _, ckpt = trained
    args = ["-c", str(CONFIGS / "demo.yaml"), "--data.init_args.num_records=120", *QUIET,
            f"--trainer.default_root_dir={tmp_path}"]
    cli = run_lightning_cli(["predict", *args, f"--ckpt_path={ckpt}"])
    out = Path(cli.trainer.log_dir) / "predictions.csv"
    assert out.is_relative_to(tmp_path) and len(out.read_text().splitlines()) == 1 + 18
    assert f"Predictions: {out}" in capsys.readouterr().out
    again = run_lightning_cli(["predict", *args, f"--ckpt_path={ckpt}"])  # a new run folder: nothing replaced
    assert Path(again.trainer.log_dir) != Path(cli.trainer.log_dir) and out.is_file()


def test_predict_on_several_devices_is_refused_before_it_runs(trained, tmp_path, capsys):
    # PredictionWriter writes from one process; it used to say so only after every rank had predicted
    _, ckpt = trained
    with pytest.raises(SystemExit) as exc:
        run_lightning_cli(["predict", "-c", str(CONFIGS / "demo.yaml"), "--data.init_args.num_records=120", *QUIET,
                           f"--ckpt_path={ckpt}", f"--trainer.default_root_dir={tmp_path}",
                           "--trainer.strategy=ddp", "--trainer.accelerator=cpu", "--trainer.devices=2"])
    assert exc.value.code == 2 and "predict writes one file from one process" in capsys.readouterr().err


def test_the_prediction_writer_refuses_several_processes_before_predicting(tmp_path):
    # from Python (no CLI pre-check) the refusal used to come after every rank had predicted its share
    from types import SimpleNamespace

    from ts_resnet.writers import PredictionWriter

    writer = PredictionWriter(output=str(tmp_path / "p.csv"))
    with pytest.raises(RuntimeError, match=r"p\.csv is written from one process: predict with --trainer\.devices=1"):
        writer.on_predict_start(SimpleNamespace(world_size=2), None)
    writer.on_predict_start(SimpleNamespace(world_size=1), None)  # one process: fine
    assert not (tmp_path / "p.csv").exists()


def test_a_checkpoint_from_other_data_is_named_before_it_is_loaded(trained, tmp_path, capsys):
    _, ckpt = trained  # 12-lead, five-class multi-label (configs/demo.yaml)
    ucr = ["-c", str(CONFIGS / "ucr.yaml"), "--data.root", str(fixture("ucr")), "--data.dataset", "GunPoint"]
    with pytest.raises(SystemExit) as exc:  # was Lightning's state-dict size mismatch
        run_lightning_cli(["test", *ucr, f"--ckpt_path={ckpt}", f"--trainer.default_root_dir={tmp_path}", *QUIET])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and f"{ckpt} was trained on other data" in err
    assert "input channels 12 (this data: 1)" in err and "classes 5 (this data: 2)" in err
    # the same shapes, the classes in another order: it used to load and score against the wrong names
    swapped = torch.load(ckpt, weights_only=True)
    names = swapped["ts_resnet"]["class_names"]
    swapped["ts_resnet"]["class_names"] = names[1::-1] + names[2:]
    torch.save(swapped, tmp_path / "swapped.ckpt")
    with pytest.raises(SystemExit):
        run_lightning_cli(["validate", "-c", str(CONFIGS / "demo.yaml"), "--data.init_args.num_records=120", *QUIET,
                           f"--ckpt_path={tmp_path / 'swapped.ckpt'}", f"--trainer.default_root_dir={tmp_path}"])
    assert f"classes AF, NSR, {', '.join(names[2:])} (this data: NSR, AF," in capsys.readouterr().err


def test_a_checkpoint_from_other_data_is_named_from_python_and_on_resume(trained, tmp_path, capsys):
    # the same check at the depth Lightning loads checkpoints (SignalClassifier.on_load_checkpoint), so
    # trainer.test(ckpt_path=...) from Python, and `fit --ckpt_path` resuming on other data, name it too
    import lightning as L

    from ts_resnet.card import CheckpointDataError
    from ts_resnet.data.modules import UCRDataModule

    _, ckpt = trained  # 12-lead, five-class multi-label
    dm = UCRDataModule(root=str(fixture("ucr")), dataset="GunPoint")
    dm.setup("test")
    model = SignalClassifier(in_channels=dm.in_channels, num_classes=dm.num_classes, task=dm.task,
                             class_names=dm.class_names, arch="msresnet_tiny")
    trainer = L.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False,
                        default_root_dir=tmp_path)
    with pytest.raises(CheckpointDataError, match="input channels 12 \\(this data: 1\\); classes 5 \\(this data: 2\\)"):
        trainer.test(model, datamodule=dm, ckpt_path=str(ckpt))
    code = main(["fit", "-c", str(CONFIGS / "ucr.yaml"), "--data.root", str(fixture("ucr")), "--data.dataset",
                 "GunPoint", f"--ckpt_path={ckpt}", f"--trainer.default_root_dir={tmp_path}", *QUIET])
    err = capsys.readouterr().err
    assert code == 2 and "ts-resnet fit: error: the checkpoint was trained on other data" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("command", ["validate", "test", "predict"])
def test_evaluating_without_a_checkpoint_is_refused(command, tmp_path, capsys):
    # Lightning would evaluate the random initial weights and report chance-level numbers as a result
    with pytest.raises(SystemExit) as exc:
        run_lightning_cli([command, "-c", str(CONFIGS / "demo.yaml"), "--data.init_args.num_records=60",
                           f"--trainer.default_root_dir={tmp_path}", *QUIET])
    assert exc.value.code == 2
    assert f"{command} needs --ckpt_path MODEL.ckpt" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # refused before anything ran


@pytest.mark.parametrize("preset", ["gpu.yaml", "ddp.yaml"])
def test_gpu_preset_without_a_gpu_is_one_line(preset, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    with pytest.raises(SystemExit) as exc:
        run_lightning_cli(["fit", "-c", str(CONFIGS / "demo.yaml"), "-c", str(CONFIGS / preset),
                           f"--trainer.default_root_dir={tmp_path}", *QUIET])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "--trainer.accelerator=gpu" in err and "leave the GPU config out" in err
    # the DDP preset's hint is a command that runs on the CPU (its sync_batchnorm and devices=-1 do not)
    assert ("--trainer.sync_batchnorm=false" in err) == (preset == "ddp.yaml")


def test_user_checkpoint_callback_is_respected(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    cli = fit_cli(["-c", str(CONFIGS / "demo.yaml"), "--data.init_args.num_records=60", "--trainer.max_epochs=1",
                   "--trainer.callbacks+=ModelCheckpoint", "--trainer.callbacks.monitor=val/loss",
                   "--trainer.callbacks.mode=min"], tmp_path)
    cbs = [c for c in cli.trainer.callbacks if isinstance(c, ModelCheckpoint)]
    assert [c.monitor for c in cbs] == ["val/loss"]


def test_cli_optimizer_and_scheduler_override(tmp_path):
    cli = fit_cli(["-c", str(CONFIGS / "demo.yaml"), "--data.init_args.num_records=60", "--trainer.fast_dev_run=true",
                   "--optimizer=SGD", "--optimizer.lr=0.05", "--lr_scheduler=StepLR", "--lr_scheduler.step_size=3"],
                  tmp_path)
    opt = cli.trainer.optimizers[0]
    assert isinstance(opt, torch.optim.SGD) and opt.param_groups[0]["initial_lr"] == 0.05
    assert isinstance(cli.trainer.lr_scheduler_configs[0].scheduler, torch.optim.lr_scheduler.StepLR)
    default = fit_cli(["-c", str(CONFIGS / "demo.yaml"), "--data.init_args.num_records=60",
                       "--trainer.fast_dev_run=true"], tmp_path / "d")
    assert isinstance(default.trainer.optimizers[0], torch.optim.AdamW)
    assert isinstance(default.trainer.lr_scheduler_configs[0].scheduler, torch.optim.lr_scheduler.OneCycleLR)


def test_compile_switch_keeps_plain_weights():
    """compile=True runs the network through torch.compile (inductor, ~25 s on 2 CPU cores)."""
    torch.manual_seed(0)
    plain = SignalClassifier(arch="msresnet_tiny", num_classes=3, in_channels=2, task="multiclass").eval()
    compiled = SignalClassifier(arch="msresnet_tiny", num_classes=3, in_channels=2, task="multiclass",
                                compile=True).eval()
    compiled.load_state_dict(plain.state_dict())
    assert set(compiled.state_dict()) == set(plain.state_dict())  # no "_orig_mod." prefixes
    x = torch.randn(2, 2, 200)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), plain(x), rtol=1e-4, atol=1e-5)
    assert compiled._compiled is not None


@pytest.mark.parametrize("sam_rho", [0.0, 0.05])
def test_bf16_mixed_precision_path(tmp_path, sam_rho):
    """The precision switch of configs/gpu.yaml, exercised on CPU autocast (bf16), also with SAM's
    two passes inside the precision plugin's closure."""
    cli = fit_cli(["-c", str(CONFIGS / "demo.yaml"), "--data.init_args.num_records=60", "--trainer.fast_dev_run=true",
                   "--trainer.precision=bf16-mixed", f"--model.sam_rho={sam_rho}"], tmp_path)
    assert cli.model.hparams.sam_rho == sam_rho
    assert cli.trainer.precision == "bf16-mixed"
    metrics = cli.trainer.callback_metrics
    assert torch.isfinite(metrics["train/loss_step"]) and torch.isfinite(metrics["val/loss"])
    assert next(cli.model.net.parameters()).dtype == torch.float32  # weights stay fp32 under autocast


def test_network_options_are_typed_end_to_end(tmp_path, capsys):
    """Every MultiScaleResNet1d option is a typed --model.arch_options.* argument; the run builds it
    and the checkpoint's card stores only what was set."""
    import dataclasses
    import inspect

    from ts_resnet.inference import load_classifier
    from ts_resnet.layers import MultiScaleBlock1d
    from ts_resnet.network import MultiScaleResNet1d
    from ts_resnet.registry import NetworkOptions

    fields = {f.name for f in dataclasses.fields(NetworkOptions)}
    assert fields == set(inspect.signature(MultiScaleResNet1d.__init__).parameters) - {"self", "in_ch", "num_classes"}
    with pytest.raises(SystemExit):
        run_lightning_cli(["fit", "--model.arch_options.help", "NetworkOptions"])
    assert "--model.arch_options.fusion" in capsys.readouterr().out
    cli = fit_cli(["-c", str(CONFIGS / "demo.yaml"), "--data.init_args.num_records=60", "--trainer.max_epochs=1",
                   "--trainer.limit_train_batches=1", "--model.arch_options.fusion=attention",
                   "--model.arch_options.kernel_sizes=[5, 9]", "--model.arch_options.dilations=[1, 3]"], tmp_path)
    blocks = [m for m in cli.model.net.modules() if isinstance(m, MultiScaleBlock1d)]
    assert blocks and all(b.fusion == "attention" and b.kernel_sizes == (5, 9) for b in blocks)
    assert all([br[0][0].dilation[0] for br in b.branches] == [1, 3] for b in blocks)
    clf = load_classifier(cli.trainer.checkpoint_callback.last_model_path)
    assert clf.card.arch_options == {"layers": [1, 1], "widths": [32, 64], "kernel_sizes": [5, 9],
                                     "dilations": [1, 3], "fusion": "attention", "stem_width": 32}
    with pytest.raises(TypeError, match=r"unknown network options \['fusoin'\]"):
        NetworkOptions.parse({"fusoin": "sum"})


def test_ucr_recipe_with_stem_filters_round_trips(tmp_path):
    """--model.arch_options.stem_filters=true trains through the CLI; the checkpoint's card records it,
    so the loaded classifier rebuilds the fixed filters (they are not in the state dict) and gives the
    trained network's outputs."""
    from ts_resnet.handcrafted import HybridStem1d
    from ts_resnet.inference import load_classifier

    cli = fit_cli(["-c", str(CONFIGS / "ucr.yaml"), "--data.root", str(fixture("ucr")), "--data.dataset",
                   "ItalyPowerDemand", "--trainer.max_steps=3", "--model.arch_options.stem_filters=true"], tmp_path)
    path = cli.trainer.checkpoint_callback.last_model_path or cli.trainer.checkpoint_callback.best_model_path
    clf = load_classifier(path)
    assert clf.card.arch_options == {"stem_filters": True}
    assert isinstance(clf.net.stem[0], HybridStem1d)
    x = torch.randn(4, 1, 24)
    with torch.no_grad():
        torch.testing.assert_close(clf.net.eval()(x), cli.model.net.eval()(x))


def test_ucr_recipe_under_the_cpu_bf16_preset_saves_float32_weights(tmp_path):
    """configs/cpu_bf16.yaml stacked on the UCR recipe: the fit runs under CPU autocast (bf16), and what
    it saves - the weight average included - is the usual float32 checkpoint, which load_classifier
    serves in float32 without knowing how it was trained."""
    from ts_resnet.inference import load_classifier

    cli = fit_cli(["-c", str(CONFIGS / "ucr.yaml"), "-c", str(CONFIGS / "cpu_bf16.yaml"), "--data.root",
                   str(fixture("ucr")), "--data.dataset", "ItalyPowerDemand", "--trainer.max_steps=3"], tmp_path)
    assert cli.trainer.precision == "bf16-mixed" and cli.trainer.strategy.root_device.type == "cpu"
    assert cli.trainer.global_step > 0
    path = cli.trainer.checkpoint_callback.last_model_path or cli.trainer.checkpoint_callback.best_model_path
    state = torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
    floats = [v for v in state.values() if v.is_floating_point()]
    assert floats and all(v.dtype == torch.float32 for v in floats)
    clf = load_classifier(path)
    x = torch.randn(4, 1, 24)
    with torch.no_grad():
        out = clf.net.eval()(x)
        torch.testing.assert_close(out, cli.model.net.eval()(x))
    assert out.dtype == torch.float32 and torch.isfinite(out).all()


def test_bf16_on_a_cpu_without_bf16_instructions_is_announced(tmp_path, monkeypatch):
    """Where oneDNN would emulate bf16 (slower than float32), `fit` says so before training; it still runs.
    The processor probe is replaced: which CPU CI runs on is not ours to choose."""
    import ts_resnet.precision as precision

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(precision, "cpu_bf16_support", lambda: "emulated")
    args = ["-c", str(CONFIGS / "demo.yaml"), "--data.init_args.num_records=60", "--trainer.fast_dev_run=true"]
    with pytest.warns(UserWarning, match="CPU without bf16 instructions.*slower than --trainer.precision=32-true"):
        cli = fit_cli([*args, "-c", str(CONFIGS / "cpu_bf16.yaml")], tmp_path)
    assert cli.trainer.precision == "bf16-mixed"
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fit_cli(args, tmp_path)  # float32: nothing to say
    assert not [w for w in seen if "bf16 instructions" in str(w.message)]
