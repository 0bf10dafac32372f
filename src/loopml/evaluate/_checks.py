"""Argument checks shared by the evaluation modules: one message shape, raised as InvalidInput;
the configuration form of tests and gates; the seeded row sample."""

from __future__ import annotations

import math
import numbers
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt
import pandas as pd

from loopml.core.errors import InvalidInput, did_you_mean, user_message, verbatim

__all__ = [
    "as_values",
    "check_choice",
    "check_frame",
    "check_int",
    "check_number",
    "check_predict",
    "column_names",
    "field_error",
    "invalid",
    "json_scalar",
    "parse_keyed",
    "require_column",
    "sample_positions",
]

FloatArray = npt.NDArray[np.float64]
#: Configuration key naming a kind -> (its class, the field the key's value fills, the other
#: configuration keys -> the fields they fill).
Forms = Mapping[str, tuple[type[Any], str, Mapping[str, str]]]


def invalid(
    func: str, arg: str, rule: str, value: object = None, fix: str | None = None
) -> NoReturn:
    """Raise the house InvalidInput for ``func()``'s argument ``arg``."""
    raise InvalidInput(user_message(f"{func}() argument {arg!r}", rule, value, fix))


def field_error(
    owner: str, name: str, rule: str, value: object, fix: str | None = None
) -> InvalidInput:
    """The house InvalidInput for the field ``name`` of ``owner`` (a test, a gate)."""
    return InvalidInput(user_message(f"{owner} field {name!r}", rule, value, fix))


def check_predict(func: str, arg: str, predict: object) -> None:
    """InvalidInput unless ``predict`` is callable (a DataFrame to one score per row)."""
    if not callable(predict):
        invalid(
            func,
            arg,
            "must be a callable from a DataFrame to one score per row",
            verbatim(type(predict).__name__),
            "pass model.predict, or lambda df: model.predict_proba(df)[:, 1]",
        )


def sample_positions(n: int, max_rows: int, seed: int) -> npt.NDArray[np.int64] | None:
    """Sorted positions of ``max_rows`` of ``n`` rows drawn without replacement by
    ``numpy.random.default_rng(seed)``, or None when there are no more rows than that."""
    if n <= max_rows:
        return None
    chosen = np.random.default_rng(seed).choice(n, size=max_rows, replace=False)
    return np.sort(chosen).astype(np.int64)


def parse_keyed(spec: object, what: str, noun: str, forms: Forms) -> Any:
    """A ``what`` from its configuration form: exactly one key of ``forms``, whose value fills
    the kind's first field, plus that kind's other keys (a ``<kind> <noun>`` takes no other)."""
    if not isinstance(spec, Mapping):
        raise InvalidInput(user_message(what, "must be a mapping", verbatim(type(spec).__name__)))
    kinds = [k for k in spec if k in forms]
    if len(kinds) != 1:
        hints = (did_you_mean(k, forms) for k in spec)
        raise InvalidInput(
            user_message(
                what,
                f"must have exactly one of the keys {', '.join(forms)}",
                dict(spec),
                next((h for h in hints if h), None),
            )
        )
    kind = kinds[0]
    cls, first, fields = forms[kind]
    unknown = sorted(set(spec) - set(fields) - {kind})
    if unknown:
        rule = f"takes only the fields {', '.join(sorted(fields))}" if fields else (
            "takes no other field"
        )  # fmt: skip
        raise InvalidInput(
            user_message(f"{kind} {noun}", rule, unknown, did_you_mean(unknown[0], fields))
        )
    return cls(**{first: spec[kind]}, **{fields[k]: v for k, v in spec.items() if k != kind})


def check_frame(func: str, arg: str, frame: object) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        invalid(
            func,
            arg,
            "must be a pandas DataFrame",
            verbatim(type(frame).__name__),
            "pass pd.DataFrame(...)",
        )
    return frame


def require_column(func: str, arg: str, frame: pd.DataFrame, name: object) -> Hashable:
    """``name`` if it is a column of ``frame``; else InvalidInput with a suggestion."""
    if not isinstance(name, Hashable) or name not in frame.columns:
        columns = column_names(frame)
        hint = did_you_mean(name, columns)
        shown = ", ".join(columns[:20]) + (" ..." if len(columns) > 20 else "")
        fix = f"{hint}? The columns are: {shown}" if hint else f"the columns are: {shown}"
        invalid(func, arg, "must name a column of the data", name, fix)
    return name


def column_names(frame: pd.DataFrame) -> list[str]:
    return [str(c) for c in frame.columns]


def check_int(func: str, arg: str, value: object, *, low: int, fix: str | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < low:
        invalid(func, arg, f"must be an int >= {low}", value, fix)
    return int(value)


def check_number(
    func: str,
    arg: str,
    value: object,
    *,
    low: float | None = None,
    high: float | None = None,
    open_low: bool = False,
    open_high: bool = False,
    fix: str | None = None,
) -> float:
    """``value`` as a finite float within the stated bounds."""
    ok = (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(float(value))
    )
    if ok:
        number = float(value)  # type: ignore[arg-type]
        if low is not None and (number < low or (open_low and number == low)):
            ok = False
        if high is not None and (number > high or (open_high and number == high)):
            ok = False
    if not ok:
        left = "(" if open_low else "["
        right = ")" if open_high else "]"
        if low is not None and high is not None:
            rule = f"must be a number in {left}{low:g}, {high:g}{right}"
        elif low is not None:
            rule = f"must be a finite number {'>' if open_low else '>='} {low:g}"
        elif high is not None:
            rule = f"must be a finite number {'<' if open_high else '<='} {high:g}"
        else:
            rule = "must be a finite number"
        invalid(func, arg, rule, value, fix)
    return float(value)  # type: ignore[arg-type]


def check_choice(func: str, arg: str, value: object, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        hint = did_you_mean(value, choices)
        invalid(func, arg, f"must be one of {', '.join(map(repr, choices))}", value, hint)
    return value


def as_values(func: str, arg: str, values: object, n: int | None = None) -> FloatArray:
    """A finite 1-d float64 array (of length ``n`` when given)."""
    if isinstance(values, pd.DataFrame):
        invalid(func, arg, "must be 1-d", verbatim("a DataFrame"), "pass one column")
    if isinstance(values, pd.Series | pd.Index):
        if not (pd.api.types.is_numeric_dtype(values.dtype) or values.dtype == bool):
            invalid(func, arg, "must hold numbers", verbatim(f"dtype {values.dtype}"))
        array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    else:
        raw = np.asarray(values)
        if raw.dtype.kind not in "biuf":
            invalid(func, arg, "must hold numbers", verbatim(f"dtype {raw.dtype}"))
        array = raw.astype(np.float64)
    if array.ndim != 1:
        invalid(func, arg, "must be 1-d (one value per row)", verbatim(f"shape {array.shape}"))
    if n is not None and array.size != n:
        invalid(func, arg, f"must have one value per row ({n})", verbatim(f"{array.size} values"))
    bad = ~np.isfinite(array)
    if bad.any():
        invalid(
            func,
            arg,
            "must hold finite numbers",
            verbatim(f"{int(bad.sum())} NaN or infinite, the first at position {np.argmax(bad)}"),
            "drop or impute those rows",
        )
    return array


def json_scalar(value: Any) -> str | int | float | bool | None:
    """A value as a JSON scalar: numpy scalars as Python's, NaN as None, anything else as str."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return str(value)
