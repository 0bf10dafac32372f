"""``Deployments``: create, change, resolve and poll the deployments a model server follows.

A deployment routes live traffic to registered model versions, pinned (``churn/3``) or through
an alias (``churn@champion``); see :mod:`loopml.core.deployments` for the rules of a route set.

- Writes check that every route to a target (model version or alias) the deployment did not
  route to before can be served now: the model, the version, the alias exist (NotFound naming
  the route and the fix otherwise). Targets it already routed to are not checked again, so a
  deleted alias does not block changing weights or removing its route.
- :meth:`Deployments.resolve` gives each route its concrete version, from ONE statement of the
  store, so the result is one consistent state; a route that cannot be served is NotFound with
  the fix.
- :meth:`Deployments.fingerprint` is what a server polls (one indexed statement): equal to the
  ``fingerprint`` of the :class:`~loopml.core.deployments.ResolvedDeployment` it serves while
  nothing it serves changed; different once the routes changed or a followed alias moved.

>>> deployments = Deployments()  # doctest: +SKIP
>>> deployments.create("web", ["churn@champion:90", "churn@challenger:10:canary"])  # doctest: +SKIP
>>> served = deployments.resolve("web")  # doctest: +SKIP
>>> deployments.fingerprint("web") == served.fingerprint  # doctest: +SKIP
True
"""

from __future__ import annotations

import builtins
import dataclasses
import logging
import math
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from loopml.core.deployments import (
    Deployment,
    DeploymentFingerprint,
    ResolvedDeployment,
    ResolvedRoute,
    Route,
    parse_route,
    validate_deployment_name,
    validate_routes,
)
from loopml.core.entities import Page
from loopml.core.errors import Conflict, NotFound, did_you_mean, user_message
from loopml.core.registry import AuditEvent, validate_description
from loopml.core.settings import Settings
from loopml.core.validation import validate_tag
from loopml.store.deployments import DeploymentStore
from loopml.store.registry import RegistryStore
from loopml.tracking.client import Client

__all__ = ["Deployments"]

log = logging.getLogger(__name__)

#: How often a read-modify-write (``set_route``, ``remove_route``) re-reads and retries when
#: another writer changed the deployment between its read and its write. Each retry means that
#: writer's change went through, so only a crowd of concurrent editors makes one retry often.
_EDIT_ATTEMPTS = 50
#: How many registered model names a NotFound reads to suggest the closest one.
_SUGGESTION_POOL = 1000


def _as_route(route: Route | str) -> Route:
    return route if isinstance(route, Route) else parse_route(route)


def _as_routes(routes: Iterable[Route | str] | str) -> tuple[Route, ...]:
    if isinstance(routes, str):  # one spec, not a list of characters
        return (parse_route(routes),)
    if not isinstance(routes, Iterable):
        return validate_routes(routes)  # raises the house message
    return validate_routes([_as_route(r) for r in routes])


def _rebalanced(routes: list[Route], fixed: Route | None) -> list[Route]:
    """``routes`` with the primary and canary weights summing to 100 again, if one primary
    route other than ``fixed`` can take the difference; else unchanged (and refused later with
    the sum in the message)."""
    live = [r for r in routes if r.mode != "shadow"]
    gap = 100.0 - math.fsum(r.weight for r in live)
    others = [r for r in live if r.mode == "primary" and r is not fixed]
    if math.isclose(gap, 0.0, abs_tol=1e-9) or len(others) != 1:
        return routes
    taker = others[0]
    if not 0 < taker.weight + gap <= 100:
        return routes
    return [dataclasses.replace(r, weight=r.weight + gap) if r is taker else r for r in routes]


class Deployments:
    """Deployments in the metadata store, and their resolution through the model registry.

    Works on the stores of ``client`` (or of a new :class:`~loopml.tracking.client.Client` on
    ``tracking_uri``); every change is audited under the client's user.
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        settings: Settings | None = None,
        client: Client | None = None,
    ) -> None:
        self.client = client if client is not None else Client(tracking_uri, settings)

    @property
    def store(self) -> DeploymentStore:
        return self.client.stores.deployments

    @property
    def registry(self) -> RegistryStore:
        return self.client.stores.registry

    def _user(self) -> str:
        return self.client._user()

    # -- reading ---------------------------------------------------------------------------------

    def get(self, name: str) -> Deployment:
        """The deployment ``name`` with its routes; NotFound if absent."""
        return self.store.get_deployment(validate_deployment_name(name))

    def list(
        self,
        name_contains: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[Deployment]:
        """Deployments ordered by name; ``name_contains`` is a case-insensitive substring."""
        return self.store.search_deployments(name_contains, max_results, page_token)

    def revision(self, name: str) -> int:
        """The deployment's revision alone: 1 at creation, +1 per change."""
        return self.store.get_revision(validate_deployment_name(name))

    def fingerprint(self, name: str) -> DeploymentFingerprint:
        """The revision and the version each route serves now, in one indexed statement: poll
        it, and :meth:`resolve` again when it differs from ``ResolvedDeployment.fingerprint``."""
        return self.store.get_fingerprint(validate_deployment_name(name))

    def resolve(self, name: str) -> ResolvedDeployment:
        """The deployment with each route's concrete version now (aliases resolved). A route
        whose model, version or alias does not exist is NotFound naming the route and the fix.
        """
        fingerprint = self.fingerprint(name)
        routes = []
        for arm, model, target, weight, mode, version in fingerprint.routes:
            route = Route(model, target, weight, mode, arm)
            if version is None or route.version is not None:
                # An alias that is not set, or a pinned version (which may have been deleted).
                version = self._served_version(name, route)
            routes.append(ResolvedRoute(arm, model, route.target, version, weight, route.mode))
        return ResolvedDeployment(name, fingerprint.revision, tuple(routes))

    def audit_events(self, name: str, max_results: int = 1000) -> builtins.list[AuditEvent]:
        """The newest ``max_results`` events of the deployment, oldest first: its creation,
        each route change (routes before and after) and its deletion."""
        return self.store.list_audit_events(validate_deployment_name(name), max_results)

    # -- writing ---------------------------------------------------------------------------------

    def create(
        self,
        name: str,
        routes: Iterable[Route | str] | str,
        *,
        description: str = "",
        tags: Mapping[str, Any] | None = None,
    ) -> Deployment:
        """Create the deployment ``name`` (revision 1). ``routes`` are :class:`Route` objects or
        specs such as ``"churn@champion:90"``; each must be servable now."""
        validate_deployment_name(name)
        checked = _as_routes(routes)
        validate_description(description)
        tag_map = {t.key: t.value for t in (validate_tag(k, v) for k, v in (tags or {}).items())}
        for route in checked:
            self._served_version(name, route)
        return self.store.create_deployment(name, checked, description, tag_map, self._user())

    def update_routes(
        self,
        name: str,
        routes: Iterable[Route | str] | str,
        *,
        expected_revision: int | None = None,
    ) -> Deployment:
        """Replace the routes (revision + 1). With ``expected_revision``, a deployment changed
        since that revision is a Conflict. Routes to new targets must be servable now."""
        validate_deployment_name(name)
        checked = _as_routes(routes)
        self._check_new_targets(name, checked, self.store.get_deployment(name).routes)
        return self.store.update_routes(name, checked, expected_revision, self._user())

    def set_route(self, name: str, route: Route | str) -> Deployment:
        """Add ``route``, or replace the route with its arm (or its model and target). When the
        primary and canary weights then no longer sum to 100 and exactly one other primary route
        exists, that route takes the difference: on ``churn@champion``, setting
        ``churn@challenger:10:canary`` leaves ``churn@champion:90``."""
        new = _as_route(route)

        def change(routes: tuple[Route, ...]) -> builtins.list[Route]:
            matches = [
                r
                for r in routes
                if r.arm == new.arm or (r.model, r.target) == (new.model, new.target)
            ]
            if not matches:
                edited = [*routes, new]
            else:
                edited = [new if r is matches[0] else r for r in routes if r not in matches[1:]]
            return _rebalanced(edited, new)

        return self._edit(name, change)

    def remove_route(self, name: str, arm: str) -> Deployment:
        """Remove the route named ``arm``; when exactly one primary route remains beside
        others, it takes the removed route's share of the traffic."""

        def change(routes: tuple[Route, ...]) -> builtins.list[Route]:
            if arm not in {r.arm for r in routes}:
                raise NotFound(
                    user_message(
                        f"route {arm!r} of deployment {name!r}",
                        "does not exist",
                        fix=did_you_mean(arm, [r.arm for r in routes])
                        or "its arms are " + ", ".join(repr(r.arm) for r in routes),
                    )
                )
            return _rebalanced([r for r in routes if r.arm != arm], None)

        return self._edit(name, change)

    def delete(self, name: str) -> None:
        """Delete the deployment (servers following it find it gone); the name is free again."""
        self.store.delete_deployment(validate_deployment_name(name), self._user())

    # -- helpers ---------------------------------------------------------------------------------

    def _edit(
        self, name: str, change: Callable[[tuple[Route, ...]], builtins.list[Route]]
    ) -> Deployment:
        """Read, change and write the routes, expecting the revision read; re-read and retry
        when another writer got there first."""
        validate_deployment_name(name)
        attempt = 0
        while True:
            attempt += 1
            current = self.store.get_deployment(name)
            routes = validate_routes(change(current.routes))
            self._check_new_targets(name, routes, current.routes)
            try:
                return self.store.update_routes(name, routes, current.revision, self._user())
            except Conflict:
                if attempt == _EDIT_ATTEMPTS or self.store.get_revision(name) == current.revision:
                    raise
                log.info("deployment %r changed while editing it; retrying", name)

    def _check_new_targets(
        self, name: str, routes: tuple[Route, ...], current: tuple[Route, ...]
    ) -> None:
        """NotFound unless every route to a target ``current`` does not route to can be served
        (a new weight, mode or arm for a target already routed to changes what it serves in no
        way, so a target gone missing does not block it)."""
        routed = {(r.model, r.target) for r in current}
        for route in routes:
            if (route.model, route.target) not in routed:
                self._served_version(name, route)

    def _served_version(self, deployment: str, route: Route) -> int:
        """The version ``route`` serves now; NotFound naming the route and the fix."""
        subject = f"route {route.arm!r} of deployment {deployment!r}"
        try:
            if route.version is not None:
                return self.registry.get_model_version(route.model, route.version).version
            return self.registry.get_version_by_alias(route.model, route.target[1:]).version
        except NotFound:
            pass
        try:
            model = self.registry.get_registered_model(route.model)
        except NotFound:
            known = [
                m.name for m in self.registry.search_registered_models(max_results=_SUGGESTION_POOL)
            ]
            raise NotFound(
                user_message(
                    subject,
                    f"names registered model {route.model!r}, which does not exist",
                    fix=did_you_mean(route.model, known)
                    or "register the model first, or check the name: `loopml models list`",
                )
            ) from None
        if route.alias is not None:
            aliases = ", ".join(f"{a!r} -> {v}" for a, v in sorted(model.aliases.items()))
            raise NotFound(
                user_message(
                    subject,
                    f"follows alias {route.alias!r} of registered model {route.model!r}, which "
                    "is not set",
                    fix=(f"its aliases are {aliases}; " if aliases else "")
                    + f"point it at a version with `loopml models alias set {route.model} "
                    f"{route.alias} <version>`, or change the route with "
                    f"`loopml deploy route {deployment} ...`",
                )
            ) from None
        latest = model.latest_version
        raise NotFound(
            user_message(
                subject,
                f"names version {route.version} of registered model {route.model!r}, which does "
                "not exist",
                fix=(f"its latest version is {latest}" if latest else "it has no versions yet")
                + f"; `loopml models versions {route.model}` lists them",
            )
        ) from None
