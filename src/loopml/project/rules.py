"""The rules joining several sections of ``loopml.yaml`` (see :mod:`loopml.project.config`).

:func:`cross_field_problems` takes the sections that are valid (a broken one is absent, a
broken item of a list is None) and leaves out the rules needing what is missing, so a file with
field errors still gets every cross-field problem its valid parts show.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from loopml.project._base import Loc, Problem, path_text, shaped
from loopml.project.checks import (
    EvaluationConfig,
    FairnessGate,
    ImprovementGate,
    MetricGate,
    PerturbationCheck,
    SliceGapGate,
)
from loopml.project.names import METRICS, MODEL_KIND_TASKS, suggest
from loopml.project.sections import (
    BaselineConfig,
    CandidateConfig,
    DataConfig,
    EnsembleConfig,
    MetricsConfig,
    Requirements,
    SplitConfig,
)

__all__ = ["cross_field_problems"]


def _section(sections: Mapping[str, Any], name: str, kind: type[Any]) -> Any:
    value = sections.get(name)
    return value if isinstance(value, kind) else None


def cross_field_problems(sections: Mapping[str, Any]) -> list[Problem]:
    """The problems of rules joining several sections; a section absent from ``sections``
    (because it is invalid) leaves out the rules that need it."""
    problems: list[Problem] = []
    task = sections.get("task")
    task = task if task in METRICS else None
    target = sections.get("target") if isinstance(sections.get("target"), str) else None
    metrics = _section(sections, "metrics", MetricsConfig)
    split = _section(sections, "split", SplitConfig)
    data = _section(sections, "data", DataConfig)
    evaluation = _section(sections, "evaluation", EvaluationConfig)
    requirements = _section(sections, "requirements", Requirements)
    candidates = sections.get("candidates")
    candidates = candidates if isinstance(candidates, tuple) else None
    baselines = sections.get("baselines")
    baselines = baselines if isinstance(baselines, tuple) else None
    gates = sections.get("gates")
    gates = gates if isinstance(gates, tuple) else None
    ensemble = _section(sections, "ensemble", EnsembleConfig)

    def metric_problem(loc: Loc, name: str) -> None:
        if task is not None and name not in METRICS[task]:
            fix = suggest(name, METRICS[task])
            known = ", ".join(METRICS[task])
            problems.append((loc, shaped(f"must be a {task} metric ({known})", name, fix)))

    if metrics is not None:
        if metrics.primary is not None:
            metric_problem(("metrics", "primary"), metrics.primary)
        for i, name in enumerate(metrics.report or ()):
            metric_problem(("metrics", "report", i), name)
    if task == "regression":
        imbalance = sections.get("imbalance")
        if imbalance not in (None, "none"):
            rule = "is for classification; the task is regression"
            problems.append((("imbalance",), shaped(rule, imbalance, "drop it")))
        if split is not None and split.method == "stratified":
            rule = "stratified needs classification; the task is regression"
            problems.append((("split", "method"), shaped(rule, None, "use method: random")))
        if evaluation is not None and evaluation.calibration.recalibrate != "none":
            problems.append(
                (("evaluation", "calibration", "recalibrate"), shaped(
                    "is for classification; the task is regression",
                    evaluation.calibration.recalibrate, "use recalibrate: none",
                ))
            )  # fmt: skip
    if target is not None:
        if data is not None:
            for field_name in ("features", "exclude", "id_columns"):
                for i, column in enumerate(getattr(data, field_name) or ()):
                    if column == target:
                        rule = f"must not list the target {target!r}"
                        problems.append((("data", field_name, i), shaped(rule)))
        if split is not None and split.column == target and split.method != "stratified":
            rule = f"must not be the target {target!r}"
            problems.append((("split", "column"), shaped(rule)))

    names: dict[str, Loc] = {}

    def claim(name: str, loc: Loc, what: str) -> None:
        if name in names:
            where = path_text(names[name][:-1])
            fix = f"give each {what} its own name"
            problems.append((loc, shaped(f"is already the name of {where}", name, fix)))
        else:
            names[name] = loc

    budget = requirements.training_budget_minutes if requirements is not None else None
    for i, candidate in enumerate(candidates or ()):
        if not isinstance(candidate, CandidateConfig):
            continue
        claim(candidate.name, ("candidates", i, "name"), "candidate")
        if task is not None and task not in MODEL_KIND_TASKS[candidate.model]:
            fits = [k for k, tasks in MODEL_KIND_TASKS.items() if task in tasks]
            problems.append(
                (("candidates", i, "model"), shaped(
                    f"is a {' and '.join(MODEL_KIND_TASKS[candidate.model])} model; the task "
                    f"is {task}", candidate.model, f"use one of {', '.join(fits)}",
                ))
            )  # fmt: skip
        search = candidate.search
        if (
            search is not None
            and search.n_trials is None
            and search.timeout_seconds is None
            and budget is None
        ):
            problems.append(
                (("candidates", i, "search"), shaped(
                    "needs a budget: n_trials or timeout_seconds", None,
                    "add n_trials: 50, or requirements.training_budget_minutes",
                ))
            )  # fmt: skip
    for i, baseline in enumerate(baselines or ()):
        if isinstance(baseline, BaselineConfig):
            claim(baseline.name, ("baselines", i, "name"), "baseline")
    if ensemble is not None:
        claim(ensemble.name, ("ensemble", "name"), "model")
        if candidates is not None:
            known = list(
                dict.fromkeys(c.name for c in candidates if isinstance(c, CandidateConfig))
            )
            for j, member in enumerate(ensemble.members):
                if member not in known:
                    problems.append(
                        (("ensemble", "members", j), shaped(
                            f"must name a candidate ({', '.join(known)})", member,
                            suggest(member, known),
                        ))
                    )  # fmt: skip

    if evaluation is not None:
        for i, check in enumerate(evaluation.behaviour):
            if isinstance(check, PerturbationCheck) and check.metric is not None:
                metric_problem(("evaluation", "behaviour", i, "metric"), check.metric)
    for i, gate in enumerate(gates or ()):
        if isinstance(gate, MetricGate | ImprovementGate | SliceGapGate):
            key = {MetricGate: "metric", ImprovementGate: "improvement_over_champion"}.get(
                type(gate), "max_slice_gap"
            )
            metric_problem(("gates", i, key), gate.metric)
        if isinstance(gate, SliceGapGate) and evaluation is not None and not evaluation.slices:
            problems.append(
                (("gates", i, "max_slice_gap"), shaped(
                    "needs slice columns", None, "list them in evaluation.slices",
                ))
            )  # fmt: skip
        if isinstance(gate, FairnessGate):
            if task == "regression":
                rule = "is for classification; the task is regression"
                problems.append((("gates", i, "max_fairness_gap"), shaped(rule)))
            elif evaluation is not None and not evaluation.sensitive:
                problems.append(
                    (("gates", i, "max_fairness_gap"), shaped(
                        "needs sensitive columns", None, "list them in evaluation.sensitive",
                    ))
                )  # fmt: skip
    return problems
