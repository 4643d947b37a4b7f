"""A party's and a requester's other tickets, for the ticket page (issue 14 item 6).

The same party often asks the same thing twice; the officer answering one ticket sees the
party's earlier ones (and the requester's, who may write for no known party yet) beside
it, newest first, and chooses from them the survivor of a merge (tickets/merge.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import Ticket
from .status import LABELS, Status, ref

SHOWN = 10


@dataclass(frozen=True, slots=True)
class Past:
    id: int
    ref: str
    subject: str
    status: str
    status_label: str
    created_at: datetime
    merged_into: int | None  # already merged away: shown, but no merge target

    @property
    def can_merge_into(self) -> bool:
        return self.merged_into is None


def _rows(where, ticket_id: int, tag: str, limit: int) -> list[Past]:
    query = (Ticket.select(Ticket.id, Ticket.subject, Ticket.status, Ticket.created_at, Ticket.flags)
             .where(where & (Ticket.id != ticket_id))
             .order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit))
    return [Past(id=t.id, ref=ref(t.id, tag), subject=t.subject or "", status=t.status,
                 status_label=LABELS.get(Status(t.status), t.status) if t.status in Status._value2member_map_
                 else t.status,
                 created_at=t.created_at, merged_into=(t.flags or {}).get("merged_into"))
            for t in query]


def party_history(ticket: Ticket, *, tag: str, limit: int = SHOWN) -> dict[str, list[Past]]:
    """{"party": the party's other tickets, "requester": the requester's other tickets},
    each newest first and at most `limit` long; empty when the ticket has no party / no
    requester address. A ticket in both lists is shown once, in the party's."""
    party = ticket.party_id
    of_party = _rows(Ticket.party == party, ticket.id, tag, limit) if party is not None else []
    shown = {p.id for p in of_party}
    where = Ticket.requester == ticket.requester
    if shown:
        where &= Ticket.id.not_in(shown)
    of_requester = _rows(where, ticket.id, tag, limit) if ticket.requester else []
    return {"party": of_party, "requester": of_requester}
