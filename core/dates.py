"""Logical dates: the key every step, file and model version is addressed by."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from core.errors import ConfigError


def parse_date(text: str, what: str = "date") -> dt.date:
    """Parse YYYY-MM-DD, or raise a ConfigError that shows the expected form."""
    try:
        return dt.date.fromisoformat(text.strip())
    except (ValueError, AttributeError):
        raise ConfigError(
            f"The {what} {text!r} is not a date in the form YYYY-MM-DD.",
            "Write it like 2026-03-01.",
        ) from None


def date_range(start: dt.date, end: dt.date) -> Iterator[dt.date]:
    """Every date from start to end, both included."""
    if end < start:
        raise ConfigError(
            f"The range {start} to {end} ends before it starts.",
            "Give --start on or before --end.",
        )
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)
