"""Consultations that did not come by mail: in person (tatap muka), chat groups, online meetings.

They go into the same register as email tickets (the SOP's consultation report covers every
channel), with the identity the officer wrote down and documentation files (photos,
recordings, screenshots) archived byte-exact with their SHA-256. In-person visits also form
the guest book (buku tamu).

A register written up after the visit gives the visit's time (`at`, read by `parse_when`
from "2026-12-04 09:30" in the helpdesk zone or ISO 8601 with an offset): the ticket is
created, and received, then — the SOP timings run from the visit, not from the typing.
"""
from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from . import search
from .archive import Archive
from .errors import UserError
from .models import Attachment, Event, Identity, Message, Party, Ticket, db
from .parties import PartyRegistry
from .phones import extract_phones
from .labels import iso
from .status import Status

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
    evidence: tuple[Path, ...] = ()


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
             at: datetime | None = None) -> Ticket:
    """Register one consultation; `at` is when it happened (default now; not in the future)."""
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
    files = []
    for p in w.evidence:
        try:
            files.append((p.name, p.read_bytes()))
        except OSError as exc:
            raise UserError(f"tidak dapat membaca {p}: {exc.strerror}") from None
    now = clock.now()
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
        for filename, data in files:
            sha, path = archive.put(data, kind="evidence", suffix=Path(filename).suffix[:16])
            Attachment.create(message=row, filename=filename, size=len(data), sha256=sha, path=path,
                              content_type=mimetypes.guess_type(filename)[0] or "application/octet-stream")
        archive.sync()
        Event.create(ticket=ticket, at=now, actor=officer.name, kind="ticket.created",
                     detail={"channel": w.channel, "evidence": len(files)})
    return ticket


def guest_book(day: date, zone: ZoneInfo) -> list[dict]:
    """In-person consultations of one local day: date and time, name, phone, party."""
    start = datetime.combine(day, time(0), zone)
    end = start + timedelta(days=1)
    rows = (Ticket.select(Ticket, Identity).join(Identity)
            .where((Ticket.channel == "tatap-muka") & (Ticket.created_at >= start) & (Ticket.created_at < end))
            .order_by(Ticket.created_at))
    out = []
    for t in rows:
        ident = t.identity_rows.get()
        out.append({"ticket": t.id, "time": iso(t.created_at, zone), "name": ident.name, "phone": ident.phone,
                    "party": ident.party, "email": ident.email, "subject": t.subject})
    return out
