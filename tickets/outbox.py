"""The durable outbox: every mail we send is a row, written in the transaction of its cause.

Rows hold the mail as decided: rendered when queued (so `tickets show` shows its words
before `send`), composed into bytes once at first delivery and kept, so a retry sends
exactly the same bytes, with the same Message-ID. Delivery is at-least-once: a row is
marked sent in its own small transaction right after the server accepts it; a crash in
between resends that one mail once, with the same Message-ID, which mail clients collapse.
Temporary failures (connection errors, 4xx) back off and keep trying for `RETRY_FOR`;
permanent ones (5xx) mark the row failed, flag its ticket and show in `tickets list`.

Leases (tickets/lease.py). A sender claims each row right before sending it; so two live
senders never deliver the same row, except across hosts when one is stalled past `LEASE`.

A mark that fails because the database stayed locked (`record_sent`): the server already
accepted the mail, so it must not go out again. Its id is remembered in this process
(`_accepted`), skipped by `due`/`claim`, and marked again on every flush; its lease stays,
so no other sender on this host takes the row while this process lives. The window that
remains: this process ends before any retry succeeds (or, across hosts, stays stalled past
`LEASE`) — then that one mail is sent again, with the same Message-ID.
"""
from __future__ import annotations

import logging
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee as pw

from . import lease
from .backoff import retry_delay
from .lease import HOST, LEASE, takeable
from .models import Event, Message, OutboxItem, Ticket, db
from .schema import is_locked

log = logging.getLogger(__name__)

RETRY_FOR = timedelta(days=4)  # "at least 3 days", like an MTA's queue lifetime

# Accepted by the server, not yet marked sent (the database stayed locked): id -> (when, note).
_accepted: dict[int, tuple[datetime, str]] = {}
MARK_ATTEMPTS = 3  # each waits out the busy timeout


@dataclass
class SendStats:
    sent: int = 0
    pending: int = 0
    deferred: int = 0
    failed: int = 0

    def as_dict(self) -> dict:
        return {"sent": self.sent, "pending": self.pending, "deferred": self.deferred, "failed": self.failed}


def enqueue(*, kind: str, sender: str, recipients: list[str], message_id: str, now: datetime,
            data: bytes = b"", mail: dict | None = None,
            ticket: Ticket | None = None, message: Message | None = None) -> OutboxItem:
    """Queue a mail: its bytes, or the record of its rendered parts to compose at first
    delivery (MIME serialisation is the costly part of an acknowledgement, and ingest is
    the hot path). Call inside the transaction that decided to send it."""
    if not recipients:
        raise ValueError("an outgoing mail needs at least one recipient")
    if not data and mail is None:
        raise ValueError("an outgoing mail needs its bytes or its record")
    return OutboxItem.create(
        ticket=ticket, message=message, kind=kind, sender=sender, recipients=recipients,
        rcpt_key=recipients[0].lower(), msgid=message_id, data=data, mail=mail, status="pending",
        next_attempt_at=now, deliver_until=now + RETRY_FOR, created_at=now,
    )


def materialize(item: OutboxItem, compose_record, render_record=None) -> bytes:
    """The bytes to send; composed once from the record (its words rendered when it was
    queued) and stored, so every retry sends exactly the same bytes. A record an older
    version kept for rendering later ("render": an acknowledgement queued before the
    upgrade) is rendered first, and its text completes the ticket's out message."""
    if item.data:
        return bytes(item.data)
    record = item.mail
    if "render" in record:
        if render_record is None:
            raise ValueError("this mail is rendered at delivery: a renderer is needed")
        record = render_record(record)
    data = compose_record(record)
    with db.atomic():
        OutboxItem.update(data=data).where(OutboxItem.id == item.id).execute()
        if "render" in item.mail and item.message_id is not None:
            Message.update(text=record["text"]).where(Message.id == item.message_id).execute()
    item.data = data
    return data


def due(now: datetime, *, ignore_backoff: bool = False, limit: int = 500) -> list[OutboxItem]:
    """Pending rows a sender may claim now: unleased, leased until a time now past, or
    leased by a sender on this host that is gone."""
    q = OutboxItem.select().where((OutboxItem.status == "pending")
                                  & (OutboxItem.lease_until.is_null() | (OutboxItem.lease_until < now)
                                     | OutboxItem.lease_holder.startswith(f"{HOST}:")))
    if not ignore_backoff:
        q = q.where(OutboxItem.next_attempt_at <= now)
    if _accepted:
        q = q.where(OutboxItem.id.not_in(list(_accepted)))
    found = []
    for item in q.order_by(OutboxItem.id):
        if takeable(item.lease_until, item.lease_holder, now):
            found.append(item)
            if len(found) == limit:
                break
    return found


def claim(item_id: int, now: datetime) -> bool:
    """Reserve a row for delivery (tickets/lease.py): two senders — a daemon and a manual
    `kpudesk send`, or two daemons — never deliver the same mail twice."""
    if item_id in _accepted:
        return False
    return lease.claim(OutboxItem, item_id, now, now + LEASE)


def mark_sent(item_id: int, now: datetime, note: str = "") -> None:
    with db.atomic():
        item = OutboxItem.get_by_id(item_id)
        item.status = "sent"
        item.sent_at = now
        item.lease_until = item.lease_holder = None
        item.attempts += 1
        item.last_error = note or None
        item.save()
        if item.message_id is not None:
            Message.update(disposition="sent").where(Message.id == item.message_id).execute()


def record_sent(item_id: int, now: datetime, note: str = "", *, attempts: int = MARK_ATTEMPTS) -> bool:
    """`mark_sent` for a mail the server just accepted, retried while the database is
    locked; when it still is, remembered in this process (see the module docstring) and
    False. Never raises for a lock: the rest of the batch goes on."""
    for attempt in range(attempts):
        try:
            mark_sent(item_id, now, note)
            _accepted.pop(item_id, None)
            return True
        except (pw.OperationalError, sqlite3.OperationalError) as exc:
            if not is_locked(exc):
                raise
            log.warning("outbox item=%s accepted by the server; marking it sent failed (attempt %d): %s",
                        item_id, attempt + 1, exc)
            time.sleep(0.1 * (attempt + 1))
    _accepted[item_id] = (now, note)
    return False


def retry_marks(attempts: int = 1) -> int:
    """Mark again what the server accepted and a locked database kept unmarked; returns how
    many are still unmarked."""
    for item_id, (when, note) in list(_accepted.items()):
        record_sent(item_id, when, note, attempts=attempts)
    return len(_accepted)


def unmarked() -> int:
    return len(_accepted)


def mark_temporary(item_id: int, now: datetime, error: str) -> bool:
    """Back off; returns True when the row has now given up (expired)."""
    with db.atomic():
        item = OutboxItem.get_by_id(item_id)
        item.attempts += 1
        item.last_error = error[:1000]
        item.lease_until = item.lease_holder = None
        if now >= item.deliver_until:
            _fail(item, now, f"menyerah setelah {item.attempts} percobaan: {error}")
            return True
        item.next_attempt_at = now + retry_delay(item.attempts)
        item.save()
        return False


def mark_permanent(item_id: int, now: datetime, error: str) -> None:
    with db.atomic():
        item = OutboxItem.get_by_id(item_id)
        item.attempts += 1
        _fail(item, now, error)


def _fail(item: OutboxItem, now: datetime, error: str) -> None:
    item.status = "failed"
    item.lease_until = item.lease_holder = None
    item.last_error = error[:1000]
    item.save()
    if item.message_id is not None:
        Message.update(disposition="failed").where(Message.id == item.message_id).execute()
    if item.ticket_id is not None:
        ticket = Ticket.get_by_id(item.ticket_id)
        flags = dict(ticket.flags or {})
        flags["delivery_failed"] = True
        ticket.flags = flags
        ticket.save(only=[Ticket.flags])  # the rest of the row is not ours to write back
        Event.create(ticket=ticket, at=now, actor="system", kind="delivery.failed",
                     detail={"outbox": item.id, "kind": item.kind, "to": item.recipients, "error": error[:500]})
    log.error("outbox item=%s kind=%s ticket=%s failed: %s", item.id, item.kind, item.ticket_id, error)


def counts() -> dict[str, int]:
    rows = OutboxItem.select(OutboxItem.status, pw.fn.COUNT(OutboxItem.id).alias("n")).group_by(OutboxItem.status)
    return {r.status: r.n for r in rows}


def record_bounce(bounce: Message, report, referenced: tuple[str, ...], now: datetime) -> OutboxItem | None:
    """A DSN or bounce naming one of our mails: record who failed and why on its ticket."""
    ids = ((report.original_message_id,) if report and report.original_message_id else ()) + referenced
    item = None
    for bare in ids:
        item = OutboxItem.get_or_none(OutboxItem.msgid == bare)
        if item is not None:
            break
    if item is None:
        return None
    detail = {"outbox": item.id, "kind": item.kind, "bounce_message": bounce.id,
              "recipients": list(report.recipients) if report else [],
              "status": report.status if report else "", "diagnostic": (report.diagnostic if report else "")[:500]}
    # A 4.x.x report is "delayed, still trying": worth a line in the history, not a failure.
    delayed = bool(report and report.status.startswith("4"))
    if item.ticket_id is not None:
        ticket = Ticket.get_by_id(item.ticket_id)
        if not delayed:
            flags = dict(ticket.flags or {})
            flags["delivery_failed"] = True
            ticket.flags = flags
            ticket.save(only=[Ticket.flags])
        Event.create(ticket=ticket, at=now, actor="system",
                     kind="delivery.delayed" if delayed else "delivery.bounced", detail=detail)
    if delayed:
        return item
    if item.message_id is not None:
        Message.update(disposition="bounced").where(Message.id == item.message_id).execute()
    log.warning("bounce for outbox item=%s ticket=%s status=%s", item.id, item.ticket_id, detail["status"])
    return item
