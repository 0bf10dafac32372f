"""A model loaded from a package: predict through its signature, whatever the flavor."""

from __future__ import annotations

import io
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import pandas as pd

from loopml.core.errors import InvalidInput, user_message
from loopml.models.flavors import Flavor
from loopml.models.manifest import Manifest
from loopml.models.signature import Signature

__all__ = ["LoadedModel"]


class LoadedModel:
    """A verified, loaded model package.

    ``predict(df)`` and ``predict_proba(df)`` first pass ``df`` through the signature
    (:meth:`Signature.conform`): columns are put in training order and safely converted, and a
    frame that does not fit raises :class:`~loopml.models.signature.SignatureMismatch` carrying
    the diff. A frame that already matches is passed through untouched, so predictions equal
    the original model's bit for bit. ``native`` is the underlying library object.
    """

    def __init__(
        self,
        manifest: Manifest,
        flavor: Flavor,
        native: Any,
        metadata: Mapping[str, Any],
        input_example: bytes | None = None,
    ) -> None:
        self.manifest = manifest
        self.flavor = flavor
        self.native = native
        self._metadata = MappingProxyType(dict(metadata))
        self._example = input_example

    def __repr__(self) -> str:
        where = self._metadata.get("uri") or self._metadata.get("source", "")
        return f"<LoadedModel flavor={self.manifest.flavor} {where}>"

    @property
    def signature(self) -> Signature | None:
        return self.manifest.signature

    @property
    def metadata(self) -> Mapping[str, Any]:
        """The manifest as a dict plus where the model came from (uri, registry version)."""
        return self._metadata

    @property
    def input_example(self) -> pd.DataFrame | None:
        """The example saved with the model (as a DataFrame), if any."""
        if self._example is None:
            return None
        frame = pd.read_json(
            io.BytesIO(self._example), orient="split", dtype=False, precise_float=True
        )
        if self.signature is not None:
            return self.signature.conform(frame)
        return frame

    @property
    def has_proba(self) -> bool:
        return self.flavor.has_proba(self.native)

    @property
    def classes(self) -> list[Any] | None:
        return self.flavor.classes(self.native)

    def _conform(self, frame: Any, validate: bool, allow_extra_columns: bool = False) -> Any:
        if isinstance(frame, Mapping):
            frame = pd.DataFrame(frame)
        if self.signature is None or not validate:
            return frame
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInput(
                user_message(
                    "model input",
                    "must be a pandas DataFrame (or a mapping of columns)",
                    type(frame).__name__,
                    f"pass pd.DataFrame(...) with columns {list(self.signature.names)}",
                )
            )
        return self.signature.conform(frame, allow_extra_columns=allow_extra_columns)

    def predict(self, frame: Any, validate: bool = True, allow_extra_columns: bool = False) -> Any:
        """Predictions for ``frame`` (a DataFrame or a mapping of columns).

        Columns the model was not trained on are an error (they often mean a mix-up, such as
        the label column left in) unless ``allow_extra_columns=True``, which drops them.
        """
        return self.flavor.predict(self.native, self._conform(frame, validate, allow_extra_columns))

    def predict_proba(
        self, frame: Any, validate: bool = True, allow_extra_columns: bool = False
    ) -> Any:
        """Class probabilities, for flavors and models that have them."""
        if not self.has_proba:
            raise InvalidInput(
                user_message(
                    f"this {self.manifest.flavor} model",
                    "has no predict_proba (it is not a probabilistic classifier)",
                    fix="use predict()",
                )
            )
        return self.flavor.predict_proba(
            self.native, self._conform(frame, validate, allow_extra_columns)
        )
