"""The fluent model API: ``loopml.log_model``, ``loopml.load_model``, ``loopml.register_model``.

They act on the fluent tracking state (``loopml.set_tracking_uri``, the active run).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from loopml.core.registry import ModelVersion
from loopml.models.loaded import LoadedModel
from loopml.models.signature import Signature
from loopml.registry.client import ModelInfo, ModelRegistry
from loopml.tracking import fluent

__all__ = ["load_model", "log_model", "register_model"]


def _registry() -> ModelRegistry:
    return ModelRegistry(client=fluent.get_client())


def log_model(
    model: Any,
    name: str = "model",
    *,
    signature: Signature | Any = None,
    input_example: Any = None,
    flavor: str | None = None,
    pip_requirements: list[str] | None = None,
    metrics: Mapping[str, float] | None = None,
    registered_model_name: str | None = None,
    replaces: int | str | None = None,
) -> ModelInfo:
    """Log ``model`` to the active run as the package ``name`` (a run is started and ended
    around the call when none is active).

    ``signature`` is a :class:`Signature` or the training frame to infer it from; by default it
    is inferred from ``input_example``. ``registered_model_name`` also registers the package.
    """
    registry = _registry()
    kwargs: dict[str, Any] = {
        "signature": signature,
        "input_example": input_example,
        "flavor": flavor,
        "pip_requirements": pip_requirements,
        "metrics": metrics,
        "registered_model_name": registered_model_name,
        "replaces": replaces,
    }
    active = fluent.active_run()
    if active is not None:
        return registry.log_model(active.run_id, model, name, **kwargs)
    with fluent.start_run() as run:
        return registry.log_model(run.run_id, model, name, **kwargs)


def load_model(uri: str | os.PathLike[str], *, trust: bool = False) -> LoadedModel:
    """Load a model from ``runs:/<run>/<path>``, ``models:/<name>/<version>``,
    ``models:/<name>@<alias>``, ``models:/<name>/latest`` or a package directory.

    Every file is checked against the package's sha256 digests first; pickle-based (``pyfunc``)
    packages need ``trust=True``.
    """
    return _registry().load_model(uri, trust=trust)


def register_model(
    model_uri: str,
    name: str,
    *,
    description: str = "",
    tags: Mapping[str, Any] | None = None,
    replaces: int | str | None = None,
) -> ModelVersion:
    """Register the package at ``model_uri`` as the next version of ``name``."""
    return _registry().register_model(
        model_uri, name, description=description, tags=tags, replaces=replaces
    )
