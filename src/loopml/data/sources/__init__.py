"""Data sources: files, SQL queries and in-memory frames, read as Arrow record batches.

:func:`open_source` turns what the caller names into a :class:`DataSource`. Every source is read
through :meth:`DataSource.iter_batches`, batch by batch, so no source needs the whole file or
result in memory; each call reads the source again (a file is re-opened, a query re-run).

What a source can be (``format=`` overrides what the suffix says); the module named after each
states how that kind is read, its options and its types:

- a pandas DataFrame (kind ``pandas``, uri ``<DataFrame>``) or a pyarrow Table (kind ``arrow``,
  uri ``<Table>``): read from memory; the pandas index is not a column (``_memory``).
- ``csv``: ``.csv``, ``.tsv`` (tab-delimited), either gzipped (``.gz``), read with pyarrow's
  streaming CSV reader; options of pyarrow's ``csv`` reader (``_csv``).
- ``parquet``: ``.parquet``, ``.pq``, or a directory of Parquet files, through
  ``pyarrow.dataset``; options ``columns``, ``filter``, ``partitioning`` (``_parquet``).
- ``jsonl``: ``.jsonl``, ``.ndjson``, ``.json``, either gzipped: one JSON object per line;
  options ``schema``, ``unexpected_field_behavior`` (``_jsonl``).
- ``sql``: a SQLAlchemy URL (``sqlite:///path.db``, ``postgresql+psycopg://user@host/db``,
  ``mysql+pymysql://...``) with ``query=``, streamed; option ``params`` (``_sql``).
- ``duckdb``: a query run by DuckDB, which reads files named in it
  (``select * from 'flights.parquet'``). The source is ``"duckdb:"`` (an in-memory database),
  ``"duckdb:<file>"`` or a ``.duckdb`` file (opened read-only), or ``format="duckdb"`` with a
  database path or ``None`` (``_duckdb``).

Batches (``_base``): batches of ``batch_rows`` rows, the last one shorter; a source with no rows
yields one empty batch carrying its schema. Every batch of one read has the same schema: csv
fixes each column's type from its first block (``_csv``), jsonl and sql from their first chunks,
holding up to :data:`TYPE_LOOKAHEAD_BATCHES` back to type columns that are all null
(``_schema``); parquet, duckdb and in-memory sources carry their own schema.

Bad lines (csv and jsonl; ``_lines``): a row with the wrong number of fields, a line that is not
one JSON object. Nothing is dropped silently: ``bad_lines="fail"`` (the default) raises at the
first, ``"skip"`` leaves them out and records them in :attr:`DataSource.bad_lines` with one
warning a read, ``"quarantine"`` also writes them to a side file. A value that does not convert
to its column's type is not a bad line: it raises under every policy.

Errors: a missing file or database file -> :class:`~loopml.core.errors.NotFound`; an unknown
suffix, format, option or policy -> InvalidInput listing the accepted ones; a query the database
rejects -> InvalidInput with the database's message; a database that cannot be reached (or, on
servers, fails while running the query) -> :class:`~loopml.core.errors.StoreError`; a SQL
driver that is not installed -> :class:`~loopml.core.errors.MissingDependency`; a file a DuckDB
query names that DuckDB cannot read -> NotFound with DuckDB's message; other DuckDB errors ->
InvalidInput.
"""

from loopml.data.sources._base import BadLine, BadLinePolicy, DataSource
from loopml.data.sources._formats import FORMATS
from loopml.data.sources._open import (
    load_frame,
    open_source,
    read_csv,
    read_duckdb,
    read_jsonl,
    read_parquet,
    read_sql,
)
from loopml.data.sources._schema import TYPE_LOOKAHEAD_BATCHES

__all__ = [
    "FORMATS",
    "TYPE_LOOKAHEAD_BATCHES",
    "BadLine",
    "BadLinePolicy",
    "DataSource",
    "load_frame",
    "open_source",
    "read_csv",
    "read_duckdb",
    "read_jsonl",
    "read_parquet",
    "read_sql",
]

# The examples of the public docstrings live in the private modules: doctest finds them here
# (doctest.testmod(loopml.data.sources) looks only at what this module defines, and __test__).
__test__ = {
    "DataSource.describe": DataSource.describe,
    "open_source": open_source,
}
