"""A faster view of ``wfdb``'s header-field tables while a header is parsed.

wfdb 4.x parses the record line and every signal line of a header through scalar lookups into two
pandas DataFrames (``wfdb.io._header.RECORD_SPECS`` / ``SIGNAL_SPECS``, ``.loc[field, column]``):
about 250 ``DataFrame.loc`` calls for a 12-lead header, which measured 4-6 ms of the 5-7 ms that
``wfdb.rdrecord`` takes for a 10-s 12-lead record (BENCHMARKS.md, "classify"). The tables are
constant, so while *our* reader calls ``wfdb.rdrecord`` we swap them for dict-backed views holding
the same values; wfdb's own parser, regular expressions and signal decoding still do all the work,
and the DataFrames are put back afterwards (wfdb's write path copies them, which a view does not
support).

Equality with wfdb's plain parse is tested on every WFDB fixture (``tests/test_readers.py``). If a
wfdb version no longer has the table, reads simply run without the view.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_LOCK = threading.Lock()
_NAMES = ("RECORD_SPECS", "SIGNAL_SPECS")
_SWAP: dict[str, tuple[Any, Any]] | None = None  # name -> (DataFrame, view), built on first use


class _SpecsView:
    """The two things wfdb's reader asks of the table: ``.index`` and ``.loc[field, column]``."""

    def __init__(self, table: Any) -> None:
        self.index = list(table.index)
        self._values = {(f, c): table.at[f, c] for f in table.index for c in table.columns}
        self.loc = self

    def __getitem__(self, key: tuple[str, str]) -> Any:
        return self._values[key]


@contextmanager
def fast_signal_specs() -> Iterator[None]:
    """Within this block, ``wfdb`` header parsing reads its field tables from dicts (same values)."""
    global _SWAP
    try:
        from wfdb.io import _header
    except ImportError:  # a wfdb without the private module: nothing to speed up
        yield
        return
    # One swap at a time, and always back to the real DataFrames: threads reading records in
    # parallel never leave a view installed.
    with _LOCK:
        if _SWAP is None:
            tables = {name: getattr(_header, name, None) for name in _NAMES}
            usable = all(hasattr(t, "at") and hasattr(t, "columns") for t in tables.values())
            _SWAP = {name: (t, _SpecsView(t)) for name, t in tables.items()} if usable else {}
        for name, (_, view) in _SWAP.items():
            setattr(_header, name, view)
        try:
            yield
        finally:
            for name, (table, _) in _SWAP.items():
                setattr(_header, name, table)
