"""The daily recap (Rekapitulasi Harian, 17:05): the day's tickets by channel, status and
party, the SOP time standards met and missed, the open questions to recontact, spam held
and follow-ups sent; built as plain data, then queued as one mail to `reports.recap_to`.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import peewee as pw

from kpudesk.mailbox.render import tgl

from .errors import ConfigError
from .hours import STEP_LABELS, ServiceCalendar
from .labels import iso
from .models import Event, Message, OutboxItem, Party, ReportSlot, Ticket, db
from .report_context import STATUS_LABELS, helpdesk_context, revive, status_label
from .report_slots import date_str, mark_sent, slot_instant
from .status import Status, ref
from .timing import STEP_STANDARDS, replay_status, timings_for
from .voids import exclude_void, voided_ids

CHANNELS = ("email", "tatap-muka", "pesan-online", "pertemuan-online")
CHANNEL_LABELS = {"email": "Surel", "tatap-muka": "Tatap muka", "pesan-online": "Pesan online",
                  "pertemuan-online": "Pertemuan online"}
RECONTACT_STATUSES = (Status.BARU.value, Status.ESKALASI_ANGGOTA.value, Status.ESKALASI_PROVINSI.value)
_DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")


def _day_bounds(local_date: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(local_date, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(local_date + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def recap_data(local_date: date | str, calendar: ServiceCalendar, now: datetime, *, tag: str = "HD-MSJ") -> dict:
    """The day's helpdesk services as plain data (datetimes as ISO strings in the helpdesk zone).

    Figures describe the day up to `now` or its end, whichever is earlier (a recap of a past
    day is the same whenever it is made); statuses are those at that moment. The open
    questions to recontact are the current ones (they are for action, whatever the date).
    """
    zone = calendar.zone
    day = date.fromisoformat(date_str(local_date))
    start, end = _day_bounds(day, zone)
    as_of = min(now, end - timedelta(microseconds=1))

    void = voided_ids()  # mistakes a coordinator voided count nowhere
    created = exclude_void(Ticket.select(Ticket, Party).join(Party, pw.JOIN.LEFT_OUTER)
                           .where((Ticket.created_at >= start) & (Ticket.created_at < end)
                                  & (Ticket.created_at <= as_of))
                           .order_by(Ticket.id))
    day_events = [e for e in Event.select().where((Event.at >= start) & (Event.at <= as_of) & Event.kind.in_([
        "ticket.created", "ticket.answered", "ticket.escalated", "ticket.status", "ticket.reopened",
        "escalation.answered"])).order_by(Event.at, Event.id) if e.ticket_id not in void]

    def tickets_with(pred) -> set[int]:
        return {e.ticket_id for e in day_events if e.ticket_id is not None and pred(e)}

    escalated_to: dict[str, set[int]] = defaultdict(set)
    for e in day_events:
        if e.kind == "ticket.escalated" and e.ticket_id is not None:
            escalated_to[(e.detail or {}).get("to") or "anggota"].add(e.ticket_id)
    totals = {
        "new": len(created),
        "answered": len(tickets_with(lambda e: e.kind == "ticket.answered")),
        "answers": sum(1 for e in day_events if e.kind == "ticket.answered"),
        "escalated": len(tickets_with(lambda e: e.kind == "ticket.escalated")),
        "escalated_anggota": len(escalated_to.get("anggota", ())),
        "escalated_provinsi": len(escalated_to.get("provinsi", ())),
        "escalation_answers": sum(1 for e in day_events if e.kind == "escalation.answered"),
        "closed": len(tickets_with(lambda e: e.kind == "ticket.status"
                                   and (e.detail or {}).get("to") == Status.SELESAI.value)),
        "reopened": len(tickets_with(lambda e: e.kind == "ticket.reopened")),
    }

    timings = timings_for(created, calendar, as_of)
    statuses = _statuses_at(created, as_of)
    by_channel = Counter(t.channel for t in created)
    by_status = Counter(statuses[t.id] for t in created)
    by_party: Counter = Counter()
    party_rows: dict[int | None, Party | None] = {}
    for t in created:
        key = t.party.number if t.party_id is not None else None
        by_party[key] += 1
        party_rows[key] = t.party if t.party_id is not None else None

    ticket_rows, breaches = [], []
    for t in created:
        tm = timings[t.id]
        running = set(tm.running)
        row_breaches = []
        for b in tm.breaches:
            entry = {"step": b.step, "label": b.label, "standard_minutes": b.standard_minutes,
                     "actual_minutes": _round(b.actual_minutes), "over_minutes": _round(b.over_minutes),
                     "running": any(b is r for r in tm.running_breaches)}
            row_breaches.append(entry)
            breaches.append({"id": t.id, "ref": ref(t.id, tag), "party": t.party.short if t.party_id else None}
                            | entry)
        ticket_rows.append({
            "id": t.id, "ref": ref(t.id, tag), "party": t.party.short if t.party_id else None,
            "channel": t.channel, "status": statuses[t.id], "subject": t.subject,
            "created_at": iso(t.created_at, zone),
            "receive_minutes": _round(tm.receive_minutes), "receive_running": "receive" in running,
            "answer_minutes": _round(tm.answer_minutes), "answer_running": "answer" in running,
            "escalation_minutes": _round(tm.escalation_minutes), "escalation_running": "escalate" in running,
            "overdue": tm.overdue, "breaches": row_breaches,
        })

    def average(values: list[float]) -> float | None:
        return _round(sum(values) / len(values)) if values else None

    done = {
        "receive": [timings[t.id].receive_minutes for t in created if timings[t.id].received_at is not None],
        "answer": [timings[t.id].answer_minutes for t in created if timings[t.id].answered_at is not None],
        "escalate": [x.minutes for t in created for x in timings[t.id].escalations if x.ended_at is not None],
    }
    timing = {
        "standards": [{"step": s, "label": STEP_LABELS[s], "minutes": m} for s, m in STEP_STANDARDS.items()],
        "averages": {s: average(v) for s, v in done.items()},
        "measured": {s: len(v) for s, v in done.items()},
        "within": {s: sum(1 for x in v if x <= STEP_STANDARDS[s]) for s, v in done.items()},
        "tickets": ticket_rows,
    }

    spam_q = Message.select().where((Message.created_at >= start) & (Message.created_at <= as_of))
    still_held = spam_q.where(Message.disposition == "spam_held").count()
    released = spam_q.where(Message.disposition == "released").count()
    dismissed = spam_q.where(Message.disposition == "spam_dismissed").count()  # looked at and confirmed spam
    followups = [f for f in OutboxItem.select(OutboxItem.id, OutboxItem.ticket, OutboxItem.status, OutboxItem.sent_at)
                 .where((OutboxItem.kind == "followup") & (OutboxItem.created_at >= start)
                        & (OutboxItem.created_at <= as_of)).order_by(OutboxItem.id) if f.ticket_id not in void]

    return {
        "date": day.isoformat(),
        "day_label": f"{_DAYS[day.weekday()]}, {tgl(day)}",
        "generated_at": iso(now, zone),
        "measured_at": iso(as_of, zone),
        "totals": totals,
        "by_channel": [{"channel": c, "label": CHANNEL_LABELS.get(c, c), "count": by_channel.get(c, 0)}
                       for c in list(CHANNELS) + sorted(set(by_channel) - set(CHANNELS))],
        "by_status": [{"status": s.value, "label": STATUS_LABELS[s], "count": by_status.get(s.value, 0)}
                      for s in Status],
        "by_party": [{"number": n, "short": party_rows[n].short if n is not None else "Tidak diketahui",
                      "count": by_party[n]}
                     for n in sorted(by_party, key=lambda n: (n is None, n or 0))],
        "timing": timing,
        "breaches": breaches,
        "open_questions": open_questions(calendar, now, tag=tag),
        "spam": {"held": still_held + released + dismissed, "still_held": still_held, "released": released,
                 "dismissed": dismissed},
        "followups": {"queued": len(followups), "sent": sum(1 for f in followups if f.status == "sent"),
                      "tickets": [ref(f.ticket_id, tag) for f in followups if f.ticket_id is not None]},
    }


def _statuses_at(tickets: list[Ticket], as_of: datetime) -> dict[int, str]:
    """Each ticket's status at `as_of`: its current one unless it changed later (then replayed)."""
    out = {t.id: t.status for t in tickets}
    ids = [t.id for t in tickets]
    kinds = ["ticket.status", "ticket.reopened"]
    later: set[int] = set()
    for i in range(0, len(ids), 500):
        later |= {e.ticket_id for e in Event.select(Event.ticket).where(
            Event.ticket.in_(ids[i:i + 500]) & (Event.at > as_of) & Event.kind.in_(kinds))}
    for tid in later:
        out[tid] = replay_status(list(Event.select().where(
            (Event.ticket == tid) & (Event.at <= as_of) & Event.kind.in_(kinds)).order_by(Event.at, Event.id)))
    return out


def open_questions(calendar: ServiceCalendar, now: datetime, *, tag: str = "HD-MSJ") -> list[dict]:
    """Tickets to recontact: waiting in `baru` or on an escalation, oldest wait first."""
    zone = calendar.zone
    tickets = exclude_void(Ticket.select(Ticket, Party).join(Party, pw.JOIN.LEFT_OUTER)
                           .where(Ticket.status.in_(RECONTACT_STATUSES) & (Ticket.created_at <= now))
                           .order_by(Ticket.id))
    if not tickets:
        return []
    since: dict[int, datetime] = {}
    ids = [t.id for t in tickets]
    status_of = {t.id: t.status for t in tickets}
    for i in range(0, len(ids), 500):
        for e in (Event.select(Event.ticket, Event.at, Event.kind, Event.detail)
                  .where(Event.ticket.in_(ids[i:i + 500]) & (Event.at <= now)
                         & Event.kind.in_(["ticket.status", "ticket.reopened", "ticket.escalated"]))
                  .order_by(Event.at, Event.id)):
            d = e.detail or {}
            st = status_of[e.ticket_id]
            if (e.kind == "ticket.status" and d.get("to") == st) or (e.kind == "ticket.reopened" and st == "baru"):
                since[e.ticket_id] = e.at
    timings = timings_for(tickets, calendar, now)
    rows = [{
        "id": t.id, "ref": ref(t.id, tag), "status": t.status, "status_label": status_label(t.status),
        "party": t.party.short if t.party_id else None, "requester": t.requester,
        "requester_name": t.requester_name, "channel": t.channel, "subject": t.subject,
        "since_at": iso(since.get(t.id, t.created_at), zone), "created_at": iso(t.created_at, zone),
        "overdue": timings[t.id].overdue,
    } for t in tickets]
    rows.sort(key=lambda r: (r["since_at"], r["id"]))
    return rows


def recap_subject(tag: str, local_date: date | str, *, late: bool) -> str:
    d = date.fromisoformat(date_str(local_date))
    return (f"[{tag}] Rekapitulasi Harian Layanan Helpdesk – {_DAYS[d.weekday()]}, {tgl(d)}"
            + (" (terlambat)" if late else ""))


def recap_context(data: dict, *, helpdesk: dict, slot_at: datetime, late: bool, scheduled: bool) -> dict:
    return {"helpdesk": helpdesk, "recap": revive(data), "slot": {"at": slot_at, "late": late, "scheduled": scheduled}}


def send_recap(*, replies, clock, zone: ZoneInfo, calendar: ServiceCalendar, recipients: Sequence[str],
               local_date: date | str | None = None, slot: ReportSlot | None = None,
               late: bool = False) -> OutboxItem:
    """Build the recap of `local_date` (the slot's date, else today) and queue it (HTML + text)."""
    if not recipients:
        raise ConfigError("reports.recap_to", "rekapitulasi harian belum punya penerima; "
                                             "isi reports.recap_to di settings.toml")
    now = clock.now()
    late = late or bool(slot and slot.late)
    if local_date is None:
        local_date = slot.slot_date if slot is not None else now.astimezone(zone).date()
    slot_at = slot_instant(slot.slot_date, slot.slot_time, zone) if slot is not None else now
    tag = replies.me.tag
    with db.atomic():
        data = recap_data(local_date, calendar, now, tag=tag)
        ctx = recap_context(data, helpdesk=helpdesk_context(replies), slot_at=slot_at, late=late, scheduled=slot is not None)
        item = replies.queue(ticket=None, kind="report", to=list(recipients),
                             subject=recap_subject(tag, local_date, late=late), template="reports/recap",
                             context=ctx, auto="auto-generated", html=True)
        mark_sent(slot, report_at=now, item=item, detail={"date": data["date"], "totals": data["totals"]})
    return item
