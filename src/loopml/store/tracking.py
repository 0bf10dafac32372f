"""The seam between tracking and persistence: what a metadata backend must do for runs.

Every backend (the SQLAlchemy store for SQLite and PostgreSQL today; a REST client later) passes
``loopml.store.conformance.check_tracking_store``. Inputs arrive already validated by
``loopml.core.validation`` except where a method says otherwise; stores enforce the rules that need
stored state (a param may not change value, a run must exist and be active).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from loopml.core.entities import (
    ArtifactInfo,
    DatasetInput,
    Experiment,
    Metric,
    Page,
    Run,
    RunInfo,
    RunStatus,
    ViewType,
)
from loopml.core.search_ast import Comparison, OrderBy
from loopml.core.validation import ValidBatch

__all__ = ["ArtifactIndex", "TrackingStore"]

#: Default and largest page sizes of ``search_runs`` (MLflow's defaults).
SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_LIMIT = 50_000


class TrackingStore(Protocol):
    """Experiments, runs and everything logged to them."""

    # experiments
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Mapping[str, str] | None = None,
        actor: str = "",
    ) -> str: ...
    def get_experiment(self, experiment_id: str) -> Experiment: ...
    def get_experiment_by_name(self, name: str) -> Experiment | None: ...
    def list_experiments(self, view_type: ViewType = ViewType.ACTIVE_ONLY) -> list[Experiment]: ...
    def delete_experiment(self, experiment_id: str, actor: str = "") -> None: ...
    def restore_experiment(self, experiment_id: str, actor: str = "") -> None: ...

    # runs
    def create_run(
        self,
        experiment_id: str,
        user_id: str,
        start_time: int,
        run_name: str,
        tags: Sequence[tuple[str, str]] = (),
        parent_run_id: str | None = None,
    ) -> Run: ...
    def get_run(self, run_id: str) -> Run: ...
    def update_run(
        self,
        run_id: str,
        status: RunStatus | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> RunInfo: ...
    def delete_run(self, run_id: str, actor: str = "") -> None: ...
    def restore_run(self, run_id: str, actor: str = "") -> None: ...

    # logging
    def log_batch(self, run_id: str, batch: ValidBatch) -> None: ...
    def delete_tag(self, run_id: str, key: str) -> None: ...
    def log_inputs(self, run_id: str, inputs: Sequence[DatasetInput]) -> None: ...

    # reading
    def count_runs(
        self, experiment_ids: Sequence[str], view_type: ViewType = ViewType.ACTIVE_ONLY
    ) -> dict[str, int]: ...
    def get_metric_history(self, run_id: str, key: str) -> list[Metric]: ...
    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filters: Sequence[Comparison] = (),
        order_by: Sequence[OrderBy] = (),
        view_type: ViewType = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        page_token: str | None = None,
    ) -> Page[Run]: ...


class ArtifactIndex(Protocol):
    """The logical-path index over content-addressed blobs: ``(owner, path) → digest``."""

    def record_artifacts(self, owner: str, entries: Sequence[tuple[str, str, int]]) -> None:
        """Record ``(path, digest, size)`` entries for ``owner``; a re-logged path is replaced."""
        ...

    def list_artifacts(self, owner: str, path: str = "") -> list[ArtifactInfo]:
        """The direct children of ``path`` (files with size and digest; directories)."""
        ...

    def get_artifact(self, owner: str, path: str) -> ArtifactInfo:
        """One file entry; NotFound if absent."""
        ...

    def iter_artifact_files(self, owner: str, path: str = "") -> list[ArtifactInfo]:
        """Every file under ``path`` (recursively)."""
        ...

    def referenced_digests(self, exclude_deleted_runs: bool = False) -> set[str]:
        """Digests any owner refers to (for garbage collection)."""
        ...
