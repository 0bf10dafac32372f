"""The seam between dataset snapshots and persistence.

Every backend passes ``loopml.store.conformance.check_snapshot_store``. The SDK writes a
snapshot's Parquet blob first and then calls :meth:`SnapshotStore.create_snapshot` once: that one
transaction numbers the version, records its row, its tags, its artifact-index entry (so garbage
collection keeps the blob) and its audit event. A process killed before the commit leaves no
version, only an unreferenced blob that ``loopml gc`` reclaims.

Stores enforce what needs stored state: numbering per name (consecutive under concurrency, never
reused after a delete), "identical data is stored once per name" (a draft whose digest the name
already holds returns that version, with ``created=False``), and that a parent exists.
"""

from __future__ import annotations

from typing import Protocol

from loopml.core.entities import Page
from loopml.core.registry import AuditEvent
from loopml.core.snapshots import Snapshot, SnapshotDraft

__all__ = ["SNAPSHOT_FILE", "SnapshotStore", "snapshot_owner"]

#: The path of a snapshot's Parquet file under its artifact-index owner.
SNAPSHOT_FILE = "data.parquet"


def snapshot_owner(snapshot_id: str) -> str:
    """The artifact-index owner key of a snapshot's files."""
    return f"snapshot:{snapshot_id}"


class SnapshotStore(Protocol):
    """Named, numbered dataset snapshots and their audit trail."""

    def create_snapshot(self, draft: SnapshotDraft, actor: str = "") -> Snapshot:
        """Store ``draft`` as the next version of its name, in ONE transaction; or, when the
        name already holds a version with the draft's digest, return that version with
        ``created=False`` and change nothing. Concurrent callers get consecutive numbers and a
        failure leaves nothing behind; ``draft.lineage.parent``, when set, must name an
        existing snapshot (NotFound otherwise)."""
        ...

    def get_snapshot(self, snapshot_id: str) -> Snapshot:
        """The snapshot with this id; NotFound if absent."""
        ...

    def get_snapshot_version(self, name: str, version: int) -> Snapshot:
        """Version ``version`` of ``name``; NotFound naming the name or the version."""
        ...

    def get_latest_snapshot(self, name: str) -> Snapshot:
        """The highest-numbered version of ``name``; NotFound if it has none."""
        ...

    def get_snapshot_by_digest(self, name: str, digest: str) -> Snapshot:
        """The version of ``name`` holding data of content digest ``digest``; NotFound if none."""
        ...

    def search_snapshots(
        self,
        name: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[Snapshot]:
        """Snapshots ordered by name (code point), newest version first; ``name`` matches
        exactly."""
        ...

    def delete_snapshot(self, snapshot_id: str, actor: str = "") -> None:
        """Delete a snapshot and its artifact-index entry (its number is never reused)."""
        ...

    def list_snapshot_audit_events(
        self, name: str | None = None, max_results: int = 1000
    ) -> list[AuditEvent]:
        """The newest ``max_results`` snapshot events, oldest first, optionally of one name."""
        ...
