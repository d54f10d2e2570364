"""Signal-quality flags on real records: none on clean ones, the right flag for each injected fault."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from conftest import fixture

from ts_resnet.data import read_record
from ts_resnet.data.records import Record
from ts_resnet.data.transforms import STANDARD_12_LEADS
from ts_resnet.quality import assess

CLEAN = ["E07500", "E07501", "HR06000", "HR06001", "JS20000"]


def _rec(name: str) -> Record:
    return read_record(fixture("cinc2021-sample", f"{name}.hea"), nan_policy="keep")


def _with(rec: Record, signal: np.ndarray) -> Record:
    return Record(signal.astype(np.float32), rec.fs, rec.channels, rec.units, rec.id, rec.labels, rec.meta, rec.path)


@pytest.mark.parametrize("name", CLEAN)
def test_unmodified_real_records_have_no_flags(name):
    rec = _rec(name)
    assert assess(rec, STANDARD_12_LEADS, min_samples=int(5 * rec.fs)) == []


def test_wfdb_fixtures_have_no_flags():
    for name in ("100", "s0010_re"):
        assert assess(read_record(fixture("wfdb-sample", f"{name}.hea"), nan_policy="keep")) == []


def test_each_injected_fault_is_flagged_on_its_lead():
    rec = _rec("E07500")
    x = rec.signal.astype(np.float64).copy()
    i = {c: k for k, c in enumerate(rec.channels)}
    x[i["V3"]] = 0.0  # electrode off
    v = x[i["II"]]
    x[i["II"]] = np.clip(v, np.percentile(v, 3), np.percentile(v, 97))  # amplifier saturation
    t = np.arange(x.shape[1]) / rec.fs
    x[i["aVL"]] += 1.0 * np.sin(2 * np.pi * 50 * t)  # 50 Hz mains, 1 mV
    x[i["V5"], 1000:1400] = np.nan  # an 8% gap
    x[i["V1"]] *= 40  # a gain error: tens of mV
    flags = assess(_with(rec, x), STANDARD_12_LEADS, min_samples=int(20 * rec.fs))
    assert set(flags) == {"flat:V3", "clipped:II", "noise:aVL", "nan:V5(8%)", "amplitude:V1", "short"}
    assert assess(_with(rec, x), ["I", "V4"]) == []  # only the model's leads are looked at


def test_classify_quality_column_and_policies(tmp_path):
    import wfdb

    from ts_resnet.cli.main import main

    model = fixture("models", "demo-0.2.0.ckpt")
    folder = tmp_path / "recs"
    folder.mkdir()
    rec = _rec("HR06000")
    x = rec.signal.copy()
    x[7] = 0.0  # V2 flat
    wfdb.wrsamp("bad", fs=rec.fs, units=rec.units, sig_name=rec.channels, p_signal=x.T.astype(np.float64),
                fmt=["16"] * 12, adc_gain=[1000.0] * 12, baseline=[0] * 12, write_dir=str(folder))
    paths = [str(fixture("cinc2021-sample", "HR06001.hea")), str(folder / "bad.hea")]
    out = tmp_path / "warn.csv"
    assert main(["classify", "-m", str(model), *paths, "-o", str(out), "-q"]) == 0  # warn: classify and flag
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert rows["HR06001"]["quality"] == "ok" and rows["bad"]["quality"] == "flat:V2"
    out = tmp_path / "skip.csv"
    assert main(["classify", "-m", str(model), *paths, "-o", str(out), "--on-poor-quality", "skip", "-q"]) == 0
    assert [r["id"] for r in csv.DictReader(io.StringIO(out.read_text()))] == ["HR06001"]
    out = tmp_path / "fail.json"
    assert main(["classify", "-m", str(model), *paths, "-o", str(out), "--on-poor-quality", "fail", "-q"]) == 1
    assert "poor signal quality: flat:V2" in out.read_text()
    out = tmp_path / "off.csv"
    assert main(["classify", "-m", str(model), *paths, "-o", str(out), "--on-poor-quality", "off", "-q"]) == 0
    assert {r["quality"] for r in csv.DictReader(io.StringIO(out.read_text()))} == {""}
