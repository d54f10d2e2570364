"""The evaluation report: metrics equal scikit-learn's, intervals cover, the folder is complete."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

from ts_resnet.report import evaluation_table, expected_calibration_error, write_report


def _data(n=300, k=4, seed=0, ties=False):
    rng = np.random.default_rng(seed)
    y = (rng.random((n, k)) < [0.1, 0.3, 0.5, 0.05][:k]).astype(int)
    p = 1 / (1 + np.exp(-(1.5 * y + rng.normal(0, 1, (n, k)) - 1)))
    if ties:
        p = np.round(p, 1)  # many tied scores
    return y, p, (p >= 0.4).astype(int)


@pytest.mark.parametrize("ties", [False, True])
def test_point_estimates_equal_scikit_learn(ties):
    y, p, d = _data(ties=ties)
    rows = evaluation_table(y, p, d, list("abcd"), n_boot=0)
    for j, r in enumerate(rows[:4]):
        assert r["support"] == y[:, j].sum()
        assert r["auroc"] == pytest.approx(roc_auc_score(y[:, j], p[:, j]), abs=1e-12)
        assert r["ap"] == pytest.approx(average_precision_score(y[:, j], p[:, j]), abs=1e-12)
        assert r["f1"] == pytest.approx(f1_score(y[:, j], d[:, j]), abs=1e-12)
        assert r["sensitivity"] == pytest.approx(recall_score(y[:, j], d[:, j]), abs=1e-12)
        assert r["specificity"] == pytest.approx(recall_score(1 - y[:, j], 1 - d[:, j]), abs=1e-12)
        assert r["ppv"] == pytest.approx(precision_score(y[:, j], d[:, j]), abs=1e-12)
    macro, micro = rows[4], rows[5]
    assert macro["auroc"] == pytest.approx(roc_auc_score(y, p, average="macro"), abs=1e-12)
    assert micro["auroc"] == pytest.approx(roc_auc_score(y, p, average="micro"), abs=1e-12)
    assert micro["ap"] == pytest.approx(average_precision_score(y, p, average="micro"), abs=1e-12)
    assert micro["f1"] == pytest.approx(f1_score(y, d, average="micro"), abs=1e-12)


def test_bootstrap_interval_covers_a_known_auroc():
    """Negatives ~ N(0, 1), positives ~ N(delta, 1): AUROC = Phi(delta / sqrt 2). The 95% interval of
    independent samples should contain it about 95% of the time."""
    delta = 1.0
    truth = norm.cdf(delta / np.sqrt(2))
    rng = np.random.default_rng(1)
    hits, trials = 0, 120
    for t in range(trials):
        y = (rng.random(150) < 0.4).astype(int)
        s = rng.normal(delta * y, 1.0)
        r = evaluation_table(y[:, None], s[:, None], (s > 0.5)[:, None], ["x"], n_boot=300, seed=t)[0]
        hits += r["auroc_lo"] <= truth <= r["auroc_hi"]
    assert 0.86 <= hits / trials <= 1.0  # nominal 0.95; percentile intervals run slightly narrow


def test_bootstrap_is_vectorised_and_seeded():
    rng = np.random.default_rng(0)
    y = (rng.random((2000, 71)) < 0.08).astype(int)
    p = np.clip(0.3 * y + rng.random((2000, 71)) * 0.7, 0, 1)
    a = evaluation_table(y, p, p >= 0.5, [f"c{i}" for i in range(71)], n_boot=100, seed=3)
    b = evaluation_table(y[:200], p[:200], p[:200] >= 0.5, [f"c{i}" for i in range(71)], n_boot=50, seed=3)
    c = evaluation_table(y[:200], p[:200], p[:200] >= 0.5, [f"c{i}" for i in range(71)], n_boot=50, seed=3)
    assert json.dumps(b) == json.dumps(c)  # seeded (NaN-safe comparison)
    assert a[0]["auroc_lo"] < a[0]["auroc"] < a[0]["auroc_hi"]
    micro = a[-1]
    assert micro["class"] == "micro" and micro["auroc_lo"] < micro["auroc"] < micro["auroc_hi"]


def test_ece_and_report_folder(tmp_path):
    y, p, d = _data()
    assert expected_calibration_error(np.array([1, 0]), np.array([1.0, 0.0])) == 0.0
    assert expected_calibration_error(np.array([0, 0]), np.array([0.95, 0.95])) == pytest.approx(0.95)
    paths = write_report(tmp_path / "r", y, p, d, list("abcd"), task="multilabel", thresholds=[0.4] * 4, n_boot=100)
    assert all(path.exists() and path.stat().st_size > 0 for path in paths)
    md = (tmp_path / "r" / "metrics.md").read_text()
    assert "| macro |" in md and "| micro |" in md and "calibration error" in md
    import json

    over = np.clip(p * 1.6 - 0.3, 0, 1)  # the same ranking, over-confident
    write_report(tmp_path / "t", y, p, d, list("abcd"), task="multilabel", n_boot=10, uncalibrated=over,
                 temperature=[1.5], figures=False)
    summary = json.loads((tmp_path / "t" / "summary.json").read_text())
    assert summary["ece_uncalibrated"] == pytest.approx(expected_calibration_error(y, over))
    assert "before temperature scaling" in (tmp_path / "t" / "metrics.md").read_text()
    with pytest.raises(FileExistsError):
        write_report(tmp_path / "r", y, p, d, list("abcd"), task="multilabel", n_boot=10)
    write_report(tmp_path / "m", np.eye(3)[[0, 1, 2, 1]], np.eye(3)[[0, 1, 1, 1]] * 0.8 + 0.05,
                 np.eye(3, dtype=int)[[0, 1, 1, 1]], ["x", "y", "z"], task="multiclass", n_boot=20)
    assert (tmp_path / "m" / "confusion_matrix.png").exists()
