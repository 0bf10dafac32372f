"""The deployment store contract on every metadata backend, and what only the SQL store can show.

Every check of ``check_deployment_store`` runs on SQLite (a file in tmp_path) and on PostgreSQL (a
fresh schema per store, when ``LOOPML_TEST_POSTGRES_URL`` is set). The rest: the suite fails on
broken stores, the reads a server polls are one statement each, the 0004 migration keeps
existing rows, and processes racing to change one deployment from the same revision leave
exactly one winner.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from _harness import AWAIT_GO, CHILD_ARGS, run_released
from conftest import BACKEND_PARAMS, conformance_params
from loopml.core.deployments import Deployment, DeploymentFingerprint, Route, parse_route
from loopml.core.registry import Lineage
from loopml.store.conformance import check_deployment_store
from loopml.store.deployments import DeploymentStore
from loopml.store.registry import RegistryStore
from loopml.store.sql import Database, SqlDeploymentStore, SqlRegistryStore
from loopml.store.sql.audit import write_audit
from loopml.store.sql.schema import deployments
from loopml.store.stores import open_stores

StoresFactory = Callable[[], tuple[DeploymentStore, RegistryStore]]

SHA = "ab" * 32


def _never() -> tuple[DeploymentStore, RegistryStore]:
    raise AssertionError("check_deployment_store must not build a store while yielding checks")


CHECK_NAMES = [name for name, _ in check_deployment_store(_never)]


def _pair(database: Database, store: type[SqlDeploymentStore] = SqlDeploymentStore) -> Any:
    return store(database), SqlRegistryStore(database)


@pytest.fixture
def make_stores(make_database: Callable[[], Database]) -> StoresFactory:
    return lambda: _pair(make_database())


@pytest.mark.parametrize(("backend", "check_name"), conformance_params(CHECK_NAMES))
def test_deployment_store_conformance(make_stores: StoresFactory, check_name: str) -> None:
    dict(check_deployment_store(make_stores))[check_name]()


def test_check_names_are_unique_and_cover_the_contract() -> None:
    assert len(CHECK_NAMES) == len(set(CHECK_NAMES))
    assert 25 <= len(CHECK_NAMES) <= 50
    for required in (
        "create_and_get",
        "invalid_routes_rejected",
        "update_routes_increments_revision",
        "update_routes_expected_revision",
        "update_routes_unchanged_changes_nothing",
        "audit_route_change_before_and_after",
        "audit_failed_operation_writes_nothing",
        "fingerprint_follows_alias_moves",
        "concurrent_updates_expecting_one_revision",
        "concurrent_updates_serialise",
    ):
        assert required in CHECK_NAMES


# ---- the suite catches broken stores ---------------------------------------------------------


class _IgnoresExpectedRevision(SqlDeploymentStore):
    """A broken store: last writer wins, whatever revision it expected."""

    def update_routes(
        self,
        name: str,
        routes: Sequence[Route],
        expected_revision: int | None = None,
        actor: str = "",
    ) -> Deployment:
        return super().update_routes(name, routes, None, actor)


class _BumpsOnEveryUpdate(SqlDeploymentStore):
    """A broken store: re-setting the same routes still counts as a change."""

    def update_routes(
        self,
        name: str,
        routes: Sequence[Route],
        expected_revision: int | None = None,
        actor: str = "",
    ) -> Deployment:
        updated = super().update_routes(name, routes, expected_revision, actor)
        with self.db.write() as conn:
            conn.execute(
                deployments.update()
                .where(deployments.c.name == name)
                .values(revision=deployments.c.revision + 1)
            )
        return self.get_deployment(updated.name)


class _FingerprintOfRevisionOnly(SqlDeploymentStore):
    """A broken store: the fingerprint ignores where the aliases point."""

    def get_fingerprint(self, name: str) -> DeploymentFingerprint:
        deployment = self.get_deployment(name)
        routes = tuple(
            (r.arm, r.model, r.target, r.weight, r.mode, r.version) for r in deployment.routes
        )
        return DeploymentFingerprint(deployment.revision, routes)


class _AuditsRefusals(SqlDeploymentStore):
    """A broken store: records the attempt in its own transaction before it checks anything."""

    def update_routes(
        self,
        name: str,
        routes: Sequence[Route],
        expected_revision: int | None = None,
        actor: str = "",
    ) -> Deployment:
        with self.db.write() as conn:
            write_audit(conn, actor, "deployment.update_routes", "deployment", name, None, None)
        return super().update_routes(name, routes, expected_revision, actor)


@pytest.mark.parametrize(
    ("broken", "check_name", "match"),
    [
        (_IgnoresExpectedRevision, "update_routes_expected_revision", "should raise Conflict"),
        (_BumpsOnEveryUpdate, "update_routes_unchanged_changes_nothing", "same routes"),
        (_FingerprintOfRevisionOnly, "fingerprint_follows_alias_moves", "should change"),
        (_AuditsRefusals, "audit_failed_operation_writes_nothing", "after the refused"),
    ],
)
@pytest.mark.parametrize("backend", ["sqlite"])
def test_conformance_checks_fail_on_broken_stores(
    make_database: Callable[[], Database],
    broken: type[SqlDeploymentStore],
    check_name: str,
    match: str,
) -> None:
    with pytest.raises(AssertionError, match=match):
        dict(check_deployment_store(lambda: _pair(make_database(), broken)))[check_name]()


# ---- the SQL store beyond the protocol -------------------------------------------------------


@contextmanager
def _statements(database: Database) -> Iterator[list[str]]:
    """The SQL statements ``database`` runs inside the block (transaction control excluded)."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            seen.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", record)


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_polled_reads_are_one_statement_each(make_database: Callable[[], Database]) -> None:
    """What a server polls every second costs one indexed statement: the revision alone, or
    the fingerprint with every alias the routes follow."""
    database = make_database()
    store, registry = _pair(database)
    for _ in range(2):
        registry.create_model_version("churn", "src", "sklearn", [("MLmodel", SHA, 1)], Lineage())
    registry.set_alias("churn", "champion", 2)
    routes = [parse_route(s) for s in ("churn@champion:90", "churn/1:10:canary", "churn@b::shadow")]
    store.create_deployment("web", routes)
    store.get_fingerprint("web")  # warm the pool
    with _statements(database) as seen:
        fingerprint = store.get_fingerprint("web")
    assert len(seen) == 1, seen
    assert [route[-1] for route in fingerprint.routes] == [2, 1, None]
    with _statements(database) as seen:
        assert store.get_revision("web") == 1
    assert len(seen) == 1, seen


def test_open_stores_has_a_deployment_store(tmp_path: Path) -> None:
    stores = open_stores(str(tmp_path / "home"))
    assert isinstance(stores.deployments, SqlDeploymentStore)
    assert stores.deployments.db is stores.database
    stores.deployments.create_deployment("web", [parse_route("churn@champion")])
    assert stores.deployments.get_revision("web") == 1


def test_upgrade_from_0003_keeps_rows(tracking_uri: str) -> None:
    """A 0003 database with a registered model and an alias upgrades to 0004 with both intact,
    and then stores deployments that follow the alias."""
    database = Database(tracking_uri)
    database.upgrade("0003")
    registry = SqlRegistryStore(database)
    registry.create_model_version("churn", "src", "sklearn", [("MLmodel", SHA, 1)], Lineage())
    registry.set_alias("churn", "champion", 1)
    database.upgrade()
    assert database.current_revision() == "0004"
    assert registry.get_version_by_alias("churn", "champion").version == 1
    store = SqlDeploymentStore(database)
    store.create_deployment("web", [parse_route("churn@champion")])
    assert store.get_fingerprint("web").routes[0][-1] == 1
    database.dispose()


# ---- processes racing to change one deployment -------------------------------------------------

PROCESSES = 4
PER_PROCESS = 5

_WORKER = (
    CHILD_ARGS
    + r"""
from loopml.core.deployments import parse_route
from loopml.core.errors import Conflict
from loopml.store.sql import Database, SqlDeploymentStore

count = int(sys.argv[4])
store = SqlDeploymentStore(Database(uri))
"""
    + AWAIT_GO
    + r"""
for step in range(count):
    revision = store.get_revision("web")
    try:
        store.update_routes(
            "web", [parse_route(f"churn/{index * 100 + step + 1}")], expected_revision=revision,
            actor=f"child-{index}",
        )
        print("won", revision, flush=True)
    except Conflict:
        print("lost", revision, flush=True)
"""
)


@pytest.mark.slow
def test_processes_racing_from_one_revision_leave_one_winner_each(
    tracking_uri: str, tmp_path: Path
) -> None:
    """PROCESSES children each make PER_PROCESS read-then-update attempts with the revision they
    read: every revision is won by exactly one writer, so the wins count the revisions."""
    database = Database(tracking_uri)
    database.ensure_schema()
    store = SqlDeploymentStore(database)
    store.create_deployment("web", [parse_route("churn@champion")])
    outputs = run_released(_WORKER, tracking_uri, tmp_path / "race", PROCESSES, str(PER_PROCESS))
    attempts = [line.split() for out in outputs for line in out.splitlines()]
    assert len(attempts) == PROCESSES * PER_PROCESS
    won = sorted(int(revision) for outcome, revision in attempts if outcome == "won")
    assert won == list(range(1, len(won) + 1)), "a revision was won twice, or one was skipped"
    assert store.get_revision("web") == 1 + len(won)
    changes = [e for e in store.list_audit_events("web") if e.action == "deployment.update_routes"]
    assert [e.before["revision"] for e in changes] == won
    database.dispose()
