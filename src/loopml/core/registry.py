"""Registry entities and the rules for their names: registered models, versions, aliases.

A *registered model* is a name; its *versions* are immutable, numbered 1, 2, 3, ... in the order
they were registered (never reused, never skipped by a failed registration); an *alias*
(``champion``, ``challenger``, any name) points at one version and moves when a team promotes or
rolls back. ``models:/<name>@<alias>`` therefore always loads what the team means today.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any

from loopml.core.errors import InvalidInput, user_message

__all__ = [
    "MAX_DESCRIPTION_LENGTH",
    "MAX_MODEL_NAME_LENGTH",
    "AuditEvent",
    "Lineage",
    "ModelVersion",
    "RegisteredModel",
    "validate_alias",
    "validate_description",
    "validate_model_name",
    "validate_version",
]

MAX_MODEL_NAME_LENGTH = 256
MAX_ALIAS_LENGTH = 128
MAX_DESCRIPTION_LENGTH = 100_000

# '/' and '@' delimit versions and aliases in models:/ URIs; ':' is the URI scheme separator.
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$")
# Aliases that would read as a version in a URI: 'latest' and 'v3'.
_RESERVED_ALIAS = re.compile(r"^(latest|v\d+)$", re.IGNORECASE)


def validate_model_name(name: object) -> str:
    """A registered model name: letters, digits, ``_ . -`` and spaces; no ``/ @ :``."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(
            user_message("registered model name", "must be a non-empty string", name)
        )
    if len(name) > MAX_MODEL_NAME_LENGTH or not _MODEL_NAME.match(name) or name != name.strip():
        raise InvalidInput(
            user_message(
                "registered model name",
                f"must start with a letter or digit, use only letters, digits, '_', '.', '-' "
                f"and inner spaces, and be at most {MAX_MODEL_NAME_LENGTH} characters",
                name,
                "e.g. 'flight-delay' ('/', '@' and ':' are reserved by models:/ URIs)",
            )
        )
    return name


def validate_alias(alias: object) -> str:
    """An alias: an identifier (letters, digits, ``_ -``), not ``latest`` and not ``v<digits>``."""
    if (
        not isinstance(alias, str)
        or len(alias) > MAX_ALIAS_LENGTH
        or not _ALIAS.match(alias)
        or _RESERVED_ALIAS.match(alias)
    ):
        raise InvalidInput(
            user_message(
                "model alias",
                f"must be an identifier of at most {MAX_ALIAS_LENGTH} characters (letters, "
                "digits, '_', '-'), and not 'latest' or 'v<number>'",
                alias,
                "e.g. 'champion' or 'challenger'",
            )
        )
    return alias


def validate_version(version: object) -> int:
    """A model version number: a positive integer (``3`` or ``"3"``)."""
    if isinstance(version, bool):
        number = None
    elif isinstance(version, int):
        number = version
    elif isinstance(version, str) and version.strip().isdigit():
        number = int(version.strip())
    else:
        number = None
    if number is None or number < 1:
        raise InvalidInput(
            user_message("model version", "must be a positive integer", version, "e.g. 3")
        )
    return number


def validate_description(text: object) -> str:
    if not isinstance(text, str) or len(text) > MAX_DESCRIPTION_LENGTH or "\x00" in text:
        raise InvalidInput(
            user_message(
                "description",
                f"must be text of at most {MAX_DESCRIPTION_LENGTH} characters without NUL",
                text if not isinstance(text, str) else f"<{len(text)} characters>",
            )
        )
    return text


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A model name, its description, tags, aliases (alias -> version) and newest version."""

    name: str
    creation_time: int
    last_updated_time: int
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: Mapping[str, int] = field(default_factory=dict)
    latest_version: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", _frozen(self.tags))
        object.__setattr__(self, "aliases", _frozen(self.aliases))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "name": self.name,
            "creation_time": self.creation_time,
            "last_updated_time": self.last_updated_time,
            "description": self.description,
            "tags": dict(self.tags),
            "aliases": dict(self.aliases),
            "latest_version": self.latest_version,
        }


@dataclass(frozen=True, slots=True)
class Lineage:
    """Where a version came from: the run, the dataset snapshots it saw, the code commit, and
    the version it was trained to replace."""

    run_id: str | None = None
    dataset_ids: tuple[str, ...] = ()
    git_commit: str | None = None
    replaces_version: int | None = None


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """One immutable version of a registered model.

    ``source`` is the URI it was registered from (``runs:/<run>/<path>``, a path, or another
    ``models:/`` URI); its files are copied into the version's own artifact listing at
    registration, so later changes to the source never change the version.
    """

    name: str
    version: int
    creation_time: int
    last_updated_time: int
    source: str
    flavor: str
    user_id: str = ""
    description: str = ""
    status: str = "READY"
    lineage: Lineage = field(default_factory=Lineage)
    tags: Mapping[str, str] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "tags", _frozen(self.tags))

    @property
    def run_id(self) -> str | None:
        return self.lineage.run_id

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        lineage = asdict(self.lineage)
        lineage["dataset_ids"] = list(self.lineage.dataset_ids)
        return {
            "name": self.name,
            "version": self.version,
            "creation_time": self.creation_time,
            "last_updated_time": self.last_updated_time,
            "source": self.source,
            "flavor": self.flavor,
            "user_id": self.user_id,
            "description": self.description,
            "status": self.status,
            "lineage": lineage,
            "tags": dict(self.tags),
            "aliases": list(self.aliases),
        }


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One audit record: who did what to which object, with the state before and after."""

    event_id: int
    time: int
    actor: str
    action: str
    object_type: str
    object_id: str
    before: Any = None
    after: Any = None
    reason: str = ""
