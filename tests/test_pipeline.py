"""The pipeline engine, in process: wiring, the cache, failures, tracking, outputs and status.

Real stores throughout (SQLite through ``isolated_home``; the cache and tracking core also on
PostgreSQL through ``tracking_uri``). Steps that must change between runs are written to module
files, so their source (the code fingerprint) really changes.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml import InvalidInput, NotFound
from loopml.core.entities import RunStatus
from loopml.pipeline import (
    LocalExecutor,
    Pipeline,
    PipelineResult,
    StepEvent,
    StepFailed,
    pipeline_status,
    step,
)
from loopml.pipeline.materializers import deserialize, serialize, value_digest
from loopml.tracking import get_client

# -- steps ------------------------------------------------------------------------------------

CALLS: list[str] = []


@step(outputs="raw")
def load(source: str, *, rows: int = 200) -> pd.DataFrame:
    CALLS.append("load")
    rng = np.random.default_rng(len(source))
    return pd.DataFrame({"x": rng.normal(size=rows), "label": np.arange(rows) % 2})


@step(outputs=("train", "valid"))
def split(raw: pd.DataFrame, *, valid_frac: float = 0.2) -> tuple[pd.DataFrame, pd.DataFrame]:
    CALLS.append("split")
    cut = int(len(raw) * (1 - valid_frac))
    return raw.iloc[:cut], raw.iloc[cut:]


@step(outputs="model")
def fit(train: pd.DataFrame, *, scale: float = 1.0) -> dict[str, float]:
    CALLS.append("fit")
    loopml.log_metric("train_rows", len(train))
    return {"mean_x": float(train["x"].mean()) * scale, "rate": float(train["label"].mean())}


@step(outputs="score")
def evaluate(model: dict[str, float], valid: pd.DataFrame) -> float:
    CALLS.append("evaluate")
    return float(abs(valid["x"].mean() - model["mean_x"]))


@step(outputs="summary")
def profile(raw: pd.DataFrame, *, bins: int = 4) -> np.ndarray:
    CALLS.append("profile")
    return np.histogram(raw["x"], bins=bins)[0]


@step(outputs="checked")
def check(raw: pd.DataFrame, *, fail: bool = False) -> int:
    CALLS.append("check")
    if fail:
        raise ValueError("the data has 3 bad rows")
    return len(raw)


@step(outputs="report")
def report(checked: int, score: float) -> str:
    CALLS.append("report")
    return f"{checked} rows, score {score:.3f}"


def flights(**binds: dict[str, Any]) -> Pipeline:
    """load → split → fit → evaluate, with profile and check branching off load."""
    steps = {s.name: s for s in (load, split, fit, evaluate, profile, check, report)}
    for name, params in binds.items():
        steps[name] = steps[name].bind(**params)
    return Pipeline("flights", list(steps.values()))


@pytest.fixture(autouse=True)
def _calls() -> None:
    CALLS.clear()


def statuses(result: PipelineResult) -> dict[str, str]:
    return {name: s.status for name, s in result.steps.items()}


# -- steps and wiring -------------------------------------------------------------------------


def test_a_step_reads_inputs_params_and_outputs_from_its_signature() -> None:
    assert split.inputs == ("raw",)
    assert dict(split.params) == {"valid_frac": 0.2}
    assert split.outputs == ("train", "valid")
    bound = split.bind(valid_frac=0.5)
    assert dict(bound.params) == {"valid_frac": 0.5}
    assert dict(split.params) == {"valid_frac": 0.2}  # bind returns a copy
    train, valid = bound(pd.DataFrame({"x": range(10), "label": 0}))
    assert (len(train), len(valid)) == (5, 5)


def test_step_signature_errors() -> None:
    with pytest.raises(InvalidInput, match=r"step 'f' cannot take \*args or \*\*kwargs"):

        @step(outputs="y")
        def f(*xs: int) -> int:
            return 0

    with pytest.raises(InvalidInput, match=r"output name of step 'g' must be a Python identifier"):
        step(lambda x: x, outputs="not valid", name="g")
    with pytest.raises(InvalidInput, match=r"outputs of step 'h' must be distinct"):
        step(lambda x: x, outputs=("a", "a"), name="h")


def test_bind_errors_name_the_parameter_and_suggest() -> None:
    with pytest.raises(InvalidInput, match=r"bound name 'valid_fraq' of step 'split' is not a "):
        split.bind(valid_fraq=0.3)
    with pytest.raises(InvalidInput, match=r"did you mean 'valid_frac'"):
        split.bind(valid_fraq=0.3)
    with pytest.raises(InvalidInput, match=r"'raw' of step 'split' is an input .* not a param"):
        split.bind(raw=1)
    with pytest.raises(InvalidInput, match=r"param 'valid_frac' of step 'split' must be a JSON"):
        split.bind(valid_frac=np.float32(0.3))
    with pytest.raises(InvalidInput, match=r"must be a JSON value.*got nan"):
        split.bind(valid_frac=float("nan"))


def test_one_function_serves_several_steps_through_wire() -> None:
    def scale(values: list[int], *, factor: int) -> list[int]:
        return [v * factor for v in values]

    double = step(scale, outputs="doubled", name="double").bind(factor=2)
    triple = step(scale, outputs="tripled", name="triple").bind(factor=3).wire(values="doubled")
    result = Pipeline("wired", [double, triple]).run(inputs={"values": [1, 2]})
    assert result.outputs["tripled"] == [6, 12]
    assert triple.inputs == ("doubled",)
    with pytest.raises(InvalidInput, match=r"wired name 'valuez' of step 'triple' is not an input"):
        triple.wire(valuez="x")
    with pytest.raises(InvalidInput, match=r"did you mean 'doubled'"):
        triple.wire(doubld="x")


def test_gather_passes_several_outputs_as_one_dict_and_reruns_on_any() -> None:
    def total(parts: dict[str, int], offset: int, *, scale: int = 1) -> int:
        return (sum(parts.values()) + offset) * scale

    one = step(lambda: 1, outputs="one", name="make_one")
    two = step(lambda x: x, outputs="two", name="make_two")
    summed = step(total, outputs="total").gather(parts=["one", "two"]).bind(scale=10)
    assert summed.inputs == ("one", "two", "offset")
    pipe = Pipeline("gathered", [one, two, summed])
    first = pipe.run(inputs={"x": 2, "offset": 3})
    assert first.outputs["total"] == 60
    again = pipe.run(inputs={"x": 2, "offset": 3})
    assert again.steps["total"].status == "cached"
    changed = pipe.run(inputs={"x": 5, "offset": 3})
    assert changed.steps["total"].status == "ran"
    assert changed.outputs["total"] == 90
    with pytest.raises(InvalidInput, match=r"gathered name 'part' of step 'total' is not an input"):
        step(total, outputs="total").gather(part=["one"])
    with pytest.raises(InvalidInput, match=r"gathered input 'parts' .* at least one output"):
        step(total, outputs="total").gather(parts=[])


def test_wiring_errors_are_caught_when_the_pipeline_is_built() -> None:
    @step(outputs="raw", name="other_load")
    def other_load(source: str) -> int:
        return 1

    with pytest.raises(InvalidInput, match=r"output 'raw' is produced by both step 'load' and "):
        Pipeline("p", [load, other_load])
    with pytest.raises(InvalidInput, match=r"step name 'load' appears twice"):
        Pipeline("p", [load, load])
    with pytest.raises(
        InvalidInput, match=r"input 'raw' of step 'split' is neither .* did you mean 'ra'"
    ):
        Pipeline("p", [split, step(lambda: 1, outputs="ra", name="make")], inputs=())

    @step(outputs="a")
    def first(b: int) -> int:
        return b

    @step(outputs="b")
    def second(a: int) -> int:
        return a

    with pytest.raises(InvalidInput, match=r"pipeline must not have a cycle; got '(first|second) "):
        Pipeline("p", [first, second])

    @step(outputs="m")
    def needs(train: int, *, alpha: float) -> float:
        return alpha

    with pytest.raises(InvalidInput, match=r"param 'alpha' of step 'needs' has no default and is"):
        Pipeline("p", [needs])
    assert Pipeline("p", [needs.bind(alpha=1.0)]).external_inputs == ("train",)

    def f(x: int) -> int:
        return x

    with pytest.raises(InvalidInput, match=r"pipeline 'p' takes steps built with @step; got 'f'"):
        Pipeline("p", [f])  # type: ignore[list-item]


def test_the_order_of_the_list_does_not_matter() -> None:
    pipe = Pipeline("p", [report, evaluate, fit, split, check, profile, load])
    order = pipe.step_names
    assert order.index("load") < order.index("split") < order.index("fit")
    assert order.index("fit") < order.index("evaluate") < order.index("report")
    assert pipe.external_inputs == ("source",)
    assert pipe.downstream(["fit"]) == {"fit", "evaluate", "report"}


def test_run_checks_inputs_force_and_executor_before_recording_anything() -> None:
    pipe = flights()
    with pytest.raises(InvalidInput, match=r"external input 'source' \(read by step 'load'\) must"):
        pipe.run()
    with pytest.raises(InvalidInput, match=r"input 'sorce' is not read by any step.*'source'"):
        pipe.run(inputs={"sorce": "a", "source": "b"})
    with pytest.raises(InvalidInput, match=r"input 'raw' is produced by step 'load'"):
        pipe.run(inputs={"source": "a", "raw": 1})
    with pytest.raises(InvalidInput, match=r"step 'fitt' is not a step of .*did you mean 'fit'"):
        pipe.run(inputs={"source": "a"}, force=["fitt"])
    with pytest.raises(InvalidInput, match=r"executor must be 'local', .*did you mean 'dask'"):
        pipe.run(inputs={"source": "a"}, executor="dusk")
    with pytest.raises(InvalidInput, match=r"address only applies to the Dask executor"):
        pipe.run(inputs={"source": "a"}, address="tcp://127.0.0.1:8786")
    assert get_client().get_experiment_by_name("flights") is None


# -- the cache --------------------------------------------------------------------------------


def test_a_rerun_hits_the_cache_and_says_which_steps(tracking_uri: str) -> None:
    pipe = flights()
    first = pipe.run(inputs={"source": "flights.csv"}, tracking_uri=tracking_uri)
    assert set(first.ran) == set(pipe.step_names)
    assert first.status == "FINISHED"
    assert sorted(CALLS) == sorted(pipe.step_names)

    events: list[StepEvent] = []
    CALLS.clear()
    second = pipe.run(
        inputs={"source": "flights.csv"}, tracking_uri=tracking_uri, on_event=events.append
    )
    assert CALLS == []
    assert second.cached == pipe.step_names
    assert [(e.kind, e.step) for e in events] == [("cached", s) for s in pipe.step_names]
    for name, result in second.steps.items():
        original = first.steps[name]
        assert result.cache_key == original.cache_key
        assert result.cached_from == original.run_id
        assert result.outputs == original.outputs
        assert result.run_id != original.run_id
    pd.testing.assert_frame_equal(second.outputs["train"], first.outputs["train"])
    assert second.outputs["model"] == first.outputs["model"]
    assert second.outputs["report"] == first.outputs["report"]
    np.testing.assert_array_equal(second.outputs["summary"], first.outputs["summary"])

    client = get_client()
    assert client.tracking_uri == tracking_uri
    pipeline_run = client.get_run(second.run_id)
    assert pipeline_run.info.status is RunStatus.FINISHED
    assert pipeline_run.data.tags["loopml.pipeline.kind"] == "pipeline"
    assert pipeline_run.data.tags["loopml.pipeline.name"] == "flights"
    assert pipeline_run.data.params["input.source"] == value_digest("flights.csv")
    assert pipeline_run.data.metrics["steps_cached"] == len(pipe.step_names)
    fit_run = client.get_run(second.steps["fit"].run_id)
    assert fit_run.info.parent_run_id == second.run_id
    assert fit_run.info.status is RunStatus.FINISHED
    assert fit_run.data.tags["loopml.step.cached_from"] == first.steps["fit"].run_id
    assert fit_run.data.tags["loopml.step.cache_key"] == first.steps["fit"].cache_key
    assert fit_run.data.params == {"scale": "1.0"}
    # The cached run holds its outputs too, without a copy: same digest, same bytes.
    [output] = client.list_artifacts(fit_run.info.run_id, "outputs")
    assert output.path == "outputs/model.json"
    assert output.digest == first.steps["fit"].outputs["model"]
    assert (
        json.loads(client.read_artifact(fit_run.info.run_id, output.path)) == first.outputs["model"]
    )


def test_changing_a_param_reruns_exactly_that_step_and_what_depends_on_it() -> None:
    flights().run(inputs={"source": "a.csv"})
    CALLS.clear()
    result = flights(split={"valid_frac": 0.3}).run(inputs={"source": "a.csv"})
    assert statuses(result) == {
        "load": "cached",
        "split": "ran",
        "fit": "ran",
        "evaluate": "ran",
        "profile": "cached",
        "check": "cached",
        "report": "ran",
    }
    assert sorted(CALLS) == ["evaluate", "fit", "report", "split"]


def test_a_rerun_step_with_identical_output_leaves_its_dependents_cached() -> None:
    flights().run(inputs={"source": "a.csv"})
    CALLS.clear()
    # More bins change nothing downstream of load (profile has no dependents); a new 'rows'
    # changes load's output, hence everything.
    result = flights(profile={"bins": 8}).run(inputs={"source": "a.csv"})
    assert result.ran == ("profile",)
    assert CALLS == ["profile"]


def test_changing_an_external_input_reruns_what_reads_it() -> None:
    flights().run(inputs={"source": "a.csv"})
    CALLS.clear()
    result = flights().run(inputs={"source": "bb.csv"})  # another seed: other data
    assert set(result.ran) == set(result.steps)


def test_force_reruns_the_named_steps_and_their_dependents() -> None:
    pipe = flights()
    pipe.run(inputs={"source": "a.csv"})
    CALLS.clear()
    result = pipe.run(inputs={"source": "a.csv"}, force=("fit",))
    assert set(result.ran) == {"fit", "evaluate", "report"}
    assert set(result.cached) == {"load", "split", "profile", "check"}
    CALLS.clear()
    assert set(pipe.run(inputs={"source": "a.csv"}, force=True).ran) == set(pipe.step_names)
    assert set(pipe.run(inputs={"source": "a.csv"}, cache=False).ran) == set(pipe.step_names)


def _module(tmp_path: Path, name: str, source: str) -> Any:
    """Import ``source`` as a fresh module named ``name`` (its functions have real source)."""
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


STEPS_V1 = """
    from loopml.pipeline import step

    def helper(x):
        return x + 1

    @step(outputs="doubled")
    def double(number: int) -> int:
        return number * 2

    @step(outputs="result", version="{version}")
    def finish(doubled: int) -> int:
        return helper(doubled)
"""


@pytest.mark.parametrize(
    ("old", "new", "reran", "result"),
    [
        pytest.param("return number * 2", "return number * 2  # a comment", (), 9, id="comment"),
        pytest.param(
            "def double(number: int) -> int:\n",
            'def double(number: int) -> int:\n        """Twice the number."""\n',
            (),
            9,
            id="docstring",
        ),
        pytest.param("return number * 2", "return number * 3", ("double", "finish"), 13, id="body"),
        # The fingerprint does not see the helper: the stale result is the documented gap.
        pytest.param("return x + 1", "return x + 2", (), 9, id="helper-unseen"),
        pytest.param('version="{version}"', 'version="2"', ("finish",), 9, id="version"),
    ],
)
def test_the_code_fingerprint(
    tmp_path: Path, old: str, new: str, reran: tuple[str, ...], result: int
) -> None:
    before = _module(tmp_path, "steps_before", STEPS_V1)
    after = _module(tmp_path, "steps_after", STEPS_V1.replace(old, new))
    assert after.double.code_digest  # same qualified names in both modules: only source differs
    Pipeline("codes", [before.double, before.finish]).run(inputs={"number": 4})
    again = Pipeline("codes", [after.double, after.finish]).run(inputs={"number": 4})
    assert again.ran == reran
    assert again.outputs["result"] == result


def test_a_path_input_is_hashed_by_its_content(tmp_path: Path) -> None:
    @step(outputs="text")
    def read(path: Path) -> str:
        return path.read_text()

    data = tmp_path / "data.txt"
    data.write_text("one")
    pipe = Pipeline("files", [read])
    assert pipe.run(inputs={"path": data}).ran == ("read",)
    assert pipe.run(inputs={"path": data}).cached == ("read",)
    data.write_text("two")
    changed = pipe.run(inputs={"path": data})
    assert changed.ran == ("read",)
    assert changed.outputs["text"] == "two"


def test_identical_outputs_are_stored_once(isolated_home: Path) -> None:
    @step(outputs="a")
    def make_a(n: int) -> pd.DataFrame:
        return pd.DataFrame({"v": range(n)})

    @step(outputs="b")
    def make_b(n: int) -> pd.DataFrame:
        return pd.DataFrame({"v": range(n)})

    result = Pipeline("twins", [make_a, make_b]).run(inputs={"n": 1000})
    assert result.outputs.digest("a") == result.outputs.digest("b")
    blobs = [p for p in (isolated_home / "artifacts").rglob("*") if p.is_file()]
    assert sum(1 for p in blobs if p.name == result.outputs.digest("a")) == 1


LOADS: list[int] = []


class Tracked:
    """A value that records each time it is unpickled (read back from the store)."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __setstate__(self, state: dict[str, Any]) -> None:
        LOADS.append(state["value"])
        self.__dict__.update(state)


@step(outputs="thing")
def make(n: int) -> Tracked:
    return Tracked(n)


@step(outputs="one")
def use_one(thing: Tracked) -> int:
    return thing.value + 1


@step(outputs="two")
def use_two(thing: Tracked) -> int:
    return thing.value + 2


def test_cached_outputs_are_read_only_when_a_running_step_needs_them_and_once() -> None:
    LOADS.clear()
    pipe = Pipeline("lazy", [make, use_one, use_two])
    pipe.run(inputs={"n": 5})
    assert LOADS == []  # passed in memory
    assert pipe.run(inputs={"n": 5}).cached == ("make", "use_one", "use_two")
    assert LOADS == []  # nothing ran, nothing was read
    result = pipe.run(inputs={"n": 5}, force=("use_one", "use_two"))
    assert result.ran == ("use_one", "use_two")
    assert LOADS == [5]  # read once for both
    assert (result.outputs["one"], result.outputs["two"]) == (6, 7)


# -- failures ---------------------------------------------------------------------------------


def test_a_failure_names_the_step_keeps_what_finished_and_a_rerun_resumes() -> None:
    pipe = flights(check={"fail": True})
    events: list[StepEvent] = []
    with pytest.raises(StepFailed) as caught:
        pipe.run(inputs={"source": "a.csv"}, on_event=events.append)
    error = caught.value
    assert error.step == "check"
    assert error.code == "STEP_FAILED"
    message = str(error)
    assert message.startswith(
        "step 'check' of pipeline 'flights' failed: ValueError: the data has 3 bad rows."
    )
    assert (
        "Kept for the next run, which takes them from the cache: load, split, profile, fit, "
        in message
    )
    assert "Not run, as they need it: report." in message
    assert isinstance(error.__cause__, ValueError)  # in process: the step's own exception

    result = error.result
    assert result.status == "FAILED"
    assert statuses(result) == {
        "load": "ran",
        "split": "ran",
        "fit": "ran",
        "evaluate": "ran",
        "profile": "ran",
        "check": "failed",
        "report": "skipped",
    }
    assert result.steps["report"].error == "step 'check' failed"
    assert "checked" not in result.outputs
    assert result.outputs["score"] >= 0
    assert ("failed", "check") in [(e.kind, e.step) for e in events]
    assert ("skipped", "report") in [(e.kind, e.step) for e in events]

    client = get_client()
    assert client.get_run(result.run_id).info.status is RunStatus.FAILED
    failed = client.get_run(result.steps["check"].run_id)
    assert failed.info.status is RunStatus.FAILED
    assert failed.data.tags["loopml.step.error"] == "ValueError: the data has 3 bad rows"
    trace = client.read_artifact(failed.info.run_id, "error.txt").decode()
    assert "raise ValueError" in trace

    CALLS.clear()
    fixed = flights(check={"fail": False}).run(inputs={"source": "a.csv"})
    assert set(fixed.cached) == {"load", "split", "fit", "evaluate", "profile"}
    assert fixed.ran == ("check", "report")
    assert CALLS == ["check", "report"]


def test_a_wrong_number_of_outputs_fails_the_step_with_the_rule() -> None:
    @step(outputs=("a", "b"))
    def pair(x: int) -> int:
        return x

    @step()
    def nothing(x: int) -> int:
        return x

    with pytest.raises(StepFailed, match=r"step 'pair' declares 2 outputs \['a', 'b'\] and must "):
        Pipeline("p", [pair]).run(inputs={"x": 1})
    with pytest.raises(StepFailed, match=r"step 'nothing' declares no outputs but returned a val"):
        Pipeline("q", [nothing]).run(inputs={"x": 1})


# -- tracking ---------------------------------------------------------------------------------


def test_fluent_logging_inside_a_step_lands_on_the_step_run() -> None:
    result = flights().run(inputs={"source": "a.csv"})
    client = get_client()
    fit_run = client.get_run(result.steps["fit"].run_id)
    assert fit_run.data.metrics["train_rows"] == 160
    assert {"step_seconds", "step_io_seconds"} <= set(fit_run.data.metrics)
    assert fit_run.data.tags["loopml.step.name"] == "fit"
    assert fit_run.data.tags["loopml.output.model"] == result.outputs.digest("model")
    assert fit_run.data.tags["loopml.step.code_digest"] == fit.code_digest
    assert fit_run.info.run_name == "fit"
    assert loopml.active_run() is None  # the step run was ended and popped


def test_the_pipeline_run_nests_under_the_active_run_and_leaves_it_active() -> None:
    loopml.set_experiment("outer")
    with loopml.start_run() as outer:
        result = flights().run(inputs={"source": "a.csv"})
        assert loopml.active_run() is outer
    run = get_client().get_run(result.run_id)
    assert run.info.parent_run_id == outer.run_id
    assert get_client().get_experiment(run.info.experiment_id).name == "flights"


def test_pipeline_status_shows_the_latest_run_of_each_step(tracking_uri: str) -> None:
    with pytest.raises(NotFound, match=r"pipeline 'flights' has no run"):
        pipeline_status("flights", tracking_uri)
    flights().run(inputs={"source": "a.csv"}, tracking_uri=tracking_uri)
    with pytest.raises(StepFailed):
        flights(fit={"scale": 2.0}, check={"fail": True}).run(
            inputs={"source": "a.csv"}, tracking_uri=tracking_uri
        )
    status = pipeline_status("flights", tracking_uri)
    assert status.status == "FAILED"
    assert status.end_time is not None
    shown = {s.name: s.status for s in status.steps}
    assert shown == {
        "load": "cached",
        "split": "cached",
        "fit": "ran",
        "evaluate": "ran",
        "profile": "cached",
        "check": "failed",
        "report": "skipped",
    }
    by_name = {s.name: s for s in status.steps}
    assert by_name["check"].error == "ValueError: the data has 3 bad rows"
    assert by_name["load"].cached_from is not None
    assert by_name["load"].seconds == 0.0
    assert by_name["fit"].cache_key is not None
    assert by_name["report"].run_id is None
    assert [s.name for s in status.steps][:2] == ["load", "split"]


def test_a_given_tracking_uri_becomes_the_fluent_store(tmp_path: Path) -> None:
    home = tmp_path / "elsewhere"
    result = flights().run(inputs={"source": "a.csv"}, tracking_uri=str(home))
    assert (home / "loopml.db").exists()
    assert get_client().get_run(result.steps["fit"].run_id).data.metrics["train_rows"] == 160


def test_set_tracking_uri_can_name_the_artifact_store(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'db' / 'loopml.db'}"
    loopml.set_tracking_uri(database, artifact_uri=tmp_path / "blobs")
    with loopml.start_run() as run:
        loopml.log_text("hello", "note.txt")
    assert get_client().artifact_uri == str(tmp_path / "blobs")
    assert get_client().read_artifact(run.run_id, "note.txt") == b"hello"
    stored = [p.name for p in (tmp_path / "blobs").rglob("*") if p.is_file()]
    assert stored == [hashlib.sha256(b"hello").hexdigest()]


# -- materializers ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fmt"),
    [
        pytest.param(pd.DataFrame({"a": [1.5, 2.5], "b": ["x", "y"]}), "parquet", id="frame"),
        pytest.param(np.arange(12, dtype=np.int32).reshape(3, 4), "npy", id="array"),
        pytest.param({"b": [1, 2.5, None, True], "a": "text"}, "json", id="json"),
        pytest.param((1, 2), "pickle", id="tuple"),
        pytest.param({"nan": float("nan")}, "pickle", id="nan"),
        pytest.param(pd.DataFrame({"mixed": [1, "x"]}), "pickle", id="mixed-column"),
        pytest.param(np.array([object(), 1], dtype=object)[1:], "pickle", id="object-array"),
        pytest.param({1, 2, 3}, "pickle", id="set"),
    ],
)
def test_materializers_round_trip(value: Any, fmt: str) -> None:
    stored = serialize(value)
    assert stored.format == fmt
    assert serialize(value).digest == stored.digest  # deterministic
    back = deserialize(stored.extension, stored.data)
    if isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(back, value)
    elif isinstance(value, np.ndarray):
        np.testing.assert_array_equal(back, value)
        assert back.dtype == value.dtype
    elif fmt == "pickle" and isinstance(value, dict):
        assert np.isnan(back["nan"])
    else:
        assert back == value
        assert type(back) is type(value)


def test_json_output_is_canonical() -> None:
    assert serialize({"b": 1, "a": [1, 2]}).data == b'{"a":[1,2],"b":1}'
    assert serialize({"a": [1, 2], "b": 1}).digest == serialize({"b": 1, "a": [1, 2]}).digest


def test_local_executor_instance() -> None:
    result = flights().run(inputs={"source": "a.csv"}, executor=LocalExecutor())
    assert result.status == "FINISHED"
