"""The sections of ``loopml.yaml`` that say how to judge a model: evaluation (slices, behaviour
checks, calibration, importance) and gates.

Behaviour checks and gates are lists of mappings whose kind is the key they hold
(``{invariance: day_of_week}``, ``{max_latency_p99_ms: 50}``): a tagged union, each kind its own
frozen model; an item with none of the kind keys is one problem naming them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, Discriminator, Field, Strict, Tag, field_validator, model_validator

from loopml.project._base import (
    Bool,
    Float,
    Fraction,
    Int,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    Scalar,
    Section,
    problems_error,
    shaped,
    unique,
)
from loopml.project.names import FairnessMeasure

__all__ = [
    "BehaviourCheck", "CalibrationConfig", "DirectionalCheck", "EvaluationConfig",
    "FairnessGate", "GateConfig", "ImprovementGate", "InvarianceCheck", "LatencyGate",
    "MetricGate", "ModelSizeGate", "PerturbationCheck", "SliceGapGate", "WorstSlicesConfig",
]  # fmt: skip

# ------------------------------------------------------------------------------- evaluation


def _key_kind(keys: Mapping[str, str]) -> Any:
    """A callable discriminator: the tag of the first kind key a mapping holds."""

    def kind(value: Any) -> str | None:
        if isinstance(value, Mapping):
            return next((tag for key, tag in keys.items() if key in value), None)
        if isinstance(value, BaseModel):
            return type(value).__name__
        return None

    return kind


class InvarianceCheck(Section):
    """``{invariance: COLUMN}``: changing a column that must not matter keeps predictions
    (``values``: set it to each; none: a seeded permutation of the column)."""

    invariance: str
    values: tuple[Scalar, ...] | None = None
    tolerance: NonNegativeFloat = 1e-6
    max_fail_rate: Fraction = 0.0

    @property
    def column(self) -> str:
        return self.invariance


class DirectionalCheck(Section):
    """``{directional: COLUMN, expect: increase}``: raising the column by ``delta`` (None: one
    standard deviation of it) must move predictions that way (or leave them)."""

    directional: str
    expect: Literal["increase", "decrease"] = "increase"
    delta: Annotated[float, Strict(), Field(gt=0)] | None = None
    tolerance: NonNegativeFloat = 1e-6
    max_fail_rate: Fraction = 0.0

    @property
    def column(self) -> str:
        return self.directional


class PerturbationCheck(Section):
    """``{perturbation: [COLUMNS], noise: 0.1, max_drop: 0.02}``: the metric (None: the primary
    one) drops by at most ``max_drop`` under noise (a fraction of each number column's standard
    deviation; a swap rate for categories)."""

    perturbation: tuple[str, ...]
    noise: PositiveFloat = 0.1
    max_drop: NonNegativeFloat = 0.02
    metric: str | None = None

    @field_validator("perturbation", mode="before")
    @classmethod
    def _one_column(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def columns(self) -> tuple[str, ...]:
        return self.perturbation


_BEHAVIOUR_KEYS = {
    "invariance": "InvarianceCheck",
    "directional": "DirectionalCheck",
    "perturbation": "PerturbationCheck",
}
BehaviourCheck = Annotated[
    Annotated[InvarianceCheck, Tag("InvarianceCheck")]
    | Annotated[DirectionalCheck, Tag("DirectionalCheck")]
    | Annotated[PerturbationCheck, Tag("PerturbationCheck")],
    Discriminator(
        _key_kind(_BEHAVIOUR_KEYS),
        custom_error_type="loopml_kind",
        custom_error_message="unknown behaviour check",
        custom_error_context={"keys": tuple(_BEHAVIOUR_KEYS), "what": "behaviour check"},
    ),
]


class WorstSlicesConfig(Section):
    """The search for the worst slices (single columns and pairs)."""

    min_support: PositiveInt = 100
    max_slices: PositiveInt = 10
    max_columns: Literal[1, 2] = 2


class CalibrationConfig(Section):
    """Reliability curve bins and an optional recalibration (classification)."""

    bins: Annotated[int, Strict(), Field(ge=2)] = 10
    recalibrate: Literal["none", "platt", "isotonic"] = "none"


class EvaluationConfig(Section):
    """What the evaluation of each model on the test part computes."""

    n_resamples: PositiveInt = 1000
    confidence: Annotated[float, Strict(), Field(gt=0, lt=1)] = 0.95
    seed: Int = 0
    slices: tuple[str, ...] = ()
    worst_slices: WorstSlicesConfig | None = WorstSlicesConfig()
    sensitive: tuple[str, ...] = ()
    behaviour: tuple[BehaviourCheck, ...] = ()
    calibration: CalibrationConfig = CalibrationConfig()
    importance: Literal["permutation", "shap", "none"] = "permutation"
    #: Rows of the seeded sample importance is computed on (fewer: faster, noisier).
    importance_rows: Annotated[int, Strict(), Field(ge=2)] = 20_000
    latency: Bool = True

    @field_validator("slices", "sensitive")
    @classmethod
    def _columns_once(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return unique(value, "column")


# ------------------------------------------------------------------------------------ gates


class MetricGate(Section):
    """``{metric: roc_auc, min: 0.6}``: an absolute bound on a metric (its estimate, or an end
    of its confidence interval)."""

    kind: ClassVar[str] = "metric"
    metric: str
    min: Float | None = None
    max: Float | None = None
    use: Literal["estimate", "ci_low", "ci_high"] = "estimate"

    @model_validator(mode="after")
    def _bounds(self) -> MetricGate:
        if self.min is None and self.max is None:
            rule = "needs min or max"
            raise problems_error(
                [((), shaped(rule, None, f"e.g. {{metric: {self.metric}, min: 0.7}}"))]
            )
        if self.min is not None and self.max is not None and self.min > self.max:
            raise problems_error([(("max",), shaped(f"must be >= min ({self.min})", self.max))])
        return self


class ImprovementGate(Section):
    """``{improvement_over_champion: roc_auc, min_gain: 0.0}``: the gain over the current
    champion on the same data (skipped when there is no champion)."""

    kind: ClassVar[str] = "improvement"
    improvement_over_champion: str
    min_gain: Float = 0.0
    use: Literal["estimate", "ci_low"] = "estimate"

    @property
    def metric(self) -> str:
        return self.improvement_over_champion


class SliceGapGate(Section):
    """``{max_slice_gap: roc_auc, max: 0.15}``: overall minus the worst slice of
    ``evaluation.slices``, in the metric's better direction."""

    kind: ClassVar[str] = "slice_gap"
    max_slice_gap: str
    max: NonNegativeFloat

    @property
    def metric(self) -> str:
        return self.max_slice_gap


class FairnessGate(Section):
    """``{max_fairness_gap: demographic_parity_difference, max: 0.2}`` over
    ``evaluation.sensitive``."""

    kind: ClassVar[str] = "fairness"
    max_fairness_gap: FairnessMeasure
    max: NonNegativeFloat

    @property
    def measure(self) -> str:
        return self.max_fairness_gap


class LatencyGate(Section):
    """``{max_latency_p99_ms: 50}``: single-row prediction latency, 99th percentile."""

    kind: ClassVar[str] = "latency"
    max_latency_p99_ms: PositiveFloat


class ModelSizeGate(Section):
    """``{max_model_size_mb: 100}``: the size of the saved model package."""

    kind: ClassVar[str] = "model_size"
    max_model_size_mb: PositiveFloat


_GATE_KEYS = {
    "metric": "MetricGate",
    "improvement_over_champion": "ImprovementGate",
    "max_slice_gap": "SliceGapGate",
    "max_fairness_gap": "FairnessGate",
    "max_latency_p99_ms": "LatencyGate",
    "max_model_size_mb": "ModelSizeGate",
}
GateConfig = Annotated[
    Annotated[MetricGate, Tag("MetricGate")]
    | Annotated[ImprovementGate, Tag("ImprovementGate")]
    | Annotated[SliceGapGate, Tag("SliceGapGate")]
    | Annotated[FairnessGate, Tag("FairnessGate")]
    | Annotated[LatencyGate, Tag("LatencyGate")]
    | Annotated[ModelSizeGate, Tag("ModelSizeGate")],
    Discriminator(
        _key_kind(_GATE_KEYS),
        custom_error_type="loopml_kind",
        custom_error_message="unknown gate",
        custom_error_context={"keys": tuple(_GATE_KEYS), "what": "gate"},
    ),
]
