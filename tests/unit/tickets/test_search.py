"""The queue's full-text search (tickets/search.py) on in-memory SQLite FTS5, through the
clause `tickets list --search` and the web queue share: which words find a ticket, what a
hostile query does (nothing but a plain word search), and that the index follows what was
stored: ingest notes its tickets as due in the batch's transaction, a search indexes them
before it reads, and a ticket the engine refuses is left out alone."""
from __future__ import annotations

import pytest

from kpudesk.tickets import queries, search, search_query
from kpudesk.tickets.archive import ArchiveWriteError
from kpudesk.tickets.desk_ops import edit_identity
from kpudesk.tickets.models import SearchPending, Ticket, db
from tests.corpus.hostile import party_mail
from tests.feeder import Feeder

LIA = "Lia Anggraini <lia@pdip.example.org>"
BUDI = "Budi Santoso <budi@pkb.example.org>"


@pytest.fixture
def desk(tmp_path):
    return Feeder(tmp_path)


def ask(desk: Feeder, sender: str, subject: str, body: str) -> int:
    desk.deliver(party_mail(sender, subject, body))
    return Ticket.select().order_by(Ticket.id.desc()).first().id


def found(desk: Feeder, words: str) -> list[int]:
    """The ticket ids `kpudesk tickets list --search WORDS` lists."""
    return [t["id"] for t in queries.list_tickets(tag="HD-MSJ", zone=desk.settings.zone, search=words)]


def index_rows() -> int:
    return db.obj.execute_sql("SELECT count(*) FROM ticket_fts").fetchone()[0]


def due() -> list[int]:
    return [p.ticket_id for p in SearchPending.select().order_by(SearchPending.ticket)]


@pytest.fixture
def two(desk):
    a = ask(desk, LIA, "Akun Sipol terkunci", "Akun kami terkunci setelah salah kata sandi. Mohon dibuka.")
    b = ask(desk, BUDI, "Unggah dokumén KTA", "Bagaimana cara mengunggah dokumen keanggotaan? Jadwal verifikasi 100%?")
    return a, b


def test_words_of_subject_body_and_requester_find_their_ticket(desk, two):
    a, b = two
    assert found(desk, "terkunci") == [a]  # subject and body
    assert found(desk, "SANDI") == [a]  # body, any case
    assert found(desk, "keanggotaan") == [b]
    assert found(desk, "budi santoso") == [b]  # the requester's name
    assert found(desk, "budi@pkb.example.org") == [b]  # the address, as a phrase of its words
    assert found(desk, "pkb.example") == [b]
    assert found(desk, "100%") == [b]
    assert found(desk, "sandi jadwal") == []  # every word is needed
    assert found(desk, "akun") == [a]


def test_accents_and_case_fold_both_ways(desk, two):
    _a, b = two
    assert found(desk, "dokumén") == [b]  # the body has "dokumen"
    assert found(desk, "DOKUMEN unggah") == [b]  # the subject has "dokumén"


def test_the_last_word_is_a_beginning_the_others_are_whole(desk, two):
    a, b = two
    assert found(desk, "verifik") == [b]
    assert found(desk, "terk") == [a]
    assert found(desk, "verifik jadwal") == []  # "verifik" is no word of the ticket
    assert found(desk, "jadwal verifik") == [b]


def test_a_reference_is_that_ticket(desk, two):
    a, b = two
    for written in (f"#{b}", f"HD-MSJ #{b}", f"[HD-MSJ #{b}]", f"hd-msj#{b}", f"HD-MSJ #{b} dokumen"):
        assert found(desk, written) == [b], written
    assert found(desk, f"#{a} dokumen") == []  # the reference and the words together
    assert found(desk, "HD-MSJ") == [a, b]  # the tag alone is on every ticket
    assert found(desk, f"{a}") == [a]  # a bare number: that ticket, or the word
    assert found(desk, f"{a} verifikasi") == []
    assert found(desk, "100") == [b]  # the word (there is no ticket 100)


@pytest.mark.parametrize("query", ['"', "*", "-", "()", "^", ":", "''", "", "   ", "#", "[]", "\"'*-", "\x00"])
def test_a_query_of_punctuation_alone_filters_nothing(desk, two, query):
    assert found(desk, query) == list(two)
    assert search_query.search_clause(query, "HD-MSJ") is None


@pytest.mark.parametrize("query", ["NEAR(", "NEAR(akun sandi)", "akun OR jadwal", "NOT akun", "akun AND",
                                   "'; DROP TABLE ticket; --", "doc:akun", "akun*", '"akun', "akun^", "{doc}: akun",
                                   "akun -sandi", "a\"b", "ticket_fts", "ñ", "terima kasih"])
def test_hostile_query_strings_are_words_nothing_more(desk, two, query):
    a, _b = two
    result = found(desk, query)  # never an error
    expected = {"akun*": [a], '"akun': [a], "akun^": [a], "doc:akun": [], "akun -sandi": [a]}
    if query in expected:
        assert result == expected[query], query
    else:  # "OR", "NOT", "NEAR", "DROP" are words to find, in no ticket here (nor the acknowledgement's)
        assert result == [], query
    assert Ticket.select().count() == 2 and index_rows() == 2


def test_a_message_is_searchable_as_soon_as_its_batch_is_stored(desk, two):
    a, _b = two
    assert found(desk, "kedaluwarsa") == []
    desk.deliver(party_mail(LIA, "Re: Akun Sipol terkunci", "Sertifikat kami kedaluwarsa juga.",
                            in_reply_to=desk.show(a)["messages"][0]["message_id"]))
    assert found(desk, "kedaluwarsa") == [a]
    assert index_rows() == 2  # one document per ticket


def test_officer_answers_are_searched_notes_are_not(desk, two):
    a, b = two
    desk.reply(a, "Silakan gunakan menu pemulihan sandi di halaman masuk.")
    desk.app.officers.note(Ticket.get_by_id(b), officer=desk.officer(), body="Mirip pertanyaan pemulihan minggu lalu")
    desk.app.officers.answer(Ticket.get_by_id(b), officer=desk.officer(), body="Dijelaskan lewat telepon: menu unggah")
    assert found(desk, "pemulihan") == [a]  # the reply's words, not the note's
    assert found(desk, "telepon") == [b]  # an answer given in person


def test_the_identity_card_name_is_searched_after_an_edit(desk, two):
    a, _b = two
    assert found(desk, "hartono") == []
    edit_identity(Ticket.get_by_id(a), officer=desk.officer(), clock=desk.clock, registry=desk.app.registry,
                  name="Sri Hartono", email="sri@pdip.example.org")
    assert found(desk, "hartono") == [a]
    assert found(desk, "sri@pdip.example.org") == [a]


def test_a_rolled_back_batch_leaves_nothing_due_and_no_index_row(desk, two, monkeypatch):
    def full_disk():
        raise ArchiveWriteError(desk.settings.storage_dir, OSError(28, "No space left on device"))

    assert due() == list(two) and index_rows() == 0  # stored, not yet indexed
    monkeypatch.setattr(desk.app.archive, "sync", full_disk)
    with pytest.raises(ArchiveWriteError):
        desk.deliver(party_mail(BUDI, "Kartu anggota hilang", "Kartu tanda anggota rusak terbakar."))
    assert Ticket.select().count() == 2 and due() == list(two)
    assert found(desk, "terbakar") == []
    assert index_rows() == 2 and due() == []  # the search indexed what was due first
    monkeypatch.undo()
    desk.deliver(party_mail(BUDI, "Kartu anggota hilang", "Kartu tanda anggota rusak terbakar."))  # the next poll
    assert due() == [3] and index_rows() == 2
    assert found(desk, "terbakar") == [3] and index_rows() == 3 and due() == []


def test_a_batch_notes_each_ticket_once_and_a_search_indexes_them_together(desk, two, monkeypatch):
    a, b = two
    assert found(desk, "akun") == [a]
    real = search._documents
    calls = []

    def count(ids, **kwargs):
        calls.append(sorted(ids))
        return real(ids, **kwargs)

    monkeypatch.setattr(search, "_documents", count)
    desk.deliver(party_mail(BUDI, "Satu", "Pertanyaan pertama tentang rekapitulasi."),
                 party_mail(LIA, "Dua", "Pertanyaan kedua tentang rekapitulasi."))
    assert calls == [] and due() == [3, 4]  # ingest wrote no document
    assert found(desk, "rekapitulasi") == [3, 4]
    assert calls == [[3, 4]]  # both tickets in one go
    assert found(desk, "pertanyaan") == [3, 4] and calls == [[3, 4]]  # nothing due: no indexing


def test_a_follow_up_noted_while_its_ticket_was_due_is_indexed_with_it(desk, two):
    """A ticket noted again (a reply to it) between a catch-up's read and its commit keeps
    its row: `noted` was raised, so the catch-up that read the old value leaves it."""
    a, _b = two
    desk.deliver(party_mail(LIA, f"Re: [HD-MSJ #{a}] Akun Sipol terkunci", "Sudah dicoba, masih gagal juga."))
    assert Ticket.select().count() == 2 and due() == [1, 2]
    assert SearchPending.get_by_id(a).noted == 2  # noted again by the follow-up's batch
    stale = [(a, 1)]
    search._forget(stale)  # a catch-up that read the row before the follow-up came
    assert due() == [1, 2]  # ... does not take it away
    assert found(desk, "gagal") == [a] and due() == []


def test_a_deleted_ticket_takes_its_document_along(desk, two):
    a, b = two
    assert search.catch_up() == 2 and index_rows() == 2
    Ticket.delete().where(Ticket.id == a).execute()
    assert index_rows() == 1 and found(desk, "akun") == []


def test_a_ticket_deleted_while_due_takes_its_note_along(desk, two):
    a, b = two
    Ticket.delete().where(Ticket.id == a).execute()
    assert due() == [b] and search.catch_up() == 1 and found(desk, "akun") == []


def test_a_batch_stored_again_message_by_message_indexes_what_was_kept(desk, two, monkeypatch):
    """One mail fails: the batch rolls back and is stored again, each mail in its savepoint;
    the failed one is quarantined and leaves no document, its batch mate is found."""
    from kpudesk.tickets import mail_rows  # noqa: PLC0415 - lazy: patched in this test only

    real = mail_rows.new_row

    def fragile(msg, *args, **kwargs):
        if "beracun" in msg.text:
            raise ValueError("pesan rusak")
        return real(msg, *args, **kwargs)

    monkeypatch.setattr(mail_rows, "new_row", fragile)
    stats = desk.deliver(party_mail(BUDI, "Baik", "Pertanyaan tentang rekapitulasi suara."),
                         party_mail(LIA, "Rusak", "Isi beracun tentang rekapitulasi."))
    assert stats.quarantined == 1 and stats.tickets_created == 1
    assert found(desk, "rekapitulasi") == [3] and found(desk, "beracun") == []
    assert index_rows() == Ticket.select().count() == 3


def test_held_spam_released_as_a_ticket_is_searchable(desk, two):
    from kpudesk.tickets.models import Message  # noqa: PLC0415 - lazy: this test only

    desk.deliver(party_mail(BUDI, "Sipol galat", "Muncul galat merah saat unggah berkas."), folder=desk.settings.imap.spam)
    held = Message.get(Message.disposition == "spam_held")
    assert found(desk, "galat") == [] and index_rows() == 2
    ticket = desk.app.ingestor.release(held, actor="Rina Wulandari", reason="bukan spam")
    assert found(desk, "galat") == [ticket.id]


def test_a_ticket_the_index_refuses_is_left_out_alone(desk, two, caplog):
    """A document the engine refuses (PostgreSQL: "string is too long for tsvector") fails
    its catch-up batch; the batch is indexed again ticket by ticket and only that ticket is
    left out, logged; its mail is stored, found by its number, and the others by their words."""
    real = search._documents

    def refusing(ids, **kwargs):
        docs = real(ids, **kwargs)
        if any("beracun" in d for d in docs.values()):
            raise ValueError("string is too long for tsvector")
        return docs

    stats = desk.deliver(party_mail(BUDI, "Baik", "Pertanyaan tentang rekapitulasi suara."),
                         party_mail(LIA, "Rusak", "Isi beracun tentang rekapitulasi."))
    assert stats.quarantined == 0 and stats.tickets_created == 2  # ingest does not index: nothing to refuse there
    poisoned = Ticket.get(Ticket.subject == "Rusak").id
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(search, "_documents", refusing)
        assert found(desk, "rekapitulasi") == [3]
    assert f"ticket {poisoned} left out of the index" in caplog.text and "tsvector" in caplog.text
    assert due() == [] and index_rows() == 3 == Ticket.select().count() - 1
    assert found(desk, f"#{poisoned}") == [poisoned]


def test_a_long_conversation_is_indexed_up_to_the_cap_across_its_messages(desk):
    """A document holds at most search.MAX_DOC_CHARS of text: the first mail whole, the
    follow-up up to the cap (each message's text is read only up to it, so a catch-up of
    a backlog of long mails does not hold them all in memory)."""
    first = " ".join(f"awal{i:06d}" for i in range(15_000))  # 164,999 characters
    later = " ".join(f"lanjut{i:06d}" for i in range(15_000))
    t = ask(desk, LIA, "Daftar anggota panjang", first)
    desk.deliver(party_mail(LIA, f"Re: [HD-MSJ #{t}] Daftar anggota panjang", later))
    assert found(desk, "awal014999") == [t]
    assert found(desk, "lanjut000100") == [t]  # within the cap
    assert found(desk, "lanjut014999") == []  # past it


def test_a_search_while_another_writer_holds_the_database_searches_what_is_indexed(tmp_path, caplog):
    """The catch-up cannot take the write lock (an ingest batch of another process holds it
    past the busy timeout): the search answers from the index as it is, the new ticket
    stays due, nothing is dropped; the next search indexes it."""
    import sqlite3  # noqa: PLC0415 - lazy: this test only

    db_file = tmp_path / "kpudesk.db"
    desk = Feeder(tmp_path, extra={"database": {"url": f"sqlite:///{db_file}"}})
    old = ask(desk, LIA, "Akun Sipol terkunci", "Akun kami terkunci, mohon dibuka.")
    assert found(desk, "akun") == [old]
    new = ask(desk, BUDI, "Akun operator baru", "Bagaimana membuat akun operator?")
    db.obj.execute_sql("PRAGMA busy_timeout = 200")  # the test need not wait the usual 10 s
    other = sqlite3.connect(db_file)
    other.execute("BEGIN IMMEDIATE")  # another process's batch, holding the write lock
    try:
        assert found(desk, "akun") == [old]  # what is indexed, not an error page
        assert "search index not brought up to date" in caplog.text
        assert due() == [new]
    finally:
        other.rollback()
        other.close()
    assert found(desk, "akun") == [old, new] and due() == []
