"""The HTML report: one offline page (plotly.js inlined once, no external script, link or
stylesheet), every user string escaped (a column named ``<script>`` and a hostile category
value), figures for every part, gates with their verdicts."""

from __future__ import annotations

import json
import re
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from loopml.core.errors import InvalidInput
from loopml.evaluate import (
    EvaluationResult,
    ImprovementGate,
    Invariance,
    MetricGate,
    check_gates,
    evaluate,
    to_html,
)

HOSTILE_COLUMN = "<script>alert('column')</script>"
HOSTILE_VALUE = '<img src=x onerror="alert(1)">'


@pytest.fixture(scope="module")
def hostile() -> tuple[EvaluationResult, pd.DataFrame]:
    rng = np.random.default_rng(0)
    n = 3_000
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            HOSTILE_COLUMN: rng.choice([HOSTILE_VALUE, "plain & simple"], n),
        }
    )
    frame["y"] = (frame["x"] + rng.normal(size=n) > 0).astype(int)
    model = LogisticRegression().fit(frame[["x"]], frame["y"])
    result = evaluate(
        model,
        frame,
        "y",
        baseline=np.full(n, 0.5),
        slices=[HOSTILE_COLUMN, "x"],
        sensitive=[HOSTILE_COLUMN],
        behaviour=[Invariance("x", max_fail_rate=1.0)],
        recalibrate="isotonic",
        n_resamples=200,
    )
    return result, frame


def _scripts(page: str) -> list[str]:
    return re.findall(r"<script\b[^>]*>", page)


def test_the_page_is_offline_with_plotly_inlined_once(
    hostile: tuple[EvaluationResult, pd.DataFrame],
) -> None:
    from plotly.offline import get_plotlyjs

    result, _ = hostile
    page = to_html(result)
    assert page.startswith("<!DOCTYPE html>")
    assert page.count(get_plotlyjs()) == 1
    assert _scripts(page) == ['<script type="text/javascript">', "<script>"]
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r"<link\b", page)
    ours = page.replace(get_plotlyjs(), "")  # plotly.js itself names its site in a logo link
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", ours)
    assert "http://" not in ours
    assert "https://" not in ours


def test_user_strings_are_escaped(hostile: tuple[EvaluationResult, pd.DataFrame]) -> None:
    result, _ = hostile
    page = to_html(result, title="<b>my</b> model")
    outside = page.replace(_plotly(), "")
    assert HOSTILE_COLUMN not in page
    assert HOSTILE_VALUE not in page
    assert "<img" not in outside
    assert "<b>my</b>" not in outside
    assert "&lt;b&gt;my&lt;/b&gt; model" in outside
    assert "&lt;script&gt;alert(&#x27;column&#x27;)&lt;/script&gt;" in outside
    assert "plain &amp; simple" in outside
    # The figure JSON escapes <, > and &, so no string can end the drawing script early.
    drawing = outside[outside.rindex("<script>") :]
    body = drawing[len("<script>") : drawing.index("</script>")]
    assert "<" not in body
    assert ">" not in body.replace("=>", "")
    figures = json.loads(
        "[" + body[body.index("[[") + 1 : body.rindex("]];") + 1].replace("\\u003c", "<") + "]"
    )
    texts = json.dumps(figures)
    assert "&lt;script&gt;" in texts  # escaped again inside the figures: plotly renders entities


def _plotly() -> str:
    from plotly.offline import get_plotlyjs

    script: str = get_plotlyjs()
    return script


def test_every_part_has_its_section_and_figure(
    hostile: tuple[EvaluationResult, pd.DataFrame],
) -> None:
    result, _ = hostile
    gates = check_gates(
        [MetricGate("roc_auc", min=0.99), ImprovementGate("roc_auc")], result, champion=None
    )
    page = to_html(result, gates)
    for heading in (
        "Gates",
        "Metrics",
        "Gain over the baseline",
        "Curves",
        "Calibration",
        "Slices",
        "Worst slices",
        "Behavioural tests",
        "Fairness",
        "Importance",
        "Latency",
        "Notes" if result.notes else "Seconds",
    ):
        assert f"<h2>{heading}" in page, heading
    figures = re.findall(r'<div id="fig\d+" class="(?:fig|wide)"></div>', page)
    # ROC, PR, metrics, gains, reliability, 2 slice columns, worst slices, importance, latency.
    assert len(figures) == 10
    assert page.count("Plotly.newPlot") == 1  # one loop draws them all
    assert '<span class="badge fail">fail</span>' in page
    assert '<span class="badge skip">skip</span>' in page
    assert "no champion to compare with" in page


def test_regression_report_and_saved_page() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=500)})
    frame["y"] = 3 * frame["x"] + rng.normal(size=500) + 10
    model = LinearRegression().fit(frame[["x"]], frame["y"])
    result = evaluate(model, frame, "y", latency=False, n_resamples=100, importance=None)
    page = to_html(result)
    assert "Mean target by prediction decile" in page
    assert "<h2>Calibration" not in page
    assert "<h2>Fairness" not in page


def test_bad_arguments(hostile: tuple[EvaluationResult, pd.DataFrame]) -> None:
    result, _ = hostile
    with pytest.raises(InvalidInput, match=r"'result' must be an EvaluationResult"):
        to_html({"metrics": {}})  # type: ignore[arg-type]
    bad: Any = [MetricGate("roc_auc", min=0.5)]
    with pytest.raises(InvalidInput, match=r"'gates' must be a GateReport or None"):
        to_html(result, bad)
