"""How long each escalation has waited (issue 15 item 6, `/escalations`): the escalations
waiting on each commission member and on the KPU Provinsi, grouped by whom they wait on,
measured in service minutes against the SOP's escalation standard (hours.STANDARDS
"escalate", 15 minutes), and the ones no longer waiting below.

An escalation waits while it has no answer and its ticket still stands in that escalation
status: an officer who moved on (answered the party directly, closed the ticket) ended the
wait, as tickets/timing.py counts it.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime

from .hours import STANDARDS, ServiceCalendar
from .models import Escalation, Ticket
from .status import LABELS, Status, ref

PROVINSI = "provinsi"


def escalation_board(calendar: ServiceCalendar, now: datetime, *, tag: str, names: Mapping[str, str],
                     ticket_ids: Iterable[int] | None = None, only_to: str | None = None) -> dict:
    """{"standard": minutes, "groups": [{key, label, rows}], "done": [rows]}.

    `names` maps an Anggota's address (lower case) to their name; `ticket_ids` limits the
    board to those tickets and `only_to` the Anggota groups to that address (an Anggota's
    own view). Waiting rows are oldest first, each with `minutes`, `overdue` and `over`.
    """
    standard = STANDARDS["escalate"]
    q = (Escalation.select(Escalation, Ticket).join(Ticket)
         .where(Escalation.at <= now).order_by(Escalation.at, Escalation.id))
    if ticket_ids is not None:
        q = q.where(Escalation.ticket.in_(sorted(ticket_ids) or [0]))
    groups: dict[str, dict] = {}
    done = []
    own = (only_to or "").strip().lower() or None
    for e in q:
        waiting = e.answered_at is None and e.ticket.status == f"eskalasi-{e.target}"
        end = now if waiting else (e.answered_at or None)
        minutes = calendar.service_minutes(e.at, end) if end is not None else None
        row = {
            "ticket_id": e.ticket_id, "ref": ref(e.ticket_id, tag), "subject": e.ticket.subject,
            "target": e.target, "by": e.by, "at": e.at, "answered_at": e.answered_at, "note": e.note,
            "external_ref": e.external_ref, "minutes": minutes,
            "overdue": minutes is not None and minutes > standard,
            "over": math.ceil(minutes - standard) if minutes is not None and minutes > standard else 0,
            "status_label": LABELS.get(Status(e.ticket.status), e.ticket.status),
        }
        if not waiting:
            done.append(row)
            continue
        for key, label in _waiting_on(e, names, own):
            groups.setdefault(key, {"key": key, "label": label, "rows": []})["rows"].append(row)
    order = sorted(groups.values(), key=lambda g: (g["key"] == PROVINSI, g["label"].lower()))
    done.sort(key=lambda r: (r["answered_at"] or r["at"]), reverse=True)
    waiting = {id(r) for g in order for r in g["rows"]}  # one escalation to several members counts once
    return {"standard": standard, "groups": order, "done": done, "waiting": len(waiting),
            "overdue": len({id(r) for g in order for r in g["rows"] if r["overdue"]})}


def _waiting_on(e: Escalation, names: Mapping[str, str], own: str | None) -> list[tuple[str, str]]:
    if e.target == PROVINSI:
        return [(PROVINSI, "KPU Provinsi")]
    addresses = [str(a).strip().lower() for a in (e.to or []) if str(a).strip()] or ["anggota"]
    if own is not None:
        addresses = [a for a in addresses if a == own] or [own]
    return [(a, f"Anggota KPU Kabupaten: {names.get(a, a)}") for a in addresses]
