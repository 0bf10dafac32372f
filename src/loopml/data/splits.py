"""Train / validation / test splits of a DataFrame, each checked for leakage between its parts.

Every split returns a :class:`Split`: the parts (``test`` is ``None`` for two sizes) and a
:class:`LeakageReport` from :func:`check_leakage` over every pair of parts. Rules:

- ``sizes`` is ``(train, validation)`` or ``(train, validation, test)``: fractions in (0, 1)
  summing to 1 (within 1e-9). Row counts come from the largest-remainder rule
  (:func:`loopml.data.sampling.largest_remainder`; ties to the earlier part), so
  :func:`split_random` parts are within one row of ``size * rows``. Every part must get at least
  one row, else :class:`InvalidInput`.
- Parts keep the frame's row order and index labels; the seeded functions are pure (same input,
  same ``seed``, same split).
- :func:`split_stratified`: in every part, each stratum of ``by`` has its share of the part
  within one row: the counts are the quotas ``rows_h * part / rows`` rounded down or up, chosen
  so that rows and parts both add up (a controlled rounding, solved as a maximum flow).
- :func:`split_group`: whole groups go to one part, so no group is on two sides by construction;
  groups are shuffled and cut where their cumulative row count passes each size, so sizes are
  approximate (``Split.sizes`` reports what was achieved). Missing group values form one group.
- :func:`split_time`: train strictly before validation strictly before test. Boundaries are
  half-open: with boundary ``b``, a row at time ``t < b`` goes to the earlier part and ``t >= b``
  to the later one, so **ties at a boundary go to the later part**, never both. With ``sizes``,
  ``b`` is the time of the first row past the earlier part's count, so a part may come out
  smaller than asked when many rows share that time. With ``gap``, rows with
  ``b - gap <= t < b`` are purged (dropped; counted in ``Split.purged``), so consecutive parts are
  more than ``gap`` apart.

:func:`check_leakage` never raises on leakage; it reports, for the index and for each id or
group column (or tuple of columns, read as one composite key), the distinct values found on both
sides (count, rows of the second side holding them, first examples), and for a time column the
rows of the second side that are not strictly after the first side's end (plus ``gap``).
Missing values are not identities and never count as shared. :meth:`Split.raise_for_leakage`
turns a report with findings into an :class:`InvalidInput`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.sparse.csgraph import maximum_flow

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.data._frames import (
    IntArray,
    Seed,
    as_generator,
    check_columns,
    check_frame,
    invalid,
    stratum_codes,
)
from loopml.data.sampling import (
    largest_remainder,
)

__all__ = [
    "PART_NAMES",
    "LeakageReport",
    "Overlap",
    "Split",
    "check_leakage",
    "split_group",
    "split_random",
    "split_stratified",
    "split_time",
]

#: The names of the parts, in order.
PART_NAMES = ("train", "validation", "test")
#: Sizes are read to this many decimal places, and must sum to 1 within ``10**-_SIZE_DIGITS``.
_SIZE_DIGITS = 9
#: How many findings the message of :meth:`Split.raise_for_leakage` shows.
_FINDINGS_SHOWN = 3

#: An id or group key: one column, or a tuple of columns read as one composite key.
Key = str | Sequence[str]
#: ``(train, validation)`` or ``(train, validation, test)`` fractions.
Sizes = Sequence[float]


# --------------------------------------------------------------------------------------------
# Leakage


@dataclass(frozen=True, slots=True)
class Overlap:
    """One kind of value found on both sides of a pair of parts.

    ``kind`` is ``index``, ``id``, ``group`` or ``time``; ``count`` is the number of distinct
    shared values (for ``time``: rows of ``sides[1]`` not after the end of ``sides[0]``);
    ``rows`` the rows of ``sides[1]`` holding them; ``examples`` the first few, in that side's
    row order (for ``time``: its earliest offending times).
    """

    kind: Literal["index", "id", "group", "time"]
    column: str | None
    sides: tuple[str, str]
    count: int
    rows: int
    examples: tuple[Any, ...] = ()
    detail: str = ""

    @property
    def message(self) -> str:
        where = "index labels" if self.column is None else f"values of {self.kind} {self.column}"
        if self.kind == "time":
            return (
                f"{self.rows} rows of {self.sides[1]} are not after the end of {self.sides[0]} "
                f"in {self.column} ({self.detail}), e.g. {list(self.examples)}"
            )
        return (
            f"{self.count} {where} are in both {self.sides[0]} and {self.sides[1]} "
            f"({self.rows} rows of {self.sides[1]}), e.g. {list(self.examples)}"
        )


@dataclass(frozen=True, slots=True)
class LeakageReport:
    """What :func:`check_leakage` looked at (``checks``) and what it found (``overlaps``)."""

    overlaps: tuple[Overlap, ...] = ()
    checks: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when no check found anything."""
        return not self.overlaps

    def __str__(self) -> str:
        if self.ok:
            return f"no leakage ({', '.join(self.checks) or 'nothing checked'})"
        return "; ".join(o.message for o in self.overlaps)


def _key_name(key: Key) -> str:
    return key if isinstance(key, str) else "(" + ", ".join(key) + ")"


def _key_list(keys: object, func: str, arg: str) -> list[Key]:
    if keys is None:
        return []
    if isinstance(keys, str):
        return [keys]
    if not isinstance(keys, Sequence):
        raise invalid(func, arg, "must be a sequence of column names", keys)
    out: list[Key] = []
    for key in keys:
        if not isinstance(key, str) and not (
            isinstance(key, Sequence) and key and all(isinstance(k, str) for k in key)
        ):
            raise invalid(func, arg, "must hold column names or tuples of column names", key)
        out.append(key if isinstance(key, str) else tuple(key))
    return out


def _key_values(df: pd.DataFrame, key: Key) -> pd.Index:
    """The non-missing values of ``key`` (composite keys as tuples), one per kept row."""
    values: pd.Index
    if isinstance(key, str):
        values = pd.Index(df[key].dropna())
    else:
        values = pd.MultiIndex.from_frame(df[list(key)].dropna())
    return values


def _shared(
    first: pd.Index, second: pd.Index, max_examples: int
) -> tuple[int, int, tuple[Any, ...]] | None:
    """(distinct values of ``second`` also in ``first``, rows of ``second`` holding them,
    the first ``max_examples`` of them), or None when nothing is shared."""
    # Look up distinct values: pandas' isin for Arrow strings loops over the lookup values.
    in_first = second.isin(first.unique())
    rows = int(in_first.sum())
    if not rows:
        return None
    values = second[in_first].unique()
    return len(values), rows, tuple(values[:max_examples].tolist())


def check_leakage(
    train: pd.DataFrame,
    other: pd.DataFrame,
    id_columns: Sequence[Key] = (),
    group_columns: Sequence[Key] = (),
    *,
    time_column: str | None = None,
    gap: object = None,
    check_index: bool = True,
    sides: tuple[str, str] = ("train", "other"),
    max_examples: int = 5,
) -> LeakageReport:
    """What ``train`` and ``other`` share: index labels, ids, groups, and times out of order.

    ``time_column`` checks that every row of ``other`` is more than ``gap`` (default 0) after
    the latest row of ``train``. Raises only on bad arguments (a frame that is not a DataFrame,
    an unknown column), never because of what it finds.
    """
    func = "check_leakage"
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 0:
        raise invalid(func, "max_examples", "must be a non-negative int", max_examples)
    for arg, frame in (("train", train), ("other", other)):
        if not isinstance(frame, pd.DataFrame):
            raise invalid(func, arg, "must be a pandas DataFrame", verbatim(type(frame).__name__))
    keyed: list[tuple[Literal["id", "group"], Key]] = [
        *(("id", k) for k in _key_list(id_columns, func, "id_columns")),
        *(("group", k) for k in _key_list(group_columns, func, "group_columns")),
    ]
    arg_of = {"id": "id_columns", "group": "group_columns"}
    for kind, key in keyed:
        for frame in (train, other):
            check_columns(frame, key, func, arg_of[kind])
    overlaps: list[Overlap] = []
    checks: list[str] = []
    if check_index:
        checks.append("index")
        found = _shared(train.index, other.index, max_examples)
        if found:
            overlaps.append(Overlap("index", None, sides, *found))
    for kind, key in keyed:
        checks.append(f"{kind} {_key_name(key)}")
        found = _shared(_key_values(train, key), _key_values(other, key), max_examples)
        if found:
            overlaps.append(Overlap(kind, _key_name(key), sides, *found))
    if time_column is not None:
        for frame in (train, other):
            check_columns(frame, time_column, func, "time_column")
        checks.append(f"time {time_column}")
        late = _time_overlap(train, other, time_column, gap, sides, max_examples)
        if late:
            overlaps.append(late)
    return LeakageReport(tuple(overlaps), tuple(checks))


def _time_overlap(
    train: pd.DataFrame,
    other: pd.DataFrame,
    column: str,
    gap: object,
    sides: tuple[str, str],
    max_examples: int,
) -> Overlap | None:
    first, second = train[column].dropna(), other[column].dropna()
    if first.empty or second.empty:
        return None
    end = first.max()
    limit = end if gap is None else end + _check_gap(gap, train[column], "check_leakage")
    try:
        early = second[second <= limit]
    except TypeError as exc:
        raise invalid(
            "check_leakage",
            "time_column",
            "must hold comparable times on both sides",
            verbatim(f"{column!r} of dtype {train[column].dtype} and {other[column].dtype}"),
        ) from exc
    if early.empty:
        return None
    extra = "" if gap is None else f" plus gap {gap}"
    detail = f"{sides[0]} ends at {end}{extra}; {sides[1]} starts at {second.min()}"
    examples = tuple(early.drop_duplicates().sort_values().iloc[:max_examples].tolist())
    return Overlap("time", column, sides, len(early), len(early), examples, detail)


# --------------------------------------------------------------------------------------------
# The split result


@dataclass(frozen=True, slots=True, eq=False)
class Split:
    """The parts of a split and the leakage found between them.

    ``purged`` counts rows dropped by a time split's ``gap``; ``sizes`` is the fraction of the
    kept rows in each part (what a group or time split achieved).
    """

    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame | None = None
    leakage: LeakageReport = field(default_factory=LeakageReport)
    purged: int = 0

    @property
    def parts(self) -> dict[str, pd.DataFrame]:
        """The parts by name (``train``, ``validation`` and, if any, ``test``)."""
        frames = (self.train, self.validation, self.test)
        return {name: f for name, f in zip(PART_NAMES, frames, strict=True) if f is not None}

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(len(f) for f in self.parts.values())

    @property
    def sizes(self) -> tuple[float, ...]:
        total = sum(self.counts)
        return tuple(c / total for c in self.counts)

    def raise_for_leakage(self) -> None:
        """Raise :class:`InvalidInput` listing the findings if the leakage report has any."""
        if self.leakage.ok:
            return
        found = self.leakage.overlaps
        shown = "; ".join(o.message for o in found[:_FINDINGS_SHOWN])
        more = f" (and {len(found) - _FINDINGS_SHOWN} more)" if len(found) > _FINDINGS_SHOWN else ""
        raise InvalidInput(
            user_message(
                "split",
                "must not share rows, ids, groups or times between its parts",
                verbatim(shown + more),
                "split by group (split_group) or by time (split_time) on the leaking column",
            )
        )


def _make_split(
    df: pd.DataFrame,
    part: IntArray,
    parts: int,
    func: str,
    *,
    ids: Sequence[Key],
    groups: Sequence[Key] = (),
    time_column: str | None = None,
    gap: object = None,
    purged: int = 0,
    arg: str = "sizes",
    fix: str = "use a larger frame, larger fractions, or fewer parts",
) -> Split:
    """The Split whose part ``p`` holds the rows with ``part == p`` (``-1``: dropped)."""
    frames = [df.iloc[np.flatnonzero(part == p)] for p in range(parts)]
    for name, frame in zip(PART_NAMES, frames, strict=False):
        if frame.empty:
            raise invalid(
                func,
                arg,
                f"must not leave the {name} part empty (a frame of {len(df)} rows)",
                verbatim(f"rows per part {[len(f) for f in frames]}"),
                fix,
            )
    overlaps: list[Overlap] = []
    checks: list[str] = []
    for i in range(parts):
        for j in range(i + 1, parts):
            report = check_leakage(
                frames[i],
                frames[j],
                ids,
                groups,
                time_column=time_column,
                gap=gap,
                sides=(PART_NAMES[i], PART_NAMES[j]),
            )
            overlaps.extend(report.overlaps)
            checks.extend(c for c in report.checks if c not in checks)
    report = LeakageReport(tuple(overlaps), tuple(checks))
    test = frames[2] if parts == 3 else None
    return Split(frames[0], frames[1], test, report, purged)


# --------------------------------------------------------------------------------------------
# Argument checks


def _check_sizes(sizes: object, func: str) -> tuple[float, ...]:
    if (
        not isinstance(sizes, Sequence)
        or isinstance(sizes, str)
        or len(sizes) not in (2, 3)
        or not all(
            isinstance(s, numbers.Real) and not isinstance(s, bool) and 0 < float(s) < 1
            for s in sizes
        )
    ):
        raise invalid(
            func,
            "sizes",
            "must be 2 or 3 fractions in (0, 1): (train, validation[, test])",
            sizes,
            "e.g. sizes=(0.8, 0.2) or (0.7, 0.15, 0.15)",
        )
    values = tuple(float(s) for s in sizes)
    if abs(math.fsum(values) - 1.0) > 10.0**-_SIZE_DIGITS:
        raise invalid(
            func,
            "sizes",
            "must sum to 1",
            sizes,
            f"they sum to {math.fsum(values)!r}; e.g. sizes=(0.8, 0.2)",
        )
    return values


def _part_counts(
    rows: int, sizes: tuple[float, ...], func: str, *, targets_only: bool = False
) -> IntArray:
    """Rows per part; InvalidInput if a part would get none (unless these are only targets)."""
    counts = largest_remainder(rows, [round(s * 10**_SIZE_DIGITS) for s in sizes])
    for name, count in zip(PART_NAMES, counts, strict=False):
        if count == 0 and not targets_only:
            raise invalid(
                func,
                "sizes",
                f"must not leave the {name} part empty (a frame of {rows} rows)",
                verbatim(f"rows per part {counts.tolist()}"),
                "use a larger frame, larger fractions, or fewer parts",
            )
    return counts


def _check_id_columns(df: pd.DataFrame, id_columns: object, func: str) -> list[Key]:
    keys = _key_list(id_columns, func, "id_columns")
    for key in keys:
        check_columns(df, key, func, "id_columns")
    return keys


def _assign_in_order(order: IntArray, counts: IntArray) -> IntArray:
    """Part labels: the first ``counts[0]`` positions of ``order`` get 0, the next 1, ..."""
    part = np.empty(len(order), dtype=np.int64)
    part[order] = np.repeat(np.arange(len(counts)), counts)
    return part


# --------------------------------------------------------------------------------------------
# Splits


def split_random(
    df: pd.DataFrame,
    sizes: Sizes = (0.8, 0.2),
    *,
    seed: Seed,
    id_columns: Sequence[Key] = (),
) -> Split:
    """Rows shuffled and cut into parts of ``sizes`` (each within one row of its share).

    ``id_columns`` adds leakage checks (e.g. the same customer on both sides).

    >>> frame = pd.DataFrame({"x": range(10)})
    >>> split_random(frame, (0.7, 0.3), seed=0).counts
    (7, 3)
    """
    func = "split_random"
    df = check_frame(df, func)
    fractions = _check_sizes(sizes, func)
    ids = _check_id_columns(df, id_columns, func)
    rng = as_generator(seed, func)
    counts = _part_counts(len(df), fractions, func)
    part = _assign_in_order(rng.permutation(len(df)), counts)
    return _make_split(df, part, len(fractions), func, ids=ids)


def _controlled_rounding(strata: IntArray, parts: IntArray, rng: np.random.Generator) -> IntArray:
    """Integer counts ``x[h, p]``, each ``strata[h] * parts[p] / total`` rounded down or up,
    with rows summing to ``strata`` and columns to ``parts``.

    Such a rounding always exists (the fractional parts are a feasible flow in a network with
    integral capacities, so an integral maximum flow of the same value exists); scipy's
    maximum flow finds it. Strata are numbered in random order so that which strata round up
    is not decided by their sort order.
    """
    total = int(strata.sum())
    product = np.outer(strata, parts)
    counts = product // total
    can_round_up = (product % total) > 0
    row_need = strata - counts.sum(axis=1)
    col_need = parts - counts.sum(axis=0)
    if not row_need.any():
        return counts
    h, p = len(strata), len(parts)
    node = 1 + rng.permutation(h)  # stratum i is node node[i]; 0 is the source
    part_node = 1 + h + np.arange(p)
    sink = 1 + h + p
    rows_i, cols_i = np.nonzero(can_round_up)
    src = np.concatenate([np.zeros(h, dtype=np.int64), node[rows_i], part_node])
    dst = np.concatenate([node, part_node[cols_i], np.full(p, sink)])
    cap = np.concatenate([row_need, np.ones(len(rows_i), dtype=np.int64), col_need])
    graph = sparse.csr_matrix((cap.astype(np.int32), (src, dst)), shape=(sink + 1, sink + 1))
    result = maximum_flow(graph, 0, sink)
    if result.flow_value != int(row_need.sum()):  # cannot happen; see the docstring
        raise RuntimeError("controlled rounding found no feasible flow")
    flow = result.flow.tocsr()
    counts[rows_i, cols_i] += np.asarray(flow[node[rows_i], part_node[cols_i]]).ravel()
    return counts


def split_stratified(
    df: pd.DataFrame,
    by: str | Sequence[str],
    sizes: Sizes = (0.8, 0.2),
    *,
    seed: Seed,
    id_columns: Sequence[Key] = (),
) -> Split:
    """Parts of ``sizes`` in which every stratum of ``by`` keeps its share to within one row."""
    func = "split_stratified"
    df = check_frame(df, func)
    columns = check_columns(df, by, func, "by")
    fractions = _check_sizes(sizes, func)
    ids = _check_id_columns(df, id_columns, func)
    rng = as_generator(seed, func)
    codes, strata = stratum_codes(df, columns)
    stratum_rows = np.bincount(codes, minlength=strata).astype(np.int64)
    table = _controlled_rounding(stratum_rows, _part_counts(len(df), fractions, func), rng)
    # Within each stratum: a random rank; ranks below the first cumulative count go to part 0...
    order = np.lexsort((rng.random(len(df)), codes))
    starts = np.cumsum(stratum_rows) - stratum_rows
    rank = np.empty(len(df), dtype=np.int64)
    rank[order] = np.arange(len(df)) - starts[codes[order]]
    bounds = np.cumsum(table, axis=1)[:, :-1]
    part = (rank[:, None] >= bounds[codes]).sum(axis=1).astype(np.int64)
    return _make_split(df, part, len(fractions), func, ids=ids)


def split_group(
    df: pd.DataFrame,
    group: str | Sequence[str],
    sizes: Sizes = (0.8, 0.2),
    *,
    seed: Seed,
    id_columns: Sequence[Key] = (),
) -> Split:
    """Parts of about ``sizes`` with each group (value of ``group``) in exactly one part.

    Groups are shuffled; a group goes to the part whose row range holds the midpoint of its
    rows in the shuffled order, and every part gets at least one group.
    """
    func = "split_group"
    df = check_frame(df, func)
    columns = check_columns(df, group, func, "group")
    fractions = _check_sizes(sizes, func)
    ids = _check_id_columns(df, id_columns, func)
    rng = as_generator(seed, func)
    codes, groups = stratum_codes(df, columns)
    parts = len(fractions)
    if groups < parts:
        raise invalid(
            func,
            "group",
            f"must have at least {parts} distinct values to make {parts} parts",
            verbatim(f"{groups} in {_key_name(columns)}"),
        )
    order = rng.permutation(groups)
    group_rows = np.bincount(codes, minlength=groups)[order]
    midpoints = np.cumsum(group_rows) - group_rows / 2
    cuts = np.cumsum(_part_counts(len(df), fractions, func, targets_only=True))[:-1]
    bounds = np.searchsorted(midpoints, cuts)
    for i in range(parts - 1):  # at least one group per part
        bounds[i] = min(max(bounds[i], (bounds[i - 1] if i else 0) + 1), groups - (parts - 1 - i))
    group_part = np.empty(groups, dtype=np.int64)
    group_part[order] = np.searchsorted(bounds, np.arange(groups), side="right")
    key: Key = columns[0] if len(columns) == 1 else tuple(columns)
    return _make_split(df, group_part[codes], parts, func, ids=ids, groups=[key])


def _check_gap(gap: object, times: pd.Series, func: str) -> Any:
    if pd.api.types.is_datetime64_any_dtype(times):
        try:
            value: Any = pd.Timedelta(gap)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            value = pd.NaT
        if pd.isna(value) or value < pd.Timedelta(0):
            raise invalid(
                func, "gap", "must be a non-negative duration", gap, "e.g. gap='1D' or a timedelta"
            )
        return value
    if (
        isinstance(gap, bool)
        or not isinstance(gap, numbers.Real)
        or not math.isfinite(float(gap))
        or float(gap) < 0
    ):
        raise invalid(func, "gap", "must be a non-negative number for a numeric time column", gap)
    return gap


def _check_time_column(df: pd.DataFrame, column: object, func: str) -> pd.Series:
    name = check_columns(df, column, func, "time_column")
    if len(name) != 1:
        raise invalid(func, "time_column", "must name one column", column)
    times = df[name[0]]
    numeric = pd.api.types.is_numeric_dtype(times) and not pd.api.types.is_bool_dtype(times)
    if not (numeric or pd.api.types.is_datetime64_any_dtype(times)):
        raise invalid(
            func,
            "time_column",
            "must be a datetime or numeric column",
            verbatim(f"{name[0]!r} of dtype {times.dtype}"),
            f"convert it, e.g. df[{name[0]!r}] = pd.to_datetime(df[{name[0]!r}])",
        )
    missing = int(times.isna().sum())
    if missing:
        raise invalid(
            func,
            "time_column",
            "must have no missing times",
            verbatim(f"{missing} missing in {name[0]!r}"),
            "drop those rows first",
        )
    return times


def _check_cutoffs(cutoff: object, times: pd.Series, func: str) -> list[Any]:
    raw = list(cutoff) if isinstance(cutoff, list | tuple) else [cutoff]
    if len(raw) not in (1, 2):
        raise invalid(func, "cutoff", "must be one boundary, or two for a test part", cutoff)
    values: list[Any] = []
    for value in raw:
        try:
            if pd.api.types.is_datetime64_any_dtype(times):
                if isinstance(value, numbers.Number):  # pd.Timestamp(5) would mean 5 ns
                    raise TypeError("a number is not a time")
                stamp = pd.Timestamp(value)  # type: ignore[arg-type]
                times.iloc[:1] < stamp  # noqa: B015 - raises if the time zones do not match
                values.append(stamp)
            elif isinstance(value, numbers.Real) and not isinstance(value, bool):
                values.append(value)
            else:
                raise TypeError
        except (TypeError, ValueError) as exc:
            zone = getattr(times.dtype, "tz", None)
            raise invalid(
                func,
                "cutoff",
                f"must be comparable with the times of dtype {times.dtype}",
                value,
                f"pass a timestamp in zone {zone}, e.g. pd.Timestamp('2013-10-01', tz='{zone}')"
                if zone is not None
                else "pass a timestamp such as '2013-10-01' (no time zone) or a number",
            ) from exc
        if pd.isna(values[-1]):
            raise invalid(func, "cutoff", "must not be missing", value)
    if len(values) == 2 and not values[0] < values[1]:
        raise invalid(func, "cutoff", "must be increasing: (validation start, test start)", cutoff)
    return values


def split_time(
    df: pd.DataFrame,
    time_column: str,
    *,
    cutoff: object = None,
    sizes: Sizes | None = None,
    gap: object = None,
    id_columns: Sequence[Key] = (),
) -> Split:
    """Parts in time order: ``train < validation (< test)`` by ``time_column``.

    Give ``cutoff`` (the start of validation, or a pair: starts of validation and test) or
    ``sizes`` (boundaries at the matching row counts of the time-sorted frame). Ties at a
    boundary go to the later part; ``gap`` purges rows in ``[boundary - gap, boundary)``.
    Deterministic: no seed.

    >>> frame = pd.DataFrame({"t": [1, 2, 2, 3, 4]})
    >>> split_time(frame, "t", cutoff=2).counts
    (1, 4)
    """
    func = "split_time"
    df = check_frame(df, func)
    times = _check_time_column(df, time_column, func)
    ids = _check_id_columns(df, id_columns, func)
    if (cutoff is None) == (sizes is None):
        raise invalid(
            func, "cutoff", "must be given, or sizes instead, but not both", cutoff, "pass one"
        )
    window = None if gap is None else _check_gap(gap, times, func)
    if cutoff is not None:
        bounds = _check_cutoffs(cutoff, times, func)
    else:
        fractions = _check_sizes(sizes, func)
        ordered = times.sort_values(kind="stable")
        first_of_next = np.cumsum(_part_counts(len(df), fractions, func))[:-1]
        bounds = [ordered.iloc[int(i)] for i in first_of_next]
    # Half-open boundaries: a row at or after a boundary belongs to the later part.
    part = np.zeros(len(df), dtype=np.int64)
    for bound in bounds:
        part += (times >= bound).to_numpy(dtype=np.int64)
    purged = 0
    if window is not None:
        drop = np.zeros(len(df), dtype=bool)
        for bound in bounds:
            drop |= ((times >= bound - window) & (times < bound)).to_numpy(dtype=bool)
        part[drop] = -1
        purged = int(drop.sum())
    return _make_split(
        df,
        part,
        len(bounds) + 1,
        func,
        ids=ids,
        time_column=time_column,
        gap=window,
        purged=purged,
        arg="sizes" if cutoff is None else "cutoff",
        fix="move the boundaries inside the time range (ties at a boundary all go to the later "
        "part)" + ("" if window is None else ", or use a smaller gap"),
    )
