"""Per-class decision thresholds: chosen on validation, stored in the card, used by classify."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch
from conftest import fixture

from ts_resnet.decisions import fit_threshold, fit_thresholds


def _brute_force(y, p, score):
    best, best_t = -np.inf, None
    for t in np.unique(p):
        pred = p >= t
        value = score(y, pred)
        if value > best + 1e-12:
            best, best_t = value, t
    return best_t, best


def _f1(y, pred):
    tp = np.sum(pred & (y == 1))
    return 2 * tp / max(pred.sum() + y.sum(), 1)


def _youden(y, pred):
    return np.mean(pred[y == 1]) + np.mean(~pred[y == 0]) - 1


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_thresholds_reach_the_optimum_of_their_criterion(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(300) < 0.2).astype(int)
    p = np.clip(0.25 * y + rng.normal(0.35, 0.15, 300), 0, 1)
    for method, score in (("f1", _f1), ("youden", _youden)):
        t = fit_threshold(y, p, method)
        _, best = _brute_force(y, p, score)
        assert score(y, p >= t) == pytest.approx(best, abs=1e-9), method
    t = fit_threshold(y, p, "sensitivity", 0.9)
    assert np.mean(p[y == 1] >= t) >= 0.9 and np.mean(p[y == 1] >= np.nextafter(t, 2)) < 0.9  # strictest such
    t = fit_threshold(y, p, "specificity", 0.95)
    lower = p[p < t].max()  # the next looser candidate threshold
    assert np.mean(p[y == 0] < t) >= 0.95 and np.mean(p[y == 0] < lower) < 0.95  # loosest such


def test_threshold_edge_cases():
    assert fit_threshold(np.zeros(10), np.linspace(0, 1, 10)) == 0.5  # no positives: nothing to choose
    assert fit_threshold(np.array([0, 1]), np.array([0.2, 0.8]), "none") == 0.5
    with pytest.raises(ValueError, match="needs a target"):
        fit_threshold(np.array([0, 1]), np.array([0.2, 0.8]), "sensitivity")
    with pytest.raises(ValueError, match="differ in shape"):
        fit_thresholds(np.zeros((3, 2)), np.zeros((3, 3)))
    out = fit_thresholds(np.array([[0, 1], [1, 1], [0, 0]]), np.array([[0.1, 0.9], [0.7, 0.6], [0.3, 0.2]]))
    assert out == [0.7, 0.6]


def test_classify_decides_with_the_cards_thresholds(tmp_path):
    from ts_resnet.cli.main import main

    ckpt = torch.load(fixture("models", "demo-0.2.0.ckpt"), weights_only=True)
    names = ckpt["ts_resnet"]["class_names"]
    ckpt["ts_resnet"]["thresholds"] = [0.0, 1.0, 0.0, 1.0, 1.0]  # always NSR and STACH, never the rest
    path = tmp_path / "thr.ckpt"
    torch.save(ckpt, path)
    records = [str(fixture("cinc2021-sample", f"{r}.hea")) for r in ("E07500", "HR06000")]
    out = tmp_path / "p.csv"
    assert main(["classify", "-m", str(path), *records, "-o", str(out), "-q"]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["predicted"] for r in rows] == ["NSR;STACH", "NSR;STACH"]
    out2 = tmp_path / "p2.csv"  # --threshold overrides the card for every class
    assert main(["classify", "-m", str(path), *records, "-o", str(out2), "--threshold", "0", "-q"]) == 0
    assert {r["predicted"] for r in csv.DictReader(io.StringIO(out2.read_text()))} == {";".join(names)}


def test_multiclass_prior_correction():
    from ts_resnet.tasks import TaskSpec

    spec = TaskSpec("multiclass", 2)
    p = np.array([[0.6, 0.4], [0.95, 0.05]])
    assert spec.decide(p).tolist() == [[True, False], [True, False]]
    # class 1 was 10% of training: 0.4 / 0.1 beats 0.6 / 0.9, 0.05 / 0.1 does not beat 0.95 / 0.9
    assert spec.decide(p, priors=np.array([0.9, 0.1])).tolist() == [[False, True], [True, False]]


def test_prior_correction_is_fitted_on_train_and_stored(tmp_path):
    import lightning as L

    from ts_resnet.data.modules import SyntheticECGDataModule
    from ts_resnet.inference import load_classifier
    from ts_resnet.module import SignalClassifier

    dm = SyntheticECGDataModule(num_records=120, task="multiclass", window=500, batch_size=16, seed=0)
    dm.setup("fit")
    model = SignalClassifier(arch="msresnet_tiny", task="multiclass", class_names=dm.class_names, prior_correction=True)
    trainer = L.Trainer(max_epochs=1, default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, limit_train_batches=2)
    trainer.fit(model, datamodule=dm)
    counts = np.bincount(dm.splits["train"].targets, minlength=5)
    np.testing.assert_allclose(model.class_priors, counts / counts.sum())
    clf = load_classifier(trainer.checkpoint_callback.last_model_path)
    assert clf.card.class_priors == pytest.approx(model.class_priors)
    assert len(set(counts.tolist())) > 1
    p = np.full((1, 5), 0.2) + np.eye(5)[[int(np.argmax(counts))]] * 1e-3  # nearly uniform, the common class ahead
    assert clf.decide(p)[0].argmax() == int(np.argmin(counts))  # corrected: the rarest class wins
    with pytest.raises(ValueError, match="prior_correction is for multi-class"):
        SignalClassifier(task="multilabel", prior_correction=True)
