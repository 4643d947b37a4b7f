"""Scheduled reports: slots sent once, Sipol progress with deltas and evidence, the daily recap."""
from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta, timezone
from email import message_from_bytes, policy
from zoneinfo import ZoneInfo

import pytest

from kpudesk.mailbox.render import Renderer
from kpudesk.tickets import outbox, reports
from kpudesk.tickets.archive import Archive
from kpudesk.tickets.clock import FrozenClock
from kpudesk.tickets.errors import ConfigError
from kpudesk.tickets.hours import ServiceCalendar
from kpudesk.tickets.models import Event, Message, Party, Ticket
from kpudesk.tickets.schema import close_database, open_database
from kpudesk.tickets.outbox import OutboxItem
from kpudesk.tickets.progress import import_csv
from kpudesk.tickets.replies import MailIdentity, Replies
from kpudesk.tickets.reports import (
    ReportSlot,
    claim_slot,
    latest_missed_slot,
    missed_slots,
    progress_report_data,
    recap_data,
    run_slot,
    send_progress_report,
    send_recap,
    slot_instant,
)
from tests.paths import DATA

ZONE = ZoneInfo("Asia/Jakarta")
WIB = timezone(timedelta(hours=7))
CAL = ServiceCalendar()
TO = ["ketua@kpu-mesuji.example.org", "anggota@kpu-mesuji.example.org"]
HEADER = "partai;pengurus;anggota;kantor;waktu\n"


def wib(h, mi=0, d=0) -> datetime:
    """Friday 27 November 2026 + d days, wall clock in Mesuji."""
    return datetime(2026, 11, 27 + d, h, mi, tzinfo=WIB).astimezone(UTC)


@pytest.fixture(autouse=True)
def database(tmp_path):
    open_database(f"sqlite:///{tmp_path}/t.db")
    for number, name, short in [(1, "Partai Kebangkitan Bangsa", "PKB"), (2, "Partai Gerakan Indonesia Raya", "Gerindra"),
                                (4, "Partai Golongan Karya", "Golkar")]:
        Party.create(number=number, name=name, short=short)
    yield
    close_database()


class Desk:
    def __init__(self, root):
        self.clock = FrozenClock(wib(7, 0))
        self.archive = Archive(root / "archive")
        me = MailIdentity(name="Helpdesk KPU Kabupaten Mesuji", address="helpdesk@kpu-mesuji.example.org",
                          tag="HD-MSJ", msgid_domain="kpu-mesuji.example.org", secret=b"k" * 32,
                          loop_header="X-KPUDesk-Loop")
        self.replies = Replies(me, Renderer(), CAL, self.clock)

    def at(self, when: datetime) -> Desk:
        self.clock.set(when)
        return self

    def import_(self, text: str, *evidence):
        return import_csv(text, evidence_files=evidence, archive=self.archive, clock=self.clock, zone=ZONE,
                          actor="Rina Wulandari")

    def progress(self, slot=None, late=False, to=TO):
        return send_progress_report(replies=self.replies, archive=self.archive, clock=self.clock, zone=ZONE,
                                    recipients=to, slot=slot, late=late)

    def progress_slot(self, d: str, hhmm: str, late=False):
        return run_slot("progress", d, hhmm, now=self.clock.now(), late=late, send=lambda slot: self.progress(slot))

    def recap(self, **kw):
        return send_recap(replies=self.replies, clock=self.clock, zone=ZONE, calendar=CAL, recipients=TO, **kw)


@pytest.fixture
def desk(tmp_path):
    return Desk(tmp_path)


def mail(item: OutboxItem):
    from kpudesk.mailbox.compose import compose, from_record
    from kpudesk.tickets.outbox import materialize
    data = materialize(item, lambda record: compose(from_record(record)))  # as delivery does
    return message_from_bytes(data, policy=policy.default)


def text_of(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


# --- slots ------------------------------------------------------------------------------------


def test_slot_instant_is_local_time():
    assert slot_instant("2026-11-27", "08:00", ZONE) == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    assert slot_instant("2026-11-27", "8.05", ZONE) == datetime(2026, 11, 27, 1, 5, tzinfo=UTC)


def test_a_slot_is_claimed_once():
    first = claim_slot("progress", "2026-11-27", "08:00", now=wib(8), late=False)
    assert first is not None and first.status == "claimed"
    assert claim_slot("progress", "2026-11-27", "08:00", now=wib(8), late=False) is None
    assert claim_slot("progress", "2026-11-27", "17:00", now=wib(17), late=False) is not None
    assert claim_slot("recap", "2026-11-27", "08:00", now=wib(8), late=False) is not None
    assert ReportSlot.select().count() == 3


def test_two_daemons_racing_send_one_mail(desk):
    desk.at(wib(8)).import_(HEADER + "PKB;1;2;3;\n")
    first = desk.progress_slot("2026-11-27", "08:00")
    second = desk.progress_slot("2026-11-27", "08:00")
    assert first is not None and second is None
    assert OutboxItem.select().where(OutboxItem.kind == "report").count() == 1
    slot = ReportSlot.get()
    assert (slot.status, slot.outbox_item_id, slot.report_at, slot.late) == ("sent", first.id, wib(8), False)


def test_a_failed_send_leaves_the_slot_unclaimed(desk):
    def boom(slot):
        raise RuntimeError("renderer exploded")

    claim_slot("recap", "2026-11-26", "17:05", now=wib(17, 5, d=-1), late=False)
    with pytest.raises(RuntimeError):
        run_slot("recap", "2026-11-27", "17:05", now=wib(17, 5), late=False, send=boom)
    assert ReportSlot.select().count() == 1
    assert latest_missed_slot("recap", ["17:05"], wib(17, 30), ZONE) == ("2026-11-27", "17:05", True)


def test_missed_slots_today_and_yesterday_and_only_the_latest_is_caught_up():
    times = ["08:00", "17:00"]
    now = wib(12, 0)
    claim_slot("progress", "2026-11-25", "17:00", now=wib(17, 0, d=-2), late=False)  # the daemon ran before
    assert missed_slots("progress", times, now, ZONE) == [
        ("2026-11-26", "08:00"), ("2026-11-26", "17:00"), ("2026-11-27", "08:00")]
    assert latest_missed_slot("progress", times, now, ZONE) == ("2026-11-27", "08:00", True)
    # within LATE_AFTER of the slot it is not "terlambat"
    assert latest_missed_slot("progress", times, wib(8, 10), ZONE) == ("2026-11-27", "08:00", False)
    # once the latest is claimed the older ones are superseded, not sent on the next start
    claim_slot("progress", "2026-11-27", "08:00", now=now, late=True)
    assert missed_slots("progress", times, now, ZONE) == []
    assert missed_slots("progress", times, wib(18, 0), ZONE) == [("2026-11-27", "17:00")]


def test_a_new_installation_sends_nothing_late():
    times = ["08:00", "17:00"]
    assert latest_missed_slot("progress", times, wib(16, 58), ZONE) is None
    assert [(s.slot_date, s.slot_time, s.status) for s in ReportSlot.select()] == [("2026-11-27", "08:00", "skipped")]
    assert reports.last_report_at("progress", wib(17)) is None
    # from then on the schedule runs normally, and a later outage is caught up
    assert missed_slots("progress", times, wib(17, 0), ZONE, lookback_days=0) == [("2026-11-27", "17:00")]
    assert latest_missed_slot("progress", times, wib(9, 0, d=1), ZONE) == ("2026-11-28", "08:00", True)


def test_a_new_installation_started_at_slot_time_sends_it_on_time():
    assert latest_missed_slot("progress", ["08:00", "17:00"], wib(8, 5), ZONE) == ("2026-11-27", "08:00", False)
    assert ReportSlot.select().count() == 0


def test_missed_slots_after_an_older_claim():
    claim_slot("recap", "2026-11-25", "17:05", now=wib(17, 5, d=-2), late=False)
    assert missed_slots("recap", ["17:05"], wib(9, 0), ZONE) == [("2026-11-26", "17:05")]
    assert missed_slots("recap", ["17:05"], wib(9, 0), ZONE, lookback_days=0) == []
    assert missed_slots("recap", ["17:05"], wib(17, 6), ZONE) == [("2026-11-26", "17:05"), ("2026-11-27", "17:05")]


# --- the progress report ------------------------------------------------------------------------


def test_progress_reports_over_a_day(desk, tmp_path):
    shot1 = tmp_path / "dasbor-0745.png"
    shot1.write_bytes(b"\x89PNG pagi")
    shot2 = tmp_path / "dasbor-1645.png"
    shot2.write_bytes(b"\x89PNG sore")

    # 07:50 the officer imports; 08:00 the first report ever
    desk.at(wib(7, 50)).import_(HEADER + "PKB;10;1.000;1;2026-11-27 07:45\nGolkar;5;50;1;2026-11-27 07:45\n", shot1)
    item = desk.at(wib(8, 0)).progress_slot("2026-11-27", "08:00")
    msg = mail(item)
    assert msg["Subject"] == "[HD-MSJ] Laporan Progres Sipol – Jumat, 27 November 2026 pukul 08.00 WIB"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert item.recipients == TO and item.kind == "report" and item.ticket_id is None
    files = {p.get_filename(): p.get_content() for p in msg.iter_attachments()}
    assert files == {"dasbor-0745.png": b"\x89PNG pagi"}
    assert msg.get_body(preferencelist=("html",)) is not None
    body = text_of(msg)
    assert "Belum ada laporan sebelumnya" in body
    assert "Tidak ada snapshot baru" not in body
    assert hashlib.sha256(b"\x89PNG pagi").hexdigest() in body
    line = next(x for x in body.splitlines() if "PKB" in x)
    assert line.split() == ["1", "PKB", "10", "—", "1.000", "—", "1", "—", "07.45", "WIB"]

    # 16:50 only PKB is re-read; 17:00 report: deltas against the 08:00 report
    desk.at(wib(16, 50)).import_(HEADER + "PKB;12;1.250;2;2026-11-27 16:45\n", shot2)
    data = progress_report_data(wib(17, 0), ZONE, reports.last_report_at("progress", wib(17, 0)))
    assert data["since"] == "2026-11-27T08:00:00+07:00"
    rows = {r["short"]: r for r in data["parties"]}
    assert [r["number"] for r in data["parties"]] == [1, 4]
    assert rows["PKB"]["delta"] == {"officials": 2, "members": 250, "offices": 1} and rows["PKB"]["fresh"]
    assert rows["PKB"]["taken_at"] == "2026-11-27T16:45:00+07:00"
    assert rows["Golkar"]["delta"] == {"officials": 0, "members": 0, "offices": 0} and not rows["Golkar"]["fresh"]
    assert data["no_new_snapshot"] is False
    assert [e["filename"] for e in data["evidence"]] == ["dasbor-1645.png"]
    assert data["totals"] == {"officials": 17, "members": 1300, "offices": 3}
    json.dumps(data)

    item = desk.at(wib(17, 0)).progress_slot("2026-11-27", "17:00")
    body = text_of(mail(item))
    pkb = next(x for x in body.splitlines() if " PKB " in x)
    assert pkb.split() == ["1", "PKB", "12", "+2", "1.250", "+250", "2", "+1", "16.45", "WIB"]
    golkar = next(x for x in body.splitlines() if " Golkar " in x)
    assert golkar.rstrip().endswith("07.45 WIB (belum diperbarui)")
    assert {p.get_filename() for p in mail(item).iter_attachments()} == {"dasbor-1645.png"}

    # an extra manual report at 17:30 does not move the baseline
    desk.at(wib(17, 30)).progress()
    assert reports.last_report_at("progress", wib(8, 0, d=1)) == wib(17, 0)

    # next morning nothing new was imported: said plainly
    item = desk.at(wib(8, 0, d=1)).progress_slot("2026-11-28", "08:00")
    body = text_of(mail(item))
    assert "\nTidak ada snapshot baru sejak laporan sebelumnya.\n" in body
    assert "Tidak ada berkas bukti baru sejak laporan sebelumnya." in body
    assert list(mail(item).iter_attachments()) == []
    pkb = next(x for x in body.splitlines() if " PKB " in x)
    assert pkb.split()[:8] == ["1", "PKB", "12", "0", "1.250", "0", "2", "0"]
    assert "27 November 2026 16.45 WIB (belum diperbarui)" in pkb
    slot = ReportSlot.get((ReportSlot.slot_date == "2026-11-28"))
    assert slot.detail["no_new_snapshot"] is True


def test_late_progress_report_says_so(desk):
    desk.at(wib(7, 0)).import_(HEADER + "PKB;1;2;3;\n")
    item = desk.at(wib(9, 40)).progress_slot("2026-11-27", "08:00", late=True)
    msg = mail(item)
    assert msg["Subject"] == "[HD-MSJ] Laporan Progres Sipol – Jumat, 27 November 2026 pukul 08.00 WIB (terlambat)"
    body = text_of(msg)
    assert "laporan ini terlambat dari jadwal pukul 08.00 WIB" in body
    assert "Jumat, 27 November 2026 pukul 09.40 WIB" in body
    assert ReportSlot.get().late is True


def test_progress_report_without_any_data(desk):
    data = progress_report_data(wib(8), ZONE, None)
    assert data["parties"] == [] and data["no_new_snapshot"] is True
    body = text_of(mail(desk.at(wib(8)).progress()))
    assert "Belum ada data progres Sipol yang diimpor" in body


def test_progress_report_lists_open_questions_of_the_parties(desk):
    desk.at(wib(7, 0)).import_(HEADER + "PKB;1;2;3;\n")
    pkb = Party.get(Party.short == "PKB")
    t = Ticket.create(status="baru", subject="Akun Sipol terkunci", party=pkb, flags={}, created_at=wib(7),
                      updated_at=wib(7))
    data = progress_report_data(wib(8), ZONE, None)
    assert [(q["ref"], q["party"], q["subject"]) for q in data["open_questions"]] == [
        (f"HD-MSJ #{t.id}", "PKB", "Akun Sipol terkunci")]


def test_sending_needs_recipients(desk):
    with pytest.raises(ConfigError) as exc:
        desk.progress(to=[])
    assert exc.value.key == "reports.progress_to"
    with pytest.raises(ConfigError) as exc:
        send_recap(replies=desk.replies, clock=desk.clock, zone=ZONE, calendar=CAL, recipients=())
    assert exc.value.key == "reports.recap_to"
    assert OutboxItem.select().count() == 0


# --- the daily recap --------------------------------------------------------------------------


OFFICER = "Rina Wulandari"


def _ticket(created, *, channel="email", party=None, requester="lo@partai.example.org", name=None):
    t = Ticket.create(status="baru", subject=f"Pertanyaan {created:%H%M}", channel=channel, requester=requester,
                      requester_name=name, party=party, flags={}, created_at=created, updated_at=created)
    Event.create(ticket=t, at=created, actor=requester if channel == "email" else OFFICER, kind="ticket.created",
                 detail={"channel": channel})
    return t


def _ev(t, at, kind, actor=OFFICER, **detail):
    Event.create(ticket=t, at=at, actor=actor, kind=kind, detail=detail)


def _status(t, at, new, actor=OFFICER):
    _ev(t, at, "ticket.status", actor, **{"from": t.status, "to": new})
    t.status = new
    t.save()


@pytest.fixture
def day():
    """Friday's helpdesk, with a ticket left over from Thursday."""
    pkb = Party.get(Party.short == "PKB")
    gerindra = Party.get(Party.short == "Gerindra")
    t1 = _ticket(wib(9, 0), party=pkb, name="Siti")
    _ev(t1, wib(9, 4), "ticket.note")
    _ev(t1, wib(9, 25), "ticket.answered")
    _status(t1, wib(9, 25), "dijawab")
    t2 = _ticket(wib(10, 0), party=gerindra, requester="dpc@gerindra.example.org")
    _ev(t2, wib(10, 15), "ticket.note")
    _ev(t2, wib(10, 20), "ticket.escalated", to="anggota")
    _status(t2, wib(10, 20), "eskalasi-anggota")
    t3 = _ticket(wib(11, 0), channel="tatap-muka", requester=None, name="Budi")
    _ev(t3, wib(11, 10), "ticket.answered")
    _status(t3, wib(11, 10), "dijawab")
    _status(t3, wib(11, 30), "selesai")
    t4 = _ticket(wib(16, 0, d=-1), party=pkb)  # Thursday, never picked up
    t5 = _ticket(wib(16, 59), party=pkb)
    for i, (when, disposition) in enumerate([(wib(9, 30), "spam_held"), (wib(9, 31), "spam_held"),
                                             (wib(9, 32), "released"), (wib(9, 0, d=-1), "spam_held"),
                                             (wib(9, 33), "spam_dismissed")]):
        Message.create(direction="in", disposition=disposition, identity=f"spam-{i}", created_at=when)
    item = outbox.enqueue(kind="followup", sender="helpdesk@kpu-mesuji.example.org", recipients=["lo@partai.example.org"],
                          message_id="f1@kpu-mesuji.example.org", data=b"x", now=wib(12), ticket=t1)
    outbox.mark_sent(item.id, wib(12, 1))
    return {"t1": t1, "t2": t2, "t3": t3, "t4": t4, "t5": t5}


def test_recap_figures(day):
    t1, t2, t3, t4, t5 = (day[k] for k in ("t1", "t2", "t3", "t4", "t5"))
    r = recap_data("2026-11-27", CAL, wib(17, 5))
    json.dumps(r)
    assert r["date"] == "2026-11-27" and r["day_label"] == "Jumat, 27 November 2026"
    assert r["totals"] == {"new": 4, "answered": 2, "answers": 2, "escalated": 1, "escalated_anggota": 1,
                           "escalated_provinsi": 0, "escalation_answers": 0, "closed": 1, "reopened": 0}
    assert {c["channel"]: c["count"] for c in r["by_channel"]} == {
        "email": 3, "tatap-muka": 1, "pesan-online": 0, "pertemuan-online": 0}
    assert {s["status"]: s["count"] for s in r["by_status"]} == {
        "baru": 1, "dijawab": 1, "selesai": 1, "eskalasi-anggota": 1, "eskalasi-provinsi": 0}
    assert [(p["number"], p["short"], p["count"]) for p in r["by_party"]] == [
        (1, "PKB", 2), (2, "Gerindra", 1), (None, "Tidak diketahui", 1)]

    timing = r["timing"]
    assert timing["averages"] == {"receive": round(19 / 3, 1), "answer": 17.5, "escalate": None}
    assert timing["measured"] == {"receive": 3, "answer": 2, "escalate": 0}
    assert timing["within"] == {"receive": 2, "answer": 2, "escalate": 0}
    rows = {x["id"]: x for x in timing["tickets"]}
    assert set(rows) == {t1.id, t2.id, t3.id, t5.id}
    assert (rows[t1.id]["receive_minutes"], rows[t1.id]["answer_minutes"]) == (4, 25)
    assert rows[t5.id]["receive_running"] and rows[t5.id]["receive_minutes"] == 1  # 16:59 → closing time 17:00
    assert rows[t2.id]["overdue"] and rows[t2.id]["escalation_running"]

    breaches = [(b["ref"], b["label"], b["over_minutes"], b["running"]) for b in r["breaches"]]
    assert breaches == [
        (f"HD-MSJ #{t2.id}", "Penerimaan", 5.0, False),
        (f"HD-MSJ #{t2.id}", "Menjawab", 390.0, True),  # 10:00 → 17:00 closing, standard 30
        (f"HD-MSJ #{t2.id}", "Eskalasi", 385.0, True),  # 10:20 → 17:00, standard 15
    ]

    oq = r["open_questions"]
    assert [(q["id"], q["status"], q["overdue"]) for q in oq] == [
        (t4.id, "baru", True), (t2.id, "eskalasi-anggota", True), (t5.id, "baru", False)]
    assert oq[1]["since_at"] == "2026-11-27T10:20:00+07:00" and oq[1]["party"] == "Gerindra"
    assert oq[1]["requester"] == "dpc@gerindra.example.org"
    assert r["spam"] == {"held": 4, "still_held": 2, "released": 1, "dismissed": 1}  # dismissed: seen, confirmed spam
    assert r["followups"] == {"queued": 1, "sent": 1, "tickets": [f"HD-MSJ #{t1.id}"]}


def test_recap_of_a_past_day_is_measured_to_its_end(day):
    t4 = day["t4"]
    r = recap_data("2026-11-26", CAL, wib(17, 5))
    assert r["totals"]["new"] == 1 and r["measured_at"] == "2026-11-26T23:59:59+07:00"
    row = r["timing"]["tickets"][0]
    assert row["id"] == t4.id and row["answer_minutes"] == 60 and row["answer_running"]
    assert r["spam"]["held"] == 1


def test_recap_status_is_the_one_at_the_end_of_that_day(day):
    t2 = day["t2"]
    _status(t2, wib(9, 0, d=1), "selesai")
    r = recap_data("2026-11-27", CAL, wib(10, 0, d=1))
    assert {s["status"]: s["count"] for s in r["by_status"]}["eskalasi-anggota"] == 1
    assert r["totals"]["closed"] == 1  # Saturday's close is not Friday's


def test_recap_mail(day, desk):
    item = desk.at(wib(17, 5)).recap(slot=claim_slot("recap", "2026-11-27", "17:05", now=wib(17, 5), late=False))
    msg = mail(item)
    assert msg["Subject"] == "[HD-MSJ] Rekapitulasi Harian Layanan Helpdesk – Jumat, 27 November 2026"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_body(preferencelist=("html",)) is not None
    body = text_of(msg)
    t2 = day["t2"]
    assert "Konsultasi baru           : 4" in body
    assert (f"- HD-MSJ #{t2.id} (Gerindra): Menjawab 420 menit, melewati standar 30 menit sebanyak 390 menit "
            "(masih berjalan)") in body
    assert f"HD-MSJ #{day['t4'].id}" in body and "Spam ditahan hari ini     : 4 (masih ditahan 2, dilepas petugas 1, dipastikan spam 1)" in body
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "<table" in html and f"HD-MSJ #{t2.id}" in html
    assert ReportSlot.get().status == "sent"


def test_late_recap_of_yesterday(day, desk):
    item = desk.at(wib(7, 30, d=1)).recap(slot=claim_slot("recap", "2026-11-27", "17:05", now=wib(7, 30, d=1),
                                                          late=True))
    msg = mail(item)
    assert msg["Subject"].endswith("Jumat, 27 November 2026 (terlambat)")
    assert "rekapitulasi ini terlambat dari jadwal" in text_of(msg)


# --- the command line -----------------------------------------------------------------------------


def test_cli_reports(tmp_path, imap_user):

    from tests.desk import Desk

    example = DATA / "progress_example.csv"
    cli = Desk(tmp_path / "desk", imap_user, extra='\n[reports]\nrecap_to = ["ketua@kpu-mesuji.example.org"]\n')
    assert cli.run("progress", "import", str(example), "--as", "Rina Wulandari").code == 0

    data = cli.json("report", "progress")
    assert [p["short"] for p in data["parties"]] == ["PKB", "Gerindra", "PDI Perjuangan", "Golkar", "NasDem"]
    assert data["since"] is None and data["no_new_snapshot"] is False
    r = cli.run("report", "progress")
    assert r.code == 0 and "LAPORAN PROGRES PENGISIAN DATA SIPOL" in r.out and " PKB " in r.out
    r = cli.run("report", "progress", "--date", "2026-11-26")  # before the readings were imported
    assert r.code == 0 and "Belum ada data progres Sipol" in r.out

    recap = cli.json("report", "recap", "--date", "2026-11-27")
    assert recap["date"] == "2026-11-27" and recap["totals"]["new"] == 0
    assert {"by_channel", "by_status", "by_party", "timing", "breaches", "open_questions", "spam",
            "followups"} <= set(recap)
    r = cli.run("report", "recap", "--date", "2026-11-27")
    assert r.code == 0 and "REKAPITULASI HARIAN LAYANAN HELPDESK" in r.out and "Jumat, 27 November 2026" in r.out

    r = cli.run("report", "progress", "--send")
    assert r.code == 2 and "reports.progress_to" in r.err
    r = cli.run("report", "progress", "--send", "--date", "2026-11-27")
    assert r.code == 1
    r = cli.run("report", "recap", "--date", "2026-11-27", "--send", "--json")
    assert r.code == 0, r.err
    queued = r.json()
    assert queued["to"] == ["ketua@kpu-mesuji.example.org"] and queued["kind"] == "report"
    assert queued["subject"] == "[HD-MSJ] Rekapitulasi Harian Layanan Helpdesk – Jumat, 27 November 2026"
    r = cli.run("report", "recap", "--date", "2026-13-01")
    assert r.code == 2
    cli.app()
    assert OutboxItem.select().where(OutboxItem.kind == "report").count() == 1
    assert ReportSlot.select().count() == 0  # a manual send claims no slot
