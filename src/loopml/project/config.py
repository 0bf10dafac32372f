"""The typed settings of a project: what ``loopml.yaml`` holds, validated, with defaults filled.

Every section is a frozen pydantic model that forbids unknown keys. Numbers and booleans are
strict (``"50"`` is not a number, ``1`` is not ``true``; an integer is a fine float). Lists
become tuples. :func:`loopml.project.load_project` reads the file and reports every problem with
its line; this module states the rules.

Rules that join several fields (checked once every section is valid on its own, or, when the
file has other errors, on the sections that are):

- metric names (``metrics``, gates, perturbation checks) must be metrics of the task
  (:data:`~loopml.project.names.METRICS`); a model kind must serve the task;
- ``split.column`` is needed for ``time`` and ``group`` splits, optional for ``stratified`` (the
  column to stratify on; the target when left out) and refused for ``random``; ``sizes`` are 2
  parts (train, valid) or 3 (train, valid, test), each in (0, 1), summing to 1. With two parts
  the final report is on ``valid``, which also chose the model, so its numbers are optimistic;
- candidate, baseline and ensemble names are unique; ensemble members name candidates;
- the target is not listed in ``data.features``, ``data.exclude``, ``data.id_columns`` nor
  used as ``split.column``;
- classification only: ``imbalance`` other than ``none``, a stratified split, a fairness gate,
  recalibration;
- a slice-gap gate needs ``evaluation.slices``, a fairness gate ``evaluation.sensitive``;
- a candidate's ``search`` needs a budget: ``n_trials``, ``timeout_seconds`` or
  ``requirements.training_budget_minutes``;
- ``data.query`` is needed for SQL URLs and ``duckdb`` sources and refused for files and
  snapshots; ``execution.address`` only with the ``dask`` executor.

Defaults filled once the file is valid (so every reader sees the same values):

- ``metrics.primary`` and ``metrics.report`` from :data:`~loopml.project.names.DEFAULT_PRIMARY`
  and :data:`~loopml.project.names.DEFAULT_REPORT`; ``register.model_name`` from ``name``;
- ``requirements.latency_p99_ms`` adds a :class:`LatencyGate` unless ``gates`` has one;
- ``requirements.training_budget_minutes`` gives every ``search`` without ``timeout_seconds``
  an equal share of 80% of the budget (the rest is for fitting and evaluating), at least 1 s.

Relative paths (a file ``data.source``, ``data.schema``) resolve against the directory of the
YAML file, :attr:`ProjectConfig.root`; so do the file names in a DuckDB ``data.query``
(:meth:`ProjectConfig.source_options` sets DuckDB's ``file_search_path`` to it).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import (
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from loopml.core.errors import InvalidInput, user_message
from loopml.core.registry import validate_model_name
from loopml.project._base import Section, core_rule, problems_error, shaped
from loopml.project.checks import (
    BehaviourCheck,
    CalibrationConfig,
    DirectionalCheck,
    EvaluationConfig,
    FairnessGate,
    GateConfig,
    ImprovementGate,
    InvarianceCheck,
    LatencyGate,
    MetricGate,
    ModelSizeGate,
    PerturbationCheck,
    SliceGapGate,
    WorstSlicesConfig,
)
from loopml.project.names import DEFAULT_PRIMARY, DEFAULT_REPORT, Task
from loopml.project.rules import cross_field_problems
from loopml.project.sections import (
    BaselineConfig,
    CandidateConfig,
    DataConfig,
    EnsembleConfig,
    ExecutionConfig,
    MetricsConfig,
    RegisterConfig,
    Requirements,
    SearchConfig,
    SearchParam,
    SplitConfig,
)

__all__ = [
    "SEARCH_SHARE",
    "BaselineConfig",
    "BehaviourCheck",
    "CalibrationConfig",
    "CandidateConfig",
    "DataConfig",
    "DirectionalCheck",
    "EnsembleConfig",
    "EvaluationConfig",
    "ExecutionConfig",
    "FairnessGate",
    "GateConfig",
    "ImprovementGate",
    "InvarianceCheck",
    "LatencyGate",
    "MetricGate",
    "MetricsConfig",
    "ModelSizeGate",
    "PerturbationCheck",
    "ProjectConfig",
    "RegisterConfig",
    "Requirements",
    "SearchConfig",
    "SearchParam",
    "SliceGapGate",
    "SplitConfig",
    "WorstSlicesConfig",
    "search_timeout",
    "valid_sections",
]

#: Share of the training budget given to hyper-parameter searches.
SEARCH_SHARE = 0.8


def search_timeout(budget_minutes: float, searches: int) -> float:
    """Seconds each of ``searches`` searches gets of a training budget: an equal share of
    :data:`SEARCH_SHARE` of it, at least 1 s.

    >>> search_timeout(10, 3)
    160.0
    """
    return max(1.0, round(budget_minutes * 60 * SEARCH_SHARE / searches, 1))


class ProjectConfig(Section):
    """A whole ``loopml.yaml``: validated, cross-checked, with defaults filled.

    Build it with :func:`loopml.project.load_project` (from a file),
    :func:`loopml.project.parse_project` (from text) or :meth:`from_dict`; each raises ONE
    :class:`~loopml.core.errors.InvalidInput` listing every problem. (Calling the class directly
    raises pydantic's ``ValidationError``.)
    """

    format: Literal[1] = 1
    name: str
    task: Task
    target: str
    requirements: Requirements = Requirements()
    data: DataConfig
    split: SplitConfig = SplitConfig()
    imbalance: Literal["none", "class_weight", "oversample", "undersample"] = "none"
    metrics: MetricsConfig = MetricsConfig()
    baselines: tuple[BaselineConfig, ...] = (BaselineConfig(kind="majority", name="majority"),)
    candidates: tuple[CandidateConfig, ...] = Field(min_length=1)
    ensemble: EnsembleConfig | None = None
    evaluation: EvaluationConfig = EvaluationConfig()
    gates: tuple[GateConfig, ...] = ()
    registration: RegisterConfig = Field(default=RegisterConfig(), alias="register")
    execution: ExecutionConfig = ExecutionConfig()

    _root: Path = PrivateAttr(default_factory=Path.cwd)
    _path: Path | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return core_rule(validate_model_name, value)

    @field_validator("target")
    @classmethod
    def _target(cls, value: str) -> str:
        if not value.strip():
            raise problems_error([((), shaped("must name the column to predict", value))])
        return value

    @model_validator(mode="after")
    def _cross_fields(self, info: ValidationInfo) -> ProjectConfig:
        problems = cross_field_problems(
            {name: getattr(self, name) for name in type(self).model_fields}
        )
        if problems:
            raise problems_error(problems)
        self._fill_defaults()
        context = info.context if isinstance(info.context, Mapping) else {}
        if context.get("path") is not None:
            self._path = Path(context["path"])
        if context.get("root") is not None:
            self._root = Path(context["root"])
        return self

    def _fill_defaults(self) -> None:
        # the house idiom of frozen dataclasses' __post_init__: set once, during construction
        if self.metrics.primary is None or self.metrics.report is None:
            filled = self.metrics.model_copy(
                update={
                    "primary": self.metrics.primary or DEFAULT_PRIMARY[self.task],
                    "report": (
                        DEFAULT_REPORT[self.task]
                        if self.metrics.report is None
                        else self.metrics.report
                    ),
                }
            )
            object.__setattr__(self, "metrics", filled)
        if self.registration.model_name is None:
            filled_register = self.registration.model_copy(update={"model_name": self.name})
            object.__setattr__(self, "registration", filled_register)
        latency = self.requirements.latency_p99_ms
        if latency is not None and not any(isinstance(g, LatencyGate) for g in self.gates):
            gates = (*self.gates, LatencyGate(max_latency_p99_ms=latency))
            object.__setattr__(self, "gates", gates)
        budget = self.requirements.training_budget_minutes
        untimed = [
            c for c in self.candidates if c.search is not None and c.search.timeout_seconds is None
        ]
        if budget is not None and untimed:
            share = search_timeout(budget, len(untimed))
            candidates = tuple(
                c.model_copy(
                    update={"search": c.search.model_copy(update={"timeout_seconds": share})}
                )
                if c in untimed and c.search is not None
                else c
                for c in self.candidates
            )
            object.__setattr__(self, "candidates", candidates)

    # -------------------------------------------------------------------------- reading

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, root: str | Path | None = None, origin: str = "<dict>"
    ) -> ProjectConfig:
        """The project ``data`` describes; ONE InvalidInput listing every problem."""
        from loopml.project.loader import validate_project

        return validate_project(data, root=root, origin=origin)

    # ------------------------------------------------------------------------ accessors

    @property
    def root(self) -> Path:
        """The directory relative paths resolve against (the YAML file's directory)."""
        return self._root

    @property
    def path(self) -> Path | None:
        """The YAML file this project was read from, if any."""
        return self._path

    def resolve(self, path: str | Path) -> Path:
        """``path`` resolved against :attr:`root` (an absolute path stays as it is)."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else self.root / candidate

    @property
    def schema_file(self) -> Path | None:
        """The data schema file (``data.schema``), resolved, or None."""
        return None if self.data.schema_path is None else self.resolve(self.data.schema_path)

    @property
    def model_name(self) -> str:
        """The registered model name (``register.model_name``, default the project name)."""
        return self.registration.model_name or self.name

    def source_options(self) -> dict[str, Any]:
        """Keyword arguments of ``loopml.data.open_source`` for ``data`` (not for snapshots).

        A file resolves against :attr:`root`. For ``duckdb`` sources the query runs after
        ``SET file_search_path`` to :attr:`root`, so the relative file names it holds resolve
        there too, wherever the process runs.
        """
        data = self.data
        kind = data.kind
        if kind == "snapshot":
            raise InvalidInput(
                user_message(
                    "data.source", "is a snapshot, which open_source does not read", data.source,
                    f"load it with loopml.data.load({data.snapshot!r})",
                )
            )  # fmt: skip
        options: dict[str, Any] = {"bad_lines": data.bad_lines}
        if kind == "file":
            options["source"] = str(self.resolve(data.source))
        elif kind == "sql":
            options.update(source=data.source, query=data.query)
        else:
            rest = (
                data.source[len("duckdb:") :] if data.source.lower().startswith("duckdb:") else ""
            )
            if data.source.endswith(".duckdb") and not data.source.lower().startswith("duckdb:"):
                rest = data.source
            database = str(self.resolve(rest)) if rest not in ("", ":memory:") else ""
            root = str(self.root.absolute()).replace("'", "''")
            options.update(
                source=f"duckdb:{database}",
                query=f"SET file_search_path = '{root}';\n{data.query}",
            )
        return options

    def to_dict(self) -> dict[str, Any]:
        """The settings as plain JSON-ready data (YAML keys, defaults filled)."""
        out = self.model_dump(mode="json", by_alias=True)
        out["gates"] = [g.model_dump(mode="json", by_alias=True) for g in self.gates]
        return out


def valid_sections(data: Mapping[str, Any], broken: set[str]) -> dict[str, Any]:
    """The top-level sections of ``data`` that validate on their own (defaults for those left
    out), skipping the ``broken`` ones: what :func:`cross_field_problems` can still check."""
    out: dict[str, Any] = {}
    for name, field in ProjectConfig.model_fields.items():
        key = field.alias or name
        if key in broken:
            continue
        if key not in data:
            if not field.is_required():
                out[name] = field.get_default(call_default_factory=True)
            continue
        value = data[key]
        if get_origin(field.annotation) is tuple and isinstance(value, list | tuple):
            # item by item: a broken item (None here) leaves the others checkable
            item = TypeAdapter(get_args(field.annotation)[0])
            out[name] = tuple(_or_none(item, v) for v in value)
        else:
            out[name] = _or_none(TypeAdapter(field.annotation), value)
    return out


def _or_none(adapter: TypeAdapter[Any], value: Any) -> Any:
    try:
        return adapter.validate_python(value)
    except ValidationError:
        return None
