"""The Laporan Hasil Konsultasi of a period (tickets/laporan_period.py) and the filing of a
Laporan PDF (tickets/laporan.file_pdf), in-process on the Feeder's in-memory desk."""
from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest

from kpudesk.tickets import walkin
from kpudesk.tickets.errors import UserError
from kpudesk.tickets.laporan import consultation_report, file_pdf
from kpudesk.tickets.laporan_period import consultations, parse_period, short
from kpudesk.tickets.merge import merge
from kpudesk.tickets.models import Event, MirrorItem, Ticket
from tests.corpus.hostile import party_mail
from tests.feeder import AHMAD, RINA, Feeder

DEWI = "Dewi Lestari"
OFFICERS = [{"name": RINA, "email": "rina@kpu-mesuji.example.org", "role": "anggota-helpdesk"},
            {"name": AHMAD, "email": "ahmad@kpu-mesuji.example.org", "role": "anggota-kpu"},
            {"name": DEWI, "email": "dewi@kpu-mesuji.example.org", "role": "koordinator-harian"}]
MONDAY = date(2026, 12, 1)


@pytest.fixture
def desk(tmp_path):
    return Feeder(tmp_path, extra={"officers": OFFICERS, "escalation": {"anggota": ["ahmad@kpu-mesuji.example.org"]}})


def visit(desk: Feeder, *, party="PKB", name="Hendra Gunawan", channel="tatap-muka", subject="Verifikasi faktual",
          message="Kapan jadwal verifikasi faktual keanggotaan?", phone="0812 7777 8888", at=None, evidence=()) -> Ticket:
    return walkin.register(walkin.WalkIn(channel=channel, party=party, name=name, subject=subject, message=message,
                                         phone=phone, evidence=tuple(evidence)),
                           registry=desk.app.registry, archive=desk.app.archive, clock=desk.clock,
                           officer=desk.officer(), at=at)


def report(desk: Feeder, start=None, end=None, **filters) -> dict:
    period = parse_period(start, end, today=desk.clock.now().astimezone(desk.settings.zone).date(),
                          registry=desk.app.registry, **filters)
    return consultations(period, tag="HD-MSJ", calendar=desk.app.calendar, now=desk.clock.now())


def refs(data: dict) -> list[str]:
    return [r["ref"] for r in data["rows"]]


def test_a_row_carries_identity_question_answer_escalation_sop_and_documentation(desk, tmp_path):
    photo = tmp_path / "foto.jpg"
    photo.write_bytes(b"\xff\xd8\xff\xe0 foto konsultasi" * 50)
    t = visit(desk, evidence=[photo])
    desk.advance(minutes=20)
    desk.escalate(t.id, note="mohon arahan")
    desk.advance(minutes=25)
    desk.app.officers.answer(Ticket.get_by_id(t.id), officer=desk.officer(), body="Jadwal diumumkan pekan depan.")
    (r,) = report(desk)["rows"]
    assert (r["ref"], r["name"], r["party"], r["phone"]) == (f"HD-MSJ #{t.id}", "Hendra Gunawan",
                                                            "Partai Kebangkitan Bangsa", "+6281277778888")
    assert (r["date"], r["time"], r["channel_label"]) == ("2026-12-01", "09.00", "Tatap muka")
    assert r["received_at_label"] == "1 Desember 2026 09.00 WIB"
    assert r["question"] == "Kapan jadwal verifikasi faktual keanggotaan?"
    (a,) = r["answers"]
    assert (a["by"], a["at_label"], a["text"]) == (RINA, "1 Desember 2026 09.45 WIB", "Jadwal diumumkan pekan depan.")
    assert a["delivery_label"] == "disampaikan langsung (tatap muka)"
    (e,) = r["escalations"]
    assert (e["to"], e["at_label"], e["by"]) == ("anggota", "1 Desember 2026 09.20 WIB", RINA)
    assert r["documentation"] == 1
    # answered after 45 service minutes against 30 (15 over); the escalation answered after
    # 25 against 15 (10 over): both in the SOP column, 25 minutes over in all
    assert r["overdue"] is True and r["overdue_minutes"] == 25
    assert r["sop_label"] == "Menjawab melebihi 15 menit; Eskalasi melebihi 10 menit"


def test_the_row_says_what_the_tickets_own_laporan_says(desk):
    t = visit(desk)
    desk.advance(minutes=5)
    desk.app.officers.answer(Ticket.get_by_id(t.id), officer=desk.officer(), body="Sudah dijawab.")
    (r,) = report(desk)["rows"]
    own = consultation_report(Ticket.get_by_id(t.id), tag="HD-MSJ", calendar=desk.app.calendar, now=desk.clock.now())
    assert r["timings"] == own["timings"]
    assert [x["delivery_label"] for x in r["answers"]] == [x["delivery_label"] for x in own["answers"]]
    assert r["sop_label"] == "Sesuai standar" and r["overdue"] is False


def test_the_period_is_whole_local_days_inclusive(desk):
    zone = desk.settings.zone
    desk.advance(days=2)  # Wednesday 3 December, 09.00: every visit below is in the past
    late = visit(desk, name="Larut", at=datetime(2026, 12, 1, 23, 30, tzinfo=zone))  # 16.30 UTC
    assert late.created_at.astimezone(UTC).day == 1
    early = visit(desk, name="Pagi", at=datetime(2026, 12, 2, 0, 0, tzinfo=zone))
    third = visit(desk, name="Rabu", at=datetime(2026, 12, 3, 8, 0, tzinfo=zone))
    assert refs(report(desk, "2026-12-01", "2026-12-01")) == [f"HD-MSJ #{late.id}"]
    assert refs(report(desk, "2026-12-02", "2026-12-02")) == [f"HD-MSJ #{early.id}"]
    assert refs(report(desk, "2026-12-01", "2026-12-03")) == [f"HD-MSJ #{t.id}" for t in (late, early, third)]
    assert report(desk, "2026-11-30", "2026-11-30")["rows"] == []


def test_defaults_are_today_and_from_alone_runs_to_today(desk):
    desk.advance(days=2)  # Wednesday 3 December
    today = desk.clock.now().astimezone(desk.settings.zone).date()
    p = parse_period(None, None, today=today)
    assert (p.start, p.end) == (today, today)
    p = parse_period("2026-12-01", None, today=today)
    assert (p.start, p.end) == (MONDAY, today)
    p = parse_period(None, "2026-12-02", today=today)
    assert (p.start, p.end) == (date(2026, 12, 2), date(2026, 12, 2))


def test_party_by_alias_and_channel_filter_the_rows(desk):
    pkb = visit(desk, party="PKB")
    pdip = visit(desk, party="PDIP", name="Lia", channel="pesan-online")
    chat_pkb = visit(desk, party="1", name="Rudi", channel="pesan-online")
    assert refs(report(desk, party="PDI-P")) == [f"HD-MSJ #{pdip.id}"]
    assert refs(report(desk, party="Partai Kebangkitan Bangsa")) == [f"HD-MSJ #{t.id}" for t in (pkb, chat_pkb)]
    assert refs(report(desk, channel="pesan-online")) == [f"HD-MSJ #{t.id}" for t in (pdip, chat_pkb)]
    data = report(desk, party="pkb", channel="tatap-muka")
    assert refs(data) == [f"HD-MSJ #{pkb.id}"]
    assert data["filters"]["party"] == "Partai Kebangkitan Bangsa" and data["filters"]["channel_label"] == "Tatap muka"


def test_voided_and_merged_tickets_are_left_out(desk):
    kept = visit(desk, name="Tetap")
    typo = visit(desk, name="Salah ketik")
    desk.app.officers.void(Ticket.get_by_id(typo.id), officer=desk.officer(DEWI), reason="tercatat dua kali")
    desk.deliver(party_mail("Lia <lia@pdip.example.org>", "Akun terkunci", "Akun Sipol PDI-P kami terkunci."))
    desk.advance(minutes=3)
    desk.deliver(party_mail("Lia <lia@pdip.example.org>", "Akun terkunci lagi", "Masih terkunci."))
    a, b = (t.id for t in Ticket.select().where(Ticket.channel == "email").order_by(Ticket.id))
    merge(b, a, actor=desk.officer(), clock=desk.clock)
    data = report(desk)
    assert refs(data) == [f"HD-MSJ #{kept.id}", f"HD-MSJ #{a}"]
    assert data["totals"]["tickets"] == 2


@pytest.mark.parametrize("start, end, filters, needle", [
    ("2026-02-30", None, {}, "tanggal dari tidak valid"),
    ("1-12-2026", None, {}, "gunakan YYYY-MM-DD"),
    (None, "kemarin", {}, "tanggal sampai tidak valid"),
    ("2026-12-05", "2026-12-01", {}, "sesudah tanggal akhir"),
    ("2025-01-01", "2026-12-01", {}, "periode terlalu panjang"),
    (None, None, {"party": "Partai Antah Berantah"}, "partai"),
    (None, None, {"channel": "telepon"}, "kanal tidak dikenal"),
])
def test_bad_input_is_a_clear_bahasa_error(desk, start, end, filters, needle):
    with pytest.raises(UserError) as err:
        report(desk, start, end, **filters)
    assert needle in str(err.value)


def test_short_cuts_long_text_at_a_word():
    text = "kata " * 100
    cut = short(text, 30)
    assert cut.endswith("…") and len(cut) <= 31 and "  " not in cut
    assert short("  satu\n dua  ") == "satu dua"


def test_a_period_pdf_is_archived_and_queued_for_the_cloud_folder_once(desk):
    pdf = b"%PDF-1.7 laporan periode"
    now = desk.clock.now()
    item = file_pdf(pdf, name="laporan-2026-12-01.pdf", archive=desk.app.archive, now=now, zone=desk.settings.zone,
                    actor=DEWI, tag="HD-MSJ", period={"from": "2026-12-01", "to": "2026-12-01"})
    assert item.remote_path == "2026/12/laporan/laporan-2026-12-01.pdf" and item.ticket_id is None
    assert item.sha256 == hashlib.sha256(pdf).hexdigest() and item.size == len(pdf)
    assert desk.app.archive.read(item.path) == pdf
    again = file_pdf(pdf, name="laporan-2026-12-01.pdf", archive=desk.app.archive, now=now + timedelta(minutes=1),
                     zone=desk.settings.zone, actor=DEWI, tag="HD-MSJ")
    assert again.id == item.id and MirrorItem.select().count() == 1
    changed = file_pdf(pdf + b" v2", name="laporan-2026-12-01.pdf", archive=desk.app.archive, now=now,
                       zone=desk.settings.zone, actor=DEWI, tag="HD-MSJ")
    assert changed.remote_path != item.remote_path and MirrorItem.select().count() == 2  # never overwritten
    filed = list(Event.select().where(Event.kind == "laporan.filed").order_by(Event.id))
    assert [e.actor for e in filed] == [DEWI] * 3 and filed[0].detail["period"]["from"] == "2026-12-01"


def test_a_tickets_pdf_goes_to_its_ticket_folder(desk):
    t = visit(desk)
    item = file_pdf(b"%PDF tiket", name=f"laporan-HD-MSJ-{t.id}.pdf", archive=desk.app.archive,
                    now=desk.clock.now(), zone=desk.settings.zone, actor=RINA, tag="HD-MSJ", ticket=t)
    assert item.ticket_id == t.id
    assert item.remote_path == f"2026/12/HD-MSJ-{t.id}/laporan-HD-MSJ-{t.id}.pdf"
    (event,) = Event.select().where((Event.kind == "laporan.filed") & (Event.ticket == t))
    assert event.detail["remote_path"] == item.remote_path
