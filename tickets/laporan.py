"""The Laporan Hasil Konsultasi of one ticket: identity, problem, answers, escalations,
timings against the SOP standards and documentation — the archive record the SOP asks for.

Built from the stored messages, escalations and the event trail; rendered as plain text and
as printable HTML by the templates `reports/laporan.*`. The data keeps ISO 8601 times and
stable codes (the `--json` shape); each has a `*_label` twin in Bahasa Indonesia ("5 Desember
2026 00.57 WIB", "terkirim lewat surel", "disampaikan langsung") that the templates print.

Answers are the "out" messages of kind "answer": mailed (`tickets reply`) or given in person
or online (`tickets answer`, disposition "given"). A step with no realisation (never done,
ticket closed) reads "-" and "belum ada realisasi", never "Sesuai standar".

`file_pdf` files a Laporan PDF (of one ticket or of a period): the archive keeps it and the
cloud-folder queue gets it in one transaction, with a `laporan.filed` event naming who made
it. Every PDF produced is filed, as the SOP files every report; the archive is addressed by
content and the queue by name and hash, so the same bytes are stored and uploaded once.
"""
from __future__ import annotations

from datetime import datetime

from . import mirror
from .escalation import Escalation, TARGET_LABELS
from .hours import STANDARDS, STEP_LABELS, ServiceCalendar
from .labels import DELIVERY_LABELS, delivery_label, waktu
from .models import Attachment, Event, Identity, Message, MirrorItem, Ticket, db
from .labels import iso
from .status import LABELS, Status, ref
from .timing import ticket_timings
from .walkin import CHANNEL_LABELS


def consultation_report(ticket: Ticket, *, tag: str, calendar: ServiceCalendar, now: datetime) -> dict:
    zone = calendar.zone
    ident = Identity.get_or_none(Identity.ticket == ticket)
    msgs = list(Message.select().where(Message.ticket == ticket).order_by(Message.created_at, Message.id))
    questions = [m for m in msgs if m.direction == "in" and m.kind == "normal"]
    answers = [m for m in msgs if m.direction == "out" and m.kind == "answer"]
    timings = ticket_timings(ticket, calendar, now)
    docs = (Attachment.select(Attachment, Message).join(Message)
            .where(Message.ticket == ticket).order_by(Attachment.id))
    steps = [
        {"step": "receive", "label": STEP_LABELS["receive"], "standard": STANDARDS["receive"],
         "minutes": _r(timings.receive_minutes)},
        {"step": "answer", "label": STEP_LABELS["answer"], "standard": STANDARDS["answer"],
         "minutes": _r(timings.answer_minutes)},
    ]
    if timings.escalation_minutes is not None:
        steps.append({"step": "escalate", "label": STEP_LABELS["escalate"], "standard": STANDARDS["escalate"],
                      "minutes": _r(timings.escalation_minutes)})
    breached = {b.step: b for b in timings.breaches}  # running breaches are included already
    for s in steps:
        b = breached.get(s["step"])
        s["over"] = _r(b.over_minutes) if b else 0
        s["running"] = s["step"] in timings.running
        s["realised"] = s["minutes"] is not None and not s["running"]
        s["remark"] = _remark(s)
    last_answerer = next((m.author for m in reversed(answers) if m.author), None)
    void = (ticket.flags or {}).get("void")

    def when(value: datetime | None) -> str:
        return waktu(value, zone)

    return {
        "ticket": {"id": ticket.id, "ref": ref(ticket.id, tag), "subject": ticket.subject,
                   "channel": ticket.channel, "channel_label": CHANNEL_LABELS.get(ticket.channel, ticket.channel),
                   "status": ticket.status, "status_label": LABELS.get(Status(ticket.status), ticket.status),
                   "created_at": iso(ticket.created_at, zone), "created_at_label": when(ticket.created_at),
                   "assignee": ticket.assignee, "officer": ticket.assignee or last_answerer,
                   "void": void},
        "identity": {"name": ident.name if ident else None, "party": ident.party if ident else None,
                     "phone": ident.phone if ident else None, "email": ident.email if ident else ticket.requester},
        "problem": [{"at": iso(m.date or m.created_at, zone), "at_label": when(m.date or m.created_at),
                     "from": m.from_name or m.from_addr, "text": m.text}
                    for m in questions],
        "answers": [{"at": iso(m.date or m.created_at, zone), "at_label": when(m.date or m.created_at),
                     "by": m.author, "text": m.text, "delivery": m.disposition,
                     "delivery_label": _delivery(m.disposition, ticket.channel)}
                    for m in answers],
        "escalations": [{"to": e.target, "to_label": TARGET_LABELS[e.target], "by": e.by, "at": iso(e.at, zone),
                         "at_label": when(e.at), "note": e.note, "answered_at": iso(e.answered_at, zone),
                         "answered_at_label": when(e.answered_at) if e.answered_at else None,
                         "answer": e.answer.text if e.answer_id else None, "external_ref": e.external_ref}
                        for e in Escalation.select().where(Escalation.ticket == ticket).order_by(Escalation.at)],
        "timings": steps,
        "breaches": [{"step": b.step, "label": b.label, "standard": b.standard_minutes,
                      "minutes": _r(b.actual_minutes), "over": _r(b.over_minutes)}
                     for b in timings.breaches],
        "documentation": [{"filename": a.filename, "size": a.size, "sha256": a.sha256, "content_type": a.content_type}
                          for a in docs],
        "generated_at": iso(now, zone),
        "generated_at_label": when(now),
    }


def file_pdf(pdf: bytes, *, name: str, archive, now: datetime, zone, actor: str, tag: str,
             ticket: Ticket | None = None, period: dict | None = None) -> MirrorItem:
    """Archive a Laporan PDF and queue it for the cloud folder: under the ticket's folder
    for one ticket's report, under `laporan/` for a period's. The file is durable before
    the row that names it is committed (Archive.sync first)."""
    sha, path = archive.put(pdf, kind="laporan", suffix=".pdf")
    archive.sync()
    with db.atomic():
        item = mirror.enqueue(path=path, sha256=sha, size=len(pdf), name=name, now=now, zone=zone, ticket=ticket,
                              ticket_ref=ref(ticket.id, tag) if ticket is not None else None,
                              kind=None if ticket is not None else "laporan")
        Event.create(ticket=ticket, at=now, actor=actor, kind="laporan.filed",
                     detail={"file": name, "sha256": sha, "size": len(pdf), "path": path,
                             "remote_path": item.remote_path, **({"period": period} if period else {})})
    return item


_GIVEN = {"tatap-muka": "disampaikan langsung (tatap muka)", "pesan-online": "disampaikan lewat pesan daring",
          "pertemuan-online": "disampaikan dalam pertemuan daring"}


def _delivery(disposition: str | None, channel: str) -> str:
    """How an answer reached the party, as the Laporan says it."""
    if disposition == "given":
        return _GIVEN.get(channel, delivery_label("given"))
    state = disposition or ""
    if state not in DELIVERY_LABELS:  # labels for outbox states that labels.py may lack
        state = {"queued": "pending", "bounced": "failed"}.get(state, state)
    return f"surel {delivery_label(state)}"


def _remark(step: dict) -> str:
    """The Laporan's verdict on one step: over, running, not realised, or within the standard."""
    if step["over"]:
        return f"Melebihi {step['over']} menit"
    if step["running"]:
        return "berjalan"
    if step["minutes"] is None:
        return "belum ada realisasi"
    return "Sesuai standar"


def _r(value: float | None) -> float | int | None:
    """Minutes to one decimal, whole numbers without the ".0" officers would find odd."""
    if value is None:
        return None
    v = round(value, 1)
    return int(v) if v == int(v) else v
