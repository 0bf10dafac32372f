"""Where the prediction log's files live, how they are named, written and listed.

Layout under the root (a local path or any fsspec URL)::

    <root>/<deployment>/date=YYYY-MM-DD/<time>-<stream>-<first>-<last>.parquet    predictions
    <root>/<deployment>/feedback/date=YYYY-MM-DD/<time>-<stream>-<first>-<last>.parquet

``date`` is the UTC day of the rows' ``ts``; ``<time>`` the earliest ``ts`` in the file
(``20240501T120000.123Z``, so names sort by time); ``<stream>`` 16 hex digits naming the
writer's sequence of files for one partition (and one model version); ``<first>-<last>`` the
range of that stream's flush numbers the file holds. A flush writes ``n-n``; merging the
stream's files ``a-b`` ... ``c-d`` writes ``a-d``, which *shadows* every file of the stream
whose range lies inside it: readers skip shadowed files, so a merge that stopped between
writing its result and deleting its sources never shows a row twice.

A file is written under a temporary name in its directory (``.<random>.tmp``, never listed) and
renamed into place once complete, so a file under its final name is always whole.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import fsspec.core
import pyarrow as pa
import pyarrow.parquet as pq
from fsspec.implementations.local import LocalFileSystem

from loopml.core.errors import InvalidInput, StoreError, user_message, verbatim
from loopml.core.settings import load_settings

__all__ = [
    "FEEDBACK_DIR",
    "DataFile",
    "Root",
    "date_of",
    "file_name",
    "open_root",
    "parse_name",
    "visible",
]

logger = logging.getLogger(__name__)

FEEDBACK_DIR = "feedback"
_COMPRESSION = "zstd"
#: Rows per Parquet row group: small enough that a time window skips most of a big file by its
#: ``ts`` statistics (a 100k-row window of 35 columns reads in ~65 ms instead of ~150 ms).
ROW_GROUP_ROWS = 16_384
_FILE = re.compile(
    r"^(?P<time>\d{8}T\d{6}\.\d{3}Z)-(?P<stream>[0-9a-f]{16})-(?P<first>\d{6,})-(?P<last>\d{6,})"
    r"\.parquet$"
)
_DATE_DIR = re.compile(r"^date=(?P<date>\d{4}-\d{2}-\d{2})$")
_TMP_SUFFIX = ".tmp"
#: Temporary files older than this are leftovers of a crashed writer, removed on sight.
STALE_TMP_SECONDS = 3600.0
_DAY_MS = 86_400_000


def date_of(ts_ms: int) -> datetime.date:
    """The UTC day of epoch milliseconds ``ts_ms``."""
    return datetime.date(1970, 1, 1) + datetime.timedelta(days=ts_ms // _DAY_MS)


def file_name(first_ts_ms: int, stream: str, first: int, last: int) -> str:
    """The name of a data file (see the module docstring).

    >>> file_name(1_714_564_800_123, "0123456789abcdef", 3, 3)
    '20240501T120000.123Z-0123456789abcdef-000003-000003.parquet'
    """
    moment = datetime.datetime.fromtimestamp(first_ts_ms / 1000, datetime.UTC)
    stamp = moment.strftime("%Y%m%dT%H%M%S") + f".{first_ts_ms % 1000:03d}Z"
    return f"{stamp}-{stream}-{first:06d}-{last:06d}.parquet"


@dataclass(frozen=True, slots=True)
class DataFile:
    """A data file found by a listing: its path and what its name says."""

    path: str
    stream: str
    first: int
    last: int


def parse_name(path: str) -> DataFile | None:
    """The :class:`DataFile` of ``path``, or None when its name is not a data file's."""
    match = _FILE.match(path.rsplit("/", 1)[-1])
    if match is None:
        return None
    return DataFile(path, match["stream"], int(match["first"]), int(match["last"]))


def visible(files: list[DataFile]) -> list[DataFile]:
    """``files`` without the shadowed ones, in name order (time order).

    Merges only ever join adjacent ranges of one stream, so the ranges of a stream nest or are
    disjoint: sorted by first ascending and last descending, a file is shadowed exactly when it
    lies inside the last file kept.

    >>> names = [DataFile(f"{a}-{b}", "s", a, b) for a, b in [(1, 1), (1, 2), (2, 2), (3, 3)]]
    >>> [f.path for f in visible(names)]
    ['1-2', '3-3']
    """
    kept: list[DataFile] = []
    last_kept: dict[str, DataFile] = {}
    for f in sorted(files, key=lambda f: (f.stream, f.first, -f.last)):
        previous = last_kept.get(f.stream)
        if previous is not None and previous.first <= f.first and f.last <= previous.last:
            continue
        kept.append(f)
        last_kept[f.stream] = f
    return sorted(kept, key=lambda f: f.path.rsplit("/", 1)[-1])


class Root:
    """The log's root directory on its fsspec filesystem; every I/O of the log goes through it.

    Backend ``OSError`` s become :class:`~loopml.core.errors.StoreError` naming the action.
    """

    def __init__(self, fs: Any, root: str) -> None:
        self.fs = fs
        self.root = root.rstrip("/")
        self.uri: str = str(fs.unstrip_protocol(self.root or fs.root_marker))
        self.local = isinstance(fs, LocalFileSystem)

    def __repr__(self) -> str:
        return f"Root({self.uri!r})"

    @contextmanager
    def errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except OSError as exc:
            raise StoreError(
                user_message(
                    f"prediction log {self.uri!r}",
                    f"failed to {action}",
                    verbatim(f"<{type(exc).__name__}: {exc}>"),
                    "check that the location is reachable, writable and not full",
                )
            ) from exc

    # ---- paths ---------------------------------------------------------------------------------

    def deployment_dir(self, deployment: str) -> str:
        return f"{self.root}/{deployment}"

    def partition_dir(self, deployment: str, day: datetime.date, feedback: bool) -> str:
        base = self.deployment_dir(deployment)
        if feedback:
            base = f"{base}/{FEEDBACK_DIR}"
        return f"{base}/date={day.isoformat()}"

    def duckdb_path(self, path: str) -> str:
        """``path`` as DuckDB reads it: as is on local disk, else a URL of the registered fs."""
        return path if self.local else str(self.fs.unstrip_protocol(path))

    # ---- listing -------------------------------------------------------------------------------

    def _names(self, directory: str) -> list[tuple[str, str]]:
        """(name, type) of each entry of ``directory``; empty when it does not exist."""
        with self.errors(f"list {directory!r}"):
            try:
                entries = self.fs.ls(directory, detail=True)
            except FileNotFoundError:
                return []
        out = []
        for entry in entries:
            path = str(entry["name"]).rstrip("/")
            out.append((path.rsplit("/", 1)[-1], str(entry.get("type", "file"))))
        return out

    def deployments(self) -> list[str]:
        """The deployments with a directory under the root, sorted."""
        return sorted(
            name
            for name, kind in self._names(self.root or self.fs.root_marker)
            if kind == "directory" and not name.startswith(".")
        )

    def days(self, deployment: str, feedback: bool) -> list[datetime.date]:
        """The days that have a partition, sorted."""
        base = self.deployment_dir(deployment)
        if feedback:
            base = f"{base}/{FEEDBACK_DIR}"
        days = []
        for name, kind in self._names(base):
            match = _DATE_DIR.match(name)
            if kind == "directory" and match is not None:
                with contextlib.suppress(ValueError):
                    days.append(datetime.date.fromisoformat(match["date"]))
        return sorted(days)

    def files(self, directory: str) -> list[DataFile]:
        """The data files of one partition directory, shadowed ones included."""
        found = []
        for name, kind in self._names(directory):
            parsed = parse_name(f"{directory}/{name}") if kind == "file" else None
            if parsed is not None:
                found.append(parsed)
        return found

    # ---- writing -------------------------------------------------------------------------------

    def write(self, table: pa.Table, directory: str, name: str) -> str:
        """Write ``table`` as ``<directory>/<name>`` atomically: a temporary file, then a rename.

        Returns the final path. On failure the temporary file is removed and the error raised.
        """
        final = f"{directory}/{name}"
        tmp = f"{directory}/.{uuid.uuid4().hex}{_TMP_SUFFIX}"
        moved = False
        try:
            with self.errors(f"write {final!r}"):
                self.fs.makedirs(directory, exist_ok=True)
                with self.fs.open(tmp, "wb") as out:
                    pq.write_table(
                        table,
                        out,
                        compression=_COMPRESSION,
                        row_group_size=ROW_GROUP_ROWS,
                    )
                    if self.local:
                        out.flush()
                        os.fsync(out.fileno())
                self.fs.mv(tmp, final)
                moved = True
        finally:
            if not moved:
                self.remove(tmp)
        return final

    def read(self, path: str) -> pa.Table:
        """The whole table of the data file at ``path``."""
        with self.errors(f"read {path!r}"), self.fs.open(path, "rb") as stream:
            return pq.read_table(stream)

    def remove(self, path: str) -> None:
        """Remove ``path`` if it is there; a failure is logged, never raised."""
        try:
            self.fs.rm_file(path)
        except FileNotFoundError:
            pass
        except OSError:
            logger.warning("prediction log: could not remove %r", path, exc_info=True)

    def remove_stale_tmp(self, directory: str) -> None:
        """Remove temporary files older than :data:`STALE_TMP_SECONDS` (a crashed writer's)."""
        cutoff = time.time() - STALE_TMP_SECONDS
        for name, kind in self._names(directory):
            if kind != "file" or not (name.startswith(".") and name.endswith(_TMP_SUFFIX)):
                continue
            path = f"{directory}/{name}"
            try:
                modified = self.fs.modified(path).timestamp()
            except (OSError, NotImplementedError, AttributeError):
                continue
            if modified < cutoff:
                self.remove(path)


def open_root(url: str | os.PathLike[str] | None) -> Root:
    """The :class:`Root` at ``url``; None means ``$LOOPML_PREDICTIONS_URI`` (default
    ``$LOOPML_HOME/predictions``). Opening does no I/O."""
    if url is None:
        url = load_settings().resolved_predictions_uri()
    if isinstance(url, os.PathLike):
        url = os.fspath(url)
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(
            user_message(
                "prediction log root",
                "must be a non-empty path or fsspec URL",
                url,
                "pass a directory such as './.loopml/predictions' or 's3://bucket/predictions'",
            )
        )
    try:
        fs, root = fsspec.core.url_to_fs(url)
    except (ValueError, TypeError, ImportError) as exc:
        raise InvalidInput(
            user_message(
                f"prediction log root {url!r}",
                "must be a path or a URL fsspec can open",
                verbatim(f"<{type(exc).__name__}: {exc}>"),
                "check the URL's spelling; a URL's protocol may need its package (pip install "
                "s3fs for s3://)",
            )
        ) from exc
    return Root(fs, str(root))
