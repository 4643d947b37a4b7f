"""Test seam: the desk in-process, fed `FetchedMail` directly (no Dovecot, no environment).

`Feeder(tmp_path)` builds the application exactly as the CLI does (`daemon.wiring.build_app`
from a `Settings` object) on an in-memory SQLite database, with an injected `FrozenClock`.
`deliver(raw)` wraps the bytes in a `FetchedMail` with the folder's next UID and hands them
to the ingestor's batch entry, as the poller does after a fetch; `show(id)` is the JSON of
`tickets show` without its FAQ and timing extras. Domain rules (threading, replies,
escalation) are tested through it in milliseconds; the real-server tests stay as the
end-to-end layer.
"""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from kpudesk.daemon.config import settings_from_dict
from kpudesk.daemon.wiring import App, build_app
from kpudesk.mailbox.message import FetchedMail
from kpudesk.tickets import outbox, queries
from kpudesk.tickets.clock import FrozenClock
from kpudesk.tickets.ingest import PollStats
from kpudesk.tickets.models import Message, Ticket

HELPDESK = "helpdesk@kpu-mesuji.example.org"
RINA = "Rina Wulandari"       # anggota-helpdesk
AHMAD = "Ahmad Fauzi"         # anggota-kpu (may escalate to the Provinsi)
# Monday 1 December 2026, 09:00 in Jakarta: inside service hours.
MONDAY_MORNING = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
UIDVALIDITY = 1


def base_settings(root: Path) -> dict:
    """A complete settings document pointing at nothing: no server is contacted."""
    return {
        "helpdesk": {"name": "Helpdesk KPU Kabupaten Mesuji", "address": HELPDESK, "tag": "HD-MSJ"},
        "imap": {"host": "127.0.0.1", "port": 9, "security": "none", "username": "helpdesk",
                 "password_env": "KPUDESK_FEEDER_UNUSED"},
        "smtp": {"host": "127.0.0.1", "port": 9, "security": "none"},
        "database": {"url": "sqlite:///:memory:"},
        "storage": {"dir": str(root / "state")},
        "officers": [{"name": RINA, "email": "rina@kpu-mesuji.example.org", "role": "anggota-helpdesk"},
                     {"name": AHMAD, "email": "ahmad@kpu-mesuji.example.org", "role": "anggota-kpu"}],
    }


class Feeder:
    """One desk in memory; `extra` adds or replaces settings sections (a dict of tables)."""

    def __init__(self, root: Path, *, now: datetime = MONDAY_MORNING, extra: dict | None = None) -> None:
        root = Path(root)
        data = base_settings(root)
        for section, table in (extra or {}).items():
            data[section] = table
        self.clock = FrozenClock(now)
        self.settings = settings_from_dict(data, base=root)
        self.app: App = build_app(self.settings, clock=self.clock, create=True)
        self._next_uid: dict[str, int] = {}

    # --- mail in ----------------------------------------------------------------------

    def deliver(self, *raws: bytes, folder: str = "INBOX") -> PollStats:
        """Store `raws` as one fetched batch of `folder` (the spam folder when it is named
        as configured); returns the batch's counters, as `poll --json` would show them."""
        stats = PollStats()
        mails = []
        for raw in raws:
            uid = self._next_uid.get(folder, 1)
            self._next_uid[folder] = uid + 1
            mails.append(FetchedMail(folder=folder, uidvalidity=UIDVALIDITY, uid=uid, raw=raw,
                                     internaldate=self.clock.now()))
        self.app.ingestor.ingest_batch(folder, UIDVALIDITY, mails, is_spam=folder == self.settings.imap.spam,
                                       stats=stats)
        return stats

    def advance(self, **delta: float) -> datetime:
        """Move the desk's clock (minutes=, hours=, days=)."""
        return self.clock.advance(**delta)

    # --- officers ---------------------------------------------------------------------

    def officer(self, name: str = RINA):
        return self.app.settings.officer(name)

    def reply(self, ticket_id: int, body: str, officer: str = RINA) -> Message:
        return self.app.officers.reply(Ticket.get_by_id(ticket_id), officer=self.officer(officer), body=body)

    def close(self, ticket_id: int, officer: str = RINA) -> None:
        self.app.officers.close(Ticket.get_by_id(ticket_id), officer=self.officer(officer))

    def escalate(self, ticket_id: int, to: str = "anggota", officer: str = RINA, note: str = ""):
        return self.app.escalations.escalate(Ticket.get_by_id(ticket_id), target=to,
                                             officer=self.officer(officer), note=note)

    # --- what an officer sees -----------------------------------------------------------

    def tickets(self) -> list[dict]:
        """`tickets list --json`, oldest first."""
        return sorted(queries.list_tickets(tag=self.settings.helpdesk.tag, zone=self.settings.zone),
                      key=lambda t: t["id"])

    def only_ticket(self) -> dict:
        (t,) = self.tickets()
        return t

    def show(self, ticket_id: int) -> dict:
        """`tickets show --json` (without the FAQ suggestions and timings)."""
        return queries.detail(Ticket.get_by_id(ticket_id), tag=self.settings.helpdesk.tag, zone=self.settings.zone)

    def party_side(self, ticket_id: int) -> list[dict]:
        """The messages that came in from outside (our acknowledgements are left out)."""
        return [m for m in self.show(ticket_id)["messages"] if m["direction"] == "in"]

    def outgoing(self, to: str | None = None) -> list[Message]:
        """Mail we wrote (queued or sent; escalations are "internal"), oldest first, to `to`
        when given."""
        rows = (Message.select().where(Message.direction.in_(["out", "internal"]) & (Message.from_addr == HELPDESK))
                .order_by(Message.id))
        return [m for m in rows if to is None or to in (m.to or [])]

    def outbox(self) -> list:
        """The outbox rows, oldest first (`outbox.OutboxItem`, wherever the table lives)."""
        item = outbox.OutboxItem
        return list(item.select().order_by(item.id))

    def msgid_of(self, m: Message) -> str:
        """The Message-ID header value of mail we wrote, with its angle brackets."""
        mid = m.message_id
        return mid if mid.startswith("<") else f"<{mid}>"
