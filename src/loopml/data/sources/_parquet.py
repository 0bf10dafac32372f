"""Parquet files (``.parquet``, ``.pq``) and directories of them, read through ``pyarrow.dataset``.

Options ``columns``, ``filter`` (a ``pyarrow.compute`` expression) and ``partitioning`` (e.g.
``"hive"``). The schema is the dataset's, projected on ``columns``. A missing path raises
:class:`~loopml.core.errors.NotFound`; a directory without ``.parquet`` files, data that is not
Parquet, or columns or a filter that do not fit it raise :class:`~loopml.core.errors.InvalidInput`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads

from loopml.core.errors import InvalidInput, NotFound, user_message, verbatim
from loopml.data.sources._base import DataSource, _Batches

#: The options a Parquet source takes.
_PARQUET_OPTIONS = frozenset({"columns", "filter", "partitioning"})


class _ParquetSource(DataSource):
    def __init__(self, *, path: Path, batch_rows: int, options: Mapping[str, Any]) -> None:
        super().__init__(kind="parquet", uri=str(path), batch_rows=batch_rows, options=options)
        self.path = path

    def _error(self, exc: Exception) -> Exception:
        label = f"Parquet {'directory' if self.path.is_dir() else 'file'} {self.uri!r}"
        if isinstance(exc, FileNotFoundError):
            return NotFound(user_message(label, "does not exist", fix="check the path"))
        return InvalidInput(
            user_message(
                label,
                "must hold Parquet data with the columns asked for",
                verbatim(f"<{exc}>"),
                "check the path, the columns and the filter",
            )
        )

    def _scanner(self) -> Any:
        try:
            dataset = pads.dataset(
                str(self.path), format="parquet", partitioning=self.options.get("partitioning")
            )
            if not dataset.files:
                raise InvalidInput(
                    user_message(
                        f"Parquet directory {self.uri!r}",
                        "must hold at least one .parquet file",
                        fix="check the path",
                    )
                )
            return dataset.scanner(
                columns=self.options.get("columns"),
                filter=self.options.get("filter"),
                batch_size=self.batch_rows,
            )
        except (OSError, pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise self._error(exc) from exc

    def _batches(self) -> _Batches:
        scanner = self._scanner()
        try:
            yield from scanner.to_batches()
        except (OSError, pa.ArrowInvalid) as exc:
            raise self._error(exc) from exc
        yield pa.RecordBatch.from_pylist([], schema=scanner.projected_schema)

    def _schema(self) -> pa.Schema:
        return self._scanner().projected_schema
