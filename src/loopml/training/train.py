"""A project's training pipeline, built from its ``loopml.yaml``, and :func:`train_project`,
which runs it: ``loopml train``.

The pipeline (steps in :mod:`loopml.training.project_steps`; ``<m>`` is a baseline, candidate
or ensemble name)::

    data ─► validate ─► split ─► train, valid, test
      └───► snapshot ─────────────┐
    fit_<baseline>  (train, valid, snapshot)           ─► model_<baseline>
    tune_<candidate> (train, valid)                    ─► tuned_<candidate>    (with a search)
    fit_<candidate> (train, valid, snapshot, tuned_…)  ─► model_<candidate>
    fit_<ensemble>  (train, valid, snapshot, model_<member>…)  ─► model_<ensemble>
    choose_baseline (model_<baseline>…)                ─► reference
    evaluate_<m>    (model_<m>, test, reference)       ─► evaluation_<m>
    evaluate_champion (champion_model, test)             ─► evaluation_champion  (when one exists)
    decide          (model_…, evaluation_…, evaluation_champion) ─► decision
    register        (decision)                         ─► registration

Every step is cached by its inputs, code and params, so a rerun with nothing changed re-runs
nothing and registers nothing new; editing one candidate's parameters re-runs that candidate's
fit, its evaluation, the decision and the registration only. The data is an input of the
pipeline: it is read from the project's source at every run and hashed, so changed data re-runs
everything downstream of it. The current champion (the version the alias ``champion`` names) is
an input too: when the alias moves, the comparison is made again.

Features: ``data.features`` when given, else every column but the target, ``data.id_columns``,
``data.exclude`` and the split column; date and time columns are left out (say them in
``features`` as numbers if a model should use them). Numbers and booleans are numeric features,
anything else categorical.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from loopml.core.errors import InvalidInput, NotFound, did_you_mean, user_message
from loopml.evaluate import EvaluationResult
from loopml.evaluate.gates import GateReport
from loopml.pipeline import Pipeline, PipelineResult, StepEvent, step
from loopml.project import ProjectConfig
from loopml.registry import ModelRegistry
from loopml.tracking import fluent
from loopml.training import project_steps as steps

__all__ = [
    "ProjectEvaluation",
    "TrainResult",
    "evaluate_in_project",
    "feature_columns",
    "load_project_data",
    "model_key",
    "project_pipeline",
    "train_project",
]

CHAMPION_ALIAS = "champion"


@dataclass(frozen=True)
class TrainResult:
    """What :func:`train_project` did: the pipeline run, each model's evaluation on the test
    part, the decision (ranking, gates of each candidate, the chosen one) and the
    registration."""

    project: str
    pipeline: PipelineResult
    models: Mapping[str, Mapping[str, Any]]
    evaluations: Mapping[str, EvaluationResult] = field(repr=False)
    decision: Mapping[str, Any] = field(repr=False)
    registration: Mapping[str, Any]
    baseline: str
    champion_version: int | None
    primary_metric: str

    @property
    def chosen(self) -> str | None:
        chosen: str | None = self.decision["chosen"]
        return chosen


def load_project_data(config: ProjectConfig) -> pd.DataFrame:
    """The project's data, read whole from its source (a file, SQL, DuckDB or a snapshot)."""
    from loopml.data import load, load_frame

    if config.data.kind == "snapshot":
        return load(str(config.data.snapshot))
    return load_frame(**config.source_options())


def feature_columns(config: ProjectConfig, frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(numeric, categorical) feature columns of ``frame`` under the project's rules."""
    target = config.target
    if target not in frame.columns:
        raise InvalidInput(
            user_message(
                f"target {target!r} of {_origin(config)}",
                "is not a column of the data",
                sorted(map(str, frame.columns))[:20],
                did_you_mean(target, frame.columns),
            )
        )
    if config.data.features is not None:
        missing = [c for c in config.data.features if c not in frame.columns]
        if missing:
            raise InvalidInput(
                user_message(
                    f"data.features of {_origin(config)}",
                    "must name columns of the data",
                    missing,
                    did_you_mean(missing[0], frame.columns),
                )
            )
        chosen = list(config.data.features)
    else:
        left_out = {target, *config.data.id_columns, *config.data.exclude}
        if config.split.column:
            left_out.add(config.split.column)
        chosen = [
            str(c)
            for c in frame.columns
            if c not in left_out
            and not pd.api.types.is_datetime64_any_dtype(frame[c].dtype)
            and not isinstance(frame[c].dtype, pd.PeriodDtype | pd.IntervalDtype)
        ]
    if not chosen:
        raise InvalidInput(
            user_message(
                f"the features of {_origin(config)}",
                "must hold at least one column",
                fix="list them under data.features",
            )
        )
    numeric = [
        c
        for c in chosen
        if pd.api.types.is_numeric_dtype(frame[c].dtype) or pd.api.types.is_bool_dtype(frame[c])
    ]
    categorical = [c for c in chosen if c not in numeric]
    return numeric, categorical


def _origin(config: ProjectConfig) -> str:
    return config.path.name if config.path is not None else "loopml.yaml"


def model_key(name: str) -> str:
    """A model name as a part of step and output names (identifier characters only)."""
    return str(re.sub(r"\W", "_", name))


def _split_params(config: ProjectConfig, columns: list[str]) -> dict[str, Any]:
    """The params of :func:`~loopml.training.project_steps.split_data` for ``config``."""
    return {
        "target": config.target,
        "task": config.task,
        "columns": columns,
        "method": config.split.method,
        "column": config.split.column,
        "sizes": list(config.split.sizes),
        "seed": int(config.split.seed),
        "id_columns": list(config.data.id_columns),
    }


def _evaluation_params(config: ProjectConfig, columns: list[str]) -> dict[str, Any]:
    """The params of :func:`~loopml.training.project_steps.evaluate_model` (but ``full``)."""
    settings: dict[str, Any] = config.evaluation.model_dump(mode="json", by_alias=True)
    settings["behaviour"] = [
        b.model_dump(mode="json", by_alias=True, exclude_none=True)
        for b in config.evaluation.behaviour
    ]
    return {
        "target": config.target,
        "task": config.task,
        "columns": columns,
        "metrics": list(config.metrics.names),
        "threshold": float(config.metrics.threshold),
        "settings": settings,
    }


def _gate_forms(config: ProjectConfig) -> list[dict[str, Any]]:
    """The project's gates in their ``loopml.yaml`` form (what ``parse_gate`` reads)."""
    return [g.model_dump(mode="json", by_alias=True, exclude_none=True) for g in config.gates]


def _champion_uri(config: ProjectConfig, version: int) -> str:
    return f"models:/{config.model_name}/{version}"


def project_pipeline(
    config: ProjectConfig,
    *,
    numeric: list[str],
    categorical: list[str],
    champion_version: int | None = None,
    executor: str = "local",
    address: str | None = None,
) -> Pipeline:
    """The training pipeline of ``config`` (see the module docstring). ``champion_version``:
    the version the alias ``champion`` names, if any; the pipeline then compares with it and
    takes its package as the input ``champion_model``."""
    task, target = config.task, config.target
    metric = str(config.metrics.primary)
    threshold = float(config.metrics.threshold)
    seed = int(config.split.seed)
    columns = [*numeric, *categorical]
    shared = {
        "task": task,
        "target": target,
        "numeric": numeric,
        "categorical": categorical,
        "metric": metric,
        "threshold": threshold,
    }
    schema_file = config.schema_file
    schema_yaml = schema_file.read_text() if schema_file is not None else None
    built = [
        step(steps.validate_data, outputs="validation").bind(
            schema_yaml=schema_yaml,
            origin=str(config.data.schema_path or ""),
        ),
        step(steps.snapshot_data, outputs="snapshot").bind(
            name=f"{config.name}-data", description=f"the data of the project {config.name!r}"
        ),
        step(steps.split_data, outputs=("train", "valid", "test")).bind(
            **_split_params(config, columns)
        ),
    ]
    keys: dict[str, str] = {}

    def claim(name: str) -> str:
        key = model_key(name)
        if key in keys:
            raise InvalidInput(
                user_message(
                    f"model name {name!r} in {_origin(config)}",
                    f"clashes with {keys[key]!r} (baselines, candidates and the ensemble need "
                    "distinct names)",
                    fix="rename one of them",
                )
            )
        keys[key] = name
        return key

    baseline_keys = []
    for b in config.baselines:
        key = claim(b.name)
        baseline_keys.append(key)
        built.append(
            step(steps.fit_baseline, outputs=f"model_{key}", name=f"fit_{key}").bind(
                name=b.name, kind=b.kind, rule=b.rule, column=b.group_rate, **shared
            )
        )
    candidate_keys = []
    for c in config.candidates:
        key = claim(c.name)
        candidate_keys.append(key)
        fit = step(steps.fit_candidate, outputs=f"model_{key}", name=f"fit_{key}").bind(
            name=c.name,
            kind=c.model,
            params=dict(c.params),
            imbalance=config.imbalance,
            seed=seed,
            **shared,
        )
        if c.search is not None:
            built.append(
                step(steps.tune_candidate, outputs=f"tuned_{key}", name=f"tune_{key}").bind(
                    name=c.name,
                    kind=c.model,
                    params=dict(c.params),
                    search=c.search.model_dump(mode="json", by_alias=True, exclude_none=True),
                    imbalance=config.imbalance,
                    seed=seed,
                    executor=executor,
                    address=address,
                    n_workers=int(config.execution.n_workers),
                    **shared,
                )
            )
            fit = fit.wire(tuned=f"tuned_{key}")
        built.append(fit)
    if config.ensemble is not None:
        e = config.ensemble
        key = claim(e.name)
        candidate_keys.append(key)
        members = [f"model_{model_key(m)}" for m in e.members]
        built.append(
            step(steps.fit_ensemble, outputs=f"model_{key}", name=f"fit_{key}")
            .gather(members=members)
            .bind(name=e.name, kind=e.kind, seed=seed, **shared)
        )
    built.append(
        step(steps.choose_baseline, outputs="reference")
        .gather(baselines=[f"model_{k}" for k in baseline_keys])
        .bind(metric=metric, task=task)
    )
    evaluation = _evaluation_params(config, columns)
    for key in baseline_keys:
        built.append(
            step(steps.evaluate_model, outputs=f"evaluation_{key}", name=f"evaluate_{key}")
            .wire(model=f"model_{key}")
            .bind(full=False, **evaluation)
        )
    for key in candidate_keys:
        built.append(
            step(steps.evaluate_model, outputs=f"evaluation_{key}", name=f"evaluate_{key}")
            .wire(model=f"model_{key}", baseline="reference")
            .bind(full=True, **evaluation)
        )
    all_keys = baseline_keys + candidate_keys
    decide = (
        step(steps.decide, outputs="decision")
        .gather(
            models=[f"model_{k}" for k in all_keys],
            evaluations=[f"evaluation_{k}" for k in all_keys],
        )
        .bind(
            keys={
                **{f"model_{k}": keys[k] for k in all_keys},
                **{f"evaluation_{k}": keys[k] for k in all_keys},
            },
            metric=metric,
            task=task,
            gates=_gate_forms(config),
        )
    )
    if champion_version is not None:
        built.append(
            step(steps.evaluate_champion, outputs="evaluation_champion")
            .wire(model="champion_model")
            .bind(**evaluation)
        )
        decide = decide.wire(champion="evaluation_champion")
    built.append(decide)
    registration = config.registration
    built.append(
        step(steps.register_chosen, outputs="registration", name="register").bind(
            model_name=str(config.model_name),
            alias=registration.alias,
            on_gate_failure=registration.on_gate_failure,
            project=config.name,
            kpi=config.requirements.kpi,
            champion_version=champion_version,
        )
    )
    inputs = ["data"] + (["champion_model"] if champion_version is not None else [])
    return Pipeline(config.name, built, inputs=inputs)


def _champion(config: ProjectConfig) -> int | None:
    registry = ModelRegistry(client=fluent.get_client())
    try:
        return registry.get_version_by_alias(str(config.model_name), CHAMPION_ALIAS).version
    except NotFound:
        return None


def train_project(
    config: ProjectConfig,
    *,
    executor: str | None = None,
    address: str | None = None,
    force: bool | str | Iterable[str] = (),
    cache: bool | None = None,
    tracking_uri: str | None = None,
    on_event: Callable[[StepEvent], None] | None = None,
) -> TrainResult:
    """Run the project's training pipeline (see the module docstring). ``executor``,
    ``address`` and ``cache`` override ``execution`` in ``loopml.yaml``.

    Raises :class:`~loopml.pipeline.StepFailed` naming the step that failed; what finished is
    kept, and a rerun continues from it.
    """
    if tracking_uri is not None:
        fluent.set_tracking_uri(tracking_uri)
    how = executor or config.execution.executor
    where = address if address is not None else config.execution.address
    frame = load_project_data(config)
    numeric, categorical = feature_columns(config, frame)
    champion_version = _champion(config)
    pipeline = project_pipeline(
        config,
        numeric=numeric,
        categorical=categorical,
        champion_version=champion_version,
        executor=how,
        address=where,
    )
    inputs: dict[str, Any] = {"data": frame}
    if champion_version is not None:
        inputs["champion_model"] = {
            "name": CHAMPION_ALIAS,
            "uri": _champion_uri(config, champion_version),
        }
    result = pipeline.run(
        inputs,
        executor=how,
        address=where,
        cache=config.execution.cache if cache is None else cache,
        force=force,
        experiment=config.name,
        run_name=f"train {config.name}",
        tags={"loopml.project": config.name},
        on_event=on_event,
    )
    outputs = result.outputs
    decision = outputs["decision"]
    models = dict(decision["models"])
    evaluations = {name: outputs[f"evaluation_{model_key(name)}"] for name in models}
    return TrainResult(
        project=config.name,
        pipeline=result,
        models=models,
        evaluations=evaluations,
        decision=decision,
        registration=outputs["registration"],
        baseline=str(outputs["reference"]["name"]),
        champion_version=champion_version,
        primary_metric=str(config.metrics.primary),
    )


@dataclass(frozen=True)
class ProjectEvaluation:
    """What :func:`evaluate_in_project` measured: the result, the champion's result on the same
    rows (None when there is no champion, or the model is the champion), the project's gates
    (behavioural tests included) on the result, and the run."""

    result: EvaluationResult = field(repr=False)
    champion: EvaluationResult | None = field(repr=False)
    gates: GateReport
    label: str
    run_id: str


def evaluate_in_project(
    config: ProjectConfig, model_uri: str, *, data: Any = None, part: str = "test"
) -> ProjectEvaluation:
    """Evaluate ``model_uri`` as ``loopml train`` evaluates its candidates: on the project's
    ``part`` (rebuilt from its data and split), or on ``data`` (a file or a frame with the
    target), with the project's evaluation settings; the current champion is evaluated on the
    same rows for the gain and the improvement gate. Tracked as one run in the project's
    experiment, which holds the JSON result and the HTML report."""
    from loopml.data import load_frame

    fluent.set_experiment(config.name)
    with fluent.start_run(
        run_name=f"evaluate {model_uri}", tags={"loopml.project": config.name}
    ) as run:
        if data is None:
            frame = load_project_data(config)
            numeric, categorical = feature_columns(config, frame)
            train, valid, test = steps.split_data(
                frame, {}, **_split_params(config, [*numeric, *categorical])
            )
            parts = {"train": train, "valid": valid, "test": test}
            rows = parts[part]
            if rows is None:
                raise InvalidInput(
                    user_message(
                        f"the split of {_origin(config)}",
                        "has no test part",
                        list(config.split.sizes),
                        "use --part valid, or give split three sizes",
                    )
                )
            label = f"the {part} part of {config.name}"
        else:
            rows = data if isinstance(data, pd.DataFrame) else load_frame(str(data))
            numeric, categorical = feature_columns(config, rows)
            if config.task == "classification":
                rows = rows.loc[rows[config.target].notna()].copy()
                rows[config.target] = steps._binary_target(rows[config.target], config.target)
            label = str(data) if not isinstance(data, pd.DataFrame) else "the given frame"
        fluent.log_params({"model": model_uri, "data": label})
        champion_version = _champion(config)
        options = _evaluation_params(config, [*numeric, *categorical])
        champion = None
        unusable = None
        reference = None
        if champion_version is not None and not _same_version(config, model_uri, champion_version):
            held = {"name": CHAMPION_ALIAS, "uri": _champion_uri(config, champion_version)}
            with fluent.start_run(run_name="champion", nested=True):
                compared = steps.evaluate_champion(held, rows, **options)
            champion, unusable = compared["result"], compared["error"]
            reference = held if champion is not None else None
        result = steps.evaluate_model(
            {"name": model_uri, "uri": model_uri}, rows, reference, full=True, **options
        )
        gates = steps.judge(_gate_forms(config), result, champion, champion_error=unusable)
        fluent.log_dict(gates.to_dict(), "gates.json")
        fluent.set_tag("loopml.gates", "passed" if gates.passed else "failed")
        return ProjectEvaluation(result, champion, gates, label, run.run_id)


def _same_version(config: ProjectConfig, model_uri: str, champion_version: int | None) -> bool:
    """Whether ``model_uri`` names the champion's version of the project's model."""
    from loopml.core.model_uri import parse_model_uri

    parsed = parse_model_uri(model_uri)
    if parsed.name != config.model_name:
        return False
    if parsed.kind == "alias":
        return parsed.alias == CHAMPION_ALIAS
    if parsed.kind == "version":
        return parsed.version == champion_version
    if parsed.kind == "latest":
        registry = ModelRegistry(client=fluent.get_client())
        return registry.get_latest_version(str(parsed.name)).version == champion_version
    return False
