"""The sections of ``loopml.yaml`` that say what to train: requirements, data, split, metrics,
baselines, candidates (with their searches), the ensemble, registration and execution.

Each is a frozen pydantic model that forbids unknown keys; a rule within one section is checked
here, a rule joining sections in :mod:`loopml.project.rules`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import Field, Strict, field_validator, model_validator

from loopml.core.registry import validate_alias, validate_model_name
from loopml.project._base import (
    Bool,
    Float,
    Int,
    Number,
    PositiveFloat,
    PositiveInt,
    Problem,
    Scalar,
    Section,
    check_name,
    core_rule,
    problems_error,
    shaped,
    unique,
)
from loopml.project.names import ModelKind, suggest

__all__ = [
    "BaselineConfig", "CandidateConfig", "DataConfig", "EnsembleConfig", "ExecutionConfig",
    "MetricsConfig", "RegisterConfig", "Requirements", "SearchConfig", "SearchParam",
    "SourceKind", "SplitConfig", "source_kind",
]  # fmt: skip

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
SourceKind = Literal["file", "sql", "duckdb", "snapshot"]


def source_kind(source: str) -> SourceKind:
    """What a ``data.source`` names.

    >>> [source_kind(s) for s in ("a.csv", "duckdb", "sqlite:///x.db", "snapshot:flights@2")]
    ['file', 'duckdb', 'sql', 'snapshot']
    """
    if source.startswith("snapshot:"):
        return "snapshot"
    if source == "duckdb" or source.lower().startswith("duckdb:") or source.endswith(".duckdb"):
        return "duckdb"
    if _URL.match(source):
        return "sql"
    return "file"


# ------------------------------------------------------------------------------ requirements


class Requirements(Section):
    """The stakeholders' words and numbers; ``loopml init`` asks for them."""

    kpi: str | None = None
    latency_p99_ms: PositiveFloat | None = None
    training_budget_minutes: PositiveFloat | None = None


# ------------------------------------------------------------------------------------- data


class DataConfig(Section):
    """Where the data comes from and which columns are features.

    ``source``: a file (csv, tsv, parquet, jsonl; relative to the YAML), a SQLAlchemy URL,
    ``duckdb`` (an in-memory DuckDB reading the files its query names) or ``duckdb:<file>``, or
    ``snapshot:NAME[@VERSION]``. ``features``: ``None`` means every column except the target,
    ``id_columns`` and ``exclude``.
    """

    source: str
    query: str | None = None
    bad_lines: Literal["fail", "skip", "quarantine"] = "fail"
    schema_path: str | None = Field(default=None, alias="schema")
    features: tuple[str, ...] | None = None
    exclude: tuple[str, ...] = ()
    id_columns: tuple[str, ...] = ()

    @property
    def kind(self) -> SourceKind:
        """What ``source`` names: a file, a SQL database, a DuckDB query, or a snapshot."""
        return source_kind(self.source)

    @property
    def snapshot(self) -> str | None:
        """``NAME[@VERSION]`` of a ``snapshot:`` source (for ``loopml.data.load``), else None."""
        return self.source.removeprefix("snapshot:") if self.kind == "snapshot" else None

    @field_validator("features", "exclude", "id_columns")
    @classmethod
    def _columns_once(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        return None if value is None else unique(value, "column")

    @model_validator(mode="after")
    def _check(self) -> DataConfig:
        problems: list[Problem] = []
        kind = self.kind
        if not self.source.strip() or self.source == "snapshot:":
            problems.append(
                (("source",), shaped(
                    "must name a file, a SQL URL, duckdb, or snapshot:NAME[@VERSION]",
                    self.source,
                ))
            )  # fmt: skip
        elif kind in ("sql", "duckdb") and not (self.query or "").strip():
            problems.append(
                (("query",), shaped(
                    f"is needed with a {kind} source: the SQL that selects the rows", self.query,
                    "add query: select ... from ...",
                ))
            )  # fmt: skip
        elif kind in ("file", "snapshot") and self.query is not None:
            problems.append(
                (("query",), shaped(
                    f"is only for SQL URLs and duckdb sources, not a {kind}", self.query,
                    "use source: duckdb with a query naming the file, or drop query",
                ))
            )  # fmt: skip
        if self.features is not None:
            if not self.features:
                problems.append((("features",), shaped("must list a column, or be null", [])))
            for i, name in enumerate(self.features):
                for other in ("exclude", "id_columns"):
                    if name in getattr(self, other):
                        problems.append((("features", i), shaped(f"is also in data.{other}", name)))
        if problems:
            raise problems_error(problems)
        return self


# ------------------------------------------------------------------------------------ split


class SplitConfig(Section):
    """How rows are split into train, valid (model selection, tuning) and test (the report)."""

    method: Literal["time", "random", "stratified", "group"] = "random"
    column: str | None = None
    sizes: tuple[Float, ...] = (0.7, 0.15, 0.15)
    seed: Int = 0

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, sizes: tuple[float, ...]) -> tuple[float, ...]:
        listed = [float(s) for s in sizes]
        if len(sizes) not in (2, 3):
            rule = "must have 2 parts (train, valid) or 3 (train, valid, test)"
            raise problems_error([((), shaped(rule, listed))])
        if not all(0 < s < 1 for s in sizes):
            raise problems_error([((), shaped("must each be in (0, 1)", listed))])
        total = math.fsum(sizes)
        if abs(total - 1) > 1e-9:
            raise problems_error(
                [((), shaped(
                    f"must sum to 1 (they sum to {total:.6g})", listed,
                    "e.g. [0.7, 0.15, 0.15]",
                ))]
            )  # fmt: skip
        return tuple(listed)

    @model_validator(mode="after")
    def _column(self) -> SplitConfig:
        if self.method in ("time", "group") and not self.column:
            what = "the time column" if self.method == "time" else "the group column"
            raise problems_error(
                [(("column",), shaped(
                    f"is needed for a {self.method} split: {what}", None,
                    f"add column: <{what.split()[1]} column>",
                ))]
            )  # fmt: skip
        if self.method == "random" and self.column is not None:
            raise problems_error(
                [(("column",), shaped(
                    "is not used by a random split", self.column,
                    "use method: time, group or stratified, or drop column",
                ))]
            )  # fmt: skip
        return self

    @property
    def has_test(self) -> bool:
        """Whether there is a test part (three sizes) besides train and valid."""
        return len(self.sizes) == 3


# ---------------------------------------------------------------------------------- metrics


class MetricsConfig(Section):
    """``primary`` chooses the best candidate; ``report`` lists the others shown with it."""

    primary: str | None = None
    report: tuple[str, ...] | None = None
    threshold: Annotated[float, Strict(), Field(gt=0, lt=1)] = 0.5

    @property
    def names(self) -> tuple[str, ...]:
        """The primary metric then the reported ones, each once."""
        first = (self.primary,) if self.primary else ()
        return first + tuple(m for m in self.report or () if m != self.primary)


# -------------------------------------------------------------------------------- baselines


class BaselineConfig(Section):
    """A baseline: ``majority`` (the class prior, or the mean), a ``rule`` (a boolean
    ``DataFrame.eval`` expression), or ``group_rate`` (the target rate per value of a column;
    ``None``: the best single column). Written ``majority``, ``group_rate``,
    ``{rule: "sched_dep_hour >= 17"}`` or ``{group_rate: carrier}``, each optionally with a
    ``name`` (default: the kind, ``group_rate_<column>``)."""

    kind: Literal["majority", "rule", "group_rate"]
    name: str
    rule: str | None = None
    group_rate: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, str):
            if data in ("majority", "group_rate"):
                return {"kind": data, "name": data}
            raise problems_error(
                [((), shaped(
                    "must be majority, group_rate, {rule: EXPRESSION} or {group_rate: COLUMN}",
                    data, suggest(data, ("majority", "group_rate", "rule")),
                ))]
            )  # fmt: skip
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        if "kind" not in out:
            kinds = [k for k in ("majority", "rule", "group_rate") if k in out]
            if not kinds:
                keys = ", ".join(map(str, out)) or "none"
                raise problems_error(
                    [((), shaped(
                        "must have one of the keys rule, group_rate (or be majority, "
                        f"group_rate); it has {keys}", None,
                        suggest(next(iter(out), ""), ("rule", "group_rate")),
                    ))]
                )  # fmt: skip
            out["kind"] = kinds[0]
            if kinds[0] == "majority" and out["majority"] is None:
                del out["majority"]
        if "name" not in out and out["kind"] in ("majority", "rule", "group_rate"):
            column = out.get("group_rate")
            out["name"] = f"group_rate_{column}" if isinstance(column, str) else out["kind"]
        return out

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "baseline")

    @model_validator(mode="after")
    def _fields(self) -> BaselineConfig:
        if self.kind == "rule" and not (self.rule or "").strip():
            raise problems_error([(("rule",), shaped("must be a boolean expression", self.rule))])
        if self.kind != "rule" and self.rule is not None:
            raise problems_error([(("rule",), shaped(f"is not used by a {self.kind} baseline"))])
        if self.kind != "group_rate" and self.group_rate is not None:
            rule = f"is not used by a {self.kind} baseline"
            raise problems_error([(("group_rate",), shaped(rule))])
        return self


# ------------------------------------------------------------------------------- candidates


class SearchParam(Section):
    """One dimension of a search space: ``{low, high, log, step}`` or ``{choices}``.

    ``type`` defaults to ``categorical`` with ``choices``, ``int`` when both bounds are written
    as integers, ``float`` otherwise.
    """

    type: Literal["float", "int", "categorical"]
    low: Number | None = None
    high: Number | None = None
    log: Bool = False
    step: Number | None = None
    choices: tuple[Scalar, ...] | None = None

    @model_validator(mode="before")
    @classmethod
    def _infer_type(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "type" not in data:
            out = dict(data)
            if "choices" in out:
                out["type"] = "categorical"
            else:
                bounds = (out.get("low"), out.get("high"))
                ints = all(isinstance(b, int) and not isinstance(b, bool) for b in bounds)
                out["type"] = "int" if ints else "float"
            return out
        return data

    @model_validator(mode="after")
    def _fields(self) -> SearchParam:
        problems: list[Problem] = []
        if self.type == "categorical":
            if not self.choices:
                problems.append((("choices",), shaped("must list at least one value")))
            for name in ("low", "high", "step"):
                if getattr(self, name) is not None:
                    problems.append(((name,), shaped("is not used with choices")))
        else:
            if self.choices is not None:
                problems.append((("choices",), shaped(f"is not used by a {self.type} range")))
            for name in ("low", "high"):
                value = getattr(self, name)
                if value is None:
                    problems.append(((name,), shaped(f"is needed for a {self.type} range")))
                elif self.type == "int" and value != int(value):
                    problems.append(((name,), shaped("must be an integer", value)))
            if self.low is not None and self.high is not None:
                if self.low >= self.high:
                    problems.append((("high",), shaped(f"must be > low ({self.low})", self.high)))
                if self.log and self.low <= 0:
                    problems.append((("low",), shaped("must be > 0 with log: true", self.low)))
            if self.step is not None and self.step <= 0:
                problems.append((("step",), shaped("must be > 0", self.step)))
        if problems:
            raise problems_error(problems)
        return self


class SearchConfig(Section):
    """An Optuna search; the model kind's default space when ``space`` is left out."""

    n_trials: PositiveInt | None = None
    timeout_seconds: PositiveFloat | None = None
    pruner: Literal["median", "none"] = "median"
    space: dict[str, SearchParam] | None = None


class CandidateConfig(Section):
    """A model to train: a kind from the zoo, fixed ``params``, an optional ``search``.

    ``name`` (default: the kind) names its run and the ensemble member.
    """

    name: str
    model: ModelKind
    params: dict[str, Any] = Field(default_factory=dict)
    search: SearchConfig | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_name(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "name" not in data and isinstance(data.get("model"), str):
            return {**data, "name": data["model"]}
        return data

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "candidate")


class EnsembleConfig(Section):
    """An ensemble of candidates: soft ``voting`` or ``stacking``."""

    kind: Literal["voting", "stacking"] = "voting"
    members: tuple[str, ...]
    name: str = "ensemble"

    @field_validator("members")
    @classmethod
    def _members(cls, members: tuple[str, ...]) -> tuple[str, ...]:
        if len(members) < 2:
            rule = "must list at least two candidates"
            raise problems_error([((), shaped(rule, list(members)))])
        return unique(members, "candidate")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_name(value, "ensemble")


# ------------------------------------------------------------------ registration, execution


class RegisterConfig(Section):
    """Registration of the selected model; ``model_name`` defaults to the project name."""

    model_name: str | None = None
    alias: str | None = "challenger"
    on_gate_failure: Literal["skip", "tag"] = "skip"

    @field_validator("model_name")
    @classmethod
    def _model_name(cls, value: str | None) -> str | None:
        return None if value is None else core_rule(validate_model_name, value)

    @field_validator("alias")
    @classmethod
    def _alias(cls, value: str | None) -> str | None:
        return None if value is None else core_rule(validate_alias, value)


class ExecutionConfig(Section):
    """Where pipeline steps run; ``address`` (a Dask scheduler) only with ``dask``."""

    executor: Literal["local", "dask"] = "local"
    address: str | None = None
    n_workers: PositiveInt = 2
    cache: Bool = True

    @model_validator(mode="after")
    def _address(self) -> ExecutionConfig:
        if self.address is not None and self.executor != "dask":
            raise problems_error(
                [(("address",), shaped(
                    "is used only with executor: dask", self.address,
                    "set executor: dask, or drop address",
                ))]
            )  # fmt: skip
        return self
