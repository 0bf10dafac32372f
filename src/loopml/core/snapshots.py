"""Dataset snapshots: immutable, numbered versions of a named table, and the refs that find them.

A *snapshot* is one version of a named dataset: the data itself (a Parquet blob in the
content-addressed artifact store), its content digest, schema, row count, statistical profile,
and lineage (where the data came from, the snapshot it was derived from, the code commit).
Versions of a name are numbered 1, 2, 3, ... in the order they were stored and a number is never
reused. Within one name, identical data is stored once: snapshotting it again returns the version
that already holds it.

Refs name a snapshot in one string:

- ``"flights@3"``: version 3 of ``flights``;
- ``"flights"`` or ``"flights@latest"``: the newest version;
- ``"flights@<64 hex digits>"``: the version of ``flights`` holding data of that content digest
  (the form a run's dataset inputs and a model version's lineage record);
- ``"<32 hex digits>"``: a snapshot id.

Names follow the registered-model rules (letters, digits, ``_ . -`` and inner spaces; ``@``,
``/`` and ``:`` are reserved), and a name may not read as a snapshot id (32 hex digits).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from loopml.core.entities import DatasetInput
from loopml.core.errors import InvalidInput, user_message

__all__ = [
    "MAX_SNAPSHOT_NAME_LENGTH",
    "SNAPSHOT_SOURCE_TYPE",
    "Snapshot",
    "SnapshotDraft",
    "SnapshotLineage",
    "SnapshotRef",
    "check_snapshot_id",
    "new_snapshot_id",
    "parse_snapshot_ref",
    "validate_snapshot_name",
]

MAX_SNAPSHOT_NAME_LENGTH = 256
#: ``DatasetInput.source_type`` of a run input that is a snapshot (its ``source`` is the ref).
SNAPSHOT_SOURCE_TYPE = "loopml.snapshot"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")
_SNAPSHOT_ID = re.compile(r"^[0-9a-f]{32}$")
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_FORMS = "'<name>@<version>', '<name>', '<name>@latest', '<name>@<sha256>' or a snapshot id"


def new_snapshot_id() -> str:
    """A fresh snapshot id: 32 lowercase hex characters (a UUID4, like a run id)."""
    return uuid.uuid4().hex


def check_snapshot_id(snapshot_id: object) -> str:
    """``snapshot_id`` if it is 32 lowercase hex characters, else a clear InvalidInput."""
    if not isinstance(snapshot_id, str) or not _SNAPSHOT_ID.match(snapshot_id):
        raise InvalidInput(
            user_message(
                "snapshot id",
                "must be 32 lowercase hexadecimal characters",
                snapshot_id,
                "copy it from Snapshot.snapshot_id or list_snapshots()",
            )
        )
    return snapshot_id


def validate_snapshot_name(name: object) -> str:
    """A snapshot name: the registered-model name rules, and not 32 hex digits (an id).

    >>> validate_snapshot_name("flights-2013")
    'flights-2013'
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(user_message("snapshot name", "must be a non-empty string", name))
    if len(name) > MAX_SNAPSHOT_NAME_LENGTH or not _NAME.match(name) or name != name.strip():
        raise InvalidInput(
            user_message(
                "snapshot name",
                "must start with a letter or digit, use only letters, digits, '_', '.', '-' "
                f"and inner spaces, and be at most {MAX_SNAPSHOT_NAME_LENGTH} characters",
                name,
                "e.g. 'flights' ('@', '/' and ':' are reserved by refs such as 'flights@3')",
            )
        )
    if _SNAPSHOT_ID.match(name):
        raise InvalidInput(
            user_message(
                "snapshot name",
                "must not be 32 hexadecimal digits, which reads as a snapshot id",
                name,
                "add a word to the name, e.g. 'data-<id>'",
            )
        )
    return name


@dataclass(frozen=True, slots=True)
class SnapshotRef:
    """A parsed ref. ``kind`` says which fields are set: ``id`` (``snapshot_id``), ``version``
    (``name``, ``version``), ``latest`` (``name``) or ``digest`` (``name``, ``digest``)."""

    kind: Literal["id", "version", "latest", "digest"]
    name: str | None = None
    version: int | None = None
    snapshot_id: str | None = None
    digest: str | None = None


def _bad_ref(ref: str, rule: str) -> InvalidInput:
    return InvalidInput(user_message(f"snapshot ref {ref!r}", rule, fix=f"use {_FORMS}"))


def parse_snapshot_ref(ref: object) -> SnapshotRef:
    """Parse a snapshot ref (see the module docstring).

    >>> parse_snapshot_ref("flights@3")
    SnapshotRef(kind='version', name='flights', version=3, snapshot_id=None, digest=None)
    >>> parse_snapshot_ref("flights").kind, parse_snapshot_ref("flights@latest").kind
    ('latest', 'latest')
    >>> parse_snapshot_ref("0123456789abcdef0123456789abcdef").kind
    'id'
    >>> parse_snapshot_ref("flights@0")
    Traceback (most recent call last):
    ...
    loopml.core.errors.InvalidInput: snapshot ref 'flights@0' must end in a version number ...
    """
    if not isinstance(ref, str) or not ref.strip():
        raise InvalidInput(
            user_message("snapshot ref", "must be a non-empty string", ref, f"use {_FORMS}")
        )
    text = ref.strip()
    if _SNAPSHOT_ID.match(text):
        return SnapshotRef("id", snapshot_id=text)
    name, at, selector = text.partition("@")
    if not name:
        raise _bad_ref(text, "must start with the snapshot name")
    if "@" in selector:
        raise _bad_ref(text, "must contain at most one '@'")
    try:
        validate_snapshot_name(name)
    except InvalidInput as exc:
        raise _bad_ref(text, f"names an invalid snapshot: {exc}") from None
    if not at or selector == "latest":
        return SnapshotRef("latest", name=name)
    if selector.isascii() and selector.isdigit() and int(selector) >= 1:
        return SnapshotRef("version", name=name, version=int(selector))
    if _DIGEST.match(selector):
        return SnapshotRef("digest", name=name, digest=selector)
    raise InvalidInput(
        user_message(
            f"snapshot ref {text!r}",
            "must end in a version number from 1, 'latest' or a 64-digit sha256",
            selector,
            f"use {_FORMS}",
        )
    )


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(value or {}))


def _json(value: Mapping[str, Any]) -> str:
    return json.dumps(dict(value), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class SnapshotLineage:
    """Where a snapshot's data came from.

    ``source`` describes the origin (``DataSource.describe()`` of a file or query, or
    ``{"kind": "pandas"}``); ``parent`` is the ref (``name@version``) of the snapshot this one
    was derived from, such as the version that labels were added to; ``git_commit`` is the code
    commit that made it, when known.
    """

    source: Mapping[str, Any] = field(default_factory=dict)
    parent: str | None = None
    git_commit: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "source", _frozen(self.source))

    def to_dict(self) -> dict[str, Any]:
        return {"source": dict(self.source), "parent": self.parent, "git_commit": self.git_commit}


@dataclass(frozen=True, slots=True)
class SnapshotDraft:
    """What a new snapshot holds before the store numbers it: the SDK computes this from the
    data (digest, blob, counts, schema, profile) and the call (name, lineage, texts)."""

    name: str
    digest: str
    blob_digest: str
    blob_size: int
    num_rows: int
    num_columns: int
    schema: Mapping[str, Any] = field(default_factory=dict)
    profile: Mapping[str, Any] = field(default_factory=dict)
    lineage: SnapshotLineage = field(default_factory=SnapshotLineage)
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", _frozen(self.schema))
        object.__setattr__(self, "profile", _frozen(self.profile))
        object.__setattr__(self, "tags", _frozen(self.tags))


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One immutable, numbered version of a named dataset.

    ``digest`` is the sha256 of the data in loopml's canonical form (equal data, equal digest,
    however it was read; see :func:`loopml.data.snapshots.data_digest`); ``blob_digest`` and
    ``blob_size`` name the Parquet file holding it in the artifact store. ``created`` says what
    the call that returned this object did: ``True`` stored it, ``False`` found the same data
    already stored under the name and returned that version, ``None`` read it back (get, list).
    It is not part of equality.
    """

    snapshot_id: str
    name: str
    version: int
    digest: str
    blob_digest: str
    blob_size: int
    num_rows: int
    num_columns: int
    created_time: int
    user_id: str = ""
    schema: Mapping[str, Any] = field(default_factory=dict)
    profile: Mapping[str, Any] = field(default_factory=dict)
    lineage: SnapshotLineage = field(default_factory=SnapshotLineage)
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    created: bool | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "schema", _frozen(self.schema))
        object.__setattr__(self, "profile", _frozen(self.profile))
        object.__setattr__(self, "tags", _frozen(self.tags))

    @property
    def ref(self) -> str:
        """``name@version``: the ref that loads exactly this snapshot."""
        return f"{self.name}@{self.version}"

    @property
    def parent(self) -> str | None:
        return self.lineage.parent

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "snapshot_id": self.snapshot_id,
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "blob_digest": self.blob_digest,
            "blob_size": self.blob_size,
            "num_rows": self.num_rows,
            "num_columns": self.num_columns,
            "created_time": self.created_time,
            "user_id": self.user_id,
            "schema": dict(self.schema),
            "profile": dict(self.profile),
            "lineage": self.lineage.to_dict(),
            "description": self.description,
            "tags": dict(self.tags),
        }

    def to_dataset_input(self, context: str = "training") -> DatasetInput:
        """This snapshot as a run input: ``loopml.log_input(snapshot, context="training")``.

        The input's name and digest are the snapshot's name and data digest (a registered
        model's lineage lists it as ``name@digest``, itself a ref that loads this snapshot);
        its source is :attr:`ref`.
        """
        return DatasetInput(
            name=self.name,
            digest=self.digest,
            source=self.ref,
            source_type=SNAPSHOT_SOURCE_TYPE,
            schema=_json(self.schema),
            profile=_json(self.profile),
            num_rows=self.num_rows,
            context=context,
        )
