"""Gates: declared conditions an evaluated model must meet before it is promoted.

Each gate is a frozen dataclass, validated when built, whose ``check(result, champion)``
returns a :class:`GateVerdict` of ``"pass"``, ``"fail"`` or ``"skip"`` with the measured value,
the threshold and the reason. :func:`check_gates` checks a list and returns a
:class:`GateReport`, which passes when no verdict is ``"fail"``. Rules:

- Metric directions come from :mod:`loopml.evaluate.catalog` (one table): "better", "gain" and
  "gap" are signed so that a positive number is better (gain) or worse (gap) whatever the metric.
- A gate whose measurement is missing from the result (a metric not evaluated, no slices, no
  fairness report, latency not measured) **fails** with a reason saying how to measure it: a gate
  that cannot be checked does not let a model through.
- :class:`MetricGate`: ``min <= measured <= max`` where ``measured`` is the estimate or an end
  of its confidence interval (``use="ci_low"`` asks that the whole interval clears ``min``).
- :class:`ImprovementGate`: gain over the champion's result on the **same data** (same
  ``data_digest``; otherwise it fails). When both results hold their per-row predictions the
  gain and its interval come from the paired bootstrap
  (:func:`~loopml.evaluate.bootstrap.compare_to_baseline`, with the candidate's ``n_resamples``,
  ``confidence``, ``seed`` and ``threshold``). Without them it is the difference of the two
  estimates, and ``use="ci_low"`` takes the conservative bound (candidate's worse end minus the
  champion's better end). No champion: ``"skip"`` (the first model has nothing to beat).
- :class:`SliceGapGate`: the largest ``worse_by`` (overall minus slice, for a metric where higher
  is better) over the scored slices of the result's slice report for ``metric`` (of
  ``columns``, default all) must be at most ``max_gap``. No scored slice: ``"skip"``.
- :class:`FairnessGate`: the between-groups difference of demographic parity or equalized odds
  of the result's fairness report must be at most ``max``.
- :class:`LatencyGate`: single-row p99 latency at most ``max_p99_ms``.
  :class:`ModelSizeGate`: pickled model size at most ``max_mb``.

:func:`parse_gate` reads the configuration form (``loopml.yaml``'s ``gates:`` items) and
``Gate.to_dict()`` writes it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from loopml.core.errors import InvalidInput, did_you_mean, user_message, verbatim
from loopml.evaluate._checks import Forms, parse_keyed
from loopml.evaluate._checks import field_error as _bad
from loopml.evaluate.bootstrap import compare_to_baseline
from loopml.evaluate.catalog import metric_spec
from loopml.evaluate.result import EvaluationResult

__all__ = [
    "FairnessGate",
    "Gate",
    "GateReport",
    "GateVerdict",
    "ImprovementGate",
    "LatencyGate",
    "MetricGate",
    "ModelSizeGate",
    "SliceGapGate",
    "Verdict",
    "check_gates",
    "parse_gate",
]

Verdict = Literal["pass", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class GateVerdict:
    """The outcome of one gate."""

    name: str
    description: str
    measured: float | None
    threshold: float | None
    verdict: Verdict
    reason: str

    def to_dict(self) -> dict[str, Any]:
        measured = self.measured
        return {
            "name": self.name,
            "description": self.description,
            "measured": None if measured is None or not math.isfinite(measured) else measured,
            "threshold": self.threshold,
            "verdict": self.verdict,
            "reason": self.reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateVerdict:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class GateReport:
    """Every verdict, and whether none failed."""

    verdicts: tuple[GateVerdict, ...]
    passed: bool

    @property
    def failed(self) -> tuple[GateVerdict, ...]:
        return tuple(v for v in self.verdicts if v.verdict == "fail")

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "verdicts": [v.to_dict() for v in self.verdicts]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateReport:
        return cls(tuple(GateVerdict.from_dict(v) for v in data["verdicts"]), bool(data["passed"]))


# --------------------------------------------------------------------------------------------
# Field checks


def _number(gate: str, name: str, value: object, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
    ):
        raise _bad(gate, name, "must be a finite number", value)
    return float(value)


def _non_negative(gate: str, name: str, value: object) -> float:
    number = _number(gate, name, value)
    if number is None or number < 0:
        raise _bad(gate, name, "must be a number >= 0", value)
    return number


def _use(gate: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _bad(
            gate,
            "use",
            f"must be one of {', '.join(map(repr, choices))}",
            value,
            did_you_mean(value, choices),
        )


def _verdict(ok: bool) -> Verdict:
    return "pass" if ok else "fail"


def _missing(name: str, description: str, threshold: float | None, reason: str) -> GateVerdict:
    return GateVerdict(name, description, None, threshold, "fail", reason)


# --------------------------------------------------------------------------------------------
# Gates


@dataclass(frozen=True, slots=True)
class MetricGate:
    """``min <= metric <= max`` (the estimate, or an end of its interval)."""

    metric: str
    min: float | None = None
    max: float | None = None
    use: Literal["estimate", "ci_low", "ci_high"] = "estimate"

    def __post_init__(self) -> None:
        gate = "MetricGate"
        object.__setattr__(self, "metric", metric_spec(self.metric, subject=f"{gate} metric").name)
        low = _number(gate, "min", self.min, optional=True)
        high = _number(gate, "max", self.max, optional=True)
        if low is None and high is None:
            raise _bad(
                gate, "min", "or max must be given", None, "e.g. MetricGate('roc_auc', min=0.7)"
            )
        if low is not None and high is not None and low > high:
            raise _bad(gate, "min", f"must not exceed max ({high:g})", low)
        object.__setattr__(self, "min", low)
        object.__setattr__(self, "max", high)
        _use(gate, self.use, ("estimate", "ci_low", "ci_high"))

    @property
    def name(self) -> str:
        return f"metric:{self.metric}"

    @property
    def description(self) -> str:
        bounds = []
        if self.min is not None:
            bounds.append(f">= {self.min:g}")
        if self.max is not None:
            bounds.append(f"<= {self.max:g}")
        return f"{self.metric} ({self.use}) {' and '.join(bounds)}"

    def check(
        self, result: EvaluationResult, champion: EvaluationResult | None = None
    ) -> GateVerdict:
        threshold = self.min if self.min is not None else self.max
        estimate = result.metrics.get(self.metric)
        if estimate is None:
            return _missing(
                self.name,
                self.description,
                threshold,
                f"{self.metric} was not evaluated; add it to evaluate(metrics=[...])",
            )
        measured = {"estimate": estimate.value, "ci_low": estimate.low, "ci_high": estimate.high}[
            self.use
        ]
        ok = (self.min is None or measured >= self.min) and (
            self.max is None or measured <= self.max
        )
        return GateVerdict(
            self.name,
            self.description,
            measured,
            threshold,
            _verdict(ok),
            f"{self.metric} {self.use} is {measured:.6g}",
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"metric": self.metric}
        if self.min is not None:
            out["min"] = self.min
        if self.max is not None:
            out["max"] = self.max
        if self.use != "estimate":
            out["use"] = self.use
        return out


@dataclass(frozen=True, slots=True)
class ImprovementGate:
    """The gain over the champion (positive: better) is at least ``min_gain``."""

    metric: str
    min_gain: float = 0.0
    use: Literal["estimate", "ci_low"] = "estimate"

    def __post_init__(self) -> None:
        gate = "ImprovementGate"
        object.__setattr__(self, "metric", metric_spec(self.metric, subject=f"{gate} metric").name)
        object.__setattr__(self, "min_gain", _number(gate, "min_gain", self.min_gain))
        _use(gate, self.use, ("estimate", "ci_low"))

    @property
    def name(self) -> str:
        return f"improvement:{self.metric}"

    @property
    def description(self) -> str:
        return f"{self.metric} gain over the champion ({self.use}) >= {self.min_gain:g}"

    def check(
        self, result: EvaluationResult, champion: EvaluationResult | None = None
    ) -> GateVerdict:
        name, text, need = self.name, self.description, self.min_gain
        if champion is None:
            return GateVerdict(name, text, None, need, "skip", "no champion to compare with")
        if champion.data_digest != result.data_digest:
            return _missing(
                name,
                text,
                need,
                "the champion was evaluated on other data (data_digest differs); evaluate the "
                "champion on the same data",
            )
        for which, held in (("candidate", result), ("champion", champion)):
            if self.metric not in held.metrics:
                return _missing(name, text, need, f"the {which} result has no {self.metric}")
        spec = metric_spec(self.metric)
        paired = (
            result.predictions is not None
            and champion.predictions is not None
            and result.y_true is not None
        )
        if paired:
            gain = compare_to_baseline(
                spec.bind(result.threshold),
                result.y_true,
                result.predictions,
                champion.predictions,
                n_resamples=result.n_resamples,
                confidence=result.confidence,
                seed=result.seed,
            )
            estimate = spec.gain(gain.candidate, gain.baseline)
            low = gain.low if spec.higher_is_better else -gain.high
            how = "paired bootstrap on the per-row predictions"
        else:
            mine, theirs = result.metrics[self.metric], champion.metrics[self.metric]
            estimate = spec.gain(mine.value, theirs.value)
            low = mine.low - theirs.high if spec.higher_is_better else theirs.low - mine.high
            how = "unpaired (no per-row predictions): the conservative interval bound"
        estimate, low = estimate + 0.0, low + 0.0  # no "-0" in the reason
        measured = estimate if self.use == "estimate" else low
        return GateVerdict(
            name,
            text,
            measured,
            need,
            _verdict(measured >= need),
            f"gain {estimate:+.6g}, lower bound {low:+.6g} ({how})",
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"improvement_over_champion": self.metric, "min_gain": self.min_gain}
        if self.use != "estimate":
            out["use"] = self.use
        return out


@dataclass(frozen=True, slots=True)
class SliceGapGate:
    """Overall minus the worst slice (signed: positive is worse) is at most ``max_gap``."""

    metric: str
    max_gap: float
    columns: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        gate = "SliceGapGate"
        object.__setattr__(self, "metric", metric_spec(self.metric, subject=f"{gate} metric").name)
        object.__setattr__(self, "max_gap", _non_negative(gate, "max_gap", self.max_gap))
        if self.columns is not None:
            if isinstance(self.columns, str) or not isinstance(self.columns, Sequence):
                raise _bad(gate, "columns", "must be a list of column names or None", self.columns)
            object.__setattr__(self, "columns", tuple(str(c) for c in self.columns))

    @property
    def name(self) -> str:
        return f"slice_gap:{self.metric}"

    @property
    def description(self) -> str:
        of = f" of {', '.join(self.columns)}" if self.columns else ""
        return f"{self.metric}: overall minus worst slice{of} <= {self.max_gap:g}"

    def check(
        self, result: EvaluationResult, champion: EvaluationResult | None = None
    ) -> GateVerdict:
        report = result.slices.get(self.metric)
        if report is None:
            return _missing(
                self.name,
                self.description,
                self.max_gap,
                f"no slice report for {self.metric}; evaluate with slices=[...] and this metric",
            )
        worst = report.worst(self.columns)
        if worst is None or worst.worse_by is None:
            return GateVerdict(
                self.name,
                self.description,
                None,
                self.max_gap,
                "skip",
                f"no slice with at least {report.min_support} rows and a defined {self.metric}",
            )
        return GateVerdict(
            self.name,
            self.description,
            worst.worse_by,
            self.max_gap,
            _verdict(worst.worse_by <= self.max_gap),
            f"worst slice {worst.description} ({worst.support:,} rows): {self.metric} "
            f"{worst.value:.6g} against {report.overall:.6g} overall",
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"max_slice_gap": self.metric, "max": self.max_gap}
        if self.columns is not None:
            out["columns"] = list(self.columns)
        return out


_FAIRNESS = {
    "demographic_parity_difference": "demographic_parity",
    "equalized_odds_difference": "equalized_odds",
}


@dataclass(frozen=True, slots=True)
class FairnessGate:
    """A parity difference between groups is at most ``max``."""

    measure: Literal["demographic_parity_difference", "equalized_odds_difference"]
    max: float

    def __post_init__(self) -> None:
        gate = "FairnessGate"
        if self.measure not in _FAIRNESS:
            raise _bad(
                gate,
                "measure",
                f"must be one of {', '.join(map(repr, _FAIRNESS))}",
                self.measure,
                did_you_mean(self.measure, list(_FAIRNESS)),
            )
        object.__setattr__(self, "max", _non_negative(gate, "max", self.max))

    @property
    def name(self) -> str:
        return f"fairness:{self.measure}"

    @property
    def description(self) -> str:
        return f"{self.measure} (between groups) <= {self.max:g}"

    def check(
        self, result: EvaluationResult, champion: EvaluationResult | None = None
    ) -> GateVerdict:
        if result.fairness is None:
            return _missing(
                self.name,
                self.description,
                self.max,
                "no fairness report; evaluate with sensitive=[...]",
            )
        measured = result.fairness.disparity(_FAIRNESS[self.measure]).difference  # type: ignore[arg-type]
        if math.isnan(measured):
            return _missing(self.name, self.description, self.max, f"{self.measure} is undefined")
        features = ", ".join(result.fairness.group_metrics.features)
        return GateVerdict(
            self.name,
            self.description,
            measured,
            self.max,
            _verdict(measured <= self.max),
            f"{self.measure} over {features} is {measured:.6g}",
        )

    def to_dict(self) -> dict[str, Any]:
        return {"max_fairness_gap": self.measure, "max": self.max}


@dataclass(frozen=True, slots=True)
class LatencyGate:
    """Single-row p99 latency is at most ``max_p99_ms``."""

    max_p99_ms: float

    def __post_init__(self) -> None:
        value = _non_negative("LatencyGate", "max_p99_ms", self.max_p99_ms)
        object.__setattr__(self, "max_p99_ms", value)

    @property
    def name(self) -> str:
        return "latency:p99"

    @property
    def description(self) -> str:
        return f"single-row p99 latency <= {self.max_p99_ms:g} ms"

    def check(
        self, result: EvaluationResult, champion: EvaluationResult | None = None
    ) -> GateVerdict:
        if result.latency is None:
            return _missing(
                self.name,
                self.description,
                self.max_p99_ms,
                "latency was not measured; evaluate with latency=True",
            )
        p99 = result.latency.p99_ms
        return GateVerdict(
            self.name,
            self.description,
            p99,
            self.max_p99_ms,
            _verdict(p99 <= self.max_p99_ms),
            f"p99 {p99:.3f} ms over {result.latency.n} requests",
        )

    def to_dict(self) -> dict[str, Any]:
        return {"max_latency_p99_ms": self.max_p99_ms}


@dataclass(frozen=True, slots=True)
class ModelSizeGate:
    """The model is at most ``max_mb`` megabytes: its saved package when the evaluation was
    told its size (``evaluate(model_size_mb=...)``, as ``loopml train`` does), else the
    pickled model."""

    max_mb: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "max_mb", _non_negative("ModelSizeGate", "max_mb", self.max_mb))

    @property
    def name(self) -> str:
        return "model_size"

    @property
    def description(self) -> str:
        return f"model size <= {self.max_mb:g} MB"

    def check(
        self, result: EvaluationResult, champion: EvaluationResult | None = None
    ) -> GateVerdict:
        size = result.model_size_mb
        if size is None:
            return _missing(
                self.name,
                self.description,
                self.max_mb,
                "the model's size is unknown (it did not pickle)",
            )
        return GateVerdict(
            self.name,
            self.description,
            size,
            self.max_mb,
            _verdict(size <= self.max_mb),
            f"{size:.3f} MB",
        )

    def to_dict(self) -> dict[str, Any]:
        return {"max_model_size_mb": self.max_mb}


Gate: TypeAlias = (
    MetricGate | ImprovementGate | SliceGapGate | FairnessGate | LatencyGate | ModelSizeGate
)
_GATES = (MetricGate, ImprovementGate, SliceGapGate, FairnessGate, LatencyGate, ModelSizeGate)


def check_gates(
    gates: Sequence[Gate], result: EvaluationResult, *, champion: EvaluationResult | None = None
) -> GateReport:
    """Check every gate; the report passes when no verdict is ``"fail"``."""
    verdicts = []
    for gate in gates:
        if not isinstance(gate, _GATES):
            raise InvalidInput(
                user_message(
                    "check_gates() argument 'gates'",
                    "must hold gates (MetricGate, ImprovementGate, SliceGapGate, FairnessGate, "
                    "LatencyGate, ModelSizeGate)",
                    verbatim(type(gate).__name__),
                    "build them, or read the configuration form with parse_gate()",
                )
            )
        verdicts.append(gate.check(result, champion))
    return GateReport(tuple(verdicts), all(v.verdict != "fail" for v in verdicts))


#: Configuration key -> (gate, field the key's value fills, other keys -> their fields).
_FORMS: Forms = {
    "metric": (MetricGate, "metric", {"min": "min", "max": "max", "use": "use"}),
    "improvement_over_champion": (
        ImprovementGate,
        "metric",
        {"min_gain": "min_gain", "use": "use"},
    ),
    "max_slice_gap": (SliceGapGate, "metric", {"max": "max_gap", "columns": "columns"}),
    "max_fairness_gap": (FairnessGate, "measure", {"max": "max"}),
    "max_latency_p99_ms": (LatencyGate, "max_p99_ms", {}),
    "max_model_size_mb": (ModelSizeGate, "max_mb", {}),
}


def parse_gate(spec: Mapping[str, Any]) -> Gate:
    """A gate from its configuration form (one key naming the kind, plus its fields).

    >>> parse_gate({"metric": "roc_auc", "min": 0.6})
    MetricGate(metric='roc_auc', min=0.6, max=None, use='estimate')
    >>> parse_gate({"max_slice_gap": "roc_auc", "max": 0.15}).to_dict()
    {'max_slice_gap': 'roc_auc', 'max': 0.15}
    >>> parse_gate({"max_latency_p99_ms": 50})
    LatencyGate(max_p99_ms=50.0)
    """
    gate: Gate = parse_keyed(spec, "gate", "gate", _FORMS)
    return gate
