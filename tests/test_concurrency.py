"""Many processes writing one metadata store at once, and a writer killed in the middle of a write.

Children are separate interpreters (``sys.executable -c``) using the public SDK, released together
by a "go" file once every one of them has imported loopml, so they really contend for the store.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

import loopml
from _harness import AWAIT_GO, CHILD_ARGS, child_env, run_released, wait_for
from loopml.core.entities import Metric, Run, RunStatus
from loopml.store.stores import clear_store_cache

pytestmark = pytest.mark.slow

CHILDREN = 8
#: Each child logs SINGLE_POINTS with log_metric and as many again in batches of BATCH_SIZE.
SINGLE_POINTS = 1000
BATCH_SIZE = 100

_PRELUDE = (
    CHILD_ARGS
    + r"""
import json
import loopml
from loopml import Metric
"""
    + AWAIT_GO
    + r"""
started = time.time()
"""
)

# Every child logs the same pattern: 100 log_metric calls, then one log_batch of 100 points, ten
# times over, so both write paths run under contention. Values encode (child, step).
_LOG_LOOP = r"""
def log_all(single, batched):
    for chunk in range(SINGLE_POINTS // BATCH_SIZE):
        steps = range(chunk * BATCH_SIZE, (chunk + 1) * BATCH_SIZE)
        for step in steps:
            single(step, index * 10_000.0 + step)
        now = int(time.time() * 1000)
        batched([Metric(BATCH_KEY, index * 10_000.0 + step, now, step) for step in steps])
"""

_OWN_RUN_CHILD = (
    _PRELUDE
    + _LOG_LOOP
    + r"""
# The store may not exist yet: the children race to create its schema and the experiment.
loopml.set_tracking_uri(uri)
loopml.set_experiment("concurrency")
client = loopml.Client(tracking_uri=uri)
BATCH_KEY = "batched"
with loopml.start_run(run_name=f"child-{index}") as run:
    log_all(
        lambda step, value: loopml.log_metric("single", value, step=step),
        lambda points: client.log_batch(run.run_id, metrics=points),
    )
print(json.dumps({"run_id": run.run_id, "started": started, "finished": time.time()}))
"""
)

_SHARED_RUN_CHILD = (
    _PRELUDE
    + _LOG_LOOP
    + r"""
run_id = sys.argv[4]
client = loopml.Client(tracking_uri=uri)
BATCH_KEY = f"child-{index}.batched"
log_all(
    lambda step, value: client.log_metric(run_id, f"child-{index}.single", value, step=step),
    lambda points: client.log_batch(run_id, metrics=points),
)
print(json.dumps({"run_id": run_id, "started": started, "finished": time.time()}))
"""
)

_VICTIM_CHILD = r"""
import sys, time
from pathlib import Path

uri, ready = sys.argv[1], Path(sys.argv[2])
import loopml
from loopml import Metric

loopml.set_tracking_uri(uri)
loopml.set_experiment("kill")
run = loopml.start_run(run_name="victim")
loopml.log_param("phase", "training")
for step in range(50):
    loopml.log_metric("committed", float(step), step=step)
partial = ready.with_suffix(".partial")
partial.write_text(run.run_id)
partial.replace(ready)
client = loopml.Client(tracking_uri=uri)
step = 0
while True:  # until SIGKILL: no atexit handler runs, the run stays RUNNING
    loopml.log_metric("loop", float(step), step=step)
    now = int(time.time() * 1000)
    points = [Metric("loop_batch", float(step), now, step * 10 + i) for i in range(10)]
    client.log_batch(run.run_id, metrics=points)
    step += 1
"""


def _script(body: str) -> str:
    return body.replace("SINGLE_POINTS", str(SINGLE_POINTS)).replace("BATCH_SIZE", str(BATCH_SIZE))


def _run_children(script: str, uri: str, workdir: Path, *args: str) -> list[str]:
    """Start CHILDREN copies of ``script``, release them together; return their run ids."""
    outputs = run_released(_script(script), uri, workdir, CHILDREN, *args)
    reports = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
    # They contended: every child was still logging when the last one started.
    last_start = max(r["started"] for r in reports)
    first_end = min(r["finished"] for r in reports)
    assert last_start < first_end, f"children did not overlap: {reports}"
    return [r["run_id"] for r in reports]


def _expected(index: int, step: int) -> float:
    return index * 10_000.0 + step


def _assert_history(client: loopml.Client, run_id: str, key: str, index: int) -> None:
    history = client.get_metric_history(run_id, key)
    assert [m.step for m in history] == list(range(SINGLE_POINTS)), f"steps of {key}"
    assert [m.value for m in history] == [_expected(index, s) for s in range(SINGLE_POINTS)]


def _metric_rows(client: loopml.Client) -> int:
    with client.stores.database.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM metrics")).scalar_one())


@pytest.mark.parametrize("mode", ["own-runs", "shared-run"])
def test_processes_log_concurrently_into_one_store(
    tracking_uri: str, tmp_path: Path, mode: str
) -> None:
    client = loopml.Client(tracking_uri=tracking_uri)
    if mode == "shared-run":
        experiment_id = client.create_experiment("concurrency")
        shared = client.create_run(experiment_id, run_name="shared").info.run_id
    elif tracking_uri.startswith("sqlite"):
        # The children race to create the schema and the experiment of a store not there yet.
        assert not Path(tracking_uri.removeprefix("sqlite:///")).exists()
    else:
        client.list_experiments()  # PostgreSQL: the schema must exist before the children start
    started = time.monotonic()
    if mode == "own-runs":
        run_ids = _run_children(_OWN_RUN_CHILD, tracking_uri, tmp_path / "work")
    else:
        run_ids = _run_children(_SHARED_RUN_CHILD, tracking_uri, tmp_path / "work", shared)
    elapsed = time.monotonic() - started

    clear_store_cache()
    client = loopml.Client(tracking_uri=tracking_uri)
    experiments = [e.name for e in client.list_experiments()]
    assert experiments == ["concurrency"]
    if mode == "own-runs":
        assert len(set(run_ids)) == CHILDREN
        runs = client.search_runs("concurrency", order_by=["attributes.run_name"])
        assert [r.info.run_name for r in runs] == [f"child-{i}" for i in range(CHILDREN)]
        for index, run in enumerate(runs):
            assert run.info.run_id == run_ids[index]
            assert run.info.status is RunStatus.FINISHED
            last = _expected(index, SINGLE_POINTS - 1)
            assert dict(run.data.metrics) == {"single": last, "batched": last}
            for key in ("single", "batched"):
                _assert_history(client, run.info.run_id, key, index)
    else:
        assert set(run_ids) == {shared}
        run = client.get_run(shared)
        assert run.info.status is RunStatus.RUNNING
        keys = {f"child-{i}.{kind}": i for i in range(CHILDREN) for kind in ("single", "batched")}
        assert set(run.data.metrics) == set(keys)
        for key, index in keys.items():
            assert run.data.metrics[key] == _expected(index, SINGLE_POINTS - 1)
            _assert_history(client, shared, key, index)
    assert _metric_rows(client) == CHILDREN * 2 * SINGLE_POINTS
    assert elapsed < 90, f"{CHILDREN} children took {elapsed:.1f} s"


def _snapshot(client: loopml.Client, run_id: str) -> tuple[Run, dict[str, list[Metric]]]:
    run = client.get_run(run_id)
    return run, {key: client.get_metric_history(run_id, key) for key in run.data.metrics}


def _assert_latest_matches_history(client: loopml.Client, run_id: str) -> None:
    run = client.get_run(run_id)
    for key, value in run.data.metrics.items():
        best = max(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
        assert value == best.value, f"latest {key} of {run.info.run_name}"


def test_killed_writer_leaves_a_consistent_store(tracking_uri: str, tmp_path: Path) -> None:
    client = loopml.Client(tracking_uri=tracking_uri)
    experiment_id = client.create_experiment("kill")
    finished = client.create_run(experiment_id, run_name="finished-before").info.run_id
    points = [Metric("auc", 0.5 + step / 100, 1_700_000_000_000 + step, step) for step in range(40)]
    client.log_batch(finished, metrics=points, params={"depth": 6}, tags={"note": "kept"})
    client.set_terminated(finished)
    before = _snapshot(client, finished)

    ready = tmp_path / "victim.ready"
    victim = subprocess.Popen(
        [sys.executable, "-c", _VICTIM_CHILD, tracking_uri, str(ready)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    try:
        wait_for(ready.exists, [victim], "the victim's readiness file")
        victim_id = ready.read_text()
        # Kill it in the middle of its logging loop, with writes in flight.
        wait_for(
            lambda: len(client.get_metric_history(victim_id, "loop")) >= 20,
            [victim],
            "the victim's logging loop",
        )
        os.kill(victim.pid, signal.SIGKILL)
        victim.communicate(timeout=30)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait()
    assert victim.returncode == -signal.SIGKILL

    clear_store_cache()
    if tracking_uri.startswith("sqlite"):
        with sqlite3.connect(tracking_uri.removeprefix("sqlite:///")) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        conn.close()
    client = loopml.Client(tracking_uri=tracking_uri)
    assert _snapshot(client, finished) == before
    assert before[0].info.status is RunStatus.FINISHED

    run = client.get_run(victim_id)
    assert (run.info.status, run.info.end_time) == (RunStatus.RUNNING, None)
    assert dict(run.data.params) == {"phase": "training"}
    committed = client.get_metric_history(victim_id, "committed")
    assert [m.step for m in committed] == list(range(50))
    loop = client.get_metric_history(victim_id, "loop")
    assert len(loop) >= 20
    assert [m.step for m in loop] == list(range(len(loop)))  # no gap: every write is whole
    batched = client.get_metric_history(victim_id, "loop_batch")
    assert len(batched) % 10 == 0, "a batch was half written"
    assert [m.step for m in batched] == list(range(len(batched)))
    _assert_latest_matches_history(client, victim_id)
    _assert_latest_matches_history(client, finished)

    # The store still takes new runs, and writes to the killed run (no lock left behind).
    after = client.create_run(experiment_id, run_name="after-the-kill").info.run_id
    client.log_batch(after, metrics=[Metric("auc", 0.9, 1, 0)], params={"depth": 3})
    client.set_terminated(after)
    client.log_metric(victim_id, "loop", -1.0, step=len(loop))
    client.set_terminated(victim_id, RunStatus.KILLED)
    assert client.get_run(after).data.metrics == {"auc": 0.9}
    assert client.get_run(victim_id).info.status is RunStatus.KILLED
    names = {r.info.run_name for r in client.search_runs(experiment_id)}
    assert names == {"finished-before", "victim", "after-the-kill"}
