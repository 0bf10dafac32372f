"""The tracking store contract on every metadata backend, and the SQL store's schema and URI rules.

Every check of ``check_tracking_store`` runs on SQLite (a file in tmp_path) and on PostgreSQL (a
fresh schema per store, when ``LOOPML_TEST_POSTGRES_URL`` is set). Checks that expose a known bug
of a backend are strict xfails whose reason names the bug, so the suite stays green while the bug
stays visible and the xfail turns red the day the bug is fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import loopml
from conftest import BACKEND_PARAMS, conformance_params
from loopml.core.entities import Metric
from loopml.core.errors import Conflict, InvalidInput, SchemaOutdated, StoreError
from loopml.core.settings import Settings
from loopml.core.validation import ValidBatch
from loopml.store.conformance import check_tracking_store
from loopml.store.sql import Database, SqlTrackingStore
from loopml.store.sql.schema import SCHEMA_REVISION, include_object, metadata
from loopml.store.stores import resolve_tracking_uri
from loopml.store.tracking import TrackingStore

StoreFactory = Callable[[], TrackingStore]


def _never() -> TrackingStore:
    raise AssertionError("check_tracking_store must not build a store while yielding checks")


CHECK_NAMES = [name for name, _ in check_tracking_store(_never)]

#: (backend, check) → the loopml bug the check exposes (see the module docstring).
KNOWN_BUGS: dict[tuple[str, str], str] = {}


@pytest.fixture
def make_store(make_database: Callable[[], Database]) -> StoreFactory:
    return lambda: SqlTrackingStore(make_database())


@pytest.mark.parametrize(("backend", "check_name"), conformance_params(CHECK_NAMES, KNOWN_BUGS))
def test_tracking_store_conformance(make_store: StoreFactory, check_name: str) -> None:
    dict(check_tracking_store(make_store))[check_name]()


def test_check_names_are_unique_and_cover_the_brief() -> None:
    assert len(CHECK_NAMES) == len(set(CHECK_NAMES))
    assert 30 <= len(CHECK_NAMES) <= 60
    for required in (
        "experiment_create_and_get",
        "experiment_duplicate_name_conflict",
        "experiment_unknown_id_not_found",
        "experiment_malformed_id_invalid_input",
        "experiment_ids_are_strings",
        "run_in_deleted_experiment_conflict",
        "latest_metric_by_step_timestamp_value",
        "metric_history_complete_and_ordered",
        "param_conflict_writes_nothing",
        "log_to_deleted_run_conflict",
        "log_inputs_dedup",
        "search_pagination",
        "search_bad_page_token",
        "search_max_results_bounds",
        "search_like_case_sensitivity",
        "unicode_and_long_values_round_trip",
    ):
        assert required in CHECK_NAMES
    assert {check for _, check in KNOWN_BUGS} <= set(CHECK_NAMES)


# ---- the suite catches broken stores ---------------------------------------------------------


class _HistoryNewestFirst(SqlTrackingStore):
    """A broken store: returns a metric's history in reverse order."""

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        return super().get_metric_history(run_id, key)[::-1]


class _MetricsBeforeParams(SqlTrackingStore):
    """A broken store: commits a batch's metrics before it checks the params."""

    def log_batch(self, run_id: str, batch: ValidBatch) -> None:
        super().log_batch(run_id, ValidBatch(metrics=batch.metrics))
        super().log_batch(run_id, ValidBatch(params=batch.params, tags=batch.tags))


class _IgnoresPageToken(SqlTrackingStore):
    """A broken store: every page is the first page."""

    def search_runs(self, *args: object, **kwargs: object) -> loopml.Page[loopml.Run]:
        kwargs.pop("page_token", None)
        return super().search_runs(*args, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("broken", "check_name", "match"),
    [
        (_HistoryNewestFirst, "metric_history_complete_and_ordered", "not ordered by"),
        (_MetricsBeforeParams, "param_conflict_writes_nothing", "metrics after the refused batch"),
        (_IgnoresPageToken, "search_pagination", "does not end|repeated runs"),
    ],
)
@pytest.mark.parametrize("backend", ["sqlite"])
def test_conformance_checks_fail_on_broken_stores(
    make_database: Callable[[], Database],
    broken: type[SqlTrackingStore],
    check_name: str,
    match: str,
) -> None:
    with pytest.raises(AssertionError, match=match):
        dict(check_tracking_store(lambda: broken(make_database())))[check_name]()


# ---- schema: migrations, revision, outdated databases ----------------------------------------


def _alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", "loopml.store:migrations")
    return config


def test_migrations_build_exactly_the_metadata_schema(tracking_uri: str) -> None:
    database = Database(tracking_uri)
    database.ensure_schema()
    with database.engine.connect() as conn:
        options = {
            "compare_type": True,
            "compare_server_default": True,
            "include_object": include_object(conn.dialect.name),
        }
        context = MigrationContext.configure(conn, opts=options)
        assert compare_metadata(context, metadata) == []
        # The comparison can fail: a column the migrations never created shows up as a diff.
        extended = sa.MetaData(naming_convention=metadata.naming_convention)
        for table in metadata.tables.values():
            copy = table.to_metadata(extended)
            infos = {index.name: index.info for index in table.indexes}
            for index in copy.indexes:  # to_metadata drops Index.info (the dialect marks)
                index.info.update(infos[index.name])
        extended.tables["runs"].append_column(sa.Column("description", sa.Text))
        diff = compare_metadata(context, extended)
    database.dispose()
    assert [(d[0], d[2], d[3].name) for d in diff] == [("add_column", "runs", "description")]


def test_schema_revision_is_the_alembic_head() -> None:
    script = ScriptDirectory.from_config(_alembic_config())
    assert script.get_heads() == [SCHEMA_REVISION]


def _stamp(uri: str, revision: str) -> None:
    """Create the schema at head, then overwrite the recorded revision."""
    database = Database(uri)
    database.ensure_schema()
    with database.engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    database.dispose()


def test_outdated_schema_asks_for_loopml_db_upgrade(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database at a known, older revision: simulated as today's schema read by a loopml
    whose code expects a later revision (only one migration exists so far)."""
    import loopml.store.sql.database as database_module

    _stamp(tracking_uri, SCHEMA_REVISION)
    monkeypatch.setattr(database_module, "SCHEMA_REVISION", "9000")
    message = (
        rf"has schema revision {SCHEMA_REVISION}, this loopml needs 9000\. "
        r"Fix: back it up, then run `loopml db upgrade`\.$"
    )
    with pytest.raises(SchemaOutdated, match=message):
        Database(tracking_uri).ensure_schema()
    with pytest.raises(SchemaOutdated, match=message):
        loopml.Client(tracking_uri=tracking_uri).list_experiments()


def test_newer_schema_suggests_a_newer_loopml(tracking_uri: str) -> None:
    _stamp(tracking_uri, "9999")
    with pytest.raises(
        SchemaOutdated, match=r"revision 9999, which this loopml does not know.*pip install -U"
    ):
        Database(tracking_uri).ensure_schema()


@pytest.mark.parametrize("backend", BACKEND_PARAMS)
def test_tables_without_a_version_row_are_a_store_error(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    if backend == "sqlite":
        uri = f"sqlite:///{tmp_path / 'loopml.db'}"
    else:
        uri = request.getfixturevalue("postgres_url")
    database = Database(uri)
    database.ensure_schema()
    with database.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM alembic_version"))
    database.dispose()
    with pytest.raises(StoreError, match="has loopml tables but no schema version"):
        Database(uri).ensure_schema()


# ---- tracking URIs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "scheme"),
    [("mysql://me@db/loopml", "mysql"), ("mongodb://db/loopml", "mongodb"), ("s3://b/x", "s3")],
)
def test_unknown_scheme_is_invalid_input_naming_it(uri: str, scheme: str) -> None:
    with pytest.raises(InvalidInput, match=rf"tracking URI scheme must be .*; got '{scheme}://'"):
        resolve_tracking_uri(uri, Settings())
    with pytest.raises(
        InvalidInput, match=rf"tracking URI scheme must be one of .*; got '{scheme}'"
    ):
        Database(uri)
    with pytest.raises(InvalidInput, match=rf"got '{scheme}://'"):
        loopml.set_tracking_uri(uri)


def test_unsupported_driver_of_a_known_scheme_is_invalid_input() -> None:
    uri = "postgresql+asyncpg://me@db/loopml"
    with pytest.raises(InvalidInput, match=r"got 'postgresql\+asyncpg'\. Fix: use sqlite:///"):
        loopml.Client(tracking_uri=uri).list_experiments()


@pytest.mark.parametrize("uri", ["sqlite://", "sqlite:///:memory:"])
def test_in_memory_sqlite_is_refused(uri: str) -> None:
    match = r"tracking URI must name a SQLite file \(an in-memory database is private"
    with pytest.raises(InvalidInput, match=match):
        Database(uri)
    with pytest.raises(InvalidInput, match=match):
        loopml.Client(tracking_uri=uri).list_experiments()


def _unreachable_error(uri: str) -> str:
    """The message of the error opening ``uri`` (nothing listens on port 1)."""
    with pytest.raises(StoreError, match="could not complete the operation") as info:
        loopml.Client(tracking_uri=uri).list_experiments()
    return str(info.value)


@pytest.mark.parametrize("scheme", ["postgresql", "postgresql+psycopg"])
def test_postgres_password_is_masked_in_errors(scheme: str) -> None:
    message = _unreachable_error(f"{scheme}://me:hunter2@127.0.0.1:1/loopml")
    assert "hunter2" not in message
    assert f"{scheme}://me:***@127.0.0.1:1/loopml" in message
    with pytest.raises(InvalidInput) as info:
        resolve_tracking_uri("mysql://me:hunter2@db/loopml", Settings())
    assert "hunter2" not in str(info.value)
    assert "mysql://me:***@db/loopml" in str(info.value)


def test_postgres_password_in_query_is_masked_in_errors() -> None:
    message = _unreachable_error("postgresql+psycopg://me@127.0.0.1:1/loopml?password=hunter2")
    assert "hunter2" not in message


def test_errors_of_the_store_are_loopml_errors(tmp_path: Path) -> None:
    """A caller's mistake against a real store surfaces as the documented error type."""
    client = loopml.Client(tracking_uri=str(tmp_path / "home"))
    experiment_id = client.create_experiment("errors")
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "lr", 0.1)
    with pytest.raises(Conflict, match=r"param 'lr' of run \w+ is already logged as '0\.1'"):
        client.log_param(run_id, "lr", 0.2)
    with pytest.raises(InvalidInput, match=r"run id must be 32 lowercase hexadecimal characters"):
        client.get_run("nope")
