"""The canonical data digest: one sha256 for identical data, however it is represented.

What "identical data" means (:func:`data_digest`): two tables are identical when they have the
same column names in the same order, the same logical types and the same rows in the same order.
Representation does not count: how the data is split into batches, schema metadata (pandas'
included), declared nullability, string vs large string (and binary), the index width and the
dictionary of a dictionary-encoded column (its values and ``ordered`` flag count, not which
categories are unused or in which order they are listed), the bytes under a null slot, and NaN
payloads. Everything else does: ``int32`` is not ``int64``, ``timestamp[us]`` is not
``timestamp[ns]``, a categorical column is not a string column, a null is not a NaN (but pandas'
NaN in a float column arrives as a null). The pandas index is not data (``iter_batches`` drops
it): reset it first to keep it.

The digest is the sha256 of the Arrow IPC stream (format V5, uncompressed) of a canonical form
of the data: one record batch per :data:`DIGEST_CHUNK_ROWS` rows, where each column becomes
``struct<valid: int8, value: T>`` (``T`` the canonical type, null slots holding a fixed value,
every NaN the same NaN) with its logical type in the field's metadata. Arrow's own format, so
no hand-written serialiser; the canonical form is what makes its bytes a function of the data.

The data streams through in chunks of :data:`DIGEST_CHUNK_ROWS` rows, so memory is bounded by a
few chunks whatever the size of the data. The snapshot writer (:mod:`loopml.data._snapshot_io`)
hashes with the same pieces (``_fixed_chunks``, ``_Digest``) while it writes the Parquet file,
so a snapshot's ``digest`` is :func:`data_digest` of its data.
"""

from __future__ import annotations

import decimal
import hashlib
import itertools
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.data.batches import iter_batches

__all__ = ["DIGEST_CHUNK_ROWS", "data_digest"]

#: Rows per record batch of the canonical form the digest hashes (part of the digest's
#: definition: changing it changes every digest), and per Parquet row group.
DIGEST_CHUNK_ROWS = 65_536
#: Pinned so that a new pyarrow default cannot change every digest.
_IPC_OPTIONS = pa.ipc.IpcWriteOptions(
    metadata_version=pa.ipc.MetadataVersion.V5, compression=None, use_threads=False
)


# -- the canonical form and its digest ------------------------------------------------------------


def _canonical_type(arrow_type: pa.DataType) -> pa.DataType:
    """The type a column is hashed as: dictionaries decoded, strings and binaries large, and
    the units Parquet cannot store as Parquet stores them (seconds as milliseconds, ``date64``
    as ``date32``); the same inside nested types."""
    t = pa.types
    if t.is_dictionary(arrow_type):
        return _canonical_type(arrow_type.value_type)
    if t.is_string(arrow_type) or t.is_large_string(arrow_type) or t.is_string_view(arrow_type):
        return pa.large_string()
    if t.is_binary(arrow_type) or t.is_large_binary(arrow_type) or t.is_binary_view(arrow_type):
        return pa.large_binary()
    if t.is_timestamp(arrow_type) and arrow_type.unit == "s":
        return pa.timestamp("ms", arrow_type.tz)
    if t.is_time32(arrow_type) and arrow_type.unit == "s":
        return pa.time32("ms")
    if t.is_date64(arrow_type):
        return pa.date32()
    if (
        t.is_list(arrow_type)
        or t.is_large_list(arrow_type)
        or t.is_list_view(arrow_type)
        or t.is_large_list_view(arrow_type)
    ):
        return pa.large_list(_canonical_type(arrow_type.value_type))
    if t.is_fixed_size_list(arrow_type):
        return pa.list_(_canonical_type(arrow_type.value_type), arrow_type.list_size)
    if t.is_map(arrow_type):
        return pa.map_(_canonical_type(arrow_type.key_type), _canonical_type(arrow_type.item_type))
    if t.is_struct(arrow_type):
        return pa.struct([pa.field(f.name, _canonical_type(f.type)) for f in arrow_type])
    return arrow_type


def _type_token(arrow_type: pa.DataType) -> str:
    """The logical type as the digest records it: the canonical type, except that a dictionary
    of strings or binaries (a pandas categorical) stays marked as one, with its ``ordered`` flag
    and without its index width. Parquet keeps only those dictionaries; others count as their
    values."""
    t = pa.types
    if t.is_dictionary(arrow_type):
        values = arrow_type.value_type
        if t.is_string(values) or t.is_large_string(values) or t.is_binary(values):
            ordered = int(arrow_type.ordered)
            return f"dictionary<values={_type_token(values)}, ordered={ordered}>"
        return _type_token(values)
    return str(_canonical_type(arrow_type))


def _filler(arrow_type: pa.DataType) -> pa.Scalar | None:
    """The value a null slot holds in the canonical form; None when the type has none here (the
    column is then rebuilt from Python values, which zero-fills null slots)."""
    t = pa.types
    if t.is_large_string(arrow_type):
        return pa.scalar("", arrow_type)
    if t.is_large_binary(arrow_type):
        return pa.scalar(b"", arrow_type)
    if t.is_fixed_size_binary(arrow_type):
        return pa.scalar(b"\x00" * arrow_type.byte_width, arrow_type)
    if t.is_boolean(arrow_type):
        return pa.scalar(False)
    if t.is_decimal(arrow_type):
        return pa.scalar(decimal.Decimal(0), arrow_type)
    if t.is_date32(arrow_type) or t.is_time32(arrow_type):
        return pa.scalar(0, pa.int32()).cast(arrow_type)
    if (
        t.is_integer(arrow_type)
        or t.is_floating(arrow_type)
        or t.is_timestamp(arrow_type)
        or t.is_date64(arrow_type)
        or t.is_time64(arrow_type)
        or t.is_duration(arrow_type)
    ):
        return pa.scalar(0, pa.int64()).cast(arrow_type)
    return None


def _canonical_values(chunk: pa.Array, target: pa.DataType) -> pa.Array:
    """One chunk of a column with dictionaries decoded and its type made canonical."""
    if pa.types.is_nested(target):
        # Rebuilt from Python values: children under null slots are then zero-filled too (slow,
        # but nested columns are rare in tabular data and the alternative is a hand-written walk
        # over every child buffer).
        return pa.array(chunk.to_pylist(), type=target)
    if pa.types.is_dictionary(chunk.type):
        chunk = chunk.dictionary_decode()
    return chunk if chunk.type == target else chunk.cast(target)


def _canonical_column(column: pa.ChunkedArray, target: pa.DataType) -> pa.StructArray:
    """``struct<valid: int8, value: target>`` of a column: no nulls, so no validity bitmap, and
    null slots holding a fixed value."""
    pieces = [_canonical_values(chunk, target) for chunk in column.chunks]
    values = pa.concat_arrays(pieces) if pieces else pa.array([], type=target)
    valid = pc.is_valid(values).cast(pa.int8())
    if values.null_count and not pa.types.is_null(target):
        filler = _filler(target)
        if filler is not None:
            values = pc.fill_null(values, filler)
        elif not pa.types.is_nested(target):  # nested values were rebuilt above already
            values = pa.array(values.to_pylist(), type=target)
    if pa.types.is_floating(target):
        nan = pc.is_nan(values)
        if pc.any(nan).as_py():
            values = pc.if_else(nan, pa.scalar(float("nan")).cast(target), values)
    return pa.StructArray.from_arrays([valid, values], fields=_entry_fields(target))


def _entry_fields(target: pa.DataType) -> list[pa.Field]:
    """The fields of a canonical column; ``value`` keeps nulls only for types without a
    filler (nested, interval, null), whose null slots are zero-filled instead."""
    return [
        pa.field("valid", pa.int8(), False),
        pa.field("value", target, _filler(target) is None),
    ]


class _HashingFile:
    """A write-only file that feeds what is written to a hash (for ``pyarrow.PythonFile``)."""

    closed = False

    def __init__(self, hasher: Any) -> None:
        self._hasher = hasher

    def write(self, data: bytes) -> int:
        self._hasher.update(data)
        return len(data)

    def flush(self) -> None:
        return None


class _Digest:
    """The sha256 of the Arrow IPC stream of the canonical form of a table fed in chunks of
    exactly :data:`DIGEST_CHUNK_ROWS` rows (the last one shorter)."""

    def __init__(self, schema: pa.Schema) -> None:
        self._targets = [_canonical_type(f.type) for f in schema]
        self._schema = pa.schema(
            [
                pa.field(
                    f.name,
                    pa.struct(_entry_fields(target)),
                    False,
                    metadata={"type": _type_token(f.type)},
                )
                for f, target in zip(schema, self._targets, strict=True)
            ]
        )
        self._hash = hashlib.sha256()
        sink = pa.PythonFile(_HashingFile(self._hash), mode="w")
        self._writer = pa.ipc.new_stream(sink, self._schema, options=_IPC_OPTIONS)

    def update(self, chunk: pa.Table) -> None:
        columns = [
            _canonical_column(column, target)
            for column, target in zip(chunk.columns, self._targets, strict=True)
        ]
        self._writer.write_batch(pa.RecordBatch.from_arrays(columns, schema=self._schema))

    def hexdigest(self) -> str:
        """The digest, once every chunk is in (closes the stream)."""
        self._writer.close()
        return str(self._hash.hexdigest())


# -- streaming the data ---------------------------------------------------------------------------


def _first_schema(
    batches: Iterator[pa.RecordBatch],
) -> tuple[pa.Schema, pa.RecordBatch]:
    first = next(batches, None)
    if first is None:
        raise InvalidInput(
            user_message(
                "data",
                "must yield at least one record batch (a snapshot needs at least the columns)",
                fix="pass a DataFrame, a table, or a source from loopml.data.open_source",
            )
        )
    names = first.schema.names
    repeated = sorted({n for n in names if names.count(n) > 1})
    if not names or repeated:
        raise InvalidInput(
            user_message(
                "data columns",
                "must be at least one, with unique names",
                verbatim(f"<{', '.join(map(repr, repeated)) or 'no columns'}>"),
                "rename or drop the repeated columns",
            )
        )
    return first.schema, first


def _conformed(batch: pa.RecordBatch, schema: pa.Schema, index: int) -> pa.RecordBatch:
    """``batch`` under ``schema`` (which may differ in metadata only); InvalidInput otherwise."""
    if batch.schema.equals(schema):
        return batch
    if batch.schema.equals(schema, check_metadata=False):
        return pa.RecordBatch.from_arrays(batch.columns, schema=schema)
    raise InvalidInput(
        user_message(
            f"record batch {index} of the data",
            "must have the columns and types of the first batch",
            verbatim(f"<{batch.schema.to_string(show_schema_metadata=False)}>"),
            "give every batch one schema (cast the columns that differ)",
        )
    )


def _fixed_chunks(data: Any) -> tuple[pa.Schema, Iterator[pa.Table]]:
    """The schema of ``data`` and its rows as tables of exactly :data:`DIGEST_CHUNK_ROWS` rows
    (the last one shorter; none for no rows), holding at most two chunks in memory."""
    batches = iter_batches(data)
    try:
        schema, first = _first_schema(batches)
    except pa.ArrowException as exc:
        raise _unreadable(exc) from exc

    def chunks() -> Iterator[pa.Table]:
        pending: list[pa.RecordBatch] = []
        count = 0
        try:
            for index, batch in enumerate(itertools.chain([first], batches)):
                pending.append(_conformed(batch, schema, index))
                count += batch.num_rows
                while count >= DIGEST_CHUNK_ROWS:
                    table = pa.Table.from_batches(pending, schema=schema)
                    yield table.slice(0, DIGEST_CHUNK_ROWS)
                    rest = table.slice(DIGEST_CHUNK_ROWS)
                    pending, count = rest.to_batches(), rest.num_rows
        except pa.ArrowException as exc:
            raise _unreadable(exc) from exc
        if count:
            yield pa.Table.from_batches(pending, schema=schema)

    return schema, chunks()


def _unreadable(exc: Exception) -> InvalidInput:
    return InvalidInput(
        user_message(
            "data",
            "could not be read as Arrow data",
            verbatim(f"<{exc}>"),
            "give each column a single type (e.g. df[col].astype(str))",
        )
    )


def data_digest(data: Any) -> str:
    """The content digest of ``data`` (anything ``iter_batches`` accepts): equal for identical
    data however it is represented (see the module docstring), the ``digest`` of its snapshot.

    >>> import pandas as pd
    >>> a = pd.DataFrame({"x": [1, 2, 3], "c": pd.Categorical(["u", "v", "u"])})
    >>> b = pa.table({"x": [1, 2, 3], "c": pa.array(["u", "v", "u"]).dictionary_encode()})
    >>> data_digest(a) == data_digest(b)
    True
    >>> data_digest(a) == data_digest(a.astype({"x": "int32"}))
    False
    """
    schema, chunks = _fixed_chunks(data)
    digest = _Digest(schema)
    for chunk in chunks:
        digest.update(chunk)
    return digest.hexdigest()
