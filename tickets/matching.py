"""Which ticket does an incoming message belong to? The threading order of design.md.

1. our own signed Message-ID in In-Reply-To / References;
2. any stored Message-ID in In-Reply-To / References (newest reference first);
3. the subject tag `[HD-MSJ #12]`;
(rules 1 and 3 name a ticket that may since have been merged: `survivor` follows the merge)
4. the escalation target's own ticket number, mapped through the escalation record;
5. nothing: a new ticket.

Who may join a ticket (`may_join`) is the same question for rules 2 and 3: the
requester, a sender already on the ticket, someone of the ticket's party (the party
known from the registry address, so only with a passing sender-authentication verdict),
or an escalation address (only with a passing verdict). Anyone can learn a Message-ID
(a stranger CC'd on a party's mail) or write a tag, so a mail failing the rule does not
join: by a tag it opens a new ticket noting the *claimed* tag; by a reference it opens a
new ticket linked to the old one (`Match.related`), and never reopens the old one.

Rule 1 is different: the MAC proves the writer received a mail we sent on that ticket
(a colleague we copied, the member we escalated to), so even a stranger joins an open
ticket, marked `stranger` (no reopening, no escalation effect). Only when the ticket is
answered or closed — where joining would reopen it — does a stranger's reply open a new
linked ticket instead, like rule 2.

Rule 4 is taken only from the escalation target's address with a passing verdict. A
failing mail claiming an escalation or officer address joins nothing (`Match.forgery`):
it becomes an ordinary new ticket, linked to what it tried to reach.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from kpudesk.mailbox.compose import tag_pattern
from kpudesk.mailbox.message import InboundMessage

from . import msgid as ourid
from . import store
from .models import Ticket
from .sender_auth import Verdict
from .status import REOPEN_FROM


@dataclass(frozen=True, slots=True)
class Match:
    ticket_id: int | None  # None: open a new ticket
    rule: str  # "own-msgid" | "references" | "subject-tag" | "external-number" | "new"
    claimed_tag: int | None = None  # a tag we saw but did not trust
    related: int | None = None  # new ticket: the ticket the mail threaded to but may not join
    stranger: bool = False  # joined by our Message-ID although not entitled by `may_join`
    forgery: bool = False  # failed authentication while claiming an escalation/officer address
    # The matched ticket's row as threading read it, in the caller's transaction (None: read
    # it by `ticket_id`); not part of what the match means.
    ticket: Ticket | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class MatchContext:
    secret: bytes
    msgid_domain: str
    tag: str  # "HD-MSJ"
    escalation_addresses: frozenset[str] = frozenset()
    officer_addresses: frozenset[str] = frozenset()
    party_of: Callable[[str], int | None] = lambda email: None  # sender email → party id
    external_lookup: Callable[[InboundMessage], int | None] = lambda msg: None  # rule 4

    def tag_re(self) -> re.Pattern[str]:
        return tag_pattern(self.tag)


class Lookup(Protocol):
    """What threading reads: an ingest batch answers from what it read ahead and stored
    since (tickets/batch.py), `DATABASE` asks the database each time."""

    def tickets_of(self, msgids: list[str]) -> dict[str, int]:
        """Rule 2: the ticket holding each of these stored Message-IDs."""

    def ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket row with this id, read in the caller's transaction."""

    def wrote_on(self, ticket_id: int, sender: str) -> bool:
        """Whether `sender` wrote mail stored on the ticket (`may_join`)."""


class _Database:
    tickets_of = staticmethod(store.tickets_by_msgid)
    wrote_on = staticmethod(store.wrote_on)

    @staticmethod
    def ticket(ticket_id: int) -> Ticket | None:
        return Ticket.get_or_none(Ticket.id == ticket_id)


DATABASE: Lookup = _Database()


def subject_tag(subject: str, tag: str) -> int | None:
    m = tag_pattern(tag).search(subject or "")
    return int(m.group(1)) if m else None


def find_ticket(msg: InboundMessage, ctx: MatchContext, auth: Verdict | None = None,
                lookup: Lookup = DATABASE) -> Match:
    """The ticket `msg` belongs to, given its sender-authentication verdict (None: not
    checked, treated as "none"). `lookup` answers what threading reads: an ingest batch
    from what it read ahead (tickets/batch.py); by default the database is asked."""
    authenticated = auth is not None and auth.passed
    claimed = subject_tag(msg.subject, ctx.tag)
    sender = msg.sender_key or ""
    if auth is not None and auth.failed and sender in (ctx.escalation_addresses | ctx.officer_addresses):
        threaded = _threaded(msg, ctx, authenticated=False, lookup=lookup)
        return Match(None, "new", claimed_tag=claimed, related=threaded.ticket_id or threaded.related,
                     forgery=True)
    found = _threaded(msg, ctx, authenticated=authenticated, lookup=lookup)
    if found.ticket_id is not None or found.related is not None:
        return found if found.ticket_id is not None else replace(found, claimed_tag=claimed)
    # 3. the subject tag, only from someone entitled to write into that ticket.
    if claimed is not None:
        ticket = survivor(claimed, lookup)
        if ticket is not None and may_join(ticket, msg, ctx, authenticated=authenticated, lookup=lookup):
            return Match(ticket.id, "subject-tag", ticket=ticket)
    # 4. the escalation target's own number (only from that target, authenticated).
    ext = ctx.external_lookup(msg) if authenticated else None
    if ext is not None:
        return Match(ext, "external-number")
    return Match(None, "new", claimed_tag=claimed)


def survivor(ticket_id: int, lookup: Lookup = DATABASE) -> Ticket | None:
    """The ticket `ticket_id` names, or the one it was merged into (tickets/merge.py):
    our Message-IDs and subject tags of a merged ticket still name it, its mail lives on
    the survivor. Follows a chain of merges; None when there is no such ticket."""
    seen: set[int] = set()
    ticket = lookup.ticket(ticket_id)
    while ticket is not None and (ticket.flags or {}).get("merged_into") is not None and ticket.id not in seen:
        seen.add(ticket.id)
        ticket = lookup.ticket(int(ticket.flags["merged_into"]))
    return ticket


def thread_ids(msg: InboundMessage) -> tuple[str, ...]:
    """The Message-IDs `msg` answers (newest reference first), a bounce's original too."""
    ids = msg.thread_ids
    if msg.report is not None and msg.report.original_message_id and msg.report.original_message_id not in ids:
        # A DSN names the bounced message in its report part, not in its own headers.
        ids = (msg.report.original_message_id,) + ids
    return ids


def own_ticket_ids(msg: InboundMessage, ctx: MatchContext) -> list[int]:
    """The tickets our own signed Message-IDs among `msg`'s references name (rule 1)."""
    found = (ourid.ticket_of(bare, ctx.secret, ctx.msgid_domain) for bare in thread_ids(msg))
    return [t for t in found if t is not None]


def _threaded(msg: InboundMessage, ctx: MatchContext, *, authenticated: bool, lookup: Lookup) -> Match:
    """Rules 1 and 2: a joined ticket, a new ticket related to one, or nothing ("new")."""
    ids = thread_ids(msg)
    # 1. our own Message-IDs: verified by MAC, no database needed.
    for bare in ids:
        t = ourid.ticket_of(bare, ctx.secret, ctx.msgid_domain)
        ticket = survivor(t, lookup) if t is not None else None
        if ticket is not None:
            if may_join(ticket, msg, ctx, authenticated=authenticated, lookup=lookup):
                return Match(ticket.id, "own-msgid", ticket=ticket)
            if ticket.status in REOPEN_FROM:
                return Match(None, "new", related=ticket.id)
            return Match(ticket.id, "own-msgid", stranger=True, ticket=ticket)
    # 2. any stored Message-ID; newest reference first, so a forwarded chain lands on the
    # ticket of the message actually replied to.
    if ids:
        found = lookup.tickets_of(list(ids)[:100])
        first: int | None = None
        for bare in ids:
            if bare not in found:
                continue
            first = first or found[bare]
            ticket = lookup.ticket(found[bare])
            if ticket is not None and may_join(ticket, msg, ctx, authenticated=authenticated, lookup=lookup):
                return Match(ticket.id, "references", ticket=ticket)
        if first is not None:
            return Match(None, "new", related=first)
    return Match(None, "new")


def may_join(ticket: Ticket, msg: InboundMessage, ctx: MatchContext, *, authenticated: bool,
             lookup: Lookup = DATABASE) -> bool:
    """May the sender of `msg` write into `ticket`? (See the module docstring.)"""
    sender = msg.sender_key
    if not sender:
        return False
    if sender in ctx.escalation_addresses and authenticated:
        return True
    if ticket.requester == sender:
        return True
    if lookup.wrote_on(ticket.id, sender):
        return True
    if not authenticated:
        return False
    party = ctx.party_of(sender)
    return party is not None and ticket.party_id == party
