"""Who else has a ticket open (issue 14 item 6, collision safety): the ticket page shows
"Sedang dibuka juga oleh: X" for the other officers who opened it in the last two minutes.

An in-process store, not a table: presence is a hint worth nothing after a restart, and
writing a row on every page view would cost the database a write per click. It is per
web process, which is exact for the desk as deployed: waitress serves `kpudesk web` from
one process (several threads, hence the lock). Several processes behind a balancer would
each see only their own visitors.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta

WINDOW = timedelta(minutes=2)
MAX_TICKETS = 5000  # a bound on memory whatever happens; expired entries go first


class Presence:
    """ticket id → {officer email: (name, last seen)}; every read drops what expired."""

    def __init__(self, window: timedelta = WINDOW) -> None:
        self.window = window
        self._lock = threading.Lock()
        self._seen: dict[int, dict[str, tuple[str, datetime]]] = {}

    def _expire(self, now: datetime) -> None:
        limit = now - self.window
        for ticket_id in list(self._seen):
            viewers = {e: v for e, v in self._seen[ticket_id].items() if v[1] >= limit}
            if viewers:
                self._seen[ticket_id] = viewers
            else:
                del self._seen[ticket_id]

    def opened(self, ticket_id: int, email: str, name: str, now: datetime) -> None:
        """The officer `email` has the ticket's page in front of them as of `now`."""
        with self._lock:
            if len(self._seen) >= MAX_TICKETS:
                self._expire(now)
                if len(self._seen) >= MAX_TICKETS:  # all fresh: forget the oldest ticket
                    oldest = min(self._seen, key=lambda t: max(v[1] for v in self._seen[t].values()))
                    del self._seen[oldest]
            self._seen.setdefault(ticket_id, {})[email.lower()] = (name, now)

    def others(self, ticket_id: int, email: str, now: datetime) -> list[str]:
        """Names of the other officers who opened the ticket within the window, most recent first."""
        limit, me = now - self.window, email.lower()
        with self._lock:
            viewers = dict(self._seen.get(ticket_id, {}))
        fresh = [(when, name) for who, (name, when) in viewers.items() if who != me and limit <= when <= now + self.window]
        return [name for _, name in sorted(fresh, reverse=True)]
