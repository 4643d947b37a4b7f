"""The consultation report and the overdue list, with the CLI run at chosen moments."""
from __future__ import annotations

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
