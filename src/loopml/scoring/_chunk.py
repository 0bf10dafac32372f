"""One chunk of a scoring job: validate its rows, predict the valid ones, shape both outputs.

:class:`ChunkPlan` is decided once, from the input's columns and the model (:func:`plan`), and is
the same for every chunk, wherever it runs (this process or a Dask worker). :func:`score_chunk`
turns one Arrow record batch into a :class:`ChunkResult`: the output rows (the id columns of the
valid rows, then the model's outputs) and the rejected rows (every input column, then ``_row``,
the row's 0-based position in the input, and ``_reason``).

Rules checked by :func:`plan`, each an :class:`~loopml.core.errors.InvalidInput` (or a
:class:`~loopml.models.signature.SignatureMismatch` for the signature's columns):

- every signature column is in the input, once;
- ``id_columns`` name input columns (``None``: every input column the signature does not name;
  a model without a signature gets every input column but the id columns, which then default to
  none);
- no id column is named like an output column (``prediction``, ``probability``...), and the
  input has no ``_row`` or ``_reason`` column (the rejected file's own).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from loopml.core.errors import InvalidInput, did_you_mean, user_message
from loopml.models.loaded import LoadedModel
from loopml.models.signature import CategoryPolicy
from loopml.scoring._outputs import PREDICTION, Outputs
from loopml.scoring._rows import RowCheck, check_columns, check_rows

__all__ = ["REASON", "ROW", "ChunkPlan", "ChunkResult", "plan", "rejected_schema", "score_chunk"]

ROW = "_row"
REASON = "_reason"


@dataclass(frozen=True, slots=True)
class ChunkPlan:
    """What every chunk of one job does: the model's columns, the id columns, the policies."""

    features: tuple[str, ...]
    ids: tuple[str, ...]
    category_policy: CategoryPolicy
    probabilities: bool


@dataclass(frozen=True, slots=True)
class ChunkResult:
    """One scored chunk: ``scored`` is None when no row of it was valid; ``rejected`` None when
    none was rejected."""

    index: int
    rows: int
    scored: pa.Table | None
    rejected: pa.Table | None
    rejected_by: Mapping[str, int] = field(default_factory=dict)
    warnings: Mapping[str, int] = field(default_factory=dict)


def _unknown(what: str, name: str, columns: Sequence[str]) -> InvalidInput:
    return InvalidInput(
        user_message(
            what,
            "must name a column of the input",
            name,
            did_you_mean(name, columns) or f"the input's columns are {', '.join(columns)}",
        )
    )


def plan(
    model: LoadedModel,
    schema: pa.Schema,
    id_columns: Sequence[str] | None,
    category_policy: CategoryPolicy,
    probabilities: bool,
) -> ChunkPlan:
    """The plan of a job on input of ``schema`` (rules: module docstring)."""
    columns = list(schema.names)
    for reserved in (ROW, REASON):
        if reserved in columns:
            raise InvalidInput(
                user_message(
                    f"input column {reserved!r}",
                    "is reserved: the rejected-rows file adds a column of that name",
                    fix="rename the column",
                )
            )
    signature = model.signature
    if signature is not None:
        check_columns(signature, columns)
    if id_columns is None:
        ids = () if signature is None else tuple(c for c in columns if c not in signature.names)
    else:
        ids = tuple(id_columns)
        for name in ids:
            if name not in columns:
                raise _unknown("id column", name, columns)
        if len(set(ids)) != len(ids):
            raise InvalidInput(user_message("id_columns", "must name each column once", ids))
    features = tuple(c for c in columns if c not in ids) if signature is None else signature.names
    outputs = [PREDICTION, *Outputs(model, probabilities=probabilities).probability_names()]
    for name in ids:
        if name in outputs or name.startswith(f"{PREDICTION}_"):
            raise InvalidInput(
                user_message(
                    f"id column {name!r}",
                    "has the name of an output column of the model",
                    fix="leave it out of id_columns, or rename it",
                )
            )
    return ChunkPlan(features, ids, category_policy, probabilities)


def rejected_schema(schema: pa.Schema) -> pa.Schema:
    """The schema of the rejected-rows file for input of ``schema``."""
    return schema.append(pa.field(ROW, pa.int64())).append(pa.field(REASON, pa.string()))


def score_chunk(
    chunk_plan: ChunkPlan,
    model: LoadedModel,
    outputs: Outputs,
    index: int,
    offset: int,
    batch: pa.RecordBatch,
) -> ChunkResult:
    """Score one chunk, the rows ``offset`` .. ``offset + batch.num_rows - 1`` of the input."""
    rows = batch.num_rows
    features = batch.select(list(chunk_plan.features)).to_pandas()
    signature = model.signature
    check = (
        RowCheck()
        if signature is None or rows == 0
        else check_rows(signature, features, chunk_plan.category_policy)
    )
    kept = batch
    rejected = None
    if check.bad is not None:
        bad = check.bad
        positions = np.flatnonzero(bad)
        rejected = pa.Table.from_batches([batch.filter(pa.array(bad))])
        rejected = rejected.append_column(ROW, pa.array(positions + offset, type=pa.int64()))
        rejected = rejected.append_column(REASON, pa.array(check.reasons, type=pa.string()))
        good = ~bad
        kept = batch.filter(pa.array(good))
        features = features[good].reset_index(drop=True)
    scored = None
    if kept.num_rows:
        if signature is not None:
            features = signature.conform(features, chunk_plan.category_policy)
        table = pa.Table.from_batches([kept.select(list(chunk_plan.ids))])
        for name, column in outputs.columns(features).items():
            table = table.append_column(name, column)
        scored = table
    return ChunkResult(index, rows, scored, rejected, check.rejected_by, check.warnings)
