"""Dataset snapshots on SQLAlchemy Core: SQLite (default) and PostgreSQL.

Each public method is one transaction. Creating and deleting a snapshot first lock its name's
``snapshot_names`` row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE``
already serialises writers), so under that lock the store can look for a version that already
holds the draft's data and, only if there is none, take the next number from the row's counter.
Concurrent snapshots of one name therefore get consecutive numbers, concurrent snapshots of the
same data get the same version, and a snapshot that fails rolls everything back, its number
included. The unique constraints on ``(name, version)`` and ``(name, digest)`` back this up.

Each snapshot's Parquet blob is listed in the artifact index under
:func:`~loopml.store.data.snapshot_owner`, written in the same transaction as the snapshot's row,
so garbage collection keeps the blob exactly as long as the snapshot exists.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loopml.core.entities import Page
from loopml.core.errors import Conflict, InvalidInput, NotFound, user_message, verbatim
from loopml.core.ids import now_ms
from loopml.core.registry import AuditEvent, validate_description
from loopml.core.settings import default_user
from loopml.core.snapshots import (
    Snapshot,
    SnapshotDraft,
    SnapshotLineage,
    check_snapshot_id,
    new_snapshot_id,
    parse_snapshot_ref,
    validate_snapshot_name,
)
from loopml.core.validation import validate_user
from loopml.store.data import SNAPSHOT_FILE, snapshot_owner
from loopml.store.sql._shared import (
    by_code_point,
    check_max_results,
    decode_json,
    dialect_insert,
    insert_if_absent,
    latest_version,
    lock_row,
    name_exists,
    newest_audit_events,
    page_bounds,
    read_page,
    take_next_version,
)
from loopml.store.sql.audit import write_audit
from loopml.store.sql.database import Database, in_chunks
from loopml.store.sql.registry_checks import (
    MAX_GIT_COMMIT_LENGTH,
    MAX_TEXT_LENGTH,
    validate_tags,
    validate_text,
)
from loopml.store.sql.schema import (
    artifacts,
    audit_events,
    snapshot_names,
    snapshot_tags,
    snapshots,
)
from loopml.store.sql.search import LIKE_ESCAPE, escape_like

__all__ = ["MAX_JSON_LENGTH", "SqlSnapshotStore"]

_SNAPSHOT = "snapshot"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
#: The longest JSON text a snapshot's schema, profile or source may take (the limit of a run's
#: dataset input, so every snapshot can be logged as one).
MAX_JSON_LENGTH = MAX_TEXT_LENGTH
_INT32_MAX = 2**31 - 1


# -- input checks ---------------------------------------------------------------------------------


def _check_hex64(what: str, value: object) -> str:
    if not isinstance(value, str) or not _HEX64.match(value):
        raise InvalidInput(user_message(what, "must be 64 lowercase hex digits (a sha256)", value))
    return value


def _check_count(what: str, value: object, limit: int = 2**63 - 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= limit:
        raise InvalidInput(user_message(what, f"must be an integer from 0 to {limit}", value))
    return value


def _check_version(version: object) -> int:
    if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= _INT32_MAX:
        raise InvalidInput(
            user_message("snapshot version", "must be a positive integer", version, "e.g. 3")
        )
    return version


def _check_json(what: str, value: object) -> str:
    """``value`` (a mapping of JSON values, finite numbers only) as compact JSON text."""
    if not isinstance(value, Mapping):
        raise InvalidInput(user_message(what, "must be a mapping", verbatim(f"<{type(value)}>")))
    try:
        text = json.dumps(dict(value), separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            user_message(
                what,
                "must hold only JSON values (str, finite numbers, bools, None, lists, dicts)",
                verbatim(f"<{exc}>"),
            )
        ) from exc
    return validate_text(what, text, MAX_JSON_LENGTH)


def _check_parent(parent: object) -> str | None:
    if parent is None:
        return None
    ref = parse_snapshot_ref(parent) if isinstance(parent, str) else None
    if ref is None or ref.kind != "version" or parent != f"{ref.name}@{ref.version}":
        raise InvalidInput(
            user_message("snapshot parent", "must be a ref of the form '<name>@<version>'", parent)
        )
    return parent


def _checked_row(draft: SnapshotDraft) -> dict[str, Any]:
    """The ``snapshots`` columns of ``draft`` after checking every field (no id, version, user
    or time yet)."""
    if not isinstance(draft, SnapshotDraft):
        raise InvalidInput(
            user_message("snapshot draft", "must be a loopml SnapshotDraft", type(draft).__name__)
        )
    lineage = draft.lineage
    if not isinstance(lineage, SnapshotLineage):
        raise InvalidInput(
            user_message("snapshot lineage", "must be a loopml SnapshotLineage", lineage)
        )
    git_commit = lineage.git_commit
    if git_commit is not None:
        git_commit = validate_text("snapshot git commit", git_commit, MAX_GIT_COMMIT_LENGTH)
    return {
        "name": validate_snapshot_name(draft.name),
        "digest": _check_hex64("snapshot digest", draft.digest),
        "blob_digest": _check_hex64("snapshot blob digest", draft.blob_digest),
        "blob_size": _check_count("snapshot blob size", draft.blob_size),
        "num_rows": _check_count("snapshot row count", draft.num_rows),
        "num_columns": _check_count("snapshot column count", draft.num_columns, _INT32_MAX),
        "schema": _check_json("snapshot schema", draft.schema),
        "profile": _check_json("snapshot profile", draft.profile),
        "source": _check_json("snapshot source", lineage.source),
        "parent": _check_parent(lineage.parent),
        "git_commit": git_commit,
        "description": validate_description(draft.description),
    }


# -- NotFound messages ----------------------------------------------------------------------------

_LIST_FIX = "list_snapshots() lists the stored snapshots"


def _id_not_found(snapshot_id: str) -> NotFound:
    return NotFound(user_message(f"snapshot {snapshot_id!r}", "does not exist", fix=_LIST_FIX))


def _name_not_found(name: str) -> NotFound:
    return NotFound(
        user_message(
            f"snapshot name {name!r}",
            "does not exist",
            fix=f"check the name (names are case-sensitive); {_LIST_FIX}",
        )
    )


def _no_versions(name: str) -> NotFound:
    return NotFound(
        user_message(
            f"snapshot name {name!r}",
            "has no versions (every one was deleted)",
            fix=f"store one with loopml.data.snapshots(data, {name!r})",
        )
    )


def _version_not_found(name: str, version: int, latest: int | None) -> NotFound:
    existing = f"its latest version is {latest}" if latest else "it has no versions"
    return NotFound(
        user_message(
            f"version {version} of snapshot {name!r}",
            "does not exist",
            fix=f"{existing}; list_snapshots({name!r}) lists them",
        )
    )


def _digest_not_found(name: str, digest: str) -> NotFound:
    return NotFound(
        user_message(
            f"snapshot {name!r}",
            f"has no version holding data of digest {digest}",
            fix=f"list_snapshots({name!r}) lists its versions and their digests",
        )
    )


# -- the store ------------------------------------------------------------------------------------


def _snapshot(values: Mapping[str, Any], tags: dict[str, str], created: bool | None) -> Snapshot:
    """A snapshot from a ``snapshots`` row's columns (JSON still as text)."""
    return Snapshot(
        snapshot_id=values["snapshot_id"],
        name=values["name"],
        version=values["version"],
        digest=values["digest"],
        blob_digest=values["blob_digest"],
        blob_size=values["blob_size"],
        num_rows=values["num_rows"],
        num_columns=values["num_columns"],
        created_time=values["created_time"],
        user_id=values["user_id"],
        schema=decode_json(values["schema"]),
        profile=decode_json(values["profile"]),
        lineage=SnapshotLineage(
            decode_json(values["source"]), values["parent"], values["git_commit"]
        ),
        description=values["description"],
        tags=tags,
        created=created,
    )


def _audit_summary(snapshot: Snapshot) -> dict[str, Any]:
    """What an audit event records of a snapshot: all but the bulky schema and profile (in the
    row already; the event says what changed)."""
    summary = snapshot.to_dict()
    for bulky in ("schema", "profile"):
        del summary[bulky]
    return summary


class SqlSnapshotStore:
    """:class:`~loopml.store.data.SnapshotStore` on a :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._insert = dialect_insert(database)

    # -- helpers ----------------------------------------------------------------------------------

    @staticmethod
    def _load(conn: Connection, rows: Sequence[Any], created: bool | None = None) -> list[Snapshot]:
        """Snapshots from rows of ``snapshots``, with their tags (one query per 900 rows)."""
        tag_map: dict[str, dict[str, str]] = defaultdict(dict)
        ids = [r.snapshot_id for r in rows]
        for chunk in in_chunks(ids):
            for snapshot_id, key, value in conn.execute(
                sa.select(snapshot_tags.c.snapshot_id, snapshot_tags.c.key, snapshot_tags.c.value)
                .where(snapshot_tags.c.snapshot_id.in_(chunk))
                .order_by(snapshot_tags.c.key)
            ):
                tag_map[snapshot_id][key] = value
        return [_snapshot(r._mapping, tag_map[r.snapshot_id], created) for r in rows]

    @staticmethod
    def _require_name(conn: Connection, name: str) -> None:
        if not name_exists(conn, snapshot_names, name):
            raise _name_not_found(name)

    def _version_row(self, conn: Connection, name: str, version: int) -> Any:
        row = conn.execute(
            sa.select(snapshots).where(snapshots.c.name == name, snapshots.c.version == version)
        ).first()
        if row is None:
            self._require_name(conn, name)
            raise _version_not_found(name, version, latest_version(conn, snapshots, name))
        return row

    # -- creating ---------------------------------------------------------------------------------

    def create_snapshot(self, draft: SnapshotDraft, actor: str = "") -> Snapshot:
        row = _checked_row(draft)
        tag_map = validate_tags(draft.tags)
        user = validate_user(actor or default_user())
        name = row["name"]
        now = now_ms()
        with self.db.write() as conn:
            # Racing first snapshots of a new name wait for each other here (PostgreSQL) or run
            # one after the other (SQLite); the lock below then queues every later step.
            insert_if_absent(
                conn,
                self._insert,
                snapshot_names,
                name=name,
                next_version=1,
                creation_time=now,
                last_updated_time=now,
            )
            lock_row(conn, snapshot_names, name)
            same = conn.execute(
                sa.select(snapshots).where(
                    snapshots.c.name == name, snapshots.c.digest == row["digest"]
                )
            ).first()
            if same is not None:
                return self._load(conn, [same], created=False)[0]
            if row["parent"] is not None:
                parent_name, _, parent_version = row["parent"].rpartition("@")  # checked above
                self._version_row(conn, parent_name, int(parent_version))
            version = take_next_version(conn, snapshot_names, name, now)
            if version is None:  # pragma: no cover - names are never deleted
                raise Conflict(user_message(f"snapshot name {name!r}", "vanished; store it again"))
            snapshot_id = new_snapshot_id()
            stored = {
                "snapshot_id": snapshot_id,
                "version": version,
                "user_id": user,
                "created_time": now,
                **row,
            }
            conn.execute(snapshots.insert().values(stored))
            if tag_map:
                conn.execute(
                    snapshot_tags.insert(),
                    [
                        {"snapshot_id": snapshot_id, "key": k, "value": v}
                        for k, v in sorted(tag_map.items())
                    ],
                )
            conn.execute(
                artifacts.insert().values(
                    owner=snapshot_owner(snapshot_id),
                    path=SNAPSHOT_FILE,
                    digest=row["blob_digest"],
                    size=row["blob_size"],
                    created_time=now,
                )
            )
            created = _snapshot(stored, tag_map, created=True)
            summary = _audit_summary(created)
            write_audit(conn, actor, "snapshot.create", _SNAPSHOT, created.ref, None, summary)
        return created

    # -- reading ----------------------------------------------------------------------------------

    def get_snapshot(self, snapshot_id: str) -> Snapshot:
        check_snapshot_id(snapshot_id)
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(snapshots).where(snapshots.c.snapshot_id == snapshot_id)
            ).first()
            if row is None:
                raise _id_not_found(snapshot_id)
            return self._load(conn, [row])[0]

    def get_snapshot_version(self, name: str, version: int) -> Snapshot:
        validate_snapshot_name(name)
        _check_version(version)
        with self.db.read() as conn:
            return self._load(conn, [self._version_row(conn, name, version)])[0]

    def get_latest_snapshot(self, name: str) -> Snapshot:
        validate_snapshot_name(name)
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(snapshots)
                .where(snapshots.c.name == name)
                .order_by(snapshots.c.version.desc())
                .limit(1)
            ).first()
            if row is None:
                self._require_name(conn, name)
                raise _no_versions(name)
            return self._load(conn, [row])[0]

    def get_snapshot_by_digest(self, name: str, digest: str) -> Snapshot:
        validate_snapshot_name(name)
        _check_hex64("snapshot digest", digest)
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(snapshots).where(snapshots.c.name == name, snapshots.c.digest == digest)
            ).first()
            if row is None:
                self._require_name(conn, name)
                raise _digest_not_found(name, digest)
            return self._load(conn, [row])[0]

    def search_snapshots(
        self,
        name: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[Snapshot]:
        limit, offset = page_bounds(max_results, page_token)
        query = sa.select(snapshots)
        if name is not None:
            query = query.where(snapshots.c.name == validate_snapshot_name(name))
        query = query.order_by(by_code_point(self.db, snapshots.c.name), snapshots.c.version.desc())
        return read_page(self.db, query, limit, offset, self._load)

    # -- deleting ---------------------------------------------------------------------------------

    def delete_snapshot(self, snapshot_id: str, actor: str = "") -> None:
        check_snapshot_id(snapshot_id)
        where = snapshots.c.snapshot_id == snapshot_id
        with self.db.write() as conn:
            name = conn.execute(sa.select(snapshots.c.name).where(where)).scalar_one_or_none()
            if name is None:
                raise _id_not_found(snapshot_id)
            lock_row(conn, snapshot_names, name)
            row = conn.execute(sa.select(snapshots).where(where)).first()
            if row is None:  # deleted while this transaction waited for the lock
                raise _id_not_found(snapshot_id)
            before = self._load(conn, [row])[0]
            conn.execute(artifacts.delete().where(artifacts.c.owner == snapshot_owner(snapshot_id)))
            conn.execute(snapshot_tags.delete().where(snapshot_tags.c.snapshot_id == snapshot_id))
            conn.execute(snapshots.delete().where(where))
            conn.execute(
                snapshot_names.update()
                .where(snapshot_names.c.name == name)
                .values(last_updated_time=now_ms())
            )
            summary = _audit_summary(before)
            write_audit(conn, actor, "snapshot.delete", _SNAPSHOT, before.ref, summary, None)

    # -- audit ------------------------------------------------------------------------------------

    def list_snapshot_audit_events(
        self, name: str | None = None, max_results: int = 1000
    ) -> list[AuditEvent]:
        limit = check_max_results(max_results)
        query = sa.select(audit_events).where(audit_events.c.object_type == _SNAPSHOT)
        if name is not None:
            pattern = escape_like(validate_snapshot_name(name)) + "@%"
            query = query.where(audit_events.c.object_id.like(pattern, escape=LIKE_ESCAPE))
        return newest_audit_events(self.db, query, limit)
