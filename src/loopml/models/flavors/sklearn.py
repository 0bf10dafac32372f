"""scikit-learn estimators and Pipelines, serialized with skops (no pickle).

skops rebuilds objects from a schema and refuses types it does not know unless they are listed
as trusted. At save time the flavor records the types skops would not trust by default
(``trusted_types``: e.g. ``sklearn.tree._tree.Tree``), since the person saving the model knows
what is in it. At load time those types are trusted without ``trust=True`` only when they come
from the libraries a model of this flavor is made of (:data:`SAFE_MODULE_ROOTS`); any other type
(a user's own transformer class, say) needs an explicit ``trust=True``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from loopml.core.errors import NotTrusted, user_message
from loopml.models.flavors.base import Flavor, VerifiedFiles, require

__all__ = ["SAFE_MODULE_ROOTS", "SAFE_TYPES", "SklearnFlavor"]

MODEL_FILE = "model.skops"

#: Top-level modules whose types a package may name in ``trusted_types`` and still load without
#: ``trust=True``: scikit-learn itself and what its estimators hold.
SAFE_MODULE_ROOTS = frozenset({"sklearn", "numpy", "scipy", "skops"})
#: Single standard-library types estimators hold (HistGradientBoosting keeps a
#: ``functools.partial``). A partial is only as dangerous as the function it wraps, and skops
#: refuses that function unless it is recorded too, where the rules above judge it. Anything
#: else from the standard library (``builtins.eval``, ``os.system``) needs ``trust=True``.
SAFE_TYPES = frozenset({"functools.partial"})


def _nothing() -> None:
    return None


def _needs_trust(type_name: str) -> bool:
    return type_name not in SAFE_TYPES and type_name.split(".")[0] not in SAFE_MODULE_ROOTS


def _is_sklearn(model: object) -> bool:
    return any(
        cls.__module__.split(".")[0] == "sklearn" and cls.__name__ == "BaseEstimator"
        for cls in type(model).__mro__
    )


class SklearnFlavor(Flavor):
    name = "sklearn"
    extra = None
    distributions = ("scikit-learn", "skops", "numpy", "scipy")
    modules = ("skops",)

    def matches(self, model: object) -> bool:
        return _is_sklearn(model) and callable(getattr(model, "predict", None))

    def save(self, model: Any, directory: Path) -> dict[str, Any]:
        sio = require("skops.io", None, "the sklearn flavor")
        data: bytes = sio.dumps(model)
        (directory / MODEL_FILE).write_bytes(data)
        trusted = sorted(sio.get_untrusted_types(data=data))
        return {"model_file": MODEL_FILE, "serializer": "skops", "trusted_types": trusted}

    def load(self, files: VerifiedFiles, options: Mapping[str, Any], trust: bool) -> Any:
        sio = require("skops.io", None, "the sklearn flavor")
        recorded = [str(t) for t in options.get("trusted_types", [])]
        unsafe = sorted(t for t in recorded if _needs_trust(t))
        if unsafe and not trust:
            raise NotTrusted(
                user_message(
                    "this scikit-learn package",
                    "contains types from outside scikit-learn, numpy and scipy, and loading "
                    "them runs their code",
                    unsafe,
                    "pass trust=True to load_model if you trust who saved the package",
                )
            )
        # skops checks the bytes against `recorded`: a type not recorded at save time is refused
        # by skops itself, so a package cannot smuggle new types past its manifest.
        untrusted_error = require("skops.io.exceptions", None, "the sklearn flavor")
        # With only scikit-learn, numpy and scipy types, skops runs no code of the package's
        # choosing, so it may parse while the bytes are hashed; the model is returned only once
        # finish() has verified them. Trusted custom types are verified before anything runs.
        name = str(options.get("model_file", MODEL_FILE))
        if unsafe:
            data, finish = files.read_bytes(name), _nothing
        else:
            data, finish = files.read_while_verifying(name)
        try:
            model = sio.loads(data, trusted=recorded)
        except untrusted_error.UntrustedTypesFoundException as exc:
            finish()  # a changed file is reported as such, not as whatever it parsed to
            raise NotTrusted(
                user_message(
                    "this scikit-learn package",
                    "holds types its manifest did not record as trusted at save time",
                    str(exc),
                    "re-save the model with loopml.models.save_model",
                )
            ) from exc
        except BaseException:
            finish()
            raise
        finish()
        return model

    def example(self) -> tuple[Any, Any]:
        import numpy as np
        import pandas as pd
        from sklearn.compose import make_column_transformer
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import OneHotEncoder

        rng = np.random.default_rng(7)
        frame = pd.DataFrame(
            {
                "distance": rng.gamma(2.0, 400.0, 300),
                "hour": rng.integers(5, 23, 300),
                "carrier": rng.choice(["AA", "DL", "UA", "B6"], 300),
            }
        )
        target = (frame["hour"] + rng.normal(0, 3, 300) > 15).astype(int)
        model = make_pipeline(
            make_column_transformer(
                (OneHotEncoder(handle_unknown="ignore"), ["carrier"]), remainder="passthrough"
            ),
            RandomForestClassifier(n_estimators=10, random_state=0),
        ).fit(frame, target)
        return model, frame
