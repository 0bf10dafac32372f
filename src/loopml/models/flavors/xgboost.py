"""XGBoost models (scikit-learn wrappers and raw Boosters) in XGBoost's own UBJSON format.

``model.ubj`` is what ``save_model`` writes: the format XGBoost itself defaults to since 2.1,
stable across XGBoost versions like its JSON twin, but binary, so floats are stored exactly and
the file is smaller and faster to parse. (JSON would be readable by a person; nobody reads a
forest of trees.) It holds the trees, the objective, the feature names and types, and the
categories of pandas categorical features, but not the wrapper's hyper-parameters: ``missing``
in particular changes predictions, so the flavor records the JSON-safe ``get_params()`` in the
manifest options and rebuilds the same wrapper class with them.

Loading parses the verified bytes in memory (``load_model(bytearray(...))``), never a path, so
the bytes XGBoost reads are the bytes whose sha256 was checked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopml.core.errors import IntegrityError, InvalidInput, user_message
from loopml.models.flavors.base import Flavor, VerifiedFiles, require

__all__ = ["XGBoostFlavor"]

MODEL_FILE = "model.ubj"
BOOSTER = "Booster"
#: The classes the flavor saves and rebuilds (exact types: a user's subclass may override
#: ``predict``, which rebuilding the XGBoost class would silently drop).
WRAPPERS = frozenset(
    {"XGBClassifier", "XGBRegressor", "XGBRanker", "XGBRFClassifier", "XGBRFRegressor"}
)
#: Parameters not restored at load: where the model runs is the loading machine's business.
_UNRESTORED = frozenset({"device"})


def _kind(model: object) -> str | None:
    """``"XGBClassifier"`` … or ``"Booster"`` for XGBoost's own types; None otherwise."""
    cls = type(model)
    if cls.__module__.split(".")[0] != "xgboost":
        return None
    if cls.__name__ in WRAPPERS or cls.__name__ == BOOSTER:
        return cls.__name__
    return None


def _json_safe(value: Any) -> tuple[bool, Any]:
    """``(True, value as plain JSON)`` when ``value`` is representable, else ``(False, None)``."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", None) == 0:
        value = value.item()  # numpy scalar
    if value is None or isinstance(value, bool | int | str):
        return True, value
    if isinstance(value, float):
        return (True, value) if math.isfinite(value) else (False, None)
    if isinstance(value, list | tuple):
        items = [_json_safe(item) for item in value]
        return (all(ok for ok, _ in items), [item for _, item in items])
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        pairs = {key: _json_safe(item) for key, item in value.items()}
        return (all(ok for ok, _ in pairs.values()), {k: v for k, (_, v) in pairs.items()})
    return False, None


def _params(model: Any) -> tuple[dict[str, Any], list[str], float | None]:
    """The wrapper's JSON-safe params that are set, those not representable, and ``missing``
    (None: NaN)."""
    params: dict[str, Any] = {}
    skipped: list[str] = []
    for name, value in sorted(model.get_params().items()):
        if name == "missing" or name in _UNRESTORED or value is None:
            continue  # None is every XGBoost default: the rebuilt wrapper gets it anyway
        ok, plain = _json_safe(value)
        if ok:
            params[name] = plain
        else:
            skipped.append(name)
    missing = float(model.missing)
    return params, skipped, None if math.isnan(missing) else missing


class XGBoostFlavor(Flavor):
    name = "xgboost"
    extra = "xgboost"
    modules = ("xgboost",)
    distributions = ("xgboost", "numpy")

    def matches(self, model: object) -> bool:
        return _kind(model) is not None

    def save(self, model: Any, directory: Path) -> dict[str, Any]:
        kind = _kind(model)
        if kind is None:
            raise InvalidInput(
                user_message(
                    "the xgboost flavor",
                    "saves XGBoost Boosters and " + ", ".join(sorted(WRAPPERS)),
                    type(model).__name__,
                )
            )
        options: dict[str, Any] = {"model_file": MODEL_FILE, "format": "ubj", "model_class": kind}
        if kind != BOOSTER:
            if not model.__sklearn_is_fitted__():
                raise InvalidInput(
                    user_message(f"{kind} model", "must be fitted before it is saved")
                )
            params, skipped, missing = _params(model)
            options |= {"params": params, "missing": missing, "params_not_saved": skipped}
        # XGBoost picks the format from the suffix; the wrapper also stores its estimator type.
        model.save_model(str(directory / MODEL_FILE))
        return options

    def load(self, files: VerifiedFiles, options: Mapping[str, Any], trust: bool) -> Any:
        xgb = require("xgboost", self.extra, "loading an XGBoost model")
        kind = options.get("model_class", BOOSTER)
        if kind != BOOSTER and kind not in WRAPPERS:
            raise IntegrityError(
                user_message(
                    "option 'model_class' of this xgboost package",
                    "must be Booster or one of " + ", ".join(sorted(WRAPPERS)),
                    kind,
                    "re-save the model with loopml.models.save_model",
                )
            )
        data = bytearray(files.read_bytes(str(options.get("model_file", MODEL_FILE))))
        if kind == BOOSTER:
            booster = xgb.Booster()
            booster.load_model(data)
            return booster
        params = dict(options.get("params") or {})
        missing = options.get("missing")
        params["missing"] = math.nan if missing is None else float(missing)
        model = getattr(xgb, kind)(**params)
        model.load_model(data)
        return model

    def predict(self, model: Any, frame: Any) -> Any:
        if _kind(model) != BOOSTER:
            return model.predict(frame)
        xgb = require("xgboost", self.extra, "predicting with an XGBoost Booster")
        # A raw Booster predicts on a DMatrix; categorical columns are read as such (XGBoost
        # refuses them otherwise), and missing values are NaN, XGBoost's default.
        return model.predict(xgb.DMatrix(frame, enable_categorical=True))

    def has_proba(self, model: Any) -> bool:
        return _kind(model) != BOOSTER and super().has_proba(model)

    def example(self) -> tuple[Any, Any]:
        import numpy as np
        import pandas as pd

        xgb = require("xgboost", self.extra, "the xgboost flavor example")
        rng = np.random.default_rng(11)
        frame = pd.DataFrame(
            {
                "distance": rng.gamma(2.0, 400.0, 300),
                "hour": rng.integers(5, 23, 300),
                "dep_delay": rng.normal(5.0, 20.0, 300),
            }
        )
        target = (frame["dep_delay"] + rng.normal(0, 10, 300) > 10).astype(int)
        model = xgb.XGBClassifier(n_estimators=20, max_depth=3, n_jobs=1, random_state=0)
        return model.fit(frame, target), frame
