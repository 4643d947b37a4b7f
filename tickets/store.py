"""The one place for batch SQL, all of it plain peewee: the per-batch Message-ID lookup,
the Message-ID → ticket lookup of threading and the rows threading and follow-ups read
(tickets, their identity records, who wrote on them), the batch's senders' recent
acknowledgements (the per-sender caps), a batch's contact upserts.

Ingest stores a fetched batch in one transaction; reading the batch's Message-IDs with one
SELECT … IN and writing its contacts with one INSERT (instead of one statement per
message) keeps those costs per batch, not per message (bench/ingest.py).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import peewee as pw

from .models import Contact, Identity, Message, OutboxItem, Ticket

# SQLite allows 32,766 parameters per statement since 3.32 (999 before); PostgreSQL 65,535.
CHUNK = 500

# What a stored message looks like to dedupe: (id, identity, disposition).
Stored = tuple[int, str, str]


def _chunks(values: list, size: int = CHUNK) -> Iterable[list]:
    for k in range(0, len(values), size):
        yield values[k:k + size]


def stored_by_msgid(msgids: Iterable[str]) -> dict[str, list[Stored]]:
    """Every stored message sharing one of these Message-IDs, by Message-ID (an empty list
    for an id never seen): one query per 500 ids instead of one per message."""
    ids = list(dict.fromkeys(msgids))
    known: dict[str, list[Stored]] = {i: [] for i in ids}
    for chunk in _chunks(ids):
        query = (Message.select(Message.msgid, Message.id, Message.identity, Message.disposition)
                 .where(Message.msgid.in_(chunk)).order_by(Message.id).tuples())
        for msgid, *row in query:
            known[msgid].append(tuple(row))
    return known


def stored_with(*, msgid: str | None = None, identity: str | None = None) -> list[Stored]:
    """The stored messages with this Message-ID (or, for mail without one, this identity)."""
    where = Message.msgid == msgid if msgid is not None else Message.identity == identity
    return list(Message.select(Message.id, Message.identity, Message.disposition)
                .where(where).order_by(Message.id).tuples())


def tickets_by_msgid(msgids: list[str]) -> dict[str, int]:
    """The ticket each of these Message-IDs was stored on (threading rule 2; the newest
    message wins), one query per 500 ids."""
    found: dict[str, int] = {}
    for chunk in _chunks(list(msgids)):
        query = (Message.select(Message.msgid, Message.ticket)
                 .where(Message.msgid.in_(chunk) & Message.ticket.is_null(False)).order_by(Message.id).tuples())
        found.update(query)
    return found


def tickets_by_id(ids: Iterable[int]) -> dict[int, Ticket]:
    """The ticket rows with these ids (missing ids left out), one query per 500."""
    found: dict[int, Ticket] = {}
    for chunk in _chunks(list(dict.fromkeys(ids))):
        found.update((t.id, t) for t in Ticket.select().where(Ticket.id.in_(chunk)))
    return found


def identities_of(ticket_ids: Iterable[int]) -> dict[int, Identity]:
    """The identity record of each of these tickets that has one, one query per 500."""
    found: dict[int, Identity] = {}
    for chunk in _chunks(list(dict.fromkeys(ticket_ids))):
        found.update((i.ticket_id, i) for i in Identity.select().where(Identity.ticket.in_(chunk)))
    return found


def writers_on(ticket_ids: Iterable[int], senders: Iterable[str]) -> dict[int, set[str]]:
    """For each of these tickets, which of these senders (`from_addr`, lower case) wrote
    mail stored on it: one query per 500 tickets instead of one per message."""
    found: dict[int, set[str]] = {t: set() for t in dict.fromkeys(ticket_ids)}
    who = list(dict.fromkeys(senders))
    if not who or not found:
        return found
    for chunk in _chunks(list(found)):
        for size in range(0, len(who), CHUNK):
            query = (Message.select(Message.ticket, Message.from_addr).distinct()
                     .where(Message.ticket.in_(chunk) & (Message.direction == "in")
                            & Message.from_addr.in_(who[size:size + CHUNK])).tuples())
            for tid, sender in query:
                found[tid].add(sender)
    return found


def wrote_on(ticket_id: int, sender: str) -> bool:
    """Whether `sender` wrote mail stored on the ticket (threading's `may_join`)."""
    return (Message.select(Message.id)
            .where((Message.ticket == ticket_id) & (Message.direction == "in") & (Message.from_addr == sender))
            .exists())


def recent_acks(addresses: Iterable[str], since: datetime) -> dict[str, list[datetime]]:
    """When each of these addresses (lower case) was last sent acknowledgements, since
    `since`: one query per 500 senders instead of one per acknowledgement."""
    keys = list(dict.fromkeys(a.lower() for a in addresses))
    sent: dict[str, list[datetime]] = {k: [] for k in keys}
    for chunk in _chunks(keys):
        query = (OutboxItem.select(OutboxItem.rcpt_key, OutboxItem.created_at)
                 .where((OutboxItem.kind == "ack") & OutboxItem.rcpt_key.in_(chunk) & (OutboxItem.created_at >= since))
                 .tuples())
        for key, at in query:
            sent[key].append(at)
    return sent


# Upsert: what we learn fills gaps, never overwrites what an officer or the registry set.
def _contact_upsert(rows: list[dict]):
    return (Contact.insert_many(rows)
            .on_conflict(conflict_target=[Contact.email],
                         update={Contact.name: pw.fn.COALESCE(Contact.name, pw.EXCLUDED.name),
                                 Contact.phone: pw.fn.COALESCE(Contact.phone, pw.EXCLUDED.phone)}))


def upsert_contacts(rows: list[dict]) -> None:
    """Contacts learnt from mail (email, name, phone, party, source), later ones for the
    same address filling what earlier ones left empty."""
    # One address twice in one statement is an error on PostgreSQL ("cannot affect row a
    # second time"): merge them first, the earlier value winning, as sequential upserts would.
    merged: dict[str, dict] = {}
    for row in rows:
        seen = merged.get(row["email"])
        if seen is None:
            merged[row["email"]] = dict(row)
        else:
            for key in ("name", "phone"):
                seen[key] = seen[key] if seen[key] is not None else row[key]
    for chunk in _chunks(list(merged.values())):
        _contact_upsert(chunk).execute()
