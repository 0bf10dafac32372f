"""Class imbalance: what to fit on, and with which weights.

:func:`rebalance` applies one method to a training frame (``seed`` makes it repeatable):

- ``"none"``: the frame as it is, no weights.
- ``"class_weight"``: the frame as it is, with ``class_weight`` ``n / (k * n_c)`` per class
  (:func:`loopml.data.sampling.class_weights`, scikit-learn's "balanced") and the matching
  per-row ``sample_weight``. Pass ``class_weight`` to :func:`loopml.training.build_model`
  (every zoo classifier takes it), or ``sample_weight`` to ``fit``; not both, which would
  weigh twice.
- ``"oversample"``: every row plus minority rows drawn again with replacement until each
  class has ``ratio`` times the majority's rows (:func:`loopml.data.sampling.oversample`).
- ``"undersample"``: majority rows dropped at random down to ``minority / ratio``
  (:func:`loopml.data.sampling.undersample`).

Resampling changes the class shares the model sees, so its probabilities are no longer
calibrated to the real base rate; ``class_weight`` does the same in expectation. Rank metrics
(ROC AUC) are unaffected; recalibrate (``loopml.evaluate``) when probabilities matter.
Only the training part is ever rebalanced: validation and test keep the real shares.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from loopml.data.sampling import class_weights, oversample, undersample
from loopml.training._common import check_choice, check_columns, check_frame, check_seed

__all__ = ["IMBALANCE_METHODS", "Rebalanced", "rebalance"]

Method = Literal["none", "class_weight", "oversample", "undersample"]
IMBALANCE_METHODS: tuple[Method, ...] = ("none", "class_weight", "oversample", "undersample")


@dataclass(frozen=True)
class Rebalanced:
    """The frame to fit on and the weights to fit with (``None`` when the method has none)."""

    frame: pd.DataFrame = field(repr=False)
    method: str
    class_weight: Mapping[Any, float] | None = None
    sample_weight: npt.NDArray[np.float64] | None = field(default=None, repr=False)
    #: Rows per class before and after.
    counts_before: Mapping[Any, int] = field(default_factory=dict)
    counts_after: Mapping[Any, int] = field(default_factory=dict)


def _counts(target: pd.Series[Any]) -> dict[Any, int]:
    return {k: int(v) for k, v in target.value_counts().sort_index().items()}


def rebalance(
    frame: pd.DataFrame,
    target: str,
    method: str = "none",
    *,
    seed: int = 0,
    ratio: float = 1.0,
) -> Rebalanced:
    """``frame`` rebalanced on the classes of column ``target`` by ``method``.

    >>> frame = pd.DataFrame({"x": range(5), "y": [0, 0, 0, 0, 1]})
    >>> out = rebalance(frame, "y", "class_weight")
    >>> out.class_weight, out.sample_weight.tolist()
    ({0: 0.625, 1: 2.5}, [0.625, 0.625, 0.625, 0.625, 2.5])
    >>> rebalance(frame, "y", "oversample", seed=0).counts_after
    {0: 4, 1: 4}
    """
    frame = check_frame(frame, "rebalance() frame")
    column = check_columns(frame, target, "rebalance() target")[0]
    chosen = check_choice("imbalance method", method, IMBALANCE_METHODS)
    seed = check_seed(seed, "rebalance() seed")
    before = _counts(frame[column])
    if chosen == "none":
        return Rebalanced(frame, chosen, counts_before=before, counts_after=before)
    if chosen == "class_weight":
        weights = class_weights(frame[column])
        per_row = frame[column].map(weights).to_numpy(dtype=np.float64)
        return Rebalanced(frame, chosen, weights, per_row, before, before)
    sample = oversample if chosen == "oversample" else undersample
    out = sample(frame, column, seed=seed, ratio=ratio)
    return Rebalanced(out, chosen, counts_before=before, counts_after=_counts(out[column]))
