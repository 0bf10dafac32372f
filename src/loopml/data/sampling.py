"""Seeded sampling of DataFrames: random, stratified, weighted, reservoir, importance, rebalancing.

Every function is pure: the same input and the same ``seed`` give the same result. ``seed`` is an
``int`` (a fresh :func:`numpy.random.default_rng` per call) or a :class:`numpy.random.Generator`,
which is used as it is and advanced, so a caller can draw several samples from one stream.

Rules shared by the samplers:

- Results are new frames that keep the **original index labels** (repeated when rows are drawn
  more than once), so :func:`loopml.data.splits.check_leakage` can compare them. Rows come in the
  order they were drawn, which is random; sort by the index to restore frame order.
- A fraction is turned into a row count as ``floor(frac * rows + 0.5)`` (halves round up).
- Without ``replace=True`` a sample cannot be larger than the population; an empty frame,
  an unknown column, or a weight that is negative, NaN or infinite is an :class:`InvalidInput`
  that names the argument and shows the value.

Stratified allocation (:func:`sample_stratified`) is the **largest-remainder** (Hamilton) rule:
stratum ``h`` of ``N_h`` rows out of ``N`` has the quota ``n * N_h / N``; it gets the integer part,
and the rows still missing go one each to the strata with the largest fractional parts (computed in
exact integer arithmetic; ties broken at random by ``seed``). Each stratum thus gets its quota
rounded down or up, never further off. With ``min_per_stratum=m`` every stratum gets at least
``min(m, N_h)`` rows: strata below that floor are fixed at it and the rest of ``n`` is allocated
over the other strata by the same rule, repeatedly until no stratum is below its floor; the
total stays ``n``.

:func:`sample_weighted` draws with probability proportional to the weights (numpy's
``Generator.choice``). Without replacement the draws are successive: each draw is proportional to
the weights of the rows not drawn yet, so the *first* draw is exactly proportional while overall
inclusion probabilities are flatter than the weights (the rule of ``pandas.DataFrame.sample``).

:func:`reservoir_sample` makes one pass over a stream and keeps ``k`` items: a uniform sample
without replacement, in O(k) memory plus one chunk. Plain rows use Li's Algorithm L, which skips
ahead geometrically and draws O(k log(N/k)) random numbers; DataFrame (or Arrow) chunks use
Algorithm R vectorised over each chunk.

:func:`importance_sample` draws ``n`` rows i.i.d. (with replacement) from the proposal
``q_i ∝ proposal_i`` and returns, per drawn row, the importance weight ``w = p_i / q_i`` with
``p_i ∝ target_i`` (uniform over rows by default), both normalised to sum to 1 over the frame.
``E[w] = 1`` and ``mean(w * f(x))`` is an unbiased estimate of the mean of ``f`` under the target.

:func:`oversample` and :func:`undersample` rebalance the classes of a label column to a ratio of
each class to the majority (``ratio=1.0``: balanced); :func:`class_weights` is
``n_samples / (n_classes * count_c)``, the same numbers as scikit-learn's
``compute_class_weight("balanced")``.
"""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa

from loopml.core.errors import verbatim
from loopml.data._frames import (
    FloatArray,
    IntArray,
    Seed,
    as_generator,
    check_columns,
    check_frame,
    invalid,
    stratum_codes,
)
from loopml.data.batches import iter_batches

__all__ = [
    "ImportanceSample",
    "Seed",
    "as_generator",
    "class_weights",
    "importance_sample",
    "largest_remainder",
    "oversample",
    "reservoir_sample",
    "sample_random",
    "sample_stratified",
    "sample_weighted",
    "undersample",
]

#: An ``int`` seed (a fresh generator per call) or a generator to draw from (and advance).


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _check_count(n: object, population: int, func: str, *, replace: bool = False) -> int:
    """``n`` as a row count: a non-negative int, at most ``population`` unless ``replace``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or int(n) < 0:
        raise invalid(func, "n", "must be a non-negative int", n)
    if int(n) > population and not replace:
        raise invalid(
            func,
            "n",
            f"must be at most the population of {population} rows without replace=True",
            int(n),
            "pass a smaller n, or replace=True",
        )
    return int(n)


def _sample_size(
    n: object, frac: object, population: int, func: str, *, replace: bool = False
) -> int:
    """The row count asked for by exactly one of ``n`` and ``frac``."""
    if (n is None) == (frac is None):
        raise invalid(
            func, "n", "must be given, or frac instead, but not both", n, "pass n=100 or frac=0.1"
        )
    if n is not None:
        return _check_count(n, population, func, replace=replace)
    if (
        isinstance(frac, bool)
        or not isinstance(frac, numbers.Real)
        or not math.isfinite(float(frac))
        or float(frac) < 0
    ):
        raise invalid(func, "frac", "must be a finite number >= 0", frac)
    if float(frac) > 1 and not replace:
        raise invalid(
            func, "frac", "must be at most 1 without replace=True", frac, "pass replace=True"
        )
    return _round_half_up(float(frac) * population)


def _check_weights(df: pd.DataFrame, weights: Any, func: str, arg: str = "weights") -> FloatArray:
    """Per-row weights from a column name or an array: finite, non-negative, not all zero."""
    if isinstance(weights, str):
        column = check_columns(df, weights, func, arg)[0]
        series = df[column]
        what = f"column {column!r}"
    else:
        if isinstance(weights, pd.Series) and not weights.index.equals(df.index):
            raise invalid(
                func,
                arg,
                "must have the same index as the frame when it is a Series",
                verbatim(f"<Series with index {weights.index[:3].tolist()}...>"),
                "pass weights.reindex(df.index), or a column name",
            )
        series = pd.Series(np.asarray(weights).ravel() if np.ndim(weights) else [weights])
        what = "the weights"
        if len(series) != len(df):
            raise invalid(
                func, arg, f"must have one weight per row ({len(df)})", verbatim(f"{len(series)}")
            )
    if not (pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)):
        raise invalid(func, arg, "must be numeric", verbatim(f"{what} of dtype {series.dtype}"))
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(values)
    if bad.any():
        raise invalid(
            func,
            arg,
            "must be finite (no NaN or infinity)",
            verbatim(f"{int(bad.sum())} such values in {what}, e.g. {values[bad][0]}"),
            "fill or drop those rows first",
        )
    if (values < 0).any():
        raise invalid(
            func,
            arg,
            "must be non-negative",
            verbatim(
                f"{int((values < 0).sum())} negative values in {what}, e.g. {values[values < 0][0]}"
            ),
        )
    if not values.any():
        raise invalid(func, arg, "must not all be zero", verbatim(f"<{len(values)} zeros>"))
    return values


def largest_remainder(
    total: int, weights: Sequence[int] | IntArray, rng: np.random.Generator | None = None
) -> IntArray:
    """Split ``total`` into integers proportional to non-negative integer ``weights``.

    Each part is its quota ``total * w / sum(w)`` rounded down or up; the parts rounded up are
    those with the largest remainders (exact integer arithmetic). Ties go to random parts when
    ``rng`` is given, else to the earlier part.

    >>> largest_remainder(10, [1, 1, 1]).tolist()
    [4, 3, 3]
    """
    w = np.asarray(weights, dtype=np.int64)
    whole = int(w.sum())
    if w.ndim != 1 or (w < 0).any() or whole <= 0:
        raise invalid(
            "largest_remainder",
            "weights",
            "must be non-negative integers, not all zero",
            verbatim(str(w.tolist())[:200]),
        )
    if total < 0:
        raise invalid("largest_remainder", "total", "must be a non-negative int", total)
    scaled = w * np.int64(total)
    counts = scaled // whole
    remainders = scaled % whole
    missing = total - int(counts.sum())
    if missing:
        tiebreak = rng.random(len(w)) if rng is not None else np.arange(len(w), dtype=np.float64)
        order = np.lexsort((tiebreak, -remainders))
        counts[order[:missing]] += 1
    return counts


# --------------------------------------------------------------------------------------------
# Random, stratified and weighted samples


def sample_random(
    df: pd.DataFrame,
    n: int | None = None,
    frac: float | None = None,
    *,
    seed: Seed,
    replace: bool = False,
) -> pd.DataFrame:
    """A uniform random sample of ``n`` rows (or ``frac`` of the rows), original index kept.

    >>> frame = pd.DataFrame({"x": range(10)})
    >>> sample_random(frame, n=3, seed=1).equals(sample_random(frame, n=3, seed=1))
    True
    """
    df = check_frame(df, "sample_random")
    count = _sample_size(n, frac, len(df), "sample_random", replace=replace)
    rng = as_generator(seed, "sample_random")
    return df.iloc[rng.choice(len(df), size=count, replace=bool(replace))]


def _stratified_allocation(
    n: int, sizes: IntArray, minimum: int, rng: np.random.Generator, func: str
) -> IntArray:
    floors = np.minimum(sizes, minimum)
    if int(floors.sum()) > n:
        raise invalid(
            func,
            "min_per_stratum",
            f"needs {int(floors.sum())} rows for {len(sizes)} strata, more than n={n}",
            minimum,
            "ask for a larger n or a smaller min_per_stratum",
        )
    fixed = np.zeros(len(sizes), dtype=bool)
    while True:
        alloc = np.where(fixed, floors, 0)
        free = ~fixed
        rest = n - int(alloc[fixed].sum())
        if free.any() and sizes[free].sum() > 0:
            alloc[free] = largest_remainder(rest, sizes[free], rng)
        below = free & (alloc < floors)
        if not below.any():
            return alloc
        fixed |= below


def sample_stratified(
    df: pd.DataFrame,
    by: str | Sequence[str],
    n: int | None = None,
    frac: float | None = None,
    *,
    seed: Seed,
    min_per_stratum: int = 0,
) -> pd.DataFrame:
    """``n`` rows (or ``frac`` of the rows) with each stratum of ``by`` in its exact share.

    Strata are the distinct values (or value combinations) of ``by``, missing values included.
    Counts per stratum follow the largest-remainder rule of the module docstring; rows within a
    stratum are drawn uniformly without replacement.

    >>> frame = pd.DataFrame({"c": ["a"] * 5 + ["b"] * 3 + ["c"] * 2})
    >>> sample_stratified(frame, "c", n=4, seed=0)["c"].value_counts().sort_index().to_dict()
    {'a': 2, 'b': 1, 'c': 1}
    """
    func = "sample_stratified"
    df = check_frame(df, func)
    columns = check_columns(df, by, func, "by")
    count = _sample_size(n, frac, len(df), func)
    if (
        isinstance(min_per_stratum, bool)
        or not isinstance(min_per_stratum, numbers.Integral)
        or min_per_stratum < 0
    ):
        raise invalid(func, "min_per_stratum", "must be a non-negative int", min_per_stratum)
    rng = as_generator(seed, func)
    codes, strata = stratum_codes(df, columns)
    sizes = np.bincount(codes, minlength=strata).astype(np.int64)
    alloc = _stratified_allocation(count, sizes, int(min_per_stratum), rng, func)
    return df.iloc[_take_per_stratum(codes, sizes, alloc, rng)]


def _take_per_stratum(
    codes: IntArray, sizes: IntArray, alloc: IntArray, rng: np.random.Generator
) -> IntArray:
    """Positions of ``alloc[h]`` uniformly chosen rows of each stratum ``h``, in random order."""
    order = np.lexsort((rng.random(len(codes)), codes))  # by stratum, random within it
    starts = np.cumsum(sizes) - sizes
    sorted_codes = codes[order]
    rank = np.arange(len(codes)) - starts[sorted_codes]
    chosen = order[rank < alloc[sorted_codes]]
    return rng.permutation(chosen)


def sample_weighted(
    df: pd.DataFrame,
    weights: str | npt.ArrayLike,
    n: int,
    *,
    seed: Seed,
    replace: bool = False,
) -> pd.DataFrame:
    """``n`` rows drawn with probability proportional to ``weights`` (a column or one per row).

    Without replacement ``n`` may not exceed the rows of positive weight; the draws are
    successive (see the module docstring).
    """
    func = "sample_weighted"
    df = check_frame(df, func)
    w = _check_weights(df, weights, func)
    count = _check_count(n, len(df), func, replace=replace)
    positive = int(np.count_nonzero(w))
    if not replace and count > positive:
        raise invalid(
            func,
            "n",
            f"must be at most the {positive} rows of positive weight without replace=True",
            count,
            "pass a smaller n, or replace=True",
        )
    rng = as_generator(seed, func)
    return df.iloc[rng.choice(len(df), size=count, replace=bool(replace), p=w / w.sum())]


# --------------------------------------------------------------------------------------------
# Reservoir sampling


def _as_chunk(item: object) -> pd.DataFrame | None:
    """``item`` as a DataFrame chunk, or None for a plain row."""
    if isinstance(item, pd.DataFrame):
        return item
    if isinstance(item, pa.RecordBatch | pa.Table):
        return pd.DataFrame(item.to_pandas())
    return None


def reservoir_sample(stream: Iterable[Any], k: int, *, seed: Seed) -> pd.DataFrame | list[Any]:
    """A uniform sample of ``k`` items from one pass over ``stream``, in O(k) memory.

    ``stream`` yields plain rows (any objects; a list is returned) or DataFrame / Arrow chunks
    (a DataFrame is returned, its rows in reservoir-slot order). The first item decides: after a
    chunk every item must be a chunk with the same columns; after anything else, items are
    opaque rows (and skipped ones are never looked at). A DataFrame, an Arrow table or
    a source with ``iter_batches()`` is read in batches. Chunks keep their index; Arrow batches,
    which have none, get each row's position in the stream as its label. With fewer than ``k``
    items in the stream, all of them are returned.
    """
    func = "reservoir_sample"
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise invalid(func, "k", "must be a positive int", k)
    rng = as_generator(seed, func)
    if isinstance(stream, pd.DataFrame):
        chunks: Iterator[Any] = iter([stream])
    elif isinstance(stream, pa.Table | pa.RecordBatch) or callable(
        getattr(stream, "iter_batches", None)
    ):
        chunks = iter_batches(stream)
    elif isinstance(stream, Iterable) and not isinstance(stream, str | bytes):
        chunks = iter(stream)
    else:
        raise invalid(func, "stream", "must be an iterable of rows or of DataFrame chunks", stream)
    first = next(chunks, _END)
    if first is _END:
        raise invalid(func, "stream", "must yield at least one row", verbatim("<empty stream>"))
    head = _as_chunk(first)
    items = itertools.chain([first], chunks)
    if head is None:
        return _reservoir_rows(items, int(k), rng)
    return _reservoir_chunks(items, int(k), rng, head.columns)


_END = object()


def _open_unit(rng: np.random.Generator) -> float:
    """A uniform number in the open interval (0, 1)."""
    while True:
        u = float(rng.random())
        if u > 0.0:
            return u


def _reservoir_rows(items: Iterator[Any], k: int, rng: np.random.Generator) -> list[Any]:
    """Li's Algorithm L (1994): skip ahead by geometric jumps; O(k) memory, no per-item draw."""
    reservoir = list(itertools.islice(items, k))
    if len(reservoir) < k:
        return reservoir
    w = math.exp(math.log(_open_unit(rng)) / k)
    while True:
        skip = math.floor(math.log(_open_unit(rng)) / math.log1p(-w))
        # islice consumes the skipped items at C speed without keeping them.
        item = next(itertools.islice(items, skip, None), _END)
        if item is _END:
            return reservoir
        reservoir[int(rng.integers(k))] = item
        w *= math.exp(math.log(_open_unit(rng)) / k)


def _reservoir_chunks(
    items: Iterator[Any], k: int, rng: np.random.Generator, columns: pd.Index
) -> pd.DataFrame:
    """Algorithm R over chunks: item ``t`` (0-based) takes slot ``j ~ U{0..t}`` if ``j < k``.

    Per chunk, the accepted items are applied in stream order, so a slot hit twice keeps the
    later item, exactly as the item-by-item algorithm would.
    """
    reservoir: pd.DataFrame | None = None
    seen = 0
    for item in items:
        chunk = _as_chunk(item)
        if chunk is None:
            raise invalid(
                "reservoir_sample",
                "stream",
                "must yield only chunks once its first item is a chunk",
                verbatim(type(item).__name__),
            )
        if not chunk.columns.equals(columns):
            raise invalid(
                "reservoir_sample",
                "stream",
                "must yield chunks with the same columns",
                verbatim(f"{list(chunk.columns)} after {list(columns)}"),
            )
        if not isinstance(item, pd.DataFrame):  # Arrow: label rows by stream position
            chunk.index = pd.RangeIndex(seen, seen + len(chunk))
        rows = len(chunk)
        if rows == 0:
            continue
        t = np.arange(seen, seen + rows, dtype=np.int64)
        slots = np.where(t < k, t, rng.integers(0, t + 1))
        hit = np.flatnonzero(slots < k)
        if not len(hit):
            seen += rows
            continue
        # The last hit of each slot wins: unique over the reversed hits finds it.
        last_slots, first_in_reversed = np.unique(slots[hit][::-1], return_index=True)
        winners = hit[::-1][first_in_reversed]
        kept = 0 if reservoir is None else len(reservoir)
        size = min(seen + rows, k)
        take = np.arange(size, dtype=np.int64)
        take[last_slots] = kept + np.arange(len(winners))
        parts = [chunk.iloc[winners]] if reservoir is None else [reservoir, chunk.iloc[winners]]
        reservoir = pd.concat(parts).iloc[take]
        seen += rows
    if reservoir is None:
        raise invalid(
            "reservoir_sample", "stream", "must yield at least one row", verbatim("<empty chunks>")
        )
    return reservoir


# --------------------------------------------------------------------------------------------
# Importance sampling


class ImportanceSample(NamedTuple):
    """Rows drawn from a proposal and their importance weights (``E[w] = 1``).

    ``mean(weights * f(sample))`` is an unbiased estimate of the mean of ``f`` under the target;
    :meth:`estimate` computes it.
    """

    sample: pd.DataFrame
    weights: FloatArray

    def estimate(self, column: str) -> float:
        """The unbiased importance-sampling estimate of the target mean of ``column``."""
        values = check_columns(self.sample, column, "ImportanceSample.estimate", "column")
        return float(np.mean(self.weights * self.sample[values[0]].to_numpy(dtype=np.float64)))

    @property
    def effective_size(self) -> float:
        """Kish's effective sample size ``sum(w)**2 / sum(w**2)``: ``n`` when all weights match."""
        return float(self.weights.sum() ** 2 / np.square(self.weights).sum())


def importance_sample(
    df: pd.DataFrame,
    proposal: str | npt.ArrayLike,
    n: int,
    *,
    seed: Seed,
    target: str | npt.ArrayLike | None = None,
) -> ImportanceSample:
    """``n`` rows drawn i.i.d. from ``proposal`` weights, with weights ``p/q`` for the target.

    ``target`` defaults to the uniform distribution over rows (the frame as a population). Every
    row the target can reach must have a positive proposal weight, or no reweighting could
    recover it.
    """
    func = "importance_sample"
    df = check_frame(df, func)
    q = _check_weights(df, proposal, func, "proposal")
    p = np.ones(len(df)) if target is None else _check_weights(df, target, func, "target")
    count = _check_count(n, len(df), func, replace=True)
    q = q / q.sum()  # not in place: q may be a view of the caller's column
    p = p / p.sum()
    unreachable = (p > 0) & (q == 0)
    if unreachable.any():
        raise invalid(
            func,
            "proposal",
            "must be positive wherever the target is; rows the target weighs but the proposal "
            "never draws would bias every estimate",
            verbatim(f"<{int(unreachable.sum())} such rows>"),
            "give those rows a small positive proposal weight",
        )
    rng = as_generator(seed, func)
    positions = rng.choice(len(df), size=count, replace=True, p=q)
    return ImportanceSample(df.iloc[positions], p[positions] / q[positions])


# --------------------------------------------------------------------------------------------
# Class imbalance


def _check_ratio(ratio: object, func: str) -> float:
    if isinstance(ratio, bool) or not isinstance(ratio, numbers.Real) or not 0 < float(ratio) <= 1:
        raise invalid(
            func, "ratio", "must be a number in (0, 1] (minority / majority)", ratio, "e.g. 1.0"
        )
    return float(ratio)


def _class_codes(df: pd.DataFrame, target: str, func: str) -> tuple[IntArray, IntArray]:
    column = check_columns(df, target, func, "target")[0]
    codes, _ = pd.factorize(df[column], sort=True)
    missing = int((codes < 0).sum())
    if missing:
        raise invalid(
            func,
            "target",
            "must have no missing labels",
            verbatim(f"{missing} missing in column {column!r}"),
            "drop or fill them first",
        )
    codes = codes.astype(np.int64)
    return codes, np.bincount(codes).astype(np.int64)


def oversample(df: pd.DataFrame, target: str, *, seed: Seed, ratio: float = 1.0) -> pd.DataFrame:
    """Every row, plus rows of small classes drawn again until each class is ``ratio`` * majority.

    A class of ``n_c`` rows below ``floor(ratio * majority + 0.5)`` rows gets the difference
    drawn uniformly with replacement from its own rows; larger classes are kept as they are.
    Repeated rows repeat their index label.
    """
    func = "oversample"
    df = check_frame(df, func)
    share = _check_ratio(ratio, func)
    codes, counts = _class_codes(df, target, func)
    rng = as_generator(seed, func)
    goal = _round_half_up(share * int(counts.max()))
    extra = [
        rng.choice(np.flatnonzero(codes == c), size=goal - int(size), replace=True)
        for c, size in enumerate(counts)
        if size < goal
    ]
    positions = np.concatenate([np.arange(len(df)), *extra])
    return df.iloc[rng.permutation(positions)]


def undersample(df: pd.DataFrame, target: str, *, seed: Seed, ratio: float = 1.0) -> pd.DataFrame:
    """Rows of large classes dropped at random until the minority is ``ratio`` * each class.

    A class above ``floor(minority / ratio + 0.5)`` rows keeps that many, drawn uniformly
    without replacement; smaller classes are kept whole.
    """
    func = "undersample"
    df = check_frame(df, func)
    share = _check_ratio(ratio, func)
    codes, counts = _class_codes(df, target, func)
    rng = as_generator(seed, func)
    cap = _round_half_up(int(counts.min()) / share)
    return df.iloc[_take_per_stratum(codes, counts, np.minimum(counts, cap), rng)]


def class_weights(y: npt.ArrayLike, scheme: Literal["balanced"] = "balanced") -> dict[Any, float]:
    """Per-class weights ``n_samples / (n_classes * count_c)``, classes in sorted order.

    The same numbers as scikit-learn's ``compute_class_weight("balanced", ...)`` (tested
    against it), computed with pandas and numpy so the data layer does not import scikit-learn.

    >>> class_weights(["a", "a", "a", "b"])
    {'a': 0.6666666666666666, 'b': 2.0}
    """
    func = "class_weights"
    if scheme != "balanced":
        raise invalid(func, "scheme", "must be 'balanced'", scheme)
    labels = y if isinstance(y, pd.Series | pd.Index) else np.asarray(y)
    if labels.ndim != 1 or len(labels) == 0:
        raise invalid(
            func, "y", "must be a non-empty 1-d array of labels", verbatim(f"shape {labels.shape}")
        )
    # factorize hashes; np.unique (what scikit-learn uses) sorts every label, ~50x slower on
    # strings. For labels of one kind both give the classes in the same sorted order.
    codes, classes = pd.factorize(labels, sort=True)
    missing = int((codes < 0).sum())
    if missing:
        raise invalid(func, "y", "must have no missing labels", verbatim(f"{missing} missing"))
    kind = pd.api.types.infer_dtype(classes, skipna=False)
    if kind in ("mixed", "mixed-integer"):
        raise invalid(
            func, "y", "must hold labels of one kind", verbatim(f"{kind} labels"), "cast them"
        )
    counts = np.bincount(codes)
    weights = len(labels) / (len(classes) * counts.astype(np.float64))
    return {c: float(w) for c, w in zip(classes.tolist(), weights.tolist(), strict=True)}
