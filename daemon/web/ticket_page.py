"""What the ticket page shows, gathered as plain data for `templates/web/ticket.html`.

The same reads as `kpudesk tickets show` (tickets/queries.py `detail`, the FAQ Sipol
suggestions for the first question, tickets/timing.py), with Indonesian labels, each
message's text split into own words and folded quotes, and — for a mail that had only
HTML — its sanitised HTML for a sandboxed frame (mailview.py).
"""
from __future__ import annotations

from kpudesk.tickets import canned, mirror, queries
from kpudesk.tickets.history import party_history
from kpudesk.tickets.errors import UserError
from kpudesk.tickets.desk_queries import standards_text
from kpudesk.tickets.escalation import TARGET_LABELS
from kpudesk.tickets.labels import KIND_LABELS, channel_label, delivery_label, event_label, waktu_iso
from kpudesk.tickets.models import Message, Ticket
from kpudesk.tickets.status import LABELS, Status
from kpudesk.tickets.timing import ticket_timings

from ..commands.faqdesk import faq_entry
from .mailview import html_only_body, split_quoted

# The merge events name the other ticket on the page (tickets/labels.py has the plain
# phrase, for the CLI and the reports, which show the detail beside it).
DESK_EVENT_LABELS = {"ticket.merged": "digabung ke {tag} #{into}", "ticket.merged_in": "{tag} #{from} digabung ke sini"}
DIRECTION_LABELS = {"in": "Masuk", "out": "Keluar", "note": "Catatan internal", "internal": "Internal"}
FAQ_SHOWN = 3


def size_text(n: int) -> str:
    """A file size as officers read it: "820 bita", "12,5 KB", "3,4 MB" (decimal comma; a reply carries at most 10 MB)."""
    if n < 1024:
        return f"{n} bita"
    value, unit = n / 1024, "KB"
    if value >= 1024:
        value, unit = value / 1024, "MB"
    return f"{value:.1f} {unit}".replace(".", ",")


def _message(app, m: dict, row: Message | None, zone) -> dict:
    shown = dict(m)
    shown["when"] = waktu_iso(m["date"], zone)
    shown["direction_label"] = DIRECTION_LABELS.get(m["direction"], m["direction"])
    shown["kind_label"] = KIND_LABELS.get(m["kind"], "") if m["kind"] not in ("normal", None) else ""
    shown["delivery_label"] = delivery_label(m["delivery"]) if m.get("delivery") else ""
    shown["standard_text"] = m["kind"] in ("ack", "followup", "notice")  # our own template text
    shown["segments"] = split_quoted(m["text"])
    shown["html"] = None
    if row is not None and row.raw_path and m["direction"] in ("in", "internal"):
        try:
            shown["html"] = html_only_body(app.archive.read(row.raw_path))
        except OSError:
            shown["html"] = None  # the archive copy is unreadable: the stored text is shown
    return shown


def _faq(app, subject: str, question: str, chosen: str | None) -> tuple[list[dict], bool, dict | None, str | None]:
    hits = app.faq.for_ticket(subject, question, limit=FAQ_SHOWN)
    suggestions = [{"id": h.entry.id, "question": h.entry.question, "answer": h.entry.answer,
                    "score": round(h.score, 2)} for h in hits]
    covered = bool(hits) and hits[0].score >= app.faq_threshold
    picked, problem = None, None
    if chosen:
        try:
            e = faq_entry(app, chosen.strip())
            picked = {"id": e.id, "answer": e.answer}
        except UserError as exc:
            problem = str(exc)
    return suggestions, covered, picked, problem


def _event_label(e: dict, tag: str) -> str:
    if e["kind"] in DESK_EVENT_LABELS:
        try:
            return DESK_EVENT_LABELS[e["kind"]].format(tag=tag, **e["detail"])
        except (KeyError, IndexError):
            pass
    return event_label(e["kind"])


def _canned(chosen: str | None) -> tuple[list[dict], dict | None, str | None]:
    """The office's saved replies, the one `?canned=<id>` picked (no-JS insert), a problem."""
    answers = [{"id": c.id, "title": c.title, "body": c.body} for c in canned.all_answers()]
    if not chosen:
        return answers, None, None
    try:
        c = canned.get(chosen)
    except UserError as exc:
        return answers, None, str(exc)
    return answers, {"id": c.id, "body": c.body}, None


def ticket_context(app, t: Ticket, *, faq_id: str | None = None, canned_id: str | None = None) -> dict:
    s = app.settings
    zone = s.zone
    d = queries.detail(t, tag=s.helpdesk.tag, zone=zone)
    rows = {m.id: m for m in Message.select().where(Message.ticket == t)}
    messages = [_message(app, m, rows.get(m["id"]), zone) for m in d["messages"]]
    question = next((m["text"] for m in d["messages"] if m["direction"] == "in"), "")
    suggestions, covered, picked, faq_problem = _faq(app, t.subject, question, faq_id)
    saved, canned_picked, canned_problem = _canned(canned_id)
    tm = ticket_timings(t, app.calendar, app.clock.now())
    escalations = [dict(e, target_label=TARGET_LABELS.get(e["to"], e["to"]), when=waktu_iso(e["at"], zone),
                        answered=waktu_iso(e["answered_at"], zone) if e["answered_at"] else None)
                   for e in d["escalations"]]
    events = [dict(e, label=_event_label(e, s.helpdesk.tag), when=waktu_iso(e["at"], zone)) for e in d["events"]]
    return {
        "d": d, "messages": messages, "events": events, "escalations": escalations,
        "status_label": LABELS.get(Status(t.status), t.status), "channel_label": channel_label(t.channel),
        "created": waktu_iso(d["created_at"], zone), "updated": waktu_iso(d["updated_at"], zone),
        "faq_suggestions": suggestions, "faq_covered": covered, "faq_picked": picked, "faq_problem": faq_problem,
        "timings": tm, "standard_text": standards_text(), "ukuran": size_text,
        "attachments": [a for m in d["messages"] for a in m["attachments"]],
        "history": party_history(t, tag=s.helpdesk.tag), "tag": s.helpdesk.tag,
        "canned": saved, "canned_picked": canned_picked, "canned_problem": canned_problem,
        # the reply form's `seen`: the newest message on the page (collision check, desk.reply)
        "seen": max((m["id"] for m in d["messages"]), default=0),
        "mirror_files": mirror.of_ticket(t.id),  # its files in the cloud folder: pending / stored / failed, why
    }
