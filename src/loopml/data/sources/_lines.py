"""Files of lines (CSV, JSON lines), read under a bad-line policy.

What a bad line is depends on the format (see ``_csv`` and ``_jsonl``); the policy has no effect
on other kinds of source. Blank lines are not data and are skipped in both. Nothing is dropped
silently:

- ``"fail"`` (the default): :class:`~loopml.core.errors.InvalidInput` naming the file, the line
  number, the rule broken and the line's text (its first 200 characters).
- ``"skip"``: the line is left out and recorded in :attr:`DataSource.bad_lines`; each read logs
  one warning (on the ``loopml.data.sources`` logger) with the count and the first line numbers.
- ``"quarantine"``: as ``"skip"``, and the line is written to ``quarantine_path``, by default
  ``<name>.quarantine.<ext>`` beside the input (``flights.csv`` -> ``flights.quarantine.csv``,
  ``flights.csv.gz`` -> ``flights.quarantine.csv``). The side file belongs to the latest read:
  a read removes the one it finds and creates it at its first bad line, so it exists exactly
  when that read found bad lines. Its layout is the format's (see ``_csv`` and ``_jsonl``).

Line numbers are 1-based (what they count is the format's). Reading the schema alone peeks at
the start of the file: the bad lines it passes are skipped without being recorded.
"""

from __future__ import annotations

import abc
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from loopml.core.errors import InvalidInput, NotFound, StoreError, user_message, verbatim
from loopml.data.sources._base import BadLine, DataSource, _Batches
from loopml.data.sources._formats import _SUFFIXES

# The package's logger, as callers configure it, whichever module of it writes.
_log = logging.getLogger("loopml.data.sources")

#: How much of a line's text an error message shows.
_TEXT_SHOWN = 200
#: How many line numbers the warning of a read lists.
_LINES_SHOWN = 5


def _shorten(text: str) -> str:
    return text if len(text) <= _TEXT_SHOWN else text[:_TEXT_SHOWN] + "..."


class _Quarantine:
    """The side file of one read, created at its first bad line."""

    def __init__(
        self,
        path: Path,
        header: Callable[[], str],
        line: Callable[[BadLine], str],
        encoding: str,
    ) -> None:
        self.path = path
        self._encoding = encoding
        self._header = header
        self._line = line
        self._file: IO[str] | None = None

    def write(self, lines: list[BadLine]) -> None:
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("w", encoding=self._encoding, newline="")
                self._file.write(self._header())
            self._file.writelines(self._line(line) for line in lines)
        except OSError as exc:
            raise StoreError(
                user_message(
                    f"quarantine file {str(self.path)!r}",
                    "could not be written",
                    verbatim(f"<{exc}>"),
                    "pass a writable quarantine_path",
                )
            ) from exc

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _BadLineLog:
    """What one read does with the bad lines it finds: raise, record, quarantine, warn once."""

    def __init__(self, source: _LineSource, *, record: bool) -> None:
        self._source = source
        self._record = record
        self._count = 0
        self._first: list[int | None] = []
        self._quarantine: _Quarantine | None = None
        if record:
            source.bad_lines = []
            if source.policy == "quarantine":
                path = source.quarantine_path
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    raise StoreError(
                        user_message(
                            f"quarantine file {str(path)!r}",
                            "could not be replaced",
                            verbatim(f"<{exc}>"),
                        )
                    ) from exc
                self._quarantine = _Quarantine(
                    path, source._quarantine_header, source._quarantine_line, source._encoding
                )

    def add(self, lines: list[BadLine]) -> None:
        if not lines or not self._record:
            return
        if self._source.policy == "fail":
            raise self._source._bad_line_error(lines[0])
        self._source.bad_lines.extend(lines)
        self._count += len(lines)
        self._first.extend(line.line_number for line in lines[: _LINES_SHOWN - len(self._first)])
        if self._quarantine is not None:
            self._quarantine.write(lines)

    def close(self) -> None:
        if self._quarantine is not None:
            self._quarantine.close()
        if not self._count:
            return
        shown = ", ".join(str(n) for n in self._first) + (
            ", ..." if self._count > len(self._first) else ""
        )
        source = self._source
        where = (
            f"; written to {str(source.quarantine_path)!r}" if source.policy == "quarantine" else ""
        )
        _log.warning(
            "%s: skipped %d bad line(s) (line %s)%s; see DataSource.bad_lines",
            source._label,
            self._count,
            shown,
            where,
        )


def _default_quarantine(path: Path, kind: str) -> Path:
    """``<name>.quarantine.<ext>`` beside ``path`` (without ``.gz``)."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    stem, dot, ext = name.rpartition(".")
    if dot and "." + ext in _SUFFIXES:
        return path.with_name(f"{stem}.quarantine.{ext}")
    return path.with_name(f"{name}.quarantine.{kind}")


class _LineSource(DataSource):
    """A file of lines (CSV, JSON lines), read under a bad-line policy."""

    _what = "file"
    _rule = "must be a row"
    _fix_more = ""

    def __init__(
        self,
        *,
        kind: str,
        path: Path,
        policy: str,
        quarantine_path: Path | None,
        batch_rows: int,
        options: Mapping[str, Any],
    ) -> None:
        super().__init__(kind=kind, uri=str(path), batch_rows=batch_rows, options=options)
        self.path = path
        self.policy = policy
        self.quarantine_path = quarantine_path or _default_quarantine(path, kind)
        if policy == "quarantine" and self.quarantine_path.absolute() == path.absolute():
            raise InvalidInput(
                user_message(
                    "quarantine_path",
                    "must differ from the file being read",
                    str(self.quarantine_path),
                )
            )

    @property
    def _label(self) -> str:
        return f"{self._what} {self.uri!r}"

    @property
    def _encoding(self) -> str:
        """The text encoding of the file (and of its quarantine file)."""
        return str(self.options.get("encoding", "utf-8"))

    def _described_options(self) -> dict[str, Any]:
        described = {**self.options, "bad_lines": self.policy}
        if self.policy == "quarantine":
            described["quarantine_path"] = str(self.quarantine_path)
        return described

    def _bad_line_error(self, line: BadLine) -> InvalidInput:
        return InvalidInput(
            user_message(
                f"{self._label} line {line.line_number}",
                self._rule,
                verbatim(f"{_shorten(line.text)!r} ({line.reason})"),
                "correct or remove the line, or pass bad_lines='skip' or 'quarantine'"
                + self._fix_more,
            )
        )

    def _file_error(self, exc: OSError) -> Exception:
        if isinstance(exc, FileNotFoundError):
            return NotFound(user_message(self._label, "does not exist", fix="check the path"))
        return StoreError(user_message(self._label, "could not be read", verbatim(f"<{exc}>")))

    @abc.abstractmethod
    def _read(self, log: _BadLineLog) -> _Batches: ...

    @abc.abstractmethod
    def _quarantine_header(self) -> str: ...

    @abc.abstractmethod
    def _quarantine_line(self, line: BadLine) -> str: ...

    def _batches(self) -> _Batches:
        log = _BadLineLog(self, record=True)
        try:
            yield from self._read(log)
        finally:
            log.close()

    def _schema(self) -> pa.Schema:
        # A peek: bad lines are skipped without being recorded (the reads record them).
        reader = self._read(_BadLineLog(self, record=False))
        try:
            return next(reader).schema
        finally:
            reader.close()
