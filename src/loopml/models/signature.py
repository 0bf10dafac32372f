"""Model signatures: the columns a model was fitted on, checked against every request.

A :class:`Signature` lists the input columns (name, :class:`ColumnType`, nullability, the domain
of categorical values, the pandas dtype seen at fit time) and the outputs. It is inferred from
the training frame by :func:`infer_signature`, stored in the model package manifest as plain
JSON/YAML-able dicts (:meth:`Signature.to_dict`, :meth:`Signature.from_dict`), and used by the
server: :meth:`Signature.validate` returns a :class:`SignatureDiff`, and
:meth:`Signature.conform` turns a valid request into the frame the model saw at fit time.

Inference (per column of a DataFrame, or of a mapping of equal-length sequences):

- numpy int/uint and pandas ``Int*`` -> ``integer``; float -> ``float``; bool and ``boolean``
  -> ``boolean``; datetime64 (tz-aware too) -> ``datetime``; pandas Categorical ->
  ``category`` with the dtype's categories (in their order) and ``ordered`` (no domain is
  recorded when the categories are not str, numbers or bools);
- string columns (``str``/``string`` dtype, or ``object`` holding only str) -> ``string``; with
  at most ``max_categories`` distinct values their sorted set is recorded as the domain;
- ``object`` holding only True/False -> ``boolean``; any other column (mixed objects, bytes,
  timedelta, complex, ...) -> ``object``, which is checked for presence and nulls only;
- ``nullable`` is whether the column holds a null. Input column names must be unique, non-empty
  strings (no silent ``str()``: a model selecting columns by position would break);
  output names are converted with ``str()`` since nothing selects by them.
- ``predictions``: a 1-d array or Series -> one output named ``prediction`` (or the Series'
  name); a 2-d array -> ``prediction_0`` .. ``prediction_{k-1}``; a DataFrame -> its columns.

Validation never raises on bad data; each problem is one :class:`Problem` in the diff, with the
count of offending rows and up to ``max_examples`` distinct offending values:

- ``missing_column`` (error); ``unknown_column`` (error, or a warning with
  ``allow_extra_columns=True``); ``duplicate_column`` (error). Column order is not a problem.
- ``wrong_type`` (error): ``float`` accepts int and float values; ``integer`` accepts ints and
  integral floats (JSON and pandas turn nullable ints into floats); ``boolean`` accepts bools;
  ``string`` accepts str (also as a Categorical); ``category`` accepts a Categorical or values
  of the domain's kind (str for str categories, numbers for numeric ones); ``datetime`` accepts
  datetime64, datetime objects and ISO 8601 strings. Strings are never read as numbers, nor
  bools as numbers.
- ``null_not_allowed`` (error): nulls in a column that had none at fit time.
- ``unknown_category``: values outside a recorded domain; its severity is ``category_policy``
  (``"warn"`` -> warning, ``"error"`` -> error, ``"ignore"`` -> not checked).
- A frame with no rows is checked for its columns only. An all-null column is never a wrong type.
- Checks are vectorised; only object columns that pandas cannot type at once get one ``type()``
  look per value, and examples are taken from the offending rows only.

:meth:`Signature.conform` validates (raising :class:`SignatureMismatch` on errors), returns the
frame itself when its columns are in order and every dtype is the training dtype, and otherwise
a new frame in signature order where each column is converted to its training dtype: ints to
float, integral floats to int (kept float when nulls remain; ints that would not fit the training
int dtype are kept as they are), strings to the training
Categorical (values unseen at fit time become missing, as with ``astype``) or str dtype, ISO
strings to datetime64 (naive values are read as UTC for a tz-aware column; aware values are
converted to UTC and made naive for a naive one).
"""

from __future__ import annotations

import collections
import datetime
import enum
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api import types as pdt

from loopml.core.errors import InvalidInput, user_message, verbatim

__all__ = [
    "ColumnSpec",
    "ColumnType",
    "Problem",
    "Signature",
    "SignatureDiff",
    "SignatureMismatch",
    "infer_signature",
]

Category = str | int | float | bool
CategoryPolicy = Literal["warn", "error", "ignore"]
BoolArray = npt.NDArray[np.bool_]

_CATEGORY_POLICIES = ("warn", "error", "ignore")
_INT64_BOUND = 2.0**63
#: How many problem messages the exception of :meth:`SignatureDiff.raise_for_errors` shows.
_MESSAGES_SHOWN = 3


class ColumnType(enum.StrEnum):
    """The logical type of a column, independent of the pandas dtype that carries it."""

    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    STRING = "string"
    CATEGORY = "category"
    DATETIME = "datetime"
    #: Anything else (mixed objects, bytes, timedelta, ...): checked for presence and nulls only.
    OBJECT = "object"


_DOMAIN_TYPES = (ColumnType.STRING, ColumnType.CATEGORY)


class SignatureMismatch(InvalidInput):
    """A request does not match the model signature; ``diff`` holds every problem found."""

    code = "SIGNATURE_MISMATCH"

    def __init__(self, message: str, diff: SignatureDiff) -> None:
        super().__init__(message)
        self.diff = diff

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.diff))


# --------------------------------------------------------------------------------------------
# Column specs and signatures


def _invalid(subject: str, rule: str, value: object = None, fix: str | None = None) -> InvalidInput:
    return InvalidInput(user_message(subject, rule, value, fix))


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One column of a signature.

    ``categories`` is the domain of values seen at fit time (``None``: not recorded);
    ``ordered`` says whether a ``category`` column was an ordered Categorical; ``dtype`` is the
    pandas dtype name seen at fit time, which :meth:`Signature.conform` converts back to.
    """

    name: str
    type: ColumnType
    nullable: bool = False
    categories: tuple[Category, ...] | None = None
    dtype: str = ""
    ordered: bool = False

    def __post_init__(self) -> None:
        where = f"column spec {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise _invalid("column spec name", "must be a non-empty string", self.name)
        try:
            object.__setattr__(self, "type", ColumnType(self.type))
        except (ValueError, TypeError):
            raise _invalid(f"{where} type", f"must be one of {_CHOICES}", self.type) from None
        for attr in ("nullable", "ordered"):
            if not isinstance(getattr(self, attr), bool):
                raise _invalid(f"{where} {attr}", "must be true or false", getattr(self, attr))
        if not isinstance(self.dtype, str):
            raise _invalid(f"{where} dtype", "must be a string", self.dtype)
        if self.categories is not None:
            if self.type not in _DOMAIN_TYPES:
                raise _invalid(
                    f"{where} categories",
                    "may only be given for a string or category column",
                    verbatim(f"a {self.type} column"),
                )
            object.__setattr__(self, "categories", _check_categories(where, self.categories))
        if self.ordered and self.type is not ColumnType.CATEGORY:
            raise _invalid(
                f"{where} ordered",
                "may only be true for a category column",
                verbatim(f"a {self.type} column"),
            )

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (JSON and YAML safe); ``categories``, ``ordered``, ``dtype`` if set."""
        out: dict[str, Any] = {"name": self.name, "type": self.type.value}
        out["nullable"] = self.nullable
        if self.categories is not None:
            out["categories"] = list(self.categories)
        if self.ordered:
            out["ordered"] = True
        if self.dtype:
            out["dtype"] = self.dtype
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ColumnSpec:
        """The spec a :meth:`to_dict` dict describes; InvalidInput if the dict is malformed."""
        if not isinstance(d, Mapping):
            raise _invalid("column spec", "must be a mapping", verbatim(type(d).__name__))
        unknown = sorted(str(k) for k in d if k not in _SPEC_KEYS)
        if unknown:
            raise _invalid(
                f"column spec {d.get('name')!r}",
                f"may only have the keys {', '.join(_SPEC_KEYS)}",
                verbatim(", ".join(unknown)),
            )
        for key in ("name", "type"):
            if key not in d:
                raise _invalid("column spec", f"must have a {key!r}", verbatim(repr(dict(d))))
        categories = d.get("categories")
        if categories is not None and not isinstance(categories, list | tuple):
            raise _invalid(f"column spec {d['name']!r} categories", "must be a list", categories)
        return cls(
            name=d["name"],
            type=d["type"],
            nullable=d.get("nullable", False),
            categories=None if categories is None else tuple(categories),
            dtype=d.get("dtype", ""),
            ordered=d.get("ordered", False),
        )


_SPEC_KEYS = ("name", "type", "nullable", "categories", "ordered", "dtype")
_TYPE_VALUES = frozenset(t.value for t in ColumnType)
_CHOICES = ", ".join(t.value for t in ColumnType)


def _check_categories(where: str, categories: Sequence[Any]) -> tuple[Category, ...]:
    if isinstance(categories, str) or not isinstance(categories, Sequence):
        raise _invalid(f"{where} categories", "must be a list", categories)
    values = [_scalar(v) for v in categories]
    for value in values:
        if not isinstance(value, str | int | float) or (
            isinstance(value, float) and not math.isfinite(value)
        ):
            raise _invalid(f"{where} categories", "must hold strings, numbers or booleans", value)
    if len(set(values)) != len(values):
        raise _invalid(f"{where} categories", "must not repeat a value", values)
    return tuple(values)


@dataclass(frozen=True, slots=True)
class Problem:
    """One way a frame differs from the signature.

    ``kind`` is one of ``unknown_column``, ``missing_column``, ``duplicate_column``,
    ``wrong_type``, ``unknown_category``, ``null_not_allowed``; ``severity`` is ``error`` or
    ``warning``; ``count`` is the number of offending rows and ``examples`` the first distinct
    offending values (JSON-safe scalars).
    """

    kind: str
    column: str
    severity: str
    message: str
    expected: str | None = None
    got: str | None = None
    examples: tuple[Any, ...] = ()
    count: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "column": self.column,
            "severity": self.severity,
            "message": self.message,
            "expected": self.expected,
            "got": self.got,
            "examples": list(self.examples),
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class SignatureDiff:
    """Every problem found by :meth:`Signature.validate`; ``ok`` when none is an error."""

    problems: tuple[Problem, ...] = ()

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")

    @property
    def unknown_columns(self) -> tuple[str, ...]:
        return tuple(p.column for p in self.problems if p.kind == "unknown_column")

    @property
    def missing_columns(self) -> tuple[str, ...]:
        return tuple(p.column for p in self.problems if p.kind == "missing_column")

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problems": [p.to_dict() for p in self.problems]}

    def __str__(self) -> str:
        if not self.problems:
            return "the frame matches the model signature"
        n_err, n_warn = len(self.errors), len(self.warnings)
        head = f"{_plural(n_err, 'error')}, {_plural(n_warn, 'warning')}:"
        return "\n".join([head, *(f"  {p.severity}: {p.message}" for p in self.problems)])

    def raise_for_errors(self) -> None:
        """Raise :class:`SignatureMismatch` (an InvalidInput) if any problem is an error."""
        errors = self.errors
        if not errors:
            return
        shown = " ".join(p.message for p in errors[:_MESSAGES_SHOWN])
        more = len(errors) - _MESSAGES_SHOWN
        if more > 0:
            shown += f" (and {_plural(more, 'more error')})"
        raise SignatureMismatch(
            f"the input does not match the model signature ({_plural(len(errors), 'error')}): "
            f"{shown}",
            self,
        )


@dataclass(frozen=True, slots=True)
class Signature:
    """The input columns a model was fitted on, in order, and its outputs."""

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] = ()
    _index: dict[str, ColumnSpec] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        for part in ("inputs", "outputs"):
            specs = getattr(self, part)
            if isinstance(specs, ColumnSpec | str) or not isinstance(specs, Sequence):
                raise _invalid(f"signature {part}", "must be a sequence of ColumnSpec", specs)
            for spec in specs:
                if not isinstance(spec, ColumnSpec):
                    raise _invalid(f"signature {part}", "must hold ColumnSpec objects", spec)
            names = [s.name for s in specs]
            _check_unique(f"signature {part}", names)
            object.__setattr__(self, part, tuple(specs))
        object.__setattr__(self, "_index", {s.name: s for s in self.inputs})

    @property
    def names(self) -> tuple[str, ...]:
        """The input column names, in signature order."""
        return tuple(s.name for s in self.inputs)

    def to_dict(self) -> dict[str, Any]:
        """A plain dict for the manifest (JSON and YAML safe)."""
        return {
            "inputs": [s.to_dict() for s in self.inputs],
            "outputs": [s.to_dict() for s in self.outputs],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Signature:
        """The signature a :meth:`to_dict` dict describes; InvalidInput if it is malformed."""
        if not isinstance(d, Mapping):
            raise _invalid("signature", "must be a mapping", verbatim(type(d).__name__))
        unknown = sorted(str(k) for k in d if k not in ("inputs", "outputs"))
        if unknown:
            raise _invalid(
                "signature", "may only have the keys inputs, outputs", verbatim(", ".join(unknown))
            )
        if "inputs" not in d:
            raise _invalid("signature", "must have 'inputs'", verbatim(repr(dict(d))))
        parts: dict[str, tuple[ColumnSpec, ...]] = {}
        for part in ("inputs", "outputs"):
            items = d.get(part, [])
            if not isinstance(items, list | tuple):
                raise _invalid(f"signature {part}", "must be a list", items)
            parts[part] = tuple(ColumnSpec.from_dict(item) for item in items)
        return cls(inputs=parts["inputs"], outputs=parts["outputs"])

    def validate(
        self,
        df: pd.DataFrame,
        category_policy: CategoryPolicy = "warn",
        allow_extra_columns: bool = False,
        max_examples: int = 5,
    ) -> SignatureDiff:
        """Compare ``df`` with the signature; every problem lands in the returned diff.

        Raises InvalidInput only for a bad call (``df`` not a DataFrame, a bad policy).
        """
        if not isinstance(df, pd.DataFrame):
            raise _invalid(
                "the frame to validate",
                "must be a pandas DataFrame",
                verbatim(type(df).__name__),
                "build one, e.g. pd.DataFrame.from_records(rows)",
            )
        if category_policy not in _CATEGORY_POLICIES:
            raise _invalid(
                "category_policy",
                f"must be one of {', '.join(_CATEGORY_POLICIES)}",
                category_policy,
            )
        if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 0:
            raise _invalid("max_examples", "must be a non-negative integer", max_examples)
        problems: list[Problem] = []
        position: dict[Any, int] = {}
        for i, label in enumerate(df.columns):
            position.setdefault(label, i)
        duplicated: set[Any] = set()
        if len(position) < df.shape[1]:
            counts = df.columns.value_counts(sort=False)
            for dup, n in counts[counts > 1].items():
                duplicated.add(dup)
                problems.append(_problem(
                    "duplicate_column", str(dup), "error", "must appear once",
                    f"{n} columns of that name", "drop the duplicate columns", count=int(n),
                ))  # fmt: skip
        for spec in self.inputs:
            if spec.name not in position:
                fix = "add the column" + (" (nulls are allowed)" if spec.nullable else "")
                problems.append(_problem(
                    "missing_column", spec.name, "error",
                    f"({spec.type}) is required by the model signature", "a frame without it",
                    fix, expected=spec.type.value,
                ))  # fmt: skip
        for label, i in position.items():
            if label not in self._index:
                hint = None if allow_extra_columns else "drop it, or pass allow_extra_columns=True"
                problems.append(_problem(
                    "unknown_column", str(label), "warning" if allow_extra_columns else "error",
                    "is not in the model signature (unseen at fit time)", None, hint,
                    got=_kind_of_dtype(df.iloc[:, i].dtype),
                ))  # fmt: skip
        if len(df) > 0:
            for spec in self.inputs:
                if spec.name in position and spec.name not in duplicated:
                    column = df.iloc[:, position[spec.name]]
                    problems.extend(_check_column(spec, column, category_policy, max_examples))
        return SignatureDiff(tuple(problems))

    def conform(
        self,
        df: pd.DataFrame,
        category_policy: CategoryPolicy = "warn",
        allow_extra_columns: bool = False,
    ) -> pd.DataFrame:
        """``df`` as the model saw its training frame: signature column order, training dtypes.

        Raises :class:`SignatureMismatch` if :meth:`validate` finds an error. A frame that
        already matches (same columns in order, training dtypes) is returned itself, uncopied;
        ``df`` is never modified.
        """
        self.validate(df, category_policy, allow_extra_columns).raise_for_errors()
        changed = list(df.columns) != list(self.names)
        positional = pd.RangeIndex(len(df))  # no index alignment, whatever the labels are
        converted: dict[str, pd.Series[Any]] = {}
        for spec in self.inputs:
            column = df[spec.name]
            new = _conform_column(spec, column)
            changed = changed or new is not column
            converted[spec.name] = new.set_axis(positional)
        if not changed:
            return df
        return pd.DataFrame(converted, index=positional).set_axis(df.index, axis=0)


def _problem(
    kind: str,
    column: str,
    severity: str,
    rule: str,
    shown: str | None,
    fix: str | None,
    **extra: Any,
) -> Problem:
    value = None if shown is None else verbatim(shown)
    message = user_message(f"column {column!r}", rule, value, fix)
    return Problem(kind=kind, column=column, severity=severity, message=message, **extra)


def _check_unique(what: str, names: list[str]) -> None:
    dupes = sorted(n for n, count in collections.Counter(names).items() if count > 1)
    if dupes:
        raise _invalid(
            what,
            "must name each column once",
            verbatim(f"{', '.join(map(repr, dupes))} repeated"),
            "drop or rename the duplicate columns",
        )


# --------------------------------------------------------------------------------------------
# Inference


def infer_signature(
    data: pd.DataFrame | Mapping[str, Sequence[Any]],
    predictions: Any = None,
    max_categories: int = 50,
) -> Signature:
    """The signature of a training frame (and of the model's ``predictions`` on it).

    >>> sig = infer_signature(pd.DataFrame({"x": [1.5, None], "c": ["a", "b"]}), [0, 1])
    >>> [(s.name, s.type.value, s.nullable, s.categories) for s in sig.inputs]
    [('x', 'float', True, None), ('c', 'string', False, ('a', 'b'))]
    >>> [(s.name, s.type.value) for s in sig.outputs]
    [('prediction', 'integer')]
    """
    if isinstance(max_categories, bool) or not isinstance(max_categories, int):
        raise _invalid("max_categories", "must be a non-negative integer", max_categories)
    if max_categories < 0:
        raise _invalid("max_categories", "must be a non-negative integer", max_categories)
    frame = _as_frame(data)
    columns = list(frame.columns)
    for label in columns:
        if not isinstance(label, str) or not label:
            raise _invalid(
                "the training frame's column names",
                "must be non-empty strings",
                label,
                "name the columns, e.g. df.columns = [f'x{i}' for i in range(df.shape[1])]",
            )
    _check_unique("the training frame's column names", columns)
    inputs = tuple(
        _infer_column(name, frame.iloc[:, i], max_categories) for i, name in enumerate(columns)
    )
    return Signature(inputs=inputs, outputs=_infer_outputs(predictions, max_categories))


def _as_frame(data: object) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        try:
            return pd.DataFrame(dict(data))
        except (ValueError, TypeError) as exc:
            raise _invalid(
                "the training data",
                "must map column names to equal-length sequences",
                verbatim(str(exc)),
            ) from exc
    raise _invalid(
        "the training data",
        "must be a pandas DataFrame or a mapping of column name to values",
        verbatim(type(data).__name__),
        "pass a DataFrame, e.g. pd.DataFrame(array, columns=names)",
    )


def _infer_outputs(predictions: Any, max_categories: int) -> tuple[ColumnSpec, ...]:
    if predictions is None:
        return ()
    if isinstance(predictions, pd.DataFrame):
        return tuple(
            _infer_column(str(label), predictions.iloc[:, i], max_categories)
            for i, label in enumerate(predictions.columns)
        )
    if isinstance(predictions, pd.Series):
        name = "prediction" if predictions.name is None else str(predictions.name)
        return (_infer_column(name, predictions, max_categories),)
    try:
        array = np.asarray(predictions)
    except (ValueError, TypeError) as exc:
        raise _invalid(
            "predictions", "must be array-like", verbatim(type(predictions).__name__)
        ) from exc
    if array.ndim == 1:
        return (_infer_column("prediction", pd.Series(array), max_categories),)
    if array.ndim == 2:
        return tuple(
            _infer_column(f"prediction_{j}", pd.Series(array[:, j]), max_categories)
            for j in range(array.shape[1])
        )
    raise _invalid(
        "predictions",
        "must be 1-d or 2-d (or a Series or DataFrame)",
        verbatim(f"an array of shape {array.shape}"),
    )


def _infer_column(name: str, s: pd.Series[Any], max_categories: int) -> ColumnSpec:
    dtype = s.dtype
    nullable = bool(s.isna().any())
    kind = _kind_of_dtype(dtype)
    if kind == "category":
        dtype_c = cast(pd.CategoricalDtype, dtype)
        cats = [_scalar(v) for v in dtype_c.categories]
        usable = all(isinstance(v, str | int | float) for v in cats)
        ordered = bool(dtype_c.ordered) and usable
        domain = tuple(cats) if usable else None
        return ColumnSpec(name, ColumnType.CATEGORY, nullable, domain, str(dtype), ordered)
    if kind == "object":
        inferred = pdt.infer_dtype(s, skipna=True)
        kind = {"string": "string", "empty": "string", "boolean": "boolean"}.get(inferred, kind)
    ctype = ColumnType(kind) if kind in _TYPE_VALUES else ColumnType.OBJECT
    categories: tuple[Category, ...] | None = None
    if ctype is ColumnType.STRING and max_categories > 0:
        values = pd.unique(s.dropna().to_numpy(dtype=object))
        if len(values) <= max_categories:
            categories = tuple(sorted(str(v) for v in values))
    return ColumnSpec(name, ctype, nullable, categories, str(dtype))


# --------------------------------------------------------------------------------------------
# Validation


def _kind_of_dtype(dtype: Any) -> str:
    """The ColumnType value a dtype carries, ``object`` for object, ``other`` for the rest."""
    if isinstance(dtype, pd.CategoricalDtype):
        return "category"
    if pdt.is_bool_dtype(dtype):
        return "boolean"
    if pdt.is_integer_dtype(dtype):
        return "integer"
    if pdt.is_float_dtype(dtype):
        return "float"
    if pdt.is_datetime64_any_dtype(dtype):
        return "datetime"
    if isinstance(dtype, pd.StringDtype):
        return "string"
    if dtype == np.dtype(object):
        return "object"
    return "other"


def _kind_of_type(t: type) -> str:
    """The kind of one Python value's type; the type's name when it is none of ours."""
    if issubclass(t, bool | np.bool_):
        return "boolean"
    if issubclass(t, int | np.integer):
        return "integer"
    if issubclass(t, float | np.floating):
        return "float"
    if issubclass(t, str):
        return "string"
    if issubclass(t, datetime.date | np.datetime64):
        return "datetime"
    return t.__name__


def _element_kinds(values: pd.Series[Any]) -> npt.NDArray[np.object_]:
    """The kind of each value of an object Series (one type() call per value, no more)."""
    types = values.map(type)
    return types.map({t: _kind_of_type(t) for t in types.unique()}).to_numpy(dtype=object)


#: Per expected type: the dtype kinds accepted as they are, and the value kinds accepted in an
#: ``object`` column (or in a column whose dtype kind is listed only there, after a value check).
_ACCEPTED_DTYPES: dict[ColumnType, frozenset[str]] = {
    ColumnType.INTEGER: frozenset({"integer"}),
    ColumnType.FLOAT: frozenset({"integer", "float"}),
    ColumnType.BOOLEAN: frozenset({"boolean"}),
    ColumnType.STRING: frozenset({"string"}),
    ColumnType.DATETIME: frozenset({"datetime"}),
}
_ACCEPTED_VALUES: dict[ColumnType, frozenset[str]] = {
    ColumnType.INTEGER: frozenset({"integer", "float"}),  # floats: integral ones only
    ColumnType.FLOAT: frozenset({"integer", "float"}),
    ColumnType.BOOLEAN: frozenset({"boolean"}),
    ColumnType.STRING: frozenset({"string"}),
    ColumnType.DATETIME: frozenset({"datetime", "string"}),  # strings: ISO 8601 ones only
}
#: infer_dtype results that need no per-value look for an object column.
_CLEAN_INFERRED: dict[ColumnType, frozenset[str]] = {
    ColumnType.INTEGER: frozenset({"integer", "empty"}),
    ColumnType.FLOAT: frozenset({"integer", "floating", "mixed-integer-float", "empty"}),
    ColumnType.BOOLEAN: frozenset({"boolean", "empty"}),
    ColumnType.STRING: frozenset({"string", "empty"}),
    ColumnType.DATETIME: frozenset({"datetime", "datetime64", "date", "empty"}),
}


def _domain_kind(categories: tuple[Category, ...]) -> str:
    kinds = {_kind_of_type(type(v)) for v in categories}
    if kinds <= {"string"}:
        return "string"
    if kinds <= {"boolean"}:
        return "boolean"
    if kinds <= {"integer", "float"}:
        return "float"
    return "mixed"


@functools.lru_cache(maxsize=1024)
def _expected_kinds(spec: ColumnSpec) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
    """(accepted dtype kinds, accepted value kinds, clean infer_dtype results) for a spec."""
    if spec.type is ColumnType.CATEGORY:
        domain = "mixed" if spec.categories is None else _domain_kind(spec.categories)
        if domain == "mixed":
            everything = frozenset(
                {"category", "string", "object", "integer", "float", "boolean", "datetime", "other"}
            )
            return everything, everything, frozenset()
        ctype = ColumnType(domain)
        dtypes = _ACCEPTED_DTYPES[ctype] | {"category"}
        return dtypes, _ACCEPTED_VALUES[ctype], _CLEAN_INFERRED[ctype]
    if spec.type is ColumnType.STRING:
        return (
            _ACCEPTED_DTYPES[spec.type] | {"category"},
            _ACCEPTED_VALUES[spec.type],
            _CLEAN_INFERRED[spec.type],
        )
    return _ACCEPTED_DTYPES[spec.type], _ACCEPTED_VALUES[spec.type], _CLEAN_INFERRED[spec.type]


def _check_column(
    spec: ColumnSpec, s: pd.Series[Any], policy: CategoryPolicy, max_examples: int
) -> list[Problem]:
    problems: list[Problem] = []
    n = len(s)
    never_null = isinstance(s.dtype, np.dtype) and s.dtype.kind in "iub"
    na: BoolArray | None = None if never_null else s.isna().to_numpy(dtype=bool)
    if na is not None and not spec.nullable and (count := int(na.sum())):
        problems.append(_problem(
            "null_not_allowed", spec.name, "error",
            "must not be null (it had no nulls at fit time)",
            f"{_plural(count, 'null row')} of {n}", "fill the nulls before predicting",
            expected="non-null", got="null", count=count,
        ))  # fmt: skip
    if spec.type is ColumnType.OBJECT:
        return problems
    bad, got = _wrong_values(spec, s, na)
    if bad is not None and (count := int(bad.sum())):
        examples, distinct = _examples(s[bad], max_examples)
        problems.append(_problem(
            "wrong_type", spec.name, "error", f"must hold {_describe(spec)}",
            f"{_show(examples, distinct)} ({got}) in {_plural(count, 'row')} of {n}", None,
            expected=spec.type.value, got=got, examples=examples, count=count,
        ))  # fmt: skip
    if policy != "ignore" and spec.categories is not None:
        skip = na if bad is None else bad if na is None else na | bad
        values = s if skip is None or not skip.any() else s[~skip]
        problem = _domain_problem(spec, values, n, policy, max_examples)
        if problem is not None:
            problems.append(problem)
    return problems


def _wrong_values(
    spec: ColumnSpec, s: pd.Series[Any], na: BoolArray | None
) -> tuple[BoolArray | None, str]:
    """The mask of non-null values of the wrong type (None: all fine) and what they are."""
    dtypes, values, clean = _expected_kinds(spec)
    kind = _kind_of_dtype(s.dtype)
    if spec.type is ColumnType.INTEGER and kind == "float":
        return _non_integral(s.to_numpy(dtype=float, na_value=np.nan)), "float"
    if spec.type is ColumnType.DATETIME and kind == "string":
        return _unparseable(s, na), "string"
    if kind == "category" and spec.type is ColumnType.STRING:
        categories = cast(pd.CategoricalDtype, s.dtype).categories
        if pdt.infer_dtype(categories, skipna=True) in ("string", "empty"):
            return None, kind
    elif kind in dtypes:
        return None, kind
    not_null: BoolArray = np.ones(len(s), dtype=bool) if na is None else ~na
    if kind == "object":
        inferred = pdt.infer_dtype(s, skipna=True)
        if inferred in clean:
            return None, inferred
        kinds = np.full(len(s), "null", dtype=object)
        kinds[not_null] = _element_kinds(s[not_null])
        bad: BoolArray = not_null & ~np.isin(kinds, list(values))
        if spec.type is ColumnType.INTEGER:
            floats = kinds == "float"
            if floats.any():
                bad[floats] = _non_integral(s[floats].to_numpy(dtype=float))
        if spec.type is ColumnType.DATETIME:
            strings = kinds == "string"
            if strings.any():
                bad[strings] = _unparseable(s[strings], None)
        got = ", ".join(dict.fromkeys(kinds[bad])) if bad.any() else "object"
        return bad, got
    return not_null, kind if kind != "other" else str(s.dtype)


def _non_integral(values: npt.NDArray[np.float64]) -> BoolArray:
    """Non-null floats that are not whole numbers an int64 can hold."""
    with np.errstate(invalid="ignore"):
        whole = (np.mod(values, 1.0) == 0.0) & (np.abs(values) < _INT64_BOUND)
    return cast(BoolArray, ~np.isnan(values) & ~whole)


def _unparseable(s: pd.Series[Any], na: BoolArray | None) -> BoolArray:
    parsed = pd.to_datetime(s, errors="coerce", utc=True, format="ISO8601")
    bad = parsed.isna().to_numpy(dtype=bool)
    return bad if na is None else bad & ~na


def _domain_problem(
    spec: ColumnSpec, values: pd.Series[Any], n: int, policy: CategoryPolicy, max_examples: int
) -> Problem | None:
    categories = spec.categories
    if categories is None or len(values) == 0:
        return None
    try:
        seen = pd.Index(values.unique())
    except TypeError:  # unhashable values: only an object column can hold them
        return None
    unseen = seen[~seen.isin(list(categories))]
    if len(unseen) == 0:
        return None
    count = int(values.isin(unseen).sum())
    examples = tuple(_json_safe(v) for v in unseen[:max_examples])
    return _problem(
        "unknown_category", spec.name, "error" if policy == "error" else "warning",
        f"should hold values seen at fit time ({len(categories)} known)",
        f"unseen {_show(examples, len(unseen))} in {_plural(count, 'row')} of {n}", None,
        expected=f"one of {len(categories)} known values", got="unseen value",
        examples=examples, count=count,
    )  # fmt: skip


def _examples(values: pd.Series[Any], k: int) -> tuple[tuple[Any, ...], int]:
    """The first ``k`` distinct values (JSON-safe) and how many distinct values there are."""
    array = values.to_numpy(dtype=object)
    try:
        distinct = pd.unique(array)
    except TypeError:  # unhashable (lists, dicts): the first ones, repeats allowed
        distinct = array
    return tuple(_json_safe(v) for v in distinct[:k]), len(distinct)


def _scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _json_safe(value: Any) -> Any:
    """A JSON-safe Python scalar for a value: numbers, bools and str as they are, else text."""
    value = _scalar(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    return repr(value)


def _show(examples: tuple[Any, ...], total: int) -> str:
    text = ", ".join(repr(v) for v in examples)
    return text + ", ..." if total > len(examples) else text


def _describe(spec: ColumnSpec) -> str:
    if spec.type is ColumnType.DATETIME:
        return "datetime values (datetime64 or ISO 8601 strings)"
    if spec.type is ColumnType.INTEGER:
        return "integer values (ints or integral floats)"
    if spec.type is ColumnType.CATEGORY and spec.categories is not None:
        return f"category values ({_domain_kind(spec.categories)})"
    return f"{spec.type} values"


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --------------------------------------------------------------------------------------------
# Conversion to training dtypes


@functools.lru_cache(maxsize=1024)
def _training_dtype(spec: ColumnSpec) -> Any:
    """The pandas dtype the column had at fit time, or None if this pandas cannot build it."""
    if spec.type is ColumnType.CATEGORY:
        if spec.categories is None or spec.dtype != "category":
            return None
        return pd.CategoricalDtype(pd.Index(list(spec.categories)), ordered=spec.ordered)
    if not spec.dtype:
        return None
    try:
        dtype = pdt.pandas_dtype(spec.dtype)
    except (TypeError, ValueError):
        return None
    if isinstance(dtype, np.dtype) and dtype.kind == "U":  # 'str' under pandas 2: numpy text
        return np.dtype(object)
    return dtype


def _same_dtype(actual: Any, expected: Any) -> bool:
    if isinstance(expected, pd.CategoricalDtype):
        return (
            isinstance(actual, pd.CategoricalDtype)
            and actual.ordered == expected.ordered
            and actual.categories.equals(expected.categories)
        )
    return bool(actual == expected)


def _conform_column(spec: ColumnSpec, s: pd.Series[Any]) -> pd.Series[Any]:
    """``s`` in its training dtype; ``s`` itself when it already is or cannot safely be."""
    target = _training_dtype(spec)
    if spec.type is ColumnType.OBJECT or target is None or _same_dtype(s.dtype, target):
        return s
    if spec.type is ColumnType.DATETIME:
        return _to_datetime(s, target)
    numpy_target = isinstance(target, np.dtype)
    if numpy_target and target.kind in "iub" and bool(s.isna().any()):
        return s  # numpy ints and bools cannot hold nulls: keep the floats / objects
    kind = _kind_of_dtype(s.dtype)
    if spec.type in (ColumnType.INTEGER, ColumnType.FLOAT) and kind == "object":
        s = pd.to_numeric(s)
    if spec.type is ColumnType.INTEGER and numpy_target and target.kind in "iu" and len(s):
        info = np.iinfo(target)
        low, high = s.min(), s.max()
        if low < info.min or high > info.max:
            return s  # would wrap around: the model gets the true values instead
    if isinstance(target, pd.CategoricalDtype):  # values unseen at fit time become missing
        if isinstance(s.dtype, pd.CategoricalDtype):  # astype would keep another order
            return s.cat.set_categories(target.categories, ordered=target.ordered)
        s = s.where(s.isin(target.categories))
    return s.astype(target)


def _to_datetime(s: pd.Series[Any], target: Any) -> pd.Series[Any]:
    if not pdt.is_datetime64_any_dtype(target):
        return s
    if pdt.is_datetime64_any_dtype(s.dtype):
        parsed = s
        if getattr(s.dtype, "tz", None) is None:
            parsed = parsed.dt.tz_localize("UTC")
    else:
        parsed = pd.to_datetime(s, utc=True, format="ISO8601")
    tz = getattr(target, "tz", None)
    parsed = parsed.dt.tz_convert(tz) if tz is not None else parsed.dt.tz_convert(None)
    return cast("pd.Series[Any]", parsed.astype(target))
