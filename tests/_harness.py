"""Separate interpreters writing one store: released together to contend, or killed mid-write.

Child scripts run as ``sys.executable -c script uri workdir index *args``. A contending child
starts with :data:`CHILD_ARGS`, does its imports and set-up, then runs :data:`AWAIT_GO`: it
touches ``workdir/ready-<index>`` and waits for ``workdir/go``, which :func:`run_released`
creates once every child is ready, so they really contend for the store.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

#: Seconds a child may take to start (import loopml, set up) before the test fails.
STARTUP_TIMEOUT = 60.0

#: A contending child's first lines: ``uri``, ``workdir`` and ``index`` from its arguments.
CHILD_ARGS = r"""
import sys, time
from pathlib import Path

uri, workdir, index = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
"""

#: A contending child's signal that it is ready, and its wait for the others.
AWAIT_GO = r"""
(workdir / f"ready-{index}").touch()
deadline = time.monotonic() + 60
while not (workdir / "go").exists():
    if time.monotonic() > deadline:
        sys.exit("child: no go signal within 60 s")
    time.sleep(0.002)
"""


def child_env() -> dict[str, str]:
    """The environment of a child: no git lookups, unbuffered output."""
    return {**os.environ, "LOOPML_RECORD_GIT": "false", "PYTHONUNBUFFERED": "1"}


def wait_for(
    condition: Callable[[], bool], procs: Sequence[subprocess.Popen[str]], what: str
) -> None:
    """Poll ``condition``; fail early with a child's stderr if one dies first."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not condition():
        for proc in procs:
            if proc.poll() is not None:
                _, err = proc.communicate()
                pytest.fail(f"a child exited with {proc.returncode} before {what}:\n{err}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {STARTUP_TIMEOUT} s waiting for {what}")
        time.sleep(0.01)


def run_released(script: str, uri: str, workdir: Path, children: int, *args: str) -> list[str]:
    """Start ``children`` copies of ``script``, release them together once all are ready, and
    return each one's standard output; fails unless every child exited 0 without a traceback."""
    workdir.mkdir(parents=True, exist_ok=True)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, uri, str(workdir), str(i), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=child_env(),
        )
        for i in range(children)
    ]
    try:
        wait_for(
            lambda: all((workdir / f"ready-{i}").exists() for i in range(children)),
            procs,
            "every child is ready",
        )
        (workdir / "go").touch()
        outputs = [proc.communicate(timeout=120) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    failures = [
        f"child {i} exited with {proc.returncode}:\n{err}"
        for i, (proc, (_, err)) in enumerate(zip(procs, outputs, strict=True))
        if proc.returncode != 0 or "Traceback" in err
    ]
    assert not failures, "\n".join(failures)
    return [out for out, _ in outputs]


def kill_mid_write(
    script: str, home: Path, workdir: Path, marker: str, max_delay: float, attempts: int = 6
) -> None:
    """Run ``script`` (``python script home attempt``) ``attempts`` times, each time killing it
    with SIGKILL during its second write: the script prints ``marker`` before each write, so the
    first completes, and the kill comes a random 0 to ``max_delay`` seconds after the second
    ``marker`` (seeded: the same moments on every run)."""
    path = workdir / "worker.py"
    path.write_text(script)
    rng = random.Random(20261123)
    line = f"{marker}\n".encode()
    for attempt in range(attempts):
        proc = subprocess.Popen(
            [sys.executable, str(path), str(home), str(attempt)],
            stdout=subprocess.PIPE,
            env={**os.environ, "LOOPML_RECORD_GIT": "false"},
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == line  # the first write completes
        assert proc.stdout.readline() == line  # the second is in flight: kill it
        time.sleep(rng.uniform(0.0, max_delay))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
