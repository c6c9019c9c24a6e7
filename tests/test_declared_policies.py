"""What each orchestrator was told: the retries and timeouts its built flow, DAG and
job declare, read back in that orchestrator's own environment and compared with the
run's config (core/registry.py's StepPolicy, from a config file that overrides the
defaults). Only the definitions are built: no pipeline runs, no containers.

Every orchestrator declares a step's timeout as the step's timeout_s (the container
runner's) plus core.registry.ORCHESTRATOR_TIMEOUT_MARGIN_S; Dagster has no op
timeout, so it declares it as an op tag. The pipeline's name is core.names.PIPELINE_NAME
in all three.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from core.config import Config, StepPolicy, save_config
from core.names import PIPELINE_NAME
from core.registry import ORCHESTRATOR_TIMEOUT_MARGIN_S, STEPS
from infra.envs import ENVS, ROOT

# Each prints {"name": …, "steps": {step: {"retries", "retry_delay_s", "timeout_s"}}}
# for the config file in ORCHBENCH_CONFIG.
READ_BACK = {
    "prefect": """
import json, os
from core.registry import STEPS
from core.task import run_config
from prefect_impl.flow import as_task, pipeline
cfg = run_config(os.environ["ORCHBENCH_CONFIG"])
tasks = {s.name: as_task(s, cfg) for s in STEPS}
print(json.dumps({"name": pipeline.name, "steps": {
    n: {"retries": t.retries, "retry_delay_s": t.retry_delay_seconds,
        "timeout_s": t.timeout_seconds} for n, t in tasks.items()}}))
""",
    "airflow": """
import json, runpy
from airflow_impl.settings import DAG_FILE
module = runpy.run_path(str(DAG_FILE))
for dag in (module["weekly_cold"], module["daily"]):  # both DAGs: the same policies
    steps = {t.task_id: {"retries": t.retries,
                         "retry_delay_s": t.retry_delay.total_seconds(),
                         "timeout_s": t.execution_timeout.total_seconds()} for t in dag.tasks}
print(json.dumps({"name": dag.dag_id, "steps": steps,
                  "same_in_both": steps == {t.task_id: {
                      "retries": t.retries, "retry_delay_s": t.retry_delay.total_seconds(),
                      "timeout_s": t.execution_timeout.total_seconds()}
                      for t in module["weekly_cold"].tasks}}))
""",
    "dagster": """
import json
from dagster_impl.definitions import TIMEOUT_TAG, defs, pipeline
job = defs.resolve_job_def(pipeline.name)
print(json.dumps({"name": job.name, "steps": {
    op.name: {"retries": op.retry_policy.max_retries, "retry_delay_s": op.retry_policy.delay,
              "timeout_s": float(op.tags[TIMEOUT_TAG])} for op in job.graph.node_defs}}))
""",
}


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> tuple[Config, Path]:
    """A config whose policies differ from the defaults, step by step."""
    cfg = Config(home=tmp_path_factory.mktemp("home"))
    steps = {s.name: dataclasses.replace(cfg.steps[s.name], retries=i % 3,
                                         retry_delay_s=1.5 + i, timeout_s=41.0 + 10 * i)
             for i, s in enumerate(STEPS)}
    cfg = dataclasses.replace(cfg, steps=steps)
    return cfg, save_config(cfg, cfg.home / "config.json")


def declared(name: str, cfg: Config, config: Path) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env.update(ORCHBENCH_CONFIG=str(config),
               PREFECT_HOME=str(cfg.home / "prefect"),
               AIRFLOW_HOME=str(cfg.home / "airflow"),
               DAGSTER_HOME=str(cfg.home))
    done = subprocess.run([str(ENVS[name].python), "-c", READ_BACK[name]], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    out: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return out


def expected(policy: StepPolicy) -> dict[str, float]:
    return {"retries": policy.retries, "retry_delay_s": policy.retry_delay_s,
            "timeout_s": policy.timeout_s + ORCHESTRATOR_TIMEOUT_MARGIN_S}


@pytest.mark.parametrize("name", ["prefect", "airflow", "dagster"])
def test_declared_retries_and_timeouts_are_the_configs(
        name: str, config: tuple[Config, Path]) -> None:
    cfg, path = config
    if not ENVS[name].python.exists():
        pytest.skip(f"no {name} environment")
    found = declared(name, cfg, path)
    assert found["name"] == PIPELINE_NAME
    assert found["steps"] == {s.name: expected(s.policy(cfg)) for s in STEPS}
    assert found.get("same_in_both", True)
