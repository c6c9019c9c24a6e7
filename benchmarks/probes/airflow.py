"""Airflow probe: DAG parsing, chains of no-op tasks and a fan-out, run with dag.test().

    .venvs/airflow/bin/python -m benchmarks.probes.airflow load|chain|fanout \
        --out F.json --workdir D

Airflow's home is a fresh folder in the workdir (SQLite metadata, no examples).
`load` times `import airflow.sdk` plus the DagBag machinery, then a real DagBag
parse of airflow_impl/dags. `chain` and `fanout` build TaskFlow DAGs here and run
them with ``dag.test()`` — what ``airflow dags test`` calls: Airflow's own
scheduling loop and Task SDK, in this process, with no scheduler, executor or API
server. ``airflow db migrate`` runs once beforehand and is timed apart ("setup").
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.probes import chain_protocol, fail, fanout_protocol, parse_args, write
from core.schedules import SCHEDULES, definition_name

PROBE = "airflow"
REPO = Path(__file__).resolve().parents[2]
DAGS = REPO / "airflow_impl" / "dags"
WANTED_DAGS = tuple(definition_name(s) for s in SCHEDULES)  # airflow_impl/dags/
# dag.test() keys each run by its logical date: every run gets its own second.
_DATES = (dt.datetime(2026, 1, 1, tzinfo=dt.UTC) + dt.timedelta(seconds=i)
          for i in itertools.count())


# dag.test() re-parses the DAG's bundle (the DAGs folder) and refuses a DAG it does not
# find there, so the probe's DAGs live in a one-file DAGs folder in the workdir too.
DAG_FILE_STUB = """\
# An airflow DAG file written by benchmarks/probes/airflow.py (the dag.test() probe).
from benchmarks.probes.airflow import dags_from_env

globals().update(dags_from_env())
"""
SPEC_VAR = "ORCHBENCH_PROBE_DAGS"


def use_home(workdir: Path, dags: Path = DAGS) -> Path:
    """Airflow reads its settings when imported: a home in the workdir, SQLite, no examples."""
    home = workdir / "airflow-home"
    home.mkdir(parents=True, exist_ok=True)
    os.environ.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    })
    return home


def probe_dags_folder(workdir: Path, spec: dict[str, Any]) -> Path:
    """A DAGs folder holding only the probe's DAGs; `spec` travels by environment variable
    so the DAG file Airflow parses builds exactly the DAGs this process runs."""
    folder = workdir / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "probe_dags.py").write_text(DAG_FILE_STUB)
    os.environ[SPEC_VAR] = json.dumps(spec)
    return folder


def dags_from_env() -> dict[str, Any]:
    """The probe's DAGs by id, from $ORCHBENCH_PROBE_DAGS (called by the DAG file)."""
    spec = json.loads(os.environ.get(SPEC_VAR, "{}"))
    dags = [chain_dag(n) for n in spec.get("chain", [])]
    if "fanout" in spec:
        dags.append(fanout_dag(*spec["fanout"]))
    return {d.dag_id: d for d in dags}


def load() -> dict[str, Any]:
    t0 = time.perf_counter()
    import airflow.sdk  # the authoring API our DAG file uses
    from airflow.dag_processing.dagbag import DagBag
    t1 = time.perf_counter()
    bag = DagBag(dag_folder=str(DAGS))
    t2 = time.perf_counter()
    if bag.import_errors:
        fail(f"DagBag import errors: {bag.import_errors}")
    missing = [d for d in WANTED_DAGS if d not in bag.dag_ids]
    if missing:
        fail(f"DagBag of {DAGS} lacks {missing} (has {bag.dag_ids})")
    import airflow
    return {"framework_import_s": t1 - t0, "definitions_s": t2 - t1,
            "dags": sorted(bag.dag_ids), "version": airflow.__version__}


def migrate() -> float:
    """`airflow db migrate` on the fresh home: a one-off cost a user pays, timed apart."""
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        fail(f"airflow db migrate failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return time.perf_counter() - t0


def chain_dag(n: int) -> Any:
    from airflow.sdk import dag, task

    @task
    def noop(upstream: int | None = None) -> int:
        return (upstream or 0) + 1

    @dag(dag_id=f"probe_chain_{n}", schedule=None, catchup=False,
         start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    def chain() -> None:
        value = noop()
        for _ in range(n - 1):
            value = noop(value)

    return chain()


def fanout_dag(n: int, sleep: float) -> Any:
    from airflow.sdk import dag, task

    @task
    def nap(seconds: float) -> None:
        time.sleep(seconds)

    @dag(dag_id=f"probe_fanout_{n}", schedule=None, catchup=False,
         start_date=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    def fanout() -> None:
        for _ in range(n):
            nap(sleep)

    return fanout()


def run_test(dag: Any) -> None:
    dag_run = dag.test(logical_date=next(_DATES))
    if dag_run.state != "success":
        fail(f"{dag.dag_id} ended {dag_run.state}")


def knobs() -> dict[str, str]:
    from airflow.configuration import conf

    return {"mode": "dag.test() (airflow dags test), in process",
            "metadata_db": "SQLite", "executor_configured": conf.get("core", "executor"),
            "executor_used": "none: dag.test() runs each ready task itself, one at a time"}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(f"benchmarks.probes.{PROBE}", argv)
    if args.command == "load":
        use_home(args.workdir)
        payload = load()
        write(args.out, PROBE, "load", payload, payload.pop("version"), {})
        return 0
    spec = ({"chain": args.sizes} if args.command == "chain"
            else {"fanout": [args.n, args.sleep]})
    use_home(args.workdir, probe_dags_folder(args.workdir, spec))
    setup = migrate()
    import airflow

    dags = dags_from_env()
    if args.command == "chain":
        payload = chain_protocol(lambda n: run_test(dags[f"probe_chain_{n}"]), args.sizes,
                                 args.reps, args.warmup)
    else:
        dag = dags[f"probe_fanout_{args.n}"]
        payload = fanout_protocol(lambda: run_test(dag), args.n, args.sleep, args.reps,
                                  args.warmup)
    payload["setup_s"] = {"airflow db migrate": setup}
    write(args.out, PROBE, args.command, payload, airflow.__version__, knobs())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
