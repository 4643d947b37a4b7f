"""Read-only views of tickets as plain data (the shapes of the CLI's --json output)."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import peewee as pw

from .errors import NotFound
from .models import Attachment, Event, Identity, Message, Party, Ticket
from .sender_auth import Verdict


def iso(value: datetime | None, zone: ZoneInfo) -> str | None:
    return value.astimezone(zone).isoformat(timespec="seconds") if value else None


def ref(ticket_id: int, tag: str) -> str:
    return f"{tag} #{ticket_id}"


def get_ticket(ticket_id: int | str) -> Ticket:
    try:
        tid = int(str(ticket_id).lstrip("#"))
    except ValueError:
        raise NotFound(f"nomor tiket tidak valid: {ticket_id!r}") from None
    t = Ticket.get_or_none(Ticket.id == tid)
    if t is None:
        raise NotFound(f"tiket #{tid} tidak ditemukan")
    return t


def list_tickets(*, tag: str, zone: ZoneInfo, status: str | None = None, party: str | None = None,
                 assignee: str | None = None, channel: str | None = None, needs_answer: bool = False,
                 ids: list[int] | None = None) -> list[dict]:
    count = (Message.select(pw.fn.COUNT(Message.id)).where(
        (Message.ticket == Ticket.id) & (Message.direction.in_(["in", "out"]))))
    q = (Ticket.select(Ticket, Party, count.alias("n_messages"))
         .join(Party, pw.JOIN.LEFT_OUTER).order_by(Ticket.id))
    if status:
        q = q.where(Ticket.status == status)
    if party:
        p = party.lower()
        q = q.where((pw.fn.LOWER(Party.short) == p) | (pw.fn.LOWER(Party.name) == p) | (Party.number == (int(p) if p.isdigit() else -1)))
    if assignee:
        q = q.where(pw.fn.LOWER(Ticket.assignee) == assignee.lower())
    if channel:
        q = q.where(Ticket.channel == channel)
    if needs_answer:
        q = q.where(Ticket.status == "baru")
    if ids is not None:
        q = q.where(Ticket.id.in_(ids))
    return [summary(t, tag=tag, zone=zone, n_messages=t.n_messages) for t in q]


def summary(t: Ticket, *, tag: str, zone: ZoneInfo, n_messages: int | None = None) -> dict:
    if n_messages is None:
        n_messages = Message.select().where((Message.ticket == t) & Message.direction.in_(["in", "out"])).count()
    party = t.party
    return {
        "id": t.id,
        "ref": ref(t.id, tag),
        "status": t.status,
        "subject": t.subject,
        "party": party.short if party else None,
        "requester": t.requester,
        "requester_name": t.requester_name,
        "channel": t.channel,
        "assignee": t.assignee,
        "messages": n_messages,
        "flags": t.flags or {},
        "from_spam": t.from_spam,
        "claimed_tag": t.claimed_tag,
        "created_at": iso(t.created_at, zone),
        "updated_at": iso(t.updated_at, zone),
    }


def message_view(m: Message, zone: ZoneInfo) -> dict:
    return {
        "id": m.id,
        "direction": m.direction,
        "kind": m.kind,
        "from": m.from_addr,
        "from_name": m.from_name,
        "to": m.to or [],
        "cc": m.cc or [],
        "date": iso(m.date or m.created_at, zone),
        "subject": m.subject,
        "text": m.text,
        "message_id": m.message_id,
        "author": m.author,
        # for mail we sent: queued | sent | failed | bounced
        "delivery": m.disposition if m.disposition in ("queued", "sent", "failed", "bounced") else None,
        "attachments": [
            {"filename": a.filename, "content_type": a.content_type, "size": a.size, "sha256": a.sha256}
            for a in m.attachments.order_by(Attachment.id)
        ],
        "defects": m.defects or [],
        # sender authentication of incoming mail (design.md; an escalation answer is
        # "internal" but came in); None for what we wrote
        "authentication": (Verdict.from_json(m.authentication).as_json()
                           if m.authentication is not None or m.direction == "in" else None),
    }


def detail(t: Ticket, *, tag: str, zone: ZoneInfo) -> dict:
    d = summary(t, tag=tag, zone=zone)
    msgs = list(Message.select().where(Message.ticket == t).order_by(Message.created_at, Message.id))
    d["messages"] = [message_view(m, zone) for m in msgs]
    ident = Identity.get_or_none(Identity.ticket == t)
    d["identity"] = {
        "name": ident.name if ident else None,
        "party": ident.party if ident else None,
        "phone": ident.phone if ident else None,
        "email": ident.email if ident else None,
        "sources": {f: getattr(ident, f + "_source") for f in ("name", "party", "phone", "email")} if ident else {},
    }
    from .escalation import escalation_views  # escalation imports this module

    d["escalations"] = escalation_views(t, zone)
    d["events"] = [
        {"at": iso(e.at, zone), "actor": e.actor, "kind": e.kind, "detail": e.detail or {}}
        for e in Event.select().where(Event.ticket == t).order_by(Event.at, Event.id)
    ]
    return d
