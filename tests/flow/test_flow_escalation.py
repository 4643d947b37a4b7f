"""The escalation chain in-process (`tests.feeder.Feeder`): the rules of tests/cli/test_escalation.py
and test_forged_senders.py without a mail server. A genuine answer from the member or the
Provinsi carries the trusted receiving server's dmarc=pass (`tests.auth_mail.trusted`)."""
from __future__ import annotations

import pytest

from kpudesk.tickets.errors import UserError
from tests.auth_mail import TRUSTED, forged_below, trusted
from tests.corpus.hostile import party_mail
from tests.feeder import AHMAD, Feeder

ANGGOTA = "anggota@kpu-mesuji.example.org"
PROVINSI = "helpdesk@kpu-lampung.example.org"
SITI = "siti@psi.example.org"


@pytest.fixture
def desk(tmp_path):
    return Feeder(tmp_path, extra={
        "escalation": {"anggota": [ANGGOTA], "provinsi": PROVINSI, "provinsi_ticket_pattern": r"\[Tiket#(\d+)\]"},
        "mail": {"trusted_authserv_id": TRUSTED}})


def open_ticket(desk) -> dict:
    desk.deliver(party_mail(f"Siti <{SITI}>", "Keanggotaan ganda",
                            "Apakah anggota partai boleh ganda dengan partai lain di Mesuji?", message_id="<q@psi.example.org>"))
    return desk.only_ticket()


def escalated(desk, to="provinsi"):
    """A ticket escalated, and the escalation mail's Message-ID (with brackets)."""
    t = open_ticket(desk)
    desk.escalate(t["id"], to=to, officer=AHMAD, note="Mohon arahan.")
    (esc,) = desk.outgoing(to=ANGGOTA if to == "anggota" else PROVINSI)
    return t, desk.msgid_of(esc)


def internal_from(shown, sender):
    return [m for m in shown["messages"] if m["direction"] == "internal" and m["from"] == sender]


def assert_untouched(desk, tid):
    shown = desk.show(tid)
    (e,) = shown["escalations"]
    assert e["answered_at"] is None and e["external_ref"] is None and e["answer"] is None
    assert "escalation_answer" not in shown["flags"] and shown["status"] == "eskalasi-provinsi"
    assert not any("DIPERBOLEHKAN" in m["text"] for m in shown["messages"])


def forged_answer(ticket_id, in_reply_to=None) -> bytes:
    return party_mail(PROVINSI, f"Re: [HD-MSJ #{ticket_id}] Eskalasi [Tiket#777]",
                      "Keputusan KPU Provinsi: keanggotaan ganda DIPERBOLEHKAN.", in_reply_to=in_reply_to,
                      extra_headers={"Authentication-Results": "mx.evil; dmarc=pass header.from=kpu-lampung.example.org"})


def test_escalating_to_the_member_mails_them_with_the_tag_and_changes_the_status(desk):
    t = open_ticket(desk)
    desk.escalate(t["id"], to="anggota", note="Mohon arahan.")
    (esc,) = desk.outgoing(to=ANGGOTA)
    assert f"HD-MSJ #{t['id']}" in esc.subject
    assert "Siti" in esc.text and "ganda" in esc.text and "Mohon arahan." in esc.text
    assert desk.show(t["id"])["status"] == "eskalasi-anggota"


def test_the_members_authenticated_answer_threads_through_and_comes_back_internal(desk):
    t, esc = escalated(desk, to="anggota")
    stats = desk.deliver(trusted(party_mail(ANGGOTA, "RE: Eskalasi", "Boleh dijawab: tidak boleh ganda.",
                                            in_reply_to=esc)))
    assert stats.tickets_created == 0
    shown = desk.show(t["id"])
    (answer,) = internal_from(shown, ANGGOTA)
    assert "tidak boleh ganda" in answer["text"] and answer["authentication"]["verdict"] == "pass"
    assert shown["status"] == "baru" and shown["flags"]["escalation_answer"] == "anggota"
    (e,) = shown["escalations"]
    assert e["to"] == "anggota" and e["by"] == AHMAD and e["answered_at"]
    # Never forwarded to the party automatically.
    assert not [m for m in desk.outgoing(to=SITI) if "tidak boleh ganda" in (m.text or "")]


def test_only_the_configured_roles_may_escalate_to_the_provinsi(desk):
    t = open_ticket(desk)
    with pytest.raises(UserError, match="anggota-kpu"):
        desk.escalate(t["id"], to="provinsi")
    assert desk.show(t["id"])["status"] == "baru"


def test_a_second_answer_after_the_relay_is_a_follow_up_not_the_answer(desk):
    t, esc = escalated(desk)
    desk.deliver(trusted(party_mail(PROVINSI, "[Tiket#7781] Jawaban", "Tidak boleh.", in_reply_to=esc)))
    desk.reply(t["id"], "Tidak boleh.")
    answered = desk.show(t["id"])["escalations"][0]
    desk.advance(hours=1)
    stats = desk.deliver(trusted(party_mail(PROVINSI, "[Tiket#7781] Ralat", "Ralat: boleh.", in_reply_to=esc)))
    assert stats.tickets_created == 0
    shown = desk.show(t["id"])
    (e,) = shown["escalations"]
    assert e["answered_at"] == answered["answered_at"] and e["answer"] == "Tidak boleh." and e["external_ref"] == "7781"
    assert shown["status"] == "dijawab" and "escalation_answer" not in shown["flags"]
    assert any(m["text"].startswith("Ralat") for m in internal_from(shown, PROVINSI))
    assert any(ev["kind"] == "escalation.followup" for ev in shown["events"])


def test_the_provinsi_number_threads_a_later_answer_back(desk):
    t, esc = escalated(desk)
    desk.deliver(trusted(party_mail(PROVINSI, "[Tiket#7781] diterima", "Diterima, sedang diproses.", in_reply_to=esc)))
    stats = desk.deliver(trusted(party_mail(PROVINSI, "[Tiket#7781] Jawaban akhir", "Tidak diperbolehkan.")))
    assert stats.tickets_created == 0
    assert any("Tidak diperbolehkan." in m["text"] for m in internal_from(desk.show(t["id"]), PROVINSI))


def test_a_stranger_carrying_the_provinsi_number_is_not_accepted(desk):
    t, esc = escalated(desk)
    desk.deliver(trusted(party_mail(PROVINSI, "[Tiket#7781] diterima", "ok", in_reply_to=esc)))
    assert desk.deliver(party_mail("impostor@evil.example.net", "[Tiket#7781] Jawaban palsu", "palsu")).tickets_created == 1
    assert not any("palsu" in m["text"] for m in desk.show(t["id"])["messages"])


def test_a_failing_answer_in_the_inbox_becomes_a_flagged_ticket_without_acknowledgement(desk):
    t, esc = escalated(desk)
    acks_before = [o.id for o in desk.outbox() if o.kind == "ack"]
    stats = desk.deliver(forged_below(forged_answer(t["id"], in_reply_to=esc), real="dmarc=fail"))
    assert stats.tickets_created == 1
    assert_untouched(desk, t["id"])
    (new,) = [x for x in desk.tickets() if x["id"] != t["id"]]
    assert new["flags"]["possible_forgery"] is True and "dmarc=fail" in new["flags"]["forgery_reason"]
    assert new["flags"]["related_ticket"] == t["id"] and new["status"] == "baru"
    (m,) = desk.show(new["id"])["messages"]
    assert m["direction"] == "in" and m["authentication"]["verdict"] == "fail"
    assert [o.id for o in desk.outbox() if o.kind == "ack"] == acks_before


def test_a_forged_answer_in_spam_is_held_and_never_touches_the_escalation(desk):
    t, esc = escalated(desk)
    stats = desk.deliver(trusted(forged_answer(t["id"], in_reply_to=esc), "dmarc=fail spf=fail"), folder="Spam")
    assert stats.spam_held == 1 and stats.spam_rescued == 0 and stats.tickets_created == 0
    assert_untouched(desk, t["id"])


def test_the_genuine_answer_after_a_forgery_sets_the_real_number(desk):
    t, esc = escalated(desk)
    desk.deliver(trusted(forged_answer(t["id"]), "dmarc=fail"))
    stats = desk.deliver(trusted(party_mail(PROVINSI, "[Tiket#7781] Jawaban", "Jawaban resmi: tidak boleh.",
                                            in_reply_to=esc)))
    assert stats.tickets_created == 0
    (e,) = desk.show(t["id"])["escalations"]
    assert e["external_ref"] == "7781" and e["answer"] == "Jawaban resmi: tidak boleh."


def test_a_failing_mail_from_an_officer_address_is_a_possible_forgery(desk):
    t = open_ticket(desk)
    raw = trusted(party_mail("ahmad@kpu-mesuji.example.org", f"Re: [HD-MSJ #{t['id']}] arahan", "Tutup saja tiketnya."),
                  "dmarc=fail")
    assert desk.deliver(raw).tickets_created == 1
    (new,) = [x for x in desk.tickets() if x["id"] != t["id"]]
    assert new["flags"]["possible_forgery"] is True
    assert desk.show(t["id"])["status"] == "baru"
