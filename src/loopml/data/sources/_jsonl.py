"""JSON lines files (``.jsonl``, ``.ndjson``, ``.json``, either gzipped): one JSON object a line.

The file is read in chunks of ``batch_rows`` lines (at most 32 MiB each), each parsed by
pyarrow's JSON reader; options ``schema`` (a ``pyarrow.Schema`` to read every line with) and
``unexpected_field_behavior`` (``"error"``, the default, or ``"ignore"``). As pyarrow does,
ISO 8601 strings become timestamps, those with an offset or ``Z`` converted to UTC and kept
without a zone.

Types: those of the first chunks, as ``_schema`` settles them. A JSON field absent from the
chunks that fixed the schema raises :class:`~loopml.core.errors.InvalidInput` naming it (unless
``unexpected_field_behavior="ignore"``, which leaves such fields out). A JSON value whose type
differs from the field's earlier values is not a bad line: it raises InvalidInput under every
policy, naming the line (or the lines of its chunk) and pyarrow's message, with the fix (one JSON
type per field, or ``schema=``).

A bad line (see ``_lines`` for the policies) is a non-blank line that is not valid JSON or not a
JSON object (``NaN`` and ``Infinity``, which Python's ``json`` writes, are read as floats, as
pyarrow reads them). Its quarantine file holds one object per bad line:
``{"line_number": ..., "reason": ..., "text": ...}``. Line numbers are the file's physical lines.
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterator
from typing import IO, Any, cast

import pyarrow as pa
import pyarrow.json as pajson

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.data.sources._base import BadLine, _Batches
from loopml.data.sources._lines import _BadLineLog, _LineSource
from loopml.data.sources._schema import _stable_tables, _untyped_error

#: The options a JSON lines source takes.
_JSONL_OPTIONS = frozenset({"schema", "unexpected_field_behavior"})
#: A JSON lines chunk ends at ``batch_rows`` lines or at this many bytes, whichever comes first.
_JSON_CHUNK_BYTES = 32 << 20

_JSON_ROW = re.compile(r" in row (\d+)")
_JSON_FROM_NULL = re.compile(r"Column\(/([^)/]*)\) changed from null to (\w+)")

_Chunk = list[tuple[int, bytes]]


def _looks_like_object(line: bytes) -> bool:
    return line.startswith(b"{") and line.endswith(b"}")


def _json_problem(line: bytes) -> str | None:
    """Why ``line`` is not one JSON object, or None (NaN and Infinity pass, as in pyarrow)."""
    try:
        value = json.loads(line)
    except UnicodeDecodeError:
        return "not valid UTF-8"
    except ValueError as exc:
        return f"not valid JSON: {exc}"
    return None if isinstance(value, dict) else f"not a JSON object but a {type(value).__name__}"


class _JsonLinesSource(_LineSource):
    _what = "JSON lines file"
    _rule = "must be one JSON object"
    _fix_more = " (a JSON document such as an array is not JSON lines: convert it first)"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(kind="jsonl", **kwargs)
        fixed = self.options.get("schema")
        if fixed is not None and not isinstance(fixed, pa.Schema):
            raise InvalidInput(
                user_message("option 'schema'", "must be a pyarrow.Schema", type(fixed).__name__)
            )
        self._fixed: pa.Schema | None = fixed
        self._unexpected = self.options.get("unexpected_field_behavior", "error")
        if self._unexpected not in ("error", "ignore"):
            raise InvalidInput(
                user_message(
                    "option 'unexpected_field_behavior'",
                    "must be 'error' or 'ignore'",
                    self._unexpected,
                )
            )

    def _quarantine_header(self) -> str:
        return ""

    def _quarantine_line(self, line: BadLine) -> str:
        record = {"line_number": line.line_number, "reason": line.reason, "text": line.text}
        return json.dumps(record, ensure_ascii=False) + "\n"

    def _open_file(self) -> IO[bytes]:
        if self.path.name.endswith(".gz"):
            return cast(IO[bytes], gzip.open(self.path, "rb"))
        return self.path.open("rb")

    def _chunks(self) -> Iterator[_Chunk]:
        """Non-blank lines with their numbers, ``batch_rows`` (or 32 MiB) at a time."""
        chunk: _Chunk = []
        size = 0
        with self._open_file() as file:
            for number, raw in enumerate(file, start=1):
                line = raw.strip()
                if not line:
                    continue
                chunk.append((number, line))
                size += len(line)
                if len(chunk) >= self.batch_rows or size >= _JSON_CHUNK_BYTES:
                    yield chunk
                    chunk, size = [], 0
        if chunk:
            yield chunk

    def _parse(self, lines: _Chunk, schema: pa.Schema | None) -> pa.Table:
        data = b"\n".join(line for _, line in lines)
        parse = (
            pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior=self._unexpected)
            if schema is not None
            else pajson.ParseOptions()
        )
        read = pajson.ReadOptions(use_threads=False, block_size=max(len(data) + 1, 1 << 20))
        return pajson.read_json(io.BytesIO(data), read_options=read, parse_options=parse)

    def _type_error(
        self, exc: pa.ArrowInvalid, lines: _Chunk, schema: pa.Schema | None
    ) -> InvalidInput:
        message = str(exc)
        if schema is not None and "unexpected field" in message:
            for number, line in lines:
                extra = sorted(set(json.loads(line)) - set(schema.names))
                if extra:
                    return InvalidInput(
                        user_message(
                            f"{self._label} line {number}",
                            "must have only the fields of the first lines (or of schema=)",
                            verbatim(f"the new field(s) {extra}"),
                            "pass schema= listing every field, or "
                            "unexpected_field_behavior='ignore' to leave such fields out",
                        )
                    )
        untyped = _JSON_FROM_NULL.search(message)
        if schema is not None and untyped is not None and untyped[1] in schema.names:
            return _untyped_error(self._label, untyped[1], untyped[2])
        match = _JSON_ROW.search(message)
        if match is not None and int(match[1]) < len(lines):
            where = f"line {lines[int(match[1])][0]}"
        elif len(lines) == 1:
            where = f"line {lines[0][0]}"
        else:
            where = f"lines {lines[0][0]}-{lines[-1][0]}"
        rule = (
            "must give each field values of one type (the type of its first values)"
            if "changed from" in message or "convert" in message
            else "must hold values pyarrow can read"
        )
        return InvalidInput(
            user_message(
                f"{self._label} {where}",
                rule,
                verbatim(f"<{message}>"),
                "make the field's values one JSON type, or pass schema= with the Arrow type "
                "they convert to (e.g. pa.float64() for integers and decimals)",
            )
        )

    def _table(self, lines: _Chunk, schema: pa.Schema | None, log: _BadLineLog) -> pa.Table | None:
        if all(_looks_like_object(line) for _, line in lines):
            try:
                table = self._parse(lines, schema)
            except pa.ArrowInvalid:
                table = None
            # pyarrow's parser does not stop at line ends: one row per line is checked here
            if table is not None and table.num_rows == len(lines):
                return table
        # Something is wrong: find the bad lines one by one.
        good: _Chunk = []
        bad: list[BadLine] = []
        for number, line in lines:
            problem = _json_problem(line)
            if problem is None:
                good.append((number, line))
            else:
                bad.append(BadLine(number, line.decode("utf-8", "replace"), problem))
        log.add(bad)
        if not good:
            return None
        try:
            return self._parse(good, schema)
        except pa.ArrowInvalid as exc:
            raise self._type_error(exc, good, schema) from exc

    def _read(self, log: _BadLineLog) -> _Batches:
        try:
            tables = _stable_tables(
                self._chunks(),
                lambda lines, schema: self._table(lines, schema, log),
                self._label,
                self._fixed,
            )
            empty = True
            for table in tables:
                empty = False
                yield from table.to_batches()
        except OSError as exc:
            raise self._file_error(exc) from exc
        if empty:
            yield pa.RecordBatch.from_pylist([], schema=self._fixed or pa.schema([]))
