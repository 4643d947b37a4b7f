"""The schema version is recorded, checked at start, and older databases are upgraded."""
from __future__ import annotations

import sqlite3

import pytest

from kpudesk.tickets.errors import SchemaError
from kpudesk.tickets.schema import SCHEMA_VERSION, close_database, open_database


def version(path) -> str:
    return sqlite3.connect(path).execute("select value from meta where key='schema_version'").fetchone()[0]


def test_a_new_database_records_the_current_version(tmp_path):
    import kpudesk.daemon.wiring  # noqa: F401 - registers every table
    open_database(f"sqlite:///{tmp_path}/k.db")
    close_database()
    assert version(tmp_path / "k.db") == str(SCHEMA_VERSION)


def test_a_version_1_database_is_upgraded_in_place(tmp_path):
    import kpudesk.daemon.wiring  # noqa: F401
    db = tmp_path / "k.db"
    open_database(f"sqlite:///{db}")
    close_database()
    con = sqlite3.connect(db)
    con.execute("insert into meta(key, value) values ('probe', 'kept')")
    con.execute("alter table outbox_item drop column lease_until")  # what v1 looked like
    con.execute("alter table outbox_item drop column lease_holder")
    con.execute("alter table message drop column authentication")
    con.execute("update meta set value='1' where key='schema_version'")
    con.commit()
    con.close()
    open_database(f"sqlite:///{db}")
    close_database()
    con = sqlite3.connect(db)
    assert {"lease_until", "lease_holder"} <= {r[1] for r in con.execute("pragma table_info(outbox_item)")}
    assert "authentication" in {r[1] for r in con.execute("pragma table_info(message)")}
    assert con.execute("select value from meta where key='probe'").fetchone() == ("kept",)
    assert version(db) == str(SCHEMA_VERSION) == "3"


def test_a_newer_database_is_refused_with_a_clear_error(tmp_path):
    import kpudesk.daemon.wiring  # noqa: F401
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

    import kpudesk.daemon.wiring  # noqa: F401
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

    import kpudesk.daemon.wiring  # noqa: F401
    from kpudesk.tickets import models
    db = tmp_path / "k.db"
    open_database(f"sqlite:///{db}")
    close_database()

    class LateTable(models.BaseModel):
        note = pw.TextField()

    models.register_models(LateTable)
    try:
        open_database(f"sqlite:///{db}")
        close_database()
        tables = {r[0] for r in sqlite3.connect(db).execute("select name from sqlite_master where type='table'")}
        assert "late_table" in tables and version(db) == str(SCHEMA_VERSION)
    finally:
        models.MODELS.remove(LateTable)
