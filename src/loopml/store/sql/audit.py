"""Audit events: who changed what, written inside the transaction that makes the change."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy.engine import Connection

from loopml.core.ids import now_ms
from loopml.core.settings import default_user
from loopml.store.sql.schema import audit_events

__all__ = ["write_audit"]


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, separators=(",", ":"))


def write_audit(
    conn: Connection,
    actor: str,
    action: str,
    object_type: str,
    object_id: str,
    before: Any,
    after: Any,
    reason: str = "",
) -> None:
    """Insert one audit event on ``conn`` (so it commits or rolls back with the change)."""
    conn.execute(
        audit_events.insert().values(
            time=now_ms(),
            actor=actor or default_user(),
            action=action,
            object_type=object_type,
            object_id=object_id,
            before=_json(before),
            after=_json(after),
            reason=reason,
        )
    )
