"""The error boundary of the CLI: a loopml error is one clear line and a non-zero exit code.

``--debug`` (or ``LOOPML_DEBUG=1``) shows the traceback as well.
"""

from __future__ import annotations

import sys

import typer

from loopml._version import __version__
from loopml.cli import commands
from loopml.cli.state import STATE, err_console
from loopml.core.errors import InvalidInput, LoopmlError, NotFound

__all__ = ["app", "main"]

app = typer.Typer(
    name="loopml",
    help="loopml: track, register, serve, monitor and experiment — the whole ML feedback loop.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"loopml {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    debug: bool = typer.Option(
        False, "--debug", envvar="LOOPML_DEBUG", help="Show tracebacks of errors."
    ),
    tracking_uri: str = typer.Option(
        "",
        "--tracking-uri",
        envvar="LOOPML_TRACKING_URI",
        help="Metadata store: a directory, sqlite:///file.db or postgresql+psycopg://... "
        "(default ./.loopml).",
        show_default=False,
    ),
) -> None:
    STATE.debug = debug
    STATE.tracking_uri = tracking_uri or None


commands.register(app)

_EXIT_CODES = {InvalidInput: 2, NotFound: 3}


def main(argv: list[str] | None = None) -> None:
    """Run the CLI. Exit codes: 0 ok, 1 error, 2 bad input or usage, 3 not found, 130 interrupted.

    Typer handles usage errors, ``--help`` and ``--version`` itself (standalone mode); loopml's
    own errors propagate out of it and are printed here as one line.
    """
    try:
        app(args=argv, prog_name="loopml")
    except KeyboardInterrupt:
        err_console.print("[yellow]Interrupted.[/]")
        sys.exit(130)
    except LoopmlError as exc:
        if STATE.debug:
            err_console.print_exception()
        err_console.print(f"[bold red]Error:[/] {exc}", highlight=False)
        code = next((c for kind, c in _EXIT_CODES.items() if isinstance(exc, kind)), 1)
        sys.exit(code)
