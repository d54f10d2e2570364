"""CinCDataModule: PhysioNet/CinC Challenge 2020/2021 folders (WFDB ``.hea`` + ``.mat``, SNOMED ``# Dx:``)."""

from __future__ import annotations

import csv
from collections import Counter
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..transforms import STANDARD_12_LEADS, PreprocessConfig
from .base import DatasetInfo, FileDataModule, Split, multihot

# The Challenge 2020/2021 scoring treats these SNOMED-CT codes as the same class
# (evaluation code, "equivalent classes"): CRBBB/RBBB, CLBBB/LBBB, PAC/SVPB, PVC/VPB.
EQUIVALENT_CLASSES = {
    "59118001": "713427006",
    "164909002": "733534002",
    "63593006": "284470004",
    "17338001": "427172004",
}


def read_dx(header: Path) -> list[str]:
    """SNOMED codes of a header's ``# Dx:`` line (headers only, no signal decoding)."""
    for line in header.read_text(errors="replace").splitlines():
        s = line.lstrip("#").strip()
        if s.lower().startswith("dx:"):
            return [c.strip() for c in s[3:].split(",") if c.strip()]
    return []


class CinCDataModule(FileDataModule):
    """PhysioNet/CinC 2020/2021 12-lead records from one or more folders (searched recursively).

    Mixed sampling rates (257/500/1000 Hz) are resampled to ``preprocess.fs``; variable lengths are
    handled by ``window`` (random crops for training, sliding windows for evaluation).  The split is
    reproducible (``seed``) and multi-label aware (stratified on each record's rarest class).

    Args:
        roots: folders holding ``.hea`` + ``.mat`` records.
        classes: SNOMED codes to predict (default: every code with at least ``min_count`` records).
        min_count: minimum records per class when ``classes`` is not given.
        dx_mapping: CSV with ``snomed_code`` and ``abbreviation`` columns (the Challenge's mapping
            file; also ``scored`` used by ``scored_only``); class names become abbreviations.
        scored_only: keep only classes the Challenge scored (needs ``dx_mapping``).
        merge_equivalent: merge the Challenge's equivalent classes (e.g. RBBB into CRBBB).
        challenge_weights: the Challenge 2021 reward table (``challenge2021_weights.csv``): validation
            and test then also report ``challenge``, the Challenge's score of the model's decisions
            (:mod:`ts_resnet.challenge`) against each record's full label set.
        val_fraction: split sizes.
        test_fraction: split sizes.
    """

    def __init__(
        self,
        roots: list[str],
        classes: list[str] | None = None,
        min_count: int = 1,
        dx_mapping: str | None = None,
        scored_only: bool = False,
        merge_equivalent: bool = True,
        challenge_weights: str | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        **kwargs: Any,
    ) -> None:
        self.roots = [Path(r) for r in ([roots] if isinstance(roots, str) else roots)]
        self.classes = classes
        self.min_count = min_count
        self.dx_mapping = dx_mapping
        self.scored_only = scored_only
        self.merge_equivalent = merge_equivalent
        self.challenge_weights = challenge_weights
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction
        if scored_only and dx_mapping is None:
            raise ValueError("scored_only=True needs dx_mapping (the Challenge's SNOMED mapping CSV)")
        super().__init__(**kwargs)

    def default_preprocess(self) -> PreprocessConfig:
        return PreprocessConfig(fs=100.0, leads=list(STANDARD_12_LEADS), normalize="zscore")

    @cached_property
    def mapping(self) -> dict[str, dict[str, str]]:
        if self.dx_mapping is None:
            return {}
        with open(self.dx_mapping, newline="") as f:
            rows = list(csv.DictReader(f))
        if not rows or "snomed_code" not in rows[0]:
            raise ValueError(f"{self.dx_mapping}: expected a CSV with a 'snomed_code' column")
        return {r["snomed_code"].strip(): r for r in rows}

    @cached_property
    def headers(self) -> list[tuple[str, Path, list[str]]]:
        out = []
        for root in self.roots:
            if not root.is_dir():
                raise FileNotFoundError(f"CinC root {root} is not a folder")
            for h in sorted(root.rglob("*.hea")):
                codes = read_dx(h)
                if self.merge_equivalent:
                    codes = sorted({EQUIVALENT_CLASSES.get(c, c) for c in codes})
                out.append((h.stem, h, codes))
        if not out:
            raise FileNotFoundError(f"no .hea records under {[str(r) for r in self.roots]}")
        return out

    @cached_property
    def class_codes(self) -> list[str]:
        if self.classes is not None:
            return [EQUIVALENT_CLASSES.get(c, c) if self.merge_equivalent else c for c in self.classes]
        counts = Counter(c for _, _, codes in self.headers for c in codes)
        codes = sorted(c for c, n in counts.items() if n >= self.min_count)
        if self.scored_only:
            codes = [c for c in codes if str(self.mapping.get(c, {}).get("scored", "")).strip() in ("1", "True")]
        return codes

    def describe(self) -> DatasetInfo:
        names = [self.mapping.get(c, {}).get("abbreviation") or c for c in self.class_codes]
        return DatasetInfo(names, "multilabel", list(STANDARD_12_LEADS), None)

    def record_items(self) -> list[tuple[str, str]]:
        return [(rid, str(h)) for rid, h, _ in self.headers]

    def load_splits(self) -> dict[str, Split]:
        signals = self.cached_signals()
        rows = [(rid, codes) for rid, _, codes in self.headers if rid in signals]
        y = multihot([codes for _, codes in rows], self.class_codes)
        parts = self.split_records(y, val_fraction=self.val_fraction, test_fraction=self.test_fraction)
        return {name: Split([signals[rows[i][0]] for i in idx], y[idx], [rows[i][0] for i in idx])
                for name, idx in parts.items()}

    @cached_property
    def _challenge(self) -> Any:
        from ...challenge import ChallengeWeights

        return ChallengeWeights.load(self.challenge_weights) if self.challenge_weights else None

    def decision_metrics(self, ids: list[str], decisions: np.ndarray) -> dict[str, float]:
        """The Challenge 2021 score of the decisions, when ``challenge_weights`` is set."""
        from ...challenge import challenge_score

        if self._challenge is None:
            return {}
        truth = {rid: codes for rid, _, codes in self.headers}
        predicted = [[c for c, yes in zip(self.class_codes, row) if yes] for row in decisions]
        return {"challenge": challenge_score([truth[i] for i in ids], predicted, self._challenge)}
