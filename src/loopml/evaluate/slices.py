"""Metrics by slice of the data, and a search for the slices where a model does worst.

A *slice* is the set of rows meeting one or two conditions on columns (``carrier = 'UA'``,
``300 < distance <= 500 and origin = 'EWR'``). Rules for both functions:

- **Discretisation.** A column of text, categories or bools has one slice per value. A numeric
  column with at most ``bins`` distinct values has one slice per value too; one with more is cut
  at its quantiles ``numpy.quantile(values, linspace(0, 1, bins + 1))`` (linear interpolation;
  repeated edges merged), into bins closed on the right with the first bin also closed on the
  left: the bins of ``pandas.qcut(values, bins, duplicates="drop")`` (tested). The edges are
  reported. Missing values (None, NaN, NA; and infinities in numbers) form a slice of their own,
  ``column is missing``. Date and time columns are refused by :func:`slice_metrics` (derive an
  hour or a month column) and skipped, with a log line, by :func:`find_worst_slices`.
- **Support.** Slices with fewer than ``min_support`` rows are not scored; :class:`SliceColumn`
  counts them (``small``, ``small_rows``).
- A metric undefined on a slice (ROC AUC of a slice holding one class) is ``None`` with a note.

:func:`slice_metrics` reports a metric of :mod:`loopml.evaluate.catalog` per slice of each chosen
column with its support and its gap to the whole-data value (``gap = value - overall``;
``worse_by`` is the gap signed so that a positive number means worse, whatever the metric's
direction).

:func:`find_worst_slices` searches every column (and, with ``max_columns=2``, every pair of
columns) for slices whose per-row loss (log loss for classification, squared error for
regression) is higher inside than outside, following Slice Finder (Chung et al., 2019):

- Each slice with ``support >= min_support`` (and at least 2 rows outside it) is tested with
  Welch's t-test, one-sided (loss inside greater than outside):
  ``scipy.stats.ttest_ind_from_stats(..., equal_var=False, alternative="greater")`` on the
  means and sample variances (ddof=1) of the two groups, which equals
  ``scipy.stats.ttest_ind(inside, outside, equal_var=False, alternative="greater")``.
  The effect size is ``(mean_in - mean_out) / sqrt((var_in + var_out) / 2)``.
- The p-values of all tested slices are adjusted together with Benjamini-Hochberg
  (``scipy.stats.false_discovery_control``); a slice is kept when its adjusted p-value
  (``q_value``) is at most ``alpha``, its loss is higher inside, and its effect size is at least
  ``min_effect_size``. A test whose variances are both 0 has p-value 1.
- A pair slice with the same rows as one of its single-column parents is not tested (it says
  nothing new), and a kept pair slice whose effect size does not exceed that of a kept parent is
  dropped (the parent already explains it).
- The kept slices are ranked by effect size (then support), and the first ``max_slices`` are
  returned with the task metric on the slice and its gap to the overall value.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
import scipy.stats

from loopml.core.errors import InvalidInput
from loopml.evaluate._checks import (
    as_values,
    check_frame,
    check_int,
    check_number,
    invalid,
    json_scalar,
    require_column,
)
from loopml.evaluate.catalog import (
    MetricSpec,
    Task,
    check_task,
    metric_or_default,
)
from loopml.evaluate.metrics import _EPS

__all__ = [
    "Condition",
    "Slice",
    "SliceColumn",
    "SliceReport",
    "find_worst_slices",
    "infer_task",
    "per_row_loss",
    "slice_metrics",
]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Scalar = str | int | float | bool | None
ConditionKind = Literal["value", "range", "missing"]
#: Cells of a pair of columns counted with one bincount up to this many (else np.unique).
_DENSE_CELLS = 1 << 22


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class Condition:
    """One condition on one column: ``column = value``, ``low < column <= high`` (``low <=``
    when ``include_low``), or ``column is missing``."""

    column: str
    kind: ConditionKind
    value: Scalar = None
    low: float | None = None
    high: float | None = None
    include_low: bool = False

    def describe(self) -> str:
        """The condition as text: ``carrier = 'UA'``, ``300 < distance <= 500``."""
        if self.kind == "value":
            return f"{self.column} = {self.value!r}"
        if self.kind == "missing":
            return f"{self.column} is missing"
        op = "<=" if self.include_low else "<"
        return f"{self.low:g} {op} {self.column} <= {self.high:g}"

    def mask(self, frame: pd.DataFrame) -> BoolArray:
        """Which rows of ``frame`` meet the condition."""
        column = frame[self.column]
        if self.kind == "missing":
            values = column.to_numpy(dtype=object)
            missing = pd.isna(values)
            if pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(
                column.dtype
            ):
                numbers = column.to_numpy(dtype=np.float64, na_value=np.nan)
                missing = missing | ~np.isfinite(numbers)
            return np.asarray(missing, dtype=np.bool_)
        if self.kind == "value":
            return np.asarray(
                [json_scalar(v) == self.value for v in column.to_numpy(dtype=object)],
                dtype=np.bool_,
            )
        numbers = column.to_numpy(dtype=np.float64, na_value=np.nan)
        low, high = float(self.low), float(self.high)  # type: ignore[arg-type]
        above = numbers >= low if self.include_low else numbers > low
        return np.asarray(above & (numbers <= high), dtype=np.bool_)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"column": self.column, "kind": self.kind}
        if self.kind == "value":
            out["value"] = self.value
        elif self.kind == "range":
            out.update(low=self.low, high=self.high, include_low=self.include_low)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Condition:
        return cls(
            column=data["column"],
            kind=data["kind"],
            value=data.get("value"),
            low=data.get("low"),
            high=data.get("high"),
            include_low=bool(data.get("include_low", False)),
        )


@dataclass(frozen=True, slots=True)
class Slice:
    """A slice, its support and the metric on it.

    ``gap = value - overall``; ``worse_by`` is the gap signed so that positive means worse.
    The loss fields are set by :func:`find_worst_slices` (None in :func:`slice_metrics`):
    mean per-row loss inside and outside, their difference, the effect size, the one-sided
    Welch p-value and its Benjamini-Hochberg adjustment ``q_value``.
    """

    conditions: tuple[Condition, ...]
    support: int
    metric: str
    value: float | None
    gap: float | None
    worse_by: float | None
    loss: float | None = None
    loss_outside: float | None = None
    loss_gap: float | None = None
    effect_size: float | None = None
    p_value: float | None = None
    q_value: float | None = None
    note: str | None = None

    @property
    def description(self) -> str:
        """The conditions joined by ``and``."""
        return " and ".join(c.describe() for c in self.conditions)

    def mask(self, frame: pd.DataFrame) -> BoolArray:
        """Which rows of ``frame`` are in the slice."""
        out = np.ones(len(frame), dtype=np.bool_)
        for condition in self.conditions:
            out &= condition.mask(frame)
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "description": self.description,
            "conditions": [c.to_dict() for c in self.conditions],
            "support": self.support,
            "metric": self.metric,
            "value": _json_float(self.value),
            "gap": _json_float(self.gap),
            "worse_by": _json_float(self.worse_by),
            "loss": _json_float(self.loss),
            "loss_outside": _json_float(self.loss_outside),
            "loss_gap": _json_float(self.loss_gap),
            "effect_size": _json_float(self.effect_size),
            "p_value": _json_float(self.p_value),
            "q_value": _json_float(self.q_value),
            "note": self.note,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Slice:
        return cls(
            conditions=tuple(Condition.from_dict(c) for c in data["conditions"]),
            support=int(data["support"]),
            metric=data["metric"],
            **{
                name: data.get(name)
                for name in (
                    "value",
                    "gap",
                    "worse_by",
                    "loss",
                    "loss_outside",
                    "loss_gap",
                    "effect_size",
                    "p_value",
                    "q_value",
                    "note",
                )
            },
        )


@dataclass(frozen=True, slots=True)
class SliceColumn:
    """The scored slices of one column (in value or bin order, missing last); ``edges`` for a
    binned numeric column; ``small`` slices (``small_rows`` rows) under ``min_support``."""

    column: str
    kind: Literal["categorical", "numeric"]
    edges: tuple[float, ...] | None
    slices: tuple[Slice, ...]
    small: int = 0
    small_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "edges": None if self.edges is None else list(self.edges),
            "slices": [s.to_dict() for s in self.slices],
            "small": self.small,
            "small_rows": self.small_rows,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SliceColumn:
        edges = data.get("edges")
        return cls(
            column=data["column"],
            kind=data["kind"],
            edges=None if edges is None else tuple(float(e) for e in edges),
            slices=tuple(Slice.from_dict(s) for s in data["slices"]),
            small=int(data.get("small", 0)),
            small_rows=int(data.get("small_rows", 0)),
        )


@dataclass(frozen=True, slots=True)
class SliceReport:
    """One metric by slice of several columns, against its ``overall`` value."""

    metric: str
    higher_is_better: bool
    overall: float
    min_support: int
    columns: tuple[SliceColumn, ...] = field(default=())

    def worst(self, columns: Sequence[str] | None = None) -> Slice | None:
        """The scored slice with the largest ``worse_by`` (of ``columns``, default all)."""
        chosen = [
            s
            for c in self.columns
            if columns is None or c.column in columns
            for s in c.slices
            if s.worse_by is not None
        ]
        return max(chosen, key=lambda s: s.worse_by or 0.0) if chosen else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "higher_is_better": self.higher_is_better,
            "overall": _json_float(self.overall),
            "min_support": self.min_support,
            "columns": [c.to_dict() for c in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SliceReport:
        return cls(
            metric=data["metric"],
            higher_is_better=bool(data["higher_is_better"]),
            overall=math.nan if data["overall"] is None else float(data["overall"]),
            min_support=int(data["min_support"]),
            columns=tuple(SliceColumn.from_dict(c) for c in data["columns"]),
        )


def _json_float(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


# --------------------------------------------------------------------------------------------
# Inputs


def infer_task(y_true: FloatArray) -> Task:
    """``"classification"`` for a target holding only 0 and 1, else ``"regression"``."""
    return "classification" if bool(np.isin(y_true, (0.0, 1.0)).all()) else "regression"


def per_row_loss(task: Task, y_true: FloatArray, y_score: FloatArray) -> FloatArray:
    """Log loss per row (probabilities clipped to [eps, 1 - eps], as ``log_loss``) for
    classification; squared error for regression."""
    if task == "classification":
        chosen = np.where(y_true == 1.0, y_score, 1.0 - y_score)
        out: FloatArray = -np.log(np.clip(chosen, _EPS, 1.0 - _EPS))
        return out
    squared: FloatArray = (y_score - y_true) ** 2
    return squared


def _inputs(
    func: str, y_true: object, y_score: object, frame: object, task: object
) -> tuple[FloatArray, FloatArray, pd.DataFrame, Task]:
    data = check_frame(func, "frame", frame)
    truth = as_values(func, "y_true", y_true, len(data))
    score = as_values(func, "y_score", y_score, len(data))
    if len(data) < 2:
        invalid(func, "frame", "must hold at least 2 rows", len(data))
    chosen = infer_task(truth) if task is None else check_task(task, f"{func}() argument 'task'")
    if chosen == "classification":
        if not np.isin(truth, (0.0, 1.0)).all():
            invalid(func, "y_true", "must hold only 0 and 1 for classification", task)
        if score.min() < 0.0 or score.max() > 1.0:
            invalid(
                func,
                "y_score",
                "must hold probabilities in [0, 1] for classification",
                f"values from {score.min()!r} to {score.max()!r}",
            )
    return truth, score, data, chosen


@dataclass(slots=True)
class _Coded:
    """A column as codes 0..k-1 (one per slice), with each code's condition."""

    column: str
    kind: Literal["categorical", "numeric"]
    codes: IntArray
    conditions: list[Condition]
    edges: tuple[float, ...] | None


def _is_temporal(dtype: Any) -> bool:
    return bool(
        pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype)
    )


def _categorical(name: str, values: Any, kind: Literal["categorical", "numeric"]) -> _Coded:
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # values of kinds that do not compare: first-seen order
        codes, uniques = pd.factorize(values, sort=False)
    codes = np.asarray(codes, dtype=np.int64)
    conditions = [Condition(name, "value", json_scalar(u)) for u in np.asarray(uniques, object)]
    if (codes < 0).any():
        codes = np.where(codes < 0, len(conditions), codes)
        conditions.append(Condition(name, "missing"))
    return _Coded(name, kind, codes, conditions, None)


def _discretise(name: str, column: pd.Series[Any], bins: int) -> _Coded:
    dtype = column.dtype
    numeric = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    if not numeric:
        return _categorical(name, column, "categorical")
    values = column.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = np.isfinite(values)
    present = values[finite]
    distinct = np.unique(present)
    if distinct.size <= bins:
        # Few values: one slice per value (ints shown as ints).
        shown = column.to_numpy(dtype=object)
        shown[~finite] = None
        return _categorical(name, pd.Series(shown, dtype=object), "categorical")
    edges = np.unique(np.quantile(present, np.linspace(0.0, 1.0, bins + 1)))
    codes = np.searchsorted(edges[1:-1], values, side="left").astype(np.int64)
    conditions = [
        Condition(name, "range", low=float(lo), high=float(hi), include_low=i == 0)
        for i, (lo, hi) in enumerate(itertools.pairwise(edges))
    ]
    if not finite.all():
        codes = np.where(finite, codes, len(conditions))
        conditions.append(Condition(name, "missing"))
    return _Coded(name, "numeric", codes, conditions, tuple(float(e) for e in edges))


def _groups(codes: IntArray, k: int) -> list[IntArray]:
    """Row indices of each code 0..k-1 (ascending within a code)."""
    order = np.argsort(codes, kind="stable")
    bounds = np.cumsum(np.bincount(codes, minlength=k))[:-1]
    return list(np.split(order, bounds))


def _metric_on(
    spec: MetricSpec, threshold: float, truth: FloatArray, score: FloatArray
) -> tuple[float | None, str | None]:
    try:
        return float(spec.bind(threshold)(truth, score)), None
    except InvalidInput as exc:
        return None, f"{spec.name} undefined on this slice: {exc}"


def _scored(
    conditions: tuple[Condition, ...],
    rows: IntArray,
    spec: MetricSpec,
    overall: float,
    threshold: float,
    truth: FloatArray,
    score: FloatArray,
) -> Slice:
    value, note = _metric_on(spec, threshold, truth[rows], score[rows])
    gap = None if value is None else value - overall
    worse = None if gap is None else (-gap if spec.higher_is_better else gap)
    return Slice(conditions, int(rows.size), spec.name, value, gap, worse, note=note)


def slice_reports(
    truth: FloatArray,
    score: FloatArray,
    frame: pd.DataFrame,
    columns: Sequence[Hashable],
    specs: Sequence[MetricSpec],
    *,
    threshold: float,
    min_support: int,
    bins: int,
    overall: Mapping[str, float],
) -> dict[str, SliceReport]:
    """:func:`slice_metrics` for several metrics at once (the columns are cut once)."""
    coded = []
    for name in columns:
        column = frame[name]
        if _is_temporal(column.dtype):
            invalid(
                "slice_metrics",
                "columns",
                "must name columns of numbers, text, categories or bools",
                f"{name!r} of dtype {column.dtype}",
                "derive a column such as the hour or the month and slice by it",
            )
        coded.append(_discretise(str(name), column, bins))
    per_metric: dict[str, list[SliceColumn]] = {s.name: [] for s in specs}
    for c in coded:
        groups = _groups(c.codes, len(c.conditions))
        kept = list(zip(c.conditions, groups, strict=True))
        big = [(cond, rows) for cond, rows in kept if rows.size >= min_support]
        small = [rows.size for _, rows in kept if 0 < rows.size < min_support]
        for spec in specs:
            slices = tuple(
                _scored((cond,), rows, spec, overall[spec.name], threshold, truth, score)
                for cond, rows in big
            )
            per_metric[spec.name].append(
                SliceColumn(c.column, c.kind, c.edges, slices, len(small), int(sum(small)))
            )
    return {
        spec.name: SliceReport(
            spec.name,
            spec.higher_is_better,
            overall[spec.name],
            min_support,
            tuple(per_metric[spec.name]),
        )
        for spec in specs
    }


def slice_metrics(
    y_true: object,
    y_score: object,
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    task: Task | None = None,
    metric: str | None = None,
    threshold: float = 0.5,
    min_support: int = 100,
    bins: int = 10,
) -> SliceReport:
    """``metric`` (default: ``roc_auc`` or ``rmse``) on each slice of each of ``columns``.

    ``frame`` holds the columns, one row per value of ``y_true``/``y_score`` (matched by
    position). ``task`` None infers it (a 0/1 target is classification).

    >>> import pandas as pd
    >>> frame = pd.DataFrame({"origin": ["EWR", "EWR", "JFK", "JFK"] * 50})
    >>> y = [0, 1, 0, 1] * 50
    >>> p = [0.2, 0.8, 0.6, 0.4] * 50
    >>> report = slice_metrics(y, p, frame, ["origin"], min_support=10)
    >>> [(s.description, s.support, s.value) for s in report.columns[0].slices]
    [("origin = 'EWR'", 100, 1.0), ("origin = 'JFK'", 100, 0.0)]
    >>> report.overall, report.worst().description
    (0.75, "origin = 'JFK'")
    """
    func = "slice_metrics"
    truth, score, data, chosen = _inputs(func, y_true, y_score, frame, task)
    spec = metric_or_default(metric, chosen, subject=f"{func}() argument 'metric'")
    cut = check_number(func, "threshold", threshold)
    support = check_int(func, "min_support", min_support, low=1)
    n_bins = check_int(func, "bins", bins, low=2)
    if isinstance(columns, str):
        columns = [columns]
    names = [require_column(func, "columns", data, name) for name in columns]
    overall = float(spec.bind(cut)(truth, score))
    return slice_reports(
        truth,
        score,
        data,
        names,
        [spec],
        threshold=cut,
        min_support=support,
        bins=n_bins,
        overall={spec.name: overall},
    )[spec.name]


# --------------------------------------------------------------------------------------------
# Worst slices


@dataclass(slots=True)
class _Candidates:
    """Tested slices: codes per column, counts and centred loss sums per slice."""

    keys: list[tuple[tuple[int, int], ...]] = field(default_factory=list)
    count: list[FloatArray] = field(default_factory=list)
    s1: list[FloatArray] = field(default_factory=list)
    s2: list[FloatArray] = field(default_factory=list)

    def add(
        self,
        keys: list[tuple[tuple[int, int], ...]],
        count: FloatArray,
        s1: FloatArray,
        s2: FloatArray,
    ) -> None:
        self.keys.extend(keys)
        self.count.append(count)
        self.s1.append(s1)
        self.s2.append(s2)


def _sums(codes: IntArray, weights: FloatArray, width: int = 0) -> FloatArray:
    """``out[c]`` = sum of ``weights`` over the rows of code ``c`` (float64)."""
    return np.asarray(np.bincount(codes, weights=weights, minlength=width), dtype=np.float64)


def _moments(
    codes: IntArray, loss: FloatArray, width: int = 0
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per code: how many rows have it, the sum of their ``loss`` and of its square."""
    count = np.bincount(codes, minlength=width).astype(np.float64)
    return count, _sums(codes, loss, width), _sums(codes, loss * loss, width)


def _cells(
    codes: IntArray, width: int, loss: FloatArray
) -> tuple[npt.NDArray[Any], FloatArray, FloatArray, FloatArray]:
    """Occupied cells of ``codes`` (< width): the cell ids, counts, sums and sums of squares."""
    if width <= _DENSE_CELLS:
        count, s1, s2 = _moments(codes, loss, width)
        cells = np.flatnonzero(count)
        return cells, count[cells], s1[cells], s2[cells]
    cells, inverse = np.unique(codes, return_inverse=True)
    return cells, *_moments(inverse, loss)


def find_worst_slices(
    y_true: object,
    y_score: object,
    frame: pd.DataFrame,
    *,
    task: Task | None = None,
    min_support: int = 100,
    max_slices: int = 10,
    max_columns: int = 2,
    alpha: float = 0.05,
    metric: str | None = None,
    threshold: float = 0.5,
    bins: int = 10,
    min_effect_size: float = 0.0,
    columns: Sequence[str] | None = None,
) -> tuple[Slice, ...]:
    """The slices of one or two columns where the per-row loss is significantly higher than
    elsewhere, worst first (see the module rules). ``columns`` limits the search (default: every
    column of ``frame``); ``metric`` is the task metric reported per slice (default ``roc_auc``
    or ``rmse``).

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"origin": rng.choice(["EWR", "JFK", "LGA"], 3000)})
    >>> y = rng.integers(0, 2, 3000)
    >>> p = np.where(frame["origin"] == "LGA", 0.5, np.where(y == 1, 0.8, 0.2))
    >>> [s.description for s in find_worst_slices(y, p, frame, min_support=50)]
    ["origin = 'LGA'"]
    """
    func = "find_worst_slices"
    truth, score, data, chosen = _inputs(func, y_true, y_score, frame, task)
    spec = metric_or_default(metric, chosen, subject=f"{func}() argument 'metric'")
    support = check_int(func, "min_support", min_support, low=2)
    limit = check_int(func, "max_slices", max_slices, low=1)
    depth = check_int(func, "max_columns", max_columns, low=1)
    if depth > 2:
        invalid(func, "max_columns", "must be 1 or 2", depth)
    level = check_number(func, "alpha", alpha, low=0.0, high=1.0, open_low=True)
    cut = check_number(func, "threshold", threshold)
    n_bins = check_int(func, "bins", bins, low=2)
    min_effect = check_number(func, "min_effect_size", min_effect_size, low=0.0)
    names = (
        list(data.columns)
        if columns is None
        else [require_column(func, "columns", data, c) for c in columns]
    )
    coded: list[_Coded] = []
    for name in names:
        if _is_temporal(data[name].dtype):
            log.info("find_worst_slices: column %r (%s) skipped", name, data[name].dtype)
            continue
        coded.append(_discretise(str(name), data[name], n_bins))
    loss = per_row_loss(chosen, truth, score)
    mean_loss = float(loss.mean())
    centred = loss - mean_loss
    found = _search(coded, centred, support, depth)
    if not found.keys:
        return ()
    n = float(truth.size)
    count = np.concatenate(found.count)
    s1, s2 = np.concatenate(found.s1), np.concatenate(found.s2)
    total1, total2 = float(centred.sum()), float((centred * centred).sum())
    c_out, o1, o2 = n - count, total1 - s1, total2 - s2
    mean_in, mean_out = s1 / count, o1 / c_out
    var_in = np.maximum(s2 - s1 * s1 / count, 0.0) / (count - 1)
    var_out = np.maximum(o2 - o1 * o1 / c_out, 0.0) / (c_out - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        test = scipy.stats.ttest_ind_from_stats(
            mean_in,
            np.sqrt(var_in),
            count,
            mean_out,
            np.sqrt(var_out),
            c_out,
            equal_var=False,
            alternative="greater",
        )
        effect = (mean_in - mean_out) / np.sqrt((var_in + var_out) / 2.0)
    p_values = np.where(np.isnan(test.pvalue), 1.0, test.pvalue)
    q_values = scipy.stats.false_discovery_control(p_values, method="bh")
    keep = (q_values <= level) & (mean_in > mean_out) & (np.nan_to_num(effect) >= min_effect)
    best_parent: dict[tuple[int, int], float] = {
        found.keys[i][0]: float(effect[i]) for i in np.flatnonzero(keep) if len(found.keys[i]) == 1
    }
    chosen_rows = [
        int(i)
        for i in np.flatnonzero(keep)
        if len(found.keys[i]) == 1
        or all(effect[i] > best_parent.get(parent, -math.inf) for parent in found.keys[i])
    ]
    chosen_rows.sort(key=lambda i: (-effect[i], -count[i], i))
    overall = float(spec.bind(cut)(truth, score))
    out = []
    for i in chosen_rows[:limit]:
        mask = np.ones(truth.size, dtype=np.bool_)
        for column_index, code in found.keys[i]:
            mask &= coded[column_index].codes == code
        rows = np.flatnonzero(mask)
        conditions = tuple(coded[c].conditions[code] for c, code in found.keys[i])
        out.append(
            dataclasses.replace(
                _scored(conditions, rows, spec, overall, cut, truth, score),
                loss=float(mean_in[i] + mean_loss),
                loss_outside=float(mean_out[i] + mean_loss),
                loss_gap=float(mean_in[i] - mean_out[i]),
                effect_size=float(effect[i]),
                p_value=float(p_values[i]),
                q_value=float(q_values[i]),
            )
        )
    return tuple(out)


def _search(coded: list[_Coded], centred: FloatArray, min_support: int, depth: int) -> _Candidates:
    """Count every slice of one column and (depth 2) of two columns with enough support."""
    n = centred.size
    found = _Candidates()
    supports: list[FloatArray] = []
    for index, c in enumerate(coded):
        count, s1, s2 = _moments(c.codes, centred, len(c.conditions))
        supports.append(count)
        ok = np.flatnonzero((count >= min_support) & (count <= n - 2))
        found.add([((index, int(code)),) for code in ok], count[ok], s1[ok], s2[ok])
    if depth < 2:
        return found
    for i, j in itertools.combinations(range(len(coded)), 2):
        a, b = coded[i], coded[j]
        k_b = len(b.conditions)
        combined = a.codes * k_b + b.codes
        cells, count, s1, s2 = _cells(combined, len(a.conditions) * k_b, centred)
        code_a, code_b = cells // k_b, cells % k_b
        same_as_parent = (count == supports[i][code_a]) | (count == supports[j][code_b])
        ok = np.flatnonzero((count >= min_support) & (count <= n - 2) & ~same_as_parent)
        found.add(
            [((i, int(code_a[o])), (j, int(code_b[o]))) for o in ok],
            count[ok],
            s1[ok],
            s2[ok],
        )
    return found
