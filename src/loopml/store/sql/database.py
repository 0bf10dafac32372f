"""One SQLAlchemy engine per metadata store URL, with the settings that make it safe to share.

SQLite (the embedded default) runs in WAL mode so readers never block the writer, with a busy
timeout so concurrent writers queue instead of failing, and ``BEGIN IMMEDIATE`` for write
transactions: a deferred transaction that reads and then tries to write can fail at once with
``SQLITE_BUSY`` when another process wrote in between, whatever the timeout; taking the write
lock at ``BEGIN`` removes that failure mode. ``synchronous=NORMAL`` (default) keeps every
committed transaction across a process crash; ``LOOPML_SQLITE_SYNCHRONOUS=FULL`` also across power
loss.

PostgreSQL runs through psycopg 3 (``postgresql+psycopg://``; a bare ``postgresql://`` is mapped
to it).
"""

from __future__ import annotations

import contextlib
import importlib.resources
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
)

from loopml.core.errors import (
    Conflict,
    InvalidInput,
    MissingDependency,
    SchemaOutdated,
    StoreError,
    user_message,
    verbatim,
)
from loopml.core.settings import Settings, mask_url
from loopml.store.sql.schema import SCHEMA_REVISION

__all__ = ["IN_CHUNK", "SUPPORTED_SCHEMES", "Database", "in_chunks", "with_search_path"]

log = logging.getLogger(__name__)

#: SQLite caps bound parameters per statement (32766 in modern builds); IN lists are chunked
#: well below that.
IN_CHUNK = 900

_T = TypeVar("_T")


def with_search_path(url: str, schema: str) -> str:
    """A PostgreSQL URL whose connections use ``schema`` (``options=-csearch_path=...``), with
    the psycopg 3 driver named; one database can then hold isolated loopml stores (tests,
    benchmarks, tenants)."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    query = dict(parsed.query)
    query["options"] = f"-csearch_path={schema}"
    return parsed.set(query=query).render_as_string(hide_password=False)


def in_chunks(items: Sequence[_T], size: int = IN_CHUNK) -> Iterator[Sequence[_T]]:
    """``items`` in slices of at most ``size``, for ``IN (...)`` lists."""
    for i in range(0, len(items), size):
        yield items[i : i + size]


SUPPORTED_SCHEMES = ("sqlite", "postgresql", "postgresql+psycopg")
_PG_LOCK_ID = 0x6C6F6F706D6C  # "loopml": serialises concurrent first-time schema creation


def _lower(value: object) -> object:
    return value.lower() if isinstance(value, str) else value


def _normalise_url(uri: str) -> sa.URL:
    try:
        url = make_url(uri)
    except ArgumentError:
        raise InvalidInput(
            user_message(
                "tracking URI",
                "must be a database URL such as sqlite:///path/loopml.db or "
                "postgresql+psycopg://user@host/db",
                mask_url(uri),
                "check the spelling, or unset LOOPML_TRACKING_URI to use the embedded default",
            )
        ) from None
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    if url.drivername not in SUPPORTED_SCHEMES:
        raise InvalidInput(
            user_message(
                "tracking URI scheme",
                f"must be one of {', '.join(SUPPORTED_SCHEMES)}",
                url.drivername,
                "use sqlite:///path/loopml.db (embedded) or postgresql+psycopg://user@host/db",
            )
        )
    return url


def _script_config() -> Any:
    from alembic.config import Config

    config = Config()
    location = importlib.resources.files("loopml.store") / "migrations"
    config.set_main_option("script_location", str(location))
    return config


def _known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this loopml's migrations."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(_script_config()).get_revision(revision) is not None
    except CommandError:
        return False


class Database:
    """An engine plus the policies of loopml: pragmas, write transactions, schema checks.

    The constructor only builds the engine; the first connection happens in :meth:`ensure_schema`.
    """

    def __init__(self, uri: str, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.url = _normalise_url(uri)
        self.uri = uri
        self.dialect = "sqlite" if self.url.drivername == "sqlite" else "postgresql"
        self.engine = self._create_engine()

    # -- engine -------------------------------------------------------------------------------

    def _create_engine(self) -> Engine:
        if self.dialect == "sqlite":
            return self._create_sqlite_engine()
        try:
            return sa.create_engine(self.url, pool_pre_ping=True)
        except (NoSuchModuleError, ModuleNotFoundError) as exc:
            raise MissingDependency(
                user_message(
                    "PostgreSQL support",
                    "needs the psycopg driver",
                    fix="pip install 'loopml[postgres]'",
                )
            ) from exc

    def _create_sqlite_engine(self) -> Engine:
        database = self.url.database or ""
        in_memory = database in ("", ":memory:")
        if in_memory:
            raise InvalidInput(
                user_message(
                    "tracking URI",
                    "must name a SQLite file (an in-memory database is private to one "
                    "connection and would lose every run)",
                    self.uri,
                    "use sqlite:///path/to/loopml.db",
                )
            )
        timeout = self.settings.db_timeout
        engine = sa.create_engine(
            self.url,
            connect_args={"timeout": timeout, "check_same_thread": False},
        )
        synchronous = self.settings.sqlite_synchronous.upper()

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Hand transaction control to SQLAlchemy's begin event below (pysqlite would
            # otherwise issue its own deferred BEGIN lazily).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute(f"PRAGMA synchronous = {synchronous}")
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute("PRAGMA case_sensitive_like = ON")  # LIKE as in PostgreSQL and MLflow
            cursor.close()
            # ILIKE folds case with this (SQLite's own lower() folds ASCII only); see search.py.
            dbapi_connection.create_function("loopml_lower", 1, _lower, deterministic=True)

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("loopml_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    # -- transactions -------------------------------------------------------------------------

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any exception."""
        with self._translate_errors(), self.engine.connect() as conn:
            conn = conn.execution_options(loopml_write=True)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both backends)."""
        with self._translate_errors(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextlib.contextmanager
    def _translate_errors(self) -> Iterator[None]:
        """Driver errors become StoreError (our own errors pass through untouched)."""
        try:
            yield
        except OperationalError as exc:
            raise StoreError(
                user_message(
                    f"metadata store {mask_url(self.uri)}",
                    "could not complete the operation",
                    verbatim(f"<{mask_url(str(exc.orig))}>"),
                    "check that the database is reachable and not locked by a stuck process",
                )
            ) from exc
        except IntegrityError as exc:
            raise Conflict(
                user_message(
                    f"metadata store {mask_url(self.uri)}",
                    "refused a write that breaks a uniqueness or reference rule",
                    verbatim(f"<{mask_url(str(exc.orig))}>"),
                )
            ) from exc
        except DBAPIError as exc:
            raise StoreError(
                user_message(
                    f"metadata store {mask_url(self.uri)}",
                    "refused the operation",
                    verbatim(f"<{mask_url(str(exc.orig))}>"),
                    "run `loopml db current` to check the schema; if it is current, please "
                    "report this as a loopml bug",
                )
            ) from exc

    # -- schema -------------------------------------------------------------------------------

    def current_revision(self) -> str | None:
        """The Alembic revision stored in the database (None for an empty database)."""
        from alembic.runtime.migration import MigrationContext

        with self.read() as conn:
            return MigrationContext.configure(conn).get_current_revision()

    def _make_sqlite_directory(self) -> None:
        if self.dialect == "sqlite":
            Path(self.url.database or "").parent.mkdir(parents=True, exist_ok=True)

    def ensure_schema(self) -> None:
        """Create the schema in an empty database; refuse one that is out of date."""
        self._make_sqlite_directory()
        revision = self.current_revision()
        if revision == SCHEMA_REVISION:
            return
        if revision is None:
            if self._has_loopml_tables():
                raise StoreError(
                    user_message(
                        f"metadata store {mask_url(self.uri)}",
                        "has loopml tables but no schema version (its alembic_version table is "
                        "empty or missing), so loopml cannot tell which migrations it has",
                        fix="restore alembic_version from a backup, or point "
                        "LOOPML_TRACKING_URI at a fresh database",
                    )
                )
            self.upgrade()
            return
        if not _known_revision(revision):
            raise SchemaOutdated(
                user_message(
                    f"metadata store {mask_url(self.uri)}",
                    f"has schema revision {revision}, which this loopml does not know (it needs "
                    f"{SCHEMA_REVISION}): a newer loopml created or upgraded it",
                    fix="install a newer loopml (pip install -U loopml)",
                )
            )
        raise SchemaOutdated(
            user_message(
                f"metadata store {mask_url(self.uri)}",
                f"has schema revision {revision}, this loopml needs {SCHEMA_REVISION}",
                fix="back it up, then run `loopml db upgrade`",
            )
        )

    def _has_loopml_tables(self) -> bool:
        with self.read() as conn:
            return sa.inspect(conn).has_table("runs")

    def upgrade(self, revision: str = "head") -> tuple[str | None, str | None]:
        """Migrate up to ``revision``; returns (before, after). Safe to run concurrently."""
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        self._make_sqlite_directory()
        config = _script_config()
        with self.write() as conn:
            if self.dialect == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_ID})
            before = MigrationContext.configure(conn).get_current_revision()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
            after = MigrationContext.configure(conn).get_current_revision()
        if before != after:
            log.info("metadata schema upgraded from %s to %s", before, after)
        return before, after

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
