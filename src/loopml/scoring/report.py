"""What a scoring job tells its caller: :class:`ScoreProgress` after each chunk, and the
:class:`ScoreReport` at the end."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = ["ScoreProgress", "ScoreReport"]


def _frozen(counts: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(sorted(counts.items())))


@dataclass(frozen=True, slots=True)
class ScoreProgress:
    """How far a scoring job is, after a chunk was written.

    ``total_rows`` is the number of rows of the input when it is known without reading it (a
    Parquet file or directory read without a filter, a DataFrame or Table), else None.
    """

    chunks: int
    rows_read: int
    rows_scored: int
    rows_rejected: int
    total_rows: int | None
    seconds: float


@dataclass(frozen=True, slots=True)
class ScoreReport:
    """The outcome of :func:`~loopml.scoring.score`.

    ``rows_read`` = ``rows_scored`` + ``rows_rejected``. ``rejected_by`` counts the rejected
    rows per ``kind:column`` (``wrong_type:month``); a row with two problems counts under both.
    ``warnings`` counts, per ``kind:column``, the rows with a problem that is only a warning
    (values outside a category domain under ``category_policy="warn"``); they were scored.
    ``columns`` are the output file's columns: the id columns, then the model's outputs.
    """

    model_uri: str
    model_version: int | None
    source: Mapping[str, Any]
    output: str
    rejected_path: str
    columns: tuple[str, ...]
    rows_read: int
    rows_scored: int
    rows_rejected: int
    chunks: int
    seconds: float
    executor: str
    rejected_by: Mapping[str, int] = field(default_factory=dict)
    warnings: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "rejected_by", _frozen(self.rejected_by))
        object.__setattr__(self, "warnings", _frozen(self.warnings))

    @property
    def rows_per_second(self) -> float:
        """Rows read per second of wall time (0 when nothing was read)."""
        return self.rows_read / self.seconds if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (JSON safe)."""
        return {
            "model_uri": self.model_uri,
            "model_version": self.model_version,
            "source": dict(self.source),
            "output": self.output,
            "rejected_path": self.rejected_path,
            "columns": list(self.columns),
            "rows_read": self.rows_read,
            "rows_scored": self.rows_scored,
            "rows_rejected": self.rows_rejected,
            "chunks": self.chunks,
            "seconds": self.seconds,
            "rows_per_second": self.rows_per_second,
            "executor": self.executor,
            "rejected_by": dict(self.rejected_by),
            "warnings": dict(self.warnings),
        }
