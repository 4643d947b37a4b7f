"""How long the IDLE watcher waits before reconnecting (daemon/idle.py)."""
from kpudesk.daemon.idle import reconnect_delay


def test_a_dropped_connection_is_retried_in_seconds_growing_to_a_minute():
    assert [reconnect_delay(n) for n in (1, 2, 3, 4, 7, 50)] == [1, 2, 5, 10, 60, 60]


def test_refused_credentials_back_off_in_minutes_like_the_poll():
    assert [reconnect_delay(n, auth=True) for n in (1, 2, 7)] == [60, 120, 3600]
