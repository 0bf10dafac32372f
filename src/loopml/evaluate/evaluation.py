"""``evaluate()``: the evaluation of one model on one dataset, as one JSON-ready result.

:func:`evaluate` runs every part of :mod:`loopml.evaluate` on a model and a frame holding the
features and the target, and returns an :class:`EvaluationResult`. Rules:

- **Model.** Classification needs ``predict_proba`` (column 1 is P(class 1); a model with
  ``classes_`` must have the classes 0 and 1, in that order); regression needs ``predict``. A
  :class:`loopml.LoadedModel` works as it is. The model gets the columns it was fitted on when it
  says which (scikit-learn's ``feature_names_in_``, a loaded package's signature), else every
  column but the target; the other columns can still be sliced by.
- **Task.** ``task=None`` infers it: a target holding only 0 and 1 is classification, anything
  else regression. A classification target needs both classes.
- **Metrics** (default: every metric of the task, :func:`~loopml.evaluate.catalog.default_metrics`;
  ``mape`` is left out, with a note, when the target holds a 0) each get a percentile bootstrap
  interval from ``n_resamples`` resamples of the rows, equal to
  ``bootstrap_ci(metric, y, p, n_resamples=n_resamples, confidence=confidence, seed=seed)``:
  the resamples are drawn once and shared by every metric (see ``_panel``). ``baseline`` (a model
  or an array of its scores on the same rows) adds a paired :class:`Gain` per metric, equal to
  ``compare_to_baseline`` with the same seed. The first metric is the *primary* one: worst
  slices report it and permutation importance uses it.
- **Slices**: ``slices`` columns, every metric, with ``min_slice_support`` (see
  :mod:`loopml.evaluate.slices`). **Worst slices**: up to ``worst_slices`` (0: skip) over every
  column of ``data`` but the target, single columns and pairs.
- **Behaviour**: each declared test (an :class:`Invariance`, :class:`Directional` or
  :class:`Perturbation`, or its configuration mapping) runs on the model's columns.
- **Calibration** (classification): reliability curve (``calibration_bins`` uniform bins), ECE
  and MCE. ``recalibrate="platt"`` or ``"isotonic"`` adds the ECE after recalibration, measured
  by two-fold cross-fitting (fit on one half of the rows, seeded, measure on the other, and the
  reverse; the ECE of the pooled held-out probabilities), never on the rows it was fitted on.
- **Fairness** (classification): :func:`fairness_report` over the ``sensitive`` columns, with
  predictions ``score >= threshold``.
- **Importance**: ``"permutation"`` (5 shuffles on at most ``importance_rows`` rows) or
  ``"shap"`` (at most ``min(importance_rows, 2000)`` rows); None skips it.
- **Latency** (``latency=True``): 200 single-row predictions. **Model size**: ``model_size_mb``
  when given (the saved package's size, which ``loopml train`` passes), else the size of the
  pickled model in MB (of ``model.native`` for a loaded package; a note says so), None if it
  cannot be pickled.
- **Threads.** Native thread pools (OpenMP, BLAS; through ``threadpoolctl``) keep their
  settings for the predictions on the whole data, and are limited to one thread everywhere else:
  the repeated small predictions of importance, behavioural tests and latency gain nothing from
  threads, and on a busy 2-core machine threads waiting for each other made them 8 to 30 times
  slower (measured with scikit-learn's HistGradientBoosting). Latency is therefore the
  single-threaded latency, as one worker of a model server sees it.
- **Subsampling** happens only where the statistic is a mean over rows whose sampling error is
  small at the sample size (importance, behavioural tests); every such step is stated in
  ``notes`` with the rows used. Metrics, intervals, slices, worst slices, calibration and fairness
  use every row.
- The result keeps the per-row ``predictions`` and ``y_true`` for paired comparisons (a gate
  against a champion); they are not in the JSON (``to_dict``), but :meth:`EvaluationResult.save`
  writes them beside it (``predictions.npz``) and :meth:`EvaluationResult.load` reads them back.
  ``data_digest`` (sha256 over ``pandas.util.hash_pandas_object`` of the frame and its column
  names) tells whether two results were computed on the same data.
"""

from __future__ import annotations

import logging
import pickle
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from loopml.core.errors import verbatim
from loopml.evaluate._checks import (
    as_values,
    check_choice,
    check_frame,
    check_int,
    check_number,
    invalid,
    require_column,
)
from loopml.evaluate._panel import bootstrap_panel
from loopml.evaluate.behaviour import (
    BehaviourTest,
    Directional,
    Invariance,
    Perturbation,
    parse_behaviour,
)
from loopml.evaluate.calibration import (
    expected_calibration_error,
    fit_recalibration,
    max_calibration_error,
    reliability_curve,
)
from loopml.evaluate.catalog import MetricSpec, Task, check_task, default_metrics, metric_spec
from loopml.evaluate.fairness import fairness_report
from loopml.evaluate.importance import Importance, permutation_importance, shap_importance
from loopml.evaluate.latency import measure_latency
from loopml.evaluate.result import Calibration, Curves, EvaluationResult, data_digest
from loopml.evaluate.slices import Slice, find_worst_slices, infer_task, slice_reports

__all__ = ["evaluate"]

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
Predict = Callable[[pd.DataFrame], FloatArray]
#: Points kept per ROC / PR curve in the result (evenly spaced along the curve, ends kept).
_CURVE_POINTS = 200
#: Rows explained by SHAP at most (the generic explainer costs rows x (2 features + 1) x 100).
_SHAP_ROWS = 2_000


# --------------------------------------------------------------------------------------------
# Model access


def _model_columns(model: Any, data: pd.DataFrame, target: str) -> list[Any]:
    """The columns the model takes: those it declares, else every column but the target."""
    declared: Sequence[Any] | None = None
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        declared = list(names)
    else:
        signature = getattr(model, "signature", None)
        if signature is not None and hasattr(signature, "names"):
            declared = list(signature.names)
    if declared is None:
        return [c for c in data.columns if c != target]
    missing = [c for c in declared if c not in data.columns]
    if missing:
        invalid(
            "evaluate",
            "data",
            "must hold every column the model was fitted on",
            verbatim(f"missing {', '.join(map(repr, missing))}"),
            "evaluate on a frame with the model's input columns",
        )
    if target in declared:
        invalid(
            "evaluate",
            "target",
            "must not be an input of the model",
            target,
            "pass the name of the target column",
        )
    return list(declared)


def _check_classes(model: Any) -> None:
    classes = getattr(model, "classes_", None)
    if classes is None:
        classes = getattr(model, "classes", None)
    if classes is None or callable(classes):
        return
    values = list(classes)
    if len(values) != 2 or not (values[0] == 0 and values[1] == 1):
        invalid(
            "evaluate",
            "model",
            "must be a binary classifier of the classes 0 and 1 (column 1 of predict_proba "
            "is then P(y = 1))",
            verbatim(f"classes {values!r}"),
            "fit it on a 0/1 target",
        )


def _predictor(model: Any, task: Task, arg: str = "model") -> Predict:
    """Scores per row: P(class 1) for classification, ``predict`` for regression."""
    kind = type(model).__name__
    if task == "classification":
        if not hasattr(model, "predict_proba") or not getattr(model, "has_proba", True):
            invalid(
                "evaluate",
                arg,
                "must have predict_proba for classification",
                verbatim(f"a {kind} without it"),
                "pass a probabilistic classifier, or task='regression' for a model of numbers",
            )
        _check_classes(model)

        def proba(frame: pd.DataFrame) -> FloatArray:
            raw = np.asarray(model.predict_proba(frame), dtype=np.float64)
            if raw.ndim == 2 and raw.shape[1] == 2:
                raw = raw[:, 1]
            elif raw.ndim != 1:
                invalid(
                    "evaluate",
                    arg,
                    "must return P(class 1) (predict_proba of shape (n, 2) or (n,))",
                    verbatim(f"shape {raw.shape}"),
                    "evaluate binary classifiers only",
                )
            return raw

        return proba
    if not hasattr(model, "predict"):
        invalid(
            "evaluate",
            arg,
            "must have predict for regression",
            verbatim(f"a {kind} without it"),
            "pass a fitted regressor",
        )

    def values(frame: pd.DataFrame) -> FloatArray:
        return np.asarray(model.predict(frame), dtype=np.float64).ravel()

    return values


def _scores(func: str, arg: str, raw: FloatArray, n: int, task: Task) -> FloatArray:
    scores = as_values(func, arg, raw, n)
    if task == "classification" and (scores.min() < 0.0 or scores.max() > 1.0):
        invalid(
            func,
            arg,
            "must be probabilities in [0, 1]",
            verbatim(f"values from {scores.min()!r} to {scores.max()!r}"),
        )
    return scores


def _model_size_mb(model: Any) -> float | None:
    try:
        return len(pickle.dumps(getattr(model, "native", model), protocol=5)) / 1e6
    except Exception:  # an object that does not pickle: size unknown
        return None


# --------------------------------------------------------------------------------------------
# Parts


def _curves(task: Task, truth: FloatArray, scores: FloatArray) -> Curves:
    if task == "regression":
        edges = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, 11)))
        bins = np.searchsorted(edges[1:-1], scores, side="left")
        counts = np.bincount(bins)
        kept = counts > 0
        mean_pred = np.bincount(bins, weights=scores)[kept] / counts[kept]
        mean_true = np.bincount(bins, weights=truth)[kept] / counts[kept]
        return Curves("regression", tuple(mean_pred.tolist()), tuple(mean_true.tolist()))
    from sklearn.metrics import precision_recall_curve, roc_curve

    fpr, tpr, _ = roc_curve(truth, scores)
    precision, recall, _ = precision_recall_curve(truth, scores)

    def thin(x: FloatArray, y: FloatArray) -> tuple[tuple[float, ...], tuple[float, ...]]:
        if x.size > _CURVE_POINTS:
            keep = np.unique(np.linspace(0, x.size - 1, _CURVE_POINTS).round().astype(int))
            x, y = x[keep], y[keep]
        return tuple(x.tolist()), tuple(y.tolist())

    roc, pr = thin(fpr, tpr), thin(recall, precision)
    return Curves("classification", roc[0], roc[1], pr[0], pr[1])


def _calibration(
    truth: FloatArray, scores: FloatArray, bins: int, method: str | None, seed: int
) -> Calibration:
    curve = reliability_curve(truth, scores, n_bins=bins)
    ece = expected_calibration_error(truth, scores, n_bins=bins)
    mce = max_calibration_error(truth, scores, n_bins=bins)
    if method is None:
        return Calibration(curve, ece, mce)
    half = np.random.default_rng(seed).permutation(truth.size) < truth.size // 2
    recalibrated = np.empty_like(scores)
    for fit_rows in (half, ~half):
        fitted = fit_recalibration(truth[fit_rows], scores[fit_rows], method)  # type: ignore[call-overload]
        recalibrated[~fit_rows] = fitted.transform(scores[~fit_rows])
    return Calibration(
        curve,
        ece,
        mce,
        method,  # type: ignore[arg-type]
        expected_calibration_error(truth, recalibrated, n_bins=bins),
        max_calibration_error(truth, recalibrated, n_bins=bins),
    )


def _behaviour_tests(items: Sequence[Any]) -> list[BehaviourTest]:
    tests: list[BehaviourTest] = []
    for item in items:
        if isinstance(item, Invariance | Directional | Perturbation):
            tests.append(item)
        elif isinstance(item, Mapping):
            tests.append(parse_behaviour(item))
        else:
            invalid(
                "evaluate",
                "behaviour",
                "must hold Invariance, Directional or Perturbation tests (or their mappings)",
                verbatim(type(item).__name__),
            )
    return tests


class _Clock:
    """Seconds per part; native thread pools limited to one thread inside a part unless
    ``threads`` (see the module rules)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.started = time.perf_counter()

    @contextmanager
    def part(self, name: str, *, threads: bool = False) -> Iterator[None]:
        from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

        start = time.perf_counter()
        try:
            if threads:
                yield
            else:
                with threadpool_limits(limits=1):
                    yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start


def _names(func: str, arg: str, data: pd.DataFrame, columns: object) -> list[Any]:
    if isinstance(columns, str):
        columns = [columns]
    if not isinstance(columns, Sequence):
        invalid(func, arg, "must be a list of column names", verbatim(type(columns).__name__))
    return [require_column(func, arg, data, c) for c in columns]


# --------------------------------------------------------------------------------------------
# evaluate


def evaluate(
    model: Any,
    data: pd.DataFrame,
    target: str,
    *,
    task: Task | None = None,
    baseline: Any = None,
    threshold: float = 0.5,
    metrics: Sequence[str] | None = None,
    slices: Sequence[str] = (),
    min_slice_support: int = 100,
    worst_slices: int = 10,
    sensitive: Sequence[str] = (),
    behaviour: Sequence[BehaviourTest | Mapping[str, Any]] = (),
    calibration_bins: int = 10,
    recalibrate: Literal["platt", "isotonic"] | None = None,
    importance: Literal["permutation", "shap"] | None = "permutation",
    importance_rows: int = 20_000,
    latency: bool = True,
    model_size_mb: float | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> EvaluationResult:
    """Evaluate ``model`` on ``data`` (features and the ``target`` column); see the module rules.

    >>> import numpy as np, pandas as pd
    >>> from sklearn.linear_model import LogisticRegression
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"x": rng.normal(size=400), "group": rng.choice(["a", "b"], 400)})
    >>> frame["y"] = (frame["x"] + rng.normal(size=400) > 0).astype(int)
    >>> model = LogisticRegression().fit(frame[["x"]], frame["y"])
    >>> result = evaluate(model, frame, "y", slices=["group"], latency=False, n_resamples=200)
    >>> result.task, result.primary_metric, round(result.metrics["roc_auc"].value, 3)
    ('classification', 'roc_auc', 0.861)
    >>> [s.description for s in result.slices["roc_auc"].columns[0].slices]
    ["group = 'a'", "group = 'b'"]
    """
    func = "evaluate"
    clock = _Clock()
    frame = check_frame(func, "data", data)
    if not isinstance(target, str):
        invalid(func, "target", "must be the name of the target column (a string)", target)
    require_column(func, "target", frame, target)
    cut = check_number(
        func,
        "threshold",
        threshold,
        low=0.0,
        high=1.0,
        open_low=True,
        open_high=True,
        fix="pass a probability cut strictly between 0 and 1, e.g. 0.5",
    )
    resamples = check_int(func, "n_resamples", n_resamples, low=2, fix="use 1000 or more")
    level = check_number(
        func, "confidence", confidence, low=0.0, high=1.0, open_low=True, open_high=True
    )
    support = check_int(func, "min_slice_support", min_slice_support, low=2)
    n_worst = check_int(func, "worst_slices", worst_slices, low=0)
    bins = check_int(func, "calibration_bins", calibration_bins, low=1)
    rows_for_importance = check_int(func, "importance_rows", importance_rows, low=2)
    chosen_seed = check_int(func, "seed", seed, low=0)
    given_size = (
        None
        if model_size_mb is None
        else check_number(func, "model_size_mb", model_size_mb, low=0.0)
    )
    if recalibrate is not None:
        check_choice(func, "recalibrate", recalibrate, ("platt", "isotonic"))
    if importance is not None:
        check_choice(func, "importance", importance, ("permutation", "shap"))
    slice_columns = _names(func, "slices", frame, slices)
    sensitive_columns = _names(func, "sensitive", frame, sensitive)
    tests = _behaviour_tests(behaviour)
    if len(frame) < 2:
        invalid(func, "data", "must hold at least 2 rows", len(frame))
    column = frame[target]
    if not (pd.api.types.is_numeric_dtype(column.dtype) or pd.api.types.is_bool_dtype(column)):
        invalid(
            func,
            "target",
            "must name a column of numbers (0/1 for classification)",
            verbatim(f"{target!r} of dtype {column.dtype}"),
            "encode the positive class as 1: (data[target] == label).astype(int)",
        )
    truth = as_values(func, f"data[{target!r}]", column)
    chosen = infer_task(truth) if task is None else check_task(task, f"{func}() argument 'task'")
    notes: list[str] = []
    if chosen == "classification":
        if not np.isin(truth, (0.0, 1.0)).all():
            invalid(
                func,
                "target",
                "must hold only 0 and 1 for classification",
                verbatim(f"values such as {sorted(set(truth[:1000].tolist()))[:5]}"),
                "encode the positive class as 1, or pass task='regression'",
            )
        positives = int(truth.sum())
        if positives in (0, truth.size):
            invalid(
                func,
                "target",
                "must hold both classes (0 and 1) for classification",
                verbatim(f"only class {int(truth[0])} in {truth.size} rows"),
            )
    specs = _specs(chosen, metrics, truth, notes)
    if sensitive_columns and chosen != "classification":
        invalid(
            func,
            "sensitive",
            "applies to classification (group rates of predicted positives)",
            sensitive_columns,
            "compare regression errors across groups with slices=[...]",
        )
    features = _model_columns(model, frame, target)
    inputs = frame[features]
    predict = _predictor(model, chosen)
    with clock.part("predict", threads=True):
        scores = _scores(func, "the model's predictions", predict(inputs), len(frame), chosen)
    base_scores = None
    if baseline is not None:
        with clock.part("baseline", threads=True):
            if hasattr(baseline, "predict_proba") or hasattr(baseline, "predict"):
                raw = _predictor(baseline, chosen, "baseline")(
                    frame[_model_columns(baseline, frame, target)]
                )
            else:
                raw = baseline
            base_scores = _scores(func, "baseline", raw, len(frame), chosen)
    with clock.part("metrics"):
        estimates, gains = bootstrap_panel(
            specs,
            truth,
            scores,
            baseline=base_scores,
            threshold=cut,
            n_resamples=resamples,
            confidence=level,
            seed=chosen_seed,
        )
        curves = _curves(chosen, truth, scores)
    with clock.part("slices"):
        reports = (
            slice_reports(
                truth,
                scores,
                frame,
                slice_columns,
                specs,
                threshold=cut,
                min_support=support,
                bins=10,
                overall={s.name: estimates[s.name].value for s in specs},
            )
            if slice_columns
            else {}
        )
    worst: tuple[Slice, ...] = ()
    if n_worst:
        with clock.part("worst_slices"):
            others = frame.drop(columns=[target])
            worst = find_worst_slices(
                truth,
                scores,
                others,
                task=chosen,
                min_support=support,
                max_slices=n_worst,
                metric=specs[0].name,
                threshold=cut,
            )
    results = []
    with clock.part("behaviour"):
        for test in tests:
            results.append(test.run(predict, inputs, y_true=truth, task=chosen, threshold=cut))
            if len(inputs) > test.max_rows:
                notes.append(
                    f"behaviour test {test.label!r} on a seeded sample of {test.max_rows:,} of "
                    f"{len(inputs):,} rows"
                )
    calibration = None
    if chosen == "classification":
        with clock.part("calibration"):
            calibration = _calibration(truth, scores, bins, recalibrate, chosen_seed)
    fairness = None
    if sensitive_columns:
        with clock.part("fairness"):
            fairness = fairness_report(
                truth.astype(np.int64),
                None,
                frame[sensitive_columns],
                y_score=scores,
                threshold=cut,
            )
    measured: Importance | None = None
    if importance is not None:
        with clock.part("importance"):
            if importance == "permutation":
                measured = permutation_importance(
                    predict,
                    inputs,
                    truth,
                    metric=specs[0].name,
                    task=chosen,
                    threshold=cut,
                    max_rows=rows_for_importance,
                    seed=chosen_seed,
                )
            else:
                measured = shap_importance(
                    model,
                    inputs,
                    min(rows_for_importance, _SHAP_ROWS),
                    predict=predict,
                    seed=chosen_seed,
                )
        if measured.rows_used < measured.rows_total:
            notes.append(
                f"{measured.method} importance on a seeded sample of {measured.rows_used:,} of "
                f"{measured.rows_total:,} rows"
            )
    timing = None
    if latency:
        with clock.part("latency"):
            timing = measure_latency(predict, inputs, seed=chosen_seed)
    size: float | None = given_size
    if size is None:
        with clock.part("model_size"):
            size = _model_size_mb(model)
        if size is not None:
            notes.append("model size: the pickled model (the saved package was not given)")
    with clock.part("digest"):
        digest = data_digest(frame)
    clock.seconds["total"] = time.perf_counter() - clock.started
    return EvaluationResult(
        task=chosen,
        target=target,
        n_rows=len(frame),
        threshold=cut,
        confidence=level,
        n_resamples=resamples,
        seed=chosen_seed,
        data_digest=digest,
        metrics=estimates,
        gains=gains,
        slices=reports,
        worst_slices=worst,
        behaviour=tuple(results),
        calibration=calibration,
        fairness=fairness,
        importance=measured,
        latency=timing,
        model_size_mb=size,
        curves=curves,
        notes=tuple(notes),
        seconds=dict(clock.seconds),
        predictions=scores,
        y_true=truth,
    )


def _specs(
    task: Task, metrics: Sequence[str] | None, truth: FloatArray, notes: list[str]
) -> list[MetricSpec]:
    if metrics is None:
        names = list(default_metrics(task))
        if task == "regression" and (truth == 0.0).any():
            names.remove("mape")
            notes.append("mape left out: the target holds 0, where a relative error is undefined")
    else:
        if isinstance(metrics, str) or not isinstance(metrics, Sequence) or not metrics:
            invalid("evaluate", "metrics", "must be a non-empty list of metric names", metrics)
        names = list(metrics)
    specs: list[MetricSpec] = []
    for name in names:
        spec = metric_spec(name, task, subject="evaluate() argument 'metrics':")
        if spec.name not in {s.name for s in specs}:
            specs.append(spec)
    return specs
