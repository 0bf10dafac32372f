"""Shared fixtures: seeded randomness, an isolated loopml home, and metadata backends.

Backends: ``sqlite`` always; ``postgresql`` when ``LOOPML_TEST_POSTGRES_URL`` is set (``.ci/run``
sets it), else skipped with that reason. Each PostgreSQL test gets a fresh schema of its own.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from hypothesis import settings

import loopml
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
    for name in ("LOOPML_TRACKING_URI", "LOOPML_ARTIFACT_URI", "LOOPML_EXPERIMENT_NAME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LOOPML_RECORD_GIT", "false")
    loopml.set_tracking_uri(None)
    yield home
    while loopml.active_run() is not None:
        loopml.end_run()
    loopml.set_tracking_uri(None)
    clear_store_cache()


def _pg_schema_url(base: str, schema: str) -> str:
    url = sa.make_url(base)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    query = dict(url.query)
    query["options"] = f"-csearch_path={schema}"
    return url.set(query=query).render_as_string(hide_password=False)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped after the test."""
    if not POSTGRES_URL:
        pytest.skip(SKIP_NO_PG)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_pg_schema_url(POSTGRES_URL, "public"))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _pg_schema_url(POSTGRES_URL, schema)
    finally:
        clear_store_cache()
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def tracking_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh metadata store URL for each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'loopml.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url
