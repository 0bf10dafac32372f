"""Group fairness of a binary classifier: rates by group, and the parity gaps fairlearn defines.

:func:`group_metrics` splits the rows by the sensitive feature(s) and counts, per group and
overall, the rows, positives, negatives, selected rows (``y_pred == 1``), true and false
positives, and from them the selection rate, the true positive rate (recall) and the false
positive rate. The gap functions reduce one of these rates to a number, exactly as fairlearn 0.15
defines them (``fairlearn.metrics.demographic_parity_difference`` and friends):

- :func:`demographic_parity_difference` / :func:`demographic_parity_ratio` compare selection
  rates; :func:`equalized_odds_difference` / :func:`equalized_odds_ratio` compare the true and
  the false positive rates and keep the worse of the two (``agg="worst_case"``) or their mean
  (``agg="mean"``).
- ``method="between_groups"``: difference ``max - min`` over the groups, ratio ``min / max``.
  ``method="to_overall"``: difference ``max |rate_g - rate_overall|``, ratio the smallest
  ``rate_g / rate_overall`` after turning each ratio above 1 into its inverse.
- A ratio is NaN when it is 0 / 0 (every group's rate is 0), as in fairlearn.

:func:`fairness_report` computes the groups once and returns all of it, for both methods, with
per-group ROC AUC when scores are given.

Input rules:

- ``y_true`` and ``y_pred`` are 1-d, of one length, without missing values, and binary: their
  values together lie in {0, 1} (bools too) or in {-1, 1}; 1 is the positive class (fairlearn's
  rule for its rates; loopml applies it to ``y_pred`` for the selection rate too, where fairlearn
  would silently count any value other than 1 as "not selected").
- ``sensitive`` is a Series, a 1-d sequence or array (one feature), a DataFrame, a 2-d array or
  a mapping of name to column (several features: the groups are their intersections, as in
  ``MetricFrame``). Rows are matched by position, not by pandas index. Feature names come from
  the Series name or the columns and must be unique strings; unnamed features are called
  ``sensitive_feature_0``, ``sensitive_feature_1``, ... as in fairlearn.
- A missing value (None, NaN, NaT, NA) in ``sensitive`` is an :class:`InvalidInput`, as fairlearn
  raises: fill it with a label of its own (``fillna("unknown")``) if it should be a group.
- Groups are the combinations that occur in the data (sorted by value where values sort).
  Intersections with no rows are left out of the table and of every gap, as fairlearn's NaN rows
  are; a note says how many there are.
- One group only: every difference is 0 and every ratio 1 (fairlearn's numbers), and a note says
  parity holds trivially.

Undefined rates: a group with no positives has no true positive rate, one with no negatives no
false positive rate. :func:`group_metrics` reports them as NaN with a note. fairlearn computes
them through scikit-learn's normalised confusion matrix, which turns 0 / 0 into 0, and that 0
enters its equalized-odds gaps. The equalized-odds functions follow it by default
(``undefined_rate="zero"``, so the numbers equal fairlearn's); ``undefined_rate="skip"`` leaves
such groups out of that rate's comparison instead. When one of the two rate gaps is NaN (a 0 / 0
ratio, or nothing left to compare), ``agg`` uses the other one; fairlearn's ``worst_case``
uses Python's ``max``/``min``, whose answer with a NaN depends on the order, so loopml differs
from it there: it returns the defined component where fairlearn returns NaN when the true
positive rate ratio is 0 / 0 (no true positive at all).

Everything is computed from integer counts with one ``numpy.bincount`` per count (fairlearn
needs one pandas ``groupby().apply`` per metric, and is a test extra only), so the rates are the
same float divisions fairlearn makes and the numbers agree to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, Literal, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.metrics import roc_auc_score

from loopml.core.errors import InvalidInput, user_message, verbatim

__all__ = [
    "Disparity",
    "FairnessReport",
    "GroupMetrics",
    "GroupRates",
    "demographic_parity_difference",
    "demographic_parity_ratio",
    "equalized_odds_difference",
    "equalized_odds_ratio",
    "fairness_report",
    "group_metrics",
]

Method = Literal["between_groups", "to_overall"]
Agg = Literal["worst_case", "mean"]
UndefinedRate = Literal["zero", "skip"]
Criterion = Literal["demographic_parity", "equalized_odds", "equal_opportunity"]
#: What ``sensitive`` may be: one feature (Series, 1-d sequence or array) or several (DataFrame,
#: 2-d array, mapping of name to column).
SensitiveLike: TypeAlias = (
    "pd.Series[Any] | pd.DataFrame | npt.ArrayLike | Mapping[str, Any] | Sequence[Any]"
)
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]

_METHODS: tuple[Method, ...] = ("between_groups", "to_overall")
_AGGS = ("worst_case", "mean")
_UNDEFINED = ("zero", "skip")
_CRITERIA: tuple[Criterion, ...] = ("demographic_parity", "equal_opportunity", "equalized_odds")
_RATES = ("selection_rate", "true_positive_rate", "false_positive_rate")
_COUNTS = ("count", "positives", "negatives", "selected", "true_positives", "false_positives")
#: How many groups a note names before it says "and k more".
_NAMED_IN_NOTE = 5


def _invalid(subject: str, rule: str, value: object = None, fix: str | None = None) -> InvalidInput:
    return InvalidInput(user_message(subject, rule, value, fix))


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _invalid(name, f"must be one of {', '.join(map(repr, choices))}", value)


# --------------------------------------------------------------------------------------------
# Results


@dataclass(frozen=True, slots=True)
class GroupRates:
    """Counts and rates of one group (``key`` holds one value per sensitive feature) or of all
    rows (``key == ()``). A rate with a zero denominator is NaN."""

    key: tuple[Hashable, ...]
    count: int
    positives: int
    negatives: int
    selected: int
    true_positives: int
    false_positives: int
    selection_rate: float
    true_positive_rate: float
    false_positive_rate: float

    def to_dict(self) -> dict[str, Any]:
        """Counts and rates (NaN as None); the key is left to the container, which names it."""
        return {
            "count": self.count,
            "positives": self.positives,
            "negatives": self.negatives,
            "selected": self.selected,
            "true_positives": self.true_positives,
            "false_positives": self.false_positives,
            "selection_rate": _json_float(self.selection_rate),
            "true_positive_rate": _json_float(self.true_positive_rate),
            "false_positive_rate": _json_float(self.false_positive_rate),
        }


@dataclass(frozen=True, slots=True)
class GroupMetrics:
    """Rates by group: ``groups`` in sorted key order, ``overall`` over every row, and ``notes``
    on undefined rates, empty intersections and a single group."""

    features: tuple[str, ...]
    groups: tuple[GroupRates, ...]
    overall: GroupRates
    notes: tuple[str, ...] = ()

    def rates(self, name: str) -> FloatArray:
        """One rate (``selection_rate``, ``true_positive_rate``, ``false_positive_rate``) of every
        group, in the order of :attr:`groups`."""
        _check_choice("rate name", name, _RATES)
        return np.array([getattr(g, name) for g in self.groups], dtype=np.float64)

    def group(self, *key: Hashable) -> GroupRates:
        """The group whose key is ``key`` (one value per feature); InvalidInput if none is."""
        for rates in self.groups:
            if rates.key == key:
                return rates
        raise _invalid(
            f"group {key!r}", f"is not a group of {', '.join(self.features)}", fix="see .groups"
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per group, indexed like ``MetricFrame.by_group`` (a MultiIndex for
        intersections), with every count and rate as a column."""
        keys = [g.key for g in self.groups]
        index: pd.Index[Any]
        if len(self.features) == 1:
            index = pd.Index([k[0] for k in keys], name=self.features[0])
        else:
            index = pd.MultiIndex.from_tuples(keys, names=list(self.features))
        columns = [f.name for f in fields(GroupRates) if f.name != "key"]
        data = {c: [getattr(g, c) for g in self.groups] for c in columns}
        return pd.DataFrame(data, index=index, columns=columns)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (undefined rates as None)."""
        return {
            "features": list(self.features),
            "overall": self.overall.to_dict(),
            "groups": [
                {"group": _json_key(self.features, g.key), **g.to_dict()} for g in self.groups
            ],
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class Disparity:
    """How far the groups are from one parity criterion, by one method.

    ``demographic_parity`` compares selection rates, ``equal_opportunity`` true positive rates,
    ``equalized_odds`` the worse (``agg="worst_case"``) or mean of the true and false positive
    rate gaps. ``difference`` is 0 and ``ratio`` 1 at parity.
    """

    criterion: Criterion
    method: Method
    difference: float
    ratio: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "criterion": self.criterion,
            "method": self.method,
            "difference": _json_float(self.difference),
            "ratio": _json_float(self.ratio),
        }


@dataclass(frozen=True, slots=True)
class FairnessReport:
    """Rates by group, the parity gaps of every criterion by both methods, per-group ROC AUC
    when scores were given (aligned with ``group_metrics.groups``), and every note."""

    group_metrics: GroupMetrics
    disparities: tuple[Disparity, ...]
    agg: Agg
    undefined_rate: UndefinedRate
    #: The score threshold that made ``y_pred``; None when ``y_pred`` was given.
    threshold: float | None = None
    roc_auc_by_group: tuple[float, ...] | None = None
    roc_auc_overall: float | None = None
    notes: tuple[str, ...] = ()

    def disparity(self, criterion: Criterion, method: Method = "between_groups") -> Disparity:
        """The gap of ``criterion`` by ``method``."""
        _check_choice("criterion", criterion, _CRITERIA)
        _check_choice("method", method, _METHODS)
        return next(d for d in self.disparities if d.criterion == criterion and d.method == method)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict: ``json.dumps(report.to_dict(), allow_nan=False)`` works."""
        groups = self.group_metrics.to_dict()
        overall: dict[str, Any] = groups["overall"]
        if self.roc_auc_by_group is not None:
            overall["roc_auc"] = _json_float(self.roc_auc_overall)
            for row, auc in zip(groups["groups"], self.roc_auc_by_group, strict=True):
                row["roc_auc"] = _json_float(auc)
        return {
            "features": groups["features"],
            "agg": self.agg,
            "undefined_rate": self.undefined_rate,
            "threshold": self.threshold,
            "overall": overall,
            "groups": groups["groups"],
            "disparities": [d.to_dict() for d in self.disparities],
            "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FairnessReport:
        """The report a :meth:`to_dict` dict describes: ``from_dict(d).to_dict() == d``.

        Group keys come back as the JSON values (a value that was not a JSON scalar, such as a
        timestamp, stays the string it was written as); None rates come back as NaN.
        """
        features = tuple(data["features"])

        def rates(row: Mapping[str, Any], key: tuple[Hashable, ...]) -> GroupRates:
            counts = [int(row[name]) for name in _COUNTS]
            values = [math.nan if row[name] is None else float(row[name]) for name in _RATES]
            return GroupRates(key, *counts, *values)

        groups = tuple(
            rates(row, tuple(row["group"][f] for f in features)) for row in data["groups"]
        )
        overall = rates(data["overall"], ())
        auc_by_group: tuple[float, ...] | None = None
        auc_overall: float | None = None
        if "roc_auc" in data["overall"]:
            auc_overall = _nan_float(data["overall"]["roc_auc"])
            auc_by_group = tuple(_nan_float(row["roc_auc"]) for row in data["groups"])
        disparities = tuple(
            Disparity(
                d["criterion"], d["method"], _nan_float(d["difference"]), _nan_float(d["ratio"])
            )
            for d in data["disparities"]
        )
        return cls(
            GroupMetrics(features, groups, overall),
            disparities,
            data["agg"],
            data["undefined_rate"],
            data["threshold"],
            auc_by_group,
            auc_overall,
            tuple(data["notes"]),
        )


def _nan_float(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _json_float(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else float(value)


def _json_scalar(value: object) -> object:
    if isinstance(value, np.generic):
        value = value.item()
    return value if isinstance(value, str | int | float | bool) else str(value)


def _json_key(features: tuple[str, ...], key: tuple[Hashable, ...]) -> dict[str, object]:
    return {f: _json_scalar(v) for f, v in zip(features, key, strict=True)}


# --------------------------------------------------------------------------------------------
# Input checks


def _as_1d(values: object, name: str) -> npt.NDArray[Any]:
    if isinstance(values, pd.Series | pd.Index):
        array: npt.NDArray[Any] = values.to_numpy()
    else:
        array = np.asarray(values)
    if array.ndim != 1:
        raise _invalid(
            name,
            "must be one-dimensional (one value per row)",
            verbatim(f"an array of shape {array.shape}"),
            "pass a Series or a 1-d array; ravel() a column vector",
        )
    return array


def _binary(values: object, name: str) -> tuple[BoolArray, set[float]]:
    """``values == 1`` and the set of distinct values, after checking they are binary numbers."""
    array = _as_1d(values, name)
    if array.dtype == np.bool_:
        return array, {float(v) for v in np.unique(array)}
    missing = pd.isna(array)
    if missing.any():
        raise _invalid(
            name,
            "must not contain missing values",
            verbatim(f"{int(missing.sum())} missing of {array.size}"),
            "drop those rows first",
        )
    distinct = pd.unique(array)
    if array.dtype.kind not in "biuf" and not all(
        isinstance(v, bool | int | float | np.bool_ | np.number) for v in distinct
    ):
        shown = sorted(map(repr, distinct[:5]))
        raise _invalid(
            name,
            "must hold binary numbers (0/1 or -1/1), 1 being the positive class",
            verbatim(", ".join(shown)),
            "map the labels to 0 and 1 first",
        )
    seen = {float(v) for v in distinct}
    if not (seen <= {0.0, 1.0} or seen <= {-1.0, 1.0}):
        raise _invalid(
            name,
            "must be binary: values in {0, 1} or in {-1, 1}, 1 being the positive class",
            verbatim(", ".join(f"{v:g}" for v in sorted(seen)[:5])),
            "threshold scores into 0/1 predictions first",
        )
    return np.asarray(array == 1, dtype=np.bool_), seen


def _labels(y_true: object, y_pred: object) -> tuple[BoolArray, BoolArray]:
    actual, seen_true = _binary(y_true, "y_true")
    predicted, seen_pred = _binary(y_pred, "y_pred")
    if actual.size != predicted.size:
        raise _invalid(
            "y_true and y_pred",
            "must have the same length",
            verbatim(f"{actual.size} and {predicted.size}"),
        )
    if actual.size == 0:
        raise _invalid("y_true", "must have at least one row", verbatim("no rows"))
    seen = seen_true | seen_pred
    if not (seen <= {0.0, 1.0} or seen <= {-1.0, 1.0}):
        raise _invalid(
            "y_true and y_pred",
            "must use one binary coding, {0, 1} or {-1, 1}",
            verbatim(", ".join(f"{v:g}" for v in sorted(seen))),
            "map both to 0 and 1",
        )
    return actual, predicted


def _feature_columns(sensitive: SensitiveLike, n: int) -> list[tuple[str, Any]]:
    """``(name, values)`` per sensitive feature, checked for names, length and missing values."""
    columns: list[tuple[Any, Any]]
    if isinstance(sensitive, Mapping):
        try:
            sensitive = pd.DataFrame(dict(sensitive))
        except ValueError as exc:  # columns of different lengths, scalars only
            raise _invalid(
                "sensitive", "as a mapping must map each feature name to a column", fix=str(exc)
            ) from exc
    if isinstance(sensitive, pd.DataFrame):
        columns = [(name, sensitive.iloc[:, i]) for i, name in enumerate(sensitive.columns)]
    elif isinstance(sensitive, pd.Series):
        name = "sensitive_feature_0" if sensitive.name is None else sensitive.name
        columns = [(name, sensitive)]
    else:
        array = np.asarray(sensitive, dtype=object)
        if array.ndim == 1:
            columns = [("sensitive_feature_0", array)]
        elif array.ndim == 2:
            columns = [(f"sensitive_feature_{i}", array[:, i]) for i in range(array.shape[1])]
        else:
            raise _invalid(
                "sensitive",
                "must be one feature (1-d) or a table of features (2-d)",
                verbatim(f"an array of shape {array.shape}"),
            )
    if not columns:
        raise _invalid("sensitive", "must have at least one feature", verbatim("no columns"))
    names = [name for name, _ in columns]
    for name in names:
        if not isinstance(name, str):
            raise _invalid("sensitive feature name", "must be a string", name, "rename the column")
    if len(set(names)) != len(names):
        raise _invalid("sensitive feature names", "must be unique", names)
    checked = []
    for name, column in columns:
        values = column.to_numpy() if isinstance(column, pd.Series) else np.asarray(column)
        if values.size != n:
            raise _invalid(
                f"sensitive feature {name!r}",
                f"must have one value per row ({n})",
                verbatim(f"{values.size} values"),
            )
        missing = pd.isna(values)
        if missing.any():
            raise _invalid(
                f"sensitive feature {name!r}",
                "must not contain missing values",
                verbatim(f"{int(missing.sum())} missing of {n}"),
                "fill them with a label of their own, e.g. .fillna('unknown'), or drop the rows",
            )
        # A Categorical keeps its category order; factorize needs the pandas object for it.
        checked.append((name, column if isinstance(column, pd.Series) else values))
    return checked


# --------------------------------------------------------------------------------------------
# Groups


def _factorize(values: Any) -> tuple[IntArray, npt.NDArray[Any]]:
    try:
        codes, uniques = pd.factorize(values, sort=True)
    except TypeError:  # values of kinds that do not compare (1 and "a"): first-seen order
        codes, uniques = pd.factorize(values, sort=False)
    return np.asarray(codes, dtype=np.int64), np.asarray(uniques, dtype=object)


def _group_rows(
    columns: list[tuple[str, Any]],
) -> tuple[IntArray, list[tuple[Hashable, ...]], int]:
    """Group index per row, group keys in order, and the number of possible intersections."""
    codes, uniques = zip(*(_factorize(values) for _, values in columns), strict=True)
    index = codes[0]
    for code, unique in zip(codes[1:], uniques[1:], strict=True):
        # Mixed-radix code of the intersection, compacted each step so it cannot overflow;
        # np.unique keeps the lexicographic order of the feature values.
        _, inverse = np.unique(index * len(unique) + code, return_inverse=True)
        index = inverse.astype(np.int64)
    _, first = np.unique(index, return_index=True)
    keys = [tuple(_python(u[c[row]]) for c, u in zip(codes, uniques, strict=True)) for row in first]
    possible = math.prod(len(u) for u in uniques)
    return index, keys, possible


def _python(value: Any) -> Hashable:
    """A numpy scalar as the Python scalar it holds (keys compare and print as users wrote them)."""
    out: Hashable = value.item() if isinstance(value, np.generic) else value
    return out


def _ratio_or_nan(numerator: IntArray, denominator: IntArray) -> FloatArray:
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _shown(keys: list[tuple[Hashable, ...]]) -> str:
    shown = ", ".join(repr(k[0]) if len(k) == 1 else repr(k) for k in keys[:_NAMED_IN_NOTE])
    more = len(keys) - _NAMED_IN_NOTE
    return shown + (f" and {more} more" if more > 0 else "")


def _grouped(
    actual: BoolArray, predicted: BoolArray, sensitive: SensitiveLike
) -> tuple[GroupMetrics, IntArray]:
    """The rates by group, and the group index of every row."""
    columns = _feature_columns(sensitive, actual.size)
    features = tuple(name for name, _ in columns)
    index, keys, possible = _group_rows(columns)
    g = len(keys)

    def count(mask: BoolArray | None = None) -> IntArray:
        rows = index if mask is None else index[mask]
        return np.bincount(rows, minlength=g).astype(np.int64)

    n, pos, sel = count(), count(actual), count(predicted)
    tp, fp = count(actual & predicted), count(~actual & predicted)
    neg = n - pos
    sel_rate, tpr, fpr = sel / n, _ratio_or_nan(tp, pos), _ratio_or_nan(fp, neg)
    groups = tuple(
        GroupRates(
            keys[i],
            int(n[i]),
            int(pos[i]),
            int(neg[i]),
            int(sel[i]),
            int(tp[i]),
            int(fp[i]),
            float(sel_rate[i]),
            float(tpr[i]),
            float(fpr[i]),
        )
        for i in range(g)
    )
    t_n, t_pos, t_neg, t_sel, t_tp, t_fp = (int(c.sum()) for c in (n, pos, neg, sel, tp, fp))
    overall = GroupRates(
        (),
        t_n,
        t_pos,
        t_neg,
        t_sel,
        t_tp,
        t_fp,
        t_sel / t_n,
        t_tp / t_pos if t_pos else math.nan,
        t_fp / t_neg if t_neg else math.nan,
    )
    notes = []
    for name, counted, label in (
        ("true_positive_rate", pos, "positive"),
        ("false_positive_rate", neg, "negative"),
    ):
        undefined = [keys[i] for i in np.flatnonzero(counted == 0)]
        if undefined:
            notes.append(
                f"{name} is undefined (NaN) for {len(undefined)} group(s) with no {label} "
                f"label: {_shown(undefined)}"
            )
    if possible > g:
        notes.append(
            f"{possible - g} of {possible} intersections of {' x '.join(features)} have no rows "
            "and are left out"
        )
    if g == 1:
        notes.append(
            f"only one group ({_shown(keys)}): every difference is 0 and every ratio 1, "
            "parity holds trivially"
        )
    return GroupMetrics(features, groups, overall, tuple(notes)), index


def group_metrics(y_true: Any, y_pred: Any, sensitive: SensitiveLike) -> GroupMetrics:
    """Counts and rates of every group of ``sensitive`` and overall.

    >>> m = group_metrics([1, 0, 1, 0, 0], [1, 1, 0, 0, 1], ["a", "a", "a", "b", "b"])
    >>> [(g.key, g.selection_rate, g.true_positive_rate) for g in m.groups]
    [(('a',), 0.6666666666666666, 0.5), (('b',), 0.5, nan)]
    >>> m.notes[0]
    "true_positive_rate is undefined (NaN) for 1 group(s) with no positive label: 'b'"
    """
    actual, predicted = _labels(y_true, y_pred)
    return _grouped(actual, predicted, sensitive)[0]


# --------------------------------------------------------------------------------------------
# Gaps


def _difference(rates: FloatArray, overall: float, method: Method) -> float:
    defined = rates[~np.isnan(rates)]
    if defined.size == 0:
        return math.nan
    if method == "between_groups":
        return float(defined.max() - defined.min())
    return float(np.abs(defined - overall).max())  # NaN when overall is


def _ratio(rates: FloatArray, overall: float, method: Method) -> float:
    defined = rates[~np.isnan(rates)]
    if defined.size == 0:
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "between_groups":
            return float(defined.min() / defined.max())  # 0 / 0 -> NaN, as in fairlearn
        ratios = defined / overall
        ratios = np.where(ratios > 1, 1 / ratios, ratios)  # fairlearn inverts, not overall / r
    ratios = ratios[~np.isnan(ratios)]
    return float(ratios.min()) if ratios.size else math.nan


def _aggregate(values: tuple[float, float], agg: Agg, worst: Literal["max", "min"]) -> float:
    defined = [v for v in values if not math.isnan(v)]
    if not defined:
        return math.nan
    if agg == "mean":
        return float(np.mean(defined))
    return max(defined) if worst == "max" else min(defined)


def _rate(
    metrics: GroupMetrics, name: str, undefined_rate: UndefinedRate
) -> tuple[FloatArray, float]:
    rates = metrics.rates(name)
    overall = float(getattr(metrics.overall, name))
    if undefined_rate == "zero":
        rates = np.nan_to_num(rates, nan=0.0)
        overall = 0.0 if math.isnan(overall) else overall
    return rates, overall


def _gap(
    metrics: GroupMetrics,
    criterion: Criterion,
    method: Method,
    kind: Literal["difference", "ratio"],
    agg: Agg = "worst_case",
    undefined_rate: UndefinedRate = "zero",
) -> float:
    measure = _difference if kind == "difference" else _ratio
    if criterion == "demographic_parity":
        return measure(*_rate(metrics, "selection_rate", undefined_rate), method)
    tpr_gap = measure(*_rate(metrics, "true_positive_rate", undefined_rate), method)
    if criterion == "equal_opportunity":
        return tpr_gap
    fpr_gap = measure(*_rate(metrics, "false_positive_rate", undefined_rate), method)
    return _aggregate((tpr_gap, fpr_gap), agg, "max" if kind == "difference" else "min")


def _checked(
    y_true: Any,
    y_pred: Any,
    sensitive: SensitiveLike,
    method: str,
    agg: str = "worst_case",
    undefined_rate: str = "zero",
) -> GroupMetrics:
    _check_choice("method", method, _METHODS)
    _check_choice("agg", agg, _AGGS)
    _check_choice("undefined_rate", undefined_rate, _UNDEFINED)
    return group_metrics(y_true, y_pred, sensitive)


def demographic_parity_difference(
    y_true: Any, y_pred: Any, sensitive: SensitiveLike, *, method: Method = "between_groups"
) -> float:
    """The largest gap in selection rate (``P[y_pred = 1 | group]``) between groups
    (``method="between_groups"``) or from the overall rate (``"to_overall"``); 0 at parity.

    >>> demographic_parity_difference([1, 0, 1, 0], [1, 1, 0, 0], ["a", "a", "b", "b"])
    1.0
    """
    metrics = _checked(y_true, y_pred, sensitive, method)
    return _gap(metrics, "demographic_parity", method, "difference")


def demographic_parity_ratio(
    y_true: Any, y_pred: Any, sensitive: SensitiveLike, *, method: Method = "between_groups"
) -> float:
    """The smallest ratio of selection rates, between groups or to the overall rate, each ratio
    taken at most 1; 1 at parity, NaN when every selection rate is 0.

    >>> demographic_parity_ratio([1, 0, 1, 0], [1, 1, 1, 0], ["a", "a", "b", "b"])
    0.5
    """
    metrics = _checked(y_true, y_pred, sensitive, method)
    return _gap(metrics, "demographic_parity", method, "ratio")


def equalized_odds_difference(
    y_true: Any,
    y_pred: Any,
    sensitive: SensitiveLike,
    *,
    method: Method = "between_groups",
    agg: Agg = "worst_case",
    undefined_rate: UndefinedRate = "zero",
) -> float:
    """The larger (``agg="worst_case"``) or the mean (``"mean"``) of the true and the false
    positive rate differences; 0 at parity. ``undefined_rate``: see the module docstring.

    >>> equalized_odds_difference([1, 0, 1, 0], [1, 1, 1, 0], ["a", "a", "b", "b"])
    1.0
    """
    metrics = _checked(y_true, y_pred, sensitive, method, agg, undefined_rate)
    return _gap(metrics, "equalized_odds", method, "difference", agg, undefined_rate)


def equalized_odds_ratio(
    y_true: Any,
    y_pred: Any,
    sensitive: SensitiveLike,
    *,
    method: Method = "between_groups",
    agg: Agg = "worst_case",
    undefined_rate: UndefinedRate = "zero",
) -> float:
    """The smaller (``agg="worst_case"``) or the mean (``"mean"``) of the true and the false
    positive rate ratios; 1 at parity. ``undefined_rate``: see the module docstring.

    >>> equalized_odds_ratio([1, 0, 1, 0, 1, 0], [1, 1, 1, 0, 1, 0], ["a", "a", "b", "b", "b", "b"])
    0.0
    """
    metrics = _checked(y_true, y_pred, sensitive, method, agg, undefined_rate)
    return _gap(metrics, "equalized_odds", method, "ratio", agg, undefined_rate)


# --------------------------------------------------------------------------------------------
# Report


def _scores(y_score: Any, n: int) -> FloatArray:
    array = _as_1d(y_score, "y_score")
    if array.dtype.kind not in "biuf":
        raise _invalid("y_score", "must hold numbers", verbatim(f"dtype {array.dtype}"))
    scores = array.astype(np.float64)
    if scores.size != n:
        raise _invalid(
            "y_score", f"must have one value per row ({n})", verbatim(f"{scores.size} values")
        )
    if not np.isfinite(scores).all():
        raise _invalid(
            "y_score",
            "must be finite",
            verbatim(f"{int((~np.isfinite(scores)).sum())} NaN or infinite"),
        )
    return scores


def _auc_by_group(
    actual: BoolArray, scores: FloatArray, index: IntArray, groups: int
) -> tuple[float, ...]:
    """ROC AUC of every group (NaN for a group holding one class), by scikit-learn."""
    order = np.argsort(index, kind="stable")
    bounds = np.cumsum(np.bincount(index, minlength=groups))[:-1]
    return tuple(_auc(actual[rows], scores[rows]) for rows in np.split(order, bounds))


def _auc(actual: BoolArray, scores: FloatArray) -> float:
    if actual.all() or not actual.any():
        return math.nan
    return float(roc_auc_score(actual, scores))


def fairness_report(
    y_true: Any,
    y_pred: Any,
    sensitive: SensitiveLike,
    *,
    y_score: Any = None,
    threshold: float = 0.5,
    agg: Agg = "worst_case",
    undefined_rate: UndefinedRate = "zero",
) -> FairnessReport:
    """Rates by group and every parity gap (demographic parity, equal opportunity, equalized
    odds; both methods) in one report.

    ``y_pred`` may be None when ``y_score`` is given: the predictions are then
    ``y_score >= threshold``. With ``y_score``, the report adds each group's ROC AUC (NaN, with a
    note, for a group holding one class only). ``threshold`` only applies when ``y_pred`` is None.

    >>> r = fairness_report([1, 0, 1, 0], None, ["a", "a", "b", "b"], y_score=[0.9, 0.6, 0.4, 0.1])
    >>> r.disparity("demographic_parity").difference, r.roc_auc_by_group
    (1.0, (1.0, 1.0))
    """
    _check_choice("agg", agg, _AGGS)
    _check_choice("undefined_rate", undefined_rate, _UNDEFINED)
    scores = None
    used_threshold: float | None = None
    if y_score is not None:
        scores = _scores(y_score, _as_1d(y_true, "y_true").size)
    if y_pred is None:
        if scores is None:
            raise _invalid("y_pred", "is needed when no y_score is given", fix="pass either")
        if isinstance(threshold, bool) or not isinstance(threshold, int | float):
            raise _invalid("threshold", "must be a number", threshold)
        if not math.isfinite(threshold):
            raise _invalid("threshold", "must be finite", threshold)
        used_threshold = float(threshold)
        y_pred = (scores >= used_threshold).astype(np.int64)
    elif threshold != 0.5:
        raise _invalid(
            "threshold",
            "only applies when y_pred is None (predictions are made from y_score)",
            threshold,
            "drop y_pred, or the threshold",
        )
    actual, predicted = _labels(y_true, y_pred)
    metrics, index = _grouped(actual, predicted, sensitive)
    disparities = tuple(
        Disparity(
            criterion,
            method,
            _gap(metrics, criterion, method, "difference", agg, undefined_rate),
            _gap(metrics, criterion, method, "ratio", agg, undefined_rate),
        )
        for criterion in _CRITERIA
        for method in _METHODS
    )
    notes = list(metrics.notes)
    undefined = any(
        math.isnan(getattr(g, name))
        for g in metrics.groups
        for name in ("true_positive_rate", "false_positive_rate")
    )
    if undefined:
        notes.append(
            "the odds gaps count undefined rates as 0, as fairlearn does"
            if undefined_rate == "zero"
            else "the odds gaps leave groups with an undefined rate out of that rate's comparison"
        )
    notes.extend(
        f"the {d.criterion} ratio ({d.method}) is undefined (NaN): 0 / 0"
        for d in disparities
        if math.isnan(d.ratio)
    )
    auc_by_group: tuple[float, ...] | None = None
    auc_overall: float | None = None
    if scores is not None:
        auc_by_group = _auc_by_group(actual, scores, index, len(metrics.groups))
        auc_overall = _auc(actual, scores)
        one_class = [
            g.key for g, auc in zip(metrics.groups, auc_by_group, strict=True) if math.isnan(auc)
        ]
        if one_class:
            notes.append(
                f"roc_auc is undefined (NaN) for {len(one_class)} group(s) holding one class "
                f"only: {_shown(one_class)}"
            )
    return FairnessReport(
        metrics,
        disparities,
        agg,
        undefined_rate,
        used_threshold,
        auc_by_group,
        auc_overall,
        tuple(notes),
    )
