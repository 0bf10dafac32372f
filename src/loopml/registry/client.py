"""``ModelRegistry``: log, register, find, load and promote models.

Registration copies nothing but digests: a package's blobs are already in the content-addressed
store (logging a model wrote them), so a version is one transaction that records its number,
lineage and file list. A kill at any moment therefore leaves either no version or a complete
one; blobs written by an interrupted registration are unreferenced and ``loopml gc`` reclaims
them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loopml.core.entities import Page, Run
from loopml.core.errors import Conflict, InvalidInput, NotFound, user_message
from loopml.core.model_uri import ModelUri, parse_model_uri
from loopml.core.registry import (
    AuditEvent,
    Lineage,
    ModelVersion,
    RegisteredModel,
    validate_alias,
    validate_description,
    validate_model_name,
    validate_version,
)
from loopml.core.settings import Settings
from loopml.core.validation import validate_tag
from loopml.models.loaded import LoadedModel
from loopml.models.manifest import MANIFEST_NAME, Manifest
from loopml.models.package import (
    DirectorySource,
    PackageSource,
    load_package,
    read_manifest,
    save_model,
)
from loopml.models.signature import Signature
from loopml.registry.card import generate_card
from loopml.registry.sources import BlobSource
from loopml.store.registry import RegistryStore
from loopml.store.sql import run_owner
from loopml.store.stores import Stores
from loopml.tracking.client import Client

__all__ = ["ModelInfo", "ModelRegistry"]

_GIT_COMMIT_TAG = "loopml.source.git.commit"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What ``log_model`` stored: where the package is, and the version when it registered one."""

    run_id: str
    artifact_path: str
    model_uri: str
    manifest: Manifest
    registered_version: ModelVersion | None = None

    @property
    def flavor(self) -> str:
        return self.manifest.flavor

    @property
    def signature(self) -> Signature | None:
        return self.manifest.signature


def _model_path(name: object) -> str:
    if not isinstance(name, str) or not name.strip("/").strip():
        raise InvalidInput(user_message("model name (artifact path)", "must be non-empty", name))
    parts = [p for p in name.replace("\\", "/").split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise InvalidInput(
            user_message("model name (artifact path)", "must not contain '.' or '..'", name)
        )
    return "/".join(parts)


class ModelRegistry:
    """Models logged to runs, and the registry of named, versioned, aliased models.

    >>> registry = ModelRegistry()  # doctest: +SKIP
    >>> info = registry.log_model(run_id, model, "model", input_example=X.head())  # doctest: +SKIP
    >>> v = registry.register_model(info.model_uri, "flight-delay")  # doctest: +SKIP
    >>> registry.set_alias("flight-delay", "champion", v.version)  # doctest: +SKIP
    >>> registry.load_model("models:/flight-delay@champion").predict(X)  # doctest: +SKIP
    """

    def __init__(
        self,
        tracking_uri: str | None = None,
        settings: Settings | None = None,
        client: Client | None = None,
    ) -> None:
        self.client = client if client is not None else Client(tracking_uri, settings)

    @property
    def stores(self) -> Stores:
        return self.client.stores

    @property
    def store(self) -> RegistryStore:
        return self.client.stores.registry

    def _user(self) -> str:
        return self.client._user()

    # -- logging ----------------------------------------------------------------------------

    def log_model(
        self,
        run_id: str,
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
        """Save ``model`` as a package under the run's artifact path ``name``.

        ``metrics`` default to a snapshot of the run's latest metrics. With
        ``registered_model_name``, the package is also registered as that model's next version.
        """
        path = _model_path(name)
        run = self.client.get_run(run_id)
        if self.client.list_artifacts(run_id, path):
            raise Conflict(
                user_message(
                    f"artifact path {path!r} of run {run_id}",
                    "already holds files; a logged model is never overwritten",
                    fix="log the model under another name",
                )
            )
        if registered_model_name is not None:
            validate_model_name(registered_model_name)
        snapshot = dict(run.data.metrics) if metrics is None else dict(metrics)
        with tempfile.TemporaryDirectory(prefix="loopml-model-") as tmp:
            package = Path(tmp) / "package"
            manifest = save_model(
                model,
                package,
                flavor=flavor,
                signature=signature,
                input_example=input_example,
                pip_requirements=pip_requirements,
                metrics=snapshot,
                run_id=run_id,
            )
            self.client.log_artifacts(run_id, package, artifact_path=path)
        uri = f"runs:/{run_id}/{path}"
        version = None
        if registered_model_name is not None:
            version = self.register_model(uri, registered_model_name, replaces=replaces)
        return ModelInfo(run_id, path, uri, manifest, version)

    # -- resolving and loading ---------------------------------------------------------------

    def _run_files(self, run_id: str, path: str) -> dict[str, str]:
        files = self.stores.artifact_index.iter_artifact_files(run_owner(run_id), path)
        return {f.path[len(path) + 1 :]: str(f.digest) for f in files}

    def _version_for(self, parsed: ModelUri) -> ModelVersion:
        assert parsed.name is not None
        if parsed.kind == "alias":
            assert parsed.alias is not None
            return self.store.get_version_by_alias(parsed.name, parsed.alias)
        if parsed.kind == "latest":
            return self.store.get_latest_version(parsed.name)
        assert parsed.version is not None
        return self.store.get_model_version(parsed.name, parsed.version)

    def _source(self, uri: str) -> tuple[PackageSource, dict[str, Any], ModelVersion | None]:
        parsed = parse_model_uri(uri)
        meta: dict[str, Any]
        if parsed.kind == "path":
            assert parsed.path is not None
            return DirectorySource(parsed.path), {"uri": uri}, None
        if parsed.kind == "run":
            assert parsed.run_id is not None
            self.client.get_run(parsed.run_id)  # NotFound for an unknown run
            files = self._run_files(parsed.run_id, parsed.artifact_path)
            if MANIFEST_NAME not in files:
                raise NotFound(
                    user_message(
                        f"model at {uri!r}",
                        f"does not exist (no {MANIFEST_NAME} under that artifact path)",
                        fix=f"list the run's artifacts with Client().list_artifacts("
                        f"{parsed.run_id!r})",
                    )
                )
            return (
                BlobSource(self.stores.blobs, files, uri),
                {"uri": uri, "run_id": parsed.run_id},
                None,
            )
        version = self._version_for(parsed)
        files = {
            f.path: str(f.digest)
            for f in self.store.model_version_files(version.name, version.version)
        }
        meta = {
            "uri": uri,
            "registered_model": version.name,
            "version": version.version,
            "aliases": list(version.aliases),
            "run_id": version.run_id,
        }
        return BlobSource(self.stores.blobs, files, version.uri), meta, version

    def package_size(self, uri: str | os.PathLike[str]) -> int:
        """The bytes of the package ``uri`` names: the sum of its files, the manifest included
        (what a model-size gate judges, and what a deployment downloads)."""
        parsed = parse_model_uri(os.fspath(uri))
        if parsed.kind == "path":
            assert parsed.path is not None
            files = [p for p in Path(parsed.path).rglob("*") if p.is_file()]
            return sum(p.stat().st_size for p in files)
        if parsed.kind == "run":
            assert parsed.run_id is not None
            self.client.get_run(parsed.run_id)  # NotFound for an unknown run
            owner = run_owner(parsed.run_id)
            listed = self.stores.artifact_index.iter_artifact_files(owner, parsed.artifact_path)
            return sum(int(f.file_size or 0) for f in listed)
        version = self._version_for(parsed)
        stored = self.store.model_version_files(version.name, version.version)
        return sum(int(f.file_size or 0) for f in stored)

    def load_model(self, uri: str | os.PathLike[str], *, trust: bool = False) -> LoadedModel:
        """Load ``runs:/…``, ``models:/name/version``, ``models:/name@alias`` or a directory,
        after checking every file's sha256. ``trust=True`` is needed for pickle-based packages.
        """
        source, meta, _ = self._source(os.fspath(uri))
        return load_package(source, trust=trust, metadata=meta)

    def get_manifest(self, uri: str) -> Manifest:
        """The (verified) manifest of a model, without loading the model."""
        source, _, _ = self._source(uri)
        return read_manifest(source)

    # -- registering -------------------------------------------------------------------------

    def _replaced(self, name: str, replaces: int | str | None) -> int | None:
        if replaces is None:
            return None
        if isinstance(replaces, str) and not replaces.strip().isdigit():
            try:
                return self.store.get_version_by_alias(name, validate_alias(replaces)).version
            except NotFound:
                return None  # nothing holds that alias yet: this is the first of its line
        return validate_version(replaces)

    def register_model(
        self,
        model_uri: str,
        name: str,
        *,
        description: str = "",
        tags: Mapping[str, Any] | None = None,
        replaces: int | str | None = None,
    ) -> ModelVersion:
        """Register the package at ``model_uri`` as the next version of ``name``.

        ``replaces`` records the version this one was trained to replace: a number or an alias
        (``"champion"``: the version the alias points at now).
        """
        validate_model_name(name)
        validate_description(description)
        checked_tags = {
            t.key: t.value for t in (validate_tag(k, v) for k, v in (tags or {}).items())
        }
        source, _, origin_version = self._source(model_uri)
        manifest = read_manifest(source)
        if isinstance(source, DirectorySource):
            files = self._upload(source, manifest)
            lineage = Lineage(run_id=manifest.run_id)
            if manifest.run_id:
                lineage = self._run_lineage(manifest.run_id, required=False) or lineage
        else:
            recorded = source.recorded_digests() or {}
            self._require_blobs(source.origin, recorded)
            files = [(p, d, self.stores.blobs.size(d)) for p, d in sorted(recorded.items())]
            if origin_version is not None:
                lineage = origin_version.lineage
            else:
                parsed = parse_model_uri(model_uri)
                assert parsed.run_id is not None
                lineage = self._run_lineage(parsed.run_id, required=True) or Lineage()
        lineage = Lineage(
            run_id=lineage.run_id,
            dataset_ids=lineage.dataset_ids,
            git_commit=lineage.git_commit,
            replaces_version=self._replaced(name, replaces),
        )
        return self.store.create_model_version(
            name,
            source=str(model_uri),
            flavor=manifest.flavor,
            files=files,
            lineage=lineage,
            description=description,
            tags=checked_tags,
            actor=self._user(),
        )

    def _run_lineage(self, run_id: str, required: bool) -> Lineage | None:
        """Lineage from a run; datasets and commit not on the run itself are taken from its
        nearest ancestor that has them (a nested training run inherits its pipeline's data)."""
        try:
            run = self.client.get_run(run_id)
        except NotFound:
            if required:
                raise
            return None
        datasets = tuple(f"{d.name}@{d.digest}" for d in run.inputs)
        commit = run.data.tags.get(_GIT_COMMIT_TAG)
        ancestor, depth = run, 0
        while (not datasets or not commit) and ancestor.info.parent_run_id and depth < 10:
            try:
                ancestor = self.client.get_run(ancestor.info.parent_run_id)
            except NotFound:
                break
            datasets = datasets or tuple(f"{d.name}@{d.digest}" for d in ancestor.inputs)
            commit = commit or ancestor.data.tags.get(_GIT_COMMIT_TAG)
            depth += 1
        return Lineage(run_id=run_id, dataset_ids=datasets, git_commit=commit)

    def _require_blobs(self, origin: str, files: Mapping[str, str]) -> None:
        missing = sorted(p for p, d in files.items() if not self.stores.blobs.exists(d))
        if missing:
            raise NotFound(
                user_message(
                    f"model package {origin}",
                    "is incomplete: files are missing from the artifact store",
                    missing,
                    "log the model again",
                )
            )

    def _upload(self, source: DirectorySource, manifest: Manifest) -> list[tuple[str, str, int]]:
        """Copy a package directory into the blob store, checking every file on the way."""
        entries = []
        for name in (MANIFEST_NAME, *sorted(manifest.files)):
            ref = self.stores.blobs.put_file(source.path / name)
            if name != MANIFEST_NAME and ref.digest != manifest.files[name]:
                from loopml.core.errors import IntegrityError

                raise IntegrityError(
                    user_message(
                        f"file {name!r} of model package {source.origin}",
                        "does not match the sha256 in its manifest; refusing to register it",
                        fix="restore the package from its original copy or save it again",
                    )
                )
            entries.append((name, ref.digest, ref.size))
        return entries

    # -- registered models -------------------------------------------------------------------

    def create_registered_model(
        self, name: str, description: str = "", tags: Mapping[str, Any] | None = None
    ) -> RegisteredModel:
        checked = {t.key: t.value for t in (validate_tag(k, v) for k, v in (tags or {}).items())}
        return self.store.create_registered_model(
            validate_model_name(name), validate_description(description), checked, self._user()
        )

    def get_registered_model(self, name: str) -> RegisteredModel:
        return self.store.get_registered_model(validate_model_name(name))

    def search_registered_models(
        self,
        name_contains: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[RegisteredModel]:
        return self.store.search_registered_models(name_contains, max_results, page_token)

    def update_registered_model(self, name: str, description: str) -> RegisteredModel:
        return self.store.update_registered_model(
            validate_model_name(name), validate_description(description), self._user()
        )

    def delete_registered_model(self, name: str) -> None:
        self.store.delete_registered_model(validate_model_name(name), self._user())

    def set_registered_model_tag(self, name: str, key: str, value: Any) -> None:
        tag = validate_tag(key, value)
        self.store.set_registered_model_tag(
            validate_model_name(name), tag.key, tag.value, self._user()
        )

    def delete_registered_model_tag(self, name: str, key: str) -> None:
        self.store.delete_registered_model_tag(validate_model_name(name), key, self._user())

    # -- versions ----------------------------------------------------------------------------

    def get_model_version(self, name: str, version: int | str) -> ModelVersion:
        return self.store.get_model_version(validate_model_name(name), validate_version(version))

    def get_latest_version(self, name: str) -> ModelVersion:
        return self.store.get_latest_version(validate_model_name(name))

    def search_model_versions(
        self,
        name: str | None = None,
        run_id: str | None = None,
        max_results: int = 100,
        page_token: str | None = None,
    ) -> Page[ModelVersion]:
        if name is not None:
            validate_model_name(name)
        return self.store.search_model_versions(name, run_id, max_results, page_token)

    def update_model_version(self, name: str, version: int | str, description: str) -> ModelVersion:
        return self.store.update_model_version(
            validate_model_name(name),
            validate_version(version),
            validate_description(description),
            self._user(),
        )

    def delete_model_version(self, name: str, version: int | str) -> None:
        self.store.delete_model_version(
            validate_model_name(name), validate_version(version), self._user()
        )

    def set_model_version_tag(self, name: str, version: int | str, key: str, value: Any) -> None:
        tag = validate_tag(key, value)
        self.store.set_model_version_tag(
            validate_model_name(name), validate_version(version), tag.key, tag.value, self._user()
        )

    def delete_model_version_tag(self, name: str, version: int | str, key: str) -> None:
        self.store.delete_model_version_tag(
            validate_model_name(name), validate_version(version), key, self._user()
        )

    # -- aliases -----------------------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: int | str) -> None:
        """Point ``alias`` at ``version``: promotion and rollback are this one call."""
        self.store.set_alias(
            validate_model_name(name),
            validate_alias(alias),
            validate_version(version),
            self._user(),
        )

    def delete_alias(self, name: str, alias: str) -> None:
        self.store.delete_alias(validate_model_name(name), validate_alias(alias), self._user())

    def get_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        return self.store.get_version_by_alias(validate_model_name(name), validate_alias(alias))

    # -- cards and audit ---------------------------------------------------------------------

    def get_model_card(self, name: str, version: int | str) -> str:
        """The version's card: as edited, or generated from manifest, lineage and metrics."""
        mv = self.get_model_version(name, version)
        stored = self.store.get_model_card(mv.name, mv.version)
        if stored is not None:
            return stored
        return self.generate_model_card(mv)

    def generate_model_card(self, mv: ModelVersion) -> str:
        manifest = self.get_manifest(mv.uri)
        run: Run | None = None
        if mv.run_id:
            try:
                run = self.client.get_run(mv.run_id)
            except NotFound:
                run = None
        return generate_card(mv, manifest, run)

    def set_model_card(self, name: str, version: int | str, text: str) -> None:
        self.store.set_model_card(
            validate_model_name(name),
            validate_version(version),
            validate_description(text),
            self._user(),
        )

    def audit_events(
        self, name: str, version: int | str | None = None, max_results: int = 1000
    ) -> list[AuditEvent]:
        """The newest ``max_results`` events of a registered model and its versions (or of one
        version), oldest first."""
        validate_model_name(name)
        if version is not None:
            return self.store.list_audit_events(
                "model_version", f"{name}/{validate_version(version)}", max_results
            )
        return self.store.list_audit_events(model_name=name, max_results=max_results)
