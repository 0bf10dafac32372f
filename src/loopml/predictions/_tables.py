"""Records to Arrow tables: the columns of the prediction log's files.

Prediction files have the fixed columns of :data:`PREDICTION_COLUMNS` and one column
``f_<name>`` per feature, ``<name>`` the feature's name verbatim (so a feature called ``label``
or ``ts`` never collides with a fixed column). Feature columns keep their own Arrow type
(pandas categoricals are stored as their values, large strings as strings); a column Arrow cannot
type (mixed Python objects) is stored as text. Feedback files have ``ts``, ``request_id``,
``unit_id``, ``label`` and one float column ``o_<name>`` per outcome.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.predictions.records import Feedback, PredictionBatch

__all__ = [
    "FEATURE_PREFIX",
    "OUTCOME_PREFIX",
    "PREDICTION_COLUMNS",
    "TS_TYPE",
    "concat",
    "day_slices",
    "feedback_table",
    "prediction_table",
]

#: Below this many rows per piece on average, pieces are joined as Python values first.
_SMALL_PIECE_ROWS = 64
FEATURE_PREFIX = "f_"
OUTCOME_PREFIX = "o_"
TS_TYPE = pa.timestamp("ms", tz="UTC")
#: The fixed columns of a prediction file, in order, before the ``f_<name>`` columns.
PREDICTION_COLUMNS = (
    "request_id",
    "ts",
    "deployment",
    "arm",
    "model_name",
    "model_version",
    "unit_id",
    "prediction",
    "proba",
    "latency_ms",
)


def _plain(array: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """``array`` without dictionary encoding and large offsets, so files of one model version
    share their types whatever the pandas dtype that carried them."""
    t = array.type
    if pa.types.is_dictionary(t):
        return _plain(array.cast(t.value_type))
    if pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return array.cast(pa.string())
    if pa.types.is_large_binary(t):
        return array.cast(pa.binary())
    return array


def _as_array(values: Any, type_: pa.DataType | None = None) -> pa.Array | pa.ChunkedArray:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values if type_ is None else values.cast(type_)
    return pa.array(values, type=type_, from_pandas=True)


def _column(what: str, values: Any, type_: pa.DataType | None = None) -> pa.Array:
    try:
        array = _as_array(values, type_)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError) as exc:
        raise InvalidInput(
            user_message(
                f"prediction batch {what}",
                f"must convert to Arrow{f' as {type_}' if type_ is not None else ''}",
                verbatim(f"<{type(exc).__name__}: {exc}>"),
            )
        ) from exc
    return _plain(array)


def _feature(values: Any) -> pa.Array | pa.ChunkedArray:
    """One feature column; text for what Arrow cannot type (mixed Python objects)."""
    try:
        return _plain(_as_array(values))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError):
        items = values.tolist() if hasattr(values, "tolist") else list(values)
        return pa.array([None if v is None else str(v) for v in items], type=pa.string())


def _frame_columns(frame: Any) -> list[tuple[str, Any]]:
    """(name, values) of each column of ``frame``, values as cheap to get as possible."""
    if isinstance(frame, pa.Table | pa.RecordBatch):
        return [(str(n), frame.column(i)) for i, n in enumerate(frame.column_names)]
    if isinstance(frame, Mapping):
        return [(str(n), v) for n, v in frame.items()]
    columns = getattr(frame, "columns", None)
    if columns is not None and callable(getattr(frame, "items", None)):  # a pandas DataFrame
        # pandas 3 builds a Series per column in ~30 us; the column's array directly takes ~2 us,
        # which is what lets the log keep up with one-row batches. Public path when it is gone.
        get = getattr(frame, "_get_column_array", None)
        names = [str(n) for n in columns.tolist()]
        if get is not None and len(set(names)) == len(names):
            return [(n, get(i)) for i, n in enumerate(names)]
        return [(str(n), series) for n, series in frame.items()]
    raise InvalidInput(
        user_message(
            "prediction batch features",
            "must be a pandas DataFrame, a pyarrow Table or a mapping of columns",
            verbatim(f"<{type(frame).__name__}>"),
        )
    )


def _piece(values: Any) -> Any:
    """``values`` as a 1-D numpy array when that is free (arrays, lists), else as it is."""
    if isinstance(values, np.ndarray):
        return values if values.ndim == 1 else _rows(values)
    if isinstance(values, list | tuple):
        return np.asarray(values, dtype=object)
    return values


def _rows(values: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """A 2-D array as a 1-D object array of its rows (an Arrow list column)."""
    out = np.empty(len(values), dtype=object)
    for i, row in enumerate(values):
        out[i] = row
    return out


def _objects(piece: Any) -> Any:
    """A pandas extension array (categorical, nullable, Arrow-backed) as a numpy object array
    of its values, nulls as None; anything else as it is."""
    if isinstance(piece, np.ndarray) or not hasattr(piece, "to_numpy"):
        return piece
    if isinstance(piece, pa.Array | pa.ChunkedArray):
        return piece.to_numpy(zero_copy_only=False)
    return piece.to_numpy(dtype=object, na_value=None)


def _categorical(pieces: list[Any]) -> pa.Array | None:
    """Pieces that are all pandas Categoricals of one dtype (a signature's categories) as the
    values they code: their codes joined, then one ``take`` from the categories; else None."""
    first = pieces[0]
    dtype = getattr(first, "dtype", None)
    if not isinstance(dtype, pd.CategoricalDtype):
        return None
    for piece in pieces:
        if piece.dtype is not dtype and piece.dtype != dtype:
            return None
    codes = np.concatenate([piece.codes for piece in pieces])
    categories = _feature(np.asarray(dtype.categories, dtype=object))
    return categories.take(pa.array(codes, mask=codes < 0))


def _combine(what: str, pieces: list[Any], type_: pa.DataType | None = None) -> pa.Array:
    """One Arrow column of the pieces of several batches, typed once when they are numpy."""
    if type_ is None and (values := _categorical(pieces)) is not None:
        return values
    if len(pieces) > 1 and sum(len(p) for p in pieces) < _SMALL_PIECE_ROWS * len(pieces):
        # many small pieces: one conversion of their Python values beats one Arrow call each
        pieces = [_objects(p) for p in pieces]
    if all(isinstance(p, np.ndarray) for p in pieces):
        joined = pieces[0] if len(pieces) == 1 else np.concatenate(pieces)
        return _column(what, joined, type_) if type_ is not None else _feature(joined)
    arrays = [
        _column(what, p, type_) if type_ is not None else _feature(_as_array_or_piece(p))
        for p in pieces
    ]
    if len(arrays) == 1:
        array = arrays[0]
    elif len({a.type for a in arrays}) == 1:
        array = pa.chunked_array(arrays)
    else:
        tables = [pa.table({"c": a}) for a in arrays]
        array = pa.concat_tables(tables, promote_options="permissive").column("c")
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array


def _as_array_or_piece(piece: Any) -> Any:
    return piece.combine_chunks() if isinstance(piece, pa.ChunkedArray) else piece


def _proba_piece(values: Any, rows: int) -> Any:
    """Per-row probabilities: floats, or rows of class probabilities for more than 2 classes."""
    if values is None:
        return np.full(rows, np.nan)
    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values
    array = np.asarray(values)
    if array.ndim == 2 and array.shape[1] == 2:
        array = array[:, 1]
    if array.ndim == 1:
        return array.astype(np.float64, copy=False)
    if array.ndim == 2:
        return _rows(array.astype(np.float64, copy=False))
    raise InvalidInput(
        user_message(
            "prediction batch probabilities",
            "must be one number per row or one row of class probabilities per row",
            verbatim(f"<array of shape {array.shape}>"),
        )
    )


def _prediction_piece(values: Any) -> Any:
    if isinstance(values, np.ndarray) and values.ndim == 2 and values.shape[1] == 1:
        return values[:, 0]
    return _piece(values)


class _Pieces:
    """The values of one column over several batches: per-row pieces, or one value for all the
    rows of a batch (kept as a run, expanded once at the end)."""

    __slots__ = ("counts", "pieces", "scalars")

    def __init__(self) -> None:
        self.pieces: list[Any] = []
        self.scalars: list[Any] = []
        self.counts: list[int] = []

    def add(self, value: Any, rows: int, *, scalar: bool) -> None:
        self.pieces.append(None if scalar else value)
        self.scalars.append(value if scalar else None)
        self.counts.append(rows)

    def arrays(self, dtype: Any = object) -> list[Any]:
        if all(p is None for p in self.pieces):
            return [np.repeat(np.array(self.scalars, dtype=dtype), self.counts)]
        return [
            np.full(count, scalar, dtype=dtype) if piece is None else piece
            for piece, scalar, count in zip(self.pieces, self.scalars, self.counts, strict=True)
        ]


def _number(value: Any) -> bool:
    return isinstance(value, int | float)


def prediction_table(batches: Sequence[PredictionBatch]) -> pa.Table:
    """The rows of ``batches`` (of one deployment and model version) as one table of the
    prediction file's columns.

    Values are gathered per column over the batches and converted to Arrow once per column,
    not once per batch: the per-call overhead of Arrow (~5 us) and pandas would otherwise cost
    more than everything else for one-row batches.
    """
    fixed = {name: _Pieces() for name in PREDICTION_COLUMNS}
    features: dict[str, _Pieces] = {}
    for index, batch in enumerate(batches):
        rows = batch.rows
        fixed["request_id"].add(_piece(batch.request_ids), rows, scalar=False)
        fixed["ts"].add(batch.timestamps_ms, rows, scalar=_number(batch.timestamps_ms))
        fixed["deployment"].add(batch.deployment, rows, scalar=True)
        fixed["arm"].add(batch.arm, rows, scalar=True)
        fixed["model_name"].add(batch.model_name, rows, scalar=True)
        fixed["model_version"].add(batch.model_version, rows, scalar=True)
        unit_ids = batch.unit_ids
        fixed["unit_id"].add(None if unit_ids is None else _piece(unit_ids), rows, scalar=False)
        fixed["prediction"].add(_prediction_piece(batch.predictions), rows, scalar=False)
        fixed["proba"].add(_proba_piece(batch.probabilities, rows), rows, scalar=False)
        fixed["latency_ms"].add(batch.latency_ms, rows, scalar=_number(batch.latency_ms))
        for name, values in _frame_columns(batch.features):
            column = features.get(name)
            if column is None:  # a column the earlier batches lacked: null there
                column = features[name] = _Pieces()
                for earlier in batches[:index]:
                    column.add(None, earlier.rows, scalar=True)
            column.add(_piece(values), rows, scalar=False)
        for column in features.values():
            if len(column.counts) <= index:  # a column this batch lacks
                column.add(None, rows, scalar=True)
    unit_ids = fixed["unit_id"]
    unit_ids.pieces = [
        np.full(n, None, dtype=object) if p is None else p
        for p, n in zip(unit_ids.pieces, unit_ids.counts, strict=True)
    ]
    columns: dict[str, pa.Array] = {
        "request_id": _combine("request ids", fixed["request_id"].pieces, pa.string()),
        "ts": _combine("timestamps", fixed["ts"].arrays(np.int64), pa.int64()).cast(TS_TYPE),
        "deployment": _combine("deployment", fixed["deployment"].arrays(), pa.string()),
        "arm": _combine("arm", fixed["arm"].arrays(), pa.string()),
        "model_name": _combine("model name", fixed["model_name"].arrays(), pa.string()),
        "model_version": _combine("model version", fixed["model_version"].arrays(), pa.int64()),
        "unit_id": _combine("unit ids", unit_ids.pieces, pa.string()),
        "prediction": _combine("predictions", fixed["prediction"].pieces),
        "proba": _combine("probabilities", fixed["proba"].pieces),
        "latency_ms": _combine("latencies", fixed["latency_ms"].arrays(np.float64), pa.float64()),
    }
    for name, column in features.items():
        columns[FEATURE_PREFIX + name] = _combine(f"feature {name!r}", column.arrays())
    return pa.table(columns)


def feedback_table(records: Sequence[Feedback], now_ms: int) -> pa.Table:
    """Feedback records as a table of the feedback file's columns.

    The labels of one call must share a type (numbers of both kinds become floats).
    """
    names = sorted({name for record in records for name in record.outcomes})
    try:
        label = _plain(pa.array([r.label for r in records]))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        kinds = sorted({type(r.label).__name__ for r in records if r.label is not None})
        raise InvalidInput(
            user_message(
                "feedback labels",
                "must share one type in a call",
                verbatim(f"<{', '.join(kinds)}>"),
                "send the labels of a model with the type of its predictions",
            )
        ) from exc
    columns: dict[str, Any] = {
        "ts": pa.array(
            [now_ms if r.timestamp_ms is None else r.timestamp_ms for r in records], pa.int64()
        ).cast(TS_TYPE),
        "request_id": pa.array([r.request_id for r in records], pa.string()),
        "unit_id": pa.array([r.unit_id for r in records], pa.string()),
        "label": label,
    }
    for name in names:
        columns[OUTCOME_PREFIX + name] = pa.array(
            [r.outcomes.get(name) for r in records], pa.float64()
        )
    return pa.table(columns)


def concat(tables: Iterable[pa.Table]) -> pa.Table:
    """One table of ``tables``, types unified (a column missing or all-null in some is null
    there; ints meeting floats become floats)."""
    tables = list(tables)
    if len(tables) == 1:
        return tables[0]
    return pa.concat_tables(tables, promote_options="permissive").combine_chunks()


def day_slices(table: pa.Table) -> list[tuple[int, pa.Table]]:
    """``table`` split by the UTC day of ``ts`` (days since the epoch), in day order."""
    days = pc.divide(table.column("ts").cast(pa.int64()), 86_400_000)
    first, last = pc.min_max(days).values()
    if first.as_py() == last.as_py():
        return [(int(first.as_py()), table)]
    return [
        (day, table.filter(pc.equal(days, day)))
        for day in sorted(set(days.to_pylist()))
        if day is not None
    ]
