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



@pytest.mark.parametrize("scale", [False, True])
def test_the_queue_runs_one_backfill_run_at_a_time(scale: bool, tmp_path: Path) -> None:
    """The queue's tag limits: a backfill's runs one at a time (Stack.backfill's order),
    and with `scale` the fan-out's run limit too; tuned has no queue, so no limits."""
    import yaml

    from core.names import FANOUT_RUN_LIMIT
    from infra.stacks.dagster import BACKFILL_TAG, SCALE_TAG

    st = DagsterStack()
    s = StackSettings(home=tmp_path, config=tmp_path / "c.json", port=1, scale=scale)
    queue = yaml.safe_load(st.dagster_yaml(st.environment(s), s))["run_coordinator"]["config"]
    limits = {limit["key"]: limit["limit"] for limit in queue["tag_concurrency_limits"]}
    assert limits == {BACKFILL_TAG: 1, **({SCALE_TAG: FANOUT_RUN_LIMIT} if scale else {})}
    tuned = StackSettings(home=tmp_path, config=tmp_path / "c.json", port=1, variant="tuned")
    assert "tag_concurrency_limits" not in st.dagster_yaml(st.environment(tuned), tuned)
