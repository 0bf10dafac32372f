"""Behavioural tests: declared expectations about how a model's predictions react to a change
of its input (the "invariance", "directional expectation" and perturbation tests of CheckList,
Ribeiro et al., 2020, applied to tables).

Each test is a small frozen dataclass, validated when built, whose ``run(predict, frame)`` returns
a :class:`BehaviourResult`. ``predict`` is any callable from a DataFrame to one score per row
(a probability of class 1, or a regression prediction). Rules:

- **Rows.** A test uses at most ``max_rows`` rows of ``frame``: a sample without replacement
  drawn with ``numpy.random.default_rng(seed)`` when the frame is larger (the result says how
  many rows it used). The statistic is a share of rows, whose standard error at 10,000 rows is
  below 0.5 percentage point.
- :class:`Invariance`: changing ``column`` must not change the prediction by more than
  ``tolerance``. ``values=None`` (or ``"permute"``) shuffles the column across the sampled rows
  with a seeded permutation; a sequence of values sets every row to each value in turn. A row is
  *tested* when its value actually changed, and *fails* when any change moved its prediction by
  more than ``tolerance``. ``measured`` is the share of tested rows that fail; the test passes
  when it is at most ``max_fail_rate``. A column the model does not use passes with 0.
- :class:`Directional`: adding ``delta`` to a numeric ``column`` must move the prediction in the
  ``expect``-ed direction or leave it (``increase``: the new prediction is not below the old one
  minus ``tolerance``). ``delta=None`` uses the column's standard deviation in the sample. An
  integer column stays integer when ``delta`` is a whole number. Rows with a missing value are
  not tested. ``measured`` is the share of tested rows that move the wrong way.
- :class:`Perturbation`: noise on ``columns`` must not worsen ``metric`` by more than
  ``max_drop``. Numbers get Gaussian noise of ``noise`` times the column's standard deviation
  (rounded for integer columns, so the dtype is kept); other columns have a share ``noise`` of
  their values replaced by the value of a random row. ``measured`` is the metric's drop (signed
  so that positive means worse, whatever the metric's direction); ``failing_rows`` is None.
  This test needs the truth: ``run(..., y_true=...)``.
- ``examples`` holds up to 5 failing rows (their index label, the values before and after, the
  predictions before and after), JSON-ready.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from loopml.core.errors import InvalidInput, did_you_mean, user_message, verbatim
from loopml.evaluate._checks import (
    Forms,
    as_values,
    check_frame,
    check_predict,
    invalid,
    json_scalar,
    parse_keyed,
    require_column,
    sample_positions,
)
from loopml.evaluate._checks import field_error as _field
from loopml.evaluate.catalog import Task, check_task, metric_or_default, metric_spec
from loopml.evaluate.slices import infer_task

__all__ = [
    "BehaviourResult",
    "BehaviourTest",
    "Directional",
    "Invariance",
    "Kind",
    "Perturbation",
    "Predict",
    "parse_behaviour",
]

Kind = Literal["invariance", "directional", "perturbation"]
Predict = Callable[[pd.DataFrame], Any]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
#: Failing rows shown in a result.
_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class BehaviourResult:
    """The outcome of one behavioural test (see the module rules for ``measured``)."""

    name: str
    kind: Kind
    passed: bool
    measured: float
    threshold: float
    rows: int
    failing_rows: int | None
    examples: tuple[dict[str, Any], ...] = ()
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "passed": self.passed,
            "measured": self.measured,
            "threshold": self.threshold,
            "rows": self.rows,
            "failing_rows": self.failing_rows,
            "examples": [dict(e) for e in self.examples],
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BehaviourResult:
        return cls(
            name=data["name"],
            kind=data["kind"],
            passed=bool(data["passed"]),
            measured=float(data["measured"]),
            threshold=float(data["threshold"]),
            rows=int(data["rows"]),
            failing_rows=None if data["failing_rows"] is None else int(data["failing_rows"]),
            examples=tuple(dict(e) for e in data.get("examples", ())),
            detail=data.get("detail", ""),
        )


# --------------------------------------------------------------------------------------------
# Shared plumbing


def _share(owner: str, name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not 0.0 <= float(value) <= 1.0
    ):
        raise _field(owner, name, "must be a share in [0, 1]", value)
    return float(value)


def _non_negative(owner: str, name: str, value: object) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(float(value))
        or float(value) < 0.0
    ):
        raise _field(owner, name, "must be a finite number >= 0", value)
    return float(value)


def _positive_int(owner: str, name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or int(value) < 1:
        raise _field(owner, name, "must be an int >= 1", value)
    return int(value)


def _column_name(owner: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _field(owner, "column", "must be a column name (a non-empty string)", value)
    return value


def _share_fields(test: Invariance | Directional, owner: str) -> None:
    """Check and normalise the fields of a test measured as a share of failing rows."""
    object.__setattr__(test, "tolerance", _non_negative(owner, "tolerance", test.tolerance))
    object.__setattr__(test, "max_fail_rate", _share(owner, "max_fail_rate", test.max_fail_rate))
    object.__setattr__(test, "max_rows", _positive_int(owner, "max_rows", test.max_rows))


@dataclass(frozen=True, slots=True)
class _Rows:
    """The checked frame of a run and its seeded sample (re-indexed 0..m-1)."""

    data: pd.DataFrame
    sample: pd.DataFrame
    positions: npt.NDArray[Any]
    #: The index labels of the sampled rows (shown in the examples).
    labels: npt.NDArray[Any]


def _rows(
    func: str, predict: object, frame: object, columns: Sequence[str], max_rows: int, seed: int
) -> _Rows:
    """The checks every run starts with, then at most ``max_rows`` rows (seeded, in frame
    order)."""
    check_predict(func, "predict", predict)
    data = check_frame(func, "frame", frame)
    for column in columns:
        require_column(func, "frame", data, column)
    chosen = sample_positions(len(data), max_rows, seed)
    positions = np.arange(len(data)) if chosen is None else chosen
    sample = data.iloc[positions].reset_index(drop=True)
    return _Rows(data, sample, positions, data.index.to_numpy()[positions])


def _failure_share(
    test: Invariance | Directional,
    n_tested: int,
    n_failing: int,
    examples: tuple[dict[str, Any], ...],
    detail: str,
) -> BehaviourResult:
    """The result of a test that passes when at most ``max_fail_rate`` of the tested rows fail."""
    rate = n_failing / n_tested if n_tested else 0.0
    return BehaviourResult(
        test.label,
        test.kind,
        rate <= test.max_fail_rate,
        rate,
        test.max_fail_rate,
        n_tested,
        n_failing,
        examples,
        detail,
    )


def _predict(func: str, predict: Predict, frame: pd.DataFrame) -> FloatArray:
    try:
        raw = np.asarray(predict(frame), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput(
            user_message(
                f"{func}: predict",
                "must return one number per row",
                verbatim(f"{type(exc).__name__}: {exc}"),
            )
        ) from exc
    if raw.ndim != 1 or raw.size != len(frame) or not np.isfinite(raw).all():
        raise InvalidInput(
            user_message(
                f"{func}: predict",
                "must return one finite number per row (a 1-d array)",
                verbatim(f"an array of shape {raw.shape}"),
                "wrap the model: lambda df: model.predict_proba(df)[:, 1]",
            )
        )
    return raw


def _examples(
    labels: npt.NDArray[Any],
    before: Mapping[str, npt.NDArray[Any]],
    after: Mapping[str, npt.NDArray[Any]],
    old: FloatArray,
    new: FloatArray,
    rows: npt.NDArray[Any],
) -> tuple[dict[str, Any], ...]:
    """Up to 5 rows: index label, column values before and after, predictions before and after."""
    return tuple(
        {
            "row": json_scalar(labels[r]),
            "before": {c: json_scalar(v[r]) for c, v in before.items()},
            "after": {c: json_scalar(v[r]) for c, v in after.items()},
            "prediction_before": float(old[r]),
            "prediction_after": float(new[r]),
        }
        for r in rows[:_EXAMPLES]
    )


def _objects(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, npt.NDArray[Any]]:
    return {c: frame[c].to_numpy(dtype=object) for c in columns}


def _differs(before: pd.Series[Any], after: pd.Series[Any]) -> BoolArray:
    """Whether a value changed (missing to missing is no change)."""
    a = before.to_numpy(dtype=object)
    b = after.to_numpy(dtype=object)
    missing_a, missing_b = pd.isna(a), pd.isna(b)
    equal = np.array([x == y for x, y in zip(a, b, strict=True)], dtype=bool)
    return np.asarray(~((missing_a & missing_b) | (~missing_a & ~missing_b & equal)))


# --------------------------------------------------------------------------------------------
# Tests


@dataclass(frozen=True, slots=True)
class Invariance:
    """Changing ``column`` must not change the prediction (see the module rules)."""

    column: str
    values: Sequence[Any] | Literal["permute"] | None = None
    tolerance: float = 1e-6
    max_fail_rate: float = 0.0
    max_rows: int = 10_000
    seed: int = 0
    name: str | None = None

    kind: ClassVar[Kind] = "invariance"

    def __post_init__(self) -> None:
        owner = f"Invariance({self.column!r})"
        _column_name(owner, self.column)
        values = self.values
        if isinstance(values, str) and values == "permute":
            values = None
        elif values is not None:
            if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
                raise _field(
                    owner,
                    "values",
                    "must be None or 'permute' (shuffle the column) or a list of values",
                    values,
                )
            values = tuple(values)
            if not values:
                raise _field(owner, "values", "must hold at least one value", list(values))
        object.__setattr__(self, "values", values)
        _share_fields(self, owner)

    @property
    def label(self) -> str:
        return self.name or f"invariance({self.column})"

    def run(
        self,
        predict: Predict,
        frame: pd.DataFrame,
        *,
        y_true: object = None,
        task: Task | None = None,
        threshold: float = 0.5,
    ) -> BehaviourResult:
        """Run the test on ``frame`` (``y_true``, ``task`` and ``threshold`` are not used)."""
        func = "Invariance.run"
        rows = _rows(func, predict, frame, [self.column], self.max_rows, self.seed)
        sample = rows.sample
        base = _predict(func, predict, sample)
        tested = np.zeros(len(sample), dtype=bool)
        failing = np.zeros(len(sample), dtype=bool)
        # Per row, the first change that moved its prediction (shown in the examples).
        after = sample[self.column].to_numpy(dtype=object).copy()
        after_pred = base.copy()
        variants: list[pd.DataFrame] = []
        if self.values is None:
            shuffled = sample.copy()
            order = np.random.default_rng(self.seed).permutation(len(sample))
            shuffled[self.column] = sample[self.column].to_numpy()[order]
            variants.append(shuffled)
        else:
            for value in self.values:
                changed = sample.copy()
                changed[self.column] = value
                variants.append(changed)
        for variant in variants:
            moved = _differs(sample[self.column], variant[self.column])
            pred = _predict(func, predict, variant)
            fails = moved & (np.abs(pred - base) > self.tolerance)
            first = fails & ~failing
            after[first] = variant[self.column].to_numpy(dtype=object)[first]
            after_pred[first] = pred[first]
            tested |= moved
            failing |= fails
        n_tested, n_failing = int(tested.sum()), int(failing.sum())
        detail = (
            f"{n_failing} of {n_tested} rows changed their prediction by more than "
            f"{self.tolerance:g} when {self.column!r} changed"
        )
        if n_tested == 0:
            detail = f"no row changed: {self.column!r} holds one value in the {len(sample)} rows"
        return _failure_share(
            self,
            n_tested,
            n_failing,
            _examples(
                rows.labels,
                _objects(sample, [self.column]),
                {self.column: after},
                base,
                after_pred,
                np.flatnonzero(failing),
            ),
            detail,
        )


@dataclass(frozen=True, slots=True)
class Directional:
    """Adding ``delta`` to ``column`` must move the prediction the ``expect``-ed way."""

    column: str
    delta: float | None = None
    expect: Literal["increase", "decrease"] = "increase"
    tolerance: float = 0.0
    max_fail_rate: float = 0.0
    max_rows: int = 10_000
    seed: int = 0
    name: str | None = None

    kind: ClassVar[Kind] = "directional"

    def __post_init__(self) -> None:
        owner = f"Directional({self.column!r})"
        _column_name(owner, self.column)
        if self.delta is not None and (
            isinstance(self.delta, bool)
            or not isinstance(self.delta, numbers.Real)
            or not math.isfinite(float(self.delta))
            or float(self.delta) == 0.0
        ):
            raise _field(owner, "delta", "must be a finite non-zero number or None", self.delta)
        if self.expect not in ("increase", "decrease"):
            raise _field(
                owner,
                "expect",
                "must be 'increase' or 'decrease'",
                self.expect,
                did_you_mean(self.expect, ("increase", "decrease")),
            )
        _share_fields(self, owner)

    @property
    def label(self) -> str:
        return self.name or f"directional({self.column}, {self.expect})"

    def run(
        self,
        predict: Predict,
        frame: pd.DataFrame,
        *,
        y_true: object = None,
        task: Task | None = None,
        threshold: float = 0.5,
    ) -> BehaviourResult:
        """Run the test on ``frame`` (``y_true``, ``task`` and ``threshold`` are not used)."""
        func = "Directional.run"
        rows = _rows(func, predict, frame, [self.column], self.max_rows, self.seed)
        column = rows.data[self.column]
        if not pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(
            column.dtype
        ):
            invalid(
                func,
                "frame",
                f"must hold numbers in column {self.column!r} for a directional test",
                verbatim(f"dtype {column.dtype}"),
                "use Invariance for a categorical column",
            )
        sample = rows.sample
        values = sample[self.column]
        delta = self.delta
        if delta is None:
            delta = float(values.std())
            if not math.isfinite(delta) or delta == 0.0:
                invalid(
                    func,
                    "frame",
                    f"must vary in column {self.column!r} when delta=None (its std is the delta)",
                    delta,
                    "pass delta explicitly",
                )
        shifted = sample.copy()
        whole = float(delta).is_integer() and pd.api.types.is_integer_dtype(values.dtype)
        shifted[self.column] = values + (int(delta) if whole else float(delta))
        present = values.notna().to_numpy()
        base = _predict(func, predict, sample)
        pred = _predict(func, predict, shifted)
        sign = 1.0 if self.expect == "increase" else -1.0
        wrong = present & (sign * (pred - base) < -self.tolerance)
        n_tested, n_failing = int(present.sum()), int(wrong.sum())
        return _failure_share(
            self,
            n_tested,
            n_failing,
            _examples(
                rows.labels,
                _objects(sample, [self.column]),
                _objects(shifted, [self.column]),
                base,
                pred,
                np.flatnonzero(wrong),
            ),
            f"{n_failing} of {n_tested} rows moved against the expected {self.expect} when "
            f"{self.column!r} changed by {delta:+g}",
        )


@dataclass(frozen=True, slots=True)
class Perturbation:
    """Noise on ``columns`` must not worsen ``metric`` by more than ``max_drop``."""

    columns: Sequence[str]
    noise: float = 0.1
    max_drop: float = 0.01
    metric: str | None = None
    max_rows: int = 10_000
    seed: int = 0
    name: str | None = None

    kind: ClassVar[Kind] = "perturbation"

    def __post_init__(self) -> None:
        columns = (self.columns,) if isinstance(self.columns, str) else self.columns
        owner = f"Perturbation({columns!r})"
        if not isinstance(columns, Sequence) or not columns:
            raise _field(owner, "columns", "must name at least one column", self.columns)
        for column in columns:
            _column_name(owner, column)
        object.__setattr__(self, "columns", tuple(columns))
        if (
            isinstance(self.noise, bool)
            or not isinstance(self.noise, numbers.Real)
            or not 0.0 < float(self.noise) <= 1.0e6
        ):
            raise _field(owner, "noise", "must be a number > 0", self.noise)
        object.__setattr__(self, "noise", float(self.noise))
        object.__setattr__(self, "max_drop", _non_negative(owner, "max_drop", self.max_drop))
        if self.metric is not None:
            metric_spec(self.metric, subject=f"{owner} field 'metric'")
        object.__setattr__(self, "max_rows", _positive_int(owner, "max_rows", self.max_rows))

    @property
    def label(self) -> str:
        return self.name or f"perturbation({', '.join(self.columns)})"

    def _noisy(self, sample: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        noisy = sample.copy()
        m = len(sample)
        for column in self.columns:
            values = sample[column]
            numeric = pd.api.types.is_numeric_dtype(values.dtype)
            if numeric and not pd.api.types.is_bool_dtype(values.dtype):
                scale = float(values.std()) * self.noise
                scale = scale if math.isfinite(scale) else 0.0
                shift = rng.normal(0.0, scale, m) if scale > 0 else np.zeros(m)
                if pd.api.types.is_integer_dtype(values.dtype):
                    noisy[column] = values + np.rint(shift).astype(np.int64)
                else:
                    noisy[column] = values + shift
            else:
                swap = rng.random(m) < min(self.noise, 1.0)
                donors = rng.integers(0, m, m)
                replaced = values.to_numpy(dtype=object).copy()
                replaced[swap] = values.to_numpy(dtype=object)[donors[swap]]
                noisy[column] = pd.Series(replaced, dtype=values.dtype)
        return noisy

    def run(
        self,
        predict: Predict,
        frame: pd.DataFrame,
        *,
        y_true: object = None,
        task: Task | None = None,
        threshold: float = 0.5,
    ) -> BehaviourResult:
        """Run the test: the metric on ``frame`` against the metric on a noisy copy."""
        func = "Perturbation.run"
        rows = _rows(func, predict, frame, self.columns, self.max_rows, self.seed)
        if y_true is None:
            invalid(
                func,
                "y_true",
                "is needed: the test compares a metric with and without noise",
                fix="pass y_true=the target values, one per row of frame",
            )
        truth_all = as_values(func, "y_true", y_true, len(rows.data))
        chosen = infer_task(truth_all) if task is None else check_task(task)
        spec = metric_or_default(self.metric, chosen)
        sample = rows.sample
        truth = truth_all[rows.positions]
        noisy = self._noisy(sample, np.random.default_rng(self.seed))
        base = _predict(func, predict, sample)
        pred = _predict(func, predict, noisy)
        metric_fn = spec.bind(threshold)
        clean, perturbed = float(metric_fn(truth, base)), float(metric_fn(truth, pred))
        drop = spec.gain(clean, perturbed)
        moved = np.argsort(-np.abs(pred - base), kind="stable")
        moved = moved[np.abs(pred - base)[moved] > 0]
        return BehaviourResult(
            self.label,
            self.kind,
            drop <= self.max_drop,
            drop,
            self.max_drop,
            len(sample),
            None,
            _examples(
                rows.labels,
                _objects(sample, self.columns),
                _objects(noisy, self.columns),
                base,
                pred,
                moved,
            ),
            f"{spec.name} {clean:.6g} without noise, {perturbed:.6g} with noise "
            f"{self.noise:g} on {', '.join(self.columns)}",
        )


BehaviourTest: TypeAlias = Invariance | Directional | Perturbation
_COMMON = ("max_rows", "seed", "name")
#: Configuration key -> (test, the field the key's value fills, the other fields).
_KEYS: Forms = {
    kind: (cls, first, {f: f for f in (*fields, *_COMMON)})
    for kind, cls, first, fields in (
        ("invariance", Invariance, "column", ("values", "tolerance", "max_fail_rate")),
        ("directional", Directional, "column", ("delta", "expect", "tolerance", "max_fail_rate")),
        ("perturbation", Perturbation, "columns", ("noise", "max_drop", "metric")),
    )
}


def parse_behaviour(spec: Mapping[str, Any]) -> BehaviourTest:
    """A test from its configuration form: one key naming the kind and its column(s), plus
    the test's fields.

    >>> parse_behaviour({"directional": "distance", "expect": "increase"})
    Directional(column='distance', delta=None, expect='increase', tolerance=0.0, \
max_fail_rate=0.0, max_rows=10000, seed=0, name=None)
    >>> parse_behaviour({"perturbation": ["distance"], "noise": 0.1, "max_drop": 0.02}).columns
    ('distance',)
    """
    test: BehaviourTest = parse_keyed(spec, "behaviour test", "test", _KEYS)
    return test
