"""Logical dates: the key every step, file and model version is addressed by."""

from __future__ import annotations

import datetime as dt

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


def date_range(start: dt.date, end: dt.date) -> list[dt.date]:
    """Every date from start to end, both included (the one date-span helper of the project)."""
    if end < start:
        raise ConfigError(
            f"The range {start} to {end} ends before it starts.",
            "Give --start on or before --end.",
        )
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def days(n: int) -> dt.timedelta:
    return dt.timedelta(days=n)
