"""Acknowledgements, officers' answers and reopening, in-process (`tests.feeder.Feeder`):
the rules of tests/e2e/test_replies.py and test_threading.py without a mail server."""
from __future__ import annotations

import pytest

from tests.corpus.hostile import party_mail
from tests.feeder import HELPDESK, RINA, Feeder

BUDI = "budi@gelora.example.org"
PKS = "lo@pks.example.org"


@pytest.fixture
def desk(tmp_path):
    return Feeder(tmp_path)


def acks(desk, to=None):
    return [o for o in desk.outbox() if o.kind == "ack" and (to is None or to in o.recipients)]


def ask(desk, sender=PKS, subject="Kantor tetap", body="Apakah kantor boleh sewa?", msgid="<first@pks.example.org>"):
    assert desk.deliver(party_mail(sender, subject, body, message_id=msgid)).tickets_created == 1
    return desk.tickets()[-1]


def test_a_new_ticket_queues_exactly_one_acknowledgement_threaded_to_the_question(desk):
    # One mail's bytes, delivered twice: party_mail dates a mail "now", so two calls a
    # second apart would be two different mails under one Message-ID.
    question = party_mail(f"Budi <{BUDI}>", "Cara unggah KTA di Sipol", "Mohon petunjuk unggah KTA.",
                          message_id="<q1@gelora.example.org>")
    desk.deliver(question)
    t = desk.only_ticket()
    (ack,) = acks(desk)
    assert ack.recipients == [BUDI] and ack.sender == HELPDESK
    (out,) = desk.outgoing()
    assert out.subject == f"Re: [HD-MSJ #{t['id']}] Cara unggah KTA di Sipol"
    assert out.in_reply_to == ["q1@gelora.example.org"] and out.ticket_id == t["id"]
    # A second copy of the same mail adds nothing, and so queues nothing.
    assert desk.deliver(question).duplicates == 1
    assert len(acks(desk)) == 1


@pytest.mark.parametrize("raw, folder", [
    (party_mail("ooo@pkb.example.org", "Out of office", "Saya cuti", extra_headers={"Auto-Submitted": "auto-replied"}),
     "INBOX"),
    (party_mail("news@list.example.org", "Buletin", "isi",
                extra_headers={"List-Id": "<berita.list.example.org>", "Precedence": "list"}), "INBOX"),
    (party_mail("MAILER-DAEMON@mx.example.net", "Undelivered Mail Returned to Sender", "gagal",
                extra_headers={"Return-Path": "<>"}), "INBOX"),
    (party_mail(HELPDESK, "Salinan kami sendiri", "isi"), "INBOX"),
    (party_mail("stranger@spam.example.net", "Hadiah", "klik"), "Spam"),
], ids=["auto-reply", "list", "bounce", "own-mail", "held-spam"])
def test_no_acknowledgement_for_automatic_bulk_own_or_held_mail(desk, raw, folder):
    stats = desk.deliver(raw, folder=folder)
    assert stats.tickets_created == 0
    assert desk.outbox() == []


def test_the_caps_count_across_one_batch_and_the_batches_before_it(desk):
    """One poll's batch with several mails of one sender: the acknowledgements read ahead
    for the batch (tickets/batch.py) and those it queues itself both count."""
    desk.deliver(party_mail(BUDI, "Pertanyaan awal", "isi"))  # one ack, an earlier batch
    stats = desk.deliver(*[party_mail(BUDI, f"Pertanyaan {n}", "isi") for n in range(4)])
    assert stats.tickets_created == 4
    assert len(acks(desk, BUDI)) == 3  # helpdesk.ack_per_hour = 3: one before, two in the batch
    suppressed = [t for t in desk.tickets()
                  if "ack.suppressed" in [e["kind"] for e in desk.show(t["id"])["events"]]]
    assert [t["subject"] for t in suppressed] == ["Pertanyaan 2", "Pertanyaan 3"]


def test_acknowledgements_per_sender_are_capped_per_hour_and_resume_later(desk):
    for n in range(4):
        desk.deliver(party_mail(BUDI, f"Pertanyaan {n}", "isi"))
    assert len(desk.tickets()) == 4 and len(acks(desk, BUDI)) == 3  # helpdesk.ack_per_hour = 3
    (fourth,) = [t for t in desk.tickets() if t["subject"] == "Pertanyaan 3"]
    assert [e["kind"] for e in desk.show(fourth["id"])["events"]].count("ack.suppressed") == 1
    desk.advance(minutes=61)
    desk.deliver(party_mail(BUDI, "Pertanyaan 4", "isi"))
    assert len(acks(desk, BUDI)) == 4


def test_an_officer_answer_threads_back_to_the_partys_first_and_latest_message(desk):
    t = ask(desk)
    desk.advance(minutes=10)
    desk.deliver(party_mail(PKS, "Re: Kantor tetap", "Tambahan: sewa 1 tahun", message_id="<second@pks.example.org>",
                            references="<first@pks.example.org>"))
    desk.advance(minutes=10)
    answer = desk.reply(t["id"], "Boleh, dengan bukti sewa.")
    shown = desk.show(t["id"])
    assert shown["status"] == "dijawab" and "ticket.answered" in [e["kind"] for e in shown["events"]]
    assert answer.subject == f"Re: [HD-MSJ #{t['id']}] Kantor tetap" and answer.to == [PKS]
    assert answer.in_reply_to == ["second@pks.example.org"]
    assert answer.references[0] == "first@pks.example.org" and "second@pks.example.org" in answer.references
    assert "Boleh, dengan bukti sewa." in answer.text and RINA in answer.text
    assert [o.kind for o in desk.outbox()] == ["ack", "answer"]


def test_the_partys_reply_to_our_answer_reopens_the_ticket(desk):
    t = ask(desk)
    answer = desk.reply(t["id"], "Boleh.")
    desk.advance(hours=2)
    stats = desk.deliver(party_mail(PKS, "Re: Kantor tetap", "Terima kasih, satu lagi...",
                                    in_reply_to=desk.msgid_of(answer)))
    assert stats.tickets_created == 0
    shown = desk.show(t["id"])
    assert shown["status"] == "baru" and shown["updated_at"] == "2026-12-01T11:00:00+07:00"


def test_an_auto_reply_joins_but_never_reopens(desk):
    t = ask(desk)
    desk.reply(t["id"], "Boleh.")
    stats = desk.deliver(party_mail(PKS, "Automatic reply: Kantor tetap", "Saya sedang cuti",
                                    references="<first@pks.example.org>",
                                    extra_headers={"Auto-Submitted": "auto-replied"}))
    assert stats.auto_replies == 1 and stats.messages_added == 1
    assert desk.show(t["id"])["status"] == "dijawab" and len(desk.party_side(t["id"])) == 2


def test_the_requesters_own_reply_reopens_a_closed_ticket(desk):
    t = ask(desk)
    desk.close(t["id"])
    assert desk.show(t["id"])["status"] == "selesai"
    desk.deliver(party_mail(PKS, "Re: x", "masih bingung", in_reply_to="<first@pks.example.org>"))
    shown = desk.show(t["id"])
    assert shown["status"] == "baru" and any(e["kind"] == "ticket.reopened" for e in shown["events"])


def test_a_strangers_reply_to_our_message_id_does_not_reopen_a_closed_ticket(desk):
    t = ask(desk)
    answer = desk.reply(t["id"], "Boleh.")
    desk.close(t["id"])
    stats = desk.deliver(party_mail("someone@pkb.example.org", "Balasan", "buka lagi", in_reply_to=desk.msgid_of(answer)))
    assert stats.tickets_created == 1
    assert desk.show(t["id"])["status"] == "selesai"
    (new,) = [x for x in desk.tickets() if x["id"] != t["id"]]
    assert new["flags"]["related_ticket"] == t["id"]
