"""``loopml deploy``: create, list, show, route, history and delete deployments.

Routes are written ``MODEL@ALIAS[:WEIGHT[:MODE]]`` or ``MODEL/VERSION[:WEIGHT[:MODE]]``, e.g.
``--route churn@champion:90 --route churn@challenger:10:canary``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import typer
from rich.table import Table

from loopml.cli.render import format_ms
from loopml.cli.state import STATE, console
from loopml.core.deployments import Deployment, DeploymentFingerprint, Route
from loopml.core.errors import InvalidInput, user_message
from loopml.registry.deployments import Deployments

__all__ = ["deploy_app"]

deploy_app = typer.Typer(
    help="Deployments: named routes from live traffic to model versions and aliases.",
    no_args_is_help=True,
)

_ROUTE_HELP = (
    "A route MODEL@ALIAS[:WEIGHT[:MODE]] or MODEL/VERSION[:WEIGHT[:MODE]]; MODE is primary "
    "(default), canary or shadow. Repeat for each route."
)


def _deployments() -> Deployments:
    return Deployments(STATE.tracking_uri)


def _routes_table(
    deployment: Deployment, fingerprint: DeploymentFingerprint | None = None
) -> Table:
    """The routes, with the version each serves now when ``fingerprint`` is given."""
    table = Table(title=f"Routes of {deployment.name}", title_justify="left")
    columns = ["arm", "model", "target", "mode", "weight"]
    if fingerprint is not None:
        columns.insert(3, "serves")
    for column in columns:
        table.add_column(column, justify="right" if column in ("weight", "serves") else "left")
    serves = {route[0]: route[-1] for route in (fingerprint.routes if fingerprint else ())}
    for route in deployment.routes:
        share = f"{route.weight:g}%" + (" copy" if route.mode == "shadow" else "")
        cells = [route.arm, route.model, route.target, route.mode, share]
        if fingerprint is not None:
            version = serves.get(route.arm)
            cells.insert(3, "[red]alias not set[/]" if version is None else f"v{version}")
        table.add_row(*cells)
    return table


def _print(deployment: Deployment, as_json: bool, message: str) -> None:
    if as_json:
        typer.echo(json.dumps(deployment.to_dict(), indent=2))
        return
    console.print(message, highlight=False)
    console.print(_routes_table(deployment))


def _named(route: Route) -> str:
    """The arm, with the route's model and target when the arm is not their default name."""
    target = route.model + (route.target if route.alias else f"/{route.target}")
    return route.arm if route.arm == target else f"{route.arm} ({target})"


def _route_changes(before: Sequence[Route], after: Sequence[Route]) -> list[str]:
    """One line per arm added, removed or changed."""
    old = {r.arm: r for r in before}
    new = {r.arm: r for r in after}
    lines = [f"  + {_named(r)} {r.weight:g}% {r.mode}" for r in after if r.arm not in old]
    lines += [f"  - {r.arm}" for r in before if r.arm not in new]
    for arm, route in new.items():
        was = old.get(arm)
        if was is None or was == route:
            continue
        fields = [
            f"{name} {a} → {b}"
            for name, a, b in (
                ("target", was.target, route.target),
                ("weight", f"{was.weight:g}%", f"{route.weight:g}%"),
                ("mode", was.mode, route.mode),
            )
            if a != b
        ]
        lines.append(f"  ~ {arm}: {', '.join(fields)}")
    return lines


@deploy_app.command("create")
def deploy_create(
    name: str = typer.Argument(..., help="Deployment name, e.g. web-delay."),
    route: list[str] = typer.Option(..., "--route", "-r", help=_ROUTE_HELP),
    description: str = typer.Option("", "--description", help="What this deployment serves."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a deployment routing traffic to model versions or aliases."""
    deployment = _deployments().create(name, route, description=description)
    _print(deployment, as_json, f"Created deployment [bold]{deployment.name}[/] (revision 1).")


@deploy_app.command("list")
def deploy_list(
    name_contains: str = typer.Option("", "--name-contains", help="Only names containing this."),
    max_results: int = typer.Option(100, "--max-results", min=1, max=10_000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List deployments with their routes."""
    page = _deployments().list(name_contains or None, max_results)
    if as_json:
        typer.echo(json.dumps([d.to_dict() for d in page], indent=2))
        return
    table = Table(title="Deployments", title_justify="left")
    for column in ("name", "revision", "routes", "updated", "description"):
        table.add_column(column, justify="right" if column == "revision" else "left")
    for d in page:
        table.add_row(
            d.name,
            str(d.revision),
            ", ".join(f"{r.arm} {r.weight:g}% {r.mode}" for r in d.routes),
            format_ms(d.updated_time),
            (d.description.splitlines() or [""])[0][:50],
        )
    console.print(table)
    if not page.items:
        console.print(
            "[dim]No deployments yet: loopml deploy create NAME --route MODEL@ALIAS creates one.[/]"
        )


@deploy_app.command("show")
def deploy_show(
    name: str = typer.Argument(..., help="Deployment name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a deployment: its routes and the version each serves now."""
    deployments = _deployments()
    deployment = deployments.get(name)
    fingerprint = deployments.fingerprint(name)
    if as_json:
        out = deployment.to_dict()
        serves = {route[0]: route[-1] for route in fingerprint.routes}
        for route in out["routes"]:
            route["serves"] = serves.get(route["arm"])
        typer.echo(json.dumps(out, indent=2))
        return
    console.print(
        f"[bold]{deployment.name}[/]  revision {deployment.revision}, created "
        f"{format_ms(deployment.created_time)}, updated {format_ms(deployment.updated_time)}",
        highlight=False,
    )
    if deployment.description:
        console.print(deployment.description, highlight=False)
    for key, value in sorted(deployment.tags.items()):
        console.print(f"  tag {key} = {value}", highlight=False)
    console.print(_routes_table(deployment, fingerprint))
    if any(route[-1] is None for route in fingerprint.routes):
        console.print(
            "[yellow]An alias a route follows is not set: servers cannot serve this deployment "
            "until it is (loopml models alias set MODEL ALIAS VERSION).[/]"
        )


@deploy_app.command("route")
def deploy_route(
    name: str = typer.Argument(..., help="Deployment name."),
    route: list[str] = typer.Option(
        [], "--route", "-r", help="Replace all routes with these. " + _ROUTE_HELP
    ),
    set_: str = typer.Option(
        None,
        "--set",
        help="Add this route or replace the one with its arm; a single other primary route "
        "takes up the weight difference.",
    ),
    remove: str = typer.Option(
        None, "--remove", help="Remove the route with this arm (e.g. churn@challenger)."
    ),
    expected_revision: int = typer.Option(
        None,
        "--expected-revision",
        min=1,
        help="Refuse if the deployment is no longer at this revision (with --route).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Change the routes of a deployment: replace them all, set one, or remove one."""
    given = [
        flag for flag, value in (("--route", route), ("--set", set_), ("--remove", remove)) if value
    ]
    if len(given) != 1:
        raise InvalidInput(
            user_message(
                "loopml deploy route",
                "takes exactly one of --route (repeatable), --set or --remove",
                given,
                f"e.g. loopml deploy route {name} --set churn@challenger:10:canary",
            )
        )
    if expected_revision is not None and not route:
        raise InvalidInput(
            user_message(
                "--expected-revision",
                "goes with --route (--set and --remove re-read the deployment and retry)",
                fix="drop --expected-revision, or replace the routes with --route",
            )
        )
    deployments = _deployments()
    before = deployments.get(name)
    if route:
        after = deployments.update_routes(name, route, expected_revision=expected_revision)
    elif set_:
        after = deployments.set_route(name, set_)
    else:
        after = deployments.remove_route(name, remove)
    if as_json:
        typer.echo(json.dumps(after.to_dict(), indent=2))
        return
    if after.revision == before.revision:
        console.print(f"{name}: the routes are already these (revision {after.revision}).")
        return
    console.print(
        f"[bold]{name}[/]: revision {before.revision} → {after.revision}", highlight=False
    )
    for line in _route_changes(before.routes, after.routes):
        console.print(line, highlight=False)
    console.print(_routes_table(after))


@deploy_app.command("history")
def deploy_history(
    name: str = typer.Argument(..., help="Deployment name."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The audit trail of a deployment: creation, each route change, deletion; who and when."""
    events = _deployments().audit_events(name)
    if as_json:
        typer.echo(
            json.dumps(
                [
                    {
                        "time": e.time,
                        "actor": e.actor,
                        "action": e.action,
                        "before": e.before,
                        "after": e.after,
                    }
                    for e in events
                ],
                indent=2,
            )
        )
        return
    table = Table(title=f"History of {name}", title_justify="left")
    for column in ("time", "actor", "action", "revision", "routes"):
        table.add_column(column)
    for e in events:
        state = e.after if isinstance(e.after, dict) else e.before
        routes = state.get("routes", []) if isinstance(state, dict) else []
        revision = state.get("revision", "-") if isinstance(state, dict) else "-"
        table.add_row(
            format_ms(e.time),
            e.actor,
            e.action.removeprefix("deployment."),
            str(revision),
            "deleted"
            if e.after is None
            else ", ".join(f"{r['arm']} {r['weight']:g}% {r['mode']}" for r in routes),
        )
    console.print(table)


@deploy_app.command("delete")
def deploy_delete(name: str = typer.Argument(..., help="Deployment name.")) -> None:
    """Delete a deployment (servers following it stop finding it)."""
    _deployments().delete(name)
    console.print(f"Deleted deployment {name}.")
