"""Scheduled reports to the commission: Sipol progress (08:00 and 17:00) and the daily recap.

Exactly once per slot. A slot is (kind, local date, "HH:MM"); sending one starts with an
INSERT into `report_slot`, whose UNIQUE(kind, slot_date, slot_time) lets only one daemon win
(a loser gets IntegrityError → `claim_slot` returns None). `run_slot` claims, builds, queues
the mail in the outbox and marks the slot sent in ONE transaction: a crash before the commit
leaves the slot unclaimed (it is caught up at the next start), a crash after leaves a queued
mail the outbox delivers. The schedule itself (the `schedule` library) remembers nothing.

Catch-up rule (daemon start): `missed_slots` lists the slots of today and yesterday whose time
has passed, that were never claimed and that are newer than the newest claimed slot of that
kind; the daemon sends only the most recent of them (`latest_missed_slot`), marked
"terlambat" when more than `LATE_AFTER` past its time. Older missed slots are superseded:
a progress report always shows the current figures, so three identical late reports would
only bury the one that matters; a missed recap is the exception worth having (yesterday's
17:05 recap after a night-long outage) and is exactly what "most recent" picks. Once that
one is claimed, the older ones are no longer "missed" (they precede a claimed slot), so a
second restart does not send them either. A new installation (no slot of that kind ever
recorded) sends nothing late: it records its most recent past slot as "skipped" — the
baseline — and starts with the next one (a slot due within LATE_AFTER is sent on time).

A manual `kpudesk report ... --send` claims no slot (it is an extra report) and does not move
the "previous report" baseline: deltas and "no new snapshot" always compare with the last
*scheduled* progress report.

Everything here takes its dependencies explicitly (replies, clock, zone, calendar, archive,
recipients): `tickets/` never imports `daemon/`.
"""
from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import peewee as pw

from kpudesk.mailbox.render import tanggal, tgl

from .errors import ConfigError
from .hours import STEP_LABELS, ServiceCalendar
from .models import Event, Evidence, Message, OutboxItem, Party, ProgressImport, ReportSlot, Ticket, db
from .progress import evidence_since, latest_snapshots, previous_snapshot
from .labels import iso
from .status import LABELS as STATUS_LABELS
from .status import Status, ref
from .timing import STEP_STANDARDS, _replay_status, timings_for
from .voids import exclude_void, voided_ids

log = logging.getLogger(__name__)

KINDS = ("progress", "recap", "followup")
LATE_AFTER = timedelta(minutes=15)  # a catch-up more than this past its slot is "terlambat"
MAX_ATTACHMENT_BYTES = 15 * 1024 * 1024  # evidence beyond this is listed, not attached

CHANNELS = ("email", "tatap-muka", "pesan-online", "pertemuan-online")
CHANNEL_LABELS = {"email": "Surel", "tatap-muka": "Tatap muka", "pesan-online": "Pesan online",
                  "pertemuan-online": "Pertemuan online"}
RECONTACT_STATUSES = (Status.BARU.value, Status.ESKALASI_ANGGOTA.value, Status.ESKALASI_PROVINSI.value)
_DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")




# --- slots ------------------------------------------------------------------------------------


def _date_str(local_date: date | str) -> str:
    return (local_date if isinstance(local_date, date) else date.fromisoformat(str(local_date))).isoformat()


def _hhmm(value: str) -> str:
    h, _, m = value.strip().replace(".", ":").partition(":")
    return f"{int(h):02d}:{int(m):02d}"


def slot_instant(local_date: date | str, hhmm: str, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local slot time."""
    d = date.fromisoformat(_date_str(local_date))
    h, m = (int(x) for x in _hhmm(hhmm).split(":"))
    return datetime.combine(d, time(h, m), tzinfo=zone).astimezone(UTC)


def claim_slot(kind: str, local_date: date | str, hhmm: str, *, now: datetime, late: bool) -> ReportSlot | None:
    """Claim a slot by inserting it; None when someone else already has it.

    Call inside the transaction that sends the report (see `run_slot`): the INSERT runs in a
    savepoint, so a lost race does not spoil the caller's transaction (PostgreSQL).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown report kind {kind!r}")
    try:
        with db.atomic():
            return ReportSlot.create(kind=kind, slot_date=_date_str(local_date), slot_time=_hhmm(hhmm),
                                     status="claimed", late=late, claimed_at=now)
    except pw.IntegrityError:
        return None


def missed_slots(kind: str, times: Iterable[str], now: datetime, zone: ZoneInfo,
                 lookback_days: int = 1) -> list[tuple[str, str]]:
    """Slots (local date, HH:MM) of the last `lookback_days` days and today that are past,
    were never claimed, and are newer than the newest claimed slot of `kind`; oldest first."""
    today = now.astimezone(zone).date()
    times = sorted({_hhmm(t) for t in times})
    days = [(today - timedelta(days=n)).isoformat() for n in range(lookback_days, -1, -1)]
    candidates = [(d, t) for d in days for t in times if slot_instant(d, t, zone) <= now]
    if not candidates:
        return []
    claimed = {(s.slot_date, s.slot_time) for s in
               ReportSlot.select(ReportSlot.slot_date, ReportSlot.slot_time)
               .where((ReportSlot.kind == kind) & ReportSlot.slot_date.in_(days))}
    newest = (ReportSlot.select(ReportSlot.slot_date, ReportSlot.slot_time).where(ReportSlot.kind == kind)
              .order_by(ReportSlot.slot_date.desc(), ReportSlot.slot_time.desc()).first())
    floor = (newest.slot_date, newest.slot_time) if newest else ("", "")
    return [c for c in candidates if c not in claimed and c > floor]


def latest_missed_slot(kind: str, times: Iterable[str], now: datetime, zone: ZoneInfo,
                       lookback_days: int = 1) -> tuple[str, str, bool] | None:
    """The one missed slot to send at start, as (local date, HH:MM, late), or None.

    A kind that has never had a slot here (a new installation) sends nothing late: its most
    recent past slot is recorded as "skipped" (the baseline for later catch-ups) unless it
    is due right now (within LATE_AFTER), which is sent on time.
    """
    missed = missed_slots(kind, times, now, zone, lookback_days)
    if not missed:
        return None
    d, t = missed[-1]
    late = is_late(d, t, now, zone)
    if late and not ReportSlot.select().where(ReportSlot.kind == kind).exists():
        skip_slot(kind, d, t, now=now)
        log.info("report %s: first start; slot %s %s recorded as skipped, nothing sent late", kind, d, t)
        return None
    return d, t, late


def skip_slot(kind: str, local_date: date | str, hhmm: str, *, now: datetime) -> bool:
    """Record a slot as deliberately not sent (status "skipped"); False if it was already claimed."""
    try:
        with db.atomic():
            ReportSlot.create(kind=kind, slot_date=_date_str(local_date), slot_time=_hhmm(hhmm), status="skipped",
                              late=True, claimed_at=now)
        return True
    except pw.IntegrityError:
        return False


def is_late(local_date: date | str, hhmm: str, now: datetime, zone: ZoneInfo) -> bool:
    return now - slot_instant(local_date, hhmm, zone) > LATE_AFTER


def run_slot(kind: str, local_date: date | str, hhmm: str, *, now: datetime, late: bool,
             send: Callable[[ReportSlot], OutboxItem]) -> OutboxItem | None:
    """Claim the slot and send its report in one transaction; None when already claimed.

    `send` gets the claimed slot, e.g. `lambda slot: send_progress_report(..., slot=slot)`.
    """
    with db.atomic():
        slot = claim_slot(kind, local_date, hhmm, now=now, late=late)
        if slot is None:
            log.info("report slot %s %s %s already claimed", kind, local_date, hhmm)
            return None
        item = send(slot)
    log.info("report slot %s %s %s sent as outbox item %s%s", kind, slot.slot_date, slot.slot_time, item.id,
             " (late)" if late else "")
    return item


def last_report_at(kind: str, before: datetime) -> datetime | None:
    """When the last scheduled report of `kind` before `before` was made (its figures' instant)."""
    row = (ReportSlot.select(ReportSlot.report_at)
           .where((ReportSlot.kind == kind) & (ReportSlot.status == "sent") & (ReportSlot.report_at < before))
           .order_by(ReportSlot.report_at.desc()).first())
    return row.report_at if row else None


def _mark_sent(slot: ReportSlot | None, *, report_at: datetime, item: OutboxItem, detail: dict) -> None:
    if slot is None:
        return
    slot.status = "sent"
    slot.report_at = report_at
    slot.outbox_item = item
    slot.detail = detail
    slot.save()


# --- the progress report ----------------------------------------------------------------------


def progress_report_data(now: datetime, zone: ZoneInfo, since: datetime | None = None, *,
                         tag: str = "HD-MSJ") -> dict:
    """The Sipol progress report as plain data (datetimes as ISO strings in `zone`).

    `since` is when the previous report was made (`last_report_at("progress", now)`); None
    means there was none. Per party (ballot order; parties with at least one snapshot): the
    current figures (latest reading known at `now`), deltas against the snapshot the previous
    report showed (or, with no previous report, the party's previous snapshot), and `fresh`:
    whether the figures are newer than what the previous report showed.
    """
    current = latest_snapshots(before=now)
    baseline = latest_snapshots(before=since) if since is not None else {}
    parties = {p.id: p for p in Party.select().where(Party.id.in_(list(current)))} if current else {}
    rows = []
    for pid, snap in sorted(current.items(), key=lambda kv: parties[kv[0]].number):
        p = parties[pid]
        base = baseline.get(pid)
        fresh = base is None or base.id != snap.id
        compare = base if since is not None else previous_snapshot(pid, snap.taken_at, known_at=now)
        delta = ({"officials": snap.officials - compare.officials, "members": snap.members - compare.members,
                  "offices": snap.offices - compare.offices} if compare is not None
                 else {"officials": None, "members": None, "offices": None})
        rows.append({
            "number": p.number, "short": p.short, "name": p.name,
            "officials": snap.officials, "members": snap.members, "offices": snap.offices,
            "delta": delta, "taken_at": iso(snap.taken_at, zone), "imported_at": iso(snap.imported_at, zone),
            "previous_taken_at": iso(compare.taken_at, zone) if compare is not None else None,
            "fresh": fresh, "snapshot_id": snap.id,
        })
    if since is not None:
        evidence = evidence_since(since, now)
        imports = list(ProgressImport.select().where((ProgressImport.imported_at > since)
                                                     & (ProgressImport.imported_at <= now))
                       .order_by(ProgressImport.imported_at))
    else:  # no previous report: the evidence behind the figures shown
        import_ids = sorted({s.import_id for s in current.values()})
        evidence = list(Evidence.select(Evidence, ProgressImport).join(ProgressImport)
                        .where(Evidence.import_.in_(import_ids)).order_by(ProgressImport.imported_at, Evidence.id))
        imports = list(ProgressImport.select().where(ProgressImport.id.in_(import_ids))
                       .order_by(ProgressImport.imported_at))
    open_q = exclude_void(Ticket.select(Ticket.id, Ticket.status, Ticket.subject, Ticket.created_at, Ticket.party,
                                        Ticket.flags)
                          .where((Ticket.status != Status.SELESAI.value) & Ticket.party.in_(list(parties)))
                          .order_by(Ticket.id)) if parties else []
    return {
        "generated_at": iso(now, zone),
        "since": iso(since, zone),
        "no_new_snapshot": not any(r["fresh"] for r in rows),
        "parties": rows,
        "totals": {k: sum(r[k] for r in rows) for k in ("officials", "members", "offices")},
        "imports": [{"id": i.id, "filename": i.filename, "sha256": i.sha256, "rows": i.rows, "actor": i.actor,
                     "imported_at": iso(i.imported_at, zone)} for i in imports],
        "evidence": [{"id": e.id, "import": e.import_id, "filename": e.filename, "content_type": e.content_type,
                      "sha256": e.sha256, "size": e.size, "path": e.path,
                      "imported_at": iso(e.import_.imported_at, zone)} for e in evidence],
        "open_questions": [{"id": t.id, "ref": ref(t.id, tag), "party": parties[t.party_id].short,
                            "status": t.status, "status_label": _status_label(t.status), "subject": t.subject,
                            "created_at": iso(t.created_at, zone)} for t in open_q],
    }


def _status_label(status: str) -> str:
    try:
        return STATUS_LABELS[Status(status)]
    except ValueError:
        return status


def helpdesk_context(replies) -> dict:
    me, cal = replies.me, replies.calendar
    return {"name": me.name, "address": me.address, "tag": me.tag,
            "service_hours": cal.hours_label(), "days": cal.days_label()}


def revive(data: Any) -> Any:
    """The report data for templates: ISO strings under `*_at` / `since` keys become datetimes."""
    if isinstance(data, dict):
        return {k: (datetime.fromisoformat(v) if isinstance(v, str) and (k.endswith("_at") or k == "since")
                    else revive(v)) for k, v in data.items()}
    if isinstance(data, list):
        return [revive(v) for v in data]
    return data


def progress_subject(tag: str, at: datetime, zone: ZoneInfo, *, late: bool) -> str:
    return f"[{tag}] Laporan Progres Sipol – {tanggal(at, zone)}" + (" (terlambat)" if late else "")


def progress_context(data: dict, *, helpdesk: dict, slot_at: datetime, late: bool, scheduled: bool) -> dict:
    """The template context; each evidence entry says whether the mail carries it."""
    report = revive(data)
    attached = {e["sha256"] for e in plan_attachments(report["evidence"])}
    for e in report["evidence"]:
        e["attached"] = e["sha256"] in attached
    return {"helpdesk": helpdesk, "report": report, "slot": {"at": slot_at, "late": late, "scheduled": scheduled}}


def plan_attachments(evidence: list[dict]) -> list[dict]:
    """The evidence to attach: each file once, up to MAX_ATTACHMENT_BYTES in all, oldest first."""
    chosen, seen, total = [], set(), 0
    for e in evidence:
        if e["sha256"] in seen or total + e["size"] > MAX_ATTACHMENT_BYTES:
            continue
        seen.add(e["sha256"])
        chosen.append(e)
        total += e["size"]
    return chosen


def _attachments(chosen: list[dict], archive) -> tuple[tuple[str, str, bytes], ...]:
    out, names = [], Counter()
    for e in chosen:
        names[e["filename"]] += 1
        name = e["filename"] if names[e["filename"]] == 1 else f"impor{e['import']}-{e['filename']}"
        out.append((name, e["content_type"], archive.read(e["path"])))
    return tuple(out)


def send_progress_report(*, replies, archive, clock, zone: ZoneInfo, recipients: Sequence[str],
                         slot: ReportSlot | None = None, late: bool = False) -> OutboxItem:
    """Build the progress report now and queue it (HTML + text, evidence attached).

    With a `slot` (scheduled), the subject carries the slot's time and the slot is marked
    sent in the same transaction; without one it is a manual extra report.
    """
    if not recipients:
        raise ConfigError("reports.progress_to", "no recipients for the Sipol progress report; "
                                                 "set reports.progress_to in settings.toml")
    now = clock.now()
    late = late or bool(slot and slot.late)
    slot_at = slot_instant(slot.slot_date, slot.slot_time, zone) if slot is not None else now
    tag = replies.me.tag
    with db.atomic():
        data = progress_report_data(now, zone, last_report_at("progress", now), tag=tag)
        chosen = plan_attachments(data["evidence"])
        files = _attachments(chosen, archive)
        ctx = progress_context(data, helpdesk=helpdesk_context(replies), slot_at=slot_at, late=late,
                               scheduled=slot is not None)
        item = replies.queue(ticket=None, kind="report", to=list(recipients),
                             subject=progress_subject(tag, slot_at, zone, late=late), template="reports/progress",
                             context=ctx, auto="auto-generated", html=True, attachments=files)
        _mark_sent(slot, report_at=now, item=item,
                   detail={"snapshots": {str(r["number"]): r["snapshot_id"] for r in data["parties"]},
                           "imports": [i["id"] for i in data["imports"]], "no_new_snapshot": data["no_new_snapshot"]})
    return item


# --- the daily recap --------------------------------------------------------------------------


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
    day = date.fromisoformat(_date_str(local_date))
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
        "spam": {"held": still_held + released, "still_held": still_held, "released": released},
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
        out[tid] = _replay_status(list(Event.select().where(
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
        "id": t.id, "ref": ref(t.id, tag), "status": t.status, "status_label": _status_label(t.status),
        "party": t.party.short if t.party_id else None, "requester": t.requester,
        "requester_name": t.requester_name, "channel": t.channel, "subject": t.subject,
        "since_at": iso(since.get(t.id, t.created_at), zone), "created_at": iso(t.created_at, zone),
        "overdue": timings[t.id].overdue,
    } for t in tickets]
    rows.sort(key=lambda r: (r["since_at"], r["id"]))
    return rows


def recap_subject(tag: str, local_date: date | str, *, late: bool) -> str:
    d = date.fromisoformat(_date_str(local_date))
    return (f"[{tag}] Rekapitulasi Harian Layanan Helpdesk – {_DAYS[d.weekday()]}, {tgl(d)}"
            + (" (terlambat)" if late else ""))


def recap_context(data: dict, *, helpdesk: dict, slot_at: datetime, late: bool, scheduled: bool) -> dict:
    return {"helpdesk": helpdesk, "recap": revive(data), "slot": {"at": slot_at, "late": late, "scheduled": scheduled}}


def send_recap(*, replies, clock, zone: ZoneInfo, calendar: ServiceCalendar, recipients: Sequence[str],
               local_date: date | str | None = None, slot: ReportSlot | None = None,
               late: bool = False) -> OutboxItem:
    """Build the recap of `local_date` (the slot's date, else today) and queue it (HTML + text)."""
    if not recipients:
        raise ConfigError("reports.recap_to", "no recipients for the daily recap; set reports.recap_to in settings.toml")
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
        _mark_sent(slot, report_at=now, item=item, detail={"date": data["date"], "totals": data["totals"]})
    return item
