"""Labels that arrive after the features: join them by key onto a snapshot as a new version.

:func:`add_labels` loads a snapshot, joins the label columns onto it by the key columns ``on``
and stores the result as the next version of the snapshot's name, whose lineage names the
version the labels were joined onto as its parent and records the join (keys, ``how``, counts)
as its source. The rules: the label columns must all be new to the snapshot; each key appears at
most once in the labels (a key may label many snapshot rows); the label keys are cast to the
snapshot's key types (as the digest sees them, so a categorical key matches its values); a null
key never matches; the snapshot's row order is kept. :class:`LabelJoin` reports what was stored
and what did not match.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.core.snapshots import Snapshot
from loopml.data._snapshot_io import (
    check_columns,
    client_for,
    read_arrow,
    resolve,
    source_of,
    store_version,
)
from loopml.data.batches import to_table
from loopml.data.digest import _canonical_type

__all__ = ["LabelJoin", "add_labels"]

#: How many unmatched or repeated keys an answer or a message shows.
_EXAMPLES = 5


@dataclass(frozen=True, slots=True)
class LabelJoin:
    """What :func:`add_labels` stored and how the labels matched.

    ``labeled_rows``: rows of the snapshot that got a label; ``unlabeled_rows``: rows whose key
    no label row has (kept with null labels for ``how="left"``, dropped for ``"inner"``);
    ``unmatched_labels``: label rows whose key no snapshot row has (a null key never matches),
    with up to five of their keys in ``unmatched_examples``.
    """

    snapshot: Snapshot
    on: tuple[str, ...]
    how: str
    labeled_rows: int
    unlabeled_rows: int
    unmatched_labels: int
    unmatched_examples: tuple[Any, ...] = ()


def _key_list(on: str | Sequence[str]) -> list[str]:
    keys = [on] if isinstance(on, str) else list(on) if isinstance(on, Sequence) else []
    if not keys or not all(isinstance(k, str) for k in keys) or len(set(keys)) != len(keys):
        raise InvalidInput(
            user_message(
                "on",
                "must be a column name or a list of distinct column names",
                on,
                "e.g. on='flight_id' or on=['carrier', 'flight', 'time_hour']",
            )
        )
    return keys


def _keys_only(table: pa.Table, keys: Sequence[str], types: Sequence[pa.DataType]) -> pa.Table:
    """The key columns of ``table`` cast to ``types``, for the join."""
    arrays = []
    for key, target in zip(keys, types, strict=True):
        column = table.column(key)
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        arrays.append(column if column.type == target else column.cast(target))
    return pa.table(arrays, names=list(keys))


def _positions(table: pa.Table) -> pa.Array:
    """0, 1, ..., n - 1 for the rows of ``table``."""
    return pa.array(np.arange(table.num_rows, dtype=np.int64))


def _duplicate_keys(keys_table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """The non-null keys that occur more than once, with their counts."""
    counts = keys_table.group_by(list(keys)).aggregate([([], "count_all")])
    mask = pc.greater(counts.column("count_all"), 1)
    for key in keys:
        mask = pc.and_(mask, pc.is_valid(counts.column(key)))
    return counts.filter(mask)


def _examples(table: pa.Table, keys: Sequence[str]) -> tuple[Any, ...]:
    rows = table.select(list(keys)).slice(0, _EXAMPLES).to_pylist()
    return tuple(row[keys[0]] if len(keys) == 1 else tuple(row.values()) for row in rows)


def _with_label_metadata(table: pa.Table, labels: pa.Table, columns: Sequence[str]) -> pa.Table:
    """``table`` with the pandas metadata of the label columns added to its own, so ``load``
    gives them the dtypes they had in the labels frame (e.g. nullable ``Int64``)."""
    ours = (table.schema.metadata or {}).get(b"pandas")
    theirs = (labels.schema.metadata or {}).get(b"pandas")
    if ours is None or theirs is None:
        return table
    merged = json.loads(ours)
    entries = {c.get("field_name"): c for c in json.loads(theirs).get("columns", [])}
    merged["columns"].extend(entries[c] for c in columns if c in entries)
    metadata = {**(table.schema.metadata or {}), b"pandas": json.dumps(merged).encode()}
    return table.replace_schema_metadata(metadata)


def add_labels(
    ref: str | Snapshot,
    labels: Any,
    on: str | Sequence[str],
    *,
    how: Literal["left", "inner"] = "left",
    description: str = "",
    tags: Mapping[str, Any] | None = None,
    tracking_uri: str | None = None,
) -> LabelJoin:
    """Join label columns, arriving after the features, onto a snapshot by key and store the
    result as a new version of the snapshot's name whose parent is ``ref``.

    ``labels`` (anything ``iter_batches`` accepts) holds the key columns ``on`` and the label
    columns, which must be new to the snapshot. Each key may appear once in the labels
    (InvalidInput otherwise); a key may appear on many snapshot rows. ``how="left"`` keeps every
    snapshot row (unlabeled rows get nulls), ``"inner"`` keeps the labeled rows only; row order
    is the snapshot's. The returned :class:`LabelJoin` counts what matched and what did not.
    """
    if how not in ("left", "inner"):
        raise InvalidInput(user_message("how", "must be 'left' or 'inner'", how))
    keys = _key_list(on)
    client = client_for(tracking_uri)
    base = resolve(client.stores, ref)
    data = read_arrow(client.stores, base)
    label_table = to_table(labels)
    check_columns(f"snapshot {base.ref}", keys, data.column_names)
    check_columns("the labels", keys, label_table.column_names)
    label_columns = [c for c in label_table.column_names if c not in keys]
    clash = [c for c in label_columns if c in data.column_names]
    if not label_columns or clash:
        raise InvalidInput(
            user_message(
                "labels",
                "must add at least one column the snapshot does not have",
                verbatim(f"<columns already in {base.ref}: {clash}>" if clash else "<only keys>"),
                f"add labels to a version without them (such as {base.parent or base.ref}), "
                "passing every label known so far",
            )
        )
    types = [_canonical_type(data.schema.field(k).type) for k in keys]
    left = _keys_only(data, keys, types)
    try:
        right = _keys_only(label_table, keys, types)
    except pa.ArrowException as exc:
        raise InvalidInput(
            user_message(
                "key columns of the labels",
                "must have the snapshot's key types "
                f"({', '.join(f'{k}: {t}' for k, t in zip(keys, types, strict=True))})",
                verbatim(f"<{exc}>"),
                "cast the label keys to the snapshot's types",
            )
        ) from exc
    duplicates = _duplicate_keys(right, keys)
    if duplicates.num_rows:
        raise InvalidInput(
            user_message(
                f"labels keyed by {keys}",
                "must have each key once",
                verbatim(f"<{duplicates.num_rows} repeated, e.g. {_examples(duplicates, keys)}>"),
                "drop or aggregate the repeated label rows",
            )
        )
    joined = (
        left.append_column("__row", _positions(data))
        .join(right.append_column("__label", _positions(label_table)), keys, join_type="left outer")
        .sort_by("__row")
    )
    label_index = joined.column("__label").combine_chunks()
    labeled = len(label_index) - label_index.null_count
    unmatched = label_table.filter(pc.invert(pc.is_in(_positions(label_table), label_index)))
    kept = data
    if how == "inner":
        keep = pc.is_valid(label_index)
        kept = data.filter(keep)
        label_index = label_index.filter(keep)
    taken = label_table.select(label_columns).take(label_index)
    for column in label_columns:
        field = label_table.schema.field(column).with_nullable(True)
        kept = kept.append_column(field, taken.column(column))
    kept = _with_label_metadata(kept, label_table, label_columns)
    source = {
        "kind": "labels",
        "on": keys,
        "how": how,
        "labels": source_of(labels),
        "labeled_rows": labeled,
        "unlabeled_rows": data.num_rows - labeled,
        "unmatched_labels": unmatched.num_rows,
    }
    stored = store_version(
        client,
        kept,
        base.name,
        source=source,
        description=description,
        parent=base,
        tags=tags,
    )
    return LabelJoin(
        snapshot=stored,
        on=tuple(keys),
        how=how,
        labeled_rows=labeled,
        unlabeled_rows=data.num_rows - labeled,
        unmatched_labels=unmatched.num_rows,
        unmatched_examples=_examples(unmatched, keys),
    )
