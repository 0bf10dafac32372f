"""The evaluation report: one self-contained, offline HTML page with plotly figures.

:func:`to_html` renders an :class:`~loopml.evaluate.result.EvaluationResult` (and, optionally, a
:class:`~loopml.evaluate.gates.GateReport`). Rules:

- **Offline, one file.** plotly.js (the version of the installed ``plotly`` package) is inlined
  once, in the page head; each figure is a ``<div>`` drawn by one script at the end of the page
  from JSON. There is no CDN, no ``<script src>``, no external stylesheet, font or image, so the
  page opens from disk, an artifact store or an e-mail attachment alike.
- **Escaping.** Every string that comes from the user or the data (title, target, column names,
  category values, slice descriptions, notes, behaviour examples) is HTML-escaped with
  ``html.escape`` wherever it lands: in the page's HTML, and in figure text (plotly.js renders
  entities, and would otherwise read ``<b>``-like tags in labels). The figures' JSON is written
  with ``<``, ``>`` and ``&`` as ``\\u003c``, ``\\u003e``, ``\\u0026``, so no string can close the
  script element it sits in.
- Figures: ROC and precision-recall curves (classification) or mean target by prediction decile
  (regression), metric estimates with their intervals, gains over the baseline, the reliability
  curve, the primary metric by slice (one figure per slice column), worst slices, importance and
  the latency histogram. Tables: gates with their verdicts, metrics, gains, calibration, slices,
  worst slices, behaviour tests, fairness, importance, latency, notes and seconds per part.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from typing import Any

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.core.html_page import BASE_CSS, page
from loopml.core.html_page import escape as _e
from loopml.core.html_page import table as _table
from loopml.evaluate.catalog import metric_spec
from loopml.evaluate.gates import GateReport
from loopml.evaluate.result import EvaluationResult

__all__ = ["to_html"]

_CSS = (
    BASE_CSS
    + """\
.fail{background:#fde2e1;color:#9b1c1c}.skip{background:#fdf0d5;color:#8a5300}
.pass{background:#dcf5e3;color:#1e6b35}.grid{display:flex;gap:1rem;flex-wrap:wrap}
.fig{width:560px;height:380px}.wide{width:1000px;height:420px}
"""
)
_CONFIG = {"displaylogo": False, "responsive": True}
_JSON_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def _num(value: float | int | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}"


@functools.lru_cache(maxsize=1)
def _plotly_js() -> str:
    from plotly.offline import get_plotlyjs

    script: str = get_plotlyjs()
    return script


def _badge(verdict: str) -> str:
    kind = verdict if verdict in ("pass", "fail") else "skip"
    return f'<span class="badge {kind}">{kind}</span>'


class _Figures:
    """Figure divs in page order, and their JSON for the drawing script."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, figure: Any, wide: bool = False) -> str:
        import plotly.io as pio

        ident = f"fig{len(self.items)}"
        self.items.append((ident, pio.to_json(figure, validate=False)))
        return f'<div id="{ident}" class="{"wide" if wide else "fig"}"></div>'

    def script(self) -> str:
        entries = ",".join(
            f'["{ident}",{text.translate(_JSON_ESCAPES)}]' for ident, text in self.items
        )
        config = json.dumps(_CONFIG)
        return (
            f"<script>(function(){{var figs=[{entries}];figs.forEach(function(f){{"
            f"Plotly.newPlot(f[0],f[1].data,f[1].layout,{config});}});}})();</script>"
        )


def _layout(title: str, x: str, y: str, **extra: Any) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": x}},
        "yaxis": {"title": {"text": y}},
        "margin": {"l": 60, "r": 20, "t": 50, "b": 60},
        "template": "plotly_white",
        **extra,
    }


def _curves(result: EvaluationResult, figs: _Figures) -> str:
    import plotly.graph_objects as go

    curves = result.curves
    if curves is None:
        return ""
    if curves.kind == "regression":
        fig = go.Figure(
            [
                go.Scatter(x=curves.first_x, y=curves.first_y, mode="lines+markers", name="mean"),
                go.Scatter(
                    x=[min(curves.first_x), max(curves.first_x)],
                    y=[min(curves.first_x), max(curves.first_x)],
                    mode="lines",
                    line={"dash": "dot"},
                    name="ideal",
                ),
            ],
            _layout("Mean target by prediction decile", "mean prediction", "mean target"),
        )
        return "<h2>Predictions</h2>" + figs.add(fig)
    auc = result.metrics.get("roc_auc")
    pr = result.metrics.get("pr_auc")
    roc = go.Figure(
        [
            go.Scatter(x=curves.first_x, y=curves.first_y, mode="lines", name="model"),
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot"}, name="chance"),
        ],
        _layout(
            f"ROC (AUC {_num(auc.value) if auc else '-'})",
            "false positive rate",
            "true positive rate",
        ),
    )
    prc = go.Figure(
        [go.Scatter(x=curves.second_x, y=curves.second_y, mode="lines", name="model")],
        _layout(f"Precision-recall (AP {_num(pr.value) if pr else '-'})", "recall", "precision"),
    )
    return f'<h2>Curves</h2><div class="grid">{figs.add(roc)}{figs.add(prc)}</div>'


def _intervals(centres: Mapping[str, float], bounds: Mapping[str, Any], layout: Any) -> Any:
    """One dot per name at its centre, with error bars to the ``low`` and ``high`` of its
    interval in ``bounds``."""
    import plotly.graph_objects as go

    names = list(centres)
    return go.Figure(
        go.Scatter(
            x=list(centres.values()),
            y=names,
            mode="markers",
            error_x={
                "type": "data",
                "symmetric": False,
                "array": [bounds[n].high - centres[n] for n in names],
                "arrayminus": [centres[n] - bounds[n].low for n in names],
            },
        ),
        layout,
    )


def _metrics(result: EvaluationResult, figs: _Figures) -> str:
    rows = [
        (
            _e(name),
            _num(e.value),
            _num(e.low),
            _num(e.high),
            _e("higher" if metric_spec(name).higher_is_better else "lower"),
            _num(e.n_undefined),
        )
        for name, e in result.metrics.items()
    ]
    level = next(iter(result.metrics.values())).confidence if result.metrics else 0.95
    table = _table(
        ["metric", "value", f"{level:.0%} low", "high", "better", "undefined resamples"],
        rows,
        (1, 2, 3, 5),
    )
    fig = _intervals(
        {n: e.value for n, e in result.metrics.items()},
        result.metrics,
        _layout(
            f"Metrics with {level:.0%} bootstrap intervals ({result.n_resamples:,} resamples)",
            "value",
            "",
        ),
    )
    out = f"<h2>Metrics</h2>{table}{figs.add(fig)}"
    if result.gains:
        gain_rows = [
            (_e(n), _num(g.candidate), _num(g.baseline), _num(g.delta), _num(g.low), _num(g.high))
            for n, g in result.gains.items()
        ]
        gain_table = _table(
            ["metric", "model", "baseline", "difference", "low", "high"], gain_rows, (1, 2, 3, 4, 5)
        )
        gain_fig = _intervals(
            {n: g.delta for n, g in result.gains.items()},
            result.gains,
            _layout(
                "Model minus baseline (paired bootstrap; for a loss, negative is better)",
                "difference",
                "",
                shapes=[
                    {
                        "type": "line",
                        "x0": 0,
                        "x1": 0,
                        "y0": 0,
                        "y1": 1,
                        "yref": "paper",
                        "line": {"dash": "dot"},
                    }
                ],
            ),
        )
        out += f"<h2>Gain over the baseline</h2>{gain_table}{figs.add(gain_fig)}"
    return out


def _calibration(result: EvaluationResult, figs: _Figures) -> str:
    import plotly.graph_objects as go

    cal = result.calibration
    if cal is None:
        return ""
    curve = cal.curve
    fig = go.Figure(
        [
            go.Scatter(
                x=curve.mean_predicted.tolist(),
                y=curve.fraction_positive.tolist(),
                mode="lines+markers",
                name="model",
                text=[f"{int(c):,} rows" for c in curve.counts],
            ),
            go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot"}, name="calibrated"),
        ],
        _layout("Reliability curve", "mean predicted probability", "fraction of positives"),
    )
    rows = [("ECE", _num(cal.ece)), ("MCE", _num(cal.mce))]
    if cal.recalibration is not None:
        rows += [
            (f"ECE after {_e(cal.recalibration)} (cross-fitted)", _num(cal.recalibrated_ece)),
            (f"MCE after {_e(cal.recalibration)} (cross-fitted)", _num(cal.recalibrated_mce)),
        ]
    return f"<h2>Calibration</h2>{_table(['measure', 'value'], rows, (1,))}{figs.add(fig)}"


def _slices(result: EvaluationResult, figs: _Figures) -> str:
    import plotly.graph_objects as go

    if not result.slices:
        return ""
    metric = (
        result.primary_metric
        if result.primary_metric in result.slices
        else next(iter(result.slices))
    )
    report = result.slices[metric]
    parts = [
        f"<h2>Slices</h2><p class='muted'>{_e(metric)} by slice; overall "
        f"{_num(report.overall)}; slices with fewer than {report.min_support:,} rows are not "
        "scored.</p>"
    ]
    for column in report.columns:
        labels = [_e(s.description) for s in column.slices]
        fig = go.Figure(
            go.Bar(
                x=labels,
                y=[s.value for s in column.slices],
                text=[f"{s.support:,} rows" for s in column.slices],
            ),
            _layout(
                f"{_e(metric)} by {_e(column.column)}",
                "",
                _e(metric),
                shapes=[
                    {
                        "type": "line",
                        "x0": 0,
                        "x1": 1,
                        "xref": "paper",
                        "y0": report.overall,
                        "y1": report.overall,
                        "line": {"dash": "dot"},
                    }
                ],
            ),
        )
        rows = [
            (_e(s.description), _num(s.support), _num(s.value), _num(s.gap), _e(s.note or ""))
            for s in column.slices
        ]
        small = (
            f"<p class='muted'>{column.small:,} slice(s) ({column.small_rows:,} rows) under the "
            "minimum support.</p>"
            if column.small
            else ""
        )
        parts.append(
            f"<h3>{_e(column.column)}</h3>{figs.add(fig, wide=True)}"
            + _table(["slice", "rows", _e(metric), "gap to overall", "note"], rows, (1, 2, 3))
            + small
        )
    return "".join(parts)


def _worst(result: EvaluationResult, figs: _Figures) -> str:
    import plotly.graph_objects as go

    if not result.worst_slices:
        return (
            "<h2>Worst slices</h2><p class='muted'>No slice has a significantly higher loss "
            "(Welch t-test, Benjamini-Hochberg).</p>"
        )
    worst = result.worst_slices
    fig = go.Figure(
        go.Bar(
            y=[_e(s.description) for s in worst][::-1],
            x=[s.effect_size for s in worst][::-1],
            orientation="h",
            text=[f"{s.support:,} rows" for s in worst][::-1],
        ),
        _layout("Worst slices: effect size of the loss gap", "effect size", ""),
    )
    rows = [
        (
            _e(s.description),
            _num(s.support),
            _num(s.value),
            _num(s.gap),
            _num(s.loss),
            _num(s.loss_outside),
            _num(s.effect_size),
            _num(s.q_value, 3),
        )
        for s in worst
    ]
    metric = _e(worst[0].metric)
    table = _table(
        ["slice", "rows", metric, "gap", "loss", "loss outside", "effect size", "q-value"],
        rows,
        (1, 2, 3, 4, 5, 6, 7),
    )
    return f"<h2>Worst slices</h2>{figs.add(fig, wide=True)}{table}"


def _behaviour(result: EvaluationResult) -> str:
    if not result.behaviour:
        return ""
    rows = []
    for b in result.behaviour:
        examples = "".join(
            f"<div><code>{_e(json.dumps(x, default=str))}</code></div>" for x in b.examples[:3]
        )
        rows.append(
            (
                _e(b.name),
                _e(b.kind),
                _badge("pass" if b.passed else "fail"),
                _num(b.measured),
                _num(b.threshold),
                _num(b.rows),
                _e(b.detail) + examples,
            )
        )
    table = _table(
        ["test", "kind", "verdict", "measured", "threshold", "rows", "detail"], rows, (3, 4, 5)
    )
    return f"<h2>Behavioural tests</h2>{table}"


def _fairness(result: EvaluationResult) -> str:
    report = result.fairness
    if report is None:
        return ""
    features = report.group_metrics.features
    aucs = report.roc_auc_by_group or tuple(math.nan for _ in report.group_metrics.groups)
    rows = [
        (
            _e(", ".join(f"{f}={v}" for f, v in zip(features, g.key, strict=True))),
            _num(g.count),
            _num(g.selection_rate),
            _num(g.true_positive_rate),
            _num(g.false_positive_rate),
            _num(auc),
        )
        for g, auc in zip(report.group_metrics.groups, aucs, strict=True)
    ]
    groups = _table(
        ["group", "rows", "selection rate", "TPR", "FPR", "ROC AUC"], rows, (1, 2, 3, 4, 5)
    )
    gaps = _table(
        ["criterion", "method", "difference", "ratio"],
        [
            (_e(d.criterion), _e(d.method), _num(d.difference), _num(d.ratio))
            for d in report.disparities
        ],
        (2, 3),
    )
    notes = "".join(f"<li>{_e(n)}</li>" for n in report.notes)
    return (
        f"<h2>Fairness ({_e(', '.join(features))}; threshold {_num(report.threshold)})</h2>"
        f"{groups}{gaps}" + (f"<ul class='muted'>{notes}</ul>" if notes else "")
    )


def _importance(result: EvaluationResult, figs: _Figures) -> str:
    import plotly.graph_objects as go

    imp = result.importance
    if imp is None:
        return ""
    fig = go.Figure(
        go.Bar(
            y=[_e(f) for f in imp.features][::-1],
            x=list(imp.mean)[::-1],
            error_x={"type": "data", "array": list(imp.std)[::-1]},
            orientation="h",
        ),
        _layout(
            f"{_e(imp.method)} importance ({_e(imp.measure)}; {imp.rows_used:,} of "
            f"{imp.rows_total:,} rows)",
            "importance",
            "",
        ),
    )
    return f"<h2>Importance</h2>{figs.add(fig, wide=True)}"


def _latency(result: EvaluationResult, figs: _Figures) -> str:
    import plotly.graph_objects as go

    lat = result.latency
    if lat is None:
        return ""
    fig = go.Figure(
        go.Histogram(x=list(lat.samples_ms), nbinsx=40),
        _layout(f"Single-row latency ({lat.n} requests)", "milliseconds", "requests"),
    )
    table = _table(
        ["p50 ms", "p95 ms", "p99 ms", "mean ms", "max ms"],
        [tuple(_num(v) for v in (lat.p50_ms, lat.p95_ms, lat.p99_ms, lat.mean_ms, lat.max_ms))],
        (0, 1, 2, 3, 4),
    )
    return f"<h2>Latency</h2>{table}{figs.add(fig)}"


def _gates(gates: GateReport | None) -> str:
    if gates is None:
        return ""
    rows = [
        (
            _e(v.description),
            _badge(v.verdict),
            _num(v.measured),
            _num(v.threshold),
            _e(v.reason),
        )
        for v in gates.verdicts
    ]
    verdict = _badge("pass" if gates.passed else "fail")
    return f"<h2>Gates {verdict}</h2>" + _table(
        ["gate", "verdict", "measured", "threshold", "reason"], rows, (2, 3)
    )


def to_html(
    result: EvaluationResult, gates: GateReport | None = None, title: str | None = None
) -> str:
    """The report page for ``result`` (with the ``gates`` verdicts when given)."""
    if not isinstance(result, EvaluationResult):
        raise InvalidInput(
            user_message(
                "to_html() argument 'result'",
                "must be an EvaluationResult",
                verbatim(type(result).__name__),
                "pass what evaluate() returned",
            )
        )
    if gates is not None and not isinstance(gates, GateReport):
        raise InvalidInput(
            user_message(
                "to_html() argument 'gates'",
                "must be a GateReport or None",
                verbatim(type(gates).__name__),
                "pass check_gates(gates, result)",
            )
        )
    figs = _Figures()
    heading = _e(title or f"Evaluation: {result.target}")
    summary = (
        f"<p class='muted'>{_e(result.task)} of <code>{_e(result.target)}</code> on "
        f"{result.n_rows:,} rows; threshold {_num(result.threshold)}; {result.n_resamples:,} "
        f"bootstrap resamples, seed {result.seed}; data <code>{_e(result.data_digest[:12])}"
        "</code>"
        + (f"; model {_num(result.model_size_mb)} MB" if result.model_size_mb is not None else "")
        + ".</p>"
    )
    body = [
        summary,
        _gates(gates),
        _metrics(result, figs),
        _curves(result, figs),
        _calibration(result, figs),
        _slices(result, figs),
        _worst(result, figs),
        _behaviour(result),
        _fairness(result),
        _importance(result, figs),
        _latency(result, figs),
    ]
    if result.notes:
        items = "".join(f"<li>{_e(n)}</li>" for n in result.notes)
        body.append(f"<h2>Notes</h2><ul>{items}</ul>")
    if result.seconds:
        rows = [(_e(k), _num(v, 3)) for k, v in result.seconds.items()]
        body.append(f"<h2>Seconds</h2>{_table(['part', 'seconds'], rows, (1,))}")
    return page(
        heading,
        f"{''.join(body)}\n{figs.script()}",
        css=_CSS,
        head=f'<script type="text/javascript">{_plotly_js()}</script>',
    )
