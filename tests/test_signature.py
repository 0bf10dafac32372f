"""Model signatures: inference, the manifest form, the validation diff, and conform for predict."""

from __future__ import annotations

import datetime as dt
import json
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import assume, given
from hypothesis import strategies as st

from loopml.core.errors import InvalidInput
from loopml.models.signature import (
    ColumnSpec,
    ColumnType,
    Problem,
    Signature,
    SignatureDiff,
    SignatureMismatch,
    infer_signature,
)


def _training_frame(n: int = 200, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    carriers = np.array(["AA", "B6", "DL", "UA", "WN"])
    return pd.DataFrame(
        {
            "dep_delay": rng.normal(10.0, 30.0, n).round(3) + rng.random(n) * 1e-6,
            "distance": rng.integers(100, 3000, n),
            "carrier": carriers[rng.integers(0, len(carriers), n)],
            # categories deliberately not in sorted order: codes depend on the dtype
            "origin": pd.Categorical(
                np.array(["LGA", "JFK", "EWR"])[rng.integers(0, 3, n)],
                categories=["LGA", "JFK", "EWR"],
            ),
            "weekend": rng.random(n) < 0.3,
            "sched": pd.Timestamp("2013-01-01", tz="UTC")
            + pd.to_timedelta(rng.integers(0, 10**6, n), unit="s"),
        }
    )


def _json_records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """What a client sends: JSON objects, nulls as null, datetimes as ISO strings."""

    def plain(value: Any) -> Any:
        if pd.api.types.is_scalar(value) and pd.isna(value):
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
        return value.item() if isinstance(value, np.generic) else value

    rows = [{k: plain(v) for k, v in row.items()} for row in df.astype(object).to_dict("records")]
    return list(json.loads(json.dumps(rows)))


def _kinds(diff: SignatureDiff) -> list[tuple[str, str, str]]:
    return [(p.kind, p.column, p.severity) for p in diff.problems]


# --------------------------------------------------------------------------------------------
# Inference


@pytest.mark.parametrize(
    ("values", "expected_type", "nullable", "dtype"),
    [
        (pd.Series([1, 2, 3]), ColumnType.INTEGER, False, "int64"),
        (pd.Series([1, 2], dtype="uint8"), ColumnType.INTEGER, False, "uint8"),
        (pd.Series([1, None, 3], dtype="Int64"), ColumnType.INTEGER, True, "Int64"),
        (pd.Series([1.5, np.nan]), ColumnType.FLOAT, True, "float64"),
        (pd.Series([1.5, 2.5], dtype="float32"), ColumnType.FLOAT, False, "float32"),
        (pd.Series([0.5, None], dtype="Float64"), ColumnType.FLOAT, True, "Float64"),
        (pd.Series([True, False]), ColumnType.BOOLEAN, False, "bool"),
        (pd.Series([True, None], dtype="boolean"), ColumnType.BOOLEAN, True, "boolean"),
        (pd.Series([True, None], dtype=object), ColumnType.BOOLEAN, True, "object"),
        (pd.Series(["a", "b"], dtype=object), ColumnType.STRING, False, "object"),
        (pd.Series(["a", None], dtype="string"), ColumnType.STRING, True, "string"),
        (pd.Series(pd.to_datetime(["2020-01-01", None])), ColumnType.DATETIME, True, None),
        (pd.Series([b"raw", 1, "mixed"]), ColumnType.OBJECT, False, "object"),
        (pd.Series(pd.to_timedelta([1, 2], unit="s")), ColumnType.OBJECT, False, None),
    ],
)
def test_infer_column_types(
    values: pd.Series[Any], expected_type: ColumnType, nullable: bool, dtype: str | None
) -> None:
    spec = infer_signature(pd.DataFrame({"x": values})).inputs[0]
    assert spec.type is expected_type
    assert spec.nullable is nullable
    assert spec.dtype == (dtype if dtype is not None else str(values.dtype))


def test_infer_default_string_dtype_and_sorted_domain() -> None:
    frame = pd.DataFrame({"s": ["b", "a", None, "b"]})  # pandas' default string dtype
    spec = infer_signature(frame).inputs[0]
    assert spec.type is ColumnType.STRING
    assert spec.nullable
    assert spec.categories == ("a", "b")
    assert spec.dtype == str(frame["s"].dtype)


def test_infer_string_domain_only_up_to_max_categories() -> None:
    frame = pd.DataFrame({"s": [f"v{i}" for i in range(60)]})
    assert infer_signature(frame).inputs[0].categories is None
    assert infer_signature(frame, max_categories=60).inputs[0].categories is not None
    assert infer_signature(frame[:3], max_categories=0).inputs[0].categories is None


def test_infer_categorical_keeps_dtype_order_and_ordered_flag() -> None:
    frame = pd.DataFrame(
        {
            "size": pd.Categorical(["m", "s", "l"], categories=["s", "m", "l"], ordered=True),
            "code": pd.Categorical([3, 1, None]),
        }
    )
    size, code = infer_signature(frame).inputs
    assert (size.type, size.categories, size.ordered, size.nullable) == (
        ColumnType.CATEGORY,
        ("s", "m", "l"),
        True,
        False,
    )
    assert (code.categories, code.ordered, code.nullable) == ((1, 3), False, True)
    assert all(type(v) is int for v in code.categories or ())  # python ints, not numpy


def test_infer_tz_aware_datetime() -> None:
    stamps = pd.to_datetime(["2024-03-31 01:30", "2024-10-27 03:00"]).tz_localize("Europe/Paris")
    spec = infer_signature(pd.DataFrame({"t": stamps})).inputs[0]
    assert spec.type is ColumnType.DATETIME
    assert spec.dtype.endswith("Europe/Paris]")


def test_infer_from_mapping() -> None:
    sig = infer_signature({"a": [1, 2], "b": ["x", "y"]})
    assert sig.names == ("a", "b")
    assert [s.type for s in sig.inputs] == [ColumnType.INTEGER, ColumnType.STRING]


@pytest.mark.parametrize(
    ("predictions", "names", "types"),
    [
        (np.array([0.1, 0.2]), ("prediction",), (ColumnType.FLOAT,)),
        ([0, 1], ("prediction",), (ColumnType.INTEGER,)),
        (pd.Series(["no", "yes"], name="label"), ("label",), (ColumnType.STRING,)),
        (pd.Series([1.0, 2.0]), ("prediction",), (ColumnType.FLOAT,)),
        (np.zeros((2, 2)), ("prediction_0", "prediction_1"), (ColumnType.FLOAT,) * 2),
        (pd.DataFrame({"p": [0.5], 1: [True]}), ("p", "1"), (ColumnType.FLOAT, ColumnType.BOOLEAN)),
        (None, (), ()),
    ],
)
def test_infer_outputs(predictions: Any, names: tuple[str, ...], types: tuple[ColumnType]) -> None:
    sig = infer_signature(pd.DataFrame({"x": [1, 2]}), predictions)
    assert tuple(s.name for s in sig.outputs) == names
    assert tuple(s.type for s in sig.outputs) == types


def test_infer_output_labels_record_the_classes() -> None:
    sig = infer_signature(pd.DataFrame({"x": [1, 2, 3]}), np.array(["no", "yes", "no"]))
    assert sig.outputs[0].categories == ("no", "yes")


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ([1, 2, 3], "must be a pandas DataFrame or a mapping.*got list"),
        (np.zeros((2, 2)), "must be a pandas DataFrame or a mapping.*got ndarray"),
        (pd.Series([1, 2]), "must be a pandas DataFrame or a mapping.*got Series"),
        ({"a": [1, 2], "b": [1]}, "must map column names to equal-length sequences"),
        ({"a": 1}, "must map column names to equal-length sequences"),
        (pd.DataFrame([[1, 2]], columns=["a", "a"]), r"must name each column once; got 'a'"),
        (pd.DataFrame([[1, 2]]), "column names must be non-empty strings; got 0"),
        (pd.DataFrame({"": [1]}), "column names must be non-empty strings"),
    ],
)
def test_infer_rejects_non_tabular_input(data: Any, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        infer_signature(data)


def test_infer_rejects_bad_predictions_and_max_categories() -> None:
    frame = pd.DataFrame({"x": [1, 2]})
    with pytest.raises(InvalidInput, match=r"predictions must be 1-d or 2-d.*shape \(2, 2, 2\)"):
        infer_signature(frame, np.zeros((2, 2, 2)))
    with pytest.raises(InvalidInput, match="max_categories must be a non-negative integer"):
        infer_signature(frame, max_categories=-1)


# --------------------------------------------------------------------------------------------
# The manifest form


def _rich_signature() -> Signature:
    frame = _training_frame(20)
    frame["n"] = pd.array([1, None] * 10, dtype="Int64")
    frame["size"] = pd.Categorical(["s", "m"] * 10, categories=["s", "m", "l"], ordered=True)
    return infer_signature(frame, np.zeros((20, 2)))


def _leaves_are_plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _leaves_are_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_leaves_are_plain(v) for v in value)
    return value is None or type(value) in (str, int, float, bool)


def test_to_dict_is_plain_data() -> None:
    sig = _rich_signature()
    d = sig.to_dict()
    assert _leaves_are_plain(d)
    assert d["inputs"][3] == {
        "name": "origin",
        "type": "category",
        "nullable": False,
        "categories": ["LGA", "JFK", "EWR"],
        "dtype": "category",
    }


@pytest.mark.parametrize(
    "through",
    [
        lambda d: d,
        lambda d: json.loads(json.dumps(d)),
        lambda d: yaml.safe_load(yaml.safe_dump(d)),
    ],
    ids=["dict", "json", "yaml"],
)
def test_round_trip(through: Any) -> None:
    sig = _rich_signature()
    back = Signature.from_dict(through(sig.to_dict()))
    assert back == sig
    assert back.names == sig.names
    for spec in sig.inputs:
        assert ColumnSpec.from_dict(through(spec.to_dict())) == spec


def _one(**spec: Any) -> dict[str, Any]:
    return {"inputs": [{"name": "a", "type": "float", **spec}]}


@pytest.mark.parametrize(
    ("d", "match"),
    [
        ([], "signature must be a mapping; got list"),
        ({}, "signature must have 'inputs'"),
        ({"inputs": [], "extra": 1}, "may only have the keys inputs, outputs; got extra"),
        ({"inputs": {"name": "a"}}, "signature inputs must be a list"),
        ({"inputs": [], "outputs": "prediction"}, "signature outputs must be a list"),
        ({"inputs": ["a"]}, "column spec must be a mapping; got str"),
        ({"inputs": [{"type": "float"}]}, "column spec must have a 'name'"),
        ({"inputs": [{"name": "a"}]}, "column spec must have a 'type'"),
        (_one(name=""), "name must be a non-empty string"),
        (_one(name=3), "name must be a non-empty string; got 3"),
        (_one(type="flaot"), "type must be one of integer, float.*; got 'flaot'"),
        (_one(nullable="yes"), "nullable must be true or false; got 'yes'"),
        (_one(nulable=True), "may only have the keys.*; got nulable"),
        (_one(dtype=3), "dtype must be a string"),
        (_one(type="string", categories="ab"), "categories must be a list"),
        (_one(type="string", categories=[None]), "must hold strings, numbers or booleans"),
        (_one(type="string", categories=[[1]]), "must hold strings, numbers or booleans"),
        (_one(type="string", categories=[float("nan")]), "must hold strings, numbers"),
        (_one(type="string", categories=["x", "x"]), "must not repeat a value"),
        (_one(categories=[1.0]), "may only be given for a string or category column"),
        (_one(type="string", ordered=True), "may only be true for a category column"),
        ({"inputs": [{"name": "a", "type": "float"}] * 2}, "once; got 'a' repeated"),
    ],
)
def test_from_dict_rejects_malformed(d: Any, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        Signature.from_dict(d)


def test_signature_constructor_checks() -> None:
    spec = ColumnSpec("a", ColumnType.FLOAT)
    with pytest.raises(InvalidInput, match="must name each column once"):
        Signature((spec, spec))
    with pytest.raises(InvalidInput, match="must hold ColumnSpec objects"):
        Signature(("a",))  # type: ignore[arg-type]
    assert Signature([spec]).inputs == (spec,)  # type: ignore[arg-type]
    assert ColumnSpec("a", "float").type is ColumnType.FLOAT  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Validation: one test per problem kind


@pytest.fixture
def sig() -> Signature:
    return infer_signature(_training_frame())


def test_a_valid_frame_has_no_problems(sig: Signature) -> None:
    diff = sig.validate(_training_frame(50, seed=3))
    assert diff.ok
    assert diff.problems == ()
    assert str(diff) == "the frame matches the model signature"


def test_column_order_is_not_a_problem(sig: Signature) -> None:
    frame = _training_frame(10)
    assert sig.validate(frame[list(reversed(frame.columns))]).problems == ()


def test_unknown_and_missing_columns(sig: Signature) -> None:
    frame = _training_frame(10).drop(columns=["carrier"]).assign(tailnum="N1")
    diff = sig.validate(frame)
    assert _kinds(diff) == [
        ("missing_column", "carrier", "error"),
        ("unknown_column", "tailnum", "error"),
    ]
    assert diff.missing_columns == ("carrier",)
    assert diff.unknown_columns == ("tailnum",)
    assert diff.problems[0].expected == "string"
    assert "allow_extra_columns=True" in diff.problems[1].message
    relaxed = sig.validate(frame, allow_extra_columns=True)
    assert [p.severity for p in relaxed.problems] == ["error", "warning"]
    assert relaxed.warnings[0].column == "tailnum"


def test_duplicate_columns_are_reported_not_raised(sig: Signature) -> None:
    frame = _training_frame(4)
    frame = pd.concat([frame, frame[["distance"]]], axis=1)
    diff = sig.validate(frame)
    assert _kinds(diff) == [("duplicate_column", "distance", "error")]
    assert diff.problems[0].count == 2


def test_wrong_type_float_gets_strings(sig: Signature) -> None:
    frame = _training_frame(6).astype({"dep_delay": object})
    frame.loc[[1, 3, 4], "dep_delay"] = ["abc", "abc", "1.5"]
    problem = sig.validate(frame).errors[0]
    assert (problem.kind, problem.column, problem.expected, problem.got) == (
        "wrong_type",
        "dep_delay",
        "float",
        "string",
    )
    assert problem.count == 3
    assert problem.examples == ("abc", "1.5")  # distinct, in order of appearance
    assert "column 'dep_delay' must hold float values; got 'abc', '1.5' (string) in 3 rows" in (
        problem.message
    )


def test_float_accepts_ints_but_not_bools(sig: Signature) -> None:
    frame = _training_frame(5)
    assert sig.validate(frame.assign(dep_delay=[1, 2, 3, 4, 5])).ok
    problem = sig.validate(frame.assign(dep_delay=[True] * 5)).errors[0]
    assert (problem.kind, problem.got, problem.count, problem.examples) == (
        "wrong_type",
        "boolean",
        5,
        (True,),
    )


def test_integer_accepts_integral_floats_only(sig: Signature) -> None:
    frame = _training_frame(5)
    assert sig.validate(frame.assign(distance=[1.0, 2.0, 3.0, 4.0, 5.0])).ok
    problem = sig.validate(frame.assign(distance=[1.0, 2.5, 3.0, np.inf, 2.5])).errors[0]
    assert (problem.kind, problem.column, problem.got, problem.count) == (
        "wrong_type",
        "distance",
        "float",
        3,
    )
    assert problem.examples == (2.5, "inf")  # JSON-safe: inf as text
    assert sig.validate(frame.assign(distance=[1e19] * 5)).errors[0].kind == "wrong_type"


def test_integer_from_json_with_nulls_is_float() -> None:
    sig = infer_signature(pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}))
    request = pd.DataFrame.from_records([{"n": 3}, {"n": None}])
    assert request["n"].dtype == np.float64
    assert sig.validate(request).ok


def test_boolean_accepts_object_bools_rejects_others() -> None:
    sig = infer_signature(pd.DataFrame({"b": [True, False]}))
    assert sig.validate(pd.DataFrame({"b": pd.Series([True, False], dtype=object)})).ok
    diff = sig.validate(pd.DataFrame({"b": pd.Series([True, "yes", 1, "yes"], dtype=object)}))
    problem = diff.errors[0]
    assert (problem.count, problem.examples, problem.got) == (3, ("yes", 1), "string, integer")


def test_string_rejects_numbers_mixed_in(sig: Signature) -> None:
    frame = _training_frame(6).astype({"carrier": object})
    frame.loc[[0, 5], "carrier"] = [12, 3.5]
    problem = sig.validate(frame).errors[0]
    assert (problem.kind, problem.column, problem.count, problem.examples) == (
        "wrong_type",
        "carrier",
        2,
        (12, 3.5),
    )
    assert problem.got == "integer, float"


def test_string_rejects_a_numeric_column(sig: Signature) -> None:
    frame = _training_frame(4).assign(carrier=[1, 2, 3, 4])
    problem = sig.validate(frame).errors[0]
    assert (problem.kind, problem.got, problem.count) == ("wrong_type", "integer", 4)


def test_datetime_parses_iso_strings(sig: Signature) -> None:
    frame = _training_frame(4)
    good = frame.assign(sched=["2013-01-01T05:00:00Z", "2013-01-02", "2013-01-03 10:00", None])
    assert _kinds(sig.validate(good)) == [("null_not_allowed", "sched", "error")]
    bad = frame.assign(sched=["2013-01-01", "not a date", "32/13/2013", "not a date"])
    problem = sig.validate(bad).errors[0]
    assert (problem.kind, problem.count, problem.examples) == (
        "wrong_type",
        3,
        ("not a date", "32/13/2013"),
    )
    numbers = sig.validate(frame.assign(sched=[1, 2, 3, 4])).errors[0]
    assert (numbers.kind, numbers.got) == ("wrong_type", "integer")


def test_category_accepts_strings_rejects_numbers(sig: Signature) -> None:
    frame = _training_frame(4)
    assert sig.validate(frame.assign(origin=["JFK", "EWR", "LGA", "JFK"])).ok
    problem = sig.validate(frame.assign(origin=[1, 2, 3, 4])).errors[0]
    assert (problem.kind, problem.column, problem.expected) == ("wrong_type", "origin", "category")


def test_null_not_allowed_counts_rows(sig: Signature) -> None:
    frame = _training_frame(10)
    frame.loc[[2, 4, 6], "dep_delay"] = np.nan
    problem = sig.validate(frame).errors[0]
    assert (problem.kind, problem.column, problem.count) == ("null_not_allowed", "dep_delay", 3)
    assert "3 null rows of 10" in problem.message


def test_all_null_column_is_not_a_wrong_type() -> None:
    sig = infer_signature(pd.DataFrame({"s": ["a", None]}))
    assert sig.validate(pd.DataFrame({"s": [np.nan, np.nan]})).ok


@pytest.mark.parametrize(
    ("policy", "severity"), [("warn", "warning"), ("error", "error"), ("ignore", None)]
)
def test_unknown_category_policy(sig: Signature, policy: Any, severity: str | None) -> None:
    frame = _training_frame(6)
    frame["carrier"] = ["AA", "ZZ", "ZZ", "QQ", "AA", "ZZ"]
    frame["origin"] = ["JFK", "JFK", "BOS", "JFK", "JFK", "JFK"]
    diff = sig.validate(frame, category_policy=policy)
    if severity is None:
        assert diff.problems == ()
        return
    assert _kinds(diff) == [
        ("unknown_category", "carrier", severity),
        ("unknown_category", "origin", severity),
    ]
    carrier = diff.problems[0]
    assert (carrier.count, carrier.examples) == (4, ("ZZ", "QQ"))
    assert diff.ok is (policy == "warn")


def test_max_examples_caps_examples_not_count(sig: Signature) -> None:
    frame = _training_frame(30).astype({"dep_delay": object})
    frame["dep_delay"] = [f"bad{i}" for i in range(30)]
    problem = sig.validate(frame, max_examples=2).errors[0]
    assert (problem.count, problem.examples) == (30, ("bad0", "bad1"))
    assert "'bad0', 'bad1', ..." in problem.message
    assert sig.validate(frame, max_examples=0).errors[0].examples == ()


def test_empty_frame_is_checked_structurally_only(sig: Signature) -> None:
    empty = pd.DataFrame({name: pd.Series([], dtype=object) for name in sig.names})
    assert sig.validate(empty).problems == ()
    assert _kinds(sig.validate(empty.drop(columns="carrier"))) == [
        ("missing_column", "carrier", "error")
    ]


def test_diff_is_json_ready_and_readable(sig: Signature) -> None:
    frame = _training_frame(5)
    delays: list[Any] = frame["dep_delay"].tolist()
    delays[0] = {"nested": 1}
    sched: list[Any] = frame["sched"].tolist()
    sched[1] = dt.date(2013, 1, 1)  # a date object is a datetime value
    sched[2] = b"bytes"
    frame["dep_delay"] = pd.Series(delays, dtype=object)
    frame["sched"] = pd.Series(sched, dtype=object)
    frame["extra"] = 1
    diff = sig.validate(frame, allow_extra_columns=True)
    payload = json.loads(json.dumps(diff.to_dict(), allow_nan=False))
    assert payload["ok"] is False
    assert [p["kind"] for p in payload["problems"]] == [
        "unknown_column",
        "wrong_type",
        "wrong_type",
    ]
    assert payload["problems"][1]["examples"] == ["{'nested': 1}"]
    assert payload["problems"][2]["got"] == "bytes"
    text = str(diff)
    assert text.splitlines()[0] == "2 errors, 1 warning:"
    assert "  error: column 'dep_delay' must hold float values" in text


def test_validate_rejects_bad_calls(sig: Signature) -> None:
    with pytest.raises(InvalidInput, match="must be a pandas DataFrame; got list"):
        sig.validate([{"dep_delay": 1.0}])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="category_policy must be one of warn, error, ignore"):
        sig.validate(_training_frame(2), category_policy="loud")  # type: ignore[arg-type]


def test_raise_for_errors(sig: Signature) -> None:
    frame = _training_frame(3).drop(columns=["carrier", "origin", "weekend", "sched"])
    diff = sig.validate(frame.assign(x=1))
    assert len(diff.errors) == 5
    with pytest.raises(SignatureMismatch, match=r"\(5 errors\): column 'carrier'.*and 2 more") as e:
        diff.raise_for_errors()
    assert isinstance(e.value, InvalidInput)
    assert e.value.code == "SIGNATURE_MISMATCH"
    assert e.value.diff is diff
    again = pickle.loads(pickle.dumps(e.value))
    assert (str(again), again.diff) == (str(e.value), diff)
    SignatureDiff((Problem("unknown_column", "x", "warning", "w"),)).raise_for_errors()


# --------------------------------------------------------------------------------------------
# Conform


def test_conform_fast_path_returns_the_same_object(sig: Signature) -> None:
    frame = _training_frame(20)
    assert sig.conform(frame) is frame


def test_conform_reorders_and_converts_without_touching_input(sig: Signature) -> None:
    original = _training_frame(8)
    frame = original[list(reversed(original.columns))].assign(
        dep_delay=np.arange(8), distance=original["distance"].astype(float)
    )
    before = frame.copy()
    out = sig.conform(frame)
    pd.testing.assert_frame_equal(frame, before)
    assert list(out.columns) == list(sig.names)
    assert out["dep_delay"].dtype == np.float64
    assert out["dep_delay"].tolist() == list(range(8))
    assert out["distance"].dtype == np.int64
    assert out.index.equals(frame.index)


def test_conform_raises_signature_mismatch(sig: Signature) -> None:
    with pytest.raises(SignatureMismatch, match="column 'distance' must hold integer values"):
        sig.conform(_training_frame(3).assign(distance=[1.5, 2.0, 3.0]))
    with pytest.raises(SignatureMismatch, match="'tailnum' is not in the model signature"):
        sig.conform(_training_frame(3).assign(tailnum="N1"))
    out = sig.conform(_training_frame(3).assign(tailnum="N1"), allow_extra_columns=True)
    assert list(out.columns) == list(sig.names)


def test_conform_nullable_int_keeps_nulls() -> None:
    sig = infer_signature(pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}))
    out = sig.conform(pd.DataFrame.from_records([{"n": 3}, {"n": None}]))
    assert out["n"].dtype == "Int64"
    assert out["n"].isna().tolist() == [False, True]


def test_conform_unknown_category_becomes_missing(sig: Signature) -> None:
    frame = _training_frame(3).assign(origin=["JFK", "BOS", "EWR"])
    out = sig.conform(frame)
    assert list(out["origin"].cat.categories) == ["LGA", "JFK", "EWR"]
    assert out["origin"].isna().tolist() == [False, True, False]
    with pytest.raises(SignatureMismatch, match="unseen 'BOS'"):
        sig.conform(frame, category_policy="error")


def test_conform_json_records_restore_training_dtypes(sig: Signature) -> None:
    original = _training_frame(50)
    request = pd.DataFrame.from_records(_json_records(original))
    assert not request.dtypes.equals(original.dtypes)  # str, not category; str, not datetime
    assert sig.validate(request).ok
    pd.testing.assert_frame_equal(sig.conform(request), original)


def test_conform_datetime_timezones() -> None:
    aware = infer_signature(pd.DataFrame({"t": pd.to_datetime(["2020-01-01"], utc=True)}))
    out = aware.conform(pd.DataFrame({"t": ["2020-01-01T02:00:00+02:00", "2020-01-01"]}))
    assert out["t"].tolist() == [pd.Timestamp("2020-01-01", tz="UTC")] * 2
    naive = infer_signature(pd.DataFrame({"t": pd.to_datetime(["2020-01-01"])}))
    out = naive.conform(pd.DataFrame({"t": ["2020-01-01T02:00:00+02:00"]}))
    assert str(out["t"].dtype) == naive.inputs[0].dtype
    assert out["t"].tolist() == [pd.Timestamp("2020-01-01")]


def test_conform_recodes_a_categorical_in_another_order(sig: Signature) -> None:
    frame = _training_frame(6)
    shuffled = frame.assign(origin=frame["origin"].cat.reorder_categories(["EWR", "LGA", "JFK"]))
    out = sig.conform(shuffled)
    assert out is not shuffled
    assert list(out["origin"].cat.categories) == ["LGA", "JFK", "EWR"]
    assert out["origin"].tolist() == frame["origin"].tolist()


def test_string_column_accepts_a_categorical_of_strings(sig: Signature) -> None:
    frame = _training_frame(6)
    as_category = frame.assign(carrier=frame["carrier"].astype("category"))
    assert sig.validate(as_category).ok
    assert sig.conform(as_category)["carrier"].dtype == frame["carrier"].dtype
    numbers = frame.assign(carrier=pd.Categorical([1, 2, 1, 2, 1, 2]))
    assert sig.validate(numbers).errors[0].kind == "wrong_type"


def test_conform_never_wraps_integers_around() -> None:
    sig = infer_signature(pd.DataFrame({"n": pd.Series([1, 2], dtype="uint8")}))
    out = sig.conform(pd.DataFrame({"n": [3, 300]}))
    assert out["n"].tolist() == [3, 300]
    assert sig.conform(pd.DataFrame({"n": [3, 4]}))["n"].dtype == np.uint8


def test_non_string_labels_in_a_request_are_reported() -> None:
    sig = infer_signature(pd.DataFrame({"0": [1.0]}))
    diff = sig.validate(pd.DataFrame({0: [1.0]}))
    assert (diff.missing_columns, diff.unknown_columns) == (("0",), ("0",))


def test_predictions_after_manifest_round_trip_are_bit_identical() -> None:
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    train = _training_frame(300)
    target = (train["dep_delay"] > 15).to_numpy()
    features = ["dep_delay", "distance", "carrier", "origin", "weekend"]
    linear = make_pipeline(
        ColumnTransformer(
            [
                ("onehot", OneHotEncoder(handle_unknown="ignore"), ["carrier", "origin"]),
                ("scale", StandardScaler(), ["dep_delay", "distance"]),
            ],
            remainder="passthrough",
        ),
        LogisticRegression(max_iter=500),
    ).fit(train[features], target)
    trees = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0)
    trees.fit(train[["dep_delay", "distance", "origin"]], target)

    manifest = yaml.safe_dump(infer_signature(train[features]).to_dict())
    sig = Signature.from_dict(yaml.safe_load(manifest))
    fresh = _training_frame(100, seed=11)[features]
    request = pd.DataFrame.from_records(_json_records(fresh))
    conformed = sig.conform(request)
    for model, columns in ((linear, features), (trees, ["dep_delay", "distance", "origin"])):
        expected = model.predict_proba(fresh[columns])
        assert np.array_equal(model.predict_proba(conformed[columns]), expected)
    assert sig.conform(fresh) is fresh


# --------------------------------------------------------------------------------------------
# Property: a frame always matches the signature inferred from itself


@st.composite
def frames(
    draw: st.DrawFn,
    makers: list[tuple[Any, st.SearchStrategy[Any]]] | None = None,
    min_rows: int = 0,
) -> pd.DataFrame:
    n = draw(st.integers(min_rows, 12))
    kinds = draw(st.lists(st.sampled_from(makers or _COLUMN_MAKERS), min_size=1, max_size=6))
    columns = {}
    for i, (make, elements) in enumerate(kinds):
        values = draw(st.lists(elements, min_size=n, max_size=n))
        columns[f"c{i}"] = make(values)
    return pd.DataFrame(columns)


_datetimes = st.datetimes(dt.datetime(1900, 1, 1), dt.datetime(2200, 1, 1))
_COLUMN_MAKERS: list[tuple[Any, st.SearchStrategy[Any]]] = [
    (lambda v: pd.Series(v, dtype="int64"), st.integers(-(2**63), 2**63 - 1)),
    (lambda v: pd.Series(v, dtype="Int64"), st.none() | st.integers(-(2**40), 2**40)),
    (lambda v: pd.Series(v, dtype="float64"), st.none() | st.floats()),
    (lambda v: pd.Series(v, dtype="bool"), st.booleans()),
    (lambda v: pd.Series(v, dtype="boolean"), st.none() | st.booleans()),
    (lambda v: pd.Series(v, dtype=object), st.none() | st.booleans()),
    (lambda v: pd.Series(v), st.none() | st.text(max_size=5)),
    (lambda v: pd.Series(v, dtype=object), st.none() | st.text(max_size=5)),
    (lambda v: pd.Series(v, dtype="category"), st.none() | st.sampled_from(["a", "b", "c"])),
    (lambda v: pd.Series(v, dtype="category"), st.none() | st.integers(0, 3)),
    (lambda v: pd.Series(pd.to_datetime(v)), st.none() | _datetimes),
    (lambda v: pd.Series(pd.to_datetime(v, utc=True)).dt.tz_convert("Asia/Kolkata"), _datetimes),
    (lambda v: pd.Series(v, dtype=object), st.none() | st.integers() | st.text() | st.binary()),
]


@given(frames())
def test_a_frame_matches_its_own_signature(frame: pd.DataFrame) -> None:
    sig = infer_signature(frame)
    diff = sig.validate(frame, category_policy="error")
    assert diff.problems == (), str(diff)
    assert sig.conform(frame) is frame
    assert Signature.from_dict(json.loads(json.dumps(sig.to_dict()))) == sig


_recent = st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2100, 1, 1))
#: Columns a JSON client can reproduce exactly (object columns are left out: their nulls come
#: back as NaN rather than None, and a Categorical needs at least one value to know its type).
_JSON_MAKERS: list[tuple[Any, st.SearchStrategy[Any]]] = [
    *_COLUMN_MAKERS[:5],
    _COLUMN_MAKERS[6],
    (lambda v: pd.Series(v, dtype="category"), st.sampled_from(["a", "b", "c"])),
    (lambda v: pd.Series(v, dtype="category"), st.none() | st.integers(0, 3)),
    (lambda v: pd.Series(pd.to_datetime(v)), st.none() | _recent),
    (lambda v: pd.Series(pd.to_datetime(v, utc=True)).dt.tz_convert("Asia/Kolkata"), _recent),
]


@given(st.data())
def test_json_records_conform_back_to_the_training_frame(data: st.DataObject) -> None:
    frame = data.draw(frames(_JSON_MAKERS, min_rows=1))
    # an all-null Categorical has no categories to tell its type by
    assume(
        not any(isinstance(t, pd.CategoricalDtype) and not len(t.categories) for t in frame.dtypes)
    )
    frame = frame.apply(lambda c: c.where(np.isfinite(c)) if c.dtype == np.float64 else c)
    request = pd.DataFrame.from_records(_json_records(frame), columns=list(frame.columns))
    conformed = infer_signature(frame).conform(request)
    pd.testing.assert_frame_equal(conformed, frame)
