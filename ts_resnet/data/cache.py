"""Decode-once cache of preprocessed signals as one memory-mapped float32 file plus a JSON index.

Decoding 21,837 WFDB records each epoch costs minutes; reading slices of one memory-mapped file costs
nothing and is shared by every DataLoader worker and DDP rank.  Records of any length are appended
one after another as rows of a ``(total_samples, C)`` array - so each record is one contiguous block,
and building the cache streams to disk instead of holding the data set in memory.  The index holds
each record's offset, length and id, and a key (hash of the file list with sizes/mtimes and the
preprocessing) that invalidates a stale cache.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .records import SignalReadError

INDEX_VERSION = 2


def first_reasons(skipped: Sequence[tuple[str, str]], limit: int = 3) -> str:
    """The first ``limit`` reasons of ``(id, reason)`` pairs, and how many more: each reason names its file."""
    more = f"; and {len(skipped) - limit} more" if len(skipped) > limit else ""
    return "; ".join(reason for _, reason in skipped[:limit]) + more


def cache_key(files: Sequence[str | Path], settings: dict[str, Any]) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for f in files:
        try:
            st = os.stat(f)
            h.update(f"{f}|{st.st_size}|{int(st.st_mtime)}".encode())
        except OSError:
            h.update(f"{f}|missing".encode())
    return h.hexdigest()[:16]


class SignalCache:
    """A cache folder holding ``signals.f32`` (raw float32 ``(total_samples, C)``) and ``index.json``."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @property
    def index_path(self) -> Path:
        return self.folder / "index.json"

    @property
    def data_path(self) -> Path:
        return self.folder / "signals.f32"

    def is_valid(self, key: str) -> bool:
        if not (self.index_path.exists() and self.data_path.exists()):
            return False
        try:
            index = json.loads(self.index_path.read_text())
        except (OSError, json.JSONDecodeError):
            return False
        return index.get("key") == key and index.get("version") == INDEX_VERSION

    def build(
        self,
        key: str,
        items: Sequence[tuple[str, Any]],
        load: Callable[[Any], np.ndarray],
        *,
        desc: str = "caching",
        skip_errors: bool = True,
    ) -> list[tuple[str, str]]:
        """Decode every item with ``load`` (-> ``(C, T)``) and write the cache; returns skipped
        ``(id, reason)`` pairs (unreadable records are reported, not fatal, when ``skip_errors``)."""
        from tqdm.auto import tqdm

        self.folder.mkdir(parents=True, exist_ok=True)
        ids: list[str] = []
        offsets: list[int] = []
        lengths: list[int] = []
        skipped: list[tuple[str, str]] = []
        channels: int | None = None
        total = 0
        tmp = self.data_path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            for rid, src in tqdm(items, desc=desc, unit="rec", disable=len(items) < 50):
                try:
                    a = np.asarray(load(src), dtype=np.float32)
                except SignalReadError as e:
                    if not skip_errors:
                        raise
                    skipped.append((rid, str(e)))
                    continue
                if channels is None:
                    channels = a.shape[0]
                elif a.shape[0] != channels:
                    raise ValueError(f"record {rid}: {a.shape[0]} channels after preprocessing, earlier records "
                                     f"have {channels}; select leads so every record has the same channels")
                f.write(np.ascontiguousarray(a.T).tobytes())
                ids.append(rid)
                offsets.append(total)
                lengths.append(int(a.shape[1]))
                total += int(a.shape[1])
        if channels is None:
            tmp.unlink(missing_ok=True)
            # the caller warns about skipped records only after a build returns: name the first few here,
            # or a data root without its signal files reads as a problem with the cache folder
            try:
                where: Any = os.path.commonpath([str(src) for _, src in items]) if items else self.folder
            except ValueError:  # sources on different drives, or not paths
                where = self.folder
            raise SignalReadError(where, f"none of the {len(items)} records could be read (first: {first_reasons(skipped)})"
                                  if skipped else "no records to read")
        os.replace(tmp, self.data_path)  # atomic: a concurrent reader never sees half a file
        index = {"version": INDEX_VERSION, "key": key, "ids": ids, "offsets": offsets, "lengths": lengths,
                 "channels": channels, "total": total, "skipped": skipped}
        tmp_idx = self.index_path.with_suffix(".tmp")
        tmp_idx.write_text(json.dumps(index))
        os.replace(tmp_idx, self.index_path)
        return skipped

    def load(self) -> tuple[list[str], list[np.ndarray], list[tuple[str, str]]]:
        """``(ids, signals as (C, T) memory-mapped views, skipped)``."""
        index = json.loads(self.index_path.read_text())
        data = np.memmap(self.data_path, dtype=np.float32, mode="r", shape=(index["total"], index["channels"]))
        views = [data[o : o + n].T for o, n in zip(index["offsets"], index["lengths"])]
        return index["ids"], views, [tuple(s) for s in index.get("skipped", [])]


def default_cache_dir(name: str) -> Path:
    """``$TS_RESNET_CACHE`` or ``~/.cache/ts_resnet``, then ``name``."""
    root = os.environ.get("TS_RESNET_CACHE") or Path.home() / ".cache" / "ts_resnet"
    return Path(root) / name
