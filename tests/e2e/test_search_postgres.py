"""The queue's full-text search on a real PostgreSQL (`tsvector` + GIN, tickets/search.py),
started by the tests like tests/e2e/test_postgres.py does (tests/servers/postgres.py).

The same mail is fed to the desk in process (tests/feeder.py) once on SQLite FTS5 and once
on PostgreSQL, and every query must list the same tickets on both; hostile query strings
are words and nothing else; a rolled-back batch leaves no index row; a catch-up never waits
for a ticket an ingest batch holds; schema v4 -> v5 fills the index of an existing
PostgreSQL database.

Missing PostgreSQL is an error, never a skip (see tests/e2e/test_postgres.py).
"""
from __future__ import annotations


import peewee as pw
import pytest

from kpudesk.tickets import queries, search, search_query
from kpudesk.tickets.archive import ArchiveWriteError
from kpudesk.tickets.models import Ticket, db
from kpudesk.tickets.schema import SCHEMA_VERSION, close_database, open_database
from tests.corpus.hostile import party_mail
from tests.feeder import Feeder

LIA = "Lia Anggraini <lia@pdip.example.org>"
BUDI = "Budi Santoso <budi@pkb.example.org>"
MAILS = [
    (LIA, "Akun Sipol terkunci", "Akun kami terkunci setelah salah kata sandi. Mohon dibuka."),
    (BUDI, "Unggah dokumén KTA", "Bagaimana cara mengunggah dokumen keanggotaan? Jadwal verifikasi 100%?"),
    ("Siti <siti@psi.example.org>", "Keanggotaan ganda", "Apakah anggota boleh ganda dengan partai lain? e-KTP saya"),
]
QUERIES = ["terkunci", "SANDI", "keanggotaan", "dokumén", "dokumen unggah", "budi santoso", "budi@pkb.example.org",
           "pkb.example", "100%", "verifik", "terk", "verifik jadwal", "e-KTP", "ktp", "#2", "HD-MSJ #3",
           "[HD-MSJ #1]", "1", "2 dokumen", "HD-MSJ", "sandi jadwal", '"', "*", "NEAR(", "akun OR jadwal",
           "NOT akun", "-", "'; DROP TABLE ticket; --", "", "akun*", "a:b", "ganda & partai", "partai | sipol",
           "akun<->sandi", "!akun", "akun:*", "\\", "ñ"]




def fed(root, url: str | None = None) -> Feeder:
    desk = Feeder(root, extra={"database": {"url": url}} if url else None)
    for sender, subject, body in MAILS:
        desk.deliver(party_mail(sender, subject, body))
    return desk


def found(desk: Feeder, words: str) -> list[int]:
    return [t["id"] for t in queries.list_tickets(tag="HD-MSJ", zone=desk.settings.zone, search=words)]


def test_postgresql_finds_the_same_tickets_as_sqlite(tmp_path, postgres):
    lite = fed(tmp_path / "sqlite")
    expected = {q: found(lite, q) for q in QUERIES}
    close_database()
    url = postgres.new_database()
    pg = fed(tmp_path / "postgresql", url)
    try:
        assert isinstance(db.obj, pw.PostgresqlDatabase)
        got = {q: found(pg, q) for q in QUERIES}
        assert got == expected
        # and the answers are the right ones, not merely equal
        assert got["dokumén"] == [2] and got["verifik"] == [2] and got["budi@pkb.example.org"] == [2]
        assert got["HD-MSJ #3"] == [3] and got['"'] == [1, 2, 3] and got["NEAR("] == []
        assert got["ktp"] == [3] and got["e-KTP"] == [3]
        assert postgres.query(url, "select count(*) from ticket_search") == [(3,)]
        plan = "\n".join(r[0] for r in postgres.query(
            url, "explain select ticket_id from ticket_search where doc @@ to_tsquery('simple', 'sipol')"))
        assert "ticket_search" in plan  # the GIN index exists (the planner may still scan 3 rows)
        assert postgres.query(url, "select indexdef from pg_indexes where indexname = 'ticket_search_doc'")[0][0] \
            .lower().count("using gin") == 1
    finally:
        close_database()


def test_a_rolled_back_batch_leaves_no_index_row_on_postgresql(tmp_path, postgres, monkeypatch):
    url = postgres.new_database()
    desk = fed(tmp_path, url)
    try:
        def full_disk():
            raise ArchiveWriteError(desk.settings.storage_dir, OSError(28, "No space left on device"))

        assert postgres.query(url, "select count(*) from search_pending") == [(3,)]  # due, not yet indexed
        assert search.catch_up() == 3
        monkeypatch.setattr(desk.app.archive, "sync", full_disk)
        with pytest.raises(ArchiveWriteError):
            desk.deliver(party_mail(BUDI, "Kartu anggota hilang", "Kartu tanda anggota rusak terbakar."))
        assert postgres.query(url, "select count(*) from ticket_search") == [(3,)]
        assert postgres.query(url, "select count(*) from search_pending") == [(0,)]
        assert found(desk, "terbakar") == []
        monkeypatch.undo()
        desk.deliver(party_mail(BUDI, "Kartu anggota hilang", "Kartu tanda anggota rusak terbakar."))
        (new,) = found(desk, "terbakar")  # a sequence value the rollback used is not given again
        assert new > 3
        desk.reply(1, "Silakan pakai menu pemulihan akun.")
        assert found(desk, "pemulihan") == [1]  # an officer's answer, in its own transaction
        Ticket.delete().where(Ticket.id == new).execute()
        assert postgres.query(url, "select count(*) from ticket_search") == [(3,)]  # ON DELETE CASCADE
    finally:
        close_database()


def test_schema_v4_to_v5_fills_the_index_on_postgresql(tmp_path, postgres):
    url = postgres.new_database()
    fed(tmp_path, url)
    close_database()
    postgres.query(url, "drop table ticket_search")
    postgres.query(url, "update meta set value = '4' where key = 'schema_version'")
    open_database(url)
    try:
        assert postgres.query(url, "select value from meta where key = 'schema_version'") == [(str(SCHEMA_VERSION),)]
        assert postgres.query(url, "select count(*) from ticket_search") == [(3,)]
        assert [t.id for t in Ticket.select().where(search_query.search_clause("keanggotaan", "HD-MSJ"))
                .order_by(Ticket.id)] == [2, 3]
    finally:
        close_database()


def test_the_queue_page_leaves_voided_tickets_out_and_searches_on_postgresql(tmp_path, postgres):
    """The queue's own queries (the partial index of voided tickets, the events by ticket and
    kind: schema v5) on PostgreSQL, where a literal `%` in SQL text is easily a driver error."""
    from kpudesk.tickets.desk_queries import QueueFilter, queue_page  # noqa: PLC0415 - lazy: this test only

    url = postgres.new_database()
    desk = fed(tmp_path, url)
    try:
        Ticket.update(flags={"void": {"by": "Dewi", "at": "2026-12-01", "reason": "uji coba"}}).where(
            Ticket.id == 2).execute()

        def shown(**kw) -> list[int]:
            page = queue_page(QueueFilter(**kw), tag="HD-MSJ", zone=desk.settings.zone, calendar=desk.app.calendar,
                              now=desk.clock.now())
            return [r.id for r in page.rows]

        assert shown() == [1, 3]
        assert shown(q="keanggotaan") == [3]
        assert shown(q="keanggotaan", status="baru") == [2, 3]  # a status asked for shows voided tickets
        indexes = {r[0] for r in postgres.query(url, "select indexname from pg_indexes where tablename in "
                                                     "('ticket', 'event')")}
        assert {"ticket_left_out", "event_ticket_kind"} <= indexes
    finally:
        close_database()


def test_two_writers_indexing_one_ticket_at_once_keep_both_messages(tmp_path, postgres):
    """A poller and the web desk (each its own connection) add a message to one ticket at
    the same moment: the second waits for the first's lock on the ticket and indexes both
    (without it, it indexed its own message only, or failed on the primary key)."""
    import threading  # noqa: PLC0415 - lazy: this test only
    from datetime import UTC, datetime  # noqa: PLC0415 - lazy: this test only

    from kpudesk.tickets.models import Message  # noqa: PLC0415 - lazy: this test only

    url = postgres.new_database()
    fed(tmp_path, url)
    now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    first_indexed, errors = threading.Event(), []

    def write(word: str, hold: bool) -> None:
        try:
            with db.atomic():
                Message.create(ticket=1, direction="in", disposition="ticket", kind="normal", identity=f"w:{word}",
                               text=f"Pesan tentang {word}.", created_at=now)
                search.reindex_ticket(1)
                if hold:
                    first_indexed.set()
                    threading.Event().wait(0.5)  # the other writer is now waiting on the ticket
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            db.close()

    first = threading.Thread(target=write, args=("rekapitulasi", True))
    first.start()
    assert first_indexed.wait(10)
    second = threading.Thread(target=write, args=("sengketa", False))
    second.start()
    first.join(20)
    second.join(20)
    try:
        assert errors == []
        db.connect(reuse_if_open=True)
        hits = [t.id for t in Ticket.select().where(search_query.search_clause("rekapitulasi sengketa", "HD-MSJ"))]
        assert hits == [1]
    finally:
        close_database()


def test_a_huge_mail_is_indexed_up_to_the_cap_on_postgresql(tmp_path, postgres):
    """A tsvector holds at most 1 MB: a 1.3 MB body of distinct words is indexed up to
    search.MAX_DOC_CHARS instead of failing the batch that brought it."""
    url = postgres.new_database()
    desk = fed(tmp_path, url)
    try:
        words = [f"kata{i:07d}" for i in range(110_000)]
        desk.deliver(party_mail(BUDI, "Lampiran teks panjang", " ".join(words)))
        assert found(desk, words[0]) == [4]
        assert found(desk, words[-1]) == []  # past the cap
        assert found(desk, "lampiran") == [4]
    finally:
        close_database()


def test_a_catch_up_skips_a_ticket_an_ingest_batch_holds_and_indexes_it_after(tmp_path, postgres):
    """An ingest batch (its own connection) is adding a message to a due ticket and has not
    committed: a search's catch-up indexes the other due tickets without waiting for it and
    leaves that one due; once the batch commits, the next search finds its message."""
    import threading  # noqa: PLC0415 - lazy: this test only
    import time  # noqa: PLC0415 - lazy: this test only
    from datetime import UTC, datetime  # noqa: PLC0415 - lazy: this test only

    from kpudesk.tickets.models import Message  # noqa: PLC0415 - lazy: this test only

    url = postgres.new_database()
    desk = fed(tmp_path, url)  # tickets 1-3, due
    now = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    holding, release, errors = threading.Event(), threading.Event(), []

    def ingest_batch() -> None:
        try:
            with db.atomic():
                Message.create(ticket=1, direction="in", disposition="ticket", kind="normal", identity="w:sengketa",
                               text="Pesan lanjutan tentang sengketa.", created_at=now)
                Ticket.update(updated_at=now).where(Ticket.id == 1).execute()  # as ingest does: the row is held
                search._note([1])
                holding.set()
                release.wait(20)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            db.close()

    batch = threading.Thread(target=ingest_batch)
    batch.start()
    try:
        assert holding.wait(10)
        started = time.monotonic()
        assert search.catch_up() == 2  # tickets 2 and 3
        assert time.monotonic() - started < 2  # it did not wait for the batch
        assert postgres.query(url, "select ticket_id from search_pending") == [(1,)]
        assert found(desk, "keanggotaan") == [2, 3]
        release.set()
        batch.join(20)
        assert errors == []
        assert found(desk, "sengketa") == [1] and found(desk, "terkunci") == [1]
        assert postgres.query(url, "select count(*) from search_pending") == [(0,)]
    finally:
        release.set()
        close_database()
