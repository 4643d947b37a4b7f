"""Threading order (design.md) on a real Dovecot, one test per step."""
from __future__ import annotations

import pytest

from tests.auth_mail import MAIL_SETTINGS, trusted
from tests.corpus.hostile import party_mail
from tests.desk import Desk

ESCALATION = '\n[escalation]\nanggota = ["anggota@kpu-mesuji.example.org"]\n'


@pytest.fixture
def desk(tmp_path, imap_user):
    registry = tmp_path / "parties-local.toml"
    registry.write_text('[[party]]\nshort = "PKB"\naddresses = ["lo1@pkb.example.org", "lo2@pkb.example.org"]\n',
                        encoding="utf-8")
    return Desk(tmp_path / "desk", imap_user,
                extra=ESCALATION + MAIL_SETTINGS + f'\n[parties]\nregistry = "{registry}"\n')


def first_ticket(desk, imap_user, sender="lo1@pkb.example.org", msgid="<first@pkb.example.org>"):
    imap_user.append("INBOX", party_mail(sender, "Pertanyaan kepengurusan", "Berapa minimal kecamatan?",
                                         message_id=msgid))
    desk.json("poll")
    (t,) = desk.json("tickets", "list")
    return t


def messages_of(desk, tid):
    """The party's side of the conversation (our acknowledgements are left out)."""
    return [m for m in desk.json("tickets", "show", str(tid))["messages"] if m["direction"] == "in"]


def test_reply_with_references_but_no_tag_joins_the_ticket(desk, imap_user):
    t = first_ticket(desk, imap_user)
    imap_user.append("INBOX", party_mail("lo1@pkb.example.org", "Re: Pertanyaan kepengurusan", "Terima kasih",
                                         references="<first@pkb.example.org>"))
    stats = desk.json("poll")
    assert stats["tickets_created"] == 0 and stats["messages_added"] == 1
    assert len(messages_of(desk, t["id"])) == 2


def test_newest_reference_wins(desk, imap_user):
    a = first_ticket(desk, imap_user)
    imap_user.append("INBOX", party_mail("x@psi.example.org", "Lain", "Soal lain", message_id="<other@psi.example.org>"))
    desk.json("poll")
    b = [t for t in desk.json("tickets", "list") if t["id"] != a["id"]][0]
    imap_user.append("INBOX", party_mail("x@psi.example.org", "Re: Lain", "lanjut",
                                         references="<first@pkb.example.org> <other@psi.example.org>"))
    desk.json("poll")
    assert len(messages_of(desk, b["id"])) == 2
    assert len(messages_of(desk, a["id"])) == 1


def test_our_signed_message_id_threads_even_without_stored_copy(desk, imap_user):
    t = first_ticket(desk, imap_user)
    app = desk.app()
    from kpudesk.tickets.msgid import make_msgid
    ours = make_msgid(t["id"], app.secret, app.settings.helpdesk.msgid_domain)
    imap_user.append("INBOX", party_mail("someone@pkb.example.org", "Balasan", "ok", in_reply_to=f"<{ours}>"))
    assert desk.json("poll")["tickets_created"] == 0
    assert len(messages_of(desk, t["id"])) == 2


def test_forged_message_id_of_ours_does_not_thread(desk, imap_user):
    t = first_ticket(desk, imap_user)
    forged = f"kpd.T{t['id']}.0011223344556677.0123456789abcdef0123@kpu-mesuji.example.org"
    imap_user.append("INBOX", party_mail("evil@spam.example.net", "Hi", "x", in_reply_to=f"<{forged}>"))
    assert desk.json("poll")["tickets_created"] == 1


def test_subject_tag_from_the_requester_joins(desk, imap_user):
    t = first_ticket(desk, imap_user)
    imap_user.append("INBOX", party_mail("lo1@pkb.example.org", f"Re: [HD-MSJ #{t['id']}] Pertanyaan", "lagi"))
    assert desk.json("poll")["tickets_created"] == 0
    assert len(messages_of(desk, t["id"])) == 2


def test_subject_tag_from_a_colleague_of_the_same_party_joins(desk, imap_user):
    # The party is known from the registered address, so the colleague must be
    # authenticated (issue 11): the receiving server vouches with dmarc=pass.
    t = first_ticket(desk, imap_user)
    imap_user.append("INBOX", trusted(party_mail("lo2@pkb.example.org", f"[HD-MSJ #{t['id']}] tambahan", "dari rekan")))
    assert desk.json("poll")["tickets_created"] == 0


def test_an_unauthenticated_colleague_address_does_not_join_by_the_party_rule(desk, imap_user):
    t = first_ticket(desk, imap_user)
    imap_user.append("INBOX", trusted(party_mail("lo2@pkb.example.org", f"[HD-MSJ #{t['id']}] tambahan", "palsu"),
                                      "dmarc=fail"))
    assert desk.json("poll")["tickets_created"] == 1
    assert len(messages_of(desk, t["id"])) == 1


def test_subject_tag_from_an_escalation_address_joins(desk, imap_user):
    t = first_ticket(desk, imap_user)
    imap_user.append("INBOX", trusted(party_mail("anggota@kpu-mesuji.example.org",
                                                 f"Re: [HD-MSJ #{t['id']}] arahan", "jawab")))
    assert desk.json("poll")["tickets_created"] == 0


def test_forged_subject_tag_from_a_stranger_opens_a_new_ticket_noting_the_claim(desk, imap_user):
    t = first_ticket(desk, imap_user)
    imap_user.append("INBOX", party_mail("stranger@other.example.net", f"Re: [HD-MSJ #{t['id']}] saya ikut", "halo"))
    stats = desk.json("poll")
    assert stats["tickets_created"] == 1
    new = [x for x in desk.json("tickets", "list") if x["id"] != t["id"]][0]
    assert new["claimed_tag"] == str(t["id"])
    assert len(messages_of(desk, t["id"])) == 1


def test_reply_to_an_answered_ticket_reopens_it(desk, imap_user):
    t = first_ticket(desk, imap_user)
    from kpudesk.tickets.models import Ticket
    desk.app()
    Ticket.update(status="dijawab").where(Ticket.id == t["id"]).execute()
    imap_user.append("INBOX", party_mail("lo1@pkb.example.org", "Re: x", "masih bingung", references="<first@pkb.example.org>"))
    desk.json("poll")
    assert desk.json("tickets", "show", str(t["id"]))["status"] == "baru"


def test_auto_reply_joins_but_never_reopens(desk, imap_user):
    t = first_ticket(desk, imap_user)
    from kpudesk.tickets.models import Ticket
    desk.app()
    Ticket.update(status="dijawab").where(Ticket.id == t["id"]).execute()
    imap_user.append("INBOX", party_mail("lo1@pkb.example.org", "Automatic reply: x", "Saya sedang cuti",
                                         references="<first@pkb.example.org>",
                                         extra_headers={"Auto-Submitted": "auto-replied"}))
    stats = desk.json("poll")
    assert stats["auto_replies"] == 1 and stats["messages_added"] == 1
    shown = desk.json("tickets", "show", str(t["id"]))
    assert shown["status"] == "dijawab" and len([m for m in shown["messages"] if m["direction"] == "in"]) == 2


def close(desk, tid):
    r = desk.run("tickets", "close", str(tid), "--as", "Rina Wulandari")
    assert r.code == 0, r.err


def test_a_strangers_in_reply_to_does_not_reopen_a_closed_ticket_but_opens_a_linked_one(desk, imap_user):
    # Issue 11 item 2: a stranger CC'd on the party's mail knows its Message-ID.
    t = first_ticket(desk, imap_user)
    close(desk, t["id"])
    imap_user.append("INBOX", party_mail("stranger@other.example.net", "Re: Pertanyaan kepengurusan",
                                         "Saya juga mau tanya", in_reply_to="<first@pkb.example.org>"))
    stats = desk.json("poll")
    assert stats["tickets_created"] == 1
    old = desk.json("tickets", "show", str(t["id"]))
    assert old["status"] == "selesai" and len([m for m in old["messages"] if m["direction"] == "in"]) == 1
    (new,) = [x for x in desk.json("tickets", "list") if x["id"] != t["id"]]
    assert new["flags"]["related_ticket"] == t["id"] and new["requester"] == "stranger@other.example.net"
    related = [e for e in old["events"] if e["kind"] == "ticket.related"]
    assert related and related[0]["detail"]["new_ticket"] == new["id"]
    assert not any(e["kind"] == "ticket.reopened" for e in old["events"])


def test_a_strangers_reply_to_our_message_id_does_not_reopen_a_closed_ticket(desk, imap_user):
    t = first_ticket(desk, imap_user)
    app = desk.app()
    from kpudesk.tickets.msgid import make_msgid
    ours = make_msgid(t["id"], app.secret, app.settings.helpdesk.msgid_domain)
    close(desk, t["id"])
    imap_user.append("INBOX", party_mail("someone@pkb.example.org", "Balasan", "buka lagi", in_reply_to=f"<{ours}>"))
    assert desk.json("poll")["tickets_created"] == 1
    old = desk.json("tickets", "show", str(t["id"]))
    assert old["status"] == "selesai"
    (new,) = [x for x in desk.json("tickets", "list") if x["id"] != t["id"]]
    assert new["flags"]["related_ticket"] == t["id"]


def test_the_requesters_own_reply_still_reopens_a_closed_ticket(desk, imap_user):
    t = first_ticket(desk, imap_user)
    close(desk, t["id"])
    imap_user.append("INBOX", party_mail("lo1@pkb.example.org", "Re: x", "masih bingung",
                                         in_reply_to="<first@pkb.example.org>"))
    assert desk.json("poll")["tickets_created"] == 0
    assert desk.json("tickets", "show", str(t["id"]))["status"] == "baru"


def test_every_incoming_message_shows_its_authentication_verdict(desk, imap_user):
    t = first_ticket(desk, imap_user)
    imap_user.append("INBOX", trusted(party_mail("lo1@pkb.example.org", "Re: x", "lagi",
                                                 in_reply_to="<first@pkb.example.org>")))
    desk.json("poll")
    first, second = messages_of(desk, t["id"])
    assert first["authentication"]["verdict"] == "none" and "mx.kpu-mesuji.example.org" in first["authentication"]["reason"]
    assert second["authentication"] == {"verdict": "pass",
                                        "reason": "mx.kpu-mesuji.example.org: dmarc=pass header.from=pkb.example.org"}
