"""``score``: a model over a whole dataset, chunk by chunk, into Parquet.

The rules are those of the package docstring (:mod:`loopml.scoring`); this module holds the
driver: it checks the arguments, loads the model, opens the input, plans the chunks, runs them
here or on Dask, writes the two files and reports.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pads

from loopml.core.errors import Conflict, InvalidInput, did_you_mean, user_message, verbatim
from loopml.core.model_uri import parse_model_uri
from loopml.data.sources import DataSource, open_source
from loopml.models.loaded import LoadedModel
from loopml.models.signature import CategoryPolicy
from loopml.registry.client import ModelRegistry
from loopml.scoring._chunk import ChunkPlan, ChunkResult, plan, rejected_schema, score_chunk
from loopml.scoring._dask import ModelRef, open_client, run_on_dask
from loopml.scoring._outputs import PREDICTION, Outputs
from loopml.scoring._sink import ParquetSink
from loopml.scoring.report import ScoreProgress, ScoreReport
from loopml.tracking import fluent

__all__ = ["DEFAULT_CHUNK_ROWS", "rejected_path_for", "score"]

log = logging.getLogger(__name__)

#: Rows per chunk when the caller does not say: large enough that per-chunk work (validation,
#: one predict call, one row group) is amortised, small enough that a chunk of a wide table stays
#: in the tens of megabytes.
DEFAULT_CHUNK_ROWS = 100_000

Executor = Literal["local", "dask"]
_EXECUTORS = ("local", "dask")
_POLICIES = ("warn", "error", "ignore")
_REJECTED_SUFFIX = ".rejected.parquet"


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(user_message(name, "must be a positive integer", value))
    return value


def _check_arguments(
    executor: object, address: object, category_policy: object, flags: dict[str, object]
) -> None:
    if executor not in _EXECUTORS:
        raise InvalidInput(
            user_message(
                "executor",
                "must be 'local' or 'dask'",
                executor,
                did_you_mean(executor, _EXECUTORS) or "e.g. executor='dask'",
            )
        )
    if executor == "local" and address is not None:
        raise InvalidInput(
            user_message(
                "address",
                "only applies to the Dask executor",
                verbatim(str(address)),
                "pass executor='dask' with it, or drop address=",
            )
        )
    if category_policy not in _POLICIES:
        raise InvalidInput(
            user_message(
                "category_policy", f"must be one of {', '.join(_POLICIES)}", category_policy
            )
        )
    for name, value in flags.items():
        if not isinstance(value, bool):
            raise InvalidInput(user_message(name, "must be True or False", value))


def rejected_path_for(output: Path) -> Path:
    """The default side file of ``output``: ``preds.parquet`` -> ``preds.rejected.parquet``."""
    stem = output.name[: -len(".parquet")] if output.name.endswith(".parquet") else output.name
    return output.with_name(stem + _REJECTED_SUFFIX)


def _paths(
    output: str | os.PathLike[str], rejected: str | os.PathLike[str] | None, overwrite: bool
) -> tuple[Path, Path]:
    out = Path(output).expanduser().absolute()
    side = rejected_path_for(out) if rejected is None else Path(rejected).expanduser().absolute()
    if side == out:
        raise InvalidInput(
            user_message(
                "rejected", "must be another file than the output", str(side), "name another file"
            )
        )
    for path in (out, side):
        if path.is_dir():
            raise InvalidInput(
                user_message(f"output {str(path)!r}", "must be a file, not a directory")
            )
        if path.exists() and not overwrite:
            raise Conflict(
                user_message(
                    f"output file {str(path)!r}",
                    "already exists",
                    fix="pass overwrite=True (--overwrite) to replace it, or name another file",
                )
            )
        if not path.parent.is_dir():
            raise InvalidInput(
                user_message(f"the directory of {str(path)!r}", "must exist", fix="create it first")
            )
    return out, side


def _open(
    source: str | os.PathLike[str] | pd.DataFrame | pa.Table | DataSource,
    chunk_rows: int | None,
) -> tuple[DataSource, int | None]:
    """The source to read and its row count when known without reading it."""
    if isinstance(source, DataSource):
        if chunk_rows is not None:
            raise InvalidInput(
                user_message(
                    "chunk_rows with a DataSource",
                    "is not used: a source is read in its own batch_rows",
                    chunk_rows,
                    "pass open_source(..., batch_rows=N), or leave chunk_rows out",
                )
            )
        opened = source
    else:
        rows = DEFAULT_CHUNK_ROWS if chunk_rows is None else _positive_int("chunk_rows", chunk_rows)
        if isinstance(source, pd.DataFrame | pa.Table):
            return open_source(source, batch_rows=rows), len(source)
        opened = open_source(os.fspath(source), batch_rows=rows)
    return opened, _known_rows(opened)


def _known_rows(source: DataSource) -> int | None:
    if source.kind != "parquet" or source.options.get("filter") is not None:
        return None
    try:
        dataset = pads.dataset(
            source.uri, format="parquet", partitioning=source.options.get("partitioning")
        )
        return int(dataset.count_rows())
    except (OSError, pa.ArrowInvalid):
        return None  # the read itself says what is wrong with it


def _same_file(source: DataSource, paths: Sequence[Path]) -> None:
    if source.kind not in ("csv", "jsonl", "parquet"):
        return
    read = Path(source.uri).resolve()
    for path in paths:
        if path.resolve() == read or read in path.resolve().parents:
            raise InvalidInput(
                user_message(
                    f"output {str(path)!r}",
                    "must not be the input being read",
                    fix="write the predictions to another file",
                )
            )


def _registry(tracking_uri: str | None) -> ModelRegistry:
    if tracking_uri is None:
        return ModelRegistry(client=fluent.get_client())
    return ModelRegistry(tracking_uri)


def _pinned_uri(uri: str, model: LoadedModel) -> str:
    """``uri`` as workers must load it: an absolute path, or the version an alias named."""
    parsed = parse_model_uri(uri)
    if parsed.kind == "path":
        return str(Path(uri).expanduser().resolve())
    version = model.metadata.get("version")
    name = model.metadata.get("registered_model")
    if parsed.kind in ("alias", "latest") and version is not None and name:
        return f"models:/{name}/{version}"
    return uri


def _output_schema(ids: pa.Schema, outputs: Outputs, model: LoadedModel) -> pa.Schema:
    """The output's schema when no row was valid (no predictions to take the types from)."""
    prediction: pa.DataType = pa.float64()
    if outputs.classes is not None:
        prediction = pa.array(np.asarray(outputs.classes)).type
    elif model.signature is not None and len(model.signature.outputs) == 1:
        try:
            dtype = np.dtype(model.signature.outputs[0].dtype)
            prediction = pa.from_numpy_dtype(dtype) if dtype.kind in "biuf" else pa.string()
        except TypeError:
            prediction = pa.string()
    fields = [*ids, pa.field(PREDICTION, prediction)]
    fields += [pa.field(name, pa.float64()) for name in outputs.probability_names()]
    return pa.schema(fields)


@dataclass
class _Tally:
    """What the driver has written so far."""

    started: float
    total: int | None
    progress: Callable[[ScoreProgress], None] | None
    chunks: int = 0
    read: int = 0
    scored: int = 0
    rejected: int = 0

    def __post_init__(self) -> None:
        self.rejected_by: dict[str, int] = {}
        self.warnings: dict[str, int] = {}

    def add(self, result: ChunkResult, out: ParquetSink, side: ParquetSink) -> None:
        if result.scored is not None:
            out.write(result.scored)
            self.scored += result.scored.num_rows
        if result.rejected is not None:
            side.write(result.rejected)
            self.rejected += result.rejected.num_rows
        self.chunks += 1
        self.read += result.rows
        for counts, into in (
            (result.rejected_by, self.rejected_by),
            (result.warnings, self.warnings),
        ):
            for key, n in counts.items():
                into[key] = into.get(key, 0) + n
        if self.progress is not None:
            self.progress(
                ScoreProgress(
                    chunks=self.chunks,
                    rows_read=self.read,
                    rows_scored=self.scored,
                    rows_rejected=self.rejected,
                    total_rows=self.total,
                    seconds=time.perf_counter() - self.started,
                )
            )


def score(
    model_uri: str | os.PathLike[str],
    source: str | os.PathLike[str] | pd.DataFrame | pa.Table | DataSource,
    output: str | os.PathLike[str],
    *,
    chunk_rows: int | None = None,
    rejected: str | os.PathLike[str] | None = None,
    id_columns: Sequence[str] | None = None,
    probabilities: bool = True,
    category_policy: CategoryPolicy = "warn",
    overwrite: bool = False,
    executor: Executor = "local",
    address: Any = None,
    n_workers: int = 2,
    tracking_uri: str | None = None,
    trust: bool = False,
    progress: Callable[[ScoreProgress], None] | None = None,
) -> ScoreReport:
    """Score every row of ``source`` with the model at ``model_uri`` into the Parquet file
    ``output``; rows the model signature rejects go, with their reasons, to ``rejected``
    (default: ``<output stem>.rejected.parquet``). See :mod:`loopml.scoring` for the rules.

    ``source`` is a file, a SQLAlchemy URL or ``duckdb:`` query opened with
    :func:`~loopml.data.sources.open_source` (pass an opened :class:`DataSource` for queries and
    options; it is read in its own ``batch_rows``), or a DataFrame or Table. ``progress`` is
    called with a :class:`ScoreProgress` after each chunk is written.
    """
    started = time.perf_counter()
    _check_arguments(
        executor,
        address,
        category_policy,
        {"probabilities": probabilities, "overwrite": overwrite, "trust": trust},
    )
    if id_columns is not None and (
        isinstance(id_columns, str) or not all(isinstance(c, str) for c in id_columns)
    ):
        raise InvalidInput(
            user_message("id_columns", "must be a list of column names", verbatim(repr(id_columns)))
        )
    out_path, side_path = _paths(output, rejected, overwrite)
    data, total = _open(source, chunk_rows)
    _same_file(data, (out_path, side_path))
    registry = _registry(tracking_uri)
    uri = os.fspath(model_uri)
    model = registry.load_model(uri, trust=trust)

    batches = data.iter_batches()
    first = next(batches)
    chunk_plan = plan(model, first.schema, id_columns, category_policy, probabilities)
    outputs = Outputs(model, probabilities=probabilities)
    out, side = ParquetSink(out_path), ParquetSink(side_path)
    tally = _Tally(started, total, progress)

    def chunks() -> Iterator[tuple[int, int, pa.RecordBatch]]:
        offset = 0
        for index, batch in enumerate(_chain(first, batches)):
            yield index, offset, batch
            offset += batch.num_rows

    log.info("scoring %s with %s on %s (%s)", data.uri, uri, executor, chunk_plan)
    try:
        if executor == "dask":
            client, close = open_client(address, n_workers)
            try:
                ref = ModelRef(
                    _pinned_uri(uri, model),
                    registry.client.tracking_uri,
                    registry.client.artifact_uri,
                    trust,
                )
                run_on_dask(client, ref, chunk_plan, chunks(), lambda r: tally.add(r, out, side))
            finally:
                close()
        else:
            _run_here(chunk_plan, model, outputs, chunks(), lambda r: tally.add(r, out, side))
        ids = pa.schema([first.schema.field(name) for name in chunk_plan.ids])
        out.commit(_output_schema(ids, outputs, model))
        side.commit(rejected_schema(first.schema))
    except BaseException:
        out.abort()
        side.abort()
        raise
    columns = tuple(out.schema.names) if out.schema is not None else ()
    version = model.metadata.get("version")
    return ScoreReport(
        model_uri=uri,
        model_version=version if isinstance(version, int) else None,
        source=data.describe(),
        output=str(out_path),
        rejected_path=str(side_path),
        columns=columns,
        rows_read=tally.read,
        rows_scored=tally.scored,
        rows_rejected=tally.rejected,
        chunks=tally.chunks,
        seconds=time.perf_counter() - started,
        executor=executor,
        rejected_by=tally.rejected_by,
        warnings=tally.warnings,
    )


def _chain(first: pa.RecordBatch, rest: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    yield first
    yield from rest


def _run_here(
    chunk_plan: ChunkPlan,
    model: LoadedModel,
    outputs: Outputs,
    chunks: Iterator[tuple[int, int, pa.RecordBatch]],
    on_result: Callable[[ChunkResult], None],
) -> None:
    for index, offset, batch in chunks:
        on_result(score_chunk(chunk_plan, model, outputs, index, offset, batch))
