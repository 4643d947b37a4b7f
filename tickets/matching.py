"""Which ticket does an incoming message belong to? The threading order of design.md.

1. our own signed Message-ID in In-Reply-To / References;
2. any stored Message-ID in In-Reply-To / References (newest reference first);
3. the subject tag `[HD-MSJ #12]`, trusted only from a sender already on that ticket, of the
   same party, or a configured escalation address — otherwise noted as a *claimed* tag;
4. the escalation target's own ticket number, mapped through the escalation record;
5. nothing: a new ticket.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from kpudesk.mailbox.message import InboundMessage

from . import msgid as ourid
from .models import Message, Ticket, rows


@dataclass(frozen=True, slots=True)
class Match:
    ticket_id: int | None  # None: open a new ticket
    rule: str  # "own-msgid" | "references" | "subject-tag" | "external-number" | "new"
    claimed_tag: int | None = None  # a tag we saw but did not trust


@dataclass(frozen=True)
class MatchContext:
    secret: bytes
    msgid_domain: str
    tag: str  # "HD-MSJ"
    escalation_addresses: frozenset[str] = frozenset()
    party_of: Callable[[str], int | None] = lambda email: None  # sender email → party id
    external_lookup: Callable[[InboundMessage], int | None] = lambda msg: None  # rule 4

    def tag_re(self) -> re.Pattern[str]:
        return _tag_re(self.tag)


_TAG_CACHE: dict[str, re.Pattern[str]] = {}


def _tag_re(tag: str) -> re.Pattern[str]:
    if tag not in _TAG_CACHE:
        _TAG_CACHE[tag] = re.compile(r"\[\s*" + re.escape(tag) + r"\s*#\s*(\d{1,9})\s*\]", re.IGNORECASE)
    return _TAG_CACHE[tag]


def subject_tag(subject: str, tag: str) -> int | None:
    m = _tag_re(tag).search(subject or "")
    return int(m.group(1)) if m else None


def find_ticket(msg: InboundMessage, ctx: MatchContext) -> Match:
    ids = msg.thread_ids
    if msg.report is not None and msg.report.original_message_id and msg.report.original_message_id not in ids:
        # A DSN names the bounced message in its report part, not in its own headers.
        ids = (msg.report.original_message_id,) + ids
    # 1. our own Message-IDs: verified by MAC, no database needed.
    for bare in ids:
        t = ourid.ticket_of(bare, ctx.secret, ctx.msgid_domain)
        if t is not None and rows('SELECT 1 FROM "ticket" WHERE "id" = ?', t):
            return Match(t, "own-msgid")
    # 2. any stored Message-ID; newest reference first, so a forwarded chain lands on the
    # ticket of the message actually replied to.
    if ids:
        wanted = list(ids)[:100]
        found = dict(rows(f'SELECT "msgid", "ticket_id" FROM "message" WHERE "msgid" IN ({", ".join("?" * len(wanted))}) '
                          'AND "ticket_id" IS NOT NULL', *wanted))
        for bare in ids:
            if bare in found:
                return Match(found[bare], "references")
    # 3. the subject tag, only from someone entitled to write into that ticket.
    claimed = subject_tag(msg.subject, ctx.tag)
    if claimed is not None:
        ticket = Ticket.by_id(claimed)
        if ticket is not None and _may_join(ticket, msg, ctx):
            return Match(ticket.id, "subject-tag")
    # 4. the escalation target's own number (only from that target; see escalation module).
    ext = ctx.external_lookup(msg)
    if ext is not None:
        return Match(ext, "external-number")
    return Match(None, "new", claimed_tag=claimed)


def _may_join(ticket: Ticket, msg: InboundMessage, ctx: MatchContext) -> bool:
    sender = msg.sender_key
    if not sender:
        return False
    if sender in ctx.escalation_addresses:
        return True
    if ticket.requester == sender:
        return True
    on_ticket = (
        Message.select(Message.id)
        .where((Message.ticket == ticket) & (Message.direction == "in") & (Message.from_addr == sender))
        .exists()
    )
    if on_ticket:
        return True
    party = ctx.party_of(sender)
    return party is not None and ticket.party_id == party
