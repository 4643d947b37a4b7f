"""The chair's and secretary's overview (issue 15 item 7, `/overview`): today's and this
week's tickets by channel, party and status, answered within the SOP standard or not, the
median time to a first answer and the open escalations.

Nothing is computed here that the daily recap computes: the figures are recap.recap_data's,
one recap per day (Monday to today); the week adds the days' counts up. A ticket counts on
the day it came in, so its status in the week's table is the one at the end of that day
(today: now), as the day's recap mailed it.
"""
from __future__ import annotations

import statistics
from collections import Counter
from datetime import datetime, timedelta

from .hours import ServiceCalendar
from .recap import recap_data
from .status import Status

ESCALATION_STATUSES = (Status.ESKALASI_ANGGOTA.value, Status.ESKALASI_PROVINSI.value)


def overview_data(calendar: ServiceCalendar, now: datetime, *, tag: str = "HD-MSJ") -> dict:
    today = now.astimezone(calendar.zone).date()
    days = [recap_data(today - timedelta(days=n), calendar, now, tag=tag) for n in range(today.weekday(), -1, -1)]
    return {
        "today": period(days[-1:]),
        "week": period(days),
        "week_from": days[0]["day_label"],
        "today_label": days[-1]["day_label"],
        # current, whatever the date: the same list the recap mails to recontact
        "open_escalations": [q for q in days[-1]["open_questions"] if q["status"] in ESCALATION_STATUSES],
    }


def period(recaps: list[dict]) -> dict:
    """The figures of one or more daily recaps added up, each list in the recap's own order."""
    def summed(key: str, ident: str) -> list[dict]:
        counts: Counter = Counter()
        rows: dict = {}
        for r in recaps:
            for row in r[key]:
                counts[row[ident]] += row["count"]
                rows.setdefault(row[ident], row)
        return [rows[k] | {"count": counts[k]} for k in rows]

    tickets = [t for r in recaps for t in r["timing"]["tickets"]]
    answered = [t["answer_minutes"] for t in tickets if t["answer_minutes"] is not None and not t["answer_running"]]
    by_party = summed("by_party", "short")
    by_party.sort(key=lambda p: (p["number"] is None, p["number"] or 0))
    within = sum(r["timing"]["within"]["answer"] for r in recaps)
    measured = sum(r["timing"]["measured"]["answer"] for r in recaps)
    return {
        "new": sum(r["totals"]["new"] for r in recaps),
        "by_channel": summed("by_channel", "channel"),
        "by_status": summed("by_status", "status"),
        "by_party": by_party,
        "answer_within": within,
        "answer_late": measured - within,
        "answer_waiting_overdue": sum(1 for t in tickets if t["answer_running"] and any(
            b["step"] == "answer" for b in t["breaches"])),
        "overdue": sum(1 for t in tickets if t["overdue"]),
        "median_answer_minutes": statistics.median(answered) if answered else None,
        "answered": len(answered),
    }
