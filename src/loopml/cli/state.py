"""Process-wide CLI state set by the root options, and the consoles."""

from __future__ import annotations

from dataclasses import dataclass

from rich.console import Console

__all__ = ["STATE", "console", "err_console"]


@dataclass
class _State:
    debug: bool = False
    tracking_uri: str | None = None


STATE = _State()
console = Console()
err_console = Console(stderr=True)
