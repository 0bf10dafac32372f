"""Evaluation as pure functions: metrics with bootstrap confidence intervals, calibration, and
fairness. Each equals its reference (scikit-learn, scipy, fairlearn) number for number; the
tests hold them to it.

::

    from loopml.evaluate import bootstrap_ci, compare_to_baseline, roc_auc

    auc = bootstrap_ci(roc_auc, y, p_candidate, seed=0)            # value, low, high
    gain = compare_to_baseline(roc_auc, y, p_candidate, p_baseline, seed=0)   # paired
"""

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

__all__ = [
    "Disparity",
    "Estimate",
    "FairnessReport",
    "Gain",
    "GroupMetrics",
    "GroupRates",
    "IsotonicRecalibrator",
    "PlattRecalibrator",
    "Recalibrator",
    "ReliabilityCurve",
    "accuracy",
    "average_precision",
    "bootstrap_ci",
    "brier_score",
    "classification_metrics",
    "compare_to_baseline",
    "confusion_matrix",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "expected_calibration_error",
    "f1",
    "fairness_report",
    "fit_recalibration",
    "group_metrics",
    "log_loss",
    "mae",
    "mape",
    "max_calibration_error",
    "precision",
    "r2",
    "recall",
    "regression_metrics",
    "reliability_curve",
    "rmse",
    "roc_auc",
]
