"""The steps of a project's training pipeline: plain functions that :mod:`loopml.training.project`
wires into a :class:`~loopml.pipeline.Pipeline` (one step per model where a project lists
several).

Each step runs inside its own tracked run (the pipeline makes it the active fluent run), so what
it logs lands there: the validation report, the snapshot it used, the tuning trials, the model
package, the evaluation's metrics, JSON result and HTML report. Everything a step needs is an
input or a JSON param, so the pipeline's cache sees it. A model travels between steps as a
small dict (``uri``: the package's ``runs:/`` URI, plus its name, kind and parameters), never as
a pickled object: every step that uses a model loads its package, with every byte re-hashed,
exactly as serving will.

Rules:

- **Validation stops training.** With ``data.schema`` set, a frame with validation errors fails
  :func:`validate_data` (the report is logged as HTML), so nothing is trained on bad data.
- **Model selection uses the validation part, never the test part.** Each fit step records its
  validation score of the primary metric; :func:`decide` ranks by it. The test part gives the
  evaluation report of every model and the numbers the gates judge.
- **The gain over the baseline** is the paired bootstrap gain over the strongest baseline (by
  validation score), so "better than the baseline" means better than the best simple answer.
- **The champion** (the version the alias ``champion`` names) is evaluated on the same test
  rows, for the improvement gate. A champion that cannot score them (trained on columns the
  project no longer has) does not fail the training: the gates that compare with it are
  skipped, and their reason says why.
- **Which model is registered:** the best-ranked candidate whose gates all pass, its declared
  behavioural tests included (gates that
  cannot be judged, such as an improvement over a champion that does not exist, are skipped,
  not failed). When none passes, nothing is registered, unless ``on_gate_failure: tag``, which
  registers the best-ranked one with the tag ``gate=failed`` and sets no alias.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import replace
from typing import Any

import pandas as pd

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.evaluate import EvaluationResult, check_gates, evaluate, parse_gate
from loopml.evaluate.catalog import metric_spec
from loopml.evaluate.gates import GateReport, GateVerdict
from loopml.evaluate.report import to_html
from loopml.registry import ModelRegistry, load_model, log_model
from loopml.tracking import fluent
from loopml.training.baselines import GroupRateBaseline, MajorityBaseline, RuleBaseline, saveable
from loopml.training.ensembles import build_ensemble, needs_trust
from loopml.training.hpo import tune
from loopml.training.imbalance import rebalance
from loopml.training.zoo import Features, build_model, fit_model

__all__ = [
    "choose_baseline",
    "decide",
    "evaluate_champion",
    "evaluate_model",
    "fit_baseline",
    "fit_candidate",
    "fit_ensemble",
    "judge",
    "register_chosen",
    "snapshot_data",
    "split_data",
    "tune_candidate",
    "validate_data",
]

log = logging.getLogger(__name__)

#: Rows of the validation part a package keeps as its input example.
_EXAMPLE_ROWS = 5


def _run_id() -> str:
    active = fluent.active_run()
    if active is None:  # a step always runs inside its run; called by hand, start one
        active = fluent.start_run()
    return active.run_id


# -- data ------------------------------------------------------------------------------------


def validate_data(data: pd.DataFrame, *, schema_yaml: str | None, origin: str) -> dict[str, Any]:
    """Validate ``data`` against the project's schema (YAML text; None: nothing to check)."""
    if schema_yaml is None:
        fluent.set_tag("loopml.validation", "no schema")
        return {"checked": False, "rows": len(data), "errors": 0, "warnings": 0}
    from loopml.data import Schema, validate
    from loopml.data import to_html as report_html

    schema = Schema.from_yaml(schema_yaml, origin)
    report = validate(data, schema)
    errors = [f for f in report.findings if f.severity == "error"]
    warnings = [f for f in report.findings if f.severity == "warning"]
    fluent.log_metrics({"validation_errors": len(errors), "validation_warnings": len(warnings)})
    fluent.log_text(report_html(report), "validation/report.html")
    if errors:
        shown = "; ".join(f.message.split(" Fix: ")[0].rstrip(".") for f in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        count = "1 error" if len(errors) == 1 else f"{len(errors)} errors"
        raise InvalidInput(
            f"the project's data fails its schema {origin} with {count}: {shown}{more}. "
            "Fix: correct the data, or the schema if the data is right (the step's run holds "
            "validation/report.html)."
        )
    return {"checked": True, "rows": len(data), "errors": 0, "warnings": len(warnings)}


def snapshot_data(data: pd.DataFrame, *, name: str, description: str) -> dict[str, Any]:
    """Store ``data`` as the next version of the snapshot ``name`` (identical data: the version
    that holds it already); a ref the fit steps record as their training data."""
    from loopml.data import snapshot

    snap = snapshot(data, name, description=description)
    fluent.log_input(snap, context="training")
    return {"ref": f"{snap.name}@{snap.version}", "digest": snap.digest, "rows": len(data)}


def split_data(
    data: pd.DataFrame,
    validation: Mapping[str, Any],
    *,
    target: str,
    task: str,
    columns: Sequence[str],
    method: str,
    column: str | None,
    sizes: Sequence[float],
    seed: int,
    id_columns: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
    """Train, validation and test parts (the test part is None with two ``sizes``) of the rows
    with a target, keeping the feature columns, the target, the id columns (for the leakage
    report) and the split's own column."""
    from loopml.data import split_group, split_random, split_stratified, split_time

    del validation  # an input only so that validation runs (and fails) first
    keep = list(dict.fromkeys([*columns, target, *id_columns, *([column] if column else [])]))
    frame = data.loc[data[target].notna(), keep].reset_index(drop=True)
    dropped = len(data) - len(frame)
    if dropped:
        fluent.log_metric("rows_without_target", dropped)
    if task == "classification":
        frame[target] = _binary_target(frame[target], target)
    parts = tuple(float(s) for s in sizes)
    if method == "time":
        split = split_time(frame, str(column), sizes=parts, id_columns=id_columns)
    elif method == "group":
        split = split_group(frame, str(column), parts, seed=seed, id_columns=id_columns)
    elif method == "stratified":
        split = split_stratified(frame, target, parts, seed=seed, id_columns=id_columns)
    else:
        split = split_random(frame, parts, seed=seed, id_columns=id_columns)
    if not split.leakage.ok:
        fluent.set_tag("loopml.split.leakage", str(split.leakage)[:5000])
        log.warning("split: %s", split.leakage)
    counts = dict(zip(("train_rows", "valid_rows", "test_rows"), split.counts, strict=False))
    fluent.log_metrics({k: float(v) for k, v in counts.items()})
    return split.train, split.validation, split.test


def _binary_target(column: pd.Series[Any], target: str) -> pd.Series[Any]:
    """A 0/1 int64 target from bools or the numbers 0 and 1."""
    if pd.api.types.is_bool_dtype(column.dtype):
        return column.astype("int64")
    values = set(pd.unique(column).tolist())
    if pd.api.types.is_numeric_dtype(column.dtype) and values <= {0, 1}:
        return column.astype("int64")
    raise InvalidInput(
        user_message(
            f"target column {target!r} of a classification project",
            "must hold 0 and 1 (or true and false)",
            verbatim(", ".join(repr(v) for v in sorted(values, key=str)[:5])),
            f"derive it in the data query, e.g. `{target} = 'yes' AS {target}`",
        )
    )


# -- models ----------------------------------------------------------------------------------


def _score(
    model: Any, frame: pd.DataFrame, truth: Any, task: str, metric: str, cut: float
) -> float:
    """The validation score of ``model`` on the model frame ``frame``."""
    spec = metric_spec(metric, task)  # type: ignore[arg-type]
    classify = task == "classification"
    scores = model.predict_proba(frame)[:, 1] if classify else model.predict(frame)
    return float(spec.bind(cut)(truth.to_numpy(), scores))


def _rebalanced(
    train: pd.DataFrame, target: str, imbalance: str, seed: int
) -> tuple[pd.DataFrame, Any]:
    """The frame to fit on and its per-row weights (None) under the project's imbalance method."""
    if imbalance == "none":
        return train, None
    weights = rebalance(train, target, imbalance, seed=seed)
    return weights.frame, weights.sample_weight


def _log_fitted(
    model: Any,
    features: Features,
    train: pd.DataFrame,
    valid: pd.DataFrame,
    snapshot: Mapping[str, Any],
    *,
    target: str,
    task: str,
    metric: str,
    threshold: float,
    description: Mapping[str, Any],
    **extra: Any,
) -> dict[str, Any]:
    """Score the fitted ``model`` on the validation part (logged as ``valid_<metric>``) and log
    its package; the model's dict for the later steps."""
    from loopml.data import get_snapshot

    valid_score = _score(model, features.frame(valid), valid[target], task, metric, threshold)
    fluent.log_metric(f"valid_{metric}", valid_score)
    run_id = _run_id()
    fluent.log_input(get_snapshot(str(snapshot["ref"])), context="training")
    log_model(
        model,
        "model",
        signature=features.signature(train, model),
        input_example=features.frame(valid).head(_EXAMPLE_ROWS),
    )
    return {
        **description,
        "valid_score": valid_score,
        **extra,
        "uri": f"runs:/{run_id}/model",
        "run_id": run_id,
    }


def fit_baseline(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    snapshot: Mapping[str, Any],
    *,
    name: str,
    kind: str,
    rule: str | None,
    column: str | None,
    task: str,
    target: str,
    numeric: Sequence[str],
    categorical: Sequence[str],
    metric: str,
    threshold: float,
) -> dict[str, Any]:
    """Fit one baseline (``majority``, ``rule`` or ``group_rate``) and log its package."""
    features = Features.from_frame(train, numeric=numeric, categorical=categorical)
    inputs = features.frame(train)
    if kind == "majority":
        baseline: Any = MajorityBaseline(task)
    elif kind == "rule":
        baseline = RuleBaseline(str(rule), task)
    else:
        baseline = GroupRateBaseline(column, task=task)
    baseline.fit(inputs, train[target])
    model = saveable(baseline)
    fluent.log_params({"baseline": kind, **({"rule": rule} if rule else {})})
    return _log_fitted(
        model,
        features,
        train,
        valid,
        snapshot,
        target=target,
        task=task,
        metric=metric,
        threshold=threshold,
        description={"name": name, "role": "baseline", "kind": kind, "params": {}},
    )


def tune_candidate(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    *,
    name: str,
    kind: str,
    task: str,
    target: str,
    metric: str,
    threshold: float,
    numeric: Sequence[str],
    categorical: Sequence[str],
    params: Mapping[str, Any],
    search: Mapping[str, Any],
    imbalance: str,
    seed: int,
    executor: str,
    address: str | None,
    n_workers: int,
) -> dict[str, Any]:
    """Search the candidate's parameters with Optuna (every trial a run nested under this
    step's run); the best parameters, merged over the fixed ones."""
    fit_frame, sample_weight = _rebalanced(train, target, imbalance, seed)
    with _trials_cluster(executor, address) as where:
        result = tune(
            kind,
            fit_frame,
            valid,
            target,
            task=task,
            metric=metric,
            numeric=numeric,
            categorical=categorical,
            n_trials=search.get("n_trials"),
            timeout=search.get("timeout_seconds"),
            space=search.get("space"),
            params=params,
            pruner=str(search.get("pruner", "median")),
            sample_weight=sample_weight,
            threshold=threshold,
            seed=seed,
            executor=executor,
            address=where,
            n_workers=n_workers,
            parent_run_id=_run_id(),
        )
    fluent.log_metrics(
        {
            f"best_valid_{metric}": result.best_value,
            "trials": result.n_trials,
            "trials_pruned": result.n_pruned,
            "trials_failed": result.n_failed,
        }
    )
    return {"name": name, "params": {**params, **result.best_params}, "trials": result.n_trials}


def _trials_cluster(executor: str, address: str | None) -> AbstractContextManager[Any]:
    """Where the trials of a Dask search go: inside a Dask worker (the pipeline itself runs on
    Dask), a client of the worker's own cluster, seceded from the worker's thread pool while it
    waits (so the trials can use every worker, this one included); elsewhere ``address``."""
    if executor != "dask":
        return nullcontext(address)
    try:
        from distributed import get_worker, worker_client
    except ImportError:  # tune() raises the MissingDependency that names the extra
        return nullcontext(address)
    try:
        get_worker()
    except ValueError:  # not inside a worker
        return nullcontext(address)
    return worker_client()


def fit_candidate(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    snapshot: Mapping[str, Any],
    tuned: Mapping[str, Any] | None = None,
    *,
    name: str,
    kind: str,
    task: str,
    target: str,
    metric: str,
    threshold: float,
    numeric: Sequence[str],
    categorical: Sequence[str],
    params: Mapping[str, Any],
    imbalance: str,
    seed: int,
) -> dict[str, Any]:
    """Fit one candidate (with its tuned parameters, when it was tuned) and log its package."""
    chosen = dict(tuned["params"]) if tuned is not None else dict(params)
    features = Features.from_frame(train, numeric=numeric, categorical=categorical)
    fit_frame, sample_weight = _rebalanced(train, target, imbalance, seed)
    model = build_model(
        kind,
        task,
        chosen,
        numeric=features.numeric,
        categorical=features.categorical,
        seed=seed,
    )
    fluent.log_params({"model": kind, **chosen})
    fit_model(model, features.frame(fit_frame), fit_frame[target], sample_weight=sample_weight)
    return _log_fitted(
        model,
        features,
        train,
        valid,
        snapshot,
        target=target,
        task=task,
        metric=metric,
        threshold=threshold,
        description={"name": name, "role": "candidate", "kind": kind, "params": chosen},
    )


def fit_ensemble(
    train: pd.DataFrame,
    valid: pd.DataFrame,
    snapshot: Mapping[str, Any],
    members: Mapping[str, Mapping[str, Any]],
    *,
    name: str,
    kind: str,
    task: str,
    target: str,
    metric: str,
    threshold: float,
    numeric: Sequence[str],
    categorical: Sequence[str],
    seed: int,
) -> dict[str, Any]:
    """A voting or stacking ensemble of the candidates ``members`` (refitted with their chosen
    parameters inside the ensemble), logged as a package."""
    features = Features.from_frame(train, numeric=numeric, categorical=categorical)
    estimators = {
        str(m["name"]): build_model(
            str(m["kind"]),
            task,
            dict(m["params"]),
            numeric=features.numeric,
            categorical=features.categorical,
            seed=seed,
        )
        for m in members.values()
    }
    model = build_ensemble(kind, estimators, task, seed=seed)
    fluent.log_params({"ensemble": kind, "members": ",".join(estimators)})
    fit_model(model, features.frame(train), train[target])
    return _log_fitted(
        model,
        features,
        train,
        valid,
        snapshot,
        target=target,
        task=task,
        metric=metric,
        threshold=threshold,
        description={
            "name": name,
            "role": "candidate",
            "kind": f"{kind} ensemble",
            "params": {"members": list(estimators)},
        },
        trust=needs_trust(model),
    )


# -- evaluation and decision -----------------------------------------------------------------


def evaluate_model(
    model: Mapping[str, Any],
    test: pd.DataFrame,
    baseline: Mapping[str, Any] | None = None,
    *,
    target: str,
    task: str,
    columns: Sequence[str],
    metrics: Sequence[str],
    threshold: float,
    settings: Mapping[str, Any],
    full: bool,
) -> EvaluationResult:
    """Evaluate the package ``model["uri"]`` on the test part; ``full=False`` (baselines, the
    champion) computes the metrics and keeps the predictions, nothing else."""
    loaded = load_model(str(model["uri"]), trust=bool(model.get("trust", False)))
    reference = None
    if baseline is not None and baseline["uri"] != model["uri"]:
        reference = load_model(str(baseline["uri"]), trust=bool(baseline.get("trust", False)))
    frame = test.loc[:, [*columns, target]]
    options: dict[str, Any] = {
        "task": task,
        "threshold": threshold,
        "metrics": list(metrics),
        "n_resamples": int(settings["n_resamples"]),
        "confidence": float(settings["confidence"]),
        "seed": int(settings["seed"]),
        "baseline": reference,
    }
    if full:
        calibration = settings["calibration"]
        worst = settings.get("worst_slices")
        options.update(
            slices=list(settings["slices"]),
            sensitive=list(settings["sensitive"]),
            behaviour=list(settings["behaviour"]),
            calibration_bins=int(calibration["bins"]),
            recalibrate=None
            if calibration["recalibrate"] == "none"
            else calibration["recalibrate"],
            importance=None if settings["importance"] == "none" else settings["importance"],
            importance_rows=int(settings.get("importance_rows", 20_000)),
            latency=bool(settings["latency"]),
            worst_slices=0 if worst is None else int(worst["max_slices"]),
            min_slice_support=100 if worst is None else int(worst["min_support"]),
            model_size_mb=_package_mb(str(model["uri"])),
        )
    else:
        options.update(importance=None, latency=False, worst_slices=0, calibration_bins=10)
    result = evaluate(loaded, frame, target, **options)
    metrics_logged = {f"test_{k}": v.value for k, v in result.metrics.items() if _finite(v.value)}
    fluent.log_metrics(metrics_logged)
    fluent.log_dict(result.to_dict(), "evaluation/result.json")
    if full:
        title = f"{model['name']} on the test part"
        fluent.log_text(to_html(result, title=title), "evaluation/report.html")
    if model.get("run_id"):
        # The model's own run carries its test numbers too: the registry's card shows them.
        fluent.get_client().log_batch(str(model["run_id"]), metrics=_metric_rows(metrics_logged))
    return result


def _finite(value: float) -> bool:
    return isinstance(value, float) and math.isfinite(value)


def _metric_rows(values: Mapping[str, float]) -> list[Any]:
    from loopml.core.validation import validate_metric

    return [validate_metric(k, v, None, 0) for k, v in values.items()]


def evaluate_champion(
    model: Mapping[str, Any],
    test: pd.DataFrame,
    *,
    target: str,
    task: str,
    columns: Sequence[str],
    metrics: Sequence[str],
    threshold: float,
    settings: Mapping[str, Any],
) -> dict[str, Any]:
    """The current champion evaluated on the same test rows (its metrics and predictions), or,
    when it cannot score them (it was trained on other columns, say), why not: then the
    comparison with it cannot be made, and the gates that need it are skipped with that reason
    rather than the whole training failing."""
    try:
        result: EvaluationResult | None = evaluate_model(
            model, test, target=target, task=task, columns=columns, metrics=metrics,
            threshold=threshold, settings=settings, full=False,
        )  # fmt: skip
        error = None
    except InvalidInput as exc:
        result, error = None, str(exc)
        fluent.set_tag("loopml.champion.error", error[:5000])
        log.warning("the champion %s cannot score the test part: %s", model["uri"], error)
    return {"uri": str(model["uri"]), "result": result, "error": error}


def _package_mb(uri: str) -> float:
    """The size of the package at ``uri`` (all its files), in MB."""
    return ModelRegistry(client=fluent.get_client()).package_size(uri) / 1e6


def choose_baseline(
    baselines: Mapping[str, Mapping[str, Any]], *, metric: str, task: str
) -> dict[str, Any]:
    """The strongest baseline by validation score: what candidates' gains are measured over."""
    spec = metric_spec(metric, task)  # type: ignore[arg-type]
    best = max(
        baselines.values(),
        key=lambda m: float(m["valid_score"]) * (1 if spec.higher_is_better else -1),
    )
    fluent.set_tag("loopml.baseline", str(best["name"]))
    return dict(best)


def _behaviour_verdicts(result: EvaluationResult) -> tuple[GateVerdict, ...]:
    """The declared behavioural tests as gates: a model that fails one is not registered."""
    return tuple(
        GateVerdict(
            name=f"behaviour:{test.name}",
            description=f"behaviour test {test.name}",
            measured=test.measured,
            threshold=test.threshold,
            verdict="pass" if test.passed else "fail",
            reason=test.detail,
        )
        for test in result.behaviour
    )


def judge(
    gates: Sequence[Mapping[str, Any]],
    result: EvaluationResult,
    champion: EvaluationResult | None = None,
    *,
    champion_error: str | None = None,
) -> GateReport:
    """The project's gates (their ``loopml.yaml`` forms) checked on ``result``, the declared
    behavioural tests counted as gates too: what ``loopml train`` and ``loopml evaluate``
    print. ``champion_error``: why a champion that exists could not be evaluated (the gates
    that compare with it are skipped with that reason)."""
    report = check_gates([parse_gate(g) for g in gates], result, champion=champion)
    verdicts = report.verdicts
    if champion is None and champion_error is not None:
        reason = f"the champion cannot score these rows: {champion_error}"
        verdicts = tuple(
            replace(v, reason=reason) if v.verdict == "skip" and v.name.startswith("improvement")
            else v
            for v in verdicts
        )  # fmt: skip
    verdicts = verdicts + _behaviour_verdicts(result)
    return GateReport(verdicts, all(v.verdict != "fail" for v in verdicts))


def decide(
    models: Mapping[str, Mapping[str, Any]],
    evaluations: Mapping[str, EvaluationResult],
    champion: Mapping[str, Any] | None = None,
    *,
    keys: Mapping[str, str],
    metric: str,
    task: str,
    gates: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Rank the candidates by validation score, check every candidate's gates (the declared
    behavioural tests count as gates), and choose the best-ranked one that passes them all (see
    the module rules)."""
    spec = metric_spec(metric, task)  # type: ignore[arg-type]
    by_key = {keys[k]: v for k, v in models.items()}
    results = {keys[k]: v for k, v in evaluations.items()}
    ranked = sorted(
        (m for m in by_key.values() if m["role"] == "candidate"),
        key=lambda m: float(m["valid_score"]) * (-1 if spec.higher_is_better else 1),
    )
    reports = {}
    chosen = None
    held = None if champion is None else champion["result"]
    unusable = None if champion is None else champion["error"]
    for m in ranked:
        report = judge(gates, results[str(m["name"])], held, champion_error=unusable)
        reports[str(m["name"])] = report.to_dict()
        if chosen is None and report.passed:
            chosen = str(m["name"])
    best = str(ranked[0]["name"]) if ranked else None
    decision = {
        "ranking": [str(m["name"]) for m in ranked],
        "chosen": chosen,
        "best": best,
        "passed": chosen is not None,
        "gates": reports,
        "models": {str(m["name"]): dict(m) for m in by_key.values()},
        "champion": None
        if champion is None
        else {
            "uri": champion["uri"],
            "error": unusable,
            "metrics": {} if held is None else {k: v.value for k, v in held.metrics.items()},
        },
    }
    fluent.log_dict(decision, "decision.json")
    fluent.set_tags(
        {"loopml.chosen": chosen or "", "loopml.gates": "passed" if chosen else "failed"}
    )
    return decision


def register_chosen(
    decision: Mapping[str, Any],
    *,
    model_name: str,
    alias: str | None,
    on_gate_failure: str,
    project: str,
    kpi: str | None,
    champion_version: int | None,
) -> dict[str, Any]:
    """Register the chosen model as the next version of ``model_name`` (and point ``alias`` at
    it), or, when no candidate passed and ``on_gate_failure`` is ``tag``, the best one with
    the tag ``gate=failed``."""
    name = decision["chosen"] if decision["passed"] else decision["best"]
    if name is None or (not decision["passed"] and on_gate_failure != "tag"):
        fluent.set_tag("loopml.registered", "no")
        return {"registered": False, "version": None, "model": name, "alias": None}
    model = decision["models"][name]
    passed = bool(decision["passed"])
    registry = ModelRegistry(client=fluent.get_client())
    tags = {
        "gate": "passed" if passed else "failed",
        "loopml.project": project,
        "loopml.candidate": name,
    }
    if kpi:
        tags["loopml.kpi"] = kpi
    version = registry.register_model(
        str(model["uri"]),
        model_name,
        description=f"{name} ({model['kind']}), trained by the project {project!r}.",
        tags=tags,
        replaces=champion_version,
    )
    moved = None
    if passed and alias:
        registry.set_alias(model_name, alias, version.version)
        moved = alias
    fluent.set_tags({"loopml.registered": f"{model_name}/{version.version}"})
    return {"registered": True, "version": version.version, "model": name, "alias": moved}
