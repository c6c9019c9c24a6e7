"""`orchbench scenario NAME`: the workshop's exercises, each one command.

A scenario is a change to the run's config (a drift, an injected fault, broken
input) — one of core/faults.py's catalogue, which the benchmark's failure matrix
shares — applied to the next date(s) of a UI home's history, so the learner sees
the effect in the orchestrator's UI next to the earlier, healthy runs. If that
orchestrator's UI is running on the home (`orchbench ui NAME`), the runs are
triggered through its own API and appear live; otherwise they go through its
driver and are in the UI on its next start. `-o direct` runs them with no
orchestrator at all, which is what the tests of the guide use alongside one
orchestrator.

What each scenario shows, and what a learner should find in each UI, is in
docs/workshop/README.md; `expect` below is the machine-checked part of it.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import faults
from core.config import Config, load_config, save_config
from core.errors import ConfigError
from core.faults import FaultScenario
from core.lake import Lake
from core.result import now

Log = Callable[[str], None]


@dataclass(frozen=True)
class Scenario:
    """A workshop exercise: a fault scenario of the catalogue (core/faults.py, where
    what it changes is defined once, shared with the benchmark) and what the
    learner should see."""

    name: str
    title: str
    days: int  # consecutive dates it runs
    fault: FaultScenario  # applied to the home's config from the first date on
    expect: str  # what the learner should see, in one sentence
    check: Callable[[list[dict[str, Any]]], bool]  # on the uniform results, in date order


def _step(result: dict[str, Any], name: str) -> dict[str, Any]:
    """A step of a uniform result; attempts None when read from a UI's API."""
    return next((s for s in result["steps"] if s["name"] == name),
                {"name": name, "status": "not_run", "attempts": None})


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("drift-strong", "A strong drift in four columns", 3, faults.STRONG_DRIFT,
             "within three days a run decides `cold` with reason `drift`, naming the drifted "
             "columns, and the model is retrained from scratch",
             lambda rs: all(r["status"] == "success" for r in rs)
             and any((r["decision"] or {}).get("reason") == "drift" for r in rs)),
    Scenario("flaky-container", "The training container fails once", 1,
             faults.TRANSIENT.on("train"),
             "the run succeeds, and its train step shows two attempts: the first exited 3",
             lambda rs: rs[0]["status"] == "success"
             and _step(rs[0], "train")["attempts"] in (2, None)),
    Scenario("hang", "The dbt container hangs", 1, faults.HANG,
             "transform is stopped by the runner's 15 s timeout, retried once, then the run "
             "fails; later steps never run and the previous model stays current",
             lambda rs: rs[0]["status"] == "failed"
             and _step(rs[0], "transform")["attempts"] in (2, None)
             and _step(rs[0], "train")["status"].lower() != "success"),
    Scenario("bad-rows", "One row in five is broken", 1, faults.BAD_ROWS,
             "the run succeeds; ingest reports the quarantined rows, each kept with its reason "
             "under lake/quarantine/",
             lambda rs: rs[0]["status"] == "success"),
    Scenario("broken-file", "The day's file is not a CSV at all", 1, faults.BROKEN_FILE,
             "ingest fails at once with a message naming the file and the fix, is not retried, "
             "and nothing is written for that date",
             lambda rs: rs[0]["status"] == "failed"
             and _step(rs[0], "ingest")["attempts"] in (1, None)),
]}


def next_date(home: Path) -> dt.date:
    """The first date without refined data: after the history, or the date a
    previous scenario broke (so a failed date is run again, as in a real backfill,
    and the drift windows never have a hole)."""
    days = Lake(home / "lake").dates("refined")
    if not days:
        raise ConfigError(f"{home} has no pipeline history yet.",
                          "Start a UI once (`orchbench ui NAME`), which builds it, or give "
                          "--home of one that has.")
    return max(days) + dt.timedelta(days=1)


def run_scenario(name: str, orchestrator: str, home: Path, log: Log = print) -> bool:
    """Run scenario `name` on the next date(s) of `home`; True if it did what it should."""
    if name not in SCENARIOS:
        raise ConfigError(f"Unknown scenario {name!r}.", f"Choose one of: {', '.join(SCENARIOS)}.")
    scenario = SCENARIOS[name]
    base = home / "config.json"
    if not base.exists():
        raise ConfigError(f"{home} is not a UI home (no config.json).",
                          f"Run `orchbench ui {orchestrator}` once, or give its --home.")
    first = next_date(home)
    cfg = scenario.fault.apply(load_config(base, home), first, home)
    config = save_config(cfg, home / "scenarios" / f"{name}-{first}.json")
    log(f"scenario {name}: {scenario.title}, on {first}"
        + (f" and the {scenario.days - 1} days after" if scenario.days > 1 else "")
        + f", through {orchestrator}")
    results = [_run(orchestrator, cfg, config, home, first + dt.timedelta(days=i), log)
               for i in range(scenario.days)]
    ok = scenario.check(results)
    log(f"expected: {scenario.expect}")
    log("result:   " + ("as expected" if ok else "NOT as expected — see the runs above"))
    return ok


def _run(orchestrator: str, cfg: Config, config: Path, home: Path, day: dt.date,
         log: Log) -> dict[str, Any]:
    from orchbench.summary import run_line, step_line

    if orchestrator == "direct":
        from core.direct import run_date

        result = run_date(cfg, day, log=lambda _: None).to_dict()
    else:
        result = _through_orchestrator(orchestrator, cfg, config, home, day, log)
    log("  " + run_line(result))
    for step in result["steps"]:
        if (step.get("attempts") or 0) > 1 or step["status"] == "failed":
            log(f"    {step_line(step)}")
    return result


def _through_orchestrator(name: str, cfg: Config, config: Path, home: Path, day: dt.date,
                          log: Log) -> dict[str, Any]:
    from core.steps import decision_file
    from infra.stacks import stack
    from infra.stacks.base import running_stack

    settings = running_stack(home, name)
    if settings is None:
        from infra.drivers import run_wrapped

        return run_wrapped(name, cfg, day.isoformat(), log=lambda _: None, config=config)
    st = stack(name)
    log(f"  {name}'s UI is running at {st.ui_url(settings)}: triggering through its API")
    started = now()
    run_id = st.trigger(settings, day.isoformat(), config=config)
    deadline = time.monotonic() + 900
    status = st.status(settings, run_id)
    while not status.final and time.monotonic() < deadline:
        time.sleep(1)
        status = st.status(settings, run_id)
    decision = decision_file(cfg, day)
    # The UI's API gives each step's state; attempts are on the run's page in the UI.
    return {"orchestrator": name, "logical_date": day.isoformat(), "run_id": run_id,
            "status": "success" if status.succeeded else "failed" if status.final
            else status.state, "started": started, "ended": now(),
            "steps": [{"name": step, "status": state, "attempts": None}
                      for step, state in status.steps.items()],
            "decision": json.loads(decision.read_text()) if decision.exists() else None,
            "metrics": None}
