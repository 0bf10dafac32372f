"""One tuning trial: suggest parameters, build and fit the model (reporting validation scores
for pruning), score it, and record it as a nested tracked run.

Everything here runs in the process that runs the trial: the tuning process, or a Dask worker.
:class:`TrialContext` carries what a trial needs, all of it picklable (names and plain data,
not open stores or models), so it travels to workers with the task; the data travel
separately (scattered once).

Pruning reports a validation score every :data:`REPORT_EVERY` boosting iterations (LightGBM:
a custom evaluation function, computed only on reporting iterations, over the validation
predictions LightGBM keeps up to date; XGBoost: a training callback predicting the validation
set with the trees so far) or after each stage of :data:`HGB_STAGE` iterations of a
warm-started histogram gradient boosting model. Reports are sparse on purpose: each one is a
round trip to the study's storage (the Dask scheduler, in parallel runs).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from loopml.core.entities import Metric as MetricPoint
from loopml.core.entities import RunStatus
from loopml.core.ids import now_ms
from loopml.training._common import Task
from loopml.training._scoring import get_metric, positive_scores
from loopml.training.zoo import ModelKind, ParamSpec, get_kind, suggest_params

__all__ = ["HGB_STAGE", "REPORT_EVERY", "TrialContext", "TrialData", "run_objective"]

log = logging.getLogger(__name__)
FloatArray = npt.NDArray[np.float64]
#: Boosting iterations between two pruning reports (LightGBM, XGBoost).
REPORT_EVERY = 20
#: Iterations per warm-started stage of histogram gradient boosting.
HGB_STAGE = 25
#: Longest error text kept on a failed trial (tag and user attribute).
_ERROR_CHARS = 500

STATE_TAG = "loopml.trial.state"
ERROR_TAG = "loopml.trial.error"


@dataclass(frozen=True)
class TrialData:
    """The model frames and targets of a tuning job (scattered once to Dask workers)."""

    X: pd.DataFrame = field(repr=False)
    y: Any = field(repr=False)
    X_valid: pd.DataFrame = field(repr=False)
    y_valid: Any = field(repr=False)
    #: Validation truth as the metric reads it: 0/1 for classification, values for regression.
    truth: FloatArray = field(repr=False)
    sample_weight: FloatArray | None = field(default=None, repr=False)


@dataclass(frozen=True)
class TrialContext:
    """What a trial needs besides the data; picklable."""

    kind: str
    task: Task
    metric: str
    threshold: float
    base_params: Mapping[str, Any]
    #: Parameters for running, not results (``n_jobs=1`` on Dask workers): not recorded.
    runtime_params: Mapping[str, Any]
    space: Mapping[str, ParamSpec]
    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    class_weight: Mapping[Any, float] | None
    seed: int
    #: Tracking (all None: trials are not tracked).
    tracking_uri: str | None = None
    artifact_uri: str | None = None
    experiment_id: str | None = None
    parent_run_id: str | None = None
    #: Threads a model may use (Dask workers: 1 per task).
    threads: int | None = None

    @property
    def tracked(self) -> bool:
        return self.parent_run_id is not None


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def one_line(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= _ERROR_CHARS else text[: _ERROR_CHARS - 3] + "..."


# --------------------------------------------------------------------------------------------
# Tracking


class _Tracker:
    """Trial runs nested under the tuning run, through a Client of this process."""

    def __init__(self, context: TrialContext) -> None:
        from loopml.core.settings import load_settings
        from loopml.tracking.client import Client

        settings = replace(load_settings(), record_git=False)
        if context.artifact_uri:
            settings = replace(settings, artifact_uri=context.artifact_uri)
        self.client = Client(context.tracking_uri, settings)
        self.context = context

    def start(self, number: int, params: Mapping[str, Any]) -> str:
        ctx = self.context
        run = self.client.create_run(
            str(ctx.experiment_id),
            run_name=f"{ctx.kind}-trial-{number}",
            parent_run_id=ctx.parent_run_id,
            tags={
                "loopml.trial.number": number,
                "loopml.trial.kind": ctx.kind,
                STATE_TAG: "RUNNING",
            },
        )
        self.client.log_batch(run.info.run_id, params=dict(params))
        return run.info.run_id

    def finish(
        self,
        run_id: str,
        state: str,
        value: float | None,
        reports: list[tuple[int, float]],
        seconds: float,
        error: str | None = None,
    ) -> None:
        metric = self.context.metric
        stamp = now_ms()
        points = [MetricPoint(f"valid_{metric}_by_iteration", v, stamp, s) for s, v in reports]
        points.append(MetricPoint("trial_seconds", seconds, stamp, 0))
        if value is not None and math.isfinite(value):
            points.append(MetricPoint(metric, value, stamp, 0))
        tags = {STATE_TAG: state}
        if error:
            tags[ERROR_TAG] = error
        self.client.log_batch(run_id, metrics=points, tags=tags)
        status = RunStatus.FAILED if state == "FAIL" else RunStatus.FINISHED
        self.client.set_terminated(run_id, status)


# --------------------------------------------------------------------------------------------
# Fitting with pruning reports


class _Reporter:
    """Reports validation scores to the trial; raises ``optuna.TrialPruned`` when told to."""

    def __init__(self, trial: Any) -> None:
        self.trial = trial
        self.reports: list[tuple[int, float]] = []

    def __call__(self, step: int, value: float) -> None:
        import optuna

        self.reports.append((step, value))
        self.trial.report(value, step)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at iteration {step} with {value}")


def _fit_lightgbm(
    model: Any, data: TrialData, score: Callable[[FloatArray], float], report: _Reporter
) -> None:
    calls = [0]
    last = [math.nan]

    def evaluate(_truth: Any, predicted: Any) -> tuple[str, float, bool]:
        calls[0] += 1
        if calls[0] % REPORT_EVERY == 0:
            last[0] = score(np.asarray(predicted, dtype=np.float64))
        return "loopml", last[0], True

    def callback(env: Any) -> None:
        iteration = env.iteration + 1
        if iteration % REPORT_EVERY:
            return
        for result in env.evaluation_result_list:
            if result[1] == "loopml":
                report(iteration, float(result[2]))

    model.fit(
        data.X,
        data.y,
        sample_weight=data.sample_weight,
        eval_X=data.X_valid,
        eval_y=data.y_valid,
        eval_metric=evaluate,
        callbacks=[callback],
    )


def _fit_xgboost(
    model: Any,
    data: TrialData,
    score: Callable[[FloatArray], float],
    report: _Reporter,
) -> None:
    import xgboost as xgb

    valid = xgb.DMatrix(data.X_valid, enable_categorical=True)

    class Report(xgb.callback.TrainingCallback):
        def after_iteration(self, booster: Any, epoch: int, evals_log: Any) -> bool:
            iteration = epoch + 1
            if iteration % REPORT_EVERY == 0:
                predicted = booster.predict(valid, iteration_range=(0, iteration))
                report(iteration, score(np.asarray(predicted, dtype=np.float64)))
            return False

    model.set_params(callbacks=[Report()])
    try:
        model.fit(data.X, data.y, sample_weight=data.sample_weight)
    finally:
        model.set_params(callbacks=None)


def _fit_hist_gradient_boosting(
    model: Any,
    data: TrialData,
    score_model: Callable[[Any], float],
    report: _Reporter,
) -> None:
    total = int(model.get_params()["max_iter"])
    stages = [*range(HGB_STAGE, total, HGB_STAGE), total]
    model.set_params(warm_start=True)
    try:
        for stage in stages:
            model.set_params(max_iter=stage)
            model.fit(data.X, data.y, sample_weight=data.sample_weight)
            report(stage, score_model(model))
    finally:
        model.set_params(warm_start=False)


def fit_and_score(
    kind: ModelKind, model: Any, data: TrialData, context: TrialContext, report: _Reporter
) -> float:
    """Fit ``model`` on the training data (reporting for pruning where the kind can) and
    return its validation score."""
    from loopml.training.zoo import fit_model

    metric = get_metric(context.metric, context.task)

    def score(predicted: FloatArray) -> float:
        return metric(data.truth, predicted, context.threshold)

    def score_model(fitted: Any) -> float:
        return score(positive_scores(fitted, data.X_valid, context.task))

    if kind.name == "lightgbm":
        _fit_lightgbm(model, data, score, report)
    elif kind.name == "xgboost":
        _fit_xgboost(model, data, score, report)
    elif kind.name == "hist_gradient_boosting":
        _fit_hist_gradient_boosting(model, data, score_model, report)
    else:
        fit_model(model, data.X, data.y, sample_weight=data.sample_weight)
    return score_model(model)


# --------------------------------------------------------------------------------------------
# The objective


def _limits(threads: int | None) -> Any:
    from contextlib import nullcontext

    if threads is None:
        return nullcontext()
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    return threadpool_limits(limits=threads)


def run_objective(trial: Any, context: TrialContext, data: TrialData) -> float:
    """The Optuna objective: one trial, tracked when the context says so."""
    import optuna

    kind = get_kind(context.kind)
    params = {
        **kind.default_params(context.task),
        **context.base_params,
        **suggest_params(trial, context.space),
    }
    trial.set_user_attr("params", json.loads(json.dumps(params, default=_plain)))
    tracker = _Tracker(context) if context.tracked else None
    run_id = tracker.start(trial.number, params) if tracker else None
    if run_id:
        trial.set_user_attr("run_id", run_id)
    report = _Reporter(trial)
    started = time.perf_counter()
    state, value, error = "COMPLETE", math.nan, None
    try:
        model = kind.build(
            context.task,
            {**params, **context.runtime_params},
            context.numeric,
            context.categorical,
            context.class_weight,
            context.seed,
        )
        with _limits(context.threads):
            value = fit_and_score(kind, model, data, context, report)
        if not math.isfinite(value):
            raise ValueError(f"the validation {context.metric} is not a finite number: {value}")
    except optuna.TrialPruned:
        state = "PRUNED"
        raise
    except Exception as exc:
        state, error = "FAIL", one_line(exc)
        trial.set_user_attr("error", error)
        log.warning("trial %s of %s failed: %s", trial.number, context.kind, error)
        raise
    finally:
        if tracker and run_id:
            last = report.reports[-1][1] if report.reports else None
            shown = value if state == "COMPLETE" else (last if state == "PRUNED" else None)
            try:
                tracker.finish(
                    run_id, state, shown, report.reports, time.perf_counter() - started, error
                )
            except Exception as exc:  # tracking must not turn a result into a failure
                log.warning("could not record trial %s: %s", trial.number, exc)
    return value
