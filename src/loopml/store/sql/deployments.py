"""Deployments on SQLAlchemy Core: SQLite (default) and PostgreSQL.

Each public method is one transaction, and each change writes its audit event in that same
transaction. A change first locks the deployment's row (``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so the revision it checks against
``expected_revision``, the routes its audit event records as "before", and the revision it writes
are those of the state it really replaced: of two racing writers expecting one revision, exactly
one wins.

The read a server polls, :meth:`SqlDeploymentStore.get_fingerprint`, is one statement: the
deployment's revision joined with its routes and, for alias routes, the registry's
``model_aliases`` rows they follow.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from loopml.core.deployments import (
    ROUTE_MODES,
    Deployment,
    DeploymentFingerprint,
    Route,
    RouteMode,
    validate_deployment_name,
    validate_routes,
)
from loopml.core.entities import Page
from loopml.core.errors import Conflict, InvalidInput, NotFound, did_you_mean, user_message
from loopml.core.ids import now_ms
from loopml.core.registry import AuditEvent, validate_description
from loopml.store.deployments import DEPLOYMENT_OBJECT_TYPE
from loopml.store.sql._shared import (
    by_code_point,
    check_max_results,
    dialect_insert,
    insert_if_absent,
    lock_row,
    newest_audit_events,
    page_bounds,
    read_page,
)
from loopml.store.sql.audit import write_audit
from loopml.store.sql.database import Database, in_chunks
from loopml.store.sql.registry_checks import validate_tags
from loopml.store.sql.schema import audit_events, deployment_routes, deployments, model_aliases
from loopml.store.sql.search import LIKE_ESCAPE, escape_like

__all__ = ["SqlDeploymentStore"]

_INT32_MAX = 2**31 - 1
#: How many deployment names a NotFound reads to suggest the closest one.
_SUGGESTION_POOL = 1000

_ROUTE_COLUMNS = (
    deployment_routes.c.arm,
    deployment_routes.c.model,
    deployment_routes.c.version,
    deployment_routes.c.alias,
    deployment_routes.c.weight,
    deployment_routes.c.mode,
)


def _check_revision(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _INT32_MAX:
        raise InvalidInput(
            user_message(
                "expected revision",
                "must be a positive integer",
                value,
                "pass the revision of the deployment you read (Deployment.revision)",
            )
        )
    return value


def _target(version: int | None, alias: str | None) -> str:
    return f"@{alias}" if alias is not None else str(version)


def _route(
    arm: str, model: str, version: int | None, alias: str | None, weight: float, mode: str
) -> Route:
    return Route(model, _target(version, alias), float(weight), _mode(mode), arm)


def _mode(text: str) -> RouteMode:
    if text in ROUTE_MODES:
        return text
    raise InvalidInput(user_message("stored route mode", "is not one loopml knows", text))


def _route_rows(name: str, routes: Sequence[Route]) -> list[dict[str, Any]]:
    return [
        {
            "deployment": name,
            "position": position,
            "arm": route.arm,
            "model": route.model,
            "version": route.version,
            "alias": route.alias,
            "weight": route.weight,
            "mode": route.mode,
        }
        for position, route in enumerate(routes)
    ]


def _routes_state(revision: int, routes: Sequence[Route]) -> dict[str, Any]:
    """What an audit event records of a deployment's routes."""
    return {"revision": revision, "routes": [r.to_dict() for r in routes]}


class SqlDeploymentStore:
    """:class:`~loopml.store.deployments.DeploymentStore` on a :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._insert = dialect_insert(database)
        name: sa.BindParameter[str] = sa.bindparam("name", type_=sa.String)
        self._revision_query = sa.select(deployments.c.revision).where(deployments.c.name == name)
        routes, aliases = deployment_routes, model_aliases
        self._fingerprint_query = (
            sa.select(
                deployments.c.revision,
                *_ROUTE_COLUMNS,
                aliases.c.version.label("alias_version"),
            )
            .select_from(
                deployments.outerjoin(routes, routes.c.deployment == deployments.c.name).outerjoin(
                    aliases,
                    sa.and_(aliases.c.name == routes.c.model, aliases.c.alias == routes.c.alias),
                )
            )
            .where(deployments.c.name == name)
            .order_by(routes.c.position)
        )

    # -- SQL helpers ------------------------------------------------------------------------------

    def _fold(self, value: Any) -> Any:
        """Lower-case for case-insensitive matching (see ``SqlRegistryStore._fold``)."""
        if self.db.dialect == "sqlite":
            return sa.func.loopml_lower(value)
        return sa.func.lower(value)

    @staticmethod
    def _not_found(conn: Connection, name: str) -> NotFound:
        known = conn.execute(
            sa.select(deployments.c.name).order_by(deployments.c.name).limit(_SUGGESTION_POOL)
        ).scalars()
        suggestion = did_you_mean(name, known)
        return NotFound(
            user_message(
                f"deployment {name!r}",
                "does not exist",
                fix=suggestion
                or "check the name (names are case-sensitive); "
                "`loopml deploy list` lists the deployments",
            )
        )

    def _lock(self, conn: Connection, name: str) -> Any:
        """The deployment's row, locked until the transaction ends; NotFound if absent."""
        row = lock_row(conn, deployments, name)
        if row is None:
            raise self._not_found(conn, name)
        return row

    @staticmethod
    def _routes_of(conn: Connection, names: Sequence[str]) -> dict[str, list[Route]]:
        by_name: dict[str, list[Route]] = defaultdict(list)
        for chunk in in_chunks(names):
            rows = conn.execute(
                sa.select(deployment_routes.c.deployment, *_ROUTE_COLUMNS)
                .where(deployment_routes.c.deployment.in_(chunk))
                .order_by(deployment_routes.c.deployment, deployment_routes.c.position)
            )
            for deployment, *fields in rows:
                by_name[deployment].append(_route(*fields))
        return by_name

    @classmethod
    def _load(cls, conn: Connection, rows: Sequence[Any]) -> list[Deployment]:
        routes = cls._routes_of(conn, [r.name for r in rows])
        return [
            Deployment(
                name=r.name,
                routes=tuple(routes[r.name]),
                description=r.description,
                revision=r.revision,
                created_time=r.created_time,
                updated_time=r.updated_time,
                tags=json.loads(r.tags),
            )
            for r in rows
        ]

    def _get(self, conn: Connection, name: str) -> Deployment:
        row = conn.execute(sa.select(deployments).where(deployments.c.name == name)).first()
        if row is None:
            raise self._not_found(conn, name)
        return self._load(conn, [row])[0]

    @staticmethod
    def _audit(
        conn: Connection, actor: str, action: str, name: str, before: Any, after: Any
    ) -> None:
        write_audit(conn, actor, action, DEPLOYMENT_OBJECT_TYPE, name, before, after)

    # -- deployments ------------------------------------------------------------------------------

    def create_deployment(
        self,
        name: str,
        routes: Sequence[Route],
        description: str = "",
        tags: Mapping[str, str] | None = None,
        actor: str = "",
    ) -> Deployment:
        validate_deployment_name(name)
        checked = validate_routes(routes)
        validate_description(description)
        tag_map = validate_tags(tags)
        now = now_ms()
        with self.db.write() as conn:
            inserted = insert_if_absent(
                conn,
                self._insert,
                deployments,
                name=name,
                description=description,
                tags=json.dumps(tag_map, sort_keys=True),
                revision=1,
                created_time=now,
                updated_time=now,
            )
            if not inserted:
                raise Conflict(
                    user_message(
                        f"deployment {name!r}",
                        "already exists",
                        fix="change its routes with update_routes (`loopml deploy route`), or "
                        "pick another name",
                    )
                )
            conn.execute(deployment_routes.insert(), _route_rows(name, checked))
            after = {"description": description, "tags": tag_map, **_routes_state(1, checked)}
            self._audit(conn, actor, "deployment.create", name, None, after)
        return Deployment(name, checked, description, 1, now, now, tag_map)

    def get_deployment(self, name: str) -> Deployment:
        with self.db.read() as conn:
            return self._get(conn, name)

    def get_revision(self, name: str) -> int:
        with self.db.read() as conn:
            revision = conn.execute(self._revision_query, {"name": name}).scalar_one_or_none()
            if revision is None:
                raise self._not_found(conn, name)
            return int(revision)

    def get_fingerprint(self, name: str) -> DeploymentFingerprint:
        with self.db.read() as conn:
            rows = conn.execute(self._fingerprint_query, {"name": name}).all()
            if not rows:
                raise self._not_found(conn, name)
        routes = tuple(
            (
                arm,
                model,
                _target(version, alias),
                float(weight),
                _mode(mode),
                version if alias is None else alias_version,
            )
            for _, arm, model, version, alias, weight, mode, alias_version in rows
            if arm is not None
        )
        return DeploymentFingerprint(int(rows[0].revision), routes)

    def search_deployments(
        self,
        name_contains: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[Deployment]:
        limit, offset = page_bounds(max_results, page_token)
        query = sa.select(deployments)
        if name_contains:
            if not isinstance(name_contains, str):
                raise InvalidInput(user_message("name_contains", "must be a string", name_contains))
            pattern = f"%{escape_like(name_contains)}%"
            query = query.where(
                self._fold(deployments.c.name).like(self._fold(pattern), escape=LIKE_ESCAPE)
            )
        query = query.order_by(by_code_point(self.db, deployments.c.name))
        return read_page(self.db, query, limit, offset, self._load)

    def update_routes(
        self,
        name: str,
        routes: Sequence[Route],
        expected_revision: int | None = None,
        actor: str = "",
    ) -> Deployment:
        checked = validate_routes(routes)
        expected = None if expected_revision is None else _check_revision(expected_revision)
        with self.db.write() as conn:
            row = self._lock(conn, name)
            if expected is not None and row.revision != expected:
                raise Conflict(
                    user_message(
                        f"deployment {name!r}",
                        f"is at revision {row.revision}, not the expected {expected}: it changed "
                        "since it was read",
                        fix="read it again, re-apply the change, and retry",
                    )
                )
            current = self._load(conn, [row])[0]
            if current.routes == checked:
                return current  # nothing changes: same revision, nothing to audit
            revision, now = row.revision + 1, now_ms()
            conn.execute(deployment_routes.delete().where(deployment_routes.c.deployment == name))
            conn.execute(deployment_routes.insert(), _route_rows(name, checked))
            conn.execute(
                deployments.update()
                .where(deployments.c.name == name)
                .values(revision=revision, updated_time=now)
            )
            before = _routes_state(row.revision, current.routes)
            after = _routes_state(revision, checked)
            self._audit(conn, actor, "deployment.update_routes", name, before, after)
        return Deployment(
            name, checked, current.description, revision, current.created_time, now, current.tags
        )

    def delete_deployment(self, name: str, actor: str = "") -> None:
        with self.db.write() as conn:
            row = self._lock(conn, name)
            current = self._load(conn, [row])[0]
            conn.execute(deployment_routes.delete().where(deployment_routes.c.deployment == name))
            conn.execute(deployments.delete().where(deployments.c.name == name))
            before = {
                "description": current.description,
                "tags": dict(current.tags),
                **_routes_state(current.revision, current.routes),
            }
            self._audit(conn, actor, "deployment.delete", name, before, None)

    # -- audit ------------------------------------------------------------------------------------

    def list_audit_events(
        self, name: str | None = None, max_results: int = 1000
    ) -> list[AuditEvent]:
        limit = check_max_results(max_results)
        query = sa.select(audit_events).where(audit_events.c.object_type == DEPLOYMENT_OBJECT_TYPE)
        if name is not None:
            query = query.where(audit_events.c.object_id == name)
        return newest_audit_events(self.db, query, limit)
