"""Writing a snapshot version and reading one back: what :mod:`loopml.data.snapshots` and
:mod:`loopml.data.labels` share.

:func:`store_version` is the one way a version is made: the data streams into a Parquet file in a
temporary directory while it is hashed (:mod:`loopml.data.digest`); unless the name already holds
that digest, the file is profiled and typed, put in the artifact store (an atomic, deduplicated
put), and the version recorded in ONE metadata transaction. :func:`read_arrow` is the one way a
version is read: the blob's sha256 is checked before any byte is used. The rules users see
are in :mod:`loopml.data.snapshots`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from loopml.core.errors import (
    IntegrityError,
    InvalidInput,
    NotFound,
    close_matches,
    user_message,
    verbatim,
)
from loopml.core.registry import validate_description
from loopml.core.settings import load_settings
from loopml.core.snapshots import (
    Snapshot,
    SnapshotDraft,
    SnapshotLineage,
    parse_snapshot_ref,
    validate_snapshot_name,
)
from loopml.core.validation import validate_tag
from loopml.data.digest import DIGEST_CHUNK_ROWS, _Digest, _fixed_chunks, _type_token
from loopml.data.profiling import profile
from loopml.data.schema import infer_schema
from loopml.data.sources import open_source
from loopml.store.stores import Stores
from loopml.tracking import fluent
from loopml.tracking.client import Client
from loopml.tracking.source import source_tags

__all__ = [
    "check_columns",
    "client_for",
    "read_arrow",
    "resolve",
    "source_of",
    "store_version",
]

_COMPRESSION = "zstd"
_PARQUET_NAME = "data.parquet"
_GIT_COMMIT_TAG = "loopml.source.git.commit"
#: Values the profile counts per column, and so the most categories the schema can record.
_MAX_CATEGORIES = 50


# -- the stores -----------------------------------------------------------------------------------


def client_for(tracking_uri: str | None) -> Client:
    """The client of ``tracking_uri``; by default the fluent API's (``loopml.set_tracking_uri``)."""
    return fluent.get_client() if tracking_uri is None else Client(tracking_uri)


def resolve(stores: Stores, ref: str | Snapshot) -> Snapshot:
    """The stored snapshot ``ref`` names (a ref string or a :class:`Snapshot`)."""
    if isinstance(ref, Snapshot):
        return stores.snapshots.get_snapshot(ref.snapshot_id)
    parsed = parse_snapshot_ref(ref)
    store = stores.snapshots
    if parsed.snapshot_id is not None:
        return store.get_snapshot(parsed.snapshot_id)
    name = parsed.name or ""
    if parsed.version is not None:
        return store.get_snapshot_version(name, parsed.version)
    if parsed.digest is not None:
        return store.get_snapshot_by_digest(name, parsed.digest)
    return store.get_latest_snapshot(name)


def source_of(data: Any) -> dict[str, Any]:
    """What the lineage records of where ``data`` came from."""
    describe = getattr(data, "describe", None)
    if callable(describe) and not isinstance(data, pd.DataFrame):
        described = describe()
        if isinstance(described, Mapping):
            return dict(described)
    if isinstance(data, pd.DataFrame):
        return {"kind": "pandas"}
    if isinstance(data, pa.Table | pa.RecordBatch):
        return {"kind": "arrow"}
    return {"kind": "batches"}


# -- writing a version -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Written:
    """A Parquet file of the data and what was learned while writing it."""

    path: Path
    digest: str
    num_rows: int
    num_columns: int


def _write_parquet(data: Any, directory: Path) -> _Written:
    """Stream ``data`` into ``directory/data.parquet`` (one row group per chunk) while hashing."""
    schema, chunks = _fixed_chunks(data)
    digest = _Digest(schema)
    path = directory / _PARQUET_NAME
    rows = 0
    try:
        with pq.ParquetWriter(path, schema, compression=_COMPRESSION) as writer:
            for chunk in chunks:
                digest.update(chunk)
                writer.write_table(chunk, row_group_size=DIGEST_CHUNK_ROWS)
                rows += chunk.num_rows
    except pa.ArrowException as exc:
        raise InvalidInput(
            user_message(
                "data",
                "must have columns Parquet can store",
                verbatim(f"<{exc}>"),
                "cast the columns it names to a supported type (intervals, for one, are not)",
            )
        ) from exc
    _check_stored_types(schema, pq.read_schema(path))
    return _Written(path, digest.hexdigest(), rows, len(schema))


def _check_stored_types(given: pa.Schema, stored: pa.Schema) -> None:
    """InvalidInput unless Parquet reads every column back as the same logical type, so that
    the stored data is the data hashed (a safety net: the canonical types cover the changes
    pyarrow's Parquet makes today)."""
    for field, back in zip(given, stored, strict=True):
        if _type_token(field.type) != _type_token(back.type):
            raise InvalidInput(
                user_message(
                    f"column {field.name!r}",
                    f"must have a type Parquet stores unchanged; {field.type} reads back as "
                    f"{back.type}",
                    fix=f"cast the column to {back.type} before the snapshot",
                )
            )


def _git_commit() -> str | None:
    return source_tags(load_settings().record_git).get(_GIT_COMMIT_TAG)


def _json_ready(what: str, value: Any) -> dict[str, Any]:
    """``value`` through a JSON round trip (numpy scalars as numbers, tuples as lists)."""

    def default(item: Any) -> Any:
        if hasattr(item, "tolist"):
            return item.tolist()
        if hasattr(item, "isoformat"):
            return item.isoformat()
        raise TypeError(f"{type(item).__name__} is not JSON serialisable")

    try:
        ready: dict[str, Any] = json.loads(json.dumps(value, default=default, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            user_message(what, "must be JSON-serialisable", verbatim(f"<{exc}>"))
        ) from exc
    return ready


def store_version(
    client: Client,
    data: Any,
    name: str,
    *,
    source: Mapping[str, Any],
    description: str,
    parent: str | Snapshot | None,
    tags: Mapping[str, Any] | None,
) -> Snapshot:
    """Write and hash ``data``; unless ``name`` already holds it, profile and type the file, put
    it in the blob store and record the version in one transaction."""
    validate_snapshot_name(name)
    validate_description(description)
    stores = client.stores
    checked_tags = {t.key: t.value for t in (validate_tag(k, v) for k, v in (tags or {}).items())}
    parent_ref = None if parent is None else resolve(stores, parent).ref
    lineage = SnapshotLineage(_json_ready("snapshot source", source), parent_ref, _git_commit())
    with tempfile.TemporaryDirectory(prefix="loopml-snapshot-") as tmp:
        written = _write_parquet(data, Path(tmp))
        try:
            existing = stores.snapshots.get_snapshot_by_digest(name, written.digest)
        except NotFound:
            existing = None
        if existing is not None:
            return dataclasses.replace(existing, created=False)
        # One more pass, over the local file: a streamed source may not be readable twice.
        stats = profile(open_source(written.path, format="parquet"), top_k=_MAX_CATEGORIES)
        inferred = infer_schema(stats, max_categories=_MAX_CATEGORIES)
        blob = stores.blobs.put_file(written.path)
    draft = SnapshotDraft(
        name=name,
        digest=written.digest,
        blob_digest=blob.digest,
        blob_size=blob.size,
        num_rows=written.num_rows,
        num_columns=written.num_columns,
        schema=_json_ready("snapshot schema", inferred.to_dict()),
        profile=_json_ready("snapshot profile", stats.to_dict()),
        lineage=lineage,
        description=description,
        tags=checked_tags,
    )
    return stores.snapshots.create_snapshot(draft, actor=client._user())


# -- reading a version -----------------------------------------------------------------------------


def _verified_parquet(stores: Stores, snap: Snapshot) -> pa.BufferReader:
    """The snapshot's Parquet bytes, after checking them against the recorded sha256."""
    try:
        content = stores.blobs.get_bytes(snap.blob_digest)
    except NotFound as exc:
        raise NotFound(
            user_message(
                f"the Parquet file of snapshot {snap.ref}",
                f"is missing from the artifact store (blob {snap.blob_digest})",
                fix="restore the artifact store from a backup, or snapshot the data again",
            )
        ) from exc
    actual = hashlib.sha256(content).hexdigest()
    if actual != snap.blob_digest or len(content) != snap.blob_size:
        raise IntegrityError(
            user_message(
                f"the Parquet file of snapshot {snap.ref}",
                f"does not match the sha256 recorded for it ({snap.blob_digest}); refusing to "
                "load it",
                verbatim(f"<sha256 {actual}, {len(content)} bytes>"),
                "restore the artifact store from a backup, or snapshot the data again",
            )
        )
    return pa.BufferReader(content)


def read_arrow(stores: Stores, snap: Snapshot, columns: Sequence[str] | None = None) -> pa.Table:
    """The data of ``snap`` as an Arrow table (``columns``: only those), after checking the
    Parquet file's sha256 (IntegrityError on a mismatch)."""
    source = _verified_parquet(stores, snap)
    if columns is not None:
        wanted = [columns] if isinstance(columns, str) else list(columns)
        available = pq.read_schema(source).names
        check_columns(f"snapshot {snap.ref}", wanted, available)
        source.seek(0)
    else:
        wanted = None
    table: pa.Table = pq.read_table(source, columns=wanted)
    return table


def check_columns(subject: str, wanted: Sequence[Any], available: Sequence[str]) -> None:
    """InvalidInput (with close matches) for the first of ``wanted`` not in ``available``."""
    for column in wanted:
        if column not in available:
            close = close_matches(column, available, 3)
            hint = f"did you mean {', '.join(map(repr, close))}?" if close else None
            shown = ", ".join(map(repr, available[:10])) + (", ..." if len(available) > 10 else "")
            raise InvalidInput(
                user_message(
                    f"column {column!r}",
                    f"is not a column of {subject} (it has {len(available)}: {shown})",
                    fix=hint,
                )
            )
