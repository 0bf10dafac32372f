"""Deployments: named routes to registered model versions and aliases.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployments",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("tags", sa.Text, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_time", sa.BigInteger, nullable=False),
        sa.Column("updated_time", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_deployments"),
    )
    op.create_table(
        "deployment_routes",
        sa.Column("deployment", sa.String(256), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("arm", sa.String(400), nullable=False),
        sa.Column("model", sa.String(256), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("alias", sa.String(128), nullable=True),
        sa.Column("weight", sa.Double, nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment"],
            ["deployments.name"],
            name="fk_deployment_routes_deployment_deployments",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("deployment", "position", name="pk_deployment_routes"),
        sa.UniqueConstraint("deployment", "arm", name="uq_deployment_routes_deployment_arm"),
    )
    op.create_index("ix_deployment_routes_model", "deployment_routes", ["model"])


def downgrade() -> None:
    for name in ("deployment_routes", "deployments"):
        op.drop_table(name)
