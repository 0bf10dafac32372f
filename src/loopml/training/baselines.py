"""Baselines: the numbers a candidate model must beat, as scikit-learn-compatible estimators.

- :class:`MajorityBaseline`: the training class shares (``DummyClassifier(strategy="prior")``)
  or the training mean (``DummyRegressor``).
- :class:`RuleBaseline`: a heuristic written as a boolean ``DataFrame.eval`` expression
  (``"sched_dep_hour >= 17 and origin == 'EWR'"``); it predicts the training target rate (or
  mean) of the rows where the rule holds, and of the rows where it does not. A side with no
  training rows predicts the overall rate.
- :class:`GroupRateBaseline`: the training target rate (or mean) per value of one column;
  values unseen in training, and missing values, get the overall rate. ``column=None`` picks
  the column whose group rates score best on the training data, scored out of fold (5 folds:
  in-sample, the column with the most distinct values would always win), by log loss
  (classification) or squared error (regression); only columns with at most ``max_groups``
  distinct values are tried.

Each is fitted with ``fit(X, y)`` (which returns ``self``) and keeps its learned state in
attributes ending in ``_``. **What is saved is** ``estimator_``: a fitted scikit-learn object
made of scikit-learn types only (``Pipeline``, ``ColumnTransformer``, ``SimpleImputer``,
``MissingIndicator``, ``Binarizer``, ``OneHotEncoder``, ``DecisionTreeClassifier``/
``Regressor``, ``Dummy*``), so ``loopml.log_model(saveable(baseline))`` loads back without
``trust=True`` (the baseline classes themselves are loopml types, which skops would only load
with ``trust=True``). ``predict`` and ``predict_proba`` *are* ``estimator_``'s, so the saved
model predicts bit for bit what the baseline predicts.

How a rule becomes scikit-learn types: the expression is parsed (Python grammar, as pandas
reads it) and must be comparisons of one column with constants (``<``, ``<=``, ``>``, ``>=``,
``==``, ``!=``, ``in``, ``not in``, chained too) combined with ``and``/``or``/``not`` (or ``&``,
``|``, ``~``). The constants cut each numeric column into intervals and points, which
``Binarizer`` thresholds identify exactly (``x >= t`` is ``x > nextafter(t, -inf)`` in
float64), plus a ``MissingIndicator``; a text, categorical or boolean column may only be
compared for (in)equality, and a ``OneHotEncoder`` of its constants identifies the value (any
other value, or a missing one, compares like "none of them"). One representative row per cell
of that grid is evaluated with ``DataFrame.eval`` (so pandas' own semantics decide the rule),
and a fully grown decision tree fitted on the cells' codes, weighted by the training class
counts of the cell's side of the rule, maps every cell to that side's rate. Fitting checks that
the cells reproduce ``DataFrame.eval`` on every training row. Numeric columns are compared as
float64 (a float32 column near a constant could differ from pandas, and fitting says so).
"""

from __future__ import annotations

import ast
import itertools
import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from loopml.core.errors import did_you_mean, verbatim
from loopml.training._common import (
    Task,
    check_columns,
    check_frame,
    check_seed,
    check_task,
    invalid,
)

__all__ = ["GroupRateBaseline", "MajorityBaseline", "RuleBaseline", "saveable"]

FloatArray = npt.NDArray[np.float64]
#: Most cells a rule may cut its columns into (the lookup tree has one leaf per cell).
MAX_RULE_CELLS = 100_000
_FOLDS = 5
_EPS = float(np.finfo(np.float64).eps)


def saveable(model: Any) -> Any:
    """What to pass to ``loopml.log_model``: a baseline's ``estimator_`` (scikit-learn types
    only, loads without trust), anything else unchanged."""
    if isinstance(model, _Baseline):
        check_is_fitted(model, "estimator_")
        return model.estimator_
    return model


def _is_classification(estimator: Any) -> bool:
    return bool(estimator.task == "classification")


class _Baseline(BaseEstimator):  # type: ignore[misc]
    """Shared behaviour: predictions are ``estimator_``'s; the task decides the estimator type."""

    task: str

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        classifier = getattr(self, "task", "classification") == "classification"
        tags.estimator_type = "classifier" if classifier else "regressor"
        return tags

    def _start(self, frame: Any, y: Any) -> tuple[pd.DataFrame, pd.Series[Any], Task]:
        task = check_task(self.task)
        frame = check_frame(frame, f"{type(self).__name__}.fit frame")
        target = pd.Series(np.asarray(y), index=frame.index)
        if len(target) != len(frame):
            raise invalid(
                f"{type(self).__name__}.fit y",
                f"must have one value per row of the frame ({len(frame)})",
                verbatim(str(len(target))),
            )
        if target.isna().any():
            raise invalid(
                f"{type(self).__name__}.fit y",
                "must have no missing values",
                verbatim(f"{int(target.isna().sum())} missing"),
            )
        if task == "regression" and not pd.api.types.is_numeric_dtype(target):
            raise invalid(
                f"{type(self).__name__}.fit y",
                "must be numeric for regression",
                verbatim(f"dtype {target.dtype}"),
            )
        return frame, target, task

    def predict(self, frame: Any) -> Any:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(frame)

    @available_if(_is_classification)  # type: ignore[untyped-decorator]
    def predict_proba(self, frame: Any) -> Any:
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(frame)

    @property
    def classes_(self) -> Any:
        check_is_fitted(self, "estimator_")
        return self.estimator_.classes_


class MajorityBaseline(_Baseline):
    """The training class shares (``predict`` gives the majority class) or the training mean."""

    def __init__(self, task: str = "classification") -> None:
        self.task = task

    def fit(self, frame: Any, y: Any) -> MajorityBaseline:
        from sklearn.dummy import DummyClassifier, DummyRegressor

        frame, target, task = self._start(frame, y)
        dummy = DummyClassifier(strategy="prior") if task == "classification" else DummyRegressor()
        self.estimator_ = dummy.fit(frame, target)
        return self


# --------------------------------------------------------------------------------------------
# Lookup tables as decision trees


def _class_counts(target: pd.Series[Any], classes: Sequence[Any]) -> FloatArray:
    counts = target.value_counts()
    return np.array([float(counts.get(c, 0)) for c in classes])


def _lookup_tree(keys: FloatArray, task: Task, classes: Sequence[Any], outcome: FloatArray) -> Any:
    """A decision tree that maps each row of ``keys`` (distinct codes) to its outcome.

    Classification: ``outcome[i]`` holds class counts; one weighted row per class with a count,
    so the leaf of key ``i`` predicts exactly ``counts / counts.sum()``. Regression:
    ``outcome[i]`` is the value. The tree is grown until every key has its own leaf (impurity
    never reaches zero in a leaf holding two keys with different outcomes), so a key is looked up
    exactly.
    """
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if task == "regression":
        return DecisionTreeRegressor(random_state=0).fit(keys, outcome)
    rows, labels, weights = [], [], []
    for i, counts in enumerate(outcome):
        for j, count in enumerate(counts):
            if count > 0:
                rows.append(i)
                labels.append(classes[j])
                weights.append(count)
    return DecisionTreeClassifier(random_state=0).fit(
        keys[rows], np.asarray(labels), sample_weight=np.asarray(weights)
    )


def _cells_of(codes: FloatArray, keys: FloatArray) -> npt.NDArray[np.int64]:
    """The row of ``keys`` each row of ``codes`` equals (every code is a key by construction)."""
    index = {key.tobytes(): i for i, key in enumerate(np.ascontiguousarray(keys))}
    distinct, inverse = np.unique(codes, axis=0, return_inverse=True)
    found = np.array([index.get(row.tobytes(), -1) for row in np.ascontiguousarray(distinct)])
    if (found < 0).any():  # pragma: no cover - a bug in the encoding, not a user error
        raise RuntimeError("rule encoding produced a code that is not a cell")
    return np.asarray(found[np.ravel(inverse)], dtype=np.int64)


def _outcome(target: pd.Series[Any], task: Task, classes: Sequence[Any]) -> Any:
    if task == "classification":
        return _class_counts(target, classes)
    return float(np.mean(target.to_numpy(dtype=np.float64)))


def _classes(target: pd.Series[Any], task: Task) -> list[Any]:
    if task != "classification":
        return []
    classes = np.unique(target.to_numpy())
    if len(classes) < 2:
        raise invalid(
            "baseline target",
            "must have at least two classes for classification",
            verbatim(str(classes.tolist())),
        )
    return list(classes)


# --------------------------------------------------------------------------------------------
# Rules


_RULE_HELP = (
    "write comparisons of one column with constants (<, <=, >, >=, ==, !=, in, not in) "
    "combined with and, or, not; e.g. \"sched_dep_hour >= 17 and origin == 'EWR'\""
)
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_EQUALITY = (ast.Eq, ast.NotEq, ast.In, ast.NotIn)


def _constant(node: ast.AST) -> list[Any] | None:
    """The constant(s) a node stands for, or None if it is not a constant."""
    if isinstance(node, ast.Constant) and (
        isinstance(node.value, str | bool) or _is_number(node.value)
    ):
        return [node.value]
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub | ast.UAdd)
        and isinstance(node.operand, ast.Constant)
        and _is_number(node.operand.value)
    ):
        value: Any = node.operand.value
        return [-value if isinstance(node.op, ast.USub) else value]
    if isinstance(node, ast.List | ast.Tuple):
        items = [_constant(item) for item in node.elts]
        if items and all(item is not None and len(item) == 1 for item in items):
            return [item[0] for item in items if item is not None]
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _parse_rule(expression: str, frame: pd.DataFrame) -> dict[str, tuple[bool, list[Any]]]:
    """Column -> (is numeric, constants compared with it), checking the rule's grammar."""
    if not isinstance(expression, str) or not expression.strip():
        raise invalid("rule expression", "must be a non-empty string", expression, _RULE_HELP)
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise invalid("rule expression", "must parse", expression, _RULE_HELP) from exc
    found: dict[str, tuple[bool, list[Any]]] = {}

    def bad(node: ast.AST, why: str) -> Exception:
        return invalid(f"rule {expression!r}", why, verbatim(repr(ast.unparse(node))), _RULE_HELP)

    def column(name: str) -> bool:
        if name not in frame.columns:
            hint = did_you_mean(name, frame.columns, ignore_case=True)
            raise invalid(
                f"rule {expression!r}",
                "must name columns of the frame",
                name,
                f"{hint}?" if hint else None,
            )
        dtype = frame[name].dtype
        return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                visit(value)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd | ast.BitOr):
            visit(node.left)
            visit(node.right)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not | ast.Invert):
            visit(node.operand)
        elif isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            for left, op, right in zip(operands, node.ops, operands[1:], strict=False):
                compare(left, op, right)
        else:
            raise bad(node, "may only combine comparisons with and, or, not")

    def compare(left: ast.AST, op: ast.cmpop, right: ast.AST) -> None:
        name_node, other = (left, right) if isinstance(left, ast.Name) else (right, left)
        if not isinstance(name_node, ast.Name):
            raise bad(left, "must compare a column with constants")
        values = _constant(other)
        if values is None:
            raise bad(other, "must compare a column with constants, not with an expression")
        numeric = column(name_node.id)
        if not isinstance(op, _ORDERING + _EQUALITY):
            raise bad(left, "uses an operator rules do not support")
        if numeric and not all(_is_number(v) for v in values):
            raise bad(other, f"compares numeric column {name_node.id!r} with a non-number")
        if not numeric and isinstance(op, _ORDERING):
            raise bad(
                other, f"may only test column {name_node.id!r} (not numeric) with ==, != or in"
            )
        _, known = found.setdefault(name_node.id, (numeric, []))
        known.extend(values)

    visit(tree.body)
    if not found:
        raise invalid("rule expression", "must compare at least one column", expression)
    return found


def _numeric_cells(thresholds: list[float]) -> tuple[list[float], list[float]]:
    """(Binarizer thresholds, one representative value per cell) for a numeric column."""
    points = sorted(set(thresholds))
    cuts = sorted({float(np.nextafter(t, -math.inf)) for t in points} | set(points))
    reps = [float(np.nextafter(points[0], -math.inf))]
    for low, high in itertools.pairwise(points):
        reps.append(low)
        inside = float(np.nextafter(low, math.inf))
        if inside < high:
            reps.append(inside)
    reps += [points[-1], float(np.nextafter(points[-1], math.inf)), math.nan]
    return cuts, reps


def _rule_encoder(columns: dict[str, tuple[bool, list[Any]]]) -> tuple[Any, pd.DataFrame]:
    """An unfitted ColumnTransformer coding each row's cell, and one representative row per
    cell (the cartesian product of the columns' representatives)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import MissingIndicator, SimpleImputer
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import Binarizer, OneHotEncoder

    parts: list[tuple[str, Any, list[str]]] = []
    reps: dict[str, list[Any]] = {}
    for i, (name, (numeric, values)) in enumerate(columns.items()):
        if numeric:
            cuts, reps[name] = _numeric_cells([float(v) for v in values])
            union = FeatureUnion([(f"gt{j}", Binarizer(threshold=c)) for j, c in enumerate(cuts)])
            fill = SimpleImputer(strategy="constant", fill_value=0, keep_empty_features=True)
            parts.append((f"c{i}", Pipeline([("fill", fill), ("cuts", union)]), [name]))
            parts.append((f"c{i}_missing", MissingIndicator(features="all"), [name]))
        else:
            levels = sorted(set(values), key=lambda v: (type(v).__name__, v))
            onehot = OneHotEncoder(
                categories=[levels], handle_unknown="ignore", sparse_output=False
            )
            parts.append((f"c{i}", onehot, [name]))
            reps[name] = [*levels, None]  # None: any other value, or a missing one
    grid = list(itertools.product(*reps.values()))
    if len(grid) > MAX_RULE_CELLS:
        raise invalid(
            "rule",
            f"may cut its columns into at most {MAX_RULE_CELLS} cells",
            verbatim(f"{len(grid)} cells"),
            "compare fewer columns or with fewer constants",
        )
    frame = pd.DataFrame(grid, columns=list(reps)).astype(
        {name: "float64" if columns[name][0] else "object" for name in reps}
    )
    encoder = ColumnTransformer(parts, remainder="drop", sparse_threshold=0.0)
    return encoder, frame


def _evaluate_rule(expression: str, frame: pd.DataFrame) -> npt.NDArray[np.bool_]:
    try:
        result = frame.eval(expression, engine="python")
    except Exception as exc:
        raise invalid(
            f"rule {expression!r}", "must evaluate with DataFrame.eval", str(exc)
        ) from exc
    if not isinstance(result, pd.Series) or not pd.api.types.is_bool_dtype(result.dtype):
        raise invalid(f"rule {expression!r}", "must evaluate to true or false per row", result)
    return np.asarray(result.to_numpy(dtype=bool))


class RuleBaseline(_Baseline):
    """The training target rate (or mean) where ``expression`` holds, and where it does not.

    >>> X = pd.DataFrame({"hour": [6, 9, 18, 20]})
    >>> rule = RuleBaseline("hour >= 17").fit(X, [0, 1, 1, 1])
    >>> rule.predict_proba(pd.DataFrame({"hour": [8, 19]}))[:, 1].tolist()
    [0.5, 1.0]
    """

    def __init__(self, expression: str, task: str = "classification") -> None:
        self.expression = expression
        self.task = task

    def fit(self, frame: Any, y: Any) -> RuleBaseline:
        from sklearn.pipeline import Pipeline

        frame, target, task = self._start(frame, y)
        columns = _parse_rule(self.expression, frame)
        encoder, grid = _rule_encoder(columns)
        encoder.fit(frame)
        keys = np.asarray(encoder.transform(grid), dtype=np.float64)
        holds = _evaluate_rule(self.expression, grid)
        cells = _cells_of(np.asarray(encoder.transform(frame), dtype=np.float64), keys)
        in_rule = holds[cells]
        expected = _evaluate_rule(self.expression, frame)
        if not np.array_equal(in_rule, expected):
            wrong = int((in_rule != expected).sum())
            raise invalid(
                f"rule {self.expression!r}",
                "must give the same answer as DataFrame.eval on every training row",
                verbatim(f"{wrong} rows differ"),
                "compare float64 columns, or cast the columns the rule reads to float64",
            )
        classes = _classes(target, task)
        overall = _outcome(target, task, classes)
        sides = {
            side: _outcome(target[in_rule == side], task, classes)
            if (in_rule == side).any()
            else overall
            for side in (True, False)
        }
        outcome = np.array([sides[bool(h)] for h in holds], dtype=np.float64)
        self.columns_ = tuple(columns)
        self.support_ = {"holds": int(in_rule.sum()), "fails": int((~in_rule).sum())}
        self.rate_true_ = _rate(sides[True], task)
        self.rate_false_ = _rate(sides[False], task)
        self.estimator_ = Pipeline(
            [("cells", encoder), ("lookup", _lookup_tree(keys, task, classes, outcome))]
        )
        return self


def _rate(outcome: Any, task: Task) -> Any:
    """A side's prediction: class shares for classification, the mean for regression."""
    if task == "regression":
        return float(outcome)
    shares = np.asarray(outcome) / np.sum(outcome)
    return float(shares[-1]) if len(shares) == 2 else shares


# --------------------------------------------------------------------------------------------
# Group rates


def _out_of_fold_loss(
    groups: npt.NDArray[np.int64], target: pd.Series[Any], task: Task, seed: int
) -> float:
    """Mean loss of out-of-fold group rates (overall rate for groups absent from the other
    folds and for missing values, coded -1)."""
    n = len(groups)
    folds = np.random.default_rng(seed).permutation(n) % _FOLDS
    n_groups = int(groups.max()) + 2  # +1 for the "missing" code -1, shifted to 0
    g = groups + 1
    if task == "regression":
        values = target.to_numpy(dtype=np.float64)
        loss = 0.0
        for k in range(_FOLDS):
            out, inside = folds != k, folds == k
            sums = np.bincount(g[out], weights=values[out], minlength=n_groups)
            counts = np.bincount(g[out], minlength=n_groups)
            overall = values[out].mean()
            rates = np.where(counts > 0, sums / np.maximum(counts, 1), overall)
            rates[0] = overall
            loss += float(np.sum((values[inside] - rates[g[inside]]) ** 2))
        return loss / n
    codes, _ = pd.factorize(target, sort=True)
    n_classes = int(codes.max()) + 1
    loss = 0.0
    for k in range(_FOLDS):
        out, inside = folds != k, folds == k
        table = np.bincount(
            g[out] * n_classes + codes[out], minlength=n_groups * n_classes
        ).reshape(n_groups, n_classes)
        overall = table.sum(axis=0) / out.sum()
        totals = table.sum(axis=1, keepdims=True)
        shares = np.where(totals > 0, table / np.maximum(totals, 1), overall)
        shares[0] = overall
        p = shares[g[inside], codes[inside]]
        loss += float(-np.sum(np.log(np.clip(p, _EPS, 1.0))))
    return loss / n


class GroupRateBaseline(_Baseline):
    """The training target rate (or mean) per value of ``column`` (``None``: the best column);
    unseen and missing values get the overall rate.

    >>> X = pd.DataFrame({"carrier": ["AA", "AA", "UA", "UA"]})
    >>> base = GroupRateBaseline("carrier").fit(X, [0, 1, 1, 1])
    >>> base.predict_proba(pd.DataFrame({"carrier": ["UA", "B6"]}))[:, 1].tolist()
    [1.0, 0.75]
    """

    def __init__(
        self,
        column: str | None = None,
        task: str = "classification",
        max_groups: int = 1000,
        seed: int = 0,
    ) -> None:
        self.column = column
        self.task = task
        self.max_groups = max_groups
        self.seed = seed

    def fit(self, frame: Any, y: Any) -> GroupRateBaseline:
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import OneHotEncoder

        frame, target, task = self._start(frame, y)
        seed = check_seed(self.seed, "GroupRateBaseline seed")
        if isinstance(self.max_groups, bool) or not isinstance(self.max_groups, int):
            raise invalid("GroupRateBaseline max_groups", "must be a positive int", self.max_groups)
        if self.column is not None:
            candidates = check_columns(frame, self.column, "GroupRateBaseline column")
        else:
            candidates = [str(c) for c in frame.columns if frame[c].nunique() <= self.max_groups]
            if not candidates:
                raise invalid(
                    "GroupRateBaseline",
                    f"needs a column with at most {self.max_groups} distinct values",
                    verbatim(f"{frame.shape[1]} columns, none that small"),
                    "name a column, or raise max_groups",
                )
        codes = {c: pd.factorize(frame[c], sort=False)[0].astype(np.int64) for c in candidates}
        scores = {c: _out_of_fold_loss(codes[c], target, task, seed) for c in candidates}
        best = min(candidates, key=lambda c: scores[c])
        levels = _levels(frame[best])
        encoder = ColumnTransformer(
            [
                (
                    "group",
                    OneHotEncoder(
                        categories=[levels], handle_unknown="ignore", sparse_output=False
                    ),
                    [best],
                )
            ],
            remainder="drop",
            sparse_threshold=0.0,
        ).fit(frame)
        classes = _classes(target, task)
        grid = pd.DataFrame({best: pd.Series([*levels, None], dtype=object)})
        keys = np.asarray(encoder.transform(grid), dtype=np.float64)
        grouped = dict(iter(target.groupby(frame[best].to_numpy())))
        outcome = np.array(
            [_outcome(grouped[v], task, classes) for v in levels]
            + [_outcome(target, task, classes)],
            dtype=np.float64,
        )
        self.column_ = best
        self.scores_ = scores
        self.estimator_ = Pipeline(
            [("groups", encoder), ("lookup", _lookup_tree(keys, task, classes, outcome))]
        )
        return self


def _levels(column: pd.Series[Any]) -> list[Any]:
    values = pd.unique(column.dropna()).tolist()
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=lambda v: (type(v).__name__, str(v)))
