"""One reader per file format, each returning a :class:`Record`; the only code that opens signal files.

* WFDB (``.hea`` + any signal file ``wfdb`` reads: formats 8/16/24/32/61/80/160/212/310/311, FLAC,
  CinC ``.mat``, multi-segment and multi-frequency records) through ``wfdb.rdrecord``;
* EDF through ``wfdb``'s EDF reader;
* ``.csv``: header row = channel names, one row per sample;
* ``.npy`` / ``.npz``: an explicit ``layout`` (``"CT"`` or ``"TC"``) is required, never guessed.

CSV and NPY files do not carry a sampling rate: pass ``fs=`` or put a sidecar ``<stem>.json`` next to
the file, e.g. ``{"fs": 500, "layout": "TC", "channels": ["I", "II", ...], "units": "mV"}``.  An
``.npz`` may carry ``signal`` plus ``fs``/``channels``/``layout`` arrays itself.

Every failure is a :class:`SignalReadError` naming the file and the problem.
"""

from __future__ import annotations

import csv
import json
import math
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .records import Record, SignalReadError
from .wfdb_specs import fast_signal_specs

NanPolicy = Literal["error", "interpolate", "zero", "keep"]
Layout = Literal["CT", "TC"]
RECORD_SUFFIXES = (".hea", ".edf", ".csv", ".npy", ".npz")


def read_record(
    path: str | Path,
    *,
    fs: float | None = None,
    layout: Layout | None = None,
    nan_policy: NanPolicy = "error",
) -> Record:
    """Read one record, choosing the reader by suffix.

    ``path`` may name a WFDB header, its signal file (``.dat``/``.mat``...) or the record name without
    suffix.  ``nan_policy``: what to do with NaN/Inf samples (WFDB gaps, missing CSV cells):
    ``"error"`` (default) raises, ``"interpolate"`` fills linearly within each channel (an all-NaN
    channel becomes zeros), ``"zero"`` fills zeros, ``"keep"`` returns them as they are.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".edf",):
        rec = read_edf(p)
    elif suffix == ".csv":
        rec = read_csv(p, fs=fs)
    elif suffix in (".npy", ".npz"):
        rec = read_numpy(p, fs=fs, layout=layout)
    elif suffix == ".hea" or p.with_suffix(".hea").exists() or Path(str(p) + ".hea").exists():
        rec = read_wfdb(p)
    elif not p.exists():
        raise SignalReadError(p, "no such file (and no WFDB header next to it)")
    else:
        raise SignalReadError(
            p, f"unknown format {suffix or '(no suffix)'!r}; readable: WFDB (.hea), .edf, .csv, .npy, .npz"
        )
    return _validate(rec, nan_policy)


def read_wfdb(path: str | Path) -> Record:
    """Read a WFDB record with ``wfdb.rdrecord`` (physical units, frames smoothed to the base rate)."""

    p = Path(path)
    if p.suffix.lower() == ".hea":
        base = p.with_suffix("")
    elif Path(str(p) + ".hea").exists():
        base = p
    else:
        base = p.with_suffix("")
    header = Path(str(base) + ".hea")
    if not header.exists():
        raise SignalReadError(p, f"WFDB header {header.name} not found")
    try:
        rec = _rdrecord(str(base))
    except FileNotFoundError as e:
        missing = Path(e.filename).name if getattr(e, "filename", None) else str(e)
        raise SignalReadError(header, f"signal file {missing} referenced by the header is missing") from None
    except Exception as e:  # wfdb raises ValueError/IndexError/struct.error... on broken files
        raise SignalReadError(header, _explain_wfdb_error(base, e)) from None
    if rec.p_signal is None:
        raise SignalReadError(header, "the record has no signal data")
    n_expected = rec.sig_len
    sig = np.asarray(rec.p_signal, dtype=np.float32).T
    if n_expected is not None and sig.shape[1] != n_expected:
        raise SignalReadError(header, f"header says {n_expected} samples but the signal has {sig.shape[1]}")
    labels, meta = _parse_comments(rec.comments or [])
    return Record(
        signal=np.ascontiguousarray(sig),
        fs=float(rec.fs),
        channels=[str(c) for c in rec.sig_name],
        units=[str(u) for u in (rec.units or [""] * sig.shape[0])],
        id=str(rec.record_name),
        labels=labels,
        meta=meta,
        path=str(header),
    )


def _rdrecord(base: str) -> Any:
    """``wfdb.rdrecord`` with the fast header tables; a broken record (or a wfdb whose parser asks
    those tables for more than the view offers) is read again the plain way, so errors are wfdb's own."""
    import wfdb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            with fast_signal_specs():
                return wfdb.rdrecord(base)
        except FileNotFoundError:
            raise
        except Exception:
            return wfdb.rdrecord(base)


def _explain_wfdb_error(base: Path, e: Exception) -> str:
    """Turn wfdb's terse messages into what went wrong with which file."""
    import wfdb

    msg = f"wfdb could not read the record ({type(e).__name__}: {e})"
    if "not loaded correctly" in str(e) or isinstance(e, (IndexError,)):
        try:
            h = wfdb.rdheader(str(base))
            files = sorted(set(h.file_name or []))
            sizes = ", ".join(f"{f} is {(base.parent / f).stat().st_size} bytes" for f in files
                              if (base.parent / f).exists())
            return (f"signal data shorter than the header's {h.sig_len} samples x {h.n_sig} channels "
                    f"({sizes}): truncated signal file or wrong sample count in the header")
        except Exception:
            return msg
    return msg


def _parse_comments(comments: list[str]) -> tuple[list[str], dict[str, Any]]:
    """CinC-style ``Key: value`` comments into meta; ``Dx`` becomes the label list."""
    labels: list[str] = []
    meta: dict[str, Any] = {}
    free: list[str] = []
    for line in comments:
        key, sep, value = line.partition(":")
        key = key.strip()
        if sep and key and " " not in key.strip("<>"):
            value = value.strip()
            if key.lower() == "dx":
                labels = [c.strip() for c in value.split(",") if c.strip()]
            else:
                meta[key.strip("<>").lower()] = value
        else:
            free.append(line.strip())
    if free:
        meta["comments"] = free
    return labels, meta


def read_edf(path: str | Path) -> Record:
    """Read an EDF file through ``wfdb``'s EDF reader."""
    from wfdb.io.convert.edf import read_edf as _read_edf

    p = Path(path)
    if not p.exists():
        raise SignalReadError(p, "no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rec = _read_edf(str(p))
    except Exception as e:
        raise SignalReadError(p, f"not a readable EDF file ({type(e).__name__}: {e})") from None
    sig = rec.p_signal if rec.p_signal is not None else None
    if sig is None:
        raise SignalReadError(p, "EDF file has no physical signal")
    return Record(
        signal=np.ascontiguousarray(np.asarray(sig, dtype=np.float32).T),
        fs=float(rec.fs),
        channels=[str(c) for c in rec.sig_name],
        units=[str(u) for u in (rec.units or [])],
        id=p.stem,
        path=str(p),
    )


def _sidecar(p: Path) -> dict[str, Any]:
    side = p.with_suffix(".json")
    if not side.exists():
        return {}
    try:
        data = json.loads(side.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise SignalReadError(side, f"sidecar is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise SignalReadError(side, "sidecar must be a JSON object like {\"fs\": 500}")
    return data


def _resolve_fs(p: Path, fs: float | None, side: dict[str, Any]) -> float:
    value = fs if fs is not None else side.get("fs")
    if value is None:
        raise SignalReadError(
            p, f"sampling rate unknown: pass fs=... or write a sidecar {p.with_suffix('.json').name} with {{\"fs\": HZ}}"
        )
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise SignalReadError(p, f"sampling rate must be a number, got {value!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise SignalReadError(p, f"sampling rate must be positive, got {value}")
    return value


def _units(side: dict[str, Any], n: int) -> list[str]:
    u = side.get("units", "")
    return [str(x) for x in u] if isinstance(u, list) else [str(u)] * n


def read_csv(path: str | Path, *, fs: float | None = None) -> Record:
    """CSV: first row channel names, then one row per sample (columns = channels).

    The samples are parsed by NumPy's C reader straight into float32 (a 24-hour Holter export stays
    within a few times its decoded size in memory); only a file it rejects - empty cells (read as NaN),
    ragged rows, text - is scanned again line by line, to say exactly what and where the problem is.
    """
    p = Path(path)
    if not p.exists():
        raise SignalReadError(p, "no such file")
    side = _sidecar(p)
    try:
        with open(p, newline="") as f:
            header, data = _csv_header(f), None
            if header is not None:
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")  # "input contained no data": reported below
                        data = np.loadtxt(f, delimiter=",", dtype=np.float32, ndmin=2, quotechar='"')
                except ValueError:
                    data = None  # the careful path below says why
            if data is None or data.shape[0] == 0 or data.shape[1] != len(header or []):
                f.seek(0)
                header, data = _parse_csv_rows(p, f)
    except UnicodeDecodeError:
        raise SignalReadError(p, "not a text CSV file (binary content)") from None
    channels = side.get("channels", header)
    return Record(
        signal=np.ascontiguousarray(data.T),
        fs=_resolve_fs(p, fs, side),
        channels=[str(c) for c in channels],
        units=_units(side, len(header)),
        id=p.stem,
        labels=[str(x) for x in side.get("labels", [])],
        path=str(p),
    )


def _csv_header(f: Any) -> list[str] | None:
    """The first non-blank row, as stripped channel names (None for an empty file)."""
    for line in f:
        if line.strip().strip(","):
            return [h.strip() for h in next(csv.reader([line]))]
    return None


def _parse_csv_rows(p: Path, f: Any) -> tuple[list[str], np.ndarray]:
    """Row-by-row parse with precise errors (file, line, column); empty cells become NaN."""
    rows = [(i, r) for i, r in enumerate(csv.reader(f), start=1) if any(c.strip() for c in r)]
    if not rows:
        raise SignalReadError(p, "empty CSV file (expected a header row of channel names, then samples)")
    header = [h.strip() for h in rows[0][1]]
    body = rows[1:]
    if not body:
        raise SignalReadError(p, "CSV has a header but no samples")
    data = np.empty((len(body), len(header)), dtype=np.float32)
    for j, (line, row) in enumerate(body):
        if len(row) != len(header):
            raise SignalReadError(p, f"line {line} has {len(row)} columns, header has {len(header)}")
        for k, c in enumerate(row):
            try:
                data[j, k] = float(c) if c.strip() else np.nan
            except ValueError:
                raise SignalReadError(
                    p, f"non-numeric value {c.strip()[:30]!r} on line {line}, column {k + 1} ({header[k]!r})") from None
    return header, data


def read_numpy(path: str | Path, *, fs: float | None = None, layout: Layout | None = None) -> Record:
    """``.npy`` (one 2-D array) or ``.npz`` (key ``signal``, optional ``fs``, ``channels``, ``layout``)."""
    p = Path(path)
    if not p.exists():
        raise SignalReadError(p, "no such file")
    side = _sidecar(p)
    # np.load reads anything without NumPy's header as a pickle and, refusing pickles, reports "pickled
    # (object) data" for a text file renamed .npy: name what the file lacks instead
    npz = p.suffix.lower() == ".npz"
    try:
        with open(p, "rb") as f:
            head = f.read(len(np.lib.format.MAGIC_PREFIX))
    except OSError as e:
        raise SignalReadError(p, f"cannot be read ({e.strerror or e})") from None
    if npz and not head.startswith(b"PK"):
        raise SignalReadError(p, "not a NumPy .npz file (not a zip archive)")
    if not npz and head != np.lib.format.MAGIC_PREFIX:
        raise SignalReadError(p, "not a NumPy .npy file (no NumPy header; written by np.save?)")
    try:
        if npz:
            with np.load(p, allow_pickle=False) as z:
                if "signal" not in z:
                    raise SignalReadError(p, f"npz has no 'signal' array (keys: {sorted(z.files)})")
                arr = z["signal"]
                for key in ("fs", "layout", "channels", "units"):
                    if key in z and key not in side:
                        v = z[key]
                        side[key] = v.item() if v.ndim == 0 else [str(x) for x in v.tolist()]
        else:
            arr = np.load(p, allow_pickle=False)
    except SignalReadError:
        raise
    except Exception as e:
        raise SignalReadError(p, f"not a readable NumPy file ({type(e).__name__}: {e})") from None
    if arr.ndim == 1:
        arr = arr[None, :]
        layout = layout or "CT"
    if arr.ndim != 2:
        raise SignalReadError(p, f"expected a 2-D array (channels x samples), got shape {arr.shape}")
    if not np.issubdtype(arr.dtype, np.number):
        raise SignalReadError(p, f"expected a numeric array, got dtype {arr.dtype}")
    layout = layout or side.get("layout")
    if layout not in ("CT", "TC"):
        raise SignalReadError(
            p, f"array shape {arr.shape}: say which axis is time with layout='CT' (channels, samples) or "
            f"'TC' (samples, channels), as an argument or in the sidecar {p.with_suffix('.json').name}"
        )
    sig = arr if layout == "CT" else arr.T
    n = sig.shape[0]
    channels = side.get("channels") or [f"ch{i}" for i in range(n)]
    if len(channels) != n:
        raise SignalReadError(p, f"{len(channels)} channel names for {n} channels (layout {layout}, shape {arr.shape})")
    return Record(
        signal=np.ascontiguousarray(sig, dtype=np.float32),
        fs=_resolve_fs(p, fs, side),
        channels=[str(c) for c in channels],
        units=_units(side, n),
        id=p.stem,
        labels=[str(x) for x in side.get("labels", [])],
        path=str(p),
    )


def _validate(rec: Record, nan_policy: NanPolicy) -> Record:
    path = rec.path
    if rec.signal.ndim != 2 or rec.signal.shape[1] == 0 or rec.signal.shape[0] == 0:
        raise SignalReadError(path, f"zero-length record (signal shape {rec.signal.shape})")
    if len(rec.channels) != rec.signal.shape[0]:
        raise SignalReadError(path, f"{len(rec.channels)} channel names for {rec.signal.shape[0]} channels")
    seen: dict[str, str] = {}
    for name in rec.channels:
        key = name.strip().lower()
        if key in seen:
            raise SignalReadError(path, f"duplicate channel name {name!r} (also {seen[key]!r})")
        seen[key] = name
    bad = ~np.isfinite(rec.signal)
    if bad.any():
        if nan_policy == "error":
            chans = [rec.channels[i] for i in np.flatnonzero(bad.any(axis=1))]
            raise SignalReadError(
                path, f"{int(bad.sum())} NaN/Inf samples in channels {chans}; use nan_policy='interpolate' "
                "or 'zero' to repair them"
            )
        if nan_policy != "keep":
            rec.signal = repair_nonfinite(rec.signal, nan_policy)
    if not rec.units:
        rec.units = [""] * rec.num_channels
    return rec


def repair_nonfinite(signal: np.ndarray, policy: Literal["interpolate", "zero"]) -> np.ndarray:
    """Fill NaN/Inf samples: linear interpolation per channel, or zeros."""
    out = signal.astype(np.float32, copy=True)
    bad = ~np.isfinite(out)
    if policy == "zero":
        out[bad] = 0.0
        return out
    idx = np.arange(out.shape[1])
    for c in np.flatnonzero(bad.any(axis=1)):
        good = ~bad[c]
        out[c] = np.interp(idx, idx[good], out[c, good]) if good.any() else 0.0
    return out


def find_records(paths: list[str | Path]) -> list[Path]:
    """Expand files, directories (recursive) and globs into readable record paths.

    A WFDB record counts once (its ``.hea``), whatever signal files belong to it; ``.json`` sidecars
    and annotation files are skipped.
    """
    import glob

    found: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        rp = p.resolve()
        if rp not in seen:
            seen.add(rp)
            found.append(p)

    for raw in paths:
        raw = str(raw)
        matches = [Path(m) for m in sorted(glob.glob(raw, recursive=True))] if glob.has_magic(raw) else [Path(raw)]
        for m in matches:
            if m.is_dir():
                for f in sorted(m.rglob("*")):
                    if f.is_file() and _is_record_file(f):
                        add(f)
            else:
                add(m)  # non-existent or unknown files are reported by read_record
    return found


def _is_record_file(f: Path) -> bool:
    """Directory scan filter: skip label tables and files that belong to a WFDB record."""
    suffix = f.suffix.lower()
    if suffix not in RECORD_SUFFIXES:
        return False
    if suffix == ".edf" and f.with_suffix(".hea").exists():
        return False  # the same record, described by its WFDB header
    if suffix == ".csv":
        # a labels/metadata table sitting beside the records is not a signal: signal CSVs have a
        # header of channel names over a numeric second row; a matrix with row labels (an empty
        # first header cell, e.g. CinC's scoring-weight table) is a table too
        try:
            with open(f, newline="") as fh:
                rows = [r for _, r in zip(range(2), csv.reader(fh))]
            return len(rows) == 2 and rows[0][:1] != [""] and all(_is_number(c) for c in rows[1])
        except (OSError, UnicodeDecodeError):
            return True  # let read_record report it
    return True


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False
