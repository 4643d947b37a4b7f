"""Per-ticket SOP time standards: how long each step took, in service minutes, and breaches.

Steps (standards in `STEP_STANDARDS`, the SOP's minutes of *service* time — see hours.py):

- receive: `created_at` → the first action of an officer on the ticket. An officer action
  is one of `OFFICER_KINDS` whose actor is a person: not "system", not "unknown", not an
  e-mail address (parties and escalation targets are recorded by address), not an
  escalation target name. A ticket registered by an officer (walk-in: `ticket.created`
  with an officer as actor) or released from spam by one is received at that moment.
- answer: `created_at` → the first `ticket.answered`. Measured from the party's point of
  view, so time spent waiting on an escalation counts too (the party still has no answer).
  When a party reopens an answered ticket (`ticket.reopened`, or an officer moves it back
  to `baru` from `dijawab`/`selesai`) and it waits in `baru`, the new question runs its
  own answer clock from the reopening; it shows as `reopen_minutes` and breaches as step
  "answer" too.
- escalate: each `ticket.escalated` → the matching `escalation.answered` (same `to`), or
  the moment an officer moves the ticket out of that escalation status without waiting
  for the answer (answering directly, closing, escalating further). `escalation_minutes`
  is the longest escalation of the ticket (the one compared with the standard).

- register: an in-person visit written into the Buku Tamu: from opening the form to saving
  it (`ticket.created` detail `register_seconds`, wall-clock time: the visitor stands at
  the desk whatever the service hours), against the SOP's 5 minutes (`hours.STANDARDS`).
  Mail and tickets without it have no register step.

An answer given in person (`tickets answer`) is a `ticket.answered` event like a mailed one,
at the time the officer gives (`--at`), so a visit written up later is measured as it happened.
Voided tickets are never overdue.

A step that has not finished is measured up to `now` while the ticket is open; once it
passes its standard it is a breach (`Breach.actual_minutes` so far) and makes the ticket
overdue. A closed (`selesai`) ticket has no running steps. Events after `now` are ignored,
so a timing "as of" a past instant is reproducible.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from .hours import STANDARDS, Breach, ServiceCalendar, check_step
from .models import Event, Ticket
from .status import Status
from .voids import exclude_void

__all__ = [
    "OFFICER_KINDS",
    "STEP_STANDARDS",
    "EscalationTiming",
    "TicketTimings",
    "is_officer_actor",
    "overdue_ticket_ids",
    "ticket_timings",
    "timings_for",
]

#: The SOP standards this module checks (service minutes).
STEP_STANDARDS: Mapping[str, int] = MappingProxyType({"receive": 10, "answer": 30, "escalate": 15})

#: Events that count as an officer having picked the ticket up.
OFFICER_KINDS = frozenset({
    "ticket.note", "ticket.answered", "ticket.assigned", "ticket.status", "ticket.escalated",
    "ticket.created", "spam.released",
})
_ESCALATION_TARGETS = frozenset({"anggota", "provinsi"})
_RELEVANT_KINDS = OFFICER_KINDS | {"ticket.reopened", "escalation.answered"}
_CHUNK = 500  # ids per IN (...) query: well under SQLite's variable limit


def is_officer_actor(actor: str | None) -> bool:
    a = (actor or "").strip().lower()
    return bool(a) and a not in ("system", "unknown") and "@" not in a and a not in _ESCALATION_TARGETS


@dataclass(frozen=True)
class EscalationTiming:
    to: str
    started_at: datetime
    ended_at: datetime | None  # None: still waiting
    answered: bool  # ended by `escalation.answered` (not by an officer moving on)
    minutes: float


@dataclass
class TicketTimings:
    ticket_id: int
    receive_minutes: float | None  # None only when never received and no longer running (closed)
    answer_minutes: float | None  # None when never answered and no longer running (closed)
    escalation_minutes: float | None  # the longest escalation; None when never escalated
    breaches: list[Breach] = field(default_factory=list)
    overdue: bool = False
    running: tuple[str, ...] = ()  # steps still running, measured to now: receive, answer, reopen, escalate
    running_breaches: list[Breach] = field(default_factory=list)  # the breaches among them (why overdue)
    reopen_minutes: float | None = None  # a reopened question waiting for its answer
    escalations: list[EscalationTiming] = field(default_factory=list)
    received_at: datetime | None = None
    answered_at: datetime | None = None
    register_minutes: float | None = None  # the Buku Tamu's register step (walk-ins only)


def ticket_timings(ticket: Ticket, calendar: ServiceCalendar, now: datetime) -> TicketTimings:
    """Timings of one ticket as of `now` (one events query)."""
    events = list(_events_query(Event.ticket == ticket.id))
    return _compute(ticket.id, ticket.created_at, ticket.status, events, calendar, now)


def timings_for(tickets: Iterable[Ticket], calendar: ServiceCalendar, now: datetime) -> dict[int, TicketTimings]:
    """Timings of many tickets: their events are read in a few queries and grouped here."""
    tickets = list(tickets)
    by_ticket: dict[int, list[Event]] = defaultdict(list)
    ids = [t.id for t in tickets]
    for start in range(0, len(ids), _CHUNK):
        for e in _events_query(Event.ticket.in_(ids[start:start + _CHUNK])):
            by_ticket[e.ticket_id].append(e)
    return {t.id: _compute(t.id, t.created_at, t.status, by_ticket.get(t.id, []), calendar, now) for t in tickets}


def overdue_ticket_ids(calendar: ServiceCalendar, now: datetime) -> list[int]:
    """Open tickets (not `selesai`, not voided) with a running step past its SOP standard, by id."""
    open_tickets = exclude_void(Ticket.select(Ticket.id, Ticket.created_at, Ticket.status, Ticket.flags)
                                .where((Ticket.status != Status.SELESAI.value) & (Ticket.created_at <= now))
                                .order_by(Ticket.id))
    timings = timings_for(open_tickets, calendar, now)
    return [tid for tid, t in timings.items() if t.overdue]


def _events_query(where):
    return (Event.select(Event.id, Event.ticket, Event.at, Event.actor, Event.kind, Event.detail)
            .where(where & Event.kind.in_(sorted(_RELEVANT_KINDS)))
            .order_by(Event.at, Event.id))


# --- the computation ------------------------------------------------------------------------


def replay_status(events: list[Event]) -> str:
    """The status after `events` (a ticket starts as `baru`)."""
    status = Status.BARU.value
    for e in events:
        if e.kind == "ticket.status":
            status = (e.detail or {}).get("to") or status
        elif e.kind == "ticket.reopened":
            status = Status.BARU.value
    return status


def _compute(ticket_id: int, created_at: datetime, current_status: str, all_events: list[Event],
             calendar: ServiceCalendar, now: datetime) -> TicketTimings:
    events = [e for e in all_events if e.at <= now]
    # The row's status is the truth about the present; for an instant in the past (later
    # events exist) the status is replayed from the events up to then.
    status = current_status if len(events) == len(all_events) else replay_status(events)
    is_open = status != Status.SELESAI.value
    closed_at = None
    if not is_open:
        closed_at = max((e.at for e in events if e.kind == "ticket.status"
                         and (e.detail or {}).get("to") == Status.SELESAI.value), default=now)

    breaches: list[Breach] = []
    running: list[str] = []
    running_breaches: list[Breach] = []

    def step(name: str, start: datetime, end: datetime | None, *, label: str | None = None) -> float:
        """Measure one step (to now when `end` is None) and record a breach of its standard."""
        b = check_step(name, start, end, calendar, STEP_STANDARDS, now=now)
        if end is None:
            running.append(label or name)
        if b is not None:
            breaches.append(b)
            if end is None:
                running_breaches.append(b)
        return calendar.service_minutes(start, end if end is not None else now)

    # register: how long the Buku Tamu form took (wall-clock), when it was timed
    created = next((e for e in events if e.kind == "ticket.created"), None)
    seconds = (created.detail or {}).get("register_seconds") if created is not None else None
    register_minutes = None
    if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) and seconds >= 0:
        register_minutes = seconds / 60
        limit = STANDARDS["register"]
        if register_minutes > limit:
            breaches.append(Breach(step="register", standard_minutes=limit, actual_minutes=register_minutes,
                                   over_minutes=register_minutes - limit))

    # receive: the first officer action
    received_at = next((e.at for e in events if e.kind in OFFICER_KINDS and is_officer_actor(e.actor)), None)
    receive_minutes = None
    if received_at is not None:
        receive_minutes = step("receive", created_at, received_at)
    elif is_open:
        receive_minutes = step("receive", created_at, None)

    # answer: the first answer
    answers = [e.at for e in events if e.kind == "ticket.answered"]
    answered_at = answers[0] if answers else None
    answer_minutes = None
    if answered_at is not None:
        answer_minutes = step("answer", created_at, answered_at)
    elif is_open:
        answer_minutes = step("answer", created_at, None)

    # a question reopened after the last answer, still waiting in `baru`
    reopen_minutes = None
    if answers and status == Status.BARU.value:
        reopened = [e.at for e in events if e.at >= answers[-1] and _is_reopen(e)]
        if reopened:
            reopen_minutes = step("answer", reopened[-1], None, label="reopen")

    # escalations, paired by target
    escalations: list[EscalationTiming] = []
    waiting: dict[str, datetime] = {}

    def finish(to: str, end: datetime | None, answered: bool) -> None:
        start = waiting.pop(to)
        m = step("escalate", start, end)
        escalations.append(EscalationTiming(to=to, started_at=start, ended_at=end, answered=answered, minutes=m))

    for e in events:
        d = e.detail or {}
        if e.kind == "ticket.escalated":
            to = d.get("to") or "anggota"
            if to in waiting:  # escalated to the same target again: the first wait ends here
                finish(to, e.at, answered=False)
            waiting[to] = e.at
        elif e.kind == "escalation.answered":
            to = d.get("to")
            if to is None and waiting:
                to = min(waiting, key=waiting.__getitem__)
            if to in waiting:
                finish(to, e.at, answered=True)
        elif e.kind == "ticket.status" and is_officer_actor(e.actor):
            old, new = d.get("from") or "", d.get("to") or ""
            target = old[len("eskalasi-"):] if old.startswith("eskalasi-") else None
            if target in waiting and new != old:  # an officer moved on without waiting for the answer
                finish(target, e.at, answered=False)
    for to in sorted(waiting, key=waiting.__getitem__):
        # still waiting while open; a closed ticket's wait ended when it was closed
        finish(to, None if is_open else closed_at, answered=False)
    escalations.sort(key=lambda x: x.started_at)

    return TicketTimings(
        ticket_id=ticket_id, receive_minutes=receive_minutes, answer_minutes=answer_minutes,
        escalation_minutes=max((x.minutes for x in escalations), default=None),
        breaches=breaches, overdue=bool(running_breaches), running=tuple(running),
        running_breaches=running_breaches, reopen_minutes=reopen_minutes, escalations=escalations,
        received_at=received_at, answered_at=answered_at, register_minutes=register_minutes,
    )


def _is_reopen(e: Event) -> bool:
    if e.kind == "ticket.reopened":
        return True
    d = e.detail or {}
    return (e.kind == "ticket.status" and d.get("to") == Status.BARU.value
            and d.get("from") in (Status.DIJAWAB.value, Status.SELESAI.value))
