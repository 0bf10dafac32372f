"""Argument checks and types shared by :mod:`loopml.data.sampling` and :mod:`loopml.data.splits`.

Every check raises :class:`~loopml.core.errors.InvalidInput` naming the function, the argument
and the value, so a mistake in a sampling or split call reads the same everywhere.
:func:`frame_of` and :func:`columns_of` are the same checks for any subject (``loopml.training``
names its frames and columns by what they are: ``"training frame"``, ``"numeric features"``).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from loopml.core.errors import InvalidInput, did_you_mean, user_message, verbatim

__all__ = [
    "FloatArray",
    "IntArray",
    "Seed",
    "as_generator",
    "check_columns",
    "check_frame",
    "columns_of",
    "frame_of",
    "invalid",
    "stratum_codes",
]

Seed = int | np.random.Generator
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

#: How many column names an "unknown column" message lists.
_COLUMNS_SHOWN = 8


def invalid(
    func: str, arg: str, rule: str, value: object = None, fix: str | None = None
) -> InvalidInput:
    return _invalid(_argument(func, arg), rule, value, fix)


def _argument(func: str, arg: str) -> str:
    return f"{func}() argument {arg!r}"


def _invalid(subject: str, rule: str, value: object = None, fix: str | None = None) -> InvalidInput:
    return InvalidInput(user_message(subject, rule, value, fix))


def as_generator(seed: Seed, func: str = "sampling") -> np.random.Generator:
    """``seed`` as a :class:`numpy.random.Generator`: a new one for an int, the same object else.

    >>> as_generator(7).integers(100) == as_generator(7).integers(100)
    np.True_
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        raise invalid(
            func,
            "seed",
            "must be a non-negative int or a numpy.random.Generator",
            seed,
            "pass e.g. seed=0",
        )
    return np.random.default_rng(int(seed))


def check_frame(df: object, func: str, arg: str = "df") -> pd.DataFrame:
    return frame_of(df, _argument(func, arg))


def frame_of(df: object, subject: str) -> pd.DataFrame:
    """``df`` if it is a DataFrame with at least one row; else InvalidInput naming ``subject``."""
    if not isinstance(df, pd.DataFrame):
        raise _invalid(subject, "must be a pandas DataFrame", verbatim(type(df).__name__))
    if len(df) == 0:
        raise _invalid(
            subject,
            "must have at least one row",
            verbatim(f"<empty frame with {df.shape[1]} columns>"),
        )
    return df


def check_columns(
    df: pd.DataFrame, columns: object, func: str, arg: str, *, allow_empty: bool = False
) -> list[str]:
    """``columns`` (one name or a sequence of names) as a list of columns that ``df`` has."""
    return columns_of(df, columns, _argument(func, arg), allow_empty=allow_empty)


def columns_of(
    df: pd.DataFrame, columns: object, subject: str, *, allow_empty: bool = False
) -> list[Any]:
    """:func:`check_columns` for any ``subject``."""
    names: list[Any]
    if isinstance(columns, str):
        names = [columns]
    elif isinstance(columns, Sequence):
        names = list(columns)
    else:
        raise _invalid(subject, "must be a column name or a list of column names", columns)
    if not names and not allow_empty:
        raise _invalid(subject, "must name at least one column", columns)
    for name in names:
        if name not in df.columns:
            shown = [str(c) for c in df.columns[:_COLUMNS_SHOWN]]
            more = ", ..." if df.shape[1] > _COLUMNS_SHOWN else ""
            close = did_you_mean(name, df.columns)
            hint = f"{close}? The columns" if close else "the columns"
            raise _invalid(
                subject,
                "must name columns of the frame",
                name,
                f"{hint} are {', '.join(shown)}{more}",
            )
    if len(set(names)) != len(names):
        raise _invalid(subject, "must not repeat a column", columns)
    return names


def stratum_codes(df: pd.DataFrame, columns: list[str]) -> tuple[IntArray, int]:
    """One integer code per row naming its stratum (missing values form strata of their own)."""
    grouped = df.groupby(columns, dropna=False, sort=True, observed=True)
    codes: IntArray = np.asarray(grouped.ngroup(), dtype=np.int64)
    return codes, int(codes.max()) + 1
