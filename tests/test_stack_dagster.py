"""Dagster's stack settings: what each variant writes into dagster.yaml.

The stack itself runs in test_browser.py (through `orchbench ui dagster`) and in
the benchmark's served scenario (test_bench.py); this needs no Dagster.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import OrchbenchError
from infra.stacks.base import StackSettings
from infra.stacks.dagster import DagsterStack


def test_knobs_and_instance_settings() -> None:
    """default writes Dagster's defaults out (queue polled every 5 s, multiprocess);
    tuned launches in the request and runs steps in process; detect adds run monitoring."""
    st = DagsterStack()
    env = {v: st.environment(StackSettings(home=Path("/h"), config=Path("/h/c.json"), port=1,
                                           variant=v)) for v in ("default", "tuned", "detect")}
    assert env["default"]["ORCHBENCH_DAGSTER_EXECUTOR"] == "multiprocess"
    assert env["tuned"]["ORCHBENCH_DAGSTER_EXECUTOR"] == "in_process"
    default, tuned, detect = (st.dagster_yaml(env[v]) for v in ("default", "tuned", "detect"))
    assert "class: QueuedRunCoordinator" in default and "dequeue_interval_seconds: 5" in default
    assert "run_monitoring" not in default
    assert "class: DefaultRunCoordinator" in tuned
    assert "class: QueuedRunCoordinator" in detect
    assert "enabled: true" in detect and "poll_interval_seconds: 10" in detect
    with pytest.raises(OrchbenchError, match="variant"):
        st.knobs("fast")

