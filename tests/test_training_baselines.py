"""Baselines: exact rates (pandas is the reference), rules that agree with ``DataFrame.eval`` on
any row, and models made of scikit-learn types that load without trust, bit-identically."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loopml
from loopml.core.errors import InvalidInput
from loopml.demo import load_flights
from loopml.training import GroupRateBaseline, MajorityBaseline, RuleBaseline, saveable

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def flights() -> tuple[pd.DataFrame, pd.DataFrame]:
    train, valid, _ = load_flights(quick=True)
    return train, valid


def _round_trip(model: Any, frame: pd.DataFrame) -> loopml.LoadedModel:
    info = loopml.log_model(saveable(model), "baseline", signature=frame)
    loaded = loopml.load_model(info.model_uri)  # no trust=True
    recorded = loaded.manifest.options.get("trusted_types", [])
    assert all(t.split(".")[0] in ("sklearn", "numpy") for t in recorded), recorded
    return loaded


def test_majority_is_the_prior_and_the_mean(flights: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    train, valid = flights
    X, Xv = train.drop(columns="delayed"), valid.drop(columns="delayed")
    prior = MajorityBaseline().fit(X, train["delayed"])
    assert prior.predict_proba(Xv)[0, 1] == train["delayed"].mean()
    assert np.array_equal(_round_trip(prior, X).predict_proba(Xv), prior.predict_proba(Xv))
    mean = MajorityBaseline(task="regression").fit(X, train["distance"])
    assert mean.predict(Xv)[0] == train["distance"].mean()
    assert np.array_equal(_round_trip(mean, X).predict(Xv), mean.predict(Xv))


@pytest.mark.parametrize(
    "rule",
    [
        "sched_dep_hour >= 17",
        "sched_dep_hour >= 17 and origin == 'EWR'",
        "(distance < 500.5 or carrier in ['EV', 'MQ']) & ~(day_of_week == 6)",
        "6 <= sched_dep_hour < 12 or dest not in ('ORD', 'ATL')",
        "not sched_arr_hour > -1",  # never holds: that side is the overall rate
    ],
)
def test_rule_rates_are_the_pandas_rates(
    rule: str, flights: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    train, valid = flights
    X, y, Xv = train.drop(columns="delayed"), train["delayed"], valid.drop(columns="delayed")
    model = RuleBaseline(rule).fit(X, y)
    holds = X.eval(rule)
    overall = y.mean()
    assert model.rate_true_ == (y[holds].mean() if holds.any() else overall)
    assert model.rate_false_ == (y[~holds].mean() if (~holds).any() else overall)
    expected = np.where(Xv.eval(rule), model.rate_true_, model.rate_false_)
    proba = model.predict_proba(Xv)
    assert np.array_equal(proba[:, 1], expected)
    assert np.array_equal(_round_trip(model, X).predict_proba(Xv), proba)


def test_a_regression_rule_predicts_the_side_means(
    flights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    train, valid = flights
    X = train.drop(columns="distance")
    model = RuleBaseline("origin == 'JFK'", task="regression").fit(X, train["distance"])
    holds = X.eval("origin == 'JFK'")
    assert model.rate_true_ == train["distance"][holds].mean()
    Xv = valid.drop(columns="distance")
    assert np.array_equal(_round_trip(model, X).predict(Xv), model.predict(Xv))


_VALUES = st.one_of(
    st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.5, 3.0, 1e9]),
    st.floats(-5, 5, allow_nan=False),
    st.just(math.nan),
)
_OPS = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])


@settings(max_examples=60)
@given(
    thresholds=st.lists(st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.5, 3.0]), min_size=1, max_size=3),
    ops=st.lists(_OPS, min_size=3, max_size=3),
    joins=st.lists(st.sampled_from(["and", "or"]), min_size=2, max_size=2),
    train_x=st.lists(_VALUES, min_size=20, max_size=40),
    test_x=st.lists(_VALUES, min_size=1, max_size=40),
    words=st.lists(st.sampled_from(["a", "b", "c", None]), min_size=40, max_size=40),
)
def test_a_rule_agrees_with_dataframe_eval_on_unseen_rows(
    thresholds: list[float],
    ops: list[str],
    joins: list[str],
    train_x: list[float],
    test_x: list[float],
    words: list[str | None],
) -> None:
    parts = [f"x {op} {t!r}" for op, t in zip(ops, thresholds, strict=False)]
    parts.append("w in ['a', 'zz']")
    rule = parts[0]
    for join, part in zip(joins, parts[1:], strict=False):
        rule = f"({rule}) {join} {part}"
    train = pd.DataFrame({"x": train_x, "w": pd.Series(words[: len(train_x)], dtype=object)})
    y = np.arange(len(train)) % 2
    model = RuleBaseline(rule).fit(train, y)
    test = pd.DataFrame({"x": test_x, "w": pd.Series(words[: len(test_x)], dtype=object)})
    expected = np.where(test.eval(rule, engine="python"), model.rate_true_, model.rate_false_)
    assert np.array_equal(model.predict_proba(test)[:, 1], expected)


def test_group_rates_are_the_pandas_group_rates(
    flights: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    train, valid = flights
    X, y = train.drop(columns="delayed"), train["delayed"]
    X.loc[X.index[::50], "dest"] = None  # missing is not a group: the overall rate
    model = GroupRateBaseline("dest").fit(X, y)
    rates = y.groupby(X["dest"]).mean()
    Xv = valid.drop(columns="delayed").copy()
    Xv.loc[Xv.index[:3], "dest"] = "NOWHERE"
    Xv.loc[Xv.index[3:6], "dest"] = None
    expected = Xv["dest"].map(rates).fillna(y.mean()).to_numpy()
    proba = model.predict_proba(Xv)
    assert np.array_equal(proba[:, 1], expected)
    assert np.array_equal(_round_trip(model, X).predict_proba(Xv), proba)


def test_group_rate_picks_the_informative_column() -> None:
    rng = np.random.default_rng(3)
    n = 4_000
    frame = pd.DataFrame(
        {
            "noise": rng.integers(0, 50, n),  # 50 groups of nothing
            "signal": rng.choice(["low", "high"], n),
            "row_id": np.arange(n),  # one group per row: in-sample it would look perfect
        }
    )
    y = (rng.random(n) < np.where(frame["signal"] == "high", 0.6, 0.2)).astype(int)
    model = GroupRateBaseline(max_groups=n).fit(frame, y)
    assert model.column_ == "signal"
    assert model.scores_["signal"] < min(model.scores_["noise"], model.scores_["row_id"])
    # Out of fold, one group per row predicts the overall rate: no better than the base rate.
    base = -np.mean(np.log(np.where(y == 1, y.mean(), 1 - y.mean())))
    assert model.scores_["row_id"] == pytest.approx(base, rel=1e-3)
    regression = GroupRateBaseline(task="regression", max_groups=n).fit(frame, y * 10.0)
    assert regression.column_ == "signal"
    assert regression.predict(frame.head(2)).tolist() == [
        (y * 10.0)[frame["signal"] == frame["signal"][i]].mean() for i in range(2)
    ]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ("sched_dep_hr >= 17", "did you mean 'sched_dep_hour'"),
        ("carrier > 'M'", "may only test column 'carrier'"),
        ("distance > 'far'", "with a non-number"),
        ("distance > sched_dep_hour", "not with an expression"),
        ("distance * 2 > 100", "must compare a column with constants"),
        ("abs(distance) > 100", "must compare a column with constants"),
        ("distance >", "must parse"),
        ("", "non-empty string"),
    ],
)
def test_bad_rules_are_refused(
    rule: str, message: str, flights: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    train, _ = flights
    with pytest.raises(InvalidInput, match=message):
        RuleBaseline(rule).fit(train.drop(columns="delayed"), train["delayed"])


def test_saveable_needs_a_fitted_baseline() -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        saveable(RuleBaseline("x > 1"))
    model = object()
    assert saveable(model) is model
