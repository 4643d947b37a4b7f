"""How long to wait after failures in a row: one schedule for every retry the desk makes
(an outbox row the SMTP server refused for now, a poll whose server could not be reached).

Short first (a server restarting is back within a minute or two), then up to an hour,
like an MTA's queue; callers cap it further where they have a rhythm of their own.
"""
from __future__ import annotations

from datetime import timedelta

RETRY_MINUTES = (1, 2, 5, 10, 15, 30, 60)


def retry_delay(failures: int) -> timedelta:
    """The wait after the `failures`-th failure in a row (1 = the first; 0 counts as 1)."""
    return timedelta(minutes=RETRY_MINUTES[min(max(failures, 1), len(RETRY_MINUTES)) - 1])
