"""The report as data: a list of blocks (headings, paragraphs, tables, plots).

Sections build blocks; the HTML and Markdown renderers write the same blocks, so
the two files never disagree. Nothing here knows about HTML or Markdown.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Text:
    """A run of text in a cell; cls styles it ("spread", "ratio", "lbl")."""

    text: str
    cls: str = ""


@dataclass
class Cell:
    """A table cell: lines of styled runs; cls colours it, attrs become HTML attributes."""

    lines: list[list[Text]]
    cls: str = ""  # "green" | "amber" | "red" | "diff"
    attrs: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, text: str, css: str = "") -> Cell:
        """A one-line, one-run cell."""
        return cls([[Text(text)]], css)

    @property
    def plain(self) -> str:
        """The cell's text without styles, lines joined by " / "."""
        return " / ".join("".join(t.text for t in line) for line in self.lines)


@dataclass
class Row:
    """A table row: a header cell (head), then the cells."""

    head: str
    cells: list[Cell]
    key: str = ""  # data-row attribute: lets tests and readers' scripts find a row


@dataclass
class Table:
    """Column headers (the first one heads the row-header column) and rows."""

    header: list[str]
    rows: list[Row]


@dataclass
class Heading:
    """A heading; an anchor puts it in the HTML page's navigation."""

    level: int
    text: str
    anchor: str = ""


@dataclass
class Para:
    """A paragraph; `backticks` become inline code in HTML."""

    text: str
    cls: str = ""


@dataclass
class Code:
    """A shell code block."""

    text: str


@dataclass
class Bullets:
    """A bulleted list of one-line items."""

    items: list[str]


@dataclass
class Plots:
    """Inline SVG images side by side; Markdown refers to the HTML for these."""

    svgs: list[str]


Block = Heading | Para | Code | Bullets | Table | Plots
