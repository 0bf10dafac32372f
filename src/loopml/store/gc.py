"""Garbage collection of blobs that no index entry refers to."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from loopml.store.artifacts import ArtifactStore
from loopml.store.tracking import ArtifactIndex

__all__ = ["DEFAULT_MIN_AGE_SECONDS", "GcReport", "collect_garbage"]

#: Blobs written (or freshened by a deduplicated put) more recently than this are kept: their
#: reference may be on its way into the index.
DEFAULT_MIN_AGE_SECONDS = 3600.0


@dataclass(frozen=True, slots=True)
class GcReport:
    """What garbage collection found (and removed, unless it was a dry run)."""

    unreferenced: tuple[str, ...]
    bytes: int
    deleted: bool
    kept_recent: int = 0


def collect_garbage(
    blobs: ArtifactStore,
    index: ArtifactIndex,
    dry_run: bool = True,
    include_deleted_runs: bool = False,
    progress: Callable[[int, int], None] | None = None,
    min_age_seconds: float = DEFAULT_MIN_AGE_SECONDS,
    now: float | None = None,
) -> GcReport:
    """Find blobs no owner refers to; delete them unless ``dry_run``.

    Unreferenced blobs younger than ``min_age_seconds`` are kept (counted in ``kept_recent``):
    a put that found its blob already stored freshens its time, so a reference being recorded
    right now is not lost. On backends that report no times, only ``min_age_seconds=0`` deletes.
    With ``include_deleted_runs`` the artifacts of soft-deleted runs count as unreferenced (their
    index rows stay, so a run restored later finds those artifacts missing).
    """
    referenced = index.referenced_digests(exclude_deleted_runs=include_deleted_runs)
    candidates = sorted(d for d in blobs.iter_digests() if d not in referenced)
    clock = time.time() if now is None else now
    orphans: list[str] = []
    for digest in candidates:
        modified = blobs.modified(digest) if min_age_seconds > 0 else None
        if min_age_seconds > 0 and (modified is None or clock - modified < min_age_seconds):
            continue
        orphans.append(digest)
    total = 0
    for i, digest in enumerate(orphans, start=1):
        total += blobs.size(digest)
        if not dry_run:
            blobs.delete(digest)
        if progress is not None:
            progress(i, len(orphans))
    return GcReport(tuple(orphans), total, not dry_run, len(candidates) - len(orphans))
