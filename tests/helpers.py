"""Small record trees written by the tests themselves (wfdb.wrsamp)."""

from __future__ import annotations

import csv
import importlib.util
import shutil
from pathlib import Path

import numpy as np
import wfdb

from ts_resnet.data.synthetic import synth_ecg
from ts_resnet.data.transforms import STANDARD_12_LEADS

PTBXL_LEADS = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]  # as PTB-XL spells them


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
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(meta / "scp_statements.csv", root / "scp_statements.csv")
    shutil.copy(meta / "ptbxl_database_head.csv", root / "ptbxl_database.csv")
    with open(root / "ptbxl_database.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows):
        for column, fs in (("filename_lr", 100), ("filename_hr", 500)):
            rel = Path(row[column])
            sig = np.asarray(synth_ecg(np.random.default_rng(i), "NSR", False, fs, 10.0)).T.astype(np.float64)
            (root / rel.parent).mkdir(parents=True, exist_ok=True)
            wfdb.wrsamp(rel.name, fs=fs, units=["mV"] * 12, sig_name=PTBXL_LEADS, p_signal=sig, fmt=["16"] * 12,
                        adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(root / rel.parent))
    return root


def load_script(path: Path):
    """Import a script that is not part of the package (datasets/*/prepare.py, examples/*.py)."""
    spec = importlib.util.spec_from_file_location(path.stem + "_" + path.parent.name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
