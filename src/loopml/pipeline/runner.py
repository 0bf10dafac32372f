"""Run a pipeline: check the call, record the pipeline run, then schedule every step.

The runner works at the driver, in the process that called :meth:`Pipeline.run`:

1. **Check** the external inputs (missing ones, unknown ones with "did you mean", a name that a
   step produces) and ``force`` before anything is recorded.
2. **Record** the pipeline run (tags ``loopml.pipeline.name``, ``loopml.pipeline.kind=pipeline``
   and ``loopml.pipeline.steps``; the digest of each external input as the param
   ``input.<name>``), nested under the fluent run active in this thread, if any.
3. **Schedule** in topological order. A step whose upstream steps have ended is either skipped (one
   of them failed or was skipped), a cache hit (recorded at once as a FINISHED nested run tagged
   ``loopml.step.cached_from``, its outputs linked without a copy and left unloaded), or handed to
   the executor. Every ending is an event for ``on_event``.
4. **End** the pipeline run FINISHED, or FAILED when a step failed (KILLED on Ctrl-C), and return
   the :class:`PipelineResult`, or raise :class:`StepFailed` holding it.

Stores: ``tracking_uri=None`` uses the fluent API's store (``loopml.set_tracking_uri``,
``LOOPML_TRACKING_URI``); a given ``tracking_uri`` becomes the fluent API's, as with
``loopml.set_tracking_uri``, so that ``loopml.log_*`` calls in the steps' code land on the step
runs of the same store. ``experiment=None`` uses an experiment named after the pipeline; the cache
is per experiment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from loopml.core.entities import RunStatus
from loopml.core.errors import Conflict, InvalidInput, did_you_mean, user_message
from loopml.core.validation import validate_metric
from loopml.pipeline._names import (
    TAG_CACHED_FROM,
    TAG_ERROR,
    TAG_OUTPUT_PREFIX,
    TAG_PIPELINE_KIND,
    TAG_PIPELINE_NAME,
    TAG_PIPELINE_STEPS,
    canonical_json,
)
from loopml.pipeline._task import StepReport, StepTask, param_text, step_tags
from loopml.pipeline.cache import CacheHit, cache_key, find_cached
from loopml.pipeline.executors import (
    Executor,
    ExecutorSession,
    ExternalValue,
    InputSource,
    resolve_executor,
)
from loopml.pipeline.graph import Pipeline
from loopml.pipeline.materializers import value_digest
from loopml.pipeline.results import (
    Outputs,
    PipelineResult,
    StepEvent,
    StepFailed,
    StepResult,
    StoredOutput,
)
from loopml.pipeline.steps import Step
from loopml.store.sql import run_owner
from loopml.tracking import fluent
from loopml.tracking.client import Client

__all__ = ["run_pipeline"]

log = logging.getLogger(__name__)

EventCallback = Callable[[StepEvent], None]


def run_pipeline(
    pipeline: Pipeline,
    inputs: Mapping[str, Any] | None = None,
    *,
    executor: str | Executor = "local",
    address: Any = None,
    cache: bool = True,
    force: bool | str | Iterable[str] = (),
    experiment: str | None = None,
    tracking_uri: str | None = None,
    run_name: str | None = None,
    tags: Mapping[str, Any] | None = None,
    on_event: EventCallback | None = None,
) -> PipelineResult:
    """Run ``pipeline`` (see the module docstring for what is checked, recorded and returned).

    ``inputs``: the external inputs by name. ``executor``: ``"local"``, ``"dask"`` (with
    ``address``: None for a local cluster, a scheduler address or a ``distributed.Client``) or an
    :class:`~loopml.pipeline.executors.Executor`. ``cache=False`` runs every step (their results
    still fill the cache). ``force``: step names to re-run with every step that depends on them,
    or True for all. ``on_event``: called at the driver with each :class:`StepEvent`.
    """
    given = _check_inputs(pipeline, inputs)
    forced = _forced(pipeline, force)
    chosen = resolve_executor(executor, address)
    if tracking_uri is not None:
        fluent.set_tracking_uri(tracking_uri)
    client = fluent.get_client()
    experiment_id = _experiment_id(client, experiment or pipeline.name)
    digests = {name: value_digest(value) for name, value in given.items()}
    parent = fluent.active_run() if tracking_uri is None else None
    run = client.create_run(
        experiment_id,
        tags={
            **dict(tags or {}),
            TAG_PIPELINE_NAME: pipeline.name,
            TAG_PIPELINE_KIND: "pipeline",
            TAG_PIPELINE_STEPS: canonical_json(list(pipeline.step_names)).decode("utf-8"),
        },
        run_name=run_name,
        parent_run_id=parent.run_id if parent is not None else None,
    )
    run_id = run.info.run_id
    started = time.perf_counter()
    status = RunStatus.KILLED
    scheduler = _Scheduler(
        pipeline, client, experiment_id, run_id, given, digests, cache, forced, on_event
    )
    try:
        if digests:
            client.log_batch(run_id, params={f"input.{k}": v for k, v in digests.items()})
        session = chosen.open(client)
        try:
            scheduler.run(session)
            kept = dict(session.values())
        finally:
            session.close()
        status = RunStatus.FAILED if scheduler.failed else RunStatus.FINISHED
    except Exception:
        status = RunStatus.FAILED
        raise
    finally:
        seconds = time.perf_counter() - started
        counts = {
            state: sum(1 for r in scheduler.results.values() if r.status == state)
            for state in ("ran", "cached", "failed", "skipped")
        }
        client.log_batch(
            run_id,
            metrics=[
                validate_metric("pipeline_seconds", seconds, None, 0),
                *(validate_metric(f"steps_{k}", v, None, 0) for k, v in counts.items()),
            ],
        )
        client.set_terminated(run_id, status)
    result = PipelineResult(
        name=pipeline.name,
        run_id=run_id,
        experiment_id=experiment_id,
        status="FAILED" if scheduler.failed else "FINISHED",
        steps={s.name: scheduler.results[s.name] for s in pipeline.steps},
        outputs=Outputs(scheduler.stored, kept, client),
        seconds=seconds,
    )
    if scheduler.failed:
        error = _step_failed(pipeline, result, scheduler.failed)
        cause = scheduler.exceptions.get(error.step)
        if cause is not None:
            raise error from cause  # in-process: the step's own exception and traceback
        raise error
    return result


def _check_inputs(pipeline: Pipeline, inputs: Mapping[str, Any] | None) -> dict[str, Any]:
    given = dict(inputs or {})
    accepted = (*pipeline.external_inputs, *pipeline.optional_inputs)
    for name in given:
        if not isinstance(name, str):
            raise InvalidInput(user_message("input name", "must be a str", name))
        if name in pipeline.producers:
            raise InvalidInput(
                user_message(
                    f"input {name!r}",
                    f"is produced by step {pipeline.producers[name]!r} and cannot also be given",
                    fix="drop it from inputs=, or rename the step's output",
                )
            )
        if name not in accepted:
            raise InvalidInput(
                user_message(
                    f"input {name!r}",
                    f"is not read by any step of pipeline {pipeline.name!r}",
                    fix=did_you_mean(name, accepted, 3)
                    or f"the external inputs are: {', '.join(accepted) or 'none'}",
                )
            )
    missing = [name for name in pipeline.external_inputs if name not in given]
    if missing:
        readers = [s.name for s in pipeline.steps if missing[0] in s.inputs]
        hint = did_you_mean(missing[0], given, 3)
        raise InvalidInput(
            user_message(
                f"external input {missing[0]!r} (read by step {readers[0]!r})",
                "must be given",
                fix=f"pass inputs={{{missing[0]!r}: ...}}" + (f" ({hint})" if hint else ""),
            )
            + (f" Also missing: {', '.join(missing[1:])}." if missing[1:] else "")
        )
    return given


def _forced(pipeline: Pipeline, force: bool | str | Iterable[str]) -> frozenset[str]:
    if force is True:
        return frozenset(pipeline.step_names)
    if force is False:
        return frozenset()
    names = [force] if isinstance(force, str) else list(force)
    return pipeline.downstream(names)


def _experiment_id(client: Client, name: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is None:
        try:
            return client.create_experiment(name)
        except Conflict:  # created by another process in between
            found = client.get_experiment_by_name(name)
            if found is None:
                raise
    if found.lifecycle_stage.value != "active":
        raise InvalidInput(
            user_message(
                f"experiment {name!r}",
                "is deleted, so a pipeline cannot record runs in it",
                fix=f"restore it with Client().restore_experiment({found.experiment_id!r}), "
                "or pass experiment= another name",
            )
        )
    return found.experiment_id


class _Scheduler:
    """The state of one run: what ended how, where each output is, what is running."""

    def __init__(
        self,
        pipeline: Pipeline,
        client: Client,
        experiment_id: str,
        run_id: str,
        given: Mapping[str, Any],
        digests: Mapping[str, str],
        cache: bool,
        forced: frozenset[str],
        on_event: EventCallback | None,
    ) -> None:
        self.pipeline = pipeline
        self.client = client
        self.experiment_id = experiment_id
        self.run_id = run_id
        self.given = given
        self.digests = dict(digests)
        self.cache = cache
        self.forced = forced
        self.on_event = on_event
        self.results: dict[str, StepResult] = {}
        self.stored: dict[str, StoredOutput] = {}
        self.failed: list[StepResult] = []
        self.exceptions: dict[str, BaseException] = {}
        self.running: dict[str, str] = {}  # step → cache key

    def run(self, session: ExecutorSession) -> None:
        waiting = list(self.pipeline.steps)
        while waiting or self.running:
            for s in [s for s in waiting if self._ready(s)]:
                waiting.remove(s)
                self._start(s, session)
            if any(self._ready(s) for s in waiting):  # a hit or a skip made more steps ready
                continue
            if not self.running:
                break
            self._finish(session.next_done())

    def _ready(self, s: Step) -> bool:
        """Whether every step ``s`` reads from has ended."""
        return all(u in self.results for u in self.pipeline.upstream(s.name))

    # -- one step -----------------------------------------------------------------------------

    def _emit(self, event: StepEvent) -> None:
        log.info("pipeline %s: step %s %s", self.pipeline.name, event.step, event.kind)
        if self.on_event is not None:
            self.on_event(event)

    def _input_key(self, s: Step, name: str) -> str:
        """Where an input comes from: an output, an external input, or the step's default."""
        if name in self.pipeline.producers or name in self.given:
            return name
        return f"{s.name}:{name}"

    def _start(self, s: Step, session: ExecutorSession) -> None:
        upstream = self.pipeline.upstream(s.name)
        broken = [u for u in upstream if self.results[u].status in ("failed", "skipped")]
        if broken:
            why = f"step {broken[0]!r} {self.results[broken[0]].status}"
            self.results[s.name] = StepResult(s.name, "skipped", None, 0.0, "", error=why)
            self._emit(StepEvent("skipped", s.name, error=why))
            return
        sources: dict[str, InputSource] = {}
        input_digests: dict[str, str] = {}
        for name in s.inputs:
            if name in self.pipeline.producers:
                stored = self.stored[name]
                sources[name] = stored
                input_digests[name] = stored.digest
                continue
            key = self._input_key(s, name)
            value = self.given[name] if name in self.given else s.input_defaults[name]
            if key not in self.digests:
                self.digests[key] = value_digest(value)
            sources[name] = ExternalValue(key, value)
            input_digests[name] = self.digests[key]
        key = cache_key(s, input_digests)
        if self.cache and s.name not in self.forced:
            hit = find_cached(self.client, self.experiment_id, s, key)
            if hit is not None:
                self._record_hit(s, key, hit)
                return
        task = StepTask(
            step=s.name,
            fn=s.fn,
            inputs=s.inputs,
            outputs=s.outputs,
            params=dict(s.params),
            cache_key=key,
            code_digest=s.code_digest,
            pipeline=self.pipeline.name,
            experiment_id=self.experiment_id,
            parent_run_id=self.run_id,
            tracking_uri=self.client.tracking_uri,
            artifact_uri=self.client.artifact_uri,
        )
        self.running[s.name] = key
        self._emit(StepEvent("started", s.name, cache_key=key))
        session.submit(task, sources)

    def _record_hit(self, s: Step, key: str, hit: CacheHit) -> None:
        began = time.perf_counter()
        client = self.client
        tags = step_tags(self.pipeline.name, s.name, key, s.code_digest)
        tags[TAG_CACHED_FROM] = hit.origin
        tags.update({TAG_OUTPUT_PREFIX + n: o.digest for n, o in hit.outputs.items()})
        run = client.create_run(
            self.experiment_id, tags=tags, run_name=s.name, parent_run_id=self.run_id
        )
        run_id = run.info.run_id
        client.log_batch(
            run_id,
            params=param_text(s.params),
            metrics=[validate_metric("step_seconds", 0.0, None, 0)],
        )
        # Link the outputs to this run too (no copy: the blobs are content-addressed), so the
        # run is complete on its own and keeps them referenced if the original run is deleted.
        client.stores.artifact_index.record_artifacts(
            run_owner(run_id), [(o.path, o.digest, o.size) for o in hit.outputs.values()]
        )
        client.set_terminated(run_id, RunStatus.FINISHED)
        for name, output in hit.outputs.items():
            self.stored[name] = StoredOutput(
                name, s.name, run_id, output.path, output.digest, output.size
            )
        seconds = time.perf_counter() - began
        self.results[s.name] = StepResult(
            s.name,
            "cached",
            run_id,
            0.0,
            key,
            cached_from=hit.origin,
            outputs={n: o.digest for n, o in hit.outputs.items()},
        )
        log.debug("step %s: cache hit recorded in %.3f s", s.name, seconds)
        self._emit(StepEvent("cached", s.name, run_id, 0.0, cache_key=key, cached_from=hit.origin))

    def _finish(self, report: StepReport) -> None:
        key = self.running.pop(report.step)
        if report.ok:
            self.stored.update(report.outputs)
            result = StepResult(
                report.step,
                "ran",
                report.run_id,
                report.seconds,
                key,
                outputs={n: o.digest for n, o in report.outputs.items()},
            )
            self.results[report.step] = result
            self._emit(StepEvent("finished", report.step, report.run_id, report.seconds, key))
            return
        run_id = report.run_id or self._record_lost(report, key)
        result = StepResult(report.step, "failed", run_id, report.seconds, key, error=report.error)
        self.results[report.step] = result
        self.failed.append(result)
        if report.exception is not None:
            self.exceptions[report.step] = report.exception
        self._emit(StepEvent("failed", report.step, run_id, cache_key=key, error=report.error))

    def _record_lost(self, report: StepReport, key: str) -> str:
        """A FAILED run for a step whose task died before it could record one itself."""
        s = self.pipeline[report.step]
        tags = step_tags(self.pipeline.name, s.name, key, s.code_digest)
        tags[TAG_ERROR] = report.error or "the step's task failed"
        run = self.client.create_run(
            self.experiment_id, tags=tags, run_name=s.name, parent_run_id=self.run_id
        )
        self.client.set_terminated(run.info.run_id, RunStatus.FAILED)
        return run.info.run_id


def _names(names: list[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _step_failed(
    pipeline: Pipeline, result: PipelineResult, failed: list[StepResult]
) -> StepFailed:
    """One message: the step and its error as the error says it (with the error's own fix),
    then what is kept for the next run and what did not run."""
    first = failed[0]
    kept = [name for name, r in result.steps.items() if r.status in ("ran", "cached")]
    error = (first.error or "").rstrip(".")
    message = f"step {first.name!r} of pipeline {pipeline.name!r} failed: {error}."
    others = [f"{r.name} ({(r.error or '').rstrip('.')})" for r in failed[1:]]
    if others:
        message += f" Also failed: {'; '.join(others)}."
    if kept:
        message += f" Kept for the next run, which takes them from the cache: {_names(kept)}."
    if result.skipped:
        message += f" Not run, as they need it: {_names(list(result.skipped))}."
    return StepFailed(message, step=first.name, result=result)
