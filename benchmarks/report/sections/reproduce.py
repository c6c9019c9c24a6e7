"""How to reproduce the run (commands, plan, the environment as recorded) and the caveats."""

from __future__ import annotations

from typing import Any

from benchmarks.report.document import Block, Bullets, Cell, Code, Heading, Para, Row, Table
from benchmarks.report.sections.header import flatten
from benchmarks.results import DEVELOPMENT, ResultSet, layout

# The caveat on where the orchestrators keep their state: which one depends on the layouts
# (backends) the run served.
SQLITE_ONLY = ("Every orchestrator keeps its metadata in a local SQLite database (its default "
               "for a laptop); a production set-up with PostgreSQL and separate workers has "
               "other latencies.")
WITH_LAYOUTS = ("The local runs and the sqlite layout keep each orchestrator's metadata in a "
                "local SQLite database (its default for a laptop); the served stacks were also "
                "measured in their production layout{s} ({names}), on this one machine: with "
                "a database server and separate workers that compete for the same cores.")
FIXED_CAVEATS = (
    "The machine may be shared and has few cores: absolute times are noisy; compare ratios "
    "and orders of magnitude, and rerun on your own machine before deciding.",
    "Dagster is measured with its in_process executor (one process, ops in series) and its "
    "default multiprocess executor (a subprocess per op): the executor dominates its "
    "per-task overhead.",
    "Airflow's local runs use `dag.test()`, which runs tasks serially in one process; its "
    "served mode (scheduler and executor running) is measured separately.",
    "First-run figures include one-time work: creating the metadata database, Prefect's "
    "temporary API server, import caches. Later runs are what a running deployment sees.",
)


def reproduce_section(results: ResultSet) -> list[Block]:
    """Commands, plan settings, every environment key as recorded, then the run's notes
    the layouts caveat and FIXED_CAVEATS as the caveats."""
    commands = [results.command] if results.command else []
    commands += ["./orchbench.sh bench --quick    # or without --quick for the full run",
                 "./orchbench.sh report           # writes report.html, report.md, results.json",
                 "./orchbench.sh report --compare A.json B.json"]
    settings = ", ".join(f"{k}={_short(v)}" for k, v in results.settings.items())
    caveats = [*results.notes, layouts_caveat(results), *FIXED_CAVEATS]
    env_rows = [Row(k, [Cell.of(v)]) for k, v in flatten(results.environment).items()]
    return [Heading(2, "Reproduce", "reproduce"),
            Para("This run was made with the first command; the others rerun it and render "
                 "the report:"),
            Code("\n".join(dict.fromkeys(commands))),
            Para(f"Plan: {settings or 'not recorded'}"),
            Heading(3, "Environment, as recorded"),
            Table(["", "value"], env_rows),
            Heading(2, "Caveats", "caveats"),
            Bullets(caveats)]


def layouts_caveat(results: ResultSet) -> str:
    """SQLITE_ONLY, or WITH_LAYOUTS naming the production layouts the run served."""
    others = sorted({layout(f.backend) for f in results.figures} - {DEVELOPMENT})
    if not others:
        return SQLITE_ONLY
    return WITH_LAYOUTS.format(s="s" if len(others) > 1 else "", names=", ".join(others))


def _short(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return str(value)
