"""What officers do to a ticket: answer, note, close, reopen, assign. Each is an event.

The answer is queued in the outbox in the same transaction that moves the ticket to
`dijawab`, so a crash can never record an answer that will not be sent, or the reverse.

The ticket an action is given was loaded before (often before $EDITOR opened, minutes
ago) while the daemon went on writing (a follow-up sets the party, a message moves the
status): each action reads the row again inside its write transaction, decides on that,
and writes only the columns it changes. The caller's instance is refreshed afterwards.
"""
from __future__ import annotations

from .errors import UserError
from .models import Event, Message, Ticket, db
from .replies import Replies, set_status
from .status import Status


def _fresh(ticket: Ticket) -> Ticket:
    """The ticket as stored now; call inside the write transaction (SQLite takes the write
    lock at BEGIN, so nothing changes it between this read and the action's write)."""
    row = Ticket.by_id(ticket.id)
    if row is None:
        raise UserError(f"tiket #{ticket.id} sudah tidak ada")
    return row


def _refresh(stale: Ticket, fresh: Ticket) -> None:
    stale.__data__.update(fresh.__data__)
    stale._dirty.clear()


class OfficerActions:
    def __init__(self, replies: Replies, clock) -> None:
        self.replies = replies
        self.clock = clock

    def reply(self, ticket: Ticket, *, officer, body: str, faq=None) -> Message:
        body = (body or "").strip()
        if not body:
            raise UserError("jawaban kosong; tidak ada yang dikirim")
        with db.atomic():
            fresh = _fresh(ticket)
            item = self.replies.queue_answer(fresh, officer=officer, body=body, faq=faq)
            now = self.clock.now()
            if (fresh.flags or {}).get("escalation_answer"):
                # the member's or the Provinsi's answer has now been relayed
                fresh.flags = {k: v for k, v in fresh.flags.items() if k != "escalation_answer"}
                fresh.save(only=[Ticket.flags])
            set_status(fresh, Status.DIJAWAB, actor=officer.name, now=now)
            Event.create(ticket=fresh, at=now, actor=officer.name, kind="ticket.answered",
                         detail={"outbox": item.id, "officer_email": officer.email, "faq": faq.id if faq else None})
        _refresh(ticket, fresh)
        return item.message

    def note(self, ticket: Ticket, *, officer, body: str) -> Message:
        body = (body or "").strip()
        if not body:
            raise UserError("catatan kosong")
        now = self.clock.now()
        with db.atomic():
            fresh = _fresh(ticket)
            row = Message.create(ticket=fresh, direction="note", disposition="internal", kind="note",
                                 identity=f"note:{ticket.id}:{now.timestamp()}:{officer.email}:{hash(body)}",
                                 from_addr=officer.email.lower(), from_name=officer.name, subject="", text=body,
                                 author=officer.name, date=now, created_at=now)
            Event.create(ticket=fresh, at=now, actor=officer.name, kind="ticket.note", detail={"message": row.id})
            fresh.updated_at = now
            fresh.save(only=[Ticket.updated_at])
        _refresh(ticket, fresh)
        return row

    def close(self, ticket: Ticket, *, officer, reason: str | None = None) -> None:
        with db.atomic():
            fresh = _fresh(ticket)
            if fresh.status == Status.SELESAI.value:
                raise UserError(f"tiket #{ticket.id} sudah selesai")
            set_status(fresh, Status.SELESAI, actor=officer.name, now=self.clock.now(), reason=reason)
        _refresh(ticket, fresh)

    def reopen(self, ticket: Ticket, *, officer, reason: str | None = None) -> None:
        with db.atomic():
            fresh = _fresh(ticket)
            if fresh.status != Status.SELESAI.value:
                raise UserError(f"tiket #{ticket.id} belum selesai (status {fresh.status})")
            set_status(fresh, Status.BARU, actor=officer.name, now=self.clock.now(), reason=reason or "dibuka kembali")
        _refresh(ticket, fresh)

    def assign(self, ticket: Ticket, *, officer, assignee) -> None:
        now = self.clock.now()
        with db.atomic():
            fresh = _fresh(ticket)
            old = fresh.assignee
            fresh.assignee = assignee.name
            fresh.updated_at = now
            fresh.save(only=[Ticket.assignee, Ticket.updated_at])
            Event.create(ticket=fresh, at=now, actor=officer.name, kind="ticket.assigned",
                         detail={"from": old, "to": assignee.name})
        _refresh(ticket, fresh)
