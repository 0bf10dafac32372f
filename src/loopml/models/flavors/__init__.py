"""The flavors loopml can package, by name, and detection of a model's flavor.

Detection order matters: XGBoost's and LightGBM's scikit-learn wrappers are scikit-learn
estimators too, but their native formats are smaller, faster and need no trusted types, so they
are tried first; ``pyfunc`` (cloudpickle, unsafe) is never chosen automatically for an object
another flavor can save.
"""

from __future__ import annotations

import importlib

from loopml.core.errors import InvalidInput, user_message
from loopml.models.flavors.base import Flavor, VerifiedFiles, require

__all__ = ["FLAVOR_NAMES", "Flavor", "VerifiedFiles", "detect_flavor", "get_flavor", "require"]

#: name -> (module, class), in detection order.
_FLAVORS: dict[str, tuple[str, str]] = {
    "xgboost": ("loopml.models.flavors.xgboost", "XGBoostFlavor"),
    "lightgbm": ("loopml.models.flavors.lightgbm", "LightGBMFlavor"),
    "sklearn": ("loopml.models.flavors.sklearn", "SklearnFlavor"),
    "onnx": ("loopml.models.flavors.onnx", "OnnxFlavor"),
    "pyfunc": ("loopml.models.flavors.pyfunc", "PyfuncFlavor"),
}
FLAVOR_NAMES = tuple(_FLAVORS)
_INSTANCES: dict[str, Flavor] = {}


def get_flavor(name: object) -> Flavor:
    """The flavor called ``name`` (its module imports no optional library until used)."""
    if not isinstance(name, str) or name not in _FLAVORS:
        raise InvalidInput(
            user_message("model flavor", f"must be one of {', '.join(FLAVOR_NAMES)}", name)
        )
    if name not in _INSTANCES:
        module, cls = _FLAVORS[name]
        _INSTANCES[name] = getattr(importlib.import_module(module), cls)()
    return _INSTANCES[name]


def detect_flavor(model: object) -> Flavor:
    """The first flavor (in :data:`FLAVOR_NAMES` order) that can save ``model``."""
    for name in FLAVOR_NAMES:
        flavor = get_flavor(name)
        if flavor.matches(model):
            return flavor
    raise InvalidInput(
        user_message(
            "model",
            "is not of a flavor loopml can save (scikit-learn, XGBoost, LightGBM, ONNX, or an "
            "object with a predict(df) method for pyfunc)",
            type(model).__name__,
            "wrap it in a class with predict(df) and pass flavor='pyfunc'",
        )
    )
