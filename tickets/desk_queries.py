"""The web desk's queue: one page of tickets with filters, search, sort, paging and the SOP
time standards of each row.

The filters are those of `kpudesk tickets list` (status, party, channel, assignee, overdue,
search — the same full-text clause, tickets/search.py), applied in SQL so a page costs one
count and one page query; the SOP timings (tickets/timing.py) are computed for the page's
rows only. A voided or merged ticket is left out unless a status is asked for, as in
`tickets list`.
Pure database reads: no Flask, no settings.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import peewee as pw

from .hours import ServiceCalendar
from .labels import iso
from .models import Message, Party, Ticket
from .search_query import search_clause
from .status import ref
from .timing import STEP_STANDARDS, overdue_ticket_ids, timings_for
from .voids import voided_ids

PAGE_SIZE = 50
SORTS = ("age", "activity")
#: Which SOP step a running timer belongs to, as the queue names it (Bahasa).
STEP_NAMES = {"receive": "diterima", "answer": "dijawab", "reopen": "dijawab", "escalate": "eskalasi dijawab"}


@dataclass(frozen=True)
class QueueFilter:
    q: str = ""
    status: str | None = None
    party: int | None = None  # ballot number (queries.resolve_party)
    channel: str | None = None
    assignee: str | None = None  # officer name as stored on the ticket
    unassigned: bool = False
    overdue: bool = False
    only_ids: frozenset[int] | None = None  # e.g. the tickets escalated to an Anggota KPU
    sort: str = "age"
    page: int = 1


@dataclass
class QueueRow:
    id: int
    ref: str
    subject: str
    party: str | None
    requester: str | None
    requester_name: str | None
    channel: str
    status: str
    assignee: str | None
    created_at: datetime
    updated_at: datetime
    age_minutes: int
    overdue: bool = False
    # the SOP steps running now: (step, standard minutes, service minutes so far, over by)
    running: list[tuple[str, int, int, int]] = field(default_factory=list)
    delivery_failed: bool = False


@dataclass
class QueuePage:
    rows: list[QueueRow]
    total: int
    page: int
    pages: int


def _conditions(f: QueueFilter, *, tag: str, calendar: ServiceCalendar, now: datetime) -> list:
    """What a ticket must satisfy to be in the queue `f` asks for (Party: the joined party)."""
    where = []
    if f.status:
        where.append(Ticket.status == f.status)
    else:  # voided and merged tickets stay out unless a status is asked for (like `tickets list`)
        voided = voided_ids()
        if voided:
            where.append(Ticket.id.not_in(sorted(voided)))
    if f.party is not None:
        where.append(Party.number == f.party)
    if f.channel:
        where.append(Ticket.channel == f.channel)
    if f.unassigned:
        where.append(Ticket.assignee.is_null() | (Ticket.assignee == ""))
    elif f.assignee:
        where.append(pw.fn.LOWER(Ticket.assignee) == f.assignee.lower())
    if f.only_ids is not None:
        where.append(Ticket.id.in_(sorted(f.only_ids) or [0]))
    if f.overdue:
        where.append(Ticket.id.in_(overdue_ticket_ids(calendar, now) or [0]))
    found = search_clause(f.q, tag)
    if found is not None:
        where.append(found)
    return where


def queue_page(f: QueueFilter, *, tag: str, zone: ZoneInfo, calendar: ServiceCalendar, now: datetime) -> QueuePage:
    """One page (PAGE_SIZE rows) of the tickets matching `f`, oldest first (`sort="age"`) or
    most recently active first (`sort="activity"`)."""
    where = _conditions(f, tag=tag, calendar=calendar, now=now)
    q = Ticket.select(Ticket, Party).join(Party, pw.JOIN.LEFT_OUTER)
    # Counted on the ticket table alone unless the party is a filter (a third of the count's
    # time at 100,000 tickets was the join, for nothing).
    counted = Ticket.select(pw.fn.COUNT(Ticket.id))
    if f.party is not None:
        counted = counted.join(Party, pw.JOIN.LEFT_OUTER)
    if where:
        q, counted = q.where(*where), counted.where(*where)
    total = counted.scalar()
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, f.page), pages)
    order = (Ticket.created_at, Ticket.id) if f.sort != "activity" else (Ticket.updated_at.desc(), Ticket.id.desc())
    tickets = list(q.order_by(*order).paginate(page, PAGE_SIZE))
    timings = timings_for(tickets, calendar, now)
    rows = []
    for t in tickets:
        tm = timings[t.id]
        running = []
        for b in tm.running_breaches:
            running.append((b.step, int(b.standard_minutes), round(b.actual_minutes), round(b.over_minutes)))
        rows.append(QueueRow(
            id=t.id, ref=ref(t.id, tag), subject=t.subject, party=t.party.short if t.party_id else None,
            requester=t.requester, requester_name=t.requester_name, channel=t.channel, status=t.status,
            assignee=t.assignee, created_at=t.created_at, updated_at=t.updated_at,
            age_minutes=max(0, int((now - t.created_at).total_seconds() // 60)), overdue=tm.overdue,
            running=running, delivery_failed=bool((t.flags or {}).get("delivery_failed"))))
    return QueuePage(rows=rows, total=total, page=page, pages=pages)


def standards_text() -> str:
    """The SOP standards as the queue's legend states them."""
    s = STEP_STANDARDS
    return (f"diterima dalam {s['receive']} menit, dijawab dalam {s['answer']} menit sejak diterima, "
            f"eskalasi dijawab dalam {s['escalate']} menit (menit jam layanan)")


def age_text(minutes: int) -> str:
    """A ticket's age as the queue shows it: "45 menit", "3 jam 5 menit", "2 hari 3 jam"."""
    if minutes < 1:
        return "kurang dari 1 menit"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days} hari {hours} jam" if hours else f"{days} hari"
    if hours:
        return f"{hours} jam {mins} menit" if mins else f"{hours} jam"
    return f"{mins} menit"


def held_reason(m: Message) -> str:
    """Why a message from the spam folder was held, as the review page says it: the spam
    filter put it there, and it was not an authenticated continuation of a ticket (ingest)."""
    auth = m.authentication or {}
    verdict, why = auth.get("verdict"), auth.get("reason")
    if verdict == "fail":
        second = "pengirim gagal autentikasi" + (f" ({why})" if why else "")
    elif verdict == "pass":
        second = "pengirim terautentikasi, tetapi bukan lanjutan tiket yang ada"
    else:
        second = "pengirim tidak dapat diautentikasi"
    reasons = "; ".join(m.reasons or [])
    return f"ditandai spam oleh server surel; {second}" + (f"; {reasons}" if reasons else "")


def held_spam(zone: ZoneInfo) -> list[dict]:
    """Held spam as `kpudesk spam list --json` shows it, with the reason it was held."""
    return [{"id": m.id, "from": m.from_addr, "from_name": m.from_name, "subject": m.subject,
             "date": iso(m.date or m.created_at, zone), "reason": held_reason(m), "kind": m.kind}
            for m in Message.select().where(Message.disposition == "spam_held").order_by(Message.id)]
