"""The one place for batch SQL, all of it plain peewee: the per-batch Message-ID lookup,
the Message-ID → ticket lookup of threading, a batch's events and contact upserts.

Ingest stores a fetched batch in one transaction; reading the batch's Message-IDs with one
SELECT … IN and writing its events and contacts with one INSERT each (instead of one
statement per message) is what keeps a large first poll near the fetch+parse floor
(bench/ingest.py).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import peewee as pw

from .models import Contact, Event, Message, Ticket

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
    """The ticket each of these Message-IDs was stored on (threading rule 2)."""
    query = (Message.select(Message.msgid, Message.ticket).where(Message.msgid.in_(msgids) & Message.ticket.is_null(False))
             .order_by(Message.id).tuples())
    return dict(query)


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


class EventBatch:
    """The audit-trail rows of one ingest batch, written together by `write()` inside the
    batch's transaction (dropped with it when the batch fails). Nothing in ingest reads
    back an event it wrote."""

    def __init__(self) -> None:
        self.rows: list[dict] = []

    def add(self, ticket: Ticket | int | None, at: datetime, actor: str, kind: str, detail: dict) -> None:
        ticket_id = ticket.id if isinstance(ticket, Ticket) else ticket
        self.rows.append({"ticket": ticket_id, "at": at, "actor": actor, "kind": kind, "detail": detail})

    def write(self) -> None:
        rows, self.rows = self.rows, []
        for chunk in _chunks(rows):
            Event.insert_many(chunk).execute()
