"""Schema v5 (the full-text index of tickets/search.py): a version 4 database with tickets is
upgraded in place and its old tickets are found by their words at once; a new database has
the index from the start."""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from kpudesk.tickets import search, search_query
from kpudesk.tickets.models import Identity, Message, Ticket
from kpudesk.tickets.schema import SCHEMA_VERSION, close_database, open_database

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
N = 2_600  # more than one fill batch (2,000 tickets)


def version(path) -> str:
    return sqlite3.connect(path).execute("select value from meta where key='schema_version'").fetchone()[0]


def matching(words: str) -> list[int]:
    return [t.id for t in Ticket.select().where(search_query.search_clause(words, "HD-MSJ")).order_by(Ticket.id)]


def as_version_4(path) -> None:
    """What a v4 database looks like: no index table, no trigger, version 4."""
    con = sqlite3.connect(path)
    con.execute("drop trigger ticket_fts_gone")
    con.execute("drop table ticket_fts")
    con.execute("update meta set value='4' where key='schema_version'")
    con.commit()
    con.close()


def test_a_version_4_database_with_tickets_is_indexed_by_the_upgrade(tmp_path):
    db = tmp_path / "k.db"
    open_database(f"sqlite:///{db}")
    Ticket.insert_many([{"status": "baru", "subject": f"Pertanyaan nomor {i}", "channel": "email",
                         "requester": f"p{i}@partai.example.org", "requester_name": None, "flags": {},
                         "created_at": NOW, "updated_at": NOW} for i in range(1, N + 1)]).execute()
    Message.insert_many([{"ticket": i, "direction": "in", "disposition": "ticket", "kind": "normal",
                          "identity": f"m{i}", "text": "Bagaimana cara unggah dokumén keanggotaan?" if i % 1000 == 0
                          else "Akun Sipol terkunci.", "created_at": NOW} for i in range(1, N + 1)]).execute()
    Message.create(ticket=7, direction="note", disposition="internal", kind="note", identity="n7",
                   text="catatan rahasia petugas", created_at=NOW)
    Identity.create(ticket=5, name="Sri Hartono")
    close_database()
    as_version_4(db)

    open_database(f"sqlite:///{db}")
    try:
        assert version(db) == str(SCHEMA_VERSION)
        assert matching("dokumen keanggotaan") == [1000, 2000]  # accents folded, across fill batches
        assert matching("hartono") == [5]  # the identity card
        assert matching("p2600@partai.example.org") == [2600]
        assert matching("rahasia") == []  # notes are not indexed
        assert len(matching("terkunci")) == N - 2
        count = sqlite3.connect(db).execute("select count(*) from ticket_fts").fetchone()[0]
        assert count == N  # one document per ticket
    finally:
        close_database()


def test_a_new_database_has_the_index_and_it_follows_deletes(tmp_path):
    db = tmp_path / "k.db"
    open_database(f"sqlite:///{db}")
    try:
        assert search.has_index(Ticket._meta.database.obj)
        t = Ticket.create(status="baru", subject="Verifikasi faktual", created_at=NOW, updated_at=NOW)
        search.reindex_ticket(t.id)
        assert matching("faktual") == [t.id]
        t.delete_instance()
        assert sqlite3.connect(db).execute("select count(*) from ticket_fts").fetchone()[0] == 0
    finally:
        close_database()
