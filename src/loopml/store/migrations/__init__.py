"""Alembic migrations of the metadata schema (run with ``loopml db upgrade``)."""
