"""Small record trees written by the tests themselves (wfdb.wrsamp)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import wfdb

from ts_resnet.data.synthetic import synth_ecg, write_ptbxl_layout
from ts_resnet.data.transforms import STANDARD_12_LEADS


def write_12lead(folder: Path, name: str, fs: float, seconds: float = 10.0, seed: int = 0,
                 leads: list[str] | None = None, rhythm: str = "NSR", comments: list[str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    x = synth_ecg(np.random.default_rng(seed), rhythm, False, fs, seconds)
    names = leads or list(STANDARD_12_LEADS)
    keep = [STANDARD_12_LEADS.index(n) if n in STANDARD_12_LEADS else i for i, n in enumerate(names)]
    sig = x[keep].T.astype(np.float64)
    wfdb.wrsamp(name, fs=fs, units=["mV"] * len(names), sig_name=names, p_signal=sig, fmt=["16"] * len(names),
                adc_gain=[1000.0] * len(names), baseline=[0] * len(names), comments=comments or [],
                write_dir=str(folder))
    return folder / f"{name}.hea"


def make_ptbxl_tree(root: Path, meta: Path) -> Path:
    """A PTB-XL-shaped folder: real scp_statements.csv, the real database rows, synthetic signals."""
    return write_ptbxl_layout(root, meta / "ptbxl_database_head.csv", meta / "scp_statements.csv")


def load_script(path: Path):
    """Import a script that is not part of the package (datasets/*/prepare.py, examples/*.py)."""
    spec = importlib.util.spec_from_file_location(path.stem + "_" + path.parent.name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses in the script look their module up
    spec.loader.exec_module(module)
    return module


def write_variable_ucr(root, name: str, n: int, seed: int = 0) -> list[int]:
    """A UCR .tsv set whose series have different lengths (NaN-padded rows, as the archive ships them)."""
    rng = np.random.default_rng(seed)
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    lengths = []
    for split in ("TRAIN", "TEST"):
        rows = np.full((n, 1 + 60), np.nan)
        for i in range(n):
            length = int(rng.integers(20, 61))
            lengths.append(length)
            label = i % 2
            rows[i, 0] = label + 1
            rows[i, 1:1 + length] = np.sin(np.arange(length) * (0.3 + 0.4 * label)) + 0.1 * rng.normal(size=length)
        np.savetxt(folder / f"{name}_{split}.tsv", rows, delimiter="\t")
    return lengths

