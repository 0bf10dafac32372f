"""Which format a file is: named by ``format=``, else by its suffix.

A directory is Parquet (a directory of Parquet files). Otherwise the suffix decides (``.csv``,
``.tsv``, ``.parquet``, ``.pq``, ``.jsonl``, ``.ndjson``, ``.json``, ``.duckdb``), after a
``.gz`` that only csv, tsv and jsonl files may have; an unknown suffix raises
:class:`~loopml.core.errors.InvalidInput` listing the accepted ones.
"""

from __future__ import annotations

from pathlib import Path

from loopml.core.errors import InvalidInput, user_message, verbatim

#: The values ``format=`` accepts (``ndjson`` and ``json`` also name ``jsonl``, ``pq`` parquet).
FORMATS = ("csv", "tsv", "parquet", "jsonl", "sql", "duckdb")
_FORMAT_ALIASES = {"ndjson": "jsonl", "json": "jsonl", "pq": "parquet"}
_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".duckdb": "duckdb",
}
_GZIP_FORMATS = ("csv", "tsv", "jsonl")
_SUPPORTED = (
    ".csv, .tsv, .jsonl, .ndjson, .json (each also .gz), .parquet, .pq, a directory of Parquet "
    "files, a .duckdb database; a SQLAlchemy URL with query=; duckdb: with query="
)


def _file_format(path: Path, format: str | None) -> str:
    if format is not None:
        return format
    if path.is_dir():
        return "parquet"
    name = path.name.lower()
    compressed = name.endswith(".gz")
    suffix = Path(name[:-3] if compressed else name).suffix
    found = _SUFFIXES.get(suffix)
    if found is None or (compressed and found not in _GZIP_FORMATS):
        raise InvalidInput(
            user_message(
                f"file {str(path)!r}",
                f"must have a known suffix: {_SUPPORTED}",
                verbatim(repr(path.name)),
                f"name the format with format=, one of {', '.join(FORMATS)}",
            )
        )
    return found
