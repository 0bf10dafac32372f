"""The seam between the model registry and persistence.

Every backend passes ``loopml.store.conformance.check_registry_store``. Names, aliases, versions
and texts arrive validated by ``loopml.core.registry``; stores enforce what needs stored state:
numbering, uniqueness, "an aliased version cannot be deleted", and they write one audit event per
change in the same transaction as the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from loopml.core.entities import ArtifactInfo, Page
from loopml.core.registry import AuditEvent, Lineage, ModelVersion, RegisteredModel

__all__ = ["RegistryStore", "model_version_owner"]


def model_version_owner(name: str, version: int) -> str:
    """The artifact-index owner key of a model version's files."""
    return f"model:{name}/{version}"


class RegistryStore(Protocol):
    """Registered models, their versions, aliases, tags, cards and audit trail."""

    # registered models
    def create_registered_model(
        self,
        name: str,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        actor: str = "",
    ) -> RegisteredModel:
        """Create a model; a taken name is a Conflict."""
        ...

    def get_registered_model(self, name: str) -> RegisteredModel:
        """The model with its tags, aliases and latest version; NotFound if absent."""
        ...

    def search_registered_models(
        self,
        name_contains: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        """Models ordered by name; ``name_contains`` is a case-insensitive substring."""
        ...

    def update_registered_model(
        self, name: str, description: str, actor: str = ""
    ) -> RegisteredModel: ...

    def delete_registered_model(self, name: str, actor: str = "") -> None:
        """Delete a model and all its versions; a Conflict while any alias is set."""
        ...

    def set_registered_model_tag(
        self, name: str, key: str, value: str, actor: str = ""
    ) -> None: ...
    def delete_registered_model_tag(self, name: str, key: str, actor: str = "") -> None: ...

    # versions
    def create_model_version(
        self,
        name: str,
        source: str,
        flavor: str,
        files: Sequence[tuple[str, str, int]],
        lineage: Lineage,
        description: str = "",
        tags: Mapping[str, str] | None = None,
        actor: str = "",
    ) -> ModelVersion:
        """Register the next version of ``name`` (creating the model if needed) in ONE
        transaction: the version row, its file index ``(path, sha256, size)`` under
        :func:`model_version_owner`, and the audit event. Concurrent callers get consecutive
        numbers; a failure leaves nothing behind. ``lineage.replaces_version``, when set, must
        exist (NotFound otherwise)."""
        ...

    def get_model_version(self, name: str, version: int) -> ModelVersion: ...

    def get_latest_version(self, name: str) -> ModelVersion:
        """The highest-numbered version; NotFound if the model has none."""
        ...

    def search_model_versions(
        self,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        """Versions, newest first, of one model and/or from one run."""
        ...

    def update_model_version(
        self, name: str, version: int, description: str, actor: str = ""
    ) -> ModelVersion: ...

    def delete_model_version(self, name: str, version: int, actor: str = "") -> None:
        """Delete a version (its number is never reused); Conflict if an alias points at it."""
        ...

    def set_model_version_tag(
        self, name: str, version: int, key: str, value: str, actor: str = ""
    ) -> None: ...
    def delete_model_version_tag(
        self, name: str, version: int, key: str, actor: str = ""
    ) -> None: ...

    def model_version_files(self, name: str, version: int) -> list[ArtifactInfo]:
        """The files of a version (paths relative to the package root) with sha256 and size."""
        ...

    # aliases
    def set_alias(self, name: str, alias: str, version: int, actor: str = "") -> None:
        """Point ``alias`` at ``version`` (moving it if set); NotFound for a missing version."""
        ...

    def delete_alias(self, name: str, alias: str, actor: str = "") -> None: ...

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion: ...

    # model cards
    def get_model_card(self, name: str, version: int) -> str | None:
        """The edited card, or None when the card was never edited (the SDK then generates one)."""
        ...

    def set_model_card(self, name: str, version: int, text: str, actor: str = "") -> None: ...

    # audit
    def list_audit_events(
        self,
        object_type: str | None = None,
        object_id: str | None = None,
        max_results: int = 1000,
        model_name: str | None = None,
    ) -> list[AuditEvent]:
        """The newest ``max_results`` audit events, oldest first, optionally of one object, or
        (``model_name``) of a registered model and all its versions."""
        ...
