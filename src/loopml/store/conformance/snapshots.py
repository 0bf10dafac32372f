"""The snapshot store contract as named checks (see :class:`loopml.store.data.SnapshotStore`).

Run it from a test over every backend::

    @pytest.mark.parametrize("name", [name for name, _ in check_snapshot_store(make_store)])
    def test_snapshot_store(name):
        dict(check_snapshot_store(make_store))[name]()

Each check calls ``make_store`` for a fresh, empty, schema-ready store when it runs (never when it
is yielded), and raises :class:`AssertionError` with a message naming what broke. Drafts carry
made-up digests: the store records data, it never reads the blobs.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from loopml.core.errors import InvalidInput, NotFound
from loopml.core.ids import now_ms
from loopml.core.registry import AuditEvent
from loopml.core.snapshots import (
    MAX_SNAPSHOT_NAME_LENGTH,
    Snapshot,
    SnapshotDraft,
    SnapshotLineage,
)
from loopml.store.conformance._support import (
    THREADS,
    expect,
    expect_equal,
    expect_raises,
    named_checks,
    run_threads,
)
from loopml.store.data import SnapshotStore

__all__ = ["check_snapshot_store"]

StoreFactory = Callable[[], SnapshotStore]

_PER_THREAD = 5
_ALL = 10_000  # max_results large enough to read every row a check writes
_GHOST_ID = "0" * 32


# -- helpers --------------------------------------------------------------------------------------


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _draft(
    name: str = "flights",
    data: str = "rows-1",
    parent: str | None = None,
    **changes: Any,
) -> SnapshotDraft:
    """A draft whose data digest is derived from ``data`` (equal ``data``, identical data)."""
    fields: dict[str, Any] = {
        "name": name,
        "digest": _sha(f"data:{data}"),
        "blob_digest": _sha(f"blob:{data}"),
        "blob_size": 1000 + len(data),
        "num_rows": 10,
        "num_columns": 2,
        "schema": {"columns": [{"name": "a", "type": "integer"}, {"name": "b", "type": "string"}]},
        "profile": {"a": {"mean": 1.5, "nulls": 0}},
        "lineage": SnapshotLineage({"kind": "pandas"}, parent, None),
        "description": "",
        "tags": {},
    }
    fields.update(changes)
    return SnapshotDraft(**fields)


def _versions(store: SnapshotStore, name: str) -> list[int]:
    """Every version number of ``name``, ascending."""
    return sorted(s.version for s in store.search_snapshots(name=name, max_results=_ALL))


def _events(store: SnapshotStore, name: str | None = None) -> list[AuditEvent]:
    return store.list_snapshot_audit_events(name, max_results=_ALL)


def _actions(events: list[AuditEvent]) -> list[str]:
    return [e.action for e in events]


def _all_pages(store: SnapshotStore, size: int) -> list[list[Snapshot]]:
    pages = [store.search_snapshots(max_results=size)]
    while pages[-1].token is not None:
        expect(len(pages) < 50, "paging through snapshots does not end")
        pages.append(store.search_snapshots(max_results=size, page_token=pages[-1].token))
    return [list(p) for p in pages]


# -- creating and reading -------------------------------------------------------------------------


def _check_create_and_get_round_trip(make_store: StoreFactory) -> None:
    """create_snapshot returns the stored snapshot; every lookup returns the same one."""
    store = make_store()
    before = now_ms()
    draft = _draft(
        description="first pull",
        tags={"team": "ops", "pii": "false"},
        lineage=SnapshotLineage({"kind": "parquet", "uri": "s3://b/f.parquet"}, None, "ab" * 20),
    )
    created = store.create_snapshot(draft, actor="ana")
    after = now_ms()
    expect_equal(created.created, True, "created flag of a new snapshot")
    expect_equal(len(created.snapshot_id), 32, "length of the snapshot id")
    expect_equal((created.name, created.version), ("flights", 1), "name and version")
    for field in ("digest", "blob_digest", "blob_size", "num_rows", "num_columns", "description"):
        expect_equal(getattr(created, field), getattr(draft, field), field)
    expect_equal(dict(created.schema), dict(draft.schema), "schema")
    expect_equal(dict(created.profile), dict(draft.profile), "profile")
    expect_equal(created.lineage, draft.lineage, "lineage")
    expect_equal(dict(created.tags), {"team": "ops", "pii": "false"}, "tags")
    expect_equal(created.user_id, "ana", "user_id (the actor)")
    expect(before <= created.created_time <= after, f"created_time {created.created_time}")
    lookups: dict[str, Callable[[], Snapshot]] = {
        "get_snapshot": lambda: store.get_snapshot(created.snapshot_id),
        "get_snapshot_version": lambda: store.get_snapshot_version("flights", 1),
        "get_latest_snapshot": lambda: store.get_latest_snapshot("flights"),
        "get_snapshot_by_digest": lambda: store.get_snapshot_by_digest("flights", draft.digest),
        "search_snapshots": lambda: store.search_snapshots(name="flights")[0],
    }
    for what, lookup in lookups.items():
        got = lookup()
        expect_equal(got, created, f"{what} vs what create_snapshot returned")
        expect_equal(got.created, None, f"created flag of a snapshot read back by {what}")


def _check_json_fields_round_trip_exactly(make_store: StoreFactory) -> None:
    """Schema, profile and source keep nested lists, dicts, ints, floats, bools and None."""
    store = make_store()
    profile = {
        "dep_delay": {"mean": 12.639070257304708, "quantiles": [-43.0, -5.0, 11.0, 1301.0]},
        "carrier": {"top": [["UA", 58665], ["B6", 54635]], "nulls": 0, "unique": None},
        "flags": {"numeric": True, "categorical": False, "big": 2**53 + 1, "tiny": 5e-324},
    }
    source = {"kind": "duckdb", "query": "SELECT * FROM 'f.parquet' WHERE x > 1", "params": []}
    draft = _draft(profile=profile, lineage=SnapshotLineage(source, None, None))
    store.create_snapshot(draft)
    got = store.get_latest_snapshot("flights")
    expect_equal(dict(got.profile), profile, "profile read back")
    expect_equal(dict(got.lineage.source), source, "source read back")
    expect_equal(dict(got.schema), dict(draft.schema), "schema read back")


def _check_numbering_per_name(make_store: StoreFactory) -> None:
    """Versions are numbered 1, 2, 3 per name; another name starts at 1."""
    store = make_store()
    got = [store.create_snapshot(_draft(data=f"v{i}")).version for i in range(3)]
    expect_equal(got, [1, 2, 3], "numbers of three snapshots of new data")
    expect_equal(store.create_snapshot(_draft("labels", "v0")).version, 1, "another name")
    expect_equal(store.get_latest_snapshot("flights").version, 3, "latest version")


def _check_numbers_not_reused(make_store: StoreFactory) -> None:
    """A deleted number is never given again, even when it was the highest."""
    store = make_store()
    made = [store.create_snapshot(_draft(data=f"v{i}")) for i in range(3)]
    store.delete_snapshot(made[2].snapshot_id)
    store.delete_snapshot(made[1].snapshot_id)
    expect_equal(store.get_latest_snapshot("flights").version, 1, "latest after deletes")
    expect_equal(store.create_snapshot(_draft(data="v3")).version, 4, "the number after 2 and 3")
    expect_equal(_versions(store, "flights"), [1, 4], "versions left")


def _check_identical_data_returns_existing_version(make_store: StoreFactory) -> None:
    """A draft whose digest the name already holds returns that version (created=False),
    stores nothing, writes no audit event and leaves no gap in the numbering."""
    store = make_store()
    first = store.create_snapshot(_draft(data="a", description="first"))
    store.create_snapshot(_draft(data="b"))
    events = _events(store)
    again = store.create_snapshot(_draft(data="a", description="second", tags={"x": "1"}))
    expect_equal(again.created, False, "created flag of identical data")
    expect_equal(again, first, "the snapshot returned for identical data")
    expect_equal(again.description, "first", "description (the stored version's)")
    expect_equal(_events(store), events, "audit events after snapshotting identical data")
    expect_equal(_versions(store, "flights"), [1, 2], "versions after identical data")
    expect_equal(store.create_snapshot(_draft(data="c")).version, 3, "the next new data")


def _check_identical_data_under_another_name_is_new(make_store: StoreFactory) -> None:
    """Deduplication is per name: the same data under another name is its version 1."""
    store = make_store()
    first = store.create_snapshot(_draft("train", "same"))
    other = store.create_snapshot(_draft("archive", "same"))
    expect_equal((other.name, other.version, other.created), ("archive", 1, True), "other name")
    expect(other.snapshot_id != first.snapshot_id, "two names must get two snapshot ids")


def _check_identical_data_after_delete_is_new_version(make_store: StoreFactory) -> None:
    """Once the version holding some data is deleted, that data gets a new number."""
    store = make_store()
    first = store.create_snapshot(_draft(data="a"))
    store.delete_snapshot(first.snapshot_id)
    again = store.create_snapshot(_draft(data="a"))
    expect_equal((again.version, again.created), (2, True), "data stored again after a delete")


def _check_parent_round_trip_and_missing_parent(make_store: StoreFactory) -> None:
    """A parent ref is stored as given; a parent that does not exist is NotFound and writes
    nothing."""
    store = make_store()
    store.create_snapshot(_draft(data="features"))
    child = store.create_snapshot(_draft(data="labelled", parent="flights@1"))
    expect_equal(child.lineage.parent, "flights@1", "parent of the child")
    expect_equal(store.get_snapshot(child.snapshot_id).parent, "flights@1", "parent read back")
    events = _events(store)
    for ghost in ("flights@9", "ghost@1"):
        error = expect_raises(
            NotFound,
            functools.partial(store.create_snapshot, _draft(data="x", parent=ghost)),
            f"a snapshot whose parent {ghost!r} does not exist",
        )
        expect(ghost.split("@")[0] in str(error), f"the NotFound should name it: {error}")
    expect_equal(_versions(store, "flights"), [1, 2], "versions after the refusals")
    expect_equal(_events(store), events, "audit events after the refusals")
    expect_equal(store.create_snapshot(_draft(data="y")).version, 3, "no number was used up")


def _check_unknown_not_found(make_store: StoreFactory) -> None:
    """Lookups of what does not exist are NotFound, each naming what it looked for."""
    store = make_store()
    made = store.create_snapshot(_draft())
    digest = _sha("never stored")
    calls: dict[str, tuple[Callable[[], object], str]] = {
        "get_snapshot of an unknown id": (lambda: store.get_snapshot(_GHOST_ID), _GHOST_ID),
        "get_snapshot_version of an unknown name": (
            lambda: store.get_snapshot_version("ghost", 1),
            "'ghost'",
        ),
        "get_snapshot_version of a missing version": (
            lambda: store.get_snapshot_version("flights", 7),
            "latest version is 1",
        ),
        "get_latest_snapshot of an unknown name": (
            lambda: store.get_latest_snapshot("ghost"),
            "'ghost'",
        ),
        "get_snapshot_by_digest of unknown data": (
            lambda: store.get_snapshot_by_digest("flights", digest),
            digest,
        ),
        "get_snapshot_by_digest of an unknown name": (
            lambda: store.get_snapshot_by_digest("ghost", made.digest),
            "'ghost'",
        ),
        "delete_snapshot of an unknown id": (lambda: store.delete_snapshot(_GHOST_ID), _GHOST_ID),
    }
    for what, (call, named) in calls.items():
        error = expect_raises(NotFound, call, what)
        expect(named in str(error), f"{what}: the message should contain {named}: {error}")
    expect_equal(len(store.search_snapshots(name="ghost")), 0, "snapshots of 'ghost'")


def _check_delete(make_store: StoreFactory) -> None:
    """A deleted snapshot is gone from every lookup; the others stay; with every version gone
    the latest lookup says the name has no versions."""
    store = make_store()
    one = store.create_snapshot(_draft(data="a"))
    two = store.create_snapshot(_draft(data="b", tags={"k": "v"}))
    other = store.create_snapshot(_draft("other", "a"))
    store.delete_snapshot(two.snapshot_id)
    expect_raises(NotFound, lambda: store.get_snapshot(two.snapshot_id), "get deleted by id")
    expect_raises(NotFound, lambda: store.get_snapshot_version("flights", 2), "get deleted")
    expect_raises(
        NotFound, lambda: store.get_snapshot_by_digest("flights", two.digest), "deleted digest"
    )
    expect_equal(store.get_latest_snapshot("flights"), one, "latest after deleting version 2")
    expect_equal(store.get_snapshot(other.snapshot_id), other, "a snapshot of another name")
    store.delete_snapshot(one.snapshot_id)
    error = expect_raises(
        NotFound, lambda: store.get_latest_snapshot("flights"), "latest with no version left"
    )
    expect("no versions" in str(error), f"the NotFound should say so: {error}")


# -- audit ----------------------------------------------------------------------------------------


def _check_audit_one_event_per_change(make_store: StoreFactory) -> None:
    """Creating and deleting write one event each, naming the actor and ``name@version``;
    reads and identical data write none."""
    store = make_store()
    made = store.create_snapshot(_draft(description="d"), actor="ana")
    store.get_snapshot(made.snapshot_id)
    store.search_snapshots()
    store.create_snapshot(_draft(), actor="bob")  # identical data
    store.delete_snapshot(made.snapshot_id, actor="carl")
    events = _events(store)
    expect_equal(_actions(events), ["snapshot.create", "snapshot.delete"], "actions")
    expect_equal([e.actor for e in events], ["ana", "carl"], "actors")
    expect_equal({e.object_type for e in events}, {"snapshot"}, "object types")
    expect_equal([e.object_id for e in events], ["flights@1", "flights@1"], "object ids")
    create, delete = events
    expect(create.before is None, f"a create has no 'before': {create.before!r}")
    expect_equal(create.after.get("digest"), made.digest, "digest in the create event")
    expect_equal(create.after.get("snapshot_id"), made.snapshot_id, "id in the create event")
    expect_equal(delete.before.get("digest"), made.digest, "digest in the delete event")
    expect(delete.after is None, f"a delete has no 'after': {delete.after!r}")


def _check_audit_failed_operation_writes_nothing(make_store: StoreFactory) -> None:
    """Refused operations leave no audit event and no version."""
    store = make_store()
    store.create_snapshot(_draft())
    events = _events(store)
    refusals: dict[str, tuple[type[Exception], Callable[[], object]]] = {
        "a missing parent": (
            NotFound,
            lambda: store.create_snapshot(_draft(data="new", parent="ghost@1")),
        ),
        "a bad digest": (InvalidInput, lambda: store.create_snapshot(_draft(digest="abc"))),
        "deleting an unknown id": (NotFound, lambda: store.delete_snapshot(_GHOST_ID)),
    }
    for what, (error, refusal) in refusals.items():
        expect_raises(error, refusal, what)
    expect_equal(_events(store), events, "audit events after the refused operations")
    expect_equal(_versions(store, "flights"), [1], "versions after the refused operations")


def _check_audit_filter_by_name(make_store: StoreFactory) -> None:
    """Events of one name exclude names that merely share a prefix or a LIKE pattern."""
    store = make_store()
    for name in ("a_b", "axb", "a_bc", "a"):
        store.create_snapshot(_draft(name))
    for name in ("a_b", "axb", "a"):
        ids = [e.object_id for e in _events(store, name)]
        expect_equal(ids, [f"{name}@1"], f"events of {name!r}")
    newest = store.list_snapshot_audit_events(max_results=2)
    expect_equal([e.object_id for e in newest], ["a_bc@1", "a@1"], "the two newest events")


# -- listing --------------------------------------------------------------------------------------


def _check_search_order_and_paging(make_store: StoreFactory) -> None:
    """Snapshots come ordered by name (code point), newest version first, and pages cover
    every snapshot exactly once."""
    store = make_store()
    for name, count in (("b", 3), ("B", 1), ("a", 2), ("Z9", 1), ("a-2", 1)):
        for i in range(count):
            store.create_snapshot(_draft(name, f"{name}-{i}"))
    every = list(store.search_snapshots(max_results=_ALL))
    want = [("B", 1), ("Z9", 1), ("a", 2), ("a", 1), ("a-2", 1), ("b", 3), ("b", 2), ("b", 1)]
    expect_equal([(s.name, s.version) for s in every], want, "order of search_snapshots")
    pages = _all_pages(store, 3)
    expect_equal([len(p) for p in pages], [3, 3, 2], "page sizes")
    expect_equal([s for p in pages for s in p], every, "the pages joined")


def _check_search_by_name_is_exact(make_store: StoreFactory) -> None:
    """A name filter matches exactly: no case folding, no prefix or LIKE matching."""
    store = make_store()
    for name in ("flights", "flights_v2", "Flights"):
        store.create_snapshot(_draft(name))
    expect_equal([s.name for s in store.search_snapshots(name="flights")], ["flights"], "exact")
    for other in ("flight", "flights_", "FLIGHTS"):
        expect_equal(len(store.search_snapshots(name=other)), 0, f"snapshots of {other!r}")
        latest = functools.partial(store.get_latest_snapshot, other)
        expect_raises(NotFound, latest, f"latest of {other!r}")


def _check_search_bounds(make_store: StoreFactory) -> None:
    """max_results must be 1..50,000 and a page token must come from a search."""
    store = make_store()
    for bad in (0, -1, 50_001, True, "10"):
        expect_raises(
            InvalidInput,
            functools.partial(store.search_snapshots, max_results=bad),  # type: ignore[arg-type]
            f"max_results={bad!r}",
        )
    expect_raises(
        InvalidInput, lambda: store.search_snapshots(page_token="nope"), "a made-up page token"
    )


# -- concurrency ----------------------------------------------------------------------------------


def _check_concurrent_numbering(make_store: StoreFactory) -> None:
    """Threads snapshotting new data under one new name get 1..N exactly: no duplicate, no gap,
    and each thread's numbers increase."""
    store = make_store()
    got: dict[int, list[int]] = {}
    lock = threading.Lock()

    def work(index: int) -> None:
        mine = [
            store.create_snapshot(_draft("raced", f"{index}-{i}")).version
            for i in range(_PER_THREAD)
        ]
        with lock:
            got[index] = mine

    errors = run_threads(work)
    expect(not errors, f"concurrent snapshots failed: {errors!r:.600}")
    total = THREADS * _PER_THREAD
    numbers = sorted(n for mine in got.values() for n in mine)
    expect_equal(numbers, list(range(1, total + 1)), "numbers the threads got")
    for index, mine in got.items():
        expect(mine == sorted(mine), f"thread {index} got decreasing numbers {mine}")
    expect_equal(_versions(store, "raced"), list(range(1, total + 1)), "stored versions")


def _check_concurrent_identical_data(make_store: StoreFactory) -> None:
    """Threads snapshotting the same data at once get one version: one of them creates it,
    the others get it back with created=False."""
    store = make_store()
    results: list[Snapshot] = []
    lock = threading.Lock()

    def work(index: int) -> None:
        made = store.create_snapshot(_draft("same", "identical"), actor=f"t{index}")
        with lock:
            results.append(made)

    errors = run_threads(work)
    expect(not errors, f"concurrent identical snapshots failed: {errors!r:.600}")
    expect_equal(len({s.snapshot_id for s in results}), 1, "distinct snapshot ids returned")
    expect_equal([s.created for s in results].count(True), 1, "callers told they created it")
    expect_equal(_versions(store, "same"), [1], "stored versions")
    expect_equal(_actions(_events(store, "same")), ["snapshot.create"], "audit events")


# -- input ----------------------------------------------------------------------------------------


def _check_invalid_input_rejected(make_store: StoreFactory) -> None:
    """Malformed drafts, names, ids and versions are InvalidInput and write nothing."""
    store = make_store()
    store.create_snapshot(_draft())
    events = _events(store)

    def create(**changes: Any) -> Callable[[], object]:
        return lambda: store.create_snapshot(_draft(data="new", **changes))

    lineage = SnapshotLineage
    refusals: dict[str, Callable[[], object]] = {
        "name with '@'": create(name="a@b"),
        "name with '/'": create(name="a/b"),
        "empty name": create(name=""),
        "name reading as an id": create(name="ab" * 16),
        "name too long": create(name="n" * (MAX_SNAPSHOT_NAME_LENGTH + 1)),
        "short digest": create(digest="abc"),
        "upper-case digest": create(digest="AB" * 32),
        "bad blob digest": create(blob_digest="z" * 64),
        "negative row count": create(num_rows=-1),
        "boolean row count": create(num_rows=True),
        "negative blob size": create(blob_size=-5),
        "schema with a set": create(schema={"columns": {"a"}}),
        "profile with NaN": create(profile={"mean": float("nan")}),
        "source with a non-JSON value": create(lineage=lineage({"at": object()}, None, None)),
        "parent without a version": create(lineage=lineage({}, "flights", None)),
        "parent 'latest'": create(lineage=lineage({}, "flights@latest", None)),
        "git commit too long": create(lineage=lineage({}, None, "c" * 65)),
        "empty tag key": create(tags={"": "v"}),
        "NUL in description": create(description="a\x00b"),
        "not a draft": lambda: store.create_snapshot({"name": "x"}),  # type: ignore[arg-type]
        "malformed id": lambda: store.get_snapshot("abc"),
        "version 0": lambda: store.get_snapshot_version("flights", 0),
        "name in a search": lambda: store.search_snapshots(name="a@b"),
    }
    for what, refusal in refusals.items():
        expect_raises(InvalidInput, refusal, what)
    expect_equal(_events(store), events, "audit events after the refusals")
    expect_equal(_versions(store, "flights"), [1], "versions after the refusals")


def _check_unicode_and_long_names_round_trip(make_store: StoreFactory) -> None:
    """Names of the maximum length and non-ASCII texts round-trip unchanged."""
    store = make_store()
    name = "n" * MAX_SNAPSHOT_NAME_LENGTH
    texts: Mapping[str, str] = {"équipe": "données ✓", "emoji": "🛫"}
    made = store.create_snapshot(
        _draft(
            name,
            description="vols de décembre — ✈",
            tags=texts,
            lineage=SnapshotLineage({"query": "SELECT 'ü'"}, None, None),
        )
    )
    got = store.get_snapshot_version(name, 1)
    expect_equal(got, made, "the long-named snapshot read back")
    expect_equal(got.description, "vols de décembre — ✈", "description")
    expect_equal(dict(got.tags), dict(texts), "tags")
    expect_equal([e.object_id for e in _events(store, name)], [f"{name}@1"], "audit object id")
    child = store.create_snapshot(_draft(name, "child", parent=f"{name}@1"))
    expect_equal(child.parent, f"{name}@1", "a parent ref of the longest name")


_CHECKS: tuple[Callable[[StoreFactory], None], ...] = (
    _check_create_and_get_round_trip,
    _check_json_fields_round_trip_exactly,
    _check_numbering_per_name,
    _check_numbers_not_reused,
    _check_identical_data_returns_existing_version,
    _check_identical_data_under_another_name_is_new,
    _check_identical_data_after_delete_is_new_version,
    _check_parent_round_trip_and_missing_parent,
    _check_unknown_not_found,
    _check_delete,
    _check_audit_one_event_per_change,
    _check_audit_failed_operation_writes_nothing,
    _check_audit_filter_by_name,
    _check_search_order_and_paging,
    _check_search_by_name_is_exact,
    _check_search_bounds,
    _check_concurrent_numbering,
    _check_concurrent_identical_data,
    _check_invalid_input_rejected,
    _check_unicode_and_long_names_round_trip,
)


def check_snapshot_store(
    make_store: Callable[[], SnapshotStore],
) -> Iterator[tuple[str, Callable[[], None]]]:
    """Yield ``(name, check)`` for every rule of the :class:`SnapshotStore` contract.

    ``make_store`` returns a fresh, empty store with its schema in place; each check calls it
    once, when run. A check is a zero-argument callable that returns ``None`` or raises
    :class:`AssertionError`.
    """
    return named_checks(_CHECKS, make_store)
