from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REPO, fixture, ts_resnet_command
from helpers import write_12lead, write_variable_ucr

from ts_resnet.cli.main import main
from ts_resnet.cli.train import run_lightning_cli
from ts_resnet.data.transforms import STANDARD_12_LEADS
from ts_resnet.inference import load_classifier

QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false"]


def train(root: Path, *extra: str) -> Path:
    cli = run_lightning_cli(["fit", "-c", str(REPO / "configs" / "demo.yaml"), f"--trainer.default_root_dir={root}",
                             "--trainer.max_epochs=2", "--data.init_args.num_records=200", *QUIET, *extra])
    return Path(cli.trainer.checkpoint_callback.best_model_path)


@pytest.fixture(scope="module")
def ckpt_12lead(tmp_path_factory) -> Path:
    # trained at 100 Hz; the records classified below are 250 and 500 Hz
    return train(tmp_path_factory.mktemp("m12"))


@pytest.fixture(scope="module")
def ckpt_2lead(tmp_path_factory) -> Path:
    return train(tmp_path_factory.mktemp("m2"), "--data.init_args.preprocess.leads=[I, II]",
                 "--data.init_args.preprocess.fs=200", "--data.init_args.fs=200", "--data.init_args.window=1000",
                 "--data.init_args.eval_stride=1000")


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([*ts_resnet_command(), *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def make_folder(folder: Path) -> dict[str, str]:
    """WFDB, CSV and NPY records, one corrupt file, one 12-lead record missing a lead."""
    write_12lead(folder, "wfdb_af", 500, rhythm="AF", seed=1)
    write_12lead(folder / "nested", "wfdb_nsr", 250, rhythm="NSR", seed=2)
    sig = np.asarray(__import__("ts_resnet.data.synthetic", fromlist=["x"]).synth_ecg(
        np.random.default_rng(3), "STACH", False, 250.0, 10.0))
    with open(folder / "csv_rec.csv", "w") as f:
        f.write(",".join(STANDARD_12_LEADS) + "\n")
        for row in sig.T:
            f.write(",".join(f"{v:.5f}" for v in row) + "\n")
    (folder / "csv_rec.json").write_text(json.dumps({"fs": 250}))
    np.save(folder / "npy_rec.npy", sig.T)  # (T, C): the sidecar says so
    (folder / "npy_rec.json").write_text(json.dumps({"fs": 250, "layout": "TC", "channels": STANDARD_12_LEADS}))
    (folder / "corrupt.hea").write_text("corrupt 12 500 5000\nthis line is not a signal spec\n")
    leads = [lead for lead in STANDARD_12_LEADS if lead != "V3"]
    write_12lead(folder, "missing_v3", 500, seed=4, leads=leads)
    return {"good": "wfdb_af wfdb_nsr csv_rec npy_rec", "bad": "corrupt missing_v3"}


def test_classify_folder_end_to_end(ckpt_12lead, tmp_path):
    folder = tmp_path / "records"
    make_folder(folder)
    proc = run_cli(["classify", "--checkpoint", str(ckpt_12lead), str(folder)], tmp_path)
    assert proc.returncode == 1, proc.stderr  # some records failed
    rows = list(csv.DictReader(io.StringIO(proc.stdout)))
    assert sorted(r["id"] for r in rows) == ["csv_rec", "npy_rec", "wfdb_af", "wfdb_nsr"]
    classes = ["NSR", "AF", "STACH", "SBRAD", "BBB"]
    thresholds = load_classifier(ckpt_12lead).card.thresholds  # fitted on validation during fit
    assert thresholds is not None and len(thresholds) == 5
    for r in rows:
        probs = [float(r[c]) for c in classes]
        assert all(0 <= p <= 1 for p in probs)
        assert int(r["n_windows"]) == 3  # 10 s at 100 Hz, 5 s windows every 2.5 s
        decided = {c for c, p, t in zip(classes, probs, thresholds) if p >= t - 1e-6}
        assert set(filter(None, r["predicted"].split(";"))) == decided
    # the same signal as CSV and as NPY (different layout on disk) gives the same probabilities
    by_id = {r["id"]: r for r in rows}
    for c in classes:
        assert float(by_id["csv_rec"][c]) == pytest.approx(float(by_id["npy_rec"][c]), abs=1e-3)
    assert "corrupt.hea" in proc.stderr and "FAILED" in proc.stderr
    assert "missing_v3.hea" in proc.stderr and "missing leads ['V3']" in proc.stderr
    # the time per file counts the failed files too (6 looked at, not the 4 classified)
    m = re.search(r"classified 4 record\(s\), 2 failed, ([0-9.]+) s \(([0-9.]+) ms/file\)", proc.stderr)
    assert m is not None, proc.stderr
    assert float(m.group(2)) == pytest.approx(1000 * float(m.group(1)) / 6, abs=0.2 + 1000 * 0.005 / 6)

    # explicit zero-fill classifies the record with the missing lead
    out = tmp_path / "preds.json"
    proc = run_cli(["classify", "-m", str(ckpt_12lead), str(folder / "missing_v3.hea"), "--fill-missing-leads",
                    "zero", "-o", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert [r["id"] for r in doc["records"]] == ["missing_v3"] and doc["model"]["classes"] == classes

    # never overwrite what the user has
    out.write_text("precious")
    proc = run_cli(["classify", "-m", str(ckpt_12lead), str(folder / "wfdb_af.hea"), "-o", str(out)], tmp_path)
    assert proc.returncode == 2 and "--force" in proc.stderr and out.read_text() == "precious"
    proc = run_cli(["classify", "-m", str(ckpt_12lead), str(folder / "wfdb_af.hea"), "-o", str(out), "--force"],
                   tmp_path)
    assert proc.returncode == 0 and json.loads(out.read_text())["records"][0]["id"] == "wfdb_af"


def test_classify_jsonl_thresholds_and_glob(ckpt_12lead, tmp_path):
    folder = tmp_path / "r"
    write_12lead(folder, "a", 500, seed=1)
    write_12lead(folder, "b", 500, seed=2, rhythm="SBRAD")
    thr = tmp_path / "thr.json"
    thr.write_text(json.dumps({c: 0.0 for c in ["NSR", "AF", "STACH", "SBRAD", "BBB"]}))
    out = tmp_path / "p.jsonl"
    code = main(["classify", "-m", str(ckpt_12lead), str(folder / "*.hea"), "-o", str(out), "--thresholds",
                 str(thr), "-q"])
    assert code == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in lines] == ["a", "b"]
    assert all(len(r["predicted"]) == 5 for r in lines)  # threshold 0: every class
    thr.write_text(json.dumps({"nope": 0.1}))
    assert main(["classify", "-m", str(ckpt_12lead), str(folder), "--thresholds", str(thr), "-q"]) == 2
    thr.write_text(json.dumps({"AF": 1.5}))
    assert main(["classify", "-m", str(ckpt_12lead), str(folder), "--thresholds", str(thr), "-q"]) == 2
    for bad in ("2", "-0.1"):  # a probability threshold outside [0, 1] is a usage error
        assert main(["classify", "-m", str(ckpt_12lead), str(folder), "--threshold", bad, "-q"]) == 2


def test_classify_workers_give_the_same_bytes_in_input_order(ckpt_12lead, tmp_path):
    """Reading in DataLoader workers changes neither the rows, nor their order, nor the error report."""
    folder = tmp_path / "records"
    make_folder(folder)
    for i in range(14):
        write_12lead(folder / "more", f"r{i:02d}", 250 if i % 2 else 500, seconds=10.0 + (i % 3) * 5, seed=20 + i)
    outputs = {}
    for workers in ("0", "2"):
        out = tmp_path / f"w{workers}.csv"
        proc = run_cli(["classify", "-m", str(ckpt_12lead), str(folder), "-o", str(out), "--workers", workers,
                        "--batch-size", "4"], tmp_path)
        assert proc.returncode == 1, proc.stderr  # the corrupt records are reported, the rest classified
        assert proc.stderr.count("FAILED") == 2
        outputs[workers] = out.read_text()
    assert outputs["0"] == outputs["2"]
    from ts_resnet.data import find_records

    ids = [r["id"] for r in csv.DictReader(io.StringIO(outputs["0"]))]
    listed = [p.stem for p in find_records([folder]) if p.stem not in ("corrupt", "missing_v3")]
    assert ids == listed  # input order, although records of different shapes are batched apart
    assert len(ids) == 18 and {int(r["n_windows"]) for r in csv.DictReader(io.StringIO(outputs["0"]))} == {3, 5, 7}


def test_classify_real_cinc_records_with_lead_mapping(ckpt_12lead, tmp_path, capsys):
    root = fixture("cinc2021-sample")
    out = tmp_path / "cinc.csv"
    code = main(["classify", "-m", str(ckpt_12lead), str(root), "-o", str(out), "--batch-size", "16"])
    assert code == 0
    rows = list(csv.DictReader(open(out)))
    n = len(list(csv.DictReader(open(root / "labels.csv"))))
    assert len(rows) == n == 5
    for r in rows:
        assert all(0.0 <= float(r[c]) <= 1.0 for c in ["NSR", "AF", "STACH", "SBRAD", "BBB"])
        assert r["n_windows"] == "3"
    assert f"classified {n} record(s), 0 failed" in capsys.readouterr().err
    # lead mapping by name: reversing the lead order in a file does not change the result
    from ts_resnet.data import read_record

    rec = read_record(root / "E07500.hea")
    rev = tmp_path / "rev"
    rev.mkdir()
    np.savez(rev / "E07500_rev.npz", signal=rec.signal[::-1], fs=np.array(rec.fs), layout=np.array("CT"),
             channels=np.array(rec.channels[::-1]))
    main(["classify", "-m", str(ckpt_12lead), str(rev), "-o", str(tmp_path / "rev.csv"), "-q"])
    a = next(r for r in rows if r["id"] == "E07500")
    b = next(csv.DictReader(open(tmp_path / "rev.csv")))
    for c in ["NSR", "AF", "STACH", "SBRAD", "BBB"]:
        assert float(a[c]) == pytest.approx(float(b[c]), abs=1e-5)


def test_long_record_windows_are_aggregated(ckpt_2lead, tmp_path):
    from ts_resnet.data import read_record
    from ts_resnet.data.transforms import num_windows

    hea = fixture("cpsc2021-sample", "data_101_6.hea")
    out = tmp_path / "long.csv"
    for agg in ("mean", "max"):
        target = tmp_path / f"long_{agg}.csv"
        assert main(["classify", "-m", str(ckpt_2lead), str(hea), "-o", str(target), "--window-agg", agg, "-q"]) == 0
    mean_row = next(csv.DictReader(open(tmp_path / "long_mean.csv")))
    max_row = next(csv.DictReader(open(tmp_path / "long_max.csv")))
    n = read_record(hea).num_samples  # 200 Hz record, model at 200 Hz, 5 s windows without overlap
    assert int(mean_row["n_windows"]) == num_windows(n, 1000, 1000) > 20
    for c in ["NSR", "AF", "STACH", "SBRAD", "BBB"]:
        assert float(max_row[c]) >= float(mean_row[c]) - 1e-6
    _ = out


def test_export_parity_and_safetensors_classify(ckpt_12lead, tmp_path, capsys):
    import onnxruntime as ort

    from ts_resnet.inference import load_classifier

    clf = load_classifier(ckpt_12lead)
    onnx_path, ts_path, st_path = tmp_path / "m.onnx", tmp_path / "m.pt", tmp_path / "m.safetensors"
    for fmt, path in (("onnx", onnx_path), ("torchscript", ts_path), ("safetensors", st_path)):
        assert main(["export", "-m", str(ckpt_12lead), "-f", fmt, "-o", str(path)]) == 0
        assert path.exists()
    assert main(["export", "-m", str(ckpt_12lead), "-f", "torchscript", "-o", str(ts_path)]) == 2  # exists
    # without --format the suffix decides; the exporter's progress lines and torchvision notice are gone
    capsys.readouterr()
    assert main(["export", "-m", str(ckpt_12lead), "-o", str(tmp_path / "auto.onnx")]) == 0
    out, err = capsys.readouterr()
    assert "[torch.onnx]" not in out + err and "torchvision" not in out + err and "wrote" in err
    assert ort.InferenceSession(str(tmp_path / "auto.onnx")).get_inputs()[0].name == "signal"
    assert main(["export", "-m", str(ckpt_12lead), "-o", str(tmp_path / "auto.pt")]) == 0
    torch.jit.load(str(tmp_path / "auto.pt"))  # TorchScript, as .pt says
    assert main(["export", "-m", str(ckpt_12lead), "-o", str(tmp_path / "auto.bin")]) == 2
    assert "give --format" in capsys.readouterr().err and not (tmp_path / "auto.bin").exists()
    session = ort.InferenceSession(str(onnx_path))
    # the ONNX file carries the model card: classes and preprocessing without a sidecar
    stored = json.loads(session.get_modelmeta().custom_metadata_map["ts_resnet_card"])
    assert stored["class_names"] == clf.class_names and stored["preprocess"] == clf.card.preprocess.to_dict()
    assert clf.card.thresholds is not None and stored["thresholds"] == clf.card.thresholds  # decisions survive
    extra = {"ts_resnet_card.json": ""}
    scripted = torch.jit.load(str(ts_path), _extra_files=extra)
    assert json.loads(extra["ts_resnet_card.json"])["class_names"] == clf.class_names  # card inside the .pt
    for length in (500, 1337):
        x = torch.randn(3, 12, length)
        with torch.no_grad():
            ref = clf.net(x).numpy()
            np.testing.assert_allclose(scripted(x).numpy(), ref, atol=1e-4, rtol=0)
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        np.testing.assert_allclose(got, ref, atol=1e-4, rtol=0)
    # a code-free model file set gives the same probabilities as the checkpoint
    folder = tmp_path / "recs"
    write_12lead(folder, "x", 500, seed=9, rhythm="AF")
    main(["classify", "-m", str(ckpt_12lead), str(folder), "-o", str(tmp_path / "a.csv"), "-q"])
    main(["classify", "-m", str(st_path), str(folder), "-o", str(tmp_path / "b.csv"), "-q"])
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text().replace(
        str(st_path), str(ckpt_12lead))
    # ONNX Runtime as the backend: the exported file alone, the same probabilities within 1e-4
    assert main(["classify", "-m", str(onnx_path), str(folder), "-o", str(tmp_path / "c.json")]) == 0
    ref_rows = {r["id"]: r for r in csv.DictReader(open(tmp_path / "a.csv"))}
    onnx_rows = json.loads((tmp_path / "c.json").read_text())["records"]
    assert [r["id"] for r in onnx_rows] == list(ref_rows)
    for row in onnx_rows:
        for name in clf.class_names:
            assert abs(row[name] - float(ref_rows[row["id"]][name])) < 1e-4
        assert ";".join(row["predicted"]) == ref_rows[row["id"]]["predicted"]
    assert main(["explain", "-m", str(onnx_path), str(folder / "x.hea"), "-o", str(tmp_path / "e.png")]) == 2


def _another_member(ckpt: Path, path: Path, *, thresholds: list[float] | None = None, **card: object) -> Path:
    """A copy of ``ckpt`` with different weights (as another seed would have) and, optionally, other
    thresholds or card fields; saved as plain tensors and data, as Lightning saves checkpoints."""
    raw = torch.load(ckpt, weights_only=True)
    gen = torch.Generator().manual_seed(0)
    raw["state_dict"] = {k: v + 0.05 * torch.randn(v.shape, generator=gen) if v.is_floating_point() else v
                         for k, v in raw["state_dict"].items()}
    if thresholds is not None:
        raw["ts_resnet"]["thresholds"] = thresholds
    raw["ts_resnet"].update(card)
    torch.save(raw, path)
    return path


def test_classify_averages_several_models(ckpt_12lead, tmp_path, capsys):
    """-m given twice: one set of windows, the members' probabilities averaged; a model averaged with
    itself is the model; members that read records differently are refused by name."""
    from ts_resnet.inference import load_ensemble

    single = load_classifier(ckpt_12lead)
    other = _another_member(ckpt_12lead, tmp_path / "other.ckpt", thresholds=[0.1, 0.2, 0.3, 0.4, 0.5])
    folder = tmp_path / "recs"
    write_12lead(folder, "x", 500, seed=9, rhythm="AF")
    write_12lead(folder, "y", 250, seed=10, rhythm="SBRAD")
    outs = {}
    for name, models in (("a", [ckpt_12lead]), ("b", [other]), ("ab", [ckpt_12lead, other]),
                         ("aa", [ckpt_12lead, ckpt_12lead])):
        outs[name] = tmp_path / f"{name}.json"
        args = [a for m in models for a in ("-m", str(m))]
        assert main(["classify", *args, str(folder), "-o", str(outs[name]), "-q"]) == 0
    docs = {name: json.loads(path.read_text()) for name, path in outs.items()}
    assert docs["ab"]["model"]["members"] == 2 and "members" not in docs["a"]["model"]
    classes = single.class_names
    probs = {name: np.array([[r[c] for c in classes] for r in doc["records"]]) for name, doc in docs.items()}
    assert np.abs(probs["a"] - probs["b"]).max() > 0.01  # the two members really differ
    np.testing.assert_allclose(probs["ab"], (probs["a"] + probs["b"]) / 2, atol=1e-5)
    np.testing.assert_allclose(probs["aa"], probs["a"], atol=1e-5)
    # the members' thresholds differ: the ensemble decides at their mean, per class
    ensemble = load_ensemble([ckpt_12lead, other])
    np.testing.assert_allclose(ensemble.card.thresholds,
                               (np.array(single.card.thresholds) + [0.1, 0.2, 0.3, 0.4, 0.5]) / 2)
    for row, p in zip(docs["ab"]["records"], probs["ab"]):
        assert row["predicted"] == [c for c, v, t in zip(classes, p, ensemble.card.thresholds) if v >= t - 1e-6]
    # a member that reads records another way is refused, naming the file and the field
    capsys.readouterr()
    at_200 = _another_member(ckpt_12lead, tmp_path / "fs.ckpt", fs=200.0)
    assert main(["classify", "-m", str(ckpt_12lead), "-m", str(at_200), str(folder), "-q"]) == 2
    msg = capsys.readouterr().err
    assert "fs.ckpt" in msg and "its fs (200.0) differs" in msg
    renamed = _another_member(ckpt_12lead, tmp_path / "names.ckpt", class_names=["A", "B", "C", "D", "E"])
    assert main(["classify", "-m", str(ckpt_12lead), "-m", str(renamed), str(folder), "-q"]) == 2
    assert "class_names" in capsys.readouterr().err


def test_explain_writes_a_readable_png(ckpt_12lead, tmp_path):
    import matplotlib.image as mpimg

    rec = write_12lead(tmp_path / "r", "e", 500, seed=3, rhythm="AF")
    png = tmp_path / "fig.png"
    assert main(["explain", "-m", str(ckpt_12lead), str(rec), "--class", "AF", "-o", str(png),
                 "--width", "1200", "--height", "900"]) == 0
    img = mpimg.imread(png)
    assert img.shape[:2] == (900, 1200)
    gray = img[..., :3].mean(-1)
    # 12 stacked lead panels between the title and the x axis: each holds dark trace pixels
    top, bottom = int(0.07 * 900), int(0.95 * 900)
    bands = np.array_split(np.arange(top, bottom), 12)
    for i, rows in enumerate(bands):
        panel = gray[rows[2:-2], 40:-20]
        assert (panel < 0.3).sum() > 200, f"lead panel {i} has no trace"
        assert panel.std() > 0.02
    # relevance overlay: reddish pixels (R > G) exist
    assert ((img[..., 0] - img[..., 1]) > 0.15).sum() > 1000
    assert main(["explain", "-m", str(ckpt_12lead), str(rec), "--class", "nope", "-o", str(tmp_path / "x.png")]) == 2
    assert main(["explain", "-m", str(ckpt_12lead), str(rec), "-o", str(png)]) == 2  # exists


def test_evaluation_plots_after_test(ckpt_12lead, tmp_path):
    figs = tmp_path / "figs"
    run_lightning_cli(["test", "-c", str(REPO / "configs" / "demo.yaml"), "--data.init_args.num_records=200",
                       f"--ckpt_path={ckpt_12lead}", f"--trainer.default_root_dir={tmp_path}", *QUIET,
                       "--trainer.callbacks+=ts_resnet.plots.EvaluationPlots",
                       f"--trainer.callbacks.out_dir={figs}"])
    import matplotlib.image as mpimg

    img = mpimg.imread(figs / "roc.png")
    assert img.shape[0] > 300 and img[..., :3].std() > 0.05


def test_evaluation_report_on_several_devices_is_refused(ckpt_12lead, tmp_path, capsys):
    # under DDP each rank sees part of the test set: rank 0 wrote a report on its share without a word
    from types import SimpleNamespace

    from ts_resnet.plots import EvaluationPlots, EvaluationReport

    for callback in (EvaluationReport(out_dir=str(tmp_path / "r")), EvaluationPlots(out_dir=str(tmp_path / "f"))):
        with pytest.raises(RuntimeError, match="computed on one process"):
            callback.on_test_start(SimpleNamespace(world_size=2), None)
        callback.on_test_start(SimpleNamespace(world_size=1), None)  # one process: fine
    with pytest.raises(SystemExit) as exc:
        run_lightning_cli(["test", "-c", str(REPO / "configs" / "demo.yaml"), "--data.init_args.num_records=200",
                           f"--ckpt_path={ckpt_12lead}", f"--trainer.default_root_dir={tmp_path}", *QUIET,
                           "--trainer.strategy=ddp", "--trainer.accelerator=cpu", "--trainer.devices=2",
                           "--trainer.callbacks+=ts_resnet.plots.EvaluationReport",
                           f"--trainer.callbacks.out_dir={tmp_path / 'report'}"])
    assert exc.value.code == 2 and "computed on one process" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()


def test_evaluation_report_after_test(ckpt_12lead, tmp_path):
    from ts_resnet.inference import load_classifier

    out = tmp_path / "report"
    run_lightning_cli(["test", "-c", str(REPO / "configs" / "demo.yaml"), "--data.init_args.num_records=200",
                       f"--ckpt_path={ckpt_12lead}", f"--trainer.default_root_dir={tmp_path}", *QUIET,
                       "--trainer.callbacks+=ts_resnet.plots.EvaluationReport",
                       f"--trainer.callbacks.out_dir={out}", "--trainer.callbacks.n_boot=200"])
    rows = list(csv.DictReader(open(out / "metrics.csv")))
    assert [r["class"] for r in rows] == ["NSR", "AF", "STACH", "SBRAD", "BBB", "macro", "micro"]
    for r in rows[:5]:
        if r["auroc_lo"] != "nan":
            assert float(r["auroc_lo"]) <= float(r["auroc"]) <= float(r["auroc_hi"])
    summary = json.loads((out / "summary.json").read_text())
    assert summary["thresholds"] == pytest.approx(load_classifier(ckpt_12lead).card.thresholds)  # the card's
    assert {p.name for p in out.iterdir()} >= {"metrics.md", "roc.png", "pr.png", "reliability.png"}


def test_report_command(ckpt_12lead, tmp_path, capsys):
    out = tmp_path / "rep"
    args = ["-c", str(REPO / "configs" / "demo.yaml"), "--data.init_args.num_records=200",
            f"--trainer.default_root_dir={tmp_path}", *QUIET]
    assert main(["report", *args, f"--ckpt_path={ckpt_12lead}", "--out", str(out), "--n-boot", "50"]) == 0
    assert (out / "metrics.md").exists() and "50 resamples" in (out / "metrics.md").read_text()
    assert main(["report", *args, f"--ckpt_path={ckpt_12lead}"]) == 2
    assert "--out DIR is required" in capsys.readouterr().err
    before = (out / "metrics.md").read_bytes()
    capsys.readouterr()
    # an existing report is kept: one error line naming the file and the flag, not a traceback
    assert main(["report", *args, f"--ckpt_path={ckpt_12lead}", "--out", str(out), "--n-boot", "50"]) == 2
    err = capsys.readouterr().err
    assert "ts-resnet report: error:" in err and "metrics.csv exists" in err and "--overwrite" in err
    assert "Traceback" not in err and (out / "metrics.md").read_bytes() == before


def test_bad_model_file_and_no_records(tmp_path, capsys):
    bogus = tmp_path / "m.ckpt"
    bogus.write_bytes(b"\x00" * 10)
    assert main(["classify", "-m", str(bogus), str(tmp_path)]) == 2
    assert "m.ckpt" in capsys.readouterr().err
    shutil.rmtree(tmp_path / "none", ignore_errors=True)


def test_classify_with_a_ucr_model(tmp_path):
    from ts_resnet.data import read_ucr_tsv

    root = fixture("ucr")
    cli = run_lightning_cli(["fit", "-c", str(REPO / "configs" / "ucr.yaml"), "--data.root", str(root),
                             "--data.dataset", "GunPoint", "--trainer.max_steps=14",  # 42 with StepBudget
                             f"--trainer.default_root_dir={tmp_path}", *QUIET])
    ckpt = cli.trainer.checkpoint_callback.last_model_path
    # The recipe averages the weights (EMA): the file must hold the averaged weights, i.e. the ones
    # the fitted model ends with and `test`/the benchmark evaluate, not the last optimiser step's.
    raw = torch.load(ckpt, weights_only=True)
    assert "current_model_state" in raw
    loaded, fitted = load_classifier(ckpt).net.state_dict(), cli.model.net.state_dict()
    for name, value in fitted.items():
        torch.testing.assert_close(loaded[name], value)
    assert any(not torch.equal(raw["current_model_state"][f"net.{n}"], v) for n, v in fitted.items()
               if v.is_floating_point())
    series, labels = read_ucr_tsv(root / "GunPoint" / "GunPoint_TEST.tsv")
    folder = tmp_path / "series"
    folder.mkdir()
    for i in range(3):
        (folder / f"s{i}.csv").write_text("value\n" + "\n".join(f"{v:.6f}" for v in series[i][0]) + "\n")
    out = tmp_path / "ucr.csv"
    assert main(["classify", "-m", ckpt, str(folder), "-o", str(out), "-q"]) == 0
    rows = list(csv.DictReader(open(out)))
    assert [r["id"] for r in rows] == ["s0", "s1", "s2"]
    assert all(r["predicted"] in ("1", "2") for r in rows)
    assert all(abs(float(r["1"]) + float(r["2"]) - 1) < 1e-5 for r in rows)


@pytest.mark.parametrize(("derivative", "position"), [(False, False), (True, False), (False, True)])
def test_classify_replays_level_channels_from_the_checkpoint(tmp_path, derivative, position):
    # Chinatown is not z-normalised, so keep_level=null gives the network a second, level-keeping
    # channel (and derivative=true a third, the slope); classify must rebuild them from the checkpoint
    # alone (with the training-set statistics) and give the probabilities the fitted model gives on the
    # data module's own test inputs.
    root = fixture("ucr")
    cli = run_lightning_cli(["fit", "-c", str(REPO / "configs" / "ucr.yaml"), "--data.root", str(root),
                             "--data.dataset", "Chinatown", "--data.keep_level=null", "--trainer.max_steps=10",
                             f"--data.derivative={str(derivative).lower()}", f"--data.position={str(position).lower()}",
                             f"--trainer.default_root_dir={tmp_path}", *QUIET])
    dm, model = cli.datamodule, cli.model
    channels = 2 + derivative + position  # position: one ramp channel
    assert dm.preprocess.normalize == "zscore_level" and model.hparams.in_channels == channels
    clf = load_classifier(cli.trainer.checkpoint_callback.last_model_path)
    assert clf.card.in_channels == channels and clf.card.preprocess.normalize == "zscore_level"
    assert clf.card.preprocess.derivative is derivative and clf.card.preprocess.position is position
    assert clf.card.preprocess.mean == dm.preprocess.mean and clf.card.preprocess.std == dm.preprocess.std
    folder = tmp_path / "series"
    folder.mkdir()
    raw = dm.splits["test"].signals
    for i in range(4):
        (folder / f"s{i}.csv").write_text("value\n" + "\n".join(repr(float(v)) for v in raw[i, 0]) + "\n")
    out = tmp_path / "level.csv"
    assert main(["classify", "-m", cli.trainer.checkpoint_callback.last_model_path, str(folder), "-o", str(out),
                 "-q"]) == 0
    rows = list(csv.DictReader(open(out)))
    model.eval()
    with torch.no_grad():
        x = torch.stack([dm.datasets["test"][i]["x"][0] for i in range(4)])
        expected = torch.softmax(model(x), -1).numpy()
    got = np.array([[float(r[c]) for c in dm.class_names] for r in rows])
    np.testing.assert_allclose(got, expected, atol=1e-4)
    # an exported model rebuilds them from the card it carries, with no checkpoint beside it
    onnx_path = tmp_path / "level.onnx"
    assert main(["export", "-m", cli.trainer.checkpoint_callback.last_model_path, "-f", "onnx", "-o",
                 str(onnx_path)]) == 0
    assert main(["classify", "-m", str(onnx_path), str(folder), "-o", str(tmp_path / "level_onnx.csv"), "-q"]) == 0
    rows = list(csv.DictReader(open(tmp_path / "level_onnx.csv")))
    np.testing.assert_allclose([[float(r[c]) for c in dm.class_names] for r in rows], expected, atol=1e-4)


def test_top_level_help_and_version(capsys):
    import ts_resnet

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"ts-resnet {ts_resnet.__version__}"
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for command in ("fit", "validate", "test", "predict", "classify", "export", "explain"):
        assert f"  {command}" in out


def _fit_variable_length_set(tmp_path: Path, *options: str) -> tuple[list[int], object]:
    """configs/ucr.yaml on a small set of series of different lengths: (their lengths, the fitted CLI)."""
    lengths = write_variable_ucr(tmp_path / "root", "Var", n=12)
    cli = run_lightning_cli(["fit", "-c", str(REPO / "configs" / "ucr.yaml"), "--data.root", str(tmp_path / "root"),
                             "--data.dataset", "Var", *options, f"--trainer.default_root_dir={tmp_path}", *QUIET])
    return lengths, cli


def _classify_test_series(tmp_path: Path, dm, ckpt: str, n: int) -> np.ndarray:
    """`ts-resnet classify` on the first ``n`` test series of ``dm`` written as CSV files, one at a
    time: probabilities ``(n, classes)`` in the data module's class order."""
    folder = tmp_path / "series"
    folder.mkdir()
    raw = dm.splits["test"].signals
    for i in range(n):
        (folder / f"s{i:02d}.csv").write_text("value\n" + "\n".join(repr(float(v)) for v in raw[i][0]) + "\n")
    out = tmp_path / "var.csv"
    assert main(["classify", "-m", ckpt, str(folder), "-o", str(out), "-q"]) == 0
    return np.array([[float(r[c]) for c in dm.class_names] for r in csv.DictReader(open(out))])


def test_classify_replays_padding_to_the_longest_training_series(tmp_path):
    # variable_length=pad: the checkpoint carries pad_to, so a short series given to classify is padded as
    # in training and scores what the fitted model gives on the data module's own (padded) test inputs
    lengths, cli = _fit_variable_length_set(tmp_path, "--data.variable_length=pad", "--trainer.max_steps=6")
    dm, model = cli.datamodule, cli.model
    ckpt = cli.trainer.checkpoint_callback.last_model_path
    assert load_classifier(ckpt).card.preprocess.pad_to == dm.preprocess.pad_to == max(lengths[:12])
    got = _classify_test_series(tmp_path, dm, ckpt, 4)
    model.eval()
    with torch.no_grad():
        expected = torch.softmax(model(torch.stack([dm.datasets["test"][i]["x"][0] for i in range(4)])), -1).numpy()
        # what the default (mask) pooling would give on the unpadded series differs: the padding is an input
        unpadded = torch.softmax(model(dm.datasets["test"][0]["x"][:, :, :lengths[12]]), -1).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)
    assert not np.allclose(unpadded[0], expected[0], atol=1e-4)


def test_classify_replays_resampling_to_the_longest_training_series(tmp_path):
    # variable_length=resample: the checkpoint carries resize_to, so classify stretches a series of any
    # length as training did, and scores what the model gives on the data module's own test inputs
    lengths, cli = _fit_variable_length_set(tmp_path, "--data.variable_length=resample", "--trainer.max_steps=6")
    dm, model = cli.datamodule, cli.model
    ckpt = cli.trainer.checkpoint_callback.last_model_path
    assert load_classifier(ckpt).card.preprocess.resize_to == dm.preprocess.resize_to == max(lengths[:12])
    assert len(set(lengths[12:16])) > 1
    got = _classify_test_series(tmp_path, dm, ckpt, 4)
    model.eval()
    with torch.no_grad():
        inputs = torch.stack([dm.datasets["test"][i]["x"][0] for i in range(4)])
        assert inputs.shape[-1] == max(lengths[:12])
        expected = torch.softmax(model(inputs), -1).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_a_variable_length_series_scores_the_same_whatever_it_is_batched_with(tmp_path):
    # the default (mask): evaluation batches are zero-padded, and the padding stops being zero after the
    # first BatchNorm, so unless the network masks it a series' probabilities depend on its batch (and
    # differ from classify's)
    lengths, cli = _fit_variable_length_set(tmp_path, "--trainer.max_steps=30", "--data.batch_size=12")
    dm, model = cli.datamodule, cli.model
    model.eval()
    batch = next(iter(dm.test_dataloader()))
    assert "lengths" in batch and len(set(lengths[12:])) > 1
    with torch.no_grad():
        batched = model(batch["x"], batch["lengths"])
        alone = torch.cat([model(dm.datasets["test"][int(i)]["x"]) for i in batch["index"]])
        # the network masks the padding itself (ts_resnet.padding): its padded batch is exact too ...
        padded = model.net(batch["x"], lengths=batch["lengths"])
        # ... where pooling alone, with the padding let into the convolutions, is not
        unmasked = model.net.forward_head(model.net.forward_features(batch["x"]), lengths=batch["lengths"])
    torch.testing.assert_close(batched, alone, atol=1e-4, rtol=0)  # logits
    torch.testing.assert_close(padded, alone, atol=1e-4, rtol=0)
    assert (unmasked - alone).abs().max() > 1e-2
    batched = torch.softmax(batched, -1)
    # and `classify`, one file at a time, agrees with `test`'s batches
    got = _classify_test_series(tmp_path, dm, cli.trainer.checkpoint_callback.last_model_path, 12)
    order = batch["index"].argsort()
    np.testing.assert_allclose(got, batched[order].numpy(), atol=1e-4)
