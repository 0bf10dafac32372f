"""The package version, single-sourced for pyproject and ``loopml --version``."""

__version__ = "0.1.0.dev0"
