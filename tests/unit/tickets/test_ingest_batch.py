"""The ingest batch in-process (tests.feeder: in-memory SQLite, frozen clock): the
collaborators ingest calls itself, the per-batch Message-ID lookup, the folder's mark."""
from __future__ import annotations

import logging

import pytest

from kpudesk.mailbox.message import FetchedMail
from kpudesk.tickets import store
from kpudesk.tickets.ingest import Ingestor, PollStats
from kpudesk.tickets.models import Contact, Event, FolderState, Message, Ticket
from tests.corpus.hostile import party_mail
from tests.feeder import UIDVALIDITY, Feeder


@pytest.fixture
def desk(tmp_path):
    return Feeder(tmp_path)


def _queries(caplog, action) -> list[str]:
    """The SQL statements peewee ran during `action()`."""
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        caplog.clear()
        action()
    return [r.args[0] if isinstance(r.args, tuple) and r.args else r.getMessage() for r in caplog.records
            if r.name == "peewee"]


def test_a_batch_looks_its_message_ids_up_with_one_query(desk, caplog):
    raws = [party_mail(f"lo{i}@pkb.example.org", f"Pertanyaan {i}", "Bagaimana cara mengunggah KTA?",
                       message_id=f"<q{i}@pkb.example.org>") for i in range(30)]
    sql = _queries(caplog, lambda: desk.deliver(*raws))
    by_msgid = [q for q in sql if '"msgid" IN' in q and 'FROM "message"' in q]
    by_one_msgid = [q for q in sql if '"msgid" = ' in q and 'FROM "message"' in q]
    assert len(by_msgid) == 1 and by_one_msgid == []
    assert len(desk.tickets()) == 30


def test_a_repeated_message_id_in_one_batch_is_stored_once(desk):
    raw = party_mail("lo1@pkb.example.org", "Pertanyaan", "Bagaimana cara mengunggah KTA?", message_id="<same@pkb.example.org>")
    stats = desk.deliver(raw, raw)
    assert (stats.messages_added, stats.duplicates) == (1, 1)
    assert Message.select().where(Message.msgid == "same@pkb.example.org").count() == 1


def test_ingest_queues_the_acknowledgement_itself(desk):
    """Nothing from the daemon is wired into the ingestor but its collaborators."""
    ingestor = desk.app.ingestor
    assert ingestor.replies is desk.app.replies and ingestor.escalations is desk.app.escalations
    desk.deliver(party_mail("lo1@pkb.example.org", "Pertanyaan", "Bagaimana cara mengunggah KTA?"))
    (item,) = desk.outbox()
    assert item.kind == "ack" and item.recipients == ["lo1@pkb.example.org"]
    ticket = Ticket.get()
    assert "faq_miss" in ticket.flags  # the FAQ check, done by ingest in the ticket's INSERT
    kinds = [e.kind for e in Event.select().where(Event.ticket == ticket).order_by(Event.at, Event.id)]
    assert kinds == ["ticket.created", "ack.queued"]


def test_an_ingestor_built_without_the_daemon_stores_and_acknowledges(desk):
    app = desk.app
    ingestor = Ingestor(archive=app.archive, registry=app.registry, clock=desk.clock, config=app.ingestor.config,
                        replies=app.replies, escalations=app.escalations, faq=app.ingestor.faq)
    mail = FetchedMail("INBOX", UIDVALIDITY, 1, party_mail("lo1@pkb.example.org", "Pertanyaan", "Apa itu Sipol?"),
                       desk.clock.now())
    stats = PollStats()
    ingestor.ingest_batch("INBOX", UIDVALIDITY, [mail], is_spam=False, stats=stats)
    assert stats.tickets_created == 1 and [i.kind for i in desk.outbox()] == ["ack"]


def test_a_renumbered_folder_moves_its_mark_to_the_new_numbers(desk):
    """After a UIDVALIDITY change the folder is read again from 1: the mark must follow the
    new numbering, not stay at the old, higher one (an interrupted re-read would then skip
    the mail between)."""
    desk.deliver(*[party_mail("lo1@pkb.example.org", f"Pertanyaan {i}", "Apa itu Sipol?") for i in range(5)])
    assert FolderState.get_by_id("INBOX").last_uid == 5
    mail = FetchedMail("INBOX", UIDVALIDITY + 1, 2, party_mail("lo2@pkb.example.org", "Baru", "Apa itu KTA?"),
                       desk.clock.now())
    desk.app.ingestor.ingest_batch("INBOX", UIDVALIDITY + 1, [mail], is_spam=False, stats=PollStats())
    state = FolderState.get_by_id("INBOX")
    assert (state.uidvalidity, state.last_uid) == (UIDVALIDITY + 1, 2)


def test_contacts_learnt_in_one_batch_fill_gaps_and_never_overwrite(desk):
    Contact.create(email="lo1@pkb.example.org", name="Nama Resmi", source="registry")
    desk.deliver(party_mail("lo1@pkb.example.org", "Pertanyaan", "Apa itu Sipol?\n\nSalam,\nBudi Santoso\n0812 3456 7890"),
                 party_mail("lo1@pkb.example.org", "Lagi", "Apa itu KTA?\n\nSalam,\nBudi\n0813 1111 2222"))
    contact = Contact.get(Contact.email == "lo1@pkb.example.org")
    assert contact.name == "Nama Resmi" and contact.source == "registry"
    assert contact.phone is not None and contact.phone.replace("-", "").replace(" ", "").endswith("81234567890")


def test_store_upserts_of_one_address_merge_like_sequential_ones(desk):
    store.upsert_contacts([{"email": "a@pkb.example.org", "name": None, "phone": "0811", "party": None, "source": "mail"},
                           {"email": "a@pkb.example.org", "name": "Ani", "phone": "0822", "party": None, "source": "mail"}])
    store.upsert_contacts([{"email": "a@pkb.example.org", "name": "Lain", "phone": None, "party": None, "source": "mail"}])
    contact = Contact.get(Contact.email == "a@pkb.example.org")
    assert (contact.name, contact.phone) == ("Ani", "0811")
