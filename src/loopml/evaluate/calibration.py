"""Calibration of binary classifiers: reliability curves, calibration errors and recalibrators.

Pure functions over 1-d arrays (numpy, lists or pandas Series); nothing is read or written.

Inputs (every function):

- ``y_true``: the labels, 0/1 (bool, int or float 0.0/1.0; a nullable pandas dtype works when
  it holds no missing value). Both classes must be present.
- ``y_prob``: the predicted probability of the positive class (label 1), finite and in [0, 1];
  the same length as ``y_true``. A 2-d ``predict_proba`` output is refused: pass ``[:, 1]``.
- Anything else raises :class:`~loopml.core.errors.InvalidInput` naming the function, the
  argument, the rule and the value. Strings are never read as numbers.

Binning (:func:`reliability_curve`, :func:`expected_calibration_error`,
:func:`max_calibration_error`) is exactly that of :func:`sklearn.calibration.calibration_curve`:

- ``strategy="uniform"``: edges ``numpy.linspace(0, 1, n_bins + 1)``;
  ``strategy="quantile"``: edges ``numpy.percentile(y_prob, linspace(0, 1, n_bins + 1) * 100)``
  (linear interpolation; tied probabilities can make equal edges, hence empty bins).
- Bins are closed on the right: a probability ``p`` goes to bin ``i`` when
  ``edges[i] < p <= edges[i + 1]``; the first bin also takes ``p <= edges[1]`` and the last
  ``p > edges[-2]`` (``numpy.searchsorted`` on the inner edges, side ``"left"``).
- Empty bins are dropped from the curve and from both errors.
- With ``n_b`` predictions in bin ``b`` (``N`` in all), ``acc_b`` the fraction of positives and
  ``conf_b`` the mean predicted probability there:
  ``ECE = sum_b (n_b / N) * |acc_b - conf_b|`` and ``MCE = max_b |acc_b - conf_b|``.

Recalibration (:func:`fit_recalibration`) maps scores to calibrated probabilities:

- ``"platt"``: ``expit(slope * logit(clip(p, eps, 1 - eps)) + intercept)`` with
  ``eps = 1e-12`` (:data:`LOGIT_CLIP`, the ``eps`` scikit-learn uses to take logs of
  probabilities), so 0 and 1 map to about -27.6 and 27.6 instead of infinities. ``slope`` and
  ``intercept`` maximise the Bernoulli likelihood of the labels (an unpenalised logistic
  regression on the logit), which is the sigmoid of scikit-learn's
  ``CalibratedClassifierCV(method="sigmoid")`` with two differences: scikit-learn fits on the raw
  ``predict_proba`` score (we fit on its logit, so a calibrated score is the identity
  ``slope=1, intercept=0``) and on Platt's smoothed targets ``(N+ + 1)/(N+ + 2)`` and
  ``1/(N- + 2)`` (we fit on the labels: the maximum-likelihood solution). A score with a single
  value gets ``slope=0`` and the base rate; scores that separate the classes perfectly have no
  finite solution and raise :class:`InvalidInput` (use ``"isotonic"``). The fit is scipy's
  exact-Newton trust region from the identity ``(1, 0)``, accepted when both components of the
  mean log-loss gradient are below 1e-8.
- ``"isotonic"``: scikit-learn's ``IsotonicRegression(out_of_bounds="clip")`` fitted on
  ``(y_prob, y_true)``. Its thresholds are kept, and :meth:`IsotonicRecalibrator.transform`
  interpolates linearly between them with :func:`numpy.interp` (constant beyond the ends, which
  is the ``"clip"`` rule), so a stored recalibrator needs no pickle. It agrees with
  scikit-learn's ``predict`` (scipy ``interp1d``) to rounding (tested to 1e-12).
- ``to_dict()`` is plain JSON (floats round-trip exactly through ``json``), and
  ``Recalibrator.from_dict(r.to_dict()).transform(p)`` equals ``r.transform(p)`` bit for bit.
"""

from __future__ import annotations

import abc
import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, logit
from sklearn.isotonic import IsotonicRegression

from loopml.core.errors import InvalidInput, user_message, verbatim

__all__ = [
    "LOGIT_CLIP",
    "IsotonicRecalibrator",
    "Method",
    "PlattRecalibrator",
    "Recalibrator",
    "ReliabilityCurve",
    "Strategy",
    "expected_calibration_error",
    "fit_recalibration",
    "max_calibration_error",
    "reliability_curve",
]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Strategy = Literal["uniform", "quantile"]
Method = Literal["platt", "isotonic"]

#: Probabilities are clipped to ``[LOGIT_CLIP, 1 - LOGIT_CLIP]`` before their logit is taken.
LOGIT_CLIP = 1e-12
_STRATEGIES = ("uniform", "quantile")
_METHODS = ("platt", "isotonic")
#: How many offending values an error message shows.
_SHOWN = 5
#: Platt's fit is accepted when every component of the mean log-loss gradient is below this.
_PLATT_GTOL = 1e-8


# --------------------------------------------------------------------------------------------
# Argument checks


def _invalid(
    func: str, arg: str, rule: str, value: object = None, fix: str | None = None
) -> InvalidInput:
    return InvalidInput(user_message(f"{func}() argument {arg!r}", rule, value, fix))


def _as_vector(values: npt.ArrayLike, func: str, arg: str) -> Floats:
    """``values`` as a new 1-d float64 array; missing values become NaN (checked by callers)."""
    if isinstance(values, pd.DataFrame):
        raise _invalid(func, arg, "must be 1-d", verbatim("a DataFrame"), "pass one column")
    if isinstance(values, pd.Series | pd.Index):
        dtype = values.dtype
        if not (pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)):
            raise _invalid(func, arg, "must hold numbers", verbatim(f"dtype {dtype}"))
        return values.to_numpy(dtype=np.float64, na_value=np.nan)
    array = np.asarray(values)
    if array.dtype.kind not in "biuf":
        raise _invalid(
            func,
            arg,
            "must hold numbers",
            verbatim(f"dtype {array.dtype}"),
            "convert it to a numeric array (strings are not read as numbers)",
        )
    if array.ndim != 1:
        raise _invalid(
            func,
            arg,
            "must be 1-d",
            verbatim(f"shape {array.shape}"),
            "pass the positive-class column, e.g. predict_proba(X)[:, 1]",
        )
    return np.array(array, dtype=np.float64)


def _check_prob(values: npt.ArrayLike, func: str, arg: str = "y_prob") -> Floats:
    """``values`` as probabilities: 1-d, finite, in [0, 1], at least one."""
    prob = _as_vector(values, func, arg)
    if prob.size == 0:
        raise _invalid(func, arg, "must hold at least one probability", verbatim("0 values"))
    missing = int(np.isnan(prob).sum())
    if missing:
        raise _invalid(
            func,
            arg,
            "must hold no missing value (NaN)",
            verbatim(f"{missing} of {prob.size}"),
            "drop or impute those rows",
        )
    outside = (prob < 0.0) | (prob > 1.0)
    if outside.any():
        shown = [float(v) for v in prob[outside][:_SHOWN]]
        raise _invalid(
            func,
            arg,
            "must hold probabilities in [0, 1]",
            verbatim(f"{int(outside.sum())} values outside, e.g. {shown}"),
            "pass predict_proba(X)[:, 1], or map a decision score through a sigmoid",
        )
    return prob


def _check_inputs(y_true: npt.ArrayLike, y_prob: npt.ArrayLike, func: str) -> tuple[Floats, Floats]:
    """The labels (0.0/1.0, both present) and the probabilities, of equal length."""
    prob = _check_prob(y_prob, func)
    labels = _as_vector(y_true, func, "y_true")
    if labels.size != prob.size:
        raise _invalid(
            func,
            "y_true",
            "must have the length of y_prob",
            verbatim(f"{labels.size} labels for {prob.size} probabilities"),
        )
    bad = ~((labels == 0.0) | (labels == 1.0))
    if bad.any():
        shown = [float(v) for v in np.unique(labels[bad])[:_SHOWN]]
        raise _invalid(
            func,
            "y_true",
            "must hold binary labels 0/1 (or False/True) with no missing value",
            verbatim(f"{int(bad.sum())} other values, e.g. {shown}"),
            "encode the positive class as 1, e.g. (y == positive_label).astype(int)",
        )
    positives = int(labels.sum())
    if positives in (0, labels.size):
        raise _invalid(
            func,
            "y_true",
            "must hold both classes",
            verbatim(f"only label {int(labels[0])} in {labels.size} rows"),
            "evaluate on a sample with positives and negatives",
        )
    return labels, prob


def _check_binning(n_bins: int, strategy: str, func: str) -> None:
    if isinstance(n_bins, bool) or not isinstance(n_bins, numbers.Integral) or n_bins < 1:
        raise _invalid(func, "n_bins", "must be an int >= 1", n_bins, "pass e.g. n_bins=10")
    if strategy not in _STRATEGIES:
        raise _invalid(func, "strategy", f"must be one of {list(_STRATEGIES)}", strategy)


def _frozen(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    array.flags.writeable = False
    return array


# --------------------------------------------------------------------------------------------
# Reliability curve and calibration errors


@dataclass(frozen=True, slots=True, eq=False)
class ReliabilityCurve:
    """A reliability diagram: per non-empty bin, mean prediction against fraction of positives.

    ``bin_edges`` holds all ``n_bins + 1`` edges; the other arrays have one entry per non-empty
    bin, in bin order, and ``bin_index[k]`` is the bin of entry ``k`` (its interval is
    ``bin_edges[bin_index[k]]`` .. ``bin_edges[bin_index[k] + 1]``). ``mean_predicted`` and
    ``fraction_positive`` are sklearn's ``prob_pred`` and ``prob_true``. Arrays are read-only.
    """

    bin_edges: Floats
    mean_predicted: Floats
    fraction_positive: Floats
    counts: Ints
    bin_index: Ints
    strategy: Strategy

    @property
    def gaps(self) -> Floats:
        """``fraction_positive - mean_predicted`` per bin: > 0 where the model under-predicts."""
        return self.fraction_positive - self.mean_predicted

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able lists and numbers."""
        return {
            "strategy": self.strategy,
            "bin_edges": self.bin_edges.tolist(),
            "bin_index": self.bin_index.tolist(),
            "mean_predicted": self.mean_predicted.tolist(),
            "fraction_positive": self.fraction_positive.tolist(),
            "counts": self.counts.tolist(),
        }


def reliability_curve(
    y_true: npt.ArrayLike,
    y_prob: npt.ArrayLike,
    n_bins: int = 10,
    strategy: Strategy = "uniform",
) -> ReliabilityCurve:
    """The reliability curve of ``sklearn.calibration.calibration_curve``, with counts and edges.

    Hand-written rather than a call to scikit-learn because its function returns neither the
    counts nor the edges; the arithmetic is the same (searchsorted on the inner edges, bincount,
    divide), so the numbers are identical (tested).

    >>> curve = reliability_curve([0, 0, 1, 1], [0.1, 0.4, 0.6, 0.8], n_bins=2)
    >>> curve.counts.tolist(), curve.mean_predicted.tolist(), curve.fraction_positive.tolist()
    ([2, 2], [0.25, 0.7], [0.0, 1.0])
    """
    return _curve(y_true, y_prob, n_bins, strategy, "reliability_curve")


def _curve(
    y_true: npt.ArrayLike, y_prob: npt.ArrayLike, n_bins: int, strategy: Strategy, func: str
) -> ReliabilityCurve:
    """:func:`reliability_curve`, with errors naming ``func``."""
    _check_binning(n_bins, strategy, func)
    labels, prob = _check_inputs(y_true, y_prob, func)
    n_bins = int(n_bins)
    if strategy == "quantile":
        # np.percentile of q * 100, not np.quantile of q: the very call sklearn makes, so the
        # edges agree to the last bit.
        edges = np.percentile(prob, np.linspace(0.0, 1.0, n_bins + 1) * 100)
    else:
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.searchsorted(edges[1:-1], prob)
    prob_sums = np.bincount(bins, weights=prob, minlength=n_bins)
    positives = np.bincount(bins, weights=labels, minlength=n_bins)
    totals = np.bincount(bins, minlength=n_bins)
    nonempty = totals != 0
    return ReliabilityCurve(
        bin_edges=_frozen(np.asarray(edges, dtype=np.float64)),
        mean_predicted=_frozen(prob_sums[nonempty] / totals[nonempty]),
        fraction_positive=_frozen(positives[nonempty] / totals[nonempty]),
        counts=_frozen(totals[nonempty].astype(np.int64)),
        bin_index=_frozen(np.flatnonzero(nonempty).astype(np.int64)),
        strategy=strategy,
    )


def expected_calibration_error(
    y_true: npt.ArrayLike,
    y_prob: npt.ArrayLike,
    n_bins: int = 10,
    strategy: Strategy = "uniform",
) -> float:
    """``sum_b (n_b / N) * |acc_b - conf_b|`` over the non-empty bins of
    :func:`reliability_curve` (same ``n_bins`` and ``strategy``).

    >>> expected_calibration_error([0, 0, 1, 1], [0.1, 0.4, 0.6, 0.8], n_bins=2)
    0.275
    """
    curve = _curve(y_true, y_prob, n_bins, strategy, "expected_calibration_error")
    weights = curve.counts / curve.counts.sum()
    return float(np.dot(weights, np.abs(curve.gaps)))


def max_calibration_error(
    y_true: npt.ArrayLike,
    y_prob: npt.ArrayLike,
    n_bins: int = 10,
    strategy: Strategy = "uniform",
) -> float:
    """``max_b |acc_b - conf_b|`` over the non-empty bins of :func:`reliability_curve`.

    >>> round(max_calibration_error([0, 0, 1, 1], [0.1, 0.4, 0.6, 0.8], n_bins=2), 12)
    0.3
    """
    curve = _curve(y_true, y_prob, n_bins, strategy, "max_calibration_error")
    return float(np.max(np.abs(curve.gaps)))


# --------------------------------------------------------------------------------------------
# Recalibrators


def _finite_float(value: object, subject: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise InvalidInput(user_message(subject, "must be a finite number", value))
    return float(value)


def _float_tuple(values: object, subject: str) -> tuple[float, ...]:
    if not isinstance(values, Sequence | np.ndarray) or isinstance(values, str | bytes):
        raise InvalidInput(
            user_message(subject, "must be a list of numbers", verbatim(type(values).__name__))
        )
    return tuple(_finite_float(v, subject) for v in values)


def _check_keys(data: Mapping[str, Any], expected: set[str], method: str) -> None:
    keys = set(data)
    if keys != expected:
        raise InvalidInput(
            user_message(
                f"{method} recalibrator dict",
                f"must have exactly the keys {sorted(expected)}",
                verbatim(
                    f"missing {sorted(expected - keys)}, unknown {sorted(keys - expected, key=str)}"
                ),
                "pass what to_dict() returned",
            )
        )


class Recalibrator(abc.ABC):
    """A fitted map from scores in [0, 1] to calibrated probabilities; see the module rules."""

    __slots__ = ()

    #: The ``method`` of :func:`fit_recalibration` and of the stored dict.
    method: ClassVar[Method]

    @abc.abstractmethod
    def transform(self, y_prob: npt.ArrayLike) -> Floats:
        """Calibrated probabilities for the scores ``y_prob`` (1-d, in [0, 1])."""

    @abc.abstractmethod
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able fields, ``method`` included: what :meth:`from_dict` reads."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recalibrator:
        """The recalibrator ``data`` (a :meth:`to_dict` result) describes, checked field by field.

        >>> Recalibrator.from_dict({"method": "platt", "slope": 2.0, "intercept": 0.0,
        ...                         "clip": 1e-12}).transform([0.5, 0.75]).round(3).tolist()
        [0.5, 0.9]
        """
        if not isinstance(data, Mapping):
            raise InvalidInput(
                user_message(
                    "recalibrator dict", "must be a mapping", verbatim(type(data).__name__)
                )
            )
        method = data.get("method")
        kinds: dict[str, type[Recalibrator]] = {
            "platt": PlattRecalibrator,
            "isotonic": IsotonicRecalibrator,
        }
        kind = kinds.get(method) if isinstance(method, str) else None
        if kind is None:
            raise InvalidInput(
                user_message(
                    "recalibrator dict field 'method'", f"must be one of {list(_METHODS)}", method
                )
            )
        if cls is not Recalibrator and kind is not cls:
            raise InvalidInput(
                user_message(
                    f"{cls.__name__}.from_dict()",
                    f"needs method {cls.method!r}",
                    method,
                    "call Recalibrator.from_dict() to read any kind",
                )
            )
        return kind._from_fields(data)

    @classmethod
    @abc.abstractmethod
    def _from_fields(cls, data: Mapping[str, Any]) -> Recalibrator:
        """Build from ``data`` whose ``method`` is this class's."""


@dataclass(frozen=True, slots=True)
class PlattRecalibrator(Recalibrator):
    """``expit(slope * logit(clip(p, clip, 1 - clip)) + intercept)``."""

    slope: float
    intercept: float
    clip: float = LOGIT_CLIP

    method: ClassVar[Method] = "platt"

    def __post_init__(self) -> None:
        for name in ("slope", "intercept", "clip"):
            value = _finite_float(getattr(self, name), f"platt recalibrator field {name!r}")
            object.__setattr__(self, name, value)
        if not 0.0 < self.clip < 0.5:
            raise InvalidInput(
                user_message("platt recalibrator field 'clip'", "must be in (0, 0.5)", self.clip)
            )

    def transform(self, y_prob: npt.ArrayLike) -> Floats:
        prob = _check_prob(y_prob, "PlattRecalibrator.transform")
        result: Floats = expit(self.slope * _logit(prob, self.clip) + self.intercept)
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "slope": self.slope,
            "intercept": self.intercept,
            "clip": self.clip,
        }

    @classmethod
    def _from_fields(cls, data: Mapping[str, Any]) -> PlattRecalibrator:
        _check_keys(data, {"method", "slope", "intercept", "clip"}, "platt")
        return cls(slope=data["slope"], intercept=data["intercept"], clip=data["clip"])


@dataclass(frozen=True, slots=True)
class IsotonicRecalibrator(Recalibrator):
    """Linear interpolation through ``(x_thresholds, y_thresholds)``, constant beyond the ends.

    ``x_thresholds`` strictly increase; ``y_thresholds`` do not decrease and lie in [0, 1]
    (scikit-learn's ``X_thresholds_`` and ``y_thresholds_``).
    """

    x_thresholds: tuple[float, ...]
    y_thresholds: tuple[float, ...]

    method: ClassVar[Method] = "isotonic"

    def __post_init__(self) -> None:
        for name in ("x_thresholds", "y_thresholds"):
            values = _float_tuple(getattr(self, name), f"isotonic recalibrator field {name!r}")
            object.__setattr__(self, name, values)
        x = np.asarray(self.x_thresholds, dtype=np.float64)
        y = np.asarray(self.y_thresholds, dtype=np.float64)
        subject = "isotonic recalibrator thresholds"
        if x.shape != y.shape or x.size == 0:
            raise InvalidInput(
                user_message(
                    subject,
                    "must be two non-empty lists of equal length",
                    verbatim(f"{x.size} x and {y.size} y thresholds"),
                )
            )
        if (np.diff(x) <= 0).any():
            raise InvalidInput(user_message(subject, "x must be strictly increasing"))
        if (np.diff(y) < 0).any() or y[0] < 0.0 or y[-1] > 1.0:
            raise InvalidInput(user_message(subject, "y must be non-decreasing within [0, 1]"))

    def transform(self, y_prob: npt.ArrayLike) -> Floats:
        prob = _check_prob(y_prob, "IsotonicRecalibrator.transform")
        x = np.asarray(self.x_thresholds, dtype=np.float64)
        y = np.asarray(self.y_thresholds, dtype=np.float64)
        result: Floats = np.interp(prob, x, y)
        return result

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "x_thresholds": list(self.x_thresholds),
            "y_thresholds": list(self.y_thresholds),
        }

    @classmethod
    def _from_fields(cls, data: Mapping[str, Any]) -> IsotonicRecalibrator:
        _check_keys(data, {"method", "x_thresholds", "y_thresholds"}, "isotonic")
        return cls(x_thresholds=data["x_thresholds"], y_thresholds=data["y_thresholds"])


def _logit(prob: Floats, clip: float) -> Floats:
    result: Floats = logit(np.clip(prob, clip, 1.0 - clip))
    return result


def _fit_platt(labels: Floats, prob: Floats) -> PlattRecalibrator:
    """Maximum likelihood ``(slope, intercept)`` of ``labels ~ expit(slope * x + intercept)``.

    scipy's exact-Newton trust region on the mean log loss with analytic gradient and Hessian:
    two parameters and a convex loss, so it converges quadratically to the optimum, where
    scikit-learn's LogisticRegression would add a penalty (however small) and its own tolerance.
    """
    x = _logit(prob, LOGIT_CLIP)
    if np.ptp(x) == 0.0:
        # Every score is the same: no slope is identified; the base rate is the best constant.
        return PlattRecalibrator(0.0, float(logit(labels.mean())), LOGIT_CLIP)
    positive = labels == 1.0
    # The MLE is finite iff the classes overlap on the clipped logits (ties at the border count
    # as separated: the slope still runs off to infinity).
    if x[~positive].max() <= x[positive].min() or x[positive].max() <= x[~positive].min():
        raise _invalid(
            "fit_recalibration",
            "y_prob",
            "must not separate the classes perfectly for Platt scaling (its slope would be "
            "infinite)",
            verbatim(
                f"positives in [{prob[positive].min():.6g}, {prob[positive].max():.6g}], "
                f"negatives in [{prob[~positive].min():.6g}, {prob[~positive].max():.6g}]"
            ),
            "use method='isotonic', or fit on more data",
        )

    def loss_and_gradient(theta: Floats) -> tuple[float, Floats]:
        z = theta[0] * x + theta[1]
        residual = expit(z) - labels
        loss = float(np.mean(np.logaddexp(0.0, z) - labels * z))
        return loss, np.array([np.mean(residual * x), np.mean(residual)])

    def hessian(theta: Floats) -> Floats:
        p = expit(theta[0] * x + theta[1])
        w = p * (1.0 - p)
        wx = float(np.mean(w * x))
        return np.array([[np.mean(w * x * x), wx], [wx, np.mean(w)]])

    result = minimize(
        loss_and_gradient,
        x0=np.array([1.0, 0.0]),  # the identity map: a calibrated score stays where it is
        jac=True,
        hess=hessian,
        method="trust-exact",
        options={"gtol": _PLATT_GTOL / 100, "maxiter": 200},
    )
    # Judged by the gradient, not by ``result.success``: near the optimum a Newton step lowers
    # the loss by less than its rounding error, and the trust region then stops with "a bad
    # approximation caused failure to predict improvement" at a point that is already optimal.
    if not np.isfinite(result.x).all() or np.abs(result.jac).max() > _PLATT_GTOL:
        raise _invalid(
            "fit_recalibration",
            "y_prob",
            "must allow Platt scaling to converge",
            verbatim(f"the optimiser stopped: {result.message}"),
            "use method='isotonic'",
        )
    return PlattRecalibrator(float(result.x[0]), float(result.x[1]), LOGIT_CLIP)


def _fit_isotonic(labels: Floats, prob: Floats) -> IsotonicRecalibrator:
    model = IsotonicRegression(out_of_bounds="clip").fit(prob, labels)
    return IsotonicRecalibrator(
        x_thresholds=tuple(float(v) for v in model.X_thresholds_),
        y_thresholds=tuple(float(v) for v in model.y_thresholds_),
    )


@overload
def fit_recalibration(
    y_true: npt.ArrayLike, y_prob: npt.ArrayLike, method: Literal["platt"] = ...
) -> PlattRecalibrator: ...
@overload
def fit_recalibration(
    y_true: npt.ArrayLike, y_prob: npt.ArrayLike, method: Literal["isotonic"]
) -> IsotonicRecalibrator: ...
def fit_recalibration(
    y_true: npt.ArrayLike, y_prob: npt.ArrayLike, method: Method = "platt"
) -> Recalibrator:
    """Fit a recalibrator of ``method`` (``"platt"`` or ``"isotonic"``) on held-out scores.

    Fit on data the model was not trained on (a calibration split), then apply
    ``transform`` to new scores.

    A score squashed towards 0.5 gets a Platt slope above 1:

    >>> platt = fit_recalibration([0, 0, 1, 0, 1, 1], [0.3, 0.4, 0.45, 0.55, 0.6, 0.7])
    >>> round(platt.slope, 2), platt.transform([0.3, 0.5, 0.7]).round(3).tolist()
    (3.31, [0.057, 0.5, 0.943])
    """
    func = "fit_recalibration"
    if method not in _METHODS:
        raise _invalid(func, "method", f"must be one of {list(_METHODS)}", method)
    labels, prob = _check_inputs(y_true, y_prob, func)
    if method == "isotonic":
        return _fit_isotonic(labels, prob)
    return _fit_platt(labels, prob)
