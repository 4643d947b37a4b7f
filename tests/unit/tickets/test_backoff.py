"""One retry schedule (tickets/backoff.py) for the outbox and the poller."""
from datetime import timedelta

from kpudesk.tickets.backoff import RETRY_MINUTES, retry_delay


def test_waits_grow_from_a_minute_to_an_hour_and_stay_there():
    waits = [retry_delay(n) for n in range(1, 12)]
    assert waits[0] == timedelta(minutes=1)
    assert waits == sorted(waits)
    assert waits[-1] == waits[len(RETRY_MINUTES) - 1] == timedelta(hours=1)


def test_zero_failures_waits_like_the_first():
    assert retry_delay(0) == retry_delay(1)
