"""SOP time standards per ticket, counted in service hours, as the recap and `--overdue` see them."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kpudesk.tickets.hours import ServiceCalendar
from kpudesk.tickets.models import Event, Ticket
from kpudesk.tickets.schema import close_database, open_database
from kpudesk.tickets.timing import is_officer_actor, overdue_ticket_ids, ticket_timings, timings_for

WIB = timezone(timedelta(hours=7))
CAL = ServiceCalendar()  # every day 08:00-17:00 Asia/Jakarta


def wib(d, h, mi=0, s=0) -> datetime:
    """27 November 2026 (a Friday) + d days, wall clock in Mesuji, as aware UTC."""
    return datetime(2026, 11, 27 + d, h, mi, s, tzinfo=WIB).astimezone(UTC)


@pytest.fixture(autouse=True)
def database(tmp_path):
    open_database(f"sqlite:///{tmp_path}/t.db")
    yield
    close_database()


def ticket(created: datetime, status: str = "baru", channel: str = "email", requester="lo@partai.example.org"):
    t = Ticket.create(status=status, subject="Pertanyaan Sipol", channel=channel, requester=requester,
                      flags={}, created_at=created, updated_at=created)
    Event.create(ticket=t, at=created, actor=requester or "Rina Wulandari", kind="ticket.created",
                 detail={"channel": channel})
    return t


def ev(t: Ticket, at: datetime, kind: str, actor: str = "Rina Wulandari", **detail) -> None:
    Event.create(ticket=t, at=at, actor=actor, kind=kind, detail=detail)


def status(t: Ticket, at: datetime, old: str, new: str, actor: str = "Rina Wulandari") -> None:
    ev(t, at, "ticket.status", actor, **{"from": old, "to": new})
    t.status = new
    t.save()


def steps(breaches) -> dict[str, float]:
    return {b.step: round(b.over_minutes, 2) for b in breaches}


def test_officer_actors():
    assert is_officer_actor("Rina Wulandari")
    for actor in ("system", "unknown", "lo@partai.example.org", "anggota", "provinsi", "", None):
        assert not is_officer_actor(actor)


def test_steps_within_standard_have_no_breach():
    t = ticket(wib(0, 9, 0))
    ev(t, wib(0, 9, 4), "ticket.note")
    ev(t, wib(0, 9, 25), "ticket.answered")
    status(t, wib(0, 9, 25), "baru", "dijawab")
    tm = ticket_timings(t, CAL, wib(0, 12))
    assert (tm.receive_minutes, tm.answer_minutes, tm.escalation_minutes) == (4, 25, None)
    assert tm.breaches == [] and not tm.overdue and tm.running == ()


def test_answer_late_is_a_breach_with_minutes_over_but_not_overdue_once_done():
    t = ticket(wib(0, 9, 0))
    ev(t, wib(0, 9, 12), "ticket.assigned", to="Rina Wulandari")
    ev(t, wib(0, 9, 47), "ticket.answered")
    status(t, wib(0, 9, 47), "baru", "dijawab")
    tm = ticket_timings(t, CAL, wib(0, 12))
    assert tm.receive_minutes == 12 and tm.answer_minutes == 47
    assert steps(tm.breaches) == {"receive": 2, "answer": 17}
    assert [b.label for b in tm.breaches] == ["Penerimaan", "Menjawab"]
    assert not tm.overdue  # both steps are finished


def test_service_hours_across_days_only_count_open_time():
    # 16:55 Friday; picked up 08:10 and answered 08:20 Saturday: 15 and 25 service minutes.
    t = ticket(wib(0, 16, 55))
    ev(t, wib(1, 8, 10), "ticket.note")
    ev(t, wib(1, 8, 20), "ticket.answered")
    tm = ticket_timings(t, CAL, wib(1, 12))
    assert tm.receive_minutes == 15 and tm.answer_minutes == 25
    assert steps(tm.breaches) == {"receive": 5}


def test_running_steps_are_measured_to_now_and_make_the_ticket_overdue():
    t = ticket(wib(0, 10, 0))
    tm = ticket_timings(t, CAL, wib(0, 10, 45))
    assert tm.running == ("receive", "answer")
    assert tm.receive_minutes == 45 and tm.answer_minutes == 45
    assert steps(tm.breaches) == {"receive": 35, "answer": 15}
    assert tm.overdue and len(tm.running_breaches) == 2


def test_a_ticket_arriving_after_hours_is_not_overdue_overnight():
    t = ticket(wib(0, 16, 58))
    tm = ticket_timings(t, CAL, wib(0, 23, 0))
    assert tm.receive_minutes == 2 and not tm.breaches and not tm.overdue
    tm = ticket_timings(t, CAL, wib(1, 8, 9))  # 2 + 9 = 11 service minutes
    assert steps(tm.breaches) == {"receive": 1} and tm.overdue


def test_party_and_system_events_do_not_count_as_received():
    t = ticket(wib(0, 9, 0))
    ev(t, wib(0, 9, 1), "ticket.status", actor="system", **{"from": "baru", "to": "baru"})
    ev(t, wib(0, 9, 2), "ticket.note", actor="lo@partai.example.org")
    ev(t, wib(0, 9, 3), "ack.queued", actor="system")
    tm = ticket_timings(t, CAL, wib(0, 9, 30))
    assert "receive" in tm.running and tm.receive_minutes == 30


def test_walk_in_registered_by_an_officer_is_received_at_once():
    t = ticket(wib(0, 9, 0), channel="tatap-muka", requester=None)
    tm = ticket_timings(t, CAL, wib(0, 9, 20))
    assert tm.receive_minutes == 0 and tm.running == ("answer",) and not tm.overdue


def test_escalation_is_paired_with_its_answer():
    t = ticket(wib(0, 9, 0))
    ev(t, wib(0, 9, 5), "ticket.note")
    ev(t, wib(0, 9, 20), "ticket.escalated", to="anggota")
    status(t, wib(0, 9, 20), "baru", "eskalasi-anggota")
    # the member answers by mail: status back to baru by their address, then the event
    status(t, wib(0, 9, 58), "eskalasi-anggota", "baru", actor="ahmad@kpu-mesuji.example.org")
    ev(t, wib(0, 9, 58), "escalation.answered", actor="ahmad@kpu-mesuji.example.org", to="anggota")
    ev(t, wib(0, 10, 5), "ticket.answered")
    status(t, wib(0, 10, 5), "baru", "dijawab")
    tm = ticket_timings(t, CAL, wib(0, 12))
    assert tm.escalation_minutes == 38
    assert [(x.to, x.answered, x.minutes) for x in tm.escalations] == [("anggota", True, 38)]
    assert steps(tm.breaches) == {"escalate": 23, "answer": 35}
    assert not tm.overdue


def test_waiting_escalation_runs_to_now():
    t = ticket(wib(0, 15, 0))
    ev(t, wib(0, 15, 5), "ticket.escalated", to="provinsi")
    status(t, wib(0, 15, 5), "baru", "eskalasi-provinsi")
    tm = ticket_timings(t, CAL, wib(0, 15, 15))
    assert tm.escalation_minutes == 10 and "escalate" in tm.running and not tm.overdue
    tm = ticket_timings(t, CAL, wib(1, 8, 30))  # 115 min Friday + 30 Saturday
    assert tm.escalation_minutes == 145
    assert steps(tm.running_breaches)["escalate"] == 130 and tm.overdue


def test_officer_answering_directly_ends_the_escalation_wait():
    t = ticket(wib(0, 9, 0))
    ev(t, wib(0, 9, 5), "ticket.escalated", to="anggota")
    status(t, wib(0, 9, 5), "baru", "eskalasi-anggota")
    ev(t, wib(0, 9, 15), "ticket.answered")
    status(t, wib(0, 9, 15), "eskalasi-anggota", "dijawab")
    tm = ticket_timings(t, CAL, wib(0, 16))
    assert [(x.answered, x.minutes, x.ended_at) for x in tm.escalations] == [(False, 10, wib(0, 9, 15))]
    assert tm.breaches == [] and not tm.overdue


def test_closed_ticket_has_nothing_running():
    t = ticket(wib(0, 9, 0))
    status(t, wib(0, 9, 50), "baru", "selesai")
    tm = ticket_timings(t, CAL, wib(1, 12))
    assert tm.answer_minutes is None and tm.running == () and not tm.overdue
    assert steps(tm.breaches) == {"receive": 40}  # the close was the first officer action


def test_reopened_question_runs_its_own_answer_clock():
    t = ticket(wib(0, 9, 0))
    ev(t, wib(0, 9, 10), "ticket.answered")
    status(t, wib(0, 9, 10), "baru", "dijawab")
    ev(t, wib(0, 11, 0), "ticket.reopened", actor="lo@partai.example.org", previous="dijawab")
    t.status = "baru"
    t.save()
    tm = ticket_timings(t, CAL, wib(0, 11, 20))
    assert tm.answer_minutes == 10 and tm.reopen_minutes == 20 and not tm.overdue
    tm = ticket_timings(t, CAL, wib(0, 11, 45))
    assert tm.reopen_minutes == 45 and tm.overdue
    assert [(b.step, round(b.over_minutes)) for b in tm.running_breaches] == [("answer", 15)]


def test_timing_as_of_a_past_instant_ignores_later_events():
    t = ticket(wib(0, 9, 0))
    ev(t, wib(0, 10, 0), "ticket.answered")
    status(t, wib(0, 10, 0), "baru", "dijawab")
    tm = ticket_timings(t, CAL, wib(0, 9, 45))
    assert tm.running == ("receive", "answer") and tm.answer_minutes == 45 and tm.overdue


def test_overdue_ticket_ids_lists_open_tickets_past_a_standard():
    now = wib(0, 11, 0)
    fresh = ticket(wib(0, 10, 55))  # 5 minutes old
    waiting = ticket(wib(0, 10, 0))  # 60 minutes, nobody looked
    done = ticket(wib(0, 9, 0))
    ev(done, wib(0, 9, 5), "ticket.answered")
    status(done, wib(0, 9, 5), "baru", "dijawab")
    closed = ticket(wib(0, 8, 0))
    status(closed, wib(0, 10, 30), "baru", "selesai")  # closed late: a breach, not overdue
    assert overdue_ticket_ids(CAL, now) == [waiting.id]
    all_t = timings_for(Ticket.select(), CAL, now)
    assert set(all_t) == {fresh.id, waiting.id, done.id, closed.id}
    assert all_t[closed.id].breaches and not all_t[closed.id].overdue


def test_many_tickets_in_few_queries():
    start = wib(0, 8, 0)
    with Ticket._meta.database.atomic():
        for i in range(1200):
            t = ticket(start + timedelta(seconds=i))
            if i % 2:
                ev(t, start + timedelta(seconds=i, minutes=3), "ticket.note")
    queries = []
    db = Ticket._meta.database.obj  # the real database behind the proxy
    original = db.execute_sql

    def counting(sql, *args, **kwargs):
        queries.append(sql)
        return original(sql, *args, **kwargs)

    db.execute_sql = counting
    try:
        ids = overdue_ticket_ids(CAL, wib(0, 9, 0))
    finally:
        db.execute_sql = original
    assert len(ids) == 1200  # all are past the 30-minute answer standard
    assert 2 <= len(queries) <= 1 + 1200 // 500 + 1  # tickets, then events in chunks
    tm = timings_for(Ticket.select(), CAL, wib(0, 8, 30))
    assert sum(1 for x in tm.values() if x.received_at is not None) == 600
