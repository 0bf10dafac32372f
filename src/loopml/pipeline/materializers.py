"""How a step's outputs become bytes in the artifact store, and back.

One small materializer per kind of value, chosen by type, first match wins:

=========== ============================================================ =========
format      values                                                       file
=========== ============================================================ =========
``parquet`` pandas DataFrames with string column names (pyarrow)          ``.parquet``
``npy``     numpy arrays of a non-object dtype (``allow_pickle=False``)  ``.npy``
``json``    plain JSON: None, bool, int, finite float, str, lists, dicts ``.json``
            with str keys (canonical: sorted keys, no spaces)
``pickle``  anything else (cloudpickle)                                  ``.pkl``
=========== ============================================================ =========

A value is JSON only when its types are exactly those (a tuple, a numpy scalar or a NaN goes to
pickle), so loading gives back an equal value of the same types. A DataFrame Parquet cannot hold
(non-string column names, object columns of mixed types) also goes to pickle.

An output's **digest** is the sha256 of its serialised bytes: the blob store keeps identical outputs
once, and a later step's cache key uses the digest without loading the value. Parquet and npy bytes
are deterministic for equal data with the same library versions; a pickle is deterministic for most
objects, but not all (a set of strings pickles in an order that changes between processes), so a
step downstream of such a value may miss the cache when the upstream step re-runs.

Trust: loading a pickle runs code. The pipeline cache is the user's own store, written by this
user's pipelines, so loading a pickled output from it trusts what those pipelines wrote; do not
point a pipeline at a store that others can write to.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopml.core.errors import InvalidInput, user_message
from loopml.pipeline._names import canonical_json, sha256_hex

__all__ = [
    "MATERIALIZERS",
    "Materializer",
    "Serialized",
    "deserialize",
    "materializer_for_extension",
    "serialize",
    "value_digest",
]


@dataclass(frozen=True, slots=True)
class Materializer:
    """One way to turn values into bytes and back."""

    format: str
    extension: str
    accepts: Callable[[Any], bool]
    dumps: Callable[[Any], bytes]
    loads: Callable[[bytes], Any]


@dataclass(frozen=True, slots=True)
class Serialized:
    """A value as stored: its format, file extension, bytes and their sha256."""

    format: str
    extension: str
    data: bytes
    digest: str


def _is_frame(value: Any) -> bool:
    import pandas as pd

    return isinstance(value, pd.DataFrame)


def _frame_dumps(value: Any) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(value, preserve_index=None)
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


def _frame_loads(data: bytes) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(io.BytesIO(data)).to_pandas()


def _is_array(value: Any) -> bool:
    import numpy as np

    return isinstance(value, np.ndarray) and not value.dtype.hasobject


def _array_dumps(value: Any) -> bytes:
    import numpy as np

    sink = io.BytesIO()
    np.save(sink, value, allow_pickle=False)
    return sink.getvalue()


def _array_loads(data: bytes) -> Any:
    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


def _is_plain_json(value: Any) -> bool:
    kind = type(value)
    if value is None or kind in (bool, int, str):
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(_is_plain_json(item) for item in value)
    if kind is dict:
        return all(type(k) is str and _is_plain_json(v) for k, v in value.items())
    return False


def _json_loads(data: bytes) -> Any:
    import json

    return json.loads(data)


def _pickle_dumps(value: Any) -> bytes:
    import cloudpickle

    data: bytes = cloudpickle.dumps(value)
    return data


def _pickle_loads(data: bytes) -> Any:
    import pickle

    return pickle.loads(data)  # the user's own cache: see "Trust" in the module docstring


#: The materializers in the order they are tried; ``pickle`` takes anything.
MATERIALIZERS: tuple[Materializer, ...] = (
    Materializer("parquet", "parquet", _is_frame, _frame_dumps, _frame_loads),
    Materializer("npy", "npy", _is_array, _array_dumps, _array_loads),
    Materializer("json", "json", _is_plain_json, canonical_json, _json_loads),
    Materializer("pickle", "pkl", lambda value: True, _pickle_dumps, _pickle_loads),
)
_BY_EXTENSION = {m.extension: m for m in MATERIALIZERS}
_PICKLE = MATERIALIZERS[-1]


def serialize(value: Any) -> Serialized:
    """The bytes of ``value`` by the first materializer that accepts it (see the table)."""
    chosen = _PICKLE
    data = b""
    for materializer in MATERIALIZERS[:-1]:
        if not materializer.accepts(value):
            continue
        try:
            data = materializer.dumps(value)
        except _cannot_hold() as exc:
            _note_fallback(materializer, exc)
            continue
        chosen = materializer
        break
    if chosen is _PICKLE:
        data = _PICKLE.dumps(value)
    return Serialized(chosen.format, chosen.extension, data, sha256_hex(data))


def _cannot_hold() -> tuple[type[Exception], ...]:
    """The errors by which a format says it cannot hold a value (then it is pickled)."""
    import pyarrow as pa

    return (TypeError, ValueError, NotImplementedError, pa.ArrowException)


def _note_fallback(materializer: Materializer, exc: BaseException) -> None:
    import logging

    logging.getLogger(__name__).debug(
        "%s cannot hold the value (%s); it is pickled", materializer.format, exc
    )


def materializer_for_extension(extension: str) -> Materializer:
    found = _BY_EXTENSION.get(extension)
    if found is None:
        raise InvalidInput(
            user_message(
                "stored output",
                "has a file extension no materializer reads",
                extension,
                f"known: {', '.join(sorted(_BY_EXTENSION))}",
            )
        )
    return found


def deserialize(extension: str, data: bytes) -> Any:
    """The value stored as ``data`` in a file of ``extension``."""
    return materializer_for_extension(extension).loads(data)


def value_digest(value: Any) -> str:
    """The digest a value has in a cache key.

    A :class:`pathlib.Path` stands for the file (or directory tree) it names: its digest is that
    of the content, so editing the file invalidates the steps that read it. A ``str`` is a value
    like any other: a path given as a string is hashed as text, not as the file it names. Every
    other value is hashed by its serialised bytes (:func:`serialize`).
    """
    if isinstance(value, Path):
        return _path_digest(value)
    return serialize(value).digest


def _path_digest(path: Path) -> str:
    import hashlib

    if path.is_file():
        hasher = hashlib.sha256()
        with open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                hasher.update(chunk)
        return hasher.hexdigest()
    if path.is_dir():
        entries = [
            [p.relative_to(path).as_posix(), _path_digest(p)]
            for p in sorted(path.rglob("*"))
            if p.is_file()
        ]
        return sha256_hex(canonical_json({"tree": entries}))
    raise InvalidInput(
        user_message(
            "input path",
            "must name an existing file or directory (a Path input is hashed by its content)",
            os.fspath(path),
            "check the path, or pass a str to hash the text itself",
        )
    )
