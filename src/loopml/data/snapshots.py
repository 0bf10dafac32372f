"""Dataset snapshots: store a table once, as content-addressed Parquet, and load it by ref.

:func:`snapshot` streams ``data`` (anything :func:`loopml.data.batches.iter_batches` accepts: a
DataFrame, an Arrow table, a source from :func:`loopml.data.sources.open_source`) into a Parquet
file (zstd) in a temporary directory while hashing it, profiles and types the file
(:func:`loopml.data.profiling.profile`, :func:`loopml.data.schema.infer_schema`), puts it in the
artifact store (an atomic, deduplicated put) and records the version in ONE metadata transaction.
A process killed at any moment therefore leaves either no version or a complete one; a blob
written by an interrupted snapshot is unreferenced and ``loopml gc`` reclaims it. Memory is
bounded by a few chunks of :data:`DIGEST_CHUNK_ROWS` rows, whatever the size of the data.

A version's ``digest`` is :func:`~loopml.data.digest.data_digest` of its data; what counts as
identical data, and how the digest is computed, is stated in :mod:`loopml.data.digest`.

Within one name identical data is stored once: snapshotting it again returns the version that
holds it, with ``created=False``, and writes nothing. Loading re-hashes the Parquet blob and
raises :class:`~loopml.core.errors.IntegrityError` if it no longer matches.

Labels that arrive after the features join by key (:func:`~loopml.data.labels.add_labels`) into a
new version whose parent is the version they were joined onto.

This module is the snapshot API: it re-exports :func:`data_digest`, :data:`DIGEST_CHUNK_ROWS`,
:func:`add_labels` and :class:`LabelJoin` so that they are found where snapshots are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import pyarrow as pa

from loopml.core.snapshots import Snapshot
from loopml.data._snapshot_io import client_for, read_arrow, resolve, source_of, store_version
from loopml.data.digest import DIGEST_CHUNK_ROWS, data_digest
from loopml.data.labels import LabelJoin, add_labels

__all__ = [
    "DIGEST_CHUNK_ROWS",
    "LabelJoin",
    "add_labels",
    "data_digest",
    "get_snapshot",
    "list_snapshots",
    "load",
    "load_arrow",
    "snapshot",
]


def snapshot(
    data: Any,
    name: str,
    *,
    description: str = "",
    parent: str | Snapshot | None = None,
    tags: Mapping[str, Any] | None = None,
    tracking_uri: str | None = None,
) -> Snapshot:
    """Store ``data`` as the next version of the snapshot ``name``, or return the version that
    already holds identical data (``created=False``).

    ``data`` is anything ``loopml.data.batches.iter_batches`` accepts; a source's
    ``describe()`` becomes the lineage's source. ``parent`` names the snapshot this data was
    derived from (a ref or a :class:`Snapshot`; NotFound if it does not exist). The stores are
    those of ``tracking_uri``, by default those of the fluent API (``loopml.set_tracking_uri``).
    """
    return store_version(
        client_for(tracking_uri),
        data,
        name,
        source=source_of(data),
        description=description,
        parent=parent,
        tags=tags,
    )


def get_snapshot(ref: str | Snapshot, *, tracking_uri: str | None = None) -> Snapshot:
    """The snapshot ``ref`` names: ``"name@3"``, ``"name"`` / ``"name@latest"`` (newest),
    ``"name@<sha256>"`` (by data digest) or a snapshot id."""
    return resolve(client_for(tracking_uri).stores, ref)


def list_snapshots(name: str | None = None, *, tracking_uri: str | None = None) -> list[Snapshot]:
    """Every snapshot (of ``name``, if given), ordered by name, newest version first."""
    store = client_for(tracking_uri).stores.snapshots
    found: list[Snapshot] = []
    token: str | None = None
    while True:
        page = store.search_snapshots(name, max_results=1000, page_token=token)
        found.extend(page)
        token = page.token
        if token is None:
            return found


def load_arrow(
    ref: str | Snapshot,
    columns: Sequence[str] | None = None,
    *,
    tracking_uri: str | None = None,
) -> pa.Table:
    """The data of the snapshot ``ref`` names as an Arrow table (``columns``: only those),
    after checking the Parquet file's sha256 (IntegrityError on a mismatch)."""
    stores = client_for(tracking_uri).stores
    return read_arrow(stores, resolve(stores, ref), columns)


def load(
    ref: str | Snapshot,
    columns: Sequence[str] | None = None,
    *,
    tracking_uri: str | None = None,
) -> pd.DataFrame:
    """The data of the snapshot ``ref`` names as a pandas DataFrame, with the dtypes it was
    snapshotted with (categoricals, nullable integers, time zones). See :func:`load_arrow`."""
    frame: pd.DataFrame = load_arrow(ref, columns, tracking_uri=tracking_uri).to_pandas()
    return frame
