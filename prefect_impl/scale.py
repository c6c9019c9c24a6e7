"""The scale scenario's fan-out (benchmarks/scale.py, issue 13 item 4) as a Prefect flow.

`fanout(n)`: one task lists n items, then n no-op tasks are mapped over them the
idiomatic dynamic way (`noop.map(items)`), and the flow waits for all their results, so
a failed task fails the flow run. The tasks do nothing: what the run costs is Prefect's
own work per task. The flow, and its deployment (prefect_impl/deploy.py `--scale`), are
named core.names.FANOUT_NAME; the stack (infra/stacks/prefect.py) triggers it with
parameters {"n": n} and counts the COMPLETED task runs named noop-… through the API.

What shapes the figures (Prefect 3.9.1, site-packages/prefect/ in .venvs/prefect):
- the flow's task runner is the default `ThreadPoolTaskRunner()` (flows.py, `Flow.__init__`),
  whose max_workers is PREFECT_TASKS_RUNNER_THREAD_POOL_MAX_WORKERS, unset by default, and
  then `sys.maxsize` (task_runners.py, `ThreadPoolTaskRunner.__init__`): unbounded. Its
  ThreadPoolExecutor starts a new thread for each submission that finds no idle thread,
  so a fan-out of n may run up to n threads at once in the flow-run process (no-op tasks
  free theirs quickly: 170 threads at the peak of a fan-out of 500, sampled here);
- task runs run client-side: the flow-run process sends no API call per task run, only
  events (prefect.task-run.Pending/Running/Completed, over the events websocket) and log
  lines. The server writes the task runs from those events in its TaskRunRecorder service
  (server/services/task_run_recorder.py, `consumer`): with the defaults
  (settings/models/server/services.py, ServerServicesTaskRunRecorderSettings: batch_size
  1, flush_interval 5 s) it writes each event as it is consumed, the 5 s periodic flush
  only catching a batch left short. So the task runs appear after the flow run's own
  state (a direct API call) says Completed: the count lags the run's end, by more the
  more events are queued (three per task at least).
"""

from __future__ import annotations

from prefect import flow, task

from core.names import FANOUT_NAME

TASK_NAME = "noop"  # its task runs are named noop-<3 characters> (task_engine.py)


@task
def list_items(n: int) -> list[int]:
    """The n items to fan out over: the upstream task a dynamic map follows."""
    return list(range(n))


@task(name=TASK_NAME)
def noop(i: int) -> None:
    """Nothing: one mapped task's cost is the orchestrator's alone."""


@flow(name=FANOUT_NAME)
def fanout(n: int = 10) -> int:
    """n no-op tasks mapped over list_items' n items; waits for all of them and returns
    n. A task that fails raises from `.result()`, and so fails the flow run."""
    futures = noop.map(list_items(n))
    futures.result()  # waits for every future; raises the first failure
    return len(futures)
