"""What the escalation mail tells its recipient (issue 12 item 16): the status the ticket has
once escalated, the officer's judgement that the FAQ does not cover the question, and an FAQ
entry named only when it is related (score ≥ tickets.faq.RELATED_THRESHOLD)."""
from __future__ import annotations

import pytest

from kpudesk.tickets.faq import RELATED_THRESHOLD, FaqLibrary
from tests.corpus.hostile import party_mail
from tests.desk import Desk

ANGGOTA = "anggota@kpu-mesuji.example.org"
PROVINSI = "helpdesk@kpu-lampung.example.org"
EXTRA = f'\n[escalation]\nanggota = ["{ANGGOTA}"]\nprovinsi = "{PROVINSI}"\n'

# The top FAQ hit of this question (verfak-002, about what a field check looks at in the
# party office) shares "kantor partai" and nothing else: above the coverage threshold,
# below the related one.
UNRELATED = ("Kantor partai", "Bolehkah kantor sekretariat partai menumpang di rumah ketua DPC?")
RELATED = ("Keanggotaan ganda", "Apakah anggota partai boleh ganda dengan partai lain di Mesuji?")


@pytest.fixture
def desk(tmp_path, imap_user, smtp_server):
    return Desk(tmp_path / "desk", imap_user, smtp=smtp_server, extra=EXTRA)


def escalation_mail(desk, imap_user, smtp_server, question, *, to="anggota", officer="Rina Wulandari") -> str:
    imap_user.append("INBOX", party_mail("Siti <siti@psi.example.org>", *question))
    desk.json("poll")
    (t,) = desk.json("tickets", "list")
    r = desk.run("tickets", "escalate", str(t["id"]), "--to", to, "--as", officer)
    assert r.code == 0, r.err
    desk.json("send")
    address = ANGGOTA if to == "anggota" else PROVINSI
    (mail,) = [m.message for m in smtp_server.messages if address in m.rcpt_tos and "Eskalasi" in m.message["Subject"]]
    return mail.get_body(("plain",)).get_content()


def test_the_faq_scores_the_questions_as_this_test_assumes():
    faq = FaqLibrary().current()
    top = faq.for_ticket(*UNRELATED)[0]
    assert top.entry.id == "verfak-002" and 0.25 <= top.score < RELATED_THRESHOLD
    hits = faq.for_ticket(*RELATED)
    assert hits[0].entry.id == "anggota-005" and hits[0].score >= RELATED_THRESHOLD
    assert hits[1].score < RELATED_THRESHOLD


def test_escalation_mail_states_the_status_after_escalating(desk, imap_user, smtp_server):
    body = escalation_mail(desk, imap_user, smtp_server, UNRELATED)
    assert "Status           : Eskalasi ke Anggota KPU" in body
    assert "Status           : Baru" not in body


def test_escalation_to_the_provinsi_states_its_status(desk, imap_user, smtp_server):
    body = escalation_mail(desk, imap_user, smtp_server, UNRELATED, to="provinsi", officer="Ahmad Fauzi")
    assert "Status           : Eskalasi ke KPU Provinsi" in body
    assert "Menurut petugas, pertanyaan ini tidak tercakup FAQ Sipol" in body


def test_an_unrelated_faq_entry_is_not_named_and_the_officer_judgement_is_said(desk, imap_user, smtp_server):
    body = escalation_mail(desk, imap_user, smtp_server, UNRELATED)
    assert "Menurut petugas, pertanyaan ini tidak tercakup FAQ Sipol" in body
    assert "tampaknya tercakup" not in body
    assert "verfak-002" not in body
    assert "tidak menemukan entri FAQ yang terkait" in body


def test_a_related_faq_entry_is_named_and_only_it(desk, imap_user, smtp_server):
    body = escalation_mail(desk, imap_user, smtp_server, RELATED)
    assert "Menurut petugas, pertanyaan ini tidak tercakup FAQ Sipol" in body
    assert "- anggota-005:" in body
    assert "anggota-006" not in body
