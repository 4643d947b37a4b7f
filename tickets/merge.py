"""Merging two tickets of the same party into one (issue 14 item 6): the web desk's
`POST /tickets/<id>/merge` and `kpudesk tickets merge ID --into ID` both call `merge`.

The party who asks the same thing twice opens two tickets; the officer keeps one (the
survivor) and merges the other into it. In one transaction the merged ticket's messages
(their attachments follow them), events, escalations and outbox rows move to the
survivor; outbox rows not yet sent keep their Message-ID, which still names the merged
ticket, so threading follows `flags["merged_into"]` (tickets/matching.py `survivor`) as it
does for the old ticket's subject tag. The merged ticket stays as a stub: status
`selesai`, `flags["merged_into"] = <survivor id>`, its identity card, and the events of
the merge. No schema change: Ticket.flags is a JSON field.
"""
from __future__ import annotations

from . import search
from .errors import NotFound, UserError
from .models import Escalation, Event, Message, OutboxItem, Ticket, db
from .permissions import allowed
from .replies import set_status
from .status import Status, ref
from .voids import is_void

MERGED = "merged_into"
# What the merged ticket knew that the survivor must keep showing to the officer.
CARRIED_FLAGS = ("delivery_failed", "escalation_answer", "possible_forgery")


def merged_into(ticket: Ticket) -> int | None:
    """The survivor's id when `ticket` was merged away, else None."""
    value = (ticket.flags or {}).get(MERGED)
    return int(value) if value is not None else None


def _load(ticket_id: int, tag: str) -> Ticket:
    t = Ticket.get_or_none(Ticket.id == ticket_id)
    if t is None:
        raise NotFound(f"tiket {ref(ticket_id, tag)} tidak ada")
    return t


def check(ticket: Ticket, into: Ticket, *, tag: str = "HD-MSJ") -> None:
    """Raise UserError (in Bahasa) when `ticket` may not be merged into `into`."""
    a, b = ref(ticket.id, tag), ref(into.id, tag)
    if ticket.id == into.id:
        raise UserError(f"{a} tidak dapat digabung ke dirinya sendiri; pilih tiket lain")
    for t in (ticket, into):
        if merged_into(t) is not None:
            raise UserError(f"{ref(t.id, tag)} sudah digabung ke {ref(merged_into(t), tag)}; "
                            "gabungkan ke tiket tujuannya")
    if is_void(into):
        raise UserError(f"{b} sudah dibatalkan; tiket tidak dapat digabung ke tiket yang dibatalkan")
    if ticket.party_id is not None and into.party_id is not None:
        if ticket.party_id != into.party_id:
            raise UserError(f"{a} dan {b} berasal dari partai yang berbeda; hanya tiket partai yang sama "
                            "yang dapat digabung")
        return
    if not ticket.requester or ticket.requester != into.requester:
        raise UserError(f"{a} dan {b} bukan dari partai atau pemohon yang sama; tiket tidak dapat digabung")


def merge(ticket_id: int, into_id: int, *, actor, clock, tag: str = "HD-MSJ") -> Ticket:
    """Merge ticket `ticket_id` into `into_id` (the survivor, returned as stored now).

    `actor` is the officer (anything with `.name`, `.email`, `.role`); their role must
    allow "merge" (tickets/permissions.py), checked here so the CLI refuses as the web does.
    """
    if not allowed(actor.role, "merge"):
        raise UserError(f"menggabungkan tiket tidak diizinkan untuk peran {actor.role} ({actor.name})")
    now = clock.now()
    with db.atomic():
        # read inside the write transaction: the daemon may have just added a message
        old, into = _load(ticket_id, tag), _load(into_id, tag)
        check(old, into, tag=tag)
        moved = {
            "messages": Message.update(ticket=into).where(Message.ticket == old).execute(),
            "events": Event.update(ticket=into).where(Event.ticket == old).execute(),
            "escalations": Escalation.update(ticket=into).where(Escalation.ticket == old).execute(),
            "outbox": OutboxItem.update(ticket=into).where(OutboxItem.ticket == old).execute(),
        }
        carried = {k: v for k, v in (old.flags or {}).items() if k in CARRIED_FLAGS and v}
        if carried:
            into.flags = dict(into.flags or {}) | carried
        into.updated_at = now
        into.save(only=[Ticket.flags, Ticket.updated_at])
        old.flags = dict(old.flags or {}) | {MERGED: into.id}
        old.save(only=[Ticket.flags])
        set_status(old, Status.SELESAI, actor=actor.name, now=now, reason=f"digabung ke {ref(into.id, tag)}")
        if old.updated_at != now:  # it was selesai already: set_status wrote nothing
            old.updated_at = now
            old.save(only=[Ticket.updated_at])
        Event.create(ticket=old, at=now, actor=actor.name, kind="ticket.merged",
                     detail={"into": into.id, "officer_email": actor.email} | moved)
        Event.create(ticket=into, at=now, actor=actor.name, kind="ticket.merged_in",
                     detail={"from": old.id, "officer_email": actor.email} | moved)
        search.reindex_tickets([old.id, into.id])  # the words moved with the messages
    return Ticket.get_by_id(into_id)
