"""Open the stores a process works with, once per location.

``open_stores`` resolves a tracking URI (or the settings' default), builds the metadata database,
creates its schema on first use, and pairs it with the artifact store. Stores are cached per
location, so every ``Client`` and the fluent API in one process share one connection pool.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from loopml.core.errors import InvalidInput, user_message
from loopml.core.settings import Settings, load_settings, mask_url
from loopml.store.artifacts import ArtifactStore, open_artifact_store
from loopml.store.sql import (
    SUPPORTED_SCHEMES,
    Database,
    SqlArtifactIndex,
    SqlDeploymentStore,
    SqlRegistryStore,
    SqlSnapshotStore,
    SqlTrackingStore,
)

__all__ = ["Stores", "clear_store_cache", "open_stores", "resolve_tracking_uri"]


@dataclass(frozen=True)
class Stores:
    """The metadata store (tracking, artifact index, model registry, dataset snapshots,
    deployments) and the blob store of one location."""

    tracking_uri: str
    artifact_uri: str
    database: Database
    tracking: SqlTrackingStore
    artifact_index: SqlArtifactIndex
    blobs: ArtifactStore
    registry: SqlRegistryStore
    snapshots: SqlSnapshotStore
    deployments: SqlDeploymentStore


_CACHE: dict[tuple[str, str], Stores] = {}
_LOCK = threading.Lock()


def _forget_inherited_connections() -> None:
    """In a forked child: drop the pooled connections inherited from the parent without closing
    them (they belong to the parent; sharing a socket or SQLite handle across processes breaks
    both), so the child opens its own. Also renew the lock, which another thread may have held
    at the fork."""
    global _LOCK
    _LOCK = threading.Lock()
    for stores in _CACHE.values():
        stores.database.engine.dispose(close=False)


os.register_at_fork(after_in_child=_forget_inherited_connections)


def resolve_tracking_uri(uri: str | None, settings: Settings) -> tuple[str, str]:
    """(database URL, artifact URL) for a tracking URI, a loopml home directory, or the default.

    A plain path or ``file://`` URL names a loopml home directory holding ``loopml.db`` and
    ``artifacts/``.
    """
    if not uri:
        return settings.resolved_tracking_uri(), settings.resolved_artifact_uri()
    scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
    if scheme in ("", "file"):
        home = Path(uri[len("file://") :] if scheme == "file" else uri).expanduser().resolve()
        return f"sqlite:///{home / 'loopml.db'}", settings.artifact_uri or str(home / "artifacts")
    if scheme.split("+")[0] in {s.split("+")[0] for s in SUPPORTED_SCHEMES}:
        return uri, settings.resolved_artifact_uri()
    raise InvalidInput(
        user_message(
            "tracking URI scheme",
            "must be a directory path, sqlite:///..., or postgresql+psycopg://...",
            f"{scheme}://",
            f"check {mask_url(uri)!r}; unset it to use the embedded default ./.loopml",
        )
    )


def open_stores(tracking_uri: str | None = None, settings: Settings | None = None) -> Stores:
    """The (cached) stores for ``tracking_uri`` (default: ``LOOPML_TRACKING_URI`` or ./.loopml)."""
    settings = settings or load_settings()
    database_url, artifact_url = resolve_tracking_uri(tracking_uri, settings)
    key = (database_url, artifact_url)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        database = Database(database_url, settings)
        database.ensure_schema()
        stores = Stores(
            tracking_uri=database_url,
            artifact_uri=artifact_url,
            database=database,
            tracking=SqlTrackingStore(database),
            artifact_index=SqlArtifactIndex(database),
            blobs=open_artifact_store(artifact_url),
            registry=SqlRegistryStore(database),
            snapshots=SqlSnapshotStore(database),
            deployments=SqlDeploymentStore(database),
        )
        _CACHE[key] = stores
        return stores


def clear_store_cache() -> None:
    """Dispose every cached store (tests, and processes that fork)."""
    with _LOCK:
        for stores in _CACHE.values():
            stores.database.dispose()
        _CACHE.clear()
