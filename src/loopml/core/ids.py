"""Identifiers and the clock, in one place so tests and stores agree on their shape."""

from __future__ import annotations

import re
import time
import uuid

from loopml.core.errors import InvalidInput, user_message

__all__ = ["check_run_id", "new_run_id", "now_ms"]

_RUN_ID = re.compile(r"^[0-9a-f]{32}$")


def new_run_id() -> str:
    """A fresh run id: 32 lowercase hex characters (a UUID4 without dashes, as in MLflow)."""
    return uuid.uuid4().hex


def check_run_id(run_id: object) -> str:
    """Return ``run_id`` if it is well formed, else raise a clear :class:`InvalidInput`.

    >>> check_run_id("0" * 32) == "0" * 32
    True
    """
    if not isinstance(run_id, str) or not _RUN_ID.match(run_id):
        raise InvalidInput(
            user_message(
                "run id",
                "must be 32 lowercase hexadecimal characters",
                run_id,
                "copy the id from `loopml runs list`",
            )
        )
    return run_id


def now_ms() -> int:
    """Wall-clock time in integer milliseconds since the epoch."""
    return time.time_ns() // 1_000_000
