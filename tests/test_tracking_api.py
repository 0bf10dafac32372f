"""The tracking SDK as a user meets it: fluent API and Client, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import loopml
from loopml import Client, Conflict, InvalidInput, NotFound, RunStatus, ViewType


@pytest.fixture
def client(tracking_uri: str) -> Client:
    loopml.set_tracking_uri(tracking_uri)
    return Client(tracking_uri)


def test_start_run_logs_everything_and_finishes(client: Client) -> None:
    loopml.set_experiment("sdk")
    with loopml.start_run(run_name="first", tags={"team": "x"}) as run:
        loopml.log_param("model", "gbm")
        loopml.log_params({"depth": 6, "lr": 0.1})
        loopml.log_metric("auc", 0.8, step=1)
        loopml.log_metric("auc", 0.85, step=2)
        loopml.log_metrics({"loss": 0.3, "acc": 0.9}, step=2)
        loopml.set_tag("stage", "dev")
        loopml.set_tags({"owner": "me"})
        assert loopml.active_run() is run
    assert loopml.active_run() is None
    stored = client.get_run(run.run_id)
    assert stored.info.status is RunStatus.FINISHED
    assert stored.info.end_time is not None
    assert stored.info.end_time >= stored.info.start_time
    assert stored.info.run_name == "first"
    assert dict(stored.data.params) == {"model": "gbm", "depth": "6", "lr": "0.1"}
    assert dict(stored.data.metrics) == {"auc": 0.85, "loss": 0.3, "acc": 0.9}
    assert stored.data.tags["team"] == "x"
    assert stored.data.tags["owner"] == "me"
    assert stored.data.tags["loopml.source.type"] == "LOCAL"
    assert stored.info.user_id
    history = client.get_metric_history(run.run_id, "auc")
    assert [(m.step, m.value) for m in history] == [(1, 0.8), (2, 0.85)]


def test_exception_marks_run_failed_and_propagates(client: Client) -> None:
    with pytest.raises(RuntimeError, match="boom"), loopml.start_run() as run:
        raise RuntimeError("boom")
    assert client.get_run(run.run_id).info.status is RunStatus.FAILED


def test_nested_runs_record_parent_and_end_with_parent(client: Client) -> None:
    with loopml.start_run() as parent:
        child = loopml.start_run(nested=True)
        grandchild = loopml.start_run(nested=True)
        assert loopml.active_run() is grandchild
    assert loopml.active_run() is None
    assert client.get_run(child.run_id).info.parent_run_id == parent.run_id
    assert client.get_run(grandchild.run_id).info.parent_run_id == child.run_id
    for r in (parent, child, grandchild):
        assert client.get_run(r.run_id).info.status is RunStatus.FINISHED


def test_second_top_level_run_is_refused_with_a_hint(client: Client) -> None:
    with loopml.start_run() as run, pytest.raises(InvalidInput, match="nested=True"):
        loopml.start_run()
    assert client.get_run(run.run_id).info.status is RunStatus.FINISHED


def test_resume_run_by_id(client: Client) -> None:
    with loopml.start_run() as run:
        loopml.log_metric("m", 1.0)
    with loopml.start_run(run_id=run.run_id):
        loopml.log_metric("m", 2.0, step=1)
    stored = client.get_run(run.run_id)
    assert stored.info.status is RunStatus.FINISHED
    assert stored.data.metrics["m"] == 2.0


def test_logging_without_active_run_explains(client: Client) -> None:
    with pytest.raises(NotFound, match=r"start_run"):
        loopml.log_metric("auc", 0.5)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (math.nan, "must be a finite number"),
        (math.inf, "must be a finite number"),
        ("0.5", "must be a real number"),
        (None, "must be a real number"),
        (True, "must be a real number"),
    ],
)
def test_bad_metric_values_are_refused_and_nothing_is_written(
    client: Client, value: object, message: str
) -> None:
    with loopml.start_run() as run:
        with pytest.raises(InvalidInput, match=message):
            loopml.log_metric("auc", value)  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match=message):
            loopml.log_metrics({"good": 1.0, "auc": value})  # type: ignore[dict-item]
    assert dict(client.get_run(run.run_id).data.metrics) == {}
    assert client.get_metric_history(run.run_id, "good") == []


def test_numpy_scalars_are_accepted(client: Client) -> None:
    with loopml.start_run() as run:
        loopml.log_metric("auc", np.float32(0.5), step=np.int64(3))  # type: ignore[arg-type]
    assert client.get_metric_history(run.run_id, "auc")[0].step == 3


def test_relogging_param_with_other_value_is_a_conflict_and_batch_is_atomic(
    client: Client,
) -> None:
    with loopml.start_run() as run:
        loopml.log_param("lr", 0.1)
        loopml.log_param("lr", 0.1)  # same value: fine
        with pytest.raises(Conflict, match=r"param 'lr' .* already logged as '0.1'.*got '0.2'"):
            loopml.log_param("lr", 0.2)
        with pytest.raises(Conflict):
            client.log_batch(
                run.run_id,
                metrics=[loopml.Metric("loss", 1.0, 1, 0)],
                params={"other": 1, "lr": 0.3},
                tags={"t": "v"},
            )
    stored = client.get_run(run.run_id)
    assert dict(stored.data.params) == {"lr": "0.1"}
    assert "loss" not in stored.data.metrics
    assert "t" not in stored.data.tags


def test_unknown_run_id_names_the_run(client: Client) -> None:
    missing = "0" * 32
    with pytest.raises(NotFound, match=f"run {missing} does not exist"):
        client.get_run(missing)
    with pytest.raises(NotFound):
        client.log_metric(missing, "m", 1.0)
    with pytest.raises(InvalidInput, match="32 lowercase hexadecimal"):
        client.get_run("not-a-run")


def test_delete_and_restore_run(client: Client) -> None:
    exp = client.create_experiment("del")
    run = client.create_run(exp)
    client.delete_run(run.run_id)
    assert client.search_runs(exp).items == ()
    assert len(client.search_runs(exp, run_view_type=ViewType.DELETED_ONLY)) == 1
    with pytest.raises(Conflict, match="deleted"):
        client.log_metric(run.run_id, "m", 1.0)
    client.restore_run(run.run_id)
    client.log_metric(run.run_id, "m", 1.0)
    assert [r.run_id for r in client.search_runs(exp)] == [run.run_id]


def test_search_runs_filter_order_and_pages(client: Client, rng: np.random.Generator) -> None:
    exp = client.create_experiment("search")
    expected = {}
    for i in range(30):
        run = client.create_run(exp, run_name=f"r{i}")
        auc = float(rng.uniform(0.5, 1.0))
        model = ["gbm", "lr", "rf"][i % 3]
        client.log_batch(
            run.run_id,
            metrics=[loopml.Metric("auc", auc, 0, 0)],
            params={"model": model},
            tags={"team": "x" if i % 2 else "y"},
        )
        if auc > 0.7 and model == "gbm" and i % 2:
            expected[run.run_id] = auc
    query = "metrics.auc > 0.7 and params.model = 'gbm' and tags.team = 'x'"
    page = client.search_runs(exp, query, order_by=["metrics.auc DESC"])
    assert [r.run_id for r in page] == sorted(expected, key=expected.__getitem__, reverse=True)
    assert expected, "the seeded data must give the filter something to find"
    # the experiment may be named instead of numbered
    assert {r.run_id for r in client.search_runs("search", query)} == set(expected)
    seen: list[str] = []
    token = None
    while True:
        page = client.search_runs(
            exp, order_by="attributes.run_name", max_results=7, page_token=token
        )
        seen += [r.info.run_name for r in page]
        token = page.token
        if token is None:
            break
    assert seen == sorted(f"r{i}" for i in range(30))


def test_bad_filter_grammar_is_explained(client: Client) -> None:
    exp = client.create_experiment("bad-filter")
    with pytest.raises(InvalidInput, match=r"metrics\."):
        client.search_runs(exp, "metricz.auc > 0.5")
    with pytest.raises(InvalidInput, match="page token"):
        client.search_runs(exp, page_token="garbage!")


def test_experiments_set_create_list(client: Client) -> None:
    e1 = loopml.set_experiment("alpha")
    assert loopml.set_experiment("alpha").experiment_id == e1.experiment_id
    with pytest.raises(Conflict, match="already exists"):
        client.create_experiment("alpha")
    names = [e.name for e in client.list_experiments()]
    assert "alpha" in names
    client.delete_experiment(e1.experiment_id)
    assert "alpha" not in [e.name for e in client.list_experiments()]
    with pytest.raises(InvalidInput, match="deleted"):
        loopml.set_experiment("alpha")
    client.restore_experiment(e1.experiment_id)
    with pytest.raises(NotFound):
        client.get_experiment("999999")


def test_artifacts_round_trip_and_dedup(client: Client, tmp_path: Path) -> None:
    source = tmp_path / "src"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("same")
    (source / "sub" / "b.txt").write_text("same")
    single = tmp_path / "model.bin"
    single.write_bytes(b"\x00\x01" * 1000)
    with loopml.start_run() as run:
        loopml.log_artifacts(source, "tree")
        loopml.log_artifact(single, "models")
        loopml.log_text("hello", "notes/readme.txt")
        loopml.log_dict({"a": [1, 2]}, "config.json")
        loopml.log_dict({"a": [1, 2]}, "config.yaml")
    listing = {a.path: a for a in client.list_artifacts(run.run_id)}
    assert set(listing) == {"tree", "models", "notes", "config.json", "config.yaml"}
    assert listing["tree"].is_dir
    sub = client.list_artifacts(run.run_id, "tree")
    assert [a.path for a in sub] == ["tree/a.txt", "tree/sub"]
    assert client.read_artifact(run.run_id, "tree/sub/b.txt") == b"same"
    assert json.loads(client.read_artifact(run.run_id, "config.json")) == {"a": [1, 2]}
    assert client.read_artifact(run.run_id, "config.yaml") == b"a:\n- 1\n- 2\n"
    # identical content is stored once
    digests = {
        a.digest for a in client.stores.artifact_index.iter_artifact_files(f"run:{run.run_id}")
    }
    assert len(list(client.stores.blobs.iter_digests())) == len(digests) == 5
    out = Path(client.download_artifacts(run.run_id, "tree", tmp_path / "out"))
    assert (out / "sub" / "b.txt").read_text() == "same"
    file_out = Path(client.download_artifacts(run.run_id, "models/model.bin", tmp_path / "out2"))
    assert file_out.read_bytes() == single.read_bytes()
    with pytest.raises(NotFound, match=r"artifact 'missing\.txt'"):
        client.read_artifact(run.run_id, "missing.txt")
    with pytest.raises(InvalidInput, match=r"without '\.\.'"):
        client.log_text(run.run_id, "x", "../escape.txt")


def test_log_figure_matplotlib_and_plotly(client: Client) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import plotly.graph_objects as go

    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1])
    pfig = go.Figure(go.Scatter(x=[0, 1], y=[1, 0]))
    with loopml.start_run() as run:
        loopml.log_figure(fig, "plots/roc.png")
        loopml.log_figure(pfig, "plots/roc.html")
        loopml.log_figure(pfig, "plots/roc.json")
        with pytest.raises(InvalidInput, match="matplotlib Figure or a plotly Figure"):
            loopml.log_figure(object(), "x.png")
    plt.close(fig)
    png = client.read_artifact(run.run_id, "plots/roc.png")
    assert png.startswith(b"\x89PNG")
    html = client.read_artifact(run.run_id, "plots/roc.html").decode()
    assert "<html>" in html
    assert "<script src=" not in html  # plotly.js is inline: the page works offline, no CDN
    assert (
        json.loads(client.read_artifact(run.run_id, "plots/roc.json"))["data"][0]["type"]
        == "scatter"
    )


def test_log_input_dataframe_is_hashed_and_linked(client: Client) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "y": ["a", "b", "c"]})
    with loopml.start_run() as run:
        ref = loopml.log_input(frame, context="training", name="toy", source="memory")
        loopml.log_input(frame.copy(), context="training", name="toy")  # same content: one link
    stored = client.get_run(run.run_id)
    assert len(stored.inputs) == 1
    assert stored.inputs[0].digest == ref.digest
    assert stored.inputs[0].num_rows == 3
    assert stored.inputs[0].context == "training"
    changed = frame.assign(x=[1, 2, 4])
    assert loopml.log_input.__module__  # keep the public function importable
    with loopml.start_run() as other:
        ref2 = loopml.log_input(changed, name="toy")
    assert ref2.digest != ref.digest
    hits = client.search_runs(stored.info.experiment_id, f"datasets.digest = '{ref.digest}'")
    assert [r.run_id for r in hits] == [run.run_id]
    assert other.run_id != run.run_id


def test_set_tracking_uri_rejects_unknown_scheme() -> None:
    with pytest.raises(InvalidInput, match=r"tracking URI scheme .* got 'foo://'"):
        loopml.set_tracking_uri("foo://bar")


def test_default_store_lives_in_loopml_home(isolated_home: Path) -> None:
    with loopml.start_run():
        loopml.log_metric("m", 1.0)
    assert (isolated_home / "loopml.db").exists()
    assert loopml.get_tracking_uri() == f"sqlite:///{isolated_home / 'loopml.db'}"
    mode = Client().stores.database.engine.connect().exec_driver_sql("PRAGMA journal_mode").scalar()
    assert mode == "wal"


def test_gc_finds_only_unreferenced_blobs(client: Client) -> None:
    with loopml.start_run() as run:
        loopml.log_text("kept", "kept.txt")
    with loopml.start_run() as doomed:
        loopml.log_text("doomed", "doomed.txt")
    orphan = client.stores.blobs.put_bytes(b"orphan")
    fresh = client.gc(dry_run=False)  # default grace period: a just-written blob is kept
    assert fresh.unreferenced == ()
    assert fresh.kept_recent == 1
    report = client.gc(min_age_seconds=0)
    assert report.unreferenced == (orphan.digest,)
    assert not report.deleted
    assert client.stores.blobs.exists(orphan.digest)  # dry run deletes nothing
    client.delete_run(doomed.run_id)
    report = client.gc(dry_run=False, include_deleted_runs=True, min_age_seconds=0)
    assert report.deleted
    assert len(report.unreferenced) == 2
    assert not client.stores.blobs.exists(orphan.digest)
    assert client.read_artifact(run.run_id, "kept.txt") == b"kept"


def test_state_changes_leave_audit_events(client: Client) -> None:
    import sqlalchemy as sa

    from loopml.store.sql.schema import audit_events

    exp = client.create_experiment("audited")
    run = client.create_run(exp)
    client.delete_run(run.run_id)
    client.restore_run(run.run_id)
    with client.stores.database.read() as conn:
        rows = conn.execute(sa.select(audit_events).order_by(audit_events.c.event_id)).all()
    actions = [(r.action, r.object_id) for r in rows]
    assert actions == [
        ("experiment.create", exp),
        ("run.delete", run.run_id),
        ("run.restore", run.run_id),
    ]
    assert all(r.actor for r in rows)
    assert json.loads(rows[1].before) == {"lifecycle_stage": "active"}
    assert json.loads(rows[1].after) == {"lifecycle_stage": "deleted"}


def test_gc_grace_period_follows_freshening(client: Client) -> None:
    """A put that finds its blob already stored refreshes its time, as git does."""
    import os
    import time

    from loopml.store.gc import collect_garbage

    blobs = client.stores.blobs
    ref = blobs.put_bytes(b"shared content")
    path = os.path.join(client.artifact_uri, ref.digest[:2], ref.digest)
    old = time.time() - 7200
    os.utime(path, (old, old))
    assert blobs.modified(ref.digest) == pytest.approx(old)
    hour = 3600.0
    report = collect_garbage(blobs, client.stores.artifact_index, min_age_seconds=hour)
    assert report.unreferenced == (ref.digest,)  # two hours old: collectable
    blobs.put_bytes(b"shared content")  # deduplicated put: freshened
    report = collect_garbage(blobs, client.stores.artifact_index, min_age_seconds=hour)
    assert report.unreferenced == ()
    assert report.kept_recent == 1


def test_end_run_rejects_a_status_that_does_not_end_a_run(client: Client) -> None:
    with loopml.start_run() as run:
        with pytest.raises(InvalidInput, match="must be FINISHED, FAILED or KILLED"):
            loopml.end_run("RUNNING")
        with pytest.raises(InvalidInput, match="must be FINISHED, FAILED or KILLED"):
            loopml.end_run("bogus")
        assert loopml.active_run() is run  # nothing was ended
    assert client.get_run(run.run_id).info.status is RunStatus.FINISHED
    killed = loopml.start_run()
    loopml.end_run("KILLED")
    assert client.get_run(killed.run_id).info.status is RunStatus.KILLED


def test_resuming_an_unknown_run_is_not_found(client: Client) -> None:
    with pytest.raises(NotFound, match="does not exist"):
        loopml.start_run(run_id="a" * 32)
    assert loopml.active_run() is None


def test_unfinished_run_ends_at_interpreter_exit(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import loopml\n"
        f"loopml.set_tracking_uri({str(tmp_path / 'h')!r})\n"
        "run = loopml.start_run()\n"
        "print(run.run_id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    run_id = done.stdout.strip()
    assert Client(str(tmp_path / "h")).get_run(run_id).info.status is RunStatus.FINISHED


def test_explicit_parent_run_id(client: Client) -> None:
    parent = client.create_run(client.create_experiment("parents"))
    with loopml.start_run(
        experiment_id=parent.info.experiment_id, parent_run_id=parent.run_id
    ) as r:
        pass
    assert client.get_run(r.run_id).info.parent_run_id == parent.run_id
    with pytest.raises(NotFound, match="parent run"):
        loopml.start_run(parent_run_id="b" * 32)
