"""The metric a search optimises, read from ``loopml.evaluate``'s one metric table.

:func:`get_metric` resolves a name (or alias) for a task through
:func:`loopml.evaluate.metric_spec` and gives Optuna's direction for it. Classification metrics
score P(positive class), the second of the model's sorted classes; the threshold metrics cut it
at ``threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from loopml.evaluate import MetricSpec, metric_spec
from loopml.training._common import Task

__all__ = ["Direction", "Metric", "get_metric", "positive_scores"]

FloatArray = npt.NDArray[np.float64]
Direction = Literal["maximize", "minimize"]


@dataclass(frozen=True)
class Metric:
    """A metric of the table with Optuna's direction."""

    spec: MetricSpec

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def direction(self) -> Direction:
        return "maximize" if self.spec.higher_is_better else "minimize"

    def __call__(self, truth: FloatArray, score: FloatArray, threshold: float = 0.5) -> float:
        return float(self.spec.bind(threshold)(truth, score))


def get_metric(name: object, task: Task) -> Metric:
    """The metric called ``name`` (or an alias), which must belong to ``task``."""
    return Metric(metric_spec(name, task))


def positive_scores(model: Any, frame: Any, task: Task) -> FloatArray:
    """P(second class) for classification, the prediction for regression, as float64."""
    if task == "classification":
        proba = np.asarray(model.predict_proba(frame), dtype=np.float64)
        return np.ascontiguousarray(proba[:, 1])
    return np.asarray(model.predict(frame), dtype=np.float64).ravel()
