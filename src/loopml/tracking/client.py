"""``loopml.Client``: run-id-based access to tracking as in MLflow's ``MlflowClient``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

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
from loopml.core.errors import InvalidInput, NotFound, StoreError, user_message
from loopml.core.filters import parse_filter, parse_order_by
from loopml.core.ids import check_run_id, now_ms
from loopml.core.settings import Settings, load_settings
from loopml.core.validation import (
    validate_batch,
    validate_choice,
    validate_experiment_name,
    validate_metric,
    validate_param,
    validate_tag,
)
from loopml.store.gc import DEFAULT_MIN_AGE_SECONDS, GcReport, collect_garbage
from loopml.store.sql import run_owner
from loopml.store.stores import Stores, open_stores
from loopml.store.tracking import SEARCH_MAX_RESULTS_DEFAULT
from loopml.tracking.names import run_name_for
from loopml.tracking.serialize import dataset_input_from_frame, dict_bytes, figure_bytes
from loopml.tracking.source import source_tags

__all__ = ["Client", "terminal_status"]


def _artifact_path(*parts: str | None) -> str:
    """Join and check a logical artifact path: relative, no '..', forward slashes."""
    joined = "/".join(p.strip("/") for p in parts if p and p.strip("/"))
    path = PurePosixPath(joined.replace("\\", "/"))
    if not joined or path.is_absolute() or ".." in path.parts:
        raise InvalidInput(
            user_message(
                "artifact path",
                "must be a relative path without '..'",
                joined or "",
                "e.g. 'plots/roc.png'",
            )
        )
    return str(path)


def _view(view_type: ViewType | str) -> ViewType:
    return validate_choice("view type", ViewType, view_type)


class Client:
    """Tracking operations addressed by experiment and run id.

    >>> client = Client()  # doctest: +SKIP
    >>> client.search_runs("1", "metrics.auc > 0.8", order_by="metrics.auc DESC")  # doctest: +SKIP
    """

    def __init__(self, tracking_uri: str | None = None, settings: Settings | None = None) -> None:
        self._settings = settings or load_settings()
        self._tracking_uri = tracking_uri
        self._stores: Stores | None = None

    @property
    def stores(self) -> Stores:
        """The stores behind this client, opened on first use."""
        if self._stores is None:
            self._stores = open_stores(self._tracking_uri, self._settings)
        return self._stores

    @property
    def tracking_uri(self) -> str:
        return self.stores.tracking_uri

    @property
    def artifact_uri(self) -> str:
        return self.stores.artifact_uri

    def _user(self) -> str:
        return self._settings.resolved_user()

    # -- experiments --------------------------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Mapping[str, Any] | None = None
    ) -> str:
        """Create an experiment; returns its id. A taken name is a Conflict."""
        validate_experiment_name(name)
        checked = {t.key: t.value for t in (validate_tag(k, v) for k, v in (tags or {}).items())}
        return self.stores.tracking.create_experiment(
            name, artifact_location or self.artifact_uri, checked, actor=self._user()
        )

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self.stores.tracking.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        return self.stores.tracking.get_experiment_by_name(name)

    def list_experiments(
        self, view_type: ViewType | str = ViewType.ACTIVE_ONLY
    ) -> list[Experiment]:
        return self.stores.tracking.list_experiments(_view(view_type))

    def delete_experiment(self, experiment_id: str) -> None:
        self.stores.tracking.delete_experiment(str(experiment_id), actor=self._user())

    def restore_experiment(self, experiment_id: str) -> None:
        self.stores.tracking.restore_experiment(str(experiment_id), actor=self._user())

    def _experiment_ids(self, experiments: str | Sequence[str]) -> list[str]:
        """Ids for a mix of ids and names (a name made of digits must be given by id)."""
        items = [experiments] if isinstance(experiments, str) else list(experiments)
        ids = []
        for item in items:
            text = str(item)
            if text.isdigit():
                ids.append(text)
                continue
            found = self.get_experiment_by_name(text)
            if found is None:
                raise NotFound(
                    user_message(
                        f"experiment {text!r}",
                        "does not exist",
                        fix="list experiments with `loopml experiments list`",
                    )
                )
            ids.append(found.experiment_id)
        return ids

    # -- runs ---------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: Mapping[str, Any] | None = None,
        run_name: str | None = None,
        parent_run_id: str | None = None,
    ) -> Run:
        """Start a run (status RUNNING) with the user and source recorded as tags."""
        from loopml.core.ids import new_run_id

        run_id = new_run_id()
        name = run_name or run_name_for(run_id)
        all_tags = {"loopml.user": self._user(), "loopml.runName": name}
        all_tags.update(source_tags(self._settings.record_git))
        for key, value in (tags or {}).items():
            tag = validate_tag(key, value)
            all_tags[tag.key] = tag.value
        return self.stores.tracking.create_run(
            str(experiment_id),
            self._user(),
            start_time or now_ms(),
            name,
            tags=sorted(all_tags.items()),
            parent_run_id=parent_run_id,
            run_id=run_id,
        )

    def get_run(self, run_id: str) -> Run:
        return self.stores.tracking.get_run(run_id)

    def update_run(
        self, run_id: str, status: RunStatus | str | None = None, name: str | None = None
    ) -> RunInfo:
        return self.stores.tracking.update_run(
            run_id,
            status=validate_choice("run status", RunStatus, status) if status else None,
            run_name=name,
        )

    def set_terminated(
        self, run_id: str, status: RunStatus | str = RunStatus.FINISHED, end_time: int | None = None
    ) -> RunInfo:
        """End a run with a terminal status (FINISHED, FAILED or KILLED)."""
        final = terminal_status(status)
        return self.stores.tracking.update_run(run_id, status=final, end_time=end_time or now_ms())

    def delete_run(self, run_id: str) -> None:
        """Soft-delete: the run leaves default searches; ``restore_run`` brings it back."""
        self.stores.tracking.delete_run(run_id, actor=self._user())

    def restore_run(self, run_id: str) -> None:
        self.stores.tracking.restore_run(run_id, actor=self._user())

    # -- logging ------------------------------------------------------------------------------

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
    ) -> Metric:
        metric = validate_metric(key, value, timestamp, 0 if step is None else step)
        self.stores.tracking.log_batch(run_id, validate_batch(metrics=(metric,)))
        return metric

    def log_param(self, run_id: str, key: str, value: Any) -> str:
        param = validate_param(key, value)
        self.stores.tracking.log_batch(run_id, validate_batch(params=(param,)))
        return param.value

    def set_tag(self, run_id: str, key: str, value: Any) -> None:
        tag = validate_tag(key, value)
        self.stores.tracking.log_batch(run_id, validate_batch(tags=(tag,)))

    def delete_tag(self, run_id: str, key: str) -> None:
        self.stores.tracking.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Iterable[Metric] = (),
        params: Mapping[str, Any] | Iterable[Any] = (),
        tags: Mapping[str, Any] | Iterable[Any] = (),
    ) -> None:
        """Log many values in one transaction: all are validated first, and all or none land."""
        self.stores.tracking.log_batch(run_id, validate_batch(metrics, params, tags))

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput]) -> None:
        self.stores.tracking.log_inputs(run_id, datasets)

    def log_input(
        self,
        run_id: str,
        dataset: Any,
        context: str = "",
        name: str | None = None,
        source: str = "",
    ) -> DatasetInput:
        """Link a dataset to a run: a ``DatasetInput``, a snapshot (any object with
        ``to_dataset_input(context)``, such as :class:`loopml.core.snapshots.Snapshot`, which
        names itself: ``name`` and ``source`` are for frames), or a pandas DataFrame (hashed
        here)."""
        if isinstance(dataset, DatasetInput):
            ref = dataset if not context else _replace_context(dataset, context)
        elif callable(getattr(dataset, "to_dataset_input", None)):
            ref = _snapshot_input(dataset, context, name, source)
        else:
            ref = dataset_input_from_frame(dataset, name or "dataset", context, source)
        self.log_inputs(run_id, [ref])
        return ref

    def count_runs(
        self,
        experiment_ids: str | Sequence[str],
        run_view_type: ViewType | str = ViewType.ACTIVE_ONLY,
    ) -> dict[str, int]:
        """The number of runs of each experiment (ids or names), keyed by experiment id."""
        return self.stores.tracking.count_runs(
            self._experiment_ids(experiment_ids), _view(run_view_type)
        )

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return self.stores.tracking.get_metric_history(run_id, key)

    def search_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        run_view_type: ViewType | str = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | str | None = None,
        page_token: str | None = None,
    ) -> Page[Run]:
        """Runs matching MLflow's filter grammar, ordered, one page at a time.

        ``experiment_ids`` takes ids or names. Pass the returned page's ``token`` as
        ``page_token`` to get the next page.
        """
        return self.stores.tracking.search_runs(
            self._experiment_ids(experiment_ids),
            parse_filter(filter_string),
            parse_order_by(order_by),
            _view(run_view_type),
            max_results,
            page_token,
        )

    # -- artifacts ----------------------------------------------------------------------------

    def _require_run(self, run_id: str) -> None:
        check_run_id(run_id)
        self.get_run(run_id)

    def log_artifact(
        self, run_id: str, local_path: str | os.PathLike[str], artifact_path: str | None = None
    ) -> str:
        """Store a file (content-addressed) as ``artifact_path/<file name>``; return that path."""
        self._require_run(run_id)
        source = Path(local_path)
        if not source.is_file():
            raise InvalidInput(
                user_message(
                    "artifact file",
                    "must be an existing file",
                    str(source),
                    "use log_artifacts for a directory",
                )
            )
        path = _artifact_path(artifact_path, source.name)
        ref = self.stores.blobs.put_file(source)
        self.stores.artifact_index.record_artifacts(
            run_owner(run_id), [(path, ref.digest, ref.size)]
        )
        return path

    def log_artifacts(
        self, run_id: str, local_dir: str | os.PathLike[str], artifact_path: str | None = None
    ) -> list[str]:
        """Store every file under ``local_dir``, keeping the tree; one index transaction."""
        self._require_run(run_id)
        root = Path(local_dir)
        if not root.is_dir():
            raise InvalidInput(
                user_message("artifact directory", "must be an existing directory", str(root))
            )
        entries = []
        for file in sorted(p for p in root.rglob("*") if p.is_file()):
            path = _artifact_path(artifact_path, file.relative_to(root).as_posix())
            ref = self.stores.blobs.put_file(file)
            entries.append((path, ref.digest, ref.size))
        self.stores.artifact_index.record_artifacts(run_owner(run_id), entries)
        return [e[0] for e in entries]

    def log_bytes(self, run_id: str, data: bytes, artifact_file: str) -> str:
        """Store bytes as the artifact ``artifact_file``."""
        self._require_run(run_id)
        path = _artifact_path(artifact_file)
        ref = self.stores.blobs.put_bytes(data)
        self.stores.artifact_index.record_artifacts(
            run_owner(run_id), [(path, ref.digest, ref.size)]
        )
        return path

    def log_text(self, run_id: str, text: str, artifact_file: str) -> str:
        return self.log_bytes(run_id, text.encode("utf-8"), artifact_file)

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> str:
        """JSON, or YAML when ``artifact_file`` ends in .yaml/.yml."""
        return self.log_bytes(run_id, dict_bytes(dictionary, artifact_file), artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> str:
        """A matplotlib figure (png, svg, pdf, ...) or a plotly one (self-contained html, json)."""
        return self.log_bytes(run_id, figure_bytes(figure, artifact_file), artifact_file)

    def list_artifacts(self, run_id: str, path: str = "") -> list[ArtifactInfo]:
        check_run_id(run_id)
        return self.stores.artifact_index.list_artifacts(run_owner(run_id), path)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The bytes of one artifact file."""
        check_run_id(run_id)
        info = self.stores.artifact_index.get_artifact(run_owner(run_id), path)
        return self.stores.blobs.get_bytes(_digest_of(info))

    def download_artifacts(
        self, run_id: str, path: str = "", dst_path: str | os.PathLike[str] | None = None
    ) -> str:
        """Copy a file or a directory of artifacts to ``dst_path`` (a new temp dir by default)."""
        check_run_id(run_id)
        owner = run_owner(run_id)
        target = (
            Path(dst_path) if dst_path is not None else Path(tempfile.mkdtemp(prefix="loopml-"))
        )
        clean = path.strip("/")
        files = self.stores.artifact_index.iter_artifact_files(owner, clean)
        if not files:
            files = [self.stores.artifact_index.get_artifact(owner, clean)]  # or NotFound
        # Keep the last component of ``path`` and everything below it.
        base = str(PurePosixPath(clean).parent) if "/" in clean else ""
        for info in files:
            relative = info.path[len(base) + 1 :] if base else info.path
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            with (
                self.stores.blobs.open(_digest_of(info)) as source,
                open(destination, "wb") as sink,
            ):
                while chunk := source.read(1 << 20):
                    sink.write(chunk)
        return str(target / PurePosixPath(clean).name) if clean else str(target)

    # -- maintenance --------------------------------------------------------------------------

    def gc(
        self,
        dry_run: bool = True,
        include_deleted_runs: bool = False,
        min_age_seconds: float = DEFAULT_MIN_AGE_SECONDS,
    ) -> GcReport:
        """Find (and unless ``dry_run``, delete) blobs that no artifact entry refers to.

        Blobs younger than ``min_age_seconds`` (default one hour) are kept; see
        :func:`loopml.store.gc.collect_garbage`.
        """
        return collect_garbage(
            self.stores.blobs,
            self.stores.artifact_index,
            dry_run,
            include_deleted_runs,
            min_age_seconds=min_age_seconds,
        )


_TERMINAL = {s.value: s for s in RunStatus if s.is_terminal}


def terminal_status(status: RunStatus | str) -> RunStatus:
    """``status`` as a RunStatus that ends a run, or a clear InvalidInput."""
    final = _TERMINAL.get(str(getattr(status, "value", status)))
    if final is None:
        raise InvalidInput(
            user_message(
                "run status",
                "must be FINISHED, FAILED or KILLED to end a run",
                status,
                "e.g. loopml.end_run('FAILED')",
            )
        )
    return final


def _digest_of(info: ArtifactInfo) -> str:
    """The blob digest of a file entry of the artifact index."""
    if info.digest is None:  # only directory entries lack one; the index never returns those here
        raise StoreError(
            user_message(f"artifact {info.path!r}", "has no content digest in the index")
        )
    return info.digest


def _replace_context(dataset: DatasetInput, context: str) -> DatasetInput:
    from dataclasses import replace

    return replace(dataset, context=context)


def _snapshot_input(snapshot: Any, context: str, name: str | None, source: str) -> DatasetInput:
    """The run input of a snapshot: the snapshot's own name, digest and ref, never renamed (a
    model's lineage must name the data exactly as stored)."""
    if name is not None or source:
        raise InvalidInput(
            user_message(
                "log_input of a snapshot",
                "takes no name or source: the snapshot records its own",
                name if name is not None else source,
                "drop name=/source=, or snapshot the data under the name you want",
            )
        )
    ref = snapshot.to_dataset_input(context)
    if not isinstance(ref, DatasetInput):
        raise InvalidInput(
            user_message(
                "to_dataset_input()",
                "must return a loopml DatasetInput",
                type(ref).__name__,
            )
        )
    return ref
