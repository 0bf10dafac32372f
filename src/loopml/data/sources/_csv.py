"""CSV and TSV files (``.csv``, ``.tsv``, either gzipped), read with pyarrow's streaming reader.

The options are the fields of pyarrow's ``csv.ReadOptions``, ``ParseOptions`` and
``ConvertOptions`` (``delimiter``, ``column_types``, ``null_values``, ``block_size``, ...).
Quoted fields may hold line breaks (``newlines_in_values=True``), and an empty field is null in
text columns too, as pandas reads it (``strings_can_be_null=True``), unless the caller says
otherwise. Rows are read in file order on one thread, which pyarrow needs to number rows.

Types: pyarrow fixes each column's type from the first block (``block_size`` bytes, 1 MiB by
default). A later value that does not fit raises :class:`~loopml.core.errors.InvalidInput`
naming the column, the row and the value; declare the type with ``column_types``.

A bad line (see ``_lines`` for the policies) is a row whose number of fields differs from the
header's. Its quarantine file is a CSV file with the input's delimiter and encoding whose header
is ``__line__``, ``__reason__`` and the input's columns, and whose rows are each bad line's
number and reason followed by the line's text as it was: correct the text, read the file back
with :func:`read_csv` and drop the two leading columns.

Line numbers are pyarrow's row numbers: the header and rows skipped with ``skip_rows`` count,
blank lines do not, and a record whose quoted field holds line breaks counts once; so they equal
the line an editor shows unless a blank line or a multi-line record comes before, and
:attr:`BadLine.text` shows the row itself either way.

A value that does not convert to its column's type (``"abc"`` in an ``int64`` column) is not a
bad line: pyarrow converts a block of rows column by column, not row by row, so a row cannot be
taken out. It raises InvalidInput under every policy, naming the column, the row and the value,
with the fix (declare the column as ``pa.string()`` in ``column_types`` and clean it, or correct
the value).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.data.sources._base import BadLine, _Batches
from loopml.data.sources._lines import _BadLineLog, _LineSource

_CSV_OPTION_CLASSES = (pacsv.ReadOptions, pacsv.ParseOptions, pacsv.ConvertOptions)
#: Options loopml sets itself: one thread (pyarrow numbers rows only then) and its row handler.
_CSV_RESERVED = frozenset({"use_threads", "invalid_row_handler"})

_CONVERSION_ERROR = re.compile(
    r"In CSV column #(?P<column>\d+): (?:Row #(?P<row>\d+): )?"
    r"CSV conversion error to (?P<type>[^:]+): invalid value '(?P<value>.*)'",
    re.DOTALL,
)


def _csv_option_names(cls: type) -> frozenset[str]:
    instance = cls()
    return frozenset(
        name
        for name in dir(instance)
        if not name.startswith("_") and not callable(getattr(instance, name))
    )


#: The options a CSV source takes: those of ReadOptions, ParseOptions, ConvertOptions.
_CSV_OPTIONS = tuple(_csv_option_names(cls) - _CSV_RESERVED for cls in _CSV_OPTION_CLASSES)


class _CsvSource(_LineSource):
    _what = "CSV file"
    _rule = "must have as many fields as the header"

    def __init__(self, *, delimiter: str | None = None, **kwargs: Any) -> None:
        super().__init__(kind="csv", **kwargs)
        read, parse, convert = (
            {k: v for k, v in self.options.items() if k in n} for n in _CSV_OPTIONS
        )
        parse.setdefault("newlines_in_values", True)
        convert.setdefault("strings_can_be_null", True)
        if delimiter is not None:
            parse.setdefault("delimiter", delimiter)
        self._read_kw, self._parse_kw, self._convert_kw = read, parse, convert
        self._open_options(lambda row: "skip")  # reject bad option values now

    def _open_options(
        self, handler: Callable[[Any], str], *, convert: bool = True
    ) -> tuple[Any, Any, Any]:
        try:
            return (
                pacsv.ReadOptions(use_threads=False, **self._read_kw),
                pacsv.ParseOptions(invalid_row_handler=handler, **self._parse_kw),
                pacsv.ConvertOptions(**(self._convert_kw if convert else {})),
            )
        except (TypeError, ValueError, pa.ArrowInvalid) as exc:
            raise InvalidInput(
                user_message(
                    f"CSV options {sorted(self.options)}",
                    "must be valid pyarrow csv ReadOptions, ParseOptions or ConvertOptions",
                    verbatim(f"<{exc}>"),
                )
            ) from exc

    def _open(self, handler: Callable[[Any], str], *, convert: bool = True) -> Any:
        read, parse, conv = self._open_options(handler, convert=convert)
        return pacsv.open_csv(
            str(self.path), read_options=read, parse_options=parse, convert_options=conv
        )

    def _file_header(self) -> list[str]:
        """The file's column names (all of them, whatever ``include_columns`` says)."""
        try:
            reader = self._open(lambda row: "skip", convert=False)
        except (OSError, pa.ArrowInvalid):
            return []
        names: list[str] = reader.schema.names
        reader.close()
        return names

    def _writer_line(self, fields: list[str]) -> str:
        buffer = io.StringIO()
        csv.writer(
            buffer,
            delimiter=self._parse_kw.get("delimiter", ","),
            quotechar=self._parse_kw.get("quote_char", '"') or '"',
            lineterminator="",
        ).writerow(fields)
        return buffer.getvalue()

    def _quarantine_header(self) -> str:
        return self._writer_line(["__line__", "__reason__", *self._file_header()]) + "\n"

    def _quarantine_line(self, line: BadLine) -> str:
        number = "" if line.line_number is None else str(line.line_number)
        prefix = self._writer_line([number, line.reason])
        return f"{prefix}{self._parse_kw.get('delimiter', ',')}{line.text}\n"

    def _error(self, exc: pa.ArrowInvalid, pending: list[BadLine]) -> Exception:
        if pending and self.policy == "fail":
            return self._bad_line_error(pending[0])
        message = str(exc)
        match = _CONVERSION_ERROR.search(message)
        if match is None:
            return InvalidInput(
                user_message(
                    self._label,
                    "must be a CSV file pyarrow can read",
                    verbatim(f"<{message}>"),
                    "check the delimiter, quoting and encoding options",
                )
            )
        index = int(match["column"])
        header = self._file_header()
        column = repr(header[index]) if index < len(header) else f"#{index}"
        where = f" line {match['row']}" if match["row"] else ""
        type_name, value = match["type"], match["value"]
        if type_name == "null":
            rule = (
                "was empty in the first block of rows, so it was typed null, and cannot hold "
                "a value"
            )
            fix = (
                f"declare its type, e.g. column_types={{{column}: pa.string()}}, or pass a "
                "larger block_size"
            )
        else:
            rule = f"must hold {type_name} values"
            fix = (
                f"correct the value, or read the column as text (column_types={{{column}: "
                "pa.string()}) and clean it"
            )
        return InvalidInput(user_message(f"{self._label}{where} column {column}", rule, value, fix))

    def _read(self, log: _BadLineLog) -> _Batches:
        pending: list[BadLine] = []

        def handler(row: Any) -> str:
            reason = f"expected {row.expected_columns} fields, got {row.actual_columns}"
            pending.append(BadLine(row.number, row.text, reason))
            return "error" if log._record and self.policy == "fail" else "skip"

        def flush() -> None:
            found = pending[:]
            pending.clear()
            log.add(found)

        try:
            reader = self._open(handler)
        except pa.ArrowInvalid as exc:
            raise self._error(exc, pending) from exc
        except OSError as exc:
            raise self._file_error(exc) from exc
        with reader:
            try:
                flush()
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        break
                    flush()
                    yield batch
                flush()
            except pa.ArrowInvalid as exc:
                raise self._error(exc, pending) from exc
            except OSError as exc:
                raise self._file_error(exc) from exc
            yield pa.RecordBatch.from_pylist([], schema=reader.schema)

    def _schema(self) -> pa.Schema:
        try:
            reader = self._open(lambda row: "skip")
        except pa.ArrowInvalid as exc:
            raise self._error(exc, []) from exc
        except OSError as exc:
            raise self._file_error(exc) from exc
        schema = reader.schema
        reader.close()
        return schema
