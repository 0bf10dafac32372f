"""``loopml.yaml``: the full format loads, defaults are derived, and every broken file gets ONE
InvalidInput listing each problem as ``loopml.yaml:LINE: field.path: message``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from pydantic import ValidationError

from loopml.core.errors import InvalidInput, NotFound
from loopml.data.sources import open_source
from loopml.project import (
    FairnessGate,
    ImprovementGate,
    LatencyGate,
    MetricGate,
    ModelSizeGate,
    PerturbationCheck,
    ProjectConfig,
    SliceGapGate,
    load_project,
    parse_project,
)
from loopml.project.names import (
    DEFAULT_PRIMARY,
    DEFAULT_REPORT,
    METRICS,
    MODEL_KIND_TASKS,
    MODEL_KINDS,
    TASKS,
)

FULL = """\
format: 1
name: flight-delay
task: classification
target: delayed
requirements:
  kpi: "share of delayed flights caught a day ahead"
  latency_p99_ms: 50
  training_budget_minutes: 10
data:
  source: flights.parquet
  query: null
  bad_lines: fail
  schema: schema.yaml
  features: null
  exclude: [year]
  id_columns: []
split:
  method: time
  column: time_hour
  sizes: [0.7, 0.15, 0.15]
  seed: 0
imbalance: none
metrics:
  primary: roc_auc
  report: [pr_auc, log_loss, brier, f1]
  threshold: 0.5
baselines: [majority, {rule: "sched_dep_hour >= 17"}, group_rate]
candidates:
  - name: logistic
    model: logistic_regression
    params: {C: 1.0}
  - name: lgbm
    model: lightgbm
    params: {n_estimators: 400}
    search:
      n_trials: 50
      timeout_seconds: 120
      pruner: median
      space:
        learning_rate: {low: 0.01, high: 0.3, log: true}
        num_leaves: {low: 15, high: 255, type: int}
ensemble: {kind: voting, members: [logistic, lgbm]}
evaluation:
  n_resamples: 1000
  confidence: 0.95
  seed: 0
  slices: [carrier, origin]
  worst_slices: {min_support: 200, max_slices: 10}
  sensitive: [origin]
  behaviour:
    - {invariance: day_of_week}
    - {directional: distance, expect: increase}
    - {perturbation: [distance], noise: 0.1, max_drop: 0.02}
  calibration: {bins: 10, recalibrate: none}
  importance: permutation
gates:
  - {metric: roc_auc, min: 0.6}
  - {improvement_over_champion: roc_auc, min_gain: 0.0}
  - {max_slice_gap: roc_auc, max: 0.15}
  - {max_fairness_gap: demographic_parity_difference, max: 0.2}
  - {max_latency_p99_ms: 50}
  - {max_model_size_mb: 100}
register:
  model_name: null
  alias: challenger
  on_gate_failure: skip
execution:
  executor: local
  address: null
  n_workers: 2
  cache: true
"""

MINIMAL = """\
name: minimal
task: {task}
target: y
data: {{source: data.csv}}
candidates: [{{model: hist_gradient_boosting}}]
"""


def _line(text: str, needle: str) -> int:
    """The 1-based line of the first line holding ``needle`` (``needle#2``: the second)."""
    needle, _, nth = needle.partition("#")
    found = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return found[int(nth or 1) - 1]


def _problems(text: str) -> list[str]:
    with pytest.raises(InvalidInput) as caught:
        parse_project(text)
    lines = str(caught.value).splitlines()
    return lines[1:] if len(lines) > 1 else lines


def test_the_full_format_loads_with_its_meaning(tmp_path: Path) -> None:
    path = tmp_path / "loopml.yaml"
    path.write_text(FULL)
    project = load_project(path)
    assert (project.name, project.task, project.target) == (
        "flight-delay",
        "classification",
        "delayed",
    )
    assert project.root == tmp_path.absolute()
    assert project.path == path
    assert project.data.kind == "file"
    assert project.schema_file == tmp_path.absolute() / "schema.yaml"
    assert project.split.has_test
    assert project.split.sizes == (0.7, 0.15, 0.15)
    assert [b.name for b in project.baselines] == ["majority", "rule", "group_rate"]
    assert project.baselines[1].rule == "sched_dep_hour >= 17"
    lgbm = project.candidates[1]
    assert lgbm.search is not None
    assert lgbm.search.space is not None
    assert lgbm.search.space["num_leaves"].type == "int"
    assert lgbm.search.space["learning_rate"].type == "float"
    assert lgbm.search.space["learning_rate"].log
    assert lgbm.search.timeout_seconds == 120  # written: the budget does not override it
    assert [type(g) for g in project.gates] == [
        MetricGate,
        ImprovementGate,
        SliceGapGate,
        FairnessGate,
        LatencyGate,
        ModelSizeGate,
    ]  # the latency gate is written, so the requirement adds none
    assert project.gates[1].metric == "roc_auc"
    assert project.gates[3].measure.startswith("demo")
    assert isinstance(project.evaluation.behaviour[2], PerturbationCheck)
    assert project.evaluation.behaviour[2].columns == ("distance",)
    assert project.evaluation.behaviour[0].column == "day_of_week"
    assert project.model_name == "flight-delay"
    assert project.registration.alias == "challenger"
    assert project.metrics.names == ("roc_auc", "pr_auc", "log_loss", "brier", "f1")
    # JSON-ready and a faithful round trip
    data = json.loads(json.dumps(project.to_dict()))
    again = ProjectConfig.from_dict(data, root=tmp_path)
    assert again.to_dict() == project.to_dict()
    assert again.gates == project.gates
    assert data["register"]["model_name"] == "flight-delay"
    assert data["data"]["schema"] == "schema.yaml"


def test_settings_are_frozen() -> None:
    project = parse_project(FULL)
    with pytest.raises(ValidationError):
        project.name = "other"  # type: ignore[misc]


@pytest.mark.parametrize("task", TASKS)
def test_defaults_follow_the_task(task: str) -> None:
    project = parse_project(MINIMAL.format(task=task))
    assert project.metrics.primary == DEFAULT_PRIMARY[task]
    assert project.metrics.report == DEFAULT_REPORT[task]
    assert project.candidates[0].name == "hist_gradient_boosting"
    assert [b.kind for b in project.baselines] == ["majority"]
    assert project.split.method == "random"
    assert project.gates == ()
    assert project.model_name == "minimal"
    assert project.execution.executor == "local"
    assert project.execution.cache


def test_requirements_become_a_latency_gate_and_search_timeouts() -> None:
    text = MINIMAL.format(task="classification").replace(
        "candidates: [{model: hist_gradient_boosting}]",
        "requirements: {latency_p99_ms: 20, training_budget_minutes: 5}\n"
        "candidates:\n"
        "  - {model: lightgbm, search: {n_trials: 10}}\n"
        "  - {model: xgboost, search: {}}\n"
        "  - {model: random_forest, search: {timeout_seconds: 7}}\n",
    )
    project = parse_project(text)
    assert project.gates == (LatencyGate(max_latency_p99_ms=20),)
    # 80% of 5 minutes shared by the two searches without a timeout of their own
    timeouts = [c.search.timeout_seconds for c in project.candidates if c.search is not None]
    assert timeouts == [120.0, 120.0, 7.0]


# ------------------------------------------------------------------------------ broken files

BROKEN = [
    # (what, replace this, with this, the line holding, expected problem)
    (
        "wrong type",
        "n_trials: 50",
        'n_trials: "50"',
        "n_trials",
        r"candidates\[1\]\.search\.n_trials: must be an integer; got '50'\.",
    ),
    (
        "unknown key",
        "  column: time_hour",
        "  colum: time_hour",
        "colum:",
        r"split\.colum: is not a known field \(known: method, column, sizes, seed\)\. "
        r"Fix: did you mean 'column'\.",
    ),
    (
        "unknown key at the top",
        "imbalance: none",
        "imbalanse: none",
        "imbalanse",
        r"imbalanse: is not a known field \(known: format, name, .*\)\. "
        r"Fix: did you mean 'imbalance'\.",
    ),
    (
        "missing target",
        "target: delayed\n",
        "",
        "format: 1",
        r"target: is required\. Fix: add target: <the column to predict>\.",
    ),
    (
        "bad enum",
        "method: time",
        "method: tyme",
        "method:",
        r"split\.method: must be one of time, random, stratified, group; got 'tyme'\. "
        r"Fix: did you mean 'time'\.",
    ),
    (
        "bad model kind",
        "model: lightgbm",
        "model: lightgmb",
        "lightgmb",
        r"candidates\[1\]\.model: must be one of logistic_regression, .*; got 'lightgmb'\. "
        r"Fix: did you mean 'lightgbm'\.",
    ),
    (
        "sizes not summing to 1",
        "[0.7, 0.15, 0.15]",
        "[0.7, 0.2, 0.15]",
        "sizes",
        r"split\.sizes: must sum to 1 \(they sum to 1\.05\); got \[0\.7, 0\.2, 0\.15\]\.",
    ),
    (
        "four sizes",
        "[0.7, 0.15, 0.15]",
        "[0.4, 0.3, 0.15, 0.15]",
        "sizes",
        r"split\.sizes: must have 2 parts \(train, valid\) or 3",
    ),
    (
        "time split without column",
        "  column: time_hour\n",
        "",
        "split:",
        r"split\.column: is needed for a time split: the time column\.",
    ),
    (
        "unknown metric for the task",
        "primary: roc_auc",
        "primary: rmse",
        "primary:",
        r"metrics\.primary: must be a classification metric \(roc_auc, .*\); got 'rmse'\.",
    ),
    (
        "misspelt metric in a gate",
        "max_slice_gap: roc_auc",
        "max_slice_gap: rocauc",
        "rocauc",
        r"gates\[2\]\.max_slice_gap: must be a classification metric .*; got 'rocauc'\. "
        r"Fix: did you mean 'roc_auc'",
    ),
    (
        "duplicate candidate names",
        "  - name: lgbm",
        "  - name: logistic",
        "name: logistic#2",
        r"candidates\[1\]\.name: is already the name of candidates\[0\]; got 'logistic'\. "
        r"Fix: give each candidate its own name\.",
    ),
    (
        "ensemble member unknown",
        "members: [logistic, lgbm]",
        "members: [logistic, lgb]",
        "members",
        r"ensemble\.members\[1\]: must name a candidate \(logistic, lgbm\); "
        r"got 'lgb'\. Fix: did you mean 'lgbm'\.",
    ),
    (
        "ensemble of one",
        "members: [logistic, lgbm]",
        "members: [logistic]",
        "members",
        r"ensemble\.members: must list at least two candidates",
    ),
    (
        "unknown gate",
        "{max_model_size_mb: 100}",
        "{max_model_siz_mb: 100}",
        "siz_mb",
        r"gates\[5\]: must be a gate with one of the keys metric, .*; got keys "
        r"max_model_siz_mb\. Fix: did you mean 'max_model_size_mb'\.",
    ),
    (
        "metric gate without bounds",
        "{metric: roc_auc, min: 0.6}",
        "{metric: roc_auc}",
        "{metric: roc_auc}",
        r"gates\[0\]: needs min or max",
    ),
    (
        "unknown behaviour check",
        "{invariance: day_of_week}",
        "{invariant: day_of_week}",
        "invariant",
        r"evaluation\.behaviour\[0\]: must be a behaviour check with one of the "
        r"keys invariance, directional, perturbation; got keys invariant",
    ),
    (
        "fairness gate without sensitive columns",
        "  sensitive: [origin]",
        "  sensitive: []",
        "max_fairness_gap",
        r"gates\[3\]\.max_fairness_gap: needs sensitive columns",
    ),
    (
        "query on a file",
        "  query: null",
        "  query: select 1",
        "query:",
        r"data\.query: is only for SQL URLs and duckdb sources, not a file",
    ),
    (
        "duckdb without a query",
        "source: flights.parquet",
        "source: duckdb",
        "query:",
        r"data\.query: is needed with a duckdb source",
    ),
    (
        "target excluded",
        "exclude: [year]",
        "exclude: [year, delayed]",
        "exclude",
        r"data\.exclude\[1\]: must not list the target 'delayed'\.",
    ),
    (
        "a string for a boolean",
        "cache: true",
        'cache: "yes"',
        "cache",
        r"execution\.cache: must be true or false; got 'yes'\.",
    ),
    (
        "a number out of range",
        "threshold: 0.5",
        "threshold: 1.5",
        "threshold",
        r"metrics\.threshold: must be less than 1; got 1\.5\.",
    ),
    (
        "reserved alias",
        "alias: challenger",
        "alias: latest",
        "alias",
        r"register\.alias: must be an identifier .*; got 'latest'",
    ),
    (
        "address without dask",
        "  address: null",
        "  address: tcp://x:8786",
        "address",
        r"execution\.address: is used only with executor: dask",
    ),
    (
        "bad search range",
        "{low: 15, high: 255, type: int}",
        "{low: 15, high: 5, type: int}",
        "num_leaves",
        r"candidates\[1\]\.search\.space\.num_leaves\.high: must be > low \(15\)",
    ),
    (
        "repeated key",
        "  seed: 0\nimbalance",
        "  seed: 0\n  seed: 1\nimbalance",
        "seed: 1",
        r"split\.seed: appears twice",
    ),
    (
        "unknown baseline",
        "[majority, {rule:",
        "[majorty, {rule:",
        "baselines",
        r"baselines\[0\]: must be majority, group_rate, \{rule: EXPRESSION\} or "
        r"\{group_rate: COLUMN\}; got 'majorty'\. Fix: did you mean 'majority'\.",
    ),
    (
        "bad project name",
        "name: flight-delay",
        "name: flight/delay",
        "name: flight",
        r"name: must start with a letter or digit",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "at", "expected"),
    [case[1:] for case in BROKEN],
    ids=[case[0] for case in BROKEN],
)
def test_a_broken_file_names_line_field_and_fix(old: str, new: str, at: str, expected: str) -> None:
    assert old in FULL
    text = FULL.replace(old, new, 1)
    problems = _problems(text)
    line = _line(text, at)
    assert any(re.fullmatch(rf"loopml\.yaml:{line}: {expected}.*", p) for p in problems), problems


def test_regression_rules() -> None:
    text = (
        FULL.replace("task: classification", "task: regression")
        .replace("primary: roc_auc", "primary: rmse")
        .replace("report: [pr_auc, log_loss, brier, f1]", "report: [mae, r2]")
        .replace("imbalance: none", "imbalance: class_weight")
        .replace("recalibrate: none", "recalibrate: platt")
    )
    problems = "\n".join(_problems(text))
    assert re.search(r"imbalance: is for classification; the task is regression", problems)
    assert "candidates[0].model: is a classification model; the task is regression" in problems
    assert "Fix: use one of linear_regression, ridge," in problems
    assert "evaluation.calibration.recalibrate: is for classification" in problems
    assert "gates[0].metric: must be a regression metric (rmse, mae, mape, r2); got 'roc_auc'" in (
        problems
    )
    assert "gates[3].max_fairness_gap: is for classification" in problems


def test_every_problem_comes_in_one_error_sorted_by_line() -> None:
    text = (
        FULL.replace("task: classification", "task: clasification")  # enum
        .replace("n_resamples: 1000", "n_resamples: many")  # type
        .replace("  - name: lgbm", "  - name: logistic")  # cross-field, in a valid section
        .replace("exclude: [year]", "exclude: [year, delayed]")  # cross-field
        .replace("  seed: 0\nimbalance", "  seed: 0\n  sead: 1\nimbalance")  # unknown key
    )
    with pytest.raises(InvalidInput) as caught:
        parse_project(text)
    lines = str(caught.value).splitlines()
    assert lines[0] == "loopml.yaml has 6 problems:"
    numbers = [int(line.split(":")[1]) for line in lines[1:]]
    assert numbers == sorted(numbers)
    assert [line.split(": ")[1] for line in lines[1:]] == [
        "task",
        "data.exclude[1]",
        "split.sead",
        "candidates[1].name",
        "ensemble.members[1]",
        "evaluation.n_resamples",
    ]  # fmt: skip
    # (lgbm, renamed, is no longer a candidate the ensemble can name)


def test_a_candidate_search_needs_a_budget() -> None:
    text = FULL.replace("      n_trials: 50\n      timeout_seconds: 120\n", "").replace(
        "  training_budget_minutes: 10\n", ""
    )
    problems = _problems(text)
    assert any(
        "candidates[1].search: needs a budget: n_trials or timeout_seconds" in p for p in problems
    )
    with_budget = FULL.replace("      n_trials: 50\n      timeout_seconds: 120\n", "")
    search = parse_project(with_budget).candidates[1].search
    assert search is not None
    assert search.timeout_seconds == 480.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed\n", r"^loopml\.yaml:2: invalid YAML: "),
        ("", r"^project file loopml\.yaml is empty\. Fix: write one with `loopml init`\.$"),
        ("- a\n- b\n", r"^loopml\.yaml:1: the project must be a mapping of settings; got a list"),
        ("name: x\ntask: clasification\n", r"^loopml\.yaml has 4 problems:\n"),
    ],
)
def test_unreadable_files(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        parse_project(text)


def test_load_project_finds_the_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"does not exist\. Fix: create one with `loopml init`"):
        load_project(tmp_path / "loopml.yaml")
    (tmp_path / "loopml.yaml").write_text(MINIMAL.format(task="regression"))
    assert load_project(tmp_path).task == "regression"  # a directory: its loopml.yaml


def test_from_dict_reports_paths_without_lines() -> None:
    with pytest.raises(InvalidInput) as caught:
        ProjectConfig.from_dict({"name": "x", "task": "classification", "target": "y"})
    assert str(caught.value).splitlines()[1:] == [
        "<dict>: data: is required. Fix: add data: {source: <file, SQL URL or duckdb>}.",
        "<dict>: candidates: is required. Fix: add candidates: [{model: hist_gradient_boosting}].",
    ]


# --------------------------------------------------------------------------------- sources


def test_source_options_resolve_against_the_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir()
    pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 1]}).to_parquet(tmp_path / "data" / "t.parquet")
    text = MINIMAL.format(task="classification")
    monkeypatch.chdir(tmp_path.parent)  # elsewhere: relative paths must not depend on it

    file_project = parse_project(text.replace("data.csv", "data/t.parquet"), root=tmp_path)
    options = file_project.source_options()
    assert options == {"bad_lines": "fail", "source": str(tmp_path / "data" / "t.parquet")}
    assert open_source(**options).read_arrow().num_rows == 3

    duck = parse_project(
        text.replace(
            "data: {source: data.csv}",
            "data:\n  source: duckdb\n  query: select x, y from 'data/t.parquet' where x > 1",
        ),
        root=tmp_path,
    )
    frame = open_source(**duck.source_options()).to_pandas()
    assert frame["x"].tolist() == [2, 3]

    url = "sqlite:///" + str(tmp_path / "db.sqlite")
    sql = parse_project(
        text.replace("data: {source: data.csv}", f"data: {{source: '{url}', query: select 1}}")
    )
    assert sql.data.kind == "sql"
    assert sql.source_options()["source"] == url

    snap = parse_project(text.replace("data.csv", "snapshot:flights@2"))
    assert snap.data.snapshot == "flights@2"
    with pytest.raises(InvalidInput, match=r"loopml\.data\.load\('flights@2'\)"):
        snap.source_options()


def test_names_agree_with_each_other() -> None:
    assert set(MODEL_KIND_TASKS) == set(MODEL_KINDS)
    for task in TASKS:
        assert DEFAULT_PRIMARY[task] in METRICS[task]
        assert set(DEFAULT_REPORT[task]) <= set(METRICS[task])
        assert any(task in tasks for tasks in MODEL_KIND_TASKS.values())
    assert not set(METRICS["classification"]) & set(METRICS["regression"])
