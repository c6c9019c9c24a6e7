"""The three orchestrator UIs driven like a person drives them, in headless Chromium.

Used by tests/test_browser.py. Each `UI` knows one orchestrator's pages: how a
user finds the pipeline from the UI's home page, starts a run with its own
Run/Trigger button (filling the form the UI asks for), and reads the run's final
state on the run's page. Everything is found by role or visible text, and waited
for with Playwright's auto-waiting locators, so what the tests assert is what a
person would see — not what an HTTP API answers.

The browser is Debian's `chromium` (design.md §4): Playwright must never download
one (these machines are offline), hence `executable_path` and
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import ClassVar

from playwright.sync_api import Browser, Page, expect, sync_playwright

from core.names import DEPLOYMENT_NAME, PIPELINE_NAME
from core.registry import STEP_NAMES as STEPS

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 800}
NAV_MS = 60_000  # one page or click on a loaded 2-core machine: generous, but bounded


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, with the flags that keep it off the network."""
    os.environ["PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD"] = "1"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def new_page(browser: Browser) -> Iterator[Page]:
    """A fresh context (no cookies, no local storage) at the size the screenshots use."""
    context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
    context.set_default_timeout(NAV_MS)
    expect.set_options(timeout=NAV_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


def _exact(text: str) -> re.Pattern[str]:
    return re.compile(rf"^\s*{re.escape(text)}\s*$")


class UI(ABC):
    """One orchestrator's web UI, as a user goes through it."""

    name: ClassVar[str]
    pipeline: ClassVar[str]  # the name a user looks for
    # The full-page screenshot of the run is worth it only where the page is short.
    run_full_page: ClassVar[bool] = True

    @abstractmethod
    def open_pipeline(self, page: Page, url: str) -> None:
        """From the UI's first page to the pipeline's page, by clicking; asserts the
        page names the pipeline and its steps."""

    @abstractmethod
    def trigger(self, page: Page, day: str, config: Path) -> str:
        """Start a run for `day` with the UI's own button and form, from the pipeline's
        page; ends on the run's page. Returns the run id the stack's status() takes."""

    @abstractmethod
    def await_success(self, page: Page, timeout_ms: int) -> None:
        """Wait, on the run's page, until it shows a final state; assert it is success
        and the page shows every step as succeeded."""

    def settle(self, page: Page) -> None:  # noqa: B027 - optional hook
        """Make the finished run's page presentable for its screenshot (no toasts,
        no half-drawn charts); asserts nothing new."""

    @abstractmethod
    def show_decision(self, page: Page, day: str) -> None:
        """From the finished run's page to where this UI shows check_drift's warm/cold
        decision (docs/workshop/README.md, "Tour"); asserts it is there."""


class AirflowUI(UI):
    name = "airflow"
    pipeline = PIPELINE_NAME  # the DAG id

    def open_pipeline(self, page: Page, url: str) -> None:
        page.goto(url)
        page.get_by_role("link", name="Dags", exact=True).click()
        page.get_by_role("link", name=self.pipeline, exact=True).click()
        expect(page).to_have_url(re.compile(rf"/dags/{self.pipeline}$"))
        expect(page.get_by_role("heading", name=self.pipeline)).to_be_visible()
        # The grid beside the DAG lists its tasks, each a link to the task's page.
        for step in STEPS:
            expect(page.get_by_role("link", name=step, exact=True)).to_be_visible()
        expect(page.get_by_text("0 6 * * 1-6")).to_be_visible()  # core/schedules.py

    def trigger(self, page: Page, day: str, config: Path) -> str:
        page.get_by_role("button", name="Trigger Dag").click()
        dialog = page.get_by_role("dialog")
        expect(dialog.get_by_text("Run Parameters")).to_be_visible()
        # The DAG's params form: the config defaults to the one the stack serves.
        expect(dialog.locator("#element_config")).to_have_value(str(config))
        dialog.locator("#element_day").fill(day)
        dialog.get_by_test_id("trigger-dag-submit").click()
        # Airflow opens the new run's page.
        expect(page).to_have_url(re.compile(rf"/dags/{self.pipeline}/runs/[^/]+$"))
        return urllib.parse.unquote(page.url.rstrip("/").rsplit("/runs/", 1)[1])

    def await_success(self, page: Page, timeout_ms: int) -> None:
        # The run's state is the first state word on its page (under the run id's
        # heading); the task instances' states come after it.
        state = page.get_by_text(re.compile(r"^(Queued|Running|Success|Failed)$")).first
        expect(state).to_have_text(re.compile(r"^(Success|Failed)$"), timeout=timeout_ms)
        expect(state).to_have_text("Success")
        expect(page.get_by_role("heading", name="5 Task Instances")).to_be_visible()
        for step in STEPS:
            row = page.get_by_role("row").filter(
                has=page.get_by_role("link", name=step, exact=True))
            expect(row.get_by_role("cell", name="Success", exact=True)).to_be_visible()

    def settle(self, page: Page) -> None:
        with contextlib.suppress(AssertionError):  # the "Dag Run Triggered" toast
            expect(page.get_by_text("Dag Run Triggered")).to_be_hidden(timeout=15_000)

    def show_decision(self, page: Page, day: str) -> None:
        # The task's page opens on its log, where the step says what it decided.
        page.get_by_role("row").get_by_role("link", name="check_drift", exact=True).click()
        expect(page.get_by_text(re.compile(rf"decision {day}: (warm|cold) \(\w+\)"))
               ).to_be_visible()
        # The task returns a dict, so TaskFlow pushes each key as an XCom of its own.
        # Its XCom tab is not in the tab bar at 1280 px (Airflow 3.3): go by address.
        page.goto(page.url.rstrip("/") + "/xcom")
        for key in ("strategy", "reason", "drifted_columns"):
            expect(page.get_by_role("cell", name=key, exact=True)).to_be_visible()
        expect(page.get_by_text(re.compile(r"^(warm|cold)$")).first).to_be_visible()


def _reload_until(page: Page, check: Callable[[], None], timeout_ms: int) -> None:
    """Run `check` (expect(...) calls, each with its own short timeout), reloading the
    page after each AssertionError, until it passes; the last AssertionError once
    timeout_ms have passed."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        try:
            check()
            return
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            page.reload()


# A Prefect run's states as its UI names them (prefect.client.schemas.objects.StateType
# and the named states of prefect.states), and those that end a run.
PREFECT_FINAL = re.compile(r"^(Completed|Failed|Crashed|Cancelled)$")
PREFECT_STATES = re.compile(r"^(Scheduled|Late|AwaitingRetry|AwaitingConcurrencySlot|Pending|"
                            r"Running|Retrying|Paused|Suspended|Cancelling|Completed|Cached|"
                            r"Failed|Crashed|Cancelled|TimedOut)$")


class PrefectUI(UI):
    name = "prefect"
    pipeline = PIPELINE_NAME  # the flow's name
    deployment = DEPLOYMENT_NAME
    run_full_page = False  # the run's page ends in its log: thousands of pixels

    def open_pipeline(self, page: Page, url: str) -> None:
        page.goto(url)
        # Prefect knows a flow's tasks only once it ran: its steps are on a run's page.
        page.get_by_role("link", name="Flows", exact=True).click()
        page.get_by_role("link", name=self.pipeline, exact=True).first.click()
        expect(page.get_by_text(self.deployment, exact=True).first).to_be_visible()
        history = page.get_by_role("link", name=re.compile(r"^\d{4}-\d\d-\d\d-")).first
        history.click()  # the run `orchbench ui` made, named <date>-<run id>
        page.get_by_role("tab", name="Task Runs", exact=True).click()
        for step in STEPS:
            expect(page.get_by_text(step, exact=True).first).to_be_visible()
        # Then the deployment, where a user starts a run.
        page.get_by_role("link", name="Deployments", exact=True).first.click()
        page.get_by_role("link", name=self.deployment, exact=True).click()
        expect(page.get_by_text(self.pipeline, exact=True).first).to_be_visible()
        expect(page.get_by_text("At 06:00 AM, Monday through Saturday")).to_be_visible()
        expect(page.get_by_text("At 06:00 AM, only on Sunday")).to_be_visible()

    def trigger(self, page: Page, day: str, config: Path) -> str:
        page.get_by_role("button", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Custom run").click()
        # Each parameter is a block with its name, a type switch (str/None) and,
        # once "str" is chosen, a text box. `day` defaults to None.
        block = (page.locator("div")
                 .filter(has=page.get_by_text("day (Optional)", exact=True))
                 .filter(has=page.get_by_role("tab", name="str")).last)
        block.get_by_role("tab", name="str").click()
        block.locator("textarea").fill(day)
        page.get_by_role("button", name="Submit").click()
        # A toast says the run is scheduled, with a link to it.
        page.get_by_role("link").filter(has_text="View run").click()
        expect(page).to_have_url(re.compile(r"/runs/flow-run/[0-9a-f-]+"))
        return page.url.split("/runs/flow-run/", 1)[1].split("?")[0]

    def await_success(self, page: Page, timeout_ms: int) -> None:
        # The run's own state is the first state badge on its page, in its header: the
        # task runs' badges come below it. Waiting for the first *final* badge instead
        # took a task's "Completed" for the run's (a CI run of stop 19: the flow run and
        # its evaluate task were still Running).
        state = page.get_by_text(PREFECT_STATES).first
        _reload_until(page, lambda: expect(state).to_have_text(PREFECT_FINAL, timeout=20_000),
                      timeout_ms)
        expect(state).to_have_text("Completed")
        self._reload_until_tasks_recorded(page)
        for step in STEPS:
            expect(page.get_by_text(step, exact=True).first).to_be_visible()

    def settle(self, page: Page) -> None:
        # A reload drops the "scheduled to start now" toast and draws the run's graph
        # at rest (it animates its zoom while the run goes on).
        self._reload_until_tasks_recorded(page)
        page.wait_for_timeout(3_000)

    @staticmethod
    def _reload_until_tasks_recorded(page: Page, timeout_ms: int = 90_000) -> None:
        """Reload the run's page until its Task Runs tab lists every step completed.

        Prefect's server records task runs from their events (TaskRunRecorder, which
        flushes every few seconds), so a flow run can be Completed before its last task
        runs are: the scale benchmark saw them all recorded 0.5–16 s after the flow run's
        end (benchmarks/scale.py). The open page stops polling once the run is final. A
        person reloads; so does this.
        """
        summary = page.get_by_text(f"({len(STEPS)} Completed)", exact=True)

        def recorded() -> None:
            page.get_by_role("tab", name="Task Runs", exact=True).click()
            expect(summary).to_be_visible(timeout=5_000)

        _reload_until(page, recorded, timeout_ms)
        expect(page.get_by_text(f"{len(STEPS)} Task runs").first).to_be_visible()

    def show_decision(self, page: Page, day: str) -> None:
        page.get_by_role("tab", name="Artifacts", exact=True).click()
        expect(page.get_by_text("drift-decision", exact=True)).to_be_visible()
        expect(page.get_by_text(f"Warm or cold start for {day}")).to_be_visible()
        expect(page.get_by_text("evidently-report", exact=True)).to_be_visible()


class DagsterUI(UI):
    name = "dagster"
    pipeline = PIPELINE_NAME  # the job's name
    run_full_page = False  # the event log scrolls inside the page

    def open_pipeline(self, page: Page, url: str) -> None:
        # First visits get a "Join the Dagster community" dialog: skip it whenever it shows.
        page.add_locator_handler(page.get_by_role("button", name="Skip"),
                                 lambda skip: skip.click())
        page.goto(url)
        page.locator("nav a[href='/jobs'], a[href='/jobs']").first.click()
        # The job's link also holds its icon: match its name, not the whole label.
        page.get_by_role("link", name=self.pipeline).first.click()
        expect(page).to_have_url(re.compile(rf"/jobs/{self.pipeline}"))
        expect(page.get_by_text("2 schedules").first).to_be_visible()
        expect(page.get_by_text(" → ".join(STEPS))).to_be_visible()  # the job's description
        # The op graph: one node per step.
        for step in STEPS:
            expect(page.get_by_text(step, exact=True).first).to_be_visible()

    def trigger(self, page: Page, day: str, config: Path) -> str:
        page.get_by_text("Launchpad", exact=True).click()
        expect(page.get_by_text("Missing required config entries")).to_be_visible()
        editor = page.locator(".CodeMirror")
        editor.click()
        page.keyboard.press("Control+a")
        # Typed as text input, not key presses: the editor would auto-indent each line.
        page.keyboard.insert_text(self.run_config(day, config))
        launch = page.get_by_role("button", name="Launch Run")
        expect(launch).to_be_enabled()
        launch.click()
        expect(page).to_have_url(re.compile(r"/runs/[0-9a-f-]{36}"))
        return page.url.split("/runs/", 1)[1].split("?")[0]

    @staticmethod
    def run_config(day: str, config: Path) -> str:
        """The YAML a user types (the workshop guide's): the day and a run id; the
        config defaults to the stack's own, as in the other two UIs."""
        fields = {"day": day, "run_id": f"browser-{day}"}
        lines = ["resources:", "  run:", "    config:"]
        lines += [f"      {key}: {json.dumps(value)}" for key, value in fields.items()]
        return "\n".join(lines) + "\n"

    def await_success(self, page: Page, timeout_ms: int) -> None:
        final = page.get_by_text(re.compile(r"^(Success|Failure|Canceled)$")).first
        expect(final).to_be_visible(timeout=timeout_ms)
        expect(final).to_have_text("Success")
        expect(page.get_by_text("Succeeded (5)")).to_be_visible()
        expect(page.get_by_text("Errored (0)")).to_be_visible()
        events = page.get_by_text("RUN_SUCCESS", exact=True)
        expect(events).to_be_visible()
        # Each step's name on the page: filter the event log by it.
        search = page.get_by_placeholder("Filter…")
        for step in STEPS:
            search.fill(f"step:{step}")
            expect(page.get_by_text(f'Finished execution of step "{step}"')).to_be_visible()
        search.fill("")
        search.press("Escape")
        search.blur()

    def show_decision(self, page: Page, day: str) -> None:
        # The op's output holds the decision, but the event log shows only its type;
        # what a user reads is the step's log line.
        search = page.get_by_placeholder("Filter…")
        search.fill("step:check_drift")
        expect(page.get_by_text(re.compile(rf"^decision {day}: (warm|cold) \(\w+\)$"))
               ).to_be_visible()
        expect(page.get_by_text('Yielded output "result" of type "Dict[String,Any]"',
                                exact=False).first).to_be_visible()


UIS: dict[str, UI] = {ui.name: ui for ui in (PrefectUI(), AirflowUI(), DagsterUI())}

