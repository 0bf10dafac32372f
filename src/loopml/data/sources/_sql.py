"""The rows of a SQL query on a database named by a SQLAlchemy URL.

The URL is e.g. ``sqlite:///path.db``, ``postgresql+psycopg://user@host/db`` or
``mysql+pymysql://...``; rows are streamed (``stream_results``) in chunks of ``batch_rows``;
option ``params`` binds the query's ``:name`` parameters. The uri shown and recorded has its
password masked.

Types: those of the first chunks, as ``_schema`` settles them. On PostgreSQL a column that is
all NULL takes the type the server reports for it (integers, floats, text, bool, date,
timestamp, bytea), so ``CAST`` in the query types it.

Errors: a missing SQLite database file -> :class:`~loopml.core.errors.NotFound`; a query the
database rejects -> :class:`~loopml.core.errors.InvalidInput` with the database's message; a
database that cannot be reached (or, on servers, fails while running the query) ->
:class:`~loopml.core.errors.StoreError`; a SQL driver that is not installed ->
:class:`~loopml.core.errors.MissingDependency`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlalchemy.pool import NullPool

from loopml.core.errors import (
    InvalidInput,
    MissingDependency,
    NotFound,
    StoreError,
    user_message,
    verbatim,
)
from loopml.core.settings import mask_url
from loopml.data.sources._base import DataSource, _Batches
from loopml.data.sources._schema import _conform, _stable_tables

#: The options a SQL source takes.
_SQL_OPTIONS = frozenset({"params"})

#: PostgreSQL types as Arrow types, where they are what pyarrow infers from the values psycopg
#: returns (so a column typed from the server matches one typed from its values). numeric and
#: timestamptz are left out: their Arrow types depend on the values (scale, time zone).
_PG_TYPES = {
    "int2": pa.int64(),
    "int4": pa.int64(),
    "int8": pa.int64(),
    "float4": pa.float64(),
    "float8": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "name": pa.string(),
    "bool": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "bytea": pa.binary(),
}


def _column_array(values: tuple[Any, ...], name: str, subject: str) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError) as exc:
        raise InvalidInput(
            user_message(
                f"{subject} column {name!r}",
                "must hold values Arrow can store",
                verbatim(f"<{exc}>"),
                "CAST the column to a plain SQL type (text, integer, float) in the query",
            )
        ) from exc


class _SqlSource(DataSource):
    def __init__(
        self, *, url: str, query: str, batch_rows: int, options: Mapping[str, Any]
    ) -> None:
        super().__init__(
            kind="sql", uri=mask_url(url), query=query, batch_rows=batch_rows, options=options
        )
        try:
            self._url = sa.make_url(url)
        except ArgumentError:
            raise InvalidInput(
                user_message(
                    "SQL source",
                    "must be a SQLAlchemy URL such as sqlite:///path.db or "
                    "postgresql+psycopg://user@host/db",
                    mask_url(url),
                )
            ) from None
        params = self.options.get("params")
        if params is not None and not isinstance(params, Mapping):
            raise InvalidInput(
                user_message(
                    "option 'params'",
                    "must map the query's :name parameters to values",
                    type(params).__name__,
                )
            )
        self._params: dict[str, Any] = dict(params or {})
        database = self._url.database
        if (
            self._url.get_backend_name() == "sqlite"
            and database
            and database != ":memory:"
            and not database.startswith("file:")
            and not Path(database).exists()
        ):
            raise NotFound(
                user_message(
                    f"SQLite database {database!r}", "does not exist", fix="check the path"
                )
            )

    @property
    def _label(self) -> str:
        return f"database {self.uri}"

    def _engine(self) -> sa.Engine:
        try:
            return sa.create_engine(self._url, poolclass=NullPool)
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            raise MissingDependency(
                user_message(
                    f"SQL source {self.uri}",
                    "needs the database driver named by its URL",
                    verbatim(f"<{exc}>"),
                    "pip install the driver (e.g. psycopg, pymysql) and name it in the URL: "
                    "postgresql+psycopg://..., mysql+pymysql://...",
                )
            ) from exc

    def _unreachable(self, exc: DBAPIError) -> StoreError:
        return StoreError(
            user_message(
                self._label,
                "could not be reached",
                verbatim(f"<{mask_url(str(exc.orig))}>"),
                "check the host, port, credentials and that the server runs",
            )
        )

    def _query_error(self, exc: DBAPIError) -> Exception:
        # SQLite reports every error, bad SQL included, as OperationalError; servers keep it for
        # failures of the server or the connection.
        server_failure = isinstance(exc, OperationalError) and self._url.get_backend_name() != (
            "sqlite"
        )
        if server_failure or exc.connection_invalidated:
            return StoreError(
                user_message(
                    self._label,
                    "failed while running the query",
                    verbatim(f"<{mask_url(str(exc.orig))}>"),
                    "check that the server is up, then retry",
                )
            )
        return InvalidInput(
            user_message(
                f"query on {self._label}",
                "was rejected by the database",
                verbatim(f"<{str(exc.orig).strip()}>"),
                "correct the SQL",
            )
        )

    def _chunks(self, result: Any) -> Iterator[list[Any]]:
        try:
            yield from result.partitions(self.batch_rows)
        except DBAPIError as exc:
            raise self._query_error(exc) from exc

    def _declared_types(self, result: Any) -> list[pa.DataType]:
        """The column types the database reports (null where it reports none we know)."""
        description = getattr(getattr(result, "cursor", None), "description", None) or []
        found = [pa.null()] * len(result.keys())
        if self._url.get_backend_name() != "postgresql" or len(description) != len(found):
            return found  # SQLite reports no types; other drivers' codes are not mapped
        try:
            from psycopg.postgres import types as pg_types
        except ImportError:
            return found
        for i, column in enumerate(description):
            info = pg_types.get(column.type_code)
            if info is not None:
                found[i] = _PG_TYPES.get(info.name, pa.null())
        return found

    def _table(
        self,
        rows: list[Any],
        names: list[str],
        declared: list[pa.DataType],
        schema: pa.Schema | None,
    ) -> pa.Table:
        arrays = []
        for values, name, known in zip(zip(*rows, strict=True), names, declared, strict=True):
            array = _column_array(values, name, self._label)
            if pa.types.is_null(array.type) and not pa.types.is_null(known):
                array = pa.nulls(len(array), known)
            arrays.append(array)
        table = pa.Table.from_arrays(arrays, names=names)
        return table if schema is None else _conform(table, schema, self._label)

    def _batches(self) -> _Batches:
        engine = self._engine()
        try:
            try:
                connection = engine.connect()
            except DBAPIError as exc:
                raise self._unreachable(exc) from exc
            with connection:
                try:
                    result = connection.execution_options(
                        stream_results=True, yield_per=self.batch_rows
                    ).execute(sa.text(self.query or ""), self._params)
                except DBAPIError as exc:
                    raise self._query_error(exc) from exc
                except sa.exc.StatementError as exc:  # e.g. a missing bind parameter
                    raise InvalidInput(
                        user_message(
                            f"query on {self._label}",
                            "could not be run",
                            verbatim(f"<{exc.orig}>"),
                            "pass every :name parameter in params=",
                        )
                    ) from exc
                with contextlib.closing(result):
                    yield from self._result_batches(result)
        finally:
            engine.dispose()

    def _result_batches(self, result: Any) -> _Batches:
        if not result.returns_rows:
            raise InvalidInput(
                user_message(f"query on {self._label}", "must return rows", self.query)
            )
        names = list(result.keys())
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidInput(
                user_message(
                    f"query on {self._label}",
                    "must name each column once",
                    duplicates,
                    "give the columns distinct aliases (AS ...)",
                )
            )
        declared = self._declared_types(result)
        tables = _stable_tables(
            self._chunks(result),
            lambda rows, schema: self._table(rows, names, declared, schema),
            self._label,
        )
        empty = True
        for table in tables:
            empty = False
            yield from table.to_batches()
        if empty:
            yield pa.RecordBatch.from_pylist(
                [], schema=pa.schema(list(zip(names, declared, strict=True)))
            )
