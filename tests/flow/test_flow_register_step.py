"""The SOP's register step (5 minutes) for a Buku Tamu visit: from opening the form to
saving it, as tickets/timing.py reads it from the ticket's creation; over 5 minutes it is a
breach the Laporan and the desk show. Mail has no register step."""
from __future__ import annotations

from datetime import timedelta

from kpudesk.tickets import walkin
from kpudesk.tickets.models import Ticket
from kpudesk.tickets.timing import ticket_timings
from tests.corpus.hostile import party_mail
from tests.feeder import Feeder


def visit(desk: Feeder, minutes_at_the_form: float) -> Ticket:
    opened = desk.clock.now()
    desk.advance(minutes=minutes_at_the_form)
    app = desk.app
    return walkin.register(
        walkin.WalkIn(channel="tatap-muka", party="PKB", name="Budi Santoso", subject="Verifikasi faktual",
                      message="Kapan jadwal verifikasi faktual?", phone="081234567890", opened_at=opened),
        registry=app.registry, archive=app.archive, clock=desk.clock, officer=desk.officer(),
        zone=desk.settings.zone, tag=desk.settings.helpdesk.tag)


def test_a_visit_written_within_five_minutes_meets_the_standard(tmp_path):
    desk = Feeder(tmp_path)
    t = visit(desk, 3)
    timings = ticket_timings(t, desk.app.calendar, desk.clock.now())
    assert timings.register_minutes == 3
    assert "register" not in [b.step for b in timings.breaches]


def test_a_visit_that_took_eight_minutes_is_a_breach_of_three(tmp_path):
    desk = Feeder(tmp_path)
    t = visit(desk, 8)
    (breach,) = [b for b in ticket_timings(t, desk.app.calendar, desk.clock.now()).breaches if b.step == "register"]
    assert (breach.standard_minutes, breach.actual_minutes, breach.over_minutes) == (5, 8, 3)
    assert breach.label == "Registrasi"


def test_mail_has_no_register_step(tmp_path):
    desk = Feeder(tmp_path)
    desk.deliver(party_mail("Lia <lia@pdip.example.org>", "Akun Sipol", "Akun kami terkunci."))
    desk.advance(minutes=20)
    t = Ticket.select().get()
    timings = ticket_timings(t, desk.app.calendar, desk.clock.now() + timedelta(minutes=1))
    assert timings.register_minutes is None and "register" not in [b.step for b in timings.breaches]
