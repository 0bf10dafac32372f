"""The one exception tree of loopml.

Every error loopml raises on purpose derives from :class:`LoopmlError`. The subclasses say *what
kind* of failure it is, which is all an edge (CLI, HTTP) needs to pick an exit code or a status:

- :class:`InvalidInput`: the caller's mistake (bad value, bad grammar, bad URI). HTTP 400.
- :class:`NotFound`: the named object does not exist. HTTP 404.
- :class:`Conflict`: the request contradicts stored state (re-logging a param with another value,
  a name already taken, an object in the wrong state). HTTP 409.
- :class:`StoreError`: the persistence layer failed (database unreachable, schema outdated).
- :class:`MissingDependency`: an optional extra is not installed; the message names the extra.
- :class:`IntegrityError`: stored bytes no longer match the digest recorded for them (a tampered
  or damaged model package or blob).
- :class:`NotTrusted`: loading would run code the caller has not vouched for (``trust=True``).

Messages follow one shape, built by :func:`user_message`: name the object, state the rule, show
the value, suggest the fix. A name close to a known one gets :func:`did_you_mean` as its fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "Conflict",
    "IntegrityError",
    "InvalidInput",
    "LoopmlError",
    "MissingDependency",
    "NotFound",
    "NotTrusted",
    "SchemaOutdated",
    "StoreError",
    "close_matches",
    "did_you_mean",
    "user_message",
    "verbatim",
]


class _Verbatim(str):
    """Text a message shows as it is, not as a repr: a description of the value."""

    __slots__ = ()


def verbatim(text: str) -> str:
    """Mark ``text`` to be shown unquoted by :func:`user_message` (``got <300 characters>``)."""
    return _Verbatim(text)


def user_message(subject: str, rule: str, value: object = None, fix: str | None = None) -> str:
    """Build a message of the house shape.

    >>> user_message("metric 'auc'", "must be a finite number", float("nan"), "log a real number")
    "metric 'auc' must be a finite number; got nan. Fix: log a real number."
    >>> user_message("param 'p'", "must be short", verbatim("<9000 characters>"))
    "param 'p' must be short; got <9000 characters>."
    """
    text = f"{subject} {rule}"
    if value is not None:
        shown = str(value) if isinstance(value, _Verbatim) else repr(value)
        text += f"; got {shown}"
    text += "."
    if fix:
        text += f" Fix: {fix.rstrip('.')}."
    return text


def close_matches(
    value: object, choices: Iterable[object], n: int = 1, *, ignore_case: bool = False
) -> list[str]:
    """Up to ``n`` of ``choices`` close to ``value`` (``difflib``), closest first.

    >>> close_matches("roc_aux", ["roc_auc", "pr_auc", "rmse"])
    ['roc_auc']
    >>> close_matches("LightGBM", ["lightgbm", "xgboost"], ignore_case=True)
    ['lightgbm']
    """
    by_key = {(str(c).lower() if ignore_case else str(c)): str(c) for c in choices}
    key = str(value).lower() if ignore_case else str(value)
    return [by_key[found] for found in difflib.get_close_matches(key, list(by_key), n=n)]


def did_you_mean(
    value: object, choices: Iterable[object], n: int = 1, *, ignore_case: bool = False
) -> str | None:
    """``"did you mean 'x'"`` (``'x' or 'y'`` with ``n`` > 1) for the closest of ``choices``,
    or None when none is close: the fix of an unknown name.

    >>> did_you_mean("log-loss", ["log_loss", "brier"])
    "did you mean 'log_loss'"
    >>> did_you_mean("zzz", ["log_loss"]) is None
    True
    """
    close = close_matches(value, choices, n, ignore_case=ignore_case)
    return f"did you mean {' or '.join(map(repr, close))}" if close else None


class LoopmlError(Exception):
    """Root of every error loopml raises on purpose."""

    #: A stable, machine-readable code (also used on the wire by the server).
    code = "INTERNAL_ERROR"


class InvalidInput(LoopmlError, ValueError):
    """The caller passed a value that breaks a stated rule."""

    code = "INVALID_PARAMETER_VALUE"


class NotFound(LoopmlError, LookupError):
    """The named object does not exist (or is not visible in the current view)."""

    code = "RESOURCE_DOES_NOT_EXIST"


class Conflict(LoopmlError):
    """The request contradicts state that is already stored."""

    code = "RESOURCE_CONFLICT"


class StoreError(LoopmlError):
    """The metadata or artifact store failed for a reason that is not the caller's input."""

    code = "STORE_ERROR"


class SchemaOutdated(StoreError):
    """The database schema is older than this version of loopml expects."""

    code = "SCHEMA_OUTDATED"


class MissingDependency(LoopmlError, ImportError):
    """An optional dependency is needed; the message names the extra that installs it."""

    code = "MISSING_DEPENDENCY"


class IntegrityError(LoopmlError):
    """Bytes read back do not match the sha256 recorded for them: refuse rather than use them."""

    code = "INTEGRITY_ERROR"


class NotTrusted(LoopmlError, PermissionError):
    """Loading needs code execution (pickle, custom types) and the caller did not pass trust."""

    code = "PERMISSION_DENIED"
