"""What reached the tickets since an officer loaded the queue: the desk's "new mail" notice.

The queue page remembers the newest party message it knew (`latest_incoming`); the page's
small script asks now and then how many came after it (`arrived_after`) and offers a
reload. Message ids only grow, so "after id N" is exact whatever the clocks say.
Pure database reads.
"""
from __future__ import annotations

from collections.abc import Collection

import peewee as pw

from .models import Message


def _incoming():
    return (Message.direction == "in") & Message.ticket.is_null(False)


def latest_incoming(only_tickets: Collection[int] | None = None) -> int:
    """The id of the newest party message on a ticket (0: none yet); `only_tickets`
    narrows it to the tickets an officer may see."""
    where = _incoming()
    if only_tickets is not None:
        where &= Message.ticket.in_(list(only_tickets))
    return Message.select(pw.fn.MAX(Message.id)).where(where).scalar() or 0


def arrived_after(after: int, only_tickets: Collection[int] | None = None) -> tuple[int, int]:
    """(how many party messages reached a ticket after message `after`, the newest id)."""
    where = _incoming() & (Message.id > after)
    if only_tickets is not None:
        where &= Message.ticket.in_(list(only_tickets))
    count, newest = Message.select(pw.fn.COUNT(Message.id), pw.fn.MAX(Message.id)).where(where).scalar(as_tuple=True)
    return count or 0, newest or after
