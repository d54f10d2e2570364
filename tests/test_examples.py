"""Every script in examples/ runs with tiny settings, so examples never go stale."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from conftest import REPO, shared

EXAMPLES = REPO / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_example_is_covered():
    assert {p.stem for p in EXAMPLES.glob("*.py")} == {"quickstart", "benchmark_speed", "benchmark_ucr"}


def test_quickstart():
    loss = load("quickstart").main(["--model", "msresnet_tiny", "--steps", "3", "--length", "200"])
    assert loss == loss and loss > 0  # finite, positive BCE


def test_benchmark_speed(tmp_path):
    out = tmp_path / "speed.json"
    rows = load("benchmark_speed").main(["--models", "msresnet_tiny", "--batch", "4", "--length", "256",
                                         "--min-time", "0.05", "--threads", "1", "--json", str(out)])
    assert json.loads(out.read_text()) == rows
    r = rows[0]
    assert r["fwd_MFLOP_per_sample"] > 0 and r["train_samples_s"] > 0 and 0 < r["train_frac_of_matmul"] < 2


def test_benchmark_ucr(tmp_path):
    root = shared("ucr")
    rows = load("benchmark_ucr").main(["--root", str(root), "--datasets", "ItalyPowerDemand", "--epochs", "1",
                                       "--json", str(tmp_path / "ucr.json")])
    assert rows[0]["dataset"] == "ItalyPowerDemand" and 0 <= rows[0]["test_acc"] <= 100
    assert Path(tmp_path / "ucr.json").exists()


def test_readme_commands_are_what_ci_runs():
    readme = (REPO / "README.md").read_text()
    ci = (REPO / ".ci" / "run").read_text()
    block = readme.split("```bash", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2
    for command in block:
        assert command in ci.splitlines(), command
    if "ts-resnet fit -c configs/demo.yaml" not in block[0]:
        pytest.fail("README's first command must install and run the main job")


def _load_path(path: Path):
    spec = importlib.util.spec_from_file_location(path.stem + "_" + path.parent.name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dataset_prepare_scripts(tmp_path, capsys):
    from helpers import make_ptbxl_tree

    _load_path(REPO / "datasets" / "synthetic" / "prepare.py").main([str(tmp_path / "syn"), "--n", "3"])
    assert len(list((tmp_path / "syn").glob("*.hea"))) == 3
    tree = make_ptbxl_tree(tmp_path / "ptbxl", shared("ptbxl-meta"))
    _load_path(REPO / "datasets" / "ptbxl" / "prepare.py").main([str(tree), "--cache-dir", str(tmp_path / "c")])
    assert "15 records cached" in capsys.readouterr().out
    assert list((tmp_path / "c").glob("*/signals.f32"))
