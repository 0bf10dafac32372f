"""The ``loopml`` command line (Typer + rich). Entry point: :func:`main`."""

from loopml.cli.main import app, main

__all__ = ["app", "main"]
