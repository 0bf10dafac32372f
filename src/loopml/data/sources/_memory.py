"""A pandas DataFrame (kind ``pandas``) or a pyarrow Table (kind ``arrow``) read from memory.

The uri is ``<DataFrame>`` or ``<Table>``; the pandas index is not a column. The schema is the
table's, or the one Arrow gives the frame; a frame Arrow cannot store (such as an object column
of mixed types) raises :class:`~loopml.core.errors.InvalidInput`.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.data.batches import to_table
from loopml.data.sources._base import DataSource, _Batches


class _MemorySource(DataSource):
    def __init__(self, data: pd.DataFrame | pa.Table, batch_rows: int) -> None:
        is_frame = isinstance(data, pd.DataFrame)
        super().__init__(
            kind="pandas" if is_frame else "arrow",
            uri="<DataFrame>" if is_frame else "<Table>",
            batch_rows=batch_rows,
        )
        self._data = data

    def _table(self) -> pa.Table:
        if isinstance(self._data, pa.Table):
            return self._data
        try:
            return to_table(self._data)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError) as exc:
            raise InvalidInput(
                user_message(
                    "DataFrame",
                    "must have columns Arrow can store",
                    verbatim(f"<{exc}>"),
                    "give mixed object columns one type (e.g. .astype(str))",
                )
            ) from exc

    def _batches(self) -> _Batches:
        table = self._table()
        yield from table.to_batches(max_chunksize=self.batch_rows)
        if table.num_rows == 0:
            yield pa.RecordBatch.from_pylist([], schema=table.schema)

    def _schema(self) -> pa.Schema:
        return self._table().schema
