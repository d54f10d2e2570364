"""Synthetic 12-lead ECGs: the embedded default dataset, so the package trains with zero downloads.

Each beat is a sum of Gaussian waves (P, Q, R, S, T; McSharry et al. 2003's ECGSYN idea) whose
amplitudes are 3-D cardiac dipole vectors, projected onto the 12 standard lead axes (a per-record
random rotation of the heart axis makes leads differ between records).  RR intervals carry respiratory
sinus arrhythmia and noise; baseline wander, powerline and white noise are added.

Classes a cardiologist would recognise, and which need different time scales to tell apart:

* ``NSR``   normal sinus rhythm, 60-95 bpm, regular, P waves;
* ``AF``    atrial-fibrillation-like: irregularly irregular RR, no P waves, 4-9 Hz fibrillatory waves;
* ``STACH`` sinus tachycardia, 105-150 bpm;
* ``SBRAD`` sinus bradycardia, 38-55 bpm;
* ``BBB``   bundle-branch-block-like wide QRS (120-160 ms, RSR' in V1) - a morphology, so in the
  multi-label task it co-occurs with any rhythm.

Rate and rhythm need seconds of context; QRS width needs tens of milliseconds: exactly what parallel
short and long kernels are for.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .transforms import STANDARD_12_LEADS

CLASS_NAMES = ["NSR", "AF", "STACH", "SBRAD", "BBB"]
RHYTHMS = ["NSR", "AF", "STACH", "SBRAD"]
_HR_RANGE = {"NSR": (60, 95), "AF": (70, 140), "STACH": (105, 150), "SBRAD": (38, 55)}


def _lead_matrix() -> np.ndarray:
    """(12, 3) lead axes in (left, inferior, anterior) coordinates."""
    rows = []
    for angle in (0, 60, 120, -150, -30, 90):  # I, II, III, aVR, aVL, aVF: hexaxial frontal plane
        a = np.deg2rad(angle)
        rows.append([np.cos(a), np.sin(a), 0.0])
    for angle in (115, 95, 75, 55, 30, 0):  # V1-V6 around the horizontal plane
        a = np.deg2rad(angle)
        rows.append([np.cos(a), 0.15, np.sin(a)])
    return np.asarray(rows)


_LEADS = _lead_matrix()


def _rotation(rng: np.random.Generator, max_deg: float = 25.0) -> np.ndarray:
    ax, ay, az = np.deg2rad(rng.uniform(-max_deg, max_deg, size=3))
    rx = np.array([[1, 0, 0], [0, np.cos(ax), -np.sin(ax)], [0, np.sin(ax), np.cos(ax)]])
    ry = np.array([[np.cos(ay), 0, np.sin(ay)], [0, 1, 0], [-np.sin(ay), 0, np.cos(ay)]])
    rz = np.array([[np.cos(az), -np.sin(az), 0], [np.sin(az), np.cos(az), 0], [0, 0, 1]])
    return rz @ ry @ rx


def synth_ecg(rng: np.random.Generator, rhythm: str, bbb: bool, fs: float = 100.0, duration: float = 10.0) -> np.ndarray:
    """One 12-lead record ``(12, fs * duration)`` in mV."""
    n = int(round(fs * duration))
    t = np.arange(n) / fs
    rot = _rotation(rng)
    scale = rng.uniform(0.7, 1.3)
    hr = rng.uniform(*_HR_RANGE[rhythm])
    rr_mean = 60.0 / hr
    qrs = rng.uniform(1.6, 2.2) if bbb else 1.0  # QRS widening factor: ~80-100 ms -> ~130-170 ms
    # (offset s, width sigma s, dipole) for each wave, relative to the R peak.
    waves = [
        (-0.03 * qrs, 0.010 * qrs, np.array([-0.3, 0.1, 0.6]) * 0.15),
        (0.0, 0.012 * qrs, np.array([0.6, 0.7, -0.3]) * 1.3),
        (0.035 * qrs, 0.013 * qrs, np.array([-0.2, -0.4, 0.9]) * 0.4),
    ]
    if bbb:  # terminal R' (RSR' pattern in V1) and discordant ST-T
        waves.append((0.075 * qrs, 0.015 * qrs, np.array([0.1, -0.2, 0.9]) * 0.6))
    p_wave = (-0.16, 0.022, np.array([0.5, 0.8, 0.2]) * 0.18)
    t_dipole = np.array([0.5, 0.6, -0.4]) * 0.35 * (-0.6 if bbb else 1.0)

    beats = []
    tb = -rng.uniform(0, rr_mean)
    resp_f, resp_phase = rng.uniform(0.15, 0.35), rng.uniform(0, 2 * np.pi)
    while tb < duration + 0.5:
        if rhythm == "AF":
            rr = rr_mean * max(0.45, 1.0 + rng.normal(0, 0.2))
        else:
            rr = rr_mean * (1.0 + 0.04 * np.sin(2 * np.pi * resp_f * tb + resp_phase) + rng.normal(0, 0.01))
        beats.append((tb, rr))
        tb += rr

    v = np.zeros((3, n))

    def add_wave(center: float, sigma: float, dipole: np.ndarray) -> None:
        lo, hi = max(0, int((center - 5 * sigma) * fs)), min(n, int((center + 5 * sigma) * fs) + 2)
        if lo >= hi:
            return
        g = np.exp(-0.5 * ((t[lo:hi] - center) / sigma) ** 2)
        v[:, lo:hi] += np.outer(rot @ dipole, g)

    for tb, rr in beats:
        amp = scale * rng.uniform(0.95, 1.05)
        if rhythm != "AF":
            add_wave(tb + p_wave[0], p_wave[1], p_wave[2] * amp)
        for off, sig, dip in waves:
            add_wave(tb + off, sig, dip * amp)
        qt = 0.25 * np.sqrt(min(rr, 1.6)) + 0.04 * (qrs - 1)  # Bazett-like QT scaling
        add_wave(tb + qt, 0.045 * np.sqrt(min(rr, 1.6)), t_dipole * amp)
    if rhythm == "AF":
        for _ in range(3):
            f = rng.uniform(4, 9)
            a = rng.uniform(0.02, 0.06)
            v += np.outer(rot @ np.array([0.3, 0.5, 0.8]), a * np.sin(2 * np.pi * f * t + rng.uniform(0, 6.3)))
    x = _LEADS @ v  # (12, n)
    # Noise: baseline wander (respiration, electrode motion), powerline, broadband.
    wander = sum(
        rng.uniform(0.02, 0.15) * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t + rng.uniform(0, 6.3))
        for _ in range(2)
    )
    x = x + wander * rng.uniform(0.5, 1.5, size=(12, 1))
    x += rng.uniform(0, 0.02) * np.sin(2 * np.pi * rng.choice([50.0, 60.0]) * t + rng.uniform(0, 6.3))
    x += rng.normal(0, rng.uniform(0.005, 0.03), size=x.shape)
    return x.astype(np.float32)


def synth_labels(rng: np.random.Generator, task: str, bbb_prob: float = 0.3) -> tuple[str, bool]:
    """(rhythm, bbb) for one record: multilabel = one rhythm + optional BBB; multiclass = 5 classes."""
    if task == "multiclass":
        cls = CLASS_NAMES[int(rng.integers(len(CLASS_NAMES)))]
        return ("NSR", True) if cls == "BBB" else (cls, False)
    return RHYTHMS[int(rng.integers(len(RHYTHMS)))], bool(rng.random() < bbb_prob)


def make_dataset(
    num_records: int, *, fs: float = 100.0, duration: float = 10.0, task: str = "multilabel",
    seed: int = 0, bbb_prob: float = 0.3,
) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 12, T)`` float32 signals and targets (multi-hot ``(N, 5)`` or class indices ``(N,)``).

    Deterministic per ``seed``: record ``i`` depends only on ``(seed, i)``.
    """
    if task not in ("multilabel", "multiclass"):
        raise ValueError(f"task must be 'multilabel' or 'multiclass', got {task!r}")
    n = int(round(fs * duration))
    x = np.empty((num_records, 12, n), dtype=np.float32)
    y = np.zeros((num_records, len(CLASS_NAMES)), dtype=np.float32)
    for i in range(num_records):
        rng = np.random.default_rng([seed, i])
        rhythm, bbb = synth_labels(rng, task, bbb_prob)
        x[i] = synth_ecg(rng, rhythm, bbb, fs, duration)
        y[i, CLASS_NAMES.index(rhythm)] = 1.0
        if bbb:
            y[i, CLASS_NAMES.index("BBB")] = 1.0
    if task == "multiclass":
        # BBB records are NSR + BBB morphology: their class is BBB
        cls = np.where(y[:, 4] > 0, 4, y[:, :4].argmax(1))
        return x, cls.astype(np.int64)
    return x, y


def write_wfdb_records(
    out_dir: str | Path, num_records: int, *, fs: float = 100.0, duration: float = 10.0, seed: int = 0,
    task: str = "multilabel",
) -> list[Path]:
    """Write synthetic records as WFDB (16-bit, mV) with a ``# Dx:`` comment; returns header paths.

    Refuses to overwrite an existing record.
    """
    import wfdb

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    x, y = make_dataset(num_records, fs=fs, duration=duration, task="multilabel", seed=seed)
    paths = []
    for i in range(num_records):
        name = f"synth{i:05d}"
        if (out / f"{name}.hea").exists():
            raise FileExistsError(f"{out / name}.hea exists; not overwriting")
        labels = [CLASS_NAMES[k] for k in np.flatnonzero(y[i])]
        wfdb.wrsamp(
            name, fs=fs, units=["mV"] * 12, sig_name=list(STANDARD_12_LEADS), p_signal=x[i].T.astype(np.float64),
            fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12,
            comments=[f"Dx: {','.join(labels)}"], write_dir=str(out),
        )
        paths.append(out / f"{name}.hea")
    return paths


# PTB-XL spells the augmented leads in capitals; the stand-in below keeps its spelling.
PTBXL_LEADS = ["I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def write_ptbxl_layout(out_dir: str | Path, database_csv: str | Path, scp_statements_csv: str | Path) -> Path:
    """A folder in PTB-XL's published layout with real metadata and synthetic signals.

    Copies ``scp_statements.csv`` and the rows of ``database_csv`` (e.g. the header sample in
    ``tests/data/ptbxl-meta``) and writes a 10 s synthetic sinus-rhythm record at 100 Hz and at 500 Hz
    for every ``filename_lr``/``filename_hr``: a stand-in to try the PTB-XL commands end to end
    without the 3 GB download. The labels are the real rows', the signals carry no diagnosis, so
    scores on it mean nothing. Refuses to write into a folder that already has a database file.
    """
    import csv
    import shutil

    import wfdb

    root = Path(out_dir)
    if (root / "ptbxl_database.csv").exists():
        raise FileExistsError(f"{root / 'ptbxl_database.csv'} exists; not overwriting")
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(scp_statements_csv, root / "scp_statements.csv")
    shutil.copy(database_csv, root / "ptbxl_database.csv")
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
