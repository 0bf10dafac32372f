"""Dataset snapshots: names with their version counter, snapshots, snapshot tags.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshot_names",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("next_version", sa.Integer, nullable=False),
        sa.Column("creation_time", sa.BigInteger, nullable=False),
        sa.Column("last_updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_snapshot_names"),
    )
    op.create_table(
        "snapshots",
        sa.Column("snapshot_id", sa.String(32), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("blob_digest", sa.String(64), nullable=False),
        sa.Column("blob_size", sa.BigInteger, nullable=False),
        sa.Column("num_rows", sa.BigInteger, nullable=False),
        sa.Column("num_columns", sa.Integer, nullable=False),
        sa.Column("schema", sa.Text, nullable=False),
        sa.Column("profile", sa.Text, nullable=False),
        sa.Column("source", sa.Text, nullable=False),
        sa.Column("parent", sa.String(512), nullable=True),
        sa.Column("git_commit", sa.String(64), nullable=True),
        sa.Column("user_id", sa.String(256), nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["name"], ["snapshot_names.name"], name="fk_snapshots_name_snapshot_names"
        ),
        sa.PrimaryKeyConstraint("snapshot_id", name="pk_snapshots"),
        sa.UniqueConstraint("name", "version", name="uq_snapshots_name_version"),
        sa.UniqueConstraint("name", "digest", name="uq_snapshots_name_digest"),
    )
    op.create_table(
        "snapshot_tags",
        sa.Column("snapshot_id", sa.String(32), nullable=False),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("value", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(
            ["snapshot_id"],
            ["snapshots.snapshot_id"],
            name="fk_snapshot_tags_snapshot_id_snapshots",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("snapshot_id", "key", name="pk_snapshot_tags"),
    )


def downgrade() -> None:
    for name in ("snapshot_tags", "snapshots", "snapshot_names"):
        op.drop_table(name)
