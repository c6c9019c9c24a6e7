"""The report of one run: its blocks in page order, written as report.html, report.md
and the summarised results.json."""

from __future__ import annotations

from pathlib import Path

from benchmarks.report.document import Block, Heading
from benchmarks.report.html import to_html
from benchmarks.report.markdown import to_markdown
from benchmarks.report.sections.failure import failure_section
from benchmarks.report.sections.figures import all_figures_blocks
from benchmarks.report.sections.header import header_blocks
from benchmarks.report.sections.latency import latency_section
from benchmarks.report.sections.policy import policy_section
from benchmarks.report.sections.reproduce import reproduce_section
from benchmarks.report.sections.setup import setup_section
from benchmarks.report.sections.summary import summary_table
from benchmarks.results import ResultSet, load, save
from core.lake import write_text

TITLE = "orchbench: Prefect, Airflow and Dagster side by side"
HTML_TITLE = "orchbench benchmark report"
# Readable by others, as before the pages were written through core.lake (whose
# temporary files are private): a page may be served or attached.
PAGE_MODE = 0o644


def report_blocks(results: ResultSet) -> list[Block]:
    """Every section of the page, in order. results should be summarised."""
    return [*header_blocks(results, TITLE),
            Heading(2, "Summary", "summary"),
            summary_table(results),
            *setup_section(results),
            *latency_section(results),
            *failure_section(results),
            *policy_section(results),
            *reproduce_section(results),
            *all_figures_blocks(results)]


def write_pages(blocks: list[Block], out_dir: Path, stem: str,
                title: str) -> dict[str, Path]:
    """<stem>.html and <stem>.md in out_dir (created if missing), each replaced atomically
    so a reader or a browser refresh never sees half a page: {"html": path, "md": path}."""
    out_dir = Path(out_dir)
    html, md = out_dir / f"{stem}.html", out_dir / f"{stem}.md"
    for path, text in ((html, to_html(blocks, title)), (md, to_markdown(blocks))):
        write_text(text, path, encoding="utf-8", mode=PAGE_MODE)
    return {"html": html, "md": md}


def render(results: ResultSet, out_dir: Path) -> dict[str, Path]:
    """Write report.html, report.md and results.json (summarised) into out_dir.

    Summarises results in place. Returns {"html", "md", "json"} → path.
    """
    results.summarise()
    written = write_pages(report_blocks(results), Path(out_dir), "report", HTML_TITLE)
    return {**written, "json": save(results, Path(out_dir) / "results.json")}


def render_file(path: Path, out_dir: Path | None = None) -> dict[str, Path]:
    """`orchbench report [PATH]`: render a saved result file next to it (or into out_dir).

    Raises OrchbenchError (from results.load) for a missing or foreign file.
    """
    path = Path(path)
    return render(load(path), out_dir or path.parent)
