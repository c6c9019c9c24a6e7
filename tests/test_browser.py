"""Each orchestrator's UI in headless Chromium: find the pipeline, run it, see it finish.

For prefect, airflow and dagster in turn, started the way a user starts it:
`orchbench ui NAME --port P` (tests/uis.py), which adds one run through the
orchestrator's driver to a copied history and serves the stack; then a person's
path through the UI, driven by Playwright (tests/browser.py): from the first
page to the pipeline (its name, its steps), the UI's own Run/Trigger button and
form for the next date, and the run's page until it shows success. What is
asserted is what the page shows; the stack's API and the lake then confirm the
run really ran for that date. The screenshots land in docs/screenshots/, where
the README and the workshop guide show them. Finally the command gets Ctrl-C:
it must exit 0, every process it started must be gone, and nothing may listen
on its ports any more.

One orchestrator at a time: three UI stacks at once would not fit a 2-core CI
machine's patience.
"""

from __future__ import annotations

import contextlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uis
from browser import STEPS, UIS, chromium, new_page
from playwright.sync_api import Browser, Page
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from infra.envs import ROOT
from infra.services import Postgres, remove_cluster
from infra.stacks import StackSettings, stack
from infra.stacks.base import running_stack
from orchbench.scenarios import next_date

pytestmark = pytest.mark.slow  # real orchestrators and containers

SHOTS = ROOT / "docs" / "screenshots"
RUN_MS = 300_000  # from the click on Run until the page shows the run finished
SUCCEEDED = {"success", "completed"}  # Airflow/Dagster's and Prefect's words


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


# Prefect's UI on its production layout (PostgreSQL, a work pool and its worker; issue
# 13): the same UI, so the screenshots stay comparable, and the one layout of Prefect's
# that tests/test_production.py leaves to this test.
LAYOUTS = {"prefect": "postgres", "airflow": "sqlite", "dagster": "sqlite"}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_ui_finds_runs_and_shows_the_pipeline(name: str, ui_history: Path, browser: Browser,
                                              tmp_path: Path) -> None:
    home = tmp_path / "home"
    shutil.copytree(ui_history, home)  # `orchbench ui` then only adds its history run
    began = time.perf_counter()
    # `orchbench ui NAME --port P --home HOME --days 1 --backend B`
    live = uis.start(name, home, backend=LAYOUTS[name])
    try:
        settings = running_stack(home, name)
        assert settings is not None and live.url == stack(name).ui_url(settings)
        assert settings.backend == LAYOUTS[name]
        _use_the_ui(name, home, settings, browser, tmp_path)
        ports = live.remember()
        assert settings.port in ports
    finally:
        code, still_listening = live.stop()  # Ctrl-C, as a user stops it
        cluster = Postgres.for_home(home, port=0).data
        stopped = not (cluster / "postmaster.pid").exists()
        remove_cluster(home)
    assert code == 0, "\n".join(live.lines[-20:])
    assert still_listening == [], f"{name}: still listening after Ctrl-C: {still_listening}"
    assert stopped, f"{name}: its PostgreSQL cluster {cluster} still runs after Ctrl-C"
    print(f"{name} on {LAYOUTS[name]}: {time.perf_counter() - began:.0f} s from start to "
          "stopped")


def _use_the_ui(name: str, home: Path, settings: StackSettings, browser: Browser,
                tmp_path: Path) -> None:
    day = next_date(home).isoformat()  # the date after the history run
    st, ui = stack(name), UIS[name]
    SHOTS.mkdir(parents=True, exist_ok=True)
    with new_page(browser) as page, failure_screenshot(page, tmp_path / f"{name}-failed.png"):
        ui.open_pipeline(page, st.ui_url(settings))
        shoot(page, SHOTS / f"{name}-pipeline.png", full_page=False)

        clicked = time.perf_counter()
        run_id = ui.trigger(page, day, settings.config)
        ui.await_success(page, RUN_MS)
        print(f"{name}: run {run_id} for {day} shown finished "
              f"{time.perf_counter() - clicked:.0f} s after the click")
        ui.settle(page)
        shoot(page, SHOTS / f"{name}-run.png", full_page=ui.run_full_page)
        ui.show_decision(page, day)  # where the workshop guide sends a learner

        # What the page showed is what the orchestrator recorded, for the right date.
        status = st.status(settings, run_id)
        assert status.succeeded, status
        assert set(status.steps) == set(STEPS), status.steps
        assert {state.lower() for state in status.steps.values()} <= SUCCEEDED, status.steps
        assert (home / "lake" / "refined" / "features" / f"{day}.parquet").exists()
        assert (home / "drift" / day / "decision.json").exists()


def shoot(page: Page, path: Path, *, full_page: bool) -> None:
    """A screenshot once the page has settled (data loaded, charts drawn). UIs that
    poll all the time never go network-idle: that wait is bounded."""
    with contextlib.suppress(PlaywrightTimeout):
        page.wait_for_load_state("networkidle", timeout=5_000)
    page.wait_for_timeout(1_000)
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000, f"{path} looks empty"


@contextlib.contextmanager
def failure_screenshot(page: Page, path: Path) -> Iterator[None]:
    """On a failed assertion or timeout, keep what the browser showed."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(path), full_page=True)
            print(f"the page at {page.url} when it failed: {path}")
        raise
