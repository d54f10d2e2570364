from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import REPO, fixture
from helpers import load_script, make_ptbxl_tree, write_12lead

from ts_resnet.data.modules import (
    CinCDataModule,
    FolderDataModule,
    PTBXLDataModule,
    SyntheticECGDataModule,
)
from ts_resnet.data.modules.ptbxl import aggregate_labels, load_scp_statements


def check_batches(dm, multilabel: bool):
    for loader in (dm.train_dataloader(), dm.val_dataloader(), dm.test_dataloader()):
        batch = next(iter(loader))
        assert batch["x"].dtype == torch.float32 and batch["x"].ndim == 3
        assert batch["x"].shape[1] == dm.in_channels
        assert batch["n_windows"].sum() == batch["x"].shape[0]
        if multilabel:
            assert batch["y"].dtype == torch.float32 and batch["y"].shape[1] == dm.num_classes
        else:
            assert batch["y"].dtype == torch.int64


@pytest.fixture(scope="module")
def ptbxl_root(tmp_path_factory):
    return make_ptbxl_tree(tmp_path_factory.mktemp("ptbxl"), fixture("ptbxl-meta"))


def test_ptbxl_label_aggregation_against_scp_statements():
    statements = load_scp_statements(fixture("ptbxl-meta", "scp_statements.csv"))
    assert len(statements) == 71
    codes = {"IMI": 15.0, "LNGQT": 100.0, "NST_": 100.0, "DIG": 100.0, "ABQRS": 0.0, "SR": 0.0}  # ecg_id 39
    assert aggregate_labels(codes, statements, "superdiagnostic") == ["MI", "STTC"]
    assert aggregate_labels(codes, statements, "subdiagnostic") == ["IMI", "NST_", "STTC"]
    assert aggregate_labels(codes, statements, "diagnostic") == ["DIG", "IMI", "LNGQT", "NST_"]
    assert aggregate_labels(codes, statements, "form") == ["ABQRS", "DIG", "LNGQT", "NST_"]
    assert aggregate_labels(codes, statements, "rhythm") == ["SR"]
    assert aggregate_labels(codes, statements, "all") == sorted(codes)
    codes = {"IRBBB": 100.0, "RAO/RAE": 50.0, "RVH": 35.0, "SR": 0.0}  # ecg_id 45
    assert aggregate_labels(codes, statements, "superdiagnostic") == ["CD", "HYP"]
    # every label produced at each level is a value of the matching scp_statements column
    supers = {r["diagnostic_class"] for r in statements.values() if r["diagnostic_class"]}
    assert supers == {"NORM", "MI", "STTC", "CD", "HYP"}
    subs = {r["diagnostic_subclass"] for r in statements.values() if r["diagnostic_subclass"]}
    assert len(subs) == 23
    for level, n in (("diagnostic", 44), ("form", 19), ("rhythm", 12)):
        assert sum(aggregate_labels({c: 0.0}, statements, level) == [c] for c in statements) == n


@pytest.mark.parametrize("task", ["superdiagnostic", "subdiagnostic", "diagnostic", "form", "rhythm", "all"])
def test_ptbxl_module_tasks_and_folds(ptbxl_root, tmp_path, task):
    dm = PTBXLDataModule(root=str(ptbxl_root), task=task, cache_dir=str(tmp_path), batch_size=4)
    dm.prepare_data()
    dm.setup("fit")
    statements = load_scp_statements(ptbxl_root / "scp_statements.csv")
    for row in dm.table:
        assert row["labels"], "records without labels must be dropped"
    expected = sorted({lab for r in dm.table for lab in r["labels"]})
    assert dm.class_names == expected and dm.task == "multilabel" and dm.in_channels == 12
    folds = {r["ecg_id"]: r["fold"] for r in dm.table}
    assert all(folds[i] <= 8 for i in dm.splits["train"].ids)
    assert all(folds[i] == 9 for i in dm.splits["val"].ids)
    assert all(folds[i] == 10 for i in dm.splits["test"].ids)
    for split in dm.splits.values():
        for rid, y in zip(split.ids, split.targets):
            row = next(r for r in dm.table if r["ecg_id"] == rid)
            assert [dm.class_names[k] for k in np.flatnonzero(y)] == row["labels"]
    if task == "superdiagnostic":
        assert set(dm.class_names) <= {"NORM", "MI", "STTC", "CD", "HYP"}
        assert len(dm.splits["val"]) == 5 and len(dm.splits["test"]) == 2
        check_batches(dm, multilabel=True)
        assert all(len(statements[c]["diagnostic_class"]) >= 0 for c in statements)


def test_ptbxl_cache_is_reused(ptbxl_root, tmp_path, monkeypatch):
    from ts_resnet.data.modules import base

    dm = PTBXLDataModule(root=str(ptbxl_root), sampling_rate=500, cache_dir=str(tmp_path))
    dm.prepare_data()
    dm.setup("fit")
    first = np.asarray(dm.splits["train"].signals[0]).copy()
    assert first.shape == (12, 5000)
    calls = []
    original = base.FileDataModule.read
    monkeypatch.setattr(base.FileDataModule, "read", lambda self, p: calls.append(p) or original(self, p))
    again = PTBXLDataModule(root=str(ptbxl_root), sampling_rate=500, cache_dir=str(tmp_path))
    again.prepare_data()
    again.setup("fit")
    assert calls == []  # nothing decoded the second time
    assert isinstance(again.splits["train"].signals[0], np.memmap)
    np.testing.assert_array_equal(np.asarray(again.splits["train"].signals[0]), first)
    # a different preprocessing is a different cache
    other = PTBXLDataModule(root=str(ptbxl_root), sampling_rate=500, cache_dir=str(tmp_path),
                            preprocess=dm.preprocess.replace(fs=250.0, mean=None, std=None))
    other.prepare_data()
    # the cache holds every record of the source, labelled at this level or not
    assert len(calls) == len(dm.database) == 15 and len(dm.table) == 14  # ecg 17 has no diagnostic label


def test_ptbxl_every_task_level_reuses_one_cache(ptbxl_root, tmp_path, monkeypatch):
    from helpers import load_script

    from ts_resnet.data.modules import base

    load_script(REPO / "datasets" / "ptbxl" / "prepare.py").main([str(ptbxl_root), "--cache-dir", str(tmp_path)])
    assert len(list(tmp_path.iterdir())) == 1
    calls = []
    monkeypatch.setattr(base.FileDataModule, "read", lambda self, p, nan_policy=None: calls.append(p))
    for task in ("rhythm", "all", "superdiagnostic", "form"):
        dm = PTBXLDataModule(root=str(ptbxl_root), task=task, cache_dir=str(tmp_path))
        info = dm.prepare()
        assert not info.decoded and info.records == 15
        dm.setup("fit")
        assert sum(len(s) for s in dm.splits.values()) == len(dm.table)
    assert calls == [] and len(list(tmp_path.iterdir())) == 1  # nothing decoded, one copy on disk


def test_cinc_module_on_real_records(tmp_path):
    root = fixture("cinc2021-sample")
    mapping = root / "dx_mapping_challenge2021_from_ecgbench-1.0.0.csv"
    dm = CinCDataModule(roots=[str(root)], dx_mapping=str(mapping), cache_dir=str(tmp_path), window=500,
                        batch_size=8, val_fraction=0.2, test_fraction=0.2)
    dm.prepare_data()
    dm.setup("fit")
    assert dm.in_channels == 12 and dm.task == "multilabel"
    assert "AF" in dm.class_names or "SB" in dm.class_names
    sizes = {k: len(v) for k, v in dm.splits.items()}
    n = len(list(root.glob("*.hea")))
    test = max(1, round(0.2 * n))
    assert sum(sizes.values()) == n and sizes["test"] == test and sizes["val"] == max(1, round(0.25 * (n - test)))
    assert np.asarray(dm.splits["train"].signals[0]).shape == (12, 1000)  # 500 Hz -> 100 Hz
    check_batches(dm, multilabel=True)
    # reproducible split
    dm2 = CinCDataModule(roots=[str(root)], dx_mapping=str(mapping), cache_dir=str(tmp_path),
                         val_fraction=0.2, test_fraction=0.2)
    dm2.setup("fit")
    assert dm2.splits["test"].ids == dm.splits["test"].ids
    scored = CinCDataModule(roots=[str(root)], dx_mapping=str(mapping), scored_only=True, cache_dir=str(tmp_path))
    assert 0 < scored.num_classes < dm.num_classes


def test_cinc_mixed_rates_and_equivalent_classes(tmp_path):
    d = tmp_path / "recs"
    write_12lead(d, "A1", 500, comments=["Dx: 59118001", "Age: 50"])  # RBBB -> CRBBB
    write_12lead(d, "A2", 257, seed=1, comments=["Dx: 713427006,164889003"])
    write_12lead(d, "A3", 1000, seconds=12, seed=2, comments=["Dx: 164889003"])
    write_12lead(d, "A4", 500, seed=3, comments=["Dx: 164889003"])
    dm = CinCDataModule(roots=[str(d)], cache_dir=str(tmp_path / "c"), val_fraction=0.25, test_fraction=0.25)
    assert dm.class_names == ["164889003", "713427006"]
    dm.setup("fit")
    lengths = sorted(np.asarray(s).shape[1] for sp in dm.splits.values() for s in sp.signals)
    assert lengths == [1000, 1000, 1000, 1200]


def test_folder_module_multiclass_and_multilabel(tmp_path):
    d = tmp_path / "folder"
    write_12lead(d, "a", 250, rhythm="NSR")
    write_12lead(d, "b", 250, rhythm="AF", seed=1)
    sig = np.random.default_rng(0).normal(size=(12, 2500)).astype(np.float32)
    np.save(d / "c.npy", sig)
    (d / "c.json").write_text('{"fs": 250, "layout": "CT", "channels": '
                              '["I","II","III","aVR","aVL","aVF","V1","V2","V3","V4","V5","V6"]}')
    with open(d / "d.csv", "w") as f:
        f.write(",".join(["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]) + "\n")
        for row in sig.T:
            f.write(",".join(f"{v:.4f}" for v in row) + "\n")
    (d / "labels.csv").write_text("file,label,split\na.hea,NSR,train\nb.hea,AF,train\nc.npy,AF,val\nd.csv,NSR,test\n")
    dm = FolderDataModule(root=str(d), fs=250, cache_dir=str(tmp_path / "c"), batch_size=2,
                          preprocess=None)
    dm.setup("fit")
    assert dm.class_names == ["AF", "NSR"] and dm.task == "multiclass" and dm.in_channels == 12
    assert dm.splits["test"].ids == ["d.csv"] and list(dm.splits["train"].targets) == [1, 0]
    check_batches(dm, multilabel=False)
    (d / "ml.csv").write_text("file,AF,BBB\na.hea,0,1\nb.hea,1,1\nc.npy,1,0\nd.csv,0,0\n")
    ml = FolderDataModule(root=str(d), labels_csv=str(d / "ml.csv"), label_column=None, fs=250,
                          cache_dir=str(tmp_path / "c"), val_fraction=0.25, test_fraction=0.25)
    ml.setup("fit")
    assert ml.task == "multilabel" and ml.class_names == ["AF", "BBB"]
    all_y = {i: y.tolist() for sp in ml.splits.values() for i, y in zip(sp.ids, sp.targets)}
    assert all_y == {"a.hea": [0, 1], "b.hea": [1, 1], "c.npy": [1, 0], "d.csv": [0, 0]}


def test_skipped_records_are_reported_again_when_the_cache_is_reused(tmp_path):
    d = tmp_path / "folder"
    for i, rhythm in enumerate(["NSR", "AF", "NSR", "AF"]):
        write_12lead(d, f"r{i}", 250, rhythm=rhythm, seed=i)
    (d / "labels.csv").write_text("file,label\n" + "".join(f"r{i}.hea,{r}\n" for i, r in
                                  enumerate(["NSR", "AF", "NSR", "AF"])) + "ghost.hea,AF\n")
    kwargs = dict(root=str(d), cache_dir=str(tmp_path / "c"), preprocess=None)
    with pytest.warns(UserWarning, match="skipped record ghost.hea: .*ghost.hea not found"):
        assert FolderDataModule(**kwargs).prepare().decoded
    # the second run reads the cache, not the files: the record is still skipped, and still reported
    with pytest.warns(UserWarning, match=r"1 record\(s\) skipped, as when the cache .* was built .*ghost\.hea"):
        info = FolderDataModule(**kwargs).prepare()
    assert not info.decoded and info.skipped == 1 and info.records == 4


def test_one_class_in_training_is_an_error_naming_where_the_labels_come_from(tmp_path):
    from ts_resnet.data.modules import ArrayDataModule, UCRDataModule

    d = tmp_path / "One"
    d.mkdir()
    (d / "One_TRAIN.tsv").write_text("1\t0.1\t0.2\t0.3\n1\t0.3\t0.1\t0.0\n")
    (d / "One_TEST.tsv").write_text("1\t0.1\t0.2\t0.3\n")
    with pytest.raises(ValueError, match=r"One_TRAIN\.tsv: 1 class\(es\) in the training data \['1'\]"):
        _ = UCRDataModule(root=str(tmp_path), dataset="One").num_classes
    with pytest.raises(ValueError, match=r"^y: 1 class\(es\)"):
        _ = ArrayDataModule(x=np.zeros((4, 1, 16)), y=["a"] * 4).num_classes
    f = tmp_path / "folder"
    write_12lead(f, "r0", 250, rhythm="NSR")
    (f / "labels.csv").write_text("file,label\nr0.hea,NSR\n")
    with pytest.raises(ValueError, match=r"labels\.csv: 1 class\(es\)"):
        _ = FolderDataModule(root=str(f), cache_dir=str(tmp_path / "c"), preprocess=None).num_classes


def test_a_source_with_no_readable_record_says_why(tmp_path):
    # the per-record warnings come only after a build returns, so the error itself names the reasons
    from ts_resnet.data import SignalReadError
    from ts_resnet.data.cache import SignalCache

    def load(path):
        raise SignalReadError(path, "WFDB header not found")

    items = [(f"r{i}", str(tmp_path / "records" / f"r{i}.hea")) for i in range(5)]
    with pytest.raises(SignalReadError) as e:
        SignalCache(tmp_path / "c").build("k", items, load)
    msg = str(e.value)
    assert msg.startswith(f"{tmp_path / 'records'}: none of the 5 records could be read (first: ")
    assert f"{tmp_path / 'records' / 'r0.hea'}: WFDB header not found" in msg and "and 2 more" in msg
    assert not (tmp_path / "c" / "signals.f32").exists() and not (tmp_path / "c" / "signals.tmp").exists()


def test_a_misspelt_archive_set_gets_the_nearest_names():
    from ts_resnet.data.modules.ucr import archive_file

    root = fixture("ucr")
    with pytest.raises(FileNotFoundError, match=r"Chinatwn_TRAIN\.tsv .* found; did you mean Chinatown\?"):
        archive_file(root, "Chinatwn", "TRAIN")
    n = sum(1 for d in root.iterdir() if d.is_dir())
    with pytest.raises(FileNotFoundError, match=rf"found; {root} has {n} set folder\(s\)"):
        archive_file(root, "Qqqqqq", "TRAIN")


def test_synthetic_module_is_deterministic_and_writes_wfdb(tmp_path):
    from ts_resnet.data import read_record
    from ts_resnet.data.synthetic import CLASS_NAMES, make_dataset, write_wfdb_records

    a = SyntheticECGDataModule(num_records=40, seed=3, batch_size=8, window=500)
    b = SyntheticECGDataModule(num_records=40, seed=3)
    a.setup("fit")
    b.setup("fit")
    np.testing.assert_array_equal(a.splits["train"].signals, b.splits["train"].signals)
    check_batches(a, multilabel=True)
    x, y = make_dataset(200, task="multiclass", seed=0)
    assert x.shape == (200, 12, 1000) and set(np.unique(y)) == set(range(5))
    _, yml = make_dataset(200, seed=0)
    assert (yml[:, :4].sum(1) == 1).all() and 0 < yml[:, 4].mean() < 0.6
    paths = write_wfdb_records(tmp_path, 3, seed=1)
    rec = read_record(paths[0])
    assert rec.signal.shape == (12, 1000) and rec.fs == 100
    assert set(rec.labels) <= set(CLASS_NAMES) and rec.labels
    with pytest.raises(FileExistsError):
        write_wfdb_records(tmp_path, 1, seed=1)


def test_long_records_window_dataset():
    from ts_resnet.data import read_record
    from ts_resnet.data.datasets import SignalDataset, collate_windows

    rec = read_record(fixture("cpsc2021-sample", "data_101_6.hea"))  # 112 s at 200 Hz
    recs = [rec, read_record(fixture("wfdb-sample", "s0010_re.hea")), rec]
    recs[1] = type(rec)(recs[1].signal[:2, :3000], 200.0, ["I", "II"])  # a record shorter than 2 windows
    ds = SignalDataset([r.signal for r in recs], np.zeros(3, dtype=np.int64), [str(i) for i in range(3)],
                       window=1000, stride=500)
    batch = collate_windows([ds[i] for i in range(3)])
    expected = [max(1, int(np.ceil((r.num_samples - 1000) / 500)) + 1) for r in recs]
    assert batch["n_windows"].tolist() == expected
    assert batch["x"].shape == (sum(expected), 2, 1000) and batch["id"] == ["0", "1", "2"]


def _collate_in_worker(items):
    from ts_resnet.data.datasets import collate_windows

    batch = collate_windows(items)
    batch["shared_in_worker"] = batch["x"].is_shared()  # read in the worker, before the queue moves it
    return batch


def test_training_batches_are_collated_into_shared_memory_in_workers():
    """One-window items (every training batch) are stacked by default_collate, which writes a worker's
    batch straight into shared memory; the values are those of concatenating the windows."""
    from torch.utils.data import DataLoader

    from ts_resnet.data.datasets import SignalDataset, collate_windows

    rng = np.random.default_rng(0)
    ds = SignalDataset(list(rng.normal(size=(6, 2, 300)).astype(np.float32)), np.arange(6) % 2,
                       [str(i) for i in range(6)], window=100, train=True)
    items = [ds[i] for i in range(6)]
    assert torch.equal(collate_windows(items)["x"], torch.cat([it["x"] for it in items]))
    batches = list(DataLoader(ds, batch_size=3, num_workers=1, collate_fn=_collate_in_worker))
    assert [b["shared_in_worker"] for b in batches] == [True, True]
    assert all(b["x"].shape == (3, 2, 100) and b["n_windows"].tolist() == [1, 1, 1] for b in batches)
    # several windows per record (evaluation) are still concatenated
    evaluation = SignalDataset(list(rng.normal(size=(2, 2, 300)).astype(np.float32)), np.arange(2),
                               ["a", "b"], window=100, stride=100)
    assert collate_windows([evaluation[0], evaluation[1]])["x"].shape == (6, 2, 100)


def test_signal_cache_variable_lengths_and_errors(tmp_path):
    from ts_resnet.data import SignalReadError
    from ts_resnet.data.cache import SignalCache

    rng = np.random.default_rng(0)
    arrays = {"a": rng.normal(size=(3, 10)), "b": rng.normal(size=(3, 25)), "c": rng.normal(size=(3, 1))}

    def load(name):
        if name == "bad":
            raise SignalReadError(name, "broken")
        return arrays[name]

    cache = SignalCache(tmp_path / "c")
    assert not cache.is_valid("k1")
    skipped = cache.build("k1", [(n, n) for n in ["a", "bad", "b", "c"]], load)
    assert skipped == [("bad", "bad: broken")] and cache.is_valid("k1") and not cache.is_valid("k2")
    ids, views, _ = cache.load()
    assert ids == ["a", "b", "c"]
    for rid, view in zip(ids, views):
        np.testing.assert_allclose(view, arrays[rid], rtol=1e-6)
    arrays["d"] = rng.normal(size=(2, 5))
    with pytest.raises(ValueError, match="2 channels"):
        SignalCache(tmp_path / "d").build("k", [("a", "a"), ("d", "d")], load)


def test_hard_synthetic_task_labels_and_morphology():
    from ts_resnet.data.synthetic_hard import HARD_CLASS_NAMES, make_hard_dataset

    x, y = make_hard_dataset(300, seed=1, difficulty=0.0)
    x2, y2 = make_hard_dataset(300, seed=1, difficulty=0.0)
    np.testing.assert_array_equal(x, x2)  # deterministic per seed
    np.testing.assert_array_equal(y, y2)
    assert x.shape == (300, 12, 1000) and y.shape == (300, 6) and np.isfinite(x).all()
    col = {c: i for i, c in enumerate(HARD_CLASS_NAMES)}
    assert not (y[:, col["LBBB"]] * y[:, col["RBBB"]]).any()  # exclusive conduction blocks
    assert not (y[:, col["IAVB"]] * y[:, col["AF"]]).any()  # no PR interval without P waves
    assert (y.sum(0) >= 15).all()  # every finding present
    # LVH is a voltage criterion: larger QRS amplitude (median peak-to-peak over the 12 leads)
    p2p = np.median(x.max(-1) - x.min(-1), axis=1)
    lvh = y[:, col["LVH"]] > 0
    assert np.median(p2p[lvh]) > 1.3 * np.median(p2p[~lvh])
    # difficulty changes the data, and is validated
    x3, _ = make_hard_dataset(5, seed=1, difficulty=1.0)
    assert not np.allclose(x3, x[:5])
    with pytest.raises(ValueError, match="difficulty"):
        make_hard_dataset(2, difficulty=1.5)


def test_synthetic_module_hard_label_set():
    dm = SyntheticECGDataModule(num_records=60, label_set="hard", difficulty=0.3, batch_size=8)
    dm.setup("fit")
    assert dm.class_names == ["AF", "IAVB", "LBBB", "RBBB", "STE", "LVH"] and dm.task == "multilabel"
    batch = next(iter(dm.train_dataloader()))
    assert batch["x"].shape == (8, 12, 1000) and batch["y"].shape == (8, 6)
    with pytest.raises(ValueError, match="multi-label"):
        SyntheticECGDataModule(label_set="hard", task="multiclass")


def _patients_by_split(dm, patient_of):
    return {name: {patient_of[i] for i in split.ids} for name, split in dm.splits.items()}


def test_split_indices_keeps_groups_together_and_is_reproducible():
    from ts_resnet.data.modules.base import split_indices

    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(60), 3)  # 60 patients, 3 records each
    y = rng.integers(0, 3, size=len(groups))
    tr, va, te = split_indices(y, (0.2, 0.2), seed=1, groups=groups)
    assert sorted(np.concatenate([tr, va, te]).tolist()) == list(range(len(y)))
    sets = [set(groups[i].tolist()) for i in (tr, va, te)]
    assert not (sets[0] & sets[1] or sets[0] & sets[2] or sets[1] & sets[2])
    assert 0.1 < len(te) / len(y) < 0.3 and 0.1 < len(va) / len(y) < 0.3
    again = split_indices(y, (0.2, 0.2), seed=1, groups=groups)
    assert all(np.array_equal(a, b) for a, b in zip((tr, va, te), again))
    # Without groups the same data leaks patients across splits: the group key is what prevents it.
    tr2, _, te2 = split_indices(y, (0.2, 0.2), seed=1)
    assert set(groups[tr2].tolist()) & set(groups[te2].tolist())
    with pytest.raises(ValueError, match="groups has 3 entries"):
        split_indices(y, (0.2, 0.2), seed=1, groups=groups[:3])


def test_folder_module_patient_wise_split(tmp_path):
    import csv

    root = tmp_path / "recs"
    load_script(REPO / "datasets" / "synthetic" / "prepare.py").main(
        [str(root), "--n", "24", "--fs", "100", "--seconds", "3", "--records-per-patient", "3"])
    with open(root / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 24 and rows[0].keys() == {"file", "label", "patient_id"}
    patient_of = {r["file"]: r["patient_id"] for r in rows}
    kwargs = dict(root=str(root), multilabel=True, cache_dir=str(tmp_path / "c"), val_fraction=0.25,
                  test_fraction=0.25)
    grouped = FolderDataModule(group_column="patient_id", **kwargs)
    grouped.setup("fit")
    assert "patient_id" not in grouped.class_names
    seen = _patients_by_split(grouped, patient_of)
    assert all(seen[name] for name in ("train", "val", "test"))
    assert not (seen["train"] & seen["val"] or seen["train"] & seen["test"] or seen["val"] & seen["test"])
    plain = FolderDataModule(**kwargs)
    plain.setup("fit")
    seen = _patients_by_split(plain, patient_of)
    assert seen["train"] & (seen["val"] | seen["test"])  # record-wise split mixes patients
    with pytest.raises(ValueError, match="no 'subject' column"):
        FolderDataModule(group_column="subject", **kwargs).setup("fit")
    # An official split column that puts one patient in train and test is reported.
    with open(root / "leaky.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "label", "patient_id", "split"])
        for i, r in enumerate(rows):
            w.writerow([r["file"], r["label"], r["patient_id"], ("train", "val", "test")[i % 3]])
    leaky = FolderDataModule(group_column="patient_id", labels_csv=str(root / "leaky.csv"), **kwargs)
    with pytest.warns(UserWarning, match="appear in more than one split"):
        leaky.setup("fit")
