"""Evaluation of one model: metrics with bootstrap confidence intervals, calibration, fairness,
slices and worst slices, behavioural tests, importance, latency, gates and an offline report.
Each statistic equals its reference (scikit-learn, scipy, fairlearn) number for number; the
tests hold them to it.

::

    from loopml.evaluate import bootstrap_ci, compare_to_baseline, roc_auc

    auc = bootstrap_ci(roc_auc, y, p_candidate, seed=0)            # value, low, high
    gain = compare_to_baseline(roc_auc, y, p_candidate, p_baseline, seed=0)   # paired

    from loopml.evaluate import Invariance, MetricGate, check_gates, evaluate, to_html

    result = evaluate(model, test_frame, "delayed", slices=["carrier"], sensitive=["origin"],
                      behaviour=[Invariance("origin")], baseline=baseline_model)
    report = check_gates([MetricGate("roc_auc", min=0.7)], result, champion=champion_result)
    html = to_html(result, report)

The package itself is callable: ``loopml.evaluate(model, data, "delayed", ...)`` is
:func:`~loopml.evaluate.evaluation.evaluate` (a module subclass with ``__call__``, so the
functions above stay reachable as ``loopml.evaluate.roc_auc`` and friends).
"""

import sys
import types
from typing import Any

from loopml.evaluate.behaviour import (
    BehaviourResult,
    BehaviourTest,
    Directional,
    Invariance,
    Perturbation,
    parse_behaviour,
)
from loopml.evaluate.bootstrap import Estimate, Gain, bootstrap_ci, compare_to_baseline
from loopml.evaluate.calibration import (
    IsotonicRecalibrator,
    PlattRecalibrator,
    Recalibrator,
    ReliabilityCurve,
    expected_calibration_error,
    fit_recalibration,
    max_calibration_error,
    reliability_curve,
)
from loopml.evaluate.catalog import (
    METRICS,
    MetricSpec,
    Task,
    default_metrics,
    higher_is_better,
    metric_spec,
)
from loopml.evaluate.evaluation import evaluate
from loopml.evaluate.fairness import (
    Disparity,
    FairnessReport,
    GroupMetrics,
    GroupRates,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    fairness_report,
    group_metrics,
)
from loopml.evaluate.gates import (
    FairnessGate,
    Gate,
    GateReport,
    GateVerdict,
    ImprovementGate,
    LatencyGate,
    MetricGate,
    ModelSizeGate,
    SliceGapGate,
    check_gates,
    parse_gate,
)
from loopml.evaluate.importance import Importance, permutation_importance, shap_importance
from loopml.evaluate.latency import Latency, measure_latency
from loopml.evaluate.metrics import (
    accuracy,
    average_precision,
    brier_score,
    classification_metrics,
    confusion_matrix,
    f1,
    log_loss,
    mae,
    mape,
    precision,
    r2,
    recall,
    regression_metrics,
    rmse,
    roc_auc,
)
from loopml.evaluate.report import to_html
from loopml.evaluate.result import Calibration, Curves, EvaluationResult
from loopml.evaluate.slices import (
    Condition,
    Slice,
    SliceColumn,
    SliceReport,
    find_worst_slices,
    slice_metrics,
)

__all__ = [
    "METRICS",
    "BehaviourResult",
    "BehaviourTest",
    "Calibration",
    "Condition",
    "Curves",
    "Directional",
    "Disparity",
    "Estimate",
    "EvaluationResult",
    "FairnessGate",
    "FairnessReport",
    "Gain",
    "Gate",
    "GateReport",
    "GateVerdict",
    "GroupMetrics",
    "GroupRates",
    "Importance",
    "ImprovementGate",
    "Invariance",
    "IsotonicRecalibrator",
    "Latency",
    "LatencyGate",
    "MetricGate",
    "MetricSpec",
    "ModelSizeGate",
    "Perturbation",
    "PlattRecalibrator",
    "Recalibrator",
    "ReliabilityCurve",
    "Slice",
    "SliceColumn",
    "SliceGapGate",
    "SliceReport",
    "Task",
    "accuracy",
    "average_precision",
    "bootstrap_ci",
    "brier_score",
    "check_gates",
    "classification_metrics",
    "compare_to_baseline",
    "confusion_matrix",
    "default_metrics",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "evaluate",
    "expected_calibration_error",
    "f1",
    "fairness_report",
    "find_worst_slices",
    "fit_recalibration",
    "group_metrics",
    "higher_is_better",
    "log_loss",
    "mae",
    "mape",
    "max_calibration_error",
    "measure_latency",
    "metric_spec",
    "parse_behaviour",
    "parse_gate",
    "permutation_importance",
    "precision",
    "r2",
    "recall",
    "regression_metrics",
    "reliability_curve",
    "rmse",
    "roc_auc",
    "shap_importance",
    "slice_metrics",
    "to_html",
]


class _CallableModule(types.ModuleType):
    """``loopml.evaluate`` as a module you can call: ``loopml.evaluate(model, data, target)``."""

    def __call__(self, model: Any, data: Any, target: str, **options: Any) -> EvaluationResult:
        return evaluate(model, data, target, **options)


sys.modules[__name__].__class__ = _CallableModule
