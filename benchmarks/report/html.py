"""The HTML renderer: blocks to one self-contained page (inline CSS and SVG, no script,
no font, no URL), so it opens offline and can be attached to an issue."""

from __future__ import annotations

import re
from html import escape

from benchmarks.report import svg
from benchmarks.report.document import Block, Bullets, Cell, Code, Heading, Para, Plots, Table
from benchmarks.report.formatting import ORCHESTRATOR_ORDER

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1f1f1f;
 max-width:1180px;margin:24px auto;padding:0 16px;line-height:1.45}
h1{margin-bottom:4px}h2{border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:36px}
.meta{color:#444;margin:2px 0}.how{background:#f5f7fa;border-left:4px solid #1f63c6;
 padding:8px 12px}
table{border-collapse:collapse;margin:10px 0 18px;font-size:14px}
th,td{border:1px solid #d0d0d0;padding:4px 8px;vertical-align:top;text-align:left}
thead th{background:#f0f0f0}tbody th{font-weight:600;background:#fafafa}
.spread,.lbl{color:#666;font-size:12px}.ratio{color:#1f1f1f;font-size:12px;font-weight:600}
.imprecise{color:#a15c00;font-size:12px}.modes{color:#8a1f11;font-weight:600}
td.green{background:#d8f0de}td.amber{background:#fbe8c2}td.red{background:#f6cfcb}
td.diff{background:#fff5cc}
.plots{display:flex;flex-wrap:wrap;gap:12px}.plots svg{border:1px solid #eee}
code,pre{background:#f3f3f3;font-size:13px}pre{padding:8px 12px;overflow-x:auto}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;
 vertical-align:middle}nav a{margin-right:12px}
"""


def to_html(blocks: list[Block], title: str) -> str:
    """A whole HTML5 page: the first block (the title), a colour legend, a navigation bar
    of the anchored headings, then every block. All text is escaped."""
    nav = " ".join(f'<a href="#{b.anchor}">{escape(b.text)}</a>' for b in blocks
                   if isinstance(b, Heading) and b.anchor)
    body = [_html_block(b) for b in blocks]
    if nav:
        body.insert(1, f"<nav>{nav}</nav>")
    legend = " ".join(f'<span class="swatch" style="background:{svg.colour(o)}"></span>'
                      f"{escape(o)}" for o in ORCHESTRATOR_ORDER)
    body.insert(1, f'<p class="meta">Colours: {legend}</p>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(title)}</title>\n<style>{CSS}</style></head>\n<body>\n"
            + "\n".join(body) + "\n</body></html>\n")


def _html_block(b: Block) -> str:
    if isinstance(b, Heading):
        anchor = f' id="{escape(b.anchor)}"' if b.anchor else ""
        return f"<h{b.level}{anchor}>{escape(b.text)}</h{b.level}>"
    if isinstance(b, Para):
        cls = f' class="{b.cls}"' if b.cls else ""
        return f"<p{cls}>{_inline_code(escape(b.text))}</p>"
    if isinstance(b, Code):
        return f"<pre><code>{escape(b.text)}</code></pre>"
    if isinstance(b, Bullets):
        return "<ul>" + "".join(f"<li>{_inline_code(escape(i))}</li>" for i in b.items) + "</ul>"
    if isinstance(b, Plots):
        return '<div class="plots">' + "\n".join(b.svgs) + "</div>"
    return _html_table(b)


def _inline_code(escaped: str) -> str:
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def _html_table(t: Table) -> str:
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in t.header)
    rows = []
    for r in t.rows:
        key = f' data-row="{escape(r.key)}"' if r.key else ""
        cells = "".join(_html_cell(c) for c in r.cells)
        rows.append(f'<tr{key}><th scope="row">{escape(r.head)}</th>{cells}</tr>')
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n" + "\n".join(rows) + \
        "\n</tbody></table>"


def _html_cell(c: Cell) -> str:
    attrs = "".join(f' {k}="{escape(v)}"' for k, v in c.attrs.items())
    cls = f' class="{c.cls}"' if c.cls else ""
    lines = ["".join(f'<span class="{t.cls}">{escape(t.text)}</span>' if t.cls
                     else escape(t.text) for t in line) for line in c.lines]
    return f"<td{cls}{attrs}>" + "<br>".join(lines) + "</td>"
