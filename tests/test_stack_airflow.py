"""Airflow's stack settings, and the port beside the UI's that it also needs.

The stack itself runs in test_browser.py (through `orchbench ui airflow`) and
in the benchmark's served scenario (test_bench.py); these need no Airflow.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from core.errors import OrchbenchError
from infra.stacks.airflow import EXTRA_PORTS, AirflowStack
from infra.stacks.base import StackSettings, free_ports


def test_knobs_by_variant() -> None:
    st = AirflowStack()
    default, tuned = st.knobs("default"), st.knobs("tuned")
    assert default["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"] == "1"
    assert float(tuned["AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME"]) < 1
    # Benchmarks: no cron run in front of a triggered one; the UI: the schedule is live.
    assert default["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] == "False"
    assert st.knobs("ui")["AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE"] == "True"
    detect = StackSettings(home=Path("/h"), config=Path("/h/c.json"), port=1, variant="detect")
    timeout = st.environment(detect)["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"]
    assert int(timeout) < 60 < int(default["AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT"])
    with pytest.raises(OrchbenchError, match="variant"):
        st.knobs("fast")


def test_taken_log_server_port_fails_fast(tmp_path: Path) -> None:
    """The UI port is free but the worker log server's (UI + 1) is not: refuse at once."""
    port = free_ports(1 + len(EXTRA_PORTS))
    s = StackSettings(home=tmp_path, config=tmp_path / "config.json", port=port)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port + 1))
        holder.listen()
        started = time.perf_counter()
        with pytest.raises(OrchbenchError, match=f"port {port + 1}"):
            AirflowStack().start(s, log=lambda _: None)
    assert time.perf_counter() - started < 5
    assert not (tmp_path / "orchestrators" / "airflow" / "ui.json").exists()


def test_a_backfill_is_cut_into_stretches_of_one_dag() -> None:
    """Airflow backfills one DAG at a time, and Sundays are the weekly cold start's DAG:
    ten days from a Friday are four stretches, in date order."""
    import datetime as dt

    from core.dates import date_range
    from core.schedules import DAILY, WEEKLY_COLD, definition_name
    from infra.stacks.airflow import stretches

    days = [d.isoformat() for d in date_range(dt.date(2026, 1, 16), dt.date(2026, 1, 25))]
    assert stretches(days) == [
        (definition_name(DAILY), days[:2]),  # Friday, Saturday
        (definition_name(WEEKLY_COLD), days[2:3]),  # Sunday the 18th
        (definition_name(DAILY), days[3:9]),  # Monday … Saturday
        (definition_name(WEEKLY_COLD), days[9:]),
    ]
