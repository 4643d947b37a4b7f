"""The one place that reads the wall clock. Everything else takes a `Clock`.

Time is moved only by tests, in-process (`install_test_clock`), never by the environment.

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


# The in-process test seam: None in every deployed process. Only code running inside the
# process (a test, or tests/frozen_kpudesk.py, which installs one and then calls the CLI)
# can set it; no environment variable, setting or argument reaches it.
_test_clock: Clock | None = None


def install_test_clock(clock: Clock | None) -> Clock | None:
    """Tests only: make `default_clock` hand out `clock` in this process (None: the system
    clock again). Returns the clock that was installed before."""
    global _test_clock
    previous, _test_clock = _test_clock, clock
    return previous


def default_clock() -> Clock:
    """The clock the application runs on: the system clock, or the test seam's. Nothing in
    the environment moves it (a service whose environment could move its clock would store
    events before the tickets they belong to)."""
    return _test_clock or SystemClock()
