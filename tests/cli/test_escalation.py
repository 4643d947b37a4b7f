"""The escalation chain end to end on real Dovecot + SMTP.

The desk trusts its receiving server's Authentication-Results (`tests.auth_mail`); a
genuine answer from the member or the Provinsi carries that server's dmarc=pass (issue 11:
a From: line alone is no longer an answer). Forged answers: tests/e2e/test_forged_senders.py.
"""
from __future__ import annotations

import pytest

from tests.auth_mail import MAIL_SETTINGS, trusted
from tests.corpus.hostile import party_mail
from tests.desk import Desk

ANGGOTA = "anggota@kpu-mesuji.example.org"
PROVINSI = "helpdesk@kpu-lampung.example.org"
EXTRA = f"""
[escalation]
anggota = ["{ANGGOTA}"]
provinsi = "{PROVINSI}"
provinsi_ticket_pattern = "\\\\[Tiket#(\\\\d+)\\\\]"
""" + MAIL_SETTINGS


@pytest.fixture
def desk(tmp_path, imap_user, smtp_server):
    return Desk(tmp_path / "desk", imap_user, smtp=smtp_server, extra=EXTRA)


def open_ticket(desk, imap_user, question="Apakah anggota partai boleh ganda dengan partai lain di Mesuji?"):
    imap_user.append("INBOX", party_mail("Siti <siti@psi.example.org>", "Keanggotaan ganda", question,
                                         message_id="<q@psi.example.org>"))
    desk.json("poll")
    desk.json("send")
    (t,) = desk.json("tickets", "list")
    return t


def sent_to(smtp_server, addr):
    return [m.message for m in smtp_server.messages if addr in m.rcpt_tos]


def test_escalation_to_the_member_and_the_answer_comes_back_internal(desk, imap_user, smtp_server):
    t = open_ticket(desk, imap_user)
    r = desk.run("tickets", "escalate", str(t["id"]), "--to", "anggota", "--message", "Mohon arahan.", "--as", "Rina Wulandari")
    assert r.code == 0, r.err
    assert desk.json("tickets", "show", str(t["id"]))["status"] == "eskalasi-anggota"
    desk.json("send")
    (esc,) = sent_to(smtp_server, ANGGOTA)
    body = esc.get_body(("plain",)).get_content()
    assert f"HD-MSJ #{t['id']}" in esc["Subject"]
    assert "Siti" in body and "ganda" in body and "Mohon arahan." in body and "FAQ" in body
    # The member replies from Outlook without the tag: it threads by our Message-ID.
    imap_user.append("INBOX", trusted(party_mail(ANGGOTA, "RE: Eskalasi", "Boleh dijawab: tidak boleh ganda.",
                                                 in_reply_to=esc["Message-ID"])))
    desk.json("poll")
    shown = desk.json("tickets", "show", str(t["id"]))
    internal = [m for m in shown["messages"] if m["direction"] == "internal" and m["from"] == ANGGOTA]
    assert len(internal) == 1 and "tidak boleh ganda" in internal[0]["text"]
    assert shown["status"] == "baru" and shown["flags"]["escalation_answer"] == "anggota"
    (e,) = shown["escalations"]
    assert e["to"] == "anggota" and e["by"] == "Rina Wulandari" and e["answered_at"]
    # Never forwarded to the party automatically.
    desk.json("send")
    assert all("tidak boleh ganda" not in m.data.decode("utf-8", "replace")
               for m in smtp_server.messages if "siti@psi.example.org" in m.rcpt_tos)


def test_only_the_configured_roles_may_escalate_to_the_provinsi(desk, imap_user):
    t = open_ticket(desk, imap_user)
    r = desk.run("tickets", "escalate", str(t["id"]), "--to", "provinsi", "--as", "Rina Wulandari")
    assert r.code == 1 and "anggota-kpu" in r.err
    assert desk.json("tickets", "show", str(t["id"]))["status"] == "baru"


@pytest.mark.parametrize("route", ["message-id", "tag", "provinsi-number"])
def test_provinsi_answer_threads_back_by_each_route(desk, imap_user, smtp_server, route):
    t = open_ticket(desk, imap_user)
    r = desk.run("tickets", "escalate", str(t["id"]), "--to", "provinsi", "--as", "Ahmad Fauzi")
    assert r.code == 0, r.err
    desk.json("send")
    (esc,) = sent_to(smtp_server, PROVINSI)
    notice = [m for m in sent_to(smtp_server, "siti@psi.example.org") if "koordinasi lebih lanjut dengan KPU Provinsi" in m.get_body(("plain",)).get_content()]
    assert len(notice) == 1
    # Their helpdesk first acknowledges with its own number, threading by our Message-ID.
    imap_user.append("INBOX", trusted(party_mail(PROVINSI, f"[Tiket#7781] {esc['Subject']}",
                                                 "Diterima, sedang diproses.", in_reply_to=esc["Message-ID"])))
    desk.json("poll")
    # That first mail was the answer (it came through our Message-ID); the escalation
    # takes no second one: what follows is an internal follow-up (issue 11).
    first = desk.json("tickets", "show", str(t["id"]))["escalations"][0]
    assert first["answered_at"] and first["answer"] == "Diterima, sedang diproses." and first["external_ref"] == "7781"
    answer = "Jawaban Provinsi: keanggotaan ganda tidak diperbolehkan."
    if route == "message-id":
        raw = party_mail(PROVINSI, "Re: jawaban", answer, in_reply_to=esc["Message-ID"])
    elif route == "tag":
        raw = party_mail(PROVINSI, f"Jawaban [HD-MSJ #{t['id']}]", answer)
    else:
        raw = party_mail(PROVINSI, "[Tiket#7781] Jawaban akhir", answer)
    imap_user.append("INBOX", trusted(raw))
    stats = desk.json("poll")
    assert stats["tickets_created"] == 0
    shown = desk.json("tickets", "show", str(t["id"]))
    internal = [m for m in shown["messages"] if m["direction"] == "internal" and m["from"] == PROVINSI]
    assert any(answer in m["text"] for m in internal)
    assert shown["status"] == "baru" and shown["flags"]["escalation_answer"] == "provinsi"
    (e,) = shown["escalations"]
    assert e["external_ref"] == "7781" and e["answered_at"] == first["answered_at"]
    assert e["answer"] == "Diterima, sedang diproses."  # the follow-up is shown, not taken as the answer
    assert any(ev["kind"] == "escalation.followup" for ev in shown["events"])
    human = desk.run("tickets", "show", str(t["id"])).out
    assert "jawaban Provinsi diterima" in human
    # The officer relays it.
    assert desk.run("tickets", "reply", str(t["id"]), "--message", answer, "--as", "Rina Wulandari").code == 0
    relayed = desk.json("tickets", "show", str(t["id"]))
    assert relayed["status"] == "dijawab" and "escalation_answer" not in relayed["flags"]
    assert "jawaban Provinsi diterima" not in desk.run("tickets", "show", str(t["id"])).out


def test_a_stranger_carrying_the_provinsi_number_is_not_accepted(desk, imap_user, smtp_server):
    t = open_ticket(desk, imap_user)
    desk.run("tickets", "escalate", str(t["id"]), "--to", "provinsi", "--as", "Ahmad Fauzi")
    desk.json("send")
    (esc,) = sent_to(smtp_server, PROVINSI)
    imap_user.append("INBOX", trusted(party_mail(PROVINSI, "[Tiket#7781] diterima", "ok",
                                                 in_reply_to=esc["Message-ID"])))
    desk.json("poll")
    imap_user.append("INBOX", party_mail("impostor@evil.example.net", "[Tiket#7781] Jawaban palsu", "palsu"))
    stats = desk.json("poll")
    assert stats["tickets_created"] == 1
    shown = desk.json("tickets", "show", str(t["id"]))
    assert not any("palsu" in m["text"] for m in shown["messages"])


def test_faq_miss_is_marked_and_faq_answer_starts_the_reply(desk, imap_user, smtp_server):
    imap_user.append("INBOX", party_mail("x@pkb.example.org", "Tanya jadwal kereta", "Jam berapa kereta ke Bandar Lampung?"))
    imap_user.append("INBOX", party_mail("y@pkb.example.org", "Batas akhir pendaftaran",
                                         "Kapan batas akhir pendaftaran partai politik peserta pemilu?"))
    desk.json("poll")
    tickets = {t["subject"]: t for t in desk.json("tickets", "list")}
    miss = tickets["Tanya jadwal kereta"]
    hit = tickets["Batas akhir pendaftaran"]
    assert miss["flags"]["faq_miss"] is True and hit["flags"]["faq_miss"] is False
    shown = desk.json("tickets", "show", str(hit["id"]))
    assert shown["faq_suggestions"][0]["id"] == "sipol-004" and len(shown["faq_suggestions"]) == 3
    assert "TIDAK ADA DI FAQ" in desk.run("tickets", "show", str(miss["id"])).out
    r = desk.run("tickets", "reply", str(hit["id"]), "--faq", "sipol-004", "--as", "Rina Wulandari")
    assert r.code == 0, r.err
    desk.json("send")
    answer = [m.message for m in smtp_server.messages if "y@pkb.example.org" in m.rcpt_tos and m.message["Auto-Submitted"] is None]
    text = answer[-1].get_body(("plain",)).get_content()
    assert "23.59 WIB" in text and "sipol-004" in text
