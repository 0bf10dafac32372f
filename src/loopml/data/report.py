"""HTML pages for a validation report or a data profile: one self-contained file, offline.

:func:`to_html` returns a complete page with inline CSS and inline SVG histograms: no script, no
CDN, no external file, so it opens from disk, an artifact store or an e-mail attachment alike.
Every piece of user data (column names, values, messages, examples) is HTML-escaped.
"""

from __future__ import annotations

import json
from typing import Any

from loopml.core.errors import InvalidInput, user_message, verbatim
from loopml.core.html_page import BASE_CSS, page
from loopml.core.html_page import escape as _e
from loopml.core.html_page import table as _table
from loopml.data.profiling import ColumnProfile, Histogram, Profile
from loopml.data.validation import Finding, ValidationReport

__all__ = ["to_html"]

_EXAMPLE_CHARS = 120
_BAR_WIDTH = 240
_CSS = (
    BASE_CSS
    + """\
.error{background:#fde2e1;color:#9b1c1c}.warning{background:#fdf0d5;color:#8a5300}
.info{background:#e0ecfd;color:#1d4ed8}.ok{background:#dcf5e3;color:#1e6b35}
.col{border:1px solid #e4e7ec;border-radius:.4rem;padding:.2rem 1rem;margin:1rem 0}
.bar{fill:#5b7bd5}.bar:hover{fill:#2f4fa8}.grid{display:flex;gap:2rem;flex-wrap:wrap}
"""
)


def to_html(obj: ValidationReport | Profile, title: str | None = None) -> str:
    """A self-contained HTML page for a :class:`ValidationReport` or a :class:`Profile`."""
    if isinstance(obj, ValidationReport):
        body = _report_body(obj)
        default = "Data validation report"
    elif isinstance(obj, Profile):
        body = _profile_body(obj)
        default = "Data profile"
    else:
        raise InvalidInput(
            user_message(
                "to_html", "needs a ValidationReport or a Profile", verbatim(type(obj).__name__)
            )
        )
    return page(_e(title or default), body, css=_CSS)


# --------------------------------------------------------------------------------------------
# Validation reports


def _report_body(report: ValidationReport) -> str:
    status = '<span class="badge ok">PASSED</span>' if report.ok else (
        '<span class="badge error">FAILED</span>'
    )  # fmt: skip
    summary = (
        f"<p>{status} &nbsp;{report.row_count:,} rows · {len(report.errors)} errors · "
        f"{len(report.warnings)} warnings · {len(report.findings)} findings</p>"
    )
    if not report.findings:
        return summary + '<p class="muted">No findings: the data matches its schema.</p>'
    rows = [_finding_row(f) for f in report.findings]
    headers = ["Severity", "Column", "Kind", "Message", "Rows", "Rate", "Examples"]
    return summary + "<h2>Findings</h2>" + _table(headers, rows, numeric=(4, 5))


def _finding_row(f: Finding) -> list[str]:
    rate = _rate(f.rate)
    examples = "<br>".join(f"<code>{_e(_short(x))}</code>" for x in f.examples)
    return [
        f'<span class="badge {_e(f.severity)}">{_e(f.severity)}</span>',
        "" if f.column is None else f"<code>{_e(f.column)}</code>",
        _e(f.kind),
        _e(f.message),
        f"{f.count:,}",
        rate,
        examples,
    ]


def _rate(rate: float | None) -> str:
    if rate is None:
        return ""
    return "<0.01%" if 0 < rate < 1e-4 else f"{rate:.2%}"


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else repr(value)
    return text if len(text) <= _EXAMPLE_CHARS else text[: _EXAMPLE_CHARS - 1] + "…"


# --------------------------------------------------------------------------------------------
# Profiles


def _profile_body(p: Profile) -> str:
    summary = f"<p>{p.row_count:,} rows · {len(p.columns)} columns</p>"
    headers = ["Column", "Type", "Non-null", "Missing", "Distinct", "Min", "Max", "Mean", "Std"]
    rows = [
        [
            f'<a href="#col-{i}"><code>{_e(c.name)}</code></a>',
            _e(c.type.value),
            f"{c.count:,}",
            _rate(c.missing_rate) if c.missing_rate else "0%",
            _distinct(c),
            _e(_num(c.min)),
            _e(_num(c.max)),
            _e(_num(c.mean)),
            _e(_num(c.std)),
        ]
        for i, c in enumerate(p.columns)
    ]
    overview = "<h2>Columns</h2>" + _table(headers, rows, numeric=(2, 3, 4, 5, 6, 7, 8))
    details = "".join(_column_section(i, c) for i, c in enumerate(p.columns))
    return summary + overview + "<h2>Details</h2>" + details


def _distinct(c: ColumnProfile) -> str:
    if c.distinct_count is None:
        return ""
    return f"{c.distinct_count:,}" + ("" if c.distinct_exact else " (est.)")


def _num(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _column_section(i: int, c: ColumnProfile) -> str:
    parts = [
        f'<div class="col" id="col-{i}"><h3><code>{_e(c.name)}</code> '
        f'<span class="muted">{_e(c.type.value)} · stored as {_e(c.arrow_type)}</span></h3>'
    ]
    blocks = []
    if c.quantiles:
        error = "" if not c.quantile_error else f" (rank error ≤ {c.quantile_error:.2%})"
        rows = [[_e(k), _e(_num(v))] for k, v in c.quantiles.items()]
        blocks.append(
            f"<div><b>Quantiles</b>{_e(error)}" + _table(["q", "value"], rows, (1,)) + "</div>"
        )
    if c.histogram is not None:
        blocks.append("<div><b>Histogram</b><br>" + _histogram_svg(c.histogram) + "</div>")
    if c.top_values:
        blocks.append("<div><b>Most frequent</b>" + _top_values(c) + "</div>")
    if not blocks:
        blocks.append('<p class="muted">No values to summarise.</p>')
    parts.append('<div class="grid">' + "".join(blocks) + "</div></div>")
    return "".join(parts)


def _histogram_svg(h: Histogram) -> str:
    """Bars of densities (count / bin width), so unequal bins read correctly; a discrete
    histogram (one bin per value) gets equal-width bars of counts."""
    width, height = 320, 110
    widths = [max(b - a, 0.0) for a, b in zip(h.edges, h.edges[1:], strict=False)]
    span = (h.edges[-1] - h.edges[0]) or 1.0
    if h.discrete or any(w == 0 for w in widths):  # a frequency table: equal bars of counts
        xs = [i * width / len(h.counts) for i in range(len(h.counts) + 1)]
        heights = [float(c) for c in h.counts]
    else:
        xs = [(e - h.edges[0]) / span * width for e in h.edges]
        heights = [c / w for c, w in zip(h.counts, widths, strict=True)]
    top = max(heights) or 1.0
    bars = []
    for k, count in enumerate(h.counts):
        bar_h = heights[k] / top * (height - 20)
        x, w = xs[k], max(xs[k + 1] - xs[k] - 1, 1.0)
        close = "]" if k == len(h.counts) - 1 else ")"
        label = f"[{_num(h.edges[k])}, {_num(h.edges[k + 1])}{close}: {count:,}"
        bars.append(
            f'<rect class="bar" x="{x:.1f}" y="{height - 20 - bar_h:.1f}" width="{w:.1f}" '
            f'height="{bar_h:.1f}"><title>{_e(label)}</title></rect>'
        )
    axis = (
        f'<text x="0" y="{height - 4}" font-size="11">{_e(_num(h.edges[0]))}</text>'
        f'<text x="{width}" y="{height - 4}" font-size="11" text-anchor="end">'
        f"{_e(_num(h.edges[-1]))}</text>"
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="histogram">{"".join(bars)}{axis}</svg>'
    )


def _top_values(c: ColumnProfile) -> str:
    top = c.top_values or ()
    most = max((n for _, n in top), default=1) or 1
    rows = []
    for value, n in top:
        bar = max(int(n / most * _BAR_WIDTH), 1)
        share = n / c.count if c.count else 0.0
        rows.append([
            f"<code>{_e(_short(value))}</code>",
            f'<svg width="{_BAR_WIDTH}" height="10"><rect class="bar" width="{bar}" '
            'height="10"></rect></svg>',
            f"{n:,}",
            f"{share:.1%}",
        ])  # fmt: skip
    return _table(["value", "", "count", "share"], rows, numeric=(2, 3))
