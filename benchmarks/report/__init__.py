"""`orchbench report`: one result file as HTML, Markdown and JSON; two side by side.

The reader is choosing an orchestrator and has five minutes, so the page opens with
one summary table, then one section per dimension (setup effort, latency, failure
handling), then how to reproduce and the caveats. Every number carries its spread
and sample count ("median [q1–q3] (n=…)") and, where it has a baseline measured in
the same run, the ratio with its bootstrap interval: a bare median from a shared
2-core machine would invite more trust than it deserves.

The page is self-contained (inline CSS and SVG, no script, no font, no URL), so it
opens offline and can be attached to an issue. The report is built once as a list
of blocks (document.py: headings, tables, plots) by the sections (sections/) and
written twice, by html.py and markdown.py, so the two never disagree. A partial run
(`--scenario chain`) renders too: every missing figure shows "—".

Modules: document (the block model), formatting (numbers, names, order), blocks
(shared table and chart builders), sections/* (one per section), page (the report of
one run), compare (two runs), html and markdown (renderers), svg (the plots).
"""

from __future__ import annotations

from benchmarks.report.compare import compare, compare_files
from benchmarks.report.formatting import IMPLEMENTATIONS, NONE
from benchmarks.report.html import to_html
from benchmarks.report.markdown import to_markdown
from benchmarks.report.page import render, render_file, report_blocks
from benchmarks.report.sections.policy import policy_finding

__all__ = ["IMPLEMENTATIONS", "NONE", "compare", "compare_files", "policy_finding", "render",
           "render_file", "report_blocks", "to_html", "to_markdown"]
