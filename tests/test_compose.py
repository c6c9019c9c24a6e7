"""docker-compose.yml: the three UIs from the project's own offline images.

The stack test builds the UI images (a no-op when the code has not changed), brings
the stack up under a compose project name of its own, on free ports and a data
folder of its own, waits until every service is healthy, checks that each UI answers
with its orchestrator's own facts (not just a 200), runs the pipeline once through
Dagster to prove that the services start workload containers whose mounts the
host's daemon resolves, then `down -v` and checks nothing of the project is left.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import docker
import pytest

from core.config import load_config
from core.direct import backfill_history
from core.images import IMAGE_NAMES, UI_IMAGE_NAMES, image_tag
from core.models import ModelStore
from core.schedules import SCHEDULES
from infra.envs import uv
from infra.images import build_images

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILE = ROOT / "docker-compose.yml"
SERVICES = ("prefect-server", "prefect-serve", "airflow", "dagster")
HEALTHY_WITHIN_S = 420  # Airflow standalone's first start migrates its DB: ~1-2 min on 2 cores
RUN_WITHIN_S = 300
LOCK_EXTRAS = {"ui-prefect": "prefect", "ui-airflow": "airflow", "ui-dagster": "dagster"}


# --- the images' inputs (no Docker) -------------------------------------------------

@pytest.mark.parametrize("name", UI_IMAGE_NAMES)
def test_ui_requirements_are_the_lock_exported(name: str) -> None:
    """The committed pins are exactly what uv.lock exports: a lock change that does not
    reach them (and so the image tag) fails here, with the command that fixes it."""
    command = [uv(), "export", "--frozen", "--no-default-groups", "--extra", LOCK_EXTRAS[name],
               "--no-emit-project", "--no-hashes"]
    exported = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True,
                              env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"}).stdout
    committed = (ROOT / "images" / name / "requirements.txt").read_text()
    assert committed == exported, (
        f"images/{name}/requirements.txt is stale: run `{' '.join(command[1:])} > "
        f"images/{name}/requirements.txt`")


def test_ui_tags_follow_core_wrapper_and_workload_code(tmp_path: Path) -> None:
    for part in ("images", "core", "prefect_impl", "airflow_impl", "dagster_impl", "orchbench"):
        subprocess.run(["cp", "-a", str(ROOT / part), str(tmp_path / part)], check=True)
    tags = {name: image_tag(name, tmp_path) for name in UI_IMAGE_NAMES}
    assert tags == {name: image_tag(name) for name in UI_IMAGE_NAMES}  # a copy: same tags

    (tmp_path / "orchbench" / "cli.py").write_text("# not in any image\n")
    assert {name: image_tag(name, tmp_path) for name in UI_IMAGE_NAMES} == tags

    (tmp_path / "airflow_impl" / "new.py").write_text("x = 1\n")
    changed = {name: image_tag(name, tmp_path) for name in UI_IMAGE_NAMES}
    assert changed["ui-airflow"] != tags["ui-airflow"]
    assert changed["ui-prefect"] == tags["ui-prefect"]

    with (tmp_path / "images" / "train" / "app" / "train.py").open("a") as f:
        f.write("# the pipeline inside must ask for the new train tag\n")
    after = {name: image_tag(name, tmp_path) for name in UI_IMAGE_NAMES}
    assert all(after[name] != changed[name] for name in UI_IMAGE_NAMES)


def test_default_build_is_still_the_workload_images() -> None:
    assert IMAGE_NAMES == ("transform", "train")
    assert not set(IMAGE_NAMES) & set(UI_IMAGE_NAMES)


# --- the stack ----------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get(url: str, timeout_s: float = 10) -> Any:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        body = response.read().decode()
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        return body  # an HTML page


def _graphql(port: int, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", method="POST",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        reply = json.loads(response.read())
    assert not reply.get("errors"), reply["errors"]
    return dict(reply["data"])


class Compose:
    """docker-compose on the project's file, under a project name of this test's."""

    def __init__(self, data_parent: Path) -> None:
        self.project = f"orchbench-test-{uuid.uuid4().hex[:8]}"
        self.session = self.project
        self.ports = {name: _free_port() for name in ("prefect", "airflow", "dagster")}
        self.data_parent = data_parent  # $PWD for compose: the data is $PWD/var/compose
        self.home = data_parent / "var" / "compose"
        self.env = {
            **os.environ,
            "PWD": str(data_parent),
            "ORCHBENCH_SESSION": self.session,
            "ORCHBENCH_AIRFLOW_PAUSED": "True",  # no scheduled run during the test
            **{f"ORCHBENCH_{name.upper()}_PORT": str(port) for name, port in self.ports.items()},
            **{f"ORCHBENCH_{name.upper().replace('-', '_')}_TAG": image_tag(name).split(":")[1]
               for name in UI_IMAGE_NAMES},
        }

    def __call__(self, *args: str, timeout_s: float = 300) -> str:
        done = subprocess.run(["docker-compose", "-p", self.project, "-f", str(COMPOSE_FILE),
                               *args], env=self.env, cwd=self.data_parent, capture_output=True,
                              text=True, timeout=timeout_s, check=False)
        assert done.returncode == 0, f"docker-compose {' '.join(args)}:\n{done.stderr}"
        return done.stdout


def _project_filter(compose: Compose) -> dict[str, str]:
    return {"label": f"com.docker.compose.project={compose.project}"}


def _wait_healthy(client: docker.DockerClient, compose: Compose) -> float:
    started = time.monotonic()
    states: dict[str, str] = {}
    while time.monotonic() - started < HEALTHY_WITHIN_S:
        containers = client.containers.list(all=True, filters=_project_filter(compose))
        states = {c.labels["com.docker.compose.service"]:
                  c.attrs["State"].get("Health", {}).get("Status", c.status) for c in containers}
        dead = [c.name for c in containers if c.status in ("exited", "dead")]
        assert not dead, f"{dead} exited: {compose('logs', '--tail', '40')}"
        if sorted(states) == sorted(SERVICES) and set(states.values()) == {"healthy"}:
            return time.monotonic() - started
        time.sleep(2)
        for c in containers:
            c.reload()
    pytest.fail(f"not all healthy within {HEALTHY_WITHIN_S} s: {states}\n"
                f"{compose('logs', '--tail', '40')}")


def _check_prefect(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    assert _get(f"{base}/api/health") is True
    assert _get(f"{base}/api/admin/version").startswith("3.")
    deployment = _get(f"{base}/api/deployments/name/orchbench_pipeline/daily")
    assert deployment["status"] == "READY"
    assert {s["schedule"]["cron"] for s in deployment["schedules"]} == {
        schedule.cron for schedule in SCHEDULES}
    # The UI calls the API through the host's published port, not the container's.
    assert _get(f"{base}/ui-settings")["api_url"] == f"{base}/api"


def _check_airflow(port: int) -> None:
    base = f"http://127.0.0.1:{port}"
    assert _get(f"{base}/api/v2/version")["version"].startswith("3.")
    dag = _get(f"{base}/api/v2/dags/orchbench_pipeline")
    assert dag["dag_id"] == "orchbench_pipeline" and dag["is_paused"] is True
    tasks = {t["task_id"] for t in _get(f"{base}/api/v2/dags/orchbench_pipeline/tasks")["tasks"]}
    assert {"ingest", "transform", "check_drift", "train", "evaluate"} <= tasks
    assert "Airflow" in _get(f"{base}/")


def _check_dagster(port: int) -> None:
    assert _get(f"http://127.0.0.1:{port}/server_info")["dagster_webserver_version"]
    data = _graphql(port, """{ workspaceOrError { ... on Workspace { locationEntries {
        name loadStatus locationOrLoadError { ... on RepositoryLocation {
        repositories { jobs { name } schedules { name } } } } } } } }""")
    [entry] = data["workspaceOrError"]["locationEntries"]
    assert (entry["name"], entry["loadStatus"]) == ("dagster_impl.definitions", "LOADED")
    [repo] = entry["locationOrLoadError"]["repositories"]
    assert "orchbench_pipeline" in {j["name"] for j in repo["jobs"]}
    assert {s["name"] for s in repo["schedules"]} == {"daily_0600_utc", "weekly_cold_start"}


def _run_pipeline_in_dagster(port: int, day: str) -> dict[str, Any]:
    """Launch the daily job for `day` through the UI's GraphQL API and wait for its end."""
    params = {"day": day, "run_id": uuid.uuid4().hex[:12], "config": None, "home": None,
              "force_cold": False}
    launched = _graphql(port, """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) {
        __typename ... on LaunchRunSuccess { run { runId } } ... on Error { message } } }""", {
        "p": {"selector": {"repositoryLocationName": "dagster_impl.definitions",
                           "repositoryName": "__repository__", "jobName": "orchbench_pipeline"},
              "runConfigData": {"resources": {"run": {"config": params}}}}})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + RUN_WITHIN_S
    while time.monotonic() < deadline:
        run = _graphql(port, """query($id: ID!) { runOrError(runId: $id) { ... on Run {
            status stepStats { stepKey status } } } }""", {"id": run_id})["runOrError"]
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
            return dict(run)
        time.sleep(2)
    pytest.fail(f"dagster run {run_id} did not finish within {RUN_WITHIN_S} s: {run}")


def _leftovers(client: docker.DockerClient, compose: Compose) -> dict[str, list[str]]:
    flt = _project_filter(compose)
    return {
        "containers": [c.name for c in client.containers.list(all=True, filters=flt)],
        "volumes": [v.name for v in client.volumes.list(filters=flt)],
        "networks": [n.name for n in client.networks.list(filters=flt)],
        "workload containers": [c.name for c in client.containers.list(
            all=True, filters={"label": f"orchbench.session={compose.session}"})],
    }


@pytest.mark.slow
def test_compose_brings_up_three_uis_that_run_the_pipeline(tmp_path: Path) -> None:
    started = time.monotonic()
    build_images()  # the workload images the services start (no-op when built)
    build_images(UI_IMAGE_NAMES)
    compose = Compose(tmp_path)
    compose.home.mkdir(parents=True)
    client = docker.from_env()
    try:
        compose("up", "-d", "--no-build")
        healthy_after = _wait_healthy(client, compose)
        _check_prefect(compose.ports["prefect"])
        _check_airflow(compose.ports["airflow"])
        _check_dagster(compose.ports["dagster"])
        # Ports are published on 127.0.0.1 only.
        for container in client.containers.list(filters=_project_filter(compose)):
            for bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).values():
                assert all(b["HostIp"] == "127.0.0.1" for b in bindings or [])

        # A first day needs refined history to train on: four days, built on the host.
        backfill_history(load_config(home=compose.home), dt.date(2026, 2, 1),
                         dt.date(2026, 2, 4), log=lambda _: None)
        run = _run_pipeline_in_dagster(compose.ports["dagster"], "2026-02-05")
        assert run["status"] == "SUCCESS", run
        assert {s["stepKey"]: s["status"] for s in run["stepStats"]} == {
            step: "SUCCESS" for step in ("ingest", "transform", "check_drift", "train",
                                         "evaluate")}
        # What the containers wrote reached the host's folder, at the same path.
        current = ModelStore.of(load_config(home=compose.home)).current()
        assert current.date == dt.date(2026, 2, 5) and current.metrics() is not None
    finally:
        compose("down", "-v", "--remove-orphans", "--timeout", "30")
    assert _leftovers(client, compose) == {
        "containers": [], "volumes": [], "networks": [], "workload containers": []}
    print(f"\ncompose up -> all healthy: {healthy_after:.1f} s; "
          f"test: {time.monotonic() - started:.1f} s")
