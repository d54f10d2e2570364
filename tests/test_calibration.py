"""Temperature scaling: recovers a known temperature; fitted in training, stored, applied by inference."""

from __future__ import annotations

import lightning as L
import numpy as np
import pytest
import torch

from ts_resnet.calibration import fit_temperature
from ts_resnet.tasks import TaskSpec


@pytest.mark.parametrize("task", ["multilabel", "multiclass"])
def test_recovers_a_known_temperature(task):
    g = torch.Generator().manual_seed(0)
    z = torch.randn(4000, 3, generator=g) * 2  # calibrated logits
    if task == "multilabel":
        y = torch.bernoulli(torch.sigmoid(z), generator=g)
    else:
        y = torch.multinomial(z.softmax(-1), 1, generator=g).squeeze(1)
    n = torch.ones(4000, dtype=torch.long)
    t = fit_temperature(3.0 * z, n, y, TaskSpec(task, 3))  # over-confident by a factor 3
    assert t[0] == pytest.approx(3.0, rel=0.1)
    if task == "multilabel":
        scale = torch.tensor([1.0, 2.0, 4.0])
        per = fit_temperature(z * scale, n, y, TaskSpec(task, 3), per_class=True)
        assert per == pytest.approx([1.0, 2.0, 4.0], rel=0.15)
    else:
        with pytest.raises(ValueError, match="one temperature"):
            fit_temperature(z, n, y, TaskSpec(task, 3), per_class=True)


def test_training_stores_a_temperature_that_inference_applies(tmp_path):
    from ts_resnet.card import ModelCard
    from ts_resnet.data.modules import SyntheticECGDataModule
    from ts_resnet.inference import Classifier, load_classifier
    from ts_resnet.module import SignalClassifier

    dm = SyntheticECGDataModule(num_records=160, window=500, batch_size=16, seed=0)
    model = SignalClassifier(arch="msresnet_tiny", temperature_scaling="per_class", class_names=dm.class_names,
                             channels=dm.channels)
    trainer = L.Trainer(max_epochs=2, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=dm)
    assert model.temperature is not None and len(model.temperature) == 5
    assert {"val/ece", "val/ece_raw"} <= set(trainer.logged_metrics)
    clf = load_classifier(trainer.checkpoint_callback.last_model_path)
    assert clf.card.temperature == pytest.approx(model.temperature)
    raw = Classifier(clf.net, ModelCard.from_dict({**clf.card.to_dict(), "temperature": None}))
    windows = [dm.datasets["val"][i]["x"].numpy() for i in range(8)]
    scaled, plain = np.stack(clf.predict([windows])), np.stack(raw.predict([windows]))
    with torch.no_grad():
        logits = clf.net(torch.from_numpy(np.concatenate(windows))).double()
    t = torch.tensor(clf.card.temperature, dtype=torch.float64)
    expected = torch.sigmoid(logits / t).view(8, -1, 5).mean(1).numpy()  # each item: its windows, averaged
    np.testing.assert_allclose(scaled, expected, atol=1e-5)
    assert not np.allclose(scaled, plain)
    with pytest.raises(ValueError, match="per_class"):
        SignalClassifier(task="multiclass", temperature_scaling="per_class")
