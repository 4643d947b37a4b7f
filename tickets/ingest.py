"""Incoming mail → stored messages and tickets, exactly once.

One database transaction per fetched batch holds every message, ticket, identity, event,
outbox row and the folder's new high-water mark; raw bytes are archived (one pack file per
batch) and made durable before that commit. When a message fails, the batch is rolled back
and stored again with each message in its own savepoint: the failure then undoes only that
message, which is quarantined with its raw bytes and the error, and the batch goes on.
What can be learnt from the bytes alone (`tickets.analysis`) may arrive done ahead.
A crash anywhere before the commit loses nothing (the UID mark did not move, the next poll
re-reads the batch); a crash after it duplicates nothing (the mark moved with the rows, and
the UNIQUE message identity catches any re-read, e.g. after a UIDVALIDITY change).

This module makes the per-message decisions and calls the domain itself: the
acknowledgement (`replies`), escalation answers (`escalations`), bounce records (`outbox`);
a party's question opens or follows up a ticket in `filing`. The batch's own state is a
`batch.Batch`; the rows a mail becomes are built in `mail_rows`; batch SQL lives in `store`.
"""
from __future__ import annotations

import logging
import traceback
from dataclasses import dataclass
from typing import TYPE_CHECKING

import peewee as pw

from kpudesk.mailbox.message import FetchedMail, InboundMessage
from kpudesk.mailbox.parse import parse

from . import mail_rows, outbox, search
from .analysis import Analysis, analysis_of, analyze, message_identity
from .archive import Archive, ArchiveWriteError
from .batch import Batch
from .classify import Kind, OwnIdentity
from .faq_check import FaqCheck
from .filing import Filing
from .matching import Match, MatchContext, find_ticket
from .models import Identity, Message, Quarantine, Ticket, db
from .parties import PartyRegistry
from .poll_stats import FolderStats, PollStats
from .sender_auth import NONE, SenderPolicy, Verdict

if TYPE_CHECKING:
    from .escalation import Escalations
    from .replies import Replies

__all__ = ["FolderStats", "IngestConfig", "Ingestor", "PollStats"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestConfig:
    own: OwnIdentity
    match: MatchContext
    inbox: str = "INBOX"  # the poller reads the inbox and the spam folder, nothing else
    policy: SenderPolicy | None = None  # sender authentication (None: every verdict "none")


_UNCHECKED = Verdict(NONE, "sender authentication not configured")


class Ingestor:
    """Stores fetched mail and makes each message's decisions: dedupe, thread, open or
    follow up a ticket, and — inside the same transaction — the acknowledgement
    (`replies`), the escalation answer (`escalations`), the bounce record (`outbox`)."""

    def __init__(self, *, archive: Archive, registry: PartyRegistry, clock, config: IngestConfig,
                 replies: Replies, escalations: Escalations, faq: FaqCheck) -> None:
        self.archive = archive
        self.clock = clock
        self.config = config
        self.replies = replies
        self.escalations = escalations
        self.faq = faq
        self.filing = Filing(registry=registry, clock=clock, faq=faq)

    # --- batches ----------------------------------------------------------------------

    def ingest_batch(
        self, folder: str, uidvalidity: int, mails: list[FetchedMail], *, is_spam: bool, stats: PollStats,
        high_uid: int | None = None, analyses: list[Analysis | None] | None = None,
    ) -> None:
        """Store a batch and advance the folder's mark, all in one transaction.

        `analyses` (one per mail, None where missing) is the work done ahead from the bytes
        alone (`tickets.analysis`); what is missing is done here."""
        fstats = stats.folders.setdefault(folder, FolderStats(uidvalidity=uidvalidity))
        # Parse before BEGIN: the write lock is held only for the database work, so an
        # officer's command can write between batches instead of waiting out a slow parse.
        analyses = [a if a is not None else self._analyze_or_none(m)
                    for m, a in zip(mails, analyses or [None] * len(mails), strict=True)]
        batch = Batch(folder, uidvalidity, mails, analyses, is_spam, high_uid)
        top = self._store(batch, stats)
        fstats.fetched += len(mails)
        fstats.last_uid = max(fstats.last_uid, top)
        stats.fetched += len(mails)

    def _analyze_or_none(self, mail: FetchedMail) -> Analysis | None:
        """The analysis of one mail, or None when it fails: the message is then analysed
        again inside its savepoint, which quarantines it with the error."""
        try:
            return analyze(mail.raw, mail.internaldate, self.config.own, self.config.policy)
        except Exception:  # noqa: BLE001 - reported by the quarantine path
            return None

    def _store(self, batch: Batch, stats: PollStats) -> int:
        """The batch's transaction; returns the folder's new mark."""
        before = stats.counters()
        try:
            # The usual case first: the whole batch as one plain transaction. A savepoint
            # per message costs two statements each, and is only needed when a message fails...
            # Each ticket the batch touched is indexed once, at its end (tickets/search.py).
            with db.atomic(), search.deferred():
                batch.read_ahead(self.clock.now(), self.config.match)
                for mail, analysis in zip(batch.mails, batch.analyses, strict=True):
                    self._process(mail, batch, stats, analysis)
                return batch.finish(self.clock.now(), self.archive)
        except ArchiveWriteError:
            raise  # the disk refused the batch's bytes: storing it message by message would too
        except Exception as exc:  # noqa: BLE001
            # ... so then the batch, rolled back whole, is stored again message by message,
            # each in its own savepoint, and what fails again is quarantined.
            log.info("folder=%s batch of %d: %s: %s; storing it message by message",
                     batch.folder, len(batch.mails), type(exc).__name__, exc)
            stats.restore(before)
            batch.forget()
            self.filing.forget()  # may hold party ids the rollback undid
            with db.atomic():
                for mail, analysis in zip(batch.mails, batch.analyses, strict=True):
                    self._one(mail, analysis, batch, stats)
                return batch.finish(self.clock.now(), self.archive)

    def _one(self, mail: FetchedMail, analysis: Analysis | None, batch: Batch, stats: PollStats) -> None:
        before = stats.counters()
        try:
            # A savepoint: a failure undoes only this message, its indexing included.
            with db.atomic(), search.deferred():
                self._process(mail, batch, stats, analysis)
        except Exception as exc:  # noqa: BLE001 - one bad message must never block the queue
            stats.restore(before)  # the savepoint undid the message; undo its counts too
            if isinstance(exc, pw.IntegrityError) and self._stored_meanwhile(mail, analysis):
                # Another poller (sharing a PostgreSQL database from another host) stored it
                # between our dedupe check and our insert: a duplicate, not a failure.
                stats.duplicates += 1
                return
            log.warning("quarantined folder=%s uid=%s: %s", mail.folder, mail.uid, exc)
            log.debug("quarantine traceback:\n%s", traceback.format_exc())
            mail_rows.quarantine(mail, exc, self.archive, self.clock.now())
            stats.quarantined += 1

    @staticmethod
    def _stored_meanwhile(mail: FetchedMail, analysis: Analysis | None) -> bool:
        key = analysis.identity_key if analysis is not None else message_identity(parse(mail.raw, mail.internaldate))
        return Message.get_or_none(Message.identity == key) is not None

    # --- one message ------------------------------------------------------------------

    def _process(self, mail: FetchedMail, batch: Batch, stats: PollStats,
                 analysis: Analysis | None = None) -> Message | None:
        a = analysis or analyze(mail.raw, mail.internaldate, self.config.own, self.config.policy)
        msg, identity_key, cls, is_spam = a.msg, a.identity_key, a.cls, batch.is_spam
        auth = self._verdict(mail, a)
        same_id = batch.same_id(msg, identity_key)
        existing = next((r for r in same_id if r[1] == identity_key), None)
        if existing is not None:
            stats.duplicates += 1
            if existing[2] == "spam_held" and not is_spam:
                # Someone moved it out of Spam: that is a "not spam" verdict. Release it.
                log.info("held spam message=%s seen again outside spam: releasing", existing[0])
                self.release(Message.get_by_id(existing[0]), actor="system", reason=f"moved to {mail.folder}", msg=msg,
                             batch=batch)
            return None
        conflict = bool(same_id)
        if conflict:
            log.warning("Message-ID reused with different content: %s", msg.msgid)

        if cls.kind == Kind.AUTO_REPLY:
            stats.auto_replies += 1
        elif cls.kind == Kind.BOUNCE:
            stats.bounces += 1
        elif cls.kind == Kind.BULK:
            stats.bulk += 1

        sha, raw_path = self.archive.append(mail.raw, msg.raw_sha256)
        row = mail_rows.new_row(msg, mail, cls, identity_key, sha, raw_path, conflict, self.clock.now())
        row.authentication = auth.as_json()

        if cls.kind == Kind.OWN:
            mail_rows.insert(row, msg, None, "ignored", self.archive)
            stats.ignored += 1
            return row

        match = find_ticket(msg, self.config.match, auth, lookup=batch)
        if is_spam:
            # The spam filter's verdict stands unless the sender is authenticated and
            # the mail continues a ticket: a From: line (a party's registered address,
            # the Provinsi's) is exactly what a phishing mail forges.
            if not (auth.passed and match.ticket_id is not None):
                mail_rows.insert(row, msg, None, "spam_held", self.archive)
                stats.spam_held += 1
                return row
            stats.spam_rescued += 1

        if cls.kind in (Kind.AUTO_REPLY, Kind.BOUNCE, Kind.BULK):
            # These never reopen nor answer anything, so a bounce of our mail joins the
            # ticket it threads to even where a person's reply would open a new one.
            tid = match.ticket_id or (None if match.forgery else match.related)
            ticket = batch.ticket(tid) if tid and cls.kind != Kind.BULK else None
            mail_rows.insert(row, msg, ticket, "ticket" if ticket else "ignored", self.archive)
            if ticket is not None:
                batch.stored_on(msg.msgid, ticket.id, row.from_addr)
                stats.messages_added += 1
                self._event(ticket, msg.sender_key or "unknown", f"message.{cls.kind.value}",
                            message=row.id, reasons=list(cls.reasons))
            else:
                stats.ignored += 1
            if cls.kind == Kind.BOUNCE:
                outbox.record_bounce(row, msg.report, msg.thread_ids, self.clock.now())
                batch.forget_ticket()  # it flags the bounced mail's ticket on its own copy
            return row

        ticket, identity = self.filing.ticket_for(a, match, batch, from_spam=is_spam, auth=auth)
        created = identity is not None
        mail_rows.insert(row, msg, ticket, "rescued" if is_spam else "ticket", self.archive)
        batch.stored_on(msg.msgid, ticket.id, row.from_addr)
        stats.messages_added += 1
        if created:
            stats.tickets_created += 1
            self._note_related(ticket, row, msg, match, auth)
        elif self.escalations.receive(ticket, row, msg, auth, match):
            batch.forget_ticket(ticket.id)  # changed on its own copy; the mail is internal now
            return row  # an escalation target's mail: internal, no reopen, no acknowledgement
        else:
            self.filing.follow_up(ticket, msg, batch, a.guess, auth=auth, reopen=not match.stranger)
        self._after_ticket_message(ticket, row, a, identity, batch, rescued=is_spam)
        return row

    def _verdict(self, mail: FetchedMail, a: Analysis) -> Verdict:
        """The analysis's verdict; computed here when it came without one."""
        if a.auth is not None:
            return a.auth
        policy = self.config.policy
        if policy is None:
            return _UNCHECKED
        # A worker's analysis drops the headers; the verdict reads them.
        msg = a.msg if a.msg.headers else parse(mail.raw, mail.internaldate)
        return policy.verdict(mail.raw, msg)

    def _note_related(self, ticket: Ticket, row: Message, msg: InboundMessage, match: Match, auth: Verdict) -> None:
        """A new ticket opened by a mail that threaded to another ticket it may not join:
        the old ticket records it (and is not reopened)."""
        if match.related is None:
            return
        self._event(match.related, msg.sender_key or "unknown", "ticket.related",
                    new_ticket=ticket.id, message=row.id, reason="possible_forgery" if match.forgery else "not on the ticket",
                    verdict=auth.verdict)

    def _after_ticket_message(self, ticket: Ticket, row: Message, a: Analysis,
                              identity: Identity | None, batch: Batch, *, rescued: bool) -> None:
        msg = a.msg
        if identity is None:
            self._event(ticket, msg.sender_key or "unknown", "message.received", message=row.id)
        if rescued:
            self._event(ticket, "system", "spam.rescued", message=row.id)
        # A new ticket opened by a party's question gets one acknowledgement, queued in this
        # transaction; not when the address was forged (it would go to its real owner).
        if identity is not None and a.cls.kind == Kind.NORMAL and not (ticket.flags or {}).get("possible_forgery"):
            self.replies.queue_ack(ticket, row, identity, batch.acks_of(ticket.requester))

    def _event(self, ticket: Ticket | None, actor: str, kind: str, **detail) -> None:
        self.filing.event(ticket, actor, kind, **detail)

    # --- quarantine and held spam -------------------------------------------------------

    def retry_quarantined(self, q: Quarantine, stats: PollStats) -> bool:
        """Process a quarantined message again; True when it went through."""
        folder = q.folder or self.config.inbox
        mail = FetchedMail(folder, q.uidvalidity or 0, q.uid or 0, self.archive.read(q.raw_path), q.internaldate)
        try:
            with db.atomic(), search.deferred():
                # Mail that came from the spam folder keeps the spam rules (held, no backscatter).
                row = self._process(mail, Batch.of_one(mail, is_spam=folder != self.config.inbox), stats)
                q.resolved_at = self.clock.now()
                q.resolved_message = row
                q.save()
                self.archive.sync()
            return True
        except Exception as exc:  # noqa: BLE001
            with db.atomic():
                q.attempts += 1
                q.error = f"{type(exc).__name__}: {exc}"[:2000]
                q.save()
            return False

    def release(self, row: Message, *, actor: str, reason: str = "", msg: InboundMessage | None = None,
                batch: Batch | None = None) -> Ticket:
        """Turn a held spam message into a ticket message (an officer's "not spam")."""
        if row.disposition != "spam_held":
            raise ValueError(f"message {row.id} is not held spam")
        msg = msg or parse(self.archive.read(row.raw_path))
        auth = Verdict.from_json(row.authentication)  # as it was when the mail arrived
        a = analysis_of(msg, self.config.own, auth)
        batch = batch or Batch(row.folder or self.config.inbox, row.uidvalidity or 0, [], [], is_spam=False)
        match = find_ticket(msg, self.config.match, auth, lookup=batch)
        with db.atomic(), search.deferred():
            ticket, identity = self.filing.ticket_for(a, match, batch, from_spam=True, auth=auth)
            row.ticket = ticket
            row.disposition = "released"
            row.save()
            batch.stored_on(row.msgid, ticket.id, row.from_addr)
            search.touched(ticket.id)
            self._event(ticket, actor, "spam.released", message=row.id, reason=reason or None)
            if identity is None:
                self.filing.follow_up(ticket, msg, batch, auth=auth, reopen=not match.stranger)
            else:
                self._note_related(ticket, row, msg, match, auth)
            self._after_ticket_message(ticket, row, a, identity, batch, rescued=False)
        return ticket

