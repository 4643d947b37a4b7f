"""The schema version is recorded, checked at start, and older databases are upgraded."""
from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from kpudesk.tickets import search, search_query
from kpudesk.tickets.errors import SchemaError
from kpudesk.tickets.models import SearchPending, Ticket
from kpudesk.tickets.schema import SCHEMA_VERSION, close_database, open_database


def version(path) -> str:
    return sqlite3.connect(path).execute("select value from meta where key='schema_version'").fetchone()[0]


def test_a_new_database_records_the_current_version(tmp_path):
    open_database(f"sqlite:///{tmp_path}/k.db")
    close_database()
    assert version(tmp_path / "k.db") == str(SCHEMA_VERSION)


def test_a_version_1_database_is_upgraded_in_place(tmp_path):
    db = tmp_path / "k.db"
    open_database(f"sqlite:///{db}")
    close_database()
    con = sqlite3.connect(db)
    con.execute("insert into meta(key, value) values ('probe', 'kept')")
    con.execute("alter table outbox_item drop column lease_until")  # what v1 looked like
    con.execute("alter table outbox_item drop column lease_holder")
    con.execute("alter table message drop column authentication")
    for table in ("officer_login", "login_failure", "canned_answer"):  # v4
        con.execute(f"drop table {table}")
    con.execute("update meta set value='1' where key='schema_version'")
    con.commit()
    con.close()
    open_database(f"sqlite:///{db}")
    close_database()
    con = sqlite3.connect(db)
    assert {"lease_until", "lease_holder"} <= {r[1] for r in con.execute("pragma table_info(outbox_item)")}
    assert "authentication" in {r[1] for r in con.execute("pragma table_info(message)")}
    assert con.execute("select value from meta where key='probe'").fetchone() == ("kept",)
    assert version(db) == str(SCHEMA_VERSION) == "8"


def test_a_version_3_database_gains_the_web_desk_tables(tmp_path):
    db = tmp_path / "k.db"
    open_database(f"sqlite:///{db}")
    close_database()
    con = sqlite3.connect(db)
    con.execute("insert into ticket(status, subject, channel, from_spam, flags, created_at, updated_at) "
                "values ('baru', 'Sipol', 'email', 0, '{}', '2026-01-05T01:00:00.000000Z', '2026-01-05T01:00:00.000000Z')")
    for table in ("officer_login", "login_failure", "canned_answer"):
        con.execute(f"drop table {table}")
    con.execute("update meta set value='3' where key='schema_version'")
    con.commit()
    con.close()
    open_database(f"sqlite:///{db}")
    from kpudesk.tickets.models import CannedAnswer, OfficerLogin, Ticket
    now = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    OfficerLogin.create(email="rina@kpu-mesuji.example.org", password_hash="$argon2id$x", password_set_at=now)
    CannedAnswer.create(title="Lupa kata sandi Sipol", body="Silakan ...", updated_by="rina@kpu-mesuji.example.org",
                        updated_at=now)
    assert OfficerLogin.get_by_id("rina@kpu-mesuji.example.org").session_epoch == 0
    assert [t.subject for t in Ticket.select()] == ["Sipol"]  # the old rows are kept
    close_database()
    assert version(db) == "8"


def _tables(path) -> set[str]:
    con = sqlite3.connect(path)
    try:
        return {r[0] for r in con.execute("select name from sqlite_master where type='table'")
                if not r[0].startswith("sqlite_")}
    finally:
        con.close()


def test_the_schema_module_alone_creates_every_table_a_cli_run_creates(tmp_path):
    """models.py holds every table: importing tickets.schema alone (a fresh interpreter, no
    daemon or command module) creates all of them, the same set `kpudesk init` creates."""
    import subprocess
    import sys

    from kpudesk.tickets.models import MODELS
    alone = tmp_path / "alone.db"
    code = ("import sys; from kpudesk.tickets.schema import open_database; open_database(sys.argv[1]); "
            "print(sorted(m for m in sys.modules if m.startswith('kpudesk.')))")
    proc = subprocess.run([sys.executable, "-c", code, f"sqlite:///{alone}"], capture_output=True, text=True,
                          check=True, timeout=60)
    assert "kpudesk.daemon" not in proc.stdout and "kpudesk.tickets.outbox" not in proc.stdout
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "kpudesk.daemon", "init", str(site / "etc"), "--storage", str(site / "var")],
                   capture_output=True, text=True, check=True, timeout=60)
    # the full-text index (tickets/search.py): an FTS5 table and its shadow tables
    fts = {"ticket_fts", "ticket_fts_data", "ticket_fts_idx", "ticket_fts_content", "ticket_fts_docsize",
           "ticket_fts_config"}
    expected = {m._meta.table_name for m in MODELS} | fts
    assert {"escalation", "outbox_item", "report_slot", "progress_import", "progress_snapshot", "evidence",
            "officer_login", "login_failure", "canned_answer", "ticket_fts"} <= expected
    assert _tables(alone) == expected == _tables(site / "var" / "kpudesk.db")


def test_a_newer_database_is_refused_with_a_clear_error(tmp_path):
    db = tmp_path / "k.db"
    open_database(f"sqlite:///{db}")
    close_database()
    con = sqlite3.connect(db)
    con.execute("update meta set value='99' where key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(SchemaError, match="newer than this kpudesk"):
        open_database(f"sqlite:///{db}")
    close_database()


def test_opening_a_current_database_takes_no_write_lock(tmp_path):
    """Every CLI command opens the database while the daemon may be writing: a current
    schema is only read (issue 11 item 5), so opening never waits for the writer."""
    import time

    db = tmp_path / "k.db"
    open_database(f"sqlite:///{db}")
    close_database()
    writer = sqlite3.connect(db, isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # a poll's ingest transaction
    try:
        started = time.monotonic()
        open_database(f"sqlite:///{db}")
        close_database()
        assert time.monotonic() - started < 2  # the busy timeout is 10 s
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_a_table_added_since_is_created_even_when_the_version_is_current(tmp_path):
    import peewee as pw

    from kpudesk.tickets import models
    db = tmp_path / "k.db"
    open_database(f"sqlite:///{db}")
    close_database()

    class LateTable(models.BaseModel):
        note = pw.TextField()

    models.MODELS.append(LateTable)
    try:
        open_database(f"sqlite:///{db}")
        close_database()
        tables = {r[0] for r in sqlite3.connect(db).execute("select name from sqlite_master where type='table'")}
        assert "late_table" in tables and version(db) == str(SCHEMA_VERSION)
    finally:
        models.MODELS.remove(LateTable)


def test_a_version_6_database_gains_the_mirror_lease(tmp_path):
    db = tmp_path / "k.db"
    open_database(f"sqlite:///{db}")
    close_database()
    con = sqlite3.connect(db)
    con.execute("insert into mirror_item(path, remote_path, sha256, size, status, attempts, created_at) "
                "values ('doc/aa/x.png', '2026/12/HD-MSJ-1/x.png', 'aa', 3, 'pending', 0, '2026-12-01T01:00:00.000000Z')")
    con.execute("alter table mirror_item drop column lease_until")  # what v6 looked like
    con.execute("alter table mirror_item drop column lease_holder")
    con.execute("update meta set value='6' where key='schema_version'")
    con.commit()
    con.close()
    open_database(f"sqlite:///{db}")
    close_database()
    con = sqlite3.connect(db)
    assert {"lease_until", "lease_holder"} <= {r[1] for r in con.execute("pragma table_info(mirror_item)")}
    assert con.execute("select remote_path, status from mirror_item").fetchall() == [("2026/12/HD-MSJ-1/x.png", "pending")]
    assert version(db) == "8"


def test_a_version_7_database_gains_the_search_index_due_list(tmp_path):
    """v8: ingest notes its tickets as due instead of indexing them; a v7 database's
    documents are current, so the list starts empty and searches go on finding them."""
    db = tmp_path / "k.db"
    open_database(f"sqlite:///{db}")
    now = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
    t = Ticket.create(status="baru", subject="Verifikasi faktual", channel="email", created_at=now, updated_at=now)
    search.reindex_ticket(t.id)
    close_database()
    con = sqlite3.connect(db)
    con.execute("drop table search_pending")
    con.execute("update meta set value='7' where key='schema_version'")
    con.commit()
    con.close()
    open_database(f"sqlite:///{db}")
    assert SearchPending.select().count() == 0 and version(db) == "8"
    assert [x.id for x in Ticket.select().where(search_query.search_clause("faktual", "HD-MSJ"))] == [t.id]
    close_database()
