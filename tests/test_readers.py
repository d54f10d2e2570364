from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import wfdb
from conftest import fixture, shared

from ts_resnet.data import SignalReadError, find_records, read_record


def _wfdb_headers() -> list[Path]:
    root = shared("wfdb-sample")
    return sorted(root.glob("*.hea")) + sorted(root.glob("multi-segment/*/*.hea"))


def test_every_wfdb_fixture_matches_wfdb_or_raises_signal_read_error():
    read_ok, errors = 0, 0
    for hea in _wfdb_headers():
        base = str(hea.with_suffix(""))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = wfdb.rdrecord(base)
            assert ref.p_signal is not None
        except Exception:
            with pytest.raises(SignalReadError) as e:
                read_record(hea, nan_policy="keep")
            assert hea.name in str(e.value)
            errors += 1
            continue
        rec = read_record(hea, nan_policy="keep")
        np.testing.assert_allclose(rec.signal, ref.p_signal.T.astype(np.float32), rtol=1e-5, atol=1e-6,
                                   equal_nan=True, err_msg=str(hea))
        assert rec.fs == pytest.approx(float(ref.fs))
        assert rec.channels == list(ref.sig_name)
        assert rec.signal.dtype == np.float32
        read_ok += 1
    assert read_ok >= 25 and errors >= 1


def test_wfdb_storage_formats_and_names():
    root = shared("wfdb-sample")
    rec = read_record(root / "binformats.hea")
    assert rec.num_channels == 10 and rec.num_samples == 499
    flac = read_record(root / "flacformats")  # record name without suffix
    assert flac.num_channels == 3
    mat = read_record(root / "a103l.mat")  # signal file name -> its header
    assert mat.channels == ["II", "V", "PLETH"] and mat.fs == 250
    assert mat.meta["comments"] == ["Asystole", "False alarm"]


def test_nan_policy():
    root = shared("wfdb-sample")
    with pytest.raises(SignalReadError, match="NaN"):
        read_record(root / "v102s.hea")
    fixed = read_record(root / "v102s.hea", nan_policy="interpolate")
    assert np.isfinite(fixed.signal).all()
    kept = read_record(root / "v102s.hea", nan_policy="keep")
    bad = ~np.isfinite(kept.signal)
    assert bad.any()
    np.testing.assert_array_equal(fixed.signal[~bad], kept.signal[~bad])


def test_cinc_records_and_labels():
    import csv

    root = shared("cinc2021-sample")
    with open(root / "labels.csv", newline="") as f:
        expected = {r["record"]: r["dx_snomed"].split(";") for r in csv.DictReader(f)}
    headers = sorted(root.glob("*.hea"))
    assert len(headers) == 50
    for hea in headers:
        rec = read_record(hea)
        assert rec.signal.shape == (12, 5000)
        assert rec.fs == 500
        assert rec.labels == expected[rec.id]
        assert "age" in rec.meta and "sex" in rec.meta


def test_cpsc_long_record_meta():
    rec = read_record(fixture("cpsc2021-sample") / "data_101_6.hea")
    assert rec.channels == ["I", "II"] and rec.fs == 200 and rec.num_samples == 22355
    assert rec.meta["comments"] == ["paroxysmal atrial fibrillation"]


def test_csv_and_numpy_readers(tmp_path):
    sig = np.random.default_rng(0).normal(size=(3, 200)).astype(np.float32)
    csv_path = tmp_path / "r.csv"
    csv_path.write_text("I,II,V1\n" + "\n".join(",".join(f"{v:.6f}" for v in row) for row in sig.T))
    with pytest.raises(SignalReadError, match="sampling rate unknown"):
        read_record(csv_path)
    rec = read_record(csv_path, fs=250)
    assert rec.channels == ["I", "II", "V1"] and rec.fs == 250
    np.testing.assert_allclose(rec.signal, sig, atol=1e-5)
    (tmp_path / "r.json").write_text(json.dumps({"fs": 125}))
    assert read_record(csv_path).fs == 125

    npy = tmp_path / "a.npy"
    np.save(npy, sig.T)  # (T, C)
    with pytest.raises(SignalReadError, match="layout"):
        read_record(npy, fs=100)
    rec = read_record(npy, fs=100, layout="TC")
    np.testing.assert_array_equal(rec.signal, sig)
    npz = tmp_path / "b.npz"
    np.savez(npz, signal=sig, fs=np.array(360.0), layout=np.array("CT"), channels=np.array(["I", "II", "V1"]))
    rec = read_record(npz)
    assert rec.fs == 360 and rec.channels == ["I", "II", "V1"]
    np.testing.assert_array_equal(rec.signal, sig)


def _write_ok_record(folder: Path, name: str = "ok", n: int = 500) -> Path:
    sig = np.random.default_rng(1).normal(size=(n, 2)) * 0.5
    wfdb.wrsamp(name, fs=100, units=["mV", "mV"], sig_name=["I", "II"], p_signal=sig, fmt=["16", "16"],
                write_dir=str(folder))
    return folder / f"{name}.hea"


def corrupt_files(tmp_path: Path) -> dict[str, tuple[Path, dict]]:
    """At least ten distinct kinds of broken input, each with the reader options to use."""
    cases: dict[str, tuple[Path, dict]] = {}
    d = tmp_path / "trunc"
    d.mkdir()
    hea = _write_ok_record(d)
    dat = d / "ok.dat"
    dat.write_bytes(dat.read_bytes()[:300])
    cases["truncated .dat"] = (hea, {})

    d = tmp_path / "len"
    d.mkdir()
    hea = _write_ok_record(d)
    lines = hea.read_text().splitlines()
    first = lines[0].split()
    first[3] = "5000"
    hea.write_text("\n".join([" ".join(first), *lines[1:]]) + "\n")
    cases["header sample count too large"] = (hea, {})

    d = tmp_path / "mat"
    d.mkdir()
    src = fixture("cinc2021-sample")
    shutil.copy(src / "E07500.hea", d / "E07500.hea")
    cases["missing .mat"] = (d / "E07500.hea", {})

    garbage = tmp_path / "garbage.hea"
    garbage.write_text("this is not a WFDB header\n\x00\x01 binary junk")
    cases["text garbage header"] = (garbage, {})

    nan_csv = tmp_path / "nan.csv"
    nan_csv.write_text("I,II\n1,2\nnan,3\n4,5\n")
    cases["NaN samples"] = (nan_csv, {"fs": 100})

    empty = tmp_path / "empty.csv"
    empty.write_text("")
    cases["empty CSV"] = (empty, {"fs": 100})

    text_csv = tmp_path / "words.csv"
    text_csv.write_text("I,II\n1,2\nhello,3\n")
    cases["non-numeric CSV"] = (text_csv, {"fs": 100})

    npy3 = tmp_path / "cube.npy"
    np.save(npy3, np.zeros((2, 3, 4)))
    cases["wrong layout (3-D array)"] = (npy3, {"fs": 100, "layout": "CT"})

    npy = tmp_path / "nolayout.npy"
    np.save(npy, np.zeros((12, 100)))
    cases["no layout given"] = (npy, {"fs": 100})

    zero = tmp_path / "zero.npy"
    np.save(zero, np.zeros((12, 0)))
    cases["zero-length record"] = (zero, {"fs": 100, "layout": "CT"})

    dup = tmp_path / "dup.csv"
    dup.write_text("I,i\n1,2\n3,4\n")
    cases["duplicate channel names"] = (dup, {"fs": 100})

    unknown = tmp_path / "signal.xyz"
    unknown.write_text("1 2 3")
    cases["unknown format"] = (unknown, {})

    bad_npy = tmp_path / "broken.npy"
    bad_npy.write_bytes(b"\x93NUMPY garbage")
    cases["broken .npy"] = (bad_npy, {"fs": 100, "layout": "CT"})

    inf_npz = tmp_path / "inf.npz"
    np.savez(inf_npz, signal=np.array([[1.0, np.inf, 2.0]]), fs=np.array(100.0), layout=np.array("CT"))
    cases["Inf samples"] = (inf_npz, {})
    return cases


def test_corrupted_inputs_raise_signal_read_error_naming_the_file(tmp_path):
    cases = corrupt_files(tmp_path)
    assert len(cases) >= 10
    for what, (path, kwargs) in cases.items():
        with pytest.raises(SignalReadError) as e:
            read_record(path, **kwargs)
        assert isinstance(e.value, ValueError)
        assert path.name in str(e.value) or path.stem in str(e.value), (what, str(e.value))


def test_numpy_reader_names_what_a_file_lacks_not_pickles(tmp_path):
    # np.load treats anything without NumPy's header as a pickle, and its refusal ("pickled (object)
    # data") misleads for a text file that was merely named .npy
    text = tmp_path / "text.npy"
    text.write_text("0.1,0.2,0.3\n")
    with pytest.raises(SignalReadError, match=r"text\.npy: not a NumPy \.npy file \(no NumPy header"):
        read_record(text, fs=100, layout="CT")
    fake_npz = tmp_path / "fake.npz"
    fake_npz.write_text("signal")
    with pytest.raises(SignalReadError, match=r"fake\.npz: not a NumPy \.npz file \(not a zip archive\)"):
        read_record(fake_npz, fs=100)
    objects = tmp_path / "objects.npy"  # a real .npy whose payload is pickled: still refused, as before
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(SignalReadError, match="allow_pickle=False"):
        read_record(objects, fs=100, layout="CT")


def test_find_records_counts_wfdb_once_and_skips_tables(tmp_path):
    _write_ok_record(tmp_path, "rec1")
    (tmp_path / "labels.csv").write_text("file,label\nrec1.hea,A\n")
    (tmp_path / "sig.csv").write_text("I\n1\n2\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    np.save(sub / "x.npy", np.zeros((1, 10)))
    found = find_records([tmp_path])
    assert sorted(p.name for p in found) == ["rec1.hea", "sig.csv", "x.npy"]
    assert [p.name for p in find_records([str(tmp_path / "*.hea")])] == ["rec1.hea"]


def test_edf_through_wfdb(tmp_path, monkeypatch):
    from wfdb.io.convert.edf import wfdb_to_edf

    sig = np.random.default_rng(0).normal(size=(1000, 2))
    wfdb.wrsamp("r", fs=100, units=["mV", "mV"], sig_name=["I", "II"], p_signal=sig, fmt=["16", "16"],
                write_dir=str(tmp_path))
    monkeypatch.chdir(tmp_path)
    wfdb_to_edf("r", output_filename="r.edf")
    (tmp_path / "r.hea").unlink()  # the EDF alone
    rec = read_record(tmp_path / "r.edf")
    assert rec.fs == 100 and rec.channels == ["I", "II"] and rec.num_samples >= 1000
    # wfdb's EDF writer pads the last data record; the samples themselves round-trip
    np.testing.assert_allclose(rec.signal[:, :1000], sig.T, atol=1e-3)


def test_edf_that_wfdb_cannot_read_is_a_signal_read_error():
    path = shared("wfdb-sample") / "test_generator_2.edf"
    with pytest.raises(SignalReadError, match="test_generator_2.edf"):
        read_record(path)


def test_csv_reader_fast_path_errors_and_memory(tmp_path):
    import tracemalloc

    from ts_resnet.data.readers import read_csv

    # 30 minutes of 2-lead ECG at 250 Hz (450,000 rows): parsed by NumPy, not Python lists
    rng = np.random.default_rng(0)
    sig = rng.normal(size=(450_000, 2)).astype(np.float32)
    big = tmp_path / "holter.csv"
    np.savetxt(big, sig, delimiter=",", fmt="%.5f", header="I,II", comments="")
    tracemalloc.start()
    rec = read_csv(big, fs=250)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    decoded = sig.nbytes
    assert rec.signal.shape == (2, 450_000) and rec.channels == ["I", "II"]
    np.testing.assert_allclose(rec.signal, sig.T, atol=1e-5)
    assert peak < 3 * decoded, f"peak {peak / 1e6:.1f} MB for {decoded / 1e6:.1f} MB of signal"

    # empty cells -> NaN (the careful path), quoted numbers and blank lines are fine
    gaps = tmp_path / "gaps.csv"
    gaps.write_text('\nI,II\n1,"2"\n,3\n\n4,5\n')
    rec = read_csv(gaps, fs=100)
    assert rec.signal.shape == (2, 3) and np.isnan(rec.signal[0, 1]) and rec.signal[1, 0] == 2
    # precise errors: line and column of the bad value, ragged rows
    bad = tmp_path / "bad.csv"
    bad.write_text("I,II\n1,2\n3,oops\n")
    with pytest.raises(SignalReadError, match=r"bad.csv: non-numeric value 'oops' on line 3, column 2 \('II'\)"):
        read_csv(bad, fs=100)
    ragged = tmp_path / "ragged.csv"
    ragged.write_text("I,II\n1,2\n3\n")
    with pytest.raises(SignalReadError, match="line 3 has 1 columns, header has 2"):
        read_csv(ragged, fs=100)
    only_header = tmp_path / "header.csv"
    only_header.write_text("I,II\n")
    with pytest.raises(SignalReadError, match="header but no samples"):
        read_csv(only_header, fs=100)


def test_in_repo_fixtures_are_real_records():
    """tests/data: what the core tests read on a fresh clone (sources and licences in its README)."""
    import wfdb

    rec = read_record(fixture("wfdb-sample", "100.hea"))
    assert rec.channels == ["MLII", "V5"] and rec.fs == 360 and rec.num_samples == 360 * 180
    beats = wfdb.rdann(str(fixture("wfdb-sample", "100.atr"))[:-4], "atr")
    assert 200 < len(beats.sample) < 260  # ~75 bpm for 3 minutes
    ptb = read_record(fixture("wfdb-sample", "s0010_re.hea"))
    assert ptb.num_channels == 15 and ptb.fs == 1000 and ptb.num_samples == 38400
    cinc = sorted(fixture("cinc2021-sample").glob("*.hea"))
    assert len(cinc) == 5 and all(read_record(h).signal.shape == (12, 5000) for h in cinc)


def test_cropped_mitbih_fixture_equals_the_original():
    full = read_record(shared("wfdb-sample", "100.hea"))
    crop = read_record(fixture("wfdb-sample", "100.hea"))
    np.testing.assert_array_equal(crop.signal, full.signal[:, : crop.num_samples])


def _record_fields(rec: wfdb.Record) -> dict:
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in vars(rec).items()}


def test_fast_signal_specs_parses_every_header_as_wfdb_does():
    """The dict-backed view of wfdb's field table changes the speed of header parsing, not its result,
    and the real DataFrame is back afterwards (wfdb's write path needs it)."""
    from wfdb.io import _header

    from ts_resnet.data.wfdb_specs import fast_signal_specs

    tables = (_header.RECORD_SPECS, _header.SIGNAL_SPECS)
    headers = sorted(fixture("wfdb-sample").rglob("*.hea")) + sorted(fixture("cinc2021-sample").glob("*.hea"))
    from conftest import SHARED_DATA

    if (SHARED_DATA / "wfdb-sample").exists():  # the many storage formats, where available
        headers += _wfdb_headers()
    compared = 0
    for hea in headers:
        base = str(hea.with_suffix(""))
        try:
            plain = _record_fields(wfdb.rdheader(base))
        except Exception:
            continue
        with fast_signal_specs():
            assert _header.SIGNAL_SPECS is not tables[1] and _header.RECORD_SPECS is not tables[0]
            fast = _record_fields(wfdb.rdheader(base))
        assert fast == plain, hea
        compared += 1
    assert _header.RECORD_SPECS is tables[0] and _header.SIGNAL_SPECS is tables[1]
    assert compared >= 5


def test_wfdb_reads_fall_back_to_the_plain_tables(monkeypatch, tmp_path):
    """If a future wfdb asks its field tables for something the dict view lacks, records still read."""
    from ts_resnet.data import wfdb_specs

    hea = fixture("cinc2021-sample", "E07500.hea")
    expected = read_record(hea).signal
    monkeypatch.setattr(wfdb_specs._SpecsView, "__getitem__", lambda self, key: (_ for _ in ()).throw(KeyError(key)))
    monkeypatch.setattr(wfdb_specs, "_SWAP", None)  # rebuild the views with the broken lookup
    np.testing.assert_array_equal(read_record(hea).signal, expected)
    shutil.copy(hea, tmp_path / hea.name)  # the header without its .mat signal file
    with pytest.raises(SignalReadError, match="missing"):  # wfdb's own errors still come through
        read_record(tmp_path / hea.name)
