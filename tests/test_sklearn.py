"""The scikit-learn estimator: the API contract (clone, params, checks), search, persistence."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import fixture
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.utils import estimator_checks

from ts_resnet.sklearn import MultiScaleResNetClassifier


def _toy(n: int = 40, length: int = 60, seed: int = 0, channels: int | None = None):
    """Two classes a network learns in a few steps: a slow and a fast sine, random phase."""
    rng = np.random.default_rng(seed)
    y = np.array(["slow", "fast"] * (n // 2))
    t = np.arange(length) / length
    f = np.where(y == "slow", 2.0, 7.0)[:, None]
    x = np.sin(2 * np.pi * (f * t + rng.random((n, 1)))) + 0.1 * rng.normal(size=(n, length))
    if channels:
        x = np.repeat(x[:, None, :], channels, axis=1)
    return x.astype(np.float32), y


def test_params_round_trip_and_clone():
    est = MultiScaleResNetClassifier(max_steps=7, lr=0.01, kernel_sizes=(3, 5), random_state=3)
    params = est.get_params()
    assert params["max_steps"] == 7 and params["kernel_sizes"] == (3, 5)
    twin = clone(est)
    assert twin.get_params() == params and twin is not est
    twin.set_params(lr=0.5, batch_size=8)
    assert twin.lr == 0.5 and twin.batch_size == 8 and est.lr == 0.01
    # parameters added later (min_epochs) come last: a positional call keeps its meaning
    assert MultiScaleResNetClassifier("msresnet_ucr", None, 500, 0.01).get_params()["lr"] == 0.01


@pytest.mark.parametrize("check", [
    "check_no_attributes_set_in_init", "check_parameters_default_constructible", "check_get_params_invariance",
    "check_set_params", "check_estimators_unfitted", "check_fit2d_predict1d", "check_classifiers_one_label",
    "check_n_features_in", "check_estimators_dtypes", "check_fit_score_takes_y", "check_dont_overwrite_parameters",
    "check_estimators_empty_data_messages", "check_classifier_data_not_an_array",
])
def test_sklearn_estimator_checks(check):
    # check_classifier_data_not_an_array fits twice and wants the same predictions: random_state
    # fixes the whole fit, initial weights included (test_random_state_fixes_the_initial_weights_too)
    est = MultiScaleResNetClassifier(max_steps=2, batch_size=8, random_state=0)
    getattr(estimator_checks, check)(type(est).__name__, est)


def test_fit_predict_any_labels_and_multichannel():
    x, y = _toy()
    est = MultiScaleResNetClassifier(max_steps=60, min_epochs=None, random_state=0).fit(x, y)
    assert list(est.classes_) == ["fast", "slow"] and est.n_features_in_ == 60
    proba = est.predict_proba(x)
    assert proba.shape == (40, 2) and np.allclose(proba.sum(1), 1)
    assert est.score(x, y) >= 0.9  # a separable toy set, well above the 0.5 of chance
    x3, y3 = _toy(channels=3, seed=1)
    est3 = MultiScaleResNetClassifier(max_steps=5, random_state=0).fit(x3, (y3 == "slow").astype(int))
    assert est3.n_channels_ == 3 and est3.predict(x3).shape == (40,)
    with pytest.raises(ValueError, match="channels"):
        est3.predict(x)


def test_level_channels_learn_classes_that_differ_only_in_level(tmp_path):
    # Same shapes, different levels: the per-series z-score makes the two classes identical inputs;
    # "auto" sees un-normalised series and adds the standardised copy that keeps the level.
    rng = np.random.default_rng(0)
    y = np.array(["low", "high"] * 20)
    t = np.arange(50) / 50
    x = np.sin(2 * np.pi * (3 * t + rng.random((40, 1)))) + np.where(y == "high", 3.0, 0.0)[:, None]
    x = (x + 0.1 * rng.normal(size=x.shape)).astype(np.float32)
    est = MultiScaleResNetClassifier(max_steps=60, min_epochs=None, random_state=0).fit(x, y)  # "auto", the recipe's rule
    assert est.classifier_.card.in_channels == 2 and est.classifier_.card.preprocess.normalize == "zscore_level"
    assert est.score(x, y) >= 0.9
    back = MultiScaleResNetClassifier.load(est.save(tmp_path / "level.ckpt"))
    np.testing.assert_allclose(back.predict_proba(x), est.predict_proba(x), atol=1e-6)
    zscored = MultiScaleResNetClassifier(max_steps=2, normalize="zscore", random_state=0).fit(x, y)
    assert zscored.classifier_.card.in_channels == 1
    # one training series per class: the rule keeps the per-series z-score alone (Fungi's lesson)
    single = MultiScaleResNetClassifier(max_steps=2, random_state=0).fit(x[:2], y[:2])
    assert single.classifier_.card.in_channels == 1 and single.classifier_.card.preprocess.normalize == "zscore"


def test_random_state_fixes_the_initial_weights_too():
    import torch

    x, y = _toy(n=16, length=40)
    first = MultiScaleResNetClassifier(max_steps=3, random_state=5).fit(x, y)
    torch.rand(7)  # whatever else the process draws in between must not matter
    again = MultiScaleResNetClassifier(max_steps=3, random_state=5).fit(x, y)
    np.testing.assert_array_equal(again.predict_proba(x), first.predict_proba(x))
    other = MultiScaleResNetClassifier(max_steps=3, random_state=6).fit(x, y)
    assert not np.allclose(other.predict_proba(x), first.predict_proba(x))


def test_saved_and_loaded_estimator_predict_the_same(tmp_path):
    from ts_resnet.inference import load_classifier

    x, y = _toy()
    est = MultiScaleResNetClassifier(max_steps=10, random_state=0).fit(x, y)
    path = est.save(tmp_path / "toy.ckpt")
    back = MultiScaleResNetClassifier.load(path)
    np.testing.assert_array_equal(back.predict(x), est.predict(x))
    np.testing.assert_allclose(back.predict_proba(x), est.predict_proba(x), atol=1e-6)
    assert back.get_params() == est.get_params()
    assert load_classifier(path).class_names == ["fast", "slow"]  # classify reads the same file
    with pytest.raises(FileExistsError):
        est.save(path)


def test_grid_search_on_a_ucr_set():
    from ts_resnet.data import read_ucr_tsv

    root = fixture("ucr")
    x, y = read_ucr_tsv(root / "ItalyPowerDemand" / "ItalyPowerDemand_TRAIN.tsv")
    x = np.stack(x)[:, 0]
    search = GridSearchCV(MultiScaleResNetClassifier(max_steps=20, min_epochs=None, random_state=0), {"lr": [1e-3, 1e-2]}, cv=2)
    search.fit(x, np.array(y))
    scores = search.cv_results_["mean_test_score"]
    assert len(scores) == 2 and search.best_score_ == scores.max()
    assert search.best_params_["lr"] == [1e-3, 1e-2][int(np.argmax(scores))]
    assert set(search.predict(x)) <= {"1", "2"}  # refitted on all of TRAIN with the best value


def test_training_length_follows_the_recipes_step_budget():
    x, y = _toy()  # 40 series at batch 16: 3 batches per epoch
    budget = MultiScaleResNetClassifier(max_steps=4, random_state=0).fit(x, y)
    assert budget.module_.trainer.global_step == 12  # 200 epochs wanted, capped at 3 x max_steps
    exact = MultiScaleResNetClassifier(max_steps=4, min_epochs=None, random_state=0).fit(x, y)
    assert exact.module_.trainer.global_step == 4
    assert clone(exact).get_params()["min_epochs"] is None


def test_bf16_mixed_precision_fits_float32_weights(monkeypatch):
    """precision="bf16-mixed" trains under CPU autocast; the fitted network is float32 and predicts as
    usual. Where the CPU would emulate bf16 (slower than float32) fit says so and still fits."""
    import torch

    import ts_resnet.precision as precision

    x, y = _toy()
    est = MultiScaleResNetClassifier(max_steps=3, min_epochs=None, random_state=0, device="cpu",
                                     precision="bf16-mixed").fit(x, y)
    assert est.module_.trainer.precision == "bf16-mixed" and est.module_.trainer.global_step == 3
    assert all(p.dtype == torch.float32 for p in est.module_.parameters())
    proba = est.predict_proba(x)
    assert proba.shape == (40, 2) and np.isfinite(proba).all() and np.allclose(proba.sum(1), 1, atol=1e-5)
    monkeypatch.setattr(precision, "cpu_bf16_support", lambda: "emulated")
    with pytest.warns(UserWarning, match=r"precision=bf16-mixed on a CPU without bf16 instructions"):
        clone(est).fit(x, y)
