"""The prediction log's durability contract, with real processes: a SIGKILL loses at most the
last ``flush_interval`` (plus one write) of predictions and never shows a row twice or a torn
file; a SIGTERM handled as a shutdown, and a plain exit, lose nothing."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from _harness import child_env, wait_for
from loopml.predictions import read_predictions

FLUSH_INTERVAL = 0.3
#: What one write may take on a busy two-core machine, on top of ``flush_interval``.
WRITE_ALLOWANCE = 1.0
ROWS_PER_BATCH = 10

#: Logs batches of 10 rows, ids counting up from ``start``, each row stamped with the wall clock
#: when logged, until killed or told to stop (SIGTERM). ``atexit`` is left to close the log.
WRITER = r"""
import signal, sys, time
from loopml.predictions import PredictionBatch, PredictionLog

root, flush_interval, start, mode = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
signal.signal(signal.SIGTERM, signal.default_int_handler)  # SIGTERM: a KeyboardInterrupt
log = PredictionLog(root, flush_interval=flush_interval)
i = start
print("started", flush=True)
try:
    while mode == "forever" or i < start + 500:
        ids = [f"{i + k:09d}" for k in range(10)]
        log.log(PredictionBatch(
            deployment="crash", arm="crash/1", model_name="crash", model_version=1,
            request_ids=ids, timestamps_ms=int(time.time() * 1000),
            features={"x": [float(i + k) for k in range(10)], "hour": [i % 24] * 10},
            predictions=[0.5] * 10, latency_ms=0.1))
        i += 10
        time.sleep(0.003)
except KeyboardInterrupt:
    log.close()
print(i - start, flush=True)
"""


def _start(root: Path, start: int, mode: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(root), str(FLUSH_INTERVAL), str(start), mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "started\n"
    return proc


def _ids(root: Path) -> list[int]:
    table = read_predictions("crash", root=root, columns=["request_id"])
    return [int(i) for i in table.column("request_id").to_pylist()]


def _files(root: Path) -> list[Path]:
    return sorted((root / "crash").glob("date=*/*.parquet"))


def test_a_killed_writer_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    root = tmp_path / "log"
    rng = random.Random(20260501)
    start = 0
    for attempt in range(3):
        before = len(_files(root))
        proc = _start(root, start, "forever")
        try:
            # run through a few flushes (and, with 8 flushes a merge, through merges too)
            wait_for(lambda n=before: len(_files(root)) >= n + 3, [proc], "three flushes")
            time.sleep(rng.uniform(0.0, 8 * FLUSH_INTERVAL))
            killed_at = time.time()
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            proc.communicate()
        table = read_predictions("crash", start=None, root=root, columns=["request_id", "ts"])
        ids = [int(i) for i in table.column("request_id").to_pylist()]
        mine = sorted(i for i in ids if i >= start)
        # what survived is every row up to some point: no gap, no row twice
        assert mine == list(range(start, start + len(mine))), f"attempt {attempt}"
        assert len(ids) == len(set(ids))
        assert mine, "nothing survived three flushes"
        newest = max(t.timestamp() for t in table.column("ts").to_pylist())
        lost_seconds = killed_at - newest
        assert lost_seconds <= FLUSH_INTERVAL + WRITE_ALLOWANCE, (attempt, lost_seconds)
        start += 1_000_000  # the next writer's ids, apart from this one's
    # every file under its final name is whole: each reads on its own
    for path in _files(root):
        assert pq.read_metadata(path).num_rows >= 1, path


@pytest.mark.parametrize("mode", ["terminate", "exit"])
def test_a_shutdown_loses_nothing(tmp_path: Path, mode: str) -> None:
    """SIGTERM (handled as a shutdown: close) and a plain exit (closed at exit) flush it all."""
    root = tmp_path / "log"
    proc = _start(root, 0, "forever" if mode == "terminate" else "bounded")
    try:
        if mode == "terminate":
            wait_for(lambda: len(_files(root)) >= 2, [proc], "two flushes")
            proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    logged = int(out.split()[-1])
    assert logged > 0
    assert _ids(root) == list(range(logged))
