"""Answers given in person or online, the answerer as the ticket's officer, voided tickets
(issue 12 items 11, 12, 15): the Laporan, the timings, the recap and the lists."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from kpudesk.daemon.config import Officer
from kpudesk.mailbox.render import Renderer
from kpudesk.tickets.clock import FrozenClock
from kpudesk.tickets.errors import UserError
from kpudesk.tickets.hours import ServiceCalendar
from kpudesk.tickets.laporan import consultation_report
from kpudesk.tickets.models import Event, Message, Party, Ticket
from kpudesk.tickets.schema import close_database, open_database
from kpudesk.tickets.officer import OfficerActions
from kpudesk.tickets.reports import open_questions, recap_data
from kpudesk.tickets.timing import overdue_ticket_ids, ticket_timings
from kpudesk.tickets.walkin import parse_when

WIB = timezone(timedelta(hours=7))
JAKARTA = ZoneInfo("Asia/Jakarta")
CAL = ServiceCalendar()
RINA = Officer(name="Rina Wulandari", email="rina@kpu-mesuji.example.org", role="anggota-helpdesk")
KOOR = Officer(name="Sari Koordinator", email="sari@kpu-mesuji.example.org", role="koordinator-harian")
ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def wib(h, mi=0, d=0) -> datetime:
    return datetime(2026, 11, 27 + d, h, mi, tzinfo=WIB).astimezone(UTC)


@pytest.fixture(autouse=True)
def database(tmp_path):
    open_database(f"sqlite:///{tmp_path}/t.db")
    for number, name, short in [(1, "Partai Kebangkitan Bangsa", "PKB"), (2, "Partai Gerakan Indonesia Raya", "Gerindra")]:
        Party.create(number=number, name=name, short=short)
    yield
    close_database()


@pytest.fixture
def clock():
    return FrozenClock(wib(9, 0))


@pytest.fixture
def officers(clock):
    return OfficerActions(replies=None, clock=clock)  # answer/void never mail


def walk_in(at: datetime, channel="tatap-muka", party="PKB") -> Ticket:
    t = Ticket.create(status="baru", subject="Verifikasi faktual", channel=channel, requester=None,
                      requester_name="Hendra", party=Party.get(Party.short == party), flags={},
                      created_at=at, updated_at=at)
    Message.create(ticket=t, direction="in", disposition="ticket", kind="normal", identity=f"walkin:{t.id}",
                   from_name="Hendra", subject=t.subject, text="Kapan jadwal verifikasi faktual?", date=at,
                   created_at=at, author=RINA.name)
    Event.create(ticket=t, at=at, actor=RINA.name, kind="ticket.created", detail={"channel": channel})
    return t


def render(ticket: Ticket, now: datetime) -> tuple[dict, str, str]:
    data = consultation_report(ticket, tag="HD-MSJ", calendar=CAL, now=now)
    ctx = {"helpdesk": {"name": "Helpdesk KPU Kabupaten Mesuji"}, "laporan": data}
    r = Renderer()
    return data, r.render("reports/laporan.txt.j2", ctx), r.render("reports/laporan.html.j2", ctx)


# --- item 11: an answer given in person -----------------------------------------------------


def test_an_answer_given_in_person_is_recorded_and_shown_in_the_laporan(officers, clock):
    t = walk_in(wib(9, 0))
    clock.set(wib(9, 12))
    row = officers.answer(t, officer=RINA, body="Jadwal verifikasi faktual diumumkan lewat Sipol.")
    assert (row.direction, row.kind, row.disposition, row.author) == ("out", "answer", "given", RINA.name)
    t = Ticket.get_by_id(t.id)
    assert t.status == "dijawab" and t.assignee == RINA.name
    kinds = [e.kind for e in Event.select().where(Event.ticket == t).order_by(Event.id)]
    assert "ticket.answered" in kinds and "ticket.assigned" in kinds

    clock.set(wib(9, 30))
    officers.close(t, officer=RINA)
    data, text, html = render(t, wib(9, 30))
    assert data["answers"][0]["by"] == RINA.name and data["ticket"]["officer"] == RINA.name
    steps = {s["step"]: s for s in data["timings"]}
    assert steps["answer"]["minutes"] == 12 and steps["answer"]["remark"] == "Sesuai standar"
    assert "(belum dijawab)" not in text and "Jadwal verifikasi faktual diumumkan" in text
    assert "Petugas       : Rina Wulandari" in text
    assert "disampaikan langsung (tatap muka)" in text and "(surel:" not in text
    assert not ISO_TIME.search(text), "the printed Laporan shows times as officers read them"
    assert "27 November 2026 09.12 WIB" in text and "27 November 2026 09.00 WIB" in text
    assert not ISO_TIME.search(html.split("<body>")[1])


def test_an_answer_written_up_later_counts_at_the_time_it_was_given(officers, clock):
    t = walk_in(wib(9, 0), channel="pertemuan-online")
    clock.set(wib(15, 0))  # typed in the afternoon
    officers.answer(t, officer=RINA, body="Dijawab dalam rapat daring.", at=wib(9, 20))
    tm = ticket_timings(t, CAL, wib(15, 0))
    assert tm.answer_minutes == 20 and not tm.breaches
    with pytest.raises(UserError, match="masa depan"):
        officers.answer(t, officer=RINA, body="x", at=wib(16, 0))
    with pytest.raises(UserError, match="lebih awal"):
        officers.answer(t, officer=RINA, body="x", at=wib(8, 0))
    with pytest.raises(UserError, match="kosong"):
        officers.answer(t, officer=RINA, body="  ")


def test_the_recap_counts_an_answer_given_in_person(officers, clock):
    t = walk_in(wib(10, 0), channel="pesan-online")
    clock.set(wib(10, 5))
    officers.answer(t, officer=RINA, body="Sudah dijawab di grup WA.")
    r = recap_data("2026-11-27", CAL, wib(17, 5))
    assert r["totals"]["answered"] == 1 and r["totals"]["answers"] == 1
    assert r["timing"]["measured"]["answer"] == 1 and r["timing"]["within"]["answer"] == 1


def test_a_step_with_no_realisation_is_never_within_the_standard(officers, clock):
    """The walk-in of the issue: noted, closed, never answered through kpudesk."""
    t = walk_in(wib(9, 0))
    clock.set(wib(9, 5))
    officers.note(t, officer=RINA, body="Dijawab lisan")
    officers.close(t, officer=RINA)
    data, text, html = render(t, wib(9, 30))
    answer = next(s for s in data["timings"] if s["step"] == "answer")
    assert answer["minutes"] is None and answer["remark"] == "belum ada realisasi"
    assert re.search(r"Menjawab\s+standar\s+30\s+realisasi -\s+\(belum ada realisasi\)", text)
    row = next(line for line in html.splitlines() if "<td>Menjawab</td>" in line)
    assert "belum ada realisasi" in row and "Sesuai standar" not in row


@pytest.mark.parametrize("text, expected", [
    ("2026-12-04 09:30", datetime(2026, 12, 4, 9, 30, tzinfo=JAKARTA)),
    ("2026-12-04T09:30", datetime(2026, 12, 4, 9, 30, tzinfo=JAKARTA)),
    ("2026-12-04T02:30:00+00:00", datetime(2026, 12, 4, 9, 30, tzinfo=JAKARTA)),
    ("2026-12-04T09:30:00+07:00", datetime(2026, 12, 4, 9, 30, tzinfo=JAKARTA)),
])
def test_officer_times_are_read_in_the_helpdesk_zone_or_with_their_offset(text, expected):
    assert parse_when(text, JAKARTA, datetime(2026, 12, 5, tzinfo=UTC)) == expected


@pytest.mark.parametrize("text, needle", [("kemarin", "tidak valid"), ("2026-13-01 09:00", "tidak valid"),
                                          ("2027-01-01 09:00", "masa depan")])
def test_bad_officer_times_are_refused_clearly(text, needle):
    with pytest.raises(UserError, match=needle):
        parse_when(text, JAKARTA, datetime(2026, 12, 5, tzinfo=UTC))


# --- item 12: the answerer becomes the officer ----------------------------------------------


def test_answering_an_assigned_ticket_keeps_its_officer(officers, clock):
    t = walk_in(wib(9, 0))
    ahmad = Officer(name="Ahmad Fauzi", email="ahmad@kpu-mesuji.example.org", role="anggota-kpu")
    officers.assign(t, officer=RINA, assignee=ahmad)
    clock.set(wib(9, 10))
    officers.answer(t, officer=RINA, body="Jawaban")
    assert Ticket.get_by_id(t.id).assignee == "Ahmad Fauzi"
    assert Event.select().where((Event.ticket == t) & (Event.kind == "ticket.assigned")).count() == 1


# --- item 15: void ----------------------------------------------------------------------------


def test_only_a_coordinator_may_void_and_a_reason_is_required(officers):
    t = walk_in(wib(9, 0))
    with pytest.raises(UserError, match="koordinator"):
        officers.void(t, officer=RINA, reason="entri uji")
    with pytest.raises(UserError, match="alasan"):
        officers.void(t, officer=KOOR, reason=" ")
    officers.void(t, officer=KOOR, reason="entri uji")
    with pytest.raises(UserError, match="sudah dibatalkan"):
        officers.void(t, officer=KOOR, reason="lagi")


def test_a_voided_ticket_keeps_its_trail_but_leaves_every_count(officers, clock):
    kept = walk_in(wib(9, 0))
    mistake = walk_in(wib(9, 1), party="Gerindra")
    clock.set(wib(9, 2))
    officers.void(mistake, officer=KOOR, reason="entri uji coba pelatihan")

    stored = Ticket.get_by_id(mistake.id)  # kept, with the audit trail
    assert stored.flags["void"] == {"by": KOOR.name, "at": wib(9, 2).isoformat(), "reason": "entri uji coba pelatihan"}
    ev = Event.get((Event.ticket == mistake) & (Event.kind == "ticket.voided"))
    assert ev.actor == KOOR.name and ev.detail["reason"] == "entri uji coba pelatihan"
    assert Message.select().where(Message.ticket == mistake).count() == 1

    late = wib(12, 0)  # both would be overdue by now
    assert overdue_ticket_ids(CAL, late) == [kept.id]
    assert [q["id"] for q in open_questions(CAL, late)] == [kept.id]
    r = recap_data("2026-11-27", CAL, wib(17, 5))
    assert r["totals"]["new"] == 1 and [x["id"] for x in r["timing"]["tickets"]] == [kept.id]
    assert {p["short"]: p["count"] for p in r["by_party"]} == {"PKB": 1}
    assert [b["id"] for b in r["breaches"]] == [kept.id]  # its answer, past 30 minutes

    data, text, _ = render(stored, late)
    assert data["ticket"]["void"]["reason"] == "entri uji coba pelatihan"
    assert "DIBATALKAN    : entri uji coba pelatihan" in text


def test_a_voided_ticket_gets_no_follow_up_mail(officers, clock):
    from kpudesk.tickets.followups import queue_followups

    class Replies:  # records what would be mailed
        queued: list = []

        def queue_followup(self, ticket, **_kw):
            self.queued.append(ticket.id)
            return type("Item", (), {"id": len(self.queued)})()

    waiting = walk_in(wib(9, 0))
    mistake = walk_in(wib(9, 1), party="Gerindra")
    for t, addr in ((waiting, "a@pkb.example.org"), (mistake, "b@gerindra.example.org")):
        Ticket.update(status="eskalasi-anggota", requester=addr).where(Ticket.id == t.id).execute()
    officers.void(Ticket.get_by_id(mistake.id), officer=KOOR, reason="entri ganda")
    clock.set(wib(17, 1))
    replies = Replies()
    queue_followups(replies, clock, CAL)
    assert replies.queued == [waiting.id]
