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
"""
from __future__ import annotations

import logging
import traceback

import peewee as pw
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from kpudesk.mailbox.message import FetchedMail, InboundMessage
from kpudesk.mailbox.parse import parse

from .analysis import Analysis, analysis_of, analyze, guess_identity, message_identity, ticket_subject
from .archive import Archive, ArchiveWriteError
from .classify import Kind, OwnIdentity
from .identity import IdentityGuess
from .matching import Match, MatchContext, find_ticket
from .models import Attachment, Event, FolderState, Identity, Message, Party, Quarantine, Ticket, db, executemany, rows
from .parties import PartyRegistry
from .sender_auth import NONE, SenderPolicy, Verdict
from .status import REOPEN_FROM, Status

log = logging.getLogger(__name__)

# Upsert: what we learn fills gaps, never overwrites what an officer or the registry set.
_CONTACT_UPSERT = ('INSERT INTO "contact" ("email", "name", "phone", "party_id", "source") VALUES (?, ?, ?, ?, ?) '
                   'ON CONFLICT ("email") DO UPDATE SET "name" = COALESCE("contact"."name", excluded."name"), '
                   '"phone" = COALESCE("contact"."phone", excluded."phone")')


@dataclass
class FolderStats:
    uidvalidity: int = 0
    last_uid: int = 0
    fetched: int = 0


@dataclass
class PollStats:
    """The counters of `poll --json` (design.md): fetched = added + ignored + duplicates +
    spam_held + quarantined; the rest are sub-counts."""

    fetched: int = 0
    tickets_created: int = 0
    messages_added: int = 0
    ignored: int = 0
    duplicates: int = 0
    auto_replies: int = 0
    bounces: int = 0
    bulk: int = 0
    spam_held: int = 0
    spam_rescued: int = 0
    quarantined: int = 0
    folders: dict[str, FolderStats] = field(default_factory=dict)

    def counters(self) -> dict[str, int]:
        return {k: v for k, v in vars(self).items() if isinstance(v, int)}

    def restore(self, counters: dict[str, int]) -> None:
        for k, v in counters.items():
            setattr(self, k, v)

    def as_dict(self) -> dict:
        d = asdict(self)
        d["folders"] = {k: asdict(v) for k, v in self.folders.items()}
        return d


@dataclass(frozen=True)
class IngestConfig:
    own: OwnIdentity
    match: MatchContext
    inbox: str = "INBOX"  # the poller reads the inbox and the spam folder, nothing else
    policy: SenderPolicy | None = None  # sender authentication (None: every verdict "none")


_UNCHECKED = Verdict(NONE, "sender authentication not configured")


# Called inside the transaction for a message that opened a new ticket, or a follow-up;
# the reply module uses it to queue acknowledgements atomically with the ticket.
# `identity` is the record made for a new ticket (None for a follow-up).
TicketHook = Callable[[Ticket, Message, Analysis, Identity | None], None]
# An escalation target's mail on an existing ticket: True when it was taken as internal.
InternalHook = Callable[[Ticket, Message, InboundMessage, Verdict, Match], bool]


class Ingestor:
    def __init__(
        self,
        *,
        archive: Archive,
        registry: PartyRegistry,
        clock,
        config: IngestConfig,
        on_ticket_message: TicketHook | None = None,
        on_bounce: Callable[[Message, InboundMessage], None] | None = None,
        on_internal: InternalHook | None = None,
        ticket_flags: Callable[[Analysis], dict] | None = None,
    ) -> None:
        self.archive = archive
        self.registry = registry
        self.clock = clock
        self.config = config
        self.on_ticket_message = on_ticket_message
        self.on_bounce = on_bounce
        self.on_internal = on_internal
        self.ticket_flags = ticket_flags  # a new ticket's first flags (the FAQ check), set at insert
        self._party_ids: dict[int, int] = {}
        self._contacts: list[tuple] | None = None  # upserts collected in a batch (see ingest_batch)
        self._known: dict[str, list[tuple]] | None = None  # stored rows by Message-ID (see _same_id)

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
        try:
            top = self._store(folder, uidvalidity, mails, analyses, is_spam=is_spam, stats=stats, high_uid=high_uid)
        finally:
            # Batch-scoped state never outlives its batch, whatever ends it (an interrupt too).
            self._contacts = None
            self._known = None
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

    def _store(self, folder: str, uidvalidity: int, mails: list[FetchedMail], analyses: list[Analysis | None], *,
               is_spam: bool, stats: PollStats, high_uid: int | None) -> int:
        """The batch's transaction; returns the folder's new mark."""
        before = stats.counters()
        try:
            # The usual case first: the whole batch as one plain transaction, events
            # written together at its end. A savepoint per message costs two statements
            # each, and is only needed when a message fails...
            with db.atomic():
                self._contacts = []
                self._known = self._stored_ids(analyses)
                with Event.deferred():
                    for mail, analysis in zip(mails, analyses, strict=True):
                        self._process(mail, is_spam=is_spam, stats=stats, analysis=analysis)
                contacts, self._contacts = self._contacts, None
                if contacts:
                    executemany(_CONTACT_UPSERT, contacts)
                return self._advance(folder, uidvalidity, mails, high_uid)
        except ArchiveWriteError:
            raise  # the disk refused the batch's bytes: storing it message by message would too
        except Exception as exc:  # noqa: BLE001
            # ... so then the batch, rolled back whole, is stored again message by message,
            # each in its own savepoint, and what fails again is quarantined.
            log.info("folder=%s batch of %d: %s: %s; storing it message by message",
                     folder, len(mails), type(exc).__name__, exc)
            stats.restore(before)
            self._contacts = None
            self._known = None
            self._party_ids.clear()  # may hold ids the rollback undid
            with db.atomic():
                for mail, analysis in zip(mails, analyses, strict=True):
                    self._one(mail, analysis, is_spam=is_spam, stats=stats)
                return self._advance(folder, uidvalidity, mails, high_uid)

    def _advance(self, folder: str, uidvalidity: int, mails: list[FetchedMail], high_uid: int | None) -> int:
        """Move the folder's mark past the batch (in the batch's transaction)."""
        top = max([m.uid for m in mails] + [high_uid or 0])
        now = self.clock.now()
        state = FolderState.get_or_none(FolderState.name == folder)
        if state is None:
            FolderState.create(name=folder, uidvalidity=uidvalidity, last_uid=top, updated_at=now)
        else:
            state.uidvalidity = uidvalidity
            state.last_uid = max(top, state.last_uid if state.uidvalidity == uidvalidity else 0)
            state.updated_at = now
            state.save()
        # Durable raw bytes before the rows that point at them.
        self.archive.sync()
        return top

    def _one(self, mail: FetchedMail, analysis: Analysis | None, *, is_spam: bool, stats: PollStats) -> None:
        before = stats.counters()
        try:
            with db.atomic():  # a savepoint: a failure undoes only this message
                self._process(mail, is_spam=is_spam, stats=stats, analysis=analysis)
        except Exception as exc:  # noqa: BLE001 - one bad message must never block the queue
            stats.restore(before)  # the savepoint undid the message; undo its counts too
            if isinstance(exc, pw.IntegrityError) and self._stored_meanwhile(mail, analysis):
                # Another poller (sharing a PostgreSQL database from another host) stored it
                # between our dedupe check and our insert: a duplicate, not a failure.
                stats.duplicates += 1
                return
            log.warning("quarantined folder=%s uid=%s: %s", mail.folder, mail.uid, exc)
            log.debug("quarantine traceback:\n%s", traceback.format_exc())
            self._quarantine(mail, exc)
            stats.quarantined += 1

    @staticmethod
    def _stored_ids(analyses: list[Analysis | None]) -> dict[str, list[tuple]] | None:
        """The stored rows sharing a Message-ID with the batch's analysed messages, read
        with one query per 500 ids instead of one per message."""
        ids = list(dict.fromkeys(a.msg.msgid for a in analyses if a is not None and a.msg.msgid is not None))
        if not ids:
            return None
        known: dict[str, list[tuple]] = {i: [] for i in ids}
        for k in range(0, len(ids), 500):
            chunk = ids[k:k + 500]
            for msgid, *row in rows('SELECT "msgid", "id", "identity", "disposition" FROM "message" '
                                    f'WHERE "msgid" IN ({", ".join("?" * len(chunk))})', *chunk):
                known[msgid].append(tuple(row))
        return known

    def _same_id(self, msg: InboundMessage, identity_key: str) -> list[tuple]:
        """(id, identity, disposition) of the stored messages with `msg`'s Message-ID (or,
        without one, its identity). One indexed lookup answers both "seen before?" and
        "Message-ID reused?"."""
        if msg.msgid is None:
            return rows('SELECT "id", "identity", "disposition" FROM "message" WHERE "identity" = ?', identity_key)
        if self._known is not None:
            # Read at the start of the batch, and taken out as it is used: the message in
            # hand is stored or released next, so a later copy in the batch looks up
            # afresh. A copy another host commits meanwhile (a shared PostgreSQL) trips
            # the UNIQUE identity: the batch is then stored message by message, which
            # counts it as a duplicate.
            found = self._known.pop(msg.msgid, None)
            if found is not None:
                return found
        return rows('SELECT "id", "identity", "disposition" FROM "message" WHERE "msgid" = ?', msg.msgid)

    @staticmethod
    def _stored_meanwhile(mail: FetchedMail, analysis: Analysis | None) -> bool:
        key = analysis.identity_key if analysis is not None else message_identity(parse(mail.raw, mail.internaldate))
        return Message.get_or_none(Message.identity == key) is not None

    # --- one message ------------------------------------------------------------------

    def _process(self, mail: FetchedMail, *, is_spam: bool, stats: PollStats,
                 analysis: Analysis | None = None) -> Message | None:
        a = analysis or analyze(mail.raw, mail.internaldate, self.config.own, self.config.policy)
        msg, identity_key, cls = a.msg, a.identity_key, a.cls
        auth = self._verdict(mail, a)
        same_id = self._same_id(msg, identity_key)
        existing = next((r for r in same_id if r[1] == identity_key), None)
        if existing is not None:
            stats.duplicates += 1
            if existing[2] == "spam_held" and not is_spam:
                # Someone moved it out of Spam: that is a "not spam" verdict. Release it.
                log.info("held spam message=%s seen again outside spam: releasing", existing[0])
                self.release(Message.get_by_id(existing[0]), actor="system", reason=f"moved to {mail.folder}", msg=msg)
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
        row = self._new_row(msg, mail, cls, identity_key, sha, raw_path, conflict)
        row.authentication = auth.as_json()

        if cls.kind == Kind.OWN:
            self._finish(row, msg, None, "ignored")
            stats.ignored += 1
            return row

        match = find_ticket(msg, self.config.match, auth)
        if is_spam:
            # The spam filter's verdict stands unless the sender is authenticated and
            # the mail continues a ticket: a From: line (a party's registered address,
            # the Provinsi's) is exactly what a phishing mail forges.
            if not (auth.passed and match.ticket_id is not None):
                self._finish(row, msg, None, "spam_held")
                stats.spam_held += 1
                return row
            stats.spam_rescued += 1

        if cls.kind in (Kind.AUTO_REPLY, Kind.BOUNCE, Kind.BULK):
            # These never reopen nor answer anything, so a bounce of our mail joins the
            # ticket it threads to even where a person's reply would open a new one.
            tid = match.ticket_id or (None if match.forgery else match.related)
            ticket = Ticket.by_id(tid) if tid and cls.kind != Kind.BULK else None
            self._finish(row, msg, ticket, "ticket" if ticket else "ignored")
            if ticket is not None:
                stats.messages_added += 1
                self._event(ticket, msg.sender_key or "unknown", f"message.{cls.kind.value}",
                            message=row.id, reasons=list(cls.reasons))
            else:
                stats.ignored += 1
            if cls.kind == Kind.BOUNCE and self.on_bounce is not None:
                self.on_bounce(row, msg)
            return row

        ticket, identity = self._ticket_for(a, match, from_spam=is_spam, auth=auth)
        created = identity is not None
        self._finish(row, msg, ticket, "rescued" if is_spam else "ticket")
        stats.messages_added += 1
        if created:
            stats.tickets_created += 1
            self._note_related(ticket, row, msg, match, auth)
        elif self.on_internal is not None and self.on_internal(ticket, row, msg, auth, match):
            return row  # an escalation target's mail: internal, no reopen, no acknowledgement
        else:
            self._follow_up(ticket, msg, a.guess, auth=auth, reopen=not match.stranger)
        self._after_ticket_message(ticket, row, a, identity, rescued=is_spam)
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
        self._event(Ticket.by_id(match.related), msg.sender_key or "unknown", "ticket.related",
                    new_ticket=ticket.id, message=row.id, reason="possible_forgery" if match.forgery else "not on the ticket",
                    verdict=auth.verdict)

    def _new_row(self, msg: InboundMessage, mail: FetchedMail, cls, identity_key: str,
                 sha: str, raw_path: str, conflict: bool) -> Message:
        row = Message.build(dict(
            direction="in", disposition="pending", kind=cls.kind.value, identity=identity_key,
            msgid=msg.msgid, message_id=msg.message_id, msgid_conflict=conflict,
            fingerprint=msg.fingerprint, raw_sha256=sha, raw_path=raw_path, size=msg.size,
            folder=mail.folder, uidvalidity=mail.uidvalidity, uid=mail.uid,
            from_addr=msg.sender_key, from_name=(msg.from_addr.name if msg.from_addr else None) or None,
            to=[a.email for a in msg.to], cc=[a.email for a in msg.cc], subject=msg.subject,
            date=msg.date, text=msg.text, in_reply_to=list(msg.in_reply_to),
            references=list(msg.references), reasons=list(cls.reasons), defects=list(msg.defects),
            created_at=self.clock.now(),
        ))
        return row

    def _finish(self, row: Message, msg: InboundMessage, ticket: Ticket | None, disposition: str) -> None:
        """Insert the message row with its final place, then its attachments (they need its id)."""
        row.ticket = ticket
        row.disposition = disposition
        row.insert_now()
        for att in msg.attachments:
            sha, path = self.archive.put(att.payload, kind="att", suffix="")
            Attachment.create(message=row, filename=att.filename, content_type=att.content_type,
                              size=att.size, sha256=sha, path=path)

    def _ticket_for(self, a: Analysis, match: Match, *, from_spam: bool,
                    auth: Verdict) -> tuple[Ticket, Identity | None]:
        """The matched ticket, or a new one with its identity record (None: not new)."""
        now = self.clock.now()
        if match.ticket_id is not None:
            ticket = Ticket.by_id(match.ticket_id)
            if ticket is None:
                raise pw.DoesNotExist(f"ticket {match.ticket_id} matched but not found")
            return ticket, None
        msg = a.msg
        guess = a.guess or guess_identity(msg, self.registry, auth)
        party_id = self._party_id(guess.party) if guess.party else None
        flags = self.ticket_flags(a) if self.ticket_flags else {}
        if match.related is not None:
            flags["related_ticket"] = match.related
        if match.forgery:
            flags["possible_forgery"] = True
            flags["forgery_reason"] = (f"pengirim mengaku {msg.sender_key}, tetapi autentikasi gagal: "
                                       f"{auth.reason}")
        ticket = Ticket.create(
            status=Status.BARU.value, subject=ticket_subject(msg), channel="email",
            requester=msg.sender_key, requester_name=guess.name, party=party_id, from_spam=from_spam,
            claimed_tag=str(match.claimed_tag) if match.claimed_tag is not None else None,
            flags=flags, created_at=now, updated_at=now,
        )
        identity = Identity.create(
            ticket=ticket, name=guess.name, name_source=guess.name_source,
            party=guess.party.name if guess.party else None, party_source=guess.party_source,
            phone=guess.phone, phone_source=guess.phone_source,
            email=guess.email, email_source=guess.email_source,
        )
        self._event(ticket, msg.sender_key or "unknown", "ticket.created", channel="email",
                    match=match.rule, claimed_tag=match.claimed_tag, from_spam=from_spam,
                    related_ticket=match.related, possible_forgery=match.forgery or None)
        self._remember_contact(guess, party_id)
        return ticket, identity

    def _follow_up(self, ticket: Ticket, msg: InboundMessage, guess: IdentityGuess | None = None, *,
                   auth: Verdict, reopen: bool = True) -> None:
        """A party's follow-up: reopen an answered or closed ticket, complete the identity.
        `reopen` False: a stranger joined by our Message-ID (see matching), reopening nothing."""
        if reopen and ticket.status in REOPEN_FROM:
            old = ticket.status
            ticket.status = Status.BARU.value
            self._event(ticket, msg.sender_key or "unknown", "ticket.reopened",
                        reason="balasan dari partai", previous=old)
        ticket.updated_at = self.clock.now()
        ticket.save_now()
        self._fill_identity(ticket, msg, guess, auth)

    def _fill_identity(self, ticket: Ticket, msg: InboundMessage, guess: IdentityGuess | None, auth: Verdict) -> None:
        """A follow-up may supply what the first mail lacked (we ask for it in the ack)."""
        ident = Identity.first_where('"ticket_id" = ?', ticket.id)
        if ident is None or (ident.name and ident.party and ident.phone):
            return
        if msg.sender_key and ticket.requester and msg.sender_key != ticket.requester:
            return  # only the requester completes their own record
        guess = guess or guess_identity(msg, self.registry, auth)
        changed = {}
        for f in ("name", "party", "phone"):
            if not getattr(ident, f):
                value = getattr(guess, f)
                if f == "party" and value is not None:
                    if ticket.party_id is None:
                        ticket.party = self._party_id(value)
                        ticket.save()
                    value = value.name
                if value:
                    setattr(ident, f, value)
                    setattr(ident, f + "_source", getattr(guess, f + "_source"))
                    changed[f] = value
        if changed:
            ident.save()
            if changed.get("name") and not ticket.requester_name:
                ticket.requester_name = changed["name"]
                ticket.save()
            self._event(ticket, msg.sender_key or "unknown", "identity.updated", fields=sorted(changed))

    def _after_ticket_message(self, ticket: Ticket, row: Message, a: Analysis,
                              identity: Identity | None, *, rescued: bool) -> None:
        msg = a.msg
        if identity is None:
            self._event(ticket, msg.sender_key or "unknown", "message.received", message=row.id)
        if rescued:
            self._event(ticket, "system", "spam.rescued", message=row.id)
        if self.on_ticket_message is not None:
            self.on_ticket_message(ticket, row, a, identity)

    def _remember_contact(self, guess, party_id: int | None) -> None:
        if not guess.email:
            return
        values = (guess.email.lower(), guess.name, guess.phone, party_id, "mail")
        if self._contacts is not None:
            self._contacts.append(values)  # nothing in ingest reads contacts back
        else:
            rows(_CONTACT_UPSERT, *values)

    def _party_id(self, party) -> int:
        pid = self._party_ids.get(party.number)
        if pid is None:
            row, _ = Party.get_or_create(number=party.number, defaults={"name": party.name, "short": party.short})
            pid = self._party_ids[party.number] = row.id
        return pid

    def _event(self, ticket: Ticket | None, actor: str, kind: str, **detail) -> None:
        Event.create(ticket=ticket, at=self.clock.now(), actor=actor, kind=kind,
                     detail={k: v for k, v in detail.items() if v is not None})

    # --- quarantine and held spam -------------------------------------------------------

    def _quarantine(self, mail: FetchedMail, exc: Exception) -> None:
        sha, path = self.archive.put(mail.raw)
        error = f"{type(exc).__name__}: {exc}"[:2000]
        q = Quarantine.get_or_none((Quarantine.raw_sha256 == sha) & Quarantine.resolved_at.is_null())
        if q is not None:
            q.attempts += 1
            q.error = error
            q.folder, q.uidvalidity, q.uid = mail.folder, mail.uidvalidity, mail.uid
            q.save()
            return
        message_id = None
        try:
            message_id = parse(mail.raw, mail.internaldate).message_id
        except Exception:  # noqa: BLE001 - best effort, for the listing only
            pass
        Quarantine.create(folder=mail.folder, uidvalidity=mail.uidvalidity, uid=mail.uid, message_id=message_id,
                          raw_sha256=sha, raw_path=path, internaldate=mail.internaldate, error=error,
                          created_at=self.clock.now())

    def retry_quarantined(self, q: Quarantine, stats: PollStats) -> bool:
        """Process a quarantined message again; True when it went through."""
        folder = q.folder or self.config.inbox
        mail = FetchedMail(folder, q.uidvalidity or 0, q.uid or 0, self.archive.read(q.raw_path), q.internaldate)
        try:
            with db.atomic():
                # Mail that came from the spam folder keeps the spam rules (held, no backscatter).
                row = self._process(mail, is_spam=folder != self.config.inbox, stats=stats)
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

    def release(self, row: Message, *, actor: str, reason: str = "", msg: InboundMessage | None = None) -> Ticket:
        """Turn a held spam message into a ticket message (an officer's "not spam")."""
        if row.disposition != "spam_held":
            raise ValueError(f"message {row.id} is not held spam")
        msg = msg or parse(self.archive.read(row.raw_path))
        auth = Verdict.from_json(row.authentication)  # as it was when the mail arrived
        a = analysis_of(msg, self.config.own, auth)
        match = find_ticket(msg, self.config.match, auth)
        with db.atomic():
            ticket, identity = self._ticket_for(a, match, from_spam=True, auth=auth)
            row.ticket = ticket
            row.disposition = "released"
            row.save()
            self._event(ticket, actor, "spam.released", message=row.id, reason=reason or None)
            if identity is None:
                self._follow_up(ticket, msg, auth=auth, reopen=not match.stranger)
            else:
                self._note_related(ticket, row, msg, match, auth)
            self._after_ticket_message(ticket, row, a, identity, rescued=False)
        return ticket

