"""Rebalancing: weights equal scikit-learn's "balanced", resampled class counts as asked, the
frame untouched where the method says so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.class_weight import compute_class_weight

from loopml.core.errors import InvalidInput
from loopml.training import build_model, rebalance


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    return pd.DataFrame({"x": rng.normal(size=1_000), "y": (rng.random(1_000) < 0.1).astype(int)})


def test_class_weight_is_sklearns_balanced(frame: pd.DataFrame) -> None:
    out = rebalance(frame, "y", "class_weight")
    reference = compute_class_weight("balanced", classes=np.array([0, 1]), y=frame["y"])
    assert out.class_weight == pytest.approx(dict(enumerate(reference)), rel=1e-12)
    assert out.frame is frame
    assert out.sample_weight is not None
    assert np.array_equal(out.sample_weight, np.where(frame["y"] == 1, reference[1], reference[0]))
    model = build_model("logistic_regression", "classification", class_weight=out.class_weight)
    assert model.named_steps["model"].class_weight == out.class_weight


def test_resampling_balances_the_classes(frame: pd.DataFrame) -> None:
    before = frame["y"].value_counts().to_dict()
    over = rebalance(frame, "y", "oversample", seed=1)
    assert over.counts_before == before
    assert over.counts_after == {0: before[0], 1: before[0]}
    assert over.class_weight is None
    assert over.sample_weight is None
    under = rebalance(frame, "y", "undersample", seed=1, ratio=0.5)
    assert under.counts_after == {0: 2 * before[1], 1: before[1]}
    assert rebalance(frame, "y", "undersample", seed=1).frame.equals(
        rebalance(frame, "y", "undersample", seed=1).frame
    )
    none = rebalance(frame, "y")
    assert none.frame is frame
    assert none.counts_after == before


def test_bad_arguments_are_refused(frame: pd.DataFrame) -> None:
    with pytest.raises(InvalidInput, match="did you mean 'oversample'"):
        rebalance(frame, "y", "oversampling")
    with pytest.raises(InvalidInput, match="did you mean 'y'"):
        rebalance(frame, "yy", "class_weight")
    with pytest.raises(InvalidInput, match=r"ratio.*\(0, 1\]"):
        rebalance(frame, "y", "oversample", ratio=2.0)
