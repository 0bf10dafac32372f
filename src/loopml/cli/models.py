"""``loopml models``: list, show, versions, register, card, export, alias set|delete, audit."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import typer
from rich.markdown import Markdown
from rich.table import Table

from loopml.cli.render import format_ms
from loopml.cli.state import STATE, console
from loopml.core.errors import InvalidInput, user_message
from loopml.core.registry import ModelVersion, validate_alias
from loopml.registry.client import ModelRegistry

__all__ = ["models_app"]

models_app = typer.Typer(
    help="The model registry: versions, aliases, cards, export.", no_args_is_help=True
)
alias_app = typer.Typer(help="Move or remove a model alias.", no_args_is_help=True)
models_app.add_typer(alias_app, name="alias")


def _registry() -> ModelRegistry:
    return ModelRegistry(STATE.tracking_uri)


def _version(registry: ModelRegistry, name: str, ref: str | None) -> ModelVersion:
    """A version from '3', 'latest', '@champion' or 'champion' (default: latest)."""
    text = (ref or "latest").strip()
    if text.isdigit():
        return registry.get_model_version(name, int(text))
    if text == "latest":
        return registry.get_latest_version(name)
    return registry.get_version_by_alias(name, validate_alias(text.removeprefix("@")))


def _versions_table(versions: list[ModelVersion], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("version", "aliases", "flavor", "registered", "by", "run", "description"):
        table.add_column(column, justify="right" if column == "version" else "left")
    for v in versions:
        table.add_row(
            str(v.version),
            ", ".join(v.aliases) or "-",
            v.flavor,
            format_ms(v.creation_time),
            v.user_id or "-",
            (v.run_id or "-")[:8],
            (v.description.splitlines() or [""])[0][:40],
        )
    return table


@models_app.command("list")
def models_list(
    name_contains: str = typer.Option("", "--name-contains", help="Only names containing this."),
    max_results: int = typer.Option(100, "--max-results", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List registered models with their latest version and aliases."""
    page = _registry().search_registered_models(name_contains or None, max_results)
    if as_json:
        typer.echo(json.dumps([m.to_dict() for m in page], indent=2))
        return
    table = Table(title="Registered models", title_justify="left")
    for column in ("name", "latest", "aliases", "updated", "description"):
        table.add_column(column, justify="right" if column == "latest" else "left")
    for m in page:
        aliases = ", ".join(f"{a}→v{v}" for a, v in sorted(m.aliases.items()))
        table.add_row(
            m.name,
            "-" if m.latest_version is None else str(m.latest_version),
            aliases or "-",
            format_ms(m.last_updated_time),
            (m.description.splitlines() or [""])[0][:50],
        )
    console.print(table)
    if not page.items:
        console.print(
            "[dim]No registered models yet: loopml.log_model(..., "
            "registered_model_name='name') registers one.[/]"
        )


@models_app.command("show")
def models_show(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str = typer.Argument(
        None, help="A version number, 'latest' or an alias (e.g. champion)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a registered model, or one of its versions with its manifest and lineage."""
    registry = _registry()
    if version is None:
        model = registry.get_registered_model(name)
        versions = list(registry.search_model_versions(name, max_results=20))
        if as_json:
            out = model.to_dict()
            out["versions"] = [v.to_dict() for v in versions]
            typer.echo(json.dumps(out, indent=2))
            return
        console.print(f"[bold]{model.name}[/]  created {format_ms(model.creation_time)}")
        if model.description:
            console.print(model.description)
        for key, value in sorted(model.tags.items()):
            console.print(f"  tag {key} = {value}")
        console.print(_versions_table(versions, "Versions (newest first)"))
        return
    mv = _version(registry, name, version)
    manifest = registry.get_manifest(mv.uri)
    if as_json:
        typer.echo(json.dumps({**mv.to_dict(), "manifest": manifest.to_dict()}, indent=2))
        return
    console.print(f"[bold]{mv.name}[/] version {mv.version}  [dim]{mv.uri}[/]")
    rows = [
        ("aliases", ", ".join(mv.aliases) or "-"),
        ("flavor", manifest.flavor + ("" if manifest.safe else " (unsafe: needs --trust)")),
        ("registered", f"{format_ms(mv.creation_time)} by {mv.user_id or '-'}"),
        ("source", mv.source),
        ("run", mv.run_id or "-"),
        ("git commit", mv.lineage.git_commit or "-"),
        ("datasets", ", ".join(mv.lineage.dataset_ids) or "-"),
        (
            "replaces",
            "-" if mv.lineage.replaces_version is None else str(mv.lineage.replaces_version),
        ),
        ("python", manifest.python_version),
        ("libraries", ", ".join(f"{k} {v}" for k, v in sorted(manifest.libraries.items()))),
    ]
    if manifest.signature is not None:
        rows.append(
            ("inputs", ", ".join(f"{c.name}:{c.type.value}" for c in manifest.signature.inputs))
        )
    for key, value in rows:
        console.print(f"  [bold]{key:<11}[/] {value}", highlight=False)


@models_app.command("versions")
def models_versions(
    name: str = typer.Argument(..., help="Registered model name."),
    max_results: int = typer.Option(100, "--max-results", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the versions of a model, newest first."""
    registry = _registry()
    registry.get_registered_model(name)  # NotFound with a clear message for a wrong name
    versions = list(registry.search_model_versions(name, max_results=max_results))
    if as_json:
        typer.echo(json.dumps([v.to_dict() for v in versions], indent=2))
        return
    console.print(_versions_table(versions, f"Versions of {name}"))


@models_app.command("register")
def models_register(
    model_uri: str = typer.Argument(
        ..., help="runs:/<run>/<path>, a package directory, or models:/…"
    ),
    name: str = typer.Argument(..., help="Registered model name (created if new)."),
    description: str = typer.Option("", "--description", help="What this version is."),
    replaces: str = typer.Option(
        None, "--replaces", help="The version (number or alias) this one is meant to replace."
    ),
) -> None:
    """Register a logged model package as the next version of NAME."""
    mv = _registry().register_model(model_uri, name, description=description, replaces=replaces)
    console.print(f"Registered [bold]{mv.name}[/] version {mv.version}  [dim]{mv.uri}[/]")


@models_app.command("delete-version")
def models_delete_version(
    name: str = typer.Argument(..., help="Registered model name."),
    version: int = typer.Argument(..., help="Version number."),
) -> None:
    """Delete a version (refused while an alias points at it; its number is never reused)."""
    _registry().delete_model_version(name, version)
    console.print(f"Deleted {name} version {version}.")


@models_app.command("card")
def models_card(
    name: str = typer.Argument(..., help="Registered model name."),
    version: str = typer.Argument(None, help="Version number, 'latest' or an alias."),
    edit: Path = typer.Option(
        None, "--set", help="Replace the card with this markdown file.", exists=True, dir_okay=False
    ),
    output: Path = typer.Option(None, "--output", "-o", help="Write the card to this file."),
    raw: bool = typer.Option(False, "--raw", help="Print markdown source, not rendered."),
) -> None:
    """Show (or --set) a version's model card: generated until someone edits it."""
    registry = _registry()
    mv = _version(registry, name, version)
    if edit is not None:
        registry.set_model_card(mv.name, mv.version, edit.read_text(encoding="utf-8"))
        console.print(f"Card of {mv.name} version {mv.version} updated from {edit}.")
        return
    text = registry.get_model_card(mv.name, mv.version)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        console.print(f"Wrote {output}")
    elif raw:
        typer.echo(text)
    else:
        console.print(Markdown(text))


@models_app.command("export")
def models_export(
    model_uri: str = typer.Argument(..., help="The model to export (any model URI)."),
    output: Path = typer.Option(..., "--output", "-o", help="New package directory to write."),
    onnx: bool = typer.Option(False, "--onnx", help="Convert to ONNX (extra loopml[onnx])."),
    tolerance: float = typer.Option(
        1e-4, "--tolerance", min=0.0, help="Largest accepted |difference| of predictions."
    ),
    register: str = typer.Option(None, "--register", help="Also register the export as NAME."),
    example: Path = typer.Option(
        None,
        "--example",
        help="CSV of rows to verify the conversion on (default: the package's input example).",
        exists=True,
        dir_okay=False,
    ),
) -> None:
    """Export a model to another format; ONNX exports are refused when predictions differ."""
    if not onnx:
        raise InvalidInput(
            user_message("export format", "must be chosen", fix="pass --onnx (the only one today)")
        )
    from loopml.models.flavors.onnx import export_onnx

    registry = _registry()
    loaded = registry.load_model(model_uri)
    rows = None
    if example is not None:
        import pandas as pd

        rows = pd.read_csv(example)
    manifest = export_onnx(loaded, output, tolerance=tolerance, example=rows)
    diff = manifest.options.get("max_abs_difference")
    console.print(
        f"Exported {model_uri} to ONNX at {output} (max |difference| {diff} ≤ {tolerance})."
    )
    if register:
        mv = registry.register_model(
            str(output), register, description=f"ONNX export of {model_uri}"
        )
        console.print(f"Registered [bold]{mv.name}[/] version {mv.version}  [dim]{mv.uri}[/]")


@models_app.command("audit")
def models_audit(
    name: str = typer.Argument(..., help="Registered model name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The audit trail of a model: every change, who made it, before and after."""
    events = _registry().audit_events(name)
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(e) for e in events], indent=2))
        return
    table = Table(title=f"Audit trail of {name}", title_justify="left")
    for column in ("time", "actor", "action", "object", "change"):
        table.add_column(column)
    for e in events:
        table.add_row(format_ms(e.time), e.actor, e.action, e.object_id, _change(e.before, e.after))
    console.print(table)


def _change(before: object, after: object) -> str:
    if before is None or after is None:
        state = after if before is None else before
        shown = (
            ", ".join(f"{k}={v!r}" for k, v in sorted(state.items()) if v not in (None, "", {}, []))
            if isinstance(state, dict)
            else repr(state)
        )
        return ("created: " if before is None else "deleted: ") + shown[:110]
    if isinstance(before, dict) and isinstance(after, dict):
        keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        return "; ".join(f"{k}: {before.get(k)!r} → {after.get(k)!r}" for k in keys)[:120]
    return f"{before!r} → {after!r}"[:120]


@alias_app.command("set")
def alias_set(
    name: str = typer.Argument(..., help="Registered model name."),
    alias: str = typer.Argument(..., help="Alias, e.g. champion."),
    version: int = typer.Argument(..., help="Version the alias should point at."),
) -> None:
    """Point ALIAS at VERSION (promote, or roll back)."""
    registry = _registry()
    try:
        before: int | None = registry.get_version_by_alias(name, alias).version
    except LookupError:
        before = None
    registry.set_alias(name, alias, version)
    moved = "" if before is None or before == version else f" (was version {before})"
    console.print(f"{name}@{alias} → version {version}{moved}")


@alias_app.command("delete")
def alias_delete(
    name: str = typer.Argument(..., help="Registered model name."),
    alias: str = typer.Argument(..., help="Alias to remove."),
) -> None:
    """Remove ALIAS from NAME."""
    _registry().delete_alias(name, alias)
    console.print(f"Removed alias {alias} of {name}.")
