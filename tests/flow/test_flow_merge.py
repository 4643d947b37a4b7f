"""Merging two tickets of the same party (tickets/merge.py), in-process: what moves, what the
merged ticket keeps, and that later mail threads to the survivor by every rule that still
names the merged ticket (our Message-ID, the subject tag, a stored Message-ID)."""
from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

import pytest

from kpudesk.tickets.errors import UserError
from kpudesk.tickets.hours import ServiceCalendar
from kpudesk.tickets.merge import merge
from kpudesk.tickets.msgid import make_msgid
from kpudesk.tickets.recap import recap_data
from kpudesk.tickets.models import Escalation, Event, Message, OutboxItem, Ticket
from tests.corpus.hostile import party_mail
from tests.feeder import AHMAD, Feeder

LIA = "Lia Anggraini <lia@pdip.example.org>"
FIRST = "<pertama@pdip.example.org>"
SECOND = "<kedua@pdip.example.org>"


@pytest.fixture
def desk(tmp_path):
    return Feeder(tmp_path, extra={"escalation": {"anggota": ["ahmad@kpu-mesuji.example.org"]}})


def two_tickets(desk: Feeder) -> tuple[int, int]:
    desk.deliver(party_mail(LIA, "Akun Sipol terkunci", "Akun Sipol PDI-P kami terkunci.", message_id=FIRST))
    desk.advance(minutes=10)
    desk.deliver(party_mail(LIA, "Akun terkunci lagi", "Mohon dibantu, akun Sipol masih terkunci.", message_id=SECOND))
    a, b = (t["id"] for t in desk.tickets())
    return a, b


def ack_of(desk: Feeder, ticket_id: int) -> Message:
    """Our acknowledgement on ticket `ticket_id` (read before the merge moves it)."""
    (ack,) = [m for m in desk.outgoing(to="lia@pdip.example.org") if m.kind == "ack" and m.ticket_id == ticket_id]
    return ack


def test_merge_moves_everything_and_leaves_a_closed_stub_pointing_at_the_survivor(desk):
    a, b = two_tickets(desk)
    desk.escalate(b, to="anggota", note="mohon arahan")
    before = {"messages": Message.select().where(Message.ticket == b).count(),
              "outbox": OutboxItem.select().where(OutboxItem.ticket == b).count()}
    assert before["messages"] >= 2 and before["outbox"] >= 2  # the question, its ack, the escalation
    pending = {(o.id, o.msgid) for o in OutboxItem.select().where(OutboxItem.ticket == b)}
    assert all(f"T{b}." in msgid for _, msgid in pending)
    merge(b, a, actor=desk.officer(), clock=desk.clock)
    # the not-yet-sent mail moved with its Message-ID (which still names #b: threading follows)
    assert pending <= {(o.id, o.msgid) for o in OutboxItem.select().where(OutboxItem.ticket == a)}
    old, survivor = Ticket.get_by_id(b), Ticket.get_by_id(a)
    assert old.status == "selesai" and old.flags["merged_into"] == a
    assert Message.select().where(Message.ticket == b).count() == 0
    assert OutboxItem.select().where(OutboxItem.ticket == b).count() == 0
    assert Escalation.select().where(Escalation.ticket == a).count() == 1
    texts = [m["text"] for m in desk.party_side(a)]
    assert any("masih terkunci" in t for t in texts) and any("PDI-P kami" in t for t in texts)
    # the old ticket's own history moved; the stub keeps the events of the merge itself
    assert [e.kind for e in Event.select().where(Event.ticket == b).order_by(Event.id)] == ["ticket.status", "ticket.merged"]
    (merged_in,) = Event.select().where((Event.ticket == a) & (Event.kind == "ticket.merged_in"))
    assert merged_in.detail["from"] == b and merged_in.actor == "Rina Wulandari"
    assert survivor.updated_at == desk.clock.now()


def test_a_reply_to_the_merged_tickets_acknowledgement_lands_on_the_survivor(desk):
    a, b = two_tickets(desk)
    ack = ack_of(desk, b)
    assert f"T{b}." in ack.msgid  # our Message-ID names the merged ticket
    merge(b, a, actor=desk.officer(), clock=desk.clock)
    stats = desk.deliver(party_mail(LIA, "Re: tanda terima", "Sudah kami coba, tetap terkunci.",
                                    in_reply_to=desk.msgid_of(ack)))
    assert stats.tickets_created == 0 and stats.messages_added == 1
    assert "tetap terkunci" in desk.party_side(a)[-1]["text"]
    assert Message.select().where(Message.ticket == b).count() == 0


def test_our_message_id_of_the_merged_ticket_threads_even_when_not_stored(desk):
    """Rule 1 alone: an unsigned copy of the id is not in the database, the MAC names #b."""
    a, b = two_tickets(desk)
    merge(b, a, actor=desk.officer(), clock=desk.clock)
    ours = make_msgid(b, desk.app.secret, desk.settings.helpdesk.msgid_domain)
    stats = desk.deliver(party_mail(LIA, "Balasan", "lanjutan", in_reply_to=f"<{ours}>"))
    assert stats.tickets_created == 0 and desk.party_side(a)[-1]["text"].strip() == "lanjutan"


def test_the_merged_tickets_subject_tag_threads_to_the_survivor(desk):
    a, b = two_tickets(desk)
    merge(b, a, actor=desk.officer(), clock=desk.clock)
    stats = desk.deliver(party_mail(LIA, f"Re: [HD-MSJ #{b}] Akun terkunci lagi", "tanpa referensi"))
    assert stats.tickets_created == 0 and desk.party_side(a)[-1]["text"].strip() == "tanpa referensi"


def test_a_chain_of_merges_is_followed(desk):
    a, b = two_tickets(desk)
    desk.deliver(party_mail(LIA, "Ketiga", "pertanyaan ketiga"))
    c = desk.tickets()[-1]["id"]
    merge(b, c, actor=desk.officer(), clock=desk.clock)
    merge(c, a, actor=desk.officer(), clock=desk.clock)
    stats = desk.deliver(party_mail(LIA, f"Re: [HD-MSJ #{b}] x", "rantai"))
    assert stats.tickets_created == 0 and desk.party_side(a)[-1]["text"].strip() == "rantai"


def test_refusals_in_bahasa_change_nothing(desk):
    a, b = two_tickets(desk)
    desk.deliver(party_mail("budi@pkb.example.org", "Lain", "Partai PKB bertanya soal lain"))
    other = desk.tickets()[-1]["id"]
    rina = desk.officer()
    cases = [
        (a, a, "dirinya sendiri"),
        (b, 999, "tidak ada"),
        (other, a, "partai yang berbeda"),
    ]
    for old, into, words in cases:
        events = Event.select().count()
        with pytest.raises(UserError, match=words):
            merge(old, into, actor=rina, clock=desk.clock)
        assert Event.select().count() == events
    with pytest.raises(UserError, match="tidak diizinkan untuk peran anggota-kpu"):
        merge(b, a, actor=desk.officer(AHMAD), clock=desk.clock)
    merge(b, a, actor=rina, clock=desk.clock)
    with pytest.raises(UserError, match="sudah digabung"):
        merge(b, a, actor=rina, clock=desk.clock)
    assert Ticket.get_by_id(a).status != "selesai"


def test_attachments_follow_their_messages_to_the_survivor(desk):
    a, _ = two_tickets(desk)
    msg = EmailMessage(policy=SMTP)
    msg["From"], msg["To"], msg["Subject"] = LIA, "helpdesk@kpu-mesuji.example.org", "KTA terlampir"
    msg["Message-ID"] = "<lampiran@pdip.example.org>"
    msg.set_content("Berikut KTA kami.")
    msg.add_attachment(b"%PDF-1.4 kta", maintype="application", subtype="pdf", filename="kta.pdf")
    desk.deliver(msg.as_bytes())
    c = desk.tickets()[-1]["id"]
    merge(c, a, actor=desk.officer(), clock=desk.clock)
    files = [f["filename"] for m in desk.show(a)["messages"] for f in m["attachments"]]
    assert files == ["kta.pdf"] and desk.show(c)["messages"] == []



def test_officer_actions_on_a_merged_ticket_are_refused_and_change_nothing(desk):
    """The CLI's reply and close on the merged stub say where to work instead (the desk
    refuses them too); nothing is queued or recorded on the stub."""
    a, b = two_tickets(desk)
    merge(b, a, actor=desk.officer(), clock=desk.clock)
    before = (Event.select().where(Event.ticket == b).count(), OutboxItem.select().count(),
              Ticket.get_by_id(b).status)
    for act in (lambda: desk.reply(b, "Jawaban untuk tiket lama"), lambda: desk.close(b)):
        with pytest.raises(UserError, match=f"digabung ke tiket #{a}"):
            act()
    assert before == (Event.select().where(Event.ticket == b).count(), OutboxItem.select().count(),
                      Ticket.get_by_id(b).status)
    assert Message.select().where(Message.ticket == b).count() == 0


def test_the_recap_counts_a_merged_question_once(desk):
    """Two mails of one question merged into one ticket: the day's recap counts one new
    ticket (the stub's contents count on the survivor), as with a voided duplicate."""
    a, b = two_tickets(desk)
    now = desk.clock.now()
    day = now.astimezone(desk.settings.zone).date().isoformat()
    assert recap_data(day, ServiceCalendar(), now)["totals"]["new"] == 2
    merge(b, a, actor=desk.officer(), clock=desk.clock)
    assert recap_data(day, ServiceCalendar(), desk.clock.now())["totals"]["new"] == 1
