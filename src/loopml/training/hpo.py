"""Hyperparameter search with Optuna: budgets, pruning, tracked trials, parallel trials on Dask.

:func:`tune` searches one zoo kind's parameters for the best validation ``metric``. Rules:

- **Data.** ``train`` and ``valid`` are frames holding the ``numeric`` and ``categorical``
  feature columns and ``target``; both become zoo model frames with the training levels
  (:class:`loopml.training.Features`). Classification is binary: the positive class is the
  second of the sorted labels, and metrics score its probability.
- **Metric and direction** come from ``loopml.evaluate``'s metric table (higher is better for
  roc_auc, pr_auc, accuracy, f1, precision, recall, r2; lower for log_loss, brier, rmse, mae,
  mape); aliases such as ``average_precision`` are accepted.
- **Budget**: ``n_trials`` and/or ``timeout`` (seconds); at least one is required, the search
  stops at whichever comes first. A running trial is never interrupted: the timeout stops
  trials from *starting*, as Optuna's own timeout does.
- **Parameters**: each trial is ``default_params | params | suggested``; the space is
  ``space`` (the ``loopml.yaml`` form, checked against the kind's parameters before any trial
  runs) or the kind's default space. ``TuneResult.best_params`` is the full set, ready for
  :func:`loopml.training.build_model`.
- **Sampler and pruner.** ``TPESampler(seed=seed)`` (with the constant liar in parallel runs);
  ``pruner="median"`` is Optuna's ``MedianPruner(n_startup_trials=5)``, and prunes kinds with
  ``supports_pruning`` from their reported validation scores (see ``_trial``); ``"none"`` never
  prunes.
- **Failures.** A failed trial (an exception while fitting or scoring, a non-finite score) is
  recorded with its error and the search goes on. If the first :data:`FAIL_FAST` trials all
  fail, the search stops; a search that completes no trial raises :class:`TuneFailed` naming
  the first error.
- **Tracking.** With ``parent_run_id``, every trial is a run nested under it (in the parent's
  experiment unless ``experiment_id`` is given), named ``<kind>-trial-<n>``, with the trial's
  parameters as params, the validation score as metric ``<metric>`` (the last reported score
  for a pruned trial), the reported scores as ``valid_<metric>_by_iteration`` (step =
  iteration), ``trial_seconds``, and the tag ``loopml.trial.state`` = ``COMPLETE``,
  ``PRUNED`` or ``FAIL`` (with ``loopml.trial.error``); failed trials' runs are FAILED, the
  others FINISHED. ``tracking_uri`` defaults to the fluent API's.
- **Executors.** ``"local"``: one process, trials one after the other (each model may use every
  core). ``"dask"``: trials in parallel on a Dask cluster, one trial per worker thread, each
  model limited to one thread; the study lives on the scheduler
  (``optuna_integration.DaskStorage``) and the model frames are scattered to the workers once.
  ``address`` is None (a ``LocalCluster`` of ``n_workers`` single-threaded processes, closed
  afterwards), a scheduler address, or a ``distributed.Client``. ``distributed`` or
  ``optuna-integration`` missing is a ``MissingDependency`` naming ``pip install
  'loopml[dask]'``.
"""

from __future__ import annotations

import logging
import math
import numbers
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from loopml.core.errors import LoopmlError, user_message, verbatim
from loopml.training._common import (
    check_choice,
    check_columns,
    check_frame,
    check_seed,
    check_task,
    invalid,
)
from loopml.training._scoring import get_metric
from loopml.training._trial import TrialContext, TrialData, run_objective
from loopml.training.zoo import Features, get_kind, parse_space

__all__ = ["FAIL_FAST", "PRUNERS", "TrialRecord", "TuneFailed", "TuneResult", "tune"]

log = logging.getLogger(__name__)
PRUNERS = ("median", "none")
EXECUTORS = ("local", "dask")
#: A search whose first trials all fail stops after this many.
FAIL_FAST = 3


class TuneFailed(LoopmlError):
    """No trial of a search completed; the message names the first error."""

    code = "TUNE_FAILED"


@dataclass(frozen=True)
class TrialRecord:
    """One trial: its number, state (``COMPLETE``, ``PRUNED``, ``FAIL``), validation score
    (the last reported one if pruned; None if failed), full parameters, seconds, tracked run."""

    number: int
    state: str
    value: float | None
    params: Mapping[str, Any]
    seconds: float | None
    run_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class TuneResult:
    """The outcome of :func:`tune`."""

    kind: str
    metric: str
    direction: str
    best_params: Mapping[str, Any]
    best_value: float
    best_trial: int
    n_trials: int
    n_complete: int
    n_pruned: int
    n_failed: int
    trials: tuple[TrialRecord, ...] = field(repr=False)
    seconds: float
    executor: str
    best_run_id: str | None = None


def _check_budget(n_trials: object, timeout: object) -> tuple[int | None, float | None]:
    if n_trials is None and timeout is None:
        raise invalid(
            "tuning budget",
            "needs n_trials or timeout (seconds), or both",
            None,
            "pass e.g. n_trials=50 or timeout=120",
        )
    if n_trials is not None and (
        isinstance(n_trials, bool) or not isinstance(n_trials, numbers.Integral) or n_trials < 1
    ):
        raise invalid("n_trials", "must be a positive int", n_trials)
    if timeout is not None and (
        isinstance(timeout, bool)
        or not isinstance(timeout, numbers.Real)
        or not math.isfinite(float(timeout))
        or float(timeout) <= 0
    ):
        raise invalid("timeout", "must be a positive number of seconds", timeout)
    return (
        None if n_trials is None else int(n_trials),
        None if timeout is None else float(timeout),
    )


def _truth(y: pd.Series[Any], classes: Sequence[Any] | None) -> np.ndarray[Any, Any]:
    if classes is None:
        return np.asarray(y.to_numpy(dtype=np.float64))
    return np.asarray((y.to_numpy() == classes[1]).astype(np.float64))


def _prepare(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    target: str,
    task: str,
    numeric: Sequence[str],
    categorical: Sequence[str],
    sample_weight: Any,
) -> tuple[Features, TrialData]:
    train = check_frame(train, "tune() train")
    valid = check_frame(valid, "tune() valid")
    column = check_columns(train, target, "tune() target")[0]
    check_columns(valid, target, "tune() target (in valid)")
    features = Features.from_frame(train, numeric, categorical)
    if column in features.columns:
        raise invalid(
            "tune() features", "must not include the target", column, "drop it from the features"
        )
    y, y_valid = train[column], valid[column]
    for name, part in (("train", y), ("valid", y_valid)):
        if part.isna().any():
            raise invalid(
                f"tune() target in {name}",
                "must have no missing values",
                verbatim(f"{int(part.isna().sum())} missing"),
            )
    classes = None
    if task == "classification":
        found = sorted(pd.unique(y).tolist())
        if len(found) != 2:
            raise invalid(
                "tune() target",
                "must have exactly two classes (tuning is for binary classification)",
                found[:10],
            )
        classes = found
    elif not pd.api.types.is_numeric_dtype(y):
        raise invalid("tune() target", "must be numeric for regression", verbatim(str(y.dtype)))
    weights = None
    if sample_weight is not None:
        weights = np.asarray(sample_weight, dtype=np.float64)
        if weights.shape != (len(train),):
            raise invalid(
                "tune() sample_weight",
                f"must have one weight per training row ({len(train)})",
                verbatim(str(weights.shape)),
            )
    data = TrialData(
        X=features.frame(train).reset_index(drop=True),
        y=y.reset_index(drop=True),
        X_valid=features.frame(valid).reset_index(drop=True),
        y_valid=y_valid.reset_index(drop=True),
        truth=_truth(y_valid, classes),
        sample_weight=weights,
    )
    return features, data


def _pruner(name: str) -> Any:
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5)
    return optuna.pruners.NopPruner()


def _sampler(seed: int, parallel: bool) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, constant_liar=parallel)


def _fail_fast(study: Any, _trial: Any) -> None:
    import optuna

    states = [t.state for t in study.get_trials(deepcopy=False)]
    finished = [s for s in states if s.is_finished()]
    if len(finished) >= FAIL_FAST and all(s == optuna.trial.TrialState.FAIL for s in finished):
        study.stop()


def _tracking(
    parent_run_id: str | None, tracking_uri: str | None, experiment_id: str | None
) -> dict[str, str | None]:
    if parent_run_id is None:
        return {}
    from loopml.tracking import fluent
    from loopml.tracking.client import Client

    client = fluent.get_client() if tracking_uri is None else Client(tracking_uri)
    parent = client.get_run(parent_run_id)  # NotFound when there is no such run
    return {
        "tracking_uri": client.tracking_uri,
        "artifact_uri": client.artifact_uri,
        "experiment_id": experiment_id or parent.info.experiment_id,
        "parent_run_id": parent_run_id,
    }


def _records(trials: Sequence[Any]) -> list[TrialRecord]:
    import optuna

    states = {
        optuna.trial.TrialState.COMPLETE: "COMPLETE",
        optuna.trial.TrialState.PRUNED: "PRUNED",
        optuna.trial.TrialState.FAIL: "FAIL",
    }
    records = []
    for t in sorted(trials, key=lambda t: t.number):
        if t.state not in states:
            continue  # RUNNING or WAITING: a Dask task that never got to finish
        value = t.value
        if t.state == optuna.trial.TrialState.PRUNED and t.intermediate_values:
            value = t.intermediate_values[max(t.intermediate_values)]
        seconds = (
            (t.datetime_complete - t.datetime_start).total_seconds()
            if t.datetime_complete and t.datetime_start
            else None
        )
        records.append(
            TrialRecord(
                number=t.number,
                state=states[t.state],
                value=None if value is None else float(value),
                params=dict(t.user_attrs.get("params", t.params)),
                seconds=seconds,
                run_id=t.user_attrs.get("run_id"),
                error=t.user_attrs.get("error"),
            )
        )
    return records


def tune(
    kind: str,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    target: str,
    *,
    task: str,
    metric: str,
    numeric: Sequence[str] = (),
    categorical: Sequence[str] = (),
    n_trials: int | None = None,
    timeout: float | None = None,
    space: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
    pruner: str = "median",
    class_weight: Mapping[Any, float] | None = None,
    sample_weight: Any = None,
    threshold: float = 0.5,
    seed: int = 0,
    executor: str = "local",
    address: Any = None,
    n_workers: int = 2,
    parent_run_id: str | None = None,
    tracking_uri: str | None = None,
    experiment_id: str | None = None,
) -> TuneResult:
    """Search ``kind``'s parameters for the best validation ``metric`` (see the module rules).

    ``class_weight`` / ``sample_weight`` come from :func:`loopml.training.rebalance` (weights
    of the training rows; the validation rows are never weighted). ``threshold`` cuts
    probabilities for accuracy, f1, precision and recall.
    """
    import optuna

    started = time.perf_counter()
    chosen = get_kind(kind)
    checked = check_task(task)
    scorer = get_metric(metric, checked)
    budget_trials, budget_seconds = _check_budget(n_trials, timeout)
    prune = check_choice("pruner", pruner, PRUNERS)
    how = check_choice("executor", executor, EXECUTORS)
    seed = check_seed(seed)
    if not (isinstance(threshold, numbers.Real) and 0 < float(threshold) < 1):
        raise invalid("threshold", "must be a number in (0, 1)", threshold)
    dims = chosen.space if space is None else parse_space(space, kind=chosen.name, task=checked)
    if not dims:
        raise invalid(
            f"search space of {chosen.name}",
            "must have at least one parameter to search",
            dict(space or {}),
            "give a space, or fit the model once with its parameters instead",
        )
    features, data = _prepare(train, valid, target, checked, numeric, categorical, sample_weight)
    base = dict(params or {})
    parallel = how == "dask"
    runtime = {}
    if parallel and "n_jobs" in chosen.param_names(checked) and "n_jobs" not in base:
        runtime["n_jobs"] = 1  # one thread per trial; not part of the parameters found
    # Catch a bad fixed parameter or class weight now, not once per trial.
    chosen.build(checked, base, features.numeric, features.categorical, class_weight, seed)
    context = TrialContext(
        kind=chosen.name,
        task=checked,
        metric=scorer.name,
        threshold=float(threshold),
        base_params=base,
        runtime_params=runtime,
        space=dims,
        numeric=features.numeric,
        categorical=features.categorical,
        class_weight=class_weight,
        seed=seed,
        threads=1 if parallel else None,
        **_tracking(parent_run_id, tracking_uri, experiment_id),
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if parallel:
        from loopml.training._dask import run_on_dask

        trials = run_on_dask(
            context,
            data,
            direction=scorer.direction,
            pruner=prune,
            n_trials=budget_trials,
            timeout=budget_seconds,
            address=address,
            n_workers=n_workers,
        )
    else:
        study = optuna.create_study(
            direction=scorer.direction, sampler=_sampler(seed, False), pruner=_pruner(prune)
        )
        study.optimize(
            lambda trial: run_objective(trial, context, data),
            n_trials=budget_trials,
            timeout=budget_seconds,
            catch=(Exception,),
            callbacks=[_fail_fast],
        )
        trials = study.get_trials(deepcopy=False)
    return _result(trials, context, scorer.direction, how, time.perf_counter() - started)


def _result(
    trials: Sequence[Any], context: TrialContext, direction: str, executor: str, seconds: float
) -> TuneResult:
    records = _records(trials)
    complete = [r for r in records if r.state == "COMPLETE" and r.value is not None]
    if not complete:
        errors = [r.error for r in records if r.error]
        raise TuneFailed(
            user_message(
                f"tuning {context.kind}",
                "completed no trial",
                verbatim(f"{len(records)} trials, first error: {errors[0] if errors else 'none'}"),
                "fix the error above (data, parameters or space) and tune again",
            )
        )
    pick = max if direction == "maximize" else min
    best = pick(complete, key=lambda r: float(r.value))  # type: ignore[arg-type]
    return TuneResult(
        kind=context.kind,
        metric=context.metric,
        direction=direction,
        best_params=dict(best.params),
        best_value=float(best.value),  # type: ignore[arg-type]
        best_trial=best.number,
        n_trials=len(records),
        n_complete=len(complete),
        n_pruned=sum(r.state == "PRUNED" for r in records),
        n_failed=sum(r.state == "FAIL" for r in records),
        trials=tuple(records),
        seconds=seconds,
        executor=executor,
        best_run_id=best.run_id,
    )
