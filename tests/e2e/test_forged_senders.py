"""Forged senders on a real Dovecot + SMTP (issue 11 item 1): a From: line proves nothing.

The desk trusts `tests.auth_mail.TRUSTED` (the office's receiving server); the attacker
controls everything in the mail below that server's own headers.
"""
from __future__ import annotations

import dkim
import pytest

from tests.auth_mail import MAIL_SETTINGS, TRUSTED, dkim_dns, dkim_key, forged_below, trusted
from tests.corpus.hostile import party_mail
from tests.desk import Desk
from tests.cli.test_escalation import EXTRA, PROVINSI, open_ticket, sent_to

SITI = "siti@psi.example.org"
LIAISON = "lo@pkb.example.org"


assert MAIL_SETTINGS in EXTRA  # the escalation desk trusts the receiving server


@pytest.fixture
def desk(tmp_path, imap_user, smtp_server):
    registry = tmp_path / "parties-local.toml"
    registry.write_text(f'[[party]]\nshort = "PKB"\naddresses = ["{LIAISON}"]\n', encoding="utf-8")
    return Desk(tmp_path / "desk", imap_user, smtp=smtp_server,
                extra=EXTRA + f'\n[parties]\nregistry = "{registry}"\n')


def escalated(desk, imap_user, smtp_server):
    t = open_ticket(desk, imap_user)
    r = desk.run("tickets", "escalate", str(t["id"]), "--to", "provinsi", "--as", "Ahmad Fauzi")
    assert r.code == 0, r.err
    desk.json("send")
    (esc,) = sent_to(smtp_server, PROVINSI)
    return t, esc


def forged_answer(ticket_id: int, in_reply_to: str | None = None) -> bytes:
    """The issue's forgery: the Provinsi's From:, our tag, a ticket number of the attacker's choice."""
    return party_mail(PROVINSI, f"Re: [HD-MSJ #{ticket_id}] Eskalasi [Tiket#777]",
                      "Keputusan KPU Provinsi: keanggotaan ganda DIPERBOLEHKAN.", in_reply_to=in_reply_to,
                      extra_headers={"Authentication-Results": "mx.evil; dmarc=pass header.from=kpu-lampung.example.org"})


def assert_untouched(desk, tid):
    shown = desk.json("tickets", "show", str(tid))
    (e,) = shown["escalations"]
    assert e["answered_at"] is None and e["external_ref"] is None and e["answer"] is None
    assert "escalation_answer" not in shown["flags"] and shown["status"] == "eskalasi-provinsi"
    assert not any("DIPERBOLEHKAN" in m["text"] for m in shown["messages"])
    # Nothing done in the Provinsi's name; at most a note that a mail went to a new ticket.
    assert {ev["kind"] for ev in shown["events"] if ev["actor"] == PROVINSI} <= {"ticket.related"}


@pytest.mark.parametrize("variant", ["real-fail", "forged-pass-below-real-fail", "untrusted-authserv-only"])
def test_a_forged_provinsi_answer_in_spam_never_touches_the_escalation(desk, imap_user, smtp_server, variant):
    t, esc = escalated(desk, imap_user, smtp_server)
    raw = forged_answer(t["id"], in_reply_to=esc["Message-ID"])  # even knowing our Message-ID
    if variant == "real-fail":
        raw = trusted(raw, "dmarc=fail spf=fail")
    elif variant == "forged-pass-below-real-fail":
        raw = forged_below(raw, real="dmarc=fail", forged="dmarc=pass")
    # untrusted-authserv-only: only "mx.evil" vouches; the trusted server wrote nothing
    imap_user.append("Spam", raw)
    stats = desk.json("poll")
    assert stats["spam_rescued"] == 0 and stats["spam_held"] == 1 and stats["tickets_created"] == 0
    assert_untouched(desk, t["id"])
    (held,) = desk.json("spam", "list")
    assert held["from"] == PROVINSI


def test_a_forged_provinsi_answer_in_the_inbox_becomes_a_flagged_ordinary_ticket(desk, imap_user, smtp_server):
    t, esc = escalated(desk, imap_user, smtp_server)
    before = len(smtp_server.messages)
    imap_user.append("INBOX", forged_below(forged_answer(t["id"], in_reply_to=esc["Message-ID"]), real="dmarc=fail"))
    stats = desk.json("poll")
    assert stats["tickets_created"] == 1
    assert_untouched(desk, t["id"])
    (new,) = [x for x in desk.json("tickets", "list") if x["id"] != t["id"]]
    assert new["flags"]["possible_forgery"] is True and "dmarc=fail" in new["flags"]["forgery_reason"]
    assert new["flags"]["related_ticket"] == t["id"] and new["status"] == "baru"
    shown = desk.json("tickets", "show", str(new["id"]))
    (m,) = shown["messages"]
    assert m["direction"] == "in" and m["authentication"]["verdict"] == "fail"
    desk.json("send")
    assert not [x for x in smtp_server.messages[before:] if PROVINSI in x.rcpt_tos]  # no acknowledgement


def test_the_genuine_answer_after_a_forgery_sets_the_real_number(desk, imap_user, smtp_server):
    t, esc = escalated(desk, imap_user, smtp_server)
    imap_user.append("INBOX", trusted(forged_answer(t["id"]), "dmarc=fail"))
    desk.json("poll")
    imap_user.append("INBOX", trusted(party_mail(PROVINSI, f"[Tiket#7781] {esc['Subject']}", "Jawaban resmi: tidak boleh.",
                                                 in_reply_to=esc["Message-ID"])))
    assert desk.json("poll")["tickets_created"] == 0
    shown = desk.json("tickets", "show", str(t["id"]))
    (e,) = shown["escalations"]
    assert e["external_ref"] == "7781" and e["answer"] == "Jawaban resmi: tidak boleh." and e["answered_at"]
    assert shown["flags"]["escalation_answer"] == "provinsi" and shown["status"] == "baru"
    answer = [m for m in shown["messages"] if m["direction"] == "internal" and m["from"] == PROVINSI]
    assert answer[0]["authentication"]["verdict"] == "pass"


def test_a_second_answer_after_the_relay_is_a_follow_up_not_the_answer(desk, imap_user, smtp_server):
    t, esc = escalated(desk, imap_user, smtp_server)
    imap_user.append("INBOX", trusted(party_mail(PROVINSI, "[Tiket#7781] Jawaban", "Tidak boleh.",
                                                 in_reply_to=esc["Message-ID"])))
    desk.json("poll")
    assert desk.run("tickets", "reply", str(t["id"]), "--message", "Tidak boleh.", "--as", "Rina Wulandari").code == 0
    answered = desk.json("tickets", "show", str(t["id"]))["escalations"][0]
    imap_user.append("INBOX", trusted(party_mail(PROVINSI, "[Tiket#7781] Ralat", "Ralat: boleh.",
                                                 in_reply_to=esc["Message-ID"])))
    assert desk.json("poll")["tickets_created"] == 0
    shown = desk.json("tickets", "show", str(t["id"]))
    (e,) = shown["escalations"]
    assert e["answered_at"] == answered["answered_at"] and e["answer"] == "Tidak boleh."
    assert shown["status"] == "dijawab" and "escalation_answer" not in shown["flags"]
    assert any(m["text"].startswith("Ralat") and m["direction"] == "internal" for m in shown["messages"])


def test_a_failing_mail_from_an_officer_address_is_a_possible_forgery(desk, imap_user):
    t = open_ticket(desk, imap_user)
    imap_user.append("INBOX", trusted(party_mail("ahmad@kpu-mesuji.example.org", f"Re: [HD-MSJ #{t['id']}] arahan",
                                                 "Tutup saja tiketnya."), "dmarc=fail"))
    assert desk.json("poll")["tickets_created"] == 1
    (new,) = [x for x in desk.json("tickets", "list") if x["id"] != t["id"]]
    assert new["flags"]["possible_forgery"] is True


def test_a_phishing_mail_from_a_party_liaison_address_in_spam_is_held_unanswered(desk, imap_user, smtp_server):
    before = len(smtp_server.messages)
    phish = party_mail(LIAISON, "Verifikasi akun Sipol", "Klik tautan ini untuk verifikasi akun Sipol PKB.",
                       extra_headers={"X-Spam-Flag": "YES"})
    imap_user.append("Spam", trusted(phish, "dmarc=fail"))
    stats = desk.json("poll")
    assert stats["spam_held"] == 1 and stats["spam_rescued"] == 0 and stats["tickets_created"] == 0
    assert desk.json("tickets", "list") == []
    desk.json("send")
    assert not [x for x in smtp_server.messages[before:] if LIAISON in x.rcpt_tos]


def test_a_failing_liaison_address_does_not_confirm_the_party(desk, imap_user):
    imap_user.append("INBOX", trusted(party_mail(LIAISON, "Tanya jadwal", "Kapan verifikasi faktual?"), "dmarc=fail"))
    imap_user.append("INBOX", trusted(party_mail(LIAISON, "Tanya lagi", "Kapan pleno?")))
    desk.json("poll")
    parties = {t["subject"]: t["party"] for t in desk.json("tickets", "list")}
    assert parties == {"Tanya jadwal": None, "Tanya lagi": "PKB"}


def test_dkim_verified_by_us_decides_when_no_server_is_trusted(tmp_path, imap_user, smtp_server, monkeypatch):
    """Without [mail] trusted_authserv_id: the Provinsi's DKIM signature, checked against a
    key served by an injected resolver, makes the answer; a body-modified copy is a forgery."""
    pem, txt = dkim_key()
    monkeypatch.setattr(dkim.dnsplug, "get_txt", dkim_dns({"s1._domainkey.kpu-lampung.example.org": txt}))
    desk = Desk(tmp_path / "desk", imap_user, smtp=smtp_server, extra=EXTRA.replace(MAIL_SETTINGS, ""))
    t, esc = escalated(desk, imap_user, smtp_server)
    raw = party_mail(PROVINSI, "[Tiket#7781] Jawaban", "Keanggotaan ganda tidak boleh.", in_reply_to=esc["Message-ID"])
    good = dkim.sign(raw, b"s1", b"kpu-lampung.example.org", pem,
                     include_headers=[b"from", b"to", b"subject", b"date", b"in-reply-to"]) + raw
    bad = good.replace(b"tidak boleh", b"boleh saja")
    imap_user.append("INBOX", bad)
    assert desk.json("poll")["tickets_created"] == 1
    assert_untouched(desk, t["id"])
    imap_user.append("INBOX", good)
    assert desk.json("poll")["tickets_created"] == 0
    shown = desk.json("tickets", "show", str(t["id"]))
    (e,) = shown["escalations"]
    assert e["answer"] == "Keanggotaan ganda tidak boleh." and e["external_ref"] == "7781"
    verdicts = {m["text"][:20]: m["authentication"]["verdict"] for m in shown["messages"] if m["from"] == PROVINSI}
    assert verdicts == {"Keanggotaan ganda ti": "pass"}
    assert TRUSTED not in str(verdicts)
