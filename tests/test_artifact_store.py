"""Artifact store: the conformance suite over every backend, then FsspecArtifactStore details."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import itertools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.implementations.memory import MemoryFileSystem
from fsspec.registry import known_implementations

from loopml.core.errors import InvalidInput, NotFound, StoreError
from loopml.store.artifacts import (
    ArtifactStore,
    BlobRef,
    FsspecArtifactStore,
    open_artifact_store,
)
from loopml.store.conformance import check_artifact_store

StoreFactory = Callable[[], ArtifactStore]


class _NoReplaceMemoryFileSystem(MemoryFileSystem):  # type: ignore[misc]  # fsspec is untyped
    """fsspec's memory filesystem, but a move refuses to replace an existing file.

    Like ``os.rename`` on Windows or a conditional put on an object store: the backend on which a
    writer can lose a race for the same blob and must accept the winner's copy.
    """

    protocol = "loopml-noreplace"

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, str):
            path = path.removeprefix(f"{cls.protocol}://")
        return super()._strip_protocol(path)

    def mv(self, path1: str, path2: str, **kwargs: Any) -> None:
        if self.exists(path2):
            raise FileExistsError(path2)
        super().mv(path1, path2, **kwargs)


class _RacerWinsFileSystem(_NoReplaceMemoryFileSystem):
    """Another writer moves the same blob into place just before every move of ours."""

    protocol = "loopml-racerwins"

    def mv(self, path1: str, path2: str, **kwargs: Any) -> None:
        self.pipe_file(path2, self.cat_file(path1))
        super().mv(path1, path2, **kwargs)


class _MoveFailsFileSystem(_NoReplaceMemoryFileSystem):
    """Every move fails, as on a full or read-only store."""

    protocol = "loopml-movefails"

    def mv(self, path1: str, path2: str, **kwargs: Any) -> None:
        raise OSError(28, "No space left on device (simulated)")


for _fs_class in (_NoReplaceMemoryFileSystem, _RacerWinsFileSystem, _MoveFailsFileSystem):
    fsspec.register_implementation(_fs_class.protocol, _fs_class, clobber=True)

BACKENDS = ["local-path", "file-url", "memory", "memory-no-replace"]


def _never() -> ArtifactStore:
    raise AssertionError("check_artifact_store must not build a store while yielding checks")


CHECK_NAMES = [name for name, _ in check_artifact_store(_never)]


@pytest.fixture
def memory_root() -> Iterator[str]:
    """A unique top-level name in fsspec's process-global memory store, removed afterwards."""
    root = f"loopml-test-{uuid.uuid4().hex}"
    yield root
    memory = fsspec.filesystem("memory")
    if memory.exists(f"/{root}"):
        memory.rm(f"/{root}", recursive=True)


@pytest.fixture(params=BACKENDS)
def make_store(
    request: pytest.FixtureRequest, tmp_path: Path, memory_root: str
) -> Callable[[], ArtifactStore]:
    """A factory of fresh, empty stores on one backend."""
    counter = itertools.count()

    def make() -> ArtifactStore:
        name = f"store-{next(counter)}"
        if request.param == "local-path":
            return open_artifact_store(str(tmp_path / name))
        if request.param == "file-url":
            return open_artifact_store((tmp_path / name).as_uri())
        if request.param == "memory":
            return open_artifact_store(f"memory://{memory_root}/{name}")
        return open_artifact_store(f"{_NoReplaceMemoryFileSystem.protocol}://{memory_root}/{name}")

    return make


@pytest.mark.parametrize("check_name", CHECK_NAMES)
def test_artifact_store_conformance(make_store: StoreFactory, check_name: str) -> None:
    checks = dict(check_artifact_store(make_store))
    checks[check_name]()


def test_check_names_are_unique_and_cover_the_brief() -> None:
    assert len(CHECK_NAMES) == len(set(CHECK_NAMES))
    for required in (
        "round_trip_bytes",
        "round_trip_large_file",
        "digest_is_sha256",
        "deduplicates",
        "empty_blob",
        "missing_digest",
        "malformed_digest",
        "delete",
        "iter_digests_exact",
        "interrupted_put_leaves_nothing",
        "concurrent_puts",
    ):
        assert required in CHECK_NAMES


# ---- the suite catches broken stores ---------------------------------------------------------


class _ListsTempFiles(FsspecArtifactStore):
    """A broken store: lists every file under the root, including half-written ones."""

    def iter_digests(self) -> Iterator[str]:
        for path in self._fs.find(self._root):
            yield str(path).rsplit("/", 1)[-1]


class _NoValidation(FsspecArtifactStore):
    """A broken store: does not reject a malformed digest on exists."""

    def exists(self, digest: str) -> bool:
        return False


@pytest.mark.parametrize(
    ("broken", "check_name", "match"),
    [
        (_NoValidation, "malformed_digest", r"exists\(''\) should raise InvalidInput"),
        (
            _ListsTempFiles,
            "iter_digests_exact",
            r"a fresh store should list nothing; got \['leftover'\]",
        ),
    ],
)
def test_conformance_checks_fail_on_broken_stores(
    tmp_path: Path, broken: type[FsspecArtifactStore], check_name: str, match: str
) -> None:
    counter = itertools.count()

    def make() -> ArtifactStore:
        return broken(tmp_path / f"store-{next(counter)}")

    check = dict(check_artifact_store(make))[check_name]
    if broken is _ListsTempFiles:
        # Make the broken store leak a temp file, as a crashed writer would.
        leak = tmp_path / "store-0" / ".tmp" / "leftover"
        leak.parent.mkdir(parents=True)
        leak.write_bytes(b"partial")
    with pytest.raises(AssertionError, match=match):
        check()


# ---- FsspecArtifactStore specifics ---------------------------------------------------------


def _files_under(uri: str) -> list[str]:
    """Every file under the store's root, relative to it, read straight from the filesystem."""
    fs, root = fsspec.core.url_to_fs(uri)
    return sorted(str(p)[len(root) :].lstrip("/") for p in fs.find(root))


def test_unknown_protocol_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match=r"uses the protocol 'nosuchfs', which fsspec does not"):
        open_artifact_store("nosuchfs://bucket/artifacts")


def test_protocol_without_its_package_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = {
        "class": "loopml_fake_fs_pkg.FakeFileSystem",
        "err": "Install loopml_fake_fs_pkg to access loopmlfake",
    }
    monkeypatch.setitem(known_implementations, "loopmlfake", fake)
    with pytest.raises(
        InvalidInput,
        match=r"protocol 'loopmlfake', whose fsspec backend is not installed.*"
        r"Fix: pip install loopml_fake_fs_pkg\.",
    ):
        open_artifact_store("loopmlfake://bucket/artifacts")


@pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None, reason="s3fs is installed")
def test_s3_without_s3fs_says_what_to_install() -> None:
    with pytest.raises(InvalidInput, match=r"protocol 's3'.*Fix: pip install s3fs\."):
        open_artifact_store("s3://bucket/artifacts")


@pytest.mark.parametrize("url", ["", "   "])
def test_empty_url_is_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput, match="must be a non-empty path or fsspec URL"):
        open_artifact_store(url)


def test_constructor_does_no_io(tmp_path: Path) -> None:
    root = tmp_path / "lazy" / "artifacts"
    store = FsspecArtifactStore(root)
    assert not root.exists()
    assert list(store.iter_digests()) == []
    assert not store.exists(hashlib.sha256(b"x").hexdigest())
    assert not root.exists()
    store.put_bytes(b"x")
    assert root.is_dir()


def test_layout_is_two_level_by_digest(tmp_path: Path) -> None:
    store = FsspecArtifactStore(tmp_path)
    ref = store.put_bytes(b"layout")
    blob = tmp_path / ref.digest[:2] / ref.digest
    assert blob.read_bytes() == b"layout"
    assert _files_under(str(tmp_path)) == [f"{ref.digest[:2]}/{ref.digest}"]


def test_uri_reopens_the_same_store(tmp_path: Path) -> None:
    store = open_artifact_store(tmp_path / "a")
    ref = store.put_bytes(b"persisted")
    assert store.uri == (tmp_path / "a").as_uri()
    again = open_artifact_store(store.uri)
    assert again.get_bytes(ref.digest) == b"persisted"
    assert repr(again) == f"FsspecArtifactStore({store.uri!r})"


def test_memory_uri_reopens_the_same_store(memory_root: str) -> None:
    store = open_artifact_store(f"memory://{memory_root}/x/")
    ref = store.put_bytes(b"in memory")
    assert store.uri == f"memory:///{memory_root}/x"
    assert open_artifact_store(store.uri).get_bytes(ref.digest) == b"in memory"


def test_second_put_skips_the_write(tmp_path: Path) -> None:
    store = FsspecArtifactStore(tmp_path)
    ref = store.put_bytes(b"once")
    blob = tmp_path / ref.digest[:2] / ref.digest
    inode = blob.stat().st_ino
    source = tmp_path / "source.bin"
    source.write_bytes(b"once")
    assert store.put_bytes(b"once") == ref
    assert store.put_file(source) == ref
    assert store.put_stream(io.BytesIO(b"once")) == ref
    assert blob.stat().st_ino == inode  # never replaced


def test_truncated_blob_is_repaired_by_the_next_put(tmp_path: Path) -> None:
    store = FsspecArtifactStore(tmp_path)
    ref = store.put_bytes(b"whole content")
    (tmp_path / ref.digest[:2] / ref.digest).write_bytes(b"whole")  # damaged from outside
    assert store.put_bytes(b"whole content") == ref
    assert store.get_bytes(ref.digest) == b"whole content"


class _DisconnectError(Exception):
    pass


class _DropsAfterTwoChunks(io.BytesIO):
    """An upload whose client goes away after two full chunks."""

    reads = 0

    def read(self, size: int | None = -1, /) -> bytes:
        self.reads += 1
        if self.reads > 2:
            raise _DisconnectError("client went away")
        return b"z" * (size if size and size > 0 else 1024)


@pytest.mark.parametrize("backend", ["local", "memory"])
def test_interrupted_put_leaves_no_blob_and_no_temp_file(
    tmp_path: Path, memory_root: str, backend: str
) -> None:
    url = str(tmp_path) if backend == "local" else f"memory://{memory_root}"
    store = open_artifact_store(url)
    kept = store.put_bytes(b"already here")
    stream = _DropsAfterTwoChunks()
    with pytest.raises(_DisconnectError):
        store.put_stream(stream)
    assert stream.reads == 3  # two chunks were written before the failure
    assert _files_under(url) == [f"{kept.digest[:2]}/{kept.digest}"]
    assert list(store.iter_digests()) == [kept.digest]


def test_losing_a_race_to_an_identical_blob_is_success(memory_root: str) -> None:
    store = open_artifact_store(f"{_RacerWinsFileSystem.protocol}://{memory_root}")
    ref = store.put_stream(io.BytesIO(b"raced"))
    assert ref.digest == hashlib.sha256(b"raced").hexdigest()
    assert store.get_bytes(ref.digest) == b"raced"
    assert _files_under(store.uri) == [f"{ref.digest[:2]}/{ref.digest}"]  # our temp is gone


def test_failed_move_is_store_error_and_leaves_nothing(memory_root: str) -> None:
    store = open_artifact_store(f"{_MoveFailsFileSystem.protocol}://{memory_root}")
    with pytest.raises(
        StoreError,
        match=r"artifact store '.*' failed to move a finished blob to '.*'; got <OSError: "
        r".*No space left on device \(simulated\)>\. Fix: check that the location",
    ) as info:
        store.put_bytes(b"x")
    assert isinstance(info.value.__cause__, OSError)
    assert _files_under(store.uri) == []
    assert list(store.iter_digests()) == []


def test_leftovers_of_a_crashed_writer_are_not_listed(tmp_path: Path) -> None:
    store = FsspecArtifactStore(tmp_path)
    ref = store.put_bytes(b"real")
    digest_like = hashlib.sha256(b"half-written").hexdigest()
    (tmp_path / ".tmp").mkdir(exist_ok=True)
    (tmp_path / ".tmp" / digest_like).write_bytes(b"half")  # killed before the move
    (tmp_path / digest_like).write_bytes(b"stray")  # not in the layout
    assert list(store.iter_digests()) == [ref.digest]
    assert not store.exists(digest_like)


def test_put_file_of_missing_path_is_not_found(tmp_path: Path) -> None:
    store = FsspecArtifactStore(tmp_path / "store")
    missing = tmp_path / "nope.bin"
    with pytest.raises(NotFound, match=r"file to store '.*nope\.bin' does not exist"):
        store.put_file(missing)
    assert not (tmp_path / "store").exists() or _files_under(str(tmp_path / "store")) == []


def test_put_file_of_a_directory_is_invalid_input(tmp_path: Path) -> None:
    store = FsspecArtifactStore(tmp_path / "store")
    with pytest.raises(InvalidInput, match="must be a readable regular file"):
        store.put_file(tmp_path)


def test_put_bytes_rejects_text(tmp_path: Path) -> None:
    store = FsspecArtifactStore(tmp_path)
    text: Any = "not bytes"
    with pytest.raises(InvalidInput, match=r"artifact data must be bytes; got <str>\. Fix: encode"):
        store.put_bytes(text)


def test_put_stream_rejects_a_text_stream(tmp_path: Path) -> None:
    store = FsspecArtifactStore(tmp_path)
    stream: Any = io.StringIO("text")
    with pytest.raises(InvalidInput, match="must be opened in binary mode"):
        store.put_stream(stream)
    assert _files_under(str(tmp_path)) == []


def test_malformed_digest_message(tmp_path: Path) -> None:
    store = FsspecArtifactStore(tmp_path)
    with pytest.raises(
        InvalidInput,
        match=r"artifact digest must be a SHA-256 hex digest: exactly 64 characters from 0-9 and "
        r"a-f; got '\.\./\.\./etc/passwd'\. Fix: pass BlobRef\.digest",
    ):
        store.get_bytes("../../etc/passwd")
    with pytest.raises(InvalidInput, match=r"Fix: digests are lowercase; pass digest\.lower\(\)"):
        store.exists("A" * 64)


def test_missing_blob_message(tmp_path: Path) -> None:
    store = FsspecArtifactStore(tmp_path)
    digest = hashlib.sha256(b"absent").hexdigest()
    with pytest.raises(NotFound, match=rf"blob {digest} does not exist in artifact store 'file://"):
        store.get_bytes(digest)


def test_storage_failure_is_store_error(tmp_path: Path) -> None:
    root = tmp_path / "a-file-not-a-directory"
    root.write_bytes(b"")
    store = FsspecArtifactStore(root)
    with pytest.raises(StoreError, match=r"artifact store 'file://.*' failed to") as info:
        store.put_bytes(b"x")
    assert isinstance(info.value.__cause__, OSError)


def test_blobref_validates() -> None:
    digest = hashlib.sha256(b"").hexdigest()
    assert BlobRef(digest, 0) == BlobRef(digest, 0)
    assert hash(BlobRef(digest, 0)) == hash(BlobRef(digest, 0))
    with pytest.raises(InvalidInput, match="artifact digest must be a SHA-256 hex digest"):
        BlobRef("nope", 0)
    with pytest.raises(InvalidInput, match="BlobRef size must be a non-negative integer"):
        BlobRef(digest, -1)


def test_fsspec_store_satisfies_the_protocol(tmp_path: Path) -> None:
    store: ArtifactStore = FsspecArtifactStore(tmp_path)
    assert isinstance(store, ArtifactStore)
