from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import fixture, shared
from helpers import write_variable_ucr

from ts_resnet.data import SignalReadError, read_ucr_tsv, read_uea_ts
from ts_resnet.data.modules import UCRDataModule

# From ../shared/data/README.md: train, test, length, classes
UCR = {
    "ECG5000": (500, 4500, 140, 5), "ECGFiveDays": (23, 861, 136, 2), "TwoLeadECG": (23, 1139, 82, 2),
    "GunPoint": (50, 150, 150, 2), "ItalyPowerDemand": (67, 1029, 24, 2), "ArrowHead": (36, 175, 251, 3),
    "Coffee": (28, 28, 286, 2),
}


@pytest.mark.parametrize("name", sorted(UCR))
def test_ucr_counts(name):
    root = shared("ucr")
    n_train, n_test, length, n_classes = UCR[name]
    x_tr, y_tr = read_ucr_tsv(root / name / f"{name}_TRAIN.tsv")
    x_te, y_te = read_ucr_tsv(root / name / f"{name}_TEST.tsv")
    assert (len(x_tr), len(x_te)) == (n_train, n_test)
    assert {s.shape for s in x_tr} == {(1, length)}
    assert len(set(y_tr) | set(y_te)) == n_classes
    dm = UCRDataModule(root=str(root), dataset=name)
    dm.setup("fit")
    assert dm.num_classes == n_classes and dm.in_channels == 1 and dm.task == "multiclass"
    assert len(dm.splits["train"]) == n_train and len(dm.splits["test"]) == n_test
    # labels 0..K-1, names kept in order
    assert set(np.unique(dm.splits["train"].targets)) <= set(range(n_classes))
    assert [dm.class_names[k] for k in dm.splits["test"].targets[:5]] == y_te[:5]


def test_uea_basic_motions():
    root = shared("uea")
    x, y, header = read_uea_ts(root / "BasicMotions" / "BasicMotions_TRAIN.ts")
    assert len(x) == 40 and {s.shape for s in x} == {(6, 100)}
    assert header["class_labels"] == ["Standing", "Running", "Walking", "Badminton"]
    assert Counter(y) == {"Standing": 10, "Running": 10, "Walking": 10, "Badminton": 10}
    x_te, _, _ = read_uea_ts(root / "BasicMotions" / "BasicMotions_TEST.ts")
    assert len(x_te) == 40


def test_uea_japanese_vowels_variable_length():
    root = shared("uea")
    x, y, header = read_uea_ts(root / "JapaneseVowels" / "JapaneseVowels_TRAIN.ts")
    lengths = {s.shape[1] for s in x}
    assert len(x) == 270 and {s.shape[0] for s in x} == {12}
    assert min(lengths) >= 7 and max(lengths) <= 29 and len(lengths) > 5
    assert len(set(y)) == 9
    dm = UCRDataModule(root=str(root), dataset="JapaneseVowels", val_fraction=0.1, batch_size=16)
    dm.setup("fit")
    # UEA: per-channel statistics of the training split, not per-series z-scores
    assert dm.preprocess.normalize == "dataset" and len(dm.preprocess.mean) == 12
    assert UCRDataModule(root=str(fixture("ucr")), dataset="GunPoint").preprocess.normalize == "zscore"
    assert len(dm.splits["test"]) == 370
    assert len(dm.splits["train"]) + len(dm.splits["val"]) == 270
    batch = next(iter(dm.train_dataloader()))
    # padded to the longest series of the batch, after z-normalisation
    assert batch["x"].shape[:2] == (16, 12) and batch["x"].shape[2] <= 29
    assert batch["y"].dtype.is_floating_point is False


def test_uea_missing_values(tmp_path):
    f = tmp_path / "M_TRAIN.ts"
    f.write_text("@problemName M\n@univariate false\n@classLabel true a b\n@data\n1,2,?,4:5,6,7,8:a\n1,2:3,4:b\n")
    x, y, _ = read_uea_ts(f)
    assert np.isnan(x[0][0, 2]) and x[1].shape == (2, 2) and y == ["a", "b"]
    bad = tmp_path / "bad.ts"
    bad.write_text("@data\n1,x:a\n")
    with pytest.raises(SignalReadError, match="bad.ts"):
        read_uea_ts(bad)


def _write_ucr(root, name: str, n: int, length: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    t = np.arange(length)
    for split in ("TRAIN", "TEST"):
        rows = []
        for i in range(n):
            label = i % 2
            x = np.sin(2 * np.pi * (3 + 4 * label) * t / length) + 0.1 * rng.normal(size=length)
            rows.append(np.concatenate([[label + 1], x]))
        np.savetxt(folder / f"{name}_{split}.tsv", np.array(rows), delimiter="\t")


def test_ucr_long_series_are_decimated_through_the_preprocessor(tmp_path):
    from ts_resnet.data.records import Record
    from ts_resnet.data.transforms import Preprocessor

    _write_ucr(tmp_path, "Long", n=24, length=300)
    dm = UCRDataModule(root=str(tmp_path), dataset="Long", max_length=128, batch_size=None)
    dm.setup("fit")
    # ceil(300 / 128) = 3 -> 100 samples; the factor is in what checkpoints carry
    assert dm.preprocess.decimate == 3
    assert dm.splits["train"].signals.shape == (24, 1, 100)
    assert dm.inference_config()["preprocess"]["decimate"] == 3
    assert dm.batch_size == 16  # the rule for <= 200 training series
    # classify replays the same pipeline: identical to what training saw (before normalisation)
    raw = dm._raw["TEST"][0][5]
    replay = Preprocessor(dm.preprocess)(Record(raw, 1.0, ["ch0"]), normalize=False)
    np.testing.assert_allclose(replay, dm.splits["test"].signals[5], atol=1e-6)
    # the dominant frequency survives decimation: 3 cycles per series stay 3 cycles
    spectrum = np.abs(np.fft.rfft(dm.splits["train"].signals[0, 0]))
    assert int(np.argmax(spectrum[1:])) + 1 == 3
    # short series are left alone; an explicit factor wins over the rule
    dm2 = UCRDataModule(root=str(tmp_path), dataset="Long", max_length=512)
    dm2.setup("fit")
    assert dm2.preprocess.decimate == 1 and dm2.splits["train"].signals.shape[-1] == 300
    with pytest.raises(ValueError, match="max_length"):
        UCRDataModule(root=str(tmp_path), dataset="Long", max_length=2)


def test_phase_jitter_trains_on_every_sampling_phase_of_decimated_series(tmp_path):
    import torch

    from ts_resnet.data.records import Record
    from ts_resnet.data.transforms import Preprocessor

    _write_ucr(tmp_path, "Long", n=24, length=300)
    dm = UCRDataModule(root=str(tmp_path), dataset="Long", max_length=128, batch_size=None, phase_jitter=True,
                       val_fraction=0.25)
    dm.setup("fit")
    train = dm.splits["train"]
    assert dm.preprocess.decimate == 3
    # phases 1 and 2, indexed like phase 0 (also after the validation split is carved out)
    assert [p.shape for p in train.phases] == [train.signals.shape] * 2
    i = 4
    raw = dm._raw["TRAIN"][0][int(train.ids[i].rsplit("_", 1)[1])]
    for k, phase in enumerate(train.phases, start=1):
        shifted = np.concatenate([raw[:, k:], np.repeat(raw[:, -1:], k, axis=-1)], axis=-1)
        expected = Preprocessor(dm.preprocess)(Record(shifted, 1.0, ["ch0"]), normalize=False)
        np.testing.assert_allclose(phase[i], expected, atol=1e-6)
        # the same band-limited series a third of a decimated sample later: close, not equal
        gap = np.abs(phase[i] - train.signals[i]).mean() / np.abs(train.signals[i]).mean()
        assert 0.01 < gap < 0.5
    # training items come from all three phases; validation and test read phase 0 only
    torch.manual_seed(0)
    drawn = {dm.datasets["train"][i]["x"].numpy().tobytes() for _ in range(40)}
    assert len(drawn) == 3
    assert not dm.datasets["val"].phases
    val_item = dm.datasets["val"][0]["x"].numpy()
    np.testing.assert_allclose(val_item[0], dm.preprocessor.normalize(dm.splits["val"].signals[0]), atol=1e-6)
    assert dm.splits["test"].phases is None
    # off by default, and nothing to jitter where the series are not decimated
    plain = UCRDataModule(root=str(tmp_path), dataset="Long", max_length=128)
    plain.setup("fit")
    assert plain.splits["train"].phases is None and not plain.datasets["train"].phases
    short = UCRDataModule(root=str(tmp_path), dataset="Long", max_length=512, phase_jitter=True)
    short.setup("fit")
    assert short.preprocess.decimate == 1 and short.splits["train"].phases is None


def test_signal_dataset_phases_must_match_the_signals():
    from ts_resnet.data.datasets import SignalDataset

    x = np.zeros((4, 1, 10), dtype=np.float32)
    with pytest.raises(ValueError, match="every phase must hold 4 signals"):
        SignalDataset(x, np.zeros(4, dtype=np.int64), list("abcd"), train=True, phases=[x[:3]])


def test_level_channels_only_for_sets_that_are_not_znormalised(tmp_path):
    from ts_resnet.data.modules import znormalised

    # Chinatown (pedestrian counts, shipped un-normalised): the per-series z-score would discard each
    # day's volume, so the rule (keep_level=None) adds the standardised series as a second channel
    root = fixture("ucr")
    assert UCRDataModule(root=str(root), dataset="Chinatown", keep_level=False).in_channels == 1
    dm = UCRDataModule(root=str(root), dataset="Chinatown", batch_size=None)  # None: the rule, as the recipe
    assert dm.keep_level is None
    assert dm.preprocess.normalize == "zscore_level" and dm.in_channels == 2
    dm.setup("fit")
    train = dm.splits["train"].signals
    np.testing.assert_allclose(dm.preprocess.mean, [train.mean()], rtol=1e-5)  # from TRAIN only
    item = dm.datasets["test"][0]["x"]
    assert item.shape == (1, 2, 24)
    raw = dm.splits["test"].signals[0, 0]
    np.testing.assert_allclose(item[0, 1].numpy(), (raw - dm.preprocess.mean[0]) / dm.preprocess.std[0], rtol=1e-5)
    assert abs(float(item[0, 0].mean())) < 1e-5 and abs(float(item[0, 0].std(unbiased=False)) - 1) < 1e-3
    assert dm.inference_config()["preprocess"]["normalize"] == "zscore_level"
    # GunPoint is z-normalised already: one channel, as before
    gp = UCRDataModule(root=str(root), dataset="GunPoint", keep_level=None)
    assert gp.preprocess.normalize == "zscore" and gp.in_channels == 1
    # True forces it
    assert UCRDataModule(root=str(root), dataset="GunPoint", keep_level=True).in_channels == 2
    # what the rule looks at
    rng = np.random.default_rng(0)
    z = [(s - s.mean()) / s.std() for s in rng.normal(3, 2, size=(5, 1, 50))]
    assert znormalised(z)
    assert znormalised([*z, np.zeros((1, 50)), np.array([[np.nan, 1.0, -1.0]])])  # flat, NaN ignored
    assert not znormalised([*z, z[0] + 0.5]) and not znormalised([*z, 3 * z[0]])

    # in-memory series follow the same rule with normalize="auto"
    from ts_resnet.data.modules import ArrayDataModule

    labels = [0, 1] * 5
    assert ArrayDataModule(np.concatenate(z * 2), labels, normalize="auto").preprocess.normalize == "zscore"
    raw = ArrayDataModule(rng.normal(3, 2, size=(10, 50)), labels, normalize="auto")
    assert raw.preprocess.normalize == "zscore_level" and raw.in_channels == 2


def test_no_level_channels_when_a_class_has_one_training_series(tmp_path):
    from ts_resnet.data.modules import ArrayDataModule, wants_level_channels

    # Fungi's layout (one training series per class): nothing in TRAIN shows that the level varies
    # within a class, so the rule keeps the per-series z-score alone
    rng = np.random.default_rng(0)
    raw = list(rng.normal(3, 2, size=(6, 1, 50)))
    assert wants_level_channels(raw, ["a", "a", "b", "b", "c", "c"])
    assert not wants_level_channels(raw, ["a", "a", "b", "b", "c", "d"])  # one class with one series is enough
    z = [(s - s.mean()) / s.std() for s in raw]
    assert not wants_level_channels(z, ["a", "a", "b", "b", "c", "c"])  # z-normalised already
    labels = ["a", "b", "c", "d", "e", "f"]
    assert ArrayDataModule(np.stack(raw), labels, normalize="auto").preprocess.normalize == "zscore"
    # the same through the archive module: Chinatown's TRAIN cut to one series per class
    src = fixture("ucr") / "Chinatown"
    (tmp_path / "Chinatown").mkdir()
    lines = (src / "Chinatown_TRAIN.tsv").read_text().splitlines()
    first = {ln.split("\t", 1)[0]: ln for ln in reversed(lines)}
    (tmp_path / "Chinatown" / "Chinatown_TRAIN.tsv").write_text("\n".join(first.values()) + "\n")
    (tmp_path / "Chinatown" / "Chinatown_TEST.tsv").write_text((src / "Chinatown_TEST.tsv").read_text())
    one_each = UCRDataModule(root=str(tmp_path), dataset="Chinatown")
    assert len(one_each.raw_series()["TRAIN"][0]) == 2
    assert one_each.preprocess.normalize == "zscore" and one_each.in_channels == 1
    assert UCRDataModule(root=str(tmp_path), dataset="Chinatown", keep_level=True).in_channels == 2  # True forces it


def test_in_memory_series_get_the_archive_modules_normalisation():
    from ts_resnet.data.modules import ArrayDataModule, recipe_normalize

    # normalize="auto" (the estimator's default) is the UCR/UEA modules' keep_level=None, one function
    rng = np.random.default_rng(0)
    multi = rng.normal(3, 2, size=(6, 3, 40))
    labels = ["a", "b"] * 3
    assert recipe_normalize(list(multi), labels) == "dataset"  # UEA: per-channel training-set statistics
    dm = ArrayDataModule(multi, labels, normalize="auto")
    assert dm.preprocess.normalize == "dataset" and dm.in_channels == 3
    uea = UCRDataModule(root=str(shared("uea")), dataset="BasicMotions")
    series, names = uea.raw_series()["TRAIN"]
    assert uea.preprocess.normalize == recipe_normalize(series, names) == "dataset"
    assert UCRDataModule(root=str(shared("uea")), dataset="BasicMotions", keep_level=False).preprocess.normalize == "dataset"
    for name in ("Chinatown", "GunPoint"):  # univariate: the level rule, then the per-series z-score
        ucr = UCRDataModule(root=str(fixture("ucr")), dataset=name)
        series, names = ucr.raw_series()["TRAIN"]
        assert ucr.preprocess.normalize == recipe_normalize(series, names)
        assert ArrayDataModule(series, names, normalize="auto").preprocess.normalize == ucr.preprocess.normalize


def _tsv_as_ts(src: Path, dst: Path, name: str) -> None:
    """Rewrite a UCR ``.tsv`` as the ``.ts`` file timeseriesclassification.com/aeon ship for the same set."""
    dst.mkdir(parents=True)
    for split in ("TRAIN", "TEST"):
        series, labels = read_ucr_tsv(src / f"{name}_{split}.tsv")
        lines = [f"@problemName {name}", "@timeStamps false", "@univariate true",
                 f"@classLabel true {' '.join(sorted(set(labels), key=int))}", "@data"]
        lines += [",".join(repr(float(v)) for v in s[0]) + f":{y}" for s, y in zip(series, labels)]
        (dst / f"{name}_{split}.ts").write_text("\n".join(lines) + "\n")


def test_univariate_ts_gets_the_ucr_recipe_like_tsv(tmp_path):
    # The UCR sets are also distributed as .ts: the recipe (per-series z-score, level channel rule)
    # must follow the data, not the container, or a user with the .ts download trains another recipe
    for name in ("GunPoint", "Chinatown"):
        _tsv_as_ts(fixture("ucr") / name, tmp_path / name, name)
    for name, keep_level, normalize in [("GunPoint", False, "zscore"), ("Chinatown", None, "zscore_level")]:
        tsv = UCRDataModule(root=str(fixture("ucr")), dataset=name, keep_level=keep_level)
        ts = UCRDataModule(root=str(tmp_path), dataset=name, keep_level=keep_level)
        assert ts.source_name("TRAIN").endswith(".ts")
        assert ts.preprocess == tsv.preprocess and ts.preprocess.normalize == normalize
        assert ts.describe().class_names == tsv.describe().class_names
        for dm in (tsv, ts):
            dm.setup("test")
        a, b = tsv.datasets["test"], ts.datasets["test"]
        assert len(a) == len(b)
        for i in (0, len(a) - 1):
            np.testing.assert_allclose(b[i]["x"].numpy(), a[i]["x"].numpy(), rtol=1e-6, atol=1e-6)
            assert int(b[i]["y"]) == int(a[i]["y"])


def test_uea_level_option(tmp_path):
    root = shared("uea")
    dm = UCRDataModule(root=str(root), dataset="BasicMotions", keep_level=None)
    assert dm.preprocess.normalize == "dataset" and dm.in_channels == 6  # UEA: training-set statistics
    both = UCRDataModule(root=str(root), dataset="BasicMotions", keep_level=True)
    assert both.preprocess.normalize == "zscore_level" and both.in_channels == 12


@pytest.mark.parametrize(("n", "size"), [(16, 16), (200, 16), (201, 32), (1000, 32), (4000, 64), (8926, 128)])
def test_auto_batch_size_rule(n, size):
    from ts_resnet.data.modules.ucr import auto_batch_size

    assert auto_batch_size(n) == size


def test_drop_last_makes_every_training_step_a_full_batch():
    # Chinatown's TRAIN has 20 series: at batch 16 an epoch is a step of 16 and a step of 4 unless the
    # short batch is dropped; evaluation must still see every record
    root = fixture("ucr")

    def batches(split: str, **kw) -> list[int]:
        dm = UCRDataModule(root=str(root), dataset="Chinatown", batch_size=None, **kw)
        dm.setup("fit")
        return [len(b["y"]) for b in getattr(dm, f"{split}_dataloader")()]

    assert batches("train") == [16, 4]
    assert batches("train", drop_last=True) == [16]
    assert sum(batches("test", drop_last=True)) == 343  # all of TEST, short last batch included
    # a training split no larger than one batch keeps its one batch instead of yielding none
    dm = UCRDataModule(root=str(root), dataset="Chinatown", batch_size=32, drop_last=True)
    dm.setup("fit")
    assert [len(b["y"]) for b in dm.train_dataloader()] == [20]


def test_preprocess_decimate_is_validated():
    from ts_resnet.data.transforms import PreprocessConfig

    with pytest.raises(ValueError, match="decimate"):
        PreprocessConfig(decimate=0)
    assert PreprocessConfig.from_dict(PreprocessConfig(decimate=4).to_dict()).decimate == 4
    # checkpoints written before the field existed still load (default 1)
    old = PreprocessConfig().to_dict()
    del old["decimate"]
    assert PreprocessConfig.from_dict(old).decimate == 1


def test_variable_length_pad_shows_the_network_where_each_series_ends(tmp_path):
    lengths = write_variable_ucr(tmp_path, "Var", n=12)
    longest_train = max(lengths[:12])
    mask = UCRDataModule(root=str(tmp_path), dataset="Var", batch_size=12)
    mask.setup("fit")
    batch = next(iter(mask.train_dataloader()))
    # the default: padded per batch, and the pooling is told each series' own length
    assert mask.preprocess.pad_to is None and sorted(batch["lengths"].tolist()) == sorted(lengths[:12])
    pad = UCRDataModule(root=str(tmp_path), dataset="Var", batch_size=12, variable_length="pad")
    pad.setup("fit")
    assert pad.preprocess.pad_to == longest_train
    assert pad.inference_config()["preprocess"]["pad_to"] == longest_train
    batch = next(iter(pad.train_dataloader()))
    # (two channels: these series are not z-normalised, so the level channel joins the z-score)
    assert "lengths" not in batch and batch["x"].shape == (12, 2, longest_train)
    for i in range(3):
        item, n = pad.datasets["test"][i]["x"][0], lengths[12 + i]
        # normalised over the series' own samples, then zeros to the end in every channel
        assert item.shape == (2, longest_train) and torch.all(item[:, n:] == 0)
        assert abs(float(item[0, :n].mean())) < 1e-5 and abs(float(item[0, :n].std(unbiased=False)) - 1) < 1e-3
    with pytest.raises(ValueError, match="variable_length"):
        UCRDataModule(root=str(tmp_path), dataset="Var", variable_length="stretch")


def test_pad_to_never_cuts_and_rejects_nonsense():
    from ts_resnet.data.transforms import PreprocessConfig, Preprocessor

    pre = Preprocessor(PreprocessConfig(pad_to=8, position=True))
    short = pre.normalize(np.arange(5, dtype=np.float32)[None])
    # the ramp channel is padded with the series: both end in zeros after sample 5
    assert short.shape == (2, 8) and np.all(short[:, 5:] == 0) and short[1, 4] == 1.0
    assert pre.normalize(np.arange(11, dtype=np.float32)[None]).shape == (2, 11)
    for bad in (0, 2.5, -3):
        with pytest.raises(ValueError, match="pad_to"):
            PreprocessConfig(pad_to=bad)
    # cards written before the setting existed still load
    old = {k: v for k, v in PreprocessConfig().to_dict().items() if k != "pad_to"}
    assert PreprocessConfig.from_dict(old).pad_to is None


def test_variable_length_resample_stretches_every_series_to_one_length(tmp_path):
    from ts_resnet.data.records import Record
    from ts_resnet.data.transforms import PreprocessConfig, Preprocessor, resize

    lengths = write_variable_ucr(tmp_path, "Var", n=12)
    longest_train = max(lengths[:12])
    dm = UCRDataModule(root=str(tmp_path), dataset="Var", batch_size=12, variable_length="resample")
    dm.setup("fit")
    assert dm.preprocess.resize_to == longest_train and dm.preprocess.pad_to is None
    # the checkpoint carries it, so classify stretches a new series the same way
    assert dm.inference_config()["preprocess"]["resize_to"] == longest_train
    batch = next(iter(dm.train_dataloader()))
    assert "lengths" not in batch and batch["x"].shape == (12, 2, longest_train)
    dm.setup("test")
    assert {tuple(item["x"].shape[-1:]) for item in dm.datasets["test"]} == {(longest_train,)}
    # the same shape drawn at two speeds lands on the same samples
    t = np.linspace(0, 1, 400)
    slow, fast = np.sin(2 * np.pi * 3 * t)[None], np.sin(2 * np.pi * 3 * t[::4])[None]
    a, b = resize(slow.astype(np.float32), 200), resize(fast.astype(np.float32), 200)
    assert a.shape == b.shape == (1, 200) and np.abs(a - b)[:, 5:-5].max() < 0.05
    # a straight line stays one, ends included (they are extended along the trend, not with zeros);
    # output sample j sits at input position j * 37 / 100, resample_poly's grid
    line = np.linspace(2.0, 5.0, 37, dtype=np.float32)[None]
    stretched = Preprocessor(PreprocessConfig(resize_to=100, normalize="none"))(
        Record(line, 1.0, ["x"], id="line"))
    np.testing.assert_allclose(stretched[0], 2.0 + 3.0 / 36 * np.arange(100) * 37 / 100, atol=0.02)
    assert resize(np.array([[3.0]], dtype=np.float32), 4).tolist() == [[3.0] * 4]
    for bad in (1, 2.5, -3):
        with pytest.raises(ValueError, match="resize_to"):
            PreprocessConfig(resize_to=bad)
    with pytest.raises(ValueError, match="resize_to and fs"):
        PreprocessConfig(resize_to=100, fs=250.0)
    # equal-length sets are left as they are
    _write_ucr(tmp_path, "Eq", n=12, length=40)
    eq = UCRDataModule(root=str(tmp_path), dataset="Eq", batch_size=12, variable_length="resample")
    eq.setup("fit")
    assert eq.preprocess.resize_to is None
