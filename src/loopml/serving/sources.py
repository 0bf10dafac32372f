"""Where a server's models come from: a :class:`ModelSource` and the :class:`RoutingTable` it
holds.

A routing table is the current set of arms of one deployment (for a bare model URI: one primary
arm named after the model). An arm is a loaded model with its name, registry version, mode and
weight:

- ``primary`` and ``canary`` arms share the traffic by weight (percentages; a request's
  ``unit_id``, when given, always meets the same arm);
- ``shadow`` arms receive a copy of ``weight`` percent of the requests; their predictions are
  logged, never returned.

Rules of a source, which the server relies on:

- ``refresh()`` is called on a worker thread, one call at a time, once before serving (it loads
  the first table) and then every ``ServingConfig.poll_interval`` seconds. It returns True when
  the table changed. Every model of a new table is loaded before the table is published, and the
  server warms each new arm with its input example before routing a request to it; requests
  already queued on an old arm finish there. A failing refresh keeps the old table (the server
  logs the error and asks again at the next poll).
- ``table()`` is called on the event loop for every request: it must return the current table
  without I/O.

:class:`StaticSource` serves one model URI for the server's lifetime.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal, Protocol

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.core.model_uri import parse_model_uri
from loopml.core.registry import validate_model_name
from loopml.models.loaded import LoadedModel
from loopml.registry.client import ModelRegistry

__all__ = ["MODES", "Arm", "Mode", "ModelSource", "RoutingTable", "StaticSource"]

Mode = Literal["primary", "canary", "shadow"]
MODES: tuple[Mode, ...] = ("primary", "canary", "shadow")


@dataclass(frozen=True, slots=True)
class Arm:
    """One model a deployment routes to. ``version`` is the registry version (None for a model
    loaded from a path or a run); ``weight`` is a percentage (of traffic, or of requests copied
    to a shadow)."""

    name: str
    model_name: str
    version: int | None
    model: LoadedModel
    mode: Mode = "primary"
    weight: float = 100.0

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInput(user_message("arm name", "must be a non-empty string", self.name))
        if self.mode not in MODES:
            raise InvalidInput(
                user_message(
                    f"arm {self.name!r} mode", f"must be one of {', '.join(MODES)}", self.mode
                )
            )
        weight = self.weight
        if (
            isinstance(weight, bool)
            or not isinstance(weight, int | float)
            or not math.isfinite(weight)
            or not 0 <= weight <= 100
        ):
            raise InvalidInput(
                user_message(f"arm {self.name!r} weight", "must be a percentage (0 to 100)", weight)
            )

    @property
    def version_text(self) -> str:
        """The version as the Open Inference Protocol shows it ("" when unversioned)."""
        return "" if self.version is None else str(self.version)


@dataclass(frozen=True, slots=True)
class RoutingTable:
    """The arms a server routes to now; ``name`` is the deployment's (or the bare model's)."""

    name: str
    arms: tuple[Arm, ...]

    def __post_init__(self) -> None:
        arms = tuple(self.arms)
        object.__setattr__(self, "arms", arms)
        if not any(arm.mode != "shadow" and arm.weight > 0 for arm in arms):
            raise InvalidInput(
                user_message(
                    f"routing table {self.name!r}",
                    "must have a primary or canary arm with a weight above 0",
                    verbatim(f"<{len(arms)} arms>"),
                )
            )
        names = [arm.name for arm in arms]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise InvalidInput(
                user_message(f"routing table {self.name!r}", "must name each arm once", repeated)
            )

    @property
    def serving(self) -> tuple[Arm, ...]:
        """The arms that answer requests (primary and canary, weight above 0)."""
        return tuple(a for a in self.arms if a.mode != "shadow" and a.weight > 0)

    @property
    def shadows(self) -> tuple[Arm, ...]:
        return tuple(a for a in self.arms if a.mode == "shadow" and a.weight > 0)


class ModelSource(Protocol):
    """The models a server serves, and how it learns that they changed (module docstring)."""

    def table(self) -> RoutingTable:
        """The current routing table (no I/O)."""
        ...

    def refresh(self) -> bool:
        """Load the table the first time, then look for a change; True when the table changed."""
        ...


def _name_of(uri: str, registered: object) -> str:
    """The name a bare model is served under: its registered name, else its directory's."""
    if isinstance(registered, str):
        return registered
    parsed = parse_model_uri(uri)
    last = PurePath(parsed.artifact_path or parsed.path or "").name
    try:
        return validate_model_name(last)
    except InvalidInput:
        return "model"


class StaticSource:
    """One model URI (``models:/name@alias``, ``models:/name/3``, ``runs:/…``, a directory),
    loaded by the first :meth:`refresh` and served unchanged.

    The arm is named ``name@alias`` for an alias URI, ``name/version`` for a registered version,
    and the model's name otherwise; ``name`` overrides the served name of an unregistered model.

    >>> source = StaticSource("models:/flight-delay@champion")  # no I/O until refresh()
    >>> source.model_uri
    'models:/flight-delay@champion'
    """

    def __init__(
        self,
        model_uri: str | os.PathLike[str],
        *,
        name: str | None = None,
        trust: bool = False,
        registry: ModelRegistry | None = None,
    ) -> None:
        self.model_uri = os.fspath(model_uri)
        parse_model_uri(self.model_uri)  # a malformed URI fails here, before any I/O
        self._name = None if name is None else validate_model_name(name)
        self._trust = trust
        self._registry = registry
        self._table: RoutingTable | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"StaticSource({self.model_uri!r})"

    def refresh(self) -> bool:
        with self._lock:
            if self._table is not None:
                return False
            registry = self._registry if self._registry is not None else ModelRegistry()
            model = registry.load_model(self.model_uri, trust=self._trust)
            meta = model.metadata
            version = meta.get("version")
            version = version if isinstance(version, int) else None
            model_name = self._name or _name_of(self.model_uri, meta.get("registered_model"))
            parsed = parse_model_uri(self.model_uri)
            if parsed.alias is not None:
                arm = f"{model_name}@{parsed.alias}"
            elif version is not None:
                arm = f"{model_name}/{version}"
            else:
                arm = model_name
            self._table = RoutingTable(model_name, (Arm(arm, model_name, version, model),))
            return True

    def table(self) -> RoutingTable:
        if self._table is None:
            self.refresh()
        assert self._table is not None  # refresh() set it or raised
        return self._table
