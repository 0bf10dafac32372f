"""One way in for tabular data: anything loopml's data layer accepts, as Arrow record batches.

Profiling, validation and snapshots all consume data through :func:`iter_batches`, so each
works the same on an in-memory DataFrame, an Arrow table, or a source streamed from a large file
(an object with an ``iter_batches()`` method, such as :class:`loopml.data.sources.DataSource`),
and none of them needs the whole file in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import pandas as pd
import pyarrow as pa

from loopml.core.errors import InvalidInput, user_message

__all__ = ["DEFAULT_BATCH_ROWS", "iter_batches", "to_table"]

#: Rows per batch when loopml chooses: large enough to amortise per-batch work, small enough that
#: a batch of a wide table stays in the tens of megabytes.
DEFAULT_BATCH_ROWS = 131_072


def iter_batches(data: Any, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    """``data`` as Arrow record batches of at most ``batch_rows`` rows.

    Accepts a pandas DataFrame, a ``pyarrow.Table`` or ``RecordBatch``, an iterable of record
    batches, or any object with ``iter_batches()`` (a streamed source). In-memory data with no
    rows yields one empty batch, so its column names and types are not lost. String and binary
    *view* columns come out as large strings and binaries, which every compute kernel takes.
    """
    for batch in _batches(data, batch_rows):
        yield _without_views(batch)


def _in_memory(table: pa.Table, batch_rows: int) -> list[pa.RecordBatch]:
    batches: list[pa.RecordBatch] = table.to_batches(max_chunksize=batch_rows)
    return batches or [pa.RecordBatch.from_pylist([], schema=table.schema)]


def _without_views(batch: pa.RecordBatch) -> pa.RecordBatch:
    types = batch.schema.types
    if not any(pa.types.is_string_view(t) or pa.types.is_binary_view(t) for t in types):
        return batch
    arrays = [
        c.cast(pa.large_string())
        if pa.types.is_string_view(c.type)
        else c.cast(pa.large_binary())
        if pa.types.is_binary_view(c.type)
        else c
        for c in batch.columns
    ]
    return pa.RecordBatch.from_arrays(arrays, names=batch.schema.names)


def _batches(data: Any, batch_rows: int) -> Iterator[pa.RecordBatch]:
    if isinstance(data, pd.DataFrame):
        yield from _in_memory(pa.Table.from_pandas(data, preserve_index=False), batch_rows)
    elif isinstance(data, pa.Table):
        yield from _in_memory(data, batch_rows)
    elif isinstance(data, pa.RecordBatch):
        yield from _in_memory(pa.Table.from_batches([data]), batch_rows)
    elif callable(getattr(data, "iter_batches", None)):
        yield from data.iter_batches()
    elif isinstance(data, Iterable) and not isinstance(data, str | bytes):
        for batch in data:
            if not isinstance(batch, pa.RecordBatch):
                raise InvalidInput(
                    user_message(
                        "data", "must yield pyarrow RecordBatch objects", type(batch).__name__
                    )
                )
            yield batch
    else:
        raise InvalidInput(
            user_message(
                "data",
                "must be a pandas DataFrame, a pyarrow Table or RecordBatch, record batches, "
                "or a source with iter_batches()",
                type(data).__name__,
                "load it with loopml.data.open_source(path_or_query)",
            )
        )


def to_table(data: Any) -> pa.Table:
    """``data`` (anything :func:`iter_batches` accepts) as one Arrow table."""
    if isinstance(data, pa.Table):
        return data
    if isinstance(data, pd.DataFrame):
        return pa.Table.from_pandas(data, preserve_index=False)
    batches = list(iter_batches(data))
    if not batches:
        raise InvalidInput(user_message("data", "must hold at least a schema; got no batches"))
    return pa.Table.from_batches(batches)
