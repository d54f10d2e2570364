"""The model card, the task semantics and the Lightning-free prediction path."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import fixture

import ts_resnet
from ts_resnet.card import FORMAT_VERSION, ModelCard, ModelCardError
from ts_resnet.data import read_record
from ts_resnet.inference import ModelFileError, load_classifier
from ts_resnet.registry import PRESET_HISTORY
from ts_resnet.tasks import TaskSpec

OLD_CKPT = fixture("models", "demo-0.2.0.ckpt")


def test_checkpoint_written_by_0_2_0_loads_and_predicts_the_same():
    expected = json.loads(fixture("models", "demo-0.2.0.expected.json").read_text())["probabilities"]
    clf = load_classifier(OLD_CKPT)
    assert clf.card.format_version == 1 and clf.card.arch == "msresnet_tiny"
    for rid, probs in expected.items():
        got = clf.predict_record(read_record(fixture("cinc2021-sample", f"{rid}.hea")))
        assert list(got) == list(probs)
        np.testing.assert_allclose(list(got.values()), list(probs.values()), atol=1e-5)


def _card_dict() -> dict:
    return dict(torch.load(OLD_CKPT, weights_only=True)["ts_resnet"])


def test_card_round_trip_and_validation(tmp_path):
    card = ModelCard.from_dict(_card_dict(), "x")
    again = ModelCard.from_dict(json.loads(json.dumps(card.to_dict())), "y")
    assert again == card
    assert card.stride == 250 and card.num_outputs == 5
    assert card.preprocess_config().leads == card.channels
    assert card.preprocess_config(nan_policy="zero", fill_missing_leads="zero").nan_policy == "zero"

    newer = {**_card_dict(), "format_version": FORMAT_VERSION + 1}
    with pytest.raises(ModelCardError, match=r"newer ts_resnet.*upgrade"):
        ModelCard.from_dict(newer, "m.ckpt")
    for broken, message in (
        ({k: v for k, v in _card_dict().items() if k != "class_names"}, r"lacks \['class_names'\]"),
        ({**_card_dict(), "colour": "red"}, r"unknown model card fields \['colour'\]"),
        ({**_card_dict(), "task": "regression"}, "task must be"),
        ({**_card_dict(), "num_outputs": 1}, "num_outputs=1 does not fit"),
        ({**_card_dict(), "thresholds": [0.5, 2.0, 0.5, 0.5, 0.5]}, r"thresholds must be 5 values in \[0, 1\]"),
        ({k: v for k, v in _card_dict().items() if k != "format_version"}, "not a ts_resnet model card"),
        ([1, 2], "expected a mapping"),
    ):
        with pytest.raises(ModelCardError, match=message):
            ModelCard.from_dict(broken, "m.ckpt")
    # through the loader: a clear ModelFileError naming the file
    path = tmp_path / "newer.ckpt"
    ckpt = torch.load(OLD_CKPT, weights_only=True)
    ckpt["ts_resnet"]["format_version"] = FORMAT_VERSION + 1
    torch.save(ckpt, path)
    with pytest.raises(ModelFileError, match=rf"{path}: model card format {FORMAT_VERSION + 1}"):
        load_classifier(path)


def test_a_preset_change_does_not_break_checkpoints_written_before_it(tmp_path):
    # msresnet_ecg was widened after checkpoints had been written with it (registry.PRESET_HISTORY):
    # a card that names the preset without pinning its widths must rebuild the old network.
    old = PRESET_HISTORY["msresnet_ecg"]
    assert ts_resnet.model_defaults("msresnet_ecg")["widths"] != tuple(old["widths"])
    ckpt = torch.load(OLD_CKPT, weights_only=True)
    card = {**ckpt["ts_resnet"], "arch": "msresnet_ecg", "arch_options": {}}
    torch.manual_seed(0)
    old_net = ts_resnet.create_model("msresnet_ecg", in_ch=card["in_channels"], num_classes=5, **old).eval()
    path = tmp_path / "ecg-before-widening.ckpt"
    torch.save({"ts_resnet": card, "state_dict": {f"net.{k}": v for k, v in old_net.state_dict().items()}}, path)
    clf = load_classifier(path)  # strict load_state_dict: any shape mismatch fails here
    x = torch.randn(2, card["in_channels"], 500)
    with torch.no_grad():
        torch.testing.assert_close(clf.net(x), old_net(x))
    assert clf.card.arch_options["widths"] == old["widths"]

    # a card written now pins today's values, so it survives the next change and older readers
    # (which treat arch_options as overrides) rebuild the same network
    new = ModelCard.from_dict(card, "x").replace(arch_options={})  # replace() builds a new card
    assert new.arch_options["widths"] == list(ts_resnet.model_defaults("msresnet_ecg")["widths"])
    again = ModelCard.from_dict(json.loads(json.dumps(new.to_dict())), "y")
    assert again.build_network().num_features == ts_resnet.MultiScaleResNet1d().num_features


def test_task_semantics():
    p = np.array([[0.2, 0.7, 0.1], [0.6, 0.3, 0.9]])
    assert TaskSpec("multiclass", 3).decide(p).tolist() == [[False, True, False], [False, False, True]]
    assert TaskSpec("multilabel", 3).decide(p, np.array([0.1, 0.8, 0.5])).tolist() == [
        [True, False, False], [True, False, True]]
    binary = TaskSpec("binary", 2)
    assert binary.num_outputs == 1
    cp = binary.class_probabilities(np.array([[0.25], [0.9]]))
    np.testing.assert_allclose(cp, [[0.75, 0.25], [0.1, 0.9]])
    assert binary.decide(cp, np.array([0.5, 0.95])).tolist() == [[True, False], [True, False]]
    assert binary.cam_target(0) == (0, True) and binary.cam_target(1) == (0, False)
    assert TaskSpec("multilabel", 3).cam_target(2) == (2, False)
    np.testing.assert_array_equal(binary.target_matrix(np.array([1, 0])), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(TaskSpec("multiclass", 3).target_matrix(np.array([2])), [[0, 0, 1]])
    assert binary.curve_classes == [1] and TaskSpec("multilabel", 3).curve_classes == [0, 1, 2]
    with pytest.raises(ValueError, match="binary task has 2 classes"):
        TaskSpec("binary", 3)
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    torch.testing.assert_close(TaskSpec("multiclass", 3).probabilities(logits).sum(), torch.tensor(1.0))
    torch.testing.assert_close(TaskSpec("multilabel", 3).probabilities(logits), torch.sigmoid(logits))


def test_inference_and_classify_never_import_lightning(tmp_path):
    """The prediction path (load, prepare, predict, classify CLI) runs without Lightning or torchmetrics."""
    record = fixture("cinc2021-sample", "E07500.hea")
    code = f"""
import sys
from ts_resnet.inference import load_classifier
from ts_resnet.data import read_record
from ts_resnet.cli.main import main
clf = load_classifier({str(OLD_CKPT)!r})
print(clf.predict_record(read_record({str(record)!r})))
assert main(["classify", "-m", {str(OLD_CKPT)!r}, {str(record)!r}, "-o", {str(tmp_path / "p.csv")!r}, "-q"]) == 0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("lightning", "pytorch_lightning", "torchmetrics"))
assert not heavy, heavy
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "p.csv").read_text().startswith("id,path,NSR,AF,STACH,SBRAD,BBB,predicted,n_windows")


def test_prepare_matches_the_evaluation_dataset():
    """One windowing: the record pipeline gives the windows the evaluation dataset gives."""
    from ts_resnet.data.datasets import SignalDataset

    clf = load_classifier(OLD_CKPT)
    rec = read_record(fixture("cinc2021-sample", "E07500.hea"))
    prepared = clf.prepare(rec)
    pre = clf.preprocessor()
    ds = SignalDataset([pre(rec, normalize=False)], np.zeros((1, 5), np.float32), ["a"], window=clf.window,
                       stride=clf.card.eval_stride, transform=pre.normalize)
    np.testing.assert_array_equal(ds[0]["x"].numpy(), prepared.windows)
    assert prepared.starts[0] == 0 and prepared.starts[-1] == prepared.signal.shape[-1] - clf.window
    assert prepared.n_windows == len(prepared.starts)
