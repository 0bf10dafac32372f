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
    ForeignKeyConstraint,
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
    "deployment_routes",
    "deployments",
    "experiment_tags",
    "experiments",
    "include_object",
    "latest_metrics",
    "metadata",
    "metrics",
    "model_aliases",
    "model_version_tags",
    "model_versions",
    "params",
    "registered_model_tags",
    "registered_models",
    "run_inputs",
    "runs",
    "snapshot_names",
    "snapshot_tags",
    "snapshots",
    "tags",
]

#: The Alembic revision this code expects; a test pins it to the migrations' head.
SCHEMA_REVISION = "0004"

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

#: Owner keys and audit object ids embed a model name (up to 256 characters) and a version
#: number; revision 0002 widened both columns from 128 and 256 characters to this.
_OBJECT_KEY_LENGTH = 512

#: The logical-path index over the content-addressed blob store. ``owner`` says who holds the
#: file (``run:<run_id>``, ``model:<name>/<version>``, ``snapshot:<snapshot_id>``), so garbage
#: collection can find unreferenced blobs with one query.
artifacts = Table(
    "artifacts",
    metadata,
    Column("owner", String(_OBJECT_KEY_LENGTH), nullable=False),
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
    Column("object_id", String(_OBJECT_KEY_LENGTH), nullable=False),
    Column("before", Text, nullable=True),
    Column("after", Text, nullable=True),
    Column("reason", Text, nullable=False, default=""),
    Index("ix_audit_events_object", "object_type", "object_id"),
)

# -- model registry (revision 0002) --------------------------------------------------------------

#: A registered model. ``next_version`` is the number its next version gets: registration
#: increments it in the transaction that inserts the version, so concurrent registrations get
#: consecutive numbers, a failed one leaves no gap, and a deleted number is never reused.
registered_models = Table(
    "registered_models",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("description", Text, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("next_version", Integer, nullable=False),
)

registered_model_tags = Table(
    "registered_model_tags",
    metadata,
    Column(
        "name",
        String(256),
        ForeignKey("registered_models.name", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("name", "key"),
)

#: One immutable version. ``run_id`` has no foreign key: a run may be deleted (even purged)
#: later, and the version's lineage must still name it.
model_versions = Table(
    "model_versions",
    metadata,
    Column(
        "name",
        String(256),
        ForeignKey("registered_models.name", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
    Column("source", Text, nullable=False),
    Column("flavor", String(64), nullable=False),
    Column("user_id", String(256), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(20), nullable=False),
    Column("run_id", String(32), nullable=True, index=True),
    Column("dataset_ids", Text, nullable=False),  # a JSON list of strings
    Column("git_commit", String(64), nullable=True),
    Column("replaces_version", Integer, nullable=True),
    Column("card", Text, nullable=True),  # NULL until someone edits the card
    PrimaryKeyConstraint("name", "version"),
)

model_version_tags = Table(
    "model_version_tags",
    metadata,
    Column("name", String(256), nullable=False),
    Column("version", Integer, nullable=False),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("name", "version", "key"),
    ForeignKeyConstraint(
        ["name", "version"],
        ["model_versions.name", "model_versions.version"],
        ondelete="CASCADE",
    ),
)

#: ``alias -> version`` per model. The foreign key has no ON DELETE: the database itself refuses
#: to delete a version an alias points at (the store refuses first, with a clearer message).
model_aliases = Table(
    "model_aliases",
    metadata,
    Column("name", String(256), nullable=False),
    Column("alias", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("name", "alias"),
    ForeignKeyConstraint(["name", "version"], ["model_versions.name", "model_versions.version"]),
    Index("ix_model_aliases_name_version", "name", "version"),
)

# -- dataset snapshots (revision 0003) ------------------------------------------------------------

#: A snapshot name and the number its next version gets: as ``registered_models.next_version``,
#: incremented by the transaction that inserts the version, so concurrent snapshots of one name
#: get consecutive numbers and a deleted number is never reused. Rows are never deleted.
snapshot_names = Table(
    "snapshot_names",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("next_version", Integer, nullable=False),
    Column("creation_time", BigInteger, nullable=False),
    Column("last_updated_time", BigInteger, nullable=False),
)

#: One immutable snapshot. ``digest`` is the canonical content hash of the data (unique per name:
#: identical data is stored once), ``blob_digest`` the sha256 of its Parquet file; ``schema``,
#: ``profile`` and ``source`` are JSON objects; ``parent`` is a ref (``name@version``) without a
#: foreign key, so a child keeps naming a parent deleted later.
snapshots = Table(
    "snapshots",
    metadata,
    Column("snapshot_id", String(32), primary_key=True),
    Column("name", String(256), ForeignKey("snapshot_names.name"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("digest", String(64), nullable=False),
    Column("blob_digest", String(64), nullable=False),
    Column("blob_size", BigInteger, nullable=False),
    Column("num_rows", BigInteger, nullable=False),
    Column("num_columns", Integer, nullable=False),
    Column("schema", Text, nullable=False),
    Column("profile", Text, nullable=False),
    Column("source", Text, nullable=False),
    Column("parent", String(_OBJECT_KEY_LENGTH), nullable=True),
    Column("git_commit", String(64), nullable=True),
    Column("user_id", String(256), nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("description", Text, nullable=False),
    UniqueConstraint("name", "version"),
    UniqueConstraint("name", "digest"),
)

snapshot_tags = Table(
    "snapshot_tags",
    metadata,
    Column(
        "snapshot_id",
        String(32),
        ForeignKey("snapshots.snapshot_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("key", String(250), nullable=False),
    Column("value", Text, nullable=False),
    PrimaryKeyConstraint("snapshot_id", "key"),
)

# -- deployments (revision 0004) ------------------------------------------------------------------

#: A deployment. ``revision`` starts at 1 and the transaction of every change increments it, so
#: a writer can refuse to overwrite a change it has not seen and a server polls one integer.
#: ``tags`` is a JSON object.
deployments = Table(
    "deployments",
    metadata,
    Column("name", String(256), primary_key=True),
    Column("description", Text, nullable=False),
    Column("tags", Text, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("created_time", BigInteger, nullable=False),
    Column("updated_time", BigInteger, nullable=False),
)

#: The routes of a deployment in their order (``position`` from 0). A route targets a version
#: (``version`` set) or an alias (``alias`` set), never both. There is no foreign key to the
#: registry: a route names what it follows, and resolving it says when that is missing.
deployment_routes = Table(
    "deployment_routes",
    metadata,
    Column(
        "deployment",
        String(256),
        ForeignKey("deployments.name", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False),
    Column("arm", String(400), nullable=False),
    Column("model", String(256), nullable=False),
    Column("version", Integer, nullable=True),
    Column("alias", String(128), nullable=True),
    Column("weight", Double, nullable=False),
    Column("mode", String(16), nullable=False),
    PrimaryKeyConstraint("deployment", "position"),
    UniqueConstraint("deployment", "arm"),
    # Which deployments serve a model (the registry's question before it deletes a version).
    Index("ix_deployment_routes_model", "model"),
)
