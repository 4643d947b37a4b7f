"""What an ingest batch reads ahead (tickets/batch.py: the tickets its mails thread to, their
identity records, who wrote on them) stays true as the batch writes, in-process
(`tests.feeder.Feeder`: in-memory SQLite, frozen clock; one `deliver` is one batch)."""
from __future__ import annotations

import pytest

from tests.corpus.hostile import party_mail
from tests.feeder import Feeder

PKS = "lo@pks.example.org"
FIRST = "<first@pks.example.org>"


@pytest.fixture
def desk(tmp_path):
    return Feeder(tmp_path)


def ask(desk: Feeder) -> dict:
    assert desk.deliver(party_mail(PKS, "Kantor tetap", "Apakah kantor boleh sewa?", message_id=FIRST)).tickets_created == 1
    return desk.only_ticket()


def test_two_replies_in_one_batch_reopen_a_closed_ticket_once_and_both_complete_the_identity(desk):
    t = ask(desk)
    desk.close(t["id"])
    desk.deliver(party_mail(PKS, "Re: Kantor tetap", "Nama saya Budi Santoso.", in_reply_to=FIRST),
                 party_mail(PKS, "Re: Kantor tetap", "Nomor WA saya 0812-3456-7890.", in_reply_to=FIRST))
    shown = desk.show(t["id"])
    kinds = [e["kind"] for e in shown["events"]]
    # The second reply sees the ticket the first one reopened: one reopening, not two.
    assert shown["status"] == "baru" and kinds.count("ticket.reopened") == 1
    # Each filled what was missing then; the second did not undo the first's name.
    assert shown["identity"]["name"] == "Budi Santoso" and shown["identity"]["phone"] == "+6281234567890"
    assert kinds.count("identity.updated") == 2
    assert len(desk.party_side(t["id"])) == 3


def test_a_question_and_its_reply_in_one_batch_fill_the_identity_of_the_ticket_just_opened(desk):
    desk.deliver(party_mail(PKS, "Kantor tetap", "Apakah kantor boleh sewa?", message_id=FIRST),
                 party_mail(PKS, "Re: Kantor tetap", "Nomor WA saya 0812-3456-7890.", in_reply_to=FIRST))
    t = desk.only_ticket()
    shown = desk.show(t["id"])
    assert shown["identity"]["phone"] == "+6281234567890"
    assert len(desk.party_side(t["id"])) == 2
