"""The work of one step, the same in the driver process and on a Dask worker.

:func:`run_step` starts the step run (nested under the pipeline run) and makes it the active
fluent run of the thread, so ``loopml.log_metric`` in the step's code lands on it; loads the
inputs that are still in the artifact store; calls the function; serialises each output, stores it
as ``outputs/<name>.<ext>`` of the step run and records its digest as the tag
``loopml.output.<name>``; logs ``step_seconds`` (the function) and ``step_io_seconds`` (loading
inputs and storing outputs); and ends the run FINISHED. An exception from the function or from
storing becomes a FAILED run with the one-line tag ``loopml.step.error`` and the traceback as
``error.txt``, and a failed :class:`StepReport`; it is not raised, so the other steps go on. A
``KeyboardInterrupt`` ends the run KILLED and propagates.

A worker opens its stores from the tracking and artifact URIs in the task (never from its own
environment), so it writes where the driver reads.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from loopml.core.errors import InvalidInput, LoopmlError, user_message
from loopml.core.validation import MAX_PARAM_VALUE_LENGTH, MAX_TAG_VALUE_LENGTH, validate_metric
from loopml.pipeline._names import (
    TAG_CACHE_KEY,
    TAG_CODE_DIGEST,
    TAG_ERROR,
    TAG_OUTPUT_PREFIX,
    TAG_PIPELINE_KIND,
    TAG_PIPELINE_NAME,
    TAG_STEP_NAME,
    canonical_json,
    sha256_hex,
)
from loopml.pipeline.materializers import serialize
from loopml.pipeline.results import StoredOutput
from loopml.tracking import fluent
from loopml.tracking.client import Client

__all__ = ["StepReport", "StepTask", "error_line", "param_text", "run_step", "step_tags"]

log = logging.getLogger(__name__)

_ERROR_LENGTH = 500


@dataclass(frozen=True)
class StepTask:
    """Everything a process needs to run one step and record it."""

    step: str
    fn: Callable[..., Any] = field(repr=False)
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: Mapping[str, Any]
    cache_key: str
    code_digest: str
    pipeline: str
    experiment_id: str
    parent_run_id: str
    tracking_uri: str
    artifact_uri: str


@dataclass(frozen=True)
class StepReport:
    """How :func:`run_step` ended; ``exception`` only when the caller asked to keep it."""

    step: str
    run_id: str | None
    ok: bool
    seconds: float = 0.0
    io_seconds: float = 0.0
    outputs: Mapping[str, StoredOutput] = field(default_factory=dict)
    error: str | None = None
    exception: BaseException | None = field(default=None, compare=False, repr=False)


def step_tags(pipeline: str, step: str, cache_key: str, code_digest: str) -> dict[str, str]:
    """The tags every step run carries, whether it ran or was a cache hit."""
    return {
        TAG_PIPELINE_NAME: pipeline,
        TAG_PIPELINE_KIND: "step",
        TAG_STEP_NAME: step,
        TAG_CACHE_KEY: cache_key,
        TAG_CODE_DIGEST: code_digest,
    }


def param_text(params: Mapping[str, Any]) -> dict[str, str]:
    """Params as logged: str as is, others as canonical JSON; an over-long value by its digest."""
    logged = {}
    for key, value in params.items():
        text = value if isinstance(value, str) else canonical_json(value).decode("utf-8")
        if len(text) > MAX_PARAM_VALUE_LENGTH:
            text = f"<{len(text)} characters, sha256 {sha256_hex(text.encode('utf-8'))}>"
        logged[key] = text
    return logged


def error_line(exc: BaseException) -> str:
    """``"ValueError: the message"`` on one line, cut to a readable length."""
    message = " ".join(str(exc).split())
    if isinstance(exc, LoopmlError) and message:
        line = message  # loopml's own errors name their object and say the fix
    else:
        line = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    limit = min(_ERROR_LENGTH, MAX_TAG_VALUE_LENGTH)
    return line if len(line) <= limit else line[: limit - 3] + "..."


_worker_store: tuple[str, str] | None = None


def _use_store(tracking_uri: str, artifact_uri: str) -> None:
    """Point this process's fluent API at the driver's stores (once per location)."""
    global _worker_store
    if _worker_store != (tracking_uri, artifact_uri):
        fluent.set_tracking_uri(tracking_uri, artifact_uri=artifact_uri)
        _worker_store = (tracking_uri, artifact_uri)


def run_step_on_worker(
    task: StepTask, inputs: Mapping[str, Any]
) -> tuple[StepReport, dict[str, Any]]:
    """:func:`run_step` in a worker process: its own stores, exceptions as text only."""
    _use_store(task.tracking_uri, task.artifact_uri)
    return run_step(task, inputs, keep_exception=False)


def run_step(
    task: StepTask, inputs: Mapping[str, Any], *, keep_exception: bool
) -> tuple[StepReport, dict[str, Any]]:
    """Run one step as a tracked run; the report and the output values (empty on failure).

    ``inputs`` maps each input name to its value, or to a :class:`StoredOutput` to load first.
    """
    client = fluent.get_client()
    try:
        with fluent.start_run(
            experiment_id=task.experiment_id,
            run_name=task.step,
            nested=True,
            parent_run_id=task.parent_run_id,
            tags=step_tags(task.pipeline, task.step, task.cache_key, task.code_digest),
        ) as active:
            # Leaving this block normally ends the run FINISHED, by _Failed FAILED, by
            # KeyboardInterrupt KILLED; runs the step's code left open inside it end with it.
            return _run_in(client, active.run_id, task, inputs)
    except _Failed as failed:
        exception = failed.__cause__ if keep_exception else None
        return StepReport(
            task.step, failed.run_id, False, error=failed.line, exception=exception
        ), {}


class _Failed(Exception):
    """The step failed; raised through the run's context manager to end the run FAILED."""

    def __init__(self, run_id: str, line: str) -> None:
        super().__init__(line)
        self.run_id = run_id
        self.line = line


def _run_in(
    client: Client, run_id: str, task: StepTask, inputs: Mapping[str, Any]
) -> tuple[StepReport, dict[str, Any]]:
    try:
        if task.params:
            client.log_batch(run_id, params=param_text(task.params))
        started = time.perf_counter()
        args = [_load(client, inputs[name]) for name in task.inputs]
        loaded = time.perf_counter()
        result = task.fn(*args, **task.params)
        seconds = time.perf_counter() - loaded
        stored_at = time.perf_counter()
        values = _named_outputs(task, result)
        outputs = {name: _store(client, task, run_id, name, v) for name, v in values.items()}
        io_seconds = (loaded - started) + (time.perf_counter() - stored_at)
        client.log_batch(
            run_id,
            metrics=[_metric("step_seconds", seconds), _metric("step_io_seconds", io_seconds)],
            tags={TAG_OUTPUT_PREFIX + name: out.digest for name, out in outputs.items()},
        )
    except Exception as exc:
        line = error_line(exc)
        _record_failure(client, run_id, line, traceback.format_exc())
        raise _Failed(run_id, line) from exc
    return StepReport(task.step, run_id, True, seconds, io_seconds, outputs), values


def _metric(key: str, value: float) -> Any:
    return validate_metric(key, value, None, 0)


def _load(client: Client, value: Any) -> Any:
    return value.load(client) if isinstance(value, StoredOutput) else value


def _named_outputs(task: StepTask, result: Any) -> dict[str, Any]:
    names = task.outputs
    if not names:
        if result is not None:
            raise InvalidInput(
                user_message(
                    f"step {task.step!r}",
                    "declares no outputs but returned a value",
                    type(result).__name__,
                    "declare it: @step(outputs='name'), or return None",
                )
            )
        return {}
    if len(names) == 1:
        return {names[0]: result}
    if not isinstance(result, tuple | list) or len(result) != len(names):
        got = (
            f"{type(result).__name__} of {len(result)}"
            if isinstance(result, tuple | list)
            else type(result).__name__
        )
        raise InvalidInput(
            user_message(
                f"step {task.step!r}",
                f"declares {len(names)} outputs {list(names)} and must return a tuple of as many",
                got,
                "return one value per declared output, in order",
            )
        )
    return dict(zip(names, result, strict=True))


def _store(client: Client, task: StepTask, run_id: str, name: str, value: Any) -> StoredOutput:
    serialized = serialize(value)
    path = client.log_bytes(run_id, serialized.data, f"outputs/{name}.{serialized.extension}")
    return StoredOutput(name, task.step, run_id, path, serialized.digest, len(serialized.data))


def _record_failure(client: Client, run_id: str, line: str, trace: str) -> None:
    try:
        client.set_tag(run_id, TAG_ERROR, line)
        client.log_text(run_id, trace, "error.txt")
    except Exception as exc:  # the store may be what failed: keep the step's own error
        log.warning("could not record the failure of run %s: %s", run_id, exc)
