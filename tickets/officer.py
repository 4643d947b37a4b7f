"""What officers do to a ticket: answer, note, close, reopen, assign. Each is an event.

The answer is queued in the outbox in the same transaction that moves the ticket to
`dijawab`, so a crash can never record an answer that will not be sent, or the reverse.
"""
from __future__ import annotations

from .errors import UserError
from .models import Event, Message, Ticket, db
from .replies import Replies, set_status
from .status import Status


class OfficerActions:
    def __init__(self, replies: Replies, clock) -> None:
        self.replies = replies
        self.clock = clock

    def reply(self, ticket: Ticket, *, officer, body: str, faq=None) -> Message:
        body = (body or "").strip()
        if not body:
            raise UserError("jawaban kosong; tidak ada yang dikirim")
        with db.atomic():
            item = self.replies.queue_answer(ticket, officer=officer, body=body, faq=faq)
            now = self.clock.now()
            if (ticket.flags or {}).get("escalation_answer"):
                # the member's or the Provinsi's answer has now been relayed
                ticket.flags = {k: v for k, v in ticket.flags.items() if k != "escalation_answer"}
                ticket.save()
            set_status(ticket, Status.DIJAWAB, actor=officer.name, now=now)
            Event.create(ticket=ticket, at=now, actor=officer.name, kind="ticket.answered",
                         detail={"outbox": item.id, "officer_email": officer.email, "faq": faq.id if faq else None})
        return item.message

    def note(self, ticket: Ticket, *, officer, body: str) -> Message:
        body = (body or "").strip()
        if not body:
            raise UserError("catatan kosong")
        now = self.clock.now()
        with db.atomic():
            row = Message.create(ticket=ticket, direction="note", disposition="internal", kind="note",
                                 identity=f"note:{ticket.id}:{now.timestamp()}:{officer.email}:{hash(body)}",
                                 from_addr=officer.email.lower(), from_name=officer.name, subject="", text=body,
                                 author=officer.name, date=now, created_at=now)
            Event.create(ticket=ticket, at=now, actor=officer.name, kind="ticket.note", detail={"message": row.id})
            ticket.updated_at = now
            ticket.save()
        return row

    def close(self, ticket: Ticket, *, officer, reason: str | None = None) -> None:
        if ticket.status == Status.SELESAI.value:
            raise UserError(f"tiket #{ticket.id} sudah selesai")
        with db.atomic():
            set_status(ticket, Status.SELESAI, actor=officer.name, now=self.clock.now(), reason=reason)

    def reopen(self, ticket: Ticket, *, officer, reason: str | None = None) -> None:
        if ticket.status != Status.SELESAI.value:
            raise UserError(f"tiket #{ticket.id} belum selesai (status {ticket.status})")
        with db.atomic():
            set_status(ticket, Status.BARU, actor=officer.name, now=self.clock.now(), reason=reason or "dibuka kembali")

    def assign(self, ticket: Ticket, *, officer, assignee) -> None:
        now = self.clock.now()
        with db.atomic():
            old = ticket.assignee
            ticket.assignee = assignee.name
            ticket.updated_at = now
            ticket.save()
            Event.create(ticket=ticket, at=now, actor=officer.name, kind="ticket.assigned",
                         detail={"from": old, "to": assignee.name})
