"""Consultations that did not come by mail: in person (tatap muka), chat groups, online meetings.

They go into the same register as email tickets (the SOP's consultation report covers every
channel), with the identity the officer wrote down and documentation files (photos,
recordings, screenshots) archived byte-exact with their SHA-256. In-person visits also form
the guest book (buku tamu).

A register written up after the visit gives the visit's time (`at`, read by `parse_when`
from "2026-12-04 09:30" in the helpdesk zone or ISO 8601 with an offset): the ticket is
created, and received, then — the SOP timings run from the visit, not from the typing.

The CLI (`tickets new --evidence FILE`) and the web desk's Buku Tamu (`/guestbook`, files in
memory and the visitor's drawn signature) both call `register`, so both make the same
ticket. Every file is checked by its content (tickets/uploads.py) before anything is
stored; each stored file (documentation, and the signature as `tanda-tangan.png`) is an
Attachment of the first message with its SHA-256 and is queued for the office's cloud
folder (tickets/mirror.py) in the ticket's own transaction.

The `ticket.created` event's detail carries what the register needs: `signature`
("digital" when drawn, "kertas" for an in-person visit without one: signed on the paper
list) and `register_seconds` (the register step, form opened to submitted, when the caller
knows when its form was opened) for the SOP's 5-minute standard.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from . import mirror, search, uploads
from .archive import Archive
from .errors import UserError
from .labels import iso
from .models import Attachment, Event, Identity, Message, Party, Ticket, db
from .parties import PartyRegistry
from .phones import extract_phones
from .status import Status, ref

CHANNELS = ("email", "tatap-muka", "pesan-online", "pertemuan-online")
CHANNEL_LABELS = {"email": "Surel", "tatap-muka": "Tatap muka", "pesan-online": "Pesan daring (grup/WA)",
                  "pertemuan-online": "Pertemuan daring"}


@dataclass(frozen=True)
class WalkIn:
    channel: str
    party: str
    name: str
    subject: str
    message: str
    phone: str | None = None
    email: str | None = None
    evidence: tuple[Path, ...] = ()          # files on disk (the CLI)
    files: tuple[tuple[str, bytes], ...] = ()  # (name, bytes) already in memory (web uploads)
    signature: bytes | None = None           # the visitor's drawn signature, a PNG
    opened_at: datetime | None = None        # when the register form was opened (register step)


def parse_when(text: str, zone: ZoneInfo, now: datetime) -> datetime:
    """An officer's time: "2026-12-04 09:30" (helpdesk zone), "2026-12-04T09:30", or ISO 8601
    with an offset ("2026-12-04T09:30:00+07:00"). Not in the future."""
    raw = (text or "").strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise UserError(f"waktu tidak valid: {text!r} (contoh: 2026-12-04 09:30)") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    if value > now:
        raise UserError(f"waktu {text!r} ada di masa depan")
    return value


def register(w: WalkIn, *, registry: PartyRegistry, archive: Archive, clock, officer,
             at: datetime | None = None, zone: ZoneInfo | None = None, tag: str | None = None,
             max_upload_bytes: int | None = None) -> Ticket:
    """Register one consultation; `at` is when it happened (default now; not in the future).
    `zone` and `tag` (the helpdesk's) place its files in the cloud folder
    (`<year>/<month>/<tag #id>/…`); a caller without them gets UTC and "HD" (say them).
    `max_upload_bytes` bounds the documentation files together (the web desk's setting)."""
    if w.channel not in CHANNELS:
        raise UserError(f"kanal tidak dikenal: {w.channel} (pilih {', '.join(CHANNELS)})")
    party = registry.get(w.party) or registry.find_in_text(w.party)
    if party is None:
        raise UserError(f"partai tidak dikenal: {w.party!r} (pakai singkatan, nama, atau nomor urut)")
    if not w.name.strip():
        raise UserError("nama perwakilan wajib diisi")
    if not w.subject.strip() or not w.message.strip():
        raise UserError("subjek dan isi pertanyaan wajib diisi")
    phone = None
    if w.phone:
        found = extract_phones(w.phone)
        if not found:
            raise UserError(f"nomor telepon tidak valid: {w.phone!r} (contoh: 0812-3456-7890)")
        phone = found[0]
    email = (w.email or "").strip().lower() or None
    if email and ("@" not in email or any(c.isspace() for c in email)):
        raise UserError(f"alamat surel tidak valid: {w.email!r}")
    given = []
    for p in w.evidence:
        try:
            given.append((p.name, p.read_bytes()))
        except OSError as exc:
            raise UserError(f"tidak dapat membaca {p}: {exc.strerror}") from None
    # Every file is judged before anything is written: a refused one leaves nothing behind.
    files = uploads.check_files(given + list(w.files), max_upload_bytes)
    if w.signature is not None:
        uploads.check_signature(w.signature)
    now = clock.now()
    register_seconds = None
    if w.opened_at is not None and timedelta(0) <= now - w.opened_at <= timedelta(days=1):
        register_seconds = int((now - w.opened_at).total_seconds())
    if at is not None:
        if at.tzinfo is None:
            raise UserError("waktu konsultasi perlu zona waktu")
        if at > now:
            raise UserError("waktu konsultasi tidak boleh di masa depan")
        now = at
    party_row = Party.get_or_none(Party.number == party.number)
    with db.atomic():
        ticket = Ticket.create(status=Status.BARU.value, subject=w.subject.strip(), channel=w.channel,
                               requester=email, requester_name=w.name.strip(), party=party_row, flags={},
                               created_at=now, updated_at=now)
        Identity.create(ticket=ticket, name=w.name.strip(), name_source="petugas", party=party.name,
                        party_source="petugas", phone=phone, phone_source="petugas" if phone else None,
                        email=email, email_source="petugas" if email else None)
        row = Message.create(ticket=ticket, direction="in", disposition="ticket", kind="normal",
                             identity=f"walkin:{ticket.id}", from_addr=email, from_name=w.name.strip(),
                             subject=w.subject.strip(), text=w.message.strip(), date=now, created_at=now,
                             author=officer.name)
        search.touched(ticket.id)  # findable in the queue at once, in this transaction
        stored = [(f.name, f.content_type, f.data, "evidence", f".{f.extension}") for f in files]
        if w.signature is not None:
            stored.append((uploads.SIGNATURE_NAME, "image/png", w.signature, "signature", ".png"))
        folder = ref(ticket.id, tag or "HD")
        for filename, ctype, data, kind, suffix in stored:
            sha, path = archive.put(data, kind=kind, suffix=suffix)
            Attachment.create(message=row, filename=filename, size=len(data), sha256=sha, path=path,
                              content_type=ctype)
            mirror.enqueue(path=path, sha256=sha, size=len(data), name=filename, now=now, zone=zone or UTC,
                           ticket=ticket, ticket_ref=folder)
        archive.sync()
        detail = {"channel": w.channel, "evidence": len(files)}
        if w.signature is not None:
            detail["signature"] = "digital"
        elif w.channel == "tatap-muka":
            detail["signature"] = "kertas"  # signed on the paper list (CLI, or a browser without script)
        if register_seconds is not None:
            detail["register_seconds"] = register_seconds
        Event.create(ticket=ticket, at=now, actor=officer.name, kind="ticket.created", detail=detail)
    return ticket


def guest_book(day: date, zone: ZoneInfo, channels: tuple[str, ...] = ("tatap-muka",)) -> list[dict]:
    """Consultations of one local day on `channels` (the guest book: in person), oldest
    first: date and time, name, phone, party, and for the Daftar Hadir the channel, the
    signature attachment's id (None: signed on paper) and the register step in seconds."""
    start = datetime.combine(day, time(0), zone)
    end = start + timedelta(days=1)
    rows = list(Ticket.select(Ticket, Identity).join(Identity)
                .where(Ticket.channel.in_(list(channels)) & (Ticket.created_at >= start) & (Ticket.created_at < end))
                .order_by(Ticket.created_at, Ticket.id))
    ids = [t.id for t in rows]
    signatures = {m: a for a, m in (Attachment.select(Attachment.id, Message.ticket).join(Message)
                                    .where(Message.ticket.in_(ids) & (Attachment.filename == uploads.SIGNATURE_NAME)
                                           & (Message.direction == "in"))
                                    .order_by(Attachment.id.desc()).tuples())} if ids else {}
    timings = {}
    if ids:
        for ticket_id, detail in (Event.select(Event.ticket, Event.detail)
                                  .where(Event.ticket.in_(ids) & (Event.kind == "ticket.created")).tuples()):
            timings[ticket_id] = (detail or {}).get("register_seconds")
    out = []
    for t in rows:
        ident = t.identity_rows.get()
        out.append({"ticket": t.id, "time": iso(t.created_at, zone), "name": ident.name, "phone": ident.phone,
                    "party": ident.party, "email": ident.email, "subject": t.subject, "channel": t.channel,
                    "signature": signatures.get(t.id), "register_seconds": timings.get(t.id)})
    return out
