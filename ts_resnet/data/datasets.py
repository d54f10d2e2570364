"""Torch datasets over preprocessed signals: random crops for training, sliding windows for evaluation.

Every item is a dict ``{"x": (n_windows, C, W), "y": target, "index": i, "id": record id}`` and
:func:`collate_windows` concatenates windows of a batch into ``x: (sum n_windows, C, W)`` with
``n_windows: (B,)``, so the model scores all windows in one pass and aggregates them per record
(mean or max), as the PTB-XL benchmark does.  Training items have one window each.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from .transforms import Augment, default_stride, eval_windows, pad_or_crop


class SignalDataset(Dataset):
    """Preprocessed signals (an ``(N, C, T)`` array/memmap or a list of ``(C, T_i)`` arrays) + targets.

    Args:
        signals: preprocessed, normalised signals.
        targets: ``(N,)`` int class indices or ``(N, K)`` multi-hot.
        ids: record identifiers (kept through batching for per-record outputs).
        window: window length in samples; None = whole records (variable lengths padded per batch).
        stride: evaluation window stride (default ``window // 2``).
        train: random crop of ``window`` samples (+ augmentation) instead of sliding windows.
        augment: training augmentations.
        transform: applied to each whole record before cropping (normalisation).
        fs: sampling rate of the signals (the augmentations' baseline wander is in Hz).
        phases: other samplings of the same records, each indexed like ``signals`` (a decimated
            series' other sampling phases); a training item is read from ``signals`` or one of these,
            with equal chances. Ignored in evaluation, which always reads ``signals``.
    """

    def __init__(
        self,
        signals: Sequence[np.ndarray] | np.ndarray,
        targets: np.ndarray,
        ids: Sequence[str],
        *,
        window: int | None = None,
        stride: int | None = None,
        train: bool = False,
        augment: Augment | None = None,
        transform: Callable[[np.ndarray], np.ndarray] | None = None,
        fs: float = 100.0,
        phases: Sequence[Sequence[np.ndarray] | np.ndarray] | None = None,
    ) -> None:
        if len(signals) != len(targets) or len(signals) != len(ids):
            raise ValueError(f"{len(signals)} signals, {len(targets)} targets, {len(ids)} ids: lengths differ")
        if phases is not None and any(len(p) != len(signals) for p in phases):
            raise ValueError(f"every phase must hold {len(signals)} signals, got {[len(p) for p in phases]}")
        self.signals = signals
        self.targets = np.asarray(targets)
        self.ids = list(ids)
        self.window = window
        self.stride = stride or default_stride(window)
        self.train = train
        self.augment = augment
        self.transform = transform
        self.fs = fs
        self.phases = list(phases) if phases else []

    def __len__(self) -> int:
        return len(self.signals)

    def __getitem__(self, i: int) -> dict[str, Any]:
        source = self.signals
        if self.train:
            # Torch's RNG: seeded by seed_everything and re-seeded per worker and epoch by Lightning.
            # One torch draw per item, phases or not, so a run without phases repeats bit for bit.
            rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,)).item()))
            if self.phases:
                k = int(rng.integers(0, len(self.phases) + 1))
                source = self.signals if k == 0 else self.phases[k - 1]
        x = np.asarray(source[i], dtype=np.float32)
        if self.transform is not None:
            x = self.transform(x)
        if self.train:
            if self.window is not None:
                start = int(rng.integers(0, x.shape[-1] - self.window + 1)) if x.shape[-1] > self.window else 0
                x = pad_or_crop(x, self.window, start=start)
            if self.augment is not None:
                x = self.augment(x, rng, self.fs)
            windows = x[None]
        else:
            windows, _ = eval_windows(x, self.window, self.stride)
        y = self.targets[i]
        y_t = torch.tensor(y, dtype=torch.float32) if y.ndim else torch.tensor(int(y), dtype=torch.long)
        return {"x": torch.from_numpy(np.ascontiguousarray(windows)), "y": y_t, "index": i, "id": self.ids[i]}


def collate_windows(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Concatenate per-record windows; pad to the longest when lengths differ (zero = mean after
    normalisation) and then also return ``lengths``, so global pooling can ignore the padding."""
    length = max(it["x"].shape[-1] for it in items)
    xs, lengths = [], []
    for it in items:
        x = it["x"]
        lengths += [x.shape[-1]] * x.shape[0]
        if x.shape[-1] < length:
            x = torch.nn.functional.pad(x, (0, length - x.shape[-1]))
        xs.append(x)
    if all(x.shape[0] == 1 for x in xs):
        # one window per record (every training batch): default_collate stacks them, and in a
        # DataLoader worker it writes the stack straight into shared memory, saving a copy of the batch
        # on its way to the main process (1.12x the records/s at batch 1024 on 2 cores, BENCHMARKS.md "GPU")
        x_batch = default_collate([x[0] for x in xs])
    else:
        x_batch = torch.cat(xs, 0)
    batch = {
        "x": x_batch,
        "n_windows": torch.tensor([it["x"].shape[0] for it in items], dtype=torch.long),
        "y": torch.stack([it["y"] for it in items]),
        "index": torch.tensor([it["index"] for it in items], dtype=torch.long),
        "id": [it["id"] for it in items],
    }
    if min(lengths) < length:
        # per-window valid lengths, only when padding happened: the network's pooling skips the pad
        batch["lengths"] = torch.tensor(lengths, dtype=torch.long)
    return batch
