"""LightGBM models (scikit-learn wrappers and raw Boosters) in LightGBM's own text format.

``model.txt`` is ``Booster.model_to_string()``: trees, objective, feature names, and the
categories of pandas categorical columns (LightGBM maps them by value, so a frame whose
categories are listed in another order predicts the same). With early stopping it holds the
trees up to the best iteration, which is what the wrapper predicts with.

A scikit-learn wrapper is rebuilt as :class:`LGBMBoosterRegressor` or
:class:`LGBMBoosterClassifier`: the Booster plus what the wrapper adds on top of it (for a
classifier, ``classes_`` and the two-column ``predict_proba`` of binary models), computed
exactly as LightGBM's wrapper computes it, so predictions are bit-identical. Rebuilding a real
``LGBMClassifier`` would mean setting its private attributes, which change between releases.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from loopml.core.errors import IntegrityError, InvalidInput, user_message
from loopml.models.flavors.base import Flavor, VerifiedFiles, require

__all__ = ["LGBMBoosterClassifier", "LGBMBoosterRegressor", "LightGBMFlavor"]

MODEL_FILE = "model.txt"
BOOSTER = "Booster"
CLASSIFIERS = frozenset({"LGBMClassifier"})
REGRESSORS = frozenset({"LGBMRegressor", "LGBMRanker"})


class LGBMBoosterRegressor:
    """A loaded LightGBM regressor or ranker: ``predict`` is the Booster's prediction."""

    def __init__(self, booster: Any, model_class: str) -> None:
        self.booster_ = booster
        #: The wrapper class the model was saved from (``"LGBMRegressor"``, …).
        self.model_class = model_class

    def __repr__(self) -> str:
        return f"<{type(self).__name__} of a {self.model_class}>"

    @property
    def feature_name_(self) -> list[str]:
        names: list[str] = self.booster_.feature_name()
        return names

    @property
    def feature_names_in_(self) -> np.ndarray[Any, Any]:
        return np.asarray(self.feature_name_, dtype=object)

    @property
    def n_features_in_(self) -> int:
        return len(self.feature_name_)

    def predict(self, frame: Any) -> Any:
        return self.booster_.predict(frame)


class LGBMBoosterClassifier(LGBMBoosterRegressor):
    """A loaded LightGBM classifier: labels and probabilities as ``LGBMClassifier`` gives them."""

    def __init__(self, booster: Any, model_class: str, classes: np.ndarray[Any, Any]) -> None:
        super().__init__(booster, model_class)
        self.classes_ = classes

    @property
    def n_classes_(self) -> int:
        return len(self.classes_)

    def predict_proba(self, frame: Any) -> Any:
        result = self.booster_.predict(frame)
        if result.ndim == 1:  # binary: the Booster gives P(classes_[1])
            return np.vstack((1.0 - result, result)).transpose()
        return result

    def predict(self, frame: Any) -> Any:
        return self.classes_[np.argmax(self.predict_proba(frame), axis=1)]


def _kind(model: object) -> str | None:
    """The LightGBM class name of ``model`` (or of the model a loaded adapter came from)."""
    if isinstance(model, LGBMBoosterRegressor):
        return model.model_class
    cls = type(model)
    if cls.__module__.split(".")[0] != "lightgbm":
        return None
    if cls.__name__ in CLASSIFIERS | REGRESSORS or cls.__name__ == BOOSTER:
        return cls.__name__
    return None


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class LightGBMFlavor(Flavor):
    name = "lightgbm"
    extra = "lightgbm"
    modules = ("lightgbm",)
    distributions = ("lightgbm", "numpy")

    def matches(self, model: object) -> bool:
        return _kind(model) is not None

    def save(self, model: Any, directory: Path) -> dict[str, Any]:
        kind = _kind(model)
        if kind is None:
            raise InvalidInput(
                user_message(
                    "the lightgbm flavor",
                    "saves LightGBM Boosters, LGBMClassifier, LGBMRegressor and LGBMRanker",
                    type(model).__name__,
                )
            )
        options: dict[str, Any] = {"model_file": MODEL_FILE, "format": "text", "model_class": kind}
        if kind == BOOSTER:
            booster = model
        else:
            if not isinstance(model, LGBMBoosterRegressor) and not model.__sklearn_is_fitted__():
                raise InvalidInput(
                    user_message(f"{kind} model", "must be fitted before it is saved")
                )
            booster = model.booster_
        if kind in CLASSIFIERS:
            if callable(getattr(model, "objective", None)):
                raise InvalidInput(
                    user_message(
                        f"{kind} with a custom objective function",
                        "predicts raw scores, not classes, so it cannot be packaged as a "
                        "classifier",
                        fix="save model.booster_ (the raw Booster) instead",
                    )
                )
            classes = np.asarray(model.classes_)
            options["classes"] = [_plain(value) for value in classes.tolist()]
            options["classes_dtype"] = classes.dtype.str
        (directory / MODEL_FILE).write_text(booster.model_to_string(), encoding="utf-8")
        return options

    def load(self, files: VerifiedFiles, options: Mapping[str, Any], trust: bool) -> Any:
        lgb = require("lightgbm", self.extra, "loading a LightGBM model")
        kind = options.get("model_class", BOOSTER)
        if kind != BOOSTER and kind not in CLASSIFIERS | REGRESSORS:
            raise IntegrityError(
                user_message(
                    "option 'model_class' of this lightgbm package",
                    "must be Booster, LGBMClassifier, LGBMRegressor or LGBMRanker",
                    kind,
                    "re-save the model with loopml.models.save_model",
                )
            )
        text = files.read_bytes(str(options.get("model_file", MODEL_FILE))).decode("utf-8")
        booster = lgb.Booster(model_str=text)
        if kind == BOOSTER:
            return booster
        if kind in REGRESSORS:
            return LGBMBoosterRegressor(booster, kind)
        classes = np.array(options.get("classes") or [], dtype=str(options.get("classes_dtype")))
        if len(classes) < 2:
            raise IntegrityError(
                user_message(
                    "option 'classes' of this lightgbm package",
                    "must list at least two class labels",
                    list(classes),
                    "re-save the model with loopml.models.save_model",
                )
            )
        return LGBMBoosterClassifier(booster, kind, classes)

    def example(self) -> tuple[Any, Any]:
        import pandas as pd

        lgb = require("lightgbm", self.extra, "the lightgbm flavor example")
        rng = np.random.default_rng(13)
        frame = pd.DataFrame(
            {
                "distance": rng.gamma(2.0, 400.0, 300),
                "hour": rng.integers(5, 23, 300),
                "carrier": pd.Categorical(rng.choice(["AA", "DL", "UA", "B6"], 300)),
            }
        )
        late = frame["hour"] + 4 * (frame["carrier"] == "B6") + rng.normal(0, 3, 300) > 16
        target = np.where(late, "late", "on_time")
        model = lgb.LGBMClassifier(n_estimators=20, num_leaves=7, n_jobs=1, verbose=-1)
        return model.fit(frame, target), frame
