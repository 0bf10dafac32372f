"""The fluent tracking API: ``with loopml.start_run(): loopml.log_metric(...)``.

State is per process (tracking URI, active experiment) and per thread (the stack of active runs,
so nested runs and threads that each train a model do not step on each other). A run still active
when the interpreter exits normally is ended as FINISHED; a process that is killed leaves its run
RUNNING, which is how a crash stays visible.
"""

from __future__ import annotations

import atexit
import dataclasses
import logging
import os
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from loopml.core.entities import DatasetInput, Experiment, Metric, Run, RunInfo, RunStatus
from loopml.core.errors import InvalidInput, NotFound, user_message
from loopml.core.settings import load_settings
from loopml.core.validation import validate_metric
from loopml.tracking.client import Client, terminal_status

__all__ = [
    "ActiveRun",
    "active_run",
    "end_run",
    "get_client",
    "get_tracking_uri",
    "log_artifact",
    "log_artifacts",
    "log_dict",
    "log_figure",
    "log_input",
    "log_metric",
    "log_metrics",
    "log_param",
    "log_params",
    "log_text",
    "set_experiment",
    "set_tag",
    "set_tags",
    "set_tracking_uri",
    "start_run",
]

log = logging.getLogger(__name__)
_state_lock = threading.Lock()
_tracking_uri: str | None = None
_artifact_uri: str | None = None
_client: Client | None = None
_experiment_id: str | None = None
_local = threading.local()
_atexit_registered = False


def _stack() -> list[ActiveRun]:
    stack: list[ActiveRun] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = []
        _local.stack = stack
    return stack


def set_tracking_uri(
    uri: str | os.PathLike[str] | None, *, artifact_uri: str | os.PathLike[str] | None = None
) -> None:
    """Where runs go: ``sqlite:///path.db``, ``postgresql+psycopg://...``, or a directory.

    ``None`` restores the default (``LOOPML_TRACKING_URI``, else ``./.loopml``). The URI is
    checked now, so a typo fails here rather than at the first log call. ``artifact_uri`` names
    the blob store too (default: ``LOOPML_ARTIFACT_URI``, else the home's ``artifacts/``); a
    process that must write where another one does, such as a Dask worker, passes both.
    """
    global _tracking_uri, _artifact_uri, _client, _experiment_id
    text = None if uri is None else os.fspath(uri)
    artifacts = None if artifact_uri is None else os.fspath(artifact_uri)
    if text is not None:
        from loopml.store.stores import resolve_tracking_uri

        resolve_tracking_uri(text, load_settings())  # raises InvalidInput on a bad scheme
    with _state_lock:
        _tracking_uri = text
        _artifact_uri = artifacts
        _client = None
        _experiment_id = None


def get_tracking_uri() -> str:
    """The metadata store URL runs currently go to."""
    return _get_client().tracking_uri


def _get_client() -> Client:
    global _client
    with _state_lock:
        if _client is None:
            settings = load_settings()
            if _artifact_uri is not None:
                settings = dataclasses.replace(settings, artifact_uri=_artifact_uri)
            _client = Client(_tracking_uri, settings)
        return _client


def get_client() -> Client:
    """The :class:`Client` the fluent API uses (it follows :func:`set_tracking_uri`)."""
    return _get_client()


def set_experiment(name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment active (creating it by name if needed) and return it."""
    global _experiment_id
    if (name is None) == (experiment_id is None):
        raise InvalidInput(
            user_message(
                "set_experiment",
                "takes exactly one of name or experiment_id",
                None,
                "e.g. set_experiment('flights')",
            )
        )
    client = _get_client()
    if name is not None:
        experiment = _get_or_create_experiment(client, name)
    else:
        experiment = client.get_experiment(str(experiment_id))
    if experiment.lifecycle_stage.value != "active":
        raise InvalidInput(
            user_message(
                f"experiment {experiment.name!r}",
                "is deleted and cannot be made active",
                fix=f"restore it with Client().restore_experiment({experiment.experiment_id!r})",
            )
        )
    _experiment_id = experiment.experiment_id
    return experiment


def _get_or_create_experiment(client: Client, name: str) -> Experiment:
    from loopml.core.errors import Conflict

    found = client.get_experiment_by_name(name)
    if found is not None:
        return found
    try:
        return client.get_experiment(client.create_experiment(name))
    except Conflict:  # created by another process in between
        found = client.get_experiment_by_name(name)
        if found is None:
            raise
        return found


def _current_experiment_id(client: Client) -> str:
    if _experiment_id is not None:
        return _experiment_id
    name = load_settings().experiment_name
    return _get_or_create_experiment(client, name).experiment_id


class ActiveRun:
    """The handle ``start_run`` returns; a context manager that ends the run on exit.

    On exit the run is FINISHED, or FAILED if an exception escaped the block (KILLED for
    ``KeyboardInterrupt``); the exception itself is not swallowed.
    """

    def __init__(self, run: Run) -> None:
        self._run = run

    @property
    def info(self) -> RunInfo:
        return self._run.info

    @property
    def run_id(self) -> str:
        return self._run.info.run_id

    def __repr__(self) -> str:
        return f"<ActiveRun {self.run_id} name={self.info.run_name!r}>"

    def to_run(self) -> Run:
        """The run as stored now (with everything logged so far)."""
        return _get_client().get_run(self.run_id)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            status = RunStatus.FINISHED
        elif issubclass(exc_type, KeyboardInterrupt):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        _end(self, status)


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    description: str | None = None,
    parent_run_id: str | None = None,
) -> ActiveRun:
    """Start a new run (or resume ``run_id``) and make it active in this thread.

    With a run already active, pass ``nested=True`` to start a child run of it.
    ``parent_run_id`` names the parent explicitly (it must exist and not be deleted), as in
    MLflow; it is how a worker process nests its run under a run started elsewhere.
    """
    global _atexit_registered
    client = _get_client()
    stack = _stack()
    if stack and not nested:
        raise InvalidInput(
            user_message(
                f"run {stack[-1].run_id}",
                "is already active in this thread",
                fix="end it with loopml.end_run(), or pass nested=True to start a child run",
            )
        )
    parent = parent_run_id or (stack[-1].run_id if stack else None)
    all_tags = dict(tags or {})
    if description is not None:
        all_tags["loopml.note.content"] = description
    if run_id is not None:
        client.update_run(run_id, status=RunStatus.RUNNING)  # NotFound if there is no such run
        if all_tags:
            client.log_batch(run_id, tags=all_tags)
        run = client.get_run(run_id)
    else:
        exp = str(experiment_id) if experiment_id is not None else _current_experiment_id(client)
        run = client.create_run(exp, tags=all_tags, run_name=run_name, parent_run_id=parent)
    active = ActiveRun(run)
    stack.append(active)
    with _state_lock:
        if not _atexit_registered:
            atexit.register(_end_all_at_exit)
            _atexit_registered = True
    return active


def _end(active: ActiveRun, status: RunStatus) -> None:
    stack = _stack()
    if active in stack:
        # Children left open inside a parent's block end with the parent.
        while stack:
            top = stack.pop()
            _get_client().set_terminated(top.run_id, status)
            if top is active:
                break


def end_run(status: RunStatus | str = RunStatus.FINISHED) -> None:
    """End the innermost active run of this thread (no-op when none is active)."""
    final = terminal_status(status)
    stack = _stack()
    if stack:
        _end(stack[-1], final)


def _end_all_at_exit() -> None:
    """End the runs still active at a normal interpreter exit as FINISHED, as MLflow does."""
    try:
        while _stack():
            end_run(RunStatus.FINISHED)
    except Exception as exc:  # the store may be unreachable at exit: say so, do not crash
        log.warning("could not end the active run at exit; it stays RUNNING: %s", exc)


def active_run() -> ActiveRun | None:
    """The innermost active run of this thread, or None."""
    stack = _stack()
    return stack[-1] if stack else None


def _require_active() -> str:
    run = active_run()
    if run is None:
        raise NotFound(
            user_message(
                "active run",
                "does not exist",
                fix="wrap the logging in `with loopml.start_run():`",
            )
        )
    return run.run_id


def log_metric(
    key: str, value: float, step: int | None = None, timestamp: int | None = None
) -> Metric:
    """Log one metric point to the active run (step defaults to 0, timestamp to now)."""
    return _get_client().log_metric(_require_active(), key, value, timestamp, step)


def log_metrics(
    metrics: Mapping[str, float], step: int | None = None, timestamp: int | None = None
) -> None:
    """Log several metrics at one step, in one transaction."""
    points = [
        validate_metric(k, v, timestamp, 0 if step is None else step) for k, v in metrics.items()
    ]
    _get_client().log_batch(_require_active(), metrics=points)


def log_param(key: str, value: Any) -> str:
    """Log a parameter (as ``str(value)``); another value for a logged key is a Conflict."""
    return _get_client().log_param(_require_active(), key, value)


def log_params(params: Mapping[str, Any]) -> None:
    """Log several parameters in one transaction."""
    _get_client().log_batch(_require_active(), params=params)


def set_tag(key: str, value: Any) -> None:
    _get_client().set_tag(_require_active(), key, value)


def set_tags(tags: Mapping[str, Any]) -> None:
    _get_client().log_batch(_require_active(), tags=tags)


def log_artifact(local_path: str | os.PathLike[str], artifact_path: str | None = None) -> str:
    return _get_client().log_artifact(_require_active(), local_path, artifact_path)


def log_artifacts(local_dir: str | os.PathLike[str], artifact_path: str | None = None) -> list[str]:
    return _get_client().log_artifacts(_require_active(), local_dir, artifact_path)


def log_text(text: str, artifact_file: str) -> str:
    return _get_client().log_text(_require_active(), text, artifact_file)


def log_dict(dictionary: Any, artifact_file: str) -> str:
    return _get_client().log_dict(_require_active(), dictionary, artifact_file)


def log_figure(figure: Any, artifact_file: str) -> str:
    return _get_client().log_figure(_require_active(), figure, artifact_file)


def log_input(
    dataset: Any, context: str = "", name: str | None = None, source: str = ""
) -> DatasetInput:
    """Record that the active run used ``dataset``: a snapshot (``loopml.data.snapshots(...)``),
    a DataFrame or a ``DatasetInput``."""
    return _get_client().log_input(_require_active(), dataset, context, name, source)
