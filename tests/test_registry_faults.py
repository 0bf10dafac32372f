"""Faults: a registration killed at any moment leaves no incomplete version behind."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import loopml
from loopml import ModelRegistry

_WORKER = textwrap.dedent(
    """
    import sys, numpy as np, pandas as pd
    from sklearn.ensemble import RandomForestRegressor
    import loopml
    loopml.set_tracking_uri(sys.argv[1])
    rng = np.random.default_rng(int(sys.argv[2]))
    X = pd.DataFrame({"a": rng.normal(size=2000), "b": rng.normal(size=2000)})
    y = X["a"] * 2 + rng.normal(size=2000)
    for i in range(1000):
        model = RandomForestRegressor(n_estimators=30, random_state=i).fit(X, y)
        with loopml.start_run():
            print("logging", flush=True)
            loopml.log_model(model, "model", input_example=X.head(2),
                             registered_model_name="killed")
    """
)


@pytest.mark.slow
def test_killed_registrations_leave_only_complete_versions(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = tmp_path / "worker.py"
    script.write_text(_WORKER)
    rng = random.Random(20261123)
    env = {**os.environ, "LOOPML_RECORD_GIT": "false"}
    for attempt in range(6):
        proc = subprocess.Popen(
            [sys.executable, str(script), str(home), str(attempt)],
            stdout=subprocess.PIPE,
            env=env,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"logging\n"  # the first one completes
        assert proc.stdout.readline() == b"logging\n"  # the second is in flight: kill it
        time.sleep(rng.uniform(0.0, 0.25))  # log + register takes ~0.1-0.3 s here
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    loopml.set_tracking_uri(str(home))
    registry = ModelRegistry(client=loopml.tracking.get_client())
    versions = sorted(v.version for v in registry.search_model_versions("killed", max_results=1000))
    assert len(versions) >= 6
    assert versions == list(range(1, len(versions) + 1))  # no gap, no duplicate
    for number in versions:
        loaded = loopml.load_model(f"models:/killed/{number}")  # every file present and intact
        assert loaded.manifest.flavor == "sklearn"
