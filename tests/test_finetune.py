"""Fine-tuning: start from a trained model, on another label set and on fewer leads."""

from __future__ import annotations

import lightning as L
import pytest
import torch
from conftest import REPO, fixture

from ts_resnet.data.modules import SyntheticECGDataModule
from ts_resnet.data.transforms import PreprocessConfig
from ts_resnet.inference import load_classifier
from ts_resnet.module import SignalClassifier

SOURCE = fixture("models", "demo-0.2.0.ckpt")  # msresnet_tiny, 12 leads, NSR AF STACH SBRAD BBB
LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def test_backbone_copied_and_head_mapped_by_class_name():
    src = load_classifier(SOURCE)
    model = SignalClassifier(arch="msresnet_tiny", num_classes=3, class_names=["BBB", "LVH", "AF"],
                             channels=LEADS, init_from=str(SOURCE))
    s, t = src.net.state_dict(), model.net.state_dict()
    for k in s:
        if not k.startswith("fc."):
            torch.testing.assert_close(t[k], s[k])  # the backbone starts equal to the source's
    torch.testing.assert_close(t["fc.weight"][0], s["fc.weight"][4])  # BBB
    torch.testing.assert_close(t["fc.weight"][2], s["fc.weight"][1])  # AF
    assert not torch.allclose(t["fc.weight"][1], s["fc.weight"]).__bool__()  # LVH: new
    assert model.transfer.classes_kept == ["BBB", "AF"] and model.transfer.classes_new == ["LVH"]
    with pytest.raises(ValueError, match="does not match this one"):
        SignalClassifier(arch="msresnet_ecg", num_classes=3, class_names=["BBB", "LVH", "AF"], channels=LEADS,
                         init_from=str(SOURCE))


class EpochLosses(L.Callback):
    """Each epoch's training loss. The module logs it in its own ``on_train_epoch_end``, which Lightning
    runs after the callbacks' (monitoring callbacks excepted), so it is read when the next epoch starts
    and when training ends."""

    def __init__(self, losses: list[float]) -> None:
        self.losses = losses

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch > 0:
            self.losses.append(float(trainer.callback_metrics["train/loss_epoch"]))

    def on_train_end(self, trainer, pl_module):
        self.losses.append(float(trainer.callback_metrics["train/loss_epoch"]))


def test_fine_tune_a_12_lead_model_on_two_leads():
    src = load_classifier(SOURCE)
    leads = ["V1", "II"]
    model = SignalClassifier(arch="msresnet_tiny", num_classes=5, in_channels=2, class_names=src.class_names,
                             channels=leads, init_from=str(SOURCE), freeze_backbone_epochs=1, lr_layer_decay=0.5,
                             lr=3e-3)
    w_src, w = src.net.state_dict()["stem.0.0.weight"], model.net.state_dict()["stem.0.0.weight"].clone()
    torch.testing.assert_close(w[:, 0], w_src[:, 6])  # V1
    torch.testing.assert_close(w[:, 1], w_src[:, 1])  # II
    torch.testing.assert_close(model.net.state_dict()["fc.weight"], src.net.state_dict()["fc.weight"])
    dm = SyntheticECGDataModule(num_records=160, fs=100.0, duration=10.0, window=500, batch_size=16, seed=1,
                                preprocess=PreprocessConfig(fs=100.0, leads=leads, normalize="zscore"))
    losses, stems, heads = [], [], []

    class Record(EpochLosses):
        def on_train_epoch_end(self, trainer, pl_module):
            stems.append(pl_module.net.state_dict()["stem.0.0.weight"].clone())
            heads.append(pl_module.net.state_dict()["fc.weight"].clone())

    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(max_epochs=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[Record(losses)], num_sanity_val_steps=0)
    trainer.fit(model, datamodule=dm)
    torch.testing.assert_close(stems[0], w)  # frozen in the first epoch: only the head learned
    assert not torch.equal(heads[0], src.net.state_dict()["fc.weight"])
    assert not torch.equal(stems[-1], w)  # unfrozen afterwards
    assert len(losses) == 4 and losses[-1] < losses[0]
    lrs = sorted({g["max_lr"] for g in trainer.optimizers[0].param_groups})  # one-cycle peaks
    assert lrs == pytest.approx([3e-3 * 0.5**d for d in (3, 2, 1, 0)])  # stem, stage 1, stage 2, head


def test_fine_tune_to_a_new_three_class_label_set():
    """12-lead 5-class multi-label source -> a 3-class multi-class task with other names (AF kept)."""
    import numpy as np

    from ts_resnet.data.modules import ArrayDataModule
    from ts_resnet.data.synthetic import make_dataset

    src = load_classifier(SOURCE)
    x, y = make_dataset(160, fs=100.0, duration=5.0, task="multiclass", seed=2)
    rename = {0: "NORMAL", 1: "AF", 2: "OTHER", 3: "OTHER", 4: "OTHER"}
    labels = np.array([rename[int(k)] for k in y])
    dm = ArrayDataModule(x, labels, class_names=["AF", "NORMAL", "OTHER"], batch_size=16, seed=0)
    model = SignalClassifier(arch="msresnet_tiny", task="multiclass", num_classes=3, class_names=dm.class_names,
                             channels=LEADS, init_from=str(SOURCE), lr=3e-3)
    start = {k: v.clone() for k, v in model.net.state_dict().items()}
    for k, v in src.net.state_dict().items():
        if not k.startswith("fc."):
            torch.testing.assert_close(start[k], v)  # the backbone starts as the source's
    torch.testing.assert_close(start["fc.weight"][0], src.net.state_dict()["fc.weight"][1])  # AF by name
    losses = []

    L.seed_everything(0, verbose=False)
    trainer = L.Trainer(max_epochs=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[EpochLosses(losses)], num_sanity_val_steps=0,
                        limit_val_batches=0)
    trainer.fit(model, datamodule=dm)
    assert len(losses) == 4 and losses[-1] < losses[0]


def test_fine_tune_a_model_with_stem_filters(tmp_path):
    """A source trained with stem_filters: the same leads copy every tensor, stem convolution included;
    fewer leads is a clear error (the fixed filters' channels reach past the first convolution)."""
    options = {"stem_filters": True}
    dm = SyntheticECGDataModule(num_records=40, batch_size=8, window=250)
    source = SignalClassifier(arch="msresnet_tiny", arch_options=options, num_classes=5, in_channels=12,
                              channels=LEADS, task="multilabel")
    trainer = L.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, limit_val_batches=1, default_root_dir=tmp_path)
    trainer.fit(source, datamodule=dm)
    trainer.save_checkpoint(tmp_path / "src.ckpt")
    src = load_classifier(tmp_path / "src.ckpt")
    model = SignalClassifier(arch="msresnet_tiny", arch_options=options, num_classes=5, in_channels=12,
                             channels=LEADS, class_names=src.class_names, task="multilabel",
                             init_from=str(tmp_path / "src.ckpt"))
    s, t = src.net.state_dict(), model.net.state_dict()
    assert "stem.0.conv.weight" in t and set(s) == set(t)
    for k in s:
        torch.testing.assert_close(t[k], s[k])
    with pytest.raises(ValueError, match="stem_filters; fine-tuning it to 2 channels is not supported"):
        SignalClassifier(arch="msresnet_tiny", arch_options=options, num_classes=5, in_channels=2,
                         channels=["V1", "II"], init_from=str(tmp_path / "src.ckpt"))


def test_fine_tune_a_ucr_model_onto_a_set_with_level_channels(tmp_path):
    """configs/ucr.yaml gives some sets a second, level-keeping input per channel (keep_level), so the
    target network has more inputs than channel names: the named channel maps, the derived input
    starts at zero (it used to be an error: "1 channel names for a network with 2 inputs")."""
    from ts_resnet.cli.train import run_lightning_cli

    root, quiet = fixture("ucr"), ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]
    common = ["-c", str(REPO / "configs" / "ucr.yaml"), "--data.root", str(root), "--model.arch=msresnet_tiny",
              "--trainer.max_steps=1", "--trainer.callbacks=[]", *quiet]
    src_cli = run_lightning_cli(["fit", *common, "--data.dataset", "ItalyPowerDemand",
                                 f"--trainer.default_root_dir={tmp_path / 'src'}"])
    assert src_cli.model.hparams.in_channels == 1
    ckpt = src_cli.trainer.checkpoint_callback.last_model_path
    cli = run_lightning_cli(["fit", *common, "--data.dataset", "Chinatown", f"--model.init_from={ckpt}",
                             f"--trainer.default_root_dir={tmp_path / 'dst'}", "--trainer.max_steps=0"])
    assert cli.model.hparams.in_channels == 2 and cli.model.hparams.channels == ["ch0"]
    report = cli.model.transfer
    assert report.leads_matched == ["ch0"] and report.leads_new == ["1 derived input(s)"]
    first = next(k for k in ("stem.0.0.weight", "stem.0.conv.weight") if k in src_cli.model.net.state_dict())
    w_src, w_dst = load_classifier(ckpt).net.state_dict()[first], cli.model.net.state_dict()[first]
    torch.testing.assert_close(w_dst[:, :1], w_src)
    assert torch.count_nonzero(w_dst[:, 1:]) == 0
