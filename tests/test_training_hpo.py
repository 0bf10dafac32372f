"""Hyperparameter search: results a refit reproduces, tracked nested trials, pruning from
per-iteration validation scores, failures recorded, budgets, and parallel trials on a real
Dask LocalCluster."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml.core.errors import InvalidInput, NotFound
from loopml.evaluate import log_loss, roc_auc
from loopml.training import Features, TuneFailed, TuneResult, build_model, fit_model, tune
from loopml.training.hpo import FAIL_FAST

NUMERIC = ["x1", "x2", "x3"]
CATEGORICAL = ["c"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def parts() -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(8)
    n = 3_000
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "x3": rng.integers(0, 10, n),
            "c": rng.choice(["a", "b", "c", "d"], n),
        }
    )
    signal = frame["x1"] - frame["x2"] ** 2 + (frame["c"] == "b") + 0.2 * frame["x3"]
    frame["y"] = (signal + rng.normal(0, 1, n) > 0.5).astype(int)
    return frame.iloc[:2_000].reset_index(drop=True), frame.iloc[2_000:].reset_index(drop=True)


def _tune(parts: tuple[pd.DataFrame, pd.DataFrame], kind: str, **kwargs: Any) -> TuneResult:
    train, valid = parts
    options: dict[str, Any] = {
        "task": "classification",
        "metric": "roc_auc",
        "numeric": NUMERIC,
        "categorical": CATEGORICAL,
    }
    options.update(kwargs)
    return tune(kind, train, valid, "y", **options)


def _children(parent: str) -> list[loopml.Run]:
    client = loopml.Client()
    experiment = client.get_run(parent).info.experiment_id
    return list(client.search_runs(experiment, f"attributes.parent_run_id = '{parent}'"))


def _refit(
    parts: tuple[pd.DataFrame, pd.DataFrame], kind: str, params: Any
) -> tuple[pd.Series, Any]:
    """The validation truth and P(class 1) of ``kind`` fitted once on train with ``params``."""
    train, valid = parts
    features = Features.from_frame(train, NUMERIC, CATEGORICAL)
    model = build_model(kind, "classification", params, numeric=NUMERIC, categorical=CATEGORICAL)
    fit_model(model, features.frame(train), train["y"])
    return valid["y"], model.predict_proba(features.frame(valid))[:, 1]


def test_the_best_trial_is_what_a_refit_scores(parts: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    result = _tune(parts, "logistic_regression", n_trials=5, seed=3)
    assert result.n_trials == result.n_complete == 5
    assert result.direction == "maximize"
    values = [t.value for t in result.trials]
    assert result.best_value == max(values)
    assert result.best_params == result.trials[result.best_trial].params
    assert set(result.best_params) >= {"C", "max_iter"}  # the full parameters
    refit = roc_auc(*_refit(parts, "logistic_regression", result.best_params))
    assert refit == result.best_value


def test_a_lower_is_better_metric_is_minimised(parts: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    result = _tune(
        parts, "hist_gradient_boosting", metric="log_loss", n_trials=4, params={"max_iter": 30}
    )
    assert result.direction == "minimize"
    complete = [t.value for t in result.trials if t.state == "COMPLETE"]
    assert result.best_value == min(complete)
    refit = log_loss(*_refit(parts, "hist_gradient_boosting", result.best_params))
    assert refit == pytest.approx(result.best_value, rel=1e-9)  # staged fit == one-shot fit


def test_trials_are_nested_tracked_runs(parts: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    with loopml.start_run() as parent:
        result = _tune(parts, "logistic_regression", n_trials=3, parent_run_id=parent.run_id)
    children = {run.info.run_id: run for run in _children(parent.run_id)}
    assert set(children) == {t.run_id for t in result.trials}
    for trial in result.trials:
        run = children[str(trial.run_id)]
        assert run.info.status.value == "FINISHED"
        assert run.info.run_name == f"logistic_regression-trial-{trial.number}"
        assert run.data.tags["loopml.trial.state"] == "COMPLETE"
        assert run.data.metrics["roc_auc"] == trial.value
        assert float(run.data.params["C"]) == pytest.approx(trial.params["C"])
    assert result.best_run_id == result.trials[result.best_trial].run_id


@pytest.mark.parametrize(
    ("kind", "params", "steps"),
    [
        ("lightgbm", {"n_estimators": 60, "n_jobs": 1}, [20, 40, 60]),
        ("xgboost", {"n_estimators": 60, "n_jobs": 1}, [20, 40, 60]),
        ("hist_gradient_boosting", {"max_iter": 60}, [25, 50, 60]),  # warm-started stages
    ],
)
def test_pruning_kinds_report_validation_scores_per_iteration(
    kind: str, params: dict[str, Any], steps: list[int], parts: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    with loopml.start_run() as parent:
        result = _tune(
            parts, kind, n_trials=2, pruner="none", params=params, parent_run_id=parent.run_id
        )
    assert result.n_complete == 2
    history = loopml.Client().get_metric_history(
        str(result.trials[0].run_id), "valid_roc_auc_by_iteration"
    )
    assert [point.step for point in history] == steps
    assert all(0.5 < point.value < 1 for point in history)


def test_median_pruning_stops_poor_trials(parts: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    space = {"learning_rate": {"low": 1e-4, "high": 0.5, "log": True}}
    params = {"n_estimators": 100, "n_jobs": 1}
    with loopml.start_run() as parent:
        pruned = _tune(
            parts, "lightgbm", n_trials=14, space=space, params=params,
            parent_run_id=parent.run_id,
        )  # fmt: skip
    assert pruned.n_pruned > 0
    assert pruned.n_pruned + pruned.n_complete == 14
    states = {r.info.run_id: r.data.tags["loopml.trial.state"] for r in _children(parent.run_id)}
    for trial in pruned.trials:
        assert states[str(trial.run_id)] == trial.state
        if trial.state == "PRUNED":  # the last score it reported, below the median then
            assert trial.value is not None
            assert trial.value < pruned.best_value
    unpruned = _tune(parts, "lightgbm", n_trials=8, space=space, params=params, pruner="none")
    assert unpruned.n_pruned == 0


def test_failed_trials_are_recorded_and_the_search_goes_on(
    parts: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    space = {"num_leaves": {"choices": [1, 15]}}  # LightGBM refuses num_leaves=1 at fit time
    with loopml.start_run() as parent:
        result = _tune(
            parts, "lightgbm", n_trials=8, space=space, params={"n_estimators": 20, "n_jobs": 1},
            parent_run_id=parent.run_id, pruner="none",
        )  # fmt: skip
    assert result.n_failed > 0
    assert result.n_complete > 0
    assert result.best_params["num_leaves"] == 15
    runs = {r.info.run_id: r for r in _children(parent.run_id)}
    for trial in result.trials:
        if trial.state == "FAIL":
            assert trial.value is None
            assert "num_leaves" in str(trial.error)
            run = runs[str(trial.run_id)]
            assert run.info.status.value == "FAILED"
            assert "num_leaves" in run.data.tags["loopml.trial.error"]


def test_a_search_whose_first_trials_all_fail_stops_and_raises(
    parts: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    space = {"num_leaves": {"choices": [1]}}
    with loopml.start_run() as parent, pytest.raises(TuneFailed, match="num_leaves"):
        _tune(
            parts, "lightgbm", n_trials=20, space=space, params={"n_jobs": 1},
            parent_run_id=parent.run_id,
        )  # fmt: skip
    assert len(_children(parent.run_id)) == FAIL_FAST


def test_a_time_budget_alone_ends_the_search(parts: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    result = _tune(parts, "logistic_regression", timeout=1.0)
    assert result.n_trials >= 1
    assert result.n_complete == result.n_trials


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({}, InvalidInput, "needs n_trials or timeout"),
        ({"n_trials": 0}, InvalidInput, "n_trials must be a positive int"),
        ({"n_trials": 2, "metric": "rmse"}, InvalidInput, "is a regression metric"),
        ({"n_trials": 2, "metric": "roc_aux"}, InvalidInput, "did you mean 'roc_auc'"),
        ({"n_trials": 2, "pruner": "hyperband"}, InvalidInput, "must be one of median, none"),
        ({"n_trials": 2, "executor": "ray"}, InvalidInput, "must be one of local, dask"),
        ({"n_trials": 2, "space": {"C": {"low": 2, "high": 1}}}, InvalidInput, "low < high"),
        ({"n_trials": 2, "space": {"c": {"low": 1, "high": 2}}}, InvalidInput, "did you mean 'C'"),
        ({"n_trials": 2, "params": {"CC": 1.0}}, InvalidInput, "did you mean 'C'"),
        ({"n_trials": 2, "numeric": ["x1", "y"]}, InvalidInput, "must not include the target"),
        ({"n_trials": 2, "parent_run_id": "0" * 32}, NotFound, "0{32}"),
    ],
)
def test_bad_searches_are_refused_before_any_trial(
    kwargs: dict[str, Any],
    error: type[Exception],
    message: str,
    parts: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    with pytest.raises(error, match=message):
        _tune(parts, "logistic_regression", **kwargs)


def test_tuning_needs_two_classes(parts: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, valid = parts
    multi = train.assign(y=train["y"] + (train["x1"] > 1))
    with pytest.raises(InvalidInput, match="exactly two classes"):
        tune("lightgbm", multi, valid, "y", task="classification", metric="roc_auc",
             numeric=NUMERIC, n_trials=1)  # fmt: skip


# --------------------------------------------------------------------------------------------
# Dask: a real LocalCluster of two single-threaded worker processes, shared by the module


@pytest.fixture(scope="module")
def dask_client() -> Iterator[Any]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.slow
def test_parallel_trials_on_dask_are_tracked_and_pruned(
    dask_client: Any, parts: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    with loopml.start_run() as parent:
        result = _tune(
            parts, "lightgbm", n_trials=10, executor="dask", address=dask_client,
            params={"n_estimators": 60}, parent_run_id=parent.run_id, seed=1,
        )  # fmt: skip
    assert result.executor == "dask"
    assert result.n_trials == 10
    assert result.n_failed == 0
    assert [t.number for t in result.trials] == list(range(10))
    children = {r.info.run_id: r for r in _children(parent.run_id)}
    assert set(children) == {t.run_id for t in result.trials}
    for trial in result.trials:
        assert children[str(trial.run_id)].data.tags["loopml.trial.state"] == trial.state
        assert "n_jobs" not in trial.params  # one thread per worker task: not a result
    first = [tuple(sorted(t.params.items())) for t in result.trials]
    assert len(set(first)) == len(first)  # each task's sampler draws its own parameters


@pytest.mark.slow
def test_dask_honours_a_time_budget_from_an_address(
    dask_client: Any, parts: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    result = _tune(
        parts, "logistic_regression", timeout=2.0, executor="dask",
        address=dask_client.scheduler.address,
    )  # fmt: skip
    assert result.n_trials >= 1
    assert result.n_complete == result.n_trials
