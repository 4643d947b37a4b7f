"""Mail the helpdesk writes about a ticket: acknowledgements, officers' answers, follow-ups.

Each function queues its mail in the outbox inside the caller's transaction, together with
an "out" message on the ticket (so the conversation shows it at once and replies to it
thread back by Message-ID). Every mail is rendered when it is queued, acknowledgements
too: `tickets show` shows the words before `send`, and `send` delivers exactly them (the
MIME serialisation alone waits for the first delivery, `outbox.materialize`). An
acknowledgement whose template cannot be rendered is queued as failed, with the error:
the party's mail is stored all the same.
"""
from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import peewee as pw
from jinja2 import TemplateError

from kpudesk.mailbox.compose import OutgoingMail, compose, reply_subject, to_record
from kpudesk.mailbox.message import Address
from kpudesk.mailbox.render import Renderer

from . import msgid as ourid
from . import outbox, search
from .errors import UserError
from .hours import ServiceCalendar
from .models import Attachment, Event, Identity, Message, OutboxItem, Ticket
from .status import LABELS, Status, ref

log = logging.getLogger(__name__)

ROLE_LABELS = {
    "anggota-helpdesk": "Anggota Tim Helpdesk",
    "koordinator-harian": "Koordinator Harian Helpdesk",
    "koordinator": "Koordinator Helpdesk",
    "sekretaris": "Sekretaris",
    "ketua": "Ketua KPU Kabupaten",
    "anggota-kpu": "Anggota KPU Kabupaten",
}


# What one answer may carry: enough for scans of forms and letters, small enough for
# the parties' mailboxes (many refuse more than 10-25 MB after base64's third).
MAX_ATTACH_BYTES = 10 * 1024 * 1024

# Leading bytes of the types officers attach, and the type recorded for each.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "application/x-ole-storage"),  # .doc/.xls
    (b"Rar!\x1a\x07", "application/vnd.rar"),
)
_ZIP_KINDS = {".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
              ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
              ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
              ".odt": "application/vnd.oasis.opendocument.text",
              ".ods": "application/vnd.oasis.opendocument.spreadsheet"}
_OLE_KINDS = {".doc": "application/msword", ".xls": "application/vnd.ms-excel"}


def sniff_type(data: bytes, filename: str = "") -> str:
    """The content type from the file's first bytes (the name only tells zip and OLE
    containers apart); text that is valid UTF-8 is text/plain; else application/octet-stream."""
    suffix = ("." + filename.rsplit(".", 1)[-1].lower()) if "." in filename else ""
    head = bytes(data[:16])
    if head.startswith(b"PK\x03\x04"):
        return _ZIP_KINDS.get(suffix, "application/zip")
    if head.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, ctype in _MAGIC:
        if head.startswith(magic):
            return _OLE_KINDS.get(suffix, ctype) if ctype == "application/x-ole-storage" else ctype
    sample = bytes(data[:4096])
    if sample and b"\0" not in sample:
        try:
            sample.decode("utf-8")
        except UnicodeDecodeError as exc:
            if exc.start < len(sample) - 4:  # not just a character cut at the sample's end
                return "application/octet-stream"
        return "text/csv" if suffix == ".csv" else "text/plain"
    return "application/octet-stream"


def prepare_attachments(files: list[tuple[str, bytes]]) -> tuple[tuple[str, str, bytes], ...]:
    """(filename, content type, data) for each file an officer attaches; UserError when
    a file is empty or all together exceed MAX_ATTACH_BYTES."""
    total = sum(len(data) for _name, data in files)
    if total > MAX_ATTACH_BYTES:
        raise UserError(f"lampiran terlalu besar: {total / 1048576:.1f} MB bersama-sama "
                        f"(batas {MAX_ATTACH_BYTES // 1048576} MB per jawaban)")
    for name, data in files:
        if not data:
            raise UserError(f"lampiran {name!r} kosong")
    return tuple((name, sniff_type(data, name), data) for name, data in files)


@dataclass(frozen=True)
class MailIdentity:
    """Who we are on the wire."""

    name: str
    address: str
    tag: str
    msgid_domain: str
    secret: bytes
    loop_header: str
    ack_per_hour: int = 3
    ack_per_day: int = 10


class Replies:
    def __init__(self, me: MailIdentity, renderer: Renderer, calendar: ServiceCalendar, clock) -> None:
        self.me = me
        self.renderer = renderer
        self.calendar = calendar
        self.clock = clock

    # --- contexts ---------------------------------------------------------------------

    @functools.cached_property
    def _helpdesk(self) -> dict:
        # The same for every mail this process sends: built once (the labels are formatted).
        return {"name": self.me.name, "address": self.me.address, "tag": self.me.tag,
                "service_hours": self.calendar.hours_label(), "days": self.calendar.days_label()}

    def base_context(self, ticket: Ticket) -> dict:
        return {
            "helpdesk": dict(self._helpdesk),
            "ticket": {"id": ticket.id, "ref": ref(ticket.id, self.me.tag), "subject": ticket.subject,
                       "created_at": ticket.created_at, "status_label": LABELS.get(Status(ticket.status), ticket.status)},
            "requester": {"name": ticket.requester_name, "email": ticket.requester},
        }

    # --- the thread ---------------------------------------------------------------------

    def _thread_headers(self, ticket: Ticket) -> tuple[str | None, tuple[str, ...]]:
        """In-Reply-To = the party's last message; References = the whole chain, party's first included."""
        ids = [m.msgid for m in Message.select(Message.msgid, Message.direction)
               .where((Message.ticket == ticket) & Message.msgid.is_null(False) & Message.direction.in_(["in", "out"]))
               .order_by(Message.created_at, Message.id)]
        last_in = (Message.select(Message.msgid)
                   .where((Message.ticket == ticket) & (Message.direction == "in") & Message.msgid.is_null(False)
                          & (Message.kind == "normal"))
                   .order_by(Message.created_at.desc(), Message.id.desc()).first())
        in_reply_to = last_in.msgid if last_in else (ids[-1] if ids else None)
        return in_reply_to, tuple(ids)

    def answer_subject(self, ticket: Ticket) -> str:
        return reply_subject(ref(ticket.id, self.me.tag), ticket.subject)

    def thread_kwargs(self, ticket: Ticket) -> dict:
        in_reply_to, refs = self._thread_headers(ticket)
        return {"in_reply_to": in_reply_to, "references": refs}

    def queue(self, *, ticket: Ticket | None, kind: str, to: list[str], subject: str, template: str, context: dict,
              in_reply_to: str | None = None, references: tuple[str, ...] = (), auto: str | None = None,
              author: str | None = None, direction: str = "out", html: bool = False,
              attachments: tuple = (), cc: list[str] = (), fail_alone: bool = False) -> outbox.OutboxItem:
        """Render, compose and queue one mail; record it as an out message on the ticket.
        `fail_alone`: a template that cannot be rendered queues the mail without words,
        failed at once (its ticket shows the failed delivery), instead of raising."""
        now = self.clock.now()
        html = html and self.renderer.exists(f"{template}.html.j2")
        error = None
        try:
            text = self.renderer.render(f"{template}.txt.j2", context)
            html_body = self.renderer.render(f"{template}.html.j2", context) if html else None
        except (TemplateError, ValueError, TypeError, KeyError) as exc:
            if not fail_alone:
                raise
            text, html_body, error = "", None, f"{type(exc).__name__}: {exc}"
        bare = ourid.make_msgid(ticket.id if ticket else None, self.me.secret, self.me.msgid_domain)
        mail = OutgoingMail(
            from_addr=Address(self.me.name, self.me.address), to=tuple(Address("", a) for a in to),
            cc=tuple(Address("", a) for a in cc), reply_to=Address(self.me.name, self.me.address),
            subject=subject, text=text, html=html_body, message_id=bare, date=now,
            in_reply_to=in_reply_to, references=references, auto_submitted=auto,
            suppress_autoresponse=auto is not None,
            extra_headers=((self.me.loop_header, self.me.msgid_domain),), attachments=attachments,
        )
        row = None
        if ticket is not None:
            row = Message.create(
                ticket=ticket, direction=direction, disposition="queued", kind=kind, identity=f"out:{bare}",
                msgid=bare, message_id=f"<{bare}>", from_addr=self.me.address.lower(), from_name=self.me.name,
                to=list(to), cc=list(cc), subject=subject, date=now, text=text, in_reply_to=[in_reply_to] if in_reply_to else [],
                references=list(references), author=author, created_at=now,
            )
            if search.is_indexed(direction, kind):
                search.touched(ticket.id)
        # Composed now when it carries files; otherwise at first delivery, from the record
        # of its rendered parts (MIME serialisation is the costly part, and ingest is hot).
        item = outbox.enqueue(kind=kind, sender=self.me.address, recipients=list(to) + list(cc), message_id=bare,
                              data=compose(mail) if attachments else b"",
                              mail=None if attachments else to_record(mail), now=now, ticket=ticket, message=row)
        if error is not None:
            outbox.mark_permanent(item.id, now, f"tidak dapat disusun: {error}")
        return item

    # --- acknowledgements ---------------------------------------------------------------

    def ack_allowed(self, address: str, sent: list[datetime] | None = None) -> bool:
        """Per-sender caps: stop loops with anything the classifier missed. `sent`: when the
        address was sent acknowledgements in the last day, when the caller read them ahead
        (an ingest batch: tickets/batch.py); otherwise they are counted here."""
        now = self.clock.now()
        day_start, hour_start = now - timedelta(days=1), now - timedelta(hours=1)
        if sent is not None:
            day = sum(1 for at in sent if at >= day_start)
            hour = sum(1 for at in sent if at >= hour_start)
        else:
            recent = (OutboxItem.kind == "ack") & (OutboxItem.rcpt_key == address.lower())
            day, hour = (OutboxItem.select(pw.fn.COUNT(OutboxItem.id),
                                           pw.fn.COUNT(pw.Case(None, [(OutboxItem.created_at >= hour_start, 1)])))
                         .where(recent & (OutboxItem.created_at >= day_start)).scalar(as_tuple=True))
        return hour < self.me.ack_per_hour and day < self.me.ack_per_day

    def queue_ack(self, ticket: Ticket, first: Message, identity: Identity | None = None,
                  sent: list[datetime] | None = None) -> outbox.OutboxItem | None:
        """Queue the acknowledgement of a new ticket, within the per-sender caps; `sent` (see
        `ack_allowed`) gains the time of the one queued."""
        if not ticket.requester:
            return None
        if not self.ack_allowed(ticket.requester, sent):
            log.info("ack cap reached for ticket=%s; no acknowledgement", ticket.id)
            Event.create(ticket=ticket, at=self.clock.now(), actor="system", kind="ack.suppressed",
                         detail={"reason": "batas balasan otomatis per pengirim tercapai"})
            return None
        ident = identity or Identity.get_or_none(Identity.ticket == ticket)
        missing = []
        if not (ident and ident.name):
            missing.append("nama perwakilan")
        if not (ident and ident.party):
            missing.append("nama partai politik")
        if not (ident and ident.phone):
            missing.append("nomor telepon/WhatsApp")
        received = first.created_at
        ctx = self.base_context(ticket) | {
            "identity_missing": missing,
            "outside_hours": not self.calendar.is_open(received),
            "next_open": self.calendar.next_open(received),
        }
        # Rendered here, in the ingest transaction: a template broken since `check` fails
        # this one acknowledgement (shown on the ticket), never the party's mail.
        item = self.queue(ticket=ticket, kind="ack", to=[ticket.requester],
                          subject=reply_subject(ref(ticket.id, self.me.tag), first.subject or ticket.subject),
                          template="party/ack", context=ctx, in_reply_to=first.msgid,
                          references=tuple(first.references or []) + ((first.msgid,) if first.msgid else ()),
                          auto="auto-replied", html=True, fail_alone=True)
        Event.create(ticket=ticket, at=self.clock.now(), actor="system", kind="ack.queued",
                     detail={"outbox": item.id, "identity_missing": missing})
        if sent is not None:
            sent.append(item.created_at)
        return item

    def render_record(self, record: dict) -> dict:
        """A record queued by a version before acknowledgements were rendered when queued
        (it holds a template and a frozen context, "render"), rendered now; any other
        record as it is. Only rows already waiting in an upgraded outbox need it."""
        todo = record.get("render")
        if todo is None:
            return record
        context = thaw(todo["context"])
        out = {k: v for k, v in record.items() if k != "render"}
        out["text"] = self.renderer.render(f"{todo['template']}.txt.j2", context)
        out["html"] = self.renderer.render(f"{todo['template']}.html.j2", context) if todo["html"] else None
        return out

    # --- officers' answers --------------------------------------------------------------

    def queue_answer(self, ticket: Ticket, *, officer, body: str, faq=None, attachments=None,
                     archive=None) -> outbox.OutboxItem:
        if not ticket.requester:
            raise UserError(f"tiket #{ticket.id} tidak punya alamat surel pemohon; jawaban tidak dapat dikirim "
                            "lewat surel (catat jawaban yang disampaikan langsung dengan `tickets answer`)")
        ctx = self.base_context(ticket) | {
            "body": body.strip("\n"),
            "officer": {"name": officer.name, "role_label": ROLE_LABELS.get(officer.role, officer.role)},
            "faq": {"id": faq.id, "question": faq.question} if faq else None,
        }
        attachments = attachments or ()
        item = self.queue(ticket=ticket, kind="answer", to=[ticket.requester], subject=self.answer_subject(ticket),
                          template="party/answer", context=ctx, author=officer.name, html=True,
                          attachments=tuple(attachments), **self.thread_kwargs(ticket))
        if attachments:
            for filename, ctype, data in attachments:
                sha, path = archive.put(bytes(data), kind="att", suffix="")
                Attachment.create(message=item.message, filename=filename, content_type=ctype, size=len(data),
                                  sha256=sha, path=path)
            archive.sync()
        return item

    def queue_followup(self, ticket: Ticket, *, waiting_on: str, since: datetime) -> outbox.OutboxItem:
        ctx = self.base_context(ticket) | {"waiting_on": waiting_on, "since": since}
        return self.queue(ticket=ticket, kind="followup", to=[ticket.requester], subject=self.answer_subject(ticket),
                          template="party/followup", context=ctx, auto="auto-generated",
                          **self.thread_kwargs(ticket))


def set_status(ticket: Ticket, status: Status, *, actor: str, now: datetime, also: tuple = (), **detail) -> None:
    """Move a ticket (read inside the caller's transaction) to `status`, with its event.
    Writes only the status, `updated_at` and the `also` columns the caller changed: columns
    the daemon changed meanwhile are left alone. Nothing changed, nothing written."""
    old = ticket.status
    if old == status.value and not also:
        return
    ticket.status = status.value
    ticket.updated_at = now
    ticket.save(only=[Ticket.status, Ticket.updated_at, *also])
    if old != status.value:
        Event.create(ticket=ticket, at=now, actor=actor, kind="ticket.status",
                     detail={"from": old, "to": status.value} | {k: v for k, v in detail.items() if v is not None})


def thaw(value):
    if isinstance(value, dict):
        if set(value) == {"$datetime"}:
            return datetime.fromisoformat(value["$datetime"])
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, list):
        return [thaw(v) for v in value]
    return value
