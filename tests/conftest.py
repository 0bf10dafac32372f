"""Shared fixtures: seeded randomness, an isolated loopml home, and metadata backends.

Backends: ``sqlite`` always; ``postgresql`` when ``LOOPML_TEST_POSTGRES_URL`` is set (``.ci/run``
sets it), else skipped with that reason. Each PostgreSQL test gets a fresh schema of its own, and
each database ``make_database`` builds gets one more.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import settings

import loopml
from loopml.store.sql import Database
from loopml.store.sql.database import with_search_path
from loopml.store.stores import clear_store_cache

# The machine is shared and noisy: no per-example deadlines. Under CI the examples are
# derandomised, so a CI failure reproduces.
_IN_CI = os.environ.get("CI", "").lower() in ("1", "true")
if _IN_CI:
    settings.register_profile("loopml", deadline=None, derandomize=True, database=None)
else:
    settings.register_profile("loopml", deadline=None)
settings.load_profile("loopml")

POSTGRES_URL = os.environ.get("LOOPML_TEST_POSTGRES_URL", "")
SKIP_NO_PG = "PostgreSQL tests need LOOPML_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)"

BACKENDS = ("sqlite", "postgresql")
#: ``backend`` values for ``pytest.mark.parametrize``: PostgreSQL marked ``postgres``.
BACKEND_PARAMS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture
def one_thread() -> Iterator[None]:
    """OpenMP models (histogram boosting) crawl when their threads outnumber free cores, as on
    a shared 2-core machine; one thread each keeps the tests fast and changes no result.
    Modules that fit such models use it: ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture
def seed() -> int:
    """Seed Python's and numpy's global generators; returns the seed for local generators."""
    value = 20261123
    random.seed(value)
    np.random.seed(value)
    return value


@pytest.fixture
def rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own LOOPML_HOME and a clean fluent state."""
    home = tmp_path / "loopml-home"
    monkeypatch.setenv("LOOPML_HOME", str(home))
    for name in (
        "LOOPML_TRACKING_URI",
        "LOOPML_ARTIFACT_URI",
        "LOOPML_EXPERIMENT_NAME",
        "LOOPML_PREDICTIONS_URI",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOOPML_RECORD_GIT", "false")
    loopml.set_tracking_uri(None)
    yield home
    while loopml.active_run() is not None:
        loopml.end_run()
    loopml.set_tracking_uri(None)
    clear_store_cache()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI prints as on a wide terminal: no line breaks inside the messages and table cells
    the tests read (how wide a temporary path is must not decide whether a test passes)."""
    from loopml.cli.state import console, err_console

    monkeypatch.setattr(console, "width", 240)
    monkeypatch.setattr(err_console, "width", 240)


def _new_schema(admin: sa.Engine) -> str:
    """Create a schema with a fresh name; its name."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    return schema


def _drop_schemas(admin: sa.Engine, schemas: Iterable[str]) -> None:
    """Drop ``schemas`` with all they hold, then dispose of ``admin``."""
    with admin.begin() as conn:
        for schema in schemas:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_NO_PG)
    admin = sa.create_engine(with_search_path(POSTGRES_URL, "public"))
    schema = _new_schema(admin)
    try:
        yield with_search_path(POSTGRES_URL, schema)
    finally:
        clear_store_cache()
        _drop_schemas(admin, [schema])


@pytest.fixture(params=BACKEND_PARAMS)
def tracking_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh metadata store URL for each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'loopml.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def make_database(backend: str, tmp_path: Path) -> Iterator[Callable[[], Database]]:
    """A factory of fresh, empty, schema-ready databases on ``backend`` (a parameter of the test,
    ``"sqlite"`` or ``"postgresql"``): a new SQLite file or PostgreSQL schema per call, all
    disposed of and removed after the test."""
    if backend == "postgresql" and not POSTGRES_URL:
        pytest.skip(SKIP_NO_PG)
    counter = itertools.count()
    databases: list[Database] = []
    schemas: list[str] = []
    admin = (
        sa.create_engine(with_search_path(POSTGRES_URL, "public"))
        if backend == "postgresql"
        else None
    )

    def make() -> Database:
        if admin is None:
            uri = f"sqlite:///{tmp_path / f'store-{next(counter)}' / 'loopml.db'}"
        else:
            schemas.append(_new_schema(admin))
            uri = with_search_path(POSTGRES_URL, schemas[-1])
        database = Database(uri)
        databases.append(database)
        database.ensure_schema()
        return database

    yield make
    for database in databases:
        database.dispose()
    if admin is not None:
        _drop_schemas(admin, schemas)


def conformance_params(
    check_names: Iterable[str], known_bugs: Mapping[tuple[str, str], str] | None = None
) -> list[object]:
    """``(backend, check_name)`` parameters running a conformance suite on every backend.

    ``known_bugs`` maps ``(backend, check_name)`` to the loopml bug that check exposes: such a
    check is a strict xfail whose reason names the bug, so it turns red the day the bug is fixed.
    """
    names = list(check_names)
    params: list[object] = []
    for backend in BACKENDS:
        for name in names:
            marks = [pytest.mark.postgres] if backend == "postgresql" else []
            reason = (known_bugs or {}).get((backend, name))
            if reason:
                marks.append(pytest.mark.xfail(strict=True, raises=AssertionError, reason=reason))
            params.append(pytest.param(backend, name, marks=marks, id=f"{backend}-{name}"))
    return params


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process as a user would; returns (exit code, stdout, stderr)."""
    from loopml.cli import main

    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
