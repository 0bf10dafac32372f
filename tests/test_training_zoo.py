"""The model zoo: every kind round-trips through the registry without trust and predicts bit for
bit the same; search spaces as data; clear errors for unknown kinds, parameters and extras."""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import optuna
import pandas as pd
import pytest

import loopml
from loopml.core.errors import InvalidInput, MissingDependency
from loopml.project.names import MODEL_EXTRAS, MODEL_KIND_TASKS, MODEL_KINDS
from loopml.training import (
    KINDS,
    Features,
    ParamSpec,
    build_model,
    fit_model,
    get_kind,
    parse_space,
    suggest_params,
)

NUMERIC = ["sched_dep_hour", "distance", "day_of_week"]
CATEGORICAL = ["carrier", "origin"]
SMALL = {
    "random_forest": {"n_estimators": 10, "n_jobs": 1},
    "hist_gradient_boosting": {"max_iter": 20},
    "lightgbm": {"n_estimators": 20, "n_jobs": 1},
    "xgboost": {"n_estimators": 20, "n_jobs": 1},
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    """1,500 training and 500 scoring rows like the demo data; both parts miss some distances
    (every kind handles them), and the scoring rows hold a carrier unseen in training."""
    rng = np.random.default_rng(5)
    n = 2_000
    carriers = np.array(["AA", "B6", "DL", "EV", "UA"])
    frame = pd.DataFrame(
        {
            "sched_dep_hour": rng.integers(5, 23, n),
            "distance": rng.gamma(2.0, 400.0, n),
            "day_of_week": rng.integers(0, 7, n),
            "carrier": carriers[rng.integers(0, 5, n)],
            "origin": np.array(["EWR", "JFK", "LGA"])[rng.integers(0, 3, n)],
        }
    )
    late = frame["sched_dep_hour"] / 6 + (frame["carrier"] == "EV") + rng.normal(0, 1, n) > 3
    frame["delayed"] = late.astype("int64")
    frame["arr_delay"] = frame["sched_dep_hour"] * 2.0 + rng.normal(0, 5, n)
    frame.loc[frame.index[::97], "distance"] = np.nan
    train, score = frame.iloc[:1_500].reset_index(drop=True), frame.iloc[1_500:].copy()
    score.loc[score.index[:5], "carrier"] = "ZZ"
    return train, score.reset_index(drop=True)


def _cases() -> list[Any]:
    return [
        pytest.param(kind, task, id=f"{kind}-{task}")
        for kind in KINDS
        for task in sorted(get_kind(kind).tasks)
    ]


@pytest.mark.parametrize(("kind", "task"), _cases())
def test_every_kind_round_trips_without_trust_bit_identically(
    kind: str, task: str, frames: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    train, score = frames
    target = "delayed" if task == "classification" else "arr_delay"
    features = Features.from_frame(train, NUMERIC, CATEGORICAL)
    model = build_model(
        kind, task, SMALL.get(kind), numeric=NUMERIC, categorical=CATEGORICAL, seed=3
    )
    fit_model(model, features.frame(train), train[target])
    info = loopml.log_model(model, "model", signature=features.signature(train, model))
    loaded = loopml.load_model(info.model_uri)  # no trust=True
    expected_flavor = kind if kind in ("lightgbm", "xgboost") else "sklearn"
    assert loaded.manifest.flavor == expected_flavor
    model_frame = features.frame(score)
    assert model_frame["carrier"].isna().sum() == 5  # the unseen carrier became missing
    method = "predict_proba" if task == "classification" else "predict"
    expected = getattr(model, method)(model_frame)
    assert np.array_equal(getattr(loaded, method)(model_frame), expected)
    raw = score[NUMERIC + CATEGORICAL]  # strings, as a request would send them
    assert np.array_equal(getattr(loaded, method)(raw), expected)


def test_the_kinds_agree_with_the_names_a_project_file_accepts() -> None:
    assert set(KINDS) == set(MODEL_KINDS)
    for kind in KINDS:
        assert set(get_kind(kind).tasks) == set(MODEL_KIND_TASKS[kind])
        assert get_kind(kind).extra == MODEL_EXTRAS.get(kind)


def test_class_weight_reaches_the_estimator() -> None:
    weights = {0: 0.6, 1: 3.0}
    logistic = build_model("logistic_regression", "classification", class_weight=weights)
    assert logistic.named_steps["model"].class_weight == weights
    xgb = build_model("xgboost", "classification", class_weight=weights)
    assert xgb.get_params()["scale_pos_weight"] == pytest.approx(5.0)
    with pytest.raises(InvalidInput, match="exactly two classes"):
        build_model("xgboost", "classification", class_weight={0: 1.0, 1: 2.0, 2: 3.0})
    with pytest.raises(InvalidInput, match="applies to classification only"):
        build_model("ridge", "regression", class_weight=weights)


def test_sample_weight_is_routed_through_a_pipeline(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    train, _ = frames
    features = Features.from_frame(train, NUMERIC, CATEGORICAL)
    X, y = features.frame(train), train["delayed"]
    weights = np.where(y == 1, 5.0, 1.0)

    def logistic() -> Any:
        return build_model(
            "logistic_regression", "classification", numeric=NUMERIC, categorical=CATEGORICAL
        )

    plain = fit_model(logistic(), X, y)
    weighted = fit_model(logistic(), X, y, sample_weight=weights)
    assert weighted.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean() + 0.05


def test_unknown_kind_and_parameter_suggest_the_closest_name() -> None:
    with pytest.raises(InvalidInput, match="did you mean 'lightgbm'"):
        get_kind("lightbgm")
    with pytest.raises(InvalidInput, match="did you mean 'num_leaves'"):
        build_model("lightgbm", "classification", {"num_leafs": 31})
    with pytest.raises(InvalidInput, match=r"is for classification.*use one of linear_regression"):
        build_model("logistic_regression", "regression")


def test_a_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lightgbm", None)  # the library, as if not installed
    with pytest.raises(MissingDependency, match=r"pip install 'loopml\[lightgbm\]'"):
        build_model("lightgbm", "classification")


def test_features_check_their_columns() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]})
    with pytest.raises(InvalidInput, match="did you mean 'x'"):
        Features.from_frame(frame, numeric=["xx"])
    with pytest.raises(InvalidInput, match=r"must hold numbers.*list it under categorical"):
        Features.from_frame(frame, numeric=["c"])
    with pytest.raises(InvalidInput, match="both numeric and categorical"):
        Features.from_frame(frame, numeric=["x"], categorical=["x"])
    features = Features.from_frame(frame, numeric=["x"], categorical=["c"])
    with pytest.raises(InvalidInput, match="model input columns"):
        features.frame(frame[["x"]])


def test_the_signature_lets_unseen_levels_through(
    frames: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    train, _ = frames
    features = Features.from_frame(train, NUMERIC, CATEGORICAL)
    signature = features.signature(train)
    specs = {spec.name: spec for spec in signature.inputs}
    assert specs["carrier"].nullable
    assert specs["carrier"].categories == ("AA", "B6", "DL", "EV", "UA")
    assert not specs["sched_dep_hour"].nullable  # numbers: nullable only if seen missing


def test_declarative_space_suggests_what_it_declares() -> None:
    space = parse_space(
        {
            "learning_rate": {"low": 0.01, "high": 0.3, "log": True},
            "num_leaves": {"low": 15, "high": 255, "type": "int"},
            "boosting_type": {"choices": ["gbdt", "dart"]},
        },
        kind="lightgbm",
        task="classification",
    )
    assert space["num_leaves"] == ParamSpec("int", 15, 255)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        params = suggest_params(study.ask(), space)
        assert 0.01 <= params["learning_rate"] <= 0.3
        assert isinstance(params["num_leaves"], int)
        assert 15 <= params["num_leaves"] <= 255
        assert params["boosting_type"] in ("gbdt", "dart")
    assert ParamSpec.from_dict(space["learning_rate"].to_dict()) == space["learning_rate"]


@pytest.mark.parametrize(
    ("space", "message"),
    [
        ({"learning_rat": {"low": 0.1, "high": 0.2}}, "did you mean 'learning_rate'"),
        ({"learning_rate": {"low": 0.3, "high": 0.1}}, "needs low < high"),
        ({"learning_rate": {"low": 0.0, "high": 0.1, "log": True}}, "needs low > 0"),
        ({"num_leaves": {"low": 1.5, "high": 9, "type": "int"}}, "must be a whole number"),
        ({"num_leaves": {"low": 1, "hgih": 9}}, "did you mean 'high'"),
        ({"num_leaves": {"low": 1, "high": 9, "type": "integer"}}, "did you mean 'int'"),
        ({"boosting_type": {"type": "categorical"}}, "needs a list of choices"),
        ({"boosting_type": {"choices": []}}, "non-empty list"),
    ],
)
def test_bad_spaces_are_refused(space: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_space(space, kind="lightgbm", task="classification")


def test_every_default_space_names_parameters_of_its_kind() -> None:
    for name in KINDS:
        kind = get_kind(name)
        for task in kind.tasks:
            assert set(kind.space) <= kind.param_names(task), name
            assert set(kind.default_params(task)) <= kind.param_names(task), name
