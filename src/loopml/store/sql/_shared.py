"""What the SQL stores of versioned names share: the name counter, row locks, pages and audit reads.

Rules every store built on these follows:

- A versioned name has one row in its names table (``name`` primary key, ``next_version``,
  ``last_updated_time``). :func:`insert_if_absent` creates it (racing inserts of one name wait
  for each other on PostgreSQL, run one after the other on SQLite); :func:`take_next_version`
  increments its counter in the transaction that inserts the version, so concurrent writers
  queue on the row, get consecutive numbers, and a write that fails rolls its number back.
- :func:`lock_row` takes the same row lock up front (``SELECT ... FOR UPDATE`` on PostgreSQL;
  SQLite's ``BEGIN IMMEDIATE`` already serialises writers) when a change must read before it
  writes.
- Listings take ``max_results`` from 1 to ``SEARCH_MAX_RESULTS_LIMIT`` and an opaque page
  token (:func:`page_bounds`), and sort names by code point on both backends
  (:func:`by_code_point`).
- Audit listings return the newest ``max_results`` events, oldest first
  (:func:`newest_audit_events`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection

from loopml.core.entities import Page
from loopml.core.errors import InvalidInput, user_message
from loopml.core.registry import AuditEvent
from loopml.store.sql.database import Database
from loopml.store.sql.schema import audit_events
from loopml.store.sql.search import decode_page_token, encode_page_token
from loopml.store.tracking import SEARCH_MAX_RESULTS_LIMIT

__all__ = [
    "by_code_point",
    "check_max_results",
    "decode_json",
    "dialect_insert",
    "insert_if_absent",
    "latest_version",
    "lock_row",
    "name_exists",
    "newest_audit_events",
    "page_bounds",
    "read_page",
    "take_next_version",
]

_T = TypeVar("_T")


def decode_json(text: str | None) -> Any:
    """A JSON column's value (``None`` stays ``None``)."""
    return None if text is None else json.loads(text)


def dialect_insert(database: Database) -> Callable[[sa.Table], Any]:
    """The database's own ``insert`` (with ``on_conflict_do_*``)."""
    return sqlite_dialect.insert if database.dialect == "sqlite" else pg_dialect.insert


def by_code_point(database: Database, column: Any) -> Any:
    """``column`` sorting by code point on both backends, whatever the database's collation."""
    return column.collate("C") if database.dialect == "postgresql" else column


# -- versioned names --------------------------------------------------------------------------


def insert_if_absent(
    conn: Connection, insert: Callable[[sa.Table], Any], table: sa.Table, **row: Any
) -> bool:
    """Insert ``row`` into ``table`` (with ``insert``, the dialect's) unless its ``name`` is
    taken; whether it inserted."""
    inserted = conn.execute(
        insert(table)
        .values(**row)
        .on_conflict_do_nothing(index_elements=[table.c.name])
        .returning(table.c.name)
    ).first()
    return inserted is not None


def take_next_version(conn: Connection, table: sa.Table, name: str, now: int) -> int | None:
    """The version number ``name``'s counter held, now incremented (its row locked until the
    transaction ends); ``None`` if ``table`` has no row ``name``."""
    counter = conn.execute(
        table.update()
        .where(table.c.name == name)
        .values(next_version=table.c.next_version + 1, last_updated_time=now)
        .returning(table.c.next_version)
    ).scalar_one_or_none()
    return None if counter is None else int(counter) - 1


def lock_row(conn: Connection, table: sa.Table, name: str) -> Any:
    """The row ``name`` of ``table``, locked until the transaction ends; ``None`` if absent."""
    return conn.execute(sa.select(table).where(table.c.name == name).with_for_update()).first()


def name_exists(conn: Connection, table: sa.Table, name: str) -> bool:
    """Whether ``table`` has a row ``name`` (without locking it)."""
    found = conn.execute(sa.select(table.c.name).where(table.c.name == name)).first()
    return found is not None


def latest_version(conn: Connection, table: sa.Table, name: str) -> int | None:
    """The highest ``version`` of ``name`` in ``table`` (``None`` if it has none)."""
    latest: int | None = conn.execute(
        sa.select(sa.func.max(table.c.version)).where(table.c.name == name)
    ).scalar_one_or_none()
    return latest


# -- listings ---------------------------------------------------------------------------------


def page_bounds(max_results: object, page_token: str | None) -> tuple[int, int]:
    """``(limit, offset)`` of a page request; InvalidInput for a bad size or token."""
    return check_max_results(max_results), decode_page_token(page_token)


def check_max_results(value: object) -> int:
    """``value`` if it is an integer from 1 to ``SEARCH_MAX_RESULTS_LIMIT``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 < value <= SEARCH_MAX_RESULTS_LIMIT
    ):
        raise InvalidInput(
            user_message(
                "max_results",
                f"must be an integer from 1 to {SEARCH_MAX_RESULTS_LIMIT}",
                value,
                "page through larger results with page_token",
            )
        )
    return value


def read_page(
    database: Database,
    query: sa.Select[Any],
    limit: int,
    offset: int,
    load: Callable[[Connection, Sequence[Any]], list[_T]],
) -> Page[_T]:
    """The ``limit`` rows of ``query`` after ``offset``, loaded as entities, and the token of the
    next page if there is one."""
    with database.read() as conn:
        rows = conn.execute(query.limit(limit + 1).offset(offset)).all()
        items = load(conn, rows[:limit])
    token = encode_page_token(offset + limit) if len(rows) > limit else None
    return Page(tuple(items), token)


def newest_audit_events(database: Database, query: sa.Select[Any], limit: int) -> list[AuditEvent]:
    """The newest ``limit`` events of ``query`` (a select of ``audit_events``), oldest first."""
    query = query.order_by(audit_events.c.event_id.desc()).limit(limit)
    with database.read() as conn:
        rows = list(reversed(conn.execute(query).all()))
    return [
        AuditEvent(
            event_id=r.event_id,
            time=r.time,
            actor=r.actor,
            action=r.action,
            object_type=r.object_type,
            object_id=r.object_id,
            before=decode_json(r.before),
            after=decode_json(r.after),
            reason=r.reason,
        )
        for r in rows
    ]
