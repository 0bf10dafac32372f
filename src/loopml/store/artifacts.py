"""The content-addressed artifact store: immutable blobs named by the SHA-256 of their bytes.

:class:`ArtifactStore` is the seam (a small :class:`typing.Protocol`); :class:`FsspecArtifactStore`
is the one real implementation, on a local path or any fsspec URL (``file://``, ``memory://``,
``s3://`` with s3fs installed, ...). Every backend runs the same conformance suite,
:func:`loopml.store.conformance.check_artifact_store`.

Layout under the root: ``<root>/<digest[:2]>/<digest>`` for blobs and ``<root>/.tmp/`` for
writes in flight. A write goes to a temporary name first and is moved into place only once
complete, so a blob under its final name is always whole.

>>> store = open_artifact_store("memory://loopml-doctest/artifacts")
>>> ref = store.put_bytes(b"hello")
>>> ref.digest[:12], ref.size
('2cf24dba5fb0', 5)
>>> store.get_bytes(ref.digest)
b'hello'
>>> store.put_bytes(b"hello") == ref  # deduplicated: stored once
True
>>> store.delete(ref.digest)
True
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import logging
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol, cast, runtime_checkable

import fsspec.core
from fsspec.implementations.local import LocalFileSystem
from fsspec.implementations.memory import MemoryFileSystem
from fsspec.registry import get_filesystem_class, known_implementations

from loopml.core.errors import (
    InvalidInput,
    LoopmlError,
    NotFound,
    StoreError,
    user_message,
    verbatim,
)

__all__ = ["ArtifactStore", "BlobRef", "FsspecArtifactStore", "open_artifact_store"]

logger = logging.getLogger(__name__)

#: Bytes read and written per step when streaming; bounds the memory a put needs.
_CHUNK_SIZE = 1 << 20
_DIGEST = re.compile(r"[0-9a-f]{64}")
_TMP_DIR = ".tmp"
_DIGEST_RULE = "must be a SHA-256 hex digest: exactly 64 characters from 0-9 and a-f"
_DIGEST_FIX = "pass BlobRef.digest as returned by put_bytes, put_file or put_stream"


def _shown(value: object, limit: int = 80) -> object:
    """Return ``value`` for a message, shortened when its repr would flood the message."""
    text = repr(value)
    if len(text) <= limit:
        return value
    return verbatim(f"<{text[: limit - 3]}... ({len(text)} characters)>")


def _validate_digest(digest: object) -> str:
    """Return ``digest`` if it is 64 lowercase hex characters, else raise :class:`InvalidInput`.

    Checked before any path is built, which also rules out path traversal (``../..``).
    """
    if isinstance(digest, str) and _DIGEST.fullmatch(digest):
        return digest
    fix = _DIGEST_FIX
    if isinstance(digest, str) and _DIGEST.fullmatch(digest.lower()):
        fix = "digests are lowercase; pass digest.lower()"
    raise InvalidInput(user_message("artifact digest", _DIGEST_RULE, _shown(digest), fix))


@dataclass(frozen=True, slots=True)
class BlobRef:
    """A reference to a stored blob: the SHA-256 of its bytes (lowercase hex) and its size."""

    digest: str
    size: int

    def __post_init__(self) -> None:
        _validate_digest(self.digest)
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 0:
            raise InvalidInput(
                user_message(
                    "BlobRef size",
                    "must be a non-negative integer (bytes)",
                    _shown(self.size),
                    "pass the length of the blob's content",
                )
            )


@runtime_checkable
class ArtifactStore(Protocol):
    """Immutable, content-addressed blobs: the artifact seam every backend implements.

    Contract (checked by :func:`loopml.store.conformance.check_artifact_store`):

    - A blob is named by the lowercase SHA-256 hex digest of its bytes. Putting identical content
      again returns an equal :class:`BlobRef` and stores nothing new.
    - A blob appears under its digest only once complete: an interrupted put leaves nothing
      behind, neither the blob nor anything :meth:`iter_digests` would list.
    - Methods taking a digest raise :class:`~loopml.core.errors.InvalidInput` for a malformed one
      (before touching storage) and :class:`~loopml.core.errors.NotFound` for a missing blob
      (except :meth:`exists` and :meth:`delete`, which answer ``False``).
    - Failures of the storage itself raise :class:`~loopml.core.errors.StoreError`.
    - Puts of the same content from concurrent threads all succeed and leave one blob.
    """

    @property
    def uri(self) -> str:
        """The store's location as a URL (``file:///...``, ``memory:///...``, ``s3://...``)."""
        ...

    def put_bytes(self, data: bytes) -> BlobRef:
        """Store ``data`` and return its reference."""
        ...

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Store the content of the local file at ``path``, streaming it in chunks.

        Raises :class:`~loopml.core.errors.NotFound` if the file does not exist.
        """
        ...

    def put_stream(self, stream: BinaryIO) -> BlobRef:
        """Store everything read from the binary ``stream`` until its end, in chunks.

        Exceptions raised by ``stream.read`` propagate unchanged, after the partial write is
        cleaned up. The stream is not closed.
        """
        ...

    def open(self, digest: str) -> BinaryIO:
        """Open the blob for reading; the caller closes the stream (use ``with``)."""
        ...

    def get_bytes(self, digest: str) -> bytes:
        """Return the blob's whole content."""
        ...

    def exists(self, digest: str) -> bool:
        """Return whether the blob is stored."""
        ...

    def size(self, digest: str) -> int:
        """Return the blob's size in bytes."""
        ...

    def modified(self, digest: str) -> float | None:
        """Seconds since the epoch of the blob's last write or freshening (a put that found it
        already stored); None when the backend does not say. NotFound if absent."""
        ...

    def delete(self, digest: str) -> bool:
        """Remove the blob; return ``True`` if it was there (a missing blob is not an error)."""
        ...

    def iter_digests(self) -> Iterator[str]:
        """Yield the digest of every stored blob once (for garbage collection), no temp files."""
        ...


def _check_protocols(url: str) -> None:
    """Raise :class:`InvalidInput` if fsspec cannot serve a protocol named in ``url``."""
    for part in url.split("::"):
        protocol, _ = fsspec.core.split_protocol(part)
        if not protocol:
            continue
        try:
            get_filesystem_class(protocol)
        except ValueError as exc:
            raise InvalidInput(
                user_message(
                    f"artifact store URL {url!r}",
                    f"uses the protocol {protocol!r}, which fsspec does not know",
                    fix="use a local path or a URL whose protocol is one of "
                    "fsspec.available_protocols(), such as file://, memory:// or s3://",
                )
            ) from exc
        except ImportError as exc:
            known = known_implementations.get(protocol, {})
            package = str(known.get("class", protocol)).split(".", 1)[0]
            hint = str(known.get("err", exc))
            raise InvalidInput(
                user_message(
                    f"artifact store URL {url!r}",
                    f"uses the protocol {protocol!r}, whose fsspec backend is not installed",
                    verbatim(f"<{hint}>"),
                    f"pip install {package}",
                )
            ) from exc


def _read_chunk(stream: BinaryIO) -> bytes:
    """Read the next chunk of ``stream``; ``b""`` at its end."""
    chunk = stream.read(_CHUNK_SIZE)
    if isinstance(chunk, str):
        raise InvalidInput(
            user_message(
                "stream to store",
                "must be opened in binary mode",
                verbatim(f"<text chunk of {len(chunk)} characters>"),
                "open the file with mode 'rb', or encode the text to bytes first",
            )
        )
    return chunk


class FsspecArtifactStore:
    """An :class:`ArtifactStore` on a local path or any fsspec URL.

    ``url`` is a plain path (``/data/artifacts``, ``./.loopml/artifacts``) or an fsspec URL
    (``file:///data/artifacts``, ``memory://bucket/x``, ``s3://bucket/prefix`` with s3fs). The
    constructor only resolves the filesystem; directories are created on the first write.

    Puts are atomic and deduplicated: content is streamed to ``<root>/.tmp/<random>`` while
    hashing, then moved to ``<root>/<digest[:2]>/<digest>``, unless a blob of that digest and
    size is already there, in which case the temporary file is dropped (``put_bytes`` and
    ``put_file`` hash first and skip the write altogether). Two writers racing on the same
    content both succeed: the move replaces identical bytes, and where a backend refuses to
    replace, the blob already in place is accepted.
    """

    def __init__(self, url: str | os.PathLike[str]) -> None:
        """Resolve ``url`` to an fsspec filesystem and root; no I/O."""
        if isinstance(url, os.PathLike):
            url = os.fspath(url)
        if not isinstance(url, str) or not url.strip():
            raise InvalidInput(
                user_message(
                    "artifact store URL",
                    "must be a non-empty path or fsspec URL",
                    _shown(url),
                    "pass a directory such as './.loopml/artifacts' or a URL such as "
                    "'s3://bucket/artifacts'",
                )
            )
        _check_protocols(url)
        try:
            fs, root = fsspec.core.url_to_fs(url)
        except (ValueError, TypeError, ImportError) as exc:
            raise InvalidInput(
                user_message(
                    f"artifact store URL {url!r}",
                    "must be a URL fsspec can open",
                    verbatim(f"<{type(exc).__name__}: {exc}>"),
                    "check the URL's spelling and options",
                )
            ) from exc
        self._fs: Any = fs
        self._root: str = str(root).rstrip("/")
        self._uri: str = str(fs.unstrip_protocol(self._root or fs.root_marker))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._uri!r})"

    @property
    def uri(self) -> str:
        """The store's root as a URL, e.g. ``file:///data/artifacts``; reopens the same store."""
        return self._uri

    # ---- paths -------------------------------------------------------------------------------

    def _blob_path(self, digest: str) -> str:
        return f"{self._root}/{digest[:2]}/{digest}"

    def _tmp_dir(self) -> str:
        return f"{self._root}/{_TMP_DIR}"

    # ---- error translation -------------------------------------------------------------------

    def _store_error(self, action: str, exc: OSError) -> StoreError:
        return StoreError(
            user_message(
                f"artifact store {self._uri!r}",
                f"failed to {action}",
                verbatim(f"<{type(exc).__name__}: {exc}>"),
                "check that the location is reachable, writable and not full",
            )
        )

    @contextmanager
    def _store_errors(self, action: str) -> Iterator[None]:
        """Turn an ``OSError`` of the backend into :class:`StoreError` (``raise ... from``)."""
        try:
            yield
        except OSError as exc:
            raise self._store_error(action, exc) from exc

    def _not_found(self, digest: str) -> NotFound:
        return NotFound(
            user_message(
                f"blob {digest}",
                f"does not exist in artifact store {self._uri!r}",
                fix="check the digest; the blob may never have been put or may have been deleted",
            )
        )

    def _stat(self, path: str) -> int | None:
        """Return the size of the file at ``path``, or ``None`` if there is none.

        Uses ``info`` rather than fsspec's ``exists``, which answers ``False`` on any error and
        would hide an unreachable store.
        """
        with self._store_errors(f"inspect {path!r}"):
            try:
                info = self._fs.info(path)
            except FileNotFoundError:
                return None
        if info.get("type", "file") != "file":
            return None
        size = info.get("size")
        if size is None:
            raise StoreError(
                user_message(
                    f"artifact store {self._uri!r}",
                    "needs a filesystem that reports file sizes",
                    verbatim(f"<no size for {path!r}>"),
                    "use another fsspec backend for artifacts",
                )
            )
        return int(size)

    # ---- writing -----------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> BlobRef:
        """Store ``data``; skip the write if a blob of the same digest is already stored."""
        if isinstance(data, bytearray | memoryview):
            data = bytes(data)
        if not isinstance(data, bytes):
            raise InvalidInput(
                user_message(
                    "artifact data",
                    "must be bytes",
                    verbatim(f"<{type(data).__name__}>"),
                    "encode text first (text.encode('utf-8')) or use put_file for a file",
                )
            )
        ref = BlobRef(hashlib.sha256(data).hexdigest(), len(data))
        if self._stat(self._blob_path(ref.digest)) == ref.size:
            self._freshen(self._blob_path(ref.digest))
            return ref
        return self._write(io.BytesIO(data))

    def put_file(self, path: str | os.PathLike[str]) -> BlobRef:
        """Store the local file at ``path`` in chunks; skip the upload if already stored.

        The file is read twice: once to hash it (so a duplicate is never uploaded), once to copy
        it. The stored digest is that of the bytes actually copied, so a file changing in
        between is still stored correctly under its new content's digest.
        """
        try:
            source = os.fspath(path)
        except TypeError as exc:
            raise InvalidInput(
                user_message(
                    "file to store",
                    "must be a path (str or os.PathLike)",
                    verbatim(f"<{type(path).__name__}>"),
                    "pass the file's path; use put_stream for an open file",
                )
            ) from exc
        with self._source_errors(source):
            hasher = hashlib.sha256()
            size = 0
            with open(source, "rb") as file:
                while chunk := file.read(_CHUNK_SIZE):
                    hasher.update(chunk)
                    size += len(chunk)
            ref = BlobRef(hasher.hexdigest(), size)
            if self._stat(self._blob_path(ref.digest)) == ref.size:
                self._freshen(self._blob_path(ref.digest))
                return ref
            with open(source, "rb") as file:
                return self._write(file)

    def put_stream(self, stream: BinaryIO) -> BlobRef:
        """Store everything read from ``stream`` in chunks; the stream is not closed.

        The content is unknown until the end, so it is always written to a temporary file; a
        duplicate is then dropped instead of moved into place.
        """
        return self._write(stream)

    @contextmanager
    def _source_errors(self, source: str) -> Iterator[None]:
        """Translate ``OSError`` from reading the caller's file into the loopml error tree."""
        try:
            yield
        except LoopmlError:
            raise
        except FileNotFoundError as exc:
            raise NotFound(
                user_message(
                    f"file to store {source!r}",
                    "does not exist",
                    fix="check the path (relative paths start from the current directory)",
                )
            ) from exc
        except OSError as exc:
            raise InvalidInput(
                user_message(
                    f"file to store {source!r}",
                    "must be a readable regular file",
                    verbatim(f"<{type(exc).__name__}: {exc}>"),
                    "check the path and its permissions",
                )
            ) from exc

    def _write(self, stream: BinaryIO) -> BlobRef:
        """Stream to a temporary file while hashing, then move it under its digest.

        The temporary file is removed on every path that does not move it, including
        ``KeyboardInterrupt``. Errors from ``stream.read`` propagate unchanged.
        """
        tmp = f"{self._tmp_dir()}/{uuid.uuid4().hex}"
        moved = False
        try:
            with self._store_errors("create a temporary file"):
                self._fs.makedirs(self._tmp_dir(), exist_ok=True)
                out = self._fs.open(tmp, "wb")
            hasher = hashlib.sha256()
            size = 0
            try:
                while chunk := _read_chunk(stream):
                    hasher.update(chunk)
                    size += len(chunk)
                    with self._store_errors("write a temporary file"):
                        out.write(chunk)
                if isinstance(self._fs, LocalFileSystem):
                    with self._store_errors("flush a temporary file to disk"):
                        out.flush()
                        os.fsync(out.fileno())
            finally:
                with self._store_errors("close a temporary file"):
                    out.close()
            ref = BlobRef(hasher.hexdigest(), size)
            final = self._blob_path(ref.digest)
            existing = self._stat(final)
            if existing == ref.size:
                self._freshen(final)
            else:
                if existing is not None:
                    logger.warning(
                        "replacing damaged blob %s: %d bytes stored, %d expected",
                        ref.digest,
                        existing,
                        ref.size,
                    )
                moved = self._move_into_place(tmp, final, ref.size)
            return ref
        finally:
            if not moved:
                self._discard(tmp)

    def _move_into_place(self, tmp: str, final: str, size: int) -> bool:
        """Move ``tmp`` to ``final``; return whether it moved (``False``: a racer got there)."""
        with self._store_errors("create a blob directory"):
            self._fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
        try:
            self._fs.mv(tmp, final)
        except OSError as exc:
            # A concurrent put of the same content may have won, on a backend that refuses to
            # replace; its blob has the same bytes (same digest), so ours is not needed.
            if self._stat(final) == size:
                return False
            raise self._store_error(f"move a finished blob to {final!r}", exc) from exc
        return True

    def _discard(self, tmp: str) -> None:
        """Remove a temporary file, never masking the error that is already propagating."""
        try:
            self._fs.rm_file(tmp)
        except FileNotFoundError:
            pass
        except OSError:
            logger.warning("could not remove temporary file %r", tmp, exc_info=True)

    # ---- reading -----------------------------------------------------------------------------

    def open(self, digest: str) -> BinaryIO:
        """Open the blob for reading in binary mode; close it (``with store.open(d) as f``)."""
        path = self._blob_path(_validate_digest(digest))
        with self._store_errors(f"open blob {digest}"):
            try:
                if isinstance(self._fs, MemoryFileSystem):
                    # fsspec's memory backend hands every reader the same file object (one
                    # shared position); give each reader its own stream, as files do.
                    return io.BytesIO(self._fs.cat_file(path))
                return cast(BinaryIO, self._fs.open(path, "rb"))
            except (FileNotFoundError, IsADirectoryError) as exc:
                raise self._not_found(digest) from exc

    def get_bytes(self, digest: str) -> bytes:
        """Return the blob's whole content (use :meth:`open` to stream a large blob)."""
        path = self._blob_path(_validate_digest(digest))
        with self._store_errors(f"read blob {digest}"):
            try:
                return bytes(self._fs.cat_file(path))
            except (FileNotFoundError, IsADirectoryError) as exc:
                raise self._not_found(digest) from exc

    def exists(self, digest: str) -> bool:
        """Return whether the blob is stored."""
        return self._stat(self._blob_path(_validate_digest(digest))) is not None

    def size(self, digest: str) -> int:
        """Return the blob's size in bytes."""
        size = self._stat(self._blob_path(_validate_digest(digest)))
        if size is None:
            raise self._not_found(digest)
        return size

    def modified(self, digest: str) -> float | None:
        """Seconds since the epoch of the last write or freshening; None if the backend hides it."""
        path = self._blob_path(_validate_digest(digest))
        with self._store_errors(f"inspect {path!r}"):
            try:
                info = self._fs.info(path)
            except FileNotFoundError as exc:
                raise self._not_found(digest) from exc
        for key in ("mtime", "LastModified", "last_modified", "updated", "created"):
            value = info.get(key)
            if isinstance(value, int | float):
                return float(value)
            if isinstance(value, datetime.datetime):
                return value.timestamp()
        return None

    def _freshen(self, path: str) -> None:
        """Mark a blob that a put found already stored as just written (as git freshens loose
        objects), so garbage collection's grace period protects it while its new reference is
        being recorded. Best effort: some backends (memory, most object stores) cannot."""
        if isinstance(self._fs, LocalFileSystem):
            with contextlib.suppress(OSError):
                os.utime(path)
            return
        with contextlib.suppress(NotImplementedError, OSError, ValueError, TypeError):
            self._fs.touch(path, truncate=False)

    def delete(self, digest: str) -> bool:
        """Remove the blob; return ``True`` if it was there, ``False`` if it was not."""
        path = self._blob_path(_validate_digest(digest))
        if self._stat(path) is None:
            return False
        with self._store_errors(f"delete blob {digest}"):
            try:
                self._fs.rm_file(path)
            except FileNotFoundError:
                return False  # deleted concurrently
        return True

    def iter_digests(self) -> Iterator[str]:
        """Yield every stored digest once, in sorted order; temporary files are never listed.

        One recursive listing of the root (a single paginated call on object stores).
        """
        with self._store_errors("list blobs"):
            paths = self._fs.find(self._root or self._fs.root_marker)
        for path in sorted(str(p).rstrip("/") for p in paths):
            name = path.rsplit("/", 1)[-1]
            if _DIGEST.fullmatch(name) and path == self._blob_path(name):
                yield name


def open_artifact_store(url: str | os.PathLike[str]) -> ArtifactStore:
    """Return the artifact store at ``url``: a local path or any fsspec URL.

    >>> open_artifact_store("memory://loopml-doctest/empty").uri
    'memory:///loopml-doctest/empty'
    """
    return FsspecArtifactStore(url)
