"""Bootstrap confidence intervals for a metric, and for one model's gain over another (paired).

:func:`bootstrap_ci` returns an :class:`Estimate` (the metric on the whole sample and its
interval); :func:`compare_to_baseline` returns a :class:`Gain` (candidate minus baseline).
Rules:

- **Resamples** are rows drawn with replacement, ``n`` per resample: the index matrix
  ``numpy.random.default_rng(seed).integers(0, n, (n_resamples, n))``, drawn a block of rows
  at a time to bound memory (the blocks hold the same indices as one draw). These are the
  indices ``scipy.stats.bootstrap(data, statistic, paired=True, rng=default_rng(seed))`` draws,
  so both methods below give scipy's interval for the same seed (tested).
- ``method="percentile"``: the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
  quantiles of the bootstrap values (linear interpolation, as ``np.quantile`` and
  ``scipy.stats.quantile``). ``method="bca"``: Efron's bias-corrected and accelerated interval,
  computed as scipy does: the bias ``z0`` from the share of bootstrap values below the
  whole-sample value (ties count half), the acceleration from the jackknife (the metric on every
  leave-one-out sample). ``value`` is always the metric on the whole sample.
- **Undefined resamples** (``metric_fn`` raises :class:`~loopml.core.errors.InvalidInput` or
  returns NaN, as ROC AUC does on a resample holding one class) are dropped and counted in
  ``n_undefined``; the interval comes from the rest, so it is conditional on the metric being
  defined. More than ``max_undefined`` of them (a share of ``n_resamples``, default 5%) is an
  ``InvalidInput``. Any other exception of ``metric_fn`` propagates.
- **Speed**: the metrics of :mod:`loopml.evaluate.metrics` are evaluated on whole blocks of
  resamples by their :func:`~loopml.evaluate.metrics.fast_resampler` (ROC AUC re-counts tied
  groups instead of sorting each resample; BCa's jackknife for ROC AUC, the threshold and the
  mean-loss metrics is closed-form). Any other callable is called once per resample with
  ``(y_true[idx], y_pred[idx])`` as numpy arrays, and for BCa once per row left out, which is
  refused above 10,000 rows.
- A bootstrap distribution with a single value (e.g. two identical models) gives
  ``low == high == that value`` for both methods.
- :func:`compare_to_baseline` is **paired**: each resample takes the same rows for both models,
  so the interval of ``delta = metric(candidate) - metric(baseline)`` is not widened by the
  variation both models share. A positive delta means the candidate scores higher: better for
  ROC AUC, worse for a loss such as RMSE. Undefined means undefined for either model.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.special import ndtr, ndtri

from loopml.core.errors import InvalidInput, verbatim
from loopml.evaluate._checks import invalid as _invalid
from loopml.evaluate.metrics import IndexMatrix, fast_resampler

__all__ = ["Estimate", "Gain", "Interval", "Method", "bootstrap_ci", "compare_to_baseline"]

Method = Literal["percentile", "bca"]
Seed = int | np.random.Generator
FloatArray = npt.NDArray[np.float64]
#: ``metric_fn(y_true, y_pred) -> float``, called with numpy arrays.
MetricFn = Callable[[Any, Any], float]

_METHODS = ("percentile", "bca")
#: Index elements drawn per block of resamples (bounds memory: 16 MiB of int64 indices).
_BLOCK_ELEMENTS = 1 << 21
#: Rows above which BCa's jackknife is refused for a metric without a closed form (n² work).
_JACKKNIFE_LOOP_ROWS = 10_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Interval:
    """A bootstrap confidence interval ``[low, high]`` and how it was obtained."""

    low: float
    high: float
    confidence: float
    n_resamples: int
    method: Method
    #: Resamples dropped because the metric was undefined on them.
    n_undefined: int
    #: Standard deviation (ddof=1) of the kept bootstrap values.
    standard_error: float

    def to_dict(self) -> dict[str, Any]:
        """Plain, JSON-ready fields."""
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate(Interval):
    """A metric on the whole sample (``value``) with its bootstrap confidence interval."""

    value: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Gain(Interval):
    """``delta = candidate - baseline`` (metric on the whole sample) with its paired interval;
    ``candidate`` and ``baseline`` are the metric of each model on the whole sample."""

    delta: float
    candidate: float
    baseline: float


# --------------------------------------------------------------------------- arguments


def _array(func: str, arg: str, values: object) -> npt.NDArray[Any]:
    arr = values.to_numpy() if isinstance(values, pd.Series | pd.Index) else np.asarray(values)
    if arr.ndim == 0:
        _invalid(func, arg, "must be an array of one value per row", verbatim("a scalar"))
    return arr


def _rows(func: str, arrays: dict[str, npt.NDArray[Any]]) -> int:
    lengths = {name: len(arr) for name, arr in arrays.items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{name}: {n}" for name, n in lengths.items())
        _invalid(func, ", ".join(lengths), "must have the same length", verbatim(shown))
    n = next(iter(lengths.values()))
    if n < 2:
        _invalid(func, "y_true", "must hold at least 2 rows to resample", verbatim(f"{n} row(s)"))
    return n


def _check_options(
    func: str, n_resamples: int, confidence: float, method: str, max_undefined: float
) -> None:
    if (
        isinstance(n_resamples, bool)
        or not isinstance(n_resamples, numbers.Integral)
        or n_resamples < 2
    ):
        _invalid(
            func, "n_resamples", "must be an int of at least 2", n_resamples, "use 1000 or more"
        )
    if not isinstance(confidence, numbers.Real) or not 0.0 < float(confidence) < 1.0:
        _invalid(func, "confidence", "must be a number strictly between 0 and 1", confidence)
    if method not in _METHODS:
        _invalid(func, "method", f"must be one of {', '.join(map(repr, _METHODS))}", method)
    if not isinstance(max_undefined, numbers.Real) or not 0.0 <= float(max_undefined) < 1.0:
        _invalid(func, "max_undefined", "must be a share in [0, 1)", max_undefined)


def _generator(func: str, seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or int(seed) < 0:
        _invalid(func, "seed", "must be a non-negative int or a numpy.random.Generator", seed)
    return np.random.default_rng(int(seed))


# --------------------------------------------------------------------------- statistics


def _call(metric_fn: MetricFn, y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any]) -> float:
    """The metric on one resample; NaN where it is undefined (InvalidInput or a NaN result)."""
    try:
        value = float(metric_fn(y_true, y_pred))
    except InvalidInput:
        return math.nan
    return value if math.isfinite(value) else math.nan


class _Statistic:
    """One model's metric: on the whole sample, on blocks of resamples, leaving one row out."""

    def __init__(
        self, func: str, metric_fn: MetricFn, y_true: npt.NDArray[Any], y_pred: npt.NDArray[Any]
    ) -> None:
        # The whole sample is evaluated outside _call: a bad input raises, never counts as NaN.
        value = float(metric_fn(y_true, y_pred))
        if not math.isfinite(value):
            _invalid(
                func,
                "metric_fn",
                "must return a finite number on the whole sample",
                value,
                "check the inputs; the metric is undefined on them",
            )
        self.value = value
        self.metric_fn = metric_fn
        self.y_true = y_true
        self.y_pred = y_pred
        self.fast = fast_resampler(metric_fn, y_true, y_pred)

    def on(self, indices: IndexMatrix) -> FloatArray:
        if self.fast is not None:
            return self.fast(indices)
        return np.array(
            [_call(self.metric_fn, self.y_true[rows], self.y_pred[rows]) for rows in indices],
            dtype=np.float64,
        )

    def leave_one_out(self, func: str) -> FloatArray:
        values = self.fast.leave_one_out() if self.fast is not None else None
        if values is not None:
            return values
        n = len(self.y_true)
        if n > _JACKKNIFE_LOOP_ROWS:
            _invalid(
                func,
                "method",
                f"'bca' needs the metric on every leave-one-out sample, which for a metric "
                f"without a closed form is limited to {_JACKKNIFE_LOOP_ROWS:,} rows",
                verbatim(f"{n:,} rows"),
                "use method='percentile'",
            )
        keep = np.ones(n, dtype=bool)
        out = np.empty(n)
        for i in range(n):
            keep[i] = False
            out[i] = _call(self.metric_fn, self.y_true[keep], self.y_pred[keep])
            keep[i] = True
        return out


def _blocks(rng: np.random.Generator, n: int, n_resamples: int) -> Iterator[IndexMatrix]:
    """The rows of ``rng.integers(0, n, (n_resamples, n))``, a block at a time."""
    per_block = max(1, _BLOCK_ELEMENTS // n)
    for start in range(0, n_resamples, per_block):
        yield rng.integers(0, n, (min(per_block, n_resamples - start), n))


def _interval(
    func: str,
    values: FloatArray,
    value: float,
    confidence: float,
    method: Method,
    jackknife: Callable[[], FloatArray],
    max_undefined: float,
) -> dict[str, Any]:
    """The :class:`Interval` fields (as keywords) from the bootstrap values."""
    kept = values[~np.isnan(values)]
    n_undefined = values.size - kept.size
    if n_undefined > max_undefined * values.size or kept.size < 2:
        _invalid(
            func,
            "y_true",
            f"must leave the metric defined on all but {max_undefined:.0%} of the resamples",
            verbatim(f"undefined on {n_undefined} of {values.size} resamples"),
            "evaluate on more rows (for ROC AUC: more of the rarer class), "
            "or raise max_undefined knowingly",
        )
    if kept.min() == kept.max():  # no spread: the interval is the single value
        low = high = float(kept[0])
    else:
        alpha = (1.0 - confidence) / 2.0
        if method == "percentile":
            levels = [alpha, 1.0 - alpha]
        else:
            levels = _bca_levels(func, kept, value, alpha, jackknife())
        low, high = (float(q) for q in np.quantile(kept, levels))
    return {
        "low": low,
        "high": high,
        "confidence": confidence,
        "n_resamples": int(values.size),
        "method": method,
        "n_undefined": n_undefined,
        "standard_error": float(np.std(kept, ddof=1)),
    }


def _bca_levels(
    func: str, kept: FloatArray, value: float, alpha: float, loo: FloatArray
) -> list[float]:
    """The quantile levels of the BCa interval (Efron & Tibshirani 14.3, 15.4; as scipy)."""
    share = (np.count_nonzero(kept < value) + np.count_nonzero(kept <= value)) / (2 * kept.size)
    z0 = float(ndtri(share))
    if np.isnan(loo).any():
        _invalid(
            func,
            "method",
            "'bca' needs the metric defined on every leave-one-out sample",
            verbatim(f"undefined without {int(np.isnan(loo).sum())} of the rows"),
            "use method='percentile' (for ROC AUC, BCa needs 2 rows of each class)",
        )
    n = float(loo.size)
    spread = (n - 1) * (loo.mean() - loo)
    accel = float(np.sum(spread**3) / n**3 / (np.sum(spread**2) / n**2) ** 1.5 / 6)
    z = float(ndtri(alpha))
    levels = [float(ndtr(z0 + (z0 + q) / (1 - accel * (z0 + q)))) for q in (z, -z)]
    if not all(math.isfinite(level) for level in levels):
        _invalid(
            func,
            "method",
            "'bca' cannot be computed: the bootstrap values all lie on one side of the "
            "whole-sample value, or the jackknife values are all equal",
            verbatim(f"z0={z0}, acceleration={accel}"),
            "use method='percentile'",
        )
    return levels


# --------------------------------------------------------------------------- public


def bootstrap_ci(
    metric_fn: MetricFn,
    y_true: object,
    y_pred: object,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: Seed,
    method: Method = "percentile",
    max_undefined: float = 0.05,
) -> Estimate:
    """The metric on the whole sample, with a bootstrap confidence interval.

    >>> from loopml.evaluate.metrics import roc_auc
    >>> y = [0, 0, 1, 1, 0, 1, 0, 1, 1, 0] * 3
    >>> s = [0.1, 0.4, 0.35, 0.8, 0.2, 0.7, 0.6, 0.9, 0.3, 0.5] * 3
    >>> e = bootstrap_ci(roc_auc, y, s, seed=7)
    >>> e.value, e.low < e.value < e.high, e.n_resamples
    (0.76, True, 1000)
    """
    func = "bootstrap_ci"
    _check_options(func, n_resamples, confidence, method, max_undefined)
    rng = _generator(func, seed)
    truth, pred = _array(func, "y_true", y_true), _array(func, "y_pred", y_pred)
    n = _rows(func, {"y_true": truth, "y_pred": pred})
    stat = _Statistic(func, metric_fn, truth, pred)
    values = np.concatenate([stat.on(block) for block in _blocks(rng, n, n_resamples)])
    interval = _interval(
        func,
        values,
        stat.value,
        float(confidence),
        method,
        lambda: stat.leave_one_out(func),
        float(max_undefined),
    )
    return Estimate(value=stat.value, **interval)


def compare_to_baseline(
    metric_fn: MetricFn,
    y_true: object,
    candidate: object,
    baseline: object,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: Seed,
    method: Method = "percentile",
    max_undefined: float = 0.05,
) -> Gain:
    """``metric(candidate) - metric(baseline)`` with a paired bootstrap confidence interval.

    >>> from loopml.evaluate.metrics import roc_auc
    >>> y = [0, 1] * 20
    >>> g = compare_to_baseline(roc_auc, y, [0.2, 0.8] * 20, [0.5, 0.5] * 20, seed=1)
    >>> g.delta, g.low, g.high
    (0.5, 0.5, 0.5)
    """
    func = "compare_to_baseline"
    _check_options(func, n_resamples, confidence, method, max_undefined)
    rng = _generator(func, seed)
    truth = _array(func, "y_true", y_true)
    cand, base = _array(func, "candidate", candidate), _array(func, "baseline", baseline)
    n = _rows(func, {"y_true": truth, "candidate": cand, "baseline": base})
    first = _Statistic(func, metric_fn, truth, cand)
    second = _Statistic(func, metric_fn, truth, base)
    values = np.concatenate(
        [first.on(block) - second.on(block) for block in _blocks(rng, n, n_resamples)]
    )
    delta = first.value - second.value
    interval = _interval(
        func,
        values,
        delta,
        float(confidence),
        method,
        lambda: first.leave_one_out(func) - second.leave_one_out(func),
        float(max_undefined),
    )
    return Gain(delta=delta, candidate=first.value, baseline=second.value, **interval)
