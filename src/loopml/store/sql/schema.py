"""The metadata schema as SQLAlchemy Core tables: the single description the store queries.

Alembic migrations under ``loopml/store/migrations`` create and evolve these tables; a test
checks that a database upgraded to head matches this module exactly (no drift between the two).
Timestamps are BIGINT milliseconds; experiment ids are integers on disk and strings in entities.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

__all__ = [
    "SCHEMA_REVISION",
    "artifacts",
    "audit_events",
    "datasets",
    "experiment_tags",
    "experiments",
    "include_object",
    "latest_metrics",
    "metadata",
    "metrics",
    "params",
    "run_inputs",
    "runs",
    "tags",
]

#: The Alembic revision this code expects; a test pins it to the migrations' head.
SCHEMA_REVISION = "0001"

_NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=_NAMING)

_ID = BigInteger().with_variant(Integer, "sqlite")  # INTEGER PRIMARY KEY is SQLite's rowid

experiments = Table(
    "experiments",
    metadata,
    Column("experiment_id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False, unique=True),
    Column("artifact_location", Text, nullable=False),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_update_time", BigInteger, nullable=False),
)

experiment_tags = Table(
    "experiment_tags",
    metadata,
    Column(
        "experiment_id",
        _ID,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("experiment_id", "key"),
)

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(32), primary_key=True),
    Column(
        "experiment_id",
        _ID,
        ForeignKey("experiments.experiment_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("run_name", String(250), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("status", String(20), nullable=False),
    Column("start_time", BigInteger, nullable=False),
    Column("end_time", BigInteger, nullable=True),
    Column("lifecycle_stage", String(20), nullable=False),
    Column("artifact_uri", Text, nullable=False),
    Column("parent_run_id", String(32), nullable=True, index=True),
    Column("deleted_time", BigInteger, nullable=True),
    Index("ix_runs_experiment_stage_start", "experiment_id", "lifecycle_stage", "start_time"),
)


def _only_on(dialect: str, index: Index) -> Index:
    """An index that exists on one backend only (see :func:`include_object`)."""
    index.info["dialects"] = (dialect,)
    return index.ddl_if(dialect=dialect)


def _by_key_and_value(table: str) -> tuple[Index, Index]:
    """Indexes for filters on params/tags. SQLite: covering (key, value, run_id), which makes a
    search over 10k runs ~3x faster. PostgreSQL caps a B-tree entry at ~2.7 kB while values
    may hold 8,000 characters, so there the index is (key, run_id) and the value is checked in
    the table."""
    return (
        _only_on("sqlite", Index(f"ix_{table}_key_value_run", "key", "value", "run_id")),
        _only_on("postgresql", Index(f"ix_{table}_key_run", "key", "run_id")),
    )


def include_object(dialect: str) -> Callable[[Any, str | None, str, bool, Any], bool]:
    """Alembic ``include_object`` hook: leave out indexes that do not exist on ``dialect``."""

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "index" and not reflected:
            dialects = obj.info.get("dialects")
            return dialects is None or dialect in dialects
        return True

    return include


def _run_fk() -> ForeignKey:
    return ForeignKey("runs.run_id", ondelete="CASCADE")


params = Table(
    "params",
    metadata,
    Column("run_id", String(32), _run_fk(), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
    *(_by_key_and_value("params")),
)

tags = Table(
    "tags",
    metadata,
    Column("run_id", String(32), _run_fk(), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
    *(_by_key_and_value("tags")),
)

#: Every point of every metric's history.
metrics = Table(
    "metrics",
    metadata,
    Column("metric_id", _ID, primary_key=True, autoincrement=True),
    Column("run_id", String(32), _run_fk(), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Double, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    Index("ix_metrics_run_key_step", "run_id", "key", "step", "timestamp"),
)

#: The latest point per (run, key), ordered by (step, timestamp, value) as in MLflow; kept in the
#: same transaction as ``metrics`` so searches filter and sort without scanning history.
latest_metrics = Table(
    "latest_metrics",
    metadata,
    Column("run_id", String(32), _run_fk(), nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Double, nullable=False),
    Column("timestamp", BigInteger, nullable=False),
    Column("step", BigInteger, nullable=False),
    PrimaryKeyConstraint("run_id", "key"),
    # Covering: a metric filter is answered from the index alone.
    Index("ix_latest_metrics_key_value_run", "key", "value", "run_id"),
)

datasets = Table(
    "datasets",
    metadata,
    Column("dataset_id", _ID, primary_key=True, autoincrement=True),
    Column("name", String(256), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("source_type", String(64), nullable=False),
    Column("source", Text, nullable=False),
    Column("schema", Text, nullable=False),
    Column("profile", Text, nullable=False),
    Column("num_rows", BigInteger, nullable=True),
    Column("created_time", BigInteger, nullable=False),
    UniqueConstraint("name", "digest"),
)

run_inputs = Table(
    "run_inputs",
    metadata,
    Column("run_id", String(32), _run_fk(), nullable=False),
    Column(
        "dataset_id",
        _ID,
        ForeignKey("datasets.dataset_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("context", String(64), nullable=False),
    PrimaryKeyConstraint("run_id", "dataset_id", "context"),
)

#: The logical-path index over the content-addressed blob store. ``owner`` says who holds the
#: file (``run:<run_id>`` today; models and dataset snapshots later), so garbage collection can
#: find unreferenced blobs with one query.
artifacts = Table(
    "artifacts",
    metadata,
    Column("owner", String(128), nullable=False),
    Column("path", String(1024), nullable=False),
    Column("digest", String(64), nullable=False, index=True),
    Column("size", BigInteger, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    PrimaryKeyConstraint("owner", "path"),
)

#: Who did what to which object, written in the same transaction as the change.
audit_events = Table(
    "audit_events",
    metadata,
    Column("event_id", _ID, primary_key=True, autoincrement=True),
    Column("time", BigInteger, nullable=False, index=True),
    Column("actor", String(256), nullable=False),
    Column("action", String(80), nullable=False),
    Column("object_type", String(40), nullable=False),
    Column("object_id", String(256), nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Index("ix_audit_events_object", "object_type", "object_id"),
)
