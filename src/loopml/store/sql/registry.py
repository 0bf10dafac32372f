"""The model registry on SQLAlchemy Core: SQLite (default) and PostgreSQL.

Each public method is one transaction, and each change writes its audit event in that same
transaction. Mutations of a model first lock its ``registered_models`` row (``SELECT ... FOR
UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so the
"before" an audit event records is the state the change really replaced.

Version numbers come from the counter ``registered_models.next_version``, incremented by the
transaction that inserts the version: concurrent registrations queue on the row, get consecutive
numbers, and a registration that fails rolls its increment back with everything else.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import ColumnElement

from loopml.core.entities import ArtifactInfo, Page, RunTag
from loopml.core.errors import Conflict, InvalidInput, NotFound, user_message
from loopml.core.ids import check_run_id, now_ms
from loopml.core.registry import (
    AuditEvent,
    Lineage,
    ModelVersion,
    RegisteredModel,
    validate_alias,
    validate_description,
    validate_model_name,
    validate_version,
)
from loopml.core.settings import default_user
from loopml.core.validation import validate_tag, validate_user
from loopml.store.registry import model_version_owner
from loopml.store.sql._shared import (
    by_code_point,
    check_max_results,
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
    MAX_FLAVOR_LENGTH,
    MAX_TEXT_LENGTH,
    alias_not_found,
    model_not_found,
    model_tag_not_found,
    no_versions,
    validate_files,
    validate_lineage,
    validate_tags,
    validate_text,
    version_not_found,
    version_tag_not_found,
)
from loopml.store.sql.schema import (
    artifacts,
    audit_events,
    model_aliases,
    model_version_tags,
    model_versions,
    registered_model_tags,
    registered_models,
)
from loopml.store.sql.search import LIKE_ESCAPE, escape_like

__all__ = ["SqlRegistryStore"]

_MODEL = "registered_model"
_VERSION = "model_version"
_READY = "READY"
#: Every column of a version except the card, which only get_model_card reads.
_VERSION_COLUMNS = tuple(c for c in model_versions.c if c.name != "card")


@dataclass(frozen=True)
class _Subject:
    """A registered model or one of its versions: its row, its tag rows, its audit name."""

    object_type: str
    object_id: str
    table: sa.Table
    tags: sa.Table
    #: The columns naming it, in ``table`` and in ``tags``.
    key: Mapping[str, Any]
    tag_not_found: Callable[[str], NotFound]

    @classmethod
    def model(cls, name: str) -> _Subject:
        return cls(
            _MODEL,
            name,
            registered_models,
            registered_model_tags,
            {"name": name},
            partial(model_tag_not_found, name),
        )

    @classmethod
    def version(cls, name: str, version: int) -> _Subject:
        return cls(
            _VERSION,
            f"{name}/{version}",
            model_versions,
            model_version_tags,
            {"name": name, "version": version},
            partial(version_tag_not_found, name, version),
        )

    def where(self, table: sa.Table) -> list[ColumnElement[bool]]:
        """Conditions selecting this subject's rows of ``table`` (``self.table`` or its tags)."""
        return [table.c[column] == value for column, value in self.key.items()]


def _version_row(version: ModelVersion) -> dict[str, Any]:
    """The ``model_versions`` row of a new version (no card yet)."""
    lineage = version.lineage
    return {
        "name": version.name,
        "version": version.version,
        "creation_time": version.creation_time,
        "last_updated_time": version.last_updated_time,
        "source": version.source,
        "flavor": version.flavor,
        "user_id": version.user_id,
        "description": version.description,
        "status": version.status,
        "run_id": lineage.run_id,
        "dataset_ids": json.dumps(list(lineage.dataset_ids)),
        "git_commit": lineage.git_commit,
        "replaces_version": lineage.replaces_version,
        "card": None,
    }


class SqlRegistryStore:
    """:class:`~loopml.store.registry.RegistryStore` on a :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._insert = dialect_insert(database)

    # -- SQL helpers ------------------------------------------------------------------------------

    def _fold(self, value: Any) -> Any:
        """Lower-case for case-insensitive matching. SQLite's lower() folds ASCII only, so the
        SQLite engine registers ``loopml_lower`` (Python's str.lower); PostgreSQL's is Unicode."""
        if self.db.dialect == "sqlite":
            return sa.func.loopml_lower(value)
        return sa.func.lower(value)

    @staticmethod
    def _require_model(conn: Connection, name: str) -> None:
        """NotFound unless the model exists (without locking it)."""
        if not name_exists(conn, registered_models, name):
            raise model_not_found(name)

    @staticmethod
    def _lock_model(conn: Connection, name: str) -> Any:
        """The model's row, locked until the transaction ends; NotFound if absent."""
        row = lock_row(conn, registered_models, name)
        if row is None:
            raise model_not_found(name)
        return row

    def _insert_model(self, conn: Connection, name: str, description: str, now: int) -> bool:
        """Insert the model unless the name is taken; whether it inserted. Racing inserts of one
        name wait for each other (PostgreSQL) or run one after the other (SQLite)."""
        return insert_if_absent(
            conn,
            self._insert,
            registered_models,
            name=name,
            description=description,
            creation_time=now,
            last_updated_time=now,
            next_version=1,
        )

    def _require_version(self, conn: Connection, name: str, version: int) -> Any:
        """The version's full row (card included); NotFound naming the model or the version."""
        row = conn.execute(
            sa.select(model_versions).where(
                model_versions.c.name == name, model_versions.c.version == version
            )
        ).first()
        if row is None:
            self._require_model(conn, name)
            raise version_not_found(name, version, latest_version(conn, model_versions, name))
        return row

    def _lock_version(self, conn: Connection, name: str, version: int) -> Any:
        """The version's full row, its model's row locked until the transaction ends."""
        self._lock_model(conn, name)
        return self._require_version(conn, name, version)

    @staticmethod
    def _aliases_of_model(conn: Connection, name: str) -> dict[str, int]:
        rows = conn.execute(
            sa.select(model_aliases.c.alias, model_aliases.c.version).where(
                model_aliases.c.name == name
            )
        ).all()
        return {str(a): int(v) for a, v in rows}

    # -- changing a subject (its model row locked) ------------------------------------------------

    @staticmethod
    def _audit(
        conn: Connection, actor: str, action: str, subject: _Subject, before: Any, after: Any
    ) -> None:
        write_audit(conn, actor, action, subject.object_type, subject.object_id, before, after)

    @staticmethod
    def _touch(conn: Connection, subject: _Subject, now: int) -> None:
        conn.execute(
            subject.table.update()
            .where(*subject.where(subject.table))
            .values(last_updated_time=now)
        )

    def _replace(
        self,
        conn: Connection,
        actor: str,
        action: str,
        subject: _Subject,
        column: str,
        before: Any,
        after: Any,
    ) -> None:
        """Set one column of the subject's row from ``before`` to ``after``, and audit it."""
        conn.execute(
            subject.table.update()
            .where(*subject.where(subject.table))
            .values({column: after, "last_updated_time": now_ms()})
        )
        self._audit(conn, actor, action, subject, {column: before}, {column: after})

    def _set_tag(
        self, conn: Connection, actor: str, action: str, subject: _Subject, tag: RunTag
    ) -> None:
        """Insert or overwrite one tag of the subject, and audit the value it replaced."""
        table = subject.tags
        before = conn.execute(
            sa.select(table.c.value).where(*subject.where(table), table.c.key == tag.key)
        ).scalar_one_or_none()
        stmt = self._insert(table).values(**subject.key, key=tag.key, value=tag.value)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[*(table.c[column] for column in subject.key), table.c.key],
                set_={"value": stmt.excluded.value},
            )
        )
        self._touch(conn, subject, now_ms())
        after = {"key": tag.key, "value": tag.value}
        self._audit(conn, actor, action, subject, {"key": tag.key, "value": before}, after)

    def _delete_tag(
        self, conn: Connection, actor: str, action: str, subject: _Subject, key: str
    ) -> None:
        """Delete one tag of the subject (NotFound if it has none), and audit its last value."""
        table = subject.tags
        where = (*subject.where(table), table.c.key == key)
        before = conn.execute(sa.select(table.c.value).where(*where)).scalar_one_or_none()
        if before is None:
            raise subject.tag_not_found(key)
        conn.execute(table.delete().where(*where))
        self._touch(conn, subject, now_ms())
        self._audit(conn, actor, action, subject, {"key": key, "value": before}, None)

    # -- loading entities -------------------------------------------------------------------------

    @staticmethod
    def _load_models(conn: Connection, rows: Sequence[Any]) -> list[RegisteredModel]:
        names = [r.name for r in rows]
        tag_map: dict[str, dict[str, str]] = defaultdict(dict)
        alias_map: dict[str, dict[str, int]] = defaultdict(dict)
        latest: dict[str, int] = {}
        for chunk in in_chunks(names):
            for name, key, value in conn.execute(
                sa.select(
                    registered_model_tags.c.name,
                    registered_model_tags.c.key,
                    registered_model_tags.c.value,
                ).where(registered_model_tags.c.name.in_(chunk))
            ):
                tag_map[name][key] = value
            for name, alias, version in conn.execute(
                sa.select(model_aliases.c.name, model_aliases.c.alias, model_aliases.c.version)
                .where(model_aliases.c.name.in_(chunk))
                .order_by(model_aliases.c.alias)
            ):
                alias_map[name][alias] = version
            for name, version in conn.execute(
                sa.select(model_versions.c.name, sa.func.max(model_versions.c.version))
                .where(model_versions.c.name.in_(chunk))
                .group_by(model_versions.c.name)
            ):
                latest[name] = version
        return [
            RegisteredModel(
                name=r.name,
                creation_time=r.creation_time,
                last_updated_time=r.last_updated_time,
                description=r.description,
                tags=tag_map[r.name],
                aliases=alias_map[r.name],
                latest_version=latest.get(r.name),
            )
            for r in rows
        ]

    @staticmethod
    def _load_versions(conn: Connection, rows: Sequence[Any]) -> list[ModelVersion]:
        """Versions from rows of ``model_versions``, with their tags and aliases (two indexed
        queries per model on the page)."""
        by_model: dict[str, list[int]] = defaultdict(list)
        for r in rows:
            by_model[r.name].append(r.version)
        tag_map: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
        alias_map: dict[tuple[str, int], list[str]] = defaultdict(list)
        for name, versions in by_model.items():
            for chunk in in_chunks(versions):
                for version, key, value in conn.execute(
                    sa.select(
                        model_version_tags.c.version,
                        model_version_tags.c.key,
                        model_version_tags.c.value,
                    ).where(
                        model_version_tags.c.name == name,
                        model_version_tags.c.version.in_(chunk),
                    )
                ):
                    tag_map[(name, version)][key] = value
                for version, alias in conn.execute(
                    sa.select(model_aliases.c.version, model_aliases.c.alias).where(
                        model_aliases.c.name == name, model_aliases.c.version.in_(chunk)
                    )
                ):
                    alias_map[(name, version)].append(alias)
        return [
            ModelVersion(
                name=r.name,
                version=r.version,
                creation_time=r.creation_time,
                last_updated_time=r.last_updated_time,
                source=r.source,
                flavor=r.flavor,
                user_id=r.user_id,
                description=r.description,
                status=r.status,
                lineage=Lineage(
                    run_id=r.run_id,
                    dataset_ids=tuple(json.loads(r.dataset_ids)),
                    git_commit=r.git_commit,
                    replaces_version=r.replaces_version,
                ),
                tags=tag_map[(r.name, r.version)],
                aliases=tuple(sorted(alias_map[(r.name, r.version)])),
            )
            for r in rows
        ]

    def _get_version(self, conn: Connection, name: str, version: int) -> ModelVersion:
        row = self._require_version(conn, name, version)
        return self._load_versions(conn, [row])[0]

    # -- registered models ------------------------------------------------------------------------

    def create_registered_model(
        self,
        name: str,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        actor: str = "",
    ) -> RegisteredModel:
        validate_model_name(name)
        validate_description(description)
        tag_map = validate_tags(tags)
        now = now_ms()
        with self.db.write() as conn:
            inserted = self._insert_model(conn, name, description, now)
            if not inserted:
                raise Conflict(
                    user_message(
                        f"registered model {name!r}",
                        "already exists",
                        fix="register a new version of it, or pick another name",
                    )
                )
            if tag_map:
                conn.execute(
                    registered_model_tags.insert(),
                    [{"name": name, "key": k, "value": v} for k, v in sorted(tag_map.items())],
                )
            after = {"description": description, "tags": tag_map}
            self._audit(conn, actor, "registered_model.create", _Subject.model(name), None, after)
        return RegisteredModel(name, now, now, description, tag_map)

    def get_registered_model(self, name: str) -> RegisteredModel:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(registered_models).where(registered_models.c.name == name)
            ).first()
            if row is None:
                raise model_not_found(name)
            return self._load_models(conn, [row])[0]

    def search_registered_models(
        self,
        name_contains: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        limit, offset = page_bounds(max_results, page_token)
        query = sa.select(registered_models)
        if name_contains:
            if not isinstance(name_contains, str):
                raise InvalidInput(user_message("name_contains", "must be a string", name_contains))
            pattern = f"%{escape_like(name_contains)}%"
            query = query.where(
                self._fold(registered_models.c.name).like(self._fold(pattern), escape=LIKE_ESCAPE)
            )
        query = query.order_by(by_code_point(self.db, registered_models.c.name))
        return read_page(self.db, query, limit, offset, self._load_models)

    def update_registered_model(
        self, name: str, description: str, actor: str = ""
    ) -> RegisteredModel:
        validate_description(description)
        model = _Subject.model(name)
        with self.db.write() as conn:
            row = self._lock_model(conn, name)
            self._replace(
                conn,
                actor,
                "registered_model.update",
                model,
                "description",
                row.description,
                description,
            )
            updated = conn.execute(
                sa.select(registered_models).where(registered_models.c.name == name)
            ).one()
            return self._load_models(conn, [updated])[0]

    def delete_registered_model(self, name: str, actor: str = "") -> None:
        with self.db.write() as conn:
            row = self._lock_model(conn, name)
            aliases = self._aliases_of_model(conn, name)
            if aliases:
                listed = ", ".join(f"{a!r} -> {v}" for a, v in sorted(aliases.items()))
                raise Conflict(
                    user_message(
                        f"registered model {name!r}",
                        f"cannot be deleted while aliases point at its versions ({listed})",
                        fix="delete the aliases with delete_alias first (deployments resolve "
                        "them), then delete the model",
                    )
                )
            versions = list(
                conn.execute(
                    sa.select(model_versions.c.version)
                    .where(model_versions.c.name == name)
                    .order_by(model_versions.c.version)
                ).scalars()
            )
            tag_map = dict(
                conn.execute(
                    sa.select(registered_model_tags.c.key, registered_model_tags.c.value).where(
                        registered_model_tags.c.name == name
                    )
                ).all()
            )
            owners = [model_version_owner(name, v) for v in versions]
            for chunk in in_chunks(owners):
                conn.execute(artifacts.delete().where(artifacts.c.owner.in_(chunk)))
            conn.execute(model_version_tags.delete().where(model_version_tags.c.name == name))
            conn.execute(model_versions.delete().where(model_versions.c.name == name))
            conn.execute(registered_model_tags.delete().where(registered_model_tags.c.name == name))
            conn.execute(registered_models.delete().where(registered_models.c.name == name))
            before = {"description": row.description, "tags": tag_map, "versions": versions}
            self._audit(conn, actor, "registered_model.delete", _Subject.model(name), before, None)

    def set_registered_model_tag(self, name: str, key: str, value: str, actor: str = "") -> None:
        tag = validate_tag(key, value)
        with self.db.write() as conn:
            self._lock_model(conn, name)
            self._set_tag(conn, actor, "registered_model.set_tag", _Subject.model(name), tag)

    def delete_registered_model_tag(self, name: str, key: str, actor: str = "") -> None:
        with self.db.write() as conn:
            self._lock_model(conn, name)
            self._delete_tag(conn, actor, "registered_model.delete_tag", _Subject.model(name), key)

    # -- versions ---------------------------------------------------------------------------------

    def create_model_version(
        self,
        name: str,
        source: str,
        flavor: str,
        files: Sequence[tuple[str, str, int]],
        lineage: Lineage,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        actor: str = "",
    ) -> ModelVersion:
        validate_model_name(name)
        validate_text("model version source", source, MAX_TEXT_LENGTH)
        validate_text("model flavor", flavor, MAX_FLAVOR_LENGTH)
        file_map = validate_files(files)
        checked = validate_lineage(lineage)
        validate_description(description)
        tag_map = validate_tags(tags)
        user = validate_user(actor or default_user())
        now = now_ms()
        with self.db.write() as conn:
            created = self._insert_model(conn, name, "", now)
            if created:
                after = {"description": "", "tags": {}}
                self._audit(
                    conn, actor, "registered_model.create", _Subject.model(name), None, after
                )
            # The row lock this UPDATE takes queues concurrent registrations of ``name``.
            number = take_next_version(conn, registered_models, name, now)
            if number is None:
                raise Conflict(
                    user_message(
                        f"registered model {name!r}",
                        "was deleted while this version was being registered",
                        fix="register the version again",
                    )
                )
            registered = ModelVersion(
                name=name,
                version=number,
                creation_time=now,
                last_updated_time=now,
                source=source,
                flavor=flavor,
                user_id=user,
                description=description,
                status=_READY,
                lineage=checked,
                tags=tag_map,
            )
            version = registered.version
            replaces = checked.replaces_version
            if replaces is not None:
                self._require_version(conn, name, replaces)
            conn.execute(model_versions.insert().values(_version_row(registered)))
            if tag_map:
                conn.execute(
                    model_version_tags.insert(),
                    [
                        {"name": name, "version": version, "key": k, "value": v}
                        for k, v in sorted(tag_map.items())
                    ],
                )
            owner = model_version_owner(name, version)
            # Rows a deleted namesake left behind must not leak into this version's listing.
            conn.execute(artifacts.delete().where(artifacts.c.owner == owner))
            if file_map:
                conn.execute(
                    artifacts.insert(),
                    [
                        {"owner": owner, "path": p, "digest": d, "size": s, "created_time": now}
                        for p, (d, s) in sorted(file_map.items())
                    ],
                )
            self._audit(
                conn,
                actor,
                "model_version.create",
                _Subject.version(name, version),
                None,
                {
                    "source": source,
                    "flavor": flavor,
                    "description": description,
                    "tags": tag_map,
                    "run_id": checked.run_id,
                    "dataset_ids": list(checked.dataset_ids),
                    "git_commit": checked.git_commit,
                    "replaces_version": replaces,
                    "files": len(file_map),
                },
            )
        return registered

    def get_model_version(self, name: str, version: int) -> ModelVersion:
        number = validate_version(version)
        with self.db.read() as conn:
            return self._get_version(conn, name, number)

    def get_latest_version(self, name: str) -> ModelVersion:
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(*_VERSION_COLUMNS)
                .where(model_versions.c.name == name)
                .order_by(model_versions.c.version.desc())
                .limit(1)
            ).first()
            if row is None:
                self._require_model(conn, name)
                raise no_versions(name)
            return self._load_versions(conn, [row])[0]

    def search_model_versions(
        self,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        limit, offset = page_bounds(max_results, page_token)
        query = sa.select(*_VERSION_COLUMNS)
        if name is not None:
            query = query.where(model_versions.c.name == name)
        if run_id is not None:
            query = query.where(model_versions.c.run_id == check_run_id(run_id))
        query = query.order_by(
            by_code_point(self.db, model_versions.c.name), model_versions.c.version.desc()
        )
        return read_page(self.db, query, limit, offset, self._load_versions)

    def update_model_version(
        self, name: str, version: int, description: str, actor: str = ""
    ) -> ModelVersion:
        number = validate_version(version)
        validate_description(description)
        subject = _Subject.version(name, number)
        with self.db.write() as conn:
            row = self._lock_version(conn, name, number)
            self._replace(
                conn,
                actor,
                "model_version.update",
                subject,
                "description",
                row.description,
                description,
            )
            return self._get_version(conn, name, number)

    def delete_model_version(self, name: str, version: int, actor: str = "") -> None:
        number = validate_version(version)
        subject = _Subject.version(name, number)
        with self.db.write() as conn:
            row = self._lock_version(conn, name, number)
            held = sorted(a for a, v in self._aliases_of_model(conn, name).items() if v == number)
            if held:
                listed = ", ".join(repr(a) for a in held)
                raise Conflict(
                    user_message(
                        f"version {number} of registered model {name!r}",
                        f"cannot be deleted while alias {listed} points at it",
                        fix=f"move the alias to another version with set_alias({name!r}, "
                        f"{held[0]!r}, <version>) or remove it with delete_alias first",
                    )
                )
            before = self._load_versions(conn, [row])[0].to_dict()
            conn.execute(
                artifacts.delete().where(artifacts.c.owner == model_version_owner(name, number))
            )
            conn.execute(model_version_tags.delete().where(*subject.where(model_version_tags)))
            conn.execute(model_versions.delete().where(*subject.where(model_versions)))
            self._touch(conn, _Subject.model(name), now_ms())
            self._audit(conn, actor, "model_version.delete", subject, before, None)

    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, actor: str = ""
    ) -> None:
        number = validate_version(version)
        tag = validate_tag(key, value)
        with self.db.write() as conn:
            self._lock_version(conn, name, number)
            self._set_tag(conn, actor, "model_version.set_tag", _Subject.version(name, number), tag)

    def delete_model_version_tag(self, name: str, version: int, key: str, actor: str = "") -> None:
        number = validate_version(version)
        subject = _Subject.version(name, number)
        with self.db.write() as conn:
            self._lock_version(conn, name, number)
            self._delete_tag(conn, actor, "model_version.delete_tag", subject, key)

    def model_version_files(self, name: str, version: int) -> list[ArtifactInfo]:
        number = validate_version(version)
        with self.db.read() as conn:
            self._require_version(conn, name, number)
            rows = conn.execute(
                sa.select(artifacts.c.path, artifacts.c.digest, artifacts.c.size)
                .where(artifacts.c.owner == model_version_owner(name, number))
                .order_by(artifacts.c.path)
            ).all()
        return [ArtifactInfo(p, False, s, d) for p, d, s in rows]

    # -- aliases ----------------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: int, actor: str = "") -> None:
        validate_alias(alias)
        number = validate_version(version)
        model = _Subject.model(name)
        with self.db.write() as conn:
            self._lock_version(conn, name, number)
            before = conn.execute(
                sa.select(model_aliases.c.version).where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            ).scalar_one_or_none()
            if before == number:
                return  # already there: nothing changes, nothing to audit
            stmt = self._insert(model_aliases).values(name=name, alias=alias, version=number)
            conn.execute(
                stmt.on_conflict_do_update(
                    index_elements=[model_aliases.c.name, model_aliases.c.alias],
                    set_={"version": stmt.excluded.version},
                )
            )
            self._touch(conn, model, now_ms())
            self._audit(
                conn,
                actor,
                "alias.set",
                model,
                {"alias": alias, "version": before},
                {"alias": alias, "version": number},
            )

    def delete_alias(self, name: str, alias: str, actor: str = "") -> None:
        model = _Subject.model(name)
        with self.db.write() as conn:
            self._lock_model(conn, name)
            aliases = self._aliases_of_model(conn, name)
            if alias not in aliases:
                raise alias_not_found(name, alias, aliases)
            conn.execute(
                model_aliases.delete().where(
                    model_aliases.c.name == name, model_aliases.c.alias == alias
                )
            )
            self._touch(conn, model, now_ms())
            before = {"alias": alias, "version": aliases[alias]}
            self._audit(conn, actor, "alias.delete", model, before, None)

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        # One join through the (name, alias) primary key, then tags and aliases by index.
        query = (
            sa.select(*_VERSION_COLUMNS)
            .select_from(
                model_aliases.join(
                    model_versions,
                    sa.and_(
                        model_versions.c.name == model_aliases.c.name,
                        model_versions.c.version == model_aliases.c.version,
                    ),
                )
            )
            .where(model_aliases.c.name == name, model_aliases.c.alias == alias)
        )
        with self.db.read() as conn:
            row = conn.execute(query).first()
            if row is None:
                self._require_model(conn, name)
                raise alias_not_found(name, alias, self._aliases_of_model(conn, name))
            return self._load_versions(conn, [row])[0]

    # -- model cards ------------------------------------------------------------------------------

    def get_model_card(self, name: str, version: int) -> str | None:
        number = validate_version(version)
        with self.db.read() as conn:
            card: str | None = self._require_version(conn, name, number).card
            return card

    def set_model_card(self, name: str, version: int, text: str, actor: str = "") -> None:
        number = validate_version(version)
        validate_text("model card", text, MAX_TEXT_LENGTH, required=False)
        subject = _Subject.version(name, number)
        with self.db.write() as conn:
            row = self._lock_version(conn, name, number)
            self._replace(conn, actor, "model_version.set_card", subject, "card", row.card, text)

    # -- audit ------------------------------------------------------------------------------------

    def list_audit_events(
        self,
        object_type: str | None = None,
        object_id: str | None = None,
        max_results: int = 1000,
        model_name: str | None = None,
    ) -> list[AuditEvent]:
        limit = check_max_results(max_results)
        query = sa.select(audit_events)
        if object_type is not None:
            query = query.where(audit_events.c.object_type == object_type)
        if object_id is not None:
            query = query.where(audit_events.c.object_id == object_id)
        if model_name is not None:
            query = query.where(
                sa.or_(
                    sa.and_(
                        audit_events.c.object_type == _MODEL,
                        audit_events.c.object_id == model_name,
                    ),
                    sa.and_(
                        audit_events.c.object_type == _VERSION,
                        audit_events.c.object_id.like(
                            escape_like(model_name) + "/%", escape=LIKE_ESCAPE
                        ),
                    ),
                )
            )
        return newest_audit_events(self.db, query, limit)
