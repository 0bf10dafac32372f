"""Ensembles: voting and stacking of zoo models and baselines load without trust and predict
bit for bit the same; a LightGBM member needs trust, and says so beforehand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import StackingClassifier, VotingClassifier

import loopml
from loopml.core.errors import InvalidInput, NotTrusted
from loopml.training import (
    Features,
    GroupRateBaseline,
    RuleBaseline,
    build_ensemble,
    build_model,
    fit_model,
    needs_trust,
)

NUMERIC = ["x1", "x2"]
CATEGORICAL = ["c"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def data() -> tuple[Features, pd.DataFrame, pd.Series, pd.DataFrame]:
    rng = np.random.default_rng(2)
    n = 1_200
    frame = pd.DataFrame(
        {"x1": rng.normal(size=n), "x2": rng.normal(size=n), "c": rng.choice(["a", "b", "c"], n)}
    )
    y = pd.Series((frame["x1"] + (frame["c"] == "b") + rng.normal(0, 1, n) > 0.5).astype(int))
    features = Features.from_frame(frame, NUMERIC, CATEGORICAL)
    return features, features.frame(frame.iloc[:900]), y.iloc[:900], features.frame(frame[900:])


def _zoo(kind: str, **params: object) -> object:
    return build_model(
        kind, "classification", params or None, numeric=NUMERIC, categorical=CATEGORICAL
    )


def _round_trip(model: object, frame: pd.DataFrame, *, trust: bool = False) -> loopml.LoadedModel:
    info = loopml.log_model(model, "ensemble", signature=frame)
    return loopml.load_model(info.model_uri, trust=trust)


def test_soft_voting_of_fitted_members_round_trips_without_trust(
    data: tuple[Features, pd.DataFrame, pd.Series, pd.DataFrame],
) -> None:
    _, X, y, Xt = data
    logistic = fit_model(_zoo("logistic_regression"), X, y)
    forest = fit_model(_zoo("random_forest", n_estimators=20, n_jobs=1), X, y)
    rule = RuleBaseline("x1 > 0.5").fit(X, y)
    ensemble = build_ensemble(
        "voting", {"logistic": logistic, "forest": forest, "rule": rule}, "classification",
        weights=[2, 1, 1],
    )  # fmt: skip
    assert isinstance(ensemble, VotingClassifier)
    ensemble.fit(X, y)
    expected = (
        2 * logistic.predict_proba(Xt) + forest.predict_proba(Xt) + rule.predict_proba(Xt)
    ) / 4
    assert np.allclose(ensemble.predict_proba(Xt), expected, rtol=0, atol=1e-15)
    assert ensemble.named_estimators_["logistic"].estimator is logistic  # kept, not refitted
    assert not needs_trust(ensemble)
    loaded = _round_trip(ensemble, X)
    assert np.array_equal(loaded.predict_proba(Xt), ensemble.predict_proba(Xt))


def test_stacking_fits_unfitted_members(
    data: tuple[Features, pd.DataFrame, pd.Series, pd.DataFrame],
) -> None:
    _, X, y, Xt = data
    groups = GroupRateBaseline("c").fit(X, y)
    members = {"hgb": _zoo("hist_gradient_boosting", max_iter=20), "groups": groups}
    ensemble = build_ensemble("stacking", members, "classification", cv=3).fit(X, y)
    assert isinstance(ensemble, StackingClassifier)
    assert ensemble.final_estimator_.coef_.shape == (1, 2)
    loaded = _round_trip(ensemble, X)
    assert np.array_equal(loaded.predict_proba(Xt), ensemble.predict_proba(Xt))


def test_regression_ensembles(
    data: tuple[Features, pd.DataFrame, pd.Series, pd.DataFrame],
) -> None:
    _, X, _, Xt = data
    target = X["x1"] * 3 + X["x2"]
    members = {
        "ridge": build_model("ridge", "regression", numeric=NUMERIC, categorical=CATEGORICAL),
        "forest": build_model(
            "random_forest", "regression", {"n_estimators": 10, "n_jobs": 1},
            numeric=NUMERIC, categorical=CATEGORICAL,
        ),
    }  # fmt: skip
    for kind in ("voting", "stacking"):
        ensemble = build_ensemble(kind, members, "regression").fit(X, target)
        assert np.array_equal(_round_trip(ensemble, X).predict(Xt), ensemble.predict(Xt))


def test_a_lightgbm_member_needs_trust(
    data: tuple[Features, pd.DataFrame, pd.Series, pd.DataFrame],
) -> None:
    _, X, y, Xt = data
    lgbm = fit_model(_zoo("lightgbm", n_estimators=10, n_jobs=1), X, y)
    assert not needs_trust(lgbm)  # alone, it is saved in LightGBM's own format
    ensemble = build_ensemble(
        "voting", {"lgbm": lgbm, "logistic": _zoo("logistic_regression")}, "classification"
    ).fit(X, y)
    assert needs_trust(ensemble)
    info = loopml.log_model(ensemble, "ensemble", signature=X)
    with pytest.raises(NotTrusted, match="lightgbm"):
        loopml.load_model(info.model_uri)
    loaded = loopml.load_model(info.model_uri, trust=True)
    assert np.array_equal(loaded.predict_proba(Xt), ensemble.predict_proba(Xt))


def test_bad_ensembles_are_refused() -> None:
    logistic = _zoo("logistic_regression")
    with pytest.raises(InvalidInput, match="did you mean 'stacking'"):
        build_ensemble("stack", {"a": logistic, "b": logistic}, "classification")
    with pytest.raises(InvalidInput, match="at least two"):
        build_ensemble("voting", {"a": logistic}, "classification")
    with pytest.raises(InvalidInput, match="baseline and must be fitted first"):
        build_ensemble("voting", {"a": logistic, "b": RuleBaseline("x1 > 0")}, "classification")
    with pytest.raises(InvalidInput, match="apply to voting only"):
        build_ensemble("stacking", {"a": logistic, "b": logistic}, "classification", weights=[1, 1])
    with pytest.raises(InvalidInput, match="with fit and predict"):
        build_ensemble("voting", {"a": logistic, "b": object()}, "classification")
