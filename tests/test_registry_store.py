"""The registry store contract on every metadata backend, and what only the SQL store can show.

Every check of ``check_registry_store`` runs on SQLite (a file in tmp_path) and on PostgreSQL (a
fresh schema per store, when ``LOOPML_TEST_POSTGRES_URL`` is set). The rest: the suite fails on
broken stores, version files feed garbage collection's index, lineage outlives its run, the 0002
migration keeps existing rows, and processes racing to register versions get 1..N exactly.
"""

from __future__ import annotations

import itertools
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from _harness import AWAIT_GO, CHILD_ARGS, run_released
from conftest import BACKEND_PARAMS, conformance_params
from loopml.core.entities import Page
from loopml.core.ids import now_ms
from loopml.core.registry import Lineage, ModelVersion, RegisteredModel
from loopml.store.conformance import check_registry_store
from loopml.store.registry import RegistryStore, model_version_owner
from loopml.store.sql import Database, SqlArtifactIndex, SqlRegistryStore, SqlTrackingStore
from loopml.store.sql.audit import write_audit
from loopml.store.sql.schema import model_aliases, registered_models
from loopml.store.stores import open_stores

StoreFactory = Callable[[], RegistryStore]

RUN_ID = "0123456789abcdef0123456789abcdef"
SHA = "ab" * 32


def _never() -> RegistryStore:
    raise AssertionError("check_registry_store must not build a store while yielding checks")


CHECK_NAMES = [name for name, _ in check_registry_store(_never)]


@pytest.fixture
def make_store(make_database: Callable[[], Database]) -> StoreFactory:
    return lambda: SqlRegistryStore(make_database())


@pytest.mark.parametrize(("backend", "check_name"), conformance_params(CHECK_NAMES))
def test_registry_store_conformance(make_store: StoreFactory, check_name: str) -> None:
    dict(check_registry_store(make_store))[check_name]()


def test_check_names_are_unique_and_cover_the_contract() -> None:
    assert len(CHECK_NAMES) == len(set(CHECK_NAMES))
    assert 30 <= len(CHECK_NAMES) <= 60
    for required in (
        "version_numbering",
        "version_numbers_not_reused",
        "concurrent_registration",
        "version_files_immutable",
        "alias_set_move_delete",
        "alias_missing_version_not_found",
        "version_delete_aliased_conflict",
        "registered_model_delete_with_alias_conflict",
        "audit_one_event_per_change",
        "audit_alias_move_records_previous_version",
        "audit_failed_operation_writes_nothing",
        "version_lineage_round_trip",
        "search_registered_models_order_and_paging",
        "unicode_round_trip",
    ):
        assert required in CHECK_NAMES


# ---- the suite catches broken stores ---------------------------------------------------------


class _NumbersFromMax(SqlRegistryStore):
    """A broken store: deleting a version rewinds the counter to max(version) + 1."""

    def delete_model_version(self, name: str, version: int, actor: str = "") -> None:
        super().delete_model_version(name, version, actor)
        latest = self.get_registered_model(name).latest_version or 0
        with self.db.write() as conn:
            conn.execute(
                registered_models.update()
                .where(registered_models.c.name == name)
                .values(next_version=latest + 1)
            )


class _DropsAliasesOnDelete(SqlRegistryStore):
    """A broken store: deleting a version silently removes the aliases pointing at it."""

    def delete_model_version(self, name: str, version: int, actor: str = "") -> None:
        with self.db.write() as conn:
            conn.execute(
                model_aliases.delete().where(
                    model_aliases.c.name == name, model_aliases.c.version == version
                )
            )
        super().delete_model_version(name, version, actor)


class _ForgetsPreviousAlias(SqlRegistryStore):
    """A broken store: moving an alias deletes it first, so the audit loses where it pointed."""

    def set_alias(self, name: str, alias: str, version: int, actor: str = "") -> None:
        if alias in self.get_registered_model(name).aliases:
            with self.db.write() as conn:
                conn.execute(
                    model_aliases.delete().where(
                        model_aliases.c.name == name, model_aliases.c.alias == alias
                    )
                )
        super().set_alias(name, alias, version, actor)


class _AuditsRefusals(SqlRegistryStore):
    """A broken store: records the attempt in its own transaction before it checks anything."""

    def delete_model_version(self, name: str, version: int, actor: str = "") -> None:
        with self.db.write() as conn:
            write_audit(conn, actor, "model_version.delete", "model_version", name, None, None)
        super().delete_model_version(name, version, actor)


class _IgnoresPageToken(SqlRegistryStore):
    """A broken store: every page of models is the first page."""

    def search_registered_models(
        self,
        name_contains: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        return super().search_registered_models(name_contains, max_results)


@pytest.mark.parametrize(
    ("broken", "check_name", "match"),
    [
        (_NumbersFromMax, "version_numbers_not_reused", "the number after deleting 2 and 3"),
        (_DropsAliasesOnDelete, "version_delete_aliased_conflict", "should raise Conflict"),
        (_ForgetsPreviousAlias, "audit_alias_move_records_previous_version", "before/after"),
        (_AuditsRefusals, "audit_failed_operation_writes_nothing", "after the refused"),
        (_IgnoresPageToken, "search_registered_models_order_and_paging", "does not end"),
    ],
)
@pytest.mark.parametrize("backend", ["sqlite"])
def test_conformance_checks_fail_on_broken_stores(
    make_database: Callable[[], Database],
    broken: type[SqlRegistryStore],
    check_name: str,
    match: str,
) -> None:
    with pytest.raises(AssertionError, match=match):
        dict(check_registry_store(lambda: broken(make_database())))[check_name]()


# ---- the SQL store beyond the protocol -------------------------------------------------------


def _register(store: SqlRegistryStore, name: str, *paths: str, run_id: str | None = None) -> int:
    files = [(p, f"{i:064x}", i) for i, p in enumerate(paths, start=1)]
    version = store.create_model_version(name, "src", "sklearn", files, Lineage(run_id=run_id))
    return version.version


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_version_files_are_in_the_artifact_index_until_deleted(
    make_database: Callable[[], Database],
) -> None:
    """Garbage collection sees a version's files as referenced exactly while the version lives."""
    database = make_database()
    store, index = SqlRegistryStore(database), SqlArtifactIndex(database)
    index.record_artifacts("run:" + RUN_ID, [("model/MLmodel", "f" * 64, 1)])
    _register(store, "churn", "MLmodel")  # digest 1
    _register(store, "churn", "MLmodel", "weights.bin")  # digests 1 and 2
    _register(store, "fraud", "a", "b", "c")  # digests 1, 2, 3
    assert index.referenced_digests() == {"f" * 64} | {f"{i:064x}" for i in (1, 2, 3)}
    files = index.iter_artifact_files(model_version_owner("churn", 2))
    assert [(f.path, f.digest) for f in files] == [
        ("MLmodel", f"{1:064x}"),
        ("weights.bin", f"{2:064x}"),
    ]
    store.delete_registered_model("fraud")
    assert index.referenced_digests() == {"f" * 64, f"{1:064x}", f"{2:064x}"}
    store.delete_model_version("churn", 2)
    assert index.referenced_digests() == {"f" * 64, f"{1:064x}"}
    assert index.iter_artifact_files(model_version_owner("churn", 2)) == []
    store.delete_registered_model("churn")
    assert index.referenced_digests() == {"f" * 64}


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_lineage_outlives_its_run(make_database: Callable[[], Database]) -> None:
    """A version keeps naming its run after the run's row is gone (no foreign key to runs)."""
    database = make_database()
    tracking, store = SqlTrackingStore(database), SqlRegistryStore(database)
    experiment_id = tracking.create_experiment("lineage")
    run_id = tracking.create_run(experiment_id, "u", now_ms(), "r").info.run_id
    _register(store, "churn", "MLmodel", run_id=run_id)
    with database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM runs WHERE run_id = :r"), {"r": run_id})
    assert store.get_model_version("churn", 1).run_id == run_id
    assert [v.version for v in store.search_model_versions(run_id=run_id)] == [1]


def test_open_stores_has_a_registry(tmp_path: Path) -> None:
    stores = open_stores(str(tmp_path / "home"))
    assert isinstance(stores.registry, SqlRegistryStore)
    assert stores.registry.db is stores.database
    _register(stores.registry, "churn")
    assert stores.registry.get_latest_version("churn").version == 1


def test_upgrade_from_0001_keeps_rows_and_widens_keys(tracking_uri: str) -> None:
    """A 0001 database with artifacts and audit rows upgrades to 0002 with every row intact,
    and then holds owner keys and object ids of 256-character model names."""
    database = Database(tracking_uri)
    database.upgrade("0001")
    assert database.current_revision() == "0001"
    with database.write() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO artifacts (owner, path, digest, size, created_time) "
                "VALUES (:o, 'a/b.txt', :d, 3, 1)"
            ),
            {"o": "run:" + RUN_ID, "d": SHA},
        )
        write_audit(conn, "ana", "experiment.create", "experiment", "1", None, {"name": "e"})
    database.upgrade("0002")
    assert database.current_revision() == "0002"
    index = SqlArtifactIndex(database)
    assert [f.digest for f in index.iter_artifact_files("run:" + RUN_ID)] == [SHA]
    store = SqlRegistryStore(database)
    assert [(e.actor, e.action, e.after) for e in store.list_audit_events()] == [
        ("ana", "experiment.create", {"name": "e"})
    ]
    name = "m" * 256
    _register(store, name, "MLmodel")
    assert [e.object_id for e in store.list_audit_events("model_version")] == [f"{name}/1"]
    assert len(index.iter_artifact_files(model_version_owner(name, 1))) == 1
    database.dispose()


# ---- processes racing to register ------------------------------------------------------------

PROCESSES = 4
PER_PROCESS = 10

_WORKER = (
    CHILD_ARGS
    + r"""
from loopml.core.registry import Lineage
from loopml.store.sql import Database, SqlRegistryStore

count = int(sys.argv[4])
store = SqlRegistryStore(Database(uri))
"""
    + AWAIT_GO
    + r"""
for _ in range(count):
    version = store.create_model_version(
        "raced", f"child {index}", "sklearn", [("MLmodel", "0" * 64, 1)], Lineage(),
        actor=f"child-{index}",
    )
    print(version.version, flush=True)
"""
)


@pytest.mark.slow
def test_processes_registering_one_name_get_consecutive_numbers(
    tracking_uri: str, tmp_path: Path
) -> None:
    """PROCESSES children register PER_PROCESS versions of one new name at once; ``got`` holds
    the numbers each child got, in its order."""
    database = Database(tracking_uri)
    database.ensure_schema()
    outputs = run_released(_WORKER, tracking_uri, tmp_path / "race", PROCESSES, str(PER_PROCESS))
    got = [[int(line) for line in out.split()] for out in outputs]
    total = PROCESSES * PER_PROCESS
    for numbers in got:
        assert len(numbers) == PER_PROCESS
        assert numbers == sorted(numbers), "a child's later registration got a smaller number"
    assert sorted(itertools.chain.from_iterable(got)) == list(range(1, total + 1))
    store = SqlRegistryStore(database)
    stored = store.search_model_versions(name="raced", max_results=1000)
    assert sorted(v.version for v in stored) == list(range(1, total + 1))
    for version in stored:
        assert store.model_version_files("raced", version.version)[0].path == "MLmodel"
    events = store.list_audit_events()
    assert [e.action for e in events].count("registered_model.create") == 1
    assert [e.action for e in events].count("model_version.create") == total
    database.dispose()


@pytest.mark.slow
def test_alias_resolution_among_1000_versions_is_fast(tmp_path: Path) -> None:
    """``models:/name@alias`` resolves in well under 5 ms with 1,000 versions (median)."""
    database = Database(f"sqlite:///{tmp_path / 'loopml.db'}")
    database.ensure_schema()
    store = SqlRegistryStore(database)
    for _ in range(1000):
        _register(store, "churn", "MLmodel", "model.pkl")
    store.set_alias("churn", "champion", 500)
    store.set_model_version_tag("churn", 500, "stage", "prod")
    got: ModelVersion = store.get_version_by_alias("churn", "champion")
    assert (got.version, got.aliases, dict(got.tags)) == (500, ("champion",), {"stage": "prod"})
    timings = []
    for _ in range(50):
        start = time.perf_counter()
        store.get_version_by_alias("churn", "champion")
        timings.append(time.perf_counter() - start)
    assert statistics.median(timings) < 0.005
    database.dispose()
