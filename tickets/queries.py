"""Read-only views of tickets as plain data (the shapes of the CLI's --json output)."""
from __future__ import annotations

import difflib
import re
from zoneinfo import ZoneInfo

import peewee as pw

from .errors import NotFound, UserError
from .escalation import escalation_views
from .labels import iso
from .models import Attachment, Event, Identity, Message, Party, Ticket
from .search_query import search_clause
from .sender_auth import Verdict
from .status import ref
from .voids import left_out


# `2`, `#2`, `HD-MSJ #2`, `[HD-MSJ #2]`, `hd-msj#2`: the forms a ticket is shown in (a tag
# starts with a letter: `999` is ticket 999, not tag `9` and ticket 99).
_TICKET_ID = re.compile(r"\[?\s*(?:(?P<tag>[^\W\d_][^#\[\]]*?)\s*)?#?\s*(?P<id>\d{1,18})\s*\]?")


def parse_ticket_id(text: str, tag: str | None = None) -> int:
    """The ticket number in `text`, written as the helpdesk shows it; a tag, when given,
    must be the helpdesk's own (any case). Raises UserError naming the accepted forms."""
    m = _TICKET_ID.fullmatch(str(text).strip())
    shown = f"{tag} #2" if tag else "HD #2"
    if m is None:
        raise UserError(f"nomor tiket tidak valid: {text!r} (contoh: 2, #2, {shown!r} atau [{shown}])")
    written = m.group("tag")
    if written and tag and written.strip().casefold() != tag.casefold():
        raise UserError(f"nomor tiket {text!r} memakai label {written.strip()!r}, bukan label helpdesk ini ({tag!r})")
    return int(m.group("id"))


def get_ticket(ticket_id: int | str, tag: str | None = None) -> Ticket:
    tid = ticket_id if isinstance(ticket_id, int) else parse_ticket_id(ticket_id, tag)
    t = Ticket.get_or_none(Ticket.id == tid)
    if t is None:
        raise NotFound(f"tiket #{tid} tidak ditemukan")
    return t


def _fold(text: str) -> str:
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.casefold()).split())


def resolve_party(registry, text: str):
    """The registry's party for a filter as an officer types it: ballot number, short or full
    name, any alias ("PDIP", "PDI-P"), or an unambiguous beginning of one ("pdi"); an unknown
    name is a UserError suggesting the closest names."""
    text = (text or "").strip()
    if not text:
        raise UserError("nama partai kosong (pakai singkatan, nama, atau nomor urut)")
    found = registry.get(text)
    if found is not None:
        return found
    names = {}  # folded name -> (shown name, party)
    for p in registry.parties:
        for name in (p.short, p.name, *p.aliases):
            names.setdefault(_fold(name), (name, p))
    key = _fold(text)
    if key in names:
        return names[key][1]
    squashed = key.replace(" ", "")
    starts = {p.number: p for k, (_n, p) in names.items() if key and (k.startswith(key) or k.replace(" ", "").startswith(squashed))}
    if len(starts) == 1:
        return next(iter(starts.values()))
    if len(starts) > 1:
        which = ", ".join(sorted(p.short for p in starts.values()))
        raise UserError(f"nama partai {text!r} cocok dengan lebih dari satu partai: {which}")
    close = difflib.get_close_matches(key, list(names), n=3, cutoff=0.5)
    shown = list(dict.fromkeys(names[c][1].short for c in close))
    hint = f"; maksud Anda: {', '.join(shown)}?" if shown else " (pakai singkatan, nama, atau nomor urut)"
    raise UserError(f"partai tidak dikenal: {text!r}{hint}")


def list_tickets(*, tag: str, zone: ZoneInfo, status: str | None = None, party: str | None = None,
                 assignee: str | None = None, channel: str | None = None, needs_answer: bool = False,
                 ids: list[int] | None = None, search: str | None = None) -> list[dict]:
    """Tickets matching every filter given; `party` is a ballot number (see resolve_party)
    or, for other callers, a short name, name or number as stored."""
    count = (Message.select(pw.fn.COUNT(Message.id)).where(
        (Message.ticket == Ticket.id) & (Message.direction.in_(["in", "out"]))))
    q = (Ticket.select(Ticket, Party, count.alias("n_messages"))
         .join(Party, pw.JOIN.LEFT_OUTER).order_by(Ticket.id))
    if status:
        q = q.where(Ticket.status == status)
    if isinstance(party, int):
        q = q.where(Party.number == party)
    elif party:
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
    found = search_clause(search, tag)
    if found is not None:
        q = q.where(found)
    # A voided ticket (a test entry, a mistake) or one merged into another stays in the
    # audit trail, out of the list (as out of the web queue), unless a status is asked for.
    return [summary(t, tag=tag, zone=zone, n_messages=t.n_messages) for t in q
            if status or not left_out(t)]


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
    n = 0
    for m in d["messages"]:  # numbered as `tickets attachment ID N` takes them
        for a in m["attachments"]:
            n += 1
            a["number"] = n
    ident = Identity.get_or_none(Identity.ticket == t)
    d["identity"] = {
        "name": ident.name if ident else None,
        "party": ident.party if ident else None,
        "phone": ident.phone if ident else None,
        "email": ident.email if ident else None,
        "sources": {f: getattr(ident, f + "_source") for f in ("name", "party", "phone", "email")} if ident else {},
    }
    d["escalations"] = escalation_views(t, zone)
    d["events"] = [
        {"at": iso(e.at, zone), "actor": e.actor, "kind": e.kind, "detail": e.detail or {}}
        for e in Event.select().where(Event.ticket == t).order_by(Event.at, Event.id)
    ]
    return d


def ticket_attachments(t: Ticket) -> list[Attachment]:
    """The ticket's files in the order `detail` numbers them (1 = the first)."""
    return list(Attachment.select().join(Message).where(Message.ticket == t)
                .order_by(Message.created_at, Message.id, Attachment.id))
