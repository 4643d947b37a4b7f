"""The web desk's presence store (daemon/web/presence.py): who else opened a ticket within
the window, expiry, one entry per officer, a bound on memory, and safe under threads."""
from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from kpudesk.daemon.web import presence
from kpudesk.daemon.web.presence import Presence

T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def test_others_within_the_window_most_recent_first_never_oneself():
    p = Presence()
    p.opened(1, "rina@x.org", "Rina", T0)
    p.opened(1, "dewi@x.org", "Dewi", T0 + timedelta(seconds=30))
    p.opened(1, "Budi@X.org", "Budi", T0 + timedelta(seconds=60))
    now = T0 + timedelta(seconds=90)
    assert p.others(1, "rina@x.org", now) == ["Budi", "Dewi"]
    assert p.others(1, "budi@x.org", now) == ["Dewi", "Rina"]  # addresses compare in any case
    assert p.others(2, "rina@x.org", now) == []


def test_an_entry_expires_after_two_minutes_and_a_new_visit_refreshes_it():
    p = Presence()
    p.opened(1, "dewi@x.org", "Dewi", T0)
    assert p.others(1, "rina@x.org", T0 + timedelta(minutes=2)) == ["Dewi"]
    assert p.others(1, "rina@x.org", T0 + timedelta(minutes=2, seconds=1)) == []
    p.opened(1, "dewi@x.org", "Dewi", T0 + timedelta(minutes=3))
    assert p.others(1, "rina@x.org", T0 + timedelta(minutes=4)) == ["Dewi"]


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(presence, "MAX_TICKETS", 10)
    p = Presence()
    for n in range(25):
        p.opened(n, "dewi@x.org", "Dewi", T0 + timedelta(seconds=n))
    assert len(p._seen) <= 10
    assert p.others(24, "rina@x.org", T0 + timedelta(seconds=25)) == ["Dewi"]  # the newest kept
    assert p.others(0, "rina@x.org", T0 + timedelta(seconds=25)) == []


def test_many_threads_at_once():
    p = Presence()
    errors: list[BaseException] = []

    def visit(k: int) -> None:
        try:
            for n in range(300):
                p.opened(n % 7, f"o{k}@x.org", f"O{k}", T0)
                p.others(n % 7, f"o{(k + 1) % 8}@x.org", T0)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=visit, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(p.others(3, "nobody@x.org", T0)) == sorted(f"O{k}" for k in range(8))
