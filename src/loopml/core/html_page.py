"""The frame of loopml's offline HTML pages (data reports and profiles, evaluation reports).

One self-contained page: inline CSS (:data:`BASE_CSS` plus the report's own rules), no CDN or
external file, so it opens from disk, an artifact store or an e-mail attachment alike. Every
piece of user data a page shows goes through :func:`escape`; :func:`table` takes cells that are
already escaped.

>>> table(["name", "rows"], [[escape("<b>"), "3"]], numeric=(1,))
'<table><thead><tr><th>name</th><th>rows</th></tr></thead><tbody><tr><td>&lt;b&gt;</td><td \
class="num">3</td></tr></tbody></table>'
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

__all__ = ["BASE_CSS", "escape", "page", "table"]

#: The rules every page shares: type, headings, tables, code, badges.
BASE_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem;color:#1d2433}
h1{font-size:1.5rem;margin:0 0 .3rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
h3{font-size:1rem;margin:1.2rem 0 .4rem}.muted{color:#667085}
table{border-collapse:collapse;margin:.4rem 0 1rem}
th,td{border-bottom:1px solid #e4e7ec;padding:.3rem .6rem;text-align:left;vertical-align:top}
th{background:#f5f6f8;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace;background:#f5f6f8;padding:0 .2rem}
.badge{display:inline-block;border-radius:.6rem;padding:0 .5rem;font-size:12px;font-weight:600}
"""


def escape(value: object) -> str:
    """``value`` as text safe in HTML content and attribute values."""
    return html.escape(str(value), quote=True)


def table(
    headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[int] = ()
) -> str:
    """A table of already-escaped cells; columns in ``numeric`` are right-aligned."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def page(title: str, body: str, *, css: str = BASE_CSS, head: str = "") -> str:
    """The whole page: ``title`` (escaped already) as its title and heading, then ``body``;
    ``head`` is added to the page head after the stylesheet."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title><style>{css}</style>{head}</head>\n"
        f"<body><h1>{title}</h1>\n{body}\n</body></html>\n"
    )
