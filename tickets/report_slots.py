"""Report slots: each scheduled report (Sipol progress at 08:00 and 17:00, the daily recap,
the follow-ups) is sent exactly once per slot, and a missed one is caught up at most once.

A slot is (kind, local date, "HH:MM"); sending one starts with an
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
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import peewee as pw

from .models import OutboxItem, ReportSlot, db

log = logging.getLogger(__name__)

KINDS = ("progress", "recap", "followup")
LATE_AFTER = timedelta(minutes=15)  # a catch-up more than this past its slot is "terlambat"


def date_str(local_date: date | str) -> str:
    """A local date (or its ISO text) as ISO text, the form slots are stored in."""
    return (local_date if isinstance(local_date, date) else date.fromisoformat(str(local_date))).isoformat()


def as_hhmm(value: str) -> str:
    """"8:00", "08.00" or "08:00" → "08:00"."""
    h, _, m = value.strip().replace(".", ":").partition(":")
    return f"{int(h):02d}:{int(m):02d}"


def slot_instant(local_date: date | str, hhmm: str, zone: ZoneInfo) -> datetime:
    """The UTC instant of a local slot time."""
    d = date.fromisoformat(date_str(local_date))
    h, m = (int(x) for x in as_hhmm(hhmm).split(":"))
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
            return ReportSlot.create(kind=kind, slot_date=date_str(local_date), slot_time=as_hhmm(hhmm),
                                     status="claimed", late=late, claimed_at=now)
    except pw.IntegrityError:
        return None


def missed_slots(kind: str, times: Iterable[str], now: datetime, zone: ZoneInfo,
                 lookback_days: int = 1) -> list[tuple[str, str]]:
    """Slots (local date, HH:MM) of the last `lookback_days` days and today that are past,
    were never claimed, and are newer than the newest claimed slot of `kind`; oldest first."""
    today = now.astimezone(zone).date()
    times = sorted({as_hhmm(t) for t in times})
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
            ReportSlot.create(kind=kind, slot_date=date_str(local_date), slot_time=as_hhmm(hhmm), status="skipped",
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


def mark_sent(slot: ReportSlot | None, *, report_at: datetime, item: OutboxItem, detail: dict) -> None:
    """Record on a scheduled slot (None: a manual report) what was sent and from which figures."""
    if slot is None:
        return
    slot.status = "sent"
    slot.report_at = report_at
    slot.outbox_item = item
    slot.detail = detail
    slot.save()
