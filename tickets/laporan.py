"""The Laporan Hasil Konsultasi of one ticket: identity, problem, answers, escalations,
timings against the SOP standards and documentation — the archive record the SOP asks for.

Built from the stored messages, escalations and the event trail; rendered as plain text and
as printable HTML by the templates `reports/laporan.*`.
"""
from __future__ import annotations

from datetime import datetime

from .escalation import Escalation, TARGET_LABELS
from .hours import STANDARDS, STEP_LABELS, ServiceCalendar
from .models import Attachment, Identity, Message, Ticket
from .queries import iso, ref
from .status import LABELS, Status
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
    return {
        "ticket": {"id": ticket.id, "ref": ref(ticket.id, tag), "subject": ticket.subject,
                   "channel": ticket.channel, "channel_label": CHANNEL_LABELS.get(ticket.channel, ticket.channel),
                   "status": ticket.status, "status_label": LABELS.get(Status(ticket.status), ticket.status),
                   "created_at": iso(ticket.created_at, zone), "assignee": ticket.assignee},
        "identity": {"name": ident.name if ident else None, "party": ident.party if ident else None,
                     "phone": ident.phone if ident else None, "email": ident.email if ident else ticket.requester},
        "problem": [{"at": iso(m.date or m.created_at, zone), "from": m.from_name or m.from_addr, "text": m.text}
                    for m in questions],
        "answers": [{"at": iso(m.created_at, zone), "by": m.author, "text": m.text, "delivery": m.disposition}
                    for m in answers],
        "escalations": [{"to": e.target, "to_label": TARGET_LABELS[e.target], "by": e.by, "at": iso(e.at, zone),
                         "note": e.note, "answered_at": iso(e.answered_at, zone),
                         "answer": e.answer.text if e.answer_id else None, "external_ref": e.external_ref}
                        for e in Escalation.select().where(Escalation.ticket == ticket).order_by(Escalation.at)],
        "timings": steps,
        "breaches": [{"step": b.step, "label": b.label, "standard": b.standard_minutes,
                      "minutes": _r(b.actual_minutes), "over": _r(b.over_minutes)}
                     for b in timings.breaches],
        "documentation": [{"filename": a.filename, "size": a.size, "sha256": a.sha256, "content_type": a.content_type}
                          for a in docs],
        "generated_at": iso(now, zone),
    }


def _r(value: float | None) -> float | int | None:
    """Minutes to one decimal, whole numbers without the ".0" officers would find odd."""
    if value is None:
        return None
    v = round(value, 1)
    return int(v) if v == int(v) else v
