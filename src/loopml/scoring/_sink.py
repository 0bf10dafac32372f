"""A Parquet file written chunk by chunk, in place only once it is whole.

:class:`ParquetSink` writes each table it is given as row groups of one file, so memory holds one
chunk at a time, whatever the file's size. The file grows under a temporary name beside its path
(``.<name>.<random>.tmp``) and :meth:`~ParquetSink.commit` renames it into place, so a job that
fails or is interrupted leaves no half-written output (and an earlier file of that name as it
was); :meth:`~ParquetSink.abort` removes it. Its schema is the first table's (or the one given to
:meth:`~ParquetSink.commit` when no table came); later tables are cast to it.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from loopml.core.errors import InvalidInput, user_message, verbatim

__all__ = ["ParquetSink"]


class ParquetSink:
    """One Parquet file, written a table at a time (rules: module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
        self._writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None

    def _open(self, schema: pa.Schema) -> pq.ParquetWriter:
        self.schema = schema
        self._writer = pq.ParquetWriter(self._tmp, schema)
        return self._writer

    def write(self, table: pa.Table) -> None:
        writer = self._writer
        if writer is None:
            writer = self._open(table.schema)
        elif not table.schema.equals(self.schema):
            try:
                table = table.cast(self.schema)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError) as exc:
                raise InvalidInput(
                    user_message(
                        f"the rows written to {str(self.path)!r}",
                        "must keep the types of the first chunk",
                        verbatim(f"<{table.schema} after {self.schema}>"),
                        "check that the model returns one type of prediction",
                    )
                ) from exc
        writer.write_table(table)

    def commit(self, schema: pa.Schema) -> None:
        """Close the file and move it into place; ``schema`` is used only if nothing came."""
        writer = self._writer if self._writer is not None else self._open(schema)
        writer.close()
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        """Drop the file (nothing is left at the temporary name; the path is untouched)."""
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._writer = None
        self._tmp.unlink(missing_ok=True)
