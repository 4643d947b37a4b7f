"""After service hours, recontact parties whose question is still open.

Each requester waiting on the commission member or the KPU Provinsi gets at most one short
status mail a day (about their longest-waiting ticket); the daily recap lists them.
"""
from __future__ import annotations

import logging
from datetime import datetime, time

from .escalation import Escalation
from .models import Event, Ticket, db
from .outbox import OutboxItem
from .status import Status
from .voids import is_void

log = logging.getLogger(__name__)

WAITING_ON = {Status.ESKALASI_ANGGOTA.value: "Anggota KPU Kabupaten",
              Status.ESKALASI_PROVINSI.value: "KPU Provinsi"}


def open_waiting(now: datetime) -> list[Ticket]:
    return list(Ticket.select().where(Ticket.status.in_(list(WAITING_ON)) & Ticket.requester.is_null(False)
                                      & (Ticket.created_at < now)).order_by(Ticket.created_at))


def queue_followups(replies, clock, calendar, slot=None) -> list[OutboxItem]:
    """Queue today's follow-ups; marks `slot` sent in the same transaction."""
    now = clock.now()
    day_start = datetime.combine(calendar.local(now).date(), time(0), calendar.zone).astimezone(now.tzinfo)
    items = []
    with db.atomic():
        already = {r.rcpt_key for r in OutboxItem.select(OutboxItem.rcpt_key)
                   .where((OutboxItem.kind == "followup") & (OutboxItem.created_at >= day_start))}
        for ticket in open_waiting(now):
            if is_void(ticket):
                continue  # a voided entry gets no mail
            who = ticket.requester.lower()
            if who in already:
                continue
            esc = (Escalation.select().where(Escalation.ticket == ticket).order_by(Escalation.at.desc()).first())
            since = esc.at if esc else ticket.created_at
            item = replies.queue_followup(ticket, waiting_on=WAITING_ON[ticket.status], since=since)
            Event.create(ticket=ticket, at=now, actor="system", kind="followup.queued",
                         detail={"outbox": item.id, "waiting_on": ticket.status})
            already.add(who)
            items.append(item)
        if slot is not None:
            slot.status = "sent"
            slot.report_at = now
            slot.detail = {"followups": [i.id for i in items]}
            slot.save()
    log.info("follow-ups queued: %d", len(items))
    return items
