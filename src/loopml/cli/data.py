"""``loopml data``: profile, infer a schema, validate, snapshot, list and show datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from loopml.cli.render import format_ms, format_value
from loopml.cli.state import STATE, console
from loopml.core.errors import InvalidInput, user_message

__all__ = ["data_app"]

data_app = typer.Typer(
    help="Data: profile, schema, validate, versioned snapshots.", no_args_is_help=True
)

_FORMAT = typer.Option(
    None, "--format", help="csv, parquet, jsonl, sql or duckdb (default: from the suffix)."
)
_QUERY = typer.Option(None, "--query", "-q", help="SQL query (for a database URL or duckdb).")
_BAD_LINES = typer.Option(
    "fail", "--bad-lines", help="Malformed lines: fail, skip, or quarantine (to a side file)."
)


def _open(source: str, fmt: str | None, query: str | None, bad_lines: str) -> Any:
    from loopml.data.sources import open_source

    if bad_lines not in ("fail", "skip", "quarantine"):
        raise InvalidInput(
            user_message("--bad-lines", "must be fail, skip or quarantine", bad_lines)
        )
    return open_source(source, format=fmt, query=query, bad_lines=bad_lines)  # type: ignore[arg-type]


def _profile_table(prof: Any) -> Table:
    table = Table(title=f"Profile: {prof.row_count:,} rows", title_justify="left")
    for column in ("column", "type", "missing", "min", "max", "mean", "std", "distinct / top"):
        table.add_column(column, justify="left" if column in ("column", "type") else "right")
    for c in prof.columns:
        top = ""
        if c.top_values:
            top = ", ".join(str(v) for v, _ in c.top_values[:3])
        elif c.distinct_count is not None:
            top = f"{c.distinct_count:,}"
        table.add_row(
            c.name,
            c.type.value,
            f"{c.missing_rate:.1%}",
            format_value(c.min if not isinstance(c.min, int) else float(c.min)),
            format_value(c.max if not isinstance(c.max, int) else float(c.max)),
            format_value(c.mean),
            format_value(c.std),
            top[:40],
        )
    return table


@data_app.command("profile")
def data_profile(
    source: str = typer.Argument(
        ...,
        help="A file (csv, parquet, jsonl), a database URL, or "
        "a snapshot reference name@version with --snapshot.",
    ),
    fmt: str = _FORMAT,
    query: str = _QUERY,
    bad_lines: str = _BAD_LINES,
    html: Path = typer.Option(None, "--html", help="Write an offline HTML profile here."),
    as_json: Path = typer.Option(None, "--json", help="Write the profile as JSON here."),
    schema_out: Path = typer.Option(
        None, "--schema-out", help="Also infer a schema and write it (YAML) here."
    ),
) -> None:
    """Profile a dataset in one streaming pass: types, missing values, ranges, histograms."""
    from loopml.data.profiling import profile
    from loopml.data.report import to_html
    from loopml.data.schema import infer_schema

    data = _open(source, fmt, query, bad_lines)
    prof = profile(data)
    console.print(_profile_table(prof))
    if html is not None:
        html.write_text(to_html(prof, title=f"Profile of {source}"), encoding="utf-8")
        console.print(f"Wrote {html}")
    if as_json is not None:
        as_json.write_text(json.dumps(prof.to_dict(), indent=2), encoding="utf-8")
        console.print(f"Wrote {as_json}")
    if schema_out is not None:
        infer_schema(prof).save(schema_out)
        console.print(f"Wrote the inferred schema to {schema_out} (edit it, then validate).")


@data_app.command("schema")
def data_schema(
    source: str = typer.Argument(..., help="A file or a database URL (with --query)."),
    output: Path = typer.Option(Path("schema.yaml"), "--output", "-o", help="YAML file."),
    fmt: str = _FORMAT,
    query: str = _QUERY,
    bad_lines: str = _BAD_LINES,
    max_categories: int = typer.Option(50, "--max-categories", min=0),
) -> None:
    """Infer an editable YAML schema (types, nullability, ranges, domains) from a dataset."""
    from loopml.data.schema import infer_schema

    data = _open(source, fmt, query, bad_lines)
    schema = infer_schema(data, max_categories=max_categories)
    schema.save(output)
    console.print(
        f"Wrote {output}: {len(schema.columns)} columns. Edit it, then run "
        f"`loopml data validate {source} --schema {output}`.",
        highlight=False,
    )


@data_app.command("validate")
def data_validate(
    source: str = typer.Argument(..., help="A file or a database URL (with --query)."),
    schema_path: Path = typer.Option(
        ...,
        "--schema",
        "-s",
        help="The YAML schema (see `loopml data schema`).",
        exists=True,
        dir_okay=False,
    ),
    fmt: str = _FORMAT,
    query: str = _QUERY,
    bad_lines: str = _BAD_LINES,
    html: Path = typer.Option(None, "--html", help="Write an offline HTML report here."),
    as_json: Path = typer.Option(None, "--json", help="Write the report as JSON here."),
) -> None:
    """Validate a dataset against a schema; exit code 4 when a finding is an error."""
    from loopml.data.report import to_html
    from loopml.data.schema import Schema
    from loopml.data.validation import validate

    schema = Schema.load(schema_path)
    data = _open(source, fmt, query, bad_lines)
    report = validate(data, schema)
    table = Table(
        title=f"Validation of {source}: {report.row_count:,} rows, "
        f"{len(report.errors)} errors, {len(report.warnings)} warnings",
        title_justify="left",
    )
    for column in ("severity", "column", "check", "count", "rate", "message"):
        table.add_column(column, justify="right" if column in ("count", "rate") else "left")
    style = {"error": "red", "warning": "yellow", "info": "dim"}
    for f in report.findings:
        table.add_row(
            f"[{style.get(f.severity, '')}]{f.severity}[/]",
            f.column or "(dataset)",
            f.kind,
            f"{f.count:,}",
            "-" if f.rate is None else f"{f.rate:.2%}",
            f.message[:90],
        )
    if report.findings:
        console.print(table)
    else:
        console.print(
            f"{source}: {report.row_count:,} rows, no findings: the data fits the schema."
        )
    if html is not None:
        html.write_text(to_html(report, title=f"Validation of {source}"), encoding="utf-8")
        console.print(f"Wrote {html}")
    if as_json is not None:
        as_json.write_text(report.to_json(), encoding="utf-8")
        console.print(f"Wrote {as_json}")
    if not report.ok:
        raise typer.Exit(4)


@data_app.command("snapshot")
def data_snapshot(
    source: str = typer.Argument(..., help="A file or a database URL (with --query)."),
    name: str = typer.Argument(..., help="Dataset name; versions are numbered per name."),
    fmt: str = _FORMAT,
    query: str = _QUERY,
    bad_lines: str = _BAD_LINES,
    description: str = typer.Option("", "--description", help="What this version is."),
) -> None:
    """Store a versioned, content-addressed Parquet snapshot with schema and profile."""
    from loopml.data.snapshots import snapshot

    data = _open(source, fmt, query, bad_lines)
    snap = snapshot(data, name, description=description, tracking_uri=STATE.tracking_uri)
    verb = "Stored" if getattr(snap, "created", True) else "Unchanged: identical data is"
    console.print(
        f"{verb} [bold]{snap.name}@{snap.version}[/]: {snap.num_rows:,} rows x "
        f"{snap.num_columns} columns, digest {snap.digest[:12]}",
        highlight=False,
    )


@data_app.command("list")
def data_list(
    name: str = typer.Argument(None, help="Only the versions of this dataset."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List dataset snapshots, newest first."""
    from loopml.data.snapshots import list_snapshots

    snaps = list(list_snapshots(name, tracking_uri=STATE.tracking_uri))
    if as_json:
        typer.echo(json.dumps([s.to_dict() for s in snaps], indent=2, default=str))
        return
    table = Table(title="Dataset snapshots", title_justify="left")
    for column in ("snapshot", "rows", "columns", "digest", "created", "parent", "description"):
        table.add_column(column, justify="right" if column in ("rows", "columns") else "left")
    for s in snaps:
        table.add_row(
            f"{s.name}@{s.version}",
            f"{s.num_rows:,}",
            str(s.num_columns),
            s.digest[:12],
            format_ms(s.created_time),
            str(s.lineage.parent or "-"),
            (s.description.splitlines() or [""])[0][:40],
        )
    console.print(table)
    if not snaps:
        console.print("[dim]No snapshots yet: `loopml data snapshot FILE NAME` stores one.[/]")


@data_app.command("show")
def data_show(
    ref: str = typer.Argument(..., help="name, name@3 or name@latest."),
    head: int = typer.Option(5, "--head", min=0, help="Rows to print."),
    as_json: bool = typer.Option(False, "--json", help="Print the metadata as JSON."),
) -> None:
    """Show a snapshot: lineage, schema, and its first rows."""
    from loopml.data.snapshots import get_snapshot, load

    snap = get_snapshot(ref, tracking_uri=STATE.tracking_uri)
    if as_json:
        typer.echo(json.dumps(snap.to_dict(), indent=2, default=str))
        return
    console.print(
        f"[bold]{snap.name}@{snap.version}[/]  {snap.num_rows:,} rows x "
        f"{snap.num_columns} columns  digest {snap.digest}",
        highlight=False,
    )
    for key, value in (
        ("created", f"{format_ms(snap.created_time)} by {snap.user_id or '-'}"),
        ("source", json.dumps(dict(snap.lineage.source), default=str)),
        ("parent", snap.lineage.parent or "-"),
        ("git commit", snap.lineage.git_commit or "-"),
        ("description", snap.description or "-"),
    ):
        console.print(f"  [bold]{key:<11}[/] {value}", highlight=False)
    table = Table(title="Schema", title_justify="left")
    for column in ("column", "type", "nullable", "range / domain"):
        table.add_column(column)
    for name, c in dict(snap.schema.get("columns", {})).items():
        domain = c.get("categories")
        bounds = f"{c.get('min')} … {c.get('max')}" if c.get("min") is not None else ""
        shown = (
            ", ".join(map(str, domain[:6])) + (" …" if len(domain) > 6 else "") if domain else ""
        )
        table.add_row(
            str(name), str(c.get("type")), "yes" if c.get("nullable") else "no", shown or bounds
        )
    console.print(table)
    if head:
        frame = load(ref, tracking_uri=STATE.tracking_uri).head(head)
        console.print(frame.to_string(max_cols=12))
