"""``pipeline_status``: the latest run of a pipeline and how each of its steps ended.

Read from the tracking store only (what ``loopml pipeline status`` shows): the newest run tagged
``loopml.pipeline.kind=pipeline`` and ``loopml.pipeline.name=<name>`` across the active
experiments (or in one), and its nested step runs. A step is ``"ran"``, ``"cached"`` (its run
carries ``loopml.step.cached_from``), ``"failed"``, ``"running"``, or, with no run of its own,
``"skipped"`` once the pipeline run has ended and ``"pending"`` while it runs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from loopml.core.entities import Run, RunStatus
from loopml.core.errors import NotFound, user_message
from loopml.pipeline._names import (
    TAG_CACHE_KEY,
    TAG_CACHED_FROM,
    TAG_ERROR,
    TAG_PIPELINE_KIND,
    TAG_PIPELINE_NAME,
    TAG_PIPELINE_STEPS,
    TAG_STEP_NAME,
    check_pipeline_name,
)
from loopml.tracking import fluent
from loopml.tracking.client import Client

__all__ = ["PipelineStatus", "StepStatus", "pipeline_status"]

StepStatusName = Literal["ran", "cached", "failed", "running", "skipped", "pending"]


@dataclass(frozen=True, slots=True)
class StepStatus:
    """One step of the latest run: how it ended, its run, time, cache key and origin."""

    name: str
    status: StepStatusName
    run_id: str | None = None
    seconds: float | None = None
    cache_key: str | None = None
    cached_from: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class PipelineStatus:
    """The latest run of a pipeline (times in ms since the epoch) and its steps in run order."""

    name: str
    run_id: str
    experiment_id: str
    status: str
    start_time: int
    end_time: int | None
    steps: tuple[StepStatus, ...]

    @property
    def seconds(self) -> float | None:
        return None if self.end_time is None else (self.end_time - self.start_time) / 1000


def pipeline_status(
    name: str, tracking_uri: str | None = None, *, experiment: str | None = None
) -> PipelineStatus:
    """The latest run of pipeline ``name`` (in ``experiment``, else in any active experiment).

    ``tracking_uri=None`` reads the fluent API's store. NotFound when the pipeline never ran.
    """
    check_pipeline_name(name)
    client = Client(tracking_uri) if tracking_uri is not None else fluent.get_client()
    if experiment is not None:
        experiment_ids = [_experiment_id(client, experiment)]
    else:
        experiment_ids = [e.experiment_id for e in client.list_experiments()]
    runs = (
        client.search_runs(
            experiment_ids,
            f"tags.`{TAG_PIPELINE_KIND}` = 'pipeline' and tags.`{TAG_PIPELINE_NAME}` = '{name}'",
            max_results=1,
            order_by=["attributes.start_time DESC"],
        ).items
        if experiment_ids
        else ()
    )
    if not runs:
        raise NotFound(
            user_message(
                f"pipeline {name!r}",
                "has no run" + (f" in experiment {experiment!r}" if experiment else ""),
                fix="run it first (Pipeline.run or `loopml pipeline run`)",
            )
        )
    run = runs[0]
    children = _children(client, run)
    order = _step_order(run, children)
    ended = run.info.status.is_terminal
    steps = tuple(_step_status(step, children.get(step), ended) for step in order)
    return PipelineStatus(
        name=name,
        run_id=run.info.run_id,
        experiment_id=run.info.experiment_id,
        status=run.info.status.value,
        start_time=run.info.start_time,
        end_time=run.info.end_time,
        steps=steps,
    )


def _experiment_id(client: Client, experiment: str) -> str:
    if experiment.isdigit():
        return client.get_experiment(experiment).experiment_id
    found = client.get_experiment_by_name(experiment)
    if found is None:
        raise NotFound(
            user_message(
                f"experiment {experiment!r}",
                "does not exist",
                fix="list experiments with `loopml experiments list`",
            )
        )
    return found.experiment_id


def _children(client: Client, run: Run) -> dict[str, Run]:
    found: dict[str, Run] = {}
    token: str | None = None
    query = (
        f"attributes.parent_run_id = '{run.info.run_id}' and tags.`{TAG_PIPELINE_KIND}` = 'step'"
    )
    while True:
        page = client.search_runs(
            run.info.experiment_id,
            query,
            max_results=1000,
            order_by=["attributes.start_time ASC"],
            page_token=token,
        )
        for child in page.items:
            found[child.data.tags.get(TAG_STEP_NAME, child.info.run_name)] = child
        token = page.token
        if token is None:
            return found


def _step_order(run: Run, children: dict[str, Run]) -> list[str]:
    try:
        declared = json.loads(run.data.tags.get(TAG_PIPELINE_STEPS, "[]"))
    except ValueError:
        declared = []
    names = [str(n) for n in declared] if isinstance(declared, list) else []
    return names + [n for n in children if n not in names]


def _step_status(name: str, run: Run | None, pipeline_ended: bool) -> StepStatus:
    if run is None:
        return StepStatus(name, "skipped" if pipeline_ended else "pending")
    tags = run.data.tags
    cached_from = tags.get(TAG_CACHED_FROM)
    state: StepStatusName
    if run.info.status is RunStatus.FINISHED:
        state = "cached" if cached_from else "ran"
    elif run.info.status is RunStatus.RUNNING:
        state = "running"
    else:
        state = "failed"
    seconds = run.data.metrics.get("step_seconds")
    return StepStatus(
        name,
        state,
        run.info.run_id,
        None if seconds is None else float(seconds),
        tags.get(TAG_CACHE_KEY),
        cached_from,
        tags.get(TAG_ERROR),
    )
