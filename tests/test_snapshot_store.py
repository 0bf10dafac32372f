"""The snapshot store contract on every metadata backend, and what only the SQL store can show.

Every check of ``check_snapshot_store`` runs on SQLite (a file in tmp_path) and on PostgreSQL (a
fresh schema per store, when ``LOOPML_TEST_POSTGRES_URL`` is set). The rest: the suite fails on
broken stores, a snapshot's blob is in garbage collection's index exactly while the snapshot
lives, the 0003 migration keeps existing rows, refs parse, and processes racing to snapshot one
name get 1..N exactly.
"""

from __future__ import annotations

import doctest
import hashlib
import itertools
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

import loopml.core.snapshots
from _harness import AWAIT_GO, CHILD_ARGS, run_released
from conftest import BACKEND_PARAMS, conformance_params
from loopml.core.errors import InvalidInput
from loopml.core.snapshots import (
    Snapshot,
    SnapshotDraft,
    SnapshotLineage,
    SnapshotRef,
    parse_snapshot_ref,
)
from loopml.store.conformance import check_snapshot_store
from loopml.store.data import SNAPSHOT_FILE, SnapshotStore, snapshot_owner
from loopml.store.sql import Database, SqlArtifactIndex, SqlSnapshotStore
from loopml.store.sql.schema import snapshot_names, snapshots
from loopml.store.stores import open_stores

StoreFactory = Callable[[], SnapshotStore]


def _never() -> SnapshotStore:
    raise AssertionError("check_snapshot_store must not build a store while yielding checks")


CHECK_NAMES = [name for name, _ in check_snapshot_store(_never)]


@pytest.fixture
def make_store(make_database: Callable[[], Database]) -> StoreFactory:
    return lambda: SqlSnapshotStore(make_database())


@pytest.mark.parametrize(("backend", "check_name"), conformance_params(CHECK_NAMES))
def test_snapshot_store_conformance(make_store: StoreFactory, check_name: str) -> None:
    dict(check_snapshot_store(make_store))[check_name]()


def test_check_names_are_unique_and_cover_the_contract() -> None:
    assert len(CHECK_NAMES) == len(set(CHECK_NAMES))
    assert len(CHECK_NAMES) >= 15
    for required in (
        "numbering_per_name",
        "numbers_not_reused",
        "identical_data_returns_existing_version",
        "concurrent_numbering",
        "concurrent_identical_data",
        "unknown_not_found",
        "audit_one_event_per_change",
        "audit_failed_operation_writes_nothing",
        "search_order_and_paging",
    ):
        assert required in CHECK_NAMES


# ---- the suite catches broken stores ---------------------------------------------------------


class _NumbersFromMax(SqlSnapshotStore):
    """A broken store: deleting a snapshot rewinds the counter to max(version) + 1."""

    def delete_snapshot(self, snapshot_id: str, actor: str = "") -> None:
        name = self.get_snapshot(snapshot_id).name
        super().delete_snapshot(snapshot_id, actor)
        with self.db.write() as conn:
            latest = conn.execute(
                sa.select(sa.func.max(snapshots.c.version)).where(snapshots.c.name == name)
            ).scalar_one_or_none()
            conn.execute(
                snapshot_names.update()
                .where(snapshot_names.c.name == name)
                .values(next_version=(latest or 0) + 1)
            )


class _NoDeduplication(SqlSnapshotStore):
    """A broken store: identical data gets a new version (a fresh digest hides the match)."""

    def create_snapshot(self, draft: SnapshotDraft, actor: str = "") -> Snapshot:
        from dataclasses import replace

        salted = hashlib.sha256(f"{draft.digest}{time.monotonic_ns()}".encode()).hexdigest()
        return super().create_snapshot(replace(draft, digest=salted), actor)


class _SkipsParentCheck(SqlSnapshotStore):
    """A broken store: a missing parent is stored as if it existed."""

    def create_snapshot(self, draft: SnapshotDraft, actor: str = "") -> Snapshot:
        from dataclasses import replace

        if draft.lineage.parent is None:
            return super().create_snapshot(draft, actor)
        made = super().create_snapshot(
            replace(draft, lineage=SnapshotLineage(draft.lineage.source, None, None)), actor
        )
        with self.db.write() as conn:
            conn.execute(
                snapshots.update()
                .where(snapshots.c.snapshot_id == made.snapshot_id)
                .values(parent=draft.lineage.parent)
            )
        return self.get_snapshot(made.snapshot_id)


@pytest.mark.parametrize(
    ("broken", "check_name", "match"),
    [
        (_NumbersFromMax, "numbers_not_reused", "the number after 2 and 3"),
        (_NoDeduplication, "identical_data_returns_existing_version", "created flag"),
        (_SkipsParentCheck, "parent_round_trip_and_missing_parent", "should raise NotFound"),
    ],
)
@pytest.mark.parametrize("backend", ["sqlite"])
def test_conformance_checks_fail_on_broken_stores(
    make_database: Callable[[], Database],
    broken: type[SqlSnapshotStore],
    check_name: str,
    match: str,
) -> None:
    with pytest.raises(AssertionError, match=match):
        dict(check_snapshot_store(lambda: broken(make_database())))[check_name]()


# ---- refs ------------------------------------------------------------------------------------

SHA = "ab" * 32


@pytest.mark.parametrize(
    ("ref", "want"),
    [
        ("flights@3", SnapshotRef("version", name="flights", version=3)),
        (" flights@12 ", SnapshotRef("version", name="flights", version=12)),
        ("flights", SnapshotRef("latest", name="flights")),
        ("flights@latest", SnapshotRef("latest", name="flights")),
        ("my data.v2@1", SnapshotRef("version", name="my data.v2", version=1)),
        (f"flights@{SHA}", SnapshotRef("digest", name="flights", digest=SHA)),
        ("0123456789abcdef" * 2, SnapshotRef("id", snapshot_id="0123456789abcdef" * 2)),
    ],
)
def test_refs_parse(ref: str, want: SnapshotRef) -> None:
    assert parse_snapshot_ref(ref) == want


@pytest.mark.parametrize(
    ("ref", "match"),
    [
        ("", "must be a non-empty string"),
        (3, "must be a non-empty string"),
        ("@3", "must start with the snapshot name"),
        ("flights@", "must end in a version number"),
        ("flights@0", "must end in a version number from 1.*got '0'"),
        ("flights@-1", "must end in a version number"),
        ("flights@v3", "must end in a version number"),
        ("flights@LATEST", "must end in a version number"),
        ("flights@\uff13", "must end in a version number"),  # a full-width digit 3
        ("flights@" + SHA.upper(), "must end in a version number"),
        ("a@1@2", "at most one '@'"),
        ("a/b@1", "names an invalid snapshot"),
        ("a:b@1", "names an invalid snapshot"),
    ],
)
def test_bad_refs_are_invalid_input_naming_the_forms(ref: object, match: str) -> None:
    with pytest.raises(InvalidInput, match=match) as caught:
        parse_snapshot_ref(ref)
    assert "'<name>@<version>'" in str(caught.value)


def test_core_snapshot_doctests_run() -> None:
    result = doctest.testmod(loopml.core.snapshots, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_dataset_input_of_a_snapshot_names_it_by_digest_and_ref() -> None:
    snap = Snapshot(
        snapshot_id="f" * 32,
        name="flights",
        version=3,
        digest=SHA,
        blob_digest="cd" * 32,
        blob_size=10,
        num_rows=7,
        num_columns=2,
        created_time=1,
        schema={"columns": ["a", "b"]},
        profile={"a": {"mean": 1.0}},
    )
    ref = snap.to_dataset_input("validation")
    assert (ref.name, ref.digest, ref.source, ref.num_rows, ref.context) == (
        "flights",
        SHA,
        "flights@3",
        7,
        "validation",
    )
    assert ref.schema == '{"columns":["a","b"]}'
    assert ref.profile == '{"a":{"mean":1.0}}'
    assert parse_snapshot_ref(f"{ref.name}@{ref.digest}").kind == "digest"


# ---- the SQL store beyond the protocol -------------------------------------------------------


def _draft(name: str, data: str, blob: str) -> SnapshotDraft:
    return SnapshotDraft(
        name=name,
        digest=hashlib.sha256(data.encode()).hexdigest(),
        blob_digest=blob,
        blob_size=len(data),
        num_rows=1,
        num_columns=1,
    )


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_snapshot_blobs_are_in_the_artifact_index_until_deleted(
    make_database: Callable[[], Database],
) -> None:
    """Garbage collection sees a snapshot's Parquet blob as referenced exactly while it lives."""
    database = make_database()
    store, index = SqlSnapshotStore(database), SqlArtifactIndex(database)
    one = store.create_snapshot(_draft("flights", "a", "1" * 64))
    two = store.create_snapshot(_draft("flights", "b", "2" * 64))
    other = store.create_snapshot(_draft("weather", "a", "1" * 64))
    store.create_snapshot(_draft("flights", "a", "9" * 64))  # identical data: nothing new
    assert index.referenced_digests() == {"1" * 64, "2" * 64}
    files = index.iter_artifact_files(snapshot_owner(two.snapshot_id))
    assert [(f.path, f.digest, f.file_size) for f in files] == [(SNAPSHOT_FILE, "2" * 64, 1)]
    store.delete_snapshot(two.snapshot_id)
    assert index.referenced_digests() == {"1" * 64}
    store.delete_snapshot(one.snapshot_id)
    assert index.referenced_digests() == {"1" * 64}  # still the weather snapshot's blob
    store.delete_snapshot(other.snapshot_id)
    assert index.referenced_digests() == set()


def test_open_stores_has_a_snapshot_store(tmp_path: Path) -> None:
    stores = open_stores(str(tmp_path / "home"))
    assert isinstance(stores.snapshots, SqlSnapshotStore)
    assert stores.snapshots.db is stores.database
    made = stores.snapshots.create_snapshot(_draft("flights", "a", "1" * 64))
    assert stores.snapshots.get_latest_snapshot("flights") == made


def test_upgrade_from_0002_keeps_rows(tracking_uri: str) -> None:
    """A 0002 database with a registered model upgrades to 0003 with the model intact, and
    then stores snapshots."""
    from loopml.core.registry import Lineage
    from loopml.store.sql import SqlRegistryStore

    database = Database(tracking_uri)
    database.upgrade("0002")
    registry = SqlRegistryStore(database)
    registry.create_model_version("churn", "src", "sklearn", [("MLmodel", SHA, 1)], Lineage())
    database.upgrade("0003")
    assert database.current_revision() == "0003"
    assert registry.get_model_version("churn", 1).flavor == "sklearn"
    store = SqlSnapshotStore(database)
    assert store.create_snapshot(_draft("flights", "a", SHA)).version == 1
    database.dispose()


# ---- processes racing to snapshot ------------------------------------------------------------

PROCESSES = 4
PER_PROCESS = 8

_WORKER = (
    CHILD_ARGS
    + r"""
import hashlib
from loopml.core.snapshots import SnapshotDraft
from loopml.store.sql import Database, SqlSnapshotStore

count = int(sys.argv[4])
store = SqlSnapshotStore(Database(uri))
"""
    + AWAIT_GO
    + r"""
for i in range(count):
    digest = hashlib.sha256(f"{index}-{i}".encode()).hexdigest()
    draft = SnapshotDraft("raced", digest, "0" * 64, 1, 1, 1)
    shared = SnapshotDraft("raced", "1" * 64, "0" * 64, 1, 1, 1)  # the same data in every child
    print(store.create_snapshot(draft, actor=f"child-{index}").version, flush=True)
    print("shared", store.create_snapshot(shared).snapshot_id, flush=True)
"""
)


@pytest.mark.slow
def test_processes_snapshotting_one_name_get_consecutive_numbers(
    tracking_uri: str, tmp_path: Path
) -> None:
    """PROCESSES children snapshot PER_PROCESS new data each, plus one shared piece of data each
    time, under one new name at once."""
    database = Database(tracking_uri)
    database.ensure_schema()
    outputs = run_released(_WORKER, tracking_uri, tmp_path / "race", PROCESSES, str(PER_PROCESS))
    lines = list(itertools.chain.from_iterable(out.splitlines() for out in outputs))
    shared = {line.split()[1] for line in lines if line.startswith("shared")}
    numbers = sorted(int(line) for line in lines if not line.startswith("shared"))
    assert len(shared) == 1, "the same data got several snapshots"
    total = PROCESSES * PER_PROCESS + 1  # every child's own data, and the shared data once
    store = SqlSnapshotStore(database)
    stored = store.search_snapshots(name="raced", max_results=1000)
    assert sorted(s.version for s in stored) == list(range(1, total + 1))
    assert set(numbers) | {store.get_snapshot(shared.pop()).version} == set(range(1, total + 1))
    events = store.list_snapshot_audit_events("raced")
    assert [e.action for e in events].count("snapshot.create") == total
    database.dispose()
