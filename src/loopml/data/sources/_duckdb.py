"""The rows of a query run by DuckDB, which reads the files named in it.

``select * from 'flights.parquet'``: relative paths are resolved from the working directory.
The source is ``"duckdb:"`` (an in-memory database), ``"duckdb:<file>"`` or a ``.duckdb`` file
(opened read-only), or ``format="duckdb"`` with a database path or ``None``. The schema is the
one DuckDB gives the result.

Errors: a database file that does not exist -> :class:`~loopml.core.errors.NotFound`, one that
cannot be opened -> :class:`~loopml.core.errors.StoreError`; a file the query names that DuckDB
cannot read -> NotFound with DuckDB's message; other DuckDB errors ->
:class:`~loopml.core.errors.InvalidInput`.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from loopml.core.errors import InvalidInput, NotFound, StoreError, user_message, verbatim
from loopml.data.sources._base import DataSource, _Batches


def _duckdb_database(text: str) -> Path | None:
    """The database file of a ``duckdb:`` source, or None for an in-memory one."""
    rest = text.removeprefix("//")
    if rest in ("", ":memory:"):
        return None
    path = Path(rest).expanduser()
    if not path.exists():
        raise NotFound(
            user_message(f"DuckDB database {str(path)!r}", "does not exist", fix="check the path")
        )
    return path.absolute()


class _DuckDbSource(DataSource):
    def __init__(self, *, database: Path | None, query: str, batch_rows: int) -> None:
        uri = "duckdb:" + (str(database) if database is not None else "")
        super().__init__(kind="duckdb", uri=uri, query=query, batch_rows=batch_rows)
        self.database = database
        self._sql = query

    def _error(self, exc: Exception) -> Exception:
        import duckdb

        if isinstance(exc, duckdb.IOException):
            return NotFound(
                user_message(
                    f"a file named in the DuckDB query {self.query!r}",
                    "could not be read",
                    verbatim(f"<{exc}>"),
                    f"check the path (relative paths start from {Path.cwd()})",
                )
            )
        return InvalidInput(
            user_message(
                f"DuckDB query {self.query!r}",
                "was rejected",
                verbatim(f"<{exc}>"),
                "correct the SQL",
            )
        )

    def _batches(self) -> _Batches:
        import duckdb

        try:
            if self.database is None:
                connection = duckdb.connect()
            else:
                connection = duckdb.connect(str(self.database), read_only=True)
        except duckdb.Error as exc:
            raise StoreError(
                user_message(
                    f"DuckDB database {self.uri!r}", "could not be opened", verbatim(f"<{exc}>")
                )
            ) from exc
        try:
            try:
                relation = connection.sql(self._sql)
                if relation is None:
                    raise InvalidInput(
                        user_message(f"DuckDB query {self.query!r}", "must return rows")
                    )
                # to_arrow_reader is fetch_record_batch renamed (DuckDB 1.4)
                to_reader = getattr(relation, "to_arrow_reader", None) or (
                    relation.fetch_record_batch
                )
                reader = to_reader(self.batch_rows)
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        break
                    yield batch
            except (duckdb.Error, pa.ArrowException) as exc:
                raise self._error(exc) from exc
            yield pa.RecordBatch.from_pylist([], schema=reader.schema)
        finally:
            connection.close()
