"""The metric table: every metric loopml evaluates by name, its task and its direction.

One table, reused everywhere a metric is named (``evaluate(metrics=...)``, gates, slices,
permutation importance, hyper-parameter search in ``loopml.training``). Rules:

- Names: classification ``roc_auc``, ``pr_auc``, ``log_loss``, ``brier``, ``accuracy``,
  ``precision``, ``recall``, ``f1``; regression ``rmse``, ``mae``, ``mape``, ``r2``. The names of
  the functions in :mod:`loopml.evaluate.metrics` are accepted as aliases (``average_precision``
  is ``pr_auc``, ``brier_score`` is ``brier``) and resolved to the table's name.
- Direction: higher is better for ``roc_auc``, ``pr_auc``, ``accuracy``, ``precision``,
  ``recall``, ``f1`` and ``r2``; lower is better for ``log_loss``, ``brier``, ``rmse``, ``mae``
  and ``mape``.
- The threshold metrics (``accuracy``, ``precision``, ``recall``, ``f1``) predict class 1 where
  the probability is ``>= threshold``; :meth:`MetricSpec.bind` fixes it as
  ``functools.partial(f, threshold=t)``, the form the fast bootstrap recognises.
- An unknown name, or a name of the other task, is an :class:`~loopml.core.errors.InvalidInput`
  that lists the names of the task and suggests the closest one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Literal

from loopml.core.errors import InvalidInput, did_you_mean, user_message
from loopml.evaluate import metrics as m

__all__ = [
    "ALIASES",
    "METRICS",
    "TASKS",
    "MetricSpec",
    "Task",
    "better",
    "check_task",
    "default_metrics",
    "higher_is_better",
    "metric_or_default",
    "metric_spec",
]

Task = Literal["classification", "regression"]
TASKS: tuple[Task, ...] = ("classification", "regression")


@dataclass(frozen=True, slots=True)
class MetricSpec:
    """A metric of the table: its name, task, direction and function ``f(y_true, y_pred)``."""

    name: str
    task: Task
    higher_is_better: bool
    #: Whether the function takes a ``threshold`` (probability cut for class 1).
    uses_threshold: bool
    function: Callable[..., float]

    def bind(self, threshold: float = 0.5) -> Callable[[Any, Any], float]:
        """``f(y_true, y_pred)`` with the threshold fixed (threshold metrics only)."""
        if self.uses_threshold:
            return functools.partial(self.function, threshold=threshold)
        return self.function

    def gain(self, candidate: float, reference: float) -> float:
        """How much better ``candidate`` is than ``reference`` (positive: better)."""
        delta = candidate - reference
        return delta if self.higher_is_better else -delta


def _spec(name: str, task: Task, higher: bool, fn: Callable[..., float], cut: bool = False) -> Any:
    return MetricSpec(name, task, higher, cut, fn)


METRICS: Mapping[str, MetricSpec] = MappingProxyType(
    {
        spec.name: spec
        for spec in (
            _spec("roc_auc", "classification", True, m.roc_auc),
            _spec("pr_auc", "classification", True, m.average_precision),
            _spec("log_loss", "classification", False, m.log_loss),
            _spec("brier", "classification", False, m.brier_score),
            _spec("accuracy", "classification", True, m.accuracy, cut=True),
            _spec("precision", "classification", True, m.precision, cut=True),
            _spec("recall", "classification", True, m.recall, cut=True),
            _spec("f1", "classification", True, m.f1, cut=True),
            _spec("rmse", "regression", False, m.rmse),
            _spec("mae", "regression", False, m.mae),
            _spec("mape", "regression", False, m.mape),
            _spec("r2", "regression", True, m.r2),
        )
    }
)
#: Other accepted spellings, resolved to the table's name.
ALIASES: Mapping[str, str] = MappingProxyType(
    {"average_precision": "pr_auc", "brier_score": "brier"}
)
_DEFAULTS: dict[Task, tuple[str, ...]] = {
    "classification": (
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "accuracy",
        "precision",
        "recall",
        "f1",
    ),
    "regression": ("rmse", "mae", "mape", "r2"),
}


def check_task(task: object, subject: str = "task") -> Task:
    """``task`` if it is ``"classification"`` or ``"regression"``, else InvalidInput."""
    if task not in TASKS:
        raise InvalidInput(user_message(subject, "must be 'classification' or 'regression'", task))
    chosen: Task = "classification" if task == "classification" else "regression"
    return chosen


def default_metrics(task: Task) -> tuple[str, ...]:
    """The metrics :func:`~loopml.evaluate.evaluate` reports when none are named.

    >>> default_metrics("regression")
    ('rmse', 'mae', 'mape', 'r2')
    """
    return _DEFAULTS[check_task(task)]


def metric_spec(name: object, task: Task | None = None, *, subject: str = "metric") -> MetricSpec:
    """The table's entry for ``name`` (or an alias), checked against ``task`` when given.

    >>> metric_spec("average_precision").name, metric_spec("rmse").higher_is_better
    ('pr_auc', False)
    >>> metric_spec("roc_aux")
    Traceback (most recent call last):
    ...
    loopml.core.errors.InvalidInput: metric 'roc_aux' must be one of roc_auc, pr_auc, log_loss, \
brier, accuracy, precision, recall, f1, rmse, mae, mape, r2; got 'roc_aux'. Fix: did you mean \
'roc_auc'.
    """
    names = [n for n, s in METRICS.items() if task is None or s.task == task]
    key = ALIASES.get(name, name) if isinstance(name, str) else None
    spec = METRICS.get(key) if key is not None else None
    if spec is None or (task is not None and spec.task != task):
        if spec is not None:
            rule = f"must be a {task} metric ({', '.join(names)})"
            fix = f"{name!r} is a {spec.task} metric; pass task={spec.task!r} or another metric"
        else:
            rule = f"must be one of {', '.join(names)}"
            fix = did_you_mean(name, names) or "pick a name from the list"
        raise InvalidInput(user_message(f"{subject} {name!r}", rule, name, fix))
    return spec


def metric_or_default(name: str | None, task: Task, *, subject: str = "metric") -> MetricSpec:
    """:func:`metric_spec` of ``name`` for ``task``, or of the task's first default metric
    (``roc_auc``, ``rmse``) when ``name`` is None: the metric a function measures by default.

    >>> metric_or_default(None, "regression").name
    'rmse'
    """
    return metric_spec(name or _DEFAULTS[check_task(task)][0], task, subject=subject)


def higher_is_better(name: str) -> bool:
    """Whether a higher value of the metric ``name`` is better.

    >>> higher_is_better("roc_auc"), higher_is_better("log_loss")
    (True, False)
    """
    return metric_spec(name).higher_is_better


def better(name: str, candidate: float, reference: float) -> bool:
    """Whether ``candidate`` is strictly better than ``reference`` on the metric ``name``."""
    return metric_spec(name).gain(candidate, reference) > 0
