"""A harder synthetic 12-lead task, shaped like PTB-XL: a workload and a relative yardstick.

This is **not** evidence of clinical accuracy: the signals are sums of Gaussian waves projected from a
3-D dipole onto the lead axes (as :mod:`ts_resnet.data.synthetic`).  What it adds over the default
synthetic set is labels that a network cannot get from the heart rate alone, and patient-to-patient
variability that overlaps the classes as ``difficulty`` grows:

* ``AF``    irregular RR, no P wave, fibrillatory waves (rhythm; the others are sinus rhythms at 50-110 bpm);
* ``IAVB``  first-degree AV block: PR interval above 200 ms (normal 120-200 ms) - a timing inside a beat;
* ``LBBB``  wide QRS whose late forces point left and backwards: broad R in I/V6, deep QS in V1;
* ``RBBB``  wide QRS whose late forces point right and forwards: RSR' in V1, broad S in I/V6;
* ``STE``   ST elevation in contiguous leads of one territory (inferior II/III/aVF, anterior V1-V4 or
  lateral I/aVL/V5/V6): a plateau between QRS and T, only in some leads;
* ``LVH``   left-ventricular hypertrophy: QRS voltage 1.6-2.4x, with strain (inverted T) half the time.

Multi-label: any combination except LBBB with RBBB, IAVB with AF.  ``difficulty`` in [0, 1] moves the
pathological ranges towards the normal ones (a PR of 205 ms instead of 260 ms, a ST elevation of 0.05 mV
instead of 0.2 mV), widens the inter-patient spread of axis, amplitude and heart rate, and adds noise.
"""

from __future__ import annotations

import numpy as np

from .synthetic import _LEADS, _rotation

HARD_CLASS_NAMES = ["AF", "IAVB", "LBBB", "RBBB", "STE", "LVH"]
_TERRITORIES = {  # ST-vector direction (left, inferior, anterior) per territory
    "inferior": np.array([0.0, 1.0, 0.0]),
    "anterior": np.array([-0.3, 0.0, 1.0]),
    "lateral": np.array([1.0, -0.4, -0.2]),
}
_PRIOR = {"AF": 0.15, "IAVB": 0.15, "BBB": 0.25, "STE": 0.2, "LVH": 0.2}


def _lerp(easy: float, hard: float, d: float) -> float:
    return easy + (hard - easy) * d


def sample_findings(rng: np.random.Generator) -> dict[str, bool | str]:
    """Labels of one record (independent findings, with the two exclusions)."""
    af = bool(rng.random() < _PRIOR["AF"])
    bbb = rng.random() < _PRIOR["BBB"]
    return {
        "AF": af,
        "IAVB": (not af) and bool(rng.random() < _PRIOR["IAVB"]),
        "LBBB": bool(bbb and rng.random() < 0.5),
        "RBBB": False,
        "STE": bool(rng.random() < _PRIOR["STE"]),
        "LVH": bool(rng.random() < _PRIOR["LVH"]),
        "_bbb": bool(bbb),
    }


def synth_hard_ecg(rng: np.random.Generator, findings: dict, *, fs: float = 100.0, duration: float = 10.0,
                   difficulty: float = 0.5) -> np.ndarray:
    """One 12-lead record ``(12, fs * duration)`` in mV with the given findings."""
    d = float(np.clip(difficulty, 0.0, 1.0))
    n = int(round(fs * duration))
    t = np.arange(n) / fs
    rot = _rotation(rng, max_deg=_lerp(15.0, 40.0, d))
    scale = rng.uniform(_lerp(0.8, 0.6, d), _lerp(1.2, 1.5, d))
    af = findings["AF"]
    hr = rng.uniform(70, 140) if af else rng.uniform(50, 110)
    rr_mean = 60.0 / hr
    pr = (rng.uniform(_lerp(0.24, 0.205, d), _lerp(0.32, 0.26, d)) if findings["IAVB"]
          else rng.uniform(0.12, _lerp(0.18, 0.20, d)))
    bbb = findings["LBBB"] or findings["RBBB"]
    qrs = rng.uniform(_lerp(1.7, 1.35, d), _lerp(2.2, 1.8, d)) if bbb else rng.uniform(0.9, _lerp(1.1, 1.25, d))
    volt = rng.uniform(_lerp(1.8, 1.5, d), _lerp(2.4, 1.9, d)) if findings["LVH"] else rng.uniform(0.8, _lerp(1.2, 1.45, d))
    waves = [  # (offset s, width s, dipole): Q, R, S relative to the R peak
        (-0.03 * qrs, 0.010 * qrs, np.array([-0.3, 0.1, 0.6]) * 0.15 * volt),
        (0.0, 0.012 * qrs, np.array([0.6, 0.7, -0.3]) * 1.3 * volt),
        (0.035 * qrs, 0.013 * qrs, np.array([-0.2, -0.4, 0.9]) * 0.4 * volt),
    ]
    if findings["LBBB"]:  # late forces left and posterior: broad R in I/V6, QS in V1
        waves.append((0.06 * qrs, 0.02 * qrs, np.array([0.9, 0.1, -0.7]) * 0.7))
    elif findings["RBBB"]:  # late forces right and anterior: R' in V1, broad S in I/V6
        waves.append((0.075 * qrs, 0.015 * qrs, np.array([-0.6, -0.1, 0.9]) * 0.6))
    t_dipole = np.array([0.5, 0.6, -0.4]) * 0.35
    if bbb or (findings["LVH"] and rng.random() < 0.5):
        t_dipole = -0.6 * t_dipole  # secondary / strain repolarisation
    st = None
    if findings["STE"]:
        territory = list(_TERRITORIES)[int(rng.integers(len(_TERRITORIES)))]
        st = _TERRITORIES[territory] * rng.uniform(_lerp(0.15, 0.05, d), _lerp(0.3, 0.12, d))
    v = np.zeros((3, n))

    def add_wave(center: float, sigma: float, dipole: np.ndarray) -> None:
        lo, hi = max(0, int((center - 5 * sigma) * fs)), min(n, int((center + 5 * sigma) * fs) + 2)
        if lo < hi:
            v[:, lo:hi] += np.outer(rot @ dipole, np.exp(-0.5 * ((t[lo:hi] - center) / sigma) ** 2))

    tb = -rng.uniform(0, rr_mean)
    while tb < duration + 0.5:
        rr = rr_mean * (max(0.45, 1.0 + rng.normal(0, 0.2)) if af else 1.0 + rng.normal(0, 0.02 + 0.02 * d))
        amp = scale * rng.uniform(0.95, 1.05)
        if not af:
            add_wave(tb - pr, 0.022, np.array([0.5, 0.8, 0.2]) * 0.18 * amp)
        for off, sig, dip in waves:
            add_wave(tb + off, sig, dip * amp)
        qt = 0.25 * np.sqrt(min(rr, 1.6)) + 0.04 * (qrs - 1)
        if st is not None:  # a plateau from the J point to the T wave: three overlapping Gaussians
            for frac in (0.3, 0.55, 0.8):
                add_wave(tb + 0.05 * qrs + frac * (qt - 0.05 * qrs), 0.03, st * amp)
        add_wave(tb + qt, 0.045 * np.sqrt(min(rr, 1.6)), t_dipole * amp)
        tb += rr
    if af:
        for _ in range(3):
            v += np.outer(rot @ np.array([0.3, 0.5, 0.8]),
                          rng.uniform(0.02, 0.06) * np.sin(2 * np.pi * rng.uniform(4, 9) * t + rng.uniform(0, 6.3)))
    x = _LEADS @ v
    wander = sum(rng.uniform(0.02, 0.15 + 0.15 * d) * np.sin(2 * np.pi * rng.uniform(0.05, 0.5) * t
                                                               + rng.uniform(0, 6.3)) for _ in range(2))
    x = x + wander * rng.uniform(0.5, 1.5, size=(12, 1))
    x += rng.uniform(0, 0.02 + 0.03 * d) * np.sin(2 * np.pi * rng.choice([50.0, 60.0]) * t + rng.uniform(0, 6.3))
    x += rng.normal(0, rng.uniform(0.005, 0.03 + 0.04 * d), size=x.shape)
    return x.astype(np.float32)


def make_hard_dataset(num_records: int, *, fs: float = 100.0, duration: float = 10.0, seed: int = 0,
                      difficulty: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 12, T)`` float32 signals and ``(N, 6)`` multi-hot targets in :data:`HARD_CLASS_NAMES`
    order; record ``i`` depends only on ``(seed, i, difficulty)``."""
    if not 0.0 <= difficulty <= 1.0:
        raise ValueError(f"difficulty must be in [0, 1], got {difficulty}")
    n = int(round(fs * duration))
    x = np.empty((num_records, 12, n), dtype=np.float32)
    y = np.zeros((num_records, len(HARD_CLASS_NAMES)), dtype=np.float32)
    for i in range(num_records):
        rng = np.random.default_rng([seed, i, 7])
        f = sample_findings(rng)
        if f.pop("_bbb") and not f["LBBB"]:
            f["RBBB"] = True
        x[i] = synth_hard_ecg(rng, f, fs=fs, duration=duration, difficulty=difficulty)
        y[i] = [float(f[c]) for c in HARD_CLASS_NAMES]
    return x, y
