"""Opening a source: :func:`open_source` builds the :class:`DataSource` of what the caller names.

Nothing is read beyond checking that a named file exists. ``bad_lines`` must be a policy,
``batch_rows`` a positive integer, ``quarantine_path`` goes only with ``bad_lines="quarantine"``
and ``format`` must be one of :data:`FORMATS`. Then the source decides the kind: a DataFrame or
Table (which takes no ``format=``), a ``duckdb:`` text or ``format="duckdb"``, a URL (read as
sql), else a path, which must exist (:class:`~loopml.core.errors.NotFound`) and whose format
``_formats`` tells. ``query=`` is for sql and duckdb sources only, which need it; the options
must be those of the kind: anything else raises :class:`~loopml.core.errors.InvalidInput` listing
the accepted ones. ``read_csv``, ``read_parquet``, ``read_jsonl``, ``read_sql``, ``read_duckdb``
and ``load_frame`` are shortcuts to :func:`open_source`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from loopml.core.errors import InvalidInput, NotFound, user_message, verbatim
from loopml.core.settings import mask_url
from loopml.data.batches import DEFAULT_BATCH_ROWS
from loopml.data.sources._base import _POLICIES, BadLinePolicy, DataSource
from loopml.data.sources._csv import _CSV_OPTIONS, _CsvSource
from loopml.data.sources._duckdb import _duckdb_database, _DuckDbSource
from loopml.data.sources._formats import _FORMAT_ALIASES, _SUPPORTED, FORMATS, _file_format
from loopml.data.sources._jsonl import _JSONL_OPTIONS, _JsonLinesSource
from loopml.data.sources._memory import _MemorySource
from loopml.data.sources._parquet import _PARQUET_OPTIONS, _ParquetSource
from loopml.data.sources._sql import _SQL_OPTIONS, _SqlSource

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _choice(what: str, value: object, choices: Iterable[str], fix: str | None = None) -> str:
    allowed = tuple(choices)
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInput(user_message(what, f"must be one of {', '.join(allowed)}", value, fix))
    return value


def _check_options(kind: str, options: Mapping[str, Any], allowed: Iterable[str]) -> None:
    names = frozenset(allowed)
    for key in options:
        if key not in names:
            accepted = ", ".join(sorted(names)) if names else "no options"
            raise InvalidInput(
                user_message(
                    f"option {key!r}",
                    f"is not an option of {kind} sources; they take {accepted}",
                )
            )


def _no_query(kind: str, query: str | None) -> None:
    if query is not None:
        raise InvalidInput(
            user_message(
                f"query= on a {kind} source",
                "is not allowed: only sql and duckdb sources run queries",
                query,
                "to query files, use format='duckdb' with a query naming them",
            )
        )


def _need_query(kind: str, query: str | None) -> str:
    if not isinstance(query, str) or not query.strip():
        raise InvalidInput(
            user_message(
                f"a {kind} source",
                "needs query=, the SQL to run",
                query,
                "pass query='select ...'",
            )
        )
    return query


def open_source(
    source: str | Path | pd.DataFrame | pa.Table | None,
    *,
    format: str | None = None,
    query: str | None = None,
    bad_lines: BadLinePolicy = "fail",
    quarantine_path: str | Path | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    **options: Any,
) -> DataSource:
    """A :class:`DataSource` for ``source`` (see the package docstring for what it may be).

    Nothing is read here beyond checking that a named file exists: reading happens in
    :meth:`DataSource.iter_batches`.

    >>> import pandas as pd
    >>> src = open_source(pd.DataFrame({"a": [1, 2, 3]}), batch_rows=2)
    >>> [batch.num_rows for batch in src.iter_batches()]
    [2, 1]
    >>> open_source("flights.xlsx")
    Traceback (most recent call last):
    ...
    loopml.core.errors.NotFound: file 'flights.xlsx' does not exist. Fix: check the path.
    """
    policy = _choice("bad_lines", bad_lines, _POLICIES)
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidInput(user_message("batch_rows", "must be a positive integer", batch_rows))
    if quarantine_path is not None and policy != "quarantine":
        raise InvalidInput(
            user_message(
                "quarantine_path",
                "is used only with bad_lines='quarantine'",
                str(quarantine_path),
                "pass bad_lines='quarantine' too, or leave quarantine_path out",
            )
        )
    if format is not None:
        format = _choice(
            "format",
            _FORMAT_ALIASES.get(format, format) if isinstance(format, str) else format,
            FORMATS,
        )

    if isinstance(source, pd.DataFrame | pa.Table):
        kind = "DataFrame" if isinstance(source, pd.DataFrame) else "Table"
        if format is not None:
            raise InvalidInput(user_message(f"format= with a {kind}", "is not allowed", format))
        _no_query(kind, query)
        _check_options(kind, options, ())
        return _MemorySource(source, batch_rows)

    if isinstance(source, str) and source.lower().startswith("duckdb:"):
        if format not in (None, "duckdb"):
            raise InvalidInput(user_message("a duckdb: source", "is read by duckdb", format))
        format, source = "duckdb", source[len("duckdb:") :]
    if format == "duckdb" and (source is None or isinstance(source, str | Path)):
        _check_options("duckdb", options, ())
        database = None if source is None else _duckdb_database(str(source))
        return _DuckDbSource(
            database=database, query=_need_query("duckdb", query), batch_rows=batch_rows
        )

    if isinstance(source, str) and _URL.match(source):
        if format not in (None, "sql"):
            raise InvalidInput(
                user_message(f"a URL source with format={format!r}", "must be read as sql")
            )
        try:
            sa.make_url(source).get_dialect()
        except (ArgumentError, NoSuchModuleError):
            raise InvalidInput(
                user_message(
                    "source",
                    f"must be a file path or a SQLAlchemy URL; supported: {_SUPPORTED}",
                    mask_url(source),
                )
            ) from None
        _check_options("sql", options, _SQL_OPTIONS)
        return _SqlSource(
            url=source, query=_need_query("sql", query), batch_rows=batch_rows, options=options
        )
    if format == "sql":
        raise InvalidInput(
            user_message(
                "a sql source",
                "must be a SQLAlchemy URL",
                str(source),
                "pass e.g. 'sqlite:///path.db' or 'postgresql+psycopg://user@host/db'",
            )
        )

    if not isinstance(source, str | Path):
        raise InvalidInput(
            user_message(
                "source",
                "must be a path, a SQLAlchemy URL, 'duckdb:', a pandas DataFrame or a pyarrow "
                "Table",
                verbatim(type(source).__name__),
            )
        )
    path = Path(source).expanduser()
    if not path.exists():
        raise NotFound(
            user_message(f"file {str(source)!r}", "does not exist", fix="check the path")
        )
    path = path.absolute()
    kind = _file_format(path, format)
    if kind == "duckdb":  # a .duckdb database file
        _check_options("duckdb", options, ())
        return _DuckDbSource(
            database=path, query=_need_query("duckdb", query), batch_rows=batch_rows
        )
    _no_query(kind, query)
    quarantine = None if quarantine_path is None else Path(quarantine_path).expanduser()
    if kind in ("csv", "tsv"):
        _check_options("csv", options, frozenset().union(*_CSV_OPTIONS))
        tab = kind == "tsv"
        return _CsvSource(
            path=path,
            policy=policy,
            quarantine_path=quarantine,
            batch_rows=batch_rows,
            options=options,
            delimiter="\t" if tab else None,
        )
    if kind == "jsonl":
        _check_options("jsonl", options, _JSONL_OPTIONS)
        return _JsonLinesSource(
            path=path,
            policy=policy,
            quarantine_path=quarantine,
            batch_rows=batch_rows,
            options=options,
        )
    _check_options("parquet", options, _PARQUET_OPTIONS)
    return _ParquetSource(path=path, batch_rows=batch_rows, options=options)


def read_csv(
    path: str | Path,
    *,
    bad_lines: BadLinePolicy = "fail",
    quarantine_path: str | Path | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    **options: Any,
) -> DataSource:
    """A CSV (or TSV) file as a source, whatever its suffix; ``options`` as in pyarrow.csv."""
    tsv = str(path).lower().endswith((".tsv", ".tsv.gz"))
    return open_source(
        path,
        format="tsv" if tsv else "csv",
        bad_lines=bad_lines,
        quarantine_path=quarantine_path,
        batch_rows=batch_rows,
        **options,
    )


def read_parquet(
    path: str | Path, *, batch_rows: int = DEFAULT_BATCH_ROWS, **options: Any
) -> DataSource:
    """A Parquet file or directory as a source; options ``columns``, ``filter``,
    ``partitioning``."""
    return open_source(path, format="parquet", batch_rows=batch_rows, **options)


def read_jsonl(
    path: str | Path,
    *,
    bad_lines: BadLinePolicy = "fail",
    quarantine_path: str | Path | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    **options: Any,
) -> DataSource:
    """A JSON lines file as a source; options ``schema``, ``unexpected_field_behavior``."""
    return open_source(
        path,
        format="jsonl",
        bad_lines=bad_lines,
        quarantine_path=quarantine_path,
        batch_rows=batch_rows,
        **options,
    )


def read_sql(
    url: str,
    query: str,
    *,
    params: Mapping[str, Any] | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> DataSource:
    """The rows of ``query`` on the database at ``url`` (a SQLAlchemy URL) as a source."""
    options: dict[str, Any] = {} if params is None else {"params": params}
    return open_source(url, format="sql", query=query, batch_rows=batch_rows, **options)


def read_duckdb(
    query: str, *, database: str | Path | None = None, batch_rows: int = DEFAULT_BATCH_ROWS
) -> DataSource:
    """The rows of a DuckDB ``query`` (which may read files: ``select * from 'f.parquet'``),
    on an in-memory database or the ``database`` file (opened read-only)."""
    return open_source(database, format="duckdb", query=query, batch_rows=batch_rows)


def load_frame(source: str | Path | pd.DataFrame | pa.Table | None, **kwargs: Any) -> pd.DataFrame:
    """``open_source(source, **kwargs)`` read whole into a pandas DataFrame."""
    return open_source(source, **kwargs).to_pandas()
