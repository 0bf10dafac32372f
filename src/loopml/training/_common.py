"""Argument checks shared by the training modules.

Every check raises :class:`~loopml.core.errors.InvalidInput` with the house message (name the
object, state the rule, show the value, suggest the fix); a name that is close to a known one
gets a "did you mean" (case aside for choices). Frames and columns are checked as
:mod:`loopml.data` checks them, with the subject named by what it is (``"training frame"``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import pandas as pd

from loopml.core.errors import InvalidInput, MissingDependency, did_you_mean, user_message
from loopml.data._frames import columns_of
from loopml.data._frames import frame_of as check_frame
from loopml.evaluate.catalog import TASKS, Task

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


def check_columns(frame: pd.DataFrame, columns: object, subject: str) -> list[str]:
    """``columns`` (a name or a sequence of names, maybe none) as a list of columns ``frame``
    has."""
    return [str(n) for n in columns_of(frame, columns, subject, allow_empty=True)]


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
