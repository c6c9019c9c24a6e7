"""When the pipeline runs: one timetable that all three orchestrators declare.

One run per logical date at 06:00 UTC. Six days a week the policy decides warm or
cold; on Sundays the run is a forced cold start (force_cold=True), the periodic
reset of design.md §1 expressed as a schedule, which is how the workshop shows it
in each UI. The two schedules never fire on the same day: two runs of one date
would race on the same lake and model store.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from core.names import PIPELINE_NAME

TIMEZONE = "UTC"
# The earliest logical date a run may have. Airflow creates no task instance for a
# date before its DAG's start_date (the run is marked successful with no tasks), and
# real data is years old (Beijing 2010-2014). With catchup off this creates no runs.
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Schedule:
    name: str
    cron: str
    force_cold: bool
    description: str


DAILY = Schedule("daily", "0 6 * * 1-6", False,
                 "Every day but Sunday at 06:00 UTC; the drift policy decides warm or cold.")
WEEKLY_COLD = Schedule("weekly_cold", "0 6 * * 0", True,
                       "Sundays at 06:00 UTC, a forced cold start.")
SCHEDULES = (DAILY, WEEKLY_COLD)


def schedule_for(day: dt.date) -> Schedule:
    """The one schedule of SCHEDULES that fires on `day`, read from the day-of-week field
    of its cron (the fifth: 0 or 7 is Sunday, ranges "a-b" and lists "a,b" allowed; a
    schedule's hour and minute do not matter, one run per date). A backfill runs each
    date as its schedule would: Sundays with force_cold (WEEKLY_COLD). Raises ValueError
    if no schedule or more than one fires that day (this module's contract is exactly
    one)."""
    weekday = day.isoweekday() % 7  # cron's numbering: Sunday 0, Monday 1 … Saturday 6
    firing = [s for s in SCHEDULES if weekday in _cron_weekdays(s.cron)]
    if len(firing) != 1:
        raise ValueError(f"{len(firing)} schedules fire on {day} ({day:%A}): "
                         f"{[s.name for s in firing]}; core/schedules.py must give one a day")
    return firing[0]


def _cron_weekdays(cron: str) -> set[int]:
    """The days of week (0 Sunday … 6 Saturday) of a five-field cron's fifth field."""
    field = cron.split()[4]
    if field == "*":
        return set(range(7))
    days: set[int] = set()
    for part in field.split(","):
        first, _, last = part.partition("-")
        days.update(d % 7 for d in range(int(first), int(last or first) + 1))
    return days


def definition_name(schedule: Schedule) -> str:
    """The name of the pipeline definition that carries `schedule` where an
    orchestrator needs one definition per schedule (Airflow: a DAG each): the
    daily one is the pipeline itself, PIPELINE_NAME; the others add their name."""
    return PIPELINE_NAME if schedule is DAILY else f"{PIPELINE_NAME}_{schedule.name}"
