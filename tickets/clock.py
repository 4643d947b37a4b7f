"""The one place that reads the wall clock. Everything else takes a `Clock`.

All datetimes handed out are aware and in UTC; conversion to the helpdesk's time zone
happens at the edges (schedules, templates, reports).
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, aware, UTC."""


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock tests move by hand."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        self._now = when.astimezone(UTC)

    def advance(self, **kwargs: float) -> datetime:
        self._now += timedelta(**kwargs)
        return self._now


def clock_from_env(value: str | None) -> Clock:
    """SystemClock, or a FrozenClock at `value` (ISO 8601 with offset) — the KPUDESK_NOW
    override that lets tests and demonstrations run the CLI at a chosen moment."""
    if not value:
        return SystemClock()
    when = datetime.fromisoformat(value)
    if when.tzinfo is None:
        raise ValueError("KPUDESK_NOW needs an offset, e.g. 2026-11-27T09:00:00+07:00")
    return FrozenClock(when)
