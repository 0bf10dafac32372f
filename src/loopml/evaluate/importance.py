"""Feature importance: by permutation (scikit-learn) and by SHAP values (the ``shap`` extra).

:func:`permutation_importance` calls :func:`sklearn.inspection.permutation_importance` with a
scorer built from a metric of :mod:`loopml.evaluate.catalog`. Rules:

- The importance of a feature is how much worse the metric gets when that column is shuffled:
  ``metric(intact) - metric(shuffled)`` for a metric where higher is better, the reverse for a
  loss, so that a useful feature has a positive importance whatever the metric. ``mean`` and
  ``std`` are over ``n_repeats`` shuffles (scikit-learn's ``importances_mean`` and
  ``importances_std``, with ``random_state=seed``).
- Above ``max_rows`` rows, a sample of ``max_rows`` rows without replacement
  (``numpy.random.default_rng(seed)``, kept in frame order) is used; ``rows_used`` says how many.
  ``std`` is the spread over shuffles only: it does not include the sampling error of the rows
  (which a sample adds to; ranking features needs far less precision than a metric's interval).
- ``model_predict`` is a callable from a DataFrame to one score per row (a probability of class 1
  for classification), so any model, a pipeline or a loaded package can be measured.

:func:`shap_importance` reports the mean absolute SHAP value of each feature over at most
``max_rows`` rows (sampled as above): ``shap.TreeExplainer`` when it accepts the model (tree
ensembles of scikit-learn, XGBoost, LightGBM on a numeric frame), else a permutation explainer on
the model's prediction function with ``background_rows`` rows as the background (one
permutation and its reverse per row, ``2 * features + 1`` evaluations). Columns that
are not numbers (text, categories) are coded as integers for the generic explainer and decoded
before each prediction, so a pipeline that encodes its own columns is explained on its raw
columns. ``std`` is the standard deviation of the absolute SHAP values over the rows. Without the
``shap`` package it raises :class:`~loopml.core.errors.MissingDependency` naming the extra.

Both return an :class:`Importance` with the features sorted by ``mean``, largest first.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from loopml.core.errors import MissingDependency
from loopml.evaluate._checks import (
    as_values,
    check_frame,
    check_int,
    check_number,
    check_predict,
    invalid,
    sample_positions,
)
from loopml.evaluate.catalog import Task, check_task, metric_or_default
from loopml.evaluate.slices import infer_task

__all__ = ["Importance", "permutation_importance", "shap_importance"]

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Importance:
    """Importance per feature (sorted by ``mean``, largest first) and how it was measured."""

    method: Literal["permutation", "shap"]
    features: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    rows_used: int
    rows_total: int
    #: The metric (permutation) or the explainer (shap) used.
    measure: str
    n_repeats: int | None = None

    def as_dict(self) -> dict[str, float]:
        """``{feature: mean}`` in order."""
        return dict(zip(self.features, self.mean, strict=True))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "features": list(self.features),
            "mean": list(self.mean),
            "std": list(self.std),
            "rows_used": self.rows_used,
            "rows_total": self.rows_total,
            "measure": self.measure,
            "n_repeats": self.n_repeats,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Importance:
        return cls(
            method=data["method"],
            features=tuple(data["features"]),
            mean=tuple(float(v) for v in data["mean"]),
            std=tuple(float(v) for v in data["std"]),
            rows_used=int(data["rows_used"]),
            rows_total=int(data["rows_total"]),
            measure=data["measure"],
            n_repeats=data.get("n_repeats"),
        )


def _sorted(
    method: Literal["permutation", "shap"],
    names: list[str],
    mean: FloatArray,
    std: FloatArray,
    rows_used: int,
    rows_total: int,
    measure: str,
    n_repeats: int | None,
) -> Importance:
    order = sorted(range(len(names)), key=lambda i: (-mean[i], names[i]))
    return Importance(
        method,
        tuple(names[i] for i in order),
        tuple(float(mean[i]) for i in order),
        tuple(float(std[i]) for i in order),
        rows_used,
        rows_total,
        measure,
        n_repeats,
    )


class _Predictor:
    """The estimator scikit-learn's permutation_importance needs: ``fit`` is a no-op."""

    def __init__(self, predict: Callable[[pd.DataFrame], Any]) -> None:
        self.predict = predict

    def fit(self, *args: Any, **kwargs: Any) -> _Predictor:
        return self


def permutation_importance(
    model_predict: Callable[[pd.DataFrame], Any],
    frame: pd.DataFrame,
    y_true: object,
    *,
    metric: str | None = None,
    task: Task | None = None,
    threshold: float = 0.5,
    n_repeats: int = 5,
    max_rows: int = 20_000,
    seed: int = 0,
) -> Importance:
    """Importance of each column of ``frame`` by shuffling it (see the module rules).

    ``metric`` defaults to ``roc_auc`` for classification and ``rmse`` for regression; ``task``
    None infers it (a 0/1 target is classification).

    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> frame = pd.DataFrame({"signal": rng.normal(size=500), "noise": rng.normal(size=500)})
    >>> y = frame["signal"] * 2.0
    >>> imp = permutation_importance(lambda df: df["signal"] * 2.0, frame, y, metric="rmse")
    >>> imp.features, imp.mean[1]
    (('signal', 'noise'), 0.0)
    """
    from sklearn.inspection import permutation_importance as sklearn_importance

    func = "permutation_importance"
    check_predict(func, "model_predict", model_predict)
    data = check_frame(func, "frame", frame)
    truth = as_values(func, "y_true", y_true, len(data))
    chosen = infer_task(truth) if task is None else check_task(task)
    spec = metric_or_default(metric, chosen, subject=f"{func}() argument 'metric'")
    repeats = check_int(func, "n_repeats", n_repeats, low=1)
    rows = check_int(func, "max_rows", max_rows, low=2)
    cut = check_number(func, "threshold", threshold)
    chosen_rows = sample_positions(len(data), rows, seed)
    if chosen_rows is not None:
        data, truth = data.iloc[chosen_rows], truth[chosen_rows]
    metric_fn = spec.bind(cut)
    sign = 1.0 if spec.higher_is_better else -1.0

    def scorer(estimator: _Predictor, features: pd.DataFrame, target: Any) -> float:
        scores = np.asarray(estimator.predict(features), dtype=np.float64)
        return sign * float(metric_fn(np.asarray(target), scores))

    result = sklearn_importance(
        _Predictor(model_predict),
        data,
        truth,
        scoring=scorer,
        n_repeats=repeats,
        random_state=seed,
    )
    return _sorted(
        "permutation",
        [str(c) for c in data.columns],
        np.asarray(result.importances_mean, dtype=np.float64),
        np.asarray(result.importances_std, dtype=np.float64),
        len(data),
        len(frame),
        spec.name,
        repeats,
    )


def _shap() -> Any:
    try:
        import shap
    except ImportError as exc:
        raise MissingDependency(
            "SHAP importance needs the shap package: pip install 'loopml[shap]'"
        ) from exc
    return shap


def _positive_class(values: Any) -> FloatArray:
    """SHAP values as ``(rows, features)``: the class-1 slice of per-class outputs."""
    if isinstance(values, list):
        values = values[-1]
    array = np.asarray(values, dtype=np.float64)
    if array.ndim == 3:
        array = array[:, :, -1]
    return array


def shap_importance(
    model: Any,
    frame: pd.DataFrame,
    max_rows: int = 2_000,
    *,
    predict: Callable[[pd.DataFrame], Any] | None = None,
    background_rows: int = 100,
    seed: int = 0,
) -> Importance:
    """Mean absolute SHAP value per column of ``frame`` (see the module rules).

    ``predict`` is the function the generic explainer explains (default: the probability of
    class 1 from ``model.predict_proba``, else ``model.predict``).
    """
    func = "shap_importance"
    shap = _shap()
    data = check_frame(func, "frame", frame)
    rows = check_int(func, "max_rows", max_rows, low=1)
    background = check_int(func, "background_rows", background_rows, low=1)
    chosen = sample_positions(len(data), rows, seed)
    sample = data if chosen is None else data.iloc[chosen]
    names = [str(c) for c in data.columns]
    values: FloatArray | None = None
    measure = "TreeExplainer"
    try:
        explainer = shap.TreeExplainer(model)
    except Exception:  # shap raises several kinds for models it cannot walk
        explainer = None
    if explainer is not None:
        try:
            values = _positive_class(explainer.shap_values(sample))
        except Exception:  # a frame the tree model cannot take as it is (text columns)
            values = None
    if values is None:
        measure = "PermutationExplainer"
        positions = np.arange(len(data)) if chosen is None else chosen
        values = _generic(shap, model, predict, data, positions, background, seed)
    absolute = np.abs(values)
    return _sorted(
        "shap",
        names,
        absolute.mean(axis=0),
        absolute.std(axis=0, ddof=1) if len(sample) > 1 else np.zeros(len(names)),
        len(sample),
        len(data),
        measure,
        None,
    )


def _generic(
    shap: Any,
    model: Any,
    predict: Callable[[pd.DataFrame], Any] | None,
    data: pd.DataFrame,
    positions: npt.NDArray[Any],
    background_rows: int,
    seed: int,
) -> FloatArray:
    """SHAP values of a permutation explainer on integer-coded columns."""
    chosen: Callable[[pd.DataFrame], Any]
    if predict is not None:
        chosen = predict
    elif hasattr(model, "predict_proba") and getattr(model, "has_proba", True):

        def chosen(frame: pd.DataFrame) -> Any:
            return np.asarray(model.predict_proba(frame))[:, 1]

    elif hasattr(model, "predict"):
        chosen = model.predict
    else:
        invalid(
            "shap_importance",
            "model",
            "must have predict_proba or predict",
            type(model).__name__,
        )
    columns = list(data.columns)
    coded = pd.DataFrame(index=range(len(data)))
    decoders: dict[Any, Any] = {}
    for column in columns:
        values = data[column]
        if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(
            values.dtype
        ):
            coded[column] = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            lookup = np.empty(len(uniques) + 1, dtype=object)  # the last code is "missing"
            lookup[:-1] = np.asarray(uniques, dtype=object)
            decoders[column] = (lookup, values.dtype)
            coded[column] = np.where(codes < 0, len(uniques), codes).astype(np.float64)
    dtypes = data.dtypes

    def on_codes(matrix: Any) -> Any:
        frame = pd.DataFrame(np.asarray(matrix), columns=columns)
        for column in columns:
            if column in decoders:
                uniques, dtype = decoders[column]
                raw = uniques[frame[column].to_numpy().astype(np.int64)]
                frame[column] = pd.Series(raw, dtype=dtype)
            else:
                frame[column] = frame[column].astype(dtypes[column])
        return np.asarray(chosen(frame), dtype=np.float64)

    rng = np.random.default_rng(seed)
    size = min(background_rows, len(data))
    background = coded.iloc[np.sort(rng.choice(len(data), size=size, replace=False))]
    explained = coded.iloc[positions].to_numpy()
    masker = shap.maskers.Independent(background.to_numpy(), max_samples=size)
    explainer = shap.explainers.Permutation(on_codes, masker, seed=seed)
    # One permutation and its reverse per row (shap's antithetic sampling): 2M + 1 evaluations.
    result = explainer(explained, max_evals=2 * len(columns) + 1, silent=True)
    return np.asarray(result.values, dtype=np.float64)
