"""Any object with a ``predict(df)`` method, serialized with cloudpickle (unsafe: needs trust).

The last resort of detection, for models no other flavor can save: a rule, a wrapper around
several models, a class written in a notebook. Unpickling runs code, so loading needs
``trust=True``.

A class defined in a notebook or script (``__main__``), or in a module that is not part of an
installed distribution (a ``my_model.py`` beside the notebook, a project folder on
``sys.path``), would not be importable where the package is loaded; cloudpickle therefore
stores that module's code *by value* inside the pickle. Classes from installed distributions
are stored by reference, and the manifest names the distribution the loading environment needs.
"""

from __future__ import annotations

import importlib.metadata
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from loopml.core.errors import InvalidInput, NotTrusted, user_message
from loopml.models.flavors.base import Flavor, VerifiedFiles, require

__all__ = ["LogisticRule", "PyfuncFlavor"]

MODEL_FILE = "model.pkl"


def _home(module: str) -> tuple[str | None, str | None]:
    """``(module to pickle by value, distribution to depend on)`` for a class's module."""
    top = module.split(".")[0]
    if module == "__main__" or top in sys.stdlib_module_names or top == "builtins":
        return None, None  # __main__ is pickled by value by cloudpickle itself
    distributions = importlib.metadata.packages_distributions().get(top)
    if distributions:
        return None, distributions[0]
    return top, None


class PyfuncFlavor(Flavor):
    name = "pyfunc"
    extra = None
    modules = ("cloudpickle",)
    distributions = ("cloudpickle",)
    safe = False

    def matches(self, model: object) -> bool:
        return not isinstance(model, type) and callable(getattr(model, "predict", None))

    def save(self, model: Any, directory: Path) -> dict[str, Any]:
        cloudpickle = require("cloudpickle", None, "the pyfunc flavor")
        cls = type(model)
        by_value, distribution = _home(cls.__module__)
        registered = by_value is not None and by_value not in set(
            cloudpickle.list_registry_pickle_by_value()
        )
        if registered:
            cloudpickle.register_pickle_by_value(sys.modules[str(by_value)])
        try:
            data: bytes = cloudpickle.dumps(model)
        finally:
            if registered:
                cloudpickle.unregister_pickle_by_value(sys.modules[str(by_value)])
        (directory / MODEL_FILE).write_bytes(data)
        return {
            "model_file": MODEL_FILE,
            "serializer": "cloudpickle",
            "model_class": f"{cls.__module__}.{cls.__qualname__}",
            "pickled_by_value": [by_value] if by_value else [],
            "class_distribution": distribution,
        }

    def load(self, files: VerifiedFiles, options: Mapping[str, Any], trust: bool) -> Any:
        if not trust:
            raise NotTrusted(
                user_message(
                    f"this pyfunc package (class {options.get('model_class', '?')})",
                    "is a cloudpickle, and loading it can run any code",
                    fix="pass trust=True (CLI: --trust) only if you trust who saved it",
                )
            )
        cloudpickle = require("cloudpickle", None, "the pyfunc flavor")
        return cloudpickle.loads(files.read_bytes(str(options.get("model_file", MODEL_FILE))))

    def example(self) -> tuple[Any, Any]:
        rng = np.random.default_rng(17)
        frame = pd.DataFrame(
            {"dep_delay": rng.normal(5.0, 20.0, 200), "distance": rng.gamma(2.0, 400.0, 200)}
        )
        return LogisticRule("dep_delay", threshold=15.0, scale=5.0), frame


class LogisticRule:
    """A user-style model: "late" when ``column`` exceeds ``threshold``, with a soft margin.

    >>> rule = LogisticRule("dep_delay", threshold=15.0, scale=5.0)
    >>> rule.predict(pd.DataFrame({"dep_delay": [0.0, 30.0]})).tolist()
    ['on_time', 'late']
    """

    classes_ = np.array(["late", "on_time"], dtype=object)

    def __init__(self, column: str, threshold: float, scale: float) -> None:
        if not math.isfinite(scale) or scale <= 0:
            raise InvalidInput(
                user_message("LogisticRule scale", "must be a positive number", scale)
            )
        self.column = column
        self.threshold = threshold
        self.scale = scale

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        z = (frame[self.column].to_numpy(dtype=np.float64) - self.threshold) / self.scale
        late = 1.0 / (1.0 + np.exp(-z))
        return np.column_stack([late, 1.0 - late])

    def predict(self, frame: pd.DataFrame) -> np.ndarray[Any, Any]:
        labels: np.ndarray[Any, Any] = self.classes_[np.argmax(self.predict_proba(frame), axis=1)]
        return labels
