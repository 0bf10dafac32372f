"""Custom expectations: small declarative checks a schema carries beside its columns.

Each expectation is a frozen dataclass with a ``kind``, written to and read from the schema's
YAML as a plain mapping (:meth:`~Range.to_dict`, :func:`expectation_from_dict`). Checking is
separate from the declaration: ``expectation.checker(max_examples)`` returns a :class:`Checker`
that :func:`loopml.data.validation.validate` feeds batch by batch (vectorised on the Arrow batch)
and that counts the failing rows and keeps the first distinct failing values (or rows).

- ``Range(column, min=None, max=None)``: numbers within the inclusive bounds; nulls and NaN pass.
- ``Regex(column, pattern)``: values match ``pattern`` (RE2 syntax, *search* semantics: anchor it
  with ``^...$`` to match whole values); non-text values are matched as their text; nulls pass.
- ``Unique(column)``: no non-null value appears twice in the whole data; each repeat of an
  earlier value fails. Values are compared by 64-bit hash (:class:`SeenHashes`).
- ``NotNull(column)``: nulls (and NaN) fail.
- ``AllowedSet(column, values)``: non-null values outside ``values`` fail.
- ``RowPredicate(name, expression)``: a DuckDB SQL boolean expression over a row's columns, such
  as ``"dep_delay <= arr_delay + 60 OR arr_delay IS NULL"``; rows where it is FALSE fail (NULL
  does not). Its syntax is checked when the expectation is built (a schema load), so a typo is an
  :class:`~loopml.core.errors.InvalidInput`, not a crash mid-validation; it must be a single
  expression, and it runs in a DuckDB connection with file and network access disabled.

Every expectation takes a keyword ``severity`` (``"error"``, the default, ``"warning"`` or
``"info"``): the severity of its finding. A check that cannot run on the data (its column is
absent, a regex on a list column, a predicate naming an unknown column) never raises: the
checker records the problem, which becomes a finding.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, fields
from typing import Any, ClassVar, Literal, Protocol

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from loopml.core.errors import InvalidInput, did_you_mean, user_message, verbatim
from loopml.data.profiling import json_scalar, logical_type
from loopml.models.signature import ColumnType

__all__ = [
    "DATA_ERRORS",
    "SEVERITIES",
    "AllowedSet",
    "BatchContext",
    "Checker",
    "Expectation",
    "InvalidField",
    "NotNull",
    "Outcome",
    "Range",
    "Regex",
    "RowPredicate",
    "SeenHashes",
    "Severity",
    "Tally",
    "Unique",
    "expectation_from_dict",
    "missing",
    "not_in_set",
    "open_duckdb",
    "out_of_range",
    "quote_identifier",
]

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = ("error", "warning", "info")
Value = str | int | float | bool
Hashes = npt.NDArray[np.uint64]

#: Errors a check may meet on odd data (a kernel that does not support a type, a value DuckDB
#: cannot bind): recorded as the check's problem, never raised out of validation.
DATA_ERRORS = (pa.ArrowException, duckdb.Error, ValueError, TypeError, OverflowError)
#: Failing values looked at per batch when collecting distinct examples.
_EXAMPLE_SCAN = 10_000


class InvalidField(InvalidInput):
    """An invalid value for one named field; a YAML reader uses ``field`` to find its line."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.field, str(self)))


# --------------------------------------------------------------------------------------------
# Running checks on batches


def open_duckdb() -> Any:
    """A private in-memory DuckDB connection that cannot read files or the network."""
    con = duckdb.connect(":memory:")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


def quote_identifier(name: str) -> str:
    """``name`` as a DuckDB identifier (double quotes, inner quotes doubled)."""
    return '"' + name.replace('"', '""') + '"'


class BatchContext:
    """One batch as checks see it: the rows, the first row's position in the data, and SQL."""

    def __init__(self, batch: Any, offset: int, connection: Any) -> None:
        self.batch = batch
        self.offset = offset
        self._con = connection
        self._registered = False
        self._columns = {name: i for i, name in reversed(list(enumerate(batch.schema.names)))}

    def column(self, name: str) -> Any:
        """The (first) column called ``name``, or ``None`` if the batch has none."""
        i = self._columns.get(name)
        return None if i is None else self.batch.column(i)

    def select(self, expression: str) -> Any:
        """``SELECT expression FROM batch`` as one Arrow array aligned with the rows."""
        if not self._registered:
            self._con.register("batch", self.batch)
            self._registered = True
        table = self._con.sql(f"SELECT {expression} FROM batch").to_arrow_table()
        if table.num_rows != self.batch.num_rows:
            raise ValueError(
                f"the expression gives {table.num_rows} rows for {self.batch.num_rows}: it must be "
                "a per-row expression (no aggregates)"
            )
        return table.column(0).combine_chunks()

    def try_cast(self, array: Any, sql_type: str) -> Any:
        """``TRY_CAST(value AS sql_type)`` per value of ``array`` (null where it fails)."""
        self._con.register("_values", pa.table({"v": array}))
        try:
            table = self._con.sql(f"SELECT TRY_CAST(v AS {sql_type}) FROM _values")
            return table.to_arrow_table().column(0).combine_chunks()
        finally:
            self._con.unregister("_values")

    def hashes(self, columns: Sequence[str]) -> Hashes:
        """One 64-bit hash per row of ``columns`` (DuckDB's ``hash``)."""
        names = ", ".join(quote_identifier(c) for c in columns)
        return np.asarray(self.select(f"hash({names})").to_numpy(), dtype=np.uint64)

    def close(self) -> None:
        if self._registered:
            self._con.unregister("batch")
            self._registered = False


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a checker found: failing rows, first examples, and a problem if it could not run."""

    count: int
    examples: tuple[Any, ...] = ()
    problem: str | None = None


class Checker(Protocol):
    """Stateful evaluation of one expectation over a stream of batches."""

    def update(self, context: BatchContext) -> None: ...

    def outcome(self) -> Outcome: ...


class Tally:
    """A count of failures and the first ``max_examples`` distinct failing values (or rows)."""

    def __init__(self, max_examples: int) -> None:
        self.max_examples = max_examples
        self.count = 0
        self.examples: list[Any] = []
        self.problem: str | None = None

    def add(self, values: Any, mask: Any) -> int:
        """Count the rows of ``mask`` (a boolean array, nulls meaning False) and keep examples."""
        failing = int(pc.sum(mask).as_py() or 0)
        self.count += failing
        if failing and len(self.examples) < self.max_examples:
            picked = values.filter(mask).slice(0, _EXAMPLE_SCAN)
            try:
                picked = pc.unique(picked)
            except DATA_ERRORS:  # no hash kernel for the type (structs, lists): repeats allowed
                picked = picked.slice(0, self.max_examples * 4)
            for value in picked.to_pylist():
                shown = json_scalar(value)
                if shown not in self.examples:
                    self.examples.append(shown)
                if len(self.examples) >= self.max_examples:
                    break
        return failing

    def add_rows(self, context: BatchContext, mask: Any) -> int:
        """Count the rows of ``mask`` and keep the first failing rows as examples."""
        failing = int(pc.sum(mask).as_py() or 0)
        self.count += failing
        room = self.max_examples - len(self.examples)
        if failing and room > 0:
            indices = pc.indices_nonzero(mask.fill_null(False)).slice(0, room)
            rows = context.batch.take(indices).to_pylist()
            for i, row in zip(indices.to_pylist(), rows, strict=True):
                values = {k: json_scalar(v) for k, v in row.items()}
                self.examples.append({"row": context.offset + i, "values": values})
        return failing

    def fail(self, problem: str) -> None:
        """Record why the check could not run (the first reason is kept)."""
        if self.problem is None:
            self.problem = problem

    def outcome(self) -> Outcome:
        return Outcome(self.count, tuple(self.examples), self.problem)


class SeenHashes:
    """A growing set of 64-bit hashes in sorted runs (merged like a binary counter).

    Memory is 8 bytes per distinct hash; a membership test costs one binary search per run
    (at most log2 of the number of adds). With ``n`` distinct rows the chance that two of them
    share a hash, so that a row is wrongly called a repeat, is about ``n**2 / 2**65``: 3e-8 for
    a million rows, 3e-2 for a billion.
    """

    def __init__(self) -> None:
        self._runs: list[Hashes] = []

    def __len__(self) -> int:
        return sum(len(r) for r in self._runs)

    def add(self, hashes: Hashes) -> npt.NDArray[np.bool_]:
        """Add ``hashes``; True where a hash was already seen (earlier, or earlier in them)."""
        order = np.argsort(hashes, kind="stable")
        ordered = hashes[order]
        first = np.r_[True, ordered[1:] != ordered[:-1]] if len(ordered) else np.ones(0, bool)
        unique = ordered[first]
        seen = np.zeros(len(unique), dtype=bool)
        for run in self._runs:
            at = np.minimum(np.searchsorted(run, unique), len(run) - 1)
            seen |= run[at] == unique
        repeated_sorted = ~first
        repeated_sorted[first] = seen
        repeated = np.empty(len(hashes), dtype=bool)
        repeated[order] = repeated_sorted
        fresh = unique[~seen]
        if len(fresh):
            self._runs.append(fresh)
            while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
                newest = self._runs.pop()
                # The runs are disjoint (only unseen hashes are added), so a stable sort of the
                # two is their union. np.union1d would re-deduplicate: 1.06 s against 3 ms for
                # ~917k hashes, measured by benchmarks/data.py on numpy 2.4.
                merged = np.concatenate([self._runs[-1], newest])
                merged.sort(kind="stable")
                self._runs[-1] = merged
        return repeated


def out_of_range(array: Any, low: float | None, high: float | None) -> Any:
    """True where a value is below ``low`` or above ``high`` (nulls and NaN: False)."""
    mask = None
    if low is not None:
        mask = pc.less(array, pa.scalar(low))
    if high is not None:
        above = pc.greater(array, pa.scalar(high))
        mask = above if mask is None else pc.or_(mask, above)
    if mask is None:
        return pa.array(np.zeros(len(array), dtype=bool))
    return mask.fill_null(False)


def not_in_set(array: Any, values: Sequence[Value]) -> Any:
    """True where a non-null value is not one of ``values`` (compared as text if types differ)."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    try:
        value_set = pa.array(list(values)).cast(array.type)
    except DATA_ERRORS:
        array = array.cast(pa.string())
        value_set = pa.array([str(v) for v in values], type=pa.string())
    return pc.and_(array.is_valid(), pc.invert(pc.is_in(array, value_set=value_set)))


# --------------------------------------------------------------------------------------------
# Declarations


def _invalid(field: str, subject: str, rule: str, value: object, fix: str | None = None) -> Any:
    return InvalidField(field, user_message(subject, rule, value, fix))


class _Base:
    """Shared dict round trip and checks; subclasses declare ``kind`` and ``_types``."""

    __slots__ = ()
    kind: ClassVar[str]
    #: Each field's accepted Python types (parameters as data: the checks come from here).
    _types: ClassVar[dict[str, tuple[type, ...]]]
    _required: ClassVar[tuple[str, ...]]
    severity: Severity

    @property
    def subject(self) -> str:
        column = getattr(self, "column", None)
        return f"expectation {self.kind!r}" + ("" if column is None else f" on {column!r}")

    def _check_fields(self) -> None:
        for name, types in self._types.items():
            value = getattr(self, name)
            if value is None and name not in self._required:
                continue
            if isinstance(value, bool) and bool not in types:
                ok = False
            else:
                ok = isinstance(value, types)
            if not ok:
                names = dict.fromkeys(
                    _TYPE_NAMES[t] for t in types if t is not int or float not in types
                )
                expected = " or ".join(names)
                raise _invalid(name, f"{self.subject}: {name}", f"must be {expected}", value)
            if isinstance(value, float) and not math.isfinite(value):
                raise _invalid(name, f"{self.subject}: {name}", "must be finite", value)
            if isinstance(value, str) and name in ("column", "name", "expression") and not value:
                raise _invalid(name, f"{self.subject}: {name}", "must not be empty", value)
        if self.severity not in SEVERITIES:
            raise _invalid(
                "severity", f"{self.subject}: severity", f"must be one of {', '.join(SEVERITIES)}",
                self.severity,
            )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        """A plain mapping for YAML/JSON: ``kind``, the set fields, ``severity`` if not error."""
        out: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name == "severity":
                if value != "error":
                    out["severity"] = value
            elif value is not None:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def describe(self) -> str:
        """What the expectation requires, in a few words."""
        raise NotImplementedError


_TYPE_NAMES: dict[type, str] = {
    str: "a string", int: "an integer", float: "a number", bool: "true or false",
    tuple: "a list", list: "a list",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Range(_Base):
    """Numbers of ``column`` within ``[min, max]`` (either bound may be omitted)."""

    kind: ClassVar[str] = "range"
    _types: ClassVar[dict[str, tuple[type, ...]]] = {
        "column": (str,), "min": (int, float), "max": (int, float)
    }  # fmt: skip
    _required: ClassVar[tuple[str, ...]] = ("column",)
    column: str
    min: float | None = None
    max: float | None = None
    _: KW_ONLY
    severity: Severity = "error"

    def __post_init__(self) -> None:
        self._check_fields()
        if self.min is None and self.max is None:
            raise _invalid("min", f"{self.subject}", "needs a min or a max", None)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise _invalid("max", f"{self.subject}: max", f"must be >= min ({self.min})", self.max)

    def describe(self) -> str:
        low = "-inf" if self.min is None else repr(self.min)
        high = "inf" if self.max is None else repr(self.max)
        return f"values in [{low}, {high}]"

    def checker(self, max_examples: int) -> Checker:
        return _ColumnChecker(self.column, max_examples, self._mask)

    def _mask(self, array: Any, context: BatchContext) -> Any:
        if logical_type(array.type) not in (ColumnType.INTEGER, ColumnType.FLOAT):
            raise TypeError(f"a range needs numbers; the column holds {array.type}")
        return out_of_range(array, self.min, self.max)


@dataclass(frozen=True, slots=True)
class Regex(_Base):
    """Values of ``column`` contain a match of ``pattern`` (RE2; anchor with ``^...$``)."""

    kind: ClassVar[str] = "regex"
    _types: ClassVar[dict[str, tuple[type, ...]]] = {"column": (str,), "pattern": (str,)}
    _required: ClassVar[tuple[str, ...]] = ("column", "pattern")
    column: str
    pattern: str
    _: KW_ONLY
    severity: Severity = "error"

    def __post_init__(self) -> None:
        self._check_fields()
        try:
            pc.match_substring_regex(pa.array([""]), self.pattern)
        except pa.ArrowInvalid as exc:
            rule = f"must be a valid RE2 regular expression ({_first_line(str(exc))})"
            raise _invalid("pattern", f"{self.subject}: pattern", rule, self.pattern) from exc

    def describe(self) -> str:
        return f"values matching {self.pattern!r}"

    def checker(self, max_examples: int) -> Checker:
        return _ColumnChecker(self.column, max_examples, self._mask)

    def _mask(self, array: Any, context: BatchContext) -> Any:
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        if logical_type(array.type) is not ColumnType.STRING:
            array = array.cast(pa.string())
        return pc.invert(pc.match_substring_regex(array, self.pattern)).fill_null(False)


@dataclass(frozen=True, slots=True)
class _ColumnOnly(_Base):
    """An expectation whose only parameter is ``column``; subclasses declare ``kind``."""

    _types: ClassVar[dict[str, tuple[type, ...]]] = {"column": (str,)}
    _required: ClassVar[tuple[str, ...]] = ("column",)
    column: str
    _: KW_ONLY
    severity: Severity = "error"

    def __post_init__(self) -> None:
        self._check_fields()


@dataclass(frozen=True, slots=True)
class Unique(_ColumnOnly):
    """No non-null value of ``column`` appears twice."""

    kind: ClassVar[str] = "unique"

    def describe(self) -> str:
        return "unique values"

    def checker(self, max_examples: int) -> Checker:
        seen = SeenHashes()

        def mask(array: Any, context: BatchContext) -> Any:
            hashes = context.hashes([self.column])
            valid = array.is_valid().to_numpy(zero_copy_only=False)
            repeated = np.zeros(len(array), dtype=bool)
            repeated[valid] = seen.add(hashes[valid])
            return pa.array(repeated)

        return _ColumnChecker(self.column, max_examples, mask)


@dataclass(frozen=True, slots=True)
class NotNull(_ColumnOnly):
    """``column`` holds no null (nor NaN)."""

    kind: ClassVar[str] = "not_null"

    def describe(self) -> str:
        return "no nulls"

    def checker(self, max_examples: int) -> Checker:
        return _ColumnChecker(self.column, max_examples, lambda a, _: missing(a), examples=False)


@dataclass(frozen=True, slots=True)
class AllowedSet(_Base):
    """Non-null values of ``column`` are among ``values``."""

    kind: ClassVar[str] = "allowed_set"
    _types: ClassVar[dict[str, tuple[type, ...]]] = {"column": (str,), "values": (tuple, list)}
    _required: ClassVar[tuple[str, ...]] = ("column", "values")
    column: str
    values: tuple[Value, ...]
    _: KW_ONLY
    severity: Severity = "error"

    def __post_init__(self) -> None:
        self._check_fields()
        for value in self.values:
            if not isinstance(value, str | int | float) or (
                isinstance(value, float) and not math.isfinite(value)
            ):
                raise _invalid(
                    "values", f"{self.subject}: values", "must hold strings, numbers or booleans",
                    value,
                )  # fmt: skip
        object.__setattr__(self, "values", tuple(self.values))

    def describe(self) -> str:
        shown = ", ".join(repr(v) for v in self.values[:10])
        return f"values in {{{shown}{', ...' if len(self.values) > 10 else ''}}}"

    def checker(self, max_examples: int) -> Checker:
        return _ColumnChecker(self.column, max_examples, lambda a, _: not_in_set(a, self.values))


@dataclass(frozen=True, slots=True)
class RowPredicate(_Base):
    """Rows satisfy a DuckDB SQL boolean ``expression``; rows where it is FALSE fail."""

    kind: ClassVar[str] = "row_predicate"
    _types: ClassVar[dict[str, tuple[type, ...]]] = {"name": (str,), "expression": (str,)}
    _required: ClassVar[tuple[str, ...]] = ("name", "expression")
    name: str
    expression: str
    _: KW_ONLY
    severity: Severity = "error"

    def __post_init__(self) -> None:
        self._check_fields()
        try:
            statements = duckdb.extract_statements(f"SELECT ({self.expression}) FROM batch")
        except duckdb.Error as exc:
            rule = f"must be a valid SQL expression ({_first_line(str(exc))})"
            raise _invalid(
                "expression", f"{self.subject}: expression", rule, self.expression,
                "write a boolean expression over the columns, e.g. 'a > 0 OR b IS NULL'",
            ) from exc  # fmt: skip
        if len(statements) != 1 or ";" in self.expression:
            raise _invalid(
                "expression", f"{self.subject}: expression", "must be a single SQL expression",
                self.expression, "remove the ';' and anything after it",
            )  # fmt: skip

    @property
    def subject(self) -> str:
        return f"expectation {self.kind!r} {self.name!r}"

    def describe(self) -> str:
        return self.expression

    def checker(self, max_examples: int) -> Checker:
        return _PredicateChecker(self.expression, max_examples)


Expectation = Range | Regex | Unique | NotNull | AllowedSet | RowPredicate
_KINDS: dict[str, type[Any]] = {
    cls.kind: cls for cls in (Range, Regex, Unique, NotNull, AllowedSet, RowPredicate)
}


def expectation_from_dict(d: Mapping[str, Any]) -> Expectation:
    """The expectation a :meth:`~Range.to_dict` mapping describes.

    Raises :class:`InvalidField` (an InvalidInput) naming the offending field.

    >>> expectation_from_dict({"kind": "range", "column": "dep_delay", "min": -60})
    Range(column='dep_delay', min=-60, max=None, severity='error')
    >>> expectation_from_dict({"kind": "ranges"})
    Traceback (most recent call last):
    ...
    loopml.data.expectations.InvalidField: expectation kind must be one of range, regex, \
unique, not_null, allowed_set, row_predicate; got 'ranges'. Fix: did you mean 'range'.
    """
    if not isinstance(d, Mapping):
        raise _invalid("kind", "expectation", "must be a mapping", verbatim(type(d).__name__))
    kind = d.get("kind")
    cls = _KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise _invalid(
            "kind", "expectation kind", f"must be one of {', '.join(_KINDS)}", kind,
            did_you_mean(kind, _KINDS),
        )  # fmt: skip
    allowed = [*cls._types, "severity"]
    for key in d:
        if key != "kind" and key not in allowed:
            raise _invalid(
                str(key), f"expectation {kind!r}", f"may only have the fields {', '.join(allowed)}",
                key, did_you_mean(key, allowed),
            )  # fmt: skip
    for key in cls._required:
        if key not in d:
            raise _invalid(key, f"expectation {kind!r}", f"needs the field {key!r}", None)
    kwargs = {k: v for k, v in d.items() if k != "kind"}
    if isinstance(kwargs.get("values"), list):
        kwargs["values"] = tuple(kwargs["values"])
    result: Expectation = cls(**kwargs)
    return result


def _first_line(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().splitlines()[0]) if text.strip() else text


# --------------------------------------------------------------------------------------------
# Checkers


def missing(array: Any) -> Any:
    """True where a value is null or NaN."""
    mask = array.is_null()
    if pa.types.is_floating(array.type):
        mask = pc.or_(mask, pc.is_nan(array).fill_null(False))
    return mask


class _ColumnChecker:
    """Applies ``mask(array, context)`` (True: failing) to one column of each batch."""

    def __init__(self, column: str, max_examples: int, mask: Any, examples: bool = True) -> None:
        self.column = column
        self.tally = Tally(max_examples if examples else 0)
        self.mask = mask

    def update(self, context: BatchContext) -> None:
        array = context.column(self.column)
        if array is None:
            self.tally.fail(f"column {self.column!r} is not in the data")
            return
        try:
            self.tally.add(array, self.mask(array, context))
        except DATA_ERRORS as exc:
            self.tally.fail(f"could not check column {self.column!r}: {_first_line(str(exc))}")

    def outcome(self) -> Outcome:
        return self.tally.outcome()


class _PredicateChecker:
    def __init__(self, expression: str, max_examples: int) -> None:
        self.expression = expression
        self.tally = Tally(max_examples)

    def update(self, context: BatchContext) -> None:
        try:
            mask = context.select(f"({self.expression}) IS FALSE")
            self.tally.add_rows(context, mask)
        except DATA_ERRORS as exc:
            self.tally.fail(f"could not evaluate it: {_first_line(str(exc))}")

    def outcome(self) -> Outcome:
        return self.tally.outcome()
