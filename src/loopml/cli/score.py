"""``loopml score``: batch predictions of a model over a file or a query, into Parquet."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.progress import (
    BarColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from loopml.cli.state import STATE, console
from loopml.core.errors import InvalidInput, user_message

__all__ = ["score"]

_BAD_LINES = ("fail", "skip", "quarantine")


def _summary(report: Any) -> None:
    rate = f"{report.rows_per_second:,.0f} rows/s"
    console.print(
        f"Scored {report.rows_scored:,} of {report.rows_read:,} rows in {report.seconds:.1f} s "
        f"({rate}, {report.chunks} chunks, {report.executor}) → {report.output}",
        highlight=False,
    )
    if report.rows_rejected:
        console.print(
            f"[yellow]{report.rows_rejected:,} rows rejected[/] by the model signature, with "
            f"their reasons → {report.rejected_path}",
            highlight=False,
        )
    for title, counts in (("Rejected rows", report.rejected_by), ("Warnings", report.warnings)):
        if not counts:
            continue
        table = Table(title=title, title_justify="left")
        for column in ("problem", "column", "rows"):
            table.add_column(column, justify="right" if column == "rows" else "left")
        for key, rows in sorted(counts.items(), key=lambda item: -item[1]):
            kind, _, column = key.partition(":")
            table.add_row(kind, column, f"{rows:,}")
        console.print(table)


def score(
    model: str = typer.Argument(
        ...,
        help="The model: models:/name@alias, models:/name/3, runs:/<run>/model or a package "
        "directory.",
    ),
    input_: str = typer.Option(
        ...,
        "--input",
        "-i",
        help="A file (csv, parquet, jsonl), a database URL or duckdb: (both with --query).",
    ),
    output: Path = typer.Option(..., "--output", "-o", help="The Parquet file to write."),
    query: str = typer.Option(None, "--query", "-q", help="SQL query (database URL or duckdb)."),
    fmt: str = typer.Option(
        None, "--format", help="csv, parquet, jsonl, sql or duckdb (default: from the suffix)."
    ),
    rejected: Path = typer.Option(
        None,
        "--rejected",
        help="Where rejected rows go, with their reasons (default: <output>.rejected.parquet).",
    ),
    chunk_rows: int = typer.Option(100_000, "--chunk-rows", min=1, help="Rows per chunk."),
    id_columns: list[str] = typer.Option(
        [],
        "--id-column",
        help="An input column to copy to the output (repeatable; default: every column the "
        "model does not take).",
    ),
    no_probabilities: bool = typer.Option(
        False, "--no-probabilities", help="Write no probability columns for a classifier."
    ),
    category_policy: str = typer.Option(
        "warn",
        "--category-policy",
        help="Values outside a category domain: warn (scored), error (rejected) or ignore.",
    ),
    executor: str = typer.Option(
        None, "--executor", help="local or dask (default: dask when --address is given)."
    ),
    address: str = typer.Option(
        None, "--address", help="A Dask scheduler address (default: a local cluster)."
    ),
    workers: int = typer.Option(
        2, "--workers", min=1, help="Worker processes of the local Dask cluster."
    ),
    bad_lines: str = typer.Option(
        "fail", "--bad-lines", help="Malformed CSV/JSON lines: fail, skip or quarantine."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output files."),
    trust: bool = typer.Option(
        False, "--trust", help="Allow pickle-based (pyfunc) models, which run code on load."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Score a dataset in chunks into Parquet; rows the model signature rejects go to a side
    file with their reasons."""
    from loopml.data.sources import open_source
    from loopml.scoring import ScoreProgress
    from loopml.scoring import score as run_score

    if bad_lines not in _BAD_LINES:
        raise InvalidInput(
            user_message("--bad-lines", "must be fail, skip or quarantine", bad_lines)
        )
    source = open_source(
        input_,
        format=fmt,
        query=query,
        bad_lines=bad_lines,  # type: ignore[arg-type]
        batch_rows=chunk_rows,
    )
    with Progress(
        TextColumn("Scoring"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rows]} rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("score", total=None, rows="0")

        def tick(state: ScoreProgress) -> None:
            progress.update(
                task, completed=state.rows_read, total=state.total_rows, rows=f"{state.rows_read:,}"
            )

        report = run_score(
            model,
            source,
            output,
            rejected=rejected,
            id_columns=id_columns or None,
            probabilities=not no_probabilities,
            category_policy=category_policy,  # type: ignore[arg-type]
            overwrite=overwrite,
            executor=executor or ("dask" if address else "local"),  # type: ignore[arg-type]
            address=address,
            n_workers=workers,
            tracking_uri=STATE.tracking_uri,
            trust=trust,
            progress=tick,
        )
    if as_json:
        console.print_json(json.dumps(report.to_dict()))
        return
    _summary(report)
