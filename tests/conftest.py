"""Shared fixtures: real Docker, real images, and a check that nothing is left behind."""

from __future__ import annotations

import dataclasses
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

# Every container this test session starts (in process or in a CLI subprocess)
# carries this label, so the leftover check below judges only the tests' own
# containers, never those of a demo or benchmark running beside them. Each
# pytest-xdist worker (`orchbench test` runs two) is a session of its own: it
# inherits the label of the process that started it and adds its name, so one
# worker's check never sees, nor removes, the other's running containers.
SESSION = os.environ.setdefault("ORCHBENCH_SESSION", f"pytest-{uuid.uuid4().hex[:8]}")
if os.environ.get("PYTEST_XDIST_WORKER"):
    SESSION = os.environ["ORCHBENCH_SESSION"] = f"{SESSION}-{os.environ['PYTEST_XDIST_WORKER']}"

# How `orchbench test` shares the suite between its two pytest-xdist workers
# (`--dist loadgroup --no-loadscope-reorder`): a unit of work is a module, or the
# modules that share a session fixture (built once, on one worker); units start
# longest first, so the longest one never starts last. Issue 11's durations on this
# 2-core machine, in seconds, serial / on two workers: the quick bench 1770 / 1487,
# test_compose with the UI image builds 970 / 554, the wrappers with their history
# about 600 / 370, the browser and workshop tests about 450 / 530, the demos 400 /
# 200, the calibration 266 / 192. Serially the suite took 84 min; on two, 32.
SHARED_FIXTURE_GROUPS = {"beijing_history": "wrappers", "ui_history": "uis"}
LONGEST_FIRST = ("test_bench.py", "test_compose.py", "wrappers", "uis", "test_production.py",
                 "test_demo.py", "test_drift_calibration.py", "test_signals.py")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    from core.docker_client import docker_client as make_client

    client = make_client()  # DockerUnavailable, with its fix, when there is no daemon
    yield client
    client.close()


@pytest.fixture(scope="session")
def beijing_history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """The three wrapper modules' common start, built once per session (issue 11: it was
    built three times): a home holding the Beijing history (tests/history.py), and the
    direct run of the parity date on a copy of it. A module copies the home, runs its
    orchestrator on that date and compares with the direct result."""
    from history import BEIJING_FIRST, BEIJING_LAST_HISTORY, beijing_config, beijing_parity_date

    from core.direct import backfill_history, run_date

    root = tmp_path_factory.mktemp("beijing_history")
    cfg = beijing_config(root / "history")
    backfill_history(cfg, BEIJING_FIRST, BEIJING_LAST_HISTORY, log=lambda _: None)
    twin = dataclasses.replace(cfg, home=root / "direct")
    shutil.copytree(cfg.home, twin.home)
    return cfg.home, run_date(twin, beijing_parity_date(), log=lambda _: None)


@pytest.fixture(scope="session")
def ui_history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The history `orchbench ui` builds on a first start (only the lake: no model, no
    orchestrator state), built once per session and copied by the browser and workshop
    tests."""
    from history import build_ui_history

    return build_ui_history(tmp_path_factory.mktemp("ui_history"))



@pytest.fixture(scope="session")
def base_image() -> str:
    """A small local image with python3, built offline if absent."""
    from infra.images import ensure_base_image

    return ensure_base_image()


@pytest.fixture(scope="session", autouse=True)
def no_containers_left_behind(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail the session if any container this session started survives the tests.

    Only a session that ran a slow test can have started one: the fast tier
    (`-m "not slow"`) runs on a machine with no Docker at all, so it checks nothing."""
    yield
    if not any(item.get_closest_marker("slow") for item in request.session.items):
        return
    from core.docker_client import docker_client as make_client

    client = make_client()
    left = client.containers.list(all=True, filters={"label": f"orchbench.session={SESSION}"})
    names = [f"{c.name} ({c.labels.get('orchbench.step')})" for c in left]
    for c in left:
        c.remove(force=True)
    client.close()
    assert not left, f"orchbench containers left behind: {names}"


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for Docker (or a history built with it) is slow, whatever its
    module says. Every test gets its xdist group (see LONGEST_FIRST above), and the
    tests are put in the order their groups should start in."""
    docker_fixtures = {"docker_client", "base_image", "beijing_history", "ui_history"}
    group = {}  # module file name -> its group: the whole module goes to one worker
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if docker_fixtures & fixtures:
            item.add_marker(pytest.mark.slow)
        shared = sorted(fixtures & set(SHARED_FIXTURE_GROUPS))
        if shared or item.path.name not in group:
            group[item.path.name] = SHARED_FIXTURE_GROUPS[shared[0]] if shared else item.path.name
    for item in items:
        item.add_marker(pytest.mark.xdist_group(group[item.path.name]))
    first = {name: rank for rank, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: first.get(group[item.path.name], len(first)))  # stable


def pytest_collection_finish(session: pytest.Session) -> None:
    """On a pytest-xdist worker under `--dist loadgroup`, every test id must carry its
    group: if not, the groups are silently ignored and a module fixture (the quick
    benchmark) runs once per worker, at the same time (pytest-xdist #1386)."""
    if not (os.environ.get("PYTEST_XDIST_WORKER") and session.config.getvalue("loadgroup")):
        return
    lost = [item.nodeid for item in session.items if "@" not in item.nodeid]
    if lost:
        raise pytest.UsageError(
            f"pytest-xdist did not group {lost[0]} (and {len(lost) - 1} more): this pytest and "
            "pytest-xdist no longer work together under --dist loadgroup (pytest-xdist #1386). "
            "Use the versions uv.lock pins (`uv sync`), or run without workers (`-p no:xdist`).")
