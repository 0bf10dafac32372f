"""Requests to model input: a fast path without pandas, and the signature's own check for the rest.

A request brings rows (``records``: JSON objects) or columns (name -> list of values).
:class:`InputPlan` (one per served model) turns them into :class:`Features`, the validated input
of one request, and :meth:`InputPlan.frame` assembles the features of a batch of requests into
the frame the model predicts.

- :meth:`InputPlan.read_fast` accepts the common request without pandas: every field of the
  signature present and no other, every value of a type its column takes as it is (below), no
  null where the column had none at fit time, string values inside a recorded domain. It never
  explains a failure: it returns None, and the request takes the reference path.
- :meth:`InputPlan.read` is the reference path: :meth:`Signature.validate
  <loopml.models.signature.Signature.validate>` then :meth:`~loopml.models.signature.Signature.
  conform` on a DataFrame built from the request. Its diff (unknown, missing, wrong-typed fields
  with their offending values) is raised as a :class:`~loopml.models.signature.SignatureMismatch`
  (the 422 body); its warnings (values outside a category domain) ride along with the features.
  A record without a field makes that field null in its row; a field absent from every record
  is missing.
- For a request the fast path accepts, both paths give the same frame (a test checks it): each
  column is built in its training dtype as ``conform`` converts it. Only the column labels
  differ in kind: one object Index per model, since a new Arrow-backed Index per batch costs
  more than the rest of the frame, and scikit-learn reads the names on every predict.

Taken as they are by the fast path (JSON values as orjson parses them): ``float64`` columns take
ints and floats (and null when nullable); ``int64`` columns take ints in range; ``bool`` columns
take bools; ``string`` columns (object or str dtype) take strings; ``category`` columns with a
string domain take strings (and null when nullable). A model whose signature has any other
column (datetime, object, numeric categories, other dtypes) takes the reference path for every
request; a model without a signature is given the request's columns as they are.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as pdt

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.models.signature import ColumnSpec, ColumnType, Problem, Signature
from loopml.serving.config import CategoryPolicy
from loopml.serving.errors import MalformedRequest

__all__ = ["Features", "InputPlan"]

_INT64 = np.iinfo(np.int64)
_NONE = type(None)


@dataclass(frozen=True, slots=True)
class Features:
    """The validated input of one request: ``columns`` (fast path: one list per signature
    column, in signature order) or ``frame`` (reference path: the conformed DataFrame)."""

    rows: int
    columns: tuple[list[Any], ...] | None = None
    frame: pd.DataFrame | None = None
    warnings: tuple[Problem, ...] = ()


@dataclass(frozen=True, slots=True)
class _Column:
    """How the fast path checks and builds one column."""

    name: str
    types: frozenset[type]
    build: Callable[[list[Any]], Any]
    domain: frozenset[Any] | None = None
    integer: bool = False

    def accepts(self, values: list[Any]) -> bool:
        """The checks beyond the value types: int range, category domain."""
        if self.integer and (min(values) < _INT64.min or max(values) > _INT64.max):
            return False
        return self.domain is None or self.domain.issuperset(values)


def _float64(values: list[Any]) -> Any:
    return np.array(values, dtype=np.float64)


def _int64(values: list[Any]) -> Any:
    return np.array(values, dtype=np.int64)


def _bool(values: list[Any]) -> Any:
    return np.array(values, dtype=np.bool_)


def _objects(values: list[Any]) -> Any:
    array = np.empty(len(values), dtype=object)
    array[:] = values
    return array


def _string_builder(dtype: str) -> Callable[[list[Any]], Any] | None:
    """The builder of a string column's training dtype (object, or pandas' str/string)."""
    try:
        target = pdt.pandas_dtype(dtype)
    except (TypeError, ValueError):
        return None
    if isinstance(target, np.dtype) and target.kind in "OU":  # pandas 2 reads 'str' as numpy U
        return _objects
    if isinstance(target, pd.StringDtype):
        return lambda values: pd.array(values, dtype=target)
    return None


def _fast_column(spec: ColumnSpec, policy: CategoryPolicy) -> _Column | None:
    """The fast path of one column, or None when only the reference path handles it."""
    nullable = frozenset({_NONE}) if spec.nullable else frozenset()
    if spec.type is ColumnType.FLOAT and spec.dtype == "float64":
        return _Column(spec.name, frozenset({float, int}) | nullable, _float64)
    if spec.type is ColumnType.INTEGER and spec.dtype == "int64":
        return _Column(spec.name, frozenset({int}), _int64, integer=True)
    if spec.type is ColumnType.BOOLEAN and spec.dtype == "bool":
        return _Column(spec.name, frozenset({bool}), _bool)
    checked = spec.categories is not None and policy != "ignore"
    if spec.type is ColumnType.STRING and spec.dtype:
        build = _string_builder(spec.dtype)
        if build is None:
            return None
        words: frozenset[Any] | None = frozenset(spec.categories or ()) if checked else None
        return _Column(spec.name, frozenset({str}), build, words)
    if (
        spec.type is ColumnType.CATEGORY
        and spec.dtype == "category"
        and spec.categories is not None
        and all(isinstance(c, str) for c in spec.categories)
    ):
        target = pd.CategoricalDtype(pd.Index(list(spec.categories)), ordered=spec.ordered)
        domain = frozenset([*spec.categories, *([None] if spec.nullable else [])])
        return _Column(
            spec.name,
            frozenset({str}) | nullable,
            lambda values: pd.Categorical(values, dtype=target),
            domain if checked else None,
        )
    return None


def _malformed(subject: str, rule: str, value: object = None, fix: str | None = None) -> Exception:
    return MalformedRequest(user_message(subject, rule, value, fix))


def _kind(value: object) -> str:
    return verbatim(f"<{type(value).__name__}>")


class InputPlan:
    """How the requests of one model become its input (rules: module docstring).

    >>> sig = Signature.from_dict({"inputs": [{"name": "x", "type": "float", "dtype": "float64"}]})
    >>> plan = InputPlan(sig)
    >>> plan.read_fast(records=[{"x": 1}, {"x": 2.5}]).columns
    ([1, 2.5],)
    >>> plan.read_fast(records=[{"x": "1"}]) is None  # the reference path explains
    True
    >>> plan.frame([plan.read_fast(records=[{"x": 1}])]).dtypes["x"]
    dtype('float64')
    """

    def __init__(
        self,
        signature: Signature | None,
        *,
        category_policy: CategoryPolicy = "warn",
        allow_extra_columns: bool = False,
    ) -> None:
        self.signature = signature
        self.category_policy: CategoryPolicy = category_policy
        self.allow_extra_columns = allow_extra_columns
        columns = (
            [_fast_column(spec, category_policy) for spec in signature.inputs]
            if signature is not None and signature.inputs
            else [None]
        )
        self._columns: tuple[_Column, ...] | None = (
            None if any(c is None for c in columns) else tuple(c for c in columns if c)
        )
        self._names = tuple(c.name for c in self._columns or ())
        self._index = pd.Index(self._names, dtype=object)
        self._checked = tuple(
            (j, c) for j, c in enumerate(self._columns or ()) if c.integer or c.domain is not None
        )
        self._all_float = bool(self._columns) and all(
            c.build is _float64 for c in self._columns or ()
        )

    @property
    def fast(self) -> bool:
        """Whether requests of this model can take the fast path."""
        return self._columns is not None

    # -- the fast path ------------------------------------------------------------------------

    def read_fast(self, *, records: object = None, columns: object = None) -> Features | None:
        """The features of a request the fast path accepts as it is, else None."""
        specs = self._columns
        if specs is None:
            return None
        names = self._names
        width = len(names)
        if records is not None:
            if type(records) is not list or not records:
                return None
            lists: list[list[Any]] = [[] for _ in range(width)]
            for row in records:
                if type(row) is not dict or len(row) != width:
                    return None
                try:
                    values = [row[name] for name in names]
                except KeyError:
                    return None
                for value, spec, into in zip(values, specs, lists, strict=True):
                    if type(value) not in spec.types:
                        return None
                    into.append(value)
            n = len(records)
        else:
            if type(columns) is not dict or len(columns) != width:
                return None
            try:
                lists = [columns[name] for name in names]
            except KeyError:
                return None
            n = -1
            for values, spec in zip(lists, specs, strict=True):
                if type(values) is not list or (n >= 0 and len(values) != n):
                    return None
                n = len(values)
                if not spec.types.issuperset(map(type, values)):
                    return None
            if n < 1:
                return None
        for j, spec in self._checked:
            if not spec.accepts(lists[j]):
                return None
        return Features(n, columns=tuple(lists))

    def frame(self, parts: Sequence[Features]) -> pd.DataFrame:
        """One frame of the fast-path features of several requests, in signature order and
        training dtypes (what :meth:`Signature.conform` returns for them)."""
        specs = self._columns
        if specs is None:
            raise InvalidInput(user_message("this model", "takes no fast-path features"))
        if len(parts) == 1:
            columns: Sequence[list[Any]] = parts[0].columns or ()
        else:
            columns = [
                list(itertools.chain.from_iterable(p.columns[j] for p in parts if p.columns))
                for j in range(len(specs))
            ]
        if self._all_float:
            block = np.array(columns, dtype=np.float64).T
            return pd.DataFrame(block, columns=self._index, copy=False)
        built = [spec.build(values) for spec, values in zip(specs, columns, strict=True)]
        return pd.DataFrame(dict(zip(self._names, built, strict=True)), copy=False).set_axis(
            self._index, axis=1
        )

    # -- the reference path -------------------------------------------------------------------

    def read(self, *, records: object = None, columns: object = None) -> Features:
        """The features of any request, checked by the signature; raises
        :class:`~loopml.models.signature.SignatureMismatch` (422) with the diff, or
        :class:`~loopml.serving.errors.MalformedRequest` (400) for a request of the wrong shape.
        """
        data = _records_to_columns(records) if records is not None else _columns_of(columns)
        try:
            frame = pd.DataFrame(data)
        except (ValueError, TypeError) as exc:
            raise _malformed("the request's columns", "do not form a table", str(exc)) from exc
        rows = len(frame)
        if self.signature is None:
            return Features(rows, frame=frame)
        diff = self.signature.validate(frame, self.category_policy, self.allow_extra_columns)
        diff.raise_for_errors()
        try:
            conformed = self.signature.conform(
                frame, self.category_policy, self.allow_extra_columns
            )
        except (ValueError, TypeError, OverflowError) as exc:
            raise InvalidInput(
                user_message(
                    "the request's values",
                    "could not be converted to the model's training types",
                    str(exc),
                )
            ) from exc
        return Features(rows, frame=conformed, warnings=diff.warnings)


def _records_to_columns(records: object) -> dict[str, list[Any]]:
    if not isinstance(records, list):
        raise _malformed("records", "must be a list of JSON objects", _kind(records))
    if not records:
        raise _malformed("records", "must hold at least one row", verbatim("[]"))
    names: dict[str, None] = {}
    for i, row in enumerate(records):
        if not isinstance(row, dict):
            raise _malformed(f"records[{i}]", "must be a JSON object", _kind(row))
        names.update(dict.fromkeys(row))
    return {name: [row.get(name) for row in records] for name in names}


def _columns_of(columns: object) -> Mapping[str, list[Any]]:
    if not isinstance(columns, dict):
        raise _malformed(
            "columns", "must be a JSON object of column name -> list of values", _kind(columns)
        )
    if not columns:
        raise _malformed("columns", "must hold at least one column", verbatim("{}"))
    lengths: dict[int, str] = {}
    for name, values in columns.items():
        if not isinstance(values, list):
            raise _malformed(f"column {name!r}", "must be a list of values", _kind(values))
        lengths.setdefault(len(values), name)
    if len(lengths) > 1:
        shown = ", ".join(f"{name!r}: {n}" for n, name in sorted(lengths.items()))
        raise _malformed("columns", "must all have the same length", verbatim(shown))
    if 0 in lengths:
        raise _malformed("columns", "must hold at least one row", verbatim("empty lists"))
    return columns
