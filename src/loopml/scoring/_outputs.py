"""What scoring writes for the valid rows of a chunk: predictions, and a classifier's
probabilities, as Arrow columns.

The predictions are always those of ``model.predict``, bit for bit. With probabilities on, a
classifier with ``predict_proba`` is asked for its probabilities; for the scikit-learn
classifiers whose ``predict`` is the class of the highest probability (an order-preserving
transform of the same scores: histogram and classic gradient boosting, random forests, extra
trees, decision trees, logistic regression, calibrated classifiers, alone or at the end of a
Pipeline) the labels are read from the probabilities instead of predicting twice, which is what
keeps batch scoring at the speed of one ``predict``. Rows whose highest probability is tied
(where rounding could hide which score was higher, and NaN rows) are predicted again with
``predict``, so the labels stay exactly ``predict``'s. Other models are asked both.

Columns: ``prediction`` (a model that predicts ``k`` > 1 values per row: ``prediction_0`` ..
``prediction_{k-1}``); a binary classifier's probability of its second class (``classes[1]``,
the positive one) as ``probability``; a classifier of more classes one ``probability_<class>``
per class, in the model's class order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.models.loaded import LoadedModel

__all__ = ["Outputs"]

PREDICTION = "prediction"
PROBABILITY = "probability"


def _argmax_classes(model: LoadedModel) -> Any | None:
    """The ``classes_`` array when ``model.predict`` is the argmax of ``predict_proba``."""
    if model.manifest.flavor != "sklearn":
        return None
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        RandomForestClassifier,
    )
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

    known = (
        CalibratedClassifierCV,
        DecisionTreeClassifier,
        ExtraTreeClassifier,
        ExtraTreesClassifier,
        GradientBoostingClassifier,
        HistGradientBoostingClassifier,
        LogisticRegression,
        RandomForestClassifier,
    )
    estimator = model.native
    while type(estimator) is Pipeline:
        estimator = estimator.steps[-1][1]
    if type(estimator) not in known or getattr(estimator, "n_outputs_", 1) != 1:
        return None
    classes = getattr(estimator, "classes_", None)
    if not isinstance(classes, np.ndarray) or classes.ndim != 1:
        return None
    return classes


def _array(values: Any) -> pa.Array:
    """One output column as Arrow (numpy object arrays of str become strings)."""
    if isinstance(values, pd.Series | pd.Index):
        values = values.to_numpy()
    return pa.array(values, from_pandas=True)


class Outputs:
    """The output columns of one model for a conformed frame (rules: module docstring)."""

    def __init__(self, model: LoadedModel, *, probabilities: bool) -> None:
        self.model = model
        self.has_proba = probabilities and model.has_proba
        classes = model.classes if self.has_proba else None
        self.classes: list[Any] | None = None if classes is None else list(classes)
        self._argmax = _argmax_classes(model) if self.has_proba else None

    def probability_names(self) -> list[str]:
        """The names of the probability columns (none without probabilities)."""
        if self.classes is None:
            return []
        if len(self.classes) == 2:
            return [PROBABILITY]
        return [f"{PROBABILITY}_{c}" for c in self.classes]

    def _predict(self, frame: pd.DataFrame) -> tuple[Any, Any | None]:
        model = self.model
        if not self.has_proba:
            return np.asarray(model.predict(frame, validate=False)), None
        proba = np.asarray(model.predict_proba(frame, validate=False), dtype=float)
        if self._argmax is None or proba.ndim != 2 or proba.shape[1] != len(self._argmax):
            return np.asarray(model.predict(frame, validate=False)), proba
        top = proba.argmax(axis=1)
        labels = self._argmax[top]
        best = proba[np.arange(len(proba)), top]
        tied = (proba == best[:, None]).sum(axis=1) != 1  # ties, and NaN rows
        if tied.any():
            labels[tied] = model.predict(frame.iloc[np.flatnonzero(tied)], validate=False)
        return labels, proba

    def columns(self, frame: pd.DataFrame) -> dict[str, pa.Array]:
        """The output columns for ``frame``, by name, in output order."""
        labels, proba = self._predict(frame)
        out: dict[str, pa.Array] = {}
        if isinstance(labels, pd.DataFrame):
            labels = labels.to_numpy()
        labels = np.asarray(labels)
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels[:, 0]
        if labels.ndim == 1:
            out[PREDICTION] = _array(labels)
        elif labels.ndim == 2:
            for j in range(labels.shape[1]):
                out[f"{PREDICTION}_{j}"] = _array(labels[:, j])
        else:
            raise InvalidInput(
                user_message(
                    "the model's predictions",
                    "must be one value or one row of values per input row",
                    verbatim(f"an array of shape {labels.shape}"),
                )
            )
        if proba is not None:
            names = self.probability_names()
            if proba.ndim != 2 or proba.shape[1] != len(self.classes or ()):
                raise InvalidInput(
                    user_message(
                        "the model's predict_proba",
                        f"must give one probability per class ({len(names)} classes)",
                        verbatim(f"an array of shape {proba.shape}"),
                    )
                )
            if names == [PROBABILITY]:
                out[PROBABILITY] = pa.array(proba[:, 1])
            else:
                for j, name in enumerate(names):
                    out[name] = pa.array(proba[:, j])
        return out
