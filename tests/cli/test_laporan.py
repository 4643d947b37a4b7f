"""The consultation report and the overdue list, with the CLI run at chosen moments."""
from __future__ import annotations

import re

import pytest

from tests.corpus.hostile import party_mail
from tests.desk import Desk
from tests.frozen_kpudesk import freeze


@pytest.fixture
def desk(tmp_path, imap_user, smtp_server, monkeypatch):
    d = Desk(tmp_path / "desk", imap_user, smtp=smtp_server,
             extra='\n[escalation]\nanggota = ["anggota@kpu-mesuji.example.org"]\n')
    freeze(monkeypatch, "2026-11-27T09:00:00+07:00")
    return d


def at(monkeypatch, when):
    freeze(monkeypatch, when)


def test_overdue_lists_tickets_past_the_sop_standard_in_service_minutes(desk, imap_user, monkeypatch):
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya", "Bagaimana cara login Sipol?"))
    desk.json("poll")
    (t,) = desk.json("tickets", "list")
    at(monkeypatch, "2026-11-27T09:05:00+07:00")
    assert desk.json("tickets", "list", "--overdue") == []
    at(monkeypatch, "2026-11-27T09:15:00+07:00")  # 15 service minutes, receive standard is 10
    assert [x["id"] for x in desk.json("tickets", "list", "--overdue")] == [t["id"]]


def test_overdue_does_not_count_night_hours(desk, imap_user, monkeypatch):
    at(monkeypatch, "2026-11-27T16:55:00+07:00")
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya sore", "isi"))
    desk.json("poll")
    at(monkeypatch, "2026-11-28T07:59:00+07:00")  # 5 service minutes so far
    assert desk.json("tickets", "list", "--overdue") == []
    at(monkeypatch, "2026-11-28T08:06:00+07:00")  # 11 service minutes
    assert len(desk.json("tickets", "list", "--overdue")) == 1


def test_consultation_report_has_identity_problem_answer_escalation_and_timings(desk, imap_user, monkeypatch, tmp_path):
    imap_user.append("INBOX", party_mail("Budi <budi@gelora.example.org>", "Keanggotaan ganda",
                                         "Saya Budi dari Partai Gelora, HP 0812-1111-2222. Bolehkah anggota ganda?"))
    desk.json("poll")
    (t,) = desk.json("tickets", "list")
    at(monkeypatch, "2026-11-27T09:20:00+07:00")
    assert desk.run("tickets", "escalate", str(t["id"]), "--to", "anggota", "--as", "Rina Wulandari").code == 0
    at(monkeypatch, "2026-11-27T10:00:00+07:00")
    assert desk.run("tickets", "reply", str(t["id"]), "--message", "Tidak boleh ganda.", "--as", "Rina Wulandari").code == 0
    data = desk.json("laporan", str(t["id"]))
    assert data["identity"]["name"] == "Budi"
    assert data["identity"]["party"] == "Partai Gelombang Rakyat Indonesia"
    assert data["identity"]["phone"] == "+6281211112222"
    assert "anggota ganda" in data["problem"][0]["text"]
    assert "Tidak boleh ganda." in data["answers"][0]["text"] and data["answers"][0]["by"] == "Rina Wulandari"
    assert data["escalations"][0]["to"] == "anggota"
    steps = {s["step"]: s for s in data["timings"]}
    assert steps["receive"]["minutes"] == 20 and steps["receive"]["over"] == 10
    assert steps["answer"]["minutes"] == 60 and steps["answer"]["over"] == 30
    text = desk.run("laporan", str(t["id"])).out
    assert "LAPORAN HASIL KONSULTASI" in text and "MELEBIHI 10" in text and "Budi" in text
    html = tmp_path / "laporan.html"
    assert desk.run("laporan", str(t["id"]), "--html", str(html)).code == 0
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>") and "Melebihi 30 menit" in page


def test_ticket_show_flags_the_breached_step_with_minutes_over(desk, imap_user, monkeypatch):
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya", "isi"))
    desk.json("poll")
    (t,) = desk.json("tickets", "list")
    at(monkeypatch, "2026-11-27T09:45:00+07:00")
    shown = desk.json("tickets", "show", str(t["id"]))
    assert shown["timings"]["overdue"] is True
    steps = {b["step"]: b for b in shown["timings"]["breaches"]}
    assert steps["receive"]["over"] == 35 and steps["answer"]["over"] == 15
    assert "MELEWATI STANDAR: Penerimaan 45 menit" in desk.run("tickets", "show", str(t["id"])).out


# --- issue 12 items 11, 12, 13, 15 through the command line ------------------------------------

KOORDINATOR = '\n[[officers]]\nname = "Sari Dewi"\nemail = "sari@kpu-mesuji.example.org"\nrole = "koordinator-harian"\n'


@pytest.fixture
def walkin_desk(tmp_path, imap_user, smtp_server, monkeypatch):
    d = Desk(tmp_path / "desk", imap_user, smtp=smtp_server, extra=KOORDINATOR)
    freeze(monkeypatch, "2026-11-27T09:00:00+07:00")
    return d


def visit(desk) -> dict:
    return desk.json("tickets", "new", "--channel", "tatap-muka", "--party", "PKB", "--name", "Hendra Gunawan",
                     "--subject", "Verifikasi faktual", "--message", "Kapan jadwal verifikasi faktual?",
                     "--as", "Rina Wulandari")


def test_a_walk_in_answered_in_person_reads_right_in_the_printed_laporan(walkin_desk, monkeypatch):
    desk = walkin_desk
    t = visit(desk)
    at(monkeypatch, "2026-11-27T09:40:00+07:00")
    r = desk.run("tickets", "answer", str(t["id"]), "--message", "Jadwal diumumkan lewat Sipol minggu depan.",
                 "--as", "Rina Wulandari", "--at", "2026-11-27 09:15")
    assert r.code == 0, r.err
    assert "dicatat" in r.out and "27 November 2026 09.15 WIB" in r.out
    assert desk.run("tickets", "close", str(t["id"]), "--as", "Rina Wulandari").code == 0
    data = desk.json("laporan", str(t["id"]))
    assert data["answers"][0]["delivery"] == "given" and data["ticket"]["assignee"] == "Rina Wulandari"
    steps = {s["step"]: s for s in data["timings"]}
    assert steps["answer"]["minutes"] == 15 and steps["answer"]["remark"] == "Sesuai standar"
    text = desk.run("laporan", str(t["id"])).out
    assert "(belum dijawab)" not in text and "Jadwal diumumkan lewat Sipol" in text
    assert "Petugas       : Rina Wulandari" in text
    assert "disampaikan langsung (tatap muka)" in text and "(surel:" not in text
    assert "Diterima      : 27 November 2026 09.00 WIB" in text
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text)


@pytest.mark.parametrize("args, needle", [
    (["--at", "besok pagi"], "waktu tidak valid"),
    (["--at", "2026-11-28 09:00"], "masa depan"),
    (["--at", "2026-11-26 09:00"], "lebih awal"),
    (["--message", "  "], "kosong"),
])
def test_a_bad_in_person_answer_is_refused_in_one_line(walkin_desk, args, needle):
    t = visit(walkin_desk)
    base = ["tickets", "answer", str(t["id"]), "--message", "Jawaban", "--as", "Rina Wulandari"]
    r = walkin_desk.run(*base, *args)
    assert r.code == 1 and needle in r.err and "Traceback" not in r.err and len(r.err.strip().splitlines()) == 1
    assert walkin_desk.json("tickets", "show", str(t["id"]))["status"] == "baru"


def test_replying_to_an_unassigned_ticket_makes_the_answerer_its_officer(walkin_desk, imap_user, monkeypatch):
    imap_user.append("INBOX", party_mail("lo@pkb.example.org", "Tanya", "Bagaimana cara login Sipol?"))
    walkin_desk.json("poll")
    (t,) = walkin_desk.json("tickets", "list")
    assert t["assignee"] is None
    assert walkin_desk.run("tickets", "reply", str(t["id"]), "--message", "Lihat panduan.", "--as", "Rina Wulandari").code == 0
    shown = walkin_desk.json("tickets", "show", str(t["id"]))
    assert shown["assignee"] == "Rina Wulandari"
    assert [e["detail"]["to"] for e in shown["events"] if e["kind"] == "ticket.assigned"] == ["Rina Wulandari"]
    assert "Petugas       : Rina Wulandari" in walkin_desk.run("laporan", str(t["id"])).out


def test_a_voided_test_entry_leaves_the_recap_but_keeps_its_trail(walkin_desk, monkeypatch):
    desk = walkin_desk
    kept, mistake = visit(desk), visit(desk)
    r = desk.run("tickets", "void", str(mistake["id"]), "--reason", "entri uji", "--as", "Rina Wulandari")
    assert r.code == 1 and "koordinator" in r.err
    r = desk.run("tickets", "void", f"[HD-MSJ #{mistake['id']}]", "--reason", "entri uji", "--as", "Sari Dewi")
    assert r.code == 0, r.err
    assert desk.run("tickets", "void", str(mistake["id"]), "--as", "Sari Dewi").code == 2  # --reason is required
    at(monkeypatch, "2026-11-27T17:05:00+07:00")
    recap = desk.json("report", "recap")
    assert recap["totals"]["new"] == 1 and [x["id"] for x in recap["timing"]["tickets"]] == [kept["id"]]
    assert [q["id"] for q in recap["open_questions"]] == [kept["id"]]
    assert [x["id"] for x in desk.json("tickets", "list", "--overdue")] == [kept["id"]]
    shown = desk.json("tickets", "show", str(mistake["id"]))
    assert shown["flags"]["void"]["reason"] == "entri uji"
    assert any(e["kind"] == "ticket.voided" and e["actor"] == "Sari Dewi" for e in shown["events"])


def test_a_visit_written_up_later_is_registered_at_its_own_time(walkin_desk, monkeypatch):
    """walkin.register(at=...): the domain side of `tickets new --at` (the CLI flag is in
    daemon/commands/tickets.py)."""
    from datetime import datetime

    from kpudesk.tickets import walkin
    from kpudesk.tickets.clock import FrozenClock

    at(monkeypatch, "2026-11-27T16:00:00+07:00")
    app = walkin_desk.app(clock=FrozenClock(datetime.fromisoformat("2026-11-27T16:00:00+07:00")))
    when = walkin.parse_when("2026-11-27 09:30", app.settings.zone, app.clock.now())
    t = walkin.register(walkin.WalkIn(channel="tatap-muka", party="PKB", name="Hendra", subject="Tanya",
                                      message="Tanya langsung"),
                        registry=app.registry, archive=app.archive, clock=app.clock,
                        officer=app.settings.officer("Rina Wulandari"), at=when)
    data = walkin_desk.json("laporan", str(t.id))
    assert data["ticket"]["created_at"] == "2026-11-27T09:30:00+07:00"
    assert data["problem"][0]["at"] == "2026-11-27T09:30:00+07:00"
    assert walkin_desk.json("bukutamu", "--date", "2026-11-27")[0]["time"].startswith("2026-11-27T09:30")
    steps = {s["step"]: s for s in data["timings"]}
    assert steps["receive"]["minutes"] == 0  # the officer who wrote it up received it
    with pytest.raises(walkin.UserError, match="masa depan"):
        walkin.register(walkin.WalkIn(channel="tatap-muka", party="PKB", name="X", subject="S", message="M"),
                        registry=app.registry, archive=app.archive, clock=app.clock,
                        officer=app.settings.officer("Rina Wulandari"),
                        at=datetime.fromisoformat("2026-11-27T23:00:00+07:00"))
