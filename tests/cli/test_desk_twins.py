"""The CLI twins of two web-desk actions (issue 14: the web and the CLI call the same domain
operations): `kpudesk spam dismiss` (/spam/<id>/dismiss) and `kpudesk tickets identity`
(the ticket page's identity form), with the same events and errors."""
from __future__ import annotations

from tests.officer_desk import RINA, new_ticket, offline_desk

EDIT_EVENT = "identity.updated"
PHONE_STORED = "+6281234567890"


def test_tickets_identity_corrects_the_card_and_records_it(tmp_path):
    desk = offline_desk(tmp_path / "desk")
    t = new_ticket(desk)
    r = desk.run("tickets", "identity", str(t["id"]), "--name", "Lia Putri Anggraini", "--party", "PKB",
                 "--phone", "0812-3456-7890", "--as", RINA)
    assert r.code == 0, r.err
    shown = desk.json("tickets", "show", str(t["id"]))
    assert shown["identity"]["name"] == "Lia Putri Anggraini" and "Kebangkitan" in shown["identity"]["party"]
    assert shown["identity"]["phone"] == PHONE_STORED
    (edited,) = [e for e in shown["events"] if e["kind"] == EDIT_EVENT]
    assert set(edited["detail"]["fields"]) == {"name", "party", "phone"}


def test_tickets_identity_refuses_bad_input_in_bahasa_and_changes_nothing(tmp_path):
    desk = offline_desk(tmp_path / "desk")
    t = new_ticket(desk)
    before = desk.json("tickets", "show", str(t["id"]))["identity"]
    for args, words in ((["--party", "Partai Entah"], "partai"), ([], "tidak ada yang diubah")):
        r = desk.run("tickets", "identity", str(t["id"]), *args, "--as", RINA)
        assert r.code == 1 and words in r.err.lower() and "Traceback" not in r.err
    assert desk.json("tickets", "show", str(t["id"]))["identity"] == before


def test_spam_dismiss_of_a_message_not_held_is_a_clear_error(tmp_path):
    desk = offline_desk(tmp_path / "desk")
    r = desk.run("spam", "dismiss", "999", "--as", RINA)
    assert r.code == 1 and "tidak ada di daftar tahanan" in r.err


def test_spam_dismiss_confirms_held_spam_as_the_desk_does(tmp_path, imap_user):
    from tests.corpus.hostile import party_mail
    from tests.desk import Desk

    desk = Desk(tmp_path / "desk", imap_user)
    imap_user.append("Spam", party_mail("hadiah@undian.example.net", "Anda menang", "Klik tautan ini"))
    assert desk.run("poll").code == 0
    (held,) = desk.json("spam", "list")
    r = desk.run("spam", "dismiss", str(held["id"]), "--reason", "penipuan undian", "--json", "--as", RINA)
    assert r.code == 0, r.err
    assert desk.json("spam", "list") == [] and desk.json("tickets", "list") == []
    again = desk.run("spam", "dismiss", str(held["id"]), "--as", RINA)
    assert again.code == 1 and "tidak ada di daftar tahanan" in again.err
