"""What every data source is: a :class:`DataSource`, read as Arrow record batches.

Batches: :meth:`~DataSource.iter_batches` yields batches of ``batch_rows`` rows, the last one
shorter (whatever the reader's own blocks were); a source with no rows yields one empty batch
carrying its schema. Every batch of one read has the same schema. Each call reads the source
again (a file is re-opened, a query re-run).

A kind of source implements ``_batches`` (one read: batches of any size, at least one) and may
override ``_schema`` (by default the schema of the first batch of a read) and
``_described_options`` (what :meth:`~DataSource.describe` records of its options, which are
recorded as plain JSON: anything else, such as a pyarrow type or expression, as its str).

:class:`BadLine` and :data:`BadLinePolicy` are the public face of the bad-line policies of
files of lines (see ``_lines``).
"""

from __future__ import annotations

import abc
from collections.abc import Generator, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, get_args

import pandas as pd
import pyarrow as pa

BadLinePolicy = Literal["fail", "skip", "quarantine"]
_POLICIES: tuple[str, ...] = get_args(BadLinePolicy)

#: One read of a source: a generator, so that a reader stopped early closes its file.
_Batches = Generator[pa.RecordBatch, None, None]


@dataclass(frozen=True, slots=True)
class BadLine:
    """A line of a CSV or JSON lines file that is not a row of the table.

    ``line_number`` is 1-based (for CSV, pyarrow's row number: see ``_csv``), or ``None`` when
    the reader could not tell it; ``reason`` says what is wrong with it.
    """

    line_number: int | None
    text: str
    reason: str


def _joined(pieces: list[pa.RecordBatch]) -> pa.RecordBatch:
    """One batch of ``pieces`` (copied only when there are several)."""
    if len(pieces) == 1:
        return pieces[0]
    return pa.Table.from_batches(pieces).combine_chunks().to_batches()[0]


def _json_safe(value: Any) -> Any:
    """``value`` as plain JSON data; anything else (a pyarrow type or expression) as its str."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(key): _json_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(item) for item in value]
    return str(value)


class DataSource(abc.ABC):
    """Tabular data loopml can read as Arrow record batches (built by :func:`open_source`).

    ``kind`` is one of ``csv``, ``parquet``, ``jsonl``, ``sql``, ``duckdb``, ``pandas``,
    ``arrow``; ``uri`` is the path, the URL with its password masked, or ``<DataFrame>`` /
    ``<Table>``; ``query`` the SQL of ``sql`` and ``duckdb`` sources. ``bad_lines`` lists the bad
    lines the latest read of a CSV or JSON lines source skipped (always empty otherwise).
    """

    def __init__(
        self,
        *,
        kind: str,
        uri: str,
        batch_rows: int,
        query: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        self.kind = kind
        self.uri = uri
        self.query = query
        self.batch_rows = batch_rows
        self.options: dict[str, Any] = dict(options or {})
        self.bad_lines: list[BadLine] = []

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, uri={self.uri!r})"

    @abc.abstractmethod
    def _batches(self) -> _Batches:
        """One read: record batches of any size, at least one (an empty one when no rows)."""

    def _schema(self) -> pa.Schema:
        """The schema, by default that of the first batch of a read."""
        reader = self._batches()
        try:
            return next(reader).schema
        finally:
            reader.close()

    def iter_batches(self) -> Iterator[pa.RecordBatch]:
        """Read the source: batches of ``batch_rows`` rows (the last one may be shorter), all of
        one schema; one empty batch with the schema when there are no rows. Each call reads the
        source again."""
        schema = pa.schema([])
        sent = False
        pieces: list[pa.RecordBatch] = []
        held = 0
        for batch in self._batches():
            schema = batch.schema
            while batch.num_rows:
                piece = batch.slice(0, self.batch_rows - held)
                batch = batch.slice(piece.num_rows)
                pieces.append(piece)
                held += piece.num_rows
                if held == self.batch_rows:
                    sent = True
                    yield _joined(pieces)
                    pieces, held = [], 0
        if pieces or not sent:
            yield _joined(pieces) if pieces else pa.RecordBatch.from_pylist([], schema=schema)

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of the batches (may read the start of the source, or run its query)."""
        return self._schema()

    def read_arrow(self) -> pa.Table:
        """The whole source as one Arrow table (in memory)."""
        return pa.Table.from_batches(list(self.iter_batches()))

    def to_pandas(self) -> pd.DataFrame:
        """The whole source as a pandas DataFrame (in memory)."""
        frame: pd.DataFrame = self.read_arrow().to_pandas()
        return frame

    def _described_options(self) -> dict[str, Any]:
        return dict(self.options)

    def describe(self) -> dict[str, Any]:
        """What lineage records of this source: ``kind``, ``uri``, ``query``, ``options`` (JSON).

        >>> import pandas as pd
        >>> from loopml.data.sources import open_source
        >>> open_source(pd.DataFrame({"a": [1]})).describe()
        {'kind': 'pandas', 'uri': '<DataFrame>', 'query': None, 'options': {}}
        """
        return {
            "kind": self.kind,
            "uri": self.uri,
            "query": self.query,
            "options": _json_safe(self._described_options()),
        }
