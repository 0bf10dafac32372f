"""One schema for every batch of a read typed from its values, chunk by chunk (JSON lines, SQL).

The types are those of the first chunk, where a column that is all null (or, in JSON, absent)
there takes its type from the next chunks: up to :data:`TYPE_LOOKAHEAD_BATCHES` chunks are held
back until every column has a type, then merged with ``pyarrow.unify_schemas``
(``promote_options="permissive"``: int64 with double gives double; decimals are widened to
precision 38). A column still all null after that stays of type null, and a value in a later
chunk raises :class:`~loopml.core.errors.InvalidInput` (fix: a larger ``batch_rows``, or
``schema=`` for JSON lines). Later chunks are converted to the fixed schema by numeric widening
only: a float in an integer column, a text in a number column, raise InvalidInput rather than
being truncated or parsed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

import pyarrow as pa

from loopml.core.errors import InvalidInput, user_message, verbatim

#: How many chunks a JSON lines or SQL read holds back, at most, to type columns that are all
#: null in its first chunk (see the module docstring).
TYPE_LOOKAHEAD_BATCHES = 8

_T = TypeVar("_T")


def _settle_schema(tables: list[pa.Table], subject: str) -> pa.Schema:
    """One schema for ``tables``: permissive promotion, decimals widened to precision 38."""
    try:
        merged = pa.unify_schemas([t.schema for t in tables], promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise InvalidInput(
            user_message(
                subject,
                "must keep each column's type from chunk to chunk",
                verbatim(f"<{exc}>"),
                "cast the column to one type in the query, or pass schema=",
            )
        ) from exc
    fields = []
    for field in merged:
        if pa.types.is_decimal(field.type) and field.type.precision < 38:
            field = field.with_type(pa.decimal128(38, field.type.scale))
        fields.append(field)
    return pa.schema(fields)


def _untyped_error(subject: str, name: str, found: object) -> InvalidInput:
    return InvalidInput(
        user_message(
            f"{subject} column {name!r}",
            f"held only nulls in the first {TYPE_LOOKAHEAD_BATCHES} chunks read, so its type "
            "could not be known, and cannot take later values",
            verbatim(f"values of type {found}"),
            "read with a larger batch_rows; or declare the type: pass schema= for JSON lines, "
            "CAST the column in the query on a server that reports column types (PostgreSQL)",
        )
    )


def _widens(source: pa.DataType, target: pa.DataType) -> bool:
    """Whether a column of ``source`` type may be converted to ``target`` (by widening only)."""
    kinds = (
        lambda t: pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t),
        lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
        lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t),
        pa.types.is_timestamp,
    )
    return pa.types.is_null(source) or any(kind(source) and kind(target) for kind in kinds)


def _conform(table: pa.Table, schema: pa.Schema, subject: str) -> pa.Table:
    """``table`` with the columns of ``schema``, in its order and types (missing ones null)."""
    columns = []
    for field in schema:
        if field.name not in table.column_names:
            columns.append(pa.nulls(table.num_rows, field.type))
            continue
        column = table.column(field.name)
        if column.type != field.type:
            if pa.types.is_null(field.type):
                raise _untyped_error(subject, field.name, column.type)
            if not _widens(column.type, field.type):
                raise InvalidInput(
                    user_message(
                        f"{subject} column {field.name!r}",
                        f"must keep the type {field.type} of its first rows",
                        verbatim(f"values of type {column.type}"),
                        "cast the column to one type in the query, or pass schema=",
                    )
                )
            try:
                column = column.cast(field.type)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise InvalidInput(
                    user_message(
                        f"{subject} column {field.name!r}",
                        f"must hold values of type {field.type}, the type of its first rows",
                        verbatim(f"<{exc}>"),
                        "cast the column to a type that holds every value in the query, "
                        "or pass schema=",
                    )
                ) from exc
        columns.append(column)
    return pa.Table.from_arrays(columns, schema=schema)


def _stable_tables(
    chunks: Iterable[_T],
    to_table: Callable[[_T, pa.Schema | None], pa.Table | None],
    subject: str,
    schema: pa.Schema | None = None,
) -> Iterator[pa.Table]:
    """Tables of one schema from ``chunks``: ``to_table(chunk, None)`` infers the types of a
    chunk, ``to_table(chunk, schema)`` must give ``schema``. The first chunks are held back (at
    most :data:`TYPE_LOOKAHEAD_BATCHES`) until no column is left of type null."""
    held: list[pa.Table] = []
    for chunk in chunks:
        table = to_table(chunk, schema)
        if table is None:
            continue
        if schema is not None:
            yield table
            continue
        held.append(table)
        merged = _settle_schema(held, subject)
        if len(held) >= TYPE_LOOKAHEAD_BATCHES or not any(
            pa.types.is_null(field.type) for field in merged
        ):
            schema = merged
            yield from (_conform(t, schema, subject) for t in held)
            held = []
    if held:
        merged = _settle_schema(held, subject)
        yield from (_conform(t, merged, subject) for t in held)
