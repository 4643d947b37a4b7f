"""Two officer operations the web desk needs and the CLI did not have yet: dismissing held
spam and correcting a ticket's identity card. Each is one transaction and one Event, like
the actions in tickets/officer.py (which a CLI command can call the same way).

- `dismiss_spam`: an officer confirms a held message is spam. It leaves the review list
  (disposition `spam_dismissed`), stays archived, and becomes no ticket.
- `edit_identity`: the SOP's consultation register needs name, party, phone and e-mail
  right; an officer's value replaces the guess, with source "officer". The party also
  becomes the ticket's party. The requester address mail goes to is not changed here.
- `mark_spam`: a ticket that turned out to be spam (the desk's bulk action "spam"):
  closed (`selesai`, its status event) with `flags["spam"]` and a `ticket.spam` event.
  Nothing is mailed; the messages stay on the ticket as evidence.
"""
from __future__ import annotations

import re

from . import search
from .errors import NotFound, UserError
from .models import Event, Identity, Message, Party, Ticket, db
from .phones import normalize_phone
from .queries import resolve_party
from .replies import set_status
from .status import Status

DISMISSED = "spam_dismissed"
_EMAIL_RE = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$")
IDENTITY_FIELDS = ("name", "party", "phone", "email")


def dismiss_spam(message_id: int, *, officer, clock, reason: str = "") -> Message:
    """Mark held spam #`message_id` as confirmed spam (no ticket); an Event `spam.dismissed`."""
    now = clock.now()
    with db.atomic():
        row = Message.get_or_none((Message.id == message_id) & (Message.disposition == "spam_held"))
        if row is None:
            raise NotFound(f"pesan spam #{message_id} tidak ada di daftar tahanan")
        row.disposition = DISMISSED
        row.save(only=[Message.disposition])
        Event.create(ticket=None, at=now, actor=officer.name, kind="spam.dismissed",
                     detail={"message": row.id, "officer_email": officer.email, "reason": reason or None})
    return row


def mark_spam(ticket: Ticket, *, officer, clock, reason: str = "") -> Ticket:
    """Close `ticket` as spam: status selesai, `flags["spam"]`, an Event `ticket.spam`."""
    now = clock.now()
    with db.atomic():
        fresh = Ticket.get_or_none(Ticket.id == ticket.id)
        if fresh is None:
            raise NotFound(f"tiket #{ticket.id} sudah tidak ada")
        if (fresh.flags or {}).get("spam"):
            raise UserError(f"tiket #{fresh.id} sudah ditandai spam")
        fresh.flags = dict(fresh.flags or {}) | {"spam": {"by": officer.name, "at": now.isoformat()}}
        fresh.save(only=[Ticket.flags])
        set_status(fresh, Status.SELESAI, actor=officer.name, now=now, reason="spam")
        Event.create(ticket=fresh, at=now, actor=officer.name, kind="ticket.spam",
                     detail={"officer_email": officer.email, "reason": reason or None})
    return fresh


def _clean(field: str, value: str | None, registry):
    """(stored value, party row or None) for one field as an officer typed it; None clears it."""
    value = " ".join((value or "").split())
    if not value:
        return None, None
    if field == "name":
        if len(value) > 200:
            raise UserError("nama terlalu panjang (paling banyak 200 karakter)")
        return value, None
    if field == "phone":
        phone = normalize_phone(value)
        if phone is None:
            raise UserError(f"nomor telepon tidak dikenali: {value!r} (contoh: 0812-3456-7890)")
        return phone, None
    if field == "email":
        if not _EMAIL_RE.match(value) or len(value) > 320:
            raise UserError(f"alamat surel tidak valid: {value!r}")
        return value.lower(), None
    p = resolve_party(registry, value)
    row, _ = Party.get_or_create(number=p.number, defaults={"name": p.name, "short": p.short})
    return p.name, row


def edit_identity(ticket: Ticket, *, officer, clock, registry, **values: str | None) -> list[str]:
    """Set the fields given (name, party, phone, email; an empty value clears one) on the
    ticket's identity card; returns the names of the fields that changed (none: no Event)."""
    unknown = set(values) - set(IDENTITY_FIELDS)
    if unknown:
        raise UserError(f"kolom identitas tidak dikenal: {', '.join(sorted(unknown))}")
    cleaned = {f: _clean(f, v, registry) for f, v in values.items()}
    now = clock.now()
    with db.atomic():
        fresh = Ticket.get_or_none(Ticket.id == ticket.id)
        if fresh is None:
            raise UserError(f"tiket #{ticket.id} sudah tidak ada")
        ident = Identity.get_or_none(Identity.ticket == fresh) or Identity(ticket=fresh)
        changed = []
        for f, (value, party_row) in cleaned.items():
            if getattr(ident, f) == value:
                continue
            setattr(ident, f, value)
            setattr(ident, f + "_source", "officer" if value is not None else None)
            changed.append(f)
            if f == "party":
                fresh.party = party_row
                fresh.save(only=[Ticket.party])
        if not changed:
            return []
        ident.save()
        search.touched(fresh.id)  # the card's name and address are searched
        fresh.updated_at = now
        fresh.save(only=[Ticket.updated_at])
        Event.create(ticket=fresh, at=now, actor=officer.name, kind="identity.updated",
                     detail={"fields": sorted(changed), "source": "officer", "officer_email": officer.email})
    return sorted(changed)
