"""The names a project file may use: tasks, model kinds, metrics, baselines, fairness measures.

These are names only. The model zoo lives in :mod:`loopml.training` and the metrics and gates in
:mod:`loopml.evaluate`, both above or beside this package; their tests check that their lists
agree with the ones here, so a name ``loopml.yaml`` accepts is a name they can build.

- :data:`MODEL_KINDS`: every model kind; :data:`MODEL_KIND_TASKS` the tasks each one serves
  (``logistic_regression`` classifies, ``linear_regression`` and ``ridge`` regress, the tree
  ensembles do both); :data:`MODEL_EXTRAS` the pip extra a kind needs.
- :data:`METRICS`: the metric names per task. Classification metrics score probabilities
  (``roc_auc``, ``pr_auc`` = average precision, ``log_loss``, ``brier``) or decisions at
  ``metrics.threshold`` (``accuracy``, ``f1``, ``precision``, ``recall``).
- :data:`DEFAULT_PRIMARY` and :data:`DEFAULT_REPORT`: what ``metrics:`` means when left out.

>>> MODEL_KIND_TASKS["ridge"]
('regression',)
>>> METRICS["regression"]
('rmse', 'mae', 'mape', 'r2')
>>> suggest("log-loss", METRICS["classification"])
"did you mean 'log_loss'"
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

from loopml.core.errors import did_you_mean

__all__ = [
    "BASELINE_KINDS",
    "CLASSIFICATION_METRICS",
    "DEFAULT_PRIMARY",
    "DEFAULT_REPORT",
    "FAIRNESS_MEASURES",
    "METRICS",
    "MODEL_EXTRAS",
    "MODEL_KINDS",
    "MODEL_KIND_TASKS",
    "REGRESSION_METRICS",
    "TASKS",
    "FairnessMeasure",
    "ModelKind",
    "Task",
    "suggest",
]

Task = Literal["classification", "regression"]
ModelKind = Literal[
    "logistic_regression",
    "linear_regression",
    "ridge",
    "random_forest",
    "hist_gradient_boosting",
    "lightgbm",
    "xgboost",
]
FairnessMeasure = Literal["demographic_parity_difference", "equalized_odds_difference"]

#: The tasks a project can have.
TASKS: tuple[str, ...] = get_args(Task)
#: Every model kind a candidate may name.
MODEL_KINDS: tuple[str, ...] = get_args(ModelKind)
#: The tasks each model kind serves.
MODEL_KIND_TASKS: dict[str, tuple[str, ...]] = {
    "logistic_regression": ("classification",),
    "linear_regression": ("regression",),
    "ridge": ("regression",),
    "random_forest": TASKS,
    "hist_gradient_boosting": TASKS,
    "lightgbm": TASKS,
    "xgboost": TASKS,
}
#: Model kinds that need an optional extra: ``pip install 'loopml[<extra>]'``.
MODEL_EXTRAS: dict[str, str] = {"lightgbm": "lightgbm", "xgboost": "xgboost"}

#: Metric names for classification (probabilities of class 1 and decisions at a threshold).
CLASSIFICATION_METRICS: tuple[str, ...] = (
    "roc_auc", "pr_auc", "log_loss", "brier", "accuracy", "f1", "precision", "recall",
)  # fmt: skip
#: Metric names for regression.
REGRESSION_METRICS: tuple[str, ...] = ("rmse", "mae", "mape", "r2")
#: The metric names each task accepts.
METRICS: dict[str, tuple[str, ...]] = {
    "classification": CLASSIFICATION_METRICS,
    "regression": REGRESSION_METRICS,
}
#: The metric that chooses the best candidate when ``metrics.primary`` is left out.
DEFAULT_PRIMARY: dict[str, str] = {"classification": "roc_auc", "regression": "rmse"}
#: The metrics reported besides the primary one when ``metrics.report`` is left out.
DEFAULT_REPORT: dict[str, tuple[str, ...]] = {
    "classification": ("pr_auc", "log_loss", "brier", "f1"),
    "regression": ("mae", "r2"),
}
#: The measures a fairness gate may bound.
FAIRNESS_MEASURES: tuple[str, ...] = get_args(FairnessMeasure)
#: The baseline kinds (``majority``: the class prior, or the mean for regression).
BASELINE_KINDS: tuple[str, ...] = ("majority", "rule", "group_rate")


def suggest(value: object, choices: Iterable[str]) -> str | None:
    """``"did you mean 'x'"`` naming up to three close choices, or None when none is close."""
    return did_you_mean(value, choices, 3)
