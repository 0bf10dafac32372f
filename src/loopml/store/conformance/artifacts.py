"""The artifact store contract as named checks (see :class:`loopml.store.artifacts.ArtifactStore`).

Run it from a test over every backend::

    @pytest.mark.parametrize("name", [name for name, _ in check_artifact_store(make_store)])
    def test_artifact_store(name):
        dict(check_artifact_store(make_store))[name]()

Each check calls ``make_store`` for a fresh, empty store when it runs (never when it is yielded),
and raises :class:`AssertionError` with a message naming what broke.
"""

from __future__ import annotations

import functools
import hashlib
import io
import random
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from loopml.core.errors import InvalidInput, NotFound
from loopml.store.artifacts import ArtifactStore, BlobRef
from loopml.store.conformance._support import expect, expect_raises, run_threads

__all__ = ["check_artifact_store"]

StoreFactory = Callable[[], ArtifactStore]

#: Larger than any sensible streaming chunk (1 MiB in FsspecArtifactStore), and not a multiple.
_LARGE_SIZE = 3 * (1 << 20) + 17
_SEED = 20240229
_THREADS = 8
_ABSENT = hashlib.sha256(b"loopml conformance: never stored").hexdigest()
_MALFORMED: tuple[object, ...] = (
    "",
    "abc",
    "../../etc/passwd",
    "../" * 21 + "a",  # 64 characters
    "/" + "a" * 63,
    "a" * 63,
    "a" * 65,
    "A" * 64,
    "g" * 64,
    " " + "a" * 63,
    "a" * 64 + "\n",
    "a" * 62 + "/a",
    None,
    123,
    b"a" * 64,
)


def _payload(size: int, seed: int = _SEED) -> bytes:
    return random.Random(seed).randbytes(size)


def _listed(store: ArtifactStore) -> list[str]:
    return list(store.iter_digests())


def _read_in_pieces(stream: BinaryIO, piece: int = 65_537) -> bytes:
    parts = []
    while chunk := stream.read(piece):
        parts.append(chunk)
    return b"".join(parts)


class _SimulatedCrashError(Exception):
    """Raised by :class:`_FailingStream` to interrupt a put mid-write."""


class _FailingStream(io.BytesIO):
    """A binary stream that yields ``good_reads`` chunks of data, then raises."""

    def __init__(self, chunk: bytes, good_reads: int) -> None:
        super().__init__()
        self._chunk = chunk
        self._left = good_reads

    def read(self, size: int | None = -1, /) -> bytes:
        if self._left == 0:
            raise _SimulatedCrashError("connection lost mid-upload (simulated)")
        self._left -= 1
        return self._chunk


def _check_round_trip_bytes(make_store: StoreFactory) -> None:
    """put_bytes then get_bytes, open, exists and size agree with what was put."""
    store = make_store()
    data = b"loopml \x00\xff artifact"
    ref = store.put_bytes(data)
    expect(isinstance(ref, BlobRef), f"put_bytes should return a BlobRef; got {ref!r}")
    expect(ref.size == len(data), f"BlobRef.size should be {len(data)}; got {ref.size}")
    expect(store.get_bytes(ref.digest) == data, "get_bytes did not return the bytes put")
    with store.open(ref.digest) as stream:
        expect(stream.read() == data, "open(...).read() did not return the bytes put")
    expect(store.exists(ref.digest), "exists should be True after put_bytes")
    expect(store.size(ref.digest) == len(data), f"size should be {len(data)}")


def _check_round_trip_large_file(make_store: StoreFactory) -> None:
    """A file larger than the streaming chunk round-trips through put_file and open."""
    store = make_store()
    data = _payload(_LARGE_SIZE)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.bin"
        path.write_bytes(data)
        ref = store.put_file(path)
        again = store.put_file(str(path))
    expect(ref == again, f"put_file of a Path and a str should agree; got {ref} and {again}")
    expect(ref.size == len(data), f"BlobRef.size should be {len(data)}; got {ref.size}")
    expect(ref.digest == hashlib.sha256(data).hexdigest(), "put_file digest is not the SHA-256")
    with store.open(ref.digest) as stream:
        read = _read_in_pieces(stream)
    expect(read == data, f"reading back {len(data)} bytes in pieces gave {len(read)} other bytes")
    expect(store.size(ref.digest) == len(data), f"size should be {len(data)}")


def _check_round_trip_stream(make_store: StoreFactory) -> None:
    """put_stream stores everything up to the end of a stream, and leaves the stream open."""
    store = make_store()
    data = _payload(_LARGE_SIZE, seed=_SEED + 1)
    stream = io.BytesIO(data)
    ref = store.put_stream(stream)
    expect(not stream.closed, "put_stream should not close the caller's stream")
    expect(ref == BlobRef(hashlib.sha256(data).hexdigest(), len(data)), f"wrong ref {ref}")
    expect(store.get_bytes(ref.digest) == data, "get_bytes after put_stream differs")


def _check_digest_is_sha256(make_store: StoreFactory) -> None:
    """The digest is hashlib.sha256(content).hexdigest() whichever put method stored it."""
    store = make_store()
    for data in (b"", b"a", b"abc", _payload(4096)):
        expected = BlobRef(hashlib.sha256(data).hexdigest(), len(data))
        by_bytes = store.put_bytes(data)
        by_stream = store.put_stream(io.BytesIO(data))
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "blob"
            path.write_bytes(data)
            by_file = store.put_file(path)
        for how, ref in (("put_bytes", by_bytes), ("put_stream", by_stream), ("put_file", by_file)):
            expect(ref == expected, f"{how} of {len(data)} bytes gave {ref}; expected {expected}")


def _check_deduplicates(make_store: StoreFactory) -> None:
    """Identical content put twice (by any method) gives one ref and one listed blob."""
    store = make_store()
    data = _payload(10_000)
    first = store.put_bytes(data)
    second = store.put_bytes(data)
    third = store.put_stream(io.BytesIO(data))
    expect(first == second == third, f"same content gave refs {first}, {second}, {third}")
    listed = _listed(store)
    expect(listed == [first.digest], f"iter_digests should list the blob once; got {listed}")
    expect(store.get_bytes(first.digest) == data, "content changed after a duplicate put")


def _check_empty_blob(make_store: StoreFactory) -> None:
    """The empty blob is a blob like any other."""
    store = make_store()
    ref = store.put_bytes(b"")
    expect(ref == BlobRef(hashlib.sha256(b"").hexdigest(), 0), f"wrong ref for b'': {ref}")
    expect(store.exists(ref.digest), "the empty blob should exist once put")
    expect(store.get_bytes(ref.digest) == b"", "get_bytes of the empty blob should be b''")
    with store.open(ref.digest) as stream:
        expect(stream.read() == b"", "open(...).read() of the empty blob should be b''")
    expect(store.size(ref.digest) == 0, "size of the empty blob should be 0")
    expect(_listed(store) == [ref.digest], "iter_digests should list the empty blob")


def _check_missing_digest(make_store: StoreFactory) -> None:
    """A well-formed digest that was never put: NotFound from reads, False from exists/delete."""
    store = make_store()
    store.put_bytes(b"something else")
    expect_raises(NotFound, lambda: store.get_bytes(_ABSENT), "get_bytes(missing)")
    expect_raises(NotFound, lambda: store.open(_ABSENT), "open(missing)")
    expect_raises(NotFound, lambda: store.size(_ABSENT), "size(missing)")
    expect(store.exists(_ABSENT) is False, "exists(missing) should be False")
    expect(store.delete(_ABSENT) is False, "delete(missing) should return False")


def _check_malformed_digest(make_store: StoreFactory) -> None:
    """Every digest-taking method rejects a malformed digest (incl. path traversal)."""
    store = make_store()
    ref = store.put_bytes(b"keep me")
    untyped: Any = store
    methods = ("get_bytes", "open", "size", "exists", "delete")
    for bad in _MALFORMED:
        for method in methods:
            call = functools.partial(getattr(untyped, method), bad)
            expect_raises(InvalidInput, call, f"{method}({bad!r})")
    expect(store.get_bytes(ref.digest) == b"keep me", "a rejected call changed a stored blob")


def _check_delete(make_store: StoreFactory) -> None:
    """delete removes one blob, returns True once, then False; other blobs are untouched."""
    store = make_store()
    gone = store.put_bytes(b"to delete")
    kept = store.put_bytes(b"to keep")
    expect(store.delete(gone.digest) is True, "delete of a stored blob should return True")
    expect(store.exists(gone.digest) is False, "exists should be False after delete")
    expect_raises(NotFound, lambda: store.get_bytes(gone.digest), "get_bytes(deleted)")
    expect(store.delete(gone.digest) is False, "a second delete should return False")
    expect(store.get_bytes(kept.digest) == b"to keep", "delete touched another blob")
    expect(_listed(store) == [kept.digest], f"iter_digests after delete: {_listed(store)}")
    again = store.put_bytes(b"to delete")
    expect(again == gone and store.exists(gone.digest), "a deleted blob can be put again")


def _check_iter_digests_exact(make_store: StoreFactory) -> None:
    """iter_digests lists exactly the stored blobs, each once, and nothing for failed puts."""
    store = make_store()
    expect(_listed(store) == [], f"a fresh store should list nothing; got {_listed(store)}")
    refs = {store.put_bytes(f"blob {i}".encode()).digest for i in range(5)}
    with tempfile.TemporaryDirectory() as tmp:
        missing = Path(tmp) / "does-not-exist.bin"
        expect_raises(NotFound, lambda: store.put_file(missing), "put_file(missing path)")
    failing = _FailingStream(b"x" * 1000, good_reads=3)
    expect_raises(_SimulatedCrashError, lambda: store.put_stream(failing), "put_stream(failing)")
    listed = _listed(store)
    expect(len(listed) == len(set(listed)), f"iter_digests repeated a digest: {listed}")
    expect(set(listed) == refs, f"iter_digests should list {sorted(refs)}; got {listed}")


def _check_interrupted_put_leaves_nothing(make_store: StoreFactory) -> None:
    """A put whose stream fails after some chunks stores nothing and re-raises the failure."""
    store = make_store()
    chunk = _payload(300_000)
    whole = chunk * 3
    failing = _FailingStream(chunk, good_reads=3)
    expect_raises(_SimulatedCrashError, lambda: store.put_stream(failing), "put_stream(failing)")
    digest = hashlib.sha256(whole).hexdigest()
    expect(not store.exists(digest), "an interrupted put left its content as a blob")
    expect(_listed(store) == [], f"an interrupted put left {_listed(store)}")
    ref = store.put_stream(io.BytesIO(whole))
    expect(store.get_bytes(ref.digest) == whole, "a put after an interrupted one is wrong")


def _check_independent_readers(make_store: StoreFactory) -> None:
    """Two streams open on one blob read independently."""
    store = make_store()
    ref = store.put_bytes(b"0123456789")
    with store.open(ref.digest) as first, store.open(ref.digest) as second:
        head = first.read(4)
        whole = second.read()
        tail = first.read()
    expect((head, tail) == (b"0123", b"456789"), f"first reader read {head!r} then {tail!r}")
    expect(whole == b"0123456789", f"second reader read {whole!r}")


def _check_concurrent_puts(make_store: StoreFactory) -> None:
    """Threads putting the same content at once all succeed and leave exactly one blob."""
    store = make_store()
    data = _payload(200_000)
    refs: list[BlobRef] = []
    lock = threading.Lock()

    def put(index: int) -> None:
        # Mix the put that hashes first with the one that always writes a temp file.
        ref = store.put_stream(io.BytesIO(data)) if index % 2 else store.put_bytes(data)
        with lock:
            refs.append(ref)

    errors = run_threads(put, _THREADS)
    expect(not errors, f"concurrent puts failed: {errors!r}")
    expect(len(refs) == _THREADS, f"only {len(refs)} of {_THREADS} concurrent puts returned")
    expect(len(set(refs)) == 1, f"concurrent puts of one content gave refs {set(refs)}")
    listed = _listed(store)
    expect(listed == [refs[0].digest], f"iter_digests after concurrent puts: {listed}")
    expect(store.get_bytes(refs[0].digest) == data, "concurrent puts corrupted the blob")


def _check_modified_time(make_store: StoreFactory) -> None:
    """modified() is None or a plausible epoch time, never earlier after a re-put; NotFound if
    absent (garbage collection's grace period reads it)."""
    store = make_store()
    before = time.time()
    ref = store.put_bytes(b"timed")
    first = store.modified(ref.digest)
    after = time.time()
    if first is not None:
        expect(before - 5 <= first <= after + 5, f"modified() {first} not in [{before}, {after}]")
        store.put_bytes(b"timed")  # a deduplicated put may freshen, never make it older
        again = store.modified(ref.digest)
        expect(again is not None and again >= first, f"modified() went from {first} to {again}")
    expect_raises(NotFound, lambda: store.modified(_ABSENT), "modified(missing)")


def _check_protocol_surface(make_store: StoreFactory) -> None:
    """The store has every method of ArtifactStore and a string uri."""
    store = make_store()
    expect(isinstance(store, ArtifactStore), f"{store!r} lacks ArtifactStore methods")
    expect(isinstance(store.uri, str) and bool(store.uri), f"uri should be a str: {store.uri!r}")


_CHECKS: tuple[Callable[[StoreFactory], None], ...] = (
    _check_protocol_surface,
    _check_round_trip_bytes,
    _check_round_trip_large_file,
    _check_round_trip_stream,
    _check_digest_is_sha256,
    _check_deduplicates,
    _check_empty_blob,
    _check_missing_digest,
    _check_malformed_digest,
    _check_delete,
    _check_iter_digests_exact,
    _check_interrupted_put_leaves_nothing,
    _check_independent_readers,
    _check_concurrent_puts,
    _check_modified_time,
)


def check_artifact_store(
    make_store: Callable[[], ArtifactStore],
) -> Iterator[tuple[str, Callable[[], None]]]:
    """Yield ``(name, check)`` for every rule of the :class:`ArtifactStore` contract.

    ``make_store`` returns a fresh, empty store; each check calls it once, when run. A check is
    a zero-argument callable that returns ``None`` or raises :class:`AssertionError`.
    """
    for check in _CHECKS:
        yield check.__name__.removeprefix("_check_"), functools.partial(check, make_store)
