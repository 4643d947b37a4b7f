"""Threading order (design.md), in-process: the rules of tests/e2e/test_threading.py without a
mail server, fed through `tests.feeder.Feeder` (in-memory SQLite, frozen clock)."""
from __future__ import annotations

import pytest

from kpudesk.tickets.models import Ticket
from kpudesk.tickets.msgid import make_msgid
from tests.auth_mail import TRUSTED, trusted
from tests.corpus.hostile import party_mail
from tests.feeder import Feeder

ANGGOTA = "anggota@kpu-mesuji.example.org"
FIRST = "<first@pkb.example.org>"


@pytest.fixture
def desk(tmp_path):
    registry = tmp_path / "parties-local.toml"
    registry.write_text('[[party]]\nshort = "PKB"\naddresses = ["lo1@pkb.example.org", "lo2@pkb.example.org"]\n',
                        encoding="utf-8")
    return Feeder(tmp_path, extra={"escalation": {"anggota": [ANGGOTA]}, "mail": {"trusted_authserv_id": TRUSTED},
                                   "parties": {"registry": str(registry)}})


def first_ticket(desk: Feeder) -> dict:
    stats = desk.deliver(party_mail("lo1@pkb.example.org", "Pertanyaan kepengurusan", "Berapa minimal kecamatan?",
                                    message_id=FIRST))
    assert stats.tickets_created == 1
    return desk.only_ticket()


def test_reply_with_references_but_no_tag_joins_the_ticket(desk):
    t = first_ticket(desk)
    stats = desk.deliver(party_mail("lo1@pkb.example.org", "Re: Pertanyaan kepengurusan", "Terima kasih",
                                    references=FIRST))
    assert stats.tickets_created == 0 and stats.messages_added == 1
    assert [m["text"].strip() for m in desk.party_side(t["id"])][1] == "Terima kasih"


def test_a_reply_in_the_same_batch_as_the_question_joins_it(desk):
    """One poll fetches the question and the party's own follow-up to it: rule 2 finds the
    question stored a moment ago in the same batch (tickets/batch.py keeps what it read
    ahead up to date), and the reply to an earlier batch's mail too."""
    earlier = first_ticket(desk)
    stats = desk.deliver(
        party_mail("lo2@pkb.example.org", "Pertanyaan baru", "Kapan verifikasi?", message_id="<q2@pkb.example.org>"),
        party_mail("lo2@pkb.example.org", "Re: Pertanyaan baru", "Tambahan: untuk DPC.",
                   in_reply_to="<q2@pkb.example.org>"),
        party_mail("lo1@pkb.example.org", "Re: Pertanyaan kepengurusan", "Sudah jelas.", in_reply_to=FIRST))
    assert (stats.tickets_created, stats.messages_added) == (1, 3)
    new = max(t["id"] for t in desk.tickets())
    assert [m["text"].strip() for m in desk.party_side(new)] == ["Kapan verifikasi?", "Tambahan: untuk DPC."]
    assert len(desk.party_side(earlier["id"])) == 2


def test_reply_by_in_reply_to_joins_the_ticket(desk):
    t = first_ticket(desk)
    assert desk.deliver(party_mail("lo1@pkb.example.org", "Balas", "ok", in_reply_to=FIRST)).tickets_created == 0
    assert len(desk.party_side(t["id"])) == 2


def test_newest_reference_wins(desk):
    a = first_ticket(desk)
    desk.deliver(party_mail("x@psi.example.org", "Lain", "Soal lain", message_id="<other@psi.example.org>"))
    (b,) = [t for t in desk.tickets() if t["id"] != a["id"]]
    desk.deliver(party_mail("x@psi.example.org", "Re: Lain", "lanjut", references=f"{FIRST} <other@psi.example.org>"))
    assert len(desk.party_side(b["id"])) == 2
    assert len(desk.party_side(a["id"])) == 1


def test_our_signed_message_id_threads_even_without_a_stored_copy(desk):
    t = first_ticket(desk)
    ours = make_msgid(t["id"], desk.app.secret, desk.settings.helpdesk.msgid_domain)
    assert desk.deliver(party_mail("someone@pkb.example.org", "Balasan", "ok", in_reply_to=f"<{ours}>")).tickets_created == 0
    assert len(desk.party_side(t["id"])) == 2


def test_a_forged_message_id_of_ours_does_not_thread(desk):
    t = first_ticket(desk)
    forged = f"kpd.T{t['id']}.0011223344556677.0123456789abcdef0123@kpu-mesuji.example.org"
    assert desk.deliver(party_mail("evil@spam.example.net", "Hi", "x", in_reply_to=f"<{forged}>")).tickets_created == 1
    assert len(desk.party_side(t["id"])) == 1


def test_the_subject_tag_from_the_requester_joins(desk):
    t = first_ticket(desk)
    stats = desk.deliver(party_mail("lo1@pkb.example.org", f"Re: [HD-MSJ #{t['id']}] Pertanyaan", "lagi"))
    assert stats.tickets_created == 0
    assert len(desk.party_side(t["id"])) == 2


def test_the_subject_tag_from_an_authenticated_colleague_of_the_same_party_joins(desk):
    t = first_ticket(desk)
    raw = trusted(party_mail("lo2@pkb.example.org", f"[HD-MSJ #{t['id']}] tambahan", "dari rekan"))
    assert desk.deliver(raw).tickets_created == 0
    assert len(desk.party_side(t["id"])) == 2


def test_an_unauthenticated_colleague_does_not_join_by_the_party_rule(desk):
    t = first_ticket(desk)
    raw = trusted(party_mail("lo2@pkb.example.org", f"[HD-MSJ #{t['id']}] tambahan", "palsu"), "dmarc=fail")
    assert desk.deliver(raw).tickets_created == 1
    assert len(desk.party_side(t["id"])) == 1


def test_the_subject_tag_from_an_escalation_address_joins(desk):
    t = first_ticket(desk)
    assert desk.deliver(trusted(party_mail(ANGGOTA, f"Re: [HD-MSJ #{t['id']}] arahan", "jawab"))).tickets_created == 0


def test_a_forged_subject_tag_from_a_stranger_opens_a_new_ticket_noting_the_claim(desk):
    t = first_ticket(desk)
    stats = desk.deliver(party_mail("stranger@other.example.net", f"Re: [HD-MSJ #{t['id']}] saya ikut", "halo"))
    assert stats.tickets_created == 1
    (new,) = [x for x in desk.tickets() if x["id"] != t["id"]]
    assert new["claimed_tag"] == str(t["id"]) and new["requester"] == "stranger@other.example.net"
    assert len(desk.party_side(t["id"])) == 1


def test_a_strangers_in_reply_to_does_not_reopen_a_closed_ticket_but_opens_a_linked_one(desk):
    t = first_ticket(desk)
    desk.close(t["id"])
    stats = desk.deliver(party_mail("stranger@other.example.net", "Re: Pertanyaan kepengurusan", "Saya juga mau tanya",
                                    in_reply_to=FIRST))
    assert stats.tickets_created == 1
    old = desk.show(t["id"])
    assert old["status"] == "selesai" and len(desk.party_side(t["id"])) == 1
    (new,) = [x for x in desk.tickets() if x["id"] != t["id"]]
    assert new["flags"]["related_ticket"] == t["id"]
    assert [e["detail"]["new_ticket"] for e in old["events"] if e["kind"] == "ticket.related"] == [new["id"]]
    assert not any(e["kind"] == "ticket.reopened" for e in old["events"])


def test_the_same_mail_delivered_twice_is_stored_once(desk):
    raw = party_mail("lo1@pkb.example.org", "Pertanyaan", "isi", message_id=FIRST)
    assert desk.deliver(raw).tickets_created == 1
    stats = desk.deliver(raw)
    assert stats.duplicates == 1 and stats.tickets_created == 0 and stats.messages_added == 0
    assert Ticket.select().count() == 1
