"""Faults: a registration killed at any moment leaves no incomplete version behind."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

import loopml
from _harness import kill_mid_write
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
    # log + register takes ~0.1-0.3 s here
    kill_mid_write(_WORKER, home, tmp_path, marker="logging", max_delay=0.25)
    loopml.set_tracking_uri(str(home))
    registry = ModelRegistry(client=loopml.tracking.get_client())
    versions = sorted(v.version for v in registry.search_model_versions("killed", max_results=1000))
    assert len(versions) >= 6
    assert versions == list(range(1, len(versions) + 1))  # no gap, no duplicate
    for number in versions:
        loaded = loopml.load_model(f"models:/killed/{number}")  # every file present and intact
        assert loaded.manifest.flavor == "sklearn"
