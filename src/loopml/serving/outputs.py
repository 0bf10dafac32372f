"""What a served model returns for a frame: its predictions, and a classifier's probabilities.

:class:`Predictor` calls the model once per batch. The predictions are always those of
``model.predict``, bit for bit. A classifier that has ``predict_proba`` (when
``ServingConfig.probabilities`` is on) also returns its class probabilities, in ``classes``
order; for the scikit-learn classifiers whose ``predict`` is the class of the highest probability
(an order-preserving transform of the same scores: histogram and classic gradient boosting,
random forests, extra trees, decision trees, logistic regression, calibrated classifiers, alone
or at the end of a Pipeline), the labels are read from the probabilities instead of predicting
twice. Rows whose highest probability is tied (where rounding could hide which score was higher)
are predicted again with ``predict``, so the labels stay exactly ``predict``'s.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from loopml.models.loaded import LoadedModel

__all__ = ["Predictor"]


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


class Predictor:
    """Predictions (and probabilities) of one model for a frame (rules: module docstring)."""

    def __init__(self, model: LoadedModel, *, probabilities: bool = True) -> None:
        self.model = model
        self.has_proba = probabilities and model.has_proba
        self.classes: list[Any] | None = model.classes if self.has_proba else None
        self._argmax = _argmax_classes(model) if self.has_proba else None

    def __call__(self, frame: Any) -> tuple[Any, Any | None]:
        """``(predictions, probabilities or None)`` as numpy arrays, one entry per row."""
        model = self.model
        if not self.has_proba:
            return np.asarray(model.predict(frame, validate=False)), None
        proba = np.asarray(model.predict_proba(frame, validate=False))
        if self._argmax is None or proba.ndim != 2 or proba.shape[1] != len(self._argmax):
            return np.asarray(model.predict(frame, validate=False)), proba
        top = proba.argmax(axis=1)
        labels = self._argmax[top]
        best = proba[np.arange(len(proba)), top]
        tied = (proba == best[:, None]).sum(axis=1) != 1  # ties, and NaN rows
        if tied.any():
            labels[tied] = model.predict(frame.iloc[np.flatnonzero(tied)], validate=False)
        return labels, proba
