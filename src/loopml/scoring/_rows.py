"""Row-level validation of a chunk: which rows the model signature rejects, and why.

:meth:`Signature.validate <loopml.models.signature.Signature.validate>` judges a frame as the
server does and reports each problem with its column and count, not its rows. A chunk is first
validated whole (one vectorised pass); only when the diff holds errors are the offending rows
located, per problem, with the same rule the diff used:

- ``null_not_allowed``: the nulls of the column;
- ``wrong_type``: the values of the wrong type, by the signature's own per-value rule (the
  private ``_wrong_values`` of :mod:`loopml.models.signature`, so that the rows rejected here are
  exactly the ones the diff counted, never a copy of its type rules that could drift);
- ``unknown_category`` (an error only with ``category_policy="error"``): non-null values of the
  right type outside the recorded domain.

Column-level errors (a missing or duplicated column) are not a row's fault: every row would be
rejected, so they raise :class:`~loopml.models.signature.SignatureMismatch` instead. Warnings
(``unknown_category`` under ``"warn"``, extra columns) reject nothing; warnings about values are
counted per ``kind:column``.

A rejected row's reason names each problem of the row, joined by ``"; "``:
``column 'month' must hold integer values; column 'origin' must not be null``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from loopml.models.signature import (
    CategoryPolicy,
    Problem,
    Signature,
    SignatureDiff,
    _wrong_values,
)

__all__ = ["RowCheck", "check_columns", "check_rows"]

BoolArray = npt.NDArray[np.bool_]
_ROW_KINDS = ("null_not_allowed", "wrong_type", "unknown_category")


@dataclass(frozen=True, slots=True)
class RowCheck:
    """The verdict on a chunk: ``bad`` (None: every row is fine), the reason of each bad row
    (in row order), and the counts of rejections and warnings per ``kind:column``."""

    bad: BoolArray | None = None
    reasons: npt.NDArray[np.object_] | None = None
    rejected_by: Mapping[str, int] = field(default_factory=dict)
    warnings: Mapping[str, int] = field(default_factory=dict)


def check_columns(signature: Signature, columns: list[str]) -> None:
    """Raise :class:`SignatureMismatch` when a signature column is missing or repeated among
    ``columns`` (the input's names; columns the signature does not know are fine here)."""
    empty = pd.DataFrame({i: pd.Series([], dtype=object) for i in range(len(columns))})
    empty.columns = pd.Index(columns, dtype=object)
    diff = signature.validate(empty, allow_extra_columns=True)
    SignatureDiff(tuple(p for p in diff.errors if p.kind not in _ROW_KINDS)).raise_for_errors()


def _text(problem: Problem) -> str:
    column = problem.column
    if problem.kind == "null_not_allowed":
        return f"column {column!r} must not be null (it had no nulls at fit time)"
    if problem.kind == "wrong_type":
        return f"column {column!r} must hold {problem.expected} values"
    return f"column {column!r} holds a value unseen at fit time"


def _mask(signature: Signature, problem: Problem, s: pd.Series[Any]) -> BoolArray:
    na = s.isna().to_numpy(dtype=bool)
    if problem.kind == "null_not_allowed":
        return na
    spec = next(spec for spec in signature.inputs if spec.name == problem.column)
    wrong, _ = _wrong_values(spec, s, na)
    if problem.kind == "wrong_type":
        return np.zeros(len(s), dtype=bool) if wrong is None else wrong
    skip = na if wrong is None else na | wrong
    unseen = ~s.isin(list(spec.categories or ())).to_numpy(dtype=bool)
    return unseen & ~skip


def check_rows(
    signature: Signature, frame: pd.DataFrame, category_policy: CategoryPolicy
) -> RowCheck:
    """Validate ``frame`` (the signature's columns of one chunk) row by row (module docstring)."""
    diff = signature.validate(frame, category_policy, allow_extra_columns=True, max_examples=0)
    warnings: dict[str, int] = {}
    for problem in diff.warnings:
        if problem.kind in _ROW_KINDS:
            key = f"{problem.kind}:{problem.column}"
            warnings[key] = warnings.get(key, 0) + problem.count
    errors = diff.errors
    if not errors:
        return RowCheck(warnings=warnings)
    SignatureDiff(tuple(p for p in errors if p.kind not in _ROW_KINDS)).raise_for_errors()
    bad = np.zeros(len(frame), dtype=bool)
    masks: list[tuple[str, BoolArray]] = []
    rejected_by: dict[str, int] = {}
    for problem in errors:
        mask = _mask(signature, problem, frame[problem.column])
        masks.append((_text(problem), mask))
        rejected_by[f"{problem.kind}:{problem.column}"] = int(mask.sum())
        bad |= mask
    rows = np.flatnonzero(bad)
    reasons = np.full(len(rows), "", dtype=object)
    for text, mask in masks:
        hit = mask[rows]
        first = hit & (reasons == "")
        reasons[first] = text
        reasons[hit & ~first] = reasons[hit & ~first] + "; " + text
    return RowCheck(bad=bad, reasons=reasons, rejected_by=rejected_by, warnings=warnings)
