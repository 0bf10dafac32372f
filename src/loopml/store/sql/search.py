"""Compile the parsed filter and ordering of a run search into one SQL query.

Conditions on metrics, params, tags and datasets become correlated ``EXISTS`` sub-queries (a run
lacking the key does not match, as in MLflow); orderings on them become outer joins with NULLs
last in either direction. Attribute conditions compare columns of ``runs`` directly. The query
returns run ids only; the store then loads the page's runs in bulk.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from loopml.core.entities import ViewType
from loopml.core.errors import InvalidInput, user_message
from loopml.core.search_ast import Comparison, Entity, Op, OrderBy
from loopml.store.sql.schema import datasets, latest_metrics, params, run_inputs, runs, tags

__all__ = [
    "LIKE_ESCAPE",
    "build_search_query",
    "decode_page_token",
    "encode_page_token",
    "escape_like",
]

_KEYED = {Entity.METRIC: latest_metrics, Entity.PARAM: params, Entity.TAG: tags}


_ESCAPE = "\\"  # LIKE patterns escape % and _ with a backslash on every backend
LIKE_ESCAPE = _ESCAPE


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (escape character :data:`LIKE_ESCAPE`)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _fold(value: Any, dialect: str) -> Any:
    """Lower-case for ILIKE. SQLite's lower() folds ASCII only, so the SQLite engine registers
    ``loopml_lower`` (Python's str.lower) on each connection; PostgreSQL's lower() is Unicode."""
    if dialect == "sqlite":
        return sa.func.loopml_lower(value)
    return sa.func.lower(value)


def _compare(column: Any, op: Op, value: Any, dialect: str) -> ColumnElement[bool]:
    if op is Op.EQ:
        return column == value  # type: ignore[no-any-return]
    if op is Op.NE:
        return column != value  # type: ignore[no-any-return]
    if op is Op.LT:
        return column < value  # type: ignore[no-any-return]
    if op is Op.LE:
        return column <= value  # type: ignore[no-any-return]
    if op is Op.GT:
        return column > value  # type: ignore[no-any-return]
    if op is Op.GE:
        return column >= value  # type: ignore[no-any-return]
    if op is Op.LIKE:
        return column.like(value, escape=_ESCAPE)  # type: ignore[no-any-return]
    if op is Op.ILIKE:
        return _fold(column, dialect).like(_fold(value, dialect), escape=_ESCAPE)  # type: ignore[no-any-return]
    if op is Op.IN:
        return column.in_(value)  # type: ignore[no-any-return]
    if op is Op.NOT_IN:
        return column.not_in(value)  # type: ignore[no-any-return]
    raise InvalidInput(user_message("search operator", "is not supported here", op.value))


def _condition(cmp: Comparison, dialect: str) -> ColumnElement[bool]:
    """One condition as ``run_id [NOT] IN (<ids of matching runs>)``.

    Non-correlated sub-queries let the database start from the rows that match (through the
    (key, value, run_id) indexes) instead of probing every run of the experiment; a run lacking
    the key does not match, as in MLflow.
    """
    if cmp.entity is Entity.ATTRIBUTE:
        column = runs.c[cmp.key]
        if cmp.op is Op.IS_NULL:
            return column.is_(None)
        if cmp.op is Op.IS_NOT_NULL:
            return column.is_not(None)
        # Times stay floats: 'start_time < 1000.5' must include a run that started at 1000.
        return _compare(column, cmp.op, cmp.value, dialect)
    if cmp.entity is Entity.DATASET:
        field = datasets.c[cmp.key] if cmp.key != "context" else run_inputs.c.context
        matching = (
            sa.select(run_inputs.c.run_id)
            .select_from(
                run_inputs.join(datasets, run_inputs.c.dataset_id == datasets.c.dataset_id)
            )
            .where(_compare(field, cmp.op, cmp.value, dialect))
        )
        return runs.c.run_id.in_(matching)
    table = _KEYED[cmp.entity]
    having_key = sa.select(table.c.run_id).where(table.c.key == cmp.key)
    if cmp.op is Op.IS_NULL:
        return runs.c.run_id.not_in(having_key)
    if cmp.op is Op.IS_NOT_NULL:
        return runs.c.run_id.in_(having_key)
    return runs.c.run_id.in_(having_key.where(_compare(table.c.value, cmp.op, cmp.value, dialect)))


def _sortable(column: Any, dialect: str) -> Any:
    """Strings sort by code point on both backends (SQLite's BINARY; PostgreSQL's "C"), so the
    order does not depend on the database's collation."""
    if dialect == "postgresql" and isinstance(column.type, sa.String):
        return column.collate("C")
    return column


def build_search_query(
    experiment_ids: Sequence[int],
    filters: Sequence[Comparison],
    order_by: Sequence[OrderBy],
    view_type: ViewType,
    limit: int,
    offset: int,
    dialect: str = "sqlite",
) -> sa.Select[Any]:
    """The SELECT of the full ``runs`` rows of one page, in order."""
    stages = [s.value for s in view_type.stages()]
    query = sa.select(runs).where(
        runs.c.experiment_id.in_(experiment_ids), runs.c.lifecycle_stage.in_(stages)
    )
    for cmp in filters:
        query = query.where(_condition(cmp, dialect))
    from_clause: sa.FromClause = runs
    ordering: list[Any] = []
    for i, clause in enumerate(order_by):
        if clause.entity is Entity.ATTRIBUTE:
            column: Any = runs.c[clause.key]
        else:
            alias = _KEYED[clause.entity].alias(f"o{i}")
            from_clause = from_clause.outerjoin(
                alias, sa.and_(alias.c.run_id == runs.c.run_id, alias.c.key == clause.key)
            )
            column = alias.c.value
        ordering.append(sa.case((column.is_(None), 1), else_=0))  # NULLs last either way
        column = _sortable(column, dialect)
        ordering.append(column.asc() if clause.ascending else column.desc())
    ordering += [runs.c.start_time.desc(), runs.c.run_id.asc()]
    return query.select_from(from_clause).order_by(*ordering).limit(limit).offset(offset)


#: The largest offset a page token may carry (a BIGINT on every backend, with room to add).
MAX_OFFSET = 2**62


def encode_page_token(offset: int) -> str:
    """An opaque token for the page that starts at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    """The offset a token stands for; a token that was not made here is an InvalidInput."""
    if not token:
        return 0
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = payload["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        offset = None
    if not isinstance(offset, int) or isinstance(offset, bool) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidInput(
            user_message(
                "page token",
                "must be a token returned by a previous search",
                token,
                "pass the `token` of the previous page unchanged, or omit it for the first page",
            )
        )
    return offset
