"""The tracking store contract as named checks (see :class:`loopml.store.tracking.TrackingStore`).

Run it from a test over every backend::

    @pytest.mark.parametrize("name", [name for name, _ in check_tracking_store(make_store)])
    def test_tracking_store(name):
        dict(check_tracking_store(make_store))[name]()

Each check calls ``make_store`` for a fresh, empty, schema-ready store when it runs (never when it
is yielded), and raises :class:`AssertionError` with a message naming what broke. Inputs are built
with ``loopml.core.validation`` and ``loopml.core.filters``, as the SDK builds them, so a check
only ever hands the store what a real client would.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import json
import math
import random
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from loopml.core.entities import (
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    Run,
    RunStatus,
    ViewType,
)
from loopml.core.errors import Conflict, InvalidInput, NotFound
from loopml.core.filters import parse_filter, parse_order_by
from loopml.core.ids import now_ms
from loopml.core.validation import (
    MAX_KEY_LENGTH,
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    ValidBatch,
    validate_batch,
    validate_experiment_name,
    validate_metric,
    validate_tag,
)
from loopml.store.conformance._support import (
    THREADS,
    expect,
    expect_equal,
    expect_raises,
    fail,
    named_checks,
    run_threads,
)
from loopml.store.tracking import SEARCH_MAX_RESULTS_LIMIT, TrackingStore

__all__ = ["check_tracking_store"]

StoreFactory = Callable[[], TrackingStore]

#: A fixed clock for runs whose start time matters (2023-11-14, in milliseconds).
_T0 = 1_700_000_000_000
_SEED = 20261123
_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


# -- helpers --------------------------------------------------------------------------------------


def _metric(key: str, value: float, step: int = 0, timestamp: int = _T0) -> Metric:
    return validate_metric(key, value, timestamp, step)


def _batch(
    metrics: Iterable[Metric] = (),
    params: Mapping[str, object] | None = None,
    tags: Mapping[str, object] | None = None,
) -> ValidBatch:
    return validate_batch(metrics, params or {}, tags or {})


def _new_experiment(store: TrackingStore, name: str = "conformance") -> str:
    return store.create_experiment(validate_experiment_name(name))


def _new_run(
    store: TrackingStore,
    experiment_id: str,
    name: str = "run",
    start_time: int = _T0,
    tags: Mapping[str, str] | None = None,
    parent_run_id: str | None = None,
) -> str:
    checked = sorted(
        (t.key, t.value) for t in (validate_tag(k, v) for k, v in (tags or {}).items())
    )
    run = store.create_run(
        experiment_id, "conformance-user", start_time, name, checked, parent_run_id
    )
    return run.info.run_id


def _absent_run_id() -> str:
    """A well-formed run id that no store holds."""
    return uuid.uuid4().hex


def _history(store: TrackingStore, run_id: str, key: str) -> list[tuple[int, int, float]]:
    return [(m.step, m.timestamp, m.value) for m in store.get_metric_history(run_id, key)]


def _names(runs: Iterable[Run]) -> list[str]:
    return [r.info.run_name for r in runs]


def _search(
    store: TrackingStore,
    experiment_ids: Sequence[str],
    filter_string: str = "",
    order_by: Sequence[str] = (),
    view_type: ViewType = ViewType.ACTIVE_ONLY,
) -> list[str]:
    """Run names of every match (one page large enough for any check), in the store's order."""
    page = store.search_runs(
        experiment_ids,
        parse_filter(filter_string),
        parse_order_by(list(order_by)),
        view_type,
        max_results=1000,
    )
    expect(page.token is None, f"a search of a few runs returned a next-page token {page.token!r}")
    return _names(page)


def _expect_matches(
    store: TrackingStore, experiment_id: str, filter_string: str, want: Iterable[str]
) -> None:
    got = sorted(_search(store, [experiment_id], filter_string))
    expect(
        got == sorted(want),
        f"search_runs filter {filter_string!r} should match {sorted(want)}; got {got}",
    )


def _expect_order(
    store: TrackingStore, experiment_id: str, order_by: Sequence[str], want: Sequence[str]
) -> None:
    got = _search(store, [experiment_id], order_by=order_by)
    expect(
        got == list(want), f"search_runs order_by {list(order_by)} should give {want}; got {got}"
    )


# -- experiments ----------------------------------------------------------------------------------


def _check_experiment_create_and_get(make_store: StoreFactory) -> None:
    """create_experiment returns an id; get_experiment and get_experiment_by_name return it."""
    store = make_store()
    before = now_ms()
    experiment_id = store.create_experiment(
        "conformance experiment", "s3://bucket/artifacts", {"team": "ml", "note": "n"}
    )
    after = now_ms()
    got = store.get_experiment(experiment_id)
    expect_equal(got.experiment_id, experiment_id, "get_experiment(...).experiment_id")
    expect_equal(got.name, "conformance experiment", "get_experiment(...).name")
    expect_equal(got.artifact_location, "s3://bucket/artifacts", "artifact_location")
    expect_equal(got.lifecycle_stage, LifecycleStage.ACTIVE, "a new experiment's stage")
    expect_equal(dict(got.tags), {"team": "ml", "note": "n"}, "experiment tags")
    expect(
        before <= got.creation_time <= after and got.creation_time <= got.last_update_time,
        f"creation_time {got.creation_time} should lie in [{before}, {after}] and not exceed "
        f"last_update_time {got.last_update_time}",
    )
    by_name = store.get_experiment_by_name("conformance experiment")
    expect_equal(by_name, got, "get_experiment_by_name of the new experiment")
    expect_equal(store.get_experiment_by_name("no such experiment"), None, "unknown name lookup")
    plain = store.get_experiment(store.create_experiment("no tags"))
    expect_equal(dict(plain.tags), {}, "tags of an experiment created without tags")
    expect(isinstance(plain.artifact_location, str), "artifact_location should be a str")


def _check_experiment_ids_are_strings(make_store: StoreFactory) -> None:
    """Experiment ids are decimal-digit strings everywhere: returned, listed, on runs, in search."""
    store = make_store()
    ids = [_new_experiment(store, f"exp {i}") for i in range(3)]
    for experiment_id in ids:
        expect(
            isinstance(experiment_id, str) and experiment_id.isdigit(),
            f"create_experiment should return a decimal string id; got {experiment_id!r}",
        )
    expect(len(set(ids)) == 3, f"three experiments got ids {ids}")
    listed = store.list_experiments(ViewType.ALL)
    expect(
        all(isinstance(e.experiment_id, str) for e in listed),
        f"list_experiments returned non-str ids: {[e.experiment_id for e in listed]!r}",
    )
    run = store.create_run(ids[1], "u", _T0, "r")
    expect_equal(run.info.experiment_id, ids[1], "create_run(...).info.experiment_id")
    expect_equal(store.get_run(run.info.run_id).info.experiment_id, ids[1], "run experiment_id")
    found = store.search_runs([ids[1]])
    expect_equal([r.info.experiment_id for r in found], [ids[1]], "search_runs experiment_id")


def _check_experiment_duplicate_name_conflict(make_store: StoreFactory) -> None:
    """A taken name (deleted experiments included) is a Conflict and changes nothing."""
    store = make_store()
    first = _new_experiment(store, "taken")
    expect_raises(Conflict, lambda: store.create_experiment("taken"), "create_experiment(taken)")
    store.delete_experiment(first)
    expect_raises(
        Conflict, lambda: store.create_experiment("taken"), "create_experiment(name of deleted)"
    )
    named = [e for e in store.list_experiments(ViewType.ALL) if e.name == "taken"]
    expect_equal([e.experiment_id for e in named], [first], "experiments named 'taken'")
    other = _new_experiment(store, "Taken")
    expect(other != first, "names are case-sensitive: 'Taken' should be a new experiment")


def _check_experiment_unknown_id_not_found(make_store: StoreFactory) -> None:
    """A well-formed id that does not exist is NotFound (search just finds nothing)."""
    store = make_store()
    _new_experiment(store)
    unknown = "987654321"
    expect_raises(NotFound, lambda: store.get_experiment(unknown), "get_experiment(unknown)")
    expect_raises(NotFound, lambda: store.delete_experiment(unknown), "delete_experiment")
    expect_raises(NotFound, lambda: store.restore_experiment(unknown), "restore_experiment")
    expect_raises(
        NotFound, lambda: store.create_run(unknown, "u", _T0, "r"), "create_run(unknown exp)"
    )
    found = store.search_runs([unknown])
    expect_equal((len(found), found.token), (0, None), "search_runs in an unknown experiment")


def _check_experiment_malformed_id_invalid_input(make_store: StoreFactory) -> None:
    """An id that cannot be an experiment id is InvalidInput, not NotFound."""
    store = make_store()
    experiment_id = _new_experiment(store)
    for bad in ("abc", "-1", "1.5", "", "1e3", "0x1", "1; DROP TABLE runs"):
        calls: dict[str, Callable[[], object]] = {
            "get_experiment": functools.partial(store.get_experiment, bad),
            "delete_experiment": functools.partial(store.delete_experiment, bad),
            "restore_experiment": functools.partial(store.restore_experiment, bad),
            "create_run": functools.partial(store.create_run, bad, "u", _T0, "r"),
            "search_runs": functools.partial(store.search_runs, [bad]),
        }
        for method, call in calls.items():
            expect_raises(InvalidInput, call, f"{method}({bad!r})")
    expect_equal(
        store.get_experiment(experiment_id).lifecycle_stage, LifecycleStage.ACTIVE, "stage"
    )


def _check_experiment_invalid_name(make_store: StoreFactory) -> None:
    """Empty, blank and over-long names are InvalidInput."""
    store = make_store()
    existing = store.list_experiments(ViewType.ALL)
    for bad in ("", "   ", "x" * 257):
        create = functools.partial(store.create_experiment, bad)
        expect_raises(InvalidInput, create, f"create_experiment({bad[:20]!r})")
    expect_equal(store.list_experiments(ViewType.ALL), existing, "experiments after rejections")


def _ids(experiments: Iterable[Experiment]) -> set[str]:
    return {e.experiment_id for e in experiments}


def _check_experiment_list_view_types(make_store: StoreFactory) -> None:
    """list_experiments honours ACTIVE_ONLY (default), DELETED_ONLY and ALL."""
    store = make_store()
    existing = _ids(store.list_experiments(ViewType.ALL))
    a, b, c = (_new_experiment(store, name) for name in ("a", "b", "c"))
    store.delete_experiment(b)
    active = _ids(store.list_experiments()) - existing
    deleted = _ids(store.list_experiments(ViewType.DELETED_ONLY)) - existing
    every = _ids(store.list_experiments(ViewType.ALL)) - existing
    expect_equal(active, {a, c}, "list_experiments() after deleting b")
    expect_equal(deleted, {b}, "list_experiments(DELETED_ONLY)")
    expect_equal(every, {a, b, c}, "list_experiments(ALL)")


def _check_experiment_delete_restore(make_store: StoreFactory) -> None:
    """A deleted experiment stays readable (stage DELETED); restore brings it back."""
    store = make_store()
    experiment_id = _new_experiment(store, "soft")
    run_id = _new_run(store, experiment_id)
    created = store.get_experiment(experiment_id)
    store.delete_experiment(experiment_id)
    deleted = store.get_experiment(experiment_id)
    expect_equal(deleted.lifecycle_stage, LifecycleStage.DELETED, "stage after delete")
    expect(
        deleted.last_update_time >= created.last_update_time,
        "last_update_time went backwards on delete",
    )
    by_name = store.get_experiment_by_name("soft")
    expect(by_name is not None, "get_experiment_by_name should find a deleted experiment")
    expect_equal(store.get_run(run_id).info.run_id, run_id, "a run of a deleted experiment")
    store.restore_experiment(experiment_id)
    restored = store.get_experiment(experiment_id)
    expect_equal(restored.lifecycle_stage, LifecycleStage.ACTIVE, "stage after restore")
    expect_equal(restored.name, "soft", "name after restore")
    expect(experiment_id in _ids(store.list_experiments()), "restored experiment not listed")


# -- runs -----------------------------------------------------------------------------------------


def _check_run_create_and_get(make_store: StoreFactory) -> None:
    """create_run returns a RUNNING, ACTIVE run; get_run returns the same run."""
    store = make_store()
    experiment_id = _new_experiment(store)
    run = store.create_run(
        experiment_id, "alice", _T0, "first-run", [("team", "ml"), ("note", "hello")]
    )
    info = run.info
    expect(bool(_RUN_ID.match(info.run_id)), f"run id should be 32 hex chars; got {info.run_id!r}")
    want = (experiment_id, "first-run", "alice", RunStatus.RUNNING, _T0, None)
    got = (info.experiment_id, info.run_name, info.user_id, info.status, info.start_time)
    expect_equal((*got, info.end_time), want, "create_run info fields")
    expect_equal(info.lifecycle_stage, LifecycleStage.ACTIVE, "a new run's lifecycle_stage")
    expect_equal(info.parent_run_id, None, "parent_run_id of a top-level run")
    expect(isinstance(info.artifact_uri, str) and bool(info.artifact_uri), "empty artifact_uri")
    expect(
        {"team": "ml", "note": "hello"}.items() <= dict(run.data.tags).items(),
        f"create_run tags missing: {dict(run.data.tags)}",
    )
    expect_equal((dict(run.data.metrics), dict(run.data.params)), ({}, {}), "new run data")
    fetched = store.get_run(info.run_id)
    expect_equal(fetched.info, info, "get_run(...).info")
    expect_equal(dict(fetched.data.tags), dict(run.data.tags), "get_run(...).data.tags")
    expect_equal(fetched.inputs, (), "inputs of a new run")
    second = _new_run(store, experiment_id)
    expect(second != info.run_id, "two runs got the same id")


def _check_run_update_and_terminate(make_store: StoreFactory) -> None:
    """update_run sets status, end time and name; each call returns the stored RunInfo."""
    store = make_store()
    run_id = _new_run(store, _new_experiment(store), "before")
    finished = store.update_run(run_id, status=RunStatus.FINISHED, end_time=_T0 + 5000)
    expect_equal((finished.status, finished.end_time), (RunStatus.FINISHED, _T0 + 5000), "ended")
    expect_equal(store.get_run(run_id).info, finished, "get_run after update_run")
    renamed = store.update_run(run_id, run_name="after")
    expect_equal(renamed.run_name, "after", "run_name after rename")
    expect_equal(
        (renamed.status, renamed.end_time), (RunStatus.FINISHED, _T0 + 5000), "rename kept"
    )
    expect_equal(store.update_run(run_id), renamed, "update_run with nothing to change")
    for status in (RunStatus.FAILED, RunStatus.KILLED, RunStatus.RUNNING):
        got = store.update_run(run_id, status=status)
        expect_equal(got.status, status, f"status after update_run(status={status.value})")
    expect_equal(store.get_run(run_id).info.start_time, _T0, "start_time after updates")


def _run_calls(
    store: TrackingStore, experiment_id: str, run_id: str
) -> dict[str, Callable[[], object]]:
    """Every run-taking method of the protocol, called on ``run_id``."""
    return {
        "get_run": lambda: store.get_run(run_id),
        "update_run": lambda: store.update_run(run_id, status=RunStatus.FINISHED),
        "delete_run": lambda: store.delete_run(run_id),
        "restore_run": lambda: store.restore_run(run_id),
        "log_batch": lambda: store.log_batch(run_id, _batch([_metric("m", 1.0)])),
        "log_batch(empty batch)": lambda: store.log_batch(run_id, ValidBatch()),
        "get_metric_history": lambda: store.get_metric_history(run_id, "m"),
        "delete_tag": lambda: store.delete_tag(run_id, "t"),
        "log_inputs": lambda: store.log_inputs(run_id, [DatasetInput("d", "d" * 64)]),
        "create_run(parent_run_id=...)": lambda: store.create_run(
            experiment_id, "u", _T0, "child", (), run_id
        ),
    }


def _check_run_unknown_not_found(make_store: StoreFactory) -> None:
    """Every run-taking method says NotFound for a well-formed id that does not exist."""
    store = make_store()
    experiment_id = _new_experiment(store)
    _new_run(store, experiment_id)
    unknown = _absent_run_id()
    for method, call in _run_calls(store, experiment_id, unknown).items():
        expect_raises(NotFound, call, f"{method} of unknown run {unknown}")


def _check_run_malformed_id_invalid_input(make_store: StoreFactory) -> None:
    """A run id that is not 32 lowercase hex characters is InvalidInput everywhere."""
    store = make_store()
    experiment_id = _new_experiment(store)
    kept = _new_run(store, experiment_id)
    malformed = (
        "",
        "abc",
        "g" * 32,
        "A" * 32,
        "0" * 31,
        "0" * 33,
        "../" * 10 + "00",
        " " + "0" * 31,
    )
    for bad in malformed:
        for method, call in _run_calls(store, experiment_id, bad).items():
            expect_raises(InvalidInput, call, f"{method} of run id {bad!r}")
    expect_equal(_search(store, [experiment_id]), ["run"], "runs after calls with malformed ids")
    expect_equal(store.get_run(kept).data.metrics, {}, "metrics of the untouched run")


def _check_run_in_deleted_experiment_conflict(make_store: StoreFactory) -> None:
    """A deleted experiment takes no new runs (Conflict) until it is restored."""
    store = make_store()
    experiment_id = _new_experiment(store)
    old = _new_run(store, experiment_id, "old")
    store.delete_experiment(experiment_id)
    expect_raises(
        Conflict,
        lambda: store.create_run(experiment_id, "u", _T0, "new"),
        "create_run in a deleted experiment",
    )
    expect_equal(store.get_run(old).info.run_name, "old", "existing run of a deleted experiment")
    store.restore_experiment(experiment_id)
    _new_run(store, experiment_id, "new")
    expect_equal(sorted(_search(store, [experiment_id])), ["new", "old"], "runs after restore")


def _check_run_parent(make_store: StoreFactory) -> None:
    """parent_run_id is stored and searchable; a deleted parent is a Conflict."""
    store = make_store()
    experiment_id = _new_experiment(store)
    parent = _new_run(store, experiment_id, "parent")
    child = _new_run(store, experiment_id, "child", parent_run_id=parent)
    _new_run(store, experiment_id, "other")
    expect_equal(store.get_run(child).info.parent_run_id, parent, "child's parent_run_id")
    expect_equal(store.get_run(parent).info.parent_run_id, None, "parent's parent_run_id")
    _expect_matches(store, experiment_id, f"attributes.parent_run_id = '{parent}'", ["child"])
    store.delete_run(parent)
    expect_raises(
        Conflict,
        lambda: store.create_run(experiment_id, "u", _T0, "orphan", (), parent),
        "create_run with a deleted parent",
    )


def _check_run_delete_restore(make_store: StoreFactory) -> None:
    """delete_run hides a run from default searches, keeps it readable; restore_run undoes it."""
    store = make_store()
    experiment_id = _new_experiment(store)
    kept = _new_run(store, experiment_id, "kept", _T0 + 1)
    gone = _new_run(store, experiment_id, "gone", _T0)
    store.log_batch(gone, _batch([_metric("m", 0.5)], {"p": "1"}, {"t": "x"}))
    store.delete_run(gone)
    expect_equal(
        store.get_run(gone).info.lifecycle_stage, LifecycleStage.DELETED, "stage after delete"
    )
    expect_equal(_search(store, [experiment_id]), ["kept"], "ACTIVE_ONLY search after delete")
    expect_equal(
        _search(store, [experiment_id], view_type=ViewType.DELETED_ONLY), ["gone"], "DELETED_ONLY"
    )
    expect_equal(
        _search(store, [experiment_id], view_type=ViewType.ALL), ["kept", "gone"], "ALL search"
    )
    expect_equal(store.get_run(kept).info.lifecycle_stage, LifecycleStage.ACTIVE, "other run")
    store.restore_run(gone)
    restored = store.get_run(gone)
    expect_equal(restored.info.lifecycle_stage, LifecycleStage.ACTIVE, "stage after restore")
    expect_equal(
        (dict(restored.data.metrics), dict(restored.data.params), restored.data.tags.get("t")),
        ({"m": 0.5}, {"p": "1"}, "x"),
        "data of a restored run",
    )
    expect_equal(sorted(_search(store, [experiment_id])), ["gone", "kept"], "after restore")


def _check_log_to_deleted_run_conflict(make_store: StoreFactory) -> None:
    """A deleted run takes no writes (Conflict) and the refused writes leave nothing behind."""
    store = make_store()
    run_id = _new_run(store, _new_experiment(store), tags={"t": "kept"})
    store.delete_run(run_id)
    calls: dict[str, Callable[[], object]] = {
        "log_batch": lambda: store.log_batch(
            run_id, _batch([_metric("m", 1.0)], {"p": "1"}, {"t2": "x"})
        ),
        "update_run": lambda: store.update_run(run_id, status=RunStatus.FINISHED),
        "delete_tag": lambda: store.delete_tag(run_id, "t"),
        "log_inputs": lambda: store.log_inputs(run_id, [DatasetInput("d", "e" * 64)]),
    }
    for what, call in calls.items():
        expect_raises(Conflict, call, f"{what} on a deleted run")
    store.restore_run(run_id)
    run = store.get_run(run_id)
    expect_equal((dict(run.data.metrics), dict(run.data.params)), ({}, {}), "metrics, params")
    expect_equal(run.data.tags.get("t"), "kept", "tag a refused delete_tag named")
    expect("t2" not in run.data.tags, "a tag of the refused batch was written")
    expect_equal((run.info.status, run.inputs), (RunStatus.RUNNING, ()), "status and inputs")
    expect_equal(store.get_metric_history(run_id, "m"), [], "history of a refused metric")


# -- logging --------------------------------------------------------------------------------------


def _check_log_batch_round_trip(make_store: StoreFactory) -> None:
    """Metrics, params and tags of several batches all show in get_run; an empty batch is fine."""
    store = make_store()
    run_id = _new_run(store, _new_experiment(store))
    store.log_batch(run_id, ValidBatch())
    store.log_batch(
        run_id,
        _batch(
            [_metric("loss", 0.9, 0), _metric("loss", 0.5, 1), _metric("val/auc", 0.7, 0)],
            {"lr": 0.01, "model": "gbm"},
            {"stage": "dev"},
        ),
    )
    store.log_batch(run_id, _batch([_metric("loss", 0.25, 2)], {"depth": 6}, {"owner": "me"}))
    store.log_batch(run_id, ValidBatch())
    run = store.get_run(run_id)
    expect_equal(dict(run.data.metrics), {"loss": 0.25, "val/auc": 0.7}, "latest metrics")
    expect_equal(
        dict(run.data.params), {"lr": "0.01", "model": "gbm", "depth": "6"}, "params (as str)"
    )
    expect(
        {"stage": "dev", "owner": "me"}.items() <= dict(run.data.tags).items(),
        f"tags should include stage and owner; got {dict(run.data.tags)}",
    )
    expect_equal(
        _history(store, run_id, "loss"),
        [(0, _T0, 0.9), (1, _T0, 0.5), (2, _T0, 0.25)],
        "history of 'loss'",
    )


def _check_latest_metric_by_step_timestamp_value(make_store: StoreFactory) -> None:
    """The latest value is the point with the largest (step, timestamp, value), not the last one."""
    store = make_store()
    run_id = _new_run(store, _new_experiment(store))

    def log_and_expect(points: Sequence[tuple[int, int, float]], want: float, why: str) -> None:
        store.log_batch(run_id, _batch([_metric("m", v, s, t) for s, t, v in points]))
        got = store.get_run(run_id).data.metrics.get("m")
        expect(got == want, f"latest 'm' should be {want} ({why}); got {got}")

    log_and_expect([(5, 100, 1.0)], 1.0, "first point")
    log_and_expect([(3, 200, 2.0)], 1.0, "an older step with a newer timestamp does not win")
    log_and_expect([(5, 50, 3.0)], 1.0, "same step, older timestamp does not win")
    log_and_expect([(5, 100, 0.5)], 1.0, "same step and timestamp, smaller value does not win")
    log_and_expect([(5, 100, 1.5)], 1.5, "same step and timestamp, larger value wins")
    log_and_expect([(5, 101, -7.0)], -7.0, "same step, newer timestamp wins")
    log_and_expect([(9, 1, 4.0), (12, 1, 6.0), (10, 999, 5.0)], 6.0, "largest step within a batch")
    log_and_expect([(12, 1, 6.5), (12, 1, 6.25)], 6.5, "largest value among equal points")
    expect_equal(len(store.get_metric_history(run_id, "m")), 11, "history keeps every point")
    other = _new_run(store, store.get_run(run_id).info.experiment_id, "negative steps")
    store.log_batch(other, _batch([_metric("m", 1.0, -5), _metric("m", 2.0, -10, _T0 * 2)]))
    expect_equal(store.get_run(other).data.metrics.get("m"), 1.0, "latest of negative steps")


def _check_metric_history_complete_and_ordered(make_store: StoreFactory) -> None:
    """get_metric_history returns every point of one key, ordered by (step, timestamp)."""
    store = make_store()
    run_id = _new_run(store, _new_experiment(store))
    rng = random.Random(_SEED)
    steps = list(range(200)) + [rng.randrange(200) for _ in range(60)]  # some steps repeat
    rng.shuffle(steps)
    points = [(step, _T0 + i * 7 % 1000 + i, rng.uniform(-1, 1)) for i, step in enumerate(steps)]
    metrics = [_metric("acc", v, s, t) for s, t, v in points]
    store.log_batch(run_id, _batch(metrics[:100]))
    for metric in metrics[100:130]:  # one point per batch, like log_metric
        store.log_batch(run_id, _batch([metric]))
    store.log_batch(run_id, _batch([*metrics[130:], _metric("other", 1.0, 5)]))
    got = store.get_metric_history(run_id, "acc")
    expect(
        all(isinstance(m, Metric) and m.key == "acc" for m in got),
        f"history should be Metric points of key 'acc'; got {got[:3]}...",
    )
    keys = [(m.step, m.timestamp) for m in got]
    expect(keys == sorted(keys), f"history is not ordered by (step, timestamp): {keys[:10]}...")
    want = sorted(points)
    expect(
        sorted(_history(store, run_id, "acc")) == want,
        f"history should hold the {len(want)} logged points exactly; got {len(got)} points",
    )
    expect_equal(_history(store, run_id, "other"), [(5, _T0, 1.0)], "history of another key")
    expect_equal(store.get_metric_history(run_id, "never-logged"), [], "history of unknown key")


def _check_metric_values_round_trip(make_store: StoreFactory) -> None:
    """Doubles round-trip bit-exactly; 64-bit steps and timestamps round-trip at their limits."""
    store = make_store()
    run_id = _new_run(store, _new_experiment(store))
    values = [
        0.0,
        1.0,
        -1.5,
        0.1 + 0.2,
        math.pi,
        1e-300,
        5e-324,
        2.0**53 + 2,
        1.7976931348623157e308,
    ]
    values += [-1.7976931348623157e308, 123456789.123456789]
    store.log_batch(run_id, _batch([_metric(f"v{i}", v) for i, v in enumerate(values)]))
    limits = [(_INT64_MIN, _INT64_MIN), (_INT64_MAX, _INT64_MAX), (0, 0), (-1, 1)]
    store.log_batch(
        run_id, _batch([_metric("limits", float(i), s, t) for i, (s, t) in enumerate(limits)])
    )
    run = store.get_run(run_id)
    for i, value in enumerate(values):
        got = run.data.metrics.get(f"v{i}")
        expect(got == value, f"metric value {value!r} came back as {got!r}")
    got_history = _history(store, run_id, "limits")
    want_history = sorted((s, t, float(i)) for i, (s, t) in enumerate(limits))
    expect_equal(got_history, want_history, "history at the int64 limits of step and timestamp")
    expect_equal(run.data.metrics.get("limits"), 1.0, "latest point is the one at step 2**63-1")


def _check_param_relog_same_value(make_store: StoreFactory) -> None:
    """Re-logging a param with the same value is accepted and stores it once."""
    store = make_store()
    run_id = _new_run(store, _new_experiment(store))
    store.log_batch(run_id, _batch(params={"lr": 0.1, "model": "rf"}))
    store.log_batch(run_id, _batch([_metric("m", 1.0)], {"lr": "0.1", "depth": 3}))
    store.log_batch(run_id, _batch(params={"lr": 0.1}))
    run = store.get_run(run_id)
    expect_equal(dict(run.data.params), {"lr": "0.1", "model": "rf", "depth": "3"}, "params")
    expect_equal(dict(run.data.metrics), {"m": 1.0}, "metric of the batch that re-logged lr")


def _check_param_conflict_writes_nothing(make_store: StoreFactory) -> None:
    """A param re-logged with another value is a Conflict and the whole batch writes nothing."""
    store = make_store()
    run_id = _new_run(store, _new_experiment(store))
    store.log_batch(run_id, _batch([_metric("m", 1.0, 0)], {"lr": "0.1"}, {"t": "before"}))
    bad = _batch(
        [_metric("m", 9.0, 5), _metric("fresh", 2.0)],
        {"a_new": "x", "lr": "0.2", "z_new": "y"},
        {"t": "after", "new_tag": "z"},
    )
    error = expect_raises(Conflict, lambda: store.log_batch(run_id, bad), "re-logging lr=0.2")
    expect("lr" in str(error), f"the Conflict message should name the param 'lr': {error}")
    run = store.get_run(run_id)
    expect_equal(dict(run.data.params), {"lr": "0.1"}, "params after the refused batch")
    expect_equal(dict(run.data.metrics), {"m": 1.0}, "metrics after the refused batch")
    expect_equal(run.data.tags.get("t"), "before", "tag 't' after the refused batch")
    expect("new_tag" not in run.data.tags, "a tag of the refused batch was written")
    expect_equal(_history(store, run_id, "m"), [(0, _T0, 1.0)], "history of 'm'")
    expect_equal(_history(store, run_id, "fresh"), [], "history of a metric of the refused batch")
    store.log_batch(run_id, _batch([_metric("m", 3.0, 1)], {"lr": "0.1"}))
    expect_equal(store.get_run(run_id).data.metrics.get("m"), 3.0, "a good batch after it")


def _check_tags_overwrite(make_store: StoreFactory) -> None:
    """A tag logged again takes the new value; within one batch the last value wins."""
    store = make_store()
    run_id = _new_run(store, _new_experiment(store), tags={"t": "created"})
    store.log_batch(run_id, _batch(tags={"t": "first", "u": "1"}))
    expect_equal(store.get_run(run_id).data.tags.get("t"), "first", "tag after overwrite")
    both = validate_batch(tags=[validate_tag("t", "second"), validate_tag("t", "third")])
    store.log_batch(run_id, both)
    tags = store.get_run(run_id).data.tags
    expect_equal((tags.get("t"), tags.get("u")), ("third", "1"), "tags after a batch of two")


def _check_delete_tag(make_store: StoreFactory) -> None:
    """delete_tag removes one tag; deleting a missing tag is NotFound; it can be set again."""
    store = make_store()
    run_id = _new_run(store, _new_experiment(store), tags={"a": "1", "b": "2"})
    store.delete_tag(run_id, "a")
    tags = store.get_run(run_id).data.tags
    expect("a" not in tags and tags.get("b") == "2", f"after delete_tag('a'): {dict(tags)}")
    expect_raises(NotFound, lambda: store.delete_tag(run_id, "a"), "delete_tag of a deleted tag")
    expect_raises(NotFound, lambda: store.delete_tag(run_id, "never"), "delete_tag(missing)")
    store.log_batch(run_id, _batch(tags={"a": "again"}))
    expect_equal(store.get_run(run_id).data.tags.get("a"), "again", "a tag set after deletion")


def _check_log_inputs_dedup(make_store: StoreFactory) -> None:
    """Datasets round-trip; a dataset logged twice in one context is listed once."""
    store = make_store()
    experiment_id = _new_experiment(store)
    run_id = _new_run(store, experiment_id)
    train = DatasetInput(
        name="flights",
        digest="a" * 64,
        source="s3://bucket/flights.parquet",
        source_type="s3",
        schema='{"dep_delay": "double"}',
        profile='{"num_rows": 336776}',
        num_rows=336776,
        context="training",
    )
    store.log_inputs(run_id, [train])
    store.log_inputs(run_id, [train, train])
    expect_equal(store.get_run(run_id).inputs, (train,), "inputs after logging one dataset 3x")
    validation = dataclasses.replace(train, context="validation")
    newer = dataclasses.replace(train, digest="b" * 64, num_rows=None)
    store.log_inputs(run_id, [validation, newer])
    got = set(store.get_run(run_id).inputs)
    expect_equal(got, {train, validation, newer}, "inputs of one dataset in two contexts + v2")
    expect_equal(len(store.get_run(run_id).inputs), 3, "number of inputs")
    other = _new_run(store, experiment_id, "other")
    store.log_inputs(other, [train])
    expect_equal(store.get_run(other).inputs, (train,), "a dataset shared by two runs")
    store.log_inputs(other, [])
    expect_equal(len(store.get_run(run_id).inputs), 3, "inputs of the first run afterwards")


def _check_unicode_and_long_values_round_trip(make_store: StoreFactory) -> None:
    """Non-ASCII text and values at every documented length limit round-trip unchanged."""
    store = make_store()
    experiment_name = "Expérience 実験 🚀 " + "é" * 200
    experiment_name = experiment_name[:256]
    experiment_id = store.create_experiment(experiment_name, tags={"équipe": "données ✓"})
    got_experiment = store.get_experiment(experiment_id)
    expect_equal(got_experiment.name, experiment_name, "unicode experiment name")
    expect_equal(dict(got_experiment.tags), {"équipe": "données ✓"}, "unicode experiment tag")
    run_name = ("exécution-" + "ß" * 250)[:250]
    run_id = _new_run(store, experiment_id, run_name)
    long_key = ("clé_" + "k" * MAX_KEY_LENGTH)[:MAX_KEY_LENGTH]
    param_value = ("π≈3.14 'quoted' \"double\" \\ new\nline 🎉 " * 400)[:MAX_PARAM_VALUE_LENGTH]
    tag_value = ("標籤 " * 5000)[:MAX_TAG_VALUE_LENGTH]
    store.log_batch(
        run_id,
        _batch(
            [_metric(long_key, 0.5), _metric("température/données", 21.5)],
            {long_key: param_value, "modèle": "forêt aléatoire"},
            {long_key: tag_value, "note": "naïve café ☕"},
        ),
    )
    run = store.get_run(run_id)
    expect_equal(run.info.run_name, run_name, "unicode run name of 250 characters")
    expect_equal(
        dict(run.data.metrics), {long_key: 0.5, "température/données": 21.5}, "unicode metrics"
    )
    expect(run.data.params.get(long_key) == param_value, "8000-character param value changed")
    expect_equal(run.data.params.get("modèle"), "forêt aléatoire", "unicode param value")
    expect(run.data.tags.get(long_key) == tag_value, "8000-character tag value changed")
    expect_equal(run.data.tags.get("note"), "naïve café ☕", "unicode tag value")
    expect_equal(len(store.get_metric_history(run_id, long_key)), 1, "history of a long key")
    _expect_matches(store, experiment_id, "params.`modèle` = 'forêt aléatoire'", [run_name])


def _check_control_characters_round_trip(make_store: StoreFactory) -> None:
    """A param or tag value that validation accepts is stored as given, control characters too."""
    store = make_store()
    run_id = _new_run(store, _new_experiment(store))
    samples = {"tab": "a\tb", "newlines": "a\r\nb", "escape": "\x1b[31mred", "nul": "a\x00b"}
    for name, value in samples.items():
        try:
            batch = _batch(params={f"p_{name}": value}, tags={f"t_{name}": value})
        except InvalidInput:
            continue  # rejecting the value before the store is an acceptable rule too
        try:
            store.log_batch(run_id, batch)
        except Exception as exc:
            fail(
                f"a validated value with {name} {value!r} should be stored; "
                f"log_batch raised {type(exc).__name__}: {exc}"
            )
        run = store.get_run(run_id)
        got = (run.data.params.get(f"p_{name}"), run.data.tags.get(f"t_{name}"))
        expect_equal(got, (value, value), f"param and tag holding {name}")


def _check_oversized_fields_rejected_cleanly(make_store: StoreFactory) -> None:
    """Over-long names and dataset fields are either stored whole or refused as InvalidInput."""
    store = make_store()
    experiment_id = _new_experiment(store)
    run_id = _new_run(store, experiment_id)
    dataset = DatasetInput(
        name="n" * 300, digest="d" * 100, source_type="t" * 100, context="c" * 100
    )
    attempts: dict[str, tuple[Callable[[], object], Callable[[], bool]]] = {
        "create_run(run_name of 300 chars)": (
            lambda: store.create_run(experiment_id, "u", _T0, "r" * 300),
            lambda: "r" * 300 in _search(store, [experiment_id]),
        ),
        "create_run(user_id of 300 chars)": (
            lambda: store.create_run(experiment_id, "u" * 300, _T0, "long user"),
            lambda: "long user" in _search(store, [experiment_id]),
        ),
        "update_run(run_name of 300 chars)": (
            lambda: store.update_run(run_id, run_name="s" * 300),
            lambda: store.get_run(run_id).info.run_name == "s" * 300,
        ),
        "log_inputs(long name, digest, source_type, context)": (
            lambda: store.log_inputs(run_id, [dataset]),
            lambda: store.get_run(run_id).inputs == (dataset,),
        ),
    }
    for what, (action, stored) in attempts.items():
        try:
            action()
        except InvalidInput:
            continue
        except Exception as exc:
            fail(f"{what} should store the value or raise InvalidInput; raised {exc!r:.300}")
        expect(stored(), f"{what} returned but the value was not stored whole")


# -- search: filters ------------------------------------------------------------------------------


def _filter_fixture(store: TrackingStore) -> str:
    """Runs a-d with a metric, a param, a tag, a status and a dataset each (d lacks most)."""
    experiment_id = _new_experiment(store, "search")
    rows = {
        "a": (0.1, "alpha", "red", RunStatus.FINISHED),
        "b": (0.5, "Alpha", "Red", RunStatus.FAILED),
        "c": (0.9, "beta", "blue", RunStatus.KILLED),
    }
    for i, (name, (metric, param, tag, status)) in enumerate(rows.items()):
        run_id = _new_run(store, experiment_id, f"run-{name}", _T0 + i * 1000, {"t": tag})
        store.log_batch(
            run_id, _batch([_metric("m", metric), _metric("val.auc", metric)], {"p": param})
        )
        store.update_run(run_id, status=status, end_time=_T0 + i * 1000 + 500)
        source = f"s3://bucket/{name}.parquet"
        context = "training" if name != "c" else "evaluation"
        store.log_inputs(run_id, [DatasetInput(f"data-{name}", name * 64, source, context=context)])
    _new_run(store, experiment_id, "run-d", _T0 + 3000)
    return experiment_id


def _check_search_metric_filters(make_store: StoreFactory) -> None:
    """Every numeric operator on the latest metric value; runs lacking the metric never match."""
    store = make_store()
    experiment_id = _filter_fixture(store)
    cases = {
        "metrics.m = 0.5": ["run-b"],
        "metrics.m != 0.5": ["run-a", "run-c"],
        "metrics.m < 0.5": ["run-a"],
        "metrics.m <= 0.5": ["run-a", "run-b"],
        "metrics.m > 0.5": ["run-c"],
        "metrics.m >= 0.5": ["run-b", "run-c"],
        "metrics.m > -1e9": ["run-a", "run-b", "run-c"],
        "metrics.val.auc >= 0.9": ["run-c"],
        "metrics.`val.auc` < 0.2": ["run-a"],
        "metrics.missing > 0": [],
    }
    for filter_string, want in cases.items():
        _expect_matches(store, experiment_id, filter_string, want)


def _check_search_param_and_tag_filters(make_store: StoreFactory) -> None:
    """= != LIKE ILIKE IN NOT IN on params and tags, alone and joined by AND."""
    store = make_store()
    experiment_id = _filter_fixture(store)
    for prefix, (lower, upper, other) in {
        "params.p": ("alpha", "Alpha", "beta"),
        "tags.t": ("red", "Red", "blue"),
    }.items():
        cases = {
            f"{prefix} = '{lower}'": ["run-a"],
            f"{prefix} != '{lower}'": ["run-b", "run-c"],
            f"{prefix} LIKE '{lower[:2]}%'": ["run-a"],
            f"{prefix} LIKE '%{lower[1:]}'": ["run-a", "run-b"],
            f"{prefix} ILIKE '{upper.upper()}'": ["run-a", "run-b"],
            f"{prefix} LIKE '{other[0]}_{other[2:]}'": ["run-c"],
            f"{prefix} IN ('{lower}', '{other}')": ["run-a", "run-c"],
            f"{prefix} NOT IN ('{lower}')": ["run-b", "run-c"],
            f"{prefix} NOT IN ('{lower}', '{upper}', '{other}')": [],
            f"{prefix} = 'nothing'": [],
        }
        for filter_string, want in cases.items():
            _expect_matches(store, experiment_id, filter_string, want)
    _expect_matches(
        store, experiment_id, "metrics.m > 0.2 AND params.p LIKE '%a'", ["run-b", "run-c"]
    )
    _expect_matches(
        store, experiment_id, "metrics.m > 0.2 AND params.p LIKE '%a' AND tags.t = 'Red'", ["run-b"]
    )
    _expect_matches(store, experiment_id, "params.missing != 'x'", [])


def _check_search_null_filters(make_store: StoreFactory) -> None:
    """IS NULL matches runs without the key, IS NOT NULL runs with it."""
    store = make_store()
    experiment_id = _filter_fixture(store)
    for key in ("metrics.m", "params.p", "tags.t"):
        _expect_matches(store, experiment_id, f"{key} IS NULL", ["run-d"])
        _expect_matches(store, experiment_id, f"{key} IS NOT NULL", ["run-a", "run-b", "run-c"])
    _expect_matches(
        store, experiment_id, "metrics.nope IS NULL", ["run-a", "run-b", "run-c", "run-d"]
    )


def _check_search_attribute_filters(make_store: StoreFactory) -> None:
    """Run attributes: status, run_name, run_id, user_id, start_time and end_time."""
    store = make_store()
    experiment_id = _filter_fixture(store)
    by_name = {r.info.run_name: r.info.run_id for r in store.search_runs([experiment_id])}
    cases = {
        "attributes.status = 'FINISHED'": ["run-a"],
        "attributes.status != 'RUNNING'": ["run-a", "run-b", "run-c"],
        "attributes.status IN ('FAILED', 'KILLED')": ["run-b", "run-c"],
        "attributes.status NOT IN ('FAILED', 'KILLED')": ["run-a", "run-d"],
        "attributes.run_name = 'run-c'": ["run-c"],
        "attributes.run_name LIKE 'run-%'": ["run-a", "run-b", "run-c", "run-d"],
        "attributes.run_name LIKE 'RUN-%'": [],
        "attributes.run_name ILIKE 'RUN-_'": ["run-a", "run-b", "run-c", "run-d"],
        f"attributes.run_id = '{by_name['run-b']}'": ["run-b"],
        f"attributes.run_id IN ('{by_name['run-a']}', '{by_name['run-d']}')": ["run-a", "run-d"],
        "attributes.user_id = 'conformance-user'": ["run-a", "run-b", "run-c", "run-d"],
        f"attributes.start_time = {_T0 + 1000}": ["run-b"],
        f"attributes.start_time != {_T0 + 1000}": ["run-a", "run-c", "run-d"],
        f"attributes.start_time > {_T0 + 1000}": ["run-c", "run-d"],
        f"attributes.start_time >= {_T0 + 1000}": ["run-b", "run-c", "run-d"],
        f"attributes.start_time < {_T0 + 1000}": ["run-a"],
        f"attributes.start_time <= {_T0 + 1000}": ["run-a", "run-b"],
        f"attributes.end_time > {_T0 + 1000}": ["run-b", "run-c"],
    }
    for filter_string, want in cases.items():
        _expect_matches(store, experiment_id, filter_string, want)


def _check_search_time_filter_with_fraction(make_store: StoreFactory) -> None:
    """start_time compares exactly with a fractional bound (no truncation to an integer)."""
    store = make_store()
    experiment_id = _filter_fixture(store)
    t = _T0 + 1000  # run-b
    cases = {
        f"attributes.start_time < {t}.5": ["run-a", "run-b"],
        f"attributes.start_time <= {t}.5": ["run-a", "run-b"],
        f"attributes.start_time > {t - 1}.5": ["run-b", "run-c", "run-d"],
        f"attributes.start_time >= {t - 1}.5": ["run-b", "run-c", "run-d"],
        f"attributes.start_time = {t}.5": [],
        f"attributes.start_time != {t}.5": ["run-a", "run-b", "run-c", "run-d"],
    }
    for filter_string, want in cases.items():
        _expect_matches(store, experiment_id, filter_string, want)


def _check_search_dataset_filters(make_store: StoreFactory) -> None:
    """datasets.name, digest, context and source filter runs by the datasets they used."""
    store = make_store()
    experiment_id = _filter_fixture(store)
    cases = {
        "datasets.name = 'data-a'": ["run-a"],
        "datasets.name IN ('data-a', 'data-c')": ["run-a", "run-c"],
        "datasets.name LIKE 'data-%'": ["run-a", "run-b", "run-c"],
        f"datasets.digest = '{'b' * 64}'": ["run-b"],
        "datasets.context = 'training'": ["run-a", "run-b"],
        "datasets.source LIKE 's3://bucket/c%'": ["run-c"],
        "datasets.name = 'data-a' AND datasets.context = 'evaluation'": [],
    }
    for filter_string, want in cases.items():
        _expect_matches(store, experiment_id, filter_string, want)


def _check_search_like_case_sensitivity(make_store: StoreFactory) -> None:
    """LIKE is case-sensitive and ILIKE is not, on params, tags and run names alike."""
    store = make_store()
    experiment_id = _new_experiment(store)
    for name in ("Model", "model", "MODEL", "modem"):
        run_id = _new_run(store, experiment_id, name, tags={"t": name})
        store.log_batch(run_id, _batch(params={"p": name}))
    for key in ("params.p", "tags.t", "attributes.run_name"):
        _expect_matches(store, experiment_id, f"{key} LIKE 'model'", ["model"])
        _expect_matches(store, experiment_id, f"{key} LIKE 'Mod%'", ["Model"])
        _expect_matches(store, experiment_id, f"{key} LIKE 'mode_'", ["model", "modem"])
        _expect_matches(store, experiment_id, f"{key} ILIKE 'model'", ["MODEL", "Model", "model"])
        _expect_matches(
            store, experiment_id, f"{key} ILIKE 'MOD%'", ["MODEL", "Model", "model", "modem"]
        )
        _expect_matches(store, experiment_id, f"{key} = 'model'", ["model"])


def _check_search_ilike_non_ascii(make_store: StoreFactory) -> None:
    """ILIKE folds the case of non-ASCII letters too (É/é, Ä/ä, Greek), as on PostgreSQL."""
    store = make_store()
    experiment_id = _new_experiment(store)
    for name in ("Élan", "élan", "ÄRGER", "ärger", "Σοφία"):
        run_id = _new_run(store, experiment_id, name)
        store.log_batch(run_id, _batch(params={"p": name}))
    for key in ("params.p", "attributes.run_name"):
        _expect_matches(store, experiment_id, f"{key} LIKE 'élan'", ["élan"])
        _expect_matches(store, experiment_id, f"{key} ILIKE 'élan'", ["Élan", "élan"])
        _expect_matches(store, experiment_id, f"{key} ILIKE 'Ärger'", ["ÄRGER", "ärger"])
        _expect_matches(store, experiment_id, f"{key} ILIKE 'σοφία'", ["Σοφία"])


# -- search: ordering and paging ------------------------------------------------------------------


def _order_fixture(store: TrackingStore) -> str:
    """Runs r1-r5 started in that order; r4 lacks the metric, r5 the param and tag."""
    experiment_id = _new_experiment(store, "order")
    rows = {
        "r1": (0.3, "b", "x2"),
        "r2": (0.9, "d", "x1"),
        "r3": (0.1, "a", "x3"),
        "r4": (None, "c", "x5"),
        "r5": (0.5, None, None),
    }
    for i, (name, (metric, param, tag)) in enumerate(rows.items()):
        run_id = _new_run(store, experiment_id, name, _T0 + i * 1000, {"t": tag} if tag else None)
        metrics = [] if metric is None else [_metric("m", metric)]
        store.log_batch(run_id, _batch(metrics, {"p": param} if param else None))
        if name in ("r2", "r3"):
            store.update_run(run_id, status=RunStatus.FINISHED, end_time=_T0 + 10_000 - i)
    return experiment_id


def _check_search_order_by_metric(make_store: StoreFactory) -> None:
    """Ordering by a metric, ascending and descending, puts runs without it last."""
    store = make_store()
    experiment_id = _order_fixture(store)
    _expect_order(store, experiment_id, ["metrics.m ASC"], ["r3", "r1", "r5", "r2", "r4"])
    _expect_order(store, experiment_id, ["metrics.m"], ["r3", "r1", "r5", "r2", "r4"])
    _expect_order(store, experiment_id, ["metrics.m DESC"], ["r2", "r5", "r1", "r3", "r4"])


def _check_search_order_by_param_and_tag(make_store: StoreFactory) -> None:
    """Ordering by a param or a tag (as strings), NULLs last; then by a second clause."""
    store = make_store()
    experiment_id = _order_fixture(store)
    _expect_order(store, experiment_id, ["params.p"], ["r3", "r1", "r4", "r2", "r5"])
    _expect_order(store, experiment_id, ["params.p DESC"], ["r2", "r4", "r1", "r3", "r5"])
    _expect_order(store, experiment_id, ["tags.t ASC"], ["r2", "r1", "r3", "r4", "r5"])
    _expect_order(store, experiment_id, ["tags.t DESC"], ["r4", "r3", "r1", "r2", "r5"])
    other = _new_run(store, experiment_id, "r6", _T0 + 9000, {"t": "x1"})
    store.log_batch(other, _batch([_metric("m", 0.95)]))
    _expect_order(
        store,
        experiment_id,
        ["tags.t ASC", "metrics.m DESC"],
        ["r6", "r2", "r1", "r3", "r4", "r5"],
    )
    _expect_order(
        store, experiment_id, ["tags.t ASC", "metrics.m ASC"], ["r2", "r6", "r1", "r3", "r4", "r5"]
    )


def _check_search_order_by_attribute(make_store: StoreFactory) -> None:
    """Ordering by run attributes: start_time, run_name, end_time (NULLs last), status."""
    store = make_store()
    experiment_id = _order_fixture(store)
    _expect_order(
        store, experiment_id, ["attributes.start_time ASC"], ["r1", "r2", "r3", "r4", "r5"]
    )
    _expect_order(store, experiment_id, ["start_time DESC"], ["r5", "r4", "r3", "r2", "r1"])
    _expect_order(
        store, experiment_id, ["attributes.run_name DESC"], ["r5", "r4", "r3", "r2", "r1"]
    )
    _expect_order(store, experiment_id, ["attributes.end_time ASC"], ["r3", "r2", "r5", "r4", "r1"])
    _expect_order(
        store, experiment_id, ["attributes.end_time DESC"], ["r2", "r3", "r5", "r4", "r1"]
    )
    _expect_order(
        store,
        experiment_id,
        ["attributes.status ASC", "attributes.start_time ASC"],
        ["r2", "r3", "r1", "r4", "r5"],
    )


def _check_search_default_order(make_store: StoreFactory) -> None:
    """Without order_by, runs come newest first (start_time descending)."""
    store = make_store()
    experiment_id = _new_experiment(store)
    starts = [_T0 + 5, _T0 + 1, _T0 + 9, _T0 + 3, _T0 + 7]
    for start in starts:
        _new_run(store, experiment_id, f"s{start - _T0}", start)
    expect_equal(_search(store, [experiment_id]), ["s9", "s7", "s5", "s3", "s1"], "default order")


def _check_search_pagination(make_store: StoreFactory) -> None:
    """page_token walks every run exactly once, in the order of one big page, for any page size."""
    store = make_store()
    experiment_id = _new_experiment(store)
    names = []
    for i in range(23):
        name = f"run-{i:02d}"
        names.append(name)
        # Many ties on start time and on the metric, so the order needs a tie-breaker.
        run_id = _new_run(store, experiment_id, name, _T0 + i // 4, {"g": f"g{i % 2}"})
        store.log_batch(run_id, _batch([_metric("m", float(i % 3))] if i % 5 else []))
    orderings: list[list[str]] = [[], ["metrics.m DESC"], ["tags.g ASC", "metrics.m ASC"]]
    for order_by in orderings:
        whole = store.search_runs([experiment_id], (), parse_order_by(order_by), max_results=1000)
        expect_equal(sorted(_names(whole)), names, f"one page ordered by {order_by}")
        for size in (1, 4, 7, 22, 23, 50):
            seen: list[str] = []
            token: str | None = None
            pages = 0
            while True:
                page = store.search_runs(
                    [experiment_id],
                    (),
                    parse_order_by(order_by),
                    max_results=size,
                    page_token=token,
                )
                pages += 1
                expect(len(page) <= size, f"a page of max_results={size} held {len(page)} runs")
                expect(
                    page.token is None or len(page) == size,
                    f"a non-final page of max_results={size} held only {len(page)} runs",
                )
                seen += _names(page)
                token = page.token
                if token is None:
                    break
                expect(pages <= 30, f"paging with max_results={size} does not end")
            what = f"paging by {size} ordered by {order_by}"
            expect(len(seen) == len(set(seen)), f"{what} repeated runs: {seen}")
            expect_equal(seen, _names(whole), what)
            expect_equal(pages, max(1, math.ceil(len(names) / size)), f"pages of {what}")
    filtered = store.search_runs([experiment_id], parse_filter("tags.g = 'g1'"), max_results=5)
    rest = store.search_runs(
        [experiment_id], parse_filter("tags.g = 'g1'"), max_results=50, page_token=filtered.token
    )
    expect_equal(len(filtered) + len(rest), 11, "runs of a filtered search across two pages")


def _check_search_bad_page_token(make_store: StoreFactory) -> None:
    """A page token that no search returned is InvalidInput."""
    store = make_store()
    experiment_id = _new_experiment(store)
    _new_run(store, experiment_id)

    def b64(payload: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()

    for token in (
        "not a token",
        "!!!",
        "e30",
        b64({}),
        b64({"offset": -1}),
        b64({"offset": "5"}),
        b64([1, 2]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "ünïcode",
    ):
        expect_raises(
            InvalidInput,
            functools.partial(store.search_runs, [experiment_id], page_token=token),
            f"search_runs(page_token={token!r})",
        )


def _check_search_page_token_out_of_range(make_store: StoreFactory) -> None:
    """A well-formed token whose offset no database integer holds is InvalidInput too."""
    store = make_store()
    experiment_id = _new_experiment(store)
    _new_run(store, experiment_id)
    for offset in (2**63, 2**70):
        token = base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()
        expect_raises(
            InvalidInput,
            functools.partial(store.search_runs, [experiment_id], page_token=token),
            f"search_runs(page_token=<offset {offset}>)",
        )


def _check_search_max_results_bounds(make_store: StoreFactory) -> None:
    """max_results must lie in 1..SEARCH_MAX_RESULTS_LIMIT; outside that is InvalidInput."""
    store = make_store()
    experiment_id = _new_experiment(store)
    _new_run(store, experiment_id, "one")
    _new_run(store, experiment_id, "two", _T0 + 1)
    for bad in (0, -1, SEARCH_MAX_RESULTS_LIMIT + 1):
        expect_raises(
            InvalidInput,
            functools.partial(store.search_runs, [experiment_id], max_results=bad),
            f"search_runs(max_results={bad})",
        )
    first = store.search_runs([experiment_id], max_results=1)
    expect(len(first) == 1 and first.token is not None, "max_results=1 of two runs")
    everything = store.search_runs([experiment_id], max_results=SEARCH_MAX_RESULTS_LIMIT)
    expect_equal(_names(everything), ["two", "one"], f"max_results={SEARCH_MAX_RESULTS_LIMIT}")


def _check_search_multiple_experiments(make_store: StoreFactory) -> None:
    """search_runs covers exactly the experiments named; an empty list finds nothing."""
    store = make_store()
    first, second, third = (_new_experiment(store, name) for name in ("e1", "e2", "e3"))
    _new_run(store, first, "in-first", _T0 + 2)
    _new_run(store, second, "in-second", _T0 + 1)
    _new_run(store, third, "in-third", _T0)
    expect_equal(_search(store, [first, second]), ["in-first", "in-second"], "two experiments")
    expect_equal(_search(store, [third]), ["in-third"], "one experiment")
    expect_equal(_search(store, []), [], "no experiment ids")


def _check_search_returns_full_runs(make_store: StoreFactory) -> None:
    """Runs returned by search_runs carry the same info, data and inputs as get_run."""
    store = make_store()
    experiment_id = _filter_fixture(store)
    for found in store.search_runs([experiment_id], view_type=ViewType.ALL):
        direct = store.get_run(found.info.run_id)
        expect_equal(found.info, direct.info, "info of a searched run")
        for part in ("metrics", "params", "tags"):
            got, want = dict(getattr(found.data, part)), dict(getattr(direct.data, part))
            expect_equal(got, want, f"{part} of searched run {found.info.run_name}")
        expect_equal(set(found.inputs), set(direct.inputs), "inputs of a searched run")


def _check_count_runs(make_store: StoreFactory) -> None:
    """count_runs counts per experiment and view, with zeros for empty experiments."""
    store = make_store()
    first, second = (_new_experiment(store, name) for name in ("c1", "c2"))
    _new_run(store, first, "kept", _T0)
    gone = _new_run(store, first, "gone", _T0 + 1)
    store.delete_run(gone)
    expect_equal(store.count_runs([first, second]), {first: 1, second: 0}, "active counts")
    expect_equal(store.count_runs([first], ViewType.DELETED_ONLY), {first: 1}, "deleted counts")
    expect_equal(store.count_runs([first], ViewType.ALL), {first: 2}, "all counts")
    expect_equal(store.count_runs([]), {}, "no experiments")


# -- concurrency ----------------------------------------------------------------------------------


def _check_concurrent_logging(make_store: StoreFactory) -> None:
    """Threads logging into one run at once lose nothing and keep the latest value right."""
    store = make_store()
    run_id = _new_run(store, _new_experiment(store))
    batches = 25

    def log(index: int) -> None:
        for step in range(batches):
            points = [
                _metric(f"own{index}", float(step), step),
                _metric("shared", index * 1000.0 + step, step),
            ]
            store.log_batch(run_id, _batch(points, {f"p{index}": index}, {"last": str(index)}))

    errors = run_threads(log)
    expect(not errors, f"concurrent log_batch calls failed: {errors!r}")
    run = store.get_run(run_id)
    for index in range(THREADS):
        history = _history(store, run_id, f"own{index}")
        expect_equal([s for s, _, _ in history], list(range(batches)), f"history of own{index}")
    shared = _history(store, run_id, "shared")
    expect_equal(len(shared), THREADS * batches, "points of the shared key")
    best = max(shared)  # (step, timestamp, value): every thread's last step ties on both
    expect_equal(run.data.metrics.get("shared"), best[2], "latest of the shared key")
    expect_equal(len(run.data.params), THREADS, "params logged by the threads")


def _check_concurrent_create_experiment(make_store: StoreFactory) -> None:
    """Racing to create one experiment name: exactly one wins, the rest get Conflict."""
    store = make_store()
    created: list[str] = []
    lock = threading.Lock()

    def create(_index: int) -> None:
        try:
            experiment_id = store.create_experiment("raced")
        except Conflict:
            return
        with lock:
            created.append(experiment_id)

    errors = run_threads(create)
    expect(not errors, f"racing create_experiment raised something other than Conflict: {errors!r}")
    expect_equal(len(created), 1, "experiments created by a race on one name")


def _check_concurrent_log_inputs(make_store: StoreFactory) -> None:
    """Runs logging the same new datasets at once each get them, stored once."""
    store = make_store()
    experiment_id = _new_experiment(store)
    run_ids = [_new_run(store, experiment_id, f"run-{i}") for i in range(THREADS)]
    datasets = [DatasetInput(f"data-{i}", f"{i:064x}", context="training") for i in range(20)]

    def log(index: int) -> None:
        for dataset in datasets:
            store.log_inputs(run_ids[index], [dataset])

    errors = run_threads(log)
    expect(not errors, f"concurrent log_inputs of shared datasets failed: {errors!r:.600}")
    for run_id in run_ids:
        expect_equal(set(store.get_run(run_id).inputs), set(datasets), "inputs of a racing run")
    _expect_matches(
        store, experiment_id, "datasets.name = 'data-7'", [f"run-{i}" for i in range(THREADS)]
    )


_CHECKS: tuple[Callable[[StoreFactory], None], ...] = (
    _check_experiment_create_and_get,
    _check_experiment_ids_are_strings,
    _check_experiment_duplicate_name_conflict,
    _check_experiment_unknown_id_not_found,
    _check_experiment_malformed_id_invalid_input,
    _check_experiment_invalid_name,
    _check_experiment_list_view_types,
    _check_experiment_delete_restore,
    _check_run_create_and_get,
    _check_run_update_and_terminate,
    _check_run_unknown_not_found,
    _check_run_malformed_id_invalid_input,
    _check_run_in_deleted_experiment_conflict,
    _check_run_parent,
    _check_run_delete_restore,
    _check_log_to_deleted_run_conflict,
    _check_log_batch_round_trip,
    _check_latest_metric_by_step_timestamp_value,
    _check_metric_history_complete_and_ordered,
    _check_metric_values_round_trip,
    _check_param_relog_same_value,
    _check_param_conflict_writes_nothing,
    _check_tags_overwrite,
    _check_delete_tag,
    _check_log_inputs_dedup,
    _check_unicode_and_long_values_round_trip,
    _check_control_characters_round_trip,
    _check_oversized_fields_rejected_cleanly,
    _check_search_metric_filters,
    _check_search_param_and_tag_filters,
    _check_search_null_filters,
    _check_search_attribute_filters,
    _check_search_time_filter_with_fraction,
    _check_search_dataset_filters,
    _check_search_like_case_sensitivity,
    _check_search_ilike_non_ascii,
    _check_search_order_by_metric,
    _check_search_order_by_param_and_tag,
    _check_search_order_by_attribute,
    _check_search_default_order,
    _check_search_pagination,
    _check_search_bad_page_token,
    _check_search_page_token_out_of_range,
    _check_search_max_results_bounds,
    _check_search_multiple_experiments,
    _check_search_returns_full_runs,
    _check_count_runs,
    _check_concurrent_logging,
    _check_concurrent_create_experiment,
    _check_concurrent_log_inputs,
)


def check_tracking_store(
    make_store: Callable[[], TrackingStore],
) -> Iterator[tuple[str, Callable[[], None]]]:
    """Yield ``(name, check)`` for every rule of the :class:`TrackingStore` contract.

    ``make_store`` returns a fresh, empty store with its schema in place; each check calls it
    once, when run. A check is a zero-argument callable that returns ``None`` or raises
    :class:`AssertionError`.
    """
    return named_checks(_CHECKS, make_store)
