"""Argument checks shared by the training modules.

Every check raises :class:`~loopml.core.errors.InvalidInput` with the house message (name the
object, state the rule, show the value, suggest the fix); a name that is close to a known one
(case aside) gets a "did you mean".
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, Literal

import pandas as pd

from loopml.core.errors import (
    InvalidInput,
    MissingDependency,
    did_you_mean,
    user_message,
    verbatim,
)

__all__ = [
    "TASKS",
    "Task",
    "check_choice",
    "check_columns",
    "check_frame",
    "check_seed",
    "check_task",
    "invalid",
    "require",
]

Task = Literal["classification", "regression"]
TASKS: tuple[Task, ...] = ("classification", "regression")
#: How many names an "unknown name" message lists.
_NAMES_SHOWN = 10


def invalid(subject: str, rule: str, value: object = None, fix: str | None = None) -> InvalidInput:
    return InvalidInput(user_message(subject, rule, value, fix))


def check_choice(subject: str, value: object, choices: Sequence[str]) -> str:
    """``value`` if it is one of ``choices``, else InvalidInput listing them (and the closest)."""
    if isinstance(value, str) and value in choices:
        return value
    hint = did_you_mean(value, choices, ignore_case=True)
    listed = ", ".join(choices)
    fix = f"{hint}? The choices are {listed}" if hint else f"use one of {listed}"
    raise invalid(subject, f"must be one of {listed}", value, fix)


def check_task(task: object) -> Task:
    checked = check_choice("task", task, TASKS)
    return "classification" if checked == "classification" else "regression"


def check_seed(seed: object, subject: str = "seed") -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise invalid(subject, "must be a non-negative int", seed, "pass e.g. seed=0")
    return int(seed)


def check_frame(frame: object, subject: str) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise invalid(subject, "must be a pandas DataFrame", verbatim(type(frame).__name__))
    if len(frame) == 0:
        raise invalid(
            subject,
            "must have at least one row",
            verbatim(f"<empty frame with {frame.shape[1]} columns>"),
        )
    return frame


def check_columns(frame: pd.DataFrame, columns: object, subject: str) -> list[str]:
    """``columns`` (a name or a sequence of names) as a list of columns ``frame`` has."""
    if isinstance(columns, str):
        names: list[Any] = [columns]
    elif isinstance(columns, Sequence):
        names = list(columns)
    else:
        raise invalid(subject, "must be a column name or a list of column names", columns)
    available = [str(c) for c in frame.columns]
    for name in names:
        if name not in frame.columns:
            hint = did_you_mean(name, available, ignore_case=True)
            shown = ", ".join(available[:_NAMES_SHOWN]) + (
                ", ..." if len(available) > _NAMES_SHOWN else ""
            )
            fix = f"{hint}? The columns are {shown}" if hint else f"the columns are {shown}"
            raise invalid(subject, "must name columns of the frame", name, fix)
    if len(set(names)) != len(names):
        raise invalid(subject, "must not repeat a column", names)
    return [str(n) for n in names]


def require(module: str, extra: str, what: str) -> Any:
    """Import ``module`` or raise MissingDependency naming the extra that installs it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependency(
            user_message(
                what,
                f"needs the optional dependency {module.split('.')[0]!r}",
                fix=f"pip install 'loopml[{extra}]'",
            )
        ) from exc
