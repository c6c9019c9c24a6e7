"""Scale (issue 13, item 4): how a served stack's cost grows with the work in a run.

The fan-out curve: on a started stack (benchmarks/served.py starts it with
`StackSettings.scale`, so it also loads the fan-out definition, core.names.FANOUT_NAME),
one run per size n of Plan.scale_fanout_sizes, each a task that lists n items and n
no-op tasks mapped over them the orchestrator's idiomatic dynamic way (Airflow
`.expand`, Prefect `.map`, Dagster `DynamicOut`), triggered through the orchestrator's
own API. Per size:

- wall: the run's duration as the orchestrator records it, from its start to its end,
  s (ChainPoint "scale_fanout"). Not from the trigger: what comes before the start is
  the scheduler's or worker's poll (up to 10 s as installed, the served figures'
  trigger → first task), the same at every size, and it would hide the curve;
- the stack's peak memory while the run goes on: PSS summed over its processes,
  sampled every PEAK_EVERY_S (ChainPoint.peak_pss_mb);
- the run must end succeeded with all n mapped tasks recorded succeeded (counted by
  the API: RunStatus.tasks_succeeded). Prefect records task runs from events, after
  the flow run ended (16 s at n = 500 measured here): how long after is
  ChainPoint.recorded_after_s.

A size that fails or passes Plan.scale_timeout_s is the figure (a note says which and
why) and the larger sizes are not tried. With two sizes or more, the curve's fitted
slope (stats.linear_fit, s per task) is a Figure, and `growth` says whether the cost
grows faster than linearly.

Each size is one sample: a run of 500 tasks costs minutes, and the curve's shape, not a
median's last per cent, is what this scenario is for.

Concurrent runs (`concurrent_runs`): Plan.scale_runs fan-outs of Plan.scale_run_tasks
tasks triggered at once (one API call after another), against the fan-out's run
concurrency limit, core.names.FANOUT_RUN_LIMIT, set the orchestrator's own way. Figures
(scenario "scale_runs"): the makespan (first trigger to last recorded end, s), each
run's queue wait (its trigger to its recorded start, s: the samples, so the report's
median) and their 95th percentile, runs per minute (runs / makespan), and the most
runs recorded running at once (their [start, end] intervals overlapped), which the
limit must bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from benchmarks import stats
from benchmarks.plan import Bench
from benchmarks.results import ChainPoint, Figure
from core.errors import OrchbenchError, problem_of
from core.names import FANOUT_RUN_LIMIT
from infra.stacks import RunningStack, Stack, StackSettings

PEAK_EVERY_S = 1.0


def fanout_curve(bench: Bench, st: Stack, running: RunningStack, s: StackSettings,
                 knobs: dict[str, str]) -> None:
    """The fan-out curve of one started stack (see the module's docstring): ChainPoints
    "scale_fanout" (one per size that succeeded), the slope Figure, notes for a size that
    failed. Never raises for a run that fails or times out: that is the figure."""
    label = s.label(st.name)
    sizes = bench.plan.scale_fanout_sizes
    points: list[ChainPoint] = []
    for i, n in enumerate(sizes):
        try:
            point = _one_size(bench, st, running, s, n)
        except (OrchbenchError, OSError) as err:  # OSError: the API refused (HTTPError)
            bench.results.notes.append(
                f"scale: {label}: the fan-out of {n} tasks failed, so the curve stops "
                f"there: {_first_line(err)}")
            for m in sizes[i:]:
                bench.advance(f"scale: {label} fan-out of {m} not measured")
            break
        points.append(point)
        bench.results.chains.append(point)
        bench.advance(f"scale: {label} fan-out of {n}: {point.samples[0]:.1f} s")
    if len(points) >= 2:
        slope, _ = stats.linear_fit([float(p.n) for p in points],
                                    [p.samples[0] for p in points])
        bench.results.figures.append(Figure(
            "latency", "scale_fanout", st.name, "slope_s_per_task", "s", [slope],
            variant=s.variant, knobs=knobs, backend=s.backend,
            note=f"least squares over n = {', '.join(str(p.n) for p in points)}; "
                 f"growth {stats.growth([(p.n, p.samples[0]) for p in points])}"))


def _one_size(bench: Bench, st: Stack, running: RunningStack, s: StackSettings,
              n: int) -> ChainPoint:
    """One fan-out run of n tasks, watched to its end; raises OrchbenchError when it
    fails, times out, or its tasks are not all recorded succeeded."""
    timeout = bench.plan.scale_timeout_s
    with _Peak(running) as peak:
        run_id = st.trigger_fanout(s, n)
        status = running.wait_run(run_id, timeout_s=timeout, read=st.fanout_status)
        if not status.succeeded or status.first_task_started is None or status.ended is None:
            raise OrchbenchError(f"{st.name} run {run_id} ended {status.state} (started "
                                 f"{status.first_task_started}, ended {status.ended}).",
                                 "See the stack's logs.")
        # Task runs can be recorded after the run's end (Prefect's events): wait for all.
        running.wait_run(run_id, timeout_s=120, read=st.fanout_status,
                         until=lambda got: (got.tasks_succeeded or 0) >= n)
        recorded = max(0.0, time.time() - status.ended)
    return ChainPoint("scale_fanout", st.name, s.variant, n,
                      [round(status.ended - status.first_task_started, 3)],
                      backend=s.backend, peak_pss_mb=round(peak.mb, 1),
                      recorded_after_s=round(recorded, 1))


def concurrent_runs(bench: Bench, st: Stack, running: RunningStack, s: StackSettings,
                    knobs: dict[str, str]) -> None:
    """The concurrent runs of one started stack (see the module's docstring): Figures
    "scale_runs", or a note if a run failed or did not end within Plan.scale_timeout_s
    (counted from the last trigger)."""
    label = s.label(st.name)
    count, n = bench.plan.scale_runs, bench.plan.scale_run_tasks
    try:
        triggered: dict[str, float] = {}
        for _ in range(count):
            at = time.time()
            triggered[st.trigger_fanout(s, n)] = at
        deadline = time.perf_counter() + bench.plan.scale_timeout_s
        ended = {run_id: running.wait_run(run_id, max(1.0, deadline - time.perf_counter()),
                                          read=st.fanout_status)
                 for run_id in triggered}
    except (OrchbenchError, OSError) as err:  # OSError: the API refused (HTTPError)
        bench.results.notes.append(f"scale: {label}: {count} runs at once failed: "
                                   f"{_first_line(err)}")
        bench.advance(f"scale: {label} {count} runs at once failed")
        return
    failed = [f"{run_id} {status.state}" for run_id, status in ended.items()
              if not status.succeeded or status.first_task_started is None
              or status.ended is None]
    if failed:
        bench.results.notes.append(f"scale: {label}: of {count} runs at once, "
                                   f"{len(failed)} did not succeed: {', '.join(failed[:3])}")
        bench.advance(f"scale: {label} {count} runs at once: {len(failed)} failed")
        return
    spans = [(status.first_task_started or 0.0, status.ended or 0.0)
             for status in ended.values()]
    waits = [round(start - triggered[r], 3) for r, (start, _) in zip(ended, spans, strict=True)]
    makespan = max(end for _, end in spans) - min(triggered.values())
    most = max_overlap(spans)
    common = {"variant": s.variant, "knobs": {**knobs, "limit": str(FANOUT_RUN_LIMIT)},
              "backend": s.backend}
    bench.results.figures += [
        Figure("latency", "scale_runs", st.name, "makespan_s", "s", [round(makespan, 3)],
               note=f"{count} runs of {n} task(s) triggered at once, limit "
                    f"{FANOUT_RUN_LIMIT}", **common),
        Figure("latency", "scale_runs", st.name, "queue_wait_s", "s", waits,
               note="trigger → the run's recorded start, a sample per run", **common),
        Figure("latency", "scale_runs", st.name, "queue_wait_p95_s", "s",
               [round(stats.quantile(waits, 0.95), 3)], note="of queue_wait_s", **common),
        Figure("latency", "scale_runs", st.name, "runs_per_min", "runs/min",
               [round(count / makespan * 60, 2)], **common),
        Figure("latency", "scale_runs", st.name, "max_at_once", "runs", [float(most)],
               note=f"the most runs recorded running at once; the limit is "
                    f"{FANOUT_RUN_LIMIT}", **common),
    ]
    bench.advance(f"scale: {label} {count} runs at once: {makespan:.0f} s, at most {most} "
                  "at once")


def _first_line(err: Exception) -> str:
    return problem_of(err).splitlines()[0]


def max_overlap(spans: Sequence[tuple[float, float]]) -> int:
    """The most intervals (start, end) that overlap at one instant; an interval that
    ends exactly when another starts does not overlap it."""
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans],
                    key=lambda e: (e[0], e[1]))  # at a tie, an end before a start
    most = current = 0
    for _, step in events:
        current += step
        most = max(most, current)
    return most


class _Peak:
    """The stack's largest PSS (MB) while the block runs, sampled in a thread."""

    def __init__(self, running: RunningStack) -> None:
        self.running = running
        self.mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while True:
            self.mb = max(self.mb, self.running.rss_bytes() / 2**20)  # psutil errors: 0
            if self._stop.wait(PEAK_EVERY_S):
                return

    def __enter__(self) -> _Peak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
