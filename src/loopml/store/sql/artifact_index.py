"""The logical-path index of artifacts in SQL: ``(owner, path) → (digest, size)``."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect

from loopml.core.entities import ArtifactInfo, LifecycleStage
from loopml.core.errors import NotFound, user_message
from loopml.core.ids import now_ms
from loopml.store.sql.database import Database
from loopml.store.sql.schema import artifacts, runs
from loopml.store.sql.search import escape_like

__all__ = ["SqlArtifactIndex", "run_owner"]


def run_owner(run_id: str) -> str:
    """The owner key of a run's artifacts."""
    return f"run:{run_id}"


class SqlArtifactIndex:
    """:class:`~loopml.store.tracking.ArtifactIndex` on a :class:`Database`."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._insert = sqlite_dialect.insert if database.dialect == "sqlite" else pg_dialect.insert

    def record_artifacts(self, owner: str, entries: Sequence[tuple[str, str, int]]) -> None:
        if not entries:
            return
        stmt = self._insert(artifacts)
        upsert = stmt.on_conflict_do_update(
            index_elements=[artifacts.c.owner, artifacts.c.path],
            set_={
                "digest": stmt.excluded.digest,
                "size": stmt.excluded.size,
                "created_time": stmt.excluded.created_time,
            },
        )
        now = now_ms()
        rows = {path: (digest, size) for path, digest, size in entries}
        with self.db.write() as conn:
            conn.execute(
                upsert,
                [
                    {"owner": owner, "path": p, "digest": d, "size": s, "created_time": now}
                    for p, (d, s) in sorted(rows.items())
                ],
            )

    def _files_under(self, owner: str, path: str) -> list[tuple[str, str, int]]:
        prefix = path.strip("/")
        query = sa.select(artifacts.c.path, artifacts.c.digest, artifacts.c.size).where(
            artifacts.c.owner == owner
        )
        if prefix:
            query = query.where(artifacts.c.path.like(escape_like(prefix) + "/%", escape="\\"))
        with self.db.read() as conn:
            rows = conn.execute(query.order_by(artifacts.c.path)).all()
        return [(str(p), str(d), int(s)) for p, d, s in rows]

    def iter_artifact_files(self, owner: str, path: str = "") -> list[ArtifactInfo]:
        return [ArtifactInfo(p, False, s, d) for p, d, s in self._files_under(owner, path)]

    def list_artifacts(self, owner: str, path: str = "") -> list[ArtifactInfo]:
        prefix = path.strip("/")
        start = len(prefix) + 1 if prefix else 0
        entries: dict[str, ArtifactInfo] = {}
        for full, digest, size in self._files_under(owner, prefix):
            rest = full[start:]
            head, sep, _ = rest.partition("/")
            child = f"{prefix}/{head}" if prefix else head
            if sep:
                entries.setdefault(child, ArtifactInfo(child, True))
            else:
                entries[child] = ArtifactInfo(child, False, size, digest)
        return sorted(entries.values(), key=lambda a: a.path)

    def get_artifact(self, owner: str, path: str) -> ArtifactInfo:
        clean = path.strip("/")
        with self.db.read() as conn:
            row = conn.execute(
                sa.select(artifacts.c.digest, artifacts.c.size).where(
                    artifacts.c.owner == owner, artifacts.c.path == clean
                )
            ).first()
        if row is None:
            raise NotFound(
                user_message(
                    f"artifact {clean!r} of {owner}",
                    "does not exist",
                    fix="list what was logged with Client().list_artifacts(run_id)",
                )
            )
        return ArtifactInfo(clean, False, row.size, row.digest)

    def referenced_digests(self, exclude_deleted_runs: bool = False) -> set[str]:
        query = sa.select(artifacts.c.digest).distinct()
        if exclude_deleted_runs:
            deleted_owners = sa.select(sa.literal("run:") + runs.c.run_id).where(
                runs.c.lifecycle_stage == LifecycleStage.DELETED.value
            )
            query = query.where(artifacts.c.owner.not_in(deleted_owners))
        with self.db.read() as conn:
            return set(conn.execute(query).scalars())
