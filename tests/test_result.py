"""core/result.py's helpers for the uniform result's records."""

from __future__ import annotations

from core.result import duration_s


def test_duration_between_two_stamps_and_none_when_one_is_missing() -> None:
    started, ended = "2026-12-02T10:00:00.250+00:00", "2026-12-02T10:01:02.750+00:00"
    assert duration_s(started, ended) == 62.5
    assert duration_s(started, None) is None and duration_s(None, ended) is None
