"""The PhysioNet/CinC Challenge 2021 score, against hand-computed values and on real records."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fixture

from ts_resnet.challenge import ChallengeWeights, challenge_score

WEIGHTS = fixture("cinc2021-sample", "challenge2021_weights.csv")


@pytest.fixture()
def toy(tmp_path):
    f = tmp_path / "w.csv"
    f.write_text(",1,2|3,9\n1,1.0,0.5,0.0\n2|3,0.5,1.0,0.0\n9,0.0,0.0,1.0\n")
    return ChallengeWeights.load(f)


def test_score_by_hand(toy):
    # r1: L={1}, O={1}: A[1,1] += 1.  r2: L={2}, O={1,3} (3 is scored as 2|3): |L u O| = 2, so
    # A[2,1] += 1/2 and A[2,2] += 1/2.  r3: L={9}, O={}: nothing.
    # observed = 1 + 0.5*0.5 + 1*0.5 = 1.75; correct (O = L) = 3; inactive (O = {9}) = 1 (r3 only);
    # score = (1.75 - 1) / (3 - 1) = 0.375
    truth, predicted = [["1"], ["2"], ["9"]], [["1"], ["1", "3"], []]
    assert challenge_score(truth, predicted, toy, normal="9") == pytest.approx(0.375)
    assert challenge_score(truth, truth, toy, normal="9") == pytest.approx(1.0)
    assert challenge_score(truth, [["9"]] * 3, toy, normal="9") == pytest.approx(0.0)
    # codes outside the table are ignored on both sides
    assert challenge_score([["1", "777"]], [["1", "888"]], toy, normal="9") == pytest.approx(1.0)
    with pytest.raises(ValueError, match="2 true label sets for 1"):
        challenge_score(truth[:2], predicted[:1], toy)


def test_load_the_published_table(tmp_path):
    w = ChallengeWeights.load(WEIGHTS)
    assert w.weights.shape == (26, 26) and np.allclose(np.diag(w.weights), 1.0)
    assert np.allclose(w.weights, w.weights.T)
    assert w.index("59118001") == w.index("713427006")  # RBBB scored as CRBBB
    assert w.index("426783006") is not None and w.index("12345") is None
    (tmp_path / "bad.csv").write_text(",1,2\n2,1,0\n1,0,1\n")
    with pytest.raises(ValueError, match="repeat the header"):
        ChallengeWeights.load(tmp_path / "bad.csv")


def test_cinc_module_reports_the_challenge_score(tmp_path):
    import lightning as L

    from ts_resnet.data.modules import CinCDataModule
    from ts_resnet.module import SignalClassifier

    root = fixture("cinc2021-sample")
    dm = CinCDataModule(roots=[str(root)], challenge_weights=str(WEIGHTS), cache_dir=str(tmp_path), window=250,
                        batch_size=2, val_fraction=0.2, test_fraction=0.2)
    dm.setup("fit")
    model = SignalClassifier(arch="msresnet_tiny", num_classes=dm.num_classes, in_channels=12, task="multilabel",
                             class_names=dm.class_names, channels=dm.channels)
    trainer = L.Trainer(max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(model, datamodule=dm)
    assert "val/challenge" in trainer.logged_metrics
    result = trainer.test(model, datamodule=dm, verbose=False)[0]
    assert "test/challenge" in result
    # the logged figure is the score of the model's decisions on the test records
    preds = trainer.predict(model, dataloaders=dm.test_dataloader())
    probs = np.concatenate([p["probs"].numpy() for p in preds])
    decided = probs >= np.asarray(model.thresholds)
    ids = [i for p in preds for i in p["id"]]
    truth = {rid: codes for rid, _, codes in dm.headers}
    expected = challenge_score([truth[i] for i in ids],
                               [[c for c, yes in zip(dm.class_codes, row) if yes] for row in decided],
                               ChallengeWeights.load(WEIGHTS))
    assert result["test/challenge"] == pytest.approx(expected, abs=1e-6)
