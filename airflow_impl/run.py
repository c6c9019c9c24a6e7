"""Run one pipeline date through Airflow: the driver entry (core/protocol.py).

    python -m airflow_impl.run --date D --run-id ID --config CONFIG.json --result OUT.json
        [--force-cold]

Airflow's home is <cfg.home>/orchestrators/airflow/ (SQLite metadata, airflow.cfg,
task logs), its DAGs folder is airflow_impl/dags. The run is ``dag.test()`` — what
``airflow dags test`` calls — in this process: Airflow's own scheduling loop and
Task SDK run the tasks with their retries and timeouts, without a scheduler or an
API server to start. The uniform result is then read back from Airflow's
metadata DB (task instances, their earlier tries, XComs). Exit 0 whether the
pipeline succeeded or failed; anything else is a bug here.

``dag.test()`` prints task logs to the console only; this driver also writes each
attempt's lines where a deployed Airflow keeps them (logs/dag_id=…/attempt=N.log,
Airflow's JSON lines), so `airflow standalone` on this home shows them in the UI.
Airflow is imported only after its environment is set: it reads it on import.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import logging
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

from airflow_impl.settings import DAG_FILE, airflow_environment
from core.errors import StepError
from core.lake import write_json
from core.protocol import driver_arguments
from core.registry import DECISION_STEP, METRICS_STEP, STEPS
from core.result import RunResult, StepResult, error_file, now, read_step_error
from core.runner import unwind_on_signals
from core.task import logical_date, run_config


def migrate(airflow_home: Path) -> None:
    """`airflow db migrate` once per home and Airflow version (3–4 s; idempotent anyway)."""
    from importlib.metadata import version

    stamp = airflow_home / f".migrated-{version('apache-airflow')}"
    if stamp.exists():
        return
    airflow_home.mkdir(parents=True, exist_ok=True)
    done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"airflow db migrate failed:\n{done.stdout}\n{done.stderr}")
    stamp.touch()


class AttemptLogs(logging.Handler):
    """Collects the log records of each task attempt that dag.test() runs in this process."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.current: tuple[str, int] | None = None
        self.lines: dict[tuple[str, int], list[dict[str, str]]] = defaultdict(list)

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "airflow.sdk.definitions.dag" and isinstance(record.msg, str):
            if record.msg.startswith("[DAG TEST] running task"):
                ti = record.args[0]  # type: ignore[index]
                self.current = (ti.task_id, ti.try_number)
            elif record.msg.startswith("[DAG TEST] end task"):
                self.current = None
        if self.current is not None:
            self.lines[self.current].append({
                "timestamp": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
                "level": record.levelname.lower(),
                "logger": record.name,
                "event": record.getMessage(),
            })

    def last_error(self, task_id: str, try_number: int) -> str | None:
        """The attempt's last error-level line of the task's log, whole: what Airflow
        shows of a failure the step itself left no record of (read_result)."""
        errors = [r["event"] for r in self.lines.get((task_id, try_number), [])
                  if r["level"] == "error" and r["logger"] == "airflow.task"]
        return errors[-1] if errors else None


def main(argv: list[str] | None = None) -> int:
    args = driver_arguments("python -m airflow_impl.run", __doc__, argv)
    # SIGINT (what the CLI sends when it is stopped) and SIGTERM unwind like Ctrl-C,
    # in every thread: the running step's container is stopped and removed.
    unwind_on_signals()
    config = str(Path(args.config).resolve())
    # Once per process, in core.task: the DAG file's parse and the tasks that dag.test()
    # runs in this process get this same Config (run_config) and date (logical_date).
    cfg = run_config(config)
    day = logical_date(args.date)

    os.environ.update(airflow_environment(cfg.home), ORCHBENCH_CONFIG=config)
    migrate(Path(os.environ["AIRFLOW_HOME"]))

    import airflow

    spec = importlib.util.spec_from_file_location("orchbench_pipeline", DAG_FILE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    attempts = AttemptLogs()
    logging.getLogger().addHandler(attempts)
    try:
        dag_run = module.daily.test(
            logical_date=dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC),
            run_conf={"day": day.isoformat(), "run_id": args.run_id, "config": config,
                      "force_cold": args.force_cold},
        )
    finally:
        logging.getLogger().removeHandler(attempts)
    result = read_result(dag_run, args.run_id, day, attempts, airflow.__version__, cfg.home)
    write_json(result.to_dict(), args.result)
    write_json(result.to_dict(), cfg.home / "runs" / f"{day}-{args.run_id}.json")
    return 0


def read_result(dag_run: Any, run_id: str, day: dt.date, attempts: AttemptLogs,
                version: str, home: Path) -> RunResult:
    """The uniform result from Airflow's records: task instances, their earlier tries, XCom.

    A failed step's error is the StepError its task left in `home`
    (core.result.error_file); without one (the task was stopped by Airflow, e.g. its
    execution_timeout, or failed before core ran) it is the last error line of the
    task's final attempt, or the task's state."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.models.xcom import XComModel
    from airflow.utils.log.file_task_handler import FileTaskHandler
    from airflow.utils.session import create_session
    from sqlalchemy import select

    def iso(value: dt.datetime | None) -> str | None:
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds") if value else None

    result = RunResult("airflow", version, run_id, day.isoformat(), started=None)
    with create_session() as session:
        where = (TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id)
        tis = {ti.task_id: ti for ti in session.scalars(select(TaskInstance).where(*where))}
        tries: dict[str, list[Any]] = defaultdict(list)
        for old in session.scalars(select(TaskInstanceHistory).where(
                TaskInstanceHistory.dag_id == dag_run.dag_id,
                TaskInstanceHistory.run_id == dag_run.run_id)):
            tries[old.task_id].append(old)
        files = FileTaskHandler(os.path.join(os.environ["AIRFLOW_HOME"], "logs"))
        for spec in STEPS:
            ti = tis[spec.name]
            record = StepResult(spec.name, attempts=ti.try_number)
            if ti.state in ("success", "failed") and record.attempts:
                record.status = "success" if ti.state == "success" else "failed"
                runs = [*(r for r in tries[spec.name] if r.try_number != ti.try_number), ti]
                # dag.test() queues no executor, so the scheduled time is when it was queued.
                record.queued = iso(min(r.queued_dttm or r.scheduled_dttm for r in runs))
                record.started = iso(min(r.start_date for r in runs if r.start_date))
                record.ended = iso(ti.end_date)
                for attempt in runs:
                    lines = attempts.lines.get((spec.name, attempt.try_number), [])
                    # Airflow's own file naming (log_filename_template), so its reader finds them.
                    path = Path(files.local_base) / files._render_filename(
                        attempt, attempt.try_number, session=session)
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
                if record.status == "failed":
                    record.fail(read_step_error(error_file(home, run_id, spec.name))
                                or StepError.recorded_by(
                                    "airflow", attempts.last_error(spec.name, ti.try_number)
                                    or f"task {ti.state}"))
            result.steps.append(record)
        outputs = {x.task_id: XComModel.deserialize_value(x) for x in session.scalars(
            XComModel.get_many(run_id=dag_run.run_id, key="return_value",
                               dag_ids=dag_run.dag_id))}
    result.decision = outputs.get(DECISION_STEP)
    result.metrics = outputs.get(METRICS_STEP)
    result.status = "success" if dag_run.state == "success" else "failed"
    result.error = result.error_from_steps()
    ran = [s for s in result.steps if s.queued]
    result.started = ran[0].queued if ran else None
    result.ended = iso(dag_run.end_date) or now()
    return result


if __name__ == "__main__":
    sys.exit(main())
