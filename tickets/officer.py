"""What officers do to a ticket: answer (by mail or in person), note, close, reopen,
assign, void. Each is an event.

The mailed answer is queued in the outbox in the same transaction that moves the ticket to
`dijawab`, so a crash can never record an answer that will not be sent, or the reverse.
An answer given in person, in a chat group or an online meeting (`answer`) is an "out"
message of kind "answer" with disposition "given" (never mailed): the Laporan, the timings
and the recap count it like a mailed one. Whoever answers an unassigned ticket becomes its
officer ("Petugas" in the Laporan), with a `ticket.assigned` event.

The ticket an action is given was loaded before (often before $EDITOR opened, minutes
ago) while the daemon went on writing (a follow-up sets the party, a message moves the
status): each action reads the row again inside its write transaction, decides on that,
and writes only the columns it changes. The caller's instance is refreshed afterwards.
"""
from __future__ import annotations

import secrets
from datetime import datetime

import peewee as pw

from . import search
from .errors import UserError
from .merge import merged_into
from .models import Event, Message, Ticket, db
from .replies import Replies, set_status
from .status import Status
from .voids import VOID_ROLES, is_void


def _fresh(ticket: Ticket) -> Ticket:
    """The ticket as stored now; call inside the write transaction (SQLite takes the write
    lock at BEGIN, so nothing changes it between this read and the action's write)."""
    row = Ticket.get_or_none(Ticket.id == ticket.id)
    if row is None:
        raise UserError(f"tiket #{ticket.id} sudah tidak ada")
    into = merged_into(row)
    if into is not None:  # its messages, events and escalations live on the survivor now
        raise UserError(f"tiket #{row.id} sudah digabung ke tiket #{into}; kerjakan di tiket #{into}")
    return row


def _refresh(stale: Ticket, fresh: Ticket) -> None:
    """The caller's instance shows what the action stored (it may be shown next)."""
    for field in Ticket._meta.sorted_fields:
        name = field.object_id_name if isinstance(field, pw.ForeignKeyField) else field.name  # no Party query
        setattr(stale, name, getattr(fresh, name))


class OfficerActions:
    def __init__(self, replies: Replies, clock) -> None:
        self.replies = replies
        self.clock = clock

    def reply(self, ticket: Ticket, *, officer, body: str, faq=None, attachments=(), archive=None) -> Message:
        """Queue a mailed answer; `attachments` are (filename, type, bytes) from
        `replies.prepare_attachments`, stored in `archive` and listed on the answer."""
        body = (body or "").strip()
        if not body:
            raise UserError("jawaban kosong; tidak ada yang dikirim")
        if not ticket.requester:
            raise UserError(f"tiket #{ticket.id} tidak punya alamat surel pemohon; jawaban tidak dapat dikirim "
                            "lewat surel (catat jawaban yang disampaikan langsung dengan `tickets answer`)")
        with db.atomic():
            fresh = _fresh(ticket)
            item = self.replies.queue_answer(fresh, officer=officer, body=body, faq=faq,
                                             attachments=attachments, archive=archive)
            _answered(fresh, officer, self.clock.now(), outbox=item.id, faq=faq.id if faq else None)
        _refresh(ticket, fresh)
        return item.message

    def answer(self, ticket: Ticket, *, officer, body: str, at: datetime | None = None) -> Message:
        """Record an answer given in person or online (not mailed) at `at` (default now)."""
        body = (body or "").strip()
        if not body:
            raise UserError("jawaban kosong; tidak ada yang dicatat")
        now = self.clock.now()
        when = at or now
        if when > now:
            raise UserError("waktu jawaban tidak boleh di masa depan")
        with db.atomic():
            fresh = _fresh(ticket)
            if when < fresh.created_at:
                raise UserError(f"waktu jawaban lebih awal dari waktu tiket #{fresh.id} dibuat")
            if fresh.status == Status.SELESAI.value:
                raise UserError(f"tiket #{fresh.id} sudah selesai; buka kembali dulu")
            row = Message.create(ticket=fresh, direction="out", disposition="given", kind="answer",
                                 identity=f"given:{fresh.id}:{when.timestamp()}:{secrets.token_hex(8)}",
                                 from_addr=officer.email.lower(), from_name=officer.name, subject=fresh.subject,
                                 text=body, author=officer.name, date=when, created_at=when)
            search.touched(fresh.id)
            _answered(fresh, officer, when, message=row.id, given=fresh.channel, recorded_at=now.isoformat())
            if when != now:  # written up later: updated_at is when it was recorded
                fresh.updated_at = now
                fresh.save(only=[Ticket.updated_at])
        _refresh(ticket, fresh)
        return row

    def void(self, ticket: Ticket, *, officer, reason: str) -> None:
        """Mark a mistaken ticket void: kept with its audit trail, left out of every count."""
        reason = (reason or "").strip()
        if not reason:
            raise UserError("alasan pembatalan wajib diisi (--reason)")
        if officer.role not in VOID_ROLES:
            raise UserError(f"membatalkan tiket hanya boleh oleh peran: {', '.join(VOID_ROLES)} "
                            f"({officer.name} berperan {officer.role})")
        now = self.clock.now()
        with db.atomic():
            fresh = _fresh(ticket)
            if is_void(fresh):
                raise UserError(f"tiket #{fresh.id} sudah dibatalkan")
            fresh.flags = dict(fresh.flags or {}) | {
                "void": {"by": officer.name, "at": now.isoformat(), "reason": reason}}
            fresh.updated_at = now
            fresh.save(only=[Ticket.flags, Ticket.updated_at])
            Event.create(ticket=fresh, at=now, actor=officer.name, kind="ticket.voided",
                         detail={"reason": reason, "officer_email": officer.email, "status": fresh.status})
        _refresh(ticket, fresh)

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


def _answered(ticket: Ticket, officer, at, **detail) -> None:
    """What every answer does, mailed or given (read inside the transaction): the relayed
    escalation answer is no longer pending, the answerer owns an unassigned ticket, the
    status is `dijawab`, and a `ticket.answered` event (the timings' and recap's answer)."""
    if (ticket.flags or {}).get("escalation_answer"):
        # the member's or the Provinsi's answer has now been relayed
        ticket.flags = {k: v for k, v in ticket.flags.items() if k != "escalation_answer"}
        ticket.save(only=[Ticket.flags])
    _assign_answerer(ticket, officer, at)
    set_status(ticket, Status.DIJAWAB, actor=officer.name, now=at)
    Event.create(ticket=ticket, at=at, actor=officer.name, kind="ticket.answered",
                 detail={"officer_email": officer.email} | detail)


def _assign_answerer(ticket: Ticket, officer, now) -> None:
    """An unassigned ticket belongs to whoever answers it (read inside the transaction)."""
    if ticket.assignee:
        return
    ticket.assignee = officer.name
    ticket.save(only=[Ticket.assignee])
    Event.create(ticket=ticket, at=now, actor=officer.name, kind="ticket.assigned",
                 detail={"from": None, "to": officer.name, "reason": "menjawab"})
