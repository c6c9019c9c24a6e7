"""The fault scenarios: every way this project breaks a run on purpose, defined once.

The benchmark's failure matrix (benchmarks/failure.py: transient, always_fails,
hang, killed, bad_input, docker_down) and the workshop's exercises
(orchbench/scenarios.py: drift-strong, flaky-container, hang, bad-rows,
broken-file) both take their scenarios from this catalogue, under their own
names; they add only what is theirs (the benchmark its step policies and the
kill, the workshop its texts and checks). Which names are the same scenario:

    catalogue      benchmark      workshop          what goes wrong
    TRANSIENT      transient      flaky-container   container exits 3 once, then works
                                  (on train)
    ALWAYS_FAILS   always_fails   —                 container exits 3 on every attempt
    HANG           hang (10 s)    hang (15 s)       container hangs; the step's timeout cuts it
    KILLED         killed         —                 the hang, with a timeout only a kill beats
    BROKEN_FILE    bad_input      broken-file       the day's input file is not a CSV at all
    DOCKER_DOWN    docker_down    —                 the Docker daemon cannot be reached
    STRONG_DRIFT   —              drift-strong      four columns shift strongly
    BAD_ROWS       —              bad-rows          one row in five is broken

A scenario is data: the step it breaks, the container fault it injects
(core.config.Fault, run by the prologue in core/steps.py), the step-policy values
it sets, config settings (Config.replace's dotted keys), whether it writes a
broken input file, and environment variables for the run's process.
``FaultScenario.apply`` turns it into the run's Config; ``on`` makes a variant
(another step, other policy values) without redefining it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import Config, Fault

# A socket path no daemon listens on: what docker_down points DOCKER_HOST at.
NO_DOCKER = "unix:///nonexistent/docker.sock"
# In `settings`, stands for the scenario's first date (e.g. when a drift starts).
FIRST_DATE = "<first date>"
# What a wrong export looks like: a PNG header and binary bytes, no text at all.
# The leading 0x89 is not UTF-8, so ingest rejects the file whole (core/ingest.py).
BROKEN_FILE_BYTES = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
BROKEN_INPUT_FOLDER = "broken-input"  # under the run's home


@dataclass(frozen=True)
class FaultScenario:
    """One way to break (or shift) a run, as data; ``apply`` makes the run's Config.

    name:        the catalogue's name (consumers may list it under their own)
    what:        what goes wrong, in one sentence
    step:        the step that fails (None: none fails, e.g. a drift)
    fault:       injected into `step`'s container (core.config.Fault), or None
    policy:      StepPolicy fields set on `step` (retries, retry_delay_s, timeout_s)
    settings:    Config.replace changes ({"data.bad_row_rate": 0.2}); FIRST_DATE in a
                 value is replaced by the scenario's first date
    broken_file: write BROKEN_FILE_BYTES as the first date's CSV and read input from it
    environment: variables to set in the environment of the run's process (a config
                 cannot say that Docker is down)
    """

    name: str
    what: str
    step: str | None = None
    fault: Fault | None = None
    policy: Mapping[str, float] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)
    broken_file: bool = False
    environment: Mapping[str, str] = field(default_factory=dict)

    def on(self, step: str | None = None, **policy: float) -> FaultScenario:
        """The same scenario on another step and/or with other policy values."""
        return dataclasses.replace(self, step=step or self.step,
                                   policy={**self.policy, **policy})

    def apply(self, cfg: Config, first: dt.date | str, home: Path) -> Config:
        """`cfg` with this scenario in force from `first` on; its faults are this
        scenario's only (none for a scenario without one). A broken file is written
        under `home` now."""
        day = first if isinstance(first, str) else first.isoformat()
        steps = dict(cfg.steps)
        if self.policy:
            assert self.step is not None, f"{self.name}: a policy needs a step"
            steps[self.step] = dataclasses.replace(steps[self.step], **self.policy)
        faults = {self.step: self.fault} if self.fault and self.step else {}
        cfg = dataclasses.replace(cfg, steps=steps, faults=faults)
        changes = {k: day if v == FIRST_DATE else v for k, v in self.settings.items()}
        if self.broken_file:
            folder = home / BROKEN_INPUT_FOLDER
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            (folder / f"{day}.csv").write_bytes(BROKEN_FILE_BYTES)
            changes.update({"data.source": "csv", "data.csv_dir": str(folder)})
        return cfg.replace(**changes)  # replace() validates, also with no changes


TRANSIENT = FaultScenario(
    "transient", "The step's container exits with code 3 on its first attempt, then works.",
    step="transform", fault=Fault(fail_times=1))
ALWAYS_FAILS = FaultScenario(
    "always_fails", "The step's container exits with code 3 on every attempt.",
    step="transform", fault=Fault(fail_times=99))
HANG = FaultScenario(
    "hang", "The step's container hangs for ten minutes; the step's 15 s timeout cuts it, "
    "and it is retried once.",
    step="transform", fault=Fault(hang_seconds=600),
    policy={"retries": 1, "retry_delay_s": 1.0, "timeout_s": 15.0})
KILLED = FaultScenario(
    "killed", "The step's container hangs past a 600 s timeout, so only killing the process "
    "that executes the steps (the caller's part) ends the run.",
    step="transform", fault=Fault(hang_seconds=600), policy={"timeout_s": 600.0})
BROKEN_FILE = FaultScenario(
    "broken_file", "The day's input file is not a CSV at all (a PNG header and binary bytes).",
    step="ingest", broken_file=True)
DOCKER_DOWN = FaultScenario(
    "docker_down", "The Docker daemon cannot be reached: DOCKER_HOST names a socket that does "
    "not exist.", step="transform", environment={"DOCKER_HOST": NO_DOCKER})
STRONG_DRIFT = FaultScenario(
    "strong_drift", "Four columns (pm2.5, pm10, temperature, humidity) shift strongly from the "
    "first date on.", settings={"data.drift": "strong", "data.drift_start": FIRST_DATE})
BAD_ROWS = FaultScenario(
    "bad_rows", "One row in five of the day's input is broken (missing, mistyped, out of "
    "range, duplicated or of another date).", step="ingest",
    settings={"data.bad_row_rate": 0.2})

CATALOGUE: dict[str, FaultScenario] = {s.name: s for s in (
    TRANSIENT, ALWAYS_FAILS, HANG, KILLED, BROKEN_FILE, DOCKER_DOWN, STRONG_DRIFT, BAD_ROWS)}
