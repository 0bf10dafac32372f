"""Validation: data checked against a :class:`~loopml.data.schema.Schema`, batch by batch.

:func:`validate` streams ``data`` through :func:`loopml.data.batches.iter_batches` and never
raises on bad data: every problem is a :class:`Finding` in the returned
:class:`ValidationReport`. Only a bad call (``schema`` not a Schema, non-tabular ``data``)
raises :class:`~loopml.core.errors.InvalidInput`; :meth:`ValidationReport.raise_for_errors`
turns a failed report into :class:`ValidationFailed` for callers that want an exception.

Findings (``kind``: severity):

- ``missing_column``: error, a schema column absent from the data (``count``: rows without it);
  ``unexpected_column``: warning; ``duplicate_column``: error (the first one is checked).
- ``type_mismatch``: error when values cannot be read as the schema type (``count`` and
  ``examples`` of those values); warning when the storage differs but every value converts
  (numbers stored as text, numbers where text was expected). Accepted as they are: ints for
  ``float``; whole floats for ``integer`` (pandas stores nullable ints as floats); any text or
  dictionary storage for ``string``/``category``; timestamps, dates or ISO 8601 text for
  ``datetime``; anything for ``object``. An all-null column is never a type mismatch.
  Conversions use DuckDB's ``TRY_CAST``; values that fail it are the offending ones.
- ``missing_values``: error when the share of nulls (NaN counts as null) exceeds
  ``max_missing_rate``, or a column that is not nullable holds a null.
- ``out_of_range``: error, numbers below ``min`` or above ``max``.
- ``unseen_category``: error, values outside ``categories``.
- ``row_count``: error, the row count outside the schema's bounds.
- ``duplicate_rows``: warning, rows equal to an earlier row (all columns, by 64-bit hash: with
  ``n`` distinct rows the chance of one false repeat is about ``n**2 / 2**65``). Costs 8 bytes
  of memory per distinct row; ``check_duplicates=False`` skips it.
- one finding per failing custom expectation (its ``kind`` and ``severity``), from the schema's
  ``expectations`` and the ``expectations`` argument alike.
- ``check_failed``: error, a check that could not run on this data (an Arrow type no kernel
  supports), with the reason.

A DataFrame column Arrow cannot type (mixed objects) is checked as its text, and of a repeated
column name the first column is checked.

``count`` is the number of offending rows, ``rate`` that count over the rows checked, and
``examples`` the first ``max_examples`` distinct offending values (rows, as
``{"row": position, "values": {...}}``, for row-level findings).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.data.batches import DEFAULT_BATCH_ROWS, iter_batches
from loopml.data.expectations import (
    DATA_ERRORS,
    BatchContext,
    Expectation,
    SeenHashes,
    Severity,
    Tally,
    missing,
    not_in_set,
    open_duckdb,
    out_of_range,
)
from loopml.data.profiling import logical_type
from loopml.data.schema import ColumnSchema, Schema
from loopml.models.signature import ColumnType

__all__ = ["Finding", "ValidationFailed", "ValidationReport", "validate"]

#: How many finding messages the exception of :meth:`ValidationReport.raise_for_errors` shows.
_MESSAGES_SHOWN = 3
_INT64_BOUND = 2.0**63
#: DuckDB types values are converted to when the storage type is not the schema type.
_SQL_TYPES = {
    ColumnType.INTEGER: "DOUBLE",
    ColumnType.FLOAT: "DOUBLE",
    ColumnType.BOOLEAN: "BOOLEAN",
    ColumnType.STRING: "VARCHAR",
    ColumnType.CATEGORY: "VARCHAR",
    ColumnType.DATETIME: "TIMESTAMPTZ",
}
_TEXT = (ColumnType.STRING, ColumnType.CATEGORY)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found in the data."""

    column: str | None
    kind: str
    severity: Severity
    message: str
    count: int = 0
    rate: float | None = None
    examples: tuple[Any, ...] = ()
    expected: str | None = None
    observed: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "severity": self.severity,
            "message": self.message,
            "count": self.count,
            "rate": self.rate,
            "examples": list(self.examples),
            "expected": self.expected,
            "observed": self.observed,
        }


class ValidationFailed(InvalidInput):
    """The data broke its schema; ``report`` holds every finding."""

    code = "DATA_VALIDATION_FAILED"

    def __init__(self, message: str, report: ValidationReport) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.report))


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Every finding of one validation, and the number of rows read."""

    findings: tuple[Finding, ...]
    row_count: int

    @property
    def ok(self) -> bool:
        """No finding is an error."""
        return not any(f.severity == "error" for f in self.findings)

    @property
    def errors(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "row_count": self.row_count,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "findings": [f.to_dict() for f in self.findings],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def __str__(self) -> str:
        head = f"{self.row_count} rows: {_plural(len(self.errors), 'error')}, " + _plural(
            len(self.warnings), "warning"
        )
        return "\n".join([head, *(f"  {f.severity}: {f.message}" for f in self.findings)])

    def raise_for_errors(self) -> None:
        """Raise :class:`ValidationFailed` (an InvalidInput) if any finding is an error."""
        errors = self.errors
        if not errors:
            return
        shown = " ".join(f.message for f in errors[:_MESSAGES_SHOWN])
        more = len(errors) - _MESSAGES_SHOWN
        if more > 0:
            shown += f" (and {_plural(more, 'more error')})"
        raise ValidationFailed(
            f"the data does not match its schema ({_plural(len(errors), 'error')}): {shown}", self
        )


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


# --------------------------------------------------------------------------------------------
# Per-column state


@dataclass
class _Column:
    spec: ColumnSchema
    max_examples: int
    rows: int = 0  # rows of the batches that had the column
    absent: int = 0  # rows of the batches that did not
    nulls: int = 0
    storage: dict[str, None] = field(default_factory=dict)  # storage types seen
    differs: bool = False  # a storage type is not the schema type (though its values convert)
    wrong: Tally = field(init=False)
    range: Tally = field(init=False)
    unseen: Tally = field(init=False)
    problem: str | None = None

    def __post_init__(self) -> None:
        self.wrong = Tally(self.max_examples)
        self.range = Tally(self.max_examples)
        self.unseen = Tally(self.max_examples)

    def update(self, array: Any, context: BatchContext) -> None:
        spec = self.spec
        self.rows += len(array)
        self.nulls += int(pc.sum(missing(array)).as_py() or 0)
        if pa.types.is_null(array.type) or spec.type is ColumnType.OBJECT:
            return
        self.storage[str(array.type)] = None
        values, bad, differs = _coerce(array, spec.type, context)
        self.differs = self.differs or differs
        if bad is not None:
            self.wrong.add(array, bad)
        if values is None:
            return
        if spec.min is not None or spec.max is not None:
            self.range.add(values, out_of_range(values, spec.min, spec.max))
        if spec.categories is not None:
            self.unseen.add(values, not_in_set(values, spec.categories))

    def _shown(self, tally: Tally) -> str:
        return _examples(tally.examples, tally.count, self.max_examples)

    def findings(self) -> list[Finding]:
        spec, name, out = self.spec, self.spec.name, []
        if self.absent:
            out.append(_finding(
                name, "missing_column", "error", "is in the schema but not in the data", None,
                "add the column, or drop it from the schema", count=self.absent,
                expected=spec.type.value, observed="no such column",
            ))  # fmt: skip
        if self.problem is not None:
            out.append(_finding(
                name, "check_failed", "error", "could not be checked", verbatim(self.problem),
                None, observed=self.problem,
            ))  # fmt: skip
        rows = self.rows
        if rows == 0:
            return out
        rate = self.nulls / rows
        allowed = spec.max_missing_rate if spec.max_missing_rate is not None else 1.0
        if self.nulls and (not spec.nullable or rate > allowed):
            rule = (
                "must not be null"
                if not spec.nullable
                else f"may be null in at most {allowed:.1%} of rows"
            )
            out.append(_finding(
                name, "missing_values", "error", rule,
                f"{_plural(self.nulls, 'null')} in {rows} rows ({rate:.2%})",
                "fill the nulls, or raise max_missing_rate in the schema", count=self.nulls,
                rate=rate, expected=f"missing rate <= {allowed}",
                observed=f"{rate:.6g}",
            ))  # fmt: skip
        storage = ", ".join(self.storage)
        if self.wrong.count:
            count = self.wrong.count
            out.append(_finding(
                name, "type_mismatch", "error", f"must hold {spec.type.value} values",
                f"{self._shown(self.wrong)} in {_plural(count, 'row')} "
                f"(stored as {storage})", None, count=count,
                rate=count / rows, examples=tuple(self.wrong.examples),
                expected=spec.type.value, observed=storage,
            ))  # fmt: skip
        elif self.differs:
            out.append(_finding(
                name, "type_mismatch", "warning", f"should be stored as {spec.type.value}",
                verbatim(f"{storage}, every value converts"), None, expected=spec.type.value,
                observed=storage,
            ))  # fmt: skip
        if self.range.count:
            count = self.range.count
            bounds = f"[{_bound(spec.min, '-inf')}, {_bound(spec.max, 'inf')}]"
            out.append(_finding(
                name, "out_of_range", "error", f"must hold values in {bounds}",
                f"{self._shown(self.range)} in {_plural(count, 'row')}",
                "fix the values, or widen min/max in the schema", count=count,
                rate=count / rows, examples=tuple(self.range.examples), expected=bounds,
                observed=f"{count} out of range",
            ))  # fmt: skip
        if self.unseen.count:
            count = self.unseen.count
            known = len(spec.categories or ())
            out.append(_finding(
                name, "unseen_category", "error", f"must hold one of {known} known categories",
                f"unseen {self._shown(self.unseen)} in {_plural(count, 'row')}",
                "fix the values, or add them to categories in the schema", count=count,
                rate=count / rows, examples=tuple(self.unseen.examples),
                expected=f"one of {known} categories", observed=f"{count} unseen values",
            ))  # fmt: skip
        return out


def _bound(value: float | None, default: str) -> str:
    return default if value is None else repr(value)


def _examples(examples: Sequence[Any], count: int, limit: int) -> str:
    """The examples, with ``...`` when the list was cut at ``limit`` and more rows failed."""
    shown = ", ".join(repr(v) for v in examples)
    return shown + (", ..." if len(examples) >= limit and count > len(examples) else "")


def _finding(
    column: str | None,
    kind: str,
    severity: Severity,
    rule: str,
    shown: Any,
    fix: str | None,
    **extra: Any,
) -> Finding:
    subject = "the data" if column is None else f"column {column!r}"
    value = shown if shown is None or not isinstance(shown, str) else verbatim(shown)
    message = user_message(subject, rule, value, fix)
    return Finding(column=column, kind=kind, severity=severity, message=message, **extra)


# --------------------------------------------------------------------------------------------
# Types


def _coerce(array: Any, target: ColumnType, context: BatchContext) -> tuple[Any, Any, bool]:
    """``(values, bad, differs)``: the values as the schema type (None: not comparable), a mask
    of values that do not convert (None: all do), and whether the storage type differs."""
    storage = logical_type(array.type)
    if storage is ColumnType.CATEGORY and pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
        storage = logical_type(array.type)
        if storage is ColumnType.STRING:
            storage = ColumnType.CATEGORY
    if storage is target or (target is ColumnType.FLOAT and storage is ColumnType.INTEGER):
        return array, None, False
    if target in _TEXT and storage in _TEXT:
        return array, None, False
    if target is ColumnType.INTEGER and storage is ColumnType.FLOAT:
        return array, _not_whole(array), False
    if target is ColumnType.DATETIME and storage is ColumnType.STRING:
        if _parses_as_timestamps(array):
            return None, None, False
        converted = _try_cast(array, "TIMESTAMPTZ", context)
        return None, _failed(array, converted), False
    converted = _try_cast(array, _SQL_TYPES[target], context)
    bad = _failed(array, converted)
    if target is ColumnType.INTEGER and converted is not None:
        bad = pc.or_(bad, _not_whole(converted))
    return converted, bad, True


def _parses_as_timestamps(array: Any) -> bool:
    for target in (pa.timestamp("us", tz="UTC"), pa.timestamp("us")):
        try:
            pc.cast(array, target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        return True
    return False


def _try_cast(array: Any, sql_type: str, context: BatchContext) -> Any:
    """``TRY_CAST`` of the column to ``sql_type`` (None if DuckDB cannot read the column)."""
    try:
        return context.try_cast(array, sql_type)
    except DATA_ERRORS:
        return None


def _failed(original: Any, converted: Any) -> Any:
    """Non-null values that did not convert."""
    if converted is None:
        return original.is_valid()
    return pc.and_(original.is_valid(), converted.is_null())


def _not_whole(array: Any) -> Any:
    """Floats that are not whole numbers an int64 holds (NaN and nulls: False)."""
    if not pa.types.is_floating(array.type) and not pa.types.is_decimal(array.type):
        return pa.array(np.zeros(len(array), dtype=bool))
    values = array.cast(pa.float64())
    whole = pc.and_(pc.equal(values, pc.floor(values)), pc.less(pc.abs(values), _INT64_BOUND))
    return pc.and_(pc.invert(whole), pc.invert(pc.is_nan(values))).fill_null(False)


# --------------------------------------------------------------------------------------------
# Reading the data without raising on it


def _frame_table(frame: pd.DataFrame) -> tuple[pa.Table, list[str]]:
    """``frame`` as Arrow, column by column when whole-frame conversion fails.

    Returns the table (first of each repeated name only) and the repeated names. A column Arrow
    cannot type (mixed objects) becomes text, so its values are still checked.
    """
    names = [str(c) for c in frame.columns]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if not repeated and all(isinstance(c, str) for c in frame.columns):
        try:
            return pa.Table.from_pandas(frame, preserve_index=False), []
        except DATA_ERRORS:
            pass
    arrays, kept = [], []
    for i, name in enumerate(names):
        if name in kept:
            continue
        column = frame.iloc[:, i]
        try:
            array = pa.Array.from_pandas(column)
        except DATA_ERRORS:
            text = column.astype(str).to_numpy(dtype=object)
            text[column.isna().to_numpy(dtype=bool)] = None
            array = pa.array(text, type=pa.string())
        arrays.append(array)
        kept.append(name)
    return pa.Table.from_arrays(arrays, names=kept), repeated


# --------------------------------------------------------------------------------------------
# The pass


def validate(
    data: Any,
    schema: Schema,
    *,
    expectations: Sequence[Expectation] = (),
    max_examples: int = 5,
    check_duplicates: bool = True,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> ValidationReport:
    """Check ``data`` against ``schema`` (and extra ``expectations``) in one streaming pass.

    >>> import pandas as pd
    >>> from loopml.data.schema import infer_schema
    >>> schema = infer_schema(pd.DataFrame({"x": [1, 2, 3], "c": ["a", "b", "a"]}))
    >>> report = validate(pd.DataFrame({"x": [1, 9], "c": ["a", "a"]}), schema)
    >>> report.ok, [(f.kind, f.column, f.count, f.examples) for f in report.findings]
    (False, [('out_of_range', 'x', 1, (9,))])
    """
    if not isinstance(schema, Schema):
        raise InvalidInput(
            user_message("schema", "must be a loopml Schema", verbatim(type(schema).__name__),
                         "load one with Schema.load(path) or build one with infer_schema(data)")
        )  # fmt: skip
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 0:
        raise InvalidInput(user_message("max_examples", "must be an integer >= 0", max_examples))
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidInput(user_message("batch_rows", "must be an integer >= 1", batch_rows))
    extra = tuple(expectations)
    for exp in extra:
        if not hasattr(exp, "checker") or not hasattr(exp, "kind"):
            raise InvalidInput(
                user_message("expectations", "must hold loopml expectations", verbatim(repr(exp)))
            )
    all_expectations = (*schema.expectations, *extra)
    return _Validation(schema, all_expectations, max_examples, check_duplicates).run(
        data, batch_rows
    )


class _Validation:
    def __init__(
        self,
        schema: Schema,
        expectations: Sequence[Expectation],
        max_examples: int,
        check_duplicates: bool,
    ) -> None:
        self.schema = schema
        self.columns = {c.name: _Column(c, max_examples) for c in schema.columns}
        self.expectations = list(expectations)
        self.checkers = [e.checker(max_examples) for e in expectations]
        self.unexpected: dict[str, int] = {}
        self.repeated_names: dict[str, None] = {}
        self.duplicates = Tally(max_examples) if check_duplicates else None
        self.seen = SeenHashes()
        self.rows = 0
        self.max_examples = max_examples

    def run(self, data: Any, batch_rows: int) -> ValidationReport:
        if isinstance(data, pd.DataFrame):
            data, repeated = _frame_table(data)
            self.repeated_names.update(dict.fromkeys(repeated))
        con = open_duckdb()
        try:
            for batch in iter_batches(data, batch_rows):
                self._batch(batch, con)
        except pa.ArrowException as exc:  # a source that cannot be read is not bad *data*
            raise InvalidInput(
                user_message("data", "could not be read", verbatim(str(exc)))
            ) from exc
        finally:
            con.close()
        return ValidationReport(tuple(self._findings()), self.rows)

    def _batch(self, batch: Any, con: Any) -> None:
        context = BatchContext(batch, self.rows, con)
        try:
            names = batch.schema.names
            for name in names:
                if names.count(name) > 1:
                    self.repeated_names[name] = None
            for name, state in self.columns.items():
                array = context.column(name)
                if array is None:
                    state.absent += batch.num_rows
                    continue
                try:
                    state.update(array, context)
                except DATA_ERRORS as exc:
                    state.problem = state.problem or _first_line(exc)
            for name in dict.fromkeys(names):
                if name not in self.columns:
                    self.unexpected[name] = self.unexpected.get(name, 0) + batch.num_rows
            if self.duplicates is not None and batch.num_rows and names:
                self._duplicates(self.duplicates, context, sorted(set(names)))
            for checker in self.checkers:
                checker.update(context)
        finally:
            context.close()
        self.rows += batch.num_rows

    def _duplicates(self, tally: Tally, context: BatchContext, names: list[str]) -> None:
        try:
            hashes = context.hashes(names)
        except DATA_ERRORS as exc:
            tally.fail(_first_line(exc))
            return
        tally.add_rows(context, pa.array(self.seen.add(hashes)))

    def _findings(self) -> list[Finding]:
        out: list[Finding] = []
        for name in self.repeated_names:
            out.append(_finding(
                name, "duplicate_column", "error", "must appear once", None,
                "drop or rename the repeated columns (the first one was checked)",
            ))  # fmt: skip
        for name, rows in self.unexpected.items():
            out.append(_finding(
                name, "unexpected_column", "warning", "is not in the schema", None,
                "add it to the schema, or drop it", count=rows, observed="an extra column",
            ))  # fmt: skip
        bounds = self.schema.row_count
        if bounds is not None and not (
            (bounds.min is None or self.rows >= bounds.min)
            and (bounds.max is None or self.rows <= bounds.max)
        ):
            expected = f"between {bounds.min or 0} and {bounds.max or 'any number of'} rows"
            out.append(_finding(
                None, "row_count", "error", f"must have {expected}",
                verbatim(f"{self.rows} rows"), None, count=self.rows, expected=expected,
                observed=str(self.rows),
            ))  # fmt: skip
        dup = self.duplicates
        if dup is not None and (dup.count or dup.problem):
            if dup.problem:
                out.append(_finding(
                    None, "check_failed", "error", "could not be checked for duplicate rows",
                    verbatim(dup.problem), None, observed=dup.problem,
                ))  # fmt: skip
            if dup.count:
                out.append(_finding(
                    None, "duplicate_rows", "warning", "should not repeat a row",
                    verbatim(f"{_plural(dup.count, 'repeated row')} of {self.rows}"),
                    "drop them with df.drop_duplicates()", count=dup.count,
                    rate=dup.count / self.rows, examples=tuple(dup.examples),
                    expected="no repeated rows", observed=f"{dup.count} repeats",
                ))  # fmt: skip
        for state in self.columns.values():
            out.extend(state.findings())
        for exp, checker in zip(self.expectations, self.checkers, strict=True):
            out.extend(_expectation_findings(exp, checker.outcome(), self.rows, self.max_examples))
        return out


def _expectation_findings(exp: Expectation, outcome: Any, rows: int, limit: int) -> list[Finding]:
    column = getattr(exp, "column", None)
    subject = exp.subject
    out = []
    if outcome.problem is not None:
        message = user_message(subject, "could not be checked", verbatim(outcome.problem))
        out.append(Finding(column, exp.kind, exp.severity, message, observed=outcome.problem))
    if outcome.count:
        count = outcome.count
        shown = (
            ""
            if not outcome.examples or isinstance(outcome.examples[0], dict)
            else (f" ({_examples(outcome.examples, count, limit)})")
        )
        message = user_message(
            subject, f"requires {exp.describe()}",
            verbatim(f"{_plural(count, 'failing row')} of {rows}{shown}"),
        )  # fmt: skip
        out.append(Finding(
            column, exp.kind, exp.severity, message, count=count,
            rate=count / rows if rows else None, examples=outcome.examples,
            expected=exp.describe(), observed=f"{count} failing rows",
        ))  # fmt: skip
    return out


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
