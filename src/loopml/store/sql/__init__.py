"""The SQLAlchemy metadata store: SQLite (embedded default) and PostgreSQL."""

from loopml.store.sql.artifact_index import SqlArtifactIndex, run_owner
from loopml.store.sql.database import SUPPORTED_SCHEMES, Database
from loopml.store.sql.deployments import SqlDeploymentStore
from loopml.store.sql.registry import SqlRegistryStore
from loopml.store.sql.snapshots import SqlSnapshotStore
from loopml.store.sql.tracking import SqlTrackingStore

__all__ = [
    "SUPPORTED_SCHEMES",
    "Database",
    "SqlArtifactIndex",
    "SqlDeploymentStore",
    "SqlRegistryStore",
    "SqlSnapshotStore",
    "SqlTrackingStore",
    "run_owner",
]
