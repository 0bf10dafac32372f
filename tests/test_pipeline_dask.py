"""The pipeline engine on a real ``distributed.LocalCluster`` (2 worker processes, 1 thread each).

One cluster serves the whole module. Its workers write to each test's own store: the engine
passes the tracking and artifact URIs in every task, so the workers' environment (fixed when the
cluster started) does not matter.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml import MissingDependency
from loopml.core.entities import RunStatus
from loopml.pipeline import DaskExecutor, Pipeline, StepEvent, StepFailed, step
from loopml.tracking import get_client

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def dask_client() -> Iterator[object]:
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": ":0"},  # no dashboard; any free port
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


@step(outputs="raw")
def load(source: str, *, rows: int = 5_000) -> pd.DataFrame:
    rng = np.random.default_rng(len(source))
    return pd.DataFrame({"x": rng.normal(size=rows), "g": rng.integers(0, 4, size=rows)})


@step(outputs=("left", "right"))
def split(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    return raw[raw["g"] < 2], raw[raw["g"] >= 2]


@step(outputs="left_mean")
def left_stats(left: pd.DataFrame) -> float:
    loopml.log_metric("rows_seen", len(left))
    loopml.set_tag("worker_pid", os.getpid())
    return float(left["x"].mean())


@step(outputs="right_hist")
def right_stats(right: pd.DataFrame, *, fail: bool = False) -> np.ndarray:
    if fail:
        raise RuntimeError("right side is broken")
    return np.histogram(right["x"], bins=5)[0]


@step(outputs="summary")
def combine(left_mean: float, right_hist: np.ndarray) -> dict[str, float]:
    return {"left_mean": left_mean, "right_total": int(right_hist.sum())}


@step(outputs="raw_rows")
def count(raw: pd.DataFrame) -> int:
    return len(raw)


def pipeline(**binds: dict[str, object]) -> Pipeline:
    steps = {s.name: s for s in (load, split, left_stats, right_stats, combine, count)}
    for name, params in binds.items():
        steps[name] = steps[name].bind(**params)
    return Pipeline("branches", list(steps.values()))


def test_dask_gives_the_outputs_and_cache_keys_of_the_local_executor(dask_client: object) -> None:
    pipe = pipeline()
    local = pipe.run(inputs={"source": "s.csv"}, experiment="local")
    events: list[StepEvent] = []
    remote = pipe.run(
        inputs={"source": "s.csv"},
        experiment="remote",  # another experiment: another cache, so every step runs
        executor=DaskExecutor(dask_client),
        on_event=events.append,
    )
    assert remote.ran == local.ran == pipe.step_names
    for name in pipe.step_names:
        assert remote.steps[name].cache_key == local.steps[name].cache_key
        assert remote.steps[name].outputs == local.steps[name].outputs
    assert remote.outputs["summary"] == local.outputs["summary"]
    pd.testing.assert_frame_equal(remote.outputs["left"], local.outputs["left"])
    # left_stats and right_stats were both handed to the cluster before either ended.
    kinds = [(e.kind, e.step) for e in events]
    first_end = min(
        kinds.index(("finished", "left_stats")), kinds.index(("finished", "right_stats"))
    )
    assert kinds.index(("started", "left_stats")) < first_end
    assert kinds.index(("started", "right_stats")) < first_end

    again = pipe.run(
        inputs={"source": "s.csv"}, experiment="remote", executor=DaskExecutor(dask_client)
    )
    assert again.cached == pipe.step_names
    assert again.steps["combine"].cached_from == remote.steps["combine"].run_id


def test_fluent_logging_on_a_worker_lands_on_the_step_run(dask_client: object) -> None:
    result = pipeline().run(inputs={"source": "s.csv"}, executor="dask", address=dask_client)
    run = get_client().get_run(result.steps["left_stats"].run_id)
    assert run.info.parent_run_id == result.run_id
    assert run.data.metrics["rows_seen"] == len(result.outputs["left"])
    assert int(run.data.tags["worker_pid"]) != os.getpid()  # it really ran in a worker
    assert run.data.tags["loopml.output.left_mean"] == result.outputs.digest("left_mean")


def test_a_failure_on_a_worker_keeps_the_rest_and_a_rerun_resumes(dask_client: object) -> None:
    with pytest.raises(StepFailed) as caught:
        pipeline(right_stats={"fail": True}).run(
            inputs={"source": "s.csv"}, executor=DaskExecutor(dask_client)
        )
    error = caught.value
    assert error.step == "right_stats"
    assert "failed: RuntimeError: right side is broken." in str(error)
    result = error.result
    assert result.steps["combine"].status == "skipped"
    assert result.steps["count"].status == "ran"  # an independent branch still ran
    assert result.steps["left_stats"].status == "ran"
    failed = get_client().get_run(result.steps["right_stats"].run_id)
    assert failed.info.status is RunStatus.FAILED
    assert failed.data.tags["loopml.step.error"] == "RuntimeError: right side is broken"

    fixed = pipeline().run(inputs={"source": "s.csv"}, executor=DaskExecutor(dask_client))
    assert set(fixed.cached) == {"load", "split", "left_stats", "count"}
    assert fixed.ran == ("right_stats", "combine")
    assert fixed.outputs["summary"]["right_total"] == len(fixed.outputs["right"])


def test_a_scheduler_address_connects_and_leaves_the_cluster_running(dask_client: object) -> None:
    address = dask_client.scheduler.address  # type: ignore[attr-defined]
    result = pipeline().run(inputs={"source": "s.csv"}, executor="dask", address=address)
    assert result.status == "FINISHED"
    assert dask_client.status == "running"  # type: ignore[attr-defined]


@pytest.mark.slow
def test_no_address_starts_a_local_cluster_for_the_run() -> None:
    result = Pipeline("small", [load, count]).run(
        inputs={"source": "s.csv"}, executor=DaskExecutor(n_workers=1)
    )
    assert result.outputs["raw_rows"] == 5_000


def test_executor_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(loopml.InvalidInput, match=r"n_workers must be a positive integer; got 0"):
        DaskExecutor(n_workers=0)
    with pytest.raises(loopml.InvalidInput, match=r"Dask address must be None .*; got 'int'"):
        DaskExecutor(address=8786)
    monkeypatch.setitem(sys.modules, "distributed", None)
    with pytest.raises(MissingDependency, match=r"pip install 'loopml\[dask\]'"):
        DaskExecutor()
