"""The rows one incoming mail becomes: its Message row (built, then inserted with its final
place) and its attachments, or — when it cannot be stored — a quarantine row."""
from __future__ import annotations

from datetime import datetime

from kpudesk.mailbox.message import FetchedMail, InboundMessage
from kpudesk.mailbox.parse import parse

from . import search
from .archive import Archive
from .classify import Classification
from .models import Attachment, Message, Quarantine, Ticket

PACKED_ATTACHMENT_MAX = 1024 * 1024  # bytes: larger attachments get a file of their own


def new_row(msg: InboundMessage, mail: FetchedMail, cls: Classification, identity_key: str,
            sha: str, raw_path: str, conflict: bool, now: datetime) -> Message:
    """The unsaved Message row of an incoming mail (its place is decided later)."""
    return Message(
        direction="in", disposition="pending", kind=cls.kind.value, identity=identity_key,
        msgid=msg.msgid, message_id=msg.message_id, msgid_conflict=conflict,
        fingerprint=msg.fingerprint, raw_sha256=sha, raw_path=raw_path, size=msg.size,
        folder=mail.folder, uidvalidity=mail.uidvalidity, uid=mail.uid,
        from_addr=msg.sender_key, from_name=(msg.from_addr.name if msg.from_addr else None) or None,
        to=[a.email for a in msg.to], cc=[a.email for a in msg.cc], subject=msg.subject,
        date=msg.date, text=msg.text, in_reply_to=list(msg.in_reply_to),
        references=list(msg.references), reasons=list(cls.reasons), defects=list(msg.defects),
        created_at=now,
    )


def insert(row: Message, msg: InboundMessage, ticket: Ticket | None, disposition: str, archive: Archive) -> None:
    """Insert the message row with its final place, then its attachments (they need its id)."""
    row.ticket = ticket
    row.disposition = disposition
    row.save(force_insert=True)
    if ticket is not None:
        search.touched(ticket.id)
    for att in msg.attachments:
        # A small file joins its mail in the batch's pack (one file and one fsync per batch
        # instead of a file, a folder and two fsyncs each); a large one is written at once
        # to a file of its own, so a batch never holds its decoded bytes until the commit.
        # The parser computed the digest already.
        if att.size <= PACKED_ATTACHMENT_MAX:
            sha, path = archive.append(att.payload, att.sha256)
        else:
            sha, path = archive.put(att.payload, kind="att", suffix="", sha256=att.sha256)
        Attachment.create(message=row, filename=att.filename, content_type=att.content_type,
                          size=att.size, sha256=sha, path=path)


def quarantine(mail: FetchedMail, exc: Exception, archive: Archive, now: datetime) -> None:
    """Keep a mail that failed with its raw bytes and the error; a copy already waiting
    (the same bytes, unresolved) counts one more attempt instead."""
    sha, path = archive.put(mail.raw)
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
                      raw_sha256=sha, raw_path=path, internaldate=mail.internaldate, error=error, created_at=now)
