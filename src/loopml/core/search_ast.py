"""The parsed form of a run search: a conjunction of comparisons, and an ordering.

``loopml.core.filters`` parses MLflow's filter grammar into these objects; each store backend
compiles them into its own query language (SQL for the SQLAlchemy store). Keeping the AST here,
in the dependency-free core, is what lets every backend share one parser and one set of errors.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = [
    "DATASET_FIELDS",
    "NUMERIC_ATTRIBUTES",
    "STRING_ATTRIBUTES",
    "Comparison",
    "Entity",
    "Op",
    "OrderBy",
]


class Entity(enum.StrEnum):
    """What a search key refers to."""

    METRIC = "metric"
    PARAM = "param"
    TAG = "tag"
    ATTRIBUTE = "attribute"
    DATASET = "dataset"


class Op(enum.StrEnum):
    """Comparison operators of the filter grammar."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    LIKE = "LIKE"
    ILIKE = "ILIKE"
    IN = "IN"
    NOT_IN = "NOT IN"
    IS_NULL = "IS NULL"
    IS_NOT_NULL = "IS NOT NULL"


#: Run attributes searchable as strings (canonical names; ``loopml.core.filters`` maps aliases).
STRING_ATTRIBUTES = frozenset(
    {"run_id", "run_name", "status", "user_id", "artifact_uri", "lifecycle_stage", "parent_run_id"}
)
#: Run attributes searchable as numbers (milliseconds since the epoch).
NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time"})
#: Dataset fields searchable as strings (``datasets.name``, ``datasets.digest``, ...).
DATASET_FIELDS = frozenset({"name", "digest", "context", "source"})


@dataclass(frozen=True, slots=True)
class Comparison:
    """``<entity>.<key> <op> <value>``.

    ``value`` is a float for numeric comparisons, a str for string ones, a tuple of str for
    ``IN`` / ``NOT IN``, and None for ``IS NULL`` / ``IS NOT NULL``.
    """

    entity: Entity
    key: str
    op: Op
    value: float | str | tuple[str, ...] | None


@dataclass(frozen=True, slots=True)
class OrderBy:
    """One ``order_by`` clause: ``metrics.auc DESC``, ``attributes.start_time``, ..."""

    entity: Entity
    key: str
    ascending: bool = True
