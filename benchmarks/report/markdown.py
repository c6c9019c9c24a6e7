"""The Markdown renderer: blocks to GitHub Markdown; plots are left to the HTML page."""

from __future__ import annotations

from benchmarks.report.document import Block, Bullets, Cell, Code, Heading, Para, Plots, Table


def to_markdown(blocks: list[Block]) -> str:
    """GitHub Markdown, blocks separated by blank lines; a Plots block becomes a pointer
    to report.html. Table cells are escaped (pipes, < and >)."""
    out = []
    for b in blocks:
        if isinstance(b, Heading):
            out.append(f"{'#' * b.level} {b.text}")
        elif isinstance(b, Para):
            out.append(b.text)
        elif isinstance(b, Code):
            out.append(f"```sh\n{b.text}\n```")
        elif isinstance(b, Bullets):
            out.append("\n".join(f"- {i}" for i in b.items))
        elif isinstance(b, Plots):
            out.append(f"*{len(b.svgs)} plot(s): see report.html.*")
        else:
            out.append(_md_table(b))
    return "\n\n".join(out) + "\n"


def _md_table(t: Table) -> str:
    lines = ["| " + " | ".join(_md(h) for h in t.header) + " |",
             "|" + "---|" * len(t.header)]
    for r in t.rows:
        cells = [_md(r.head)] + [_md_cell(c) for c in r.cells]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _md_cell(c: Cell) -> str:
    """Failure cells start with ✓ / ! / ✗, so Markdown keeps the colour's meaning."""
    text = "<br>".join(_md("".join(t.text for t in line)) for line in c.lines)
    return f"**{text}**" if c.cls == "diff" else text


def _md(text: str) -> str:
    """A table cell: pipes escaped, HTML-ish characters neutralised, one line."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;")
            .replace(">", "&gt;").replace("\n", " "))

