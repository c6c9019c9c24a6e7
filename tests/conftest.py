"""Shared fixtures: real Docker, real images, and a check that nothing is left behind."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import docker
import pytest

# Every container this test session starts (in process or in a CLI subprocess)
# carries this label, so the leftover check below judges only the tests' own
# containers, never those of a demo or benchmark running beside them.
SESSION = os.environ.setdefault("ORCHBENCH_SESSION", f"pytest-{uuid.uuid4().hex[:8]}")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    client = docker.from_env()
    client.ping()
    yield client
    client.close()


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
    client = docker.from_env()
    left = client.containers.list(all=True, filters={"label": f"orchbench.session={SESSION}"})
    names = [f"{c.name} ({c.labels.get('orchbench.step')})" for c in left]
    for c in left:
        c.remove(force=True)
    client.close()
    assert not left, f"orchbench containers left behind: {names}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that asks for Docker is slow, whatever its module says."""
    for item in items:
        if {"docker_client", "base_image"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
