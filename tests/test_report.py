"""The report renders a saved result file: tables, plots, colours, no network.

A small but complete synthetic result set (all three dimensions, chain points,
two timelines, a failure matrix with a red and a green cell) goes through
results.save and results.load, as a real `orchbench bench` file would, and is
rendered; the assertions read the HTML and Markdown a person would read.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks import report, results
from benchmarks.results import ChainPoint, FailureCase, Figure, PolicyRun, ResultSet, Timeline
from core.errors import OrchbenchError

# per-task slopes put into the result set; the summary must show exactly these medians
SLOPES = {("direct", ""): [0.0001, 0.0002, 0.0003],
          ("prefect", "default"): [0.14, 0.15, 0.16],
          ("airflow", "default"): [0.9, 1.0, 1.1],
          ("dagster", "in_process"): [0.02, 0.03, 0.04],
          ("dagster", "multiprocess"): [5.5, 6.0, 6.5]}
SLOPE_TEXT = {"direct": "0.0002 s", "prefect": "0.15 s", "airflow": "1 s",
              "dagster": "0.03 s"}


def _fig(dim: str, scenario: str, orch: str, metric: str, unit: str, samples: list[float],
         variant: str = "", baseline: str | None = None, **knobs: str) -> Figure:
    return Figure(dim, scenario, orch, metric, unit, samples, variant, baseline, dict(knobs))


def synthetic() -> ResultSet:
    rs = ResultSet(mode="quick", command="orchbench bench --quick",
                   started="2026-11-25T10:00:00+00:00", ended="2026-11-25T10:09:00+00:00",
                   environment={"cpu_count": 2, "memory_gib": 7.8, "python": "3.11.2",
                                "docker_engine": "26.1.5",  # benchmarks/environment.py's keys
                                "versions": {"prefect:prefect": "3.9.1",
                                             "airflow:apache-airflow-providers-standard": "1.2",
                                             "airflow:apache-airflow": "3.3.2",
                                             "dagster:dagster": "1.13.0"}},
                   settings={"warmup": 1, "reps": 3, "chain_sizes": [1, 5, 10]},
                   notes=["served scenario skipped for dagster: <port busy>"])
    setup = {"prefect": (84, 9, 120, 310.0, 21.0, 6.5, 180.0),
             "airflow": (120, 14, 260, 520.0, 44.0, 38.0, 610.0),
             "dagster": (96, 11, 190, 400.0, 30.0, 12.0, 420.0)}
    for orch, (loc, sym, pkgs, size, inst, ready, rss) in setup.items():
        rs.figures += [
            _fig("setup", "wrapper", orch, "lines_of_code", "lines", [loc]),
            _fig("setup", "wrapper", orch, "framework_symbols", "count", [sym]),
            _fig("setup", "environment", orch, "packages", "count", [pkgs]),
            _fig("setup", "environment", orch, "size_mb", "MB", [size]),
            _fig("setup", "environment", orch, "install_s", "s", [inst, inst * 1.1]),
            _fig("setup", "ui", orch, "ready_s", "s", [ready, ready * 1.2, ready * 0.9],
                 "default"),
            _fig("setup", "ui", orch, "idle_rss_mb", "MB", [rss], "default"),
            _fig("setup", "ui", orch, "processes", "count", [3], "default"),
            _fig("setup", "ui", orch, "ports", "count", [1], "default")]
    rs.figures.append(_fig("latency", "definition_load", "direct", "process_wall_s", "s",
                           [0.30, 0.31, 0.32]))
    base_load = "definition_load/direct/-/process_wall_s"
    for orch, t in (("prefect", 3.8), ("airflow", 5.0), ("dagster", 2.4)):
        rs.figures.append(_fig("latency", "definition_load", orch, "process_wall_s", "s",
                               [t, t + 0.2, t + 0.4], baseline=base_load))
    for (orch, variant), slopes in SLOPES.items():
        executor = variant if orch == "dagster" else "default"
        rs.figures += [
            _fig("latency", "chain", orch, "slope_s_per_task", "s", slopes, variant,
                 executor=executor),
            _fig("latency", "chain", orch, "intercept_s", "s", [0.5, 0.6, 0.7], variant)]
        for n in (1, 5, 10):
            rs.chains.append(ChainPoint("chain", orch, variant, n,
                                        [0.6 + s * n for s in slopes]))
        rs.figures.append(_fig("latency", "fanout", orch, "wall_s", "s",
                               [1.1, 1.2, 1.3] if orch != "airflow" else [4.1, 4.2, 4.3],
                               variant))
    rs.figures.append(_fig("latency", "container", "docker", "wall_s", "s", [0.4, 0.45, 0.5]))
    rs.figures.append(_fig("latency", "pipeline", "direct", "later_wall_s", "s",
                           [10.0, 10.5, 11.0]))
    base_pipe = "pipeline/direct/-/later_wall_s"
    for orch, variant, wall in (("prefect", "default", 13.0), ("airflow", "default", 19.0)):
        rs.figures.append(_fig("latency", "pipeline", orch, "later_wall_s", "s",
                               [wall, wall + 1, wall + 2], variant, base_pipe))
        rs.timelines.append(Timeline(orch, variant, "later", wall, [
            {"name": "ingest", "status": "success", "attempts": 1, "queued": 0.2,
             "started": 0.5, "ended": 1.5},
            {"name": "transform", "status": "success", "attempts": 2, "queued": 1.6,
             "started": 2.0, "ended": 6.0},
            {"name": "train", "status": "failed", "attempts": 1, "queued": 6.1,
             "started": 6.5, "ended": wall - 1}]))
    for orch, default, tuned in (("prefect", 9.5, 1.2), ("airflow", 4.0, 2.0)):
        rs.figures += [
            _fig("latency", "served", orch, "trigger_to_first_task_s", "s",
                 [default, default + 1], "default", poll="10s"),
            _fig("latency", "served", orch, "trigger_to_first_task_s", "s",
                 [tuned, tuned + 0.2], "tuned", poll="1s")]
    rs.failures += [
        FailureCase("transient", "prefect", "local", "run succeeds, transform attempts 2",
                    True, "succeeded", [12.0], 2, 0, True, True),
        FailureCase("always_fails", "airflow", "local", "run failed, attempts 2",
                    False, "running", [60.0], 1, 1, True, False, "never reached a final state"),
        FailureCase("always_fails", "prefect", "local", "run failed, attempts 2",
                    True, "failed", [14.0], 2, 0, True, True,
                    error_kind="container_exit", exit_code=3)]
    return rs


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("report")
    saved = results.save(synthetic(), tmp / "in" / "results.json")
    return report.render(results.load(saved), tmp / "out")


def _row(html: str, key: str) -> str:
    match = re.search(rf'<tr data-row="{re.escape(key)}">(.*?)</tr>', html, re.S)
    assert match, f"no row {key}"
    return match.group(1)


def test_render_writes_three_files(rendered: dict[str, Path]) -> None:
    assert {p.name for p in rendered.values()} == {"report.html", "report.md", "results.json"}
    assert all(p.is_file() and p.stat().st_size > 0 for p in rendered.values())
    data = json.loads(rendered["json"].read_text())
    slope = next(f for f in data["figures"] if f["metric"] == "slope_s_per_task"
                 and f["orchestrator"] == "prefect")
    assert slope["median"] == pytest.approx(0.15)  # summarised, not only samples
    assert not list(rendered["html"].parent.glob(".*.tmp"))


def test_html_is_self_contained_with_inline_plots(rendered: dict[str, Path]) -> None:
    html = rendered["html"].read_text()
    assert "http://" not in html and "https://" not in html
    assert not re.search(r"<script|<link|<img|<iframe|@import|url\(", html, re.I)
    assert len(re.findall(r"<svg[ >]", html)) >= 3
    assert "<polyline" in html  # the per-task overhead line plot
    # the note text from the results file is escaped, not injected
    assert "&lt;port busy&gt;" in html and "<port busy>" not in html
    machine = re.search(r"Machine: (.*?)</p>", html)
    assert machine and "2 CPUs" in machine.group(1) and "Docker 26.1.5" in machine.group(1)
    assert "prefect 3.9.1 · airflow 3.3.2 · dagster 1.13.0" in machine.group(1)


def test_summary_shows_per_task_overhead_medians(rendered: dict[str, Path]) -> None:
    html = rendered["html"].read_text()
    row = _row(html, "per_task_overhead")
    cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    assert len(cells) == len(report.IMPLEMENTATIONS)
    for impl, cell in zip(report.IMPLEMENTATIONS, cells, strict=True):
        assert SLOPE_TEXT[impl] in cell, (impl, cell)
    assert "6 s" in cells[3] and "multiprocess" in cells[3]  # both Dagster executors
    assert "×12.9 [" in _row(html, "definition_load")  # a ratio vs direct is shown
    assert "—" in _row(html, "served_lag").split("</td>")[-2]  # dagster: not measured
    failures = re.findall(r"<td[^>]*>(.*?)</td>", _row(html, "failures"), re.S)
    assert failures[0] == "—" and failures[1].startswith("2 of 2")
    assert failures[2].startswith("0 of 1") and "1 red" in failures[2]


def test_failure_matrix_colours(rendered: dict[str, Path]) -> None:
    html = rendered["html"].read_text()
    red = re.search(r'<td class="(\w+)" data-case="always_fails/airflow/local">', html)
    green = re.search(r'<td class="(\w+)" data-case="always_fails/prefect/local">', html)
    assert red and red.group(1) == "red"
    assert green and green.group(1) == "green"
    assert "run failed, attempts 2" in _row(html, "failure/always_fails")
    # The structured error travels to the report: its kind and exit code, not parsed text.
    assert "error container_exit, exit 3" in _row(html, "failure/always_fails")


def test_markdown_has_summary_table(rendered: dict[str, Path]) -> None:
    md = rendered["md"].read_text()
    assert "|  | direct | prefect | airflow | dagster |" in md
    assert "| Per-task overhead (chain slope) | 0.0002 s" in md
    assert "## Failure handling" in md and "✗ running" in md
    assert "```sh\norchbench bench --quick" in md


def test_partial_results_render_with_dashes(tmp_path: Path) -> None:
    rs = synthetic()
    rs.figures = [f for f in rs.figures if f.scenario == "chain"]
    rs.timelines, rs.failures, rs.environment = [], [], {}
    paths = report.render(rs, tmp_path)
    html = paths["html"].read_text()
    assert "—" in _row(html, "wrapper_loc") and "0.15 s" in _row(html, "per_task_overhead")
    assert "No failure scenarios in this run." in html


def test_compare_shows_both_values_and_ratio(tmp_path: Path) -> None:
    a, b = synthetic(), synthetic()
    for f in b.figures:
        if f.key == "chain/prefect/default/slope_s_per_task":
            f.samples = [0.28, 0.30, 0.32]
    b.figures.append(_fig("latency", "fanout", "docker", "wall_s", "s", [2.0]))
    b.environment["cpu_count"] = 8
    paths = report.compare(a, b, tmp_path, ("old.json", "new.json"))
    html = paths["html"].read_text()
    row = _row(html, "compare/chain/prefect/default/slope_s_per_task")
    assert "0.15 s" in row and "0.3 s" in row and "×2 [" in row
    assert "—" in _row(html, "compare/fanout/docker/-/wall_s")
    assert re.search(r'<td class="diff">2</td><td class="diff">8</td>', html)
    assert "old.json" in paths["md"].read_text()


def test_load_refuses_other_schema_version(tmp_path: Path) -> None:
    path = results.save(synthetic(), tmp_path / "results.json")
    data = json.loads(path.read_text())
    data["schema_version"] = results.SCHEMA_VERSION + 1
    path.write_text(json.dumps(data))
    with pytest.raises(OrchbenchError) as err:
        results.load(path)
    assert "schema version" in err.value.problem


# (mse, strategy, train seconds) per date and policy: always_cold has the lowest mean (96),
# drift 105, always_warm 130; training 6 s, 8 s and 5 s in total.
POLICY_DAYS = {
    "drift": [(100, "cold", 2), (120, "warm", 1), (90, "cold", 2), (110, "warm", 1)],
    "always_cold": [(100, "cold", 2), (96, "cold", 2), (90, "cold", 2), (98, "cold", 2)],
    "always_warm": [(100, "cold", 2), (130, "warm", 1), (150, "warm", 1), (140, "warm", 1)],
}


def with_policy_runs() -> ResultSet:
    rs = synthetic()
    for policy, days in POLICY_DAYS.items():
        for i, (mse, strategy, seconds) in enumerate(days):
            reason = "no_previous_model" if i == 0 else (
                "drift" if strategy == "cold" and policy == "drift" else f"policy_{policy}")
            skill = None if policy == "always_warm" else round(1 - mse / 200, 3)
            rs.policy_runs.append(PolicyRun(policy, f"2013-11-{15 + i}", strategy, reason,
                                            float(mse), skill, 200.0, float(seconds),
                                            ["temperature"] if reason == "drift" else [],
                                            "beijing"))
    return rs


def test_policy_section_table_finding_and_plot(tmp_path: Path) -> None:
    saved = results.save(with_policy_runs(), tmp_path / "in" / "results.json")
    paths = report.render(results.load(saved), tmp_path / "out")
    html, md = paths["html"].read_text(), paths["md"].read_text()
    assert '<h2 id="policy">Does the warm/cold policy pay?</h2>' in html
    assert "## Does the warm/cold policy pay?" in md
    cells = {p: re.findall(r"<td[^>]*>(.*?)</td>", _row(html, f"policy/{p}"))
             for p in POLICY_DAYS}
    assert cells["drift"] == ["105", "0.475", "0.475", "6 s", "2", "4"]
    assert cells["always_cold"] == ["96", "0.520", "0.520", "8 s", "4", "4"]
    assert cells["always_warm"] == ["130", "—", "0.350", "5 s", "1", "4"]
    assert "| always_cold | 96 | 0.520 | 0.520 | 8 s | 4 | 4 |" in md
    finding = ("Lowest mean MSE: always_cold (96), against 105 for drift (+9.4 %) and 130 for "
               "always_warm (+35.4 %); training took 6 s (drift), 8 s (always_cold) and 5 s "
               "(always_warm) in total. Day by day, always_cold had a lower MSE than drift on "
               "2 of 4 days (2 equal); than always_warm on 3 of 4 days (1 equal).")
    assert finding in html and finding in md
    plot = re.search(r'<svg[^>]*aria-label="MSE of each day[^"]*by policy".*?</svg>', html, re.S)
    assert plot, "no policy plot"
    assert plot.group(0).count("<polyline") == 3
    assert "drift, 2013-11-17: MSE 90, cold start (drift), training 2 s" in plot.group(0)
    assert "always cold: 4 cold start(s)" in plot.group(0)
    relative = re.search(r'<svg[^>]*aria-label="The same, relative[^"]*".*?</svg>', html, re.S)
    assert relative and relative.group(0).count("<polyline") == 3
    assert "drift, 2013-11-16: MSE 120 (×1.25 always_cold&#x27;s)" in relative.group(0)
    day = re.findall(r"<td[^>]*>(.*?)</td>", _row(html, "policy-day/2013-11-16"))
    assert day == ['120<span class="spread"> warm</span>', '96<span class="spread"> cold</span>',
                   '130<span class="spread"> warm</span>']


def test_policy_section_without_runs_and_older_files(rendered: dict[str, Path],
                                                     tmp_path: Path) -> None:
    assert "The policy scenario was not run" in rendered["html"].read_text()
    data = json.loads(rendered["json"].read_text())
    del data["policy_runs"]  # a file written before the policy scenario existed
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    assert results.load(path).policy_runs == []


def test_policy_finding_names_a_tie() -> None:
    """When the drift policy decided as always_warm every day, their models are the same:
    the sentence says they tie, not that one of them won by +0.0 %."""
    runs = [PolicyRun(p, f"2013-11-{15 + i}", s, "r", float(mse), None, None, 1.0)
            for p, days in (("drift", [(100, "cold"), (80, "warm")]),
                            ("always_cold", [(100, "cold"), (90, "cold")]),
                            ("always_warm", [(100, "cold"), (80, "warm")]))
            for i, (mse, s) in enumerate(days)]
    text = report.policy_finding(runs, results.policy_summary(runs))
    assert text.startswith("Lowest mean MSE: drift and always_warm, tied (90), against 95 for "
                           "always_cold (+5.6 %); training took 2 s (drift), 2 s (always_cold) "
                           "and 2 s (always_warm) in total.")
    assert "than always_warm on 0 of 2 days (2 equal)" in text


def with_layouts() -> ResultSet:
    """synthetic() plus the served figures and killed cases of production layouts (issue
    13): Prefect on postgres, Airflow on postgres and celery."""
    rs = synthetic()
    for orch, backend, ready, rss, lag in (("prefect", "postgres", 9.0, 450.0, 3.0),
                                           ("airflow", "postgres", 45.0, 900.0, 2.5),
                                           ("airflow", "celery", 50.0, 1200.0, 1.8)):
        knobs = {"backend": backend}
        rs.figures += [
            Figure("setup", "ui", orch, "ready_s", "s", [ready], "default", knobs=knobs,
                   backend=backend),
            Figure("setup", "ui", orch, "idle_rss_mb", "MB", [rss], "default", backend=backend),
            Figure("latency", "served", orch, "trigger_to_first_task_s", "s", [lag, lag + 1],
                   "default", knobs=knobs, backend=backend)]
        rs.failures.append(FailureCase("killed", orch, "default", "marked failed", True,
                                       "failed", [5.0], None, 0, True, True, backend=backend))
    rs.failures.append(FailureCase("killed", "prefect", "default", "marked failed", True,
                                   "Crashed", [4.0], None, 1, True, True, backend="sqlite"))
    return rs


def test_layouts_side_by_side(tmp_path: Path) -> None:
    saved = results.save(with_layouts(), tmp_path / "in" / "results.json")
    rs = results.load(saved)
    paths = report.render(rs, tmp_path / "out")
    html, md = paths["html"].read_text(), paths["md"].read_text()
    # keys: the development layout's as before backends, the others with "@backend"
    keys = {f.key for f in rs.figures if f.scenario == "served"}
    assert "served/prefect/default/trigger_to_first_task_s" in keys
    assert "served/airflow/default@celery/trigger_to_first_task_s" in keys
    assert rs.figure("served", "airflow", "default", "trigger_to_first_task_s",
                     "postgres").samples == [2.5, 3.5]
    # the served table: a row per layout, adjacent, the layout in its first column
    assert "| layout | trigger → first task | trigger → done |" in md
    table = md.split("### Served mode")[1].split("\n\n")[2].splitlines()
    airflow = [line.split(" | ")[1] for line in table if line.startswith("| airflow default |")]
    assert airflow == ["sqlite", "postgres", "celery"]
    assert "<td>3 s" in _row(html, "served/airflow/default@postgres")
    assert "celery: Airflow's distributed layout" in md
    # the UI table: rows per layout; "" reads as sqlite
    assert "900 MB" in _row(html, "ui/airflow@postgres")
    assert "<td>sqlite</td>" in _row(html, "ui/dagster")
    # the failure matrix: the killed row split by layout
    assert "✓ failed" in _row(html, "failure/killed@celery")
    assert "Crashed" in _row(html, "failure/killed")
    assert 'data-case="killed/airflow/default@postgres"' in html
    assert "| killed (postgres) |" in md
    # the summary: development layout in the usual row, production ones below it
    assert "1200 MB" in _row(html, "ui_memory@celery")
    assert "1200" not in _row(html, "ui_memory")


def test_a_file_without_backends_loads_as_before(rendered: dict[str, Path],
                                                 tmp_path: Path) -> None:
    data = json.loads(rendered["json"].read_text())
    for f in data["figures"]:
        del f["backend"]
    for c in data["failures"]:
        del c["backend"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    rs = results.load(path)
    assert {f.backend for f in rs.figures} == {""}
    assert rs.figure("served", "prefect", "tuned", "trigger_to_first_task_s") is not None
    assert rs.figure("served", "prefect", "tuned", "trigger_to_first_task_s",
                     "sqlite") is not None
    html = report.render(rs, tmp_path / "out")["html"].read_text()
    assert "<td>sqlite</td>" in _row(html, "served/prefect/tuned")


def _precision_set() -> ResultSet:
    rs = synthetic()
    rs.settings.update(precision_rel=0.05, max_reps=20, max_figure_s=120.0)
    for f in rs.figures:
        if f.key == "definition_load/prefect/-/process_wall_s":  # 9 tight samples: precise
            f.samples = [3.8, 3.82, 3.79, 3.81, 3.8, 3.83, 3.78, 3.8, 3.81]
        elif f.key == "definition_load/airflow/-/process_wall_s":  # 8 spread: ±p %
            f.samples = [5.0, 4.0, 6.0, 5.1, 4.5, 5.5, 4.9, 5.2]
        elif f.key == "served/prefect/default/trigger_to_first_task_s":  # two modes
            f.samples = [1.0, 1.1, 1.05, 2.0, 2.1, 2.05]
    return rs


def test_precision_marks_and_two_modes(tmp_path: Path) -> None:
    paths = report.render(_precision_set(), tmp_path)
    html, md = paths["html"].read_text(), paths["md"].read_text()
    load = re.findall(r"<td[^>]*>(.*?)</td>", _row(html, "definition_load"), re.S)
    assert "3.8 s" in load[1] and "imprecise" not in load[1]  # prefect: precise, no mark
    # airflow: median 5.05 s, interval X(1)–X(8) = 4–6 s reaches 1.05 s, 21 %
    assert '<span class="imprecise"> ±21 %</span>' in load[2]
    assert "±?" in load[3]  # dagster: 3 samples spread beyond ±5 %
    # two modes are shown as both groups' medians, not as the median between them
    lag = _row(html, "served_lag")
    assert '<span class="modes">two modes: 1.05 s / 2.05 s</span>' in lag
    assert "(n=6: 3 + 3)" in lag and "1.55 s" not in lag
    assert "two modes: 1.05 s / 2.05 s (n=6: 3 + 3)" in md
    # three settled readings (all within ±5 %) carry no mark
    assert "±" not in _row(html, "ui_memory")
    data = json.loads(paths["json"].read_text())
    load_fig = next(f for f in data["figures"] if f["scenario"] == "definition_load"
                    and f["orchestrator"] == "prefect")
    assert load_fig["precise"] is True and load_fig["median_low"] == 3.79


def test_header_counts_precise_figures(tmp_path: Path) -> None:
    rs = _precision_set().summarise()
    precise, judged = rs.precision()
    assert precise == 1  # only prefect's definition load has ≥6 samples within ±5 %
    assert judged == sum(len(f.samples) >= 3 for f in rs.figures)
    md = report.render(rs, tmp_path)["md"].read_text()
    assert (f"Precision: 1 of {judged} figures with ≥3 samples have their median's 95 % "
            "interval within ±5 %; 1 shows two modes. Cheap figures were repeated until "
            "precise (±5 %) or 20 samples or 120 s each.") in md
    assert "| definition_load/prefect/-/process_wall_s | latency |" in md
    assert "| 3.79–3.82 ✓ |" in md and "| n &lt; 6 |" in md


def test_an_older_file_gets_precision_when_rendered(rendered: dict[str, Path],
                                                    tmp_path: Path) -> None:
    data = json.loads(rendered["json"].read_text())
    for f in data["figures"]:
        for name in ("median_low", "median_high", "precise", "bimodal"):
            del f[name]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    rs = results.load(path)
    assert all(f.precise is None and f.bimodal is False for f in rs.figures)
    md = report.render(rs, tmp_path / "out")["md"].read_text()
    assert "Precision: 0 of " in md and "Repetitions were fixed" in md


def test_scale_curve_per_layout_with_slope_and_growth(tmp_path: Path) -> None:
    """The fan-out curve (benchmarks/scale.py): a row per stack and layout with the wall
    and peak memory at each size, the slope, and the growth verdict; a plot."""
    rs = ResultSet(mode="full", command="orchbench bench", started="2026-12-01T10:00:00+00:00",
                   environment={"cpu_count": 2}, settings={})
    curves = {("airflow", "postgres"): [(10, 20.0), (100, 110.0), (500, 510.0)],
              ("dagster", "postgres"): [(10, 12.0), (100, 60.0), (500, 900.0)],
              ("prefect", "sqlite"): [(10, 5.0), (100, 9.0)]}
    for (orch, backend), points in curves.items():
        for n, wall in points:
            rs.chains.append(ChainPoint("scale_fanout", orch, "default", n, [wall],
                                        backend=backend, peak_pss_mb=400.0 + n))
        rs.figures.append(Figure("latency", "scale_fanout", orch, "slope_s_per_task", "s",
                                 [1.0], "default", backend=backend))
    paths = report.render(results.load(results.save(rs, tmp_path / "results.json")),
                          tmp_path / "out")
    md = paths["md"].read_text()
    section = md.split("### Scale: fan-out of n no-op tasks")[1].split("\n### ")[0]
    assert "| layout | n=10 | n=100 | n=500 | per task (slope) | growth |" in section
    rows = {line.split(" | ")[0].lstrip("| ") + "/" + line.split(" | ")[1]: line
            for line in section.splitlines() if line.startswith("| ") and "default" in line}
    assert "linear" in rows["airflow default/postgres"]
    assert "faster than linear" not in rows["airflow default/postgres"]
    assert "faster than linear" in rows["dagster default/postgres"]
    assert "900 MB" in rows["dagster default/postgres"]  # peak PSS at n=500
    assert "—" in rows["prefect default/sqlite"]  # no n=500 point
    assert "<svg" in paths["html"].read_text().split("Scale: fan-out")[1]
    assert "Scale: runs triggered at once" not in md  # not measured, no section


def test_runs_at_once_per_layout(tmp_path: Path) -> None:
    rs = ResultSet(mode="full", command="orchbench bench", started="2026-12-01T10:00:00+00:00",
                   environment={"cpu_count": 2}, settings={})
    for backend, waits in (("sqlite", [0.5, 1.0, 30.2]), ("postgres", [0.4, 0.6, 12.0])):
        rs.figures += [
            Figure("latency", "scale_runs", "prefect", "makespan_s", "s", [45.0], "default",
                   backend=backend),
            Figure("latency", "scale_runs", "prefect", "queue_wait_s", "s", waits, "default",
                   backend=backend),
            Figure("latency", "scale_runs", "prefect", "max_at_once", "runs", [4.0], "default",
                   backend=backend)]
    md = report.render(rs, tmp_path / "out")["md"].read_text()
    section = md.split("### Scale: runs triggered at once")[1].split("\n### ")[0]
    assert "| layout | makespan | queue wait | queue wait p95 | runs per minute | most at once |" \
        in section
    rows = [line for line in section.splitlines() if line.startswith("| prefect default |")]
    assert [r.split(" | ")[1] for r in rows] == ["sqlite", "postgres"]
    assert "45 s" in rows[0] and "1 s" in rows[0]  # makespan, the median wait


def test_backfill_per_layout_beside_direct(tmp_path: Path) -> None:
    """A row per stack and layout and direct's (no layout), the mechanism named."""
    rs = ResultSet(mode="full", command="orchbench bench", started="2026-12-02T10:00:00+00:00",
                   environment={"cpu_count": 2}, settings={})
    for name, variant, backend, wall in (("direct", "", "", 500.0),
                                         ("airflow", "default", "postgres", 900.0)):
        knobs = {} if name == "direct" else {"mechanism": "POST /api/v2/backfills"}
        rs.figures += [
            Figure("latency", "backfill", name, "wall_s", "s", [wall], variant, backend=backend,
                   knobs=knobs),
            Figure("latency", "backfill", name, "run_s", "s", [16.0, 17.0, 18.0], variant,
                   backend=backend, knobs=knobs),
            Figure("latency", "backfill", name, "identical_dates", "dates", [30.0], variant,
                   backend=backend, knobs=knobs)]
    md = report.render(rs, tmp_path / "out")["md"].read_text()
    section = md.split("### Scale: a backfill of consecutive dates")[1].split("\n### ")[0]
    assert "airflow: POST /api/v2/backfills" in section
    assert "| layout | wall | a date's run | mechanism's own | identical to direct |" in section
    rows = {line.split(" | ")[0].lstrip("| "): line for line in section.splitlines()
            if line.startswith("| ") and " s " in line}
    assert rows["direct"].split(" | ")[1] == "—" and "500 s" in rows["direct"]
    assert rows["airflow default"].split(" | ")[1] == "postgres"
    assert "30" in rows["airflow default"].split(" | ")[-1]
