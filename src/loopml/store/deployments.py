"""The seam between deployments and persistence.

Every backend passes ``loopml.store.conformance.check_deployment_store``. Names and routes arrive
as ``loopml.core.deployments`` builds them; stores check them again (a route set must make a
deployment: ``validate_routes``) and enforce what needs stored state: unique names, the revision
(1 at creation, incremented by every change, checked against ``expected_revision``), and one
audit event per change, written in the same transaction as the change.

Routes name registered models, versions and aliases without requiring that they exist: the
client (``loopml.registry.deployments``) checks them when it writes and resolves them when a
server asks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from loopml.core.deployments import Deployment, DeploymentFingerprint, Route
from loopml.core.entities import Page
from loopml.core.registry import AuditEvent

__all__ = ["DEPLOYMENT_OBJECT_TYPE", "DeploymentStore"]

#: ``AuditEvent.object_type`` of a deployment's events (the object id is its name).
DEPLOYMENT_OBJECT_TYPE = "deployment"


class DeploymentStore(Protocol):
    """Named deployments, their routes, revisions and audit trail."""

    def create_deployment(
        self,
        name: str,
        routes: Sequence[Route],
        description: str = "",
        tags: Mapping[str, str] | None = None,
        actor: str = "",
    ) -> Deployment:
        """Create a deployment at revision 1; a taken name is a Conflict."""
        ...

    def get_deployment(self, name: str) -> Deployment:
        """The deployment with its routes in their order; NotFound if absent."""
        ...

    def get_revision(self, name: str) -> int:
        """The deployment's revision alone (one indexed read); NotFound if absent."""
        ...

    def get_fingerprint(self, name: str) -> DeploymentFingerprint:
        """The revision and, per route, the version it serves now (an alias's current version
        read from the registry in the same statement); NotFound if absent."""
        ...

    def search_deployments(
        self,
        name_contains: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[Deployment]:
        """Deployments ordered by name; ``name_contains`` is a case-insensitive substring."""
        ...

    def update_routes(
        self,
        name: str,
        routes: Sequence[Route],
        expected_revision: int | None = None,
        actor: str = "",
    ) -> Deployment:
        """Replace the routes and increment the revision, in ONE transaction with the audit
        event (routes before and after). With ``expected_revision``, a deployment whose revision
        moved is a Conflict that changes nothing. Routes equal to the stored ones change nothing
        (same revision, no event)."""
        ...

    def delete_deployment(self, name: str, actor: str = "") -> None:
        """Delete the deployment and its routes; the name is free again."""
        ...

    def list_audit_events(
        self, name: str | None = None, max_results: int = 1000
    ) -> list[AuditEvent]:
        """The newest ``max_results`` events of deployments (or of the one named), oldest
        first."""
        ...
