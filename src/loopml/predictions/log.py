"""The prediction log writer: predictions and feedback to Parquet, asynchronously.

:class:`PredictionLog` is what a server logs through. Rules:

- :meth:`~PredictionLog.log` only appends the batch to an in-memory buffer (a lock held for
  microseconds, never I/O); a background thread converts and writes. When ``max_buffer_rows``
  rows are waiting (storage slower than traffic, or failing), a new batch is *dropped*, counted
  in :meth:`~PredictionLog.stats` and logged as a warning at most every 10 s: serving never
  waits for its log. Feedback is never dropped: :meth:`~PredictionLog.log_feedback` raises
  :class:`~loopml.core.errors.StoreError` instead.
- The writer flushes every ``flush_interval`` seconds (sooner when half the buffer is full, or
  on :meth:`~PredictionLog.flush`): one Parquet file per deployment, model version and UTC day,
  written atomically (a temporary file, then a rename; layout in
  :mod:`loopml.predictions._layout`). **A crash (kill -9, power kept) loses at most the
  predictions logged since the last completed flush: ``flush_interval`` seconds plus the time
  one write takes.** Every file under its final name is whole; a write that fails is retried
  at the next flush with the rows kept (they count against ``max_buffer_rows``).
- Small files are merged as they accumulate, so a reader meets few files of sensible size at
  any traffic: 8 files of the same size class become one, and the open files of a stream
  become one final file once they hold ``file_rows`` rows, or two minutes after their (UTC)
  day is over and written, or on close. Each row is rewritten about log8(file_rows / rows per
  flush) + 1 times. A merge shadows its sources before it deletes them (5 s later, so a reader
  that listed them can still read them): rows are never seen twice nor lost, whatever the
  moment the process dies.
- :meth:`~PredictionLog.close` (also on ``with`` exit and at interpreter exit) flushes
  everything and merges the open files; it raises StoreError when rows could not be written.

File columns: ``request_id, ts, deployment, arm, model_name, model_version, unit_id,
prediction, proba, latency_ms`` then ``f_<feature name>`` per feature (the name verbatim, its
own type); ``ts`` is ``timestamp[ms, UTC]``, ``proba`` the positive class's probability (a
list of class probabilities for more than two classes, null without). Feedback files:
``ts, request_id, unit_id, label, o_<outcome>``. Read them with
:func:`loopml.predictions.read_predictions` and :func:`loopml.predictions.joined`.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
import uuid
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from loopml.core.errors import Conflict, InvalidInput, StoreError, user_message, verbatim
from loopml.core.ids import now_ms
from loopml.predictions._layout import Root, date_of, file_name, open_root
from loopml.predictions._tables import concat, day_slices, feedback_table, prediction_table
from loopml.predictions.records import Feedback, PredictionBatch, validate_deployment

__all__ = ["LogStats", "PredictionLog"]

logger = logging.getLogger(__name__)

#: How many files of one size class are merged into one.
FANOUT = 8
#: Seconds a merged file's sources stay readable before they are deleted.
DELETE_GRACE_SECONDS = 5.0
#: Seconds without a write after which the stream of a past day is sealed.
SEAL_IDLE_SECONDS = 120.0
_WARN_EVERY_SECONDS = 10.0
_DAY_MS = 86_400_000

# (feedback?, deployment, model name, model version): the files of one schema
_Key = tuple[bool, str, str, int | None]


@dataclass(frozen=True, slots=True)
class LogStats:
    """Counters of a :class:`PredictionLog` since it was created."""

    logged_rows: int
    written_rows: int
    dropped_rows: int
    pending_rows: int
    feedback_records: int
    files_written: int
    files_merged: int
    last_error: str | None


@dataclass(slots=True)
class _Part:
    """A file of a stream that may still be merged."""

    path: str
    first: int
    last: int
    level: int
    rows: int
    first_ts: int


@dataclass(slots=True)
class _Stream:
    """The files one log writes for one key and day, numbered by flush."""

    directory: str
    day: int
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    next_seq: int = 0
    tail: list[_Part] = field(default_factory=list)
    written_at: float = field(default_factory=time.monotonic)


def _positive(name: str, value: object, *, integer: bool) -> float:
    kinds = (int,) if integer else (int, float)
    if (
        isinstance(value, bool)
        or not isinstance(value, kinds)
        or not 0 < value < math.inf  # a finite wait: threading refuses infinite timeouts
    ):
        raise InvalidInput(
            user_message(
                f"PredictionLog argument {name!r}",
                f"must be a positive {'integer' if integer else 'number'}",
                value,
            )
        )
    return float(value)


class PredictionLog:
    """The asynchronous Parquet log of predictions and feedback (rules: module docstring).

    ``root`` is a local path or fsspec URL (default ``$LOOPML_PREDICTIONS_URI``, else
    ``$LOOPML_HOME/predictions``). Creating a log does no I/O; the writer thread starts with the
    first record.

    >>> with PredictionLog("memory://loopml-doctest/log", flush_interval=0.1) as log:
    ...     log.log(PredictionBatch(deployment="demo", arm="demo/1", model_name="demo",
    ...         model_version=1, request_ids=["r1"], timestamps_ms=1_700_000_000_000,
    ...         features={"x": [1.5]}, predictions=[0.3], latency_ms=0.4))
    >>> log.stats().written_rows
    1
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        flush_interval: float = 1.0,
        max_buffer_rows: int = 50_000,
        file_rows: int = 100_000,
    ) -> None:
        self.flush_interval = _positive("flush_interval", flush_interval, integer=False)
        self.max_buffer_rows = int(_positive("max_buffer_rows", max_buffer_rows, integer=True))
        self.file_rows = int(_positive("file_rows", file_rows, integer=True))
        self._root: Root = open_root(root)
        self._cond = threading.Condition(threading.Lock())
        # guarded by _cond
        self._batches: list[PredictionBatch] = []
        self._feedback: list[tuple[str, pa.Table]] = []
        self._waiting_rows = 0  # buffered + held by the writer after a failed write
        self._accepted = 0  # log / log_feedback calls accepted
        self._attempted = 0  # calls covered by the last completed write attempt
        self._flush_wanted = 0
        self._error: Exception | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._logged_rows = 0
        self._written_rows = 0
        self._dropped_rows = 0
        self._feedback_records = 0
        self._files_written = 0
        self._files_merged = 0
        self._last_error: str | None = None
        self._last_drop_warning = -_WARN_EVERY_SECONDS
        # writer thread only
        self._streams: dict[tuple[_Key, int], _Stream] = {}
        self._unwritten: list[tuple[_Key, int, pa.Table]] = []
        self._doomed: list[tuple[float, str]] = []

    def __repr__(self) -> str:
        return f"PredictionLog({self._root.uri!r}, flush_interval={self.flush_interval})"

    @property
    def uri(self) -> str:
        """The root of the log as a URL (pass it to the readers' ``root``)."""
        return self._root.uri

    # ---- the caller's side ---------------------------------------------------------------------

    def log(self, batch: PredictionBatch) -> None:
        """Queue ``batch`` for writing; never waits for I/O (dropped when the buffer is full)."""
        if not isinstance(batch, PredictionBatch):
            raise InvalidInput(
                user_message(
                    "PredictionLog.log argument",
                    "must be a PredictionBatch",
                    verbatim(f"<{type(batch).__name__}>"),
                )
            )
        rows = batch.rows
        with self._cond:
            self._check_open()
            if self._waiting_rows + rows > self.max_buffer_rows:
                self._drop(rows)
                return
            self._batches.append(batch)
            self._waiting_rows += rows
            self._logged_rows += rows
            self._accepted += 1
            self._start()
            if self._error is None and self._waiting_rows * 2 >= self.max_buffer_rows:
                self._cond.notify_all()

    def log_feedback(self, deployment: str, records: Iterable[Feedback | Mapping[str, Any]]) -> int:
        """Queue feedback (labels, outcomes) for earlier predictions of ``deployment``.

        Each record is a :class:`~loopml.predictions.records.Feedback` or a mapping of its
        fields; all are checked before any is queued. Returns how many were queued. Raises
        StoreError when the buffer is full (the records are not kept).
        """
        validate_deployment(deployment)
        if isinstance(records, Mapping | Feedback):
            records = [records]
        checked = [Feedback.from_dict(record) for record in records]
        if not checked:
            return 0
        table = feedback_table(checked, now_ms())
        with self._cond:
            self._check_open()
            if self._waiting_rows + len(checked) > self.max_buffer_rows:
                raise StoreError(
                    user_message(
                        f"prediction log {self.uri!r}",
                        f"has {self._waiting_rows} rows waiting to be written, its limit",
                        fix="retry later; check that the log's storage is writable",
                    )
                )
            self._feedback.append((deployment, table))
            self._waiting_rows += len(checked)
            self._feedback_records += len(checked)
            self._accepted += 1
            self._start()
        return len(checked)

    def flush(self) -> None:
        """Write everything logged so far; return once written. Raises StoreError if the
        write failed (the rows are kept and retried)."""
        with self._cond:
            if self._thread is None:
                return
            target = self._accepted
            self._flush_wanted = max(self._flush_wanted, target)
            self._cond.notify_all()
            while self._attempted < target and self._thread.is_alive():
                self._cond.wait(1.0)
            error = self._error
        if error is not None:
            raise StoreError(
                user_message(
                    f"prediction log {self.uri!r}",
                    "could not write its rows (they are kept and retried)",
                    verbatim(f"<{error}>"),
                )
            ) from error

    def close(self) -> None:
        """Flush everything, merge the open files and stop the writer. Idempotent."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            self._cond.notify_all()
        _OPEN.discard(self)
        if thread is not None:
            thread.join()
        with self._cond:
            lost = self._waiting_rows
            error = self._error
        if lost:
            raise StoreError(
                user_message(
                    f"prediction log {self.uri!r}",
                    f"closed with {lost} rows it could not write",
                    verbatim(f"<{error}>") if error is not None else None,
                    "check that the log's storage is reachable and writable",
                )
            )

    def stats(self) -> LogStats:
        """The log's counters now."""
        with self._cond:
            return LogStats(
                logged_rows=self._logged_rows,
                written_rows=self._written_rows,
                dropped_rows=self._dropped_rows,
                pending_rows=self._waiting_rows,
                feedback_records=self._feedback_records,
                files_written=self._files_written,
                files_merged=self._files_merged,
                last_error=self._last_error,
            )

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise Conflict(
                user_message(
                    f"prediction log {self.uri!r}",
                    "is closed",
                    fix="log before close(), or open a new PredictionLog",
                )
            )

    def _drop(self, rows: int) -> None:
        self._dropped_rows += rows
        now = time.monotonic()
        if now - self._last_drop_warning >= _WARN_EVERY_SECONDS:
            self._last_drop_warning = now
            logger.warning(
                "prediction log %s: buffer full (%d rows waiting, max_buffer_rows=%d); "
                "dropped %d rows so far",
                self.uri,
                self._waiting_rows,
                self.max_buffer_rows,
                self._dropped_rows,
            )

    def _start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="loopml-prediction-log", daemon=True
            )
            self._thread.start()
            _OPEN.add(self)

    # ---- the writer thread ---------------------------------------------------------------------

    def _run(self) -> None:
        deadline = time.monotonic() + self.flush_interval
        while True:
            with self._cond:
                while not (
                    self._closed
                    or self._flush_wanted > self._attempted
                    or (self._error is None and self._waiting_rows * 2 >= self.max_buffer_rows)
                ):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                batches, self._batches = self._batches, []
                feedback, self._feedback = self._feedback, []
                upto = self._accepted
                final = self._closed
            deadline = time.monotonic() + self.flush_interval
            try:
                error = self._cycle(batches, feedback, final)
            except Exception as exc:  # the writer must outlive any bug; the error is reported
                logger.exception("prediction log %s: writer cycle failed", self.uri)
                error = exc
            with self._cond:
                self._attempted = upto
                self._error = error
                if error is not None:
                    self._last_error = f"{type(error).__name__}: {error}"
                self._cond.notify_all()
            if final:
                return

    def _cycle(
        self, batches: list[PredictionBatch], feedback: list[tuple[str, pa.Table]], final: bool
    ) -> Exception | None:
        """Convert and write what was taken from the buffer, then merge and clean up."""
        by_key: dict[_Key, list[PredictionBatch]] = {}
        for batch in batches:
            key: _Key = (False, batch.deployment, batch.model_name, batch.model_version)
            by_key.setdefault(key, []).append(batch)
        groups: dict[_Key, list[pa.Table]] = {}
        for key, group in by_key.items():
            for table in self._convert(group):
                if table.num_rows:
                    groups.setdefault(key, []).append(table)
        for deployment, table in feedback:
            groups.setdefault((True, deployment, "", None), []).append(table)
        for key, tables in groups.items():
            for day, part in day_slices(concat(tables)):
                self._unwritten.append((key, day, part))
        error: Exception | None = None
        try:
            self._write_unwritten()
        except StoreError as exc:
            logger.error("prediction log %s: %s", self.uri, exc)
            error = exc
        try:
            self._maintain(final)
        except StoreError as exc:  # the rows are written; only merging or cleaning failed
            logger.warning("prediction log %s: merging files failed: %s", self.uri, exc)
        return error

    def _convert(self, batches: list[PredictionBatch]) -> list[pa.Table]:
        """The batches of one key as tables: all at once, or one by one when that fails so
        that only the batches that cannot be converted are dropped (and counted)."""
        try:
            return [prediction_table(batches)]
        except Exception as exc:
            if len(batches) > 1:
                return [table for batch in batches for table in self._convert([batch])]
            logger.error("prediction log %s: dropped a batch: %s", self.uri, exc)
            with self._cond:
                self._waiting_rows -= batches[0].rows
                self._dropped_rows += batches[0].rows
                self._last_error = f"{type(exc).__name__}: {exc}"
            return []

    def _write_unwritten(self) -> None:
        touched: list[_Stream] = []
        while self._unwritten:
            key, day, table = self._unwritten[0]
            stream = self._stream(key, day)
            self._append(stream, table)
            self._unwritten.pop(0)
            with self._cond:
                self._waiting_rows -= table.num_rows
                self._written_rows += table.num_rows if not key[0] else 0
                self._files_written += 1
            if stream not in touched:
                touched.append(stream)
        for stream in touched:
            try:
                self._compact(stream)
            except StoreError as exc:
                logger.warning("prediction log %s: merging files failed: %s", self.uri, exc)

    def _stream(self, key: _Key, day: int) -> _Stream:
        stream = self._streams.get((key, day))
        if stream is None:
            feedback, deployment, _, _ = key
            directory = self._root.partition_dir(deployment, date_of(day * _DAY_MS), feedback)
            self._root.remove_stale_tmp(directory)
            stream = self._streams[(key, day)] = _Stream(directory, day)
        return stream

    def _append(self, stream: _Stream, table: pa.Table) -> None:
        seq = stream.next_seq
        first_ts = int(pc.min(table.column("ts")).cast(pa.int64()).as_py())
        path = self._root.write(table, stream.directory, file_name(first_ts, stream.id, seq, seq))
        stream.next_seq += 1
        stream.written_at = time.monotonic()
        stream.tail.append(_Part(path, seq, seq, 0, table.num_rows, first_ts))

    def _compact(self, stream: _Stream) -> None:
        """Merge the stream's open files by the rules of the module docstring."""
        tail = stream.tail
        if sum(p.rows for p in tail) >= self.file_rows:
            if len(tail) > 1:
                self._merge(stream, tail, tail[-1].level + 1)
            stream.tail = []
            return
        while len(tail) >= FANOUT and len({p.level for p in tail[-FANOUT:]}) == 1:
            merged = self._merge(stream, tail[-FANOUT:], tail[-1].level + 1)
            tail[-FANOUT:] = [merged]

    def _seal(self, stream: _Stream) -> None:
        if len(stream.tail) > 1:
            self._merge(stream, stream.tail, stream.tail[-1].level + 1)
        stream.tail = []

    def _merge(self, stream: _Stream, parts: list[_Part], level: int) -> _Part:
        table = concat(self._root.read(p.path) for p in parts)
        first_ts = min(p.first_ts for p in parts)
        first, last = parts[0].first, parts[-1].last
        path = self._root.write(
            table, stream.directory, file_name(first_ts, stream.id, first, last)
        )
        delete_at = time.monotonic() + DELETE_GRACE_SECONDS
        self._doomed.extend((delete_at, p.path) for p in parts)
        with self._cond:
            self._files_merged += len(parts)
        return _Part(path, first, last, level, table.num_rows, first_ts)

    def _maintain(self, final: bool) -> None:
        """Seal the idle streams of past days (all on close); delete merged sources due."""
        today = now_ms() // _DAY_MS
        idle_since = time.monotonic() - SEAL_IDLE_SECONDS
        for stream_key, stream in list(self._streams.items()):
            if final or (stream.day < today and stream.written_at < idle_since):
                self._seal(stream)
                del self._streams[stream_key]
        now = time.monotonic()
        due = [path for at, path in self._doomed if final or at <= now]
        self._doomed = [(at, path) for at, path in self._doomed if not (final or at <= now)]
        for path in due:
            self._root.remove(path)


_OPEN: weakref.WeakSet[PredictionLog] = weakref.WeakSet()


@atexit.register
def _close_open_logs() -> None:
    """Flush the logs a program forgot to close (the writer is a daemon thread)."""
    for log in list(_OPEN):
        try:
            log.close()
        except Exception:
            logger.exception("prediction log %s: closing at exit failed", log.uri)
