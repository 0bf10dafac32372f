"""Data schemas: what each column may hold, inferred from a profile and kept as editable YAML.

A :class:`Schema` lists one :class:`ColumnSchema` per column, custom
:mod:`~loopml.data.expectations`, and optional :class:`RowCount` bounds.
:func:`loopml.data.validation.validate` checks data against it. It lives in the project as a YAML
file (:meth:`Schema.save`, :meth:`Schema.load`) that people edit; every error in that file is an
:class:`~loopml.core.errors.InvalidInput` naming the file, the line and the field.

Inference (:func:`infer_schema`, from :func:`loopml.data.profiling.profile`):

- ``type``: the profile's logical type (integer, float, boolean, string, category, datetime,
  object); a string column becomes ``category`` with its ``categories`` when it has at most
  ``max_categories`` distinct values and its values repeat (distinct values at most half the
  non-null count). Integral floats are ``integer``; ISO 8601 text is ``datetime``
  (``is_datetime``).
- ``nullable`` is whether the column held a null; ``max_missing_rate`` is the observed share of
  nulls plus a margin of the larger of 0.005 and a tenth of that share, rounded up to 0.001 and
  capped at 1 (sampling noise should not fail the next batch; a real jump in nulls should).
- ``min``/``max``: the observed range of numbers (none for identifiers).
- ``is_id``: with ``id_columns=None``, an integer or string column with no nulls whose values
  are all distinct (exactly, or an estimate within 3% of the row count past the profile's
  exact limit), and whose name looks like an identifier (``id``, ``*_id``, ``*-id``,
  ``*Id``, ``uuid``, ``guid``, ``*_uuid``) or that has at least 1,000 rows. Identifiers get no
  range nor domain, and a :class:`~loopml.data.expectations.Unique` expectation. With
  ``id_columns`` given, exactly those columns are identifiers (Unique only if they were unique).
- ``row_count``: at least one row.

YAML: ``format: 1``, ``row_count: {min, max}``, ``columns:`` a mapping from column name to its
fields (or to a bare type: ``year: integer``), ``expectations:`` a list of mappings with a
``kind``. Omitted fields take lenient defaults: ``nullable: true``, ``max_missing_rate: 1``
(``0`` when not nullable), no range, no domain.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from loopml.core.errors import InvalidInput, NotFound, did_you_mean, user_message, verbatim
from loopml.data.expectations import Expectation, InvalidField, Unique, expectation_from_dict
from loopml.data.profiling import ColumnProfile, Profile, profile
from loopml.models.signature import ColumnType

__all__ = ["ColumnSchema", "RowCount", "Schema", "infer_schema"]

Category = str | int | float | bool
_FORMAT = 1
_ID_NAME = re.compile(r"(^|[_\-\s.])(id|uuid|guid)$", re.IGNORECASE)
_ID_NAME_CAMEL = re.compile(r"[a-z0-9](Id|ID|Uuid|UUID|Guid|GUID)$")
_MIN_ROWS_UNNAMED_ID = 1000
_HEADER = """\
# loopml data schema: edit freely; loopml.data.validation checks data against it.
# columns.<name>: type (integer, float, boolean, string, category, datetime, object),
#   nullable, max_missing_rate (largest allowed share of nulls), min/max (numbers),
#   categories (the allowed values), is_id.
# expectations: kind range {column, min, max} | regex {column, pattern} | unique {column}
#   | not_null {column} | allowed_set {column, values} | row_predicate {name, expression};
#   each may set severity (error, warning, info).
"""


def _bad(field_name: str, subject: str, rule: str, value: object, fix: str | None = None) -> Any:
    return InvalidField(field_name, user_message(subject, rule, value, fix))


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@dataclass(frozen=True, slots=True)
class ColumnSchema:
    """What one column may hold. ``max_missing_rate`` defaults from ``nullable``."""

    name: str
    type: ColumnType
    nullable: bool = True
    max_missing_rate: float | None = None
    min: float | None = None
    max: float | None = None
    categories: tuple[Category, ...] | None = None
    is_id: bool = False

    def __post_init__(self) -> None:
        where = f"column {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise _bad("name", "column name", "must be a non-empty string", self.name)
        try:
            object.__setattr__(self, "type", ColumnType(self.type))
        except ValueError:
            raise _bad(
                "type", f"{where} type", f"must be one of {_TYPES}", self.type,
                did_you_mean(self.type, [t.value for t in ColumnType], 3),
            ) from None  # fmt: skip
        for name in ("nullable", "is_id"):
            if not isinstance(getattr(self, name), bool):
                raise _bad(name, f"{where} {name}", "must be true or false", getattr(self, name))
        rate = self.max_missing_rate
        if rate is None:
            object.__setattr__(self, "max_missing_rate", 1.0 if self.nullable else 0.0)
        elif not _is_number(rate) or not 0 <= rate <= 1:
            raise _bad("max_missing_rate", f"{where} max_missing_rate", "must be in [0, 1]", rate)
        elif rate > 0 and not self.nullable:
            raise _bad(
                "max_missing_rate", f"{where} max_missing_rate", "must be 0 when nullable is false",
                rate, "set nullable: true, or drop max_missing_rate",
            )  # fmt: skip
        else:
            object.__setattr__(self, "max_missing_rate", float(rate))
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is None:
                continue
            if self.type not in (ColumnType.INTEGER, ColumnType.FLOAT):
                raise _bad(
                    name, f"{where} {name}", "may only be set for an integer or float column",
                    verbatim(f"a {self.type.value} column"),
                )  # fmt: skip
            if not _is_number(value) or not math.isfinite(value):
                raise _bad(name, f"{where} {name}", "must be a finite number", value)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise _bad("max", f"{where} max", f"must be >= min ({self.min})", self.max)
        if self.categories is not None:
            self._check_categories(where)

    def _check_categories(self, where: str) -> None:
        if self.type not in (ColumnType.STRING, ColumnType.CATEGORY):
            raise _bad(
                "categories", f"{where} categories",
                "may only be set for a string or category column",
                verbatim(f"a {self.type.value} column"),
            )  # fmt: skip
        values = self.categories
        if isinstance(values, str) or not isinstance(values, Sequence):
            raise _bad("categories", f"{where} categories", "must be a list", values)
        for value in values:
            if not isinstance(value, str | int | float) or (
                isinstance(value, float) and not math.isfinite(value)
            ):
                raise _bad(
                    "categories", f"{where} categories", "must hold strings, numbers or booleans",
                    value,
                )  # fmt: skip
        if len(set(values)) != len(values):
            raise _bad("categories", f"{where} categories", "must not repeat a value", list(values))
        object.__setattr__(self, "categories", tuple(values))

    @property
    def is_datetime(self) -> bool:
        """Whether the column holds timestamps (stored as such, or as ISO 8601 text)."""
        return self.type is ColumnType.DATETIME

    def to_dict(self) -> dict[str, Any]:
        """The YAML fields of the column (its name is the key it sits under)."""
        out: dict[str, Any] = {"type": self.type.value, "nullable": self.nullable}
        if self.nullable and self.max_missing_rate != 1.0:
            out["max_missing_rate"] = self.max_missing_rate
        for name in ("min", "max"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.categories is not None:
            out["categories"] = list(self.categories)
        if self.is_id:
            out["is_id"] = True
        return out


_TYPES = ", ".join(t.value for t in ColumnType)
_COLUMN_FIELDS = ("type", "nullable", "max_missing_rate", "min", "max", "categories", "is_id")


@dataclass(frozen=True, slots=True)
class RowCount:
    """Bounds on the number of rows (inclusive; ``None``: unbounded)."""

    min: int | None = None
    max: int | None = None

    def __post_init__(self) -> None:
        for name in ("min", "max"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise _bad(name, f"row_count {name}", "must be a non-negative integer", value)
            if value is not None and value < 0:
                raise _bad(name, f"row_count {name}", "must be a non-negative integer", value)
        if self.min is not None and self.max is not None and self.min > self.max:
            raise _bad("max", "row_count max", f"must be >= min ({self.min})", self.max)

    def to_dict(self) -> dict[str, int]:
        return {k: v for k, v in (("min", self.min), ("max", self.max)) if v is not None}


@dataclass(frozen=True, slots=True)
class Schema:
    """The columns data must have, custom expectations, and optional row-count bounds."""

    columns: tuple[ColumnSchema, ...]
    expectations: tuple[Expectation, ...] = ()
    row_count: RowCount | None = None
    _index: dict[str, ColumnSchema] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        columns = tuple(self.columns)
        names = [c.name for c in columns]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InvalidInput(
                user_message("schema columns", "must name each column once", repeated)
            )
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "expectations", tuple(self.expectations))
        object.__setattr__(self, "_index", {c.name: c for c in columns})

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in schema order."""
        return tuple(c.name for c in self.columns)

    def column(self, name: str) -> ColumnSchema:
        """The schema of column ``name``; NotFound (with close names) if there is none."""
        if name in self._index:
            return self._index[name]
        raise NotFound(
            user_message(
                f"column {name!r}", "is not in the schema", None, did_you_mean(name, self.names, 3)
            )
        )

    def to_dict(self) -> dict[str, Any]:
        """The plain structure of the YAML file."""
        out: dict[str, Any] = {"format": _FORMAT}
        if self.row_count is not None:
            out["row_count"] = self.row_count.to_dict()
        out["columns"] = {c.name: c.to_dict() for c in self.columns}
        if self.expectations:
            out["expectations"] = [e.to_dict() for e in self.expectations]
        return out

    def to_yaml(self) -> str:
        """The schema as commented YAML, one line per column where it fits."""
        body = yaml.safe_dump(
            self.to_dict(), sort_keys=False, default_flow_style=None, width=100,
            allow_unicode=True,
        )  # fmt: skip
        return _HEADER + body

    @classmethod
    def from_yaml(cls, text: str, origin: str = "<string>") -> Schema:
        """The schema a YAML text describes; InvalidInput naming ``origin``, line and field."""
        return _Reader(origin).schema(text)

    def save(self, path: str | Path) -> Path:
        """Write :meth:`to_yaml` to ``path`` (UTF-8) and return the path."""
        target = Path(path)
        target.write_text(self.to_yaml(), encoding="utf-8")
        return target

    @classmethod
    def load(cls, path: str | Path) -> Schema:
        """Read a schema YAML file; NotFound if it does not exist."""
        source = Path(path)
        try:
            text = source.read_text(encoding="utf-8")
        except FileNotFoundError:
            fix = "write one with infer_schema(data).save(path)"
            message = user_message(f"schema file {str(source)!r}", "does not exist", None, fix)
            raise NotFound(message) from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(
                user_message(
                    f"schema file {str(source)!r}", "could not be read", verbatim(str(exc))
                )
            ) from exc
        return cls.from_yaml(text, origin=str(source))


# --------------------------------------------------------------------------------------------
# YAML with line numbers: compose the node tree, convert it ourselves, and keep each node


class _Reader:
    """Turns composed YAML nodes into a Schema, reporting errors at the node's line."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.constructor = SafeConstructor()

    def error(self, node: yaml.Node, path: str, message: str) -> InvalidInput:
        line = node.start_mark.line + 1
        where = f"{self.origin}, line {line}" + (f", field {path!r}" if path else "")
        return InvalidInput(f"{where}: {message}")

    def schema(self, text: str) -> Schema:
        if not isinstance(text, str):
            raise InvalidInput(user_message("schema YAML", "must be text", type(text).__name__))
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = f", line {mark.line + 1}" if mark is not None else ""
            problem = exc.problem or exc.context or "invalid YAML"
            if exc.context and exc.context_mark is not None and exc.problem:
                problem += f" ({exc.context} on line {exc.context_mark.line + 1})"
            raise InvalidInput(f"{self.origin}{line}: invalid YAML: {problem}") from None
        except yaml.YAMLError as exc:
            raise InvalidInput(f"{self.origin}: invalid YAML: {exc}") from None
        if root is None:
            raise InvalidInput(
                user_message(f"schema {self.origin}", "is empty", None, "give it columns:")
            )
        top = self.mapping(root, "", ("format", "row_count", "columns", "expectations"))
        if "format" in top:
            node = top["format"][1]
            if self.value(node) != _FORMAT:
                raise self.error(node, "format", f"must be {_FORMAT}; got {self.value(node)!r}")
        if "columns" not in top:
            raise self.error(root, "columns", "the schema needs a 'columns' mapping")
        columns = self.columns(top["columns"][1])
        expectations: tuple[Expectation, ...] = ()
        if "expectations" in top:
            expectations = self.expectations(top["expectations"][1])
        row_count = None
        if "row_count" in top:
            row_count = self.row_count(top["row_count"][1])
        return Schema(columns=columns, expectations=expectations, row_count=row_count)

    def value(self, node: yaml.Node) -> Any:
        return self.constructor.construct_object(node, deep=True)

    def mapping(
        self, node: yaml.Node, path: str, allowed: Sequence[str] | None = None
    ) -> dict[str, tuple[yaml.Node, yaml.Node]]:
        """Key text -> (key node, value node); errors for a non-mapping, repeats, unknown keys."""
        if not isinstance(node, yaml.MappingNode):
            raise self.error(node, path, f"must be a mapping; got {_node_kind(node)}")
        out: dict[str, tuple[yaml.Node, yaml.Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.error(key_node, path, "keys must be plain text")
            key = str(key_node.value)
            where = f"{path}.{key}" if path else key
            if key in out:
                raise self.error(key_node, where, "appears twice")
            if allowed is not None and key not in allowed:
                hint = did_you_mean(key, allowed, 3)
                raise self.error(
                    key_node, where,
                    f"is not a known field (known: {', '.join(allowed)})"
                    + (f"; {hint}?" if hint else ""),
                )  # fmt: skip
            out[key] = (key_node, value_node)
        return out

    def columns(self, node: yaml.Node) -> tuple[ColumnSchema, ...]:
        result = []
        for name, (key_node, value_node) in self.mapping(node, "columns").items():
            path = f"columns.{name}"
            if isinstance(value_node, yaml.ScalarNode) and value_node.tag.endswith(":str"):
                # the shorthand ``year: integer``
                fields: dict[str, tuple[yaml.Node, yaml.Node]] = {"type": (key_node, value_node)}
            else:
                fields = self.mapping(value_node, path, _COLUMN_FIELDS)
            if "type" not in fields:
                raise self.error(value_node, f"{path}.type", "every column needs a type")
            kwargs = {k: self.value(v) for k, (_, v) in fields.items()}
            if isinstance(kwargs.get("categories"), list):
                kwargs["categories"] = tuple(kwargs["categories"])
            try:
                result.append(ColumnSchema(name=name, **kwargs))
            except InvalidField as exc:
                at = fields[exc.field][1] if exc.field in fields else value_node
                raise self.error(at, f"{path}.{exc.field}", str(exc)) from None
        return tuple(result)

    def expectations(self, node: yaml.Node) -> tuple[Expectation, ...]:
        if not isinstance(node, yaml.SequenceNode):
            raise self.error(node, "expectations", f"must be a list; got {_node_kind(node)}")
        result = []
        for i, item in enumerate(node.value):
            path = f"expectations[{i}]"
            fields = self.mapping(item, path)
            try:
                result.append(
                    expectation_from_dict({k: self.value(v) for k, (_, v) in fields.items()})
                )
            except InvalidField as exc:
                at = fields[exc.field][1] if exc.field in fields else item
                raise self.error(at, f"{path}.{exc.field}", str(exc)) from None
        return tuple(result)

    def row_count(self, node: yaml.Node) -> RowCount:
        fields = self.mapping(node, "row_count", ("min", "max"))
        try:
            return RowCount(**{k: self.value(v) for k, (_, v) in fields.items()})
        except InvalidField as exc:
            at = fields[exc.field][1] if exc.field in fields else node
            raise self.error(at, f"row_count.{exc.field}", str(exc)) from None


def _node_kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    return f"{node.value!r}"


# --------------------------------------------------------------------------------------------
# Inference


def infer_schema(
    data: Any, *, max_categories: int = 50, id_columns: Sequence[str] | None = None
) -> Schema:
    """The schema ``data`` satisfies (``data``: a :class:`Profile`, or anything to profile).

    Data is profiled with ``top_k=max_categories`` so that every small domain is listed. From a
    given Profile, a domain is known only where its top values list every distinct value (so
    profile with ``top_k >= max_categories``); other text columns stay ``string``.

    >>> import pandas as pd
    >>> s = infer_schema(pd.DataFrame({"user_id": [1, 2, 3, 4], "c": ["a", "b", "a", "a"]}))
    >>> [(c.name, c.type.value, c.is_id, c.categories) for c in s.columns]
    [('user_id', 'integer', True, None), ('c', 'category', False, ('a', 'b'))]
    >>> s.expectations
    (Unique(column='user_id', severity='error'),)
    """
    if isinstance(max_categories, bool) or not isinstance(max_categories, int):
        raise InvalidInput(
            user_message("max_categories", "must be an integer >= 0", max_categories)
        )
    if max_categories < 0:
        raise InvalidInput(
            user_message("max_categories", "must be an integer >= 0", max_categories)
        )
    prof = data if isinstance(data, Profile) else profile(data, top_k=max_categories)
    if id_columns is not None:
        if isinstance(id_columns, str) or not isinstance(id_columns, Sequence):
            raise InvalidInput(
                user_message("id_columns", "must be a list of column names", id_columns)
            )
        for name in id_columns:
            prof.column(name)  # NotFound with close names
    columns = []
    expectations: list[Expectation] = []
    for col in prof.columns:
        unique = _all_distinct(col)
        is_id = _looks_like_id(col, unique) if id_columns is None else col.name in id_columns
        columns.append(_infer_column(col, is_id, max_categories))
        if is_id and unique:
            expectations.append(Unique(col.name))
    return Schema(tuple(columns), tuple(expectations), RowCount(min=1))


def _all_distinct(col: ColumnProfile) -> bool:
    if col.distinct_count is None or col.null_count or not col.count:
        return False
    if col.distinct_exact:
        return col.distinct_count == col.count
    return col.distinct_count >= 0.97 * col.count


def _looks_like_id(col: ColumnProfile, unique: bool) -> bool:
    if not unique or col.type not in (ColumnType.INTEGER, ColumnType.STRING):
        return False
    named = bool(_ID_NAME.search(col.name) or _ID_NAME_CAMEL.search(col.name))
    return named or col.count >= _MIN_ROWS_UNNAMED_ID


def _infer_column(col: ColumnProfile, is_id: bool, max_categories: int) -> ColumnSchema:
    ctype = col.type
    categories: tuple[Category, ...] | None = None
    top = col.top_values or ()
    domain_known = bool(col.distinct_exact) and col.distinct_count == len(top)
    if (
        not is_id
        and ctype in (ColumnType.STRING, ColumnType.CATEGORY)
        and domain_known
        and 0 < len(top) <= max_categories
        and 2 * len(top) <= col.count
    ):
        ctype = ColumnType.CATEGORY
        categories = tuple(sorted((v for v, _ in top if v is not None), key=str))
    low = high = None
    if not is_id and ctype in (ColumnType.INTEGER, ColumnType.FLOAT):
        low, high = _bound(col.min, ctype), _bound(col.max, ctype)
    rate = col.missing_rate
    return ColumnSchema(
        name=col.name,
        type=ctype,
        nullable=col.null_count > 0,
        max_missing_rate=_allowed_missing(rate) if col.null_count else 0.0,
        min=low,
        max=high,
        categories=categories,
        is_id=is_id,
    )


def _bound(value: Any, ctype: ColumnType) -> float | None:
    if not _is_number(value) or not math.isfinite(value):
        return None
    return int(value) if ctype is ColumnType.INTEGER else float(value)


def _allowed_missing(rate: float) -> float:
    """The observed rate plus max(0.005, rate / 10), rounded up to 0.001, at most 1."""
    return min(1.0, math.ceil((rate + max(0.005, rate / 10)) * 1000) / 1000)
