"""core/schedules.py: which schedule runs each date (what a backfill follows)."""

from __future__ import annotations

import datetime as dt

import pytest

from core.dates import date_range
from core.schedules import DAILY, SCHEDULES, WEEKLY_COLD, Schedule, schedule_for


def test_every_date_has_exactly_one_schedule_and_sundays_start_cold() -> None:
    week = date_range(dt.date(2026, 1, 12), dt.date(2026, 1, 18))  # Monday … Sunday
    assert [schedule_for(d) for d in week] == [DAILY] * 6 + [WEEKLY_COLD]
    assert [schedule_for(d).force_cold for d in week] == [False] * 6 + [True]


def test_a_date_two_schedules_claim_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    every_day = Schedule("every_day", "0 6 * * *", False, "")
    monkeypatch.setattr("core.schedules.SCHEDULES", (*SCHEDULES, every_day))
    with pytest.raises(ValueError, match="2 schedules fire on 2026-01-18"):
        schedule_for(dt.date(2026, 1, 18))
