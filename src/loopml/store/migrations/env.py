"""Alembic environment: runs on the connection loopml passes (``loopml.store.sql.database``)."""

from __future__ import annotations

from alembic import context

from loopml.store.sql.schema import include_object, metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - loopml always passes its own connection
    raise RuntimeError("loopml migrations run through `loopml db upgrade`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    include_object=include_object(connection.dialect.name),
)
context.run_migrations()
