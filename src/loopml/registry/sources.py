"""Model packages stored as blobs: a run's logged package or a registered version's files."""

from __future__ import annotations

from collections.abc import Mapping

from loopml.core.errors import IntegrityError, NotFound, user_message
from loopml.store.artifacts import ArtifactStore

__all__ = ["BlobSource"]


class BlobSource:
    """A package whose files are content-addressed blobs, listed ``relative path -> sha256``.

    The listing was recorded when the package was logged or registered; ``read_manifest``
    checks the manifest against it, and the loader re-hashes every blob it reads, so a blob
    changed on disk after logging is refused.
    """

    def __init__(self, blobs: ArtifactStore, files: Mapping[str, str], origin: str) -> None:
        self._blobs = blobs
        self._files = dict(files)
        self._origin = origin

    @property
    def origin(self) -> str:
        return self._origin

    def read(self, name: str) -> bytes:
        digest = self._files.get(name)
        if digest is None:
            raise IntegrityError(
                user_message(
                    f"file {name!r} of model package {self._origin}",
                    "is named by the manifest but was never stored with the package",
                    fix="log the model again",
                )
            )
        try:
            return self._blobs.get_bytes(digest)
        except NotFound:
            raise IntegrityError(
                user_message(
                    f"file {name!r} of model package {self._origin}",
                    f"is missing from the artifact store (blob {digest[:12]}…)",
                    fix="restore the artifact store from a backup, or log the model again",
                )
            ) from None

    def recorded_digests(self) -> Mapping[str, str] | None:
        return self._files
