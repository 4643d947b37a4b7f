"""One fetched batch on its way into the database: the mails, their analyses, what the
batch read ahead (stored messages by Message-ID; the tickets its mails thread to, with their
identity records and who wrote on them), what it writes at its end (contacts), and the
folder's high-water mark, advanced in the batch's own transaction.

A `Batch` lives for one call of `Ingestor.ingest_batch`: nothing it read can answer for
the next batch, whatever ended this one (an error, an interrupt). What it read ahead is
kept up to date by ingest as the batch writes (a ticket opened, a sender's mail stored, a
row changed through the very objects it handed out); a ticket changed by code that reads
its own copy (an escalation answer, a bounce) is forgotten and read again when needed.
Like the Message-ID lookup, the rows are those at the start of the batch: on a PostgreSQL
shared with another host's writers, a change committed meanwhile is seen by the next batch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from kpudesk.mailbox.message import FetchedMail, InboundMessage

from . import store
from .analysis import Analysis
from .archive import Archive
from .matching import DATABASE, MatchContext, own_ticket_ids, subject_tag, thread_ids
from .models import FolderState, Identity, Ticket

ACK_WINDOW = timedelta(days=1)  # the longest of the per-sender acknowledgement caps (replies.py)


@dataclass
class Batch:
    folder: str
    uidvalidity: int
    mails: list[FetchedMail]
    analyses: list[Analysis | None]
    is_spam: bool
    high_uid: int | None = None  # the folder's highest UID, when above the batch's last mail
    # Stored messages by Message-ID, read once at the start (`read_ahead`); None: look up each.
    known: dict[str, list[store.Stored]] | None = None
    # Contact upserts collected for the end of the batch (None: written at once).
    contacts: list[dict] | None = field(default=None)
    # When the batch's senders were sent acknowledgements in the last day, read once at the
    # start and added to as the batch queues more (None: each cap check asks the database).
    acks: dict[str, list[datetime]] | None = None
    # The ticket holding each Message-ID the batch's mails answer (threading rule 2), read at
    # the start and kept up to date as the batch stores mail on tickets (None: ask each time).
    threads: dict[str, int] | None = None
    # The rows of the tickets those Message-IDs, our own Message-IDs and subject tags name
    # (None: no such ticket), their identity records, and which of the batch's senders wrote
    # on them; tickets the batch opens are added. A ticket missing here is read when asked.
    tickets: dict[int, Ticket | None] | None = None
    identities: dict[int, Identity | None] = field(default_factory=dict)
    writers: dict[int, set[str]] = field(default_factory=dict)

    @classmethod
    def of_one(cls, mail: FetchedMail, *, is_spam: bool) -> Batch:
        """A single message outside a poll (a quarantined one tried again, held spam released)."""
        return cls(mail.folder, mail.uidvalidity, [mail], [None], is_spam)

    def read_ahead(self, now: datetime, match: MatchContext | None = None) -> None:
        """Start the batch's transaction's work: the stored rows sharing a Message-ID with the
        batch's analysed messages, the acknowledgements its senders had in the last day
        (`ACK_WINDOW`), and what threading reads (`matching.Lookup`; our own Message-IDs and
        subject tags only with `match`), one query per 500 instead of one per message."""
        msgs = [a.msg for a in self.analyses if a is not None]
        senders = list(dict.fromkeys(m.sender_key for m in msgs if m.sender_key))
        self.known = store.stored_by_msgid(m.msgid for m in msgs if m.msgid is not None)
        self.acks = store.recent_acks(senders, now - ACK_WINDOW)
        self.threads = store.tickets_by_msgid(list(dict.fromkeys(i for m in msgs for i in thread_ids(m)[:100])))
        ids = set(self.threads.values())
        if match is not None:
            for m in msgs:
                ids.update(own_ticket_ids(m, match))
                tag = subject_tag(m.subject, match.tag)
                if tag is not None:
                    ids.add(tag)
        rows = store.tickets_by_id(ids)
        self.tickets = {t: rows.get(t) for t in ids}
        self.identities = dict.fromkeys(rows)
        self.identities.update(store.identities_of(rows))
        self.writers = store.writers_on(rows, senders)
        self.contacts = []

    # --- matching.Lookup: what threading reads ------------------------------------------

    def tickets_of(self, msgids: list[str]) -> dict[str, int]:
        """Rule 2's lookup (`matching.find_ticket` `threads=`): from what was read ahead and
        stored since, or the database when nothing was read ahead."""
        if self.threads is None:
            return store.tickets_by_msgid(msgids)
        return {i: self.threads[i] for i in msgids if i in self.threads}

    def ticket(self, ticket_id: int) -> Ticket | None:
        """The ticket row (the same object each time: ingest changes it through this one)."""
        if self.tickets is None:
            return DATABASE.ticket(ticket_id)
        if ticket_id not in self.tickets:
            self.tickets[ticket_id] = DATABASE.ticket(ticket_id)
        return self.tickets[ticket_id]

    def wrote_on(self, ticket_id: int, sender: str) -> bool:
        found = self.writers.get(ticket_id) if self.tickets is not None else None
        return sender in found if found is not None else DATABASE.wrote_on(ticket_id, sender)

    def identity(self, ticket_id: int) -> Identity | None:
        """The ticket's identity record (the same object each time), or None."""
        if self.tickets is None:
            return Identity.get_or_none(Identity.ticket == ticket_id)
        if ticket_id not in self.identities:
            self.identities[ticket_id] = Identity.get_or_none(Identity.ticket == ticket_id)
        return self.identities[ticket_id]

    # --- kept up to date as the batch writes ----------------------------------------------

    def opened(self, ticket: Ticket, identity: Identity) -> None:
        """The batch opened a ticket: later mail of the batch threading to it finds its rows."""
        if self.tickets is not None:
            self.tickets[ticket.id] = ticket
            self.identities[ticket.id] = identity
            self.writers[ticket.id] = set()

    def stored_on(self, msgid: str | None, ticket_id: int, sender: str | None) -> None:
        """A mail of this batch was stored on a ticket: later mail answering it finds it,
        and its sender is one who wrote on the ticket."""
        if self.threads is None:
            return
        if msgid:
            self.threads[msgid] = ticket_id
        if sender and ticket_id in self.writers:
            self.writers[ticket_id].add(sender)

    def forget_ticket(self, ticket_id: int | None = None) -> None:
        """A ticket (None: every ticket) was changed by code that read its own copy, or its
        mail changed direction: what the batch holds of it is read again when asked."""
        if self.tickets is None:
            return
        for held in (self.tickets, self.identities, self.writers):
            if ticket_id is None:
                held.clear()
            else:
                held.pop(ticket_id, None)

    def acks_of(self, address: str) -> list[datetime] | None:
        """The acknowledgement times of `address` read ahead (the caller appends what it
        queues), or None when nothing was read ahead."""
        if self.acks is None or not address:
            return None
        return self.acks.get(address.lower())

    def forget(self) -> None:
        """Drop what was read or collected (the transaction that held it rolled back)."""
        self.known = None
        self.contacts = None
        self.acks = None
        self.threads = None
        self.tickets = None
        self.identities, self.writers = {}, {}

    def same_id(self, msg: InboundMessage, identity_key: str) -> list[store.Stored]:
        """(id, identity, disposition) of the stored messages with `msg`'s Message-ID (or,
        without one, its identity). One lookup answers both "seen before?" and "Message-ID
        reused?"."""
        if msg.msgid is None:
            return store.stored_with(identity=identity_key)
        if self.known is not None:
            # Read at the start of the batch, and taken out as it is used: the message in
            # hand is stored or released next, so a later copy in the batch looks up
            # afresh. A copy another host commits meanwhile (a shared PostgreSQL) trips
            # the UNIQUE identity: the batch is then stored message by message, which
            # counts it as a duplicate.
            found = self.known.pop(msg.msgid, None)
            if found is not None:
                return found
        return store.stored_with(msgid=msg.msgid)

    def remember_contact(self, row: dict) -> None:
        if self.contacts is not None:
            self.contacts.append(row)  # nothing in ingest reads contacts back
        else:
            store.upsert_contacts([row])

    def finish(self, now: datetime, archive: Archive) -> int:
        """The end of the batch's transaction: the collected contacts, the folder's mark
        moved past the batch, and the raw bytes made durable before the rows that point at
        them are committed. Returns the new mark."""
        if self.contacts:
            store.upsert_contacts(self.contacts)
        self.contacts = None
        top = max([m.uid for m in self.mails] + [self.high_uid or 0])
        state = FolderState.get_or_none(FolderState.name == self.folder)
        if state is None:
            FolderState.create(name=self.folder, uidvalidity=self.uidvalidity, last_uid=top, updated_at=now)
        else:
            state.last_uid = max(top, state.last_uid if state.uidvalidity == self.uidvalidity else 0)
            state.uidvalidity = self.uidvalidity
            state.updated_at = now
            state.save()
        archive.sync()
        return top
