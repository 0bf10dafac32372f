"""Every ``LOOPML_*`` environment variable, with its type and default, in one place.

Settings are read once into a frozen :class:`Settings` object by :func:`load_settings`. Parsing is
honest: a boolean is only ``true/false/1/0/yes/no`` (any case), a number must parse, and a bad value
is an :class:`~loopml.core.errors.InvalidInput` naming the variable. Values that may hold
credentials (database URLs) are masked in ``repr``.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from loopml.core.errors import InvalidInput, user_message

__all__ = ["VARIABLES", "Settings", "Variable", "default_user", "load_settings", "mask_url"]


def default_user() -> str:
    """The OS user, recorded when ``LOOPML_USER`` does not name one."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return "unknown"


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _parse_bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise InvalidInput(
        user_message(f"environment variable {name}", "must be a boolean", raw, "use true or false")
    )


def _parse_float(name: str, raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise InvalidInput(
            user_message(f"environment variable {name}", "must be a number", raw, "e.g. 30")
        ) from None


def _parse_str(name: str, raw: str) -> str:
    return raw.strip()


_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)(?P<user>[^:/@]*):(?P<pw>[^@/]*)@")


_QUERY_SECRET = re.compile(
    r"(?P<key>[?&;\s](?:password|passwd|pwd|secret|token|sslpassword)=)(?P<value>[^&;\s]*)",
    re.IGNORECASE,
)


def mask_url(url: str) -> str:
    """Hide the passwords of a URL or a text quoting one: ``user:password@`` credentials and
    ``password=`` style query parameters.

    >>> mask_url("postgresql+psycopg://me:hunter2@db:5432/loopml")
    'postgresql+psycopg://me:***@db:5432/loopml'
    >>> mask_url("postgresql+psycopg://me@db/loopml?password=hunter2&sslmode=require")
    'postgresql+psycopg://me@db/loopml?password=***&sslmode=require'
    """
    masked = _CREDENTIALS.sub(lambda m: f"{m['scheme']}{m['user']}:***@", url)
    return _QUERY_SECRET.sub(lambda m: f"{m['key']}***", masked)


@dataclass(frozen=True, slots=True)
class Variable:
    """The declaration of one environment variable."""

    name: str
    attr: str
    parse: Callable[[str, str], Any]
    help: str
    secret: bool = False


VARIABLES: tuple[Variable, ...] = (
    Variable("LOOPML_HOME", "home", _parse_str, "Where embedded stores live (default ./.loopml)."),
    Variable(
        "LOOPML_TRACKING_URI",
        "tracking_uri",
        _parse_str,
        "Metadata store URL: sqlite:///path, postgresql+psycopg://... (default "
        "sqlite:///$LOOPML_HOME/loopml.db).",
        secret=True,
    ),
    Variable(
        "LOOPML_ARTIFACT_URI",
        "artifact_uri",
        _parse_str,
        "Artifact store: a local path or any fsspec URL (default $LOOPML_HOME/artifacts).",
        secret=True,
    ),
    Variable(
        "LOOPML_PREDICTIONS_URI",
        "predictions_uri",
        _parse_str,
        "Prediction log: a local path or any fsspec URL (default $LOOPML_HOME/predictions).",
        secret=True,
    ),
    Variable(
        "LOOPML_EXPERIMENT_NAME",
        "experiment_name",
        _parse_str,
        "Experiment used when none is set (default 'Default').",
    ),
    Variable("LOOPML_USER", "user", _parse_str, "User recorded on runs (default: OS user)."),
    Variable(
        "LOOPML_DB_TIMEOUT",
        "db_timeout",
        _parse_float,
        "Seconds a writer waits for a locked SQLite database before failing (default 30).",
    ),
    Variable(
        "LOOPML_SQLITE_SYNCHRONOUS",
        "sqlite_synchronous",
        _parse_str,
        "SQLite PRAGMA synchronous: NORMAL (default; durable across process crashes) or FULL "
        "(also across power loss, slower).",
    ),
    Variable(
        "LOOPML_RECORD_GIT",
        "record_git",
        _parse_bool,
        "Record the git commit and dirty flag of the entry point on each run (default true).",
    ),
)


@dataclass(frozen=True, slots=True)
class Settings:
    """The resolved configuration of a process. Build with :func:`load_settings`."""

    home: str = ".loopml"
    tracking_uri: str = ""
    artifact_uri: str = ""
    predictions_uri: str = ""
    experiment_name: str = "Default"
    user: str = ""
    db_timeout: float = 30.0
    sqlite_synchronous: str = "NORMAL"
    record_git: bool = True
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.sqlite_synchronous.upper() not in {"NORMAL", "FULL"}:
            raise InvalidInput(
                user_message(
                    "environment variable LOOPML_SQLITE_SYNCHRONOUS",
                    "must be NORMAL or FULL",
                    self.sqlite_synchronous,
                )
            )
        if self.db_timeout <= 0:
            raise InvalidInput(
                user_message("LOOPML_DB_TIMEOUT", "must be positive", self.db_timeout)
            )

    @property
    def home_path(self) -> Path:
        return Path(self.home).expanduser().resolve()

    def resolved_tracking_uri(self) -> str:
        """The metadata store URL, defaulting to SQLite inside ``home``."""
        if self.tracking_uri:
            return self.tracking_uri
        return f"sqlite:///{self.home_path / 'loopml.db'}"

    def resolved_user(self) -> str:
        """``LOOPML_USER`` or the OS user."""
        return self.user or default_user()

    def resolved_artifact_uri(self) -> str:
        """The artifact store URL, defaulting to a directory inside ``home``."""
        return self.artifact_uri or str(self.home_path / "artifacts")

    def resolved_predictions_uri(self) -> str:
        """The prediction log's root, defaulting to a directory inside ``home``."""
        return self.predictions_uri or str(self.home_path / "predictions")

    def __repr__(self) -> str:
        parts = []
        for f in fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if f.name in ("tracking_uri", "artifact_uri", "predictions_uri") and isinstance(
                value, str
            ):
                value = mask_url(value)
            parts.append(f"{f.name}={value!r}")
        return f"Settings({', '.join(parts)})"


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read every declared ``LOOPML_*`` variable from ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for var in VARIABLES:
        raw = env.get(var.name)
        if raw is None or raw.strip() == "":
            continue
        values[var.attr] = var.parse(var.name, raw)
    return Settings(**values)
