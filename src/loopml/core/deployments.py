"""Deployments: named routes from live traffic to registered model versions, and their rules.

A *deployment* (``web-delay``, any registered-model-like name) holds one or more *routes*. A route
names a registered model and a *target*: a version number (``"3"``, pinned) or an alias
(``"@champion"``, followed: when the alias moves, the deployment serves the new version). Each
route has a *mode*:

- ``primary`` and ``canary`` routes share live traffic by *weight*, in percent; their weights sum
  to 100. A deployment needs at least one of them. A single such route may omit its weight (100).
- ``shadow`` routes receive a copy of ``weight`` percent of the requests (0 < weight <= 100); their
  answers are logged, never returned.

Every route has an *arm*, the name the server reports and logs it under: by default
``<model>@<alias>`` or ``<model>/<version>``. Within a deployment, arms are unique and a
model/target pair appears at most once.

A route is written on the command line as ``MODEL@ALIAS[:WEIGHT[:MODE]]`` or
``MODEL/VERSION[:WEIGHT[:MODE]]`` (:func:`parse_route`): ``churn@champion:90``,
``churn@challenger:10:canary``, ``churn/7::shadow``.

Each change of a deployment's routes increments its *revision*, so writers can refuse to
overwrite a change they have not seen (optimistic concurrency) and servers can poll one integer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

from loopml.core.errors import InvalidInput, did_you_mean, user_message, verbatim
from loopml.core.registry import validate_alias, validate_model_name, validate_version

__all__ = [
    "MAX_ARM_LENGTH",
    "MAX_DEPLOYMENT_NAME_LENGTH",
    "ROUTE_MODES",
    "Deployment",
    "DeploymentFingerprint",
    "ResolvedDeployment",
    "ResolvedRoute",
    "Route",
    "RouteMode",
    "parse_route",
    "validate_deployment_name",
    "validate_routes",
]

MAX_DEPLOYMENT_NAME_LENGTH = 256
MAX_ARM_LENGTH = 400

RouteMode = Literal["primary", "canary", "shadow"]
#: The modes a route may have, in the order listings show them.
ROUTE_MODES: tuple[RouteMode, ...] = get_args(RouteMode)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\- ]*$")
_ARM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-@/ ]*$")
_SPEC_FORMS = "MODEL@ALIAS[:WEIGHT[:MODE]] or MODEL/VERSION[:WEIGHT[:MODE]]"
_EXAMPLE = "e.g. 'churn@champion:90' and 'churn@challenger:10:canary'"
#: Weights are percentages given with a few decimals; their sum is compared to 100 within this.
_WEIGHT_TOLERANCE = 1e-6


def validate_deployment_name(name: object) -> str:
    """A deployment name: the registered-model name rules (letters, digits, ``_ . -``, inner
    spaces; no ``/ @ :``).

    >>> validate_deployment_name("web-delay")
    'web-delay'
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(user_message("deployment name", "must be a non-empty string", name))
    if len(name) > MAX_DEPLOYMENT_NAME_LENGTH or not _NAME.match(name) or name != name.strip():
        raise InvalidInput(
            user_message(
                "deployment name",
                "must start with a letter or digit, use only letters, digits, '_', '.', '-' "
                f"and inner spaces, and be at most {MAX_DEPLOYMENT_NAME_LENGTH} characters",
                name,
                "e.g. 'web-delay'",
            )
        )
    return name


def _target(model: str, target: object) -> str:
    """``target`` as ``"<version>"`` or ``"@<alias>"`` (a bare alias gets its ``@``)."""
    if isinstance(target, int) and not isinstance(target, bool):
        return str(validate_version(target))
    if isinstance(target, str) and target.strip().isdigit():
        return str(validate_version(target))
    if isinstance(target, str) and target:
        try:
            return "@" + validate_alias(target.removeprefix("@"))
        except InvalidInput:
            pass
    raise InvalidInput(
        user_message(
            f"target of the route to registered model {model!r}",
            "must be a version number or an alias",
            target,
            "e.g. '3' or '@champion' (aliases are identifiers, not 'latest' or 'v<number>')",
        )
    )


def _weight(where: str, mode: str, weight: object) -> float:
    if (
        isinstance(weight, bool)
        or not isinstance(weight, int | float)
        or not math.isfinite(weight)
        or not 0 < weight <= 100
    ):
        share = "of the requests mirrored to it" if mode == "shadow" else "of the live traffic"
        raise InvalidInput(
            user_message(
                f"weight of {where}",
                f"must be a percentage {share}: a number above 0 and at most 100",
                weight,
                "remove the route rather than giving it no traffic",
            )
        )
    return float(weight)


@dataclass(frozen=True, slots=True)
class Route:
    """One route of a deployment: live traffic (or a mirrored copy) to one model target.

    Built checked and canonical: ``target`` becomes ``"3"`` or ``"@champion"`` (``3`` and
    ``"champion"`` are accepted), ``weight`` a float, ``arm`` its default when empty. A bad
    field raises :class:`~loopml.core.errors.InvalidInput`.

    >>> Route("churn", "champion")
    Route(model='churn', target='@champion', weight=100.0, mode='primary', arm='churn@champion')
    >>> Route("churn", 7, 10, "shadow").arm
    'churn/7'
    """

    model: str
    target: str
    weight: float = 100.0
    mode: RouteMode = "primary"
    arm: str = ""

    def __post_init__(self) -> None:
        model = validate_model_name(self.model)
        target = _target(model, self.target)
        if self.mode not in ROUTE_MODES:
            raise InvalidInput(
                user_message(
                    f"mode of the route to {model}{_shown(target)}",
                    f"must be one of {', '.join(ROUTE_MODES)}",
                    self.mode,
                    did_you_mean(self.mode, ROUTE_MODES),
                )
            )
        arm = self.arm or (f"{model}{target}" if target[0] == "@" else f"{model}/{target}")
        if not isinstance(arm, str) or len(arm) > MAX_ARM_LENGTH or not _ARM.match(arm):
            raise InvalidInput(
                user_message(
                    f"arm name of the route to {model}{_shown(target)}",
                    "must start with a letter or digit and use only letters, digits, "
                    f"'_', '.', '-', '@', '/' and spaces, at most {MAX_ARM_LENGTH} characters",
                    arm,
                    "leave it empty for the default '<model>@<alias>' or '<model>/<version>'",
                )
            )
        weight = _weight(f"route {arm!r}", self.mode, self.weight)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "weight", weight)
        object.__setattr__(self, "arm", arm)

    @property
    def version(self) -> int | None:
        """The pinned version number, or None for an alias route."""
        return None if self.target[0] == "@" else int(self.target)

    @property
    def alias(self) -> str | None:
        """The followed alias (without ``@``), or None for a pinned version."""
        return self.target[1:] if self.target[0] == "@" else None

    @property
    def spec(self) -> str:
        """The route as :func:`parse_route` reads it (``churn@champion:90:primary``); a custom
        arm is not part of it."""
        return f"{self.model}{_shown(self.target)}:{self.weight:g}:{self.mode}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "arm": self.arm,
            "model": self.model,
            "target": self.target,
            "weight": self.weight,
            "mode": self.mode,
        }


def _shown(target: str) -> str:
    """A canonical target as written after a model name: ``@champion`` or ``/3``."""
    return target if target[0] == "@" else f"/{target}"


def parse_route(spec: object) -> Route:
    """A route from ``MODEL@ALIAS[:WEIGHT[:MODE]]`` or ``MODEL/VERSION[:WEIGHT[:MODE]]``; an
    empty weight is the default (100).

    >>> parse_route("churn@challenger:10:canary").to_dict()
    {'arm': 'churn@challenger', 'model': 'churn', 'target': '@challenger', 'weight': 10.0, \
'mode': 'canary'}
    >>> parse_route("churn/7::shadow").spec
    'churn/7:100:shadow'
    """
    if not isinstance(spec, str) or not spec.strip():
        raise InvalidInput(user_message("route", "must be a non-empty string", spec, _EXAMPLE))
    head, *rest = (part.strip() for part in spec.split(":"))
    if len(rest) > 2:
        raise InvalidInput(
            user_message(f"route {spec!r}", f"must look like {_SPEC_FORMS}", fix=_EXAMPLE)
        )
    at, slash = head.rfind("@"), head.rfind("/")
    cut = max(at, slash)
    if cut <= 0 or cut == len(head) - 1:
        raise InvalidInput(
            user_message(
                f"route {spec!r}",
                f"must name a model and a version or alias: {_SPEC_FORMS}",
                fix=_EXAMPLE,
            )
        )
    model, target = head[:cut].rstrip(), head[cut:]
    if target[0] == "/" and not target[1:].strip().isdigit():
        raise InvalidInput(
            user_message(
                f"route {spec!r}",
                "must give a version number after '/' (an alias goes after '@')",
                fix=f"e.g. '{model}/3' or '{model}@{target[1:]}'",
            )
        )
    weight_text = rest[0] if rest else ""
    mode = rest[1] if len(rest) == 2 else "primary"
    weight: object = 100.0
    if weight_text:
        try:
            weight = float(weight_text)
        except ValueError:
            weight = weight_text
    return Route(model, target.removeprefix("/"), cast(float, weight), cast(RouteMode, mode))


def validate_routes(routes: object) -> tuple[Route, ...]:
    """``routes`` as a tuple, if together they make a deployment: at least one primary or canary
    route, whose weights sum to 100; arms unique; each model/target pair at most once.

    >>> [r.arm for r in validate_routes([Route("churn", "@champion")])]
    ['churn@champion']
    """
    if isinstance(routes, str | bytes | Mapping) or not isinstance(routes, Iterable):
        raise InvalidInput(
            user_message("deployment routes", "must be a list of Route", routes, _EXAMPLE)
        )
    checked = tuple(routes)
    for route in checked:
        if not isinstance(route, Route):
            raise InvalidInput(
                user_message(
                    "deployment route",
                    "must be a loopml Route",
                    route,
                    "build it with Route(model, target, ...) or parse_route('churn@champion')",
                )
            )
    live = [r for r in checked if r.mode != "shadow"]
    if not live:
        raise InvalidInput(
            user_message(
                "deployment routes",
                "must include at least one primary or canary route (shadow routes only copy "
                "traffic)",
                [r.spec for r in checked],
                "add a primary route, e.g. 'churn@champion'",
            )
        )
    total = math.fsum(r.weight for r in live)
    if not math.isclose(total, 100.0, rel_tol=0.0, abs_tol=_WEIGHT_TOLERANCE):
        weights = " + ".join(f"{r.weight:g} ({r.arm})" for r in live)
        raise InvalidInput(
            user_message(
                "weights of the primary and canary routes",
                "must sum to 100 (percent of the live traffic)",
                verbatim(f"{weights} = {total:g}"),
                "give every route its share, e.g. 'churn@champion:90' and "
                "'churn@challenger:10:canary'",
            )
        )
    _unique(checked, lambda r: r.arm, "an arm", "name one of them with another arm")
    _unique(
        checked,
        lambda r: f"{r.model}{_shown(r.target)}",
        "a model and target",
        "route each model version or alias once",
    )
    return checked


def _unique(routes: tuple[Route, ...], key: Any, what: str, fix: str) -> None:
    seen: set[str] = set()
    for route in routes:
        value = key(route)
        if value in seen:
            raise InvalidInput(
                user_message("deployment routes", f"must not repeat {what}", value, fix)
            )
        seen.add(value)


def _frozen(value: Mapping[str, str] | None) -> Mapping[str, str]:
    return MappingProxyType(dict(value or {}))


@dataclass(frozen=True, slots=True)
class Deployment:
    """A named set of routes, as stored; ``revision`` counts its changes from 1."""

    name: str
    routes: tuple[Route, ...]
    description: str
    revision: int
    created_time: int
    updated_time: int
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "routes", tuple(self.routes))
        object.__setattr__(self, "tags", _frozen(self.tags))

    def route(self, arm: str) -> Route:
        """The route named ``arm``; KeyError if none."""
        for route in self.routes:
            if route.arm == arm:
                return route
        raise KeyError(arm)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "name": self.name,
            "routes": [r.to_dict() for r in self.routes],
            "description": self.description,
            "revision": self.revision,
            "created_time": self.created_time,
            "updated_time": self.updated_time,
            "tags": dict(self.tags),
        }


@dataclass(frozen=True, slots=True)
class DeploymentFingerprint:
    """What a server compares to know whether anything it serves changed: the deployment's
    revision, and per route ``(arm, model, target, weight, mode, version)`` where ``version`` is
    the pinned number or the one the alias points at now (None: the alias is not set).

    Equal fingerprints mean the same models behind the same arms with the same weights.
    """

    revision: int
    routes: tuple[tuple[str, str, str, float, RouteMode, int | None], ...]


@dataclass(frozen=True, slots=True)
class ResolvedRoute:
    """A route with the concrete version it serves now."""

    arm: str
    model: str
    target: str
    version: int
    weight: float
    mode: RouteMode

    @property
    def model_uri(self) -> str:
        """``models:/<model>/<version>``: what a server loads."""
        return f"models:/{self.model}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "arm": self.arm,
            "model": self.model,
            "target": self.target,
            "version": self.version,
            "weight": self.weight,
            "mode": self.mode,
        }


@dataclass(frozen=True, slots=True)
class ResolvedDeployment:
    """A deployment at one revision with every alias resolved to a version."""

    name: str
    revision: int
    routes: tuple[ResolvedRoute, ...]

    @property
    def fingerprint(self) -> DeploymentFingerprint:
        """The fingerprint of what was resolved (compare it with ``Deployments.fingerprint``)."""
        return DeploymentFingerprint(
            self.revision,
            tuple((r.arm, r.model, r.target, r.weight, r.mode, r.version) for r in self.routes),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "revision": self.revision,
            "routes": [r.to_dict() for r in self.routes],
        }
